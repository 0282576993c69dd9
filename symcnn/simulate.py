"""Training the whole network in pixel space: the ground truth every derived result meets.

Three independent ways to compute the gradient of
``L = 1/2 tr(M Sigma_xx M^T) - tr(M Sigma_yx^T) + 1/2 <|y|^2>``:

- :class:`Dense`: explicit circulant matrices ``K_l`` and ``M = W K_depth ... K_1``; the
  reference for small sizes (also runs the fully connected baseline).
- :class:`Fast`: the layers by real FFTs on the statistics, ``O(C N_o N log N)`` per step for
  the network, plus ``N_o D^2`` for the data term (``N_o C_in^2 N`` for stationary input).
- :class:`Samples`: forward and backward passes over the samples themselves, which confirms
  that training depends on the data only through its statistics.

:func:`train` integrates gradient flow ``tau dtheta/dt = -dL/dtheta`` (RK4, fixed or
adaptive step) or runs gradient descent ``theta <- theta - eta dL/dtheta``, recording the
end-to-end map at requested times.  A descent step is an Euler step of the flow of length
``eta tau``, so step ``k`` is at time ``t = eta tau k`` (the original theory notes wrote
``eta k / tau``, which agrees only for ``tau = 1``; see docs/conventions.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from math import ceil, prod

import numpy as np

from . import fourier, progress
from .checks import finite_array, flag, fraction, instance, numeric_array, positive, positive_int
from .data import Modes, Statistics, targets_from_labels
from .fourier import SpectralLayers
from .model import FullyConnected, LinearCNN, flatten, unflatten


def _check_compatible(model, stats: Statistics) -> None:
    instance("model", model, (LinearCNN, FullyConnected))
    instance("stats", stats, Statistics)
    n_in = model.n_in
    if isinstance(model, LinearCNN) and (model.shape, model.c_in) != (stats.shape, stats.c_in):
        raise ValueError(f"model (shape={model.shape}, c_in={model.c_in}) and data "
                         f"(shape={stats.shape}, c_in={stats.c_in}) do not match")
    if (n_in, model.n_out) != (stats.n_in, stats.n_out):
        raise ValueError(f"model (n_in={n_in}, n_out={model.n_out}) and data "
                         f"(n_in={stats.n_in}, n_out={stats.n_out}) do not match")


class _Engine:
    """What every engine offers: the loss, the end-to-end map and the gradient at
    ``params`` (checked against the model), each refused when it overflows float64.
    ``syx`` is the data's ``Sigma_yx``, the drive of every weight component."""

    model: LinearCNN | FullyConnected
    syx: np.ndarray

    def evaluate(self, params) -> tuple[float, np.ndarray]:
        """``(L, M)`` at ``params``."""
        params = self.model.check_params(params)
        loss, m = self._evaluate(params)
        return _representable(params, "loss", loss, m), m

    def gradient(self, params) -> tuple[np.ndarray, ...]:
        """``dL/dtheta`` at ``params``, one array per parameter."""
        params = self.model.check_params(params)
        grads = self._gradient(params)
        _representable(params, "gradient", *grads)
        return grads


def _representable(params, what: str, *values):
    """``values[0]``, after checking that every one of ``values`` is finite."""
    if not all(np.all(np.isfinite(v)) for v in values):
        largest = max(float(np.max(np.abs(p))) for p in params)
        raise ValueError(f"params: the {what} overflows float64 at these parameters (max "
                         f"|params| = {largest:.3g}); use smaller weights")
    return values[0]


class _OnStatistics(_Engine):
    """Shared by the engines that train on ``(Sigma_xx, Sigma_yx)``."""

    def __init__(self, model, stats: Statistics):
        _check_compatible(model, stats)
        self.model, self.stats, self.syx = model, stats, stats.syx
        self.shape, self.c_in = stats.shape, stats.c_in

    def loss(self, m: np.ndarray, g: np.ndarray) -> float:
        """``L = 1/2 <M, G - Sigma_yx> + 1/2 <|y|^2>`` with ``G = M Sigma_xx - Sigma_yx``."""
        return 0.5 * float(np.vdot(m, g - self.stats.syx)) + 0.5 * (self.stats.syy or 0.0)

    def _evaluate(self, params) -> tuple[float, np.ndarray]:
        m = self.model.end_to_end(params)
        return self.loss(m, m @ self.stats.sxx - self.stats.syx), m


class Dense(_OnStatistics):
    """Gradient from explicit matrices: ``dL/dA_l = (A_L..A_{l+1})^T G (A_{l-1}..A_1)^T`` for
    ``M = A_L .. A_1``, ``G = M Sigma_xx - Sigma_yx``; a kernel's gradient sums its
    circulant matrix's gradient along the diagonals ``m - n = lag(p)``."""

    def __init__(self, model: LinearCNN | FullyConnected, stats: Statistics):
        super().__init__(model, stats)
        if isinstance(model, LinearCNN):
            idx = np.indices(model.shape).reshape(len(model.shape), -1)
            lag = model.lags().reshape(len(model.shape), -1)
            cols = np.ravel_multi_index(tuple((idx[:, None, :] + lag[:, :, None])
                                              % np.array(model.shape)[:, None, None]),
                                        model.shape)
            self._diagonals = (np.arange(model.n_pixels)[None, :], cols)  # (k, N) pairs

    def _matrices(self, params) -> list[np.ndarray]:
        if isinstance(self.model, FullyConnected):
            return list(params)
        *kernels, w_out = params
        return [self.model.circulant(w) for w in kernels] + [w_out.reshape(len(w_out), -1)]

    def _gradient(self, params) -> tuple[np.ndarray, ...]:
        mats = self._matrices(params)
        left = [np.eye(self.stats.n_out)]  # left[l] = A_L .. A_{l+2}, built from the top
        for a in reversed(mats[1:]):
            left.append(left[-1] @ a)
        left.reverse()
        g = left[0] @ mats[0] @ self.stats.sxx - self.stats.syx
        grads, right = [], g  # right = G (A_{l-1} .. A_1)^T
        for a, p in zip(mats, left, strict=True):
            grads.append(p.T @ right)
            right = right @ a.T
        if isinstance(self.model, FullyConnected):
            return tuple(grads)
        *d_kernels, d_out = grads
        return (*(self._kernel_gradient(dk) for dk in d_kernels),
                d_out.reshape(self.model.param_shapes()[-1]))

    def _kernel_gradient(self, dk: np.ndarray) -> np.ndarray:
        """``dL/dw[c, c', p] = sum_n dL/dK[(c, n), (c', n + lag(p))]``."""
        n = self.model.n_pixels
        dk = dk.reshape(-1, n, dk.shape[1] // n, n).transpose(0, 2, 1, 3)
        return dk[..., *self._diagonals].sum(-1).reshape(*dk.shape[:2], *self.model.kernel)


class Fast(_OnStatistics):
    """Gradient by FFTs: ``M`` is ``W`` pushed back through the layers (``a K``), ``dL/dW``
    is ``G`` pushed forward (``K g``), and a kernel's gradient is the correlation of the two
    signals meeting at its layer (:class:`symcnn.fourier.SpectralLayers`).

    ``stationary`` selects the data term ``G_f = M_f Lambda_f - T_f`` per frequency
    (``True``), the dense ``M Sigma_xx - Sigma_yx`` (``False``), or whichever applies
    (``None``: per-frequency when ``stats.is_stationary()``).
    """

    def __init__(self, model: LinearCNN, stats: Statistics, stationary: bool | None = None):
        if isinstance(model, FullyConnected):
            raise TypeError("model: Fast trains a LinearCNN; use Dense for a FullyConnected")
        super().__init__(model, stats)
        self.layers = SpectralLayers(model)
        stationary = flag("stationary", stationary, none_ok=True)
        if stationary is None:
            stationary = stats.is_stationary()
        self._lambda = (np.conj(stats.input_spectrum())[..., : model.shape[-1] // 2 + 1]
                        if stationary else None)  # conj(Lambda_f) on the rfft half
        self._syx_hat = self.layers.rfft(self._rows(stats.syx))

    def _rows(self, m: np.ndarray) -> np.ndarray:
        return m.reshape(len(m), self.c_in, *self.shape)

    def _residual_hat(self, m_hat: np.ndarray) -> np.ndarray:
        """``rfft(G)``, ``G = M Sigma_xx - Sigma_yx``, from ``rfft(M)``."""
        if self._lambda is not None:
            return np.einsum("od...,dc...->oc...", m_hat, self._lambda) - self._syx_hat
        m = self.layers.irfft(m_hat).reshape(len(m_hat), -1)
        return self.layers.rfft(self._rows(m @ self.stats.sxx - self.stats.syx))

    def _evaluate(self, params) -> tuple[float, np.ndarray]:
        m = self.layers.end_to_end(self.layers.backward(params)[1])
        return self.loss(m, m @ self.stats.sxx - self.stats.syx), m

    def _gradient(self, params) -> tuple[np.ndarray, ...]:
        k_hats, rows = self.layers.backward(params)
        signals = [self._residual_hat(rows[-1])]  # G K_1^T .. K_l^T, as rfft rows
        for k in k_hats:
            signals.append(self.layers.forward(k, signals[-1]))
        d_kernels = [self.layers.weight_gradient(rows[-2 - layer], signals[layer])
                     for layer in range(len(k_hats))]
        return (*d_kernels, self.layers.irfft(signals[-1]))


class _PixelCoordinates:
    """``train``'s state for any engine: the parameters raveled into one real vector."""

    def __init__(self, engine):
        self.engine, self.model = engine, engine.model

    def encode(self, params) -> np.ndarray:
        return flatten(params)

    def decode(self, state: np.ndarray) -> tuple[np.ndarray, ...]:
        return unflatten(self.model, state)

    def gradient(self, state: np.ndarray) -> np.ndarray:
        return flatten(self.engine._gradient(self.decode(state)))

    def evaluate(self, state: np.ndarray) -> tuple[float, np.ndarray]:
        return self.engine._evaluate(self.decode(state))


class _SpectralCoordinates:
    """``train``'s state for :class:`Fast` with full kernels and a per-frequency data term:
    the half-spectra ``rfftn`` of the padded kernels and of ``W``, one complex vector.

    ``rfftn`` is linear, so the flow (and RK4, and gradient descent) in these coordinates is
    the image of the flow on the parameters: ``dX/dt = -rfftn(dL/dx)``, which is the
    per-frequency product :class:`Fast` forms before its inverse transform.  Each frequency
    keeps its own floating-point exponent: a mode ``1e-20`` times the largest one is kept
    to full relative precision, where pixel-space parameters round it away (and, the
    weights becoming exactly translation invariant, the flow would stay on that saddle).
    """

    def __init__(self, engine: Fast):
        self.engine, self.model, self.layers = engine, engine.model, engine.layers
        self.sizes = [prod(s[:2]) * (prod(self.model.shape[:-1]) * (self.model.shape[-1] // 2 + 1))
                      for s in self.model.param_shapes()]
        self.lags = (slice(None), slice(None), *self.model.lags())

    def encode(self, params) -> np.ndarray:
        *kernels, w_out = params
        hats = [self.layers.rfft(self.model.padded_kernel(w)) for w in kernels]
        return np.concatenate([h.ravel() for h in (*hats, self.layers.rfft(w_out))])

    def _split(self, state: np.ndarray) -> list[np.ndarray]:
        half = (*self.model.shape[:-1], self.model.shape[-1] // 2 + 1)
        parts = np.split(state, np.cumsum(self.sizes)[:-1])
        return [p.reshape(*s[:2], *half) for p, s in zip(parts, self.model.param_shapes(),
                                                         strict=True)]

    def decode(self, state: np.ndarray) -> tuple[np.ndarray, ...]:
        *hats, w_hat = self._split(state)
        return (*(self.layers.irfft(h)[self.lags] for h in hats), self.layers.irfft(w_hat))

    def _rows(self, state):
        *hats, w_hat = self._split(state)
        k_hats = [np.conj(h) for h in hats]
        rows = [w_hat]
        for k in reversed(k_hats):
            rows.append(self.layers.adjoint(k, rows[-1]))
        return k_hats, rows

    def gradient(self, state: np.ndarray) -> np.ndarray:
        k_hats, rows = self._rows(state)
        signals = [self.engine._residual_hat(rows[-1])]
        for k in k_hats:
            signals.append(self.layers.forward(k, signals[-1]))
        # rfftn(dL/dwpad) = conj(a) b per frequency; rfftn(dL/dW) = the last signal
        grads = [np.einsum("bc...,bd...->cd...", np.conj(rows[-2 - layer]), signals[layer])
                 for layer in range(len(k_hats))]
        grads.append(signals[-1])
        return np.concatenate([self._hermitian(g).ravel() for g in grads])

    def _hermitian(self, g: np.ndarray) -> np.ndarray:
        """The half-spectrum of a real signal: at the self-conjugate planes of the last axis
        (0 and N/2), the average of ``g`` and its conjugate reflection."""
        d, n = len(self.model.shape), self.model.shape[-1]
        g = g.copy()
        for j in {0, n // 2} if n % 2 == 0 else {0}:
            plane = g[..., j]
            mirrored = plane
            for axis in range(plane.ndim - d + 1, plane.ndim):
                mirrored = np.roll(np.flip(mirrored, axis), 1, axis)
            g[..., j] = (plane + np.conj(mirrored)) / 2
        return g

    def evaluate(self, state: np.ndarray) -> tuple[float, np.ndarray]:
        m = self.layers.end_to_end(self._rows(state)[1])
        return self.engine.loss(m, m @ self.engine.stats.sxx - self.engine.stats.syx), m


def _coordinates(engine):
    if isinstance(engine, Fast) and engine.model.full_kernel and engine._lambda is not None:
        return _SpectralCoordinates(engine)
    return _PixelCoordinates(engine)


RESOLUTION_EVERY = 32
"""Pixel-coordinate runs check their resolution every this many gradient evaluations (and
at every recorded time)."""

RESOLUTION = 2e-7
"""The smallest relative size of a weight component that pixel coordinates follow to 1e-10.

Parameters stored in pixel space carry a rounding of ``eps max|theta|`` in every component,
so a component ``r`` times the largest is known to ``eps / r`` relative, each step.  A run's
error is then about ``0.12 eps s / r`` for a component whose share of the data is ``s``
(measured on the zoo's white-1d-8), ``7e-11`` at ``r = RESOLUTION s``: training in pixel
coordinates refuses to go on below that."""


class _Resolution:
    """The components of the weights that learn independently when they are small, each
    against its share of the data ``Sigma_yx``: a :class:`LinearCNN`'s readout ``W`` per
    frequency ``|W_hat[f]|`` against ``|Sigma_yx_hat[f]|`` (the frequencies are learned
    separately); a :class:`FullyConnected` network's ``|W_1 v_a|`` against ``s_a`` for the
    singular modes ``Sigma_yx = sum_a s_a u_a v_a^T``."""

    def __init__(self, engine, resolution: float):
        model, syx, self.name = engine.model, engine.syx, type(engine).__name__
        if isinstance(model, LinearCNN):
            d, grid = len(model.shape), (len(syx), model.c_in, *model.shape)
            drive = np.linalg.norm(fourier.row_spectrum(syx.reshape(grid), d), axis=(0, 1))
            self._sizes = lambda p: np.linalg.norm(fourier.row_spectrum(p[-1], d), axis=(0, 1))
            self._label = lambda i: (f"frequency {tuple(map(int, np.unravel_index(i, grid[2:])))}"
                                     " of the readout W")
        else:
            _, drive, vh = np.linalg.svd(syx, full_matrices=False)
            self._sizes = lambda p: np.linalg.norm(p[0] @ vh.T, axis=0)
            self._label = lambda a: f"data mode {a} of the first layer W_1"
        top = np.max(drive, initial=0.0)
        self.resolution = resolution
        self.floor = resolution * drive / top if top > 0 else np.zeros_like(drive)

    def __call__(self, params) -> None:
        sizes = self._sizes(params)
        ratio = sizes / max(np.max(sizes), np.finfo(float).tiny)
        below = np.nonzero(ratio < self.floor)[0]
        if len(below):
            i = below[np.argmin(ratio[below] / self.floor[below])]
            raise ValueError(
                f"params: from this start the weights' {self._label(i)} fell to "
                f"{ratio[i]:.2g} of the largest component, below {self.floor[i]:.2g} = "
                f"resolution {self.resolution:g} x its share of the data "
                f"({self.floor[i] / self.resolution:.2g} of the largest): {self.name} keeps the "
                f"weights in pixel space, where it is rounded to 1e-16 / {ratio[i]:.2g} "
                f"relative per step, and the run would be off by more than "
                f"{1.3e-17 / self.resolution:.1g}. Start from a larger initial scale, use Fast "
                "with full kernels on stationary statistics (per-frequency coordinates, "
                f"supported down to a product of the layers' largest weights of "
                f"{MIN_SCALE_PRODUCT:.0e}), or accept a larger error with a smaller "
                "resolution")


class Samples(_Engine):
    """Gradient of ``L = 1/(2P) sum_mu |y_mu - y_hat(x_mu)|^2`` by forward and backward
    passes over the samples ``x`` ``(P, C_in, *shape)``; ``y`` class indices (one-hot over
    the model's ``n_out`` outputs) or target vectors ``(P, N_o)``."""

    def __init__(self, model: LinearCNN, x, y):
        instance("model", model, LinearCNN)
        x = finite_array("x", x)
        if x.shape[1:] != (model.c_in, *model.shape):
            raise ValueError(f"x must have shape (P, C_in, *shape) = (P, {model.c_in}, "
                             f"{', '.join(map(str, model.shape))}) for the model, got {x.shape}")
        self.model, self.shape, self.c_in = model, model.shape, model.c_in
        self.y = targets_from_labels(y, len(x), model.n_out)
        for name, values in (("x", x), ("y", self.y)):  # the loss holds <|x|^2>, <|y|^2>
            with np.errstate(over="ignore"):
                power = np.sum(values**2) / len(x)
            if not np.isfinite(power):
                raise ValueError(f"{name} is too large: its average <|{name}|^2> overflows "
                                 f"float64 (max |{name}| = {np.max(np.abs(values)):.3g})")
        self.syx = self.y.T @ x.reshape(len(x), -1) / len(x)  # Sigma_yx of the samples
        self.layers = SpectralLayers(model)
        self._x_hat = self.layers.rfft(x)

    def _forward(self, params):
        """Kernel half-spectra, hidden layers (rfft), last hidden layer and residual."""
        *kernels, w_out = params
        k_hats = [self.layers.kernel(w) for w in kernels]
        hidden = [self._x_hat]
        for k in k_hats:
            hidden.append(self.layers.forward(k, hidden[-1]))
        h = self.layers.irfft(hidden[-1]).reshape(len(self.y), -1)
        residual = h @ w_out.reshape(len(w_out), -1).T - self.y
        return k_hats, hidden, h, residual

    def _evaluate(self, params) -> tuple[float, np.ndarray]:
        residual = self._forward(params)[3]
        m = self.layers.end_to_end(self.layers.backward(params)[1])
        return 0.5 * float(np.mean(np.sum(residual**2, axis=1))), m

    def _gradient(self, params) -> tuple[np.ndarray, ...]:
        k_hats, hidden, h, residual = self._forward(params)
        w_out = params[-1]
        n = len(self.y)
        d_out = (residual.T @ h / n).reshape(w_out.shape)
        # dL/dh per sample (times P), as rfft rows: rfft is linear, so transform W only
        delta = np.tensordot(residual, self.layers.rfft(w_out), axes=1)
        d_kernels = []
        for k, x_hat in zip(reversed(k_hats), reversed(hidden[:-1]), strict=True):
            d_kernels.append(self.layers.weight_gradient(delta, x_hat) / n)
            delta = self.layers.adjoint(k, delta)
        return (*reversed(d_kernels), d_out)


@dataclass(frozen=True, eq=False)
class Trajectory:
    """A training run recorded at ``times``: ``maps`` ``(T, N_o, D)``, ``loss`` ``(T,)``,
    ``params`` (the parameters at each time, when recorded) and ``final`` parameters."""

    times: np.ndarray
    maps: np.ndarray
    loss: np.ndarray
    final: tuple[np.ndarray, ...]
    shape: tuple[int, ...]
    c_in: int
    params: list[tuple[np.ndarray, ...]] | None = None

    @property
    def spectra(self) -> np.ndarray:
        """``M_f(t) = (M(t) U^*)_f``, shape ``(T, N_o, C_in, *shape)``."""
        maps = self.maps.reshape(*self.maps.shape[:2], self.c_in, *self.shape)
        return fourier.row_spectrum(maps, len(self.shape))

    def mode_strengths(self, modes: Modes) -> np.ndarray:
        """``u_a(t) = u_a^T M(t) v_a`` for the dataset's singular modes, shape ``(T, r)``."""
        instance("modes", modes, Modes)
        n_out, n_in = self.maps.shape[1:]
        if modes.u.shape[0] != n_out or modes.v.shape[1:] != (self.c_in, *self.shape):
            raise ValueError(f"modes are for {modes.u.shape[0]} outputs and inputs of shape "
                             f"{modes.v.shape[1:]}; this run has {n_out} outputs and inputs "
                             f"of shape {(self.c_in, *self.shape)}")
        v = modes.v.reshape(len(modes.s), n_in)
        return np.einsum("oa,tod,ad->ta", modes.u, self.maps, v)

    def half_way_times(self, modes: Modes, target: np.ndarray) -> np.ndarray:
        """For each mode, the first time ``u_a`` reaches ``target_a / 2`` (linear
        interpolation between recorded times; ``nan`` if it does not within the run).
        ``target`` holds ``r`` finite numbers, one per mode."""
        u = self.mode_strengths(modes)
        target = numeric_array("target", target)
        if target.shape != (u.shape[1],) or not np.all(np.isfinite(target)):
            raise ValueError(f"target must hold {u.shape[1]} finite numbers (one per mode), "
                             f"got shape {target.shape}" + (
                                 "" if np.all(np.isfinite(target)) else " with NaN or inf"))
        out = np.full(u.shape[1], np.nan)
        for a, (curve, half) in enumerate(zip(u.T, np.asarray(target) / 2, strict=True)):
            above = np.nonzero(curve * np.sign(half) >= abs(half))[0]
            if len(above):
                i = above[0]
                out[a] = self.times[0] if i == 0 else np.interp(
                    abs(half), curve[i - 1: i + 1] * np.sign(half), self.times[i - 1: i + 1])
        return out

    def _repr_html_(self) -> str:
        """In Jupyter: the run in a table (its times, the loss at both ends, the map's and the
        input's shape, whether the parameters are recorded) above its loss curve
        (:func:`_loss_svg`)."""
        t, loss, (n_out, d) = self.times, self.loss, self.maps.shape[1:]
        rows = {"times": (f"t = {t[0]:g} to {t[-1]:g}, {len(t)} points" if len(t) > 1
                          else f"t = {t[0]:g}, one point"),
                "loss": f"L = {loss[0]:.6g} at t = {t[0]:g} to {loss[-1]:.6g} at t = {t[-1]:g}",
                "map M": f"N_o x D = {n_out} x {d}",
                "input": f"shape {self.shape}, C_in = {self.c_in}",
                "params": ("recorded at every time" if self.params is not None else
                           "not recorded (final only)")}
        table = "".join(f"<tr><th style='text-align:left'>{name}</th><td>{escape(value)}</td></tr>"
                        for name, value in rows.items())
        svg, note = _loss_svg(t, loss)
        return (f"<div><b>Trajectory</b><table>{table}</table>{svg}"
                + (f"<br/><small>{escape(note)}</small>" if note else "") + "</div>")


_SVG_WIDTH, _SVG_HEIGHT = 360, 170
_SVG_PAD = (60, 10, 10, 30)
"""The loss curve's size and its margins (left, top, right, bottom), in pixels."""


def _loss_svg(times: np.ndarray, loss: np.ndarray) -> tuple[str, str]:
    """An inline SVG of the loss against time, and a note on the samples it leaves out.

    Time is on a ``log10`` axis when the positive times span a decade or more (``t <= 0``
    is then not drawn), else linear; the loss on a ``log10`` axis when every finite value is
    ``>= 0`` (``L = 0`` is then not drawn), else linear (a loss without ``<|y|^2>`` can be
    negative); samples with a non-finite time or loss are not drawn.  The drawn samples make
    one polyline (a dot if there is one), each axis labelled with its range."""
    finite = np.isfinite(times) & np.isfinite(loss)
    positive = times[finite & (times > 0)]
    log_t = positive.size > 1 and positive.max() >= 10 * positive.min()
    log_l = finite.any() and loss[finite].min() >= 0 and loss[finite].max() > 0
    drop_t = (times <= 0) & finite if log_t else np.zeros(len(times), bool)
    drop_l = (loss <= 0) & finite if log_l else np.zeros(len(loss), bool)
    keep = finite & ~drop_t & ~drop_l
    dropped = [f"{n} {why}" for n, why in ((drop_t.sum(), "at t <= 0 (log time axis)"),
                                           (drop_l.sum(), "with L = 0 (log loss axis)"),
                                           ((~finite).sum(), "not finite"))
               if n]
    note = f"not drawn: {', '.join(dropped)}" if dropped else ""
    left, top, right, bottom = _SVG_PAD
    width, height = _SVG_WIDTH - left - right, _SVG_HEIGHT - top - bottom
    parts = [f'<rect x="{left}" y="{top}" width="{width}" height="{height}" fill="none" '
             'stroke="#999"/>']
    if keep.any():
        (x, x_ends), (y, y_ends) = (_unit(v[keep], log) for v, log in ((times, log_t),
                                                                       (loss, log_l)))
        px, py = left + width * x, top + height * (1 - y)
        points = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(px, py, strict=True))
        parts.append(f'<polyline fill="none" stroke="#1f77b4" stroke-width="1.5" '
                     f'points="{points}"/>')
        if keep.sum() == 1:
            parts.append(f'<circle cx="{px[0]:.1f}" cy="{py[0]:.1f}" r="2.5" fill="#1f77b4"/>')
        labels = [(left, _SVG_HEIGHT - 16, "start", f"{x_ends[0]:.3g}"),
                  (left + width, _SVG_HEIGHT - 16, "end", f"{x_ends[1]:.3g}"),
                  (left + width / 2, _SVG_HEIGHT - 4, "middle",
                   "time t" + (" (log)" if log_t else "")),
                  (left - 4, top + 9, "end", f"{y_ends[1]:.3g}"),
                  (left - 4, top + height, "end", f"{y_ends[0]:.3g}"),
                  (left - 4, top + height / 2 + 4, "end", "L" + (" (log)" if log_l else ""))]
    else:
        labels = [(left + width / 2, top + height / 2, "middle", "nothing to draw")]
    parts += [f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}">{text}</text>'
              for x, y, anchor, text in labels]
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{_SVG_WIDTH}" height="{_SVG_HEIGHT}" '
            f'viewBox="0 0 {_SVG_WIDTH} {_SVG_HEIGHT}" font-family="sans-serif" '
            f'font-size="10">{"".join(parts)}</svg>', note)


def _unit(values: np.ndarray, log: bool) -> tuple[np.ndarray, tuple[float, float]]:
    """``values`` (``log10`` of them when ``log``) mapped onto ``[0, 1]``, and the axis's
    ends in the values' units; a single value sits in the middle of a unit range."""
    v = np.log10(values) if log else values.astype(float)
    lo, hi = float(v.min()), float(v.max())
    if hi == lo:
        lo, hi = lo - 0.5, hi + 0.5
    ends = (10**lo, 10**hi) if log else (lo, hi)
    return (v - lo) / (hi - lo), ends


# The smallest product of the layers' largest weights that keeps the end-to-end map, and
# every gradient, a normal float64 with its full relative precision (tiny / eps ~ 1e-292,
# with a margin for the sums over channels and pixels).
MIN_SCALE_PRODUCT = 1e-280


def train(engine, params, times, *, method: str = "flow", tau: float = 1.0,
          dt: float | None = None, rtol: float | None = None, lr: float | None = None,
          resolution: float = RESOLUTION, record_params: bool = False) -> Trajectory:
    """Train from ``params`` and record the end-to-end map at ``times`` (ascending, >= 0).

    Parameters
    ----------
    engine : Dense, Fast, Samples, or any subclass of ``_Engine`` (symcnn.torch's ``Torch``)
    method : {"flow", "gd"}
        ``"flow"``: ``tau dtheta/dt = -dL/dtheta`` by RK4, with fixed steps of at most ``dt``
        or adaptive steps (step doubling) to relative accuracy ``rtol`` per step; give
        exactly one of ``dt`` (finite, > 0) or ``rtol`` (in ``(0, 1)``), and no ``lr``.
        ``"gd"``: ``theta <- theta - lr dL/dtheta`` (``lr`` finite, > 0), step ``k`` at
        ``t = lr tau k``; ``times`` must be multiples of ``lr tau``; ``dt`` and ``rtol`` are
        refused.
    resolution : float
        In pixel coordinates, the run stops when a component of the weights falls below
        ``resolution`` times its share of the data (:class:`_Resolution`); the error it
        accepts is about ``1.3e-17 / resolution`` relative (``7e-11`` at the default
        ``RESOLUTION``). In ``[0, 1)``; 0 turns the check off. Spectral coordinates keep
        each frequency to its own precision and meet any ``resolution``.

    A run that lasts more than :data:`symcnn.progress.DELAY` shows its time and loss on
    standard error (``symcnn train: t = 3/10 loss -0.91``), unless in
    :func:`symcnn.progress.quiet`.

    Raises
    ------
    ValueError
        A bad argument, an option that does not apply to ``method``, or ``params`` too small
        to represent: the end-to-end map is a product of the layers, and when the product of
        the layers' largest weights is below ``MIN_SCALE_PRODUCT`` (1e-280) it and the
        gradient underflow float64; or, in pixel coordinates (every engine but
        :class:`Fast` with full kernels on stationary statistics), a component of the
        weights that falls below ``resolution`` times its share of the data during the run
        (see :class:`_Resolution`), where rounding would cost the 1e-10 accuracy.
    FloatingPointError
        Training diverged (the parameters or the loss overflowed). The message gives the
        cause: the initial weights too large, ``dt`` too large (fixed-step flow), ``lr``
        above the stable step (gradient descent, with the bound ``2 / lambda_max`` of the
        loss's largest curvature where it is cheap to estimate), or the adaptive step
        underflowing.
    """
    if not isinstance(engine, _Engine):
        raise TypeError("engine must be a Dense, a Fast or a Samples (or another engine, a "
                        "subclass of symcnn.simulate._Engine such as symcnn.torch.engine.Torch)"
                        f", got {type(engine).__name__}")
    if not (isinstance(method, str) and method in ("flow", "gd")):
        raise ValueError(f"method must be 'flow' or 'gd', got {method!r}")
    checked = engine.model.check_params(params)
    coords = _coordinates(engine)
    theta = coords.encode(checked)
    times = _check_times(times)
    tau = positive("tau", tau)
    record_params = flag("record_params", record_params)
    _check_scale(checked)
    resolution = fraction("resolution", resolution)
    resolved = (None if isinstance(coords, _SpectralCoordinates) or resolution == 0 else
                _Resolution(engine, resolution))
    calls = 0

    def grad(th):
        nonlocal calls
        calls += 1
        if resolved and calls % RESOLUTION_EVERY == 0:
            resolved(coords.decode(th))
        return coords.gradient(_finite(th)) / tau

    if method == "flow":
        if lr is not None:
            raise ValueError(f"lr does not apply to method='flow' (got lr={lr!r}); give dt "
                             "(fixed RK4 step) or rtol (adaptive), or use method='gd'")
        if (dt is None) == (rtol is None):
            raise ValueError("method='flow' needs exactly one of dt (fixed RK4 step) or rtol "
                             f"(adaptive), got dt={dt!r}, rtol={rtol!r}")
        if dt is not None:
            dt = positive("dt", dt)
            advance = _rk4_fixed(grad, dt)
            cause = (f"the fixed step dt={dt:g} is too large for the flow here (it is stiff "
                     "where the weights are large); lower dt or use rtol")
        else:
            rtol = positive("rtol", rtol)
            if not rtol < 1:
                raise ValueError(f"rtol must be in (0, 1) (a relative accuracy per step), got "
                                 f"{rtol!r}")
            advance = _rk4_adaptive(grad, rtol)
            cause = f"the adaptive step did not control the error at rtol={rtol:g}"
    else:
        for name, value in (("dt", dt), ("rtol", rtol)):
            if value is not None:
                raise ValueError(f"{name} does not apply to method='gd' (got {name}={value!r}); "
                                 "gradient descent takes lr only")
        lr = positive("lr", lr)
        advance = _gradient_descent(grad, lr * tau)
        cause = None
    with np.errstate(over="ignore", invalid="ignore"):
        first = flatten(engine._gradient(checked))
        if not (np.all(np.isfinite(first)) and np.isfinite(engine._evaluate(checked)[0])):
            raise FloatingPointError(
                "training diverged: the initial weights are too large (init too large): the "
                f"loss or its gradient overflows float64 at params (max |theta| = "
                f"{np.max(np.abs(theta)):.3g}); start from smaller weights")
    maps, losses, recorded, t = [], [], [], 0.0
    with progress.task("train", total=float(times[-1]), unit="t =") as job:
        for t_next in times:
            with np.errstate(over="ignore", invalid="ignore"):  # divergence: reported below
                try:
                    new = _finite(advance(theta, t, t_next))
                    loss, m = coords.evaluate(new)
                    if not np.isfinite(loss):
                        raise FloatingPointError("the loss overflowed")
                except FloatingPointError as error:
                    if "adaptive step size underflow" in str(error):
                        raise
                    reason = cause or _gd_cause(grad, theta, lr, tau)
                    raise FloatingPointError(f"training diverged between t = {t:g} and "
                                             f"t = {t_next:g}: {reason}") from error
            theta, t = new, t_next
            if resolved:
                resolved(coords.decode(theta))
            maps.append(m)
            losses.append(loss)
            if record_params:
                recorded.append(tuple(p.copy() for p in coords.decode(theta)))
            job.update(f"loss {loss:.6g}", done=t)
        job.result = f"t = {t:g}, loss {loss:.6g}"
    return Trajectory(times=times, maps=np.array(maps), loss=np.array(losses),
                      final=tuple(p.copy() for p in coords.decode(theta)), shape=engine.shape,
                      c_in=engine.c_in, params=recorded if record_params else None)


def _check_scale(params) -> None:
    """Refuse ``params`` whose end-to-end map (a product of the layers) underflows."""
    scales = [float(np.max(np.abs(p), initial=0.0)) for p in params]
    log_product = sum(np.log10(s) if s > 0 else -np.inf for s in scales)
    if log_product < np.log10(MIN_SCALE_PRODUCT):
        layers = len(params)
        raise ValueError(
            f"params are too small to train in float64: the end-to-end map is a product of "
            f"{layers} layers and the product of their largest weights is 10^{log_product:.4g}, "
            f"below the supported {MIN_SCALE_PRODUCT:.0e} (the map and the gradient underflow). "
            f"Supported: a product >= {MIN_SCALE_PRODUCT:.0e}, e.g. init_random scale >= "
            f"{10 ** (np.log10(MIN_SCALE_PRODUCT) / layers):.1e} for this model; from a "
            "smaller start the flow only spends longer on its plateau")


def _curvature(grad, theta: np.ndarray, iterations: int = 30) -> float:
    """The largest eigenvalue magnitude of the loss's Hessian at ``theta``, by power
    iteration on central differences of the gradient (the loss is a polynomial)."""
    v = np.random.default_rng(0).standard_normal(theta.shape).astype(theta.dtype)
    v /= _norm(v)
    eps = 1e-5 * max(_norm(theta), 1.0)
    value = 0.0
    for _ in range(iterations):
        hv = (grad(theta + eps * v) - grad(theta - eps * v)) / (2 * eps)
        value = _norm(hv)
        if not (np.isfinite(value) and value > 0):
            return float("nan")
        v = hv / value
    return value


def _gd_cause(grad, theta: np.ndarray, lr: float, tau: float) -> str:
    """Why gradient descent diverged, with the stable bound ``2 / lambda_max`` at the last
    recorded parameters when it can be estimated."""
    with np.errstate(over="ignore", invalid="ignore"):
        try:
            curvature = _curvature(grad, theta) * tau  # grad is dL/dtheta / tau
        except FloatingPointError:
            curvature = float("nan")
    text = f"step too large (lr={lr:g})"
    if np.isfinite(curvature) and curvature > 0:
        text += (f"; the stable bound for gradient descent is lr < 2 / lambda_max = "
                 f"{2 / curvature / tau:.3g} (lambda_max = {curvature:.3g}, the largest "
                 "curvature of the loss at the last recorded parameters)")
    return text + "; lower lr"


def _norm(x: np.ndarray) -> float:
    """The 2-norm without underflow or overflow of the squares (scaled by ``max |x|``)."""
    scale = float(np.max(np.abs(x), initial=0.0))
    if scale == 0 or not np.isfinite(scale):
        return scale
    return scale * float(np.linalg.norm(x / scale))


def _finite(theta: np.ndarray) -> np.ndarray:
    if not np.all(np.isfinite(theta)):
        raise FloatingPointError("the parameters overflowed")
    return theta


def _check_times(times) -> np.ndarray:
    times = np.atleast_1d(numeric_array("times", times))
    if times.ndim != 1 or len(times) == 0 or not np.all(np.isfinite(times)):
        raise ValueError("times must be a non-empty 1-D array of finite numbers")
    if times[0] < 0 or np.any(np.diff(times) < 0):
        raise ValueError("times must be >= 0 and ascending")
    return times


def _rk4_step(grad, theta: np.ndarray, h: float) -> np.ndarray:
    k1 = grad(theta)
    k2 = grad(theta - h / 2 * k1)
    k3 = grad(theta - h / 2 * k2)
    k4 = grad(theta - h * k3)
    return theta - h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)


def _rk4_fixed(grad, dt: float):
    def advance(theta, t0, t1):
        steps = ceil((t1 - t0) / dt - 1e-12)
        for _ in range(steps):
            theta = _rk4_step(grad, theta, (t1 - t0) / steps)
        return theta
    return advance


def _rk4_adaptive(grad, rtol: float):
    """Step doubling: two half steps against one full step estimate the local error
    (``/15``, RK4 being fourth order); the half steps plus that estimate are kept."""
    state = {"h": None}

    def advance(theta, t0, t1):
        t, h = t0, state["h"] or 0.01 * max(t1 - t0, 1e-6)
        while t < t1:
            h = min(h, t1 - t)
            full = _rk4_step(grad, theta, h)
            half = _rk4_step(grad, _rk4_step(grad, theta, h / 2), h / 2)
            # relative to the state's norm, both norms scaled so that neither underflows
            size = _norm(half)
            change = _norm(half - full) / 15
            err = change / (rtol * size) if size > 0 else (0.0 if change == 0 else np.inf)
            if err <= 1:
                theta, t = half + (half - full) / 15, (t1 if h == t1 - t else t + h)
            elif h < 1e-12 * max(abs(t), 1.0):
                raise FloatingPointError(f"adaptive step size underflow at t = {t:g}: the "
                                         "flow is too stiff for rtol or diverging")
            h *= min(4.0, max(0.2, 0.9 * max(err, 1e-10) ** -0.2))
        state["h"] = h
        return theta
    return advance


def _gradient_descent(grad, step: float):
    """Euler steps of length ``step = lr tau`` of ``dtheta/dt = -grad``."""
    def advance(theta, t0, t1):
        steps = (t1 - t0) / step
        if not np.isfinite(steps):
            raise ValueError(f"lr * tau = {step:g} is too small for the interval [{t0:g}, "
                             f"{t1:g}]: its number of steps overflows float64")
        if abs(steps - round(steps)) > 1e-9 * max(1.0, steps):
            raise ValueError(f"with method='gd' every time must be a multiple of lr * tau = "
                             f"{step:g}; the interval [{t0:g}, {t1:g}] is {steps:g} steps")
        for _ in range(round(steps)):
            theta = theta - step * grad(theta)
        return theta
    return advance


def init_random(model, scale: float, seed: int = 0) -> tuple[np.ndarray, ...]:
    """Independent ``N(0, scale^2)`` entries for every parameter, seeded."""
    instance("model", model, (LinearCNN, FullyConnected))
    scale = positive("scale", scale)
    rng = np.random.default_rng(positive_int("seed", seed, minimum=0))
    return tuple(scale * rng.standard_normal(s) for s in model.param_shapes())


def init_balanced(model, spectrum) -> tuple[np.ndarray, ...]:
    """Real weights whose end-to-end spectrum is ``spectrum`` and that are balanced.

    For a :class:`LinearCNN` with full kernels, ``spectrum`` is ``M_f`` ``(N_o, C_in,
    *shape)`` (conjugate-symmetric).  With ``M_f = U_f S_f V_f^*`` and ``L = depth + 1``
    layers: ``beta_f = s U_f S_f^(1/L) R^T``, ``alpha_f = sqrt(N) s R S_f^(1/L) V_f^*`` for
    the first kernel and ``sqrt(N) s R S_f^(1/L) R^T`` for the others, with
    ``s = N^(-(L-1)/(2L))`` and ``R`` the first columns of the identity.  Then
    ``beta_f^* beta_f = kappa_f kappa_f^* / N`` at every layer (R2's conserved quantity is
    zero).  For :class:`FullyConnected`, ``spectrum`` is the ``N_o x D`` matrix ``M`` and the
    same construction with ``N = 1`` gives ``W_2^T W_2 = W_1 W_1^T``.
    """
    instance("model", model, (LinearCNN, FullyConnected))
    if isinstance(model, FullyConnected):
        m = finite_array("spectrum", spectrum)
        if m.shape != (model.n_out, model.n_in):
            raise ValueError(f"spectrum must be the map M of shape {(model.n_out, model.n_in)}, "
                             f"got {m.shape}")
        u, s, vh = _truncate(*np.linalg.svd(m[None], full_matrices=False), model.hidden,
                             "hidden")
        w2, w1 = _balanced_chain(u, s, vh, model.hidden, layers=2, n_pixels=1)
        return w1[0], w2[0]
    if not model.full_kernel:
        raise ValueError("hypothesis 'full kernel' fails: balanced initialization from a "
                         f"spectrum needs kernel = shape = {model.shape}, got {model.kernel}")
    d = len(model.shape)
    m_hat = finite_array("spectrum", spectrum, complex_ok=True).astype(complex)
    expected = (model.n_out, model.c_in, *model.shape)
    if m_hat.shape != expected:
        raise ValueError(f"spectrum must have shape (N_o, C_in, *shape) = {expected}, "
                         f"got {m_hat.shape}")
    u, s, vh = fourier.hermitian_svd(m_hat, model.shape)
    u, s, vh = _truncate(u, s, vh, model.channels, "channels")
    beta, *kappas = _balanced_chain(u, s, vh, model.channels, model.depth + 1, model.n_pixels)
    kernels = [fourier.kernel_from_spectrum(model, fourier.to_grid(k, model.shape))
               for k in reversed(kappas)]
    return (*kernels, fourier.inverse_row_spectrum(fourier.to_grid(beta, model.shape), d))


def _truncate(u, s, vh, width: int, name: str):
    """Keep ``width`` singular triplets, refusing if the dropped ones are not zero."""
    if s.shape[1] > width and np.max(s[:, width:]) > 1e-12 * max(np.max(s), 1e-300):
        rank = int(np.max(np.sum(s > 1e-12 * np.max(s), axis=1)))
        raise ValueError(f"{name} = {width} is too small to realise this map: its rank (per "
                         f"frequency) is {rank}; use {name} >= {rank}")
    return u[..., :width], s[:, :width], vh[:, :width]


def _balanced_chain(u, s, vh, width: int, layers: int, n_pixels: int) -> list[np.ndarray]:
    """Balanced factors of ``U S V^*`` through ``layers`` layers of ``width``, from the top:
    ``[s U S^(1/L) R^T, sqrt(N) s R S^(1/L) R^T, ..., sqrt(N) s R S^(1/L) V^*]``."""
    top = n_pixels ** (-(layers - 1) / (2 * layers))
    inner = np.sqrt(n_pixels) * top
    root = s ** (1 / layers)
    r = np.eye(width)[:, : s.shape[1]]
    middle = inner * np.einsum("ia,fa,ja->fij", r, root, r)
    return [top * np.einsum("fpa,fa,ja->fpj", u, root, r),
            *[middle] * (layers - 2),
            inner * np.einsum("ia,fa,faq->fiq", r, root, vh)]


def aligned_map(stats: Statistics, u0: float, rtol: float = 1e-12) -> np.ndarray:
    """``M(0) = u0 U V^T`` from the dataset SVD ``Sigma_yx = U S V^T`` (singular values above
    ``rtol max S``): every mode at strength ``u0``, the fully connected network's balanced
    aligned start (R1)."""
    modes = instance("stats", stats, Statistics).modes(rtol)
    return positive("u0", u0) * modes.u @ modes.v.reshape(len(modes.s), stats.n_in)


def aligned_spectrum(stats: Statistics, u0: float, rtol: float = 1e-12) -> np.ndarray:
    """``M_f(0) = u0 U_f V_f^*`` from the SVD ``T_f = U_f S_f V_f^*`` (singular values above
    ``rtol max S``): every mode of every frequency at strength ``u0``, aligned with the data.
    For ``C_in = 1`` this is ``u0 T_f / |T_f|`` (docs/theory-reference.md, R3)."""
    u0, rtol = positive("u0", u0), fraction("rtol", rtol)
    t_hat = instance("stats", stats, Statistics).output_spectrum()
    u, s, vh = fourier.hermitian_svd(t_hat, stats.shape)
    keep = s > rtol * np.max(s)
    return fourier.to_grid(u0 * np.einsum("fpa,fa,faq->fpq", u, keep, vh), stats.shape)
