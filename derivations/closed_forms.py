"""Derive the closed forms of the reduced gradient flows (THEORY.md R1, R3, R3b, R3c, R4, R5),
every step checked, and write them to docs/derivations/closed_forms.{tex,md}.

Run from the repository root: ``python derivations/closed_forms.py`` (about 2 minutes).
"""

from pathlib import Path

from symcnn.symbolic import closed_forms

OUT = Path(__file__).resolve().parents[1] / "docs" / "derivations"

if __name__ == "__main__":
    items = closed_forms.derivations()
    for suffix, render in ((".tex", closed_forms.to_latex), (".md", closed_forms.to_markdown)):
        path = OUT / f"closed_forms{suffix}"
        path.write_text(render(items))
        print(path)
