"""Fourier conventions (docs/theory-reference.md, Conventions) against explicit DFT matrices."""

import numpy as np
import pytest
from hypothesis import given

from symcnn import LinearCNN, fourier
from symcnn.fourier import SpectralLayers
from symcnn.strategies import models, seeds
from tests.reference import dft_matrix


@given(models(), seeds)
def test_layer_is_diagonal_in_fourier(model, seed):
    """``K_{cc'} = U^* diag(kappa_{cc'}) U`` block by block."""
    w = np.random.default_rng(seed).standard_normal(model.param_shapes()[0])
    u = dft_matrix(model.shape)
    kappa = fourier.kernel_spectrum(model, w).reshape(*w.shape[:2], -1)
    n = model.n_pixels
    blocks = model.circulant(w).reshape(w.shape[0], n, w.shape[1], n).transpose(0, 2, 1, 3)
    expected = np.einsum("fn,cdf,fm->cdnm", u.conj(), kappa, u)
    np.testing.assert_allclose(blocks, expected, atol=1e-12 * max(1, np.abs(w).sum()))


@given(models(), seeds)
def test_convolution_conjugates_the_spectrum(model, seed):
    w = np.random.default_rng(seed).standard_normal(model.param_shapes()[0])
    other = "convolution" if model.convention == "correlation" else "correlation"
    flipped = LinearCNN(shape=model.shape, kernel=model.kernel, channels=model.channels,
                        c_in=model.c_in, convention=other)
    np.testing.assert_allclose(fourier.kernel_spectrum(flipped, w),
                               np.conj(fourier.kernel_spectrum(model, w)), atol=1e-12)


@given(models(full_kernel=True), seeds)
def test_kernel_from_spectrum_inverts(model, seed):
    w = np.random.default_rng(seed).standard_normal(model.param_shapes()[0])
    back = fourier.kernel_from_spectrum(model, fourier.kernel_spectrum(model, w))
    np.testing.assert_allclose(back, w, atol=1e-12)


def test_kernel_from_spectrum_refuses():
    small = LinearCNN(shape=6, kernel=3)
    with pytest.raises(ValueError, match="only for full kernels"):
        fourier.kernel_from_spectrum(small, np.ones((1, 1, 6)))
    full = LinearCNN(shape=6)
    with pytest.raises(ValueError, match="not conjugate-symmetric"):
        fourier.kernel_from_spectrum(full, np.exp(1j * np.arange(6))[None, None])


@given(models(), seeds)
def test_row_and_column_spectra(model, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((model.n_out, model.c_in, *model.shape))
    u = dft_matrix(model.shape)
    d = len(model.shape)
    rows = a.reshape(model.n_out, model.c_in, -1)
    np.testing.assert_allclose(fourier.row_spectrum(a, d).reshape(rows.shape),
                               rows @ u.conj().T, atol=1e-12)
    np.testing.assert_allclose(fourier.dft(a, d).reshape(rows.shape), rows @ u.T, atol=1e-12)
    np.testing.assert_allclose(fourier.inverse_row_spectrum(fourier.row_spectrum(a, d), d), a,
                               atol=1e-12)


@given(models(), seeds)
def test_spectral_layers_match_dense_matrices(model, seed):
    rng = np.random.default_rng(seed)
    layers = SpectralLayers(model)
    w = rng.standard_normal(model.param_shapes()[0])
    k, k_hat = model.circulant(w), layers.kernel(w)
    x = rng.standard_normal((3, model.c_in, *model.shape))
    a = rng.standard_normal((3, model.channels, *model.shape))
    h = layers.irfft(layers.forward(k_hat, layers.rfft(x)))
    np.testing.assert_allclose(h.reshape(3, -1), x.reshape(3, -1) @ k.T, atol=1e-12)
    back = layers.irfft(layers.adjoint(k_hat, layers.rfft(a)))
    np.testing.assert_allclose(back.reshape(3, -1), a.reshape(3, -1) @ k, atol=1e-12)
    # d/dw of sum_b a_b . K(w) x_b, by linearity: the layer applied to unit kernels
    grad = layers.weight_gradient(layers.rfft(a), layers.rfft(x))
    basis = np.eye(w.size).reshape(w.size, *w.shape)
    expected = [np.sum(a.reshape(3, -1) * (x.reshape(3, -1) @ model.circulant(e).T))
                for e in basis]
    np.testing.assert_allclose(grad.ravel(), expected, atol=1e-11)


def test_canonical_member_of_a_pair():
    assert fourier.conjugate((1, 3), (4, 5)) == (3, 2)
    assert fourier.canonical((3, 2), (4, 5)) == fourier.canonical((1, 3), (4, 5)) == (1, 3)
    assert fourier.canonical((2,), (4,)) == (2,)


@given(models(), seeds)
def test_hermitian_svd_reconstructs_with_conjugate_symmetric_factors(model, seed):
    a = np.random.default_rng(seed).standard_normal((model.n_out, model.c_in, *model.shape))
    a_hat = fourier.row_spectrum(a, len(model.shape))
    u, s, vh = fourier.hermitian_svd(a_hat, model.shape)
    np.testing.assert_allclose(fourier.to_grid(np.einsum("fpa,fa,faq->fpq", u, s, vh),
                                               model.shape), a_hat, atol=1e-12)
    conj = [np.ravel_multi_index(fourier.conjugate(f, model.shape), model.shape)
            for f in np.ndindex(model.shape)]
    np.testing.assert_array_equal(u[conj], np.conj(u))
    np.testing.assert_array_equal(vh[conj], np.conj(vh))


def test_hermitian_svd_accepts_a_spectrum_that_vanishes_at_the_real_frequencies():
    """Rounding at f = 0 and N/2 is judged against the whole spectrum, not those entries
    (signals without mean or alternating part: before the fix 140 of 200 raised)."""
    rng = np.random.default_rng(0)
    alternating = (-1.0) ** np.arange(12)
    for _ in range(20):
        x = rng.standard_normal((2, 1, 12))
        x -= x.mean(-1, keepdims=True) + (x @ alternating)[..., None] * alternating / 12
        a_hat = fourier.row_spectrum(x, 1)
        u, s, vh = fourier.hermitian_svd(a_hat, (12,))
        np.testing.assert_allclose(fourier.to_grid(u * s[:, None] @ vh, (12,)), a_hat,
                                   atol=1e-14)
