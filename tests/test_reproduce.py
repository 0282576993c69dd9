"""``symcnn reproduce``: its options are checked before any work, a missing extra is named,
and a quick run for two seeds writes every figure, the derivation and the report, with every
measure inside the agreement the report states and different numbers for the two seeds."""

import importlib
import importlib.util
import json
import math
import shutil
from pathlib import Path

import pytest

from symcnn.cli import main, options

from .reference import require
from .test_cli import refused


@pytest.mark.parametrize("args, message", [
    (["--seed", "-1"], "--seed must be an integer >= 0, got -1"),
    (["--out", "/nonexistent/dir/out"], "the directory /nonexistent/dir does not exist"),
    (["--seed", "x"], "invalid int value"),
])
def test_bad_options_are_refused(capsys, args, message):
    refused(capsys, ["reproduce", "--quiet", *args], message)


def test_an_output_file_is_no_directory(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    refused(capsys, ["reproduce", "--out", str(tmp_path / "file")], "give a directory")


def test_a_missing_extra_is_named(monkeypatch):
    def missing(name):
        raise ModuleNotFoundError(f"No module named {name!r}", name="matplotlib")

    monkeypatch.setattr(importlib, "import_module", missing)
    with pytest.raises(OSError, match=r"symcnn reproduce needs matplotlib: pip install "
                                      r"'symcnn\[reproduce\]'"):
        options.optional("symcnn.reproduce", "reproduce", "symcnn reproduce")


def test_our_own_missing_module_is_not_blamed_on_an_extra():
    with pytest.raises(ModuleNotFoundError, match="symcnn.nonexistent"):
        options.optional("symcnn.nonexistent", "reproduce", "symcnn reproduce")


KEYS = "abcdef"
SEEDS = (0, 1)
TORCH = importlib.util.find_spec("torch") is not None
"""With torch installed (always in CI), the second seed's run adds ``--torch``."""


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """``symcnn reproduce --quick`` for two seeds, the second with ``--torch`` when torch is
    installed: (exit status, directory, report.json)."""
    for module in ("matplotlib", "sklearn"):
        require(module, "reproduce")
    done = {}
    for seed in SEEDS:
        out = tmp_path_factory.mktemp(f"seed{seed}")
        torch = ["--torch"] if TORCH and seed == SEEDS[1] else []
        status = main(["reproduce", "--quick", "--quiet", "--seed", str(seed), "--out",
                       str(out), *torch])
        done[seed] = status, out, json.loads((out / "report.json").read_text())
    return done


def test_torch_adds_its_finding(runs):
    require("torch", "torch")
    _, out, report = runs[SEEDS[1]]
    finding = report["findings"]["g"]
    assert finding["holds"] and set(finding["measures"]) == {"map_deviation",
                                                            "flow_deviation", "order"}
    assert finding["measures"]["map_deviation"]["bound"] <= 1e-10
    assert (out / "figure_g_torch.png").stat().st_size > 5000


def test_a_quick_run_writes_the_figures_derivation_and_report(runs):
    status, out, report = runs[SEEDS[0]]
    assert sorted(report["findings"]) == list(KEYS)
    for key, finding in report["findings"].items():
        assert {Path(f).suffix for f in finding["figures"]} == {".png", ".svg"}
        for name in finding["figures"]:
            assert name.startswith(f"figure_{key}_") and (out / name).stat().st_size > 5000
    markdown = (out / "report.md").read_text()
    assert all(f"## ({key})" in markdown for key in KEYS)
    derivation = report["derivation"]
    assert derivation["pdflatex"] == (shutil.which("pdflatex") is not None)
    for document in derivation["documents"].values():
        assert document["steps"] > 0
        suffixes = {Path(f).suffix for f in document["files"]}
        assert suffixes == ({".tex", ".pdf"} if derivation["pdflatex"] else {".tex"})
        assert all((out / "derivation" / f).stat().st_size > 1000 for f in document["files"])


@pytest.mark.parametrize("seed", SEEDS)
def test_every_measure_is_inside_the_agreement_the_report_states(runs, seed):
    status, _, report = runs[seed]
    outside = [f"({key}) {name}: {m['value']} {m['relation']} {m['bound']}"
               for key, finding in report["findings"].items()
               for name, m in finding["measures"].items()
               if not (math.isfinite(m["value"]) and (
                   m["value"] <= m["bound"] if m["relation"] == "<=" else
                   m["value"] >= m["bound"]))]
    assert not outside, outside
    assert status == 0 and report["holds"]
    assert all(finding["measures"] and all(name.isidentifier() for name in finding["measures"])
               for finding in report["findings"].values())


def test_two_seeds_measure_different_numbers(runs):
    first, second = (runs[seed][2]["findings"] for seed in SEEDS)
    same = [key for key in KEYS
            if [m["value"] for m in first[key]["measures"].values()]
            == [m["value"] for m in second[key]["measures"].values()]]
    assert not same, f"findings {same} measured the same numbers for seeds {SEEDS}"
