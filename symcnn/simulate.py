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

import sys
import time
from dataclasses import dataclass
from math import ceil

import numpy as np

from . import fourier
from .checks import finite_array, positive
from .data import Statistics, targets_from_labels
from .fourier import SpectralLayers
from .model import FullyConnected, LinearCNN, flatten, unflatten


def _check_compatible(model, stats: Statistics) -> None:
    n_in = model.n_in
    if isinstance(model, LinearCNN) and (model.shape, model.c_in) != (stats.shape, stats.c_in):
        raise ValueError(f"model (shape={model.shape}, c_in={model.c_in}) and data "
                         f"(shape={stats.shape}, c_in={stats.c_in}) do not match")
    if (n_in, model.n_out) != (stats.n_in, stats.n_out):
        raise ValueError(f"model (n_in={n_in}, n_out={model.n_out}) and data "
                         f"(n_in={stats.n_in}, n_out={stats.n_out}) do not match")


class _OnStatistics:
    """Shared by the engines that train on ``(Sigma_xx, Sigma_yx)``."""

    def __init__(self, model, stats: Statistics):
        _check_compatible(model, stats)
        self.model, self.stats = model, stats
        self.shape, self.c_in = stats.shape, stats.c_in

    def loss(self, m: np.ndarray, g: np.ndarray) -> float:
        """``L = 1/2 <M, G - Sigma_yx> + 1/2 <|y|^2>`` with ``G = M Sigma_xx - Sigma_yx``."""
        return 0.5 * float(np.vdot(m, g - self.stats.syx)) + 0.5 * (self.stats.syy or 0.0)

    def evaluate(self, params) -> tuple[float, np.ndarray]:
        """``(L, M)`` at ``params``."""
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
        params = self.model.check_params(params)
        if isinstance(self.model, FullyConnected):
            return list(params)
        *kernels, w_out = params
        return [self.model.circulant(w) for w in kernels] + [w_out.reshape(len(w_out), -1)]

    def gradient(self, params) -> tuple[np.ndarray, ...]:
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
        if not isinstance(model, LinearCNN):
            raise TypeError(f"Fast trains a LinearCNN; use Dense for {type(model).__name__}")
        super().__init__(model, stats)
        self.layers = SpectralLayers(model)
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

    def evaluate(self, params) -> tuple[float, np.ndarray]:
        m = self.layers.end_to_end(self.layers.backward(self.model.check_params(params))[1])
        return self.loss(m, m @ self.stats.sxx - self.stats.syx), m

    def gradient(self, params) -> tuple[np.ndarray, ...]:
        k_hats, rows = self.layers.backward(self.model.check_params(params))
        signals = [self._residual_hat(rows[-1])]  # G K_1^T .. K_l^T, as rfft rows
        for k in k_hats:
            signals.append(self.layers.forward(k, signals[-1]))
        d_kernels = [self.layers.weight_gradient(rows[-2 - layer], signals[layer])
                     for layer in range(len(k_hats))]
        return (*d_kernels, self.layers.irfft(signals[-1]))


class Samples:
    """Gradient of ``L = 1/(2P) sum_mu |y_mu - y_hat(x_mu)|^2`` by forward and backward
    passes over the samples ``x`` ``(P, C_in, *shape)``; ``y`` class indices (one-hot over
    the model's ``n_out`` outputs) or target vectors ``(P, N_o)``."""

    def __init__(self, model: LinearCNN, x, y):
        x = finite_array("x", x)
        if x.shape[1:] != (model.c_in, *model.shape):
            raise ValueError(f"x must have shape (P, C_in, *shape) = (P, {model.c_in}, "
                             f"{', '.join(map(str, model.shape))}) for the model, got {x.shape}")
        self.model, self.shape, self.c_in = model, model.shape, model.c_in
        self.y = targets_from_labels(y, len(x), model.n_out)
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

    def evaluate(self, params) -> tuple[float, np.ndarray]:
        params = self.model.check_params(params)
        residual = self._forward(params)[3]
        m = self.layers.end_to_end(self.layers.backward(params)[1])
        return 0.5 * float(np.mean(np.sum(residual**2, axis=1))), m

    def gradient(self, params) -> tuple[np.ndarray, ...]:
        params = self.model.check_params(params)
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

    def mode_strengths(self, modes) -> np.ndarray:
        """``u_a(t) = u_a^T M(t) v_a`` for the dataset's singular modes, shape ``(T, r)``."""
        v = modes.v.reshape(len(modes.s), -1)
        return np.einsum("oa,tod,ad->ta", modes.u, self.maps, v)

    def half_way_times(self, modes, target: np.ndarray) -> np.ndarray:
        """For each mode, the first time ``u_a`` reaches ``target_a / 2`` (linear
        interpolation between recorded times; ``nan`` if it does not within the run)."""
        u = self.mode_strengths(modes)
        out = np.full(u.shape[1], np.nan)
        for a, (curve, half) in enumerate(zip(u.T, np.asarray(target) / 2, strict=True)):
            above = np.nonzero(curve * np.sign(half) >= abs(half))[0]
            if len(above):
                i = above[0]
                out[a] = self.times[0] if i == 0 else np.interp(
                    abs(half), curve[i - 1: i + 1] * np.sign(half), self.times[i - 1: i + 1])
        return out


def train(engine, params, times, *, method: str = "flow", tau: float = 1.0,
          dt: float | None = None, rtol: float | None = None, lr: float | None = None,
          record_params: bool = False, progress: bool = False) -> Trajectory:
    """Train from ``params`` and record the end-to-end map at ``times`` (ascending, >= 0).

    Parameters
    ----------
    engine : Dense, Fast or Samples
    method : {"flow", "gd"}
        ``"flow"``: ``tau dtheta/dt = -dL/dtheta`` by RK4, with fixed steps of at most ``dt``
        or adaptive steps (step doubling) to relative accuracy ``rtol`` per step.
        ``"gd"``: ``theta <- theta - lr dL/dtheta``, step ``k`` at ``t = lr tau k``; ``times``
        must be multiples of ``lr tau``.
    progress : bool
        Report progress on standard error.
    """
    model = engine.model
    theta = flatten(model.check_params(params))
    times = _check_times(times)
    if not (np.isfinite(tau) and tau > 0):
        raise ValueError(f"tau must be a finite number > 0, got {tau!r}")

    def grad(th):
        return flatten(engine.gradient(unflatten(model, _finite(th)))) / tau

    if method == "flow":
        if (dt is None) == (rtol is None):
            raise ValueError("method='flow' needs exactly one of dt (fixed RK4 step) or rtol "
                             f"(adaptive), got dt={dt!r}, rtol={rtol!r}")
        advance = (_rk4_fixed(grad, positive("dt", dt)) if dt is not None
                   else _rk4_adaptive(grad, positive("rtol", rtol)))
    elif method == "gd":
        advance = _gradient_descent(grad, positive("lr", lr) * tau)
    else:
        raise ValueError(f"method must be 'flow' or 'gd', got {method!r}")
    report = _Progress(times[-1]) if progress else None
    maps, losses, recorded, t = [], [], [], 0.0
    for t_next in times:
        with np.errstate(over="ignore", invalid="ignore"):  # divergence: _finite raises
            theta = _finite(advance(theta, t, t_next))
        t = t_next
        current = unflatten(model, theta)
        loss, m = engine.evaluate(current)
        maps.append(m)
        losses.append(loss)
        if record_params:
            recorded.append(tuple(p.copy() for p in current))
        if report:
            report(t, loss)
    if report:
        report.done()
    return Trajectory(times=times, maps=np.array(maps), loss=np.array(losses),
                      final=unflatten(model, theta.copy()), shape=engine.shape,
                      c_in=engine.c_in, params=recorded if record_params else None)


def _finite(theta: np.ndarray) -> np.ndarray:
    if not np.all(np.isfinite(theta)):
        raise FloatingPointError("training diverged: the parameters overflowed; lower lr or dt")
    return theta


def _check_times(times) -> np.ndarray:
    times = np.atleast_1d(np.asarray(times, dtype=float))
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
            err = np.linalg.norm(half - full) / 15 / (
                rtol * max(np.linalg.norm(half), np.finfo(float).tiny))
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
        if abs(steps - round(steps)) > 1e-9 * max(1.0, steps):
            raise ValueError(f"with method='gd' every time must be a multiple of lr * tau = "
                             f"{step:g}; the interval [{t0:g}, {t1:g}] is {steps:g} steps")
        for _ in range(round(steps)):
            theta = theta - step * grad(theta)
        return theta
    return advance


class _Progress:
    """A progress bar on standard error: redrawn at most every 0.2 s on a terminal, a line
    per tenth of the run otherwise."""

    def __init__(self, t_end: float):
        self.t_end, self.tty = t_end, sys.stderr.isatty()
        self.shown, self.last = -1, 0.0

    def __call__(self, t: float, loss: float) -> None:
        frac = t / self.t_end if self.t_end else 1.0
        now = time.monotonic()
        if self.tty and (now - self.last > 0.2 or frac == 1.0):
            self.last = now
            print(f"\r{self._line(frac, t, loss)}", end="", file=sys.stderr, flush=True)
        elif not self.tty and int(10 * frac) > self.shown:
            self.shown = int(10 * frac)
            print(self._line(frac, t, loss), file=sys.stderr, flush=True)

    def _line(self, frac: float, t: float, loss: float) -> str:
        return (f"symcnn train [{'#' * int(30 * frac):<30}] t = {t:.4g} / {self.t_end:.4g}, "
                f"loss = {loss:.6g}")

    def done(self) -> None:
        if self.tty:
            print(file=sys.stderr)


def init_random(model, scale: float, seed: int = 0) -> tuple[np.ndarray, ...]:
    """Independent ``N(0, scale^2)`` entries for every parameter, seeded."""
    scale = positive("scale", scale)
    rng = np.random.default_rng(seed)
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
    if isinstance(model, FullyConnected):
        m = np.asarray(spectrum, dtype=float)
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
    m_hat = np.asarray(spectrum, dtype=complex)
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
    modes = stats.modes(rtol)
    return positive("u0", u0) * modes.u @ modes.v.reshape(len(modes.s), -1)


def aligned_spectrum(stats: Statistics, u0: float, rtol: float = 1e-12) -> np.ndarray:
    """``M_f(0) = u0 U_f V_f^*`` from the SVD ``T_f = U_f S_f V_f^*`` (singular values above
    ``rtol max S``): every mode of every frequency at strength ``u0``, aligned with the data.
    For ``C_in = 1`` this is ``u0 T_f / |T_f|`` (docs/theory-reference.md, R3)."""
    u0 = positive("u0", u0)
    t_hat = stats.output_spectrum()
    u, s, vh = fourier.hermitian_svd(t_hat, stats.shape)
    keep = s > rtol * np.max(s)
    return fourier.to_grid(u0 * np.einsum("fpa,fa,faq->fpq", u, keep, vh), stats.shape)
