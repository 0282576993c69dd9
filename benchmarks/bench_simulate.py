"""Steps per second of the three training engines of :mod:`symcnn.simulate`.

A *step* is one gradient evaluation ``engine.gradient(params)``: one gradient-descent step
(an RK4 step of the flow costs four).  Each engine is built once (its construction time is
reported as "setup"), called once to warm up (that call also records the peak memory the
step allocates, by ``tracemalloc``), then timed with ``time.perf_counter`` over repeated
calls; tables give the median seconds per step and its inverse, steps per second.

Cases:

1. The zoo setup ``classes-2d-32x32`` (2-D 32x32, full kernel, C = 16, N_o = 10, P = 10^4
   samples; its Sigma_xx is not stationary): :class:`~symcnn.simulate.Fast`,
   :class:`~symcnn.simulate.Dense` and :class:`~symcnn.simulate.Samples`, the speed-ups of
   Fast, and the acceptance target (Fast at least 50x faster per step than Samples).  A
   short ``train(..., method="gd")`` run checks that a step inside ``train`` costs the same.
2. The same data with a 3x3 kernel, all three engines (skipped with ``--quick``).
3. 2-D 64x64, C = 32, N_o = 10, Fast only: stationary statistics (per-frequency data term)
   and a non-stationary dense Sigma_xx of the same size.

Run from the repository root (about 2 minutes on 2 cores; ``--quick`` about 40 s)::

    python benchmarks/bench_simulate.py [--quick] [--markdown]

``--markdown`` prints the tables as Markdown for docs/performance.md instead of plain text.
Progress goes to standard error.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout's symcnn

from symcnn import Dense, Fast, LinearCNN, Samples, Statistics, init_random, train, zoo  # noqa: E402
from symcnn.fourier import SpectralLayers  # noqa: E402

TARGET = 50.0  # required speed-up of Fast over Samples at 32x32, C = 16
# Timed calls per engine: at least `minimum`, and more until `budget` seconds have passed.
REPEATS = {"full": {"fast": (30, 3.0), "dense": (5, 3.0), "samples": (3, 0.0)},
           "quick": {"fast": (10, 0.5), "dense": (2, 0.0), "samples": (1, 0.0)}}
TRAIN_STEPS = {"full": (200, 50), "quick": (50, 25)}  # (gd steps, record every)


@dataclass
class Row:
    """One engine on one case."""

    case: str
    engine: str
    data_term: str
    setup: float  # engine construction, seconds
    times: list[float] = field(default_factory=list)  # seconds per timed step
    peak_mb: float = 0.0  # memory allocated during the warm-up step, peak
    statistics: float | None = None  # building the Statistics, seconds (when timed)

    @property
    def median(self) -> float:
        return float(np.median(self.times))


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def machine() -> dict[str, str]:
    """Date, CPU, cores, Python, numpy, BLAS and the load average."""
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f
                        if line.startswith("model name")), cpu)
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    threads = {k: v for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
               if (v := os.environ.get(k))}
    return {"date": datetime.date.today().isoformat(), "cpu": cpu,
            "cores": f"{os.cpu_count()} (usable: {usable})",
            "python": platform.python_version(), "numpy": np.__version__, "blas": _blas(),
            "threads": ", ".join(f"{k}={v}" for k, v in threads.items()) or "BLAS default",
            "platform": platform.platform(),
            "load": " ".join(f"{x:.2f}" for x in os.getloadavg()) + " (1, 5, 15 min, at start)"}


def _blas() -> str:
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas['name']} {blas.get('version', '')}".strip()
    except (TypeError, KeyError, AttributeError):
        return "unknown"


def time_steps(engine, params, minimum: int, budget: float) -> tuple[list[float], float]:
    """Warm up once (recording peak memory), then time at least ``minimum`` steps and
    continue until ``budget`` seconds have passed."""
    tracemalloc.start()
    engine.gradient(params)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    times, start = [], time.perf_counter()
    while len(times) < minimum or time.perf_counter() - start < budget:
        t0 = time.perf_counter()
        engine.gradient(params)
        times.append(time.perf_counter() - t0)
    return times, peak


def bench(case: str, name: str, build: Callable, params, mode: str,
          data_term: Callable[[], str]) -> Row:
    """Time ``build()`` (the engine's setup), then its steps; ``data_term()`` describes it."""
    log(f"  {case}: {name} ...")
    t0 = time.perf_counter()
    engine = build()
    row = Row(case, name, data_term(), time.perf_counter() - t0)
    row.times, row.peak_mb = time_steps(engine, params, *REPEATS[mode][name])
    log(f"    {row.median:.4g} s/step over {len(row.times)} steps")
    return row


def fast_data_term(stats: Statistics) -> str:
    """What :class:`Fast` selects for ``stats`` by default."""
    return "per frequency" if stats.is_stationary() else "dense M Sxx"


def three_engines(case: str, model: LinearCNN, setup: zoo.Setup, mode: str) -> list[Row]:
    params = init_random(model, 1e-3, seed=0)
    x, y = setup.dataset.x, setup.dataset.y
    return [bench(case, "fast", lambda: Fast(model, setup.stats), params, mode,
                  lambda: fast_data_term(setup.stats)),
            bench(case, "dense", lambda: Dense(model, setup.stats), params, mode,
                  lambda: "dense M Sxx"),
            bench(case, "samples", lambda: Samples(model, x, y), params, mode,
                  lambda: "P samples")]


def samples_floor(setup: zoo.Setup) -> float:
    """Seconds for one layer's product over the P samples' spectra (no FFTs, no backward
    pass): a lower bound on any FFT-based pass over the samples at this size."""
    layers = SpectralLayers(setup.model)
    x_hat = layers.rfft(setup.dataset.x)
    k_hat = layers.kernel(init_random(setup.model, 1e-3, seed=0)[0])
    layers.forward(k_hat, x_hat)
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        layers.forward(k_hat, x_hat)
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def train_check(setup: zoo.Setup, mode: str) -> dict[str, float]:
    """Seconds per step of ``train(Fast, method="gd")`` (recording every few steps) against
    as many bare ``gradient`` calls, alternated three times (medians)."""
    steps, every = TRAIN_STEPS[mode]
    lr = 0.01
    engine = Fast(setup.model, setup.stats)
    params = init_random(setup.model, 1e-3, seed=0)
    times = lr * np.arange(0, steps + 1, every)
    train(engine, params, times[:2], method="gd", lr=lr)  # warm-up
    in_train, bare = [], []
    for _ in range(3):
        t0 = time.perf_counter()
        run = train(engine, params, times, method="gd", lr=lr)
        in_train.append((time.perf_counter() - t0) / steps)
        t0 = time.perf_counter()
        for _ in range(steps):
            engine.gradient(params)
        bare.append((time.perf_counter() - t0) / steps)
    return {"steps": steps, "records": len(times), "per_step": float(np.median(in_train)),
            "bare": float(np.median(bare)), "loss0": float(run.loss[0]),
            "loss1": float(run.loss[-1])}


def stationary_64(rng: np.random.Generator) -> Statistics:
    """64x64 stationary input, ``Lambda_f = 1 / (1 + |f|^2 / 16)`` (even, positive)."""
    k = np.fft.fftfreq(64, 1 / 64)
    spectrum = 1 / (1 + (k[:, None] ** 2 + k[None, :] ** 2) / 16)
    syx = rng.standard_normal((10, 64 * 64)) / 64
    return Statistics.stationary((64, 64), spectrum[None, None], syx)


def windowed(stats: Statistics) -> Statistics:
    """The same input seen through a pixel-dependent gain ``1 + cos(2 pi n_1 / 64) / 2``:
    ``Sigma_xx -> diag(g) Sigma_xx diag(g)``, no longer stationary."""
    gain = np.repeat(1 + 0.5 * np.cos(2 * np.pi * np.arange(64) / 64), 64)
    return Statistics(shape=stats.shape, sxx=gain[:, None] * stats.sxx * gain[None, :],
                      syx=stats.syx)


def case_64(mode: str) -> list[Row]:
    model = LinearCNN(shape=(64, 64), channels=32, n_out=10)
    params = init_random(model, 1e-3, seed=0)
    rows = []
    for label in ("stationary", "non-stationary"):
        t0 = time.perf_counter()
        stats = stationary_64(np.random.default_rng(0))
        if label == "non-stationary":
            stats = windowed(stats)
        built = time.perf_counter() - t0
        rows.append(bench(f"64x64 C=32 {label}", "fast", lambda s=stats: Fast(model, s),
                          params, mode, lambda s=stats: fast_data_term(s)))
        rows[-1].statistics = built
    return rows


def speedups(rows: list[Row]) -> list[tuple[str, float, float]]:
    """``(case, fast vs samples, fast vs dense)`` for each case timed with all engines."""
    out = []
    for case in dict.fromkeys(r.case for r in rows):
        by = {r.engine: r.median for r in rows if r.case == case}
        if {"fast", "dense", "samples"} <= by.keys():
            out.append((case, by["samples"] / by["fast"], by["dense"] / by["fast"]))
    return out


def table(rows: list[Row], markdown: bool) -> str:
    with_stats = any(r.statistics is not None for r in rows)
    head = ["case", "engine", "data term", *(["statistics (s)"] if with_stats else []),
            "setup (s)", "s/step (median)", "steps/s", "timed steps", "peak step memory (MB)"]
    body = [[r.case, r.engine, r.data_term,
             *([f"{r.statistics:.2f}"] if with_stats else []), f"{r.setup:.2f}",
             f"{r.median:.3g}", f"{1 / r.median:.3g}", str(len(r.times)), f"{r.peak_mb:.0f}"]
            for r in rows]
    return render(head, body, markdown)


def render(head: list[str], body: list[list[str]], markdown: bool) -> str:
    if markdown:
        lines = [head, ["---"] * len(head), *body]
        return "\n".join("| " + " | ".join(line) + " |" for line in lines)
    widths = [max(len(line[i]) for line in [head, *body]) for i in range(len(head))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True))
                     .rstrip() for line in [head, *body])


def report(info, rows32, rows64, floor, trained, markdown: bool) -> str:
    title = "### " if markdown else ""
    ups = speedups(rows32)
    body = [[case, f"{s:.0f}x", f"{d:.0f}x", "met" if s >= TARGET else "NOT met"]
            for case, s, d in ups]
    fast = next(r for r in rows32 if r.engine == "fast")
    machine_lines = [f"- {k}: {v}" if markdown else f"{k:9s} {v}" for k, v in info.items()]
    return "\n\n".join([
        f"{title}Machine", "\n".join(machine_lines),
        f"{title}2-D 32x32, C = 16, N_o = 10, P = 10^4 (zoo: classes-2d-32x32)",
        table(rows32, markdown),
        render(["case", "fast vs samples", "fast vs dense", f"target >= {TARGET:.0f}x"],
               body, markdown),
        f"Lower bound for a pass over the samples (one layer's product over P = 10^4 "
        f"spectra, no FFTs): {floor:.3g} s, {floor / fast.median:.0f}x a fast step.",
        f"train(Fast, method='gd'): {trained['steps']} steps recorded at "
        f"{trained['records']} times: {trained['per_step']:.3g} s/step, against "
        f"{trained['bare']:.3g} s/step for as many bare gradient calls (median of 3 each); "
        f"loss {trained['loss0']:.4g} -> {trained['loss1']:.4g}.",
        f"{title}2-D 64x64, C = 32, N_o = 10, fast engine", table(rows64, markdown)])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Steps per second of the Fast, Dense and Samples training engines.")
    parser.add_argument("--quick", action="store_true",
                        help="fewer repeats, skip the 3x3-kernel case")
    parser.add_argument("--markdown", action="store_true",
                        help="print Markdown tables for docs/performance.md")
    args = parser.parse_args(argv)
    mode = "quick" if args.quick else "full"
    info = machine()
    log("building classes-2d-32x32 ...")
    setup = zoo.get("classes-2d-32x32")
    rows32 = three_engines("32x32 C=16 k=32x32", setup.model, setup, mode)
    if not args.quick:
        model3 = LinearCNN(shape=(32, 32), kernel=(3, 3), channels=16, n_out=10)
        rows32 += three_engines("32x32 C=16 k=3x3", model3, setup, mode)
    log("samples floor and train() ...")
    floor = samples_floor(setup)
    trained = train_check(setup, mode)
    del setup
    rows64 = case_64(mode)
    print(report(info, rows32, rows64, floor, trained, args.markdown))


if __name__ == "__main__":
    main()
