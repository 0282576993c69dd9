"""The paper's findings, derived, predicted, verified against simulation and drawn:
``symcnn reproduce`` (needs the ``reproduce`` extra: matplotlib and scikit-learn).

Each finding is a module with ``KEY`` (its figure's letter) and ``run(settings) ->
Finding``; :func:`run` runs them all, writes their figures, the derivation (LaTeX, and PDF
with pdflatex) and report.json / report.md."""

from __future__ import annotations

import time
from importlib import import_module
from pathlib import Path

from .. import plots, progress
from ..checks import flag, positive_int
from . import digits, documents, small_kernels, spectra, speed, texture, transitions
from .base import Finding, Measure, Settings
from .report import Report

FINDINGS = (transitions, speed, spectra, texture, small_kernels, digits)
"""The findings' modules, in the order of their figures."""

__all__ = ["FINDINGS", "Finding", "Measure", "Report", "Settings", "run"]


def run(out, quick: bool = False, seed: int = 0, torch: bool = False) -> Report:
    """Reproduce every finding of :data:`FINDINGS` (and with ``torch``, the ``torch``
    extra, :mod:`~symcnn.reproduce.torch_gd` too) into the directory ``out`` (created if
    needed): ``figure_<key>_<name>.{png,svg}``, ``derivation/``, report.json, report.md."""
    settings = Settings(positive_int("seed", seed, minimum=0), flag("quick", quick))
    findings_run = FINDINGS + ((import_module(".torch_gd", __name__),)
                               if flag("torch", torch) else ())
    out, start = Path(out), time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    findings, figures = [], {}
    with progress.task("reproduce", total=len(findings_run) + 1, unit="part") as task:
        progress.update("derivation")
        derivation = documents.write(out / "derivation", quick)
        for module in findings_run:
            progress.update(f"figure ({module.KEY})")
            finding = module.run(settings)
            files = plots.save(finding.figure, out / f"figure_{finding.key}_{finding.name}")
            findings.append(finding)
            figures[finding.key] = [f.name for f in files]
        report = Report(settings, findings, derivation, figures, time.perf_counter() - start)
        report.write(out)
        task.result = "every measure holds" if report.holds else "some measures fail"
    return report
