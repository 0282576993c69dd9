"""The committed documents are current: docs/derivations (every document of the registry,
as ``symcnn derive --all`` writes it; each .tex compiles) and docs/theorems-catalogue.md.
``SYMCNN_UPDATE_DOCS=1`` rewrites stale ones instead of failing."""

import os
import re
from pathlib import Path

import pytest

from symcnn.cli import main
from symcnn.symbolic import registry
from tests.reference import compile_latex

DOCS = Path(__file__).resolve().parents[1] / "docs"


def assert_current(path: Path, text: str) -> None:
    """``path`` holds ``text``; with ``SYMCNN_UPDATE_DOCS`` set it is rewritten first."""
    if os.environ.get("SYMCNN_UPDATE_DOCS"):
        path.write_text(text)
    assert path.exists(), f"{path} is missing: SYMCNN_UPDATE_DOCS=1 python -m pytest {__file__}"
    assert path.read_text() == text, (f"{path} is stale: SYMCNN_UPDATE_DOCS=1 python -m "
                                      f"pytest {__file__}")


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """Every document as ``symcnn derive --all --out DIR`` writes it."""
    out = tmp_path_factory.mktemp("derivations")
    assert main(["derive", "--all", "--out", str(out)]) == 0
    return out


def test_derive_all_writes_exactly_the_registered_documents(written):
    assert sorted(p.name for p in written.iterdir()) == sorted(
        f"{stem}{suffix}" for stem in registry.FILES for suffix in (".md", ".tex"))


@pytest.mark.parametrize("name", [f"{stem}{suffix}" for stem in registry.FILES
                                  for suffix in (".md", ".tex")])
def test_the_committed_document_is_current(written, name):
    assert_current(DOCS / "derivations" / name, (written / name).read_text())


OVERFULL_PT = 3.0  # the widest line allowed past the margin (TeX's rounding, a dangling comma)


@pytest.mark.parametrize("stem", registry.FILES)
def test_the_latex_document_compiles_inside_the_margins(written, stem):
    """pdflatex's log reports no ``Overfull \\hbox`` wider than :data:`OVERFULL_PT`."""
    compile_latex(written / f"{stem}.tex")
    log = (written / f"{stem}.log").read_text(errors="replace")
    wide = re.findall(r"Overfull \\hbox \((\S+)pt too wide\).*", log)
    assert all(float(w) <= OVERFULL_PT for w in wide), f"{stem}.tex overfull by {wide} pt"


def test_the_theorem_catalogue_is_current():
    from symcnn import theorems
    from symcnn.theorems import report

    text = report.catalogue()
    assert all(f"## {name}\n" in text for name in theorems.CATALOGUE)
    assert_current(DOCS / "theorems-catalogue.md", text)


def test_a_stale_document_fails(tmp_path, monkeypatch):
    """The comparison can fail: a changed document is reported stale."""
    monkeypatch.delenv("SYMCNN_UPDATE_DOCS", raising=False)
    path = tmp_path / "doc.md"
    path.write_text("old\n")
    with pytest.raises(AssertionError, match="is stale"):
        assert_current(path, "new\n")
