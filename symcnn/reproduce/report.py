"""report.json and report.md of a reproduction: every number the run measured, the
agreement stated for each, and whether it holds."""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import __version__
from .base import Finding, Settings


@dataclass
class Report:
    """A reproduction's ``findings``, its ``derivation`` (see
    :func:`symcnn.reproduce.documents.write`), the ``figures`` written and the run's
    ``seconds``."""

    settings: Settings
    findings: list[Finding]
    derivation: dict
    figures: dict[str, list[str]]
    seconds: float

    @property
    def holds(self) -> bool:
        """Whether every measure of every finding is inside its stated agreement."""
        return all(f.holds for f in self.findings)

    def to_json(self) -> dict:
        return {
            "symcnn": __version__, "python": platform.python_version(),
            "numpy": np.__version__, "seed": self.settings.seed, "quick": self.settings.quick,
            "seconds": round(self.seconds, 2), "holds": self.holds,
            "derivation": self.derivation,
            "findings": {f.key: {"name": f.name, "title": f.title, "holds": f.holds,
                                 "figures": self.figures[f.key],
                                 "measures": {m.name: m.to_dict() for m in f.measures},
                                 "numbers": _plain(f.numbers)}
                         for f in self.findings}}

    def to_markdown(self) -> str:
        mode = "quick" if self.settings.quick else "full"
        lines = [f"# symcnn reproduce ({mode} run, seed {self.settings.seed})", "",
                 f"symcnn {__version__}, {self.seconds:.0f} s. Every measure: "
                 + ("inside its stated agreement." if self.holds else
                    "**some outside their stated agreement (marked)**."), "",
                 "## Derivation", ""]
        for name, doc in self.derivation["documents"].items():
            lines.append(f"- `{name}`: {doc['steps']} steps, each checked; "
                         + ", ".join(f"[{f}]({f'derivation/{f}'})" for f in doc["files"]))
        if not self.derivation["pdflatex"]:
            lines.append("- pdflatex not found: no PDF written.")
        for f in self.findings:
            lines += ["", f"## ({f.key}) {f.title}", "",
                      f"![{f.title}](figure_{f.key}_{f.name}.png)", "", f.summary, "",
                      "| measure | value | stated agreement | holds |", "|---|---|---|---|"]
            lines += [f"| {_cell(m.description)} | {m.value:.4g} | {'<=' if m.upper else '>='} "
                      f"{m.bound:g} | {'yes' if m.holds else '**no**'} |" for m in f.measures]
        return "\n".join(lines) + "\n"

    def write(self, out: Path) -> list[Path]:
        """Write ``out/report.json`` and ``out/report.md``."""
        files = [out / "report.json", out / "report.md"]
        files[0].write_text(json.dumps(self.to_json(), indent=1) + "\n")
        files[1].write_text(self.to_markdown())
        return files


def _cell(text: str) -> str:
    """``text`` for a Markdown table cell (``|`` escaped)."""
    return text.replace("|", "\\|")


def _plain(value):
    """``value`` with NumPy arrays and scalars as lists and floats, for JSON."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
