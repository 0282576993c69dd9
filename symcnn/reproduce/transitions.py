"""Finding (a): stage-like transitions.  On white input with modes of well-separated
strengths, the linear CNN and its fully connected baseline each learn the dataset's modes one
at a time, in sigmoidal steps separated by plateaus (R1, R3): mode ``a`` at the rate
``2 sqrt(N) s_a |v_hat_a[f*_a]| / tau`` (CNN) or ``2 s_a / tau`` (fully connected).

The helpers :func:`train_both`, :func:`curve_deviation`, :func:`plateau` and :func:`draw`
are shared with finding (d) (:mod:`symcnn.reproduce.texture`)."""

from __future__ import annotations

import numpy as np
from matplotlib import ticker

from .. import plots
from ..analysis import Comparison, compare
from ..data import Statistics, grating
from ..model import FullyConnected, LinearCNN
from ..simulate import init_random
from ..theory import Theory
from .base import Finding, Measure, Settings

KEY = "a"
NAME = "transitions"
SCALE = 1e-5
"""Standard deviation of the random initial weights: a small start, so plateaus are long."""
WIDTH = 8
"""Channels ``C`` of the CNN and hidden units of the fully connected network."""
SIZES = {True: (16, 3), False: (32, 4)}
"""``(N, number of modes)`` of a quick (``True``) and a full run."""
POINTS = 64
"""Recorded times on the logarithmic grid of each run."""
BRACKET = 1e-4
"""Extra recorded times at ``t_a (1 +- BRACKET)`` around each predicted half-way time
``t_a``, so the interpolated simulated half-way times are accurate to far below the
bounds."""
NETWORKS = ("CNN", "fully connected")
BOUNDS = {"cnn_half_time_error": 1e-7, "fc_half_time_error": 3e-7,
          "cnn_curve_deviation": 5e-7, "fc_curve_deviation": 7e-6, "orders_agree": 1,
          "plateau": 1e-4}
"""Stated agreement of each measure: at least twice the worst of seeds 0-9 (quick) and 0-2
(full), rounded up (the fully connected curve deviation, heavy-tailed, about 4x)."""


def dataset(n: int, r: int, rng: np.random.Generator) -> Statistics:
    """White input on ``N = n`` pixels with ``Sigma_yx = sum_a s_a u_a v_a^T``: ``v_a`` unit
    gratings at ``r`` distinct random frequencies ``1 .. N/2 - 1`` (one conjugate pair each,
    mismatch ``sqrt(N/2)``) with random phases, ``u_a`` random orthonormal (``N_o = r``),
    ``s_1 = 4`` and ``s_{a+1} / s_a`` uniform in ``[0.3, 0.45]``."""
    freqs = rng.choice(np.arange(1, n // 2), r, replace=False)
    v = np.stack([grating((n,), (f,), phase=p)
                  for f, p in zip(freqs, rng.uniform(0, 2 * np.pi, r), strict=True)])
    u = np.linalg.qr(rng.standard_normal((r, r)))[0]
    s = 4.0 * np.cumprod(np.r_[1.0, rng.uniform(0.3, 0.45, r - 1)])
    return Statistics(shape=(n,), sxx=np.eye(n), syx=(u * s) @ v)


def networks(stats: Statistics, width: int) -> dict[str, LinearCNN | FullyConnected]:
    """The full-kernel linear CNN (``C = width``) and the fully connected network
    (``width`` hidden units) on ``stats``, by the names of :data:`NETWORKS`."""
    return dict(zip(NETWORKS, (LinearCNN(stats.shape, channels=width, n_out=stats.n_out),
                               FullyConnected(stats.n_in, width, stats.n_out)), strict=True))


def recording_times(model, stats: Statistics, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Times to record a run of ``model`` from ``init_random(model, SCALE, seed)``: a
    logarithmic grid of :data:`POINTS` from a fifth of the first predicted half-way time to
    2.5 times the last, with ``t_a (1 +- BRACKET)`` added; and the mask of the grid's times."""
    theory = Theory(model, stats)
    half = theory.half_times(theory.effective_u0(init_random(model, SCALE, seed)))
    grid = np.geomspace(half.min() / 5, 2.5 * half.max(), POINTS)
    times = np.concatenate([grid, np.outer(half, [1 - BRACKET, 1 + BRACKET]).ravel()])
    order = np.argsort(times)
    return times[order], order < POINTS


def train_both(stats: Statistics, width: int, settings: Settings,
               stream: int) -> dict[str, tuple[Comparison, np.ndarray]]:
    """Per network of :func:`networks`, the theory beside gradient flow from
    ``N(0, SCALE^2)`` weights (:func:`symcnn.analysis.compare`, seeds from ``settings``'
    streams ``stream`` and ``stream + 1``), with the mask of :func:`recording_times`."""
    out = {}
    for i, (name, model) in enumerate(networks(stats, width).items()):
        seed = settings.seed_of(stream + i)
        times, grid = recording_times(model, stats, seed)
        out[name] = compare(model, stats, times, SCALE, seed), grid
    return out


def curve_deviation(c: Comparison) -> float:
    """``max_{t, a} |u_a(t) - u_a^sim(t)| / s_a``: theory against simulation, normalised by
    each mode's limit."""
    return float(np.max(np.abs(c.predicted - c.simulated) / np.abs(c.limits)))


def plateau(c: Comparison) -> float:
    """The largest ``u_b(t_a) / s_b`` of the mode ``b`` learned right after mode ``a``, at
    ``a``'s simulated half-way time ``t_a`` (the simulated curve, interpolated): how far the
    next step has started while one is half done (0 for perfectly separated stages)."""
    order = np.argsort(c.simulated_half_times)
    return float(max(np.interp(c.simulated_half_times[a], c.trajectory.times,
                               c.simulated[:, b] / c.limits[b])
                     for a, b in zip(order[:-1], order[1:], strict=True)))


def _successive_ratios(half_times: np.ndarray) -> np.ndarray:
    """``t_(a+1) / t_(a)`` of the half-way times in increasing order."""
    t = np.sort(half_times)
    return t[1:] / t[:-1]


def draw(ax, c: Comparison, grid: np.ndarray, title: str) -> list[tuple]:
    """``u_a(t) / s_a`` on a logarithmic time axis: the theory (lines, 400 times), the
    simulation (markers at the grid's times) and each predicted half-way time (dotted);
    returns a (line, markers) legend handle per mode, for :func:`legend`."""
    times = c.trajectory.times
    lines = np.geomspace(times[0], times[-1], 400)
    handles = plots.strengths(ax, lines,
                              c.theory.dataset_mode_strengths(lines, c.u0) / c.limits,
                              c.simulated[grid] / c.limits, times[grid], title=title,
                              legend=False)
    for a, t in enumerate(c.predicted_half_times):
        ax.axvline(t, color=plots.color(a), linestyle=":", linewidth=1)
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(ticker.LogLocator(subs=(1, 2, 5)))
    ax.xaxis.set_major_formatter(ticker.FormatStrFormatter("%g"))
    ax.xaxis.set_minor_formatter(ticker.NullFormatter())
    return handles


def legend(fig, handles: list[tuple], labels: list[str]) -> None:
    """One legend for the figure, below its panels: a (line, markers) entry per mode."""
    fig.legend(handles, labels, loc="outside lower center", ncols=len(labels),
               title="lines: theory, markers: simulation, dotted: predicted half-way times",
               fontsize="small", title_fontsize="small")


def run(settings: Settings) -> Finding:
    """Finding (a): see the module docstring."""
    n, r = SIZES[settings.quick]
    stats = dataset(n, r, settings.rng(0))
    runs = train_both(stats, WIDTH, settings, 1)
    modes = stats.modes()
    speeds = {NETWORKS[0]: modes.s * modes.mismatch(), NETWORKS[1]: modes.s}
    fig, axes = plots.figure(1, 2, width=5.6, height=4.0)
    for ax, (name, (c, grid)) in zip(axes[0], runs.items(), strict=True):
        handles = draw(ax, c, grid, f"{name} (N = {n}, {WIDTH} "
                       f"{'channels' if name == 'CNN' else 'hidden units'}):\n"
                       "one mode per step, plateaus between")
    legend(fig, handles, [f"$s_{a + 1}$ = {s:.2f}, $f^*_{a + 1}$ = {f[0]}"
                          for a, (s, f) in enumerate(zip(modes.s, modes.dominant_frequencies(),
                                                         strict=True))])
    cnn, fc = (runs[name][0] for name in NETWORKS)
    agree = all(np.array_equal(np.argsort(c.predicted_half_times),
                               np.argsort(c.simulated_half_times)) for c in (cnn, fc))
    values = {"cnn_half_time_error": np.max(np.abs(cnn.half_time_errors)),
              "fc_half_time_error": np.max(np.abs(fc.half_time_errors)),
              "cnn_curve_deviation": curve_deviation(cnn),
              "fc_curve_deviation": curve_deviation(fc), "orders_agree": float(agree),
              "plateau": max(plateau(cnn), plateau(fc))}
    descriptions = {
        "cnn_half_time_error": "CNN: largest |t_a predicted / t_a simulated - 1|",
        "fc_half_time_error": "fully connected: largest |t_a predicted / t_a simulated - 1|",
        "cnn_curve_deviation": "CNN: largest |u_a(t) - u_a simulated(t)| / s_a",
        "fc_curve_deviation": "fully connected: largest |u_a(t) - u_a simulated(t)| / s_a",
        "orders_agree": "1 if both networks learn the modes in the predicted order",
        "plateau": "largest u_b(t_a) / s_b of the next mode b at a mode's simulated "
                   "half-way time t_a (both networks)"}
    measures = [Measure(k, values[k], BOUNDS[k], descriptions[k], upper=k != "orders_agree")
                for k in BOUNDS]
    ratios = {name: _successive_ratios(runs[name][0].simulated_half_times)
              for name in NETWORKS}
    summary = (
        f"Both networks learn the {r} grating modes of white data one at a time, strongest "
        f"first, each in one sigmoidal step; successive half-way times differ by factors "
        f"{ratios['CNN'].min():.2f}-{ratios['CNN'].max():.2f} (CNN) and "
        f"{ratios['fully connected'].min():.2f}-{ratios['fully connected'].max():.2f} "
        f"(fully connected). "
        f"While one mode is half learned the next is at most {values['plateau']:.1e} of "
        f"its limit. The CNN is faster by the mismatch sqrt(N) |v_hat_a[f*_a]| = "
        f"{modes.mismatch()[0]:.2f}. Theory (lines, from the effective initial strengths of "
        f"the random start) and simulation (markers) agree to "
        f"{max(values['cnn_curve_deviation'], values['fc_curve_deviation']):.1e} of s_a, "
        f"and in half-way times to {values['cnn_half_time_error']:.1e} (CNN) and "
        f"{values['fc_half_time_error']:.1e} (fully connected).")
    numbers = {"s": modes.s, "dominant frequencies": [f[0] for f in
                                                      modes.dominant_frequencies()],
               "speeds": speeds, "half-time ratios": ratios}
    for name in NETWORKS:
        c = runs[name][0]
        numbers[name] = {"predicted half-way times": c.predicted_half_times,
                         "simulated half-way times": c.simulated_half_times,
                         "half-time errors": c.half_time_errors,
                         "curve deviation": curve_deviation(c), "plateau": plateau(c)}
    return Finding(KEY, NAME, "Stage-like transitions: one mode per step", summary,
                   measures, fig, numbers)
