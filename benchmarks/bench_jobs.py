"""Speed-up of a check campaign in two local processes (``symcnn check --jobs 2``) over the
serial run.

The campaign is ``check(THEOREM, examples=N, proof=False)`` (default: the small-kernel
linearization on 40 instances, about 0.15 s each on a quiet machine). Serial and ``jobs=2``
runs alternate, ``--repeats`` times each, in this one process, timed by
``time.perf_counter``; the table gives the median seconds of each, the speed-up (serial /
jobs 2) and whether every run's result (``Result.row()`` without its ``seconds``) is the
serial one's. The machine's cpu
count and load average at the start are printed with it.

Run from the repository root (about 30 s on 2 quiet cores, as is ``--theorem "order reversal"
--repeats 2``)::

    python benchmarks/bench_jobs.py [--theorem NAME] [--examples N] [--repeats R]

Progress goes to standard error.
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout's symcnn

from symcnn import progress  # noqa: E402
from symcnn.theorems import check  # noqa: E402


def timed(theorem: str, examples: int, jobs: int) -> tuple[float, dict]:
    """Seconds of one campaign on ``jobs`` processes and its row without the seconds."""
    start = time.perf_counter()
    with progress.quiet():
        result = check(theorem, examples=examples, proof=False, jobs=jobs)
    seconds = time.perf_counter() - start
    print(f"jobs {jobs}: {seconds:.2f} s, {result.instances} instances, "
          f"{'pass' if result.passed else 'FAIL'}", file=sys.stderr)
    return seconds, result.row() | {"seconds": None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--theorem", default="small-kernel linearization")
    parser.add_argument("--examples", type=int, default=40, help="instances (default 40)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs of each, alternating (default 3)")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    load = os.getloadavg()
    times: dict[int, list[float]] = {1: [], 2: []}
    rows = []
    for _ in range(args.repeats):
        for jobs in (1, 2):
            seconds, row = timed(args.theorem, args.examples, jobs)
            times[jobs].append(seconds)
            rows.append(row)
    serial, parallel = (statistics.median(times[jobs]) for jobs in (1, 2))
    print(f"{datetime.date.today()}, {os.cpu_count()} cpus, load average at start "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; {args.theorem}, median of "
          f"{args.repeats}\n")
    print("| instances | serial | jobs 2 | speed-up | identical results |")
    print("| --- | --- | --- | --- | --- |")
    identical = "yes" if all(row == rows[0] for row in rows) else "NO"
    print(f"| {args.examples} | {serial:.1f} s | {parallel:.1f} s | {serial / parallel:.2f}x "
          f"| {identical} |")


if __name__ == "__main__":
    main()
