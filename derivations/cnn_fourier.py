"""Derive the per-frequency gradient flow of a linear CNN (THEORY.md R2, R4) for general N,
every step checked, and write it to docs/derivations/cnn_fourier[_convolution].{tex,md}.

Run from the repository root: ``python derivations/cnn_fourier.py``.
"""

from pathlib import Path

from symcnn.symbolic.reductions import cnn_fourier

OUT = Path(__file__).resolve().parents[1] / "docs" / "derivations"


def main() -> None:
    for convention, name in (("correlation", "cnn_fourier"),
                             ("convolution", "cnn_fourier_convolution")):
        derivation = cnn_fourier(convention)
        for suffix in (".tex", ".md"):
            print(derivation.write(OUT / f"{name}{suffix}"))


if __name__ == "__main__":
    main()
