"""Predictions of the per-frequency theory for a (model, data) pair (docs/theory-reference.md,
R1-R3c, R5).  Array axes follow one layout (docs/theory.md): ``T`` times, ``K`` steps,
``F`` flat frequencies (:func:`symcnn.fourier.to_flat`), ``r`` singular modes (descending),
``a`` dataset modes.

For a linear CNN with full kernels and stationary input the gradient flow splits into one
system per frequency (R2). With a balanced, aligned initialisation of strength ``u0`` every
singular mode ``j`` of ``T_f = P_f S_f Q_f^*`` evolves on its own:
``M_f(t) = sum_j u_fj(t) p_fj q_fj^*`` with ``tau du/dt = 2 sqrt(N) u (s_fj - lambda_f u)``
(R3, R3b, R3c), and for the fully connected baseline each dataset mode follows Saxe's
``tau du/dt = 2 u (s_a - u)`` (R1). Gradient descent with step ``eta`` (``t = eta tau k``)
follows the exact discrete map ``u <- u (1 + eta c (s - lambda u))^2``, ``c = sqrt(N)``
(CNN) or 1 (fully connected), derived in :func:`symcnn.symbolic.closed_forms.gd`.  With
``depth > 1`` (``L = depth + 1``, ``C_in = N_o = 1``) each frequency follows R5,
``tau du/dt = L N^((L-1)/L) u^(2-2/L) (s - lambda u)``, whose implicit ``t(u)`` is inverted
numerically.

:class:`Theory` states which hypotheses hold; a prediction whose hypotheses fail raises a
``ValueError`` saying which. With ``approximate=True`` two of them may fail, and the
predictions are then approximations, listed in :attr:`Theory.approximations` and announced
by an :class:`ApproximationWarning`: a kernel smaller than the image (the coupling of
frequencies through the Dirichlet matrix ``D``, R4, is replaced by its diagonal ``k I``, so
the gain is ``sqrt(k)``), and non-stationary input (``Sigma_xx`` is replaced by its
block-circulant projection, whose spectrum gives ``lambda_f``).

A frequency's singular mode with ``s_fj = 0`` (below ``rtol``) is never learned: its
strength is 0 at every time and step.  It is no dataset mode either, so the per-mode results
(:meth:`Theory.half_times`, :meth:`Theory.learning_order`,
:meth:`Theory.dominant_frequency_half_times`, :meth:`Theory.dataset_mode_strengths`) have
one entry per mode with ``s_a > 0``: none when ``Sigma_yx = 0``, for which
:attr:`Theory.max_stable_lr` is ``inf`` (no fixed point ``u = s/lambda > 0`` bounds the step).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .. import fourier
from ..checks import flag, instance, numeric_array, positive, positive_int, real_number
from ..data import COVARIANCE_RTOL, Statistics
from ..model import FullyConnected, LinearCNN
from . import kernels

WHITE_RTOL = 1e-10
BISECTION_STEPS = 64
DOUBLINGS = 64
"""How often :meth:`Theory.half_times` doubles its bracket beyond the slowest frequency's
half-way time before it gives up (a mode that never reaches half its limit)."""
"""Bisection steps inverting R5's implicit ``t(u)`` (depth > 1) on ``ln u`` over
``(ln u0, ln(s/lambda))``: ``u`` to relative ``2^-64 ln(s/(lambda u0))`` (below ``1e-16`` for
any float64 ``u0``), plus the rounding of ``t(u)``."""
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
        instance("model", model, (LinearCNN, FullyConnected))
        instance("stats", stats, Statistics)
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

    def _repr_markdown_(self) -> str:
        """In Jupyter: the pair, and a table of the hypotheses (whether each holds, and why)
        with the approximations made."""
        kind = "linear CNN" if self.cnn else "fully connected network"
        lines = [f"**Theory** of a {kind} on data of shape {self.stats.shape} "
                 f"(`C_in` = {self.stats.c_in}, `N_o` = {self.stats.n_out}), "
                 f"tau = {self.tau:g}",
                 "", "| hypothesis | holds | detail |", "| --- | --- | --- |"]
        lines += [f"| {h.name} | {'yes' if h.holds else '**no**'} | "
                  + h.detail.replace("|", "\\|") + " |" for h in self.hypotheses.values()]
        lines += [f"\nApproximation: {note}" for note in self.approximations]
        return "\n".join(lines)

    # -- hypotheses -------------------------------------------------------------------------
    @cached_property
    def hypotheses(self) -> dict[str, Hypothesis]:
        """Which of the theory's hypotheses hold for this pair."""
        stats, out = self.stats, {}
        white = np.allclose(stats.sxx, np.eye(stats.n_in), rtol=0, atol=WHITE_RTOL)
        out["white input"] = Hypothesis("white input", white,
                                        "Sigma_xx = I" if white else "Sigma_xx != I")
        support = self._white_on_support()
        model = self.model
        rank = int(np.max(np.sum(self._svd[1] > self._cutoff, axis=1)))
        if not self.cnn:
            out["enough hidden units"] = Hypothesis(
                "enough hidden units", rank <= model.hidden,
                f"rank of Sigma_yx {rank}, hidden = {model.hidden} (R1's aligned start)")
            return {**out, support.name: support}
        out["full kernel"] = Hypothesis("full kernel", model.full_kernel,
                                        f"kernel {model.kernel}, shape {model.shape}")
        out["stationary input"] = Hypothesis(
            "stationary input", stats.is_stationary(),
            f"relative deviation of Sigma_xx from block-circulant {stats.stationarity:.3g}")
        out["depth 1"] = Hypothesis("depth 1", model.depth == 1,
                                    f"{model.depth} convolution layer(s)")
        out["scalar blocks (depth > 1)"] = Hypothesis(
            "scalar blocks (depth > 1)", model.depth == 1 or model.c_in == model.n_out == 1,
            f"C_in = {model.c_in}, N_o = {model.n_out}, depth {model.depth}: R5 is derived "
            "for C_in = N_o = 1")
        out["enough channels"] = Hypothesis(
            "enough channels", rank <= model.channels,
            f"rank of T_f up to {rank}, C = {model.channels}")
        if model.c_in > 1:
            out["white input (C_in > 1)"] = Hypothesis(
                "white input (C_in > 1)", support.holds,
                "R3c needs Lambda_f = I (or white on its support) when C_in > 1")
        else:
            out["input power"] = self._input_power()
        return {**out, support.name: support}

    @cached_property
    def _projector(self) -> bool:
        """Whether ``Sigma_xx`` is an orthogonal projector ``Pi = Pi^T = Pi^2`` (entries within
        :data:`WHITE_RTOL`)."""
        sxx = self.stats.sxx
        return bool(np.allclose(sxx, sxx.T, rtol=0, atol=WHITE_RTOL)
                    and np.allclose(sxx @ sxx, sxx, rtol=0, atol=WHITE_RTOL))

    def _white_on_support(self) -> Hypothesis:
        """Whether ``Sigma_xx = Pi`` is an orthogonal projector and ``Sigma_yx Pi = Sigma_yx``
        (to :data:`WHITE_RTOL` of ``|Sigma_yx|``, Frobenius; real data obey the second:
        ``(I - Pi) x = 0`` almost surely).  Then every mode of ``Sigma_yx`` lies in the support
        of ``Pi``, where the input is white, and the flow there is that of white input."""
        stats, name = self.stats, "white on its support"
        if not self._projector:
            return Hypothesis(name, False, "Sigma_xx is no orthogonal projector")
        rank = int(round(np.trace(stats.sxx)))
        leak = float(np.linalg.norm(stats.syx - stats.syx @ stats.sxx))
        holds = leak <= WHITE_RTOL * np.linalg.norm(stats.syx)
        return Hypothesis(name, bool(holds), (
            f"Sigma_xx = Pi, an orthogonal projector of rank {rank}, and |Sigma_yx (I - Pi)| = "
            f"{leak:.3g}" + ("" if holds else " != 0: a target outside the input's support")))

    def _white(self) -> str:
        """The whiteness hypothesis a white-input result needs: ``"white on its support"``
        when ``Sigma_xx`` is a projector (``I`` included), else ``"white input"``."""
        return "white on its support" if self._projector else "white input"

    def _input_power(self) -> Hypothesis:
        """Whether ``lambda_f > 0`` wherever ``s_f > 0`` (``C_in = 1``), ``lambda_f`` at most
        :data:`~symcnn.data.COVARIANCE_RTOL` of the largest counting as 0.  Real data obey it:
        ``|T_f|^2 <= <|y|^2> lambda_f`` (Cauchy-Schwarz)."""
        lam = self._power.ravel()
        dead = (lam <= COVARIANCE_RTOL * np.abs(lam).max()) & (self.strengths[:, 0] > 0)
        if not dead.any():
            return Hypothesis("input power", True, "Lambda_f > 0 wherever T_f != 0")
        f = int(np.argmax(dead))
        where = tuple(int(i) for i in np.unravel_index(f, self.model.shape))
        return Hypothesis("input power", False, (
            f"Lambda_f = {lam[f]:.3g} at f = {where}, where "
            f"|T_f| = {self.strengths[f, 0]:.3g}: no data have T_f != 0 at a frequency without "
            "input power, |T_f|^2 <= <|y|^2> Lambda_f"))

    def require(self, result: str, *names: str) -> None:
        """Raise ``ValueError`` naming the first of ``names`` (all hypotheses if none given)
        that fails, and the ``result`` that needs it; an unknown name is a ``ValueError``
        listing :attr:`hypotheses`."""
        unknown = [name for name in names if name not in self.hypotheses]
        if unknown:
            raise ValueError(f"unknown hypothesis {unknown[0]!r}; this theory's: "
                             f"{', '.join(self.hypotheses)}")
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
    def svd(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(P, S, Q^*)`` with ``T_f = P_f diag(S_f) Q_f^*`` per frequency: ``P`` ``(F, N_o, r)``,
        ``S`` = :attr:`strengths` ``(F, r)``, ``Q^*`` ``(F, r, C_in)``; ``P_{-f} = conj(P_f)``
        (:func:`symcnn.fourier.hermitian_svd`).  Fully connected: the SVD of ``Sigma_yx``,
        ``(1, N_o, r)``, ``(1, r)``, ``(1, r, D)``.  Copies."""
        p, _, qh = self._svd
        return p.copy(), self.strengths, qh.copy()

    @property
    def strengths(self) -> np.ndarray:
        """``s_fj``, the singular values of ``T_f``, shape ``(F, r)`` (``(1, r)`` with the
        dataset's ``s_a`` for the fully connected network); zero below ``rtol``."""
        s = self._svd[1]
        return np.where(s > self._cutoff, s, 0.0)

    @cached_property
    def input_strengths(self) -> np.ndarray:
        """``lambda_f`` per frequency, shape ``(F, 1)``: ``Lambda_f`` (C_in = 1, stationary;
        in ``{0, 1}`` when white on its support) or 1 (white input, and ``C_in > 1`` or the
        fully connected network white on its support: every mode ``q_fj`` with ``s_fj > 0``
        lies in the support, ``q^* Lambda_f q = 1``)."""
        ones = np.ones((self.strengths.shape[0], 1))
        if not self.cnn or self.hypotheses["white input"].holds:
            return ones
        if not self.approximate:
            self.require("lambda_f", "stationary input")
        if self.model.c_in > 1:
            self.require("lambda_f for C_in > 1", "white input (C_in > 1)")
            return ones
        return self._power

    @cached_property
    def _power(self) -> np.ndarray:
        """``lambda_f`` of the block-circulant projection of ``Sigma_xx``, shape ``(F, 1)``
        (``C_in = 1``; ``Lambda_f`` itself for stationary input)."""
        return np.real(self.stats.input_spectrum(rtol=np.inf)).reshape(-1, 1)

    @property
    def gain(self) -> float:
        """``c`` in ``tau du/dt = 2 c u (s - lambda u)``: ``sqrt(k)`` for a CNN with kernel
        size ``k`` (``sqrt(N)`` for the full kernel of the exact theory), 1 fully connected."""
        return float(np.sqrt(np.prod(self.model.kernel))) if self.cnn else 1.0

    @property
    def rates(self) -> np.ndarray:
        """Growth rates ``2 c s_fj / tau`` of the small-weight phase, shape ``(F, r)`` (under
        the hypotheses of the closed forms, like every prediction)."""
        self._check_prediction("the growth rates")
        return 2 * self.gain * self.strengths / self.tau

    def _check_prediction(self, result: str, deep: bool = False) -> None:
        """Require the hypotheses of ``result``; ``deep``: derived for any depth (R5), so
        ``"scalar blocks (depth > 1)"`` replaces ``"depth 1"``."""
        if not self.cnn:
            return self.require(result, self._white(), "enough hidden units")
        depth = "scalar blocks (depth > 1)" if deep else "depth 1"
        needed = ["full kernel", "stationary input", depth, "enough channels"] + (
            ["white input (C_in > 1)"] if self.model.c_in > 1 else ["input power"])
        relaxed = APPROXIMATIONS if self.approximate else ()
        self.require(result, *(name for name in needed if name not in relaxed))
        if self.approximations:
            warnings.warn(f"{result} is an approximation: {'; '.join(self.approximations)}",
                          ApproximationWarning, stacklevel=3)

    def _initial(self, u0) -> np.ndarray:
        """``u0`` as an ``(F, r)`` array of finite values > 0 with ``s_fj / (lambda_f u0)``
        finite (the closed forms divide by it)."""
        u0 = _real_array("u0", u0)
        try:
            u0 = np.broadcast_to(u0, self.strengths.shape)
        except ValueError:
            raise ValueError(f"u0 must be a number or an array broadcastable to (F, r) = "
                             f"{self.strengths.shape}, got shape {u0.shape}") from None
        if not (np.all(np.isfinite(u0)) and np.all(u0 > 0)):
            raise ValueError(f"u0 must be a finite number > 0 (or an (F, r) array of them), "
                             f"got {u0!r}")
        live = self.strengths > 0
        with np.errstate(over="ignore", divide="ignore"):
            ratio = self.strengths[live] / (np.broadcast_to(self.input_strengths,
                                                           live.shape)[live] * u0[live])
        if not np.all(np.isfinite(ratio)):
            raise ValueError(f"u0 = {np.min(u0[live]):.3g} is too small: s_fj / (lambda_f u0) "
                             f"overflows float64 (largest s_fj {np.max(self.strengths):.3g}); "
                             "take u0 >= 1e-300 s_fj")
        return u0

    def effective_u0(self, params) -> np.ndarray:
        """The initial strengths ``u0_fj`` that small, unaligned weights act like, shape
        ``(F, r)``.

        In the linear phase (``M ~ 0``) the channel vector ``g_fj = p_fj^* beta_f +
        (alpha_f q_fj)^* / c`` (``C`` channels, or ``H`` hidden units) of every mode grows like
        ``exp(c s_fj t / tau)`` while the rest does not grow, and then ``u = c |g|^2 / 4``.
        The modes of one frequency share the channels: once mode ``i`` is learned along
        ``g_fi``, the part of a weaker mode's ``g_fj`` along it grows at
        ``c (s_fj - s_fi) < 0`` and dies out, and only the rest is learned.  So
        ``u0_fj = c |R_jj|^2 / 4`` with ``[g_f1, ..., g_fr] = Q R`` (Gram-Schmidt in the
        order of ``s_fj``, descending): the part of ``g_fj`` orthogonal to the stronger
        modes' (``c |g_fj|^2 / 4`` when they are orthogonal, as for balanced aligned weights,
        where it is exact).  An approximation for small weights: half-way times within 3.9%
        of training at widths ``r`` to ``8 r`` (docs/theory.md, "Small random starts: the
        width error"; ``c |g_fj|^2 / 4`` was up to 36% early at ``w = r``); at least
        ``1e-300`` (a mode the weights miss, or weights below about ``1e-150``, starts at
        ``1e-300``).  Weights so large that ``|g|^2`` overflows are no small start:
        ``ValueError``."""
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
        with np.errstate(over="ignore"):
            if not np.all(np.isfinite(np.sum(np.abs(g) ** 2, axis=-1))):
                raise ValueError(f"params are no small start: |g|^2 overflows float64 "
                                 f"(largest weight {max(np.abs(w).max() for w in params):.3g})")
        r = np.linalg.qr(np.swapaxes(g, 1, 2), mode="r")
        u0 = np.zeros(g.shape[:2])
        u0[:, :r.shape[1]] = self.gain * np.abs(np.diagonal(r, axis1=1, axis2=2)) ** 2 / 4
        return np.maximum(u0, 1e-300)

    @property
    def _closed_form(self) -> tuple[str, dict]:
        """Registry name and options of the per-mode closed form: R3b with ``N = c^2``
        (depth 1; R1 for the fully connected network, ``c = 1``), or R5 with the depth."""
        depth = self.model.depth if self.cnn else 1
        return ("r3b", {}) if depth == 1 else ("r5", {"depth": int(depth)})

    def mode_strengths_at(self, times, u0) -> np.ndarray:
        """``u_fj(t)``, shape ``(T, F, r)`` (zero where ``s_fj`` is zero), from initial
        strengths ``u0`` (a number, or ``(F, r)``): the closed form of R3b (depth 1), or R5's
        implicit ``t(u)`` inverted by bisection (depth > 1, to :data:`BISECTION_STEPS`;
        derived on the growing branch, so ``u0 <= s_fj/lambda_f``).  ``u0`` is the strength
        ``|M_f(0)|`` of a balanced, aligned start (:func:`symcnn.simulate.init_balanced` of
        :func:`symcnn.simulate.aligned_spectrum`, at any depth); see :meth:`effective_u0`
        for a small unaligned one (depth 1)."""
        self._check_prediction("the closed-form trajectory", deep=True)
        return self._strengths_at(_times(times), self._initial(u0))

    def _strengths_at(self, times: np.ndarray, u0: np.ndarray) -> np.ndarray:
        """:meth:`mode_strengths_at` of checked ``times`` and ``(F, r)`` ``u0``."""
        s, lam = self.strengths, self.input_strengths
        if self._closed_form[0] == "r5":
            u = self._inverted(times, u0)
        else:
            u = kernels.kernel("r3b")(t=times[:, None, None], tau=self.tau, s=s[None],
                                      **{"lambda": lam[None], "u_0": u0[None],
                                         "N": self.gain ** 2})
        return np.where(s[None] > 0, u, 0.0)

    def _inverted(self, times: np.ndarray, u0: np.ndarray) -> np.ndarray:
        """``u_fj(t)``, shape ``(T, F, r)``, for depth > 1: the ``u`` with ``t(u) = t``, R5's
        implicit solution (increasing in ``u`` on ``(u0, s/lambda)``), by bisection on
        ``ln u``; modes with ``s_fj = 0`` stay at ``u0`` (masked by the caller)."""
        live = self.strengths > 0
        s = np.where(live, self.strengths, 1.0)
        lam = np.where(live, self.input_strengths, 1.0)
        u_inf = np.where(live, s / lam, u0)
        above = u0 > u_inf
        if np.any(above):
            f, j = (int(i[0]) for i in np.nonzero(above))
            raise ValueError(
                f"u0 = {u0[f, j]!r} is above the limit s/lambda = {u_inf[f, j]:.6g} of mode "
                f"(f, j) = ({f}, {j}); R5's t(u) (depth {self.model.depth}) is derived on the "
                "growing branch: u0 must be at most s_fj/lambda_f")
        time_of_u = kernels.kernel("r5", "time_of_u", **self._closed_form[1])
        args = {"tau": self.tau, "s": s, "lambda": lam, "u_0": u0, "N": self.gain ** 2}
        shape = (len(times), *s.shape)
        low, high = np.broadcast_to(np.log(u0), shape), np.broadcast_to(np.log(u_inf), shape)
        # t(u_inf) = inf; exp(ln u_inf) may round above u_inf, where t(u) is NaN (the
        # logarithm of 1 - z < 0): both compare as "not before", as they should
        with np.errstate(divide="ignore", invalid="ignore"):
            for _ in range(BISECTION_STEPS):
                middle = (low + high) / 2
                before = time_of_u(u=np.exp(middle), **args) < times[:, None, None]
                low, high = np.where(before, middle, low), np.where(before, high, middle)
        return np.exp((low + high) / 2)

    def frequency_half_times(self, u0) -> np.ndarray:
        """``t_fj``, the time at which ``u_fj`` reaches half its limit ``s_fj/lambda_f``,
        shape ``(F, r)``, from the closed form's half-way time (R3b; R5 for depth > 1), not
        by integration: 0 where ``u0 >= s_fj/(2 lambda_f)`` (it starts there, as
        :meth:`half_times`), ``inf`` where ``s_fj = 0`` (never learned)."""
        self._check_prediction("the per-frequency half-way times", deep=True)
        return self._frequency_half_times(self._initial(u0))

    def _frequency_half_times(self, u0: np.ndarray) -> np.ndarray:
        live = self.strengths > 0
        lam = np.where(live, self.input_strengths, 1.0)
        below = live & (u0 < self.strengths / lam / 2)
        name, options = self._closed_form
        half = kernels.kernel(name, "half_time", **options)(
            tau=self.tau, s=np.where(below, self.strengths, 1.0),
            **{"lambda": np.where(below, lam, 1.0), "u_0": np.where(below, u0, 0.25),
               "N": self.gain ** 2})
        return np.where(below, half, np.where(live, 0.0, np.inf))

    def spectra(self, times, u0: float) -> np.ndarray:
        """Predicted ``M_f(t)``, shape ``(T, N_o, C_in, *shape)`` (CNN) or the maps
        ``(T, N_o, D)`` (fully connected); any depth (:meth:`mode_strengths_at`)."""
        return self._spectra_of(self.mode_strengths_at(times, u0))

    def _spectra_of(self, u: np.ndarray) -> np.ndarray:
        """:meth:`spectra` from the strengths ``u_fj``, shape ``(T, F, r)``."""
        p, _, qh = self._svd
        m = np.einsum("fpj,tfj,fjq->tfpq", p, u, qh)
        if not self.cnn:
            return np.real(m[:, 0])
        return np.moveaxis(m, 1, -1).reshape(len(u), *m.shape[2:], *self.model.shape)

    def maps(self, times, u0: float) -> np.ndarray:
        """Predicted end-to-end maps ``M(t)``, shape ``(T, N_o, D)``; any depth."""
        return self._maps_of(self.mode_strengths_at(times, u0))

    def _maps_of(self, u: np.ndarray) -> np.ndarray:
        """:meth:`maps` from the strengths ``u_fj``, shape ``(T, F, r)``."""
        m = self._spectra_of(u)
        if not self.cnn:
            return m
        pixels = fourier.inverse_row_spectrum(m, len(self.model.shape))
        return pixels.reshape(len(m), self.model.n_out, self.model.n_in)

    def loss(self, times, u0: float) -> np.ndarray:
        """Predicted loss ``1/2 tr(M Sigma_xx M^T) - tr(M Sigma_yx^T) + <|y|^2>/2``, shape
        ``(T,)``; a
        ``ValueError`` if it overflows float64 (maps or data too large)."""
        m = self.maps(times, u0)
        with np.errstate(over="ignore", invalid="ignore"):
            quadratic = np.einsum("tod,de,toe->t", m, self.stats.sxx, m)
            value = quadratic / 2 - np.einsum("tod,od->t", m, self.stats.syx) + (
                self.stats.syy or 0.0) / 2
        if not np.all(np.isfinite(value)):
            raise ValueError(f"the predicted loss overflows float64: the maps reach max |M| = "
                             f"{np.abs(m).max():.3g} and max |Sigma_xx| = "
                             f"{np.abs(self.stats.sxx).max():.3g}; take a smaller u0 or "
                             "rescale the data")
        return value

    # -- the dataset's modes ----------------------------------------------------------------
    @cached_property
    def modes(self):
        """The dataset SVD ``Sigma_yx = sum_a s_a u_a v_a^T`` (:class:`~symcnn.data.Modes`)."""
        return self.stats.modes(self.rtol)

    def dataset_mode_strengths(self, times, u0: float) -> np.ndarray:
        """Predicted ``u_a(t) = u_a^T M(t) v_a`` for the dataset's modes, shape ``(T, a)``
        (``a = 0`` when ``Sigma_yx = 0``)."""
        return self._dataset_of(self.mode_strengths_at(times, u0))

    def _dataset_of(self, u: np.ndarray) -> np.ndarray:
        """:meth:`dataset_mode_strengths` from the strengths ``u_fj``, shape ``(T, F, r)``."""
        v = self.modes.v.reshape(len(self.modes.s), self.model.n_in)
        return np.einsum("oa,tod,ad->ta", self.modes.u, self._maps_of(u), v)

    def half_times(self, u0, iterations: int = 80) -> np.ndarray:
        """For each dataset mode, the first time its predicted strength ``u_a(t)`` reaches half
        its limit ``u_a(inf)`` (that of the strengths ``s_fj / lambda_f``), by bisection on
        the closed-form trajectory to ``2^-iterations`` of the bracket (``iterations`` an
        integer >= 1): 0 for a mode that starts there (as
        :meth:`symcnn.simulate.Trajectory.half_way_times`); shape ``(a,)``, empty when
        ``Sigma_yx = 0``."""
        iterations = positive_int("iterations", iterations)
        self._check_prediction("the half-way times", deep=True)
        u0 = self._initial(u0)
        if len(self.modes.s) == 0:
            return np.zeros(0)
        live = self.strengths > 0
        s, lam = self.strengths, np.broadcast_to(self.input_strengths, self.strengths.shape)
        final = self._dataset_of(np.where(live, s / np.where(live, lam, 1.0), 0.0)[None])[0]

        def reached(strength):
            return strength * np.sign(final) >= np.abs(final) / 2

        def reached_at(times):
            return reached(np.diagonal(self._dataset_of(self._strengths_at(times, u0))))

        early = reached(self._dataset_of(np.where(live, u0, 0.0)[None])[0])
        slowest = np.max(self._frequency_half_times(u0)[live])
        high = np.full_like(final, slowest if slowest > 0 else self.tau)
        for _ in range(DOUBLINGS):  # double to a bracket
            if np.all(done := early | reached_at(high)):
                break
            high = np.where(done, high, 2 * high)
        else:
            raise ValueError(f"the half-way times: mode(s) {list(np.nonzero(~done)[0] + 1)} "
                             f"do not reach half their limit by t = {high.max():.3g}: the "
                             "closed form gives no finite strength there (u0 or the data out "
                             "of range)")
        low = np.zeros_like(final)
        for _ in range(iterations):
            middle = (low + high) / 2
            above = reached_at(middle)
            low, high = np.where(above, low, middle), np.where(above, middle, high)
        return np.where(early, 0.0, high)

    def learning_order(self, u0) -> list[int]:
        """Dataset modes (1-based) in the order of their predicted half-way times."""
        return [int(a) + 1 for a in np.argsort(self.half_times(u0), kind="stable")]

    def dominant_frequency_half_times(self, u0: float) -> np.ndarray:
        """An approximation, labelled as such: mode ``a`` learned at the speed of its dominant
        frequency alone, ``t_a = tau ln(s/u0 - 1) / (2 c s)`` with
        ``s = s_a |v_hat_a[f*_a]|`` (R3; white input, ``C_in = 1``, modes on disjoint
        frequencies assumed, not checked)."""
        self.require("the dominant-frequency approximation", self._white())
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
        width ``C`` unless given), with this theory's ``tau``, ``rtol`` and ``approximate``."""
        if hidden is None:
            width = self.model.channels if self.cnn else self.model.hidden
        else:
            width = positive_int("hidden", hidden)
        return Theory(FullyConnected(self.model.n_in, width, self.model.n_out), self.stats,
                      self.tau, self.rtol, self.approximate)

    # -- gradient descent -------------------------------------------------------------------
    def gd_mode_strengths(self, steps: int, lr: float, u0: float) -> np.ndarray:
        """``u_fj`` after ``0 .. steps`` steps of gradient descent with step ``lr`` (at
        ``t = lr tau k``), by the exact map of :func:`symcnn.symbolic.closed_forms.gd`;
        shape ``(K, F, r)``, ``K = steps + 1``; depth 1."""
        steps = positive_int("steps", steps, minimum=0)
        self._check_prediction("the gradient-descent map")
        lr, u0 = positive("lr", lr), positive("u0", u0)
        s, lam = self.strengths, self.input_strengths
        step = kernels.kernel("gd", "update")
        u = np.where(s > 0, u0, 0.0)
        out = [u]
        with np.errstate(over="raise", invalid="raise"):
            for k in range(steps):
                try:
                    u = step(u=u, eta=lr, s=s, c=self.gain, **{"lambda": lam})
                except FloatingPointError:
                    raise ValueError(
                        f"gradient descent diverges: u leaves the float64 range at step {k + 1}"
                        f" (lr = {lr!r}, u0 = {u0!r}; the fixed points are stable for lr < "
                        f"max_stable_lr = {self._lr_bound():.3g})") from None
                out.append(u)
        return np.array(out)

    @property
    def max_stable_lr(self) -> float:
        """The step below which every fixed point ``u = s/lambda`` of the gradient-descent map
        is stable: ``|1 - 2 eta c s| < 1`` for every ``s_fj``, i.e. ``eta < 1/(c max s)``;
        ``inf`` when ``Sigma_yx = 0`` (every ``s_fj`` is 0: no such fixed point, and the map
        keeps ``u = 0`` at any step)."""
        self._check_prediction("the largest stable step")
        return self._lr_bound()

    def _lr_bound(self) -> float:
        top = float(np.max(self.strengths))
        return 1 / (self.gain * top) if top > 0 else np.inf


def _real_array(name: str, value) -> np.ndarray:
    """``value`` as a float array (:func:`~symcnn.checks.numeric_array`); a bool or bool
    array is refused (``TypeError``): no time or strength is a flag."""
    array = numeric_array(name, value)
    if np.asarray(value).dtype.kind == "b":
        raise TypeError(f"{name} must be real numbers, got {value!r} (bool)")
    return array


def _times(times) -> np.ndarray:
    """``times``, in any order, as a 1-D array of finite values >= 0."""
    t = np.atleast_1d(_real_array("times", times))
    if t.ndim != 1 or not np.all(np.isfinite(t)) or np.any(t < 0):
        raise ValueError(f"times must be a 1-D array of finite values >= 0, got {times!r}")
    return t
