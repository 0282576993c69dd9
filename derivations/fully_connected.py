"""Derive the gradient flow of the two-layer fully connected linear network (Saxe et al.)
by differentiating its loss, and write docs/derivations/fully_connected.{tex,md}.

Run from the repository root: ``python derivations/fully_connected.py``.
"""

from pathlib import Path

from symcnn.symbolic.reductions import fully_connected

OUT = Path(__file__).resolve().parents[1] / "docs" / "derivations"

if __name__ == "__main__":
    derivation = fully_connected()
    for suffix in (".tex", ".md"):
        print(derivation.write(OUT / f"fully_connected{suffix}"))
