"""Small kernels (docs/theory-reference.md, R4), numerically: the Dirichlet matrix ``D``
that couples frequencies when the kernel is smaller than the image, and the growth rates of
the linearised small-kernel flow, the eigenvalues of ``S D S``.

NumPy only; the exact derivations are :func:`symcnn.symbolic.reductions.small_kernels`
(the properties of ``D``) and :func:`symcnn.symbolic.closed_forms.r4` (the linearisation).
"""

from __future__ import annotations

import numpy as np

from ..fourier import kernel_spectrum
from ..model import LinearCNN, difference_index

__all__ = ["dirichlet_matrix", "r4_growth_rates"]


def dirichlet_matrix(model: LinearCNN) -> np.ndarray:
    """``D[f, g] = sum_p exp(2 pi i (f - g).lag(p) / N)``, ``N x N`` complex, frequencies
    flattened row-major like the model: the spectrum of the all-ones kernel at ``f - g``
    (the exact matrix is :func:`symcnn.symbolic.reductions.dirichlet_matrix`)."""
    ones = kernel_spectrum(model, np.ones((1, 1, *model.kernel)))[0, 0].ravel()
    return ones[difference_index(model.shape).T]


def r4_growth_rates(t_hat, dirichlet) -> tuple[np.ndarray, np.ndarray]:
    """Growth rates of the linearised small-kernel flow (R4, white input, ``C_in = 1``).

    Parameters
    ----------
    t_hat : array
        ``T_f`` at every frequency (any shape; flattened row-major, like the model).
    dirichlet : (N, N) array
        ``D[f, g]`` in the same order (e.g. :func:`dirichlet_matrix`).

    Returns
    -------
    gamma : (N,) array
        ``sqrt`` of the eigenvalues of ``S D S`` (``S = diag(|T_f|)``), descending (negative
        rounding errors clipped to 0): the kernel spectrum grows like ``exp(gamma t/tau)``
        and the end-to-end map like ``exp(2 gamma t/tau)``.
    kernel : (N,) complex array
        The top kernel spectrum ``v`` (``D S^2 v = gamma_1^2 v``; ``v = D S w / gamma_1^2``
        for the top eigenvector ``w`` of ``S D S``), unit norm, with the entry of largest
        modulus (the first within a relative ``1e-9``) real and positive.
    """
    mags = np.abs(np.asarray(t_hat)).ravel()
    dm = np.asarray(dirichlet, dtype=complex)
    if dm.shape != (mags.size, mags.size):
        raise ValueError(f"dirichlet must have shape {(mags.size, mags.size)}, got {dm.shape}")
    if not np.allclose(dm, dm.conj().T, rtol=1e-12, atol=1e-12 * np.abs(dm).max()):
        raise ValueError("dirichlet must be Hermitian")
    sds = mags[:, None] * dm * mags[None, :]
    values, vectors = np.linalg.eigh((sds + sds.conj().T) / 2)
    order = np.argsort(values)[::-1]
    values, vectors = values[order], vectors[:, order]
    gamma = np.sqrt(np.clip(values, 0.0, None))
    if values[0] <= 0:
        raise ValueError("no growing mode: S D S has no positive eigenvalue")
    kernel = dm @ (mags * vectors[:, 0]) / values[0]
    kernel /= np.linalg.norm(kernel)
    moduli = np.abs(kernel)
    lead = int(np.argmax(moduli >= moduli.max() * (1 - 1e-9)))
    kernel *= np.conj(kernel[lead]) / moduli[lead]
    return gamma, kernel

