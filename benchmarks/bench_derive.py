"""Wall time of each derivation (build and check every step) and of its rendering.

The closed forms (``symcnn.symbolic.closed_forms``) are timed each in a fresh process, so
that neither their ``functools.cache`` nor SymPy's cache holds earlier results; a closed form
that calls another (``r3c`` calls ``r3``, ``r5(2)`` calls ``r3b``) includes that call's time.

Run from the repository root: ``python benchmarks/bench_derive.py [--closed-forms]``.
"""

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout's symcnn

from symcnn import LinearCNN  # noqa: E402
from symcnn.symbolic import closed_forms, reductions  # noqa: E402
from symcnn.symbolic import pixel as pixel_flow  # noqa: E402


def pixel(**kwargs):
    return lambda: pixel_flow.gradient_flow(LinearCNN(**kwargs)).derivation


DERIVATIONS = {
    "fully_connected": reductions.fully_connected,
    "cnn_fourier (correlation)": lambda: reductions.cnn_fourier("correlation"),
    "cnn_fourier (convolution)": lambda: reductions.cnn_fourier("convolution"),
    "small_kernels (correlation)": reductions.small_kernels,
    "explicit Fourier N 8, C_in 2, C 2, N_o 2": lambda: reductions.explicit_fourier(
        LinearCNN(shape=8, c_in=2, channels=2, n_out=2)),
    "explicit Fourier 3x4, C 2, N_o 2": lambda: reductions.explicit_fourier(
        LinearCNN(shape=(3, 4), channels=2, n_out=2)),
    "explicit Fourier 1-D 5, k 2 (numeric)": lambda: reductions.explicit_fourier(
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


CLOSED_FORMS = {
    "closed_forms.r1()": lambda: closed_forms.r1().derivation,
    "closed_forms.r3()": lambda: closed_forms.r3().derivation,
    "closed_forms.r3b()": lambda: closed_forms.r3b().derivation,
    "closed_forms.r3c() (includes r3())": lambda: closed_forms.r3c().derivation,
    "closed_forms.r5(2) (includes r3b())": lambda: closed_forms.r5(2).derivation,
    "closed_forms.r5(3)": lambda: closed_forms.r5(3).derivation,
    "closed_forms.r5(4)": lambda: closed_forms.r5(4).derivation,
    "closed_forms.r4() (N 8, k 3)": lambda: closed_forms.r4().derivation,
    "closed_forms.gd()": lambda: closed_forms.gd().derivation,
}


def row(name: str, build) -> str:
    start = time.perf_counter()
    derivation = build()
    built = time.perf_counter()
    derivation.to_latex(), derivation.to_markdown()
    rendered = time.perf_counter()
    return (f"| {name} | {len(derivation.steps)} | {built - start:.2f} | "
            f"{rendered - built:.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--closed-forms", action="store_true",
                        help="only the closed-form rows")
    parser.add_argument("--row", choices=list(CLOSED_FORMS), help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.row:  # one closed form, in this (fresh) process
        print(row(options.row, CLOSED_FORMS[options.row]))
        return
    print("| derivation | steps | derive and check (s) | render LaTeX + Markdown (s) |")
    print("| --- | --- | --- | --- |", flush=True)
    if not options.closed_forms:
        for name, build in DERIVATIONS.items():
            print(row(name, build), flush=True)
    failed = []
    for name in CLOSED_FORMS:  # the child's traceback, if any, goes to standard error
        result = subprocess.run([sys.executable, __file__, "--row", name],
                                stdout=subprocess.PIPE, text=True)
        if result.returncode:
            failed.append(name)
            print(f"| {name} | - | fails (exit status {result.returncode}) | - |", flush=True)
        else:
            print(result.stdout, end="", flush=True)
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
