"""Samples from outside symcnn: .npz files (every bad file refused naming it), the bundled
digits, and ZCA whitening on the support of a singular covariance."""

import numpy as np
import pytest

from symcnn import datasets
from symcnn.data import Statistics, zca_whiten


def write(path, **arrays):
    np.savez(path, **arrays)
    return path


def test_an_npz_round_trips(tmp_path):
    x = np.random.default_rng(0).standard_normal((6, 2, 5))
    y = np.array([0, 1, 2, 0, 1, 2])
    got_x, got_y = datasets.load(write(tmp_path / "d.npz", x=x, y=y))
    np.testing.assert_array_equal(got_x, x)
    np.testing.assert_array_equal(got_y, y)


@pytest.mark.parametrize("arrays, message", [
    ({"x": np.zeros((4, 1, 3))}, r"no array 'y' \(it has x\)"),
    ({"y": np.zeros(4, int)}, r"no array 'x'"),
    ({"x": np.zeros((4, 3)), "y": np.zeros(4, int)}, r"x must have shape \(P, C_in, N_1\)"),
    ({"x": np.full((4, 1, 3), np.nan), "y": np.zeros(4, int)}, "x contains NaN"),
    ({"x": np.zeros((1, 1, 3)), "y": np.zeros(1, int)}, "P = 1 samples; at least 2"),
    ({"x": np.zeros((4, 1, 3)), "y": np.zeros(5, int)}, "y must have P = 4 rows"),
    ({"x": np.zeros((4, 1, 3)), "y": np.array([0.5, 1, 0, 1])}, "y must be class indices"),
    ({"x": np.zeros((4, 1, 3)), "y": np.array([0, -1, 0, 1])}, r"class indices y must lie"),
    ({"x": np.array([["a"] * 3] * 4)[:, None], "y": np.zeros(4, int)}, "x must be"),
])
def test_bad_arrays_are_refused_naming_the_file(tmp_path, arrays, message):
    path = write(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match=message) as error:
        datasets.load(path)
    assert str(error.value).startswith(f"{path}: ")


def test_bad_files_are_refused(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        datasets.load(tmp_path / "missing.npz")
    (tmp_path / "text.npz").write_text("not numpy")
    with pytest.raises(ValueError, match="not a NumPy .npz archive"):
        datasets.load(tmp_path / "text.npz")
    np.save(tmp_path / "one.npy", np.zeros((4, 1, 3)))
    with pytest.raises(ValueError, match="a single .npy array"):
        datasets.load(tmp_path / "one.npy")
    np.savez(tmp_path / "objects.npz", x=np.array([None] * 4), y=np.zeros(4, int))
    with pytest.raises(ValueError, match="objects.npz"):
        datasets.load(tmp_path / "objects.npz")


def test_digits_are_the_bundled_images():
    pytest.importorskip("sklearn", reason="scikit-learn (the reproduce extra) is absent")
    x, y = datasets.digits()
    assert x.shape == (1797, 1, 8, 8) and y.shape == (1797,)
    assert x.min() == 0 and x.max() == 1 and set(y) == set(range(10))


def test_whitening_on_the_support_gives_a_projector():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((200, 1, 6)) * np.array([1.0, 2.0, 0.0, 0.5, 0.0, 3.0])
    with pytest.raises(ValueError, match="support=True"):
        zca_whiten(x)
    white, transform = zca_whiten(x, support=True)
    sxx = Statistics.from_samples(white, np.zeros(200, int)).sxx
    projector = np.diag([1.0, 1, 0, 1, 0, 1])
    np.testing.assert_allclose(sxx, projector, atol=1e-12)
    np.testing.assert_allclose(white.reshape(200, -1), x.reshape(200, -1) @ transform)
    with pytest.raises(ValueError, match="without a shift"):
        zca_whiten(x, eps=0.1, support=True)
    with pytest.raises(TypeError, match="support"):
        zca_whiten(x, support="yes")


def test_whitening_on_the_support_of_a_nearly_singular_covariance_is_exact():
    """A direction of variance 1e-8 (the smallest kept eigenvalue of Sigma_xx) and a dead
    one, mixed over the pixels: the refined transform gives a projector to 1e-11 (one
    pseudo-inverse pass alone: 2e-8)."""
    rng = np.random.default_rng(2)
    z = rng.standard_normal((500, 6))
    z[:, 0], z[:, 1] = 0.0, 1e-4 * z[:, 1]
    x = (z @ np.linalg.qr(rng.standard_normal((6, 6)))[0].T)[:, None]
    white, _ = zca_whiten(x, support=True)
    flat = white.reshape(500, -1)
    sxx = flat.T @ flat / 500
    assert np.abs(sxx @ sxx - sxx).max() < 1e-11 and round(np.trace(sxx)) == 5
