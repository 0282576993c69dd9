"""Wall time of each derivation (build and check every step) and of its rendering.

Run from the repository root: ``python benchmarks/bench_derive.py``.
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout's symcnn

from symcnn import reduction  # noqa: E402

DERIVATIONS = {"fully_connected": reduction.fully_connected,
               "cnn_fourier (correlation)": lambda: reduction.cnn_fourier("correlation"),
               "cnn_fourier (convolution)": lambda: reduction.cnn_fourier("convolution")}


def main() -> None:
    print("| derivation | steps | derive and check (s) | render LaTeX + Markdown (s) |")
    print("| --- | --- | --- | --- |")
    for name, build in DERIVATIONS.items():
        start = time.perf_counter()
        derivation = build()
        built = time.perf_counter()
        derivation.to_latex(), derivation.to_markdown()
        rendered = time.perf_counter()
        print(f"| {name} | {len(derivation.steps)} | {built - start:.2f} | "
              f"{rendered - built:.3f} |")


if __name__ == "__main__":
    main()
