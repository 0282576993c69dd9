"""The error of ``Theory.effective_u0`` against the network's width (docs/theory.md, "Small
random starts: the width error").

For a width ``w`` (channels ``C`` of a linear CNN, hidden units ``H`` of a fully connected
network) and ``r`` competing modes (the largest rank of ``T_f``; the rank of ``Sigma_yx``),
train from random starts of each scale and compare each dataset mode's half-way time
with the one predicted from ``effective_u0``; the table gives, per width, the largest and the
median ``|t_trained / t_predicted - 1|`` over the seeds and modes.

Run: ``PYTHONPATH=. python benchmarks/effective_u0_width.py [--seeds 16] [--scales 1e-4 1e-6]``;
prints a Markdown table (about 10 minutes on one core).
"""

import argparse
import time

import numpy as np

from symcnn import Dense, Fast, FullyConnected, LinearCNN, init_random, instances, train
from symcnn.theory import Theory

MULTIPLES = ("r", "r+1", "2r", "4r", "8r")
NETWORKS = {  # name: (r, model of width w)
    "CNN, N = 6, C_in = 2, N_o = 2": (2, lambda w: LinearCNN(6, channels=w, c_in=2, n_out=2)),
    "CNN, N = 4, C_in = 3, N_o = 3": (3, lambda w: LinearCNN(4, channels=w, c_in=3, n_out=3)),
    "FC, D = 8, N_o = 3": (3, lambda w: FullyConnected(8, hidden=w, n_out=3)),
    "FC, D = 8, N_o = 6": (6, lambda w: FullyConnected(8, hidden=w, n_out=6)),
}


def widths(r: int) -> list[int]:
    """``r, r + 1, 2r, 4r, 8r``."""
    return [r, r + 1, 2 * r, 4 * r, 8 * r]


def half_time_error(model, seed: int, scale: float) -> np.ndarray:
    """``t_trained / t_predicted - 1`` per dataset mode: ``model`` on
    :func:`symcnn.instances.white` data (``seed``), trained (RK4, ``rtol = 1e-9``; Fast for
    a CNN, Dense fully connected) from :func:`symcnn.simulate.init_random` (``scale``,
    ``seed``), predicted by :meth:`Theory.half_times` of :meth:`Theory.effective_u0`."""
    stats = instances.white(model, seed)
    theory, start = Theory(model, stats), init_random(model, scale, seed)
    u0 = theory.effective_u0(start)
    half = theory.half_times(u0)
    engine = (Fast if isinstance(model, LinearCNN) else Dense)(model, stats)
    run = train(engine, start, np.linspace(0, 1.5 * half.max(), 301), rtol=1e-9)
    final = theory.dataset_mode_strengths([1e4], u0)[0]
    return run.half_way_times(stats.modes(), final) / half - 1


def table(seeds: int, scales) -> list[str]:
    """The Markdown rows: network, ``r``, the width (as a multiple of ``r`` and as ``w``), the
    start's scale, max and median ``|error|`` and the mean signed error."""
    rows = ["| network | r | width | w | scale | max abs error | median abs error | mean error |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, (r, build) in NETWORKS.items():
        for label, w in zip(MULTIPLES, widths(r), strict=True):
            for scale in scales:
                errors = np.concatenate([half_time_error(build(w), seed, scale)
                                         for seed in range(seeds)])
                rows.append(f"| {name} | {r} | {label} | {w} | {scale:g} | "
                            f"{np.max(np.abs(errors)):.2%} | {np.median(np.abs(errors)):.2%} | "
                            f"{np.mean(errors):+.2%} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=16)
    parser.add_argument("--scales", type=float, nargs="+", default=[1e-4, 1e-6])
    args = parser.parse_args()
    start = time.perf_counter()
    print("\n".join(table(args.seeds, args.scales)))
    print(f"\n{args.seeds} seeds (0 to {args.seeds - 1}) per row, "
          f"{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
