"""A fresh process's first prediction: ``Theory(...).loss(...)`` on a zoo setup, with a warm
and with a cold derived-kernel cache (symcnn.theory.kernels).

Each measurement is a new Python process: its wall time (interpreter start included), and
inside it the time to import NumPy, to import symcnn and its theory, to build the zoo setup
and the Theory, and the first prediction (a 50-point loss curve). Cold: an empty cache
directory, so R3b is derived with SymPy, checked and stored first. Warm: the same directory again.

Run: ``python benchmarks/bench_predict.py [--repeat 5] [--setup stationary-1d-8]``;
prints a Markdown table (docs/performance.md).
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CODE = """
import time
marks = [time.perf_counter()]
import numpy as np
marks.append(time.perf_counter())
from symcnn import zoo
from symcnn.theory import Theory
marks.append(time.perf_counter())
setup = zoo.get({setup!r})
theory = Theory(setup.model, setup.stats)
marks.append(time.perf_counter())
loss = theory.loss(np.linspace(0, setup.t_end, 50), 1e-3)
marks.append(time.perf_counter())
import sys
print(*np.diff(marks), any(m.split('.')[0] == 'sympy' for m in sys.modules))
"""
COLUMNS = ("process wall time", "import numpy", "import symcnn", "zoo setup + Theory",
           "first prediction")


def run(setup: str, cache: str) -> tuple[list[float], bool]:
    """The times of :data:`COLUMNS` in one fresh process, and whether SymPy was loaded."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", CODE.format(setup=setup)], check=True,
                          capture_output=True, text=True, cwd=ROOT,
                          env={"SYMCNN_CACHE": cache, "PATH": "/usr/bin:/bin"})
    wall = time.perf_counter() - start
    *parts, sympy = done.stdout.split()
    return [wall, *map(float, parts)], sympy == "True"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--setup", default="stationary-1d-8")
    args = parser.parse_args()
    rows = {"cold": [], "warm": []}
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as cache:
            rows["cold"].append(run(args.setup, cache))
            rows["warm"].append(run(args.setup, cache))
    print(f"setup {args.setup}, {args.repeat} fresh processes each, median (min-max)\n")
    print("| cache | " + " | ".join(COLUMNS) + " | SymPy loaded |")
    print("|" + " --- |" * (len(COLUMNS) + 2))
    for name, values in rows.items():
        cells = []
        for column in range(len(COLUMNS)):
            v = [times[column] for times, _ in values]
            cells.append(f"{statistics.median(v):.3f} s ({min(v):.3f}-{max(v):.3f})")
        print(f"| {name} | {' | '.join(cells)} | {'yes' if values[0][1] else 'no'} |")


if __name__ == "__main__":
    main()
