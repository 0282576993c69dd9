"""Small kernels (docs/theory-reference.md, R4), numerically: the Dirichlet matrix ``D``
that couples frequencies when the kernel is smaller than the image, and the growth rates of
the linearised small-kernel flow, the eigenvalues of ``S D S``.

NumPy only; the exact derivations are :func:`symcnn.symbolic.reductions.small_kernels`
(the properties of ``D``) and :func:`symcnn.symbolic.closed_forms.r4` (the linearisation).
"""

from __future__ import annotations

import numpy as np

from ..checks import finite_array, instance
from ..fourier import kernel_spectrum
from ..model import LinearCNN, difference_index

__all__ = ["dirichlet_matrix", "r4_growth_rates"]


def dirichlet_matrix(model: LinearCNN) -> np.ndarray:
    """``D[f, g] = sum_p exp(2 pi i (f - g).lag(p) / N)``, ``N x N`` complex, frequencies
    flattened row-major like the model: the spectrum of the all-ones kernel at ``f - g``
    (the exact matrix is :func:`symcnn.symbolic.reductions.dirichlet_matrix`)."""
    instance("model", model, LinearCNN)
    ones = kernel_spectrum(model, np.ones((1, 1, *model.kernel)))[0, 0].ravel()
    return ones[difference_index(model.shape).T]


def r4_growth_rates(t_hat, dirichlet) -> tuple[np.ndarray, np.ndarray]:
    """Growth rates of the linearised small-kernel flow (R4, white input, ``C_in = 1``).

    Parameters
    ----------
    t_hat : array
        ``T_f`` at every frequency (any shape; flattened row-major, like the model): finite,
        real or complex, not all zero.
    dirichlet : (N, N) array
        ``D[f, g]`` in the same order (e.g. :func:`dirichlet_matrix`): finite and Hermitian.

    Returns
    -------
    gamma : (N,) array
        ``sqrt`` of the eigenvalues of ``S D S`` (``S = diag(|T_f|)``), descending; those
        within rounding of 0 (``N eps`` times the largest modulus, e.g. the ``N - k`` zero
        ones: ``D`` has rank ``k``) are 0.  The kernel spectrum grows like
        ``exp(gamma t/tau)`` and the end-to-end map like ``exp(2 gamma t/tau)``.  Computed
        on ``S`` and ``D`` scaled to a largest entry 1, so any finite scale works.
    kernel : (N,) complex array
        The top kernel spectrum ``v`` (``D S^2 v = gamma_1^2 v``; ``v = D S w / gamma_1^2``
        for the top eigenvector ``w`` of ``S D S``), unit norm, with the entry of largest
        modulus (the first within a relative ``1e-9``) real and positive.  If ``gamma_1`` is
        degenerate, ``v`` is one unit vector of its eigenspace (whichever LAPACK returns).

    Raises
    ------
    ValueError
        Non-finite or empty input, shapes that do not match, a non-Hermitian ``dirichlet``,
        or no growing mode (``S D S`` has no eigenvalue above rounding, e.g. ``T = 0``).
    """
    mags = np.abs(finite_array("t_hat", t_hat, complex_ok=True)).ravel()
    dm = finite_array("dirichlet", dirichlet, complex_ok=True).astype(complex)
    if dm.shape != (mags.size, mags.size):
        raise ValueError(f"dirichlet must have shape {(mags.size, mags.size)}, got {dm.shape}")
    s_scale, d_scale = mags.max(), np.abs(dm).max()
    if s_scale == 0 or d_scale == 0:
        raise ValueError("no growing mode: S D S = 0 (t_hat or dirichlet is zero)")
    mags, dm = mags / s_scale, dm / d_scale
    if not np.allclose(dm, dm.conj().T, rtol=1e-12, atol=1e-12):
        raise ValueError("dirichlet must be Hermitian")
    sds = mags[:, None] * dm * mags[None, :]
    values, vectors = np.linalg.eigh((sds + sds.conj().T) / 2)
    order = np.argsort(values)[::-1]
    values, vectors = values[order], vectors[:, order]
    values = np.where(values > mags.size * np.finfo(float).eps * np.abs(values).max(),
                      values, 0.0)
    if values[0] <= 0:
        raise ValueError("no growing mode: S D S has no positive eigenvalue")
    gamma = s_scale * np.sqrt(d_scale) * np.sqrt(values)
    kernel = dm @ (mags * vectors[:, 0]) / values[0]
    kernel /= np.linalg.norm(kernel)
    moduli = np.abs(kernel)
    lead = int(np.argmax(moduli >= moduli.max() * (1 - 1e-9)))
    kernel *= np.conj(kernel[lead]) / moduli[lead]
    return gamma, kernel
