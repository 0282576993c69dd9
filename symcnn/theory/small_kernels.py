"""Small kernels (docs/theory-reference.md, R4), numerically: the Dirichlet matrix ``D``
that couples frequencies when the kernel is smaller than the image, the growth rates of the
linearised small-kernel flow (the eigenvalues of ``S D S``, ``S = diag(||T_f||)``) and the
directions it learns first, for any number of channels and outputs.

NumPy only; the exact derivations are :func:`symcnn.symbolic.reductions.small_kernels`
(the properties of ``D``) and :func:`symcnn.symbolic.closed_forms.r4` (the linearisation).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..checks import finite_array, instance
from ..data import Statistics
from ..fourier import kernel_spectrum
from ..model import LinearCNN, difference_index
from .predict import Theory

__all__ = ["Linearisation", "dirichlet_matrix", "linearised", "r4_growth_rates"]


def dirichlet_matrix(model: LinearCNN) -> np.ndarray:
    """``D[f, g] = sum_p exp(2 pi i (f - g).lag(p) / N)``, ``N x N`` complex, frequencies
    flattened row-major like the model: the spectrum of the all-ones kernel at ``f - g``
    (the exact matrix is :func:`symcnn.symbolic.reductions.dirichlet_matrix`)."""
    instance("model", model, LinearCNN)
    ones = kernel_spectrum(model, np.ones((1, 1, *model.kernel)))[0, 0].ravel()
    return ones[difference_index(model.shape).T]


def r4_growth_rates(t_hat, dirichlet) -> tuple[np.ndarray, np.ndarray]:
    """Growth rates of the linearised small-kernel flow (R4, white input, ``C_in = 1``, any
    ``C`` and ``N_o``).

    Near zero weights ``tau dkappa_c/dt = D S z_c`` and ``tau dz_c/dt = S kappa_c`` for each
    channel ``c``, with ``z_cf = T_f^T conj(beta_f[:, c]) / ||T_f||`` the readout along
    ``conj(T_f)`` (the rest of the readout does not move), so ``S = diag(||T_f||)``, the norm
    over the outputs (:func:`linearised` gives the learned directions).

    Parameters
    ----------
    t_hat : array
        ``T_f`` at every frequency, shape ``(N,)`` or any shape of ``N`` entries (one output),
        or ``(N_o, ...)`` with ``N`` entries per output (flattened row-major, like the model):
        finite, real or complex, not all zero.
    dirichlet : (N, N) array
        ``D[f, g]`` in the same order (e.g. :func:`dirichlet_matrix`): finite and Hermitian.

    Returns
    -------
    gamma : (N,) array
        ``sqrt`` of the eigenvalues of ``S D S``, descending; those within rounding of 0
        (``N eps`` times the largest modulus, e.g. the ``N - k`` zero ones: ``D`` has rank
        ``k``) are 0.  The kernel spectrum grows like ``exp(gamma t/tau)`` and the end-to-end
        map like ``exp(2 gamma t/tau)``.  Computed on ``S`` and ``D`` scaled to a largest
        entry 1, so any finite scale works.
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
    dm = finite_array("dirichlet", dirichlet, complex_ok=True).astype(complex)
    t = _per_output("t_hat", t_hat, dm)
    s_scale, d_scale = np.abs(t).max(), np.abs(dm).max()
    if s_scale == 0 or d_scale == 0:
        raise ValueError("no growing mode: S D S = 0 (t_hat or dirichlet is zero)")
    mags, dm = np.linalg.norm(t / s_scale, axis=0), dm / d_scale
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
    return gamma, _unit(kernel)


def _per_output(name: str, t_hat, dirichlet: np.ndarray) -> np.ndarray:
    """``t_hat`` as an ``(N_o, N)`` array for the ``(N, N)`` ``dirichlet``: ``N`` entries
    (one output, any shape) or ``(N_o, ...)`` with ``N`` entries per output."""
    t = finite_array(name, t_hat, complex_ok=True)
    if dirichlet.ndim != 2 or dirichlet.shape[0] != dirichlet.shape[1]:
        raise ValueError(f"dirichlet must be a square (N, N) array, got shape "
                         f"{dirichlet.shape}")
    n = dirichlet.shape[0]
    if t.size == n:
        return t.reshape(1, n)
    if t.ndim < 2 or t[0].size != n:
        raise ValueError(f"{name} must have N = {n} entries per output (shape (N,) or "
                         f"(N_o, N)) for dirichlet of shape {dirichlet.shape}, got shape "
                         f"{t.shape}")
    return t.reshape(t.shape[0], n)


def _unit(v: np.ndarray) -> np.ndarray:
    """``v / |v|`` turned so that its entry of largest modulus (the first within a relative
    ``1e-9``) is real and positive."""
    v = v / np.linalg.norm(v)
    moduli = np.abs(v)
    lead = int(np.argmax(moduli >= moduli.max() * (1 - 1e-9)))
    return v * np.conj(v[lead]) / moduli[lead]


class Linearisation(NamedTuple):
    """The small-weight phase of a small-kernel CNN (:func:`linearised`); spectra have the
    model's frequency shape."""

    gamma: np.ndarray
    """``(N,)``: the growth rates of :func:`r4_growth_rates`, descending."""
    kernel: np.ndarray
    """``(*shape)``: the top kernel spectrum ``v``, which every channel's ``kappa_c`` turns
    to."""
    readout: np.ndarray
    """``(N_o, *shape)``: ``T_f / ||T_f||`` (0 where ``T_f = 0``), the direction in which
    every readout column ``beta_f[:, c]`` grows, like ``T_f conj(kappa_cf)``."""
    map: np.ndarray
    """``(N_o, *shape)``: the direction of the learned ``M_f = sum_c beta_f[:, c]
    kappa_cf``, ``T_f |v_f|^2`` normalised over all ``(o, f)``; ``||M||`` grows like
    ``exp(2 gamma_1 t/tau)``."""


def linearised(model: LinearCNN, stats: Statistics) -> Linearisation:
    """R4's linearised small-weight flow of ``model`` (one layer of ``C`` channels, kernel
    ``k < N``, ``C_in = 1``, any ``N_o``) on white ``stats``: with ``S = diag(||T_f||)``,
    ``kappa_c ~ v exp(gamma_1 t/tau)``, ``D S^2 v = gamma_1^2 v``, and
    ``M_f ~ T_f |v_f|^2 exp(2 gamma_1 t/tau)``.

    Raises
    ------
    TypeError, ValueError
        Not a (LinearCNN, Statistics) pair of matching shapes; ``C_in > 1``, depth > 1, a
        full kernel (``k = N``: R2, use :class:`~symcnn.theory.Theory`) or non-white input,
        each naming the hypothesis; no growing mode (``Sigma_yx = 0``).
    """
    instance("model", model, LinearCNN)
    theory = Theory(model, stats)
    if model.c_in != 1:
        raise ValueError(f"the R4 linearisation needs one input channel, got c_in = "
                         f"{model.c_in}")
    theory.require("the R4 linearisation", "depth 1", "white input")
    if model.full_kernel:
        raise ValueError(f"the R4 linearisation needs a small kernel (k < N), got kernel "
                         f"{model.kernel} on shape {model.shape}: a full kernel is R2, use "
                         "Theory")
    t = stats.output_spectrum()[:, 0].reshape(model.n_out, -1)
    gamma, kernel = r4_growth_rates(t, dirichlet_matrix(model))
    norms = np.linalg.norm(t, axis=0)
    readout = np.divide(t, norms, out=np.zeros_like(t), where=norms > 0)
    learned = t * np.abs(kernel) ** 2
    shape = (model.n_out, *model.shape)
    return Linearisation(gamma, kernel.reshape(model.shape), readout.reshape(shape),
                         (learned / np.linalg.norm(learned)).reshape(shape))
