"""Predictions of the per-frequency theory for a (model, data) pair (docs/theory-reference.md,
R1-R3c).

For a linear CNN with full kernels and stationary input the gradient flow splits into one
system per frequency (R2). With a balanced, aligned initialisation of strength ``u0`` every
singular mode ``j`` of ``T_f = P_f S_f Q_f^*`` evolves on its own:
``M_f(t) = sum_j u_fj(t) p_fj q_fj^*`` with ``tau du/dt = 2 sqrt(N) u (s_fj - lambda_f u)``
(R3, R3b, R3c), and for the fully connected baseline each dataset mode follows Saxe's
``tau du/dt = 2 u (s_a - u)`` (R1). Gradient descent with step ``eta`` (``t = eta tau k``)
follows the exact discrete map ``u <- u (1 + eta c (s - lambda u))^2``, ``c = sqrt(N)``
(CNN) or 1 (fully connected), derived in :func:`symcnn.symbolic.closed_forms.gd`.

:class:`Theory` states which hypotheses hold; a prediction whose hypotheses fail raises a
``ValueError`` saying which. With ``approximate=True`` two of them may fail, and the
predictions are then approximations, listed in :attr:`Theory.approximations` and announced
by an :class:`ApproximationWarning`: a kernel smaller than the image (the coupling of
frequencies through the Dirichlet matrix ``D``, R4, is replaced by its diagonal ``k I``, so
the gain is ``sqrt(k)``), and non-stationary input (``Sigma_xx`` is replaced by its
block-circulant projection, whose spectrum gives ``lambda_f``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .. import fourier
from ..checks import flag, numeric_array, positive, positive_int, real_number
from ..data import Statistics
from ..model import FullyConnected, LinearCNN
from . import kernels

WHITE_RTOL = 1e-10
APPROXIMATIONS = {
    "full kernel": "kernel smaller than the image: the coupling of frequencies through D (R4) "
                   "is replaced by its diagonal k I, gain sqrt(k)",
    "stationary input": "non-stationary input: Sigma_xx is replaced by its block-circulant "
                        "projection (lambda_f from its spectrum)"}
"""The hypotheses ``approximate=True`` relaxes, and what the approximation neglects."""


class ApproximationWarning(UserWarning):
    """A prediction made with ``Theory(approximate=True)`` outside the theory's hypotheses."""


@dataclass(frozen=True)
class Hypothesis:
    """A hypothesis of the theory, whether it holds for this pair, and why."""

    name: str
    holds: bool
    detail: str


class Theory:
    """The per-frequency (CNN) or per-mode (fully connected) theory of ``model`` on ``stats``.

    Parameters
    ----------
    model : LinearCNN or FullyConnected
    stats : Statistics
    tau : float
        The time constant of ``tau dtheta/dt = -dL/dtheta``, finite and ``> 0``.
    rtol : float
        Singular values of ``T_f`` (or ``Sigma_yx``) below ``rtol`` times the largest are zero;
        ``0 < rtol < 1``.
    approximate : bool
        Predict also when the hypotheses of :data:`APPROXIMATIONS` fail, as labelled
        approximations (default: raise).  Must be a bool (``'no'`` or ``0`` raise
        ``TypeError``).
    """

    def __init__(self, model: LinearCNN | FullyConnected, stats: Statistics, tau: float = 1.0,
                 rtol: float = 1e-12, approximate: bool = False):
        if not isinstance(model, LinearCNN | FullyConnected):
            raise TypeError(f"model must be a LinearCNN or a FullyConnected, got "
                            f"{type(model).__name__}")
        if not isinstance(stats, Statistics):
            raise TypeError(f"stats must be a Statistics, got {type(stats).__name__}")
        if (model.n_in, model.n_out) != (stats.n_in, stats.n_out):
            raise ValueError(f"stats have D = {stats.n_in}, N_o = {stats.n_out}; the model "
                             f"needs D = {model.n_in}, N_o = {model.n_out}")
        if isinstance(model, LinearCNN) and (model.shape, model.c_in) != (stats.shape,
                                                                          stats.c_in):
            raise ValueError(f"stats have shape = {stats.shape}, c_in = {stats.c_in}; the model "
                             f"needs shape = {model.shape}, c_in = {model.c_in}")
        tau = positive("tau", tau)
        rtol = real_number("rtol", rtol)
        if not 0 < rtol < 1:
            raise ValueError(f"rtol must be a number with 0 < rtol < 1, got {rtol!r}")
        self.model, self.stats, self.tau, self.rtol = model, stats, tau, rtol
        self.cnn, self.approximate = isinstance(model, LinearCNN), flag("approximate",
                                                                          approximate)

    # -- hypotheses -------------------------------------------------------------------------
    @cached_property
    def hypotheses(self) -> dict[str, Hypothesis]:
        """Which of the theory's hypotheses hold for this pair."""
        stats, out = self.stats, {}
        white = np.allclose(stats.sxx, np.eye(stats.n_in), rtol=0, atol=WHITE_RTOL)
        out["white input"] = Hypothesis("white input", white,
                                        "Sigma_xx = I" if white else "Sigma_xx != I")
        if not self.cnn:
            return out
        model = self.model
        out["full kernel"] = Hypothesis("full kernel", model.full_kernel,
                                        f"kernel {model.kernel}, shape {model.shape}")
        out["stationary input"] = Hypothesis(
            "stationary input", stats.is_stationary(),
            f"relative deviation of Sigma_xx from block-circulant {stats.stationarity:.3g}")
        out["depth 1"] = Hypothesis("depth 1", model.depth == 1,
                                    f"{model.depth} convolution layer(s)")
        rank = int(np.max(np.sum(self._svd[1] > self._cutoff, axis=1)))
        out["enough channels"] = Hypothesis(
            "enough channels", rank <= model.channels,
            f"rank of T_f up to {rank}, C = {model.channels}")
        if model.c_in > 1:
            out["white input (C_in > 1)"] = Hypothesis(
                "white input (C_in > 1)", white, "R3c needs Lambda_f = I when C_in > 1")
        return out

    def require(self, result: str, *names: str) -> None:
        """Raise ``ValueError`` naming the first of ``names`` (all hypotheses if none given)
        that fails, and the ``result`` that needs it."""
        for name in names or self.hypotheses:
            h = self.hypotheses[name]
            if not h.holds:
                raise ValueError(f"hypothesis {h.name!r} fails ({h.detail}); {result} needs it")

    @property
    def approximations(self) -> list[str]:
        """What the predictions neglect: one entry per failed hypothesis that
        ``approximate=True`` relaxes (empty when the predictions are exact)."""
        if not (self.cnn and self.approximate):
            return []
        return [note for name, note in APPROXIMATIONS.items()
                if not self.hypotheses[name].holds]

    # -- spectra and strengths --------------------------------------------------------------
    @cached_property
    def _svd(self):
        """``(P, S, Q^*)`` of ``T_f`` per frequency (CNN) or of ``Sigma_yx`` (one 'frequency')."""
        if self.cnn:
            return fourier.hermitian_svd(self.stats.output_spectrum(), self.model.shape)
        u, s, vh = np.linalg.svd(self.stats.syx, full_matrices=False)
        return u[None], s[None], vh[None]

    @cached_property
    def _cutoff(self) -> float:
        return self.rtol * float(np.max(self._svd[1]))

    @property
    def strengths(self) -> np.ndarray:
        """``s_fj``, the singular values of ``T_f``, shape ``(F, r)`` (``(1, r)`` with the
        dataset's ``s_a`` for the fully connected network); zero below ``rtol``."""
        s = self._svd[1]
        return np.where(s > self._cutoff, s, 0.0)

    @cached_property
    def input_strengths(self) -> np.ndarray:
        """``lambda_f`` per frequency, shape ``(F, 1)``: ``Lambda_f`` (C_in = 1, stationary)
        or 1 (white input)."""
        if not self.cnn or self.hypotheses["white input"].holds:
            return np.ones((self.strengths.shape[0], 1))
        if not self.approximate:
            self.require("lambda_f", "stationary input")
        if self.model.c_in > 1:
            self.require("lambda_f for C_in > 1", "white input (C_in > 1)")
        return np.real(self.stats.input_spectrum(rtol=np.inf)).reshape(-1, 1)

    @property
    def gain(self) -> float:
        """``c`` in ``tau du/dt = 2 c u (s - lambda u)``: ``sqrt(k)`` for a CNN with kernel
        size ``k`` (``sqrt(N)`` for the full kernel of the exact theory), 1 fully connected."""
        return float(np.sqrt(np.prod(self.model.kernel))) if self.cnn else 1.0

    @property
    def rates(self) -> np.ndarray:
        """Growth rates ``2 c s_fj / tau`` of the small-weight phase, shape ``(F, r)``."""
        return 2 * self.gain * self.strengths / self.tau

    def _check_prediction(self, result: str) -> None:
        if not self.cnn:
            return self.require(result, "white input")
        needed = ["full kernel", "stationary input", "depth 1", "enough channels"] + (
            ["white input (C_in > 1)"] if self.model.c_in > 1 else [])
        relaxed = APPROXIMATIONS if self.approximate else ()
        self.require(result, *(name for name in needed if name not in relaxed))
        if self.approximations:
            warnings.warn(f"{result} is an approximation: {'; '.join(self.approximations)}",
                          ApproximationWarning, stacklevel=3)

    def _initial(self, u0) -> np.ndarray:
        """``u0`` as an ``(F, r)`` array of finite values > 0."""
        u0 = numeric_array("u0", u0)
        try:
            u0 = np.broadcast_to(u0, self.strengths.shape)
        except ValueError:
            raise ValueError(f"u0 must be a number or an array broadcastable to (F, r) = "
                             f"{self.strengths.shape}, got shape {u0.shape}") from None
        if not (np.all(np.isfinite(u0)) and np.all(u0 > 0)):
            raise ValueError(f"u0 must be a finite number > 0 (or an (F, r) array of them), "
                             f"got {u0!r}")
        return u0

    def effective_u0(self, params) -> np.ndarray:
        """The initial strengths ``u0_fj`` that small, unaligned weights act like, shape
        ``(F, r)``.  In the linear phase (``M ~ 0``) ``g = p^* beta + (kappa q)^* / c`` grows
        like ``exp(c s t / tau)`` while the rest does not grow, and then ``u = c |g|^2 / 4``;
        so ``u0 = c |g(0)|^2 / 4``.  An approximation for small weights, exact for balanced
        aligned ones."""
        self._check_prediction("the effective initial strength")
        p, _, qh = self._svd
        if self.cnn:
            *kernels, w_out = self.model.check_params(params)
            d = len(self.model.shape)
            beta = fourier.to_flat(fourier.row_spectrum(w_out, d))
            kappa = fourier.to_flat(fourier.kernel_spectrum(self.model, kernels[0]))
        else:
            w1, w2 = self.model.check_params(params)
            beta, kappa = w2[None], w1[None]
        b = np.einsum("fpj,fpc->fjc", np.conj(p), beta)
        k = np.conj(np.einsum("fcq,fjq->fjc", kappa, np.conj(qh)))
        g = b + k / self.gain
        return np.maximum(self.gain * np.sum(np.abs(g) ** 2, axis=-1) / 4, 1e-300)

    def mode_strengths_at(self, times, u0) -> np.ndarray:
        """``u_fj(t)`` from initial strengths ``u0`` (a number, or ``(F, r)`` per frequency
        and mode; a balanced, aligned start, see :meth:`effective_u0` otherwise), shape
        ``(T, F, r)`` (zero where ``s_fj`` is zero), from the closed form of R3b."""
        self._check_prediction("the closed-form trajectory")
        times, u0 = _times(times), self._initial(u0)
        s, lam = self.strengths, self.input_strengths
        u = kernels.kernel("r3b")(t=times[:, None, None], tau=self.tau, s=s[None],
                                  **{"lambda": lam[None], "u_0": u0[None], "N": self.gain ** 2})
        return np.where(s[None] > 0, u, 0.0)

    def spectra(self, times, u0: float) -> np.ndarray:
        """Predicted ``M_f(t)``, shape ``(T, N_o, C_in, *shape)`` (CNN) or the maps
        ``(T, N_o, D)`` (fully connected)."""
        u = self.mode_strengths_at(times, u0)
        p, _, qh = self._svd
        m = np.einsum("fpj,tfj,fjq->tfpq", p, u, qh)
        if not self.cnn:
            return np.real(m[:, 0])
        return np.moveaxis(m, 1, -1).reshape(len(u), *m.shape[2:], *self.model.shape)

    def maps(self, times, u0: float) -> np.ndarray:
        """Predicted end-to-end maps ``M(t)``, shape ``(T, N_o, D)``."""
        m = self.spectra(times, u0)
        if not self.cnn:
            return m
        pixels = fourier.inverse_row_spectrum(m, len(self.model.shape))
        return pixels.reshape(len(m), self.model.n_out, -1)

    def loss(self, times, u0: float) -> np.ndarray:
        """Predicted loss ``1/2 tr(M Sigma_xx M^T) - tr(M Sigma_yx^T) + <|y|^2>/2``."""
        m = self.maps(times, u0)
        quadratic = np.einsum("tod,de,toe->t", m, self.stats.sxx, m)
        return quadratic / 2 - np.einsum("tod,od->t", m, self.stats.syx) + (
            self.stats.syy or 0.0) / 2

    # -- the dataset's modes ----------------------------------------------------------------
    @cached_property
    def modes(self):
        """The dataset SVD ``Sigma_yx = sum_a s_a u_a v_a^T`` (:class:`~symcnn.data.Modes`)."""
        return self.stats.modes(self.rtol)

    def dataset_mode_strengths(self, times, u0: float) -> np.ndarray:
        """Predicted ``u_a(t) = u_a^T M(t) v_a`` for the dataset's modes, shape ``(T, r)``."""
        v = self.modes.v.reshape(len(self.modes.s), -1)
        return np.einsum("oa,tod,ad->ta", self.modes.u, self.maps(times, u0), v)

    def half_times(self, u0, iterations: int = 80) -> np.ndarray:
        """For each dataset mode, the time its predicted strength ``u_a(t)`` reaches half its
        limit ``u_a(inf)`` (bisection on the closed-form trajectory, to ``2^-iterations``
        of the bracket, ``iterations`` an integer >= 1)."""
        iterations = positive_int("iterations", iterations)
        self._check_prediction("the half-way times")
        live = self.strengths > 0
        s, u0_live = self.strengths[live], self._initial(u0)[live]
        lam = np.broadcast_to(self.input_strengths, self.strengths.shape)[live]
        slowest = np.max(np.log(np.maximum(s / (lam * u0_live), 2.0)) / s)
        t_end = 4 * self.tau * slowest / (2 * self.gain) + self.tau / (self.gain * s.min())
        with warnings.catch_warnings():  # announced once, above
            warnings.simplefilter("ignore", ApproximationWarning)
            final = self.dataset_mode_strengths([t_end * 64], u0)[0]
            low, high = np.zeros_like(final), np.full_like(final, t_end * 64)
            for _ in range(iterations):
                middle = (low + high) / 2
                strength = np.diagonal(self.dataset_mode_strengths(middle, u0))
                above = strength * np.sign(final) >= np.abs(final) / 2
                low, high = np.where(above, low, middle), np.where(above, middle, high)
        return high

    def learning_order(self, u0) -> list[int]:
        """Dataset modes (1-based) in the order of their predicted half-way times."""
        return [int(a) + 1 for a in np.argsort(self.half_times(u0), kind="stable")]

    def dominant_frequency_half_times(self, u0: float) -> np.ndarray:
        """An approximation, labelled as such: mode ``a`` learned at the speed of its dominant
        frequency alone, ``t_a = tau ln(s/u0 - 1) / (2 c s)`` with
        ``s = s_a |v_hat_a[f*_a]|`` (R3; white input, ``C_in = 1``, modes on disjoint
        frequencies assumed, not checked)."""
        self._check_prediction("the dominant-frequency approximation")
        u0 = positive("u0", u0)
        s = self.modes.s * (self.modes.mismatch() / self.gain if self.cnn else 1.0)
        if np.any(s <= u0):
            raise ValueError(f"u0 = {u0!r} must be below every mode's strength s = s_a "
                             f"|v_hat_a[f*_a]| (smallest {s.min():.3g}): ln(s/u0 - 1) is "
                             "undefined otherwise")
        return self.tau * np.log(s / u0 - 1) / (2 * self.gain * s)

    def baseline(self, hidden: int | None = None) -> Theory:
        """The theory of the fully connected baseline ``W_2 W_1`` on the same data (hidden
        width ``C`` unless given)."""
        if hidden is None:
            width = self.model.channels if self.cnn else self.model.hidden
        else:
            width = positive_int("hidden", hidden)
        return Theory(FullyConnected(self.model.n_in, width, self.model.n_out), self.stats,
                      self.tau, self.rtol)

    # -- gradient descent -------------------------------------------------------------------
    def gd_mode_strengths(self, steps: int, lr: float, u0: float) -> np.ndarray:
        """``u_fj`` after ``0 .. steps`` steps of gradient descent with step ``lr`` (at
        ``t = lr tau k``), by the exact map of :func:`symcnn.symbolic.closed_forms.gd`;
        shape ``(steps + 1, F, r)``."""
        steps = positive_int("steps", steps, minimum=0)
        self._check_prediction("the gradient-descent map")
        lr, u0 = positive("lr", lr), positive("u0", u0)
        s, lam = self.strengths, self.input_strengths
        step = kernels.kernel("gd", "update")
        u = np.where(s > 0, u0, 0.0)
        out = [u]
        with np.errstate(over="raise", invalid="raise"):
            for _ in range(steps):
                u = step(u=u, eta=lr, s=s, c=self.gain, **{"lambda": lam})
                out.append(u)
        return np.array(out)

    @property
    def max_stable_lr(self) -> float:
        """The step below which every fixed point ``u = s/lambda`` of the gradient-descent map
        is stable: ``|1 - 2 eta c s| < 1`` for every ``s_fj``, i.e. ``eta < 1/(c max s)``."""
        return float(1 / (self.gain * np.max(self.strengths)))


def _times(times) -> np.ndarray:
    t = np.atleast_1d(numeric_array("times", times))
    if t.ndim != 1 or not np.all(np.isfinite(t)) or np.any(t < 0):
        raise ValueError(f"times must be a 1-D array of finite values >= 0, got {times!r}")
    return t
