"""Derive the small-kernel coupling of a linear CNN's kernel flow (THEORY.md R4) for general N,
every step checked, and write it to docs/derivations/small_kernels.{tex,md}.

Run from the repository root: ``python derivations/small_kernels.py``.
"""

from pathlib import Path

from symcnn.symbolic.reductions import small_kernels

OUT = Path(__file__).resolve().parents[1] / "docs" / "derivations"

if __name__ == "__main__":
    derivation = small_kernels("correlation")
    for suffix in (".tex", ".md"):
        print(derivation.write(OUT / f"small_kernels{suffix}"))
