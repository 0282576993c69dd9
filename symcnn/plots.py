"""Figures of symcnn's results (matplotlib, the ``reproduce`` extra): the theory as lines,
simulations as markers, one colour per mode.  Figures are ``matplotlib.figure.Figure``
objects drawn without pyplot (no global state, no display needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown",
          "tab:pink", "tab:gray", "tab:olive", "tab:cyan")
FORMATS = ("png", "svg")
"""Every figure is saved in these formats."""


def figure(rows: int = 1, columns: int = 1, width: float = 5.0, height: float = 3.6,
           **options) -> tuple[Figure, np.ndarray]:
    """A figure of ``rows x columns`` panels of ``width x height`` inches each, and its axes
    as a 2-D array."""
    fig = Figure(figsize=(width * columns, height * rows), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False, **options)
    return fig, axes


def color(index: int) -> str:
    return COLORS[index % len(COLORS)]


def strengths(ax, times, predicted, simulated=None, simulated_times=None, labels=None,
              title: str = "", ylabel: str = r"$u_a(t) / s_a$") -> None:
    """Mode strengths over time: ``predicted`` ``(T, r)`` at ``times`` as lines,
    ``simulated`` ``(T', r)`` at ``simulated_times`` as markers, mode ``a`` labelled
    ``labels[a]`` (default ``mode a``, 1-based)."""
    predicted = np.asarray(predicted)
    labels = labels or [f"mode {a + 1}" for a in range(predicted.shape[1])]
    for a, label in enumerate(labels):
        ax.plot(times, predicted[:, a], color=color(a), label=f"{label}: theory")
        if simulated is not None:
            ax.plot(simulated_times, np.asarray(simulated)[:, a], "o", color=color(a),
                    markersize=3.5, markerfacecolor="none", label=f"{label}: simulation")
    ax.set_xlabel(r"training time $t / \tau$")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize="small", ncols=2 if simulated is not None else 1)


def save(fig: Figure, path: Path) -> list[Path]:
    """Write ``fig`` as ``path`` with each suffix of :data:`FORMATS`; returns the files."""
    files = [Path(path).with_suffix(f".{suffix}") for suffix in FORMATS]
    for file in files:
        fig.savefig(file, dpi=150)
    return files
