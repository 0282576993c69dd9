"""``symcnn.data`` (statistics, their Fourier structure, synthetic datasets) against
independent references: explicit DFT matrices, loops over samples and pixels, scipy's SVD.

Conventions (docs/theory-reference.md, Setting and Conventions): inputs flattened
channel-major, then row-major over pixels; unitary DFT
``U[f, n] = N^(-1/2) exp(-2 pi i f.n / N)``; ``Lambda_f`` the ``(f, f)`` block of
``U Sigma_xx U^*``; ``T_f`` the ``f`` block of ``Sigma_yx U^*``.
Tolerances: ``1e-12`` relative for identities that hold exactly in exact arithmetic
(float64 rounding only), unless stated otherwise next to the assertion.
"""

from itertools import product
from math import prod

import numpy as np
import pytest
import scipy.linalg
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from symcnn import Statistics, blob, fourier, grating, make_dataset, zca_whiten
from symcnn.data import targets_from_labels
from tests.reference import dft_matrix

RTOL = 1e-12

seeds = st.integers(0, 2**32 - 1)
c_ins = st.sampled_from([1, 2])
n_outs = st.integers(1, 3)


@st.composite
def shapes(draw, max_side: int = 8):
    """1-D or 2-D image shapes, sides 1..max_side: odd, even and non-square."""
    d = draw(st.integers(1, 2))
    return tuple(draw(st.integers(1, max_side)) for _ in range(d))


# ---------------------------------------------------------------- independent references


def channel_dft(shape, c_in: int) -> np.ndarray:
    """``I_{C_in} (x) U``: the DFT of every channel of a channel-major flattened input."""
    return np.kron(np.eye(c_in), dft_matrix(shape))


def flat_index(pixel, shape) -> int:
    """Row-major flat index of a multi-index."""
    index = 0
    for p, n in zip(pixel, shape, strict=True):
        index = index * n + p
    return index


def canonical_ref(f, shape) -> tuple[int, ...]:
    """The lexicographically smaller of ``f mod N`` and ``-f mod N``."""
    plus = tuple(int(fi) % n for fi, n in zip(f, shape, strict=True))
    minus = tuple(-int(fi) % n for fi, n in zip(f, shape, strict=True))
    return min(plus, minus)


def stationary_projection_ref(sxx, shape, c_in):
    """Loops: ``sigma[c, c', s] = (1/N) sum_n Sxx[(c, n), (c', n + s)]`` and the
    block-circulant matrix ``circ[(c, n), (c', m)] = sigma[c, c', m - n]``."""
    n_pix = prod(shape)
    pixels = list(np.ndindex(*shape))
    sigma = np.zeros((c_in, c_in, n_pix))
    for c, c2 in product(range(c_in), repeat=2):
        for n in pixels:
            for s in pixels:
                m = tuple((ni + si) % ni_max for ni, si, ni_max in zip(n, s, shape, strict=True))
                sigma[c, c2, flat_index(s, shape)] += (
                    sxx[c * n_pix + flat_index(n, shape), c2 * n_pix + flat_index(m, shape)])
    sigma /= n_pix
    circ = np.zeros_like(sxx)
    for c, c2 in product(range(c_in), repeat=2):
        for n in pixels:
            for m in pixels:
                s = tuple((mi - ni) % nn for mi, ni, nn in zip(m, n, shape, strict=True))
                circ[c * n_pix + flat_index(n, shape), c2 * n_pix + flat_index(m, shape)] = (
                    sigma[c, c2, flat_index(s, shape)])
    return sigma, circ


def random_spectrum(rng, shape, c_in: int, rank: int = 2) -> np.ndarray:
    """``Lambda_f = B_f B_f^*`` with ``B = DFT`` of a random real ``(c_in, rank, *shape)``
    array: Hermitian PSD per frequency, and ``Lambda_{-f} = conj(Lambda_f)``."""
    r = rng.standard_normal((c_in, rank, *shape))
    b = np.fft.fftn(r, axes=tuple(range(2, 2 + len(shape))))
    return np.einsum("ak...,bk...->ab...", b, b.conj())


def sign_fixed(u, vt):
    """Flip each singular pair so that the largest-magnitude entry of ``u_a`` is positive."""
    u, vt = u.copy(), vt.copy()
    for a in range(u.shape[1]):
        i = int(np.argmax(np.abs(u[:, a])))
        if u[i, a] < 0:
            u[:, a] *= -1
            vt[a] *= -1
    return u, vt


def random_statistics(rng, shape, c_in, n_out) -> Statistics:
    d = c_in * prod(shape)
    a = rng.standard_normal((d, d + 2))
    return Statistics(shape=shape, c_in=c_in, sxx=a @ a.T / (d + 2),
                      syx=rng.standard_normal((n_out, d)))


# ---------------------------------------------------------------- Statistics.from_samples


@st.composite
def sample_sets(draw):
    shape = draw(shapes(max_side=5))
    c_in = draw(c_ins)
    p = draw(st.integers(1, 6))
    x = draw(hnp.arrays(float, (p, c_in, *shape),
                        elements=st.floats(-10, 10, allow_nan=False, allow_infinity=False)))
    return shape, c_in, x


def explicit_moments(x, targets):
    p = len(x)
    flat = [xi.ravel() for xi in x]
    sxx = sum(np.outer(xi, xi) for xi in flat) / p
    syx = sum(np.outer(yi, xi) for yi, xi in zip(targets, flat, strict=True)) / p
    syy = sum(float(yi @ yi) for yi in targets) / p
    return sxx, syx, syy


@given(sample_sets(), n_outs, seeds)
def test_from_samples_target_vectors_are_explicit_averages(data, n_out, seed):
    shape, c_in, x = data
    y = np.random.default_rng(seed).standard_normal((len(x), n_out))
    stats = Statistics.from_samples(x, y)
    sxx, syx, syy = explicit_moments(x, y)
    scale = max(1.0, np.abs(x).max() ** 2)
    assert stats.shape == shape and stats.c_in == c_in and stats.n_samples == len(x)
    assert stats.n_in == c_in * prod(shape) and stats.n_out == n_out
    assert stats.n_pixels == prod(shape)
    np.testing.assert_allclose(stats.sxx, sxx, rtol=RTOL, atol=RTOL * scale)
    np.testing.assert_allclose(stats.syx, syx, rtol=RTOL, atol=RTOL * scale * 10)
    assert stats.syy == pytest.approx(syy, rel=RTOL, abs=1e-300)


@given(sample_sets(), n_outs, st.booleans(), seeds)
def test_from_samples_labels_are_one_hot(data, n_out, give_n_out, seed):
    shape, c_in, x = data
    labels = np.random.default_rng(seed).integers(0, n_out, size=len(x))
    stats = Statistics.from_samples(x, labels, n_out=n_out if give_n_out else None)
    expected_n_out = n_out if give_n_out else int(max(labels)) + 1
    onehot = np.zeros((len(x), expected_n_out))
    for mu, label in enumerate(labels):
        onehot[mu, label] = 1.0
    sxx, syx, syy = explicit_moments(x, onehot)
    scale = max(1.0, np.abs(x).max() ** 2)
    assert stats.n_out == expected_n_out
    np.testing.assert_allclose(stats.syx, syx, rtol=RTOL, atol=RTOL * scale)
    np.testing.assert_allclose(stats.sxx, sxx, rtol=RTOL, atol=RTOL * scale)
    assert stats.syy == pytest.approx(1.0, rel=RTOL)  # every one-hot target has |y| = 1
    assert syy == pytest.approx(1.0, rel=RTOL)


def test_targets_from_labels_one_hot_examples():
    np.testing.assert_array_equal(targets_from_labels([2, 0, 1, 2], 4),
                                  [[0, 0, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1]])
    np.testing.assert_array_equal(targets_from_labels(np.array([1, 1]), 2, n_out=4),
                                  [[0, 1, 0, 0], [0, 1, 0, 0]])
    np.testing.assert_array_equal(targets_from_labels([[0.5, -2.0]], 1), [[0.5, -2.0]])


@given(sample_sets(), n_outs, seeds)
def test_loss_identity(data, n_out, seed):
    """``1/(2P) sum |y - M x|^2 = 1/2 tr(M Sxx M^T) - tr(M Syx^T) + syy/2``, any ``M``."""
    shape, c_in, x = data
    rng = np.random.default_rng(seed)
    y = rng.standard_normal((len(x), n_out))
    m = rng.standard_normal((n_out, x[0].size))
    stats = Statistics.from_samples(x, y)
    direct = sum(np.sum((yi - m @ xi.ravel()) ** 2) for xi, yi in zip(x, y, strict=True))
    direct /= 2 * len(x)
    moments = (0.5 * np.trace(m @ stats.sxx @ m.T) - np.trace(m @ stats.syx.T)
               + 0.5 * stats.syy)
    terms = sum(np.sum(yi**2) + np.sum((m @ xi.ravel()) ** 2) for xi, yi in zip(x, y,
                                                                                 strict=True))
    assert abs(direct - moments) <= RTOL * max(1.0, terms / len(x))


def test_statistics_symmetrises_and_normalises_shape():
    sxx = np.array([[2.0, 1.0], [1.0 + 1e-13, 3.0]])
    stats = Statistics(shape=2, sxx=sxx, syx=[[1.0, 0.0]], syy=4)
    assert stats.shape == (2,)
    np.testing.assert_array_equal(stats.sxx, stats.sxx.T)
    np.testing.assert_allclose(stats.sxx, sxx, rtol=0, atol=1e-13)


# ---------------------------------------------------------------- clear errors


X = np.random.default_rng(0).standard_normal((5, 2, 3))  # P = 5, C_in = 2, shape (3,)


def _with(a, index, value):
    a = np.array(a, dtype=float)
    a[index] = value
    return a


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_from_samples_rejects_non_finite(bad):
    with pytest.raises(ValueError, match="x contains NaN or inf"):
        Statistics.from_samples(_with(X, (1, 0, 2), bad), np.zeros(5, dtype=int))
    with pytest.raises(ValueError, match="y contains NaN or inf"):
        Statistics.from_samples(X, _with(np.zeros((5, 2)), (3, 1), bad))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_statistics_rejects_non_finite(bad):
    with pytest.raises(ValueError, match="sxx contains NaN or inf"):
        Statistics(shape=3, sxx=_with(np.eye(3), (1, 1), bad), syx=np.ones((1, 3)))
    with pytest.raises(ValueError, match="syx contains NaN or inf"):
        Statistics(shape=3, sxx=np.eye(3), syx=_with(np.ones((2, 3)), (1, 2), bad))


@pytest.mark.parametrize("kwargs, match", [
    (dict(sxx=np.eye(4), syx=np.ones((1, 6))), r"sxx must have shape \(D, D\) = \(6, 6\)"),
    (dict(sxx=np.ones((6, 5)), syx=np.ones((1, 6))), r"sxx must have shape \(D, D\)"),
    (dict(sxx=np.ones(6), syx=np.ones((1, 6))), "sxx must be a 2-D array"),
    (dict(sxx=np.eye(6), syx=np.ones((1, 3))), r"syx must have shape \(N_o, D\) with D = 6"),
    (dict(sxx=np.eye(6), syx=np.ones(6)), "syx must be a 2-D array"),
    (dict(sxx=np.zeros((0, 0)), syx=np.ones((1, 6))), "sxx is empty"),
    (dict(sxx=np.eye(6), syx=np.ones((0, 6))), "syx is empty"),
    (dict(sxx=np.triu(np.ones((6, 6))), syx=np.ones((1, 6))), "sxx must be symmetric"),
    (dict(sxx=np.eye(6), syx=np.ones((1, 6)), syy=-0.5), "syy must be a finite number >= 0"),
    (dict(sxx=np.eye(6), syx=np.ones((1, 6)), syy=np.nan), "syy must be a finite number >= 0"),
    (dict(sxx=np.eye(6), syx=np.ones((1, 6)), syy=np.inf), "syy must be a finite number >= 0"),
])
def test_statistics_rejects_inconsistent_arguments(kwargs, match):
    """``shape = (3,)`` and ``c_in = 2``, so ``D = 6``."""
    with pytest.raises(ValueError, match=match):
        Statistics(shape=3, c_in=2, **kwargs)


@pytest.mark.parametrize("shape, match", [
    (0, r"shape\[0\] must be an integer >= 1"),
    (-3, r"shape\[0\] must be an integer >= 1"),
    ((2, 0), r"shape\[1\] must be an integer >= 1"),
    ((2, -1), r"shape\[1\] must be an integer >= 1"),
    (2.0, r"shape\[0\] must be an integer >= 1"),
    ((2, 2, 2), "shape must have 1 or 2 entries"),
])
def test_invalid_shapes_are_refused_everywhere(shape, match):
    with pytest.raises(ValueError, match=match):
        Statistics(shape=shape, sxx=np.eye(4), syx=np.ones((1, 4)))
    with pytest.raises(ValueError, match=match):
        Statistics.stationary(shape, np.ones((1, 1, 2)), np.ones((1, 2)))
    with pytest.raises(ValueError, match=match):
        grating(shape, 0)
    with pytest.raises(ValueError, match=match):
        blob(shape, 0, 1.0)


@pytest.mark.parametrize("c_in", [0, -1, 1.5, True])
def test_invalid_c_in(c_in):
    with pytest.raises(ValueError, match="c_in must be an integer >= 1"):
        Statistics(shape=2, c_in=c_in, sxx=np.eye(2), syx=np.ones((1, 2)))


@pytest.mark.parametrize("x, match", [
    (np.ones((5, 6)), r"x must have shape \(P, C_in, N_1\) or \(P, C_in, N_1, N_2\)"),
    (np.ones((5, 1, 2, 2, 2)), r"x must have shape \(P, C_in, N_1\)"),
    (np.ones(5), r"x must have shape \(P, C_in, N_1\)"),
    (np.ones((0, 1, 3)), "x is empty"),
    (np.ones((5, 0, 3)), "x is empty"),
])
def test_from_samples_rejects_bad_x(x, match):
    with pytest.raises(ValueError, match=match):
        Statistics.from_samples(x, np.zeros(len(x), dtype=int))


@pytest.mark.parametrize("y, n_out, match", [
    (np.zeros(4, dtype=int), None, "y must have P = 5 rows"),
    (np.zeros((6, 2)), None, "y must have P = 5 rows"),
    (np.zeros((5, 0)), None, "y is empty"),
    (np.array([0, 1, 2, 3, 1]), 3, r"class indices y must lie in \[0, n_out\) = \[0, 3\)"),
    (np.array([0, -1, 1, 0, 1]), None, r"class indices y must lie in \[0, n_out\)"),
    (np.array([0, -1, 1, 0, 1]), 2, r"class indices y must lie in \[0, n_out\)"),
    (np.array([0.0, 1.0, 1.0, 0.0, 1.0]), None, r"y must be class indices \(integer array"),
    (np.array([0.5, 1.0, 1.0, 0.0, 1.0]), None, r"y must be class indices \(integer array"),
    (np.array([True, False, True, True, False]), None, r"y must be class indices"),
    (np.zeros((5, 1, 1)), None, r"y must be class indices .* or target vectors"),
    (np.array([0, 1, 1, 0, 1]), 0, "n_out must be an integer >= 1"),
])
def test_from_samples_rejects_bad_labels(y, n_out, match):
    with pytest.raises(ValueError, match=match):
        Statistics.from_samples(X, y, n_out=n_out)


# ---------------------------------------------------------------- stationarity


@given(shapes(), c_ins, n_outs, seeds)
def test_stationary_is_block_diagonal_in_fourier(shape, c_in, n_out, seed):
    """``U Sxx U^*`` (per channel pair) is ``diag(Lambda_{cc'})``; Sxx is block-circulant."""
    rng = np.random.default_rng(seed)
    lam = random_spectrum(rng, shape, c_in)
    syx = rng.standard_normal((n_out, c_in * prod(shape)))
    stats = Statistics.stationary(shape, lam, syx, syy=2.5)
    n = prod(shape)
    uc = channel_dft(shape, c_in)
    rotated = (uc @ stats.sxx @ uc.conj().T).reshape(c_in, n, c_in, n)
    expected = np.zeros((c_in, n, c_in, n), dtype=complex)
    for c, c2 in product(range(c_in), repeat=2):
        expected[c, :, c2, :] = np.diag(lam[c, c2].ravel())
    scale = np.abs(lam).max()
    np.testing.assert_allclose(rotated, expected, rtol=0, atol=RTOL * scale)
    # Block-circulant: Sxx[(c, n), (c', m)] depends only on (m - n) mod N.
    _, circ = stationary_projection_ref(stats.sxx, shape, c_in)
    np.testing.assert_allclose(stats.sxx, circ, rtol=0, atol=RTOL * scale)
    np.testing.assert_array_equal(stats.syx, syx)
    assert stats.syy == 2.5 and stats.c_in == c_in and stats.shape == shape
    # It is recognised as stationary and its spectrum is recovered.
    assert stats.stationarity <= RTOL
    assert stats.is_stationary()
    np.testing.assert_allclose(stats.input_spectrum(), lam, rtol=0, atol=RTOL * scale)


@given(shapes(), c_ins)
def test_white_spectrum_is_identity(shape, c_in):
    lam = np.zeros((c_in, c_in, *shape))
    for c in range(c_in):
        lam[c, c] = 1.0
    stats = Statistics.stationary(shape, lam, np.ones((1, c_in * prod(shape))))
    np.testing.assert_allclose(stats.sxx, np.eye(c_in * prod(shape)), rtol=0, atol=RTOL)


@given(shapes(), c_ins, seeds)
def test_stationarity_of_non_stationary_input(shape, c_in, seed):
    """``stationarity`` is the relative Frobenius distance to the diagonal-averaged matrix,
    and non-stationary data is refused by ``input_spectrum``."""
    stats = random_statistics(np.random.default_rng(seed), shape, c_in, 1)
    sigma, circ = stationary_projection_ref(stats.sxx, shape, c_in)
    expected = np.linalg.norm(stats.sxx - circ) / np.linalg.norm(stats.sxx)
    assert stats.stationarity == pytest.approx(expected, rel=1e-10, abs=1e-14)
    np.testing.assert_allclose(stats.autocorrelation, sigma.reshape(c_in, c_in, *shape),
                               rtol=0, atol=RTOL * np.abs(stats.sxx).max())
    # Lambda of the stationary projection = the diagonal blocks of U Sxx U^* (those ignore
    # the non-stationary part): what input_spectrum returns when told to accept anything.
    n = prod(shape)
    uc = channel_dft(shape, c_in)
    rotated = (uc @ stats.sxx @ uc.conj().T).reshape(c_in, n, c_in, n)
    diag = np.stack([np.stack([np.diag(rotated[c, :, c2, :]) for c2 in range(c_in)])
                     for c in range(c_in)]).reshape(c_in, c_in, *shape)
    np.testing.assert_allclose(stats.input_spectrum(rtol=np.inf), diag, rtol=0,
                               atol=RTOL * n * np.abs(stats.sxx).max())
    if n == 1:  # a single pixel: every Sxx is (trivially) block-circulant
        assert stats.stationarity == 0.0 and stats.is_stationary()
        return
    assert expected > 1e-3  # a random Gram matrix is far from block-circulant
    assert not stats.is_stationary()
    assert stats.is_stationary(rtol=1.0)
    with pytest.raises(ValueError, match="stationary"):
        stats.input_spectrum()


def test_slightly_non_stationary_threshold():
    """``is_stationary`` compares the relative deviation with ``rtol``."""
    sxx = np.eye(4)
    sxx[0, 0] += 1e-6
    stats = Statistics(shape=4, sxx=sxx, syx=np.ones((1, 4)))
    _, circ = stationary_projection_ref(stats.sxx, (4,), 1)
    expected = np.linalg.norm(sxx - circ) / np.linalg.norm(sxx)
    assert stats.stationarity == pytest.approx(expected, rel=1e-9)
    assert 1e-8 < expected < 1e-5
    assert not stats.is_stationary()
    assert stats.is_stationary(rtol=1e-5)
    assert stats.is_stationary(rtol=expected * 1.01)
    assert not stats.is_stationary(rtol=expected * 0.99)
    with pytest.raises(ValueError, match="stationary"):
        stats.input_spectrum()
    with pytest.raises(ValueError, match="stationary"):
        stats.input_spectrum(rtol=expected * 0.99)
    assert stats.input_spectrum(rtol=expected * 1.01).shape == (1, 1, 4)


@pytest.mark.parametrize("spectrum, match", [
    (np.ones((1, 1, 5)), r"spectrum must have shape \(C_in, C_in, \*\(4,\)\)"),
    (np.ones((1, 2, 4)), r"spectrum must have shape"),
    (np.ones((1, 4)), r"spectrum must have shape"),
    (np.ones((1, 1, 4, 1)), r"spectrum must have shape"),
    (np.exp(1j * np.arange(4))[None, None], "spectrum is not conjugate-symmetric"),
    (np.array([1.0, 2.0, 3.0, 4.0])[None, None], "spectrum is not conjugate-symmetric"),
])
def test_stationary_rejects_bad_spectrum(spectrum, match):
    with pytest.raises(ValueError, match=match):
        Statistics.stationary(4, spectrum, np.ones((1, spectrum.shape[0] * 4)))


def test_stationary_rejects_non_hermitian_spectrum():
    """Real, conjugate-symmetric but not Hermitian in the channels: Sxx not symmetric."""
    lam = np.zeros((2, 2, 4))
    lam[0, 0] = lam[1, 1] = 1.0
    lam[0, 1] = 0.5
    with pytest.raises(ValueError, match="symmetric|Hermitian"):
        Statistics.stationary(4, lam, np.ones((1, 8)))


def test_stationary_rejects_non_finite_spectrum():
    lam = np.ones((1, 1, 4))
    lam[0, 0, 2] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        Statistics.stationary(4, lam, np.ones((1, 4)))


def test_stationary_rejects_negative_spectrum():
    """The docstring requires ``Lambda_f`` positive semidefinite; ``[1, -1, 1, -1]`` is
    real and conjugate-symmetric but gives an Sxx with eigenvalue -1, which no dataset has.
    """
    lam = np.array([1.0, -1.0, 1.0, -1.0])[None, None]
    with pytest.raises(ValueError, match="spectrum"):
        Statistics.stationary(4, lam, np.ones((1, 4)))


# ---------------------------------------------------------------- Fourier blocks, modes


@given(shapes(), c_ins, n_outs, seeds)
def test_output_spectrum_is_syx_times_u_star(shape, c_in, n_out, seed):
    stats = random_statistics(np.random.default_rng(seed), shape, c_in, n_out)
    n = prod(shape)
    expected = (stats.syx @ channel_dft(shape, c_in).conj().T).reshape(n_out, c_in, *shape)
    np.testing.assert_allclose(stats.output_spectrum(), expected, rtol=0,
                               atol=RTOL * np.abs(stats.syx).sum(axis=1).max() / np.sqrt(n))


@given(shapes(), c_ins, n_outs, seeds)
def test_modes_against_scipy(shape, c_in, n_out, seed):
    stats = random_statistics(np.random.default_rng(seed), shape, c_in, n_out)
    modes = stats.modes()
    d = stats.n_in
    u_ref, s_ref, vt_ref = scipy.linalg.svd(stats.syx, full_matrices=False)
    r = min(n_out, d)
    assert modes.s.shape == (r,) and modes.u.shape == (n_out, r)
    assert modes.v.shape == (r, c_in, *shape) and modes.shape == shape
    np.testing.assert_allclose(modes.s, s_ref, rtol=RTOL, atol=RTOL * s_ref[0])
    vt = modes.v.reshape(r, d)
    recon = (modes.u * modes.s) @ vt
    np.testing.assert_allclose(recon, stats.syx, rtol=0, atol=RTOL * 10 * s_ref[0])
    np.testing.assert_allclose(modes.u.T @ modes.u, np.eye(r), rtol=0, atol=RTOL * 10)
    np.testing.assert_allclose(vt @ vt.T, np.eye(r), rtol=0, atol=RTOL * 10)
    for a in range(r):  # sign convention: the largest |u| entry is positive
        assert modes.u[np.argmax(np.abs(modes.u[:, a])), a] > 0
    gaps = np.diff(s_ref[::-1]) if r > 1 else np.array([np.inf])
    if gaps.min() > 1e-3 * s_ref[0]:  # distinct singular values: vectors unique up to sign
        u_fix, vt_fix = sign_fixed(u_ref, vt_ref)
        np.testing.assert_allclose(modes.u, u_fix, rtol=0, atol=1e-8)
        np.testing.assert_allclose(vt, vt_fix, rtol=0, atol=1e-8)


def test_modes_of_a_single_output():
    """``N_o = 1``: one mode, ``s = |syx|``, ``u = 1``, ``v = syx / |syx|``."""
    syx = np.array([[3.0, -4.0, 0.0, 12.0]])
    modes = Statistics(shape=(2, 2), sxx=np.eye(4), syx=syx).modes()
    np.testing.assert_allclose(modes.s, [13.0], rtol=RTOL)
    np.testing.assert_allclose(modes.u, [[1.0]], rtol=RTOL)
    np.testing.assert_allclose(modes.v, syx.reshape(1, 1, 2, 2) / 13.0, rtol=RTOL)
    modes = Statistics(shape=(2, 2), sxx=np.eye(4), syx=-syx).modes()
    np.testing.assert_allclose(modes.u, [[1.0]], rtol=RTOL)
    np.testing.assert_allclose(modes.v, -syx.reshape(1, 1, 2, 2) / 13.0, rtol=RTOL)


@given(shapes(), c_ins, seeds)
def test_modes_drop_null_directions(shape, c_in, seed):
    """A rank-one ``Sigma_yx`` with three outputs has exactly one mode."""
    rng = np.random.default_rng(seed)
    d = c_in * prod(shape)
    a, b = rng.standard_normal(3), rng.standard_normal(d)
    syx = np.outer(a, b)
    modes = Statistics(shape=shape, c_in=c_in, sxx=np.eye(d), syx=syx).modes()
    assert len(modes.s) == 1
    np.testing.assert_allclose(modes.s, [np.linalg.norm(a) * np.linalg.norm(b)], rtol=1e-12)
    sign = np.sign(a[np.argmax(np.abs(a))])
    np.testing.assert_allclose(modes.u[:, 0], sign * a / np.linalg.norm(a), atol=1e-12)
    np.testing.assert_allclose(modes.v[0].ravel(), sign * b / np.linalg.norm(b), atol=1e-12)


def test_modes_of_zero_syx_are_empty():
    """No modes when ``Sigma_yx = 0``: the derived quantities are empty too."""
    modes = Statistics(shape=(3, 2), c_in=2, sxx=np.eye(12), syx=np.zeros((2, 12))).modes()
    assert modes.s.shape == (0,) and modes.u.shape == (2, 0) and modes.v.shape == (0, 2, 3, 2)
    assert modes.frequency_weights().shape == (0, 3, 2)
    assert modes.dominant_frequencies() == []
    assert modes.mismatch().shape == (0,)


@given(shapes(), c_ins, n_outs, seeds)
def test_mode_spectra_dominant_frequencies_and_mismatch(shape, c_in, n_out, seed):
    stats = random_statistics(np.random.default_rng(seed), shape, c_in, n_out)
    modes = stats.modes()
    r, n = len(modes.s), prod(shape)
    u = dft_matrix(shape)
    v_hat = np.einsum("fn,acn->acf", u, modes.v.reshape(r, c_in, n))
    np.testing.assert_allclose(modes.v_hat, v_hat.reshape(r, c_in, *shape), rtol=0,
                               atol=RTOL * 10)
    weights = np.sqrt(np.sum(np.abs(v_hat) ** 2, axis=1))  # (r, N)
    np.testing.assert_allclose(modes.frequency_weights(), weights.reshape(r, *shape),
                               rtol=0, atol=RTOL * 10)
    dominant = modes.dominant_frequencies()
    assert len(dominant) == r
    pixels = list(np.ndindex(*shape))
    for a in range(r):
        best = weights[a].max()
        ties = {canonical_ref(f, shape) for f, w in zip(pixels, weights[a], strict=True)
                if w >= best - 1e-12}
        assert dominant[a] in ties
        assert all(type(fi) is int for fi in dominant[a])
    mismatch = modes.mismatch()
    np.testing.assert_allclose(mismatch, np.sqrt(n) * weights.max(axis=1), rtol=RTOL)
    assert np.all(mismatch >= 1 - 1e-12) and np.all(mismatch <= np.sqrt(n) + 1e-12)


def test_dominant_frequency_brute_force_example():
    """A 2-D mode with a clear maximum at ``f = (2, 3)`` of a ``5 x 4`` grid (so ``-f =
    (3, 1)``), built in Fourier and transformed back with the explicit matrix."""
    shape = (5, 4)
    u = dft_matrix(shape)
    spectrum = np.zeros(20, dtype=complex)
    f, minus_f = flat_index((2, 3), shape), flat_index((3, 1), shape)
    spectrum[f], spectrum[minus_f] = 2 + 1j, 2 - 1j
    g, minus_g = flat_index((1, 0), shape), flat_index((4, 0), shape)
    spectrum[g], spectrum[minus_g] = 1.0, 1.0
    spectrum[0] = 0.5
    v = (u.conj().T @ spectrum).real
    modes = Statistics(shape=shape, sxx=np.eye(20), syx=v[None]).modes()
    assert modes.dominant_frequencies() == [(2, 3)]
    weights = np.abs(spectrum) / np.linalg.norm(spectrum)
    np.testing.assert_allclose(modes.mismatch(), [np.sqrt(20) * weights.max()], rtol=RTOL)


@given(shapes(), c_ins, st.data())
def test_grating_dataset_dominant_frequency(shape, c_in, data):
    """A dataset made of one grating is discovered through the grating's frequency."""
    f = tuple(data.draw(st.integers(-10, 10)) for _ in shape)
    pattern = grating(shape, f)
    parts = np.stack([pattern] * c_in)[None]  # (1, C_in, *shape)
    dataset = make_dataset(parts, np.array([[1.0], [-2.0]]), samples_per_class=2)
    modes = dataset.statistics().modes()
    assert len(modes.s) == 1
    assert modes.dominant_frequencies() == [canonical_ref(f, shape)]
    own = tuple(fi % n for fi, n in zip(f, shape, strict=True))
    self_conjugate = own == tuple(-fi % n for fi, n in zip(f, shape, strict=True))
    n = prod(shape)
    expected = np.sqrt(n) if self_conjugate else np.sqrt(n / 2)
    np.testing.assert_allclose(modes.mismatch(), [expected], rtol=1e-12)


# ---------------------------------------------------------------- whitening


@given(shapes(max_side=6), c_ins, seeds)
def test_zca_whiten(shape, c_in, seed):
    rng = np.random.default_rng(seed)
    d = c_in * prod(shape)
    p = 2 * d + 3
    mix = np.eye(d) + 0.3 * rng.standard_normal((d, d)) / np.sqrt(d)
    x = (rng.standard_normal((p, d)) @ mix.T).reshape(p, c_in, *shape)
    white, transform = zca_whiten(x)
    assert white.shape == x.shape and transform.shape == (d, d)
    flat = white.reshape(p, d)
    cov = sum(np.outer(w, w) for w in flat) / p
    np.testing.assert_allclose(cov, np.eye(d), rtol=0, atol=1e-10)
    np.testing.assert_allclose(transform, transform.T, rtol=0, atol=RTOL * np.abs(
        transform).max())
    assert np.linalg.eigvalsh((transform + transform.T) / 2).min() > 0  # ZCA: symmetric PD
    np.testing.assert_allclose(flat, x.reshape(p, d) @ transform, rtol=0, atol=1e-12)
    sxx = sum(np.outer(xi, xi) for xi in x.reshape(p, d)) / p
    reference = np.linalg.inv(scipy.linalg.sqrtm(sxx).real)
    np.testing.assert_allclose(transform, reference, rtol=0, atol=1e-9 * np.abs(
        reference).max())


@given(shapes(max_side=5), c_ins, st.floats(1e-3, 10.0), seeds)
def test_zca_whiten_with_eps(shape, c_in, eps, seed):
    """``eps > 0`` whitens ``Sigma_xx + eps I``, even with fewer samples than dimensions."""
    rng = np.random.default_rng(seed)
    d = c_in * prod(shape)
    p = max(1, d // 2)
    x = rng.standard_normal((p, c_in, *shape))
    white, transform = zca_whiten(x, eps=eps)
    sxx = sum(np.outer(xi, xi) for xi in x.reshape(p, d)) / p
    np.testing.assert_allclose(transform @ (sxx + eps * np.eye(d)) @ transform, np.eye(d),
                               rtol=0, atol=1e-10)
    np.testing.assert_allclose(white.reshape(p, d), x.reshape(p, d) @ transform, rtol=0,
                               atol=1e-10 * max(1.0, np.abs(white).max()))


def test_zca_whiten_refuses_singular_data():
    x = np.random.default_rng(1).standard_normal((3, 1, 5))  # P = 3 < D = 5
    with pytest.raises(ValueError, match="eps"):
        zca_whiten(x)
    x = np.random.default_rng(2).standard_normal((20, 2, 3))
    x[:, 1] = x[:, 0]  # two identical channels: rank 3 < D = 6
    with pytest.raises(ValueError, match=r"singular \(rank 3 < D = 6\).*eps > 0"):
        zca_whiten(x)
    white, _ = zca_whiten(x, eps=1e-3)
    assert np.all(np.isfinite(white))


def test_zca_whiten_rejects_bad_x():
    with pytest.raises(ValueError, match="x contains NaN or inf"):
        zca_whiten(_with(np.ones((4, 1, 2)), (0, 0, 1), np.nan))
    with pytest.raises(ValueError, match="x is empty"):
        zca_whiten(np.ones((0, 1, 3)))


@pytest.mark.parametrize("eps", [-0.5, np.nan, np.inf])
def test_zca_whiten_rejects_invalid_eps(eps):
    """``Sigma_xx + eps I`` with ``eps < 0`` is not a regularisation: here ``Sigma_xx`` has
    eigenvalues >= ~1, so ``eps = -0.5`` would silently return ``(Sigma_xx - I/2)^(-1/2)``,
    a transform that does not whiten."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((200, 1, 3)) * 2
    with pytest.raises(ValueError, match="eps"):
        zca_whiten(x, eps=eps)


# ---------------------------------------------------------------- grating, blob


@given(shapes(), st.data(), st.floats(-np.pi, np.pi))
def test_grating(shape, data, phase):
    f = tuple(data.draw(st.integers(-12, 12)) for _ in shape)
    own = tuple(fi % n for fi, n in zip(f, shape, strict=True))
    conj = tuple(-fi % n for fi, n in zip(f, shape, strict=True))
    if own == conj:  # self-conjugate: cos(pi k + phase) = +-cos(phase), avoid near-vanishing
        assume(abs(np.cos(phase)) > 0.01)
    pattern = grating(shape, f, phase=phase)
    assert pattern.shape == shape
    expected = np.empty(shape)
    for n in np.ndindex(*shape):
        expected[n] = np.cos(2 * np.pi * sum(fi * ni / nn for fi, ni, nn in zip(
            f, n, shape, strict=True)) + phase)
    expected /= np.sqrt(np.sum(expected**2))
    np.testing.assert_allclose(pattern, expected, rtol=0, atol=1e-10)
    assert np.sum(pattern**2) == pytest.approx(1.0, rel=RTOL)
    spectrum = (dft_matrix(shape) @ pattern.ravel()).reshape(shape)
    support = {own, conj}
    for g in np.ndindex(*shape):
        if g not in support:
            assert abs(spectrum[g]) <= 1e-12, (g, spectrum[g])
    assert sum(abs(spectrum[g]) ** 2 for g in support) == pytest.approx(1.0, rel=1e-12)


@pytest.mark.parametrize("shape, f", [(2, 1), (4, 2), ((4, 6), (2, 3)), ((4, 6), (0, 3))])
def test_grating_that_vanishes_is_refused(shape, f):
    """``cos(pi n + pi/2) = 0`` at every pixel for the Nyquist frequency: there is no unit
    grating to return (``cos(pi/2)`` is ``6e-17`` in floating point, not 0)."""
    with pytest.raises(ValueError, match="vanishes"):
        grating(shape, f, phase=np.pi / 2)


@pytest.mark.parametrize("shape, frequency, match", [
    (4, (1, 1), "frequency must have 1 entries"),
    ((4, 4), 1, "frequency must have 2 entries"),
    ((4, 4), (1, 2, 3), "frequency must have 2 entries"),
    ((4, 4), [[0, 0]], "frequency must have 2 entries"),  # found by tests/test_fuzz.py
    (8, np.nan, "frequency"),
    (8, np.inf, "frequency"),
    ((4, 4), (1, np.nan), "frequency"),
    (8, 1.5, "frequency"),
])
def test_grating_rejects_bad_frequency(shape, frequency, match):
    """A frequency is an integer index per dimension (docs/theory-reference.md,
    Conventions); non-finite or fractional ones would give NaN images or a spectrum off ``+-f``."""
    with pytest.raises(ValueError, match=match):
        grating(shape, frequency)


def blob_ref(shape, center, width):
    """Periodic distance by brute force over images of the centre shifted by whole periods."""
    image = np.empty(shape)
    for n in np.ndindex(*shape):
        dist2 = sum(min((ni - ci - k * nn) ** 2 for k in range(-4, 5))
                    for ni, ci, nn in zip(n, center, shape, strict=True))
        image[n] = np.exp(-dist2 / (2 * width**2))
    return image / np.sqrt(np.sum(image**2))


@given(shapes(), st.data(), st.floats(0.2, 5.0))
def test_blob(shape, data, width):
    center = tuple(data.draw(st.floats(-2 * n, 2 * n)) for n in shape)
    image = blob(shape, center, width)
    assert image.shape == shape
    assert np.sum(image**2) == pytest.approx(1.0, rel=RTOL)
    np.testing.assert_allclose(image, blob_ref(shape, center, width), rtol=0, atol=1e-12)
    shift = tuple(data.draw(st.integers(-2, 2)) for _ in shape)
    moved = tuple(c + k * n for c, k, n in zip(center, shift, shape, strict=True))
    np.testing.assert_allclose(blob(shape, moved, width), image, rtol=0, atol=1e-12)


def test_blob_of_extreme_width():
    """Found by tests/test_fuzz.py: ``width**2`` overflowed (width 1.3e154) before."""
    np.testing.assert_allclose(blob(8, 0, 1.3e154), np.full(8, 8**-0.5), rtol=1e-15)
    np.testing.assert_array_equal(blob(8, 0, 1e-300), np.eye(8)[0])


def test_grating_refuses_a_phase_beyond_float64():
    """Found by tests/test_fuzz.py: an int beyond float64 raised a bare OverflowError."""
    with pytest.raises(ValueError, match="phase must be a real number, got 1000.* beyond the "
                                         "float64 range"):
        grating(8, 1, phase=10**400)


@given(shapes(), st.data())
def test_narrow_blob_has_spread_spectrum(shape, data):
    """A narrow blob spreads its energy over most frequencies, a grating over at most 2."""
    center = tuple(data.draw(st.integers(0, n - 1)) for n in shape)
    image = blob(shape, center, 0.5)
    energy = np.abs(dft_matrix(shape) @ image.ravel()) ** 2
    assert np.sum(energy) == pytest.approx(1.0, rel=RTOL)
    assert np.sum(energy > 1e-6) > prod(shape) / 2
    g_energy = np.abs(dft_matrix(shape) @ grating(shape, (1,) * len(shape)).ravel()) ** 2
    assert np.sum(g_energy > 1e-12) <= 2


@pytest.mark.parametrize("shape, center, width, match", [
    (8, 0, 0.0, "width must be > 0"),
    (8, 0, -1.0, "width must be > 0"),
    (8, 0, np.nan, "width must be > 0"),
    (8, (0, 1), 1.0, "center must have 1 entries"),
    ((4, 4), 0, 1.0, "center must have 2 entries"),
    (8, 0.5, 1e-3, "blob vanishes"),  # every pixel is >= 0.5 away: exp underflows to 0
    (8, np.nan, 1.0, "center"),
    (8, np.inf, 1.0, "center"),
    ((4, 4), (1, np.nan), 1.0, "center"),
])
def test_blob_rejects_bad_arguments(shape, center, width, match):
    with pytest.raises(ValueError, match=match):
        blob(shape, center, width)


# ---------------------------------------------------------------- make_dataset


@st.composite
def dataset_specs(draw):
    shape = draw(shapes(max_side=6))
    c_in = draw(c_ins)
    n_parts = draw(st.integers(1, 3))
    n_classes = draw(st.integers(1, 3))
    return shape, c_in, n_parts, n_classes, draw(st.integers(1, 4)), draw(seeds)


@given(dataset_specs())
def test_make_dataset_without_noise_gives_prototypes(spec):
    shape, c_in, n_parts, n_classes, per_class, seed = spec
    rng = np.random.default_rng(seed)
    parts = rng.standard_normal((n_parts, c_in, *shape))
    classes = rng.standard_normal((n_classes, n_parts))
    ds = make_dataset(parts, classes, per_class, seed=seed)
    p = n_classes * per_class
    assert ds.x.shape == (p, c_in, *shape) and ds.y.shape == (p, n_classes)
    assert ds.labels.shape == (p,) and ds.shape == shape
    np.testing.assert_array_equal(np.bincount(ds.labels, minlength=n_classes),
                                  [per_class] * n_classes)
    for mu in range(p):
        c = int(ds.labels[mu])
        expected_y = np.zeros(n_classes)
        expected_y[c] = 1.0
        np.testing.assert_array_equal(ds.y[mu], expected_y)
        prototype = sum(classes[c, j] * parts[j] for j in range(n_parts))
        np.testing.assert_allclose(ds.x[mu], prototype, rtol=0,
                                   atol=RTOL * np.abs(classes[c]).sum() * np.abs(parts).max())
    np.testing.assert_array_equal(ds.parts, parts)
    np.testing.assert_array_equal(ds.classes, classes)
    # statistics() is from_samples on these samples and targets
    sxx, syx, syy = explicit_moments(ds.x, ds.y)
    stats = ds.statistics()
    scale = max(1.0, np.abs(ds.x).max() ** 2)
    np.testing.assert_allclose(stats.sxx, sxx, rtol=RTOL, atol=RTOL * scale)
    np.testing.assert_allclose(stats.syx, syx, rtol=RTOL, atol=RTOL * scale)
    assert stats.syy == pytest.approx(1.0, rel=RTOL) and stats.n_samples == p


@given(dataset_specs(), st.sampled_from([(0.3, 0.0), (0.0, 0.4), (0.2, 0.5)]))
def test_make_dataset_is_seeded(spec, noise_jitter):
    shape, c_in, n_parts, n_classes, per_class, seed = spec
    noise, jitter = noise_jitter
    rng = np.random.default_rng(seed)
    parts = rng.standard_normal((n_parts, c_in, *shape))
    classes = rng.standard_normal((n_classes, n_parts))
    one = make_dataset(parts, classes, per_class, noise=noise, jitter=jitter, seed=seed)
    two = make_dataset(parts, classes, per_class, noise=noise, jitter=jitter, seed=seed)
    other = make_dataset(parts, classes, per_class, noise=noise, jitter=jitter,
                         seed=seed ^ 1)
    for name in ("x", "y", "labels"):
        np.testing.assert_array_equal(getattr(one, name), getattr(two, name))
    np.testing.assert_array_equal(one.y, other.y)
    np.testing.assert_array_equal(one.labels, other.labels)
    assert not np.array_equal(one.x, other.x)
    if noise == 0:  # pure jitter: every sample is a multiple of its class prototype
        for mu in range(len(one.x)):
            proto = np.tensordot(classes[one.labels[mu]], parts, axes=1).ravel()
            xi = one.x[mu].ravel()
            residual = xi - (xi @ proto) / (proto @ proto) * proto
            assert np.linalg.norm(residual) <= 1e-12 * max(1.0, np.linalg.norm(xi))


def test_make_dataset_noise_and_jitter_have_the_stated_scale():
    """``x = (1 + jitter xi) prototype + noise eta``: fixed seed, many samples; the sample
    standard deviations agree with the parameters to 5% (statistical, deterministic)."""
    shape, per_class = (4, 3), 4000
    part = grating(shape, (1, 1))[None, None]
    ds = make_dataset(part, np.array([[2.0]]), per_class, noise=0.0, jitter=0.3, seed=7)
    scales = ds.x.reshape(per_class, -1) @ (2.0 * part.ravel()) / 4.0
    assert np.std(scales) == pytest.approx(0.3, rel=0.05)
    assert np.mean(scales) == pytest.approx(1.0, abs=0.05)
    ds = make_dataset(part, np.array([[2.0]]), per_class, noise=0.25, jitter=0.0, seed=7)
    residual = ds.x - 2.0 * part
    assert np.std(residual) == pytest.approx(0.25, rel=0.05)
    assert abs(np.mean(residual)) < 0.01


@pytest.mark.parametrize("kwargs, match", [
    (dict(noise=-0.1), "noise must be a finite number >= 0"),
    (dict(noise=np.nan), "noise must be a finite number >= 0"),
    (dict(noise=np.inf), "noise must be a finite number >= 0"),
    (dict(jitter=-1.0), "jitter must be a finite number >= 0"),
    (dict(jitter=np.nan), "jitter must be a finite number >= 0"),
    (dict(jitter=np.inf), "jitter must be a finite number >= 0"),
    (dict(samples_per_class=0), "samples_per_class must be an integer >= 1"),
    (dict(samples_per_class=2.5), "samples_per_class must be an integer >= 1"),
    (dict(parts=np.ones((3, 1, 4))), r"parts must have shape \(J, C_in, \*shape\) with J = "
                                     r"classes.shape\[1\] = 2"),
    (dict(parts=np.ones((2, 4))), r"parts must have shape \(J, C_in, \*shape\)"),
    (dict(parts=np.ones((2, 1, 2, 2, 2))), r"parts must have shape \(J, C_in, \*shape\)"),
    (dict(parts=_with(np.ones((2, 1, 4)), (1, 0, 2), np.nan)), "parts contains NaN or inf"),
    (dict(classes=np.ones(2)), "classes must be a 2-D array"),
    (dict(classes=np.ones((2, 3))), r"parts must have shape .* J = classes.shape\[1\] = 3"),
    (dict(classes=_with(np.ones((2, 2)), (0, 1), np.inf)), "classes contains NaN or inf"),
])
def test_make_dataset_rejects_bad_arguments(kwargs, match):
    args = dict(parts=np.ones((2, 1, 4)), classes=np.ones((2, 2)), samples_per_class=3)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        make_dataset(**args)


# ---------------------------------------------------------------- fourier helpers


@given(shapes(), st.data())
def test_canonical_and_conjugate(shape, data):
    f = tuple(data.draw(st.integers(-20, 20)) for _ in shape)
    k = tuple(data.draw(st.integers(-3, 3)) for _ in shape)
    reduced = tuple(fi % n for fi, n in zip(f, shape, strict=True))
    minus = tuple(-fi % n for fi, n in zip(f, shape, strict=True))
    assert fourier.conjugate(f, shape) == minus
    assert fourier.conjugate(fourier.conjugate(f, shape), shape) == reduced  # involution
    shifted = tuple(fi + ki * n for fi, ki, n in zip(f, k, shape, strict=True))
    negated = tuple(-fi for fi in f)
    c = fourier.canonical(f, shape)
    assert c == canonical_ref(f, shape)
    assert c in (reduced, minus) and c <= reduced and c <= minus
    assert c == fourier.canonical(negated, shape) == fourier.canonical(shifted, shape)
    assert fourier.canonical(c, shape) == c
    assert all(type(ci) is int and 0 <= ci < n for ci, n in zip(c, shape, strict=True))


def test_canonical_examples():
    assert fourier.canonical((3,), (4,)) == (1,)
    assert fourier.canonical((2,), (4,)) == (2,)  # Nyquist is its own conjugate
    assert fourier.canonical((0, 5), (3, 6)) == (0, 1)
    assert fourier.canonical((2, 1), (3, 6)) == (1, 5)
    assert fourier.conjugate((2, 1), (3, 6)) == (1, 5)


@given(shapes(), c_ins, seeds)
def test_dft_and_row_spectrum_against_matrix(shape, c_in, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, c_in, *shape))
    u = dft_matrix(shape)
    n = prod(shape)
    flat = x.reshape(2, c_in, n)
    np.testing.assert_allclose(fourier.dft(x, len(shape)).reshape(2, c_in, n),
                               np.einsum("fn,bcn->bcf", u, flat), rtol=0, atol=1e-12)
    np.testing.assert_allclose(fourier.row_spectrum(x, len(shape)).reshape(2, c_in, n),
                               np.einsum("bcn,fn->bcf", flat, u.conj()), rtol=0, atol=1e-12)


def test_stationary_rejects_non_hermitian_blocks():
    lam = np.zeros((2, 2, 4), dtype=complex)
    lam[0, 0] = lam[1, 1] = 1.0
    lam[0, 1] = 0.5  # Lambda_f[1, 0] stays 0
    with pytest.raises(ValueError, match="Hermitian per frequency"):
        Statistics.stationary(4, lam, np.ones((1, 8)))


def test_target_vectors_must_match_n_out():
    x = np.ones((3, 1, 4))
    with pytest.raises(ValueError, match="N_o = 2 columns, but n_out = 3"):
        Statistics.from_samples(x, np.ones((3, 2)), n_out=3)


@pytest.mark.parametrize("phase", [0.0, 0.3, 1.1])
def test_dominant_frequency_ties_go_to_the_first_frequency(phase):
    """Two gratings of equal weight tie up to rounding: f* is the first pair (2), whatever
    the rounding of the phase makes of the last digits."""
    v = grating(8, 2, phase) + grating(8, 3, phase)
    stats = Statistics(shape=8, sxx=np.eye(8), syx=v[None])
    assert stats.modes().dominant_frequencies() == [(2,)]


# ---------------------------------------------------------------- no silent wrong answer


@pytest.mark.parametrize("sxx, value", [
    (-np.eye(3), "-1"),
    (np.array([[1.0, 2.0, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, 1.0]]), "-1"),  # eigenvalue -1
    (np.diag([1.0, 1.0, -1e-9]), "-1e-09"),  # just below the tolerance -1e-10
])
def test_statistics_refuses_sxx_that_is_not_a_covariance(sxx, value):
    with pytest.raises(ValueError, match=rf"sxx must be positive semidefinite .* smallest "
                                         rf"eigenvalue is {value}, below the tolerance "
                                         rf"-1e-10 max \|sxx\|"):
        Statistics(shape=3, sxx=sxx, syx=np.ones((1, 3)))


def test_statistics_refuses_asymmetric_sxx_naming_the_asymmetry():
    sxx = np.eye(3)
    sxx[0, 1] = 1e-6
    with pytest.raises(ValueError, match=r"sxx must be symmetric .* max \|sxx - sxx\^T\| = "
                                         r"1e-06 exceeds the tolerance 1e-10 max \|sxx\|"):
        Statistics(shape=3, sxx=sxx, syx=np.ones((1, 3)))


def test_covariance_tolerance_admits_rounding():
    """Within 1e-10 max |sxx|: rounding of a PSD matrix (and the zero matrix) is accepted."""
    Statistics(shape=3, sxx=np.diag([1.0, 1.0, -1e-11]), syx=np.ones((1, 3)))
    Statistics(shape=3, sxx=np.zeros((3, 3)), syx=np.ones((1, 3)))
    x = np.random.default_rng(1).standard_normal((2, 1, 8))  # P < D: rank 2
    assert Statistics.from_samples(x, np.array([0, 1])).sxx.shape == (8, 8)


COMPLEX = np.ones((5, 2, 3)) * (1 + 1j)


@pytest.mark.parametrize("name, call", [
    ("sxx", lambda: Statistics(shape=3, sxx=np.eye(3) + 0j, syx=np.ones((1, 3)))),
    ("syx", lambda: Statistics(shape=3, sxx=np.eye(3), syx=np.ones((1, 3)) * 1j)),
    ("x", lambda: Statistics.from_samples(COMPLEX, np.zeros(5, dtype=int))),
    ("y", lambda: Statistics.from_samples(X, np.ones((5, 2)) + 0j)),
    ("x", lambda: zca_whiten(COMPLEX)),
    ("parts", lambda: make_dataset(COMPLEX[:1], np.eye(1), 2)),
    ("classes", lambda: make_dataset(X[:1], np.eye(1) + 0j, 2)),
    ("center", lambda: blob(4, 1j, 1.0)),
    ("frequency", lambda: grating(4, 1 + 0j)),
])
def test_complex_arrays_are_refused_naming_the_parameter(name, call):
    with pytest.raises(TypeError, match=f"^{name} is complex .*symcnn takes real data"):
        call()


@pytest.mark.parametrize("bad", [np.full((3, 3), "1.0"), np.array([[1, None, 0]] * 3),
                                 None])
@pytest.mark.parametrize("name", ["sxx", "syx"])
def test_non_numeric_arrays_are_refused_naming_the_parameter(name, bad):
    good = {"sxx": np.eye(3), "syx": np.ones((1, 3))}
    with pytest.raises(TypeError, match=f"^{name} must be a numeric array, got dtype"):
        Statistics(shape=3, **{**good, name: bad})


def test_non_numeric_samples_and_spectra_are_refused():
    with pytest.raises(TypeError, match="^x must be a numeric array"):
        Statistics.from_samples(X.astype(str), np.zeros(5, dtype=int))
    with pytest.raises(TypeError, match="^spectrum must be a numeric array"):
        Statistics.stationary(4, np.full((1, 1, 4), "1"), np.ones((1, 4)))
    with pytest.raises(ValueError, match="^x must be a rectangular numeric array"):
        Statistics.from_samples([[[1.0, 2.0]], [[1.0]]], np.zeros(2, dtype=int))


@pytest.mark.parametrize("kwargs, error, match", [
    ({"syy": "1.0"}, TypeError, "syy must be a finite number >= 0, got '1.0'"),
    ({"syy": True}, TypeError, "syy must be a finite number >= 0, got True"),
    ({"syy": 1j}, TypeError, "syy must be a finite number >= 0"),
    ({"n_samples": 2.5}, ValueError, "n_samples must be an integer >= 1, got 2.5"),
    ({"n_samples": 0}, ValueError, "n_samples must be an integer >= 1, got 0"),
    ({"n_samples": True}, ValueError, "n_samples must be an integer >= 1, got True"),
])
def test_statistics_options_are_not_coerced(kwargs, error, match):
    with pytest.raises(error, match=match):
        Statistics(shape=3, sxx=np.eye(3), syx=np.ones((1, 3)), **kwargs)


def test_statistics_stores_checked_options():
    stats = Statistics(shape=3, sxx=np.eye(3), syx=np.ones((1, 3)), syy=np.float32(2),
                       n_samples=np.int64(4))
    assert type(stats.syy) is float and type(stats.n_samples) is int


@pytest.mark.parametrize("name, call, error, match", [
    ("eps", lambda: zca_whiten(X, eps="0.1"), TypeError, "eps must be a finite number >= 0"),
    ("eps", lambda: zca_whiten(X, eps=True), TypeError, "eps must be a finite number >= 0"),
    ("x", lambda: zca_whiten(X[0]), ValueError, r"x must have shape \(P, C_in, N_1\)"),
    ("phase", lambda: grating(4, 1, phase=np.nan), ValueError, "phase must be a finite"),
    ("phase", lambda: grating(4, 1, phase="0"), TypeError, "phase must be a real number"),
    ("width", lambda: blob(4, 0, "2"), TypeError, "width must be a real number"),
    ("width", lambda: blob(4, 0, np.inf), ValueError, "width must be > 0 and finite"),
    ("frequency", lambda: grating(4, "1"), TypeError, "frequency must be a numeric array"),
    ("seed", lambda: make_dataset(X[:1], np.eye(1), 2, seed=2.5), ValueError,
     "seed must be an integer >= 0, got 2.5"),
    ("noise", lambda: make_dataset(X[:1], np.eye(1), 2, noise=True), TypeError,
     "noise must be a finite number >= 0"),
    ("jitter", lambda: make_dataset(X[:1], np.eye(1), 2, jitter="0.1"), TypeError,
     "jitter must be a finite number >= 0"),
    ("n_out", lambda: Statistics.from_samples(X, np.ones((5, 2)), n_out=2.0), ValueError,
     "n_out must be an integer >= 1, got 2.0"),
    ("rtol", lambda: Statistics(shape=3, sxx=np.eye(3), syx=np.ones((1, 3))).modes(1.5),
     ValueError, "rtol must be a number with 0 <= rtol < 1, got 1.5"),
    ("rtol", lambda: Statistics(shape=3, sxx=np.eye(3), syx=np.ones((1, 3))).is_stationary(
        "0.1"), TypeError, "rtol must be a real number"),
])
def test_options_are_validated_not_coerced(name, call, error, match):
    with pytest.raises(error, match=f"^{match}"):
        call()


@pytest.mark.parametrize("scale", [1e-300, 1e-200, 1e200, 1e300 / 8])
def test_zca_whiten_is_scale_invariant(scale):
    """Whitening ``c x`` gives the whitened ``x`` and ``1/c`` times its transform, however
    small or large ``c`` (Sigma_xx underflowed to 'singular' at 1e-200, LAPACK failed at
    1e200, NaN came back at 1e300)."""
    x = np.random.default_rng(0).standard_normal((8, 1, 3))
    white, transform = zca_whiten(x)
    scaled_white, scaled_transform = zca_whiten(scale * x)
    assert np.allclose(scaled_white, white, rtol=0, atol=1e-12)
    assert np.allclose(scaled_transform * scale, transform, rtol=1e-12, atol=0)
    tiny, _ = zca_whiten(1e-200 * x, eps=1.0)  # eps I dominates: the transform is eps^(-1/2)
    assert np.allclose(tiny, 1e-200 * x, rtol=1e-12, atol=0)


@pytest.mark.parametrize("x, y, match", [
    (1e160, 1.0, "^x is too large: its average <x x\\^T> overflows"),
    (1.0, 1e200, "^y is too large: the average <y x\\^T> or <|y|\\^2> overflows"),
])
def test_from_samples_names_the_samples_whose_averages_overflow(x, y, match):
    """Averages beyond float64 are refused naming ``x`` or ``y`` (were 'sxx contains NaN or
    inf' and 'syy must be a finite number', names the caller never gave)."""
    xs = x * np.random.default_rng(1).standard_normal((4, 1, 3))
    with pytest.raises(ValueError, match=match):
        Statistics.from_samples(xs, np.full((4, 2), y))


def test_stationarity_of_huge_statistics_is_finite():
    """The deviation from stationarity is a ratio: computed on the scaled Sigma_xx it does not
    overflow (it was NaN for entries above about 1e154)."""
    x = np.random.default_rng(2).standard_normal((6, 1, 4))
    y = np.ones((6, 1))
    small, large = Statistics.from_samples(x, y), Statistics.from_samples(1e150 * x, y)
    assert large.stationarity == pytest.approx(small.stationarity, rel=1e-12)


def test_an_optimal_map_beyond_float64_is_refused():
    """``Sigma_yx Sigma_xx^+`` overflowing is a ValueError, not an inf map."""
    stats = Statistics(3, 1e-150 * np.eye(3), np.array([[1.0, 1e300, 0.0]]))
    with pytest.raises(ValueError, match="optimal map .* overflows float64"):
        stats.optimal_map()
