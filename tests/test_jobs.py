"""Check campaigns that scale out (``symcnn check --jobs N``, ``--dask ADDRESS``;
``theorems.check(..., jobs=N, dask=...)``): instances verified in N forked processes or on a
Dask cluster give the serial run's results instance for instance, a worker killed mid-run
loses no instance, an instance that keeps killing its worker is reported, bad arguments are
refused; and a check's result renders as Markdown in Jupyter."""

import dataclasses
import json
import os
import re
import signal
import sys
import threading
import time

import numpy as np
import pytest

from symcnn import theorems
from symcnn.cli import main
from symcnn.theorems import campaign, check

from .reference import require

TWO_THEOREMS = ["decoupling", "small-kernel linearization", "--examples", "2", "--seed", "5",
                "--no-proof"]


def _json_rows(capsys, argv: list[str]) -> list[dict]:
    """The rows of ``symcnn check ARGV --json``, their (timing) ``seconds`` left out."""
    assert main(["check", *argv, "--json", "--quiet"]) == 0
    rows = json.loads(capsys.readouterr().out)
    return [{key: value for key, value in row.items() if key != "seconds"} for row in rows]


def _same(result, expected) -> bool:
    """Whether two results are the same but for their timing."""
    return result.row() | {"seconds": 0} == expected.row() | {"seconds": 0}


def _convolution_doubled():
    """A planted false claim: under the convolution convention the decoupled prediction
    doubles (with seed 0, instances 0 and 1 use correlation and pass, 2 and 3 fail)."""
    decoupling = theorems.get("decoupling")

    def predict(instance):
        doubled = instance.model.convention == "convolution"
        return decoupling.predict(instance) * (2.0 if doubled else 1.0)
    return dataclasses.replace(decoupling, name="convolution doubles", proof=None,
                               predict=predict)


def _slow(directory):
    """Decoupling whose measurement first leaves a file named for its process (and a
    fresh number) in ``directory``, then sleeps 0.3 s: a worker to kill mid-instance."""
    decoupling = theorems.get("decoupling")

    def measure(instance):
        (directory / f"{os.getpid()}-{time.monotonic_ns()}").touch()
        time.sleep(0.3)
        return decoupling.measure(instance)
    return dataclasses.replace(decoupling, name="slow", proof=None, measure=measure)


def _dies_on_instance_2():
    """Decoupling whose measurement ends its process on instance 2 of seed 0, every time."""
    decoupling = theorems.get("decoupling")
    fatal = decoupling.instance(seed=0, index=2).describe()

    def measure(instance):
        if instance.describe() == fatal:
            os._exit(3)
        return decoupling.measure(instance)
    return dataclasses.replace(decoupling, name="dies", proof=None, measure=measure)


def _kill_first_worker(directory) -> tuple[threading.Thread, list[int]]:
    """A started thread that SIGKILLs, once, the process that leaves the first file in
    ``directory`` (never this one); the list gets its pid."""
    killed: list[int] = []

    def kill():
        deadline = time.monotonic() + 60
        while not any(directory.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.005)
        pid = int(min(directory.iterdir()).name.split("-")[0])
        assert pid != os.getpid()
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)
    thread = threading.Thread(target=kill, daemon=True)
    thread.start()
    return thread, killed


def _killed_once(tmp_path, **where):
    """The serial result of :func:`_slow` on 6 instances, and the result ``where`` (jobs or
    dask) while its first worker is killed; the pid killed and the measurements made."""
    (tmp_path / "serial").mkdir()
    serial = check(_slow(tmp_path / "serial"), examples=6, seed=0)
    (tmp_path / "run").mkdir()
    thread, killed = _kill_first_worker(tmp_path / "run")
    result = check(_slow(tmp_path / "run"), examples=6, **where)
    thread.join()
    return serial, result, killed, [p.name for p in (tmp_path / "run").iterdir()]


# forked local processes

def test_jobs_2_gives_the_serial_json_of_two_theorems(capsys):
    serial = _json_rows(capsys, TWO_THEOREMS)
    assert [row["instances"] for row in serial] == [2, 2]
    assert _json_rows(capsys, [*TWO_THEOREMS, "--jobs", "2"]) == serial


def test_a_failing_claim_gives_the_serial_counterexample():
    claim = _convolution_doubled()
    serial, parallel = (check(claim, examples=5, seed=0, jobs=jobs) for jobs in (1, 2))
    assert not serial.passed and "index=2)" in serial.counterexample  # not the first
    assert "> tolerance" in serial.counterexample and serial.instances == 3
    assert _same(parallel, serial)


def test_a_worker_killed_mid_instance_loses_no_instance(tmp_path):
    serial, result, killed, measured = _killed_once(tmp_path, jobs=2)
    assert serial.passed and serial.instances == 6
    assert _same(result, serial)
    assert len(killed) == 1 and any(name.startswith(f"{killed[0]}-") for name in measured)
    assert len(measured) == 7  # the killed instance measured again, by a new worker


def test_an_instance_that_keeps_killing_its_worker_is_a_counterexample():
    start = time.perf_counter()
    result = check(_dies_on_instance_2(), examples=5, jobs=2)
    assert not result.passed and result.instances == 3
    assert campaign.ALLOWED_FAILURES == 3
    assert ("dies: its worker process died 4 times (the last exit code 3)"
            in result.counterexample)
    assert "instance(seed=0, index=2)" in result.counterexample
    assert time.perf_counter() - start < 30


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


# a Dask cluster

@pytest.fixture(scope="module")
def cluster():
    """A LocalCluster of two one-thread worker processes whose scheduler gives up on a task
    after its worker died twice (allowed-failures 1, for speed), and a Client of it."""
    distributed = require("distributed", "dask")
    import dask

    with dask.config.set({"distributed.scheduler.allowed-failures": 1}), \
            distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                     dashboard_address=None) as local, \
            distributed.Client(local, set_as_default=False) as client:
        yield local, client


def test_dask_gives_the_serial_json_of_two_theorems(capsys, cluster):
    serial = _json_rows(capsys, TWO_THEOREMS)
    assert _json_rows(capsys, [*TWO_THEOREMS, "--dask", cluster[0].scheduler_address]) \
        == serial


def test_dask_gives_the_serial_counterexample_of_a_claim_defined_here(cluster):
    claim = _convolution_doubled()  # closures: they travel by cloudpickle
    serial = check(claim, examples=5, seed=0)
    assert not serial.passed and "index=2)" in serial.counterexample
    assert _same(check(claim, examples=5, seed=0, dask=cluster[1]), serial)


def test_dask_workers_learn_a_claims_own_hypothesis(cluster, monkeypatch):
    def small(model, stats):
        return model.channels <= 4, f"{model.channels} channels"
    monkeypatch.setitem(theorems.HYPOTHESES, "at most 4 channels", small)
    decoupling = theorems.get("decoupling")
    claim = dataclasses.replace(decoupling, name="own hypothesis", proof=None,
                                hypotheses=(*decoupling.hypotheses, "at most 4 channels"))
    serial = check(claim, examples=4, seed=1)
    assert "unknown hypothesis" not in (serial.counterexample or "")
    assert _same(check(claim, examples=4, seed=1, dask=cluster[1]), serial)


def test_a_dask_worker_killed_mid_instance_loses_no_instance(tmp_path, cluster):
    serial, result, killed, measured = _killed_once(tmp_path, dask=cluster[1])
    assert serial.passed and _same(result, serial)
    assert len(killed) == 1 and any(name.startswith(f"{killed[0]}-") for name in measured)
    assert len(measured) >= 7  # the killed instance measured again


def test_a_task_that_keeps_killing_dask_workers_is_a_counterexample(cluster):
    result = check(_dies_on_instance_2(), examples=5, dask=cluster[1])
    assert not result.passed and result.instances == 3
    assert "dies: its Dask task was lost: KilledWorker: Attempted to run task " \
        in result.counterexample
    assert "on 2 different workers" in result.counterexample
    assert "instance(seed=0, index=2)" in result.counterexample


def test_a_client_closed_mid_run_is_an_error_not_a_pass(tmp_path, cluster):
    distributed = require("distributed", "dask")
    client = distributed.Client(cluster[0].scheduler_address, set_as_default=False)

    def close():
        while not any(tmp_path.iterdir()):
            time.sleep(0.005)
        client.close()
    thread = threading.Thread(target=close, daemon=True)
    thread.start()
    with pytest.raises(ConnectionError, match="^instance 0 was cancelled on the Dask "
                                              "cluster before it finished .*no result"):
        check(_slow(tmp_path), examples=6, dask=client)
    thread.join()


@pytest.mark.parametrize("dask, error, allowed", [
    ("", ValueError, "a Dask scheduler address such as 'tcp://host:8786' or a "
                     "distributed.Client, got ''"),
    (5, TypeError, "a Dask scheduler address \\(a str\\) or a distributed.Client, got int 5"),
    (True, TypeError, "a Dask scheduler address \\(a str\\) or a distributed.Client, got "
                      "bool True"),
])
def test_bad_dask_arguments_are_refused_naming_them(dask, error, allowed):
    with pytest.raises(error, match=f"^dask must be {allowed}$"):
        check("decoupling", examples=1, dask=dask)


def test_jobs_with_dask_is_refused_naming_both():
    with pytest.raises(ValueError, match="^jobs = 2 and dask = 'tcp://127.0.0.1:1' were both "
                                         "given"):
        check("decoupling", examples=1, jobs=2, dask="tcp://127.0.0.1:1")


def _refusal(capsys, argv: list[str]) -> str:
    """The one line ``symcnn check ARGV`` ends with, exit status 2."""
    with pytest.raises(SystemExit) as usage:
        main(["check", *argv, "--quiet"])
    err = capsys.readouterr().err
    assert usage.value.code == 2 and err.count("\n") == 1, err
    return err


def test_the_command_refuses_dask_with_jobs_2(capsys):
    assert _refusal(capsys, ["decoupling", "--dask", "tcp://127.0.0.1:1", "--jobs", "2"]) \
        .startswith("symcnn check: error: --dask tcp://127.0.0.1:1 and --jobs 2:")


@pytest.mark.parametrize("address, message", [
    ("tcp://127.0.0.1:1", "Timed out trying to connect to tcp://127.0.0.1:1 after 1 s"),
    ("nonsense", "Dask scheduler address 'nonsense': missing port number"),
    ("", "--dask must be a scheduler address such as tcp://host:8786, got ''"),
])
def test_the_command_refuses_an_address_without_a_scheduler_in_one_line(
        capsys, monkeypatch, address, message):
    require("distributed", "dask")
    monkeypatch.setattr(campaign, "CONNECT_TIMEOUT", 1.0)
    start = time.perf_counter()
    err = _refusal(capsys, ["decoupling", "--examples", "1", "--dask", address])
    assert err.startswith(f"symcnn check: error: {message}")
    assert time.perf_counter() - start < 10


def test_without_distributed_dask_says_what_to_install(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'symcnn\[dask\]'"):
        check("decoupling", examples=1, dask="tcp://127.0.0.1:1")
    assert _refusal(capsys, ["decoupling", "--dask", "tcp://127.0.0.1:1"]) == (
        "symcnn check: error: symcnn check --dask needs distributed: pip install "
        "'symcnn[dask]'\n")


# Jupyter

HEADER = ["| theorem | hypotheses | symbolic proof | instances | max error | tolerance | status |",
          "| --- | --- | --- | --- | --- | --- | --- |"]


def test_a_passing_result_renders_as_its_row():
    result = check("decoupling", examples=2, seed=0, proof=False)
    markdown = result._repr_markdown_().split("\n")
    assert markdown[:2] == HEADER and len(markdown) == 3
    assert re.fullmatch(r"\| decoupling \| linear CNN, full kernel, stationary input, depth 1 "
                        r"\| skipped \(--no-proof\) \| 2 \| [0-9.e-]+ \| 1e-12 \| pass \|",
                        markdown[2])


def test_a_failing_result_renders_its_row_and_counterexample():
    claim = dataclasses.replace(_convolution_doubled(), name="doubles | sometimes")
    markdown = check(claim, examples=5, seed=0)._repr_markdown_()
    row, counterexample = markdown.split("\n\n")
    assert row.split("\n")[:2] == HEADER
    assert row.split("\n")[2].startswith("| doubles \\| sometimes | linear CNN, ")
    assert row.endswith("| none | 3 | 1 | 1e-12 | FAIL |")
    assert counterexample.startswith("```text\ncounterexample: doubles | sometimes: error 1 > "
                                     "tolerance 1e-12\n  instance: LinearCNN(")
    assert counterexample.endswith("instance(seed=0, index=2)\n```")
