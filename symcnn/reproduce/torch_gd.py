"""(g) PyTorch (``symcnn reproduce --torch``): a linear CNN trained by torch's full-batch
gradient descent follows the theory.

White input from samples (ZCA-whitened, so ``Sigma_xx = I``), two designed modes, a CNN
(full kernel) from a balanced aligned start of strength ``u0``, converted to torch
(:func:`symcnn.torch.convert.to_torch`) and trained with ``torch.optim.SGD``
(:func:`symcnn.torch.training.train`) at two steps ``eta`` and ``eta / 2``: each
frequency's ``||M_f(t)||`` against the closed form (R3; the gap is gradient descent's
discretisation, first order in ``eta``) and against the exact discrete map of
:meth:`~symcnn.theory.Theory.gd_mode_strengths` (equal to rounding)."""

from __future__ import annotations

import numpy as np

from .. import plots
from ..data import Statistics, grating, zca_whiten
from ..model import LinearCNN
from ..simulate import aligned_spectrum, init_balanced
from ..theory import Theory
from ..torch.convert import to_torch
from ..torch.training import train
from .base import Finding, Measure, Settings

KEY = "g"
NAME = "torch"
N, SAMPLES, U0 = 16, 256, 1e-3
"""Image size, samples and the aligned start's strength."""
STEP = 0.1
"""The larger step ``eta``, as a fraction of :attr:`Theory.max_stable_lr`."""
RECORDS = 40
"""Recorded times of the larger step's run (the smaller step records at the same times)."""
BOUNDS = {"map_deviation": 1e-10, "flow_deviation": 0.1, "order": 0.15}
"""Stated agreement: with the exact discrete map to ``1e-10`` of ``max ||M_f||`` (rounding);
with the closed form within 10% (the discretisation at ``eta = 0.1 / (c max s)``; measured
5.3-5.8% for seeds 0-5); the deviation's ratio between the two steps within 0.15 of 2 (first
order in ``eta``; measured at most 0.056 off); measured map deviation at most 1.6e-15."""


def samples(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """White samples ``x`` ``(P, 1, N)`` and targets ``y = A x`` of two modes: unit gratings
    at two random frequencies, strengths uniform in ``[0.8, 1.2]`` and ``[0.3, 0.6]``, random
    orthonormal outputs."""
    x = zca_whiten(rng.standard_normal((SAMPLES, 1, N)))[0]
    freqs = rng.choice(np.arange(1, N // 2), 2, replace=False)
    v = np.stack([grating(N, f, rng.uniform(0, 2 * np.pi)) for f in freqs])
    u = np.linalg.qr(rng.standard_normal((2, 2)))[0]
    strengths = [rng.uniform(0.8, 1.2), rng.uniform(0.3, 0.6)]
    return x, x.reshape(SAMPLES, N) @ ((u * strengths) @ v).T


def norms(spectra: np.ndarray) -> np.ndarray:
    """``||M_f||`` over outputs and input channels, ``(T, N)``."""
    return np.linalg.norm(spectra.reshape(*spectra.shape[:1], -1, N), axis=1)


def run(settings: Settings) -> Finding:
    """Finding (g): see the module docstring."""
    x, y = samples(settings.rng(0))
    stats = Statistics.from_samples(x, y)
    model = LinearCNN((N,), channels=2, n_out=2)
    theory = Theory(model, stats)
    eta = STEP * theory.max_stable_lr
    end = 2.5 * theory.half_times(U0).max()
    every = max(1, int(end / eta / RECORDS))
    times = eta * every * np.arange(RECORDS + 1)
    runs = {}
    for label, lr, stride in (("eta", eta, every), ("eta / 2", eta / 2, 2 * every)):
        module = to_torch(model, init_balanced(model, aligned_spectrum(stats, U0)))
        runs[label] = norms(train(module, (x, y), lr, RECORDS * stride, record=stride).spectra)
    flow = norms(theory.spectra(times, U0))
    steps = RECORDS * every
    exact = np.sqrt(np.sum(theory.gd_mode_strengths(steps, eta, U0)[::every] ** 2, axis=-1))
    scale = flow.max()
    gaps = {label: np.abs(m - flow).max() / scale for label, m in runs.items()}
    values = {"map_deviation": np.abs(runs["eta"] - exact).max() / scale,
              "flow_deviation": gaps["eta"], "order": abs(gaps["eta"] / gaps["eta / 2"] - 2)}
    descriptions = {
        "map_deviation": "max_(t, f) | ||M_f|| torch - ||M_f|| exact discrete map | / max "
                         "||M_f||, step eta",
        "flow_deviation": "max_(t, f) | ||M_f|| torch - ||M_f|| closed form | / max ||M_f||, "
                          "step eta",
        "order": "| deviation(eta) / deviation(eta / 2) - 2 |: first order in eta"}
    measures = [Measure(k, values[k], BOUNDS[k], descriptions[k]) for k in BOUNDS]
    figure = draw(times, flow, runs, exact, stats)
    summary = (
        f"A CNN (N = {N}, 2 channels, full kernel) on {SAMPLES} ZCA-whitened samples with two "
        f"modes, converted to torch and trained by torch.optim.SGD from a balanced aligned "
        f"start (u0 = {U0:g}) at eta = {eta:.3g} ({STEP:g} of the largest stable step) and "
        f"eta / 2: each frequency's ||M_f(t)|| equals the exact discrete map to "
        f"{values['map_deviation']:.1e} and lies within {gaps['eta']:.2%} (eta) and "
        f"{gaps['eta / 2']:.2%} (eta / 2) of the closed form, a ratio of "
        f"{gaps['eta'] / gaps['eta / 2']:.2f}: gradient descent's discretisation, first order "
        "in eta.")
    return Finding(KEY, NAME, "PyTorch: torch's gradient descent follows the theory", summary,
                   measures, figure, {"eta": eta, "times": times, "gaps": gaps})


def draw(times, flow, runs, exact, stats: Statistics):
    """``||M_f(t)||`` of the learned frequencies: closed form (lines), exact map (dashed),
    torch at ``eta`` and ``eta / 2`` (markers); and the gap to the closed form over time."""
    fig, axes = plots.figure(1, 2, width=5.4, height=4.0)
    learned = np.flatnonzero(flow[-1] > 0.1 * flow[-1].max())
    learned = learned[learned <= N // 2]
    ax = axes[0, 0]
    for i, f in enumerate(learned):
        c = plots.color(i)
        ax.plot(times, flow[:, f], color=c, label=f"f = {f}: closed form")
        ax.plot(times, exact[:, f], "--", color="k", linewidth=0.8)
        ax.plot(times, runs["eta"][:, f], "o", color=c, markersize=4, markerfacecolor="none",
                label=f"f = {f}: torch, eta")
        ax.plot(times, runs["eta / 2"][:, f], "x", color=c, markersize=4,
                label=f"f = {f}: torch, eta / 2")
    ax.plot([], [], "--", color="k", linewidth=0.8, label="exact discrete map (eta)")
    ax.set(xlabel=r"training time $t / \tau$", ylabel=r"$\|M_f(t)\|$",
           title="torch SGD against the closed form and the discrete map")
    ax.legend(fontsize="small")
    ax = axes[0, 1]
    scale = flow.max()
    for i, (label, m) in enumerate(runs.items()):
        ax.semilogy(times[1:], np.abs(m - flow).max(axis=1)[1:] / scale, color=plots.color(i),
                    label=f"torch at {label}")
    ax.set(xlabel=r"training time $t / \tau$",
           ylabel="gap to the closed form, max over f\n(relative to max ||M_f||)",
           title="the gap halves when the step halves")
    ax.legend(fontsize="small")
    return fig
