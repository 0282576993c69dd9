"""Dataset statistics, their Fourier structure, and synthetic datasets of known structure.

The loss ``L = 1/(2P) sum_mu |y_mu - M x_mu|^2`` depends on the data only through
``Sigma_xx = <x x^T>`` (``D x D``, uncentred) and ``Sigma_yx = <y x^T>`` (``N_o x D``):
``L = 1/2 tr(M Sigma_xx M^T) - tr(M Sigma_yx^T) + 1/2 <|y|^2>`` (docs/theory-reference.md,
Setting).
Inputs are flattened channel-major, then row-major over the ``shape`` pixels.

Fourier blocks (docs/theory-reference.md, Conventions): ``T_f = (Sigma_yx U^*)_f``
(``N_o x C_in``) and, for stationary input (``Sigma_xx`` block-circulant),
``Lambda_f = (U Sigma_xx U^*)_{ff}`` (``C_in x C_in``).  The dataset SVD
``Sigma_yx = sum_a s_a u_a v_a^T`` gives each mode's spectrum ``v_hat_a = U v_a`` and dominant
frequency ``f*_a = argmax_f |v_hat_a[f]|``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from math import prod

import numpy as np

from . import fourier
from .checks import (
    finite_array,
    flag,
    fraction,
    nonnegative,
    numeric_array,
    positive_int,
    real_number,
    size_tuple,
)
from .model import block_circulant, difference_index

STATIONARY_RTOL = 1e-10
COVARIANCE_RTOL = 1e-10
"""Tolerance of the covariance check on ``Sigma_xx``, relative to ``max |Sigma_xx|``: the
asymmetry ``max |Sigma_xx - Sigma_xx^T|`` and the most negative eigenvalue may not exceed it."""


@dataclass(frozen=True, eq=False)
class Statistics:
    """Second-order statistics of a dataset of ``c_in``-channel images of ``shape``.

    Parameters
    ----------
    shape : int or tuple of int
        Image size ``(N_1,)`` or ``(N_1, N_2)``.
    sxx : array, shape (D, D)
        ``Sigma_xx = <x x^T>``, ``D = c_in N``: real, symmetric and positive semidefinite to
        :data:`COVARIANCE_RTOL` ``= 1e-10`` relative to its largest entry ``max |Sigma_xx|``
        (``max |Sigma_xx - Sigma_xx^T| <= 1e-10 max |Sigma_xx|``, every eigenvalue
        ``>= -1e-10 max |Sigma_xx|``), else ``ValueError``; it is stored symmetrised.
    syx : array, shape (N_o, D)
        ``Sigma_yx = <y x^T>``.
    c_in : int
        Input channels.
    syy : float, optional
        ``<|y|^2>``, a finite number ``>= 0``; only shifts the loss.  Without it the loss is
        reported up to it.
    n_samples : int, optional
        ``P >= 1``, when the statistics come from samples.

    Arrays must be real and numeric: complex or non-numeric ones raise ``TypeError``.
    """

    shape: tuple[int, ...]
    sxx: np.ndarray
    syx: np.ndarray
    c_in: int = 1
    syy: float | None = None
    n_samples: int | None = None

    def __post_init__(self):
        shape = size_tuple("shape", self.shape)
        c_in = positive_int("c_in", self.c_in)
        n_in = c_in * prod(shape)
        sxx = finite_array("sxx", self.sxx, ndim=2)
        syx = finite_array("syx", self.syx, ndim=2)
        if sxx.shape != (n_in, n_in):
            raise ValueError(f"sxx must have shape (D, D) = ({n_in}, {n_in}) for c_in = {c_in} "
                             f"and shape = {shape}, got {sxx.shape}")
        if syx.shape[1] != n_in:
            raise ValueError(f"syx must have shape (N_o, D) with D = {n_in}, got {syx.shape}")
        sxx = _covariance(sxx)
        syy = None if self.syy is None else nonnegative("syy", self.syy)
        n_samples = None if self.n_samples is None else positive_int("n_samples",
                                                                     self.n_samples)
        for name, value in (("shape", shape), ("c_in", c_in), ("sxx", sxx), ("syx", syx),
                            ("syy", syy), ("n_samples", n_samples)):
            object.__setattr__(self, name, value)

    @classmethod
    def from_samples(cls, x, y, n_out: int | None = None) -> Statistics:
        """Statistics of samples ``x`` of shape ``(P, C_in, *shape)`` and labels ``y``.

        ``y`` is either class indices, shape ``(P,)``, encoded one-hot with ``n_out``
        classes (default ``max(y) + 1``), or target vectors, shape ``(P, N_o)``.
        """
        x = finite_array("x", x)
        if x.ndim not in (3, 4):
            raise ValueError("x must have shape (P, C_in, N_1) or (P, C_in, N_1, N_2), "
                             f"got {x.shape}")
        targets = targets_from_labels(y, len(x), n_out)
        flat = x.reshape(len(x), -1)
        with np.errstate(over="ignore", invalid="ignore"):
            sxx, syx = flat.T @ flat / len(x), targets.T @ flat / len(x)
            syy = float(np.sum(targets**2) / len(x))
        if not np.all(np.isfinite(sxx)):
            raise ValueError(f"x is too large: its average <x x^T> overflows float64 "
                             f"(max |x| = {np.max(np.abs(x)):.3g})")
        if not (np.all(np.isfinite(syx)) and np.isfinite(syy)):
            raise ValueError(f"y is too large: the average <y x^T> or <|y|^2> overflows float64 "
                             f"(max |y| = {np.max(np.abs(targets)):.3g}, max |x| = "
                             f"{np.max(np.abs(x)):.3g})")
        return cls(shape=x.shape[2:], c_in=x.shape[1], sxx=sxx, syx=syx, syy=syy,
                   n_samples=len(x))

    @classmethod
    def stationary(cls, shape, spectrum, syx, syy: float | None = None) -> Statistics:
        """Stationary statistics from the input spectrum ``Lambda_f``.

        ``spectrum`` has shape ``(C_in, C_in, *shape)``: Hermitian positive semidefinite per
        frequency, with ``Lambda_{-f} = conj(Lambda_f)``.  ``spectrum = 1`` per frequency
        (identity blocks) is white input.
        """
        shape = size_tuple("shape", shape)
        lam = numeric_array("spectrum", spectrum, complex_ok=True).astype(complex)
        if lam.ndim != 2 + len(shape) or lam.shape[0] != lam.shape[1] or lam.shape[2:] != shape:
            raise ValueError(f"spectrum must have shape (C_in, C_in, *{shape}), got {lam.shape}")
        if not np.all(np.isfinite(lam)):
            raise ValueError("spectrum contains NaN or inf")
        # Lambda_f = sum_s sigma[s] exp(2 pi i f.s / N), sigma[s] = Sigma_xx[n, n + s].
        sigma = fourier._real(np.fft.fftn(lam, axes=fourier._axes(len(shape))), "spectrum")
        blocks = fourier.to_flat(lam)
        if not np.allclose(blocks, np.conj(np.swapaxes(blocks, 1, 2)),
                           atol=1e-12 * np.abs(blocks).max()):
            raise ValueError("spectrum must be Hermitian per frequency (Lambda_f = Lambda_f^*)")
        lowest = np.linalg.eigvalsh(blocks).min()
        if lowest < -1e-10 * np.abs(blocks).max():
            raise ValueError(f"spectrum must be positive semidefinite per frequency (it is a "
                             f"covariance); its smallest eigenvalue is {lowest:.3g}")
        return cls(shape=shape, c_in=lam.shape[0], sxx=block_circulant(sigma / prod(shape)),
                   syx=syx, syy=syy)

    @property
    def n_out(self) -> int:
        return self.syx.shape[0]

    @property
    def n_in(self) -> int:
        return self.sxx.shape[0]

    @property
    def n_pixels(self) -> int:
        return prod(self.shape)

    def blocks(self) -> np.ndarray:
        """``Sigma_xx`` as ``(C_in, N, C_in, N)``."""
        return self.sxx.reshape(self.c_in, self.n_pixels, self.c_in, self.n_pixels)

    @cached_property
    def autocorrelation(self) -> np.ndarray:
        """``sigma[c, c', s] = (1/N) sum_n Sigma_xx[(c, n), (c', n + s)]``, ``(C_in, C_in,
        *shape)``: the block-circulant part of ``Sigma_xx`` (its stationary projection)."""
        n = self.n_pixels
        diff = difference_index(self.shape).ravel()
        blocks = self.blocks().transpose(0, 2, 1, 3).reshape(self.c_in, self.c_in, n * n)
        sigma = np.stack([np.stack([np.bincount(diff, weights=b, minlength=n) for b in row])
                          for row in blocks]) / n
        return sigma.reshape(self.c_in, self.c_in, *self.shape)

    @cached_property
    def stationarity(self) -> float:
        """Relative deviation ``|Sigma_xx - circ(sigma)|_F / |Sigma_xx|_F`` from stationarity."""
        scale = float(np.max(np.abs(self.sxx)))
        if scale == 0:
            return 0.0
        circ = block_circulant(self.autocorrelation)  # norms of the scaled matrices: no overflow
        return float(np.linalg.norm((self.sxx - circ) / scale) / np.linalg.norm(self.sxx / scale))

    def is_stationary(self, rtol: float = STATIONARY_RTOL) -> bool:
        """Whether ``Sigma_xx`` is block-circulant to relative Frobenius error ``rtol``
        (a number ``>= 0``, ``inf`` allowed)."""
        rtol = real_number("rtol", rtol)
        if not rtol >= 0:
            raise ValueError(f"rtol must be a number >= 0, got {rtol!r}")
        return self.stationarity <= rtol

    def _spectrum_of(self, sigma: np.ndarray) -> np.ndarray:
        return np.conj(np.fft.fftn(sigma, axes=fourier._axes(len(self.shape))))

    def input_spectrum(self, rtol: float = STATIONARY_RTOL) -> np.ndarray:
        """``Lambda_f``, shape ``(C_in, C_in, *shape)``; requires stationary input."""
        if not self.is_stationary(rtol):
            raise ValueError(
                "hypothesis 'stationary input' fails: Sigma_xx is not block-circulant "
                f"(relative deviation {self.stationarity:.3g} > rtol = {rtol:g}), so "
                "U Sigma_xx U^* is not block-diagonal in f")
        return self._spectrum_of(self.autocorrelation)

    def output_spectrum(self) -> np.ndarray:
        """``T_f = (Sigma_yx U^*)_f``, shape ``(N_o, C_in, *shape)``."""
        return fourier.row_spectrum(self.syx.reshape(self.n_out, self.c_in, *self.shape),
                                    len(self.shape))

    def optimal_map(self) -> np.ndarray:
        """``M* = Sigma_yx Sigma_xx^+``, the minimum-norm minimiser of the loss; a
        ``ValueError`` if it overflows float64 (``syx`` large against the smallest non-zero
        eigenvalue of ``sxx``)."""
        with np.errstate(over="ignore", invalid="ignore"):
            m = self.syx @ np.linalg.pinv(self.sxx, hermitian=True)
        if not np.all(np.isfinite(m)):
            raise ValueError("the optimal map Sigma_yx Sigma_xx^+ overflows float64: syx is too "
                             "large for the smallest non-zero eigenvalue of sxx")
        return m

    def modes(self, rtol: float = 1e-12) -> Modes:
        """The dataset SVD ``Sigma_yx = sum_a s_a u_a v_a^T``, modes with ``s_a > rtol s_1``
        (``0 <= rtol < 1``)."""
        rtol = fraction("rtol", rtol)
        u, s, vt = np.linalg.svd(self.syx, full_matrices=False)
        keep = s > rtol * s[0] if s[0] > 0 else np.zeros_like(s, dtype=bool)
        u, s, vt = u[:, keep], s[keep], vt[keep]
        sign = np.sign(u[np.argmax(np.abs(u), axis=0), np.arange(u.shape[1])])
        u, vt = u * sign, vt * sign[:, None]
        return Modes(self.shape, s, u, vt.reshape(len(s), self.c_in, *self.shape))


def _covariance(sxx: np.ndarray) -> np.ndarray:
    """``sxx`` symmetrised, after checking that it is symmetric and positive semidefinite to
    :data:`COVARIANCE_RTOL` relative to ``max |sxx|``."""
    scale = float(np.abs(sxx).max())
    tol = COVARIANCE_RTOL * scale
    asymmetry = float(np.abs(sxx - sxx.T).max())
    if asymmetry > tol:
        raise ValueError(f"sxx must be symmetric (it is <x x^T>): max |sxx - sxx^T| = "
                         f"{asymmetry:.3g} exceeds the tolerance {COVARIANCE_RTOL:g} max |sxx| "
                         f"= {tol:.3g}")
    sxx = (sxx + sxx.T) / 2
    if scale == 0:
        return sxx
    try:  # fast path: Cholesky of sxx + tol I succeeds iff no eigenvalue is below -tol
        np.linalg.cholesky(sxx + tol * np.eye(len(sxx)))
    except np.linalg.LinAlgError:
        lowest = float(np.linalg.eigvalsh(sxx)[0])  # rounding near -tol: eigenvalues decide
        if lowest < -tol:
            raise ValueError(
                f"sxx must be positive semidefinite (it is <x x^T>): its smallest eigenvalue "
                f"is {lowest:.3g}, below the tolerance -{COVARIANCE_RTOL:g} max |sxx| = "
                f"{-tol:.3g}") from None
    return sxx



@dataclass(frozen=True, eq=False)
class Modes:
    """Singular modes of ``Sigma_yx``: ``s`` (r,), ``u`` (N_o, r), ``v`` (r, C_in, *shape).

    Signs are fixed by making the largest entry of each ``u_a`` positive; with repeated
    singular values the basis of that subspace is whatever LAPACK returns.
    """

    shape: tuple[int, ...]
    s: np.ndarray
    u: np.ndarray
    v: np.ndarray

    @property
    def v_hat(self) -> np.ndarray:
        """``v_hat_a = U v_a``, shape ``(r, C_in, *shape)``."""
        return fourier.dft(self.v, len(self.shape))

    def frequency_weights(self) -> np.ndarray:
        """``|v_hat_a[f]|`` (norm over input channels), shape ``(r, *shape)``."""
        return np.linalg.norm(self.v_hat, axis=1)

    def dominant_frequencies(self) -> list[tuple[int, ...]]:
        """``f*_a``, each the canonical member of its conjugate pair (ties: first in order)."""
        weights = self.frequency_weights().reshape(len(self.s), prod(self.shape))
        # ties (equal up to rounding, 1e-9 relative) go to the first frequency in flat order
        return [fourier.canonical(np.unravel_index(np.argmax(w >= (1 - 1e-9) * w.max()),
                                                   self.shape), self.shape)
                for w in weights]

    def mismatch(self) -> np.ndarray:
        """``sqrt(N) |v_hat_a[f*_a]|`` in ``[1, sqrt(N)]``: the CNN's speed-up over the fully
        connected network in discovering mode ``a`` (docs/theory-reference.md, R3)."""
        weights = self.frequency_weights().reshape(len(self.s), prod(self.shape))
        return np.sqrt(weights.shape[1]) * weights.max(axis=1, initial=0.0)


def targets_from_labels(y, n_samples: int, n_out: int | None = None) -> np.ndarray:
    """Targets ``(P, N_o)`` from class indices ``(P,)`` (one-hot) or target vectors."""
    try:
        y = np.asarray(y)
    except ValueError:  # ragged nested sequences
        raise ValueError("y must be a rectangular array (class indices or target vectors)") \
            from None
    if y.ndim == 2:
        y = numeric_array("y", y)
    if n_out is not None:
        n_out = positive_int("n_out", n_out)
    if y.shape[:1] != (n_samples,):
        raise ValueError(f"y must have P = {n_samples} rows like x, got shape {y.shape}")
    if y.ndim == 2:
        if n_out is not None and y.shape[1] != n_out:
            raise ValueError(f"target vectors y have N_o = {y.shape[1]} columns, but "
                             f"n_out = {n_out}")
        return finite_array("y", y)
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise ValueError("y must be class indices (integer array of shape (P,)) or target "
                         f"vectors (shape (P, N_o)), got dtype {y.dtype} and shape {y.shape}")
    n_out = int(y.max()) + 1 if n_out is None else positive_int("n_out", n_out)
    if y.min() < 0 or y.max() >= n_out:
        raise ValueError(f"class indices y must lie in [0, n_out) = [0, {n_out}), got "
                         f"[{y.min()}, {y.max()}]")
    return np.eye(n_out)[y]


def zca_whiten(x, eps: float = 0.0, support: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """ZCA-whiten samples ``x`` (``(P, C_in, *shape)``) so that ``<x x^T> = I``.

    Returns the whitened samples and the transform ``Sigma_xx^(-1/2)`` (``D x D``), with
    ``Sigma_xx + eps I`` in place of ``Sigma_xx`` when ``eps > 0``.  With ``support`` (and
    ``eps = 0``), a singular ``Sigma_xx`` (e.g. pixels that are always 0) is whitened on its
    support: the transform is the pseudo-inverse square root (eigenvalues below ``1e-12``
    of the largest count as 0), refined once (the result whitened again on its support, for
    a nearly singular ``Sigma_xx``), and ``<x x^T>`` of the result is the orthogonal
    projector onto the support to rounding.
    """
    x = finite_array("x", x)
    eps = nonnegative("eps", eps)
    if flag("support", support) and eps > 0:
        raise ValueError(f"support=True whitens a singular Sigma_xx without a shift; got "
                         f"eps = {eps!r} (give one of them)")
    if x.ndim not in (3, 4):
        raise ValueError("x must have shape (P, C_in, N_1) or (P, C_in, N_1, N_2), "
                         f"got {x.shape}")
    flat = x.reshape(len(x), -1)
    d = flat.shape[1]
    # In units of max |x| (the result is scale invariant): neither Sigma_xx nor the transform
    # underflows or overflows for tiny or huge x.
    scale = float(np.max(np.abs(flat)))
    with np.errstate(over="ignore", divide="ignore"):
        shift = eps / scale / scale if scale > 0 else (np.inf if eps > 0 else 0.0)
    if np.isinf(shift):  # eps I dominates Sigma_xx beyond float64: the transform is eps^(-1/2)
        transform = np.eye(d) / np.sqrt(eps)
        return (flat @ transform).reshape(x.shape), transform
    unit = flat / scale if scale > 0 else flat
    lam, q = np.linalg.eigh(unit.T @ unit / len(x) + shift * np.eye(d))
    if support and lam[-1] > 0:
        kept = lam > 1e-12 * lam[-1]
        lam, q = lam[kept], q[:, kept]
    if lam[-1] <= 0 or lam[0] <= 1e-12 * lam[-1]:
        rank = int(np.sum(lam > 1e-12 * lam[-1])) if lam[-1] > 0 else 0
        raise ValueError(f"Sigma_xx is singular (rank {rank} < D = {len(lam)}); whitening "
                         "needs eps > 0, support=True (whiten on the support) or more "
                         "samples (P >= D)")
    unit_transform = (q / np.sqrt(lam)) @ q.T
    if support:  # refine: <x x^T> of the result is Pi up to eps / (smallest kept lam)
        white = unit @ unit_transform
        lam, q = np.linalg.eigh(white.T @ white / len(x))
        kept = lam > 0.5
        unit_transform = unit_transform @ (q[:, kept] / np.sqrt(lam[kept])) @ q[:, kept].T
    with np.errstate(over="ignore"):
        transform = unit_transform / scale
    if not np.all(np.isfinite(transform)):
        raise ValueError(f"x is too small: the transform Sigma_xx^(-1/2) overflows float64 "
                         f"(max |x| = {scale:.3g})")
    return (unit @ unit_transform).reshape(x.shape), transform


def grating(shape, frequency, phase: float = 0.0) -> np.ndarray:
    """Unit-norm sinusoidal grating ``cos(2 pi f.n / N + phase)``: a texture whose spectrum
    sits on the conjugate pair ``+-f``."""
    shape = size_tuple("shape", shape)
    freq = _point("frequency", frequency, len(shape))
    phase = real_number("phase", phase)
    if not np.isfinite(phase):
        raise ValueError(f"phase must be a finite number, got {phase!r}")
    if np.any(freq != np.round(freq)):
        raise ValueError(f"frequency must be integers (a DFT frequency index), got {frequency!r}")
    n = np.indices(shape)
    pattern = np.cos(2 * np.pi * np.tensordot(freq / np.array(shape), n, axes=1) + phase)
    return _unit("grating", pattern, floor=1e-10 * np.sqrt(pattern.size))


def blob(shape, center, width: float) -> np.ndarray:
    """Unit-norm periodic Gaussian bump ``exp(-|n - center|^2 / (2 width^2))``: a localized
    shape whose spectrum spreads over many frequencies."""
    shape = size_tuple("shape", shape)
    width = real_number("width", width)
    if not (np.isfinite(width) and width > 0):
        raise ValueError(f"width must be > 0 and finite, got {width!r}")
    center = _point("center", center, len(shape))
    dist2 = sum(np.minimum(np.abs(g - c) % n, n - np.abs(g - c) % n) ** 2
                for g, c, n in zip(np.indices(shape), center, shape, strict=True))
    with np.errstate(over="ignore"):  # far from a narrow bump: exp(-inf) = 0
        return _unit("blob", np.exp(-0.5 * (np.sqrt(dist2) / width) ** 2))


def _point(name: str, value, d: int) -> np.ndarray:
    point = numeric_array(name, value)
    point = point.reshape(1) if point.ndim == 0 and d == 1 else point
    if point.shape != (d,):
        raise ValueError(f"{name} must have {d} entries, got {value!r}")
    if not np.all(np.isfinite(point)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return point


def _unit(name: str, pattern: np.ndarray, floor: float = 0.0) -> np.ndarray:
    norm = np.linalg.norm(pattern)
    if norm <= floor:
        raise ValueError(f"{name} vanishes identically for these arguments")
    return pattern / norm


@dataclass(frozen=True, eq=False)
class Dataset:
    """Samples ``x`` ``(P, C_in, *shape)``, one-hot targets ``y`` ``(P, N_o)`` with class
    ``labels``, built from structural ``parts`` ``(J, C_in, *shape)`` mixed by ``classes``
    ``(N_o, J)``: class ``c``'s prototype is ``sum_j classes[c, j] parts[j]``."""

    x: np.ndarray
    y: np.ndarray
    labels: np.ndarray
    parts: np.ndarray
    classes: np.ndarray

    @property
    def shape(self) -> tuple[int, ...]:
        return self.x.shape[2:]

    def statistics(self) -> Statistics:
        return Statistics.from_samples(self.x, self.y)


def make_dataset(parts, classes, samples_per_class: int, noise: float = 0.0,
                 jitter: float = 0.0, seed: int = 0) -> Dataset:
    """Seeded dataset with known structure.

    Sample ``mu`` of class ``c`` is ``x = (1 + jitter xi) prototype_c + noise eta`` with
    ``xi`` a standard normal scalar and ``eta`` standard normal per pixel; ``y = e_c``.

    Parameters
    ----------
    parts : array, shape (J, C_in, *shape)
        Structural parts, e.g. :func:`grating` (texture) and :func:`blob` (shape).
    classes : array, shape (n_classes, J)
        Weights of each part in each class.
    """
    parts = finite_array("parts", parts)
    classes = finite_array("classes", classes, ndim=2)
    if parts.ndim not in (3, 4) or classes.shape[1] != len(parts):
        raise ValueError(f"parts must have shape (J, C_in, *shape) with J = classes.shape[1] "
                         f"= {classes.shape[1]}, got {parts.shape}")
    per_class = positive_int("samples_per_class", samples_per_class)
    noise, jitter = nonnegative("noise", noise), nonnegative("jitter", jitter)
    rng = np.random.default_rng(positive_int("seed", seed, minimum=0))
    n_classes = len(classes)
    labels = np.repeat(np.arange(n_classes), per_class)
    prototypes = np.tensordot(classes, parts, axes=1)
    scale = 1 + jitter * rng.standard_normal(len(labels))
    x = scale.reshape(-1, *[1] * (parts.ndim - 1)) * prototypes[labels]
    x = x + noise * rng.standard_normal(x.shape)
    return Dataset(x=x, y=np.eye(n_classes)[labels], labels=labels, parts=parts,
                   classes=classes)
