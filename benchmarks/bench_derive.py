"""Wall time of each derivation (build and check every step) and of its rendering.

Run from the repository root: ``python benchmarks/bench_derive.py``.
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout's symcnn

from symcnn import LinearCNN, reduction, symbolic  # noqa: E402


def pixel(**kwargs):
    return lambda: symbolic.gradient_flow(LinearCNN(**kwargs)).derivation


DERIVATIONS = {
    "fully_connected": reduction.fully_connected,
    "cnn_fourier (correlation)": lambda: reduction.cnn_fourier("correlation"),
    "cnn_fourier (convolution)": lambda: reduction.cnn_fourier("convolution"),
    "small_kernels (correlation)": reduction.small_kernels,
    "explicit Fourier N 8, C_in 2, C 2, N_o 2": lambda: reduction.explicit_fourier(
        LinearCNN(shape=8, c_in=2, channels=2, n_out=2)),
    "explicit Fourier 3x4, C 2, N_o 2": lambda: reduction.explicit_fourier(
        LinearCNN(shape=(3, 4), channels=2, n_out=2)),
    "explicit Fourier 1-D 5, k 2 (numeric)": lambda: reduction.explicit_fourier(
        LinearCNN(shape=5, kernel=2, channels=2)),
    "pixel 1-D 8, k 3, C 2, N_o 2": pixel(shape=8, kernel=3, channels=2, n_out=2),
    "pixel 2-D 6x6, k 3x3, C 2, N_o 2": pixel(shape=(6, 6), kernel=(3, 3), channels=2,
                                              n_out=2),
    "pixel 2-D 6x6, k 3x3, C_in 2, C 2, N_o 2": pixel(shape=(6, 6), kernel=(3, 3), c_in=2,
                                                      channels=2, n_out=2),
    "pixel 2-D 8x8, k 3x3, C 2, N_o 2": pixel(shape=(8, 8), kernel=(3, 3), channels=2,
                                              n_out=2),
    "pixel 2-D 4x4, k 3x3, C 2, N_o 2, depth 2": pixel(shape=(4, 4), kernel=(3, 3),
                                                       channels=2, n_out=2, depth=2),
}


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
