"""The theorem checker (symcnn.theorems): built-in exact theorems pass, a planted false claim
fails with a reproducible counterexample, theorems refuse data outside their hypotheses,
user claims, the public strategies and ``symcnn check``."""

import dataclasses
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings

from symcnn import FullyConnected, LinearCNN, Statistics, theorems
from symcnn.cli import main
from symcnn.instances import non_stationary, stationary, white
from symcnn.strategies import examples, instances
from symcnn.theorems import HypothesisFailed, Theorem, check, report
from symcnn.theory import Theory

EXACT = ["fully connected baseline", "decoupling", "closed form", "stationary input",
         "multi-channel input", "depth"]


@pytest.mark.parametrize("name", EXACT)
def test_exact_theorems_pass_with_their_proofs(name):
    result = check(name, examples=2, seed=11)
    assert result.passed, result.counterexample or result.proof
    assert result.instances == 2 and result.max_error <= result.theorem.tolerance
    assert result.proof.endswith("steps checked")


@settings(max_examples=examples(3), deadline=None)
@given(instances("closed form"))
def test_public_strategy_draws_instances_inside_the_hypotheses(instance):
    theorem = theorems.get("closed form")
    assert theorem.failed_hypotheses(instance.model, instance.stats) == []
    assert theorem.verify(instance) <= theorem.tolerance


def _fully_connected_rate(instance):
    """The planted false claim: a CNN's strengths grow at the fully connected rate, as if
    the gain sqrt(N) were 1 (``tau`` scaled by ``sqrt(N)``)."""
    tau = instance.tau * np.sqrt(instance.model.n_pixels)
    return Theory(instance.model, instance.stats, tau).maps(instance.times, instance.u0)


def false_claim() -> Theorem:
    closed = theorems.get("closed form")
    return dataclasses.replace(closed, name="fully connected rate for a CNN", proof=None,
                               predict=_fully_connected_rate, reference="")


def test_a_planted_false_claim_fails_with_a_reproducible_counterexample():
    claim = false_claim()
    result = check(claim, examples=3, seed=0)
    assert not result.passed  # (it stops at the first failure; N = 1 would agree)
    assert result.max_error > 1e-2
    text = result.counterexample
    assert "error" in text and "> tolerance 1e-08" in text and "LinearCNN(" in text
    again = claim.instance(seed=0, index=0)  # the reproduction line rebuilds it
    assert "instance(seed=0, index=0)" in text and again.describe() in text
    assert claim.verify(again) == pytest.approx(result.max_error, rel=1e-6)


def test_a_prediction_that_raises_is_a_counterexample():
    def broken(_):
        raise RuntimeError("no prediction")
    claim = dataclasses.replace(theorems.get("decoupling"), name="broken", proof=None,
                                predict=broken)
    result = check(claim, examples=2)
    assert not result.passed and "raised RuntimeError: no prediction" in result.counterexample


CNN = LinearCNN(shape=8, channels=2, n_out=2)
REFUSALS = [
    ("decoupling", LinearCNN(shape=8, kernel=3), white, "full kernel"),
    ("decoupling", CNN, non_stationary, "stationary input"),
    ("closed form", CNN, stationary, "white input"),
    ("closed form", LinearCNN(shape=8, c_in=2, channels=2), white, "one input channel"),
    ("stationary input", LinearCNN(shape=8, depth=2), stationary, "depth 1"),
    ("multi-channel input", CNN, white, "several input channels"),
    ("depth", CNN, white, "one output"),
    ("depth", LinearCNN(shape=8), white, "deep"),
    ("fully connected baseline", CNN, white, "fully connected"),
    ("fully connected baseline", FullyConnected(8, 2, 2), None, "white input"),
]


@pytest.mark.parametrize(("name", "model", "data", "hypothesis"), REFUSALS)
def test_theorems_refuse_data_outside_their_hypotheses(name, model, data, hypothesis):
    stats = data(model, 3) if data else Statistics(shape=8, sxx=2 * np.eye(8),
                                                   syx=np.ones((2, 8)))
    with pytest.raises(HypothesisFailed, match=f"theorem '{name}' does not apply: "
                                               f"hypothesis '{hypothesis}' fails"):
        theorems.get(name).require(model, stats)


def test_verify_refuses_before_predicting():
    theorem = theorems.get("decoupling")
    instance = theorem.instance(seed=1)
    outside = dataclasses.replace(instance, stats=non_stationary(instance.model, 1))
    if outside.stats.is_stationary():  # a 1-pixel image cannot be made non-stationary
        outside = dataclasses.replace(outside, model=CNN, stats=non_stationary(CNN, 1))
    with pytest.raises(HypothesisFailed, match="'stationary input' fails"):
        theorem.verify(outside)


def test_registration_names_what_is_wrong():
    with pytest.raises(ValueError, match="'closed form' is already registered"):
        theorems.register(theorems.get("closed form"))
    with pytest.raises(ValueError, match="unknown hypothesis 'round input'"):
        theorems.register(dataclasses.replace(false_claim(), hypotheses=("round input",)))
    with pytest.raises(ValueError, match="unknown theorem 'nope'"):
        theorems.get("nope")


CLAIM_MODULE = '''
from symcnn import theorems
from tests.test_theorems import false_claim

theorems.register(false_claim(), replace=True)
'''


def test_symcnn_check_passes_and_fails_with_the_exit_status(tmp_path, monkeypatch, capsys):
    assert main(["check", "decoupling", "--examples", "2", "--no-proof"]) == 0
    out = capsys.readouterr().out
    assert "| theorem | hypotheses | symbolic proof | instances | max error | tolerance | " \
           "status |" in out and "| decoupling |" in out and "| pass |" in out
    (tmp_path / "my_claims.py").write_text(CLAIM_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    status = main(["check", "--load", "my_claims", "fully connected rate for a CNN",
                   "--examples", "2", "--json"])
    out = capsys.readouterr().out
    assert status == 1
    (row,) = json.loads(out)
    assert row["status"] == "FAIL" and row["proof"] == "none"
    assert "reproduce: symcnn.theorems.get('fully connected rate for a CNN')" in \
           row["counterexample"]
    with pytest.raises(SystemExit, match="unknown theorem"):
        main(["check", "no such theorem"])
    theorems.CATALOGUE.pop("fully connected rate for a CNN")
    sys.modules.pop("my_claims", None)


def test_the_documented_user_claim_passes(monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "docs" / "examples"))
    try:
        assert main(["check", "--load", "my_claims", "my claim", "--examples", "2"]) == 0
        assert "| my claim |" in capsys.readouterr().out
    finally:
        theorems.CATALOGUE.pop("my claim", None)
        sys.modules.pop("my_claims", None)


def test_catalogue_document_is_current():
    """docs/theorems-catalogue.md equals ``symcnn check --catalogue`` (``SYMCNN_UPDATE_DOCS=1``
    rewrites it)."""
    path = Path(__file__).resolve().parents[1] / "docs" / "theorems-catalogue.md"
    text = report.catalogue()
    if os.environ.get("SYMCNN_UPDATE_DOCS"):
        path.write_text(text)
    assert path.read_text() == text, f"{path} is stale: symcnn check --catalogue > {path}"
    assert all(f"## {name}\n" in text for name in theorems.CATALOGUE)
