"""Finding (f): real data.  scikit-learn's 8x8 digits, ZCA-whitened on their support (some
pixels are always 0, so ``Sigma_xx = Pi``, the orthogonal projector onto the support), with
one-hot targets: the theory's loss and per-mode half-way times beside gradient flow of the
linear CNN (full kernel) and of the fully connected network from small random weights.

The fully connected theory is exact on this input (R1, white on its support; its only
approximation is the effective initial strength of random weights).  The CNN's is not: the
input is not stationary, and ``Theory(approximate=True)`` replaces ``Sigma_xx`` by its
block-circulant projection, a labelled approximation whose measured accuracy this finding
states.  (The pixels that are always 0 span the complement of the support, so ``Pi`` is
diagonal, 0 at those pixels, and its projection is ``lambda_f = tr Pi / N`` at every
frequency.)"""

from __future__ import annotations

import warnings

import numpy as np

from .. import datasets, plots
from ..analysis import Comparison, compare
from ..checks import instance
from ..data import Statistics, zca_whiten
from ..model import FullyConnected, LinearCNN
from ..theory import ApproximationWarning
from .base import Finding, Measure, Settings

KEY = "f"
NAME = "digits"
WIDTH = 10
"""Channels ``C`` of the CNN and hidden units of the fully connected network."""
FRACTION = 0.8
"""Share of the 1797 digits drawn (without replacement) for a run: the seed's dataset."""
RUNS = {True: (1e-4, {"CNN": (9.0, 73), "fully connected": (70.0, 71)}),
        False: (1e-5, {"CNN": (14.0, 113), "fully connected": (90.0, 91)})}
"""Quick (``True``) and full run: the standard deviation of the random initial weights (the
same for both networks) and each network's ``(t_end / tau, recorded times)``, a little past
the last mode's half-way time (a smaller start learns later, and more exactly)."""
TICKS = (1, 2, 3, 5, 10, 20, 30, 50, 100, 200)
"""Labelled times of the half-way-time panel's logarithmic axes."""
NETWORKS = ("CNN", "fully connected")
BOUNDS = {True: {"cnn_loss_error": 0.02, "cnn_half_time_error_median": 0.012,
                 "cnn_half_time_error_worst": 0.03, "fc_loss_error": 0.04,
                 "fc_half_time_error_median": 0.025, "fc_half_time_error_worst": 0.12},
          False: {"cnn_loss_error": 0.015, "cnn_half_time_error_median": 0.012,
                  "cnn_half_time_error_worst": 0.03, "fc_loss_error": 0.03,
                  "fc_half_time_error_median": 0.012, "fc_half_time_error_worst": 0.06}}
"""Stated agreement of each measure, quick and full: 1.5-2 times the worst of seeds 0-9
(quick: 0.011, 0.0064, 0.017, 0.025, 0.014, 0.080) and 0-5 (full: 0.0087, 0.0062, 0.019,
0.017, 0.0078, 0.032).  The fully connected errors are those of a random start with as many
hidden units as modes (``effective_u0``), smaller from the full run's smaller start; the
CNN's are mostly the approximation's."""
DESCRIPTIONS = {
    "loss_error": "max_t |L(t) - L_sim(t)| / (L_sim(0) - L_sim(t_end))",
    "half_time_error_median": "median over the modes reached of |t_a pred / t_a sim - 1|",
    "half_time_error_worst": "largest over the modes reached of |t_a pred / t_a sim - 1|"}


def statistics(rng: np.random.Generator) -> tuple[Statistics, int]:
    """One-hot statistics of a random :data:`FRACTION` of the digits, ZCA-whitened on their
    support (``<x x^T> = Pi`` to rounding: some pixels are always 0), and the number of
    samples."""
    x, labels = datasets.digits()
    kept = rng.choice(len(x), int(FRACTION * len(x)), replace=False)
    white, _ = zca_whiten(x[kept], support=True)
    return Statistics.from_samples(white, labels[kept], n_out=10), len(kept)


def train(stats: Statistics, settings: Settings) -> dict[str, Comparison]:
    """Per network of :data:`NETWORKS`, :func:`symcnn.analysis.compare` on
    ``RUNS[settings.quick]`` (CNN: ``approximate=True``; seeds from streams 1 and 2)."""
    models = (LinearCNN(stats.shape, channels=WIDTH, n_out=stats.n_out),
              FullyConnected(stats.n_in, WIDTH, stats.n_out))
    scale, horizons = RUNS[settings.quick]
    out = {}
    for i, (name, model) in enumerate(zip(NETWORKS, models, strict=True)):
        end, points = horizons[name]
        out[name] = compare(model, stats, np.linspace(0, end, points), scale,
                            settings.seed_of(1 + i), approximate=name == "CNN")
    return out


def loss_error(c: Comparison) -> float:
    """``max_t |L(t) - L_sim(t)|`` over the run's times, in units of the simulated drop
    ``L_sim(0) - L_sim(t_end)``."""
    sim = c.trajectory.loss
    return float(np.max(np.abs(c.theory.loss(c.trajectory.times, c.u0) - sim))
                 / (sim[0] - sim[-1]))


def half_time_errors(c: Comparison) -> np.ndarray:
    """``|t_a predicted / t_a simulated - 1|`` of the modes the run reached."""
    errors = np.abs(c.half_time_errors)
    return errors[np.isfinite(errors)]


def values(runs: dict[str, Comparison]) -> dict[str, float]:
    """Every measure's value, keyed as :data:`BOUNDS` (``nan`` when no mode was reached)."""
    out = {}
    for prefix, name in zip(("cnn", "fc"), NETWORKS, strict=True):
        errors = half_time_errors(runs[name])
        out[f"{prefix}_loss_error"] = loss_error(runs[name])
        out[f"{prefix}_half_time_error_median"] = (
            float(np.median(errors)) if len(errors) else np.nan)
        out[f"{prefix}_half_time_error_worst"] = (
            float(np.max(errors)) if len(errors) else np.nan)
    return out


def draw_loss(ax, c: Comparison, index: int, title: str) -> None:
    """The predicted loss (line, 400 times) and the simulated one (markers) over time."""
    times = c.trajectory.times
    lines = np.linspace(0, times[-1], 400)
    ax.plot(lines, c.theory.loss(lines, c.u0), color=plots.color(index), label="theory")
    ax.plot(times, c.trajectory.loss, "o", color=plots.color(index), markersize=3.5,
            markerfacecolor="none", label="simulation")
    ax.set_xlabel(r"training time $t / \tau$")
    ax.set_ylabel(r"loss $\mathcal{L}(t)$")
    ax.set_title(title)
    ax.legend(fontsize="small")


def draw_half_times(ax, runs: dict[str, Comparison], speed: float) -> None:
    """Predicted against simulated half-way times per mode, both networks, on ``y = x``;
    ``speed`` the ratio of the networks' median half-way times, for the title."""
    for i, (name, c) in enumerate(runs.items()):
        ax.plot(c.simulated_half_times, c.predicted_half_times, "os"[i], color=plots.color(i),
                markerfacecolor="none", label=f"{name} ({len(c.predicted_half_times)} modes)")
    known = np.concatenate([np.r_[c.simulated_half_times, c.predicted_half_times]
                            for c in runs.values()])
    known = known[np.isfinite(known)]
    edges = [known.min() / 1.3, known.max() * 1.3]
    ax.plot(edges, edges, "k--", linewidth=1, label="prediction = simulation")
    ticks = [t for t in TICKS if edges[0] <= t <= edges[1]]
    ax.set_xscale("log")
    ax.set_yscale("log")
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_ticks(ticks, [f"{t:g}" for t in ticks])
        axis.set_ticks([], minor=True)
    ax.set_xlabel(r"simulated half-way time $t_{1/2} / \tau$")
    ax.set_ylabel(r"predicted half-way time $t_{1/2} / \tau$")
    ax.set_title("half-way time of each mode ($u_a(t) = s_a / 2$):\n"
                 f"on the identity line; the CNN {speed:.1f}x earlier")
    ax.legend(fontsize="small", loc="upper left")


def draw(runs: dict[str, Comparison], stats: Statistics, samples: int, speed: float,
         scale: float):
    """The figure: each network's loss, and the half-way times of both (``speed`` for the
    title, ``scale`` that of the initial weights)."""
    fig, axes = plots.figure(1, 3, width=4.6, height=4.0)
    draw_loss(axes[0, 0], runs["CNN"], 0, f"CNN ($C$ = {WIDTH}, full 8x8 kernel): approximate"
              "\ntheory (non-stationary input) tracks training")
    draw_loss(axes[0, 1], runs["fully connected"], 1, f"fully connected ({WIDTH} hidden): "
              "theory white\non its support (R1) tracks training")
    axes[0, 0].sharey(axes[0, 1])
    draw_half_times(axes[0, 2], runs, speed)
    fig.suptitle(f"8x8 digits ({samples} samples), ZCA-whitened on the support (rank "
                 f"{round(np.trace(stats.sxx))} of {stats.n_in}), one-hot targets; random start "
                 f"$\\mathcal{{N}}(0, \\sigma^2)$, $\\sigma$ = {scale:g}")
    return fig


def summary(stats: Statistics, samples: int, runs: dict[str, Comparison],
            measured: dict[str, float], speed: float, scale: float) -> str:
    """What the figure shows, with the run's numbers."""
    cnn, fc = (runs[name] for name in NETWORKS)
    return (
        f"On {samples} of scikit-learn's 8x8 digits (a random {FRACTION:.0%}), ZCA-whitened on "
        f"the rank-{round(np.trace(stats.sxx))} support of their pixels (relative deviation "
        f"from stationary {stats.stationarity:.2f}), both networks are trained from "
        f"$\\mathcal{{N}}(0, \\sigma^2)$ weights, $\\sigma$ = {scale:g}. "
        "The fully connected theory (white on its support) predicts the loss to "
        f"{measured['fc_loss_error']:.1%} of its drop and the {len(fc.limits)} modes' half-way "
        f"times to {measured['fc_half_time_error_median']:.1%} (median; worst "
        f"{measured['fc_half_time_error_worst']:.1%}). "
        "The CNN's theory is an approximation, announced by an ApproximationWarning (caught "
        f"here): {'; '.join(cnn.theory.approximations)}; it predicts the loss to "
        f"{measured['cnn_loss_error']:.1%} and the half-way times to "
        f"{measured['cnn_half_time_error_median']:.1%} (median; worst "
        f"{measured['cnn_half_time_error_worst']:.1%}). "
        f"The CNN reaches the half-way times {speed:.1f}x earlier (median) than the fully "
        "connected network.")


def run(settings: Settings) -> Finding:
    """Finding (f): see the module docstring."""
    instance("settings", settings, Settings)
    stats, samples = statistics(settings.rng(0))
    scale = RUNS[settings.quick][0]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ApproximationWarning)
        runs = train(stats, settings)
        measured = values(runs)
        speed = float(np.nanmedian(runs[NETWORKS[1]].simulated_half_times)
                      / np.nanmedian(runs[NETWORKS[0]].simulated_half_times))
        fig = draw(runs, stats, samples, speed, scale)
    bounds = BOUNDS[settings.quick]
    measures = [Measure(k, measured[k], bounds[k],
                        ("CNN: " if k.startswith("cnn") else "fully connected: ")
                        + DESCRIPTIONS[k.split("_", 1)[1]]) for k in bounds]
    numbers = {"samples": samples, "support rank": round(np.trace(stats.sxx)),
               "stationarity": stats.stationarity, "s_a": stats.modes().s,
               "speed ratio": speed, "approximation warnings": sorted(
                   {str(w.message) for w in caught
                    if issubclass(w.category, ApproximationWarning)})}
    for prefix, name in zip(("cnn", "fc"), NETWORKS, strict=True):
        c = runs[name]
        numbers |= {f"{prefix} predicted half times": c.predicted_half_times,
                    f"{prefix} simulated half times": c.simulated_half_times,
                    f"{prefix} times": c.trajectory.times,
                    f"{prefix} simulated loss": c.trajectory.loss}
    return Finding(KEY, NAME, "Real data: whitened 8x8 digits",
                   summary(stats, samples, runs, measured, speed, scale), measures, fig, numbers)
