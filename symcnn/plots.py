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
              title: str = "", ylabel: str = r"$u_a(t) / s_a$", legend: bool = True) -> list:
    """Mode strengths over time: ``predicted`` ``(T, r)`` at ``times`` as lines,
    ``simulated`` ``(T', r)`` at ``simulated_times`` as markers, mode ``a`` labelled
    ``labels[a]`` (default ``mode a``, 1-based).  Returns one legend handle per mode (the
    line, with its markers); with ``legend``, draws the legend, beside the panel for more
    than four modes."""
    predicted = np.asarray(predicted)
    labels = labels or [f"mode {a + 1}" for a in range(predicted.shape[1])]
    handles = []
    for a in range(len(labels)):
        (line,) = ax.plot(times, predicted[:, a], color=color(a))
        if simulated is None:
            handles.append(line)
            continue
        (markers,) = ax.plot(simulated_times, np.asarray(simulated)[:, a], "o",
                             color=color(a), markersize=3.5, markerfacecolor="none")
        handles.append((line, markers))
    ax.set_xlabel(r"training time $t / \tau$")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if legend:
        beside = {"loc": "center left", "bbox_to_anchor": (1.01, 0.5)} if len(labels) > 4 else {}
        ax.legend(handles, labels, fontsize="small", title_fontsize="small",
                  title=None if simulated is None else "lines: theory, markers: simulation",
                  **beside)
    return handles


def save(fig: Figure, path: Path) -> list[Path]:
    """Write ``fig`` as ``path`` with each suffix of :data:`FORMATS`; returns the files."""
    files = [Path(path).with_suffix(f".{suffix}") for suffix in FORMATS]
    for file in files:
        fig.savefig(file, dpi=150)
    return files
