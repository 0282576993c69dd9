"""The derivation behind the reproduction, written as LaTeX and compiled to PDF when
pdflatex is installed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from .. import progress
from ..symbolic import registry

DOCUMENTS = {False: ("cnn-fourier", "closed-forms"), True: ("cnn-fourier", "r3b")}
"""The entries of :mod:`symcnn.symbolic.registry` derived by a full (``False``) and a
``--quick`` (``True``) run: the per-frequency decoupling (R2) and the closed forms."""
LATEX_SECONDS = 120
"""How long one pdflatex run may take."""


def write(out: Path, quick: bool) -> dict[str, object]:
    """Derive each document of :data:`DOCUMENTS` (every step checked), write it to
    ``out/<name>.tex`` and, with pdflatex, ``out/<name>.pdf``; returns, per document, its
    files and steps, and ``pdflatex`` (whether PDFs were made)."""
    out.mkdir(parents=True, exist_ok=True)
    latex = shutil.which("pdflatex")
    if latex is None:
        progress.note("pdflatex not found: the derivations are written as LaTeX only "
                      "(apt-get install texlive-latex-base texlive-latex-recommended)")
    written = {}
    for name in DOCUMENTS[quick]:
        derivation = registry.get(name).derivation()
        tex = out / f"{name.replace('-', '_')}.tex"
        derivation.write(tex)
        files = [tex] + ([_compile(latex, tex)] if latex else [])
        written[name] = {"files": [f.name for f in files], "steps": len(derivation.steps)}
    return {"pdflatex": latex is not None, "documents": written}


def _compile(latex: str, tex: Path) -> Path:
    """``tex`` compiled to PDF (twice, for references); ``OSError`` with pdflatex's first
    error line if it fails."""
    for _ in range(2):
        run = subprocess.run([latex, "-interaction=nonstopmode", "-halt-on-error",
                              "-output-directory", str(tex.parent), str(tex)],
                             capture_output=True, text=True, timeout=LATEX_SECONDS)
        if run.returncode != 0:
            error = next((line for line in run.stdout.splitlines() if line.startswith("!")),
                         "no error line in its log")
            raise OSError(f"pdflatex failed on {tex}: {error}")
    for suffix in (".aux", ".log"):
        tex.with_suffix(suffix).unlink(missing_ok=True)
    return tex.with_suffix(".pdf")
