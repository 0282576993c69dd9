"""Derive the Fourier reduction of a linear CNN (THEORY.md R2) for explicit sizes, N = 4 with
one channel and one output, from the pixel-space flow, every step checked exactly, and write
it to docs/derivations/cnn_fourier_explicit.{tex,md}.

Run from the repository root: ``python derivations/cnn_fourier_explicit.py``.
"""

from pathlib import Path

from symcnn.model import LinearCNN
from symcnn.symbolic.reductions import explicit_fourier

OUT = Path(__file__).resolve().parents[1] / "docs" / "derivations"

if __name__ == "__main__":
    derivation = explicit_fourier(LinearCNN(shape=(4,)))
    for suffix in (".tex", ".md"):
        print(derivation.write(OUT / f"cnn_fourier_explicit{suffix}"))
