"""Fourier conventions (docs/theory-reference.md, Conventions) and FFT implementations of
the layers.

Unitary DFT over the ``d`` spatial (last) axes: ``U[f, n] = N^(-1/2) exp(-2 pi i f.n / N)``.

- Column objects (inputs, singular vectors ``v_a``) transform as ``U v``: :func:`dft`.
- Row objects (the map ``M``, ``Sigma_yx``, the last layer ``W``) as ``a U^*``:
  :func:`row_spectrum`, so that ``M_f = beta_f alpha_f`` and ``T_f = (Sigma_yx U^*)_f``.
- Kernel spectrum ``kappa[c, c', f] = sum_p w[c, c', p] exp(+2 pi i f.lag(p) / N)``, so
  that a layer is ``K = U^* diag(kappa) U`` (:func:`kernel_spectrum`).

Real arrays have conjugate-symmetric spectra: ``X[-f] = conj(X[f])``.  The batched layer
operations below therefore work on ``numpy.fft.rfftn`` half-spectra (unnormalised):
a layer multiplies ``rfftn(x)`` by ``rfft_kernel = conj(rfftn(wpad))``.
"""

from __future__ import annotations

import numpy as np

from .model import LinearCNN


def _axes(d: int) -> tuple[int, ...]:
    return tuple(range(-d, 0))


def dft(x: np.ndarray, d: int) -> np.ndarray:
    """``U x`` over the last ``d`` axes (a column signal's spectrum)."""
    return np.fft.fftn(x, axes=_axes(d), norm="ortho")


def row_spectrum(a: np.ndarray, d: int) -> np.ndarray:
    """``a U^*`` over the last ``d`` axes (a row object's spectrum, e.g. ``M_f``, ``T_f``)."""
    return np.fft.ifftn(a, axes=_axes(d), norm="ortho")


def inverse_row_spectrum(a_hat: np.ndarray, d: int) -> np.ndarray:
    """``a_hat U``: the real row object whose :func:`row_spectrum` is ``a_hat``."""
    return _real(np.fft.fftn(a_hat, axes=_axes(d), norm="ortho"), "a_hat")


def kernel_spectrum(model: LinearCNN, w: np.ndarray) -> np.ndarray:
    """``kappa[c, c', f] = sum_p w[c, c', p] exp(+2 pi i f.lag(p) / N)``."""
    return np.conj(np.fft.fftn(model.padded_kernel(w), axes=_axes(len(model.shape))))


def kernel_from_spectrum(model: LinearCNN, kappa: np.ndarray) -> np.ndarray:
    """The real kernel ``w`` with spectrum ``kappa``; needs a full kernel (``k = N``)."""
    if not model.full_kernel:
        raise ValueError(f"a kernel spectrum determines w only for full kernels (kernel = shape "
                         f"= {model.shape}), got kernel = {model.kernel}")
    wpad = _real(np.fft.fftn(kappa, axes=_axes(len(model.shape))), "kappa") / model.n_pixels
    return wpad[(slice(None), slice(None), *model.lags())]


def _real(z: np.ndarray, name: str, rtol: float = 1e-9, scale: float = 0.0) -> np.ndarray:
    """``z.real``, after checking that ``|Im z| <= rtol max(|z|, scale)``."""
    scale = max(np.max(np.abs(z), initial=0.0), scale, np.finfo(float).tiny)
    if np.max(np.abs(z.imag), initial=0.0) > rtol * scale:
        raise ValueError(f"{name} is not conjugate-symmetric (X[-f] = conj(X[f])), so it is "
                         "not the spectrum of real weights")
    return z.real


def conjugate(f, shape: tuple[int, ...]) -> tuple[int, ...]:
    """``-f mod N``, the frequency whose spectrum is the conjugate of ``f``'s."""
    return tuple(int(-fi % n) for fi, n in zip(f, shape, strict=True))


def canonical(f, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The representative of the pair ``{f, -f}``: the lexicographically smaller one."""
    f = tuple(int(fi % n) for fi, n in zip(f, shape, strict=True))
    return min(f, conjugate(f, shape))


class SpectralLayers:
    """The convolution layers of ``model`` applied to batches by real FFTs.

    Signals are kept as unnormalised half-spectra ``rfftn(x)`` of shape
    ``(batch, channels, *half)``; a layer costs ``O(batch C C' N)`` plus the transforms.
    """

    def __init__(self, model: LinearCNN):
        self.model = model
        self.axes = _axes(len(model.shape))
        self.lags = tuple(model.lags())

    def rfft(self, x: np.ndarray) -> np.ndarray:
        return np.fft.rfftn(x, axes=self.axes)

    def irfft(self, x_hat: np.ndarray) -> np.ndarray:
        return np.fft.irfftn(x_hat, s=self.model.shape, axes=self.axes)

    def kernel(self, w: np.ndarray) -> np.ndarray:
        """``conj(rfftn(wpad))``: the half-spectrum of ``kappa``."""
        return np.conj(self.rfft(self.model.padded_kernel(w)))

    @staticmethod
    def forward(k_hat: np.ndarray, x_hat: np.ndarray) -> np.ndarray:
        """One layer, ``h = K x``, on a batch of column signals."""
        return np.einsum("cd...,bd...->bc...", k_hat, x_hat)

    @staticmethod
    def adjoint(k_hat: np.ndarray, a_hat: np.ndarray) -> np.ndarray:
        """One layer transposed, ``a K`` (i.e. ``K^T a``), on a batch of row signals."""
        return np.einsum("cd...,bc...->bd...", np.conj(k_hat), a_hat)

    def weight_gradient(self, a_hat: np.ndarray, b_hat: np.ndarray) -> np.ndarray:
        """``g[c, c', p] = sum_{b, n} a[b, c, n] b[b, c', n + lag(p)]``: ``dL/dw`` of a layer
        whose output sees the row gradient ``a`` and whose input is ``b``."""
        if a_hat.size <= b_hat.size:  # conjugate the smaller operand: conj(a) b
            product = np.einsum("bc...,bd...->cd...", np.conj(a_hat), b_hat)
        else:
            product = np.conj(np.einsum("bc...,bd...->cd...", a_hat, np.conj(b_hat)))
        return self.irfft(product)[(slice(None), slice(None), *self.lags)]

    def backward(self, params) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Kernel half-spectra, and the rows ``W K_depth .. K_{l+1}`` as half-spectra for
        ``l = depth, ..., 0`` (first ``W``, last ``M``), from checked ``params``."""
        *kernels, w_out = params
        k_hats = [self.kernel(w) for w in kernels]
        rows = [self.rfft(w_out)]
        for k in reversed(k_hats):
            rows.append(self.adjoint(k, rows[-1]))
        return k_hats, rows

    def end_to_end(self, rows: list[np.ndarray]) -> np.ndarray:
        """``M`` (``N_o x D``) from the rows of :meth:`backward`."""
        return self.irfft(rows[-1]).reshape(len(rows[-1]), -1)


def hermitian_svd(a_hat: np.ndarray, shape: tuple[int, ...]):
    """SVD per frequency of a conjugate-symmetric spectrum ``(p, q, *shape)``, with factors
    that are conjugate-symmetric too (``U_{-f} = conj(U_f)``, real at self-conjugate ``f``).

    Returns ``U`` ``(F, p, r)``, ``S`` ``(F, r)``, ``V^*`` ``(F, r, q)`` over the ``F = N``
    frequencies in flat order.
    """
    flat = to_flat(a_hat)
    u, s, vh = np.linalg.svd(flat, full_matrices=False)
    grid = np.indices(shape).reshape(len(shape), -1)
    conj = np.ravel_multi_index(tuple(-grid % np.array(shape)[:, None]), shape)
    own = conj == np.arange(len(conj))
    if np.any(own):
        # rounding is relative to the whole spectrum (it may vanish at 0 and N/2)
        real = _real(flat[own], "spectrum", scale=np.max(np.abs(flat), initial=0.0))
        u[own], s[own], vh[own] = np.linalg.svd(real, full_matrices=False)
    later = conj < np.arange(len(conj))
    u[later], s[later], vh[later] = np.conj(u[conj[later]]), s[conj[later]], np.conj(
        vh[conj[later]])
    return u, s, vh


def to_grid(a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``(F, p, q)`` over flat frequencies to ``(p, q, *shape)``."""
    return np.moveaxis(a, 0, -1).reshape(*a.shape[1:], *shape)


def to_flat(a_hat: np.ndarray) -> np.ndarray:
    """``(p, q, *shape)`` to ``(F, p, q)`` over flat frequencies (the inverse of
    :func:`to_grid`): one ``p x q`` matrix per frequency."""
    return np.moveaxis(a_hat.reshape(*a_hat.shape[:2], -1), -1, 0)
