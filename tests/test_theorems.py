"""The theorem checker (symcnn.theorems): built-in exact theorems pass, a planted false claim
fails with a reproducible counterexample, theorems refuse data outside their hypotheses,
user claims, the public strategies and ``symcnn check``."""

import dataclasses
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings

from symcnn import FullyConnected, LinearCNN, Statistics, progress, theorems
from symcnn.instances import non_stationary, stationary, white
from symcnn.strategies import examples, instances
from symcnn.symbolic.derivation import Derivation
from symcnn.theorems import HypothesisFailed, Theorem, check, report
from symcnn.theory import Theory

ROOT = Path(__file__).resolve().parents[1]
SLOW_PROOFS = {"fully connected baseline", "multi-channel input"}
"""Theorems whose proofs (R1, R3c) take 20 s or more to build."""
EXACT = ["fully connected baseline", "decoupling", "closed form", "stationary input",
         "multi-channel input", "depth"]


@pytest.mark.parametrize("name", [
    pytest.param(name, marks=pytest.mark.slow) if name in SLOW_PROOFS else name
    for name in EXACT])
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
    with pytest.raises(ValueError, match="unknown theorem name 'nope'"):
        theorems.get("nope")


@pytest.mark.parametrize("call, error, message", [
    (lambda: check(0.5), TypeError, "theorem must be a Theorem or its name, got 0.5"),
    (lambda: check(trivial_claim(), proof=0), TypeError, "proof must be True or False, got 0"),
    (lambda: theorems.get(["decoupling"]), TypeError, "name must be a theorem's name"),
    (lambda: theorems.register("decoupling"), TypeError, "theorem must be a Theorem, got str"),
    (lambda: theorems.register(trivial_claim(name="new"), replace=float("nan")), TypeError,
     "replace must be True or False, got nan"),
    (lambda: theorems.hypothesis("new", replace="yes"), TypeError, "replace must be True or "
                                                                   "False, got 'yes'"),
    (lambda: theorems.max_relative_error(np.ones(1), 1.0), ValueError,
     r"predicted has shape \(1,\), measured \(\)"),
    (lambda: theorems.max_relative_error([1.0, np.nan], [1.0, 1.0]), ValueError,
     "predicted contains NaN or inf"),
    (lambda: theorems.max_relative_error([1.0], [np.inf]), ValueError,
     "measured contains NaN or inf"),
    (lambda: theorems.max_relative_error([], []), ValueError, "predicted is empty"),
    (lambda: theorems.max_relative_error([1.0], ["1"]), TypeError,
     "measured must be a numeric array"),
    (lambda: theorems.max_relative_error([1e-3], [2.2e-313]), ValueError,  # 4.5e309: was inf
     "relative error of predicted against measured exceeds the float range"),
])
def test_bad_arguments_are_refused_naming_them(call, error, message):
    with pytest.raises(error, match=message):
        call()
    assert "new" not in theorems.CATALOGUE and "new" not in theorems.HYPOTHESES


@pytest.mark.parametrize("predicted, measured, error", [
    ([2.2e-313], [1e-3], 1.0),
    ([2.2e-313], [3e-313], (3e-313 - 2.2e-313) / 3e-313),  # subnormal scale, exact
    ([1e308, -1e308], [-1e308, 1e308], 2.0),  # the difference overflowed: was inf
    ([1.5e308 + 1.5e308j], [1e308], abs(0.5 + 1.5j)),  # |predicted| overflowed
    ([1.0, 2.0], [0.0, 0.0], 2.0),  # all zero: divided by 1
    ([0.0], [0.0], 0.0),
    ([1.001, -3.0], [1.0, -3.0], 0.001 / 3),
])
def test_max_relative_error_neither_overflows_nor_underflows(predicted, measured, error):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert theorems.max_relative_error(predicted, measured) == pytest.approx(error,
                                                                                  rel=1e-14)


def anchor(heading: str) -> str:
    """GitHub's anchor of a Markdown heading: lower case, punctuation dropped, spaces to
    hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_built_in_references_name_sections_of_the_theory_reference():
    """Each built-in theorem cites a section of docs/theory-reference.md that exists, and the
    catalogue links it relative to docs/."""
    text = (ROOT / "docs" / "theory-reference.md").read_text()
    anchors = {anchor(line.lstrip("#")) for line in text.splitlines() if line.startswith("#")}
    catalogue = report.catalogue()
    for theorem in theorems.CATALOGUE.values():
        path, _, section = theorem.reference.partition("#")
        assert path == "docs/theory-reference.md" and section in anchors, theorem.reference
        assert f"([theory reference](theory-reference.md#{section}))." in catalogue
    assert anchor("R3b: stationary input") == "r3b-stationary-input"


# the checker's own integrity --------------------------------------------------------------


def trivial_claim(calls: list | None = None, **changes) -> Theorem:
    """A cheap claim that holds (0 against 0); ``calls`` records each instance built and
    each proof run."""
    calls = [] if calls is None else calls

    def space(pick):
        calls.append("instance")
        return theorems.Instance(CNN, white(CNN, pick.integer(0, 9)), label="white input")

    def proof():
        calls.append("proof")
        raise AssertionError("a proof that should not run")

    claim = Theorem(name="trivial claim", title="0 = 0", statement="0 = 0", hypotheses=(),
                    space=space, predict=lambda i: np.zeros(2), measure=lambda i: np.zeros(2),
                    tolerance=0.0, proof=proof)
    return dataclasses.replace(claim, **changes)


@pytest.mark.parametrize("examples", [0, -1, True, 2.0, "3", None])
def test_check_refuses_a_bad_number_of_examples_before_anything_runs(examples):
    calls = []
    with pytest.raises(ValueError, match=re.escape(
            f"examples must be an integer >= 1 (the number of random instances), "
            f"got {examples!r}")):
        check(trivial_claim(calls), examples=examples)
    assert calls == []


@pytest.mark.parametrize("seed", [-1, 2**32, 1.5, True, "7", None])
def test_check_refuses_a_bad_seed_before_anything_runs(seed):
    calls = []
    message = re.escape(f"seed must be an integer from 0 to 4294967295 (2**32 - 1), "
                        f"got {seed!r}")
    with pytest.raises(ValueError, match=message):
        check(trivial_claim(calls), examples=1, seed=seed)
    assert calls == []  # not blamed on the theorem: neither its proof nor its space ran
    with pytest.raises(ValueError, match=message):
        trivial_claim(calls).instance(seed=seed)
    assert calls == []


def test_check_accepts_the_extreme_seeds_and_numpy_integers():
    from symcnn.instances import SEED_MAX
    for seed in (0, SEED_MAX, np.int64(5)):
        result = check(trivial_claim(proof=None), examples=np.int32(2), seed=seed)
        assert result.passed and result.instances == 2 and result.seed == seed
        assert type(result.seed) is int


def test_a_proof_that_raises_is_that_claims_failed_row_and_the_others_still_run():
    calls = []

    def broken():
        raise KeyError("no such step")
    claims = [trivial_claim(calls, name="broken proof", proof=broken),
              trivial_claim(calls, name="fine", proof=None)]
    first, second = [check(claim, examples=2) for claim in claims]
    assert not first.passed and first.row()["status"] == "FAIL"
    assert re.fullmatch(r"FAILED: raised KeyError: 'no such step' \(at .*test_theorems\.py:\d+ "
                        r"in broken\)", first.proof)  # one line where it was raised, no traceback
    assert first.instances == 2 and first.counterexample is None  # its instances ran too
    assert report.table([first, second]).count("\n") >= 3  # a row each, one line each
    assert "| broken proof |" in report.table([first, second])
    assert second.passed and second.instances == 2 and calls.count("instance") == 4


def test_a_space_that_raises_is_a_counterexample_with_its_reproduction_line():
    def space(pick):
        return 1 / 0
    result = check(trivial_claim(space=space, proof=None), examples=3, seed=4)
    assert not result.passed and result.instances == 1
    text = result.counterexample
    assert "building the instance raised ZeroDivisionError: division by zero" in text
    assert "instance: (not built)" in text and "Traceback" not in text
    assert "reproduce: symcnn.theorems.get('trivial claim').instance(seed=4, index=0)" in text
    odd = check(trivial_claim(space=lambda pick: "an instance", proof=None), examples=1)
    assert "raised TypeError: the space returned str, not an Instance" in odd.counterexample


def test_built_in_hypotheses_cannot_be_silently_redefined():
    original = theorems.HYPOTHESES["white input"]
    with pytest.raises(ValueError, match=re.escape(
            "a hypothesis named 'white input' is already registered; pass replace=True "
            "to redefine it")):
        @theorems.hypothesis("white input")
        def anything_is_white(model, stats):
            return True, "redefined"
    assert theorems.HYPOTHESES["white input"] is original
    stats = non_stationary(CNN, 1)
    with pytest.raises(HypothesisFailed, match="'white input' fails"):
        theorems.get("closed form").require(CNN, stats)
    try:  # a new hypothesis is added, and then protected in turn; replace=True redefines
        @theorems.hypothesis("round input")
        def round_input(model, stats):
            return True, "round"
        assert theorems.HYPOTHESES["round input"] is round_input
        with pytest.raises(ValueError, match="'round input' is already registered"):
            theorems.hypothesis("round input")(round_input)
        square = theorems.hypothesis("round input", replace=True)(lambda m, s: (False, "no"))
        assert theorems.HYPOTHESES["round input"] is square
    finally:
        theorems.HYPOTHESES.pop("round input", None)
    with pytest.raises(ValueError, match="must be callable"):
        theorems.hypothesis("square input")("not a predicate")
    assert "square input" not in theorems.HYPOTHESES


def test_check_reports_its_proof_instances_and_result_as_progress(monkeypatch, capsys):
    monkeypatch.setattr(progress, "DELAY", 0.0)  # shown at once, every state a line
    monkeypatch.setattr(progress, "INTERVAL", 0.0)

    def proof():
        d = Derivation("nothing")
        d.step("zero", sp.Integer(0), sp.Integer(0), "structurally equal")
        return d
    assert check(trivial_claim(proof=proof), examples=2).passed
    assert not check(trivial_claim(proof=None, predict=lambda i: np.ones(2)), 3).passed
    got = [re.sub(r" \(\d+\.\d s\)$", "", line)
           for line in capsys.readouterr().err.splitlines()]
    name = "symcnn check trivial claim"
    assert got == [name, f"{name}: proof", f"{name}: proof: step 1 zero",
                   f"{name}: instance 1/2", f"{name}: instance 2/2",
                   f"{name}: pass, 2/2 instances, max error 0",
                   name, f"{name}: instance 1/3", f"{name}: FAIL, 1/3 instances, max error 1"]
