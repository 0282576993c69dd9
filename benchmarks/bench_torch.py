"""The theory's learning curve against training the same network with PyTorch, in one run.

Setup: the texture-vs-shape data of the zoo (a grating at f = 5, amplitude 0.6, against a
blob, amplitude 1; 1-D, N = 32, noise 0.05) with P = 10^4 samples, ZCA-whitened so that the
theory's hypotheses hold; a full-kernel LinearCNN with C = 4 channels, N_o = 2; a balanced
start aligned with the data at strength u0 (init_balanced of aligned_spectrum).

- theory: ``Theory(model, stats).dataset_mode_strengths(times, u0)`` at 200 times (the
  closed form of gradient flow; ``stats`` from :func:`symcnn.torch.data.statistics`, timed
  separately);
- torch: ``train(Torch(model, x, y), ..., method="gd")``, ``STEPS`` steps of full-batch
  gradient descent on the samples by torch autograd, recorded at the same 200 times.

Prints the median (min-max) wall times over ``--repeat`` runs, the ratio torch / theory,
and the largest deviation of the torch run's mode strengths from the theory's, relative to
the largest strength (gradient descent against the flow: ``O(lr)``).  Run from the
repository root::

    python benchmarks/bench_torch.py [--repeat 3] [--steps 2000] [--threads 1]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout's symcnn

from symcnn.data import blob, grating, make_dataset, zca_whiten  # noqa: E402
from symcnn.model import LinearCNN  # noqa: E402
from symcnn.progress import quiet  # noqa: E402
from symcnn.simulate import aligned_spectrum, init_balanced, train  # noqa: E402
from symcnn.theory import Theory  # noqa: E402
from symcnn.torch.data import statistics  # noqa: E402
from symcnn.torch.engine import Torch  # noqa: E402

N, CHANNELS, P, RECORDS, T_END, U0 = 32, 4, 10**4, 200, 20.0, 1e-3


def setup():
    """Whitened samples, their statistics (and the time to compute them), the model."""
    parts = np.stack([grating(N, 5), blob(N, 16, 1.0)])[:, None]
    ds = make_dataset(parts, np.diag([0.6, 1.0]), samples_per_class=P // 2, noise=0.05, seed=5)
    x, _ = zca_whiten(ds.x)
    t0 = time.perf_counter()
    stats = statistics((torch.as_tensor(x), torch.as_tensor(ds.labels)))
    return x, ds.labels, stats, time.perf_counter() - t0, LinearCNN(N, channels=CHANNELS,
                                                                    n_out=2)


def run(steps: int, repeat: int) -> None:
    x, labels, stats, t_stats, model = setup()
    lr = T_END / steps
    times = lr * (steps // RECORDS) * np.arange(1, RECORDS + 1)
    params = init_balanced(model, aligned_spectrum(stats, U0))
    theory = Theory(model, stats)
    engine = Torch(model, x, labels)
    theory_times, torch_times = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        predicted = theory.dataset_mode_strengths(times, U0)
        theory_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        with quiet():
            trajectory = train(engine, params, times, method="gd", lr=lr)
        torch_times.append(time.perf_counter() - t0)
    simulated = trajectory.mode_strengths(theory.modes)
    deviation = np.max(np.abs(simulated - predicted)) / np.max(np.abs(predicted))
    t_theory, t_torch = np.median(theory_times), np.median(torch_times)
    print(f"setup: 1-D N = {N}, C = {CHANNELS}, N_o = 2, P = {P}, full kernel, whitened; "
          f"gd {steps} steps of lr = {lr:g} (t = {T_END:g}), {RECORDS} recorded times; "
          f"torch {torch.__version__}, {engine.device}, {torch.get_num_threads()} threads, "
          f"{repeat} repeats")
    print("| computation | wall time, median (min-max) |\n| --- | --- |")
    print(f"| statistics (symcnn.torch.data, P = {P}) | {t_stats:.4f} s |")
    for name, values in (("theory: dataset_mode_strengths, 200 times", theory_times),
                         (f"torch: train(Torch, gd, {steps} steps)", torch_times)):
        print(f"| {name} | {np.median(values):.4f} s ({min(values):.4f}-{max(values):.4f}) |")
    print(f"\nratio torch / theory: {t_torch / t_theory:.3g}")
    print(f"largest deviation torch gd vs theory (flow), relative to the largest strength: "
          f"{deviation:.3g}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch.set_num_threads (default torch's; 1 on a busy machine)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    run(args.steps, args.repeat)


if __name__ == "__main__":
    main()
