"""``symcnn check --jobs N`` (``theorems.check(..., jobs=N)``): instances verified in N
forked processes give the serial run's results instance for instance, a failing or lost
instance is reported, and a bad N is refused."""

import dataclasses
import json
import os
import re

import numpy as np
import pytest

from symcnn import theorems
from symcnn.cli import main
from symcnn.theorems import check


def _json_rows(capsys, argv: list[str]) -> list[dict]:
    """The rows of ``symcnn check ARGV --json``, their (timing) ``seconds`` left out."""
    assert main(["check", *argv, "--json", "--quiet"]) == 0
    rows = json.loads(capsys.readouterr().out)
    return [{key: value for key, value in row.items() if key != "seconds"} for row in rows]


def test_jobs_2_gives_the_serial_json_of_two_theorems(capsys):
    argv = ["decoupling", "closed form", "--examples", "3", "--seed", "5", "--no-proof"]
    serial = _json_rows(capsys, argv)
    assert [row["instances"] for row in serial] == [3, 3]
    assert _json_rows(capsys, [*argv, "--jobs", "2"]) == serial


def _convolution_doubled():
    """A planted false claim: under the convolution convention the decoupled prediction
    doubles (with seed 0, instances 0 and 1 use correlation and pass, 2 and 3 fail)."""
    decoupling = theorems.get("decoupling")

    def predict(instance):
        doubled = instance.model.convention == "convolution"
        return decoupling.predict(instance) * (2.0 if doubled else 1.0)
    return dataclasses.replace(decoupling, name="convolution doubles", proof=None,
                               predict=predict)


def test_a_failing_claim_gives_the_serial_counterexample():
    claim = _convolution_doubled()
    serial, parallel = (check(claim, examples=5, seed=0, jobs=jobs) for jobs in (1, 2))
    assert not serial.passed and "index=2)" in serial.counterexample  # not the first
    assert "> tolerance" in serial.counterexample and serial.instances == 3
    assert parallel.row() | {"seconds": 0} == serial.row() | {"seconds": 0}


def test_an_instance_whose_worker_dies_is_a_counterexample():
    decoupling = theorems.get("decoupling")

    def measure(instance):
        os._exit(3)  # the worker process dies on every instance
    claim = dataclasses.replace(decoupling, name="dies", proof=None, measure=measure)
    result = check(claim, examples=3, jobs=2)
    assert not result.passed and result.instances == 1
    assert "dies: its worker process died (BrokenProcessPool" in result.counterexample
    assert "instance(seed=0, index=0)" in result.counterexample


@pytest.mark.parametrize("jobs", [0, -2, 1.5, True, np.float64(2), "2"])
def test_bad_jobs_are_refused_naming_them(jobs):
    refusal = f"jobs must be an integer >= 1 .*got {re.escape(repr(jobs))}$"
    with pytest.raises(ValueError, match=refusal):
        check("decoupling", examples=1, jobs=jobs)


def test_the_command_refuses_jobs_0_in_one_line(capsys):
    with pytest.raises(SystemExit) as usage:
        main(["check", "decoupling", "--jobs", "0"])
    err = capsys.readouterr().err
    assert usage.value.code == 2 and err.count("\n") == 1
    assert err.startswith("symcnn check: error: jobs must be an integer >= 1")
