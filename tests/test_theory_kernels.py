"""Instant predictions (symcnn.theory.kernels): a cold cache derives once and says so, a warm
one predicts in a fresh process without SymPy, a corrupted entry is derived again."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from symcnn import progress
from symcnn.theory import kernels

ROOT = Path(__file__).resolve().parents[1]
PREDICT = """
import sys
import numpy as np
from symcnn import zoo
from symcnn.theory import Theory
setup = zoo.get("white-1d-8")
theory = Theory(setup.model, setup.stats)
loss = theory.loss(np.linspace(0, 5, 6), 1e-3)
gd = theory.gd_mode_strengths(3, 0.01, 1e-3)
print(repr(loss.tolist()), repr(gd[-1].ravel().tolist()))
print(sorted(m for m in sys.modules if m.split('.')[0] == 'sympy'))
"""


def fresh(cache: Path) -> subprocess.CompletedProcess:
    env = {"SYMCNN_CACHE": str(cache), "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-c", PREDICT], capture_output=True, text=True,
                          check=True, cwd=ROOT, env=env)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A cold run, a warm run, and a run after corrupting every stored entry."""
    cache = tmp_path_factory.mktemp("cache")
    cold, warm = fresh(cache), fresh(cache)
    entries = sorted((cache / "derived").glob("*.json"))
    for path in entries:
        path.write_bytes(path.read_bytes()[:-20] + b"garbage\n")
    repaired = fresh(cache)
    return cold, warm, repaired, entries


def test_a_cold_cache_derives_once_and_says_so(runs):
    cold, warm, _, entries = runs
    assert "deriving r3b stable with SymPy" in cold.stderr
    assert "deriving gd update with SymPy" in cold.stderr
    assert len(entries) == 2
    assert warm.stderr == ""


def test_a_warm_cache_predicts_the_same_numbers_without_sympy(runs):
    cold, warm, _, _ = runs
    assert warm.stdout.splitlines()[0] == cold.stdout.splitlines()[0]
    assert warm.stdout.splitlines()[1] == "[]"
    assert cold.stdout.splitlines()[1] != "[]"


def test_a_corrupted_entry_is_derived_again(runs):
    cold, _, repaired, entries = runs
    assert "deriving r3b stable" in repaired.stderr
    assert repaired.stdout.splitlines()[0] == cold.stdout.splitlines()[0]
    assert all(json.loads(path.read_text().split("\n", 1)[1])["source"] for path in entries)


def test_the_stored_entry_records_how_each_step_was_checked(tmp_path, monkeypatch):
    from symcnn.symbolic import closed_forms as cf

    monkeypatch.setenv("SYMCNN_CACHE", str(tmp_path))
    kernels.kernel.cache_clear()
    try:
        kernel = kernels.kernel("r3b")
        record = kernels.stored("r3b")
    finally:
        kernels.kernel.cache_clear()
    assert record is not None and record["key"] == kernel.key
    steps = cf.r3b().derivation.steps
    assert [s["step"] for s in record["status"]] == [s.name for s in steps]
    assert all(s["check"].startswith("verified") for s in record["status"])
    assert record["names"] == list(kernel.names)


def test_the_key_follows_the_derivation_source(monkeypatch):
    """An edit to the symbolic or codegen source changes every key."""
    before = kernels.key("r3b", "stable")
    monkeypatch.setattr(kernels, "source_hash", lambda: "edited")
    assert kernels.key("r3b", "stable") != before
    assert kernels.key("r3b", "stable") != kernels.key("r3b", "half_time")


def test_a_loaded_kernel_equals_the_derived_expression(tmp_path, monkeypatch):
    """The stored kernel evaluates R3b's stable form (against SymPy's evalf)."""
    import sympy as sp

    from symcnn.symbolic import closed_forms as cf

    monkeypatch.setenv("SYMCNN_CACHE", str(tmp_path))
    kernels.kernel.cache_clear()
    try:
        kernel = kernels.kernel("r3b")
    finally:
        kernels.kernel.cache_clear()
    values = {"t": 0.7, "tau": 1.3, "s": 0.9, "lambda": 1.7, "u_0": 1e-3, "N": 16.0}
    r = cf.r3b()
    exact = r.stable.evalf(30, subs={a: sp.Float(values[a.name], 30)
                                     for a in r.arguments("stable")})
    assert kernel.names == tuple(a.name for a in r.arguments("stable"))
    assert float(kernel(**values)) == pytest.approx(float(exact), rel=1e-14)


@pytest.mark.parametrize("name, field, message", [
    ("nope", "stable", "unknown derivation 'nope'"),
    ("pixel", "stable", "pixel is a derivation, not a closed form"),
    ("r3b", "nofield", "field must be one of ode, solution, .*got 'nofield'"),
])
def test_a_bad_name_or_field_is_refused_before_deriving(tmp_path, monkeypatch, capsys, name,
                                                        field, message):
    monkeypatch.setenv("SYMCNN_CACHE", str(tmp_path))
    with pytest.raises(ValueError, match=message):
        kernels.kernel(name, field)
    assert "deriving" not in capsys.readouterr().err


def test_the_cold_derivation_note_goes_through_progress(monkeypatch, capsys):
    """The announcement is a progress note: printed, and silenced by progress.quiet()."""
    monkeypatch.setenv("SYMCNN_CACHE", "off")  # derived in each (cleared) call
    kernels.kernel.cache_clear()
    try:
        with progress.quiet():
            kernels.kernel("gd", "update")
        assert capsys.readouterr().err == ""
        kernels.kernel.cache_clear()
        kernels.kernel("gd", "update")
    finally:
        kernels.kernel.cache_clear()
    assert capsys.readouterr().err.startswith(
        "symcnn: deriving gd update with SymPy, once (cache off)\n")
