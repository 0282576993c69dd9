"""(b) Speed against mismatch: a linear CNN learns each dataset mode at a speed set by
``sqrt(N) s_a |v_hat_a[f*_a]|``, the fully connected network at a speed set by ``s_a`` alone.

Seeded datasets of white input with designed modes ``Sigma_yx = sum_a s_a e_a v_a^T``
(``v_a`` random mixtures of gratings and blobs on disjoint sets of frequencies, so that
the dominant weight ``|v_hat_a[f*_a]|`` varies widely), trained from a balanced aligned start
of strength ``u0``: the measured speed ``1 / t_a`` against the paper's dominant-frequency
approximation (:meth:`~symcnn.theory.Theory.dominant_frequency_half_times`) and R1."""

from __future__ import annotations

import numpy as np
from matplotlib import ticker

from .. import plots
from ..data import Statistics, blob, grating
from ..model import FullyConnected, LinearCNN
from ..simulate import Dense, Fast, aligned_map, aligned_spectrum, init_balanced, train
from ..theory import Theory
from .base import Finding, Measure, Settings

KEY = "b"
NAME = "speed"
U0 = 1e-6
"""Strength ``u0`` of the balanced aligned start (every frequency's mode, or every dataset
mode for the fully connected network)."""
RTOL = 1e-8
"""Relative accuracy per step of the adaptive RK4 flow."""
POINTS = 160
"""Recorded times per run, geometric between a third of the fastest and 1.5 times the
slowest predicted half-way time: consecutive times 3-4% apart."""
STRENGTHS = (0.25, 2.0)
"""Range of the singular values ``s_a`` (log-uniform)."""


def pattern(rng: np.random.Generator, n: int, pairs: np.ndarray) -> np.ndarray:
    """A unit 1-D pattern of ``n`` pixels whose spectrum lies on the frequency pairs
    ``+-f`` of ``pairs`` (``0 <= f <= n/2``): 1-2 gratings on random pairs of ``pairs``
    (random phases) and 0-2 blobs (random centre, width 0.5-3 pixels) restricted to
    ``pairs``, with weights uniform in ``[0.2, 1]``."""
    mask = np.isin(np.minimum(np.arange(n), n - np.arange(n)), pairs)
    parts = [grating(n, int(rng.choice(pairs)), rng.uniform(0, 2 * np.pi))
             for _ in range(rng.integers(1, 3))]
    parts += [np.real(np.fft.ifft(mask * np.fft.fft(blob(n, rng.uniform(0, n),
                                                          rng.uniform(0.5, 3.0)))))
              for _ in range(rng.integers(0, 3))]
    mixture = sum(rng.uniform(0.2, 1.0) * p / np.linalg.norm(p) for p in parts)
    return mixture / np.linalg.norm(mixture)


def dataset(rng: np.random.Generator, n: int, modes: int) -> Statistics:
    """White input (``Sigma_xx = I``) and ``Sigma_yx = sum_a s_a e_a v_a^T`` with ``v_a``
    random :func:`pattern` s on disjoint random sets of frequency pairs (so orthonormal, and
    the modes on disjoint frequencies, as the dominant-frequency approximation assumes),
    ``s_a`` log-uniform in :data:`STRENGTHS`, one output per mode."""
    order = rng.permutation(n // 2 + 1)
    cuts = np.sort(rng.choice(np.arange(1, len(order)), modes - 1, replace=False))
    v = np.array([pattern(rng, n, pairs) for pairs in np.split(order, cuts)])
    s = np.exp(rng.uniform(*np.log(STRENGTHS), modes))
    return Statistics(shape=(n,), sxx=np.eye(n), syx=s[:, None] * v)


def measured_half_times(theory: Theory, engine, start) -> np.ndarray:
    """Simulated half-way times ``t_a`` (``u_a(t_a) = s_a / 2``, interpolated) of the
    dataset's modes, training ``start`` with ``engine`` on :data:`POINTS` geometric times
    around the theory's exact half-way times."""
    predicted = theory.half_times(U0)
    times = np.geomspace(predicted.min() / 3, 1.5 * predicted.max(), POINTS)
    run = train(engine, start, times, rtol=RTOL)
    return run.half_way_times(theory.modes, theory.modes.s)


def measure_dataset(stats: Statistics) -> dict[str, np.ndarray]:
    """For each mode of ``stats``: ``s_a``, the mismatch ``sqrt(N) |v_hat_a[f*_a]|``, the
    CNN's (full kernel, one channel) half-way times by the dominant-frequency approximation,
    by the exact theory and simulated, and the fully connected network's by R1 and
    simulated."""
    n, r = stats.n_pixels, stats.n_out
    cnn = Theory(LinearCNN((n,), channels=1, n_out=r), stats)
    fc = Theory(FullyConnected(n, r, r), stats)
    return {
        "s": cnn.modes.s, "mismatch": cnn.modes.mismatch(),
        "cnn_dominant": cnn.dominant_frequency_half_times(U0),
        "cnn_exact": cnn.half_times(U0),
        "cnn_simulated": measured_half_times(cnn, Fast(cnn.model, stats), init_balanced(
            cnn.model, aligned_spectrum(stats, U0))),
        "fc_r1": fc.half_times(U0),
        "fc_simulated": measured_half_times(fc, Dense(fc.model, stats), init_balanced(
            fc.model, aligned_map(stats, U0)))}


def rank_correlation(x, y) -> float:
    """Spearman's rank correlation of ``x`` and ``y`` (no ties): Pearson's of the ranks."""
    ranks = [np.argsort(np.argsort(a)) for a in (x, y)]
    return float(np.corrcoef(*ranks)[0, 1])


def run(settings: Settings) -> Finding:
    """Measure the speeds of the modes of seeded datasets (quick: 4 datasets of ``N = 16``;
    full: 9 of ``N = 16, 24, 32``), 2-4 modes each."""
    sizes = (16,) * 4 if settings.quick else (16, 24, 32) * 3
    rng = settings.rng(0)
    rows = [measure_dataset(dataset(rng, n, int(rng.integers(2, 5)))) for n in sizes]
    data = {key: np.concatenate([row[key] for row in rows]) for key in rows[0]}
    sizes_per_mode = np.concatenate([[n] * len(row["s"]) for n, row in zip(sizes, rows,
                                                                             strict=True)])
    errors = {"dominant": np.abs(data["cnn_simulated"] / data["cnn_dominant"] - 1),
              "exact": np.abs(data["cnn_simulated"] / data["cnn_exact"] - 1),
              "r1": np.abs(data["fc_simulated"] / data["fc_r1"] - 1)}
    correlation = rank_correlation(1 / data["cnn_simulated"], data["mismatch"] * data["s"])
    # bounds: about twice the worst of quick seeds 0-12 and full seeds 0-4
    measures = [
        Measure("dominant_median", float(np.median(errors["dominant"])), 0.08,
                "CNN, dominant-frequency approximation (an approximation): median relative "
                "speed error"),
        Measure("dominant_worst", float(errors["dominant"].max()), 1.5,
                "CNN, dominant-frequency approximation (an approximation): worst relative "
                "speed error"),
        Measure("exact_worst", float(errors["exact"].max()), 8e-4,
                "CNN, exact theory (R3 on every frequency): worst relative speed error"),
        Measure("r1_worst", float(errors["r1"].max()), 2.5e-5,
                "fully connected, R1 (exact): worst relative speed error"),
        Measure("rank_correlation", correlation, 0.9,
                "rank correlation of the CNN's measured speed with sqrt(N) s_a |v_hat_a[f*_a]|",
                upper=False)]
    numbers = {"N": sizes_per_mode, "u0": U0, **data,
               "speed_errors": {k: v for k, v in errors.items()}}
    return Finding(KEY, NAME, "Learning speed is set by the mismatch sqrt(N) s_a |v_hat_a[f*_a]|",
                   _summary(data, errors, correlation), measures, _figure(data), numbers)


def _summary(data, errors, correlation) -> str:
    ratio = data["fc_simulated"] / data["cnn_simulated"]
    worst = int(np.argmax(errors["dominant"]))
    return (
        f"{len(data['s'])} modes of seeded datasets (mismatch sqrt(N) |v_hat_a[f*_a]| from "
        f"{data['mismatch'].min():.2f} to {data['mismatch'].max():.2f}), trained from a "
        f"balanced aligned start u0 = {U0:g}. The CNN's measured speed 1/t_a lies on the "
        "diagonal of the dominant-frequency prediction from sqrt(N) s_a |v_hat_a[f*_a]| to a "
        f"median {100 * np.median(errors['dominant']):.1f}% (worst "
        f"{100 * errors['dominant'].max():.0f}%, a mode of mismatch "
        f"{data['mismatch'][worst]:.2f} that needs more than its dominant frequency; the "
        f"exact theory to {errors['exact'].max():.1e}), and its rank correlation with "
        f"sqrt(N) s_a |v_hat_a[f*_a]| is {correlation:.3f}. The fully connected network "
        f"follows R1 (speed from s_a alone) to {errors['r1'].max():.1e}; the CNN is "
        f"{ratio.min():.1f} to {ratio.max():.1f} times faster than R1 predicts from s_a "
        "(grey, off the diagonal).")


def _figure(data):
    fig, axes = plots.figure(1, 2, width=5.2, height=4.6)
    cnn, fc = axes[0]
    colours = cnn.scatter(1 / data["cnn_dominant"], 1 / data["cnn_simulated"],
                          c=data["mismatch"], cmap="viridis", s=30, zorder=3,
                          label=r"CNN against $\sqrt{N}\,s_a|\hat v_a[f^*_a]|$ "
                                "(dominant frequency)")
    cnn.scatter(1 / data["fc_r1"], 1 / data["cnn_simulated"], marker="x", color="0.6", s=22,
                label=r"CNN against $s_a$ alone (R1's formula)")
    fig.colorbar(colours, ax=cnn, shrink=0.75, pad=0.02,
                 label=r"mismatch $\sqrt{N}\,|\hat v_a[f^*_a]|$")
    fc.scatter(1 / data["fc_r1"], 1 / data["fc_simulated"], color=plots.color(1), s=30,
               marker="s", facecolors="none", label=r"fully connected against R1 ($s_a$)")
    for ax, title, corner in (
            (cnn, "CNN: speed set by the mismatch (colour), not by $s_a$ alone (grey)",
             "lower right"),
            (fc, "fully connected: speed set by $s_a$ alone (R1, exact)", "upper left")):
        _diagonal(ax)
        ax.set_title(title, fontsize="medium")
        ax.set_xlabel(r"predicted speed $\tau / t_{1/2}$")
        ax.set_ylabel(r"measured speed $\tau / t_{1/2}$ (simulation)")
        ax.legend(fontsize="small", loc=corner)
    return fig


def _diagonal(ax) -> None:
    """Log axes, ticks labelled as plain numbers, and the identity line ``y = x`` (the
    theory) over the data's range."""
    low = min(ax.dataLim.x0, ax.dataLim.y0) / 1.5
    high = max(ax.dataLim.x1, ax.dataLim.y1) * 1.5
    ax.plot([low, high], [low, high], color="k", lw=1, label="theory: measured = predicted")
    ax.set_xscale("log")
    ax.set_yscale("log")
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        axis.set_major_formatter(ticker.FormatStrFormatter("%g"))
        axis.set_minor_formatter(ticker.NullFormatter())
    ax.set_xlim(low, high)
    ax.set_ylim(low, high)
    ax.set_aspect("equal")
