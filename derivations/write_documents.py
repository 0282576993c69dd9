"""Derive every document of symcnn.symbolic.registry.FILES, every step checked, and write it
to docs/derivations as .tex and .md: the same as
``symcnn derive --all --out docs/derivations`` (about 3 minutes).

Run from anywhere: ``python derivations/write_documents.py``.
"""

from pathlib import Path

from symcnn.cli import main

OUT = Path(__file__).resolve().parents[1] / "docs" / "derivations"

if __name__ == "__main__":
    raise SystemExit(main(["derive", "--all", "--out", str(OUT)]))
