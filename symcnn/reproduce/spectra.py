"""(c) Kernel spectra over time: the dominant frequency is discovered first.

A full kernel (R3, exact): white input with three modes on disjoint frequencies, trained
from small random weights; the simulated ``|M_f(t)|`` (norm over the outputs) against the
theory's (:meth:`~symcnn.theory.Theory.spectra` from :meth:`~symcnn.theory.Theory.
effective_u0`).  A small kernel (R4, linearised, one output): the first-layer spectrum
``|kappa_f(t)|`` turns to R4's top kernel spectrum (:func:`~symcnn.theory.small_kernels.
linearised`), which peaks at the dominant frequency ``f*``."""

from __future__ import annotations

import numpy as np

from .. import fourier, plots
from ..data import Statistics, grating
from ..model import LinearCNN
from ..simulate import Fast, init_random, train
from ..theory import Theory
from ..theory.small_kernels import linearised
from .base import Finding, Measure, Settings
from .speed import pattern

KEY = "c"
NAME = "spectra"
RTOL = 1e-8
"""Relative accuracy per step of the adaptive RK4 flow."""
FULL = {"N": 32, "scale": 1e-4, "speeds": (0.5, 0.3, 0.18), "times": 161}
"""Full kernel: image size, scale of the random start, the modes' dominant strengths
``s_a |v_hat_a[f*_a]|`` (in a random order) and the number of recorded times."""
SMALL = {"N": 16, "k": 7, "f*": (3, 4, 5), "scale": 1e-15, "times": 161,
         "linear phase": 1e-4, "resolution": 1e-13}
"""Small kernel: image and kernel size, the dominant frequencies drawn from (those the
kernel resolves, ``(k - 1) d(2 f*) >= 2 N``), the scale of the random start, the recorded
times, the end of the linear phase (``|M| / |Sigma_yx|``) and the pixel-weight resolution
of :func:`~symcnn.simulate.train` (accuracy about ``1.3e-17 / 1e-13 = 1e-4``)."""
VISIBLE = 0.01
"""Frequencies with ``|T_f|`` below this fraction of the largest are not compared for the
first to reach half its limit (a tiny limit is reached from the start)."""


def full_dataset(rng: np.random.Generator) -> Statistics:
    """White input, ``N_o = 3`` modes ``v_a`` (:func:`~symcnn.reproduce.speed.pattern` on
    disjoint random sets of frequency pairs), each ``s_a`` chosen so that
    ``s_a |v_hat_a[f*_a]|`` is one of ``FULL["speeds"]``."""
    n = FULL["N"]
    order = rng.permutation(n // 2 + 1)
    cuts = np.sort(rng.choice(np.arange(1, len(order)), 2, replace=False))
    v = np.array([pattern(rng, n, pairs) for pairs in np.split(order, cuts)])
    peak = np.abs(fourier.dft(v, 1)).max(axis=1)
    s = rng.permutation(FULL["speeds"]) / peak
    return Statistics(shape=(n,), sxx=np.eye(n), syx=s[:, None] * v)


def small_dataset(rng: np.random.Generator) -> Statistics:
    """White input, one output: ``Sigma_yx`` a unit row, a sum of gratings on every pair
    ``f = 0 .. N/2`` with random phases (0 on the self-conjugate ``0, N/2``): amplitude 1 at
    ``f*`` (drawn from ``SMALL["f*"]``), uniform in ``[0.2, 0.45]`` at two other pairs and in
    ``[0.02, 0.1]`` elsewhere, so that ``|v_hat[f*]| >= 2 |v_hat[f]|`` (a peaked mode) and
    every frequency carries data (each weight component has a share of the data, which
    :func:`~symcnn.simulate.train`'s resolution check needs)."""
    n, f_star = SMALL["N"], int(rng.choice(SMALL["f*"]))
    amplitudes = rng.uniform(0.02, 0.1, n // 2 + 1)
    others = rng.choice([f for f in range(1, n // 2) if f != f_star], 2, replace=False)
    amplitudes[others], amplitudes[f_star] = rng.uniform(0.2, 0.45, 2), 1.0
    row = sum(a * grating(n, f, 0.0 if f in (0, n // 2) else rng.uniform(0, 2 * np.pi))
              for f, a in enumerate(amplitudes))
    return Statistics(shape=(n,), sxx=np.eye(n), syx=row[None] / np.linalg.norm(row))


def pairs(spectrum: np.ndarray) -> np.ndarray:
    """``(..., N)`` per-frequency values to the pairs ``f = 0 .. N/2`` (the copy at ``-f``
    carries the same modulus)."""
    return spectrum[..., : spectrum.shape[-1] // 2 + 1]


def first_half_way(times, strengths: np.ndarray, limits: np.ndarray) -> tuple[int, np.ndarray]:
    """The frequency (``0 .. N/2``) whose ``|M_f(t)|`` (``strengths``, ``(T, N/2 + 1)``)
    first reaches half its limit, among those with a limit above :data:`VISIBLE` of the
    largest, and every such frequency's half-way time (interpolated; ``inf`` if not
    reached)."""
    half = np.full(len(limits), np.inf)
    for f in np.flatnonzero(limits >= VISIBLE * limits.max()):
        above = np.flatnonzero(strengths[:, f] >= limits[f] / 2)
        if len(above) and above[0] > 0:
            i = above[0]
            half[f] = np.interp(limits[f] / 2, strengths[i - 1: i + 1, f], times[i - 1: i + 1])
    return int(np.argmin(half)), half


def full_kernel(settings: Settings) -> dict:
    """Train the full-kernel CNN from a small random start; theory and simulation of
    ``|M_f(t)|``, the modes' half-way times and the first frequency to reach half."""
    stats = full_dataset(settings.rng(1))
    model = LinearCNN((FULL["N"],), channels=1, n_out=stats.n_out)
    theory = Theory(model, stats)
    params = init_random(model, FULL["scale"], settings.seed_of(2))
    u0 = theory.effective_u0(params)
    times = np.linspace(0, 1.5 * theory.half_times(u0).max(), FULL["times"])
    run = train(Fast(model, stats), params, times, rtol=RTOL)
    simulated, predicted = run.spectra[:, :, 0], theory.spectra(times, u0)[:, :, 0]
    modes = theory.modes
    mode_half = run.half_way_times(modes, modes.s)
    limits = pairs(theory.strengths[:, 0])
    first, half = first_half_way(times, pairs(np.linalg.norm(simulated, axis=1)), limits)
    scale = np.linalg.norm(simulated, axis=1).max()
    shown = np.where(limits >= VISIBLE * limits.max(), limits, np.nan)
    return {"times": times, "limits": limits,
            "predicted_half_times": np.where(np.isnan(shown), np.nan, pairs(
                theory.frequency_half_times(u0)[:, 0])),
            "simulated": pairs(np.linalg.norm(simulated, axis=1)) / shown,
            "deviation": np.linalg.norm(simulated - predicted, axis=1).max() / scale,
            "f*": [f[0] for f in modes.dominant_frequencies()], "mode_half_times": mode_half,
            "fastest": int(np.argmin(mode_half)), "first": first, "frequency_half_times": half}


def small_kernel(settings: Settings) -> dict:
    """Train the small-kernel CNN (one channel, one output) from a random start of scale
    ``SMALL["scale"]``; its kernel spectra over time, R4's top kernel spectrum, and the
    simulated spectrum at the end of the linear phase."""
    stats = small_dataset(settings.rng(3))
    model = LinearCNN((SMALL["N"],), (SMALL["k"],))
    lin = linearised(model, stats)
    grow = np.log(np.linalg.norm(stats.syx) / SMALL["scale"] ** 2) / (2 * lin.gamma[0])
    times = np.linspace(0, 1.3 * grow, SMALL["times"])
    run = train(Fast(model, stats), init_random(model, SMALL["scale"], settings.seed_of(4)),
                times, rtol=RTOL, resolution=SMALL["resolution"], record_params=True)
    kappa = np.array([fourier.kernel_spectrum(model, p[0])[0, 0] for p in run.params])
    size = np.linalg.norm(run.maps.reshape(len(times), -1), axis=1) / np.linalg.norm(stats.syx)
    early = int(np.flatnonzero(size <= SMALL["linear phase"])[-1])
    top = lin.kernel
    cosine = np.abs(np.vdot(top, kappa[early])) / (np.linalg.norm(top)
                                                   * np.linalg.norm(kappa[early]))
    peak = int(np.argmax(pairs(np.abs(kappa[early]))))
    moduli = pairs(np.abs(kappa))
    return {"times": times, "spectra": moduli / moduli.max(axis=1, keepdims=True),
            "early_time": times[early], "early": pairs(np.abs(kappa[early])) / np.linalg.norm(
                pairs(np.abs(kappa[early]))),
            "predicted": pairs(np.abs(top)) / np.linalg.norm(pairs(np.abs(top))),
            "target": pairs(np.abs(stats.output_spectrum()[0, 0])),
            "f*": stats.modes().dominant_frequencies()[0][0], "cosine": float(cosine),
            "simulated_peak": peak, "predicted_peak": int(np.argmax(pairs(np.abs(top)))),
            "gamma": lin.gamma[:2]}


def run(settings: Settings) -> Finding:
    """Both panels (the same sizes in quick and full mode: they take seconds)."""
    full, small = full_kernel(settings), small_kernel(settings)
    f_fast = full["f*"][full["fastest"]]
    # bounds: about twice the worst of seeds 0-4 (deviation 4.9e-4, 1 - cosine 1e-3)
    measures = [
        Measure("first_frequency", float(full["first"] != f_fast), 0.0,
                "full kernel: the first frequency to reach half its limit is not f* of the "
                "fastest mode (0: it is)"),
        Measure("full_deviation", full["deviation"], 1e-3,
                "full kernel: max_(t, f) |M_f theory - M_f simulated| / max |M_f|"),
        Measure("small_cosine", small["cosine"], 0.998,
                "small kernel: |cosine| of R4's top kernel spectrum with the simulated one at "
                "the end of the linear phase", upper=False),
        Measure("small_peak", float(small["simulated_peak"] != small["f*"]), 0.0,
                "small kernel: the simulated early spectrum does not peak at f* (0: it does)")]
    numbers = {key: value for part, data in (("full", full), ("small", small))
               for key, value in ((f"{part}_{k}", v) for k, v in data.items())
               if not key.endswith(("_simulated", "_predicted", "_spectra"))}
    return Finding(KEY, NAME, "Kernel spectra over time: the dominant frequency is discovered "
                   "first", _summary(full, small), measures, _figure(full, small), numbers)


def _summary(full, small) -> str:
    fastest = full["fastest"]
    return (
        f"Full kernel (N = {FULL['N']}, three modes with f* = "
        f"{', '.join(str(f) for f in full['f*'])}): the simulated |M_f(t)| (colour: the fraction "
        f"of its limit |T_f|) follows the theory to {full['deviation']:.1e} of the largest "
        "|M_f| (cyan ticks: each frequency's predicted half-way time); frequency "
        f"{full['first']} reaches half its limit first, at t = "
        f"{full['frequency_half_times'][full['first']]:.2f} tau, the dominant frequency of "
        f"mode {fastest + 1}, the fastest (half-way at {full['mode_half_times'][fastest]:.2f} "
        f"tau). Small kernel (k = {SMALL['k']}, N = {SMALL['N']}, one output, f* = "
        f"{small['f*']}): from a random start of scale {SMALL['scale']:g}, |kappa_f(t)| "
        f"turns to R4's top kernel spectrum (|cosine| {small['cosine']:.4f} at t = "
        f"{small['early_time']:.1f} tau, the end of the linear phase); the simulated "
        f"spectrum peaks at f = {small['simulated_peak']}, R4's at f = "
        f"{small['predicted_peak']}.")


def _figure(full, small):
    fig, axes = plots.figure(1, 3, width=4.6, height=3.9)
    _full_panel(fig, axes[0, 0], full)
    _small_panel(fig, axes[0, 1], small)
    _profile_panel(axes[0, 2], small)
    return fig


def _heat(fig, ax, times, values, label: str):
    """``values`` ``(T, N/2 + 1)`` as a heat map: x time, y frequency (NaN rows grey)."""
    ax.set_facecolor("0.55")
    image = ax.pcolormesh(times, np.arange(values.shape[1]), values.T, cmap="magma",
                          shading="nearest", vmin=0, vmax=1, rasterized=True)
    fig.colorbar(image, ax=ax, label=label, pad=0.02)
    ax.set_xlabel(r"training time $t / \tau$")
    ax.set_ylabel("frequency $f$")


def _mark(ax, f: int, text: str, x: float = 0.02, colour: str = "white") -> None:
    """``text`` at frequency ``f``, at ``x`` (axes fraction) inside ``ax``."""
    ax.annotate(text, xy=(x, f), xycoords=("axes fraction", "data"), va="center",
                color=colour, fontsize="small")


def _full_panel(fig, ax, full) -> None:
    _heat(fig, ax, full["times"], full["simulated"],
          r"$|M_f(t)| / |T_f|$, fraction of its limit (simulation)")
    f = np.arange(len(full["limits"]))
    ax.errorbar(full["predicted_half_times"], f, yerr=0.45, fmt="none", ecolor="cyan", lw=1.6,
                label=r"theory: $t_{1/2}$ of each frequency (R3)")
    first = full["first"]
    ax.plot(full["frequency_half_times"][first], first, "*", color="cyan", markersize=12,
            markeredgecolor="k", label=f"simulation: first to reach half, $f = {first}$")
    for a, fa in enumerate(full["f*"]):
        _mark(ax, fa, f"$f^*_{a + 1}$")
    ax.set_xlim(full["times"][0], full["times"][-1])
    ax.legend(fontsize="x-small", loc="upper right")
    ax.set_title("full kernel: theory over simulation (grey: $|T_f|$ < 1%);\n"
                 f"$f^*$ of the fastest mode ({full['fastest'] + 1}) reaches half first",
                 fontsize="medium")


def _small_panel(fig, ax, small) -> None:
    _heat(fig, ax, small["times"], small["spectra"],
          r"$|\kappa_f(t)| / \max_f |\kappa_f(t)|$ (simulation)")
    ax.axvline(small["early_time"], color="cyan", ls="--", lw=1)
    ax.text(small["early_time"], 0.3, " end of linear phase", color="cyan",
            fontsize="x-small", rotation=90, va="bottom")
    _mark(ax, small["f*"], "$f^*$", x=0.92, colour="k")
    ax.set_title(f"small kernel ($k = {SMALL['k']}$): the kernel spectrum\nturns to a peak at "
                 "$f^*$ from a random start", fontsize="medium")


def _profile_panel(ax, small) -> None:
    f = np.arange(len(small["predicted"]))
    ax.bar(f, small["target"] / np.linalg.norm(small["target"]), color="0.85",
           label=r"data $|T_f|$ (normalised)")
    ax.plot(f, small["predicted"], "-", color=plots.color(0),
            label="theory: R4's top kernel spectrum")
    ax.plot(f, small["early"], "o", color=plots.color(1), markerfacecolor="none",
            label=f"simulation at $t = {small['early_time']:.1f}\\,\\tau$")
    ax.axvline(small["f*"], color="k", ls=":", lw=1)
    ax.set_xlabel("frequency $f$")
    ax.set_ylabel(r"$|\kappa_f|$ (unit norm over $f = 0..N/2$)")
    ax.set_title(f"early kernel spectrum: R4 against simulation\n(|cosine| "
                 f"{small['cosine']:.4f}; $f^* = {small['f*']}$ dotted)", fontsize="medium")
    ax.set_ylim(0, 1.3)
    ax.legend(fontsize="small", loc="upper right")
