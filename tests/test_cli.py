"""The command line: every command, its output, and its refusals (a one-line message and
exit status 2, never a traceback)."""

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from symcnn import Dense, LinearCNN, init_random, progress, theorems, train, zoo
from symcnn.cli import main
from tests.reference import compile_latex

ROOT = Path(__file__).resolve().parents[1]


def test_zoo_command_lists_every_setup(capsys):
    assert main(["zoo"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in zoo.names())


def test_simulate_reports_the_training_run(capsys):
    assert main(["simulate", "--setup", "tiny-1d-4", "--engine", "dense", "--points", "11",
                 "--rows", "11", "--quiet"]) == 0
    out = capsys.readouterr().out
    setup = zoo.get("tiny-1d-4")
    run = train(Dense(setup.model, setup.stats), init_random(setup.model, setup.init_scale),
                np.linspace(0, setup.t_end, 11), rtol=1e-8)
    table = [line.split() for line in out.splitlines() if line.startswith("     5.000")]
    assert len(table) == 1
    assert float(table[0][1]) == pytest.approx(run.loss[-1], rel=1e-4)
    assert "learning order CNN:" in out and "learning order FC:" in out


def test_simulate_refuses_samples_without_a_dataset(capsys):
    refused(capsys, ["simulate", "--setup", "white-1d-8", "--engine", "samples", "--quiet"],
            "has statistics but no samples")


def test_plot_is_written_or_the_extra_is_named(tmp_path, capsys):
    path = tmp_path / "curves.png"
    args = ["simulate", "--setup", "tiny-1d-4", "--points", "5", "--quiet", "--plot", str(path)]
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        refused(capsys, args, r"symcnn\[reproduce\]")
    else:
        assert main(args) == 0
        assert path.stat().st_size > 1000


def test_derive_prints_and_writes_the_derivation(capsys, tmp_path):
    from symcnn.symbolic.reductions import fully_connected

    assert main(["derive", "fully-connected"]) == 0
    assert capsys.readouterr().out == fully_connected().to_markdown()
    out = tmp_path / "fc.tex"
    assert main(["derive", "fully-connected", "--format", "latex", "--out", str(out)]) == 0
    assert out.read_text() == fully_connected().to_latex()
    assert "4 steps verified" in capsys.readouterr().out


def test_derive_pixel_takes_the_model_options(capsys, tmp_path):
    from symcnn.symbolic.pixel import gradient_flow

    out = tmp_path / "pixel.tex"
    args = ["derive", "pixel", "--shape", "3", "4", "--kernel", "2", "3", "--c-in", "2",
            "--channels", "2", "--convention", "convolution", "--format", "latex"]
    assert main([*args, "--out", str(out)]) == 0
    model = LinearCNN(shape=(3, 4), kernel=(2, 3), c_in=2, channels=2, n_out=2,
                      convention="convolution")
    assert out.read_text() == gradient_flow(model).derivation.to_latex()
    assert "3 steps verified" in capsys.readouterr().out
    compile_latex(out)


def test_derive_closed_forms(capsys):
    from symcnn.symbolic import closed_forms

    assert main(["derive", "r5", "--depth", "2"]) == 0
    assert capsys.readouterr().out == closed_forms.r5(3).derivation.to_markdown()
    assert main(["derive", "r4", "--shape", "5", "--kernel", "2"]) == 0
    assert "R4: growth rates of small kernels (N = 5, k = 2)" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["pixel", "--shape", "3", "--kernel", "4"], "kernel.0. must satisfy 1 <= k <= N = 3"),
    (["pixel", "--depth", "0"], "--depth must be an integer from 1 to 5 for pixel, got 0"),
    (["pixel", "--depth", "100000"], "--depth must be an integer from 1 to 5 for pixel"),
    (["r5", "--depth", "6"], "--depth must be an integer from 1 to 5 for r5, got 6"),
    (["pixel", "--shape", "9", "8"], r"--shape must be sizes >= 1 with at most 64 pixels in "
                                     r"all \(their product\) for pixel, got 9 8"),
    (["pixel", "--shape", "-2", "-2"], "--shape must be sizes >= 1 .* got -2 -2"),
    (["fourier-explicit", "--shape", "4", "4"], "at most 12 pixels .* fourier-explicit"),
    (["r4", "--shape", "100000", "--kernel", "3"], "at most 16 pixels in all .* for r4"),
    (["pixel", "--kernel", "100000"], "kernel.0. must satisfy 1 <= k <= N = 4"),
    (["pixel", "--channels", "1000"], "--channels must be an integer from 1 to 16 for pixel"),
    (["fourier-explicit", "--c-in", "17"], "--c-in must be an integer from 1 to 16 for "
                                           "fourier-explicit, got 17"),
    (["fully-connected", "--hidden", "0"], "--hidden must be an integer from 1 to 16 for "
                                           "fully-connected, got 0"),
    (["fully-connected", "--n-in", "10000"], "--n-in must be an integer from 1 to 16"),
    (["fully-connected", "--n-out", "17"], "--n-out must be an integer from 1 to 16"),
    (["pixel", "--hidden", "2"], "--hidden applies to fully-connected, not to pixel"),
    (["fourier-explicit", "--depth", "2"], "needs depth = 1"),
    (["r4", "--shape", "4", "4"], "r4 is derived for 1-D models"),
    (["r4", "--shape", "4", "--kernel", "5"], "kernel"),
    (["r5", "--shape", "4"], "--shape applies to pixel, fourier-explicit, r4, not to r5"),
    (["cnn-fourier", "--shape", "4"],
     "--shape applies to pixel, fourier-explicit, r4, not to cnn-fourier"),
])
def test_derive_rejects_bad_model_options(capsys, args, message):
    refused(capsys, ["derive", *args], message)


def test_size_limits_are_refused_before_deriving_and_stated_in_the_help(capsys, monkeypatch):
    from symcnn.symbolic import closed_forms

    def never(*args, **kwargs):
        raise AssertionError("derivation started")

    monkeypatch.setattr(closed_forms, "r5", never)
    for command in ("codegen", "derive"):
        refused(capsys, [command, "r5", "--depth", "100000"], "--depth must be an integer "
                                                              "from 1 to 5 for r5, got 100000")
    for command, limits in (("codegen", ["L = depth + 1 layers, 1 to 5", "1 to 1000"]),
                            ("derive", ["pixel <= 64, fourier-explicit <= 12, r4 <= 16",
                                        "pixel <= 5, fourier-explicit, r5 <= 5"])):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        out = " ".join(capsys.readouterr().out.split())
        assert all(limit in out for limit in limits), out


def refused(capsys, argv: list[str], message: str) -> None:
    """``symcnn argv`` exits with status 2 and one line on stderr matching ``message``."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert re.search(message, err), err
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 2


@pytest.mark.parametrize("args, message", [
    (["derive"], "give a derivation NAME, or --all --out DIR"),
    (["derive", "--all"], "give --out DIR"),
    (["derive", "--all", "--out", "x", "--format", "latex"], "no NAME or --format"),
    (["derive", "--all", "--out", "x", "--shape", "4"], "--shape applies to .*not to --all"),
    (["derive", "nope"], "invalid choice: 'nope'"),
    (["codegen", "r3b", "--dps", "40"], "--dps applies to --backend mpmath, not to numpy"),
    (["codegen", "r3", "--depth", "3"], "--depth applies to r5, not to r3"),
    (["codegen", "r3b", "--no-cache", "--cache-dir", "x"], "exclude each other"),
    (["codegen", "r5", "--depth", "0"], "--depth must be an integer from 1 to 5 for r5, got 0"),
    (["codegen", "r5", "--depth", "100000"], "--depth must be an integer from 1 to 5 for r5, "
                                             "got 100000"),
    (["codegen", "r5", "--depth", "-3"], "--depth must be an integer from 1 to 5 for r5, got -3"),
    (["codegen", "r3b", "--backend", "mpmath", "--dps", "100000"],
     "--dps must be an integer from 1 to 1000, got 100000"),
    (["codegen", "r3b", "--out", "/nonexistent/dir/k.py"],
     "--out /nonexistent/dir/k.py: the directory /nonexistent/dir does not exist"),
    (["codegen", "r3b", "--out", ""], "--out '': give a file name, not a directory"),
    (["codegen", "r3b", "--out", "."], "--out '.': give a file name, not a directory"),
    (["codegen", "r3b", "--cache-dir", ""], "--cache-dir '': give a directory"),
    (["codegen", "r3b", "--cache-dir", __file__], "--cache-dir .*test_cli.py': give a directory"),
    (["codegen", "r1", "--field", "ode"], "invalid choice: 'ode'"),
    (["codegen", "gd"], "gd has no field stable; its fields: update"),
    (["codegen", "gd", "--field", "update", "--backend", "mpmath", "--dps", "0"],
     "--dps must be an integer from 1 to 1000, got 0"),
    (["derive", "pixel", "--out", "/nonexistent/dir/p.md"], "the directory .* does not exist"),
    (["derive", "pixel", "--out", "."], "--out '.': give a file name, not a directory"),
    (["simulate", "--method", "gd", "--lr", "0"], "--lr must be a finite number > 0, got 0"),
    (["simulate", "--t-end", "-5"], "--t-end must be a finite number > 0, got -5"),
    (["simulate", "--t-end", "0"], "--t-end must be a finite number > 0, got 0"),
    (["simulate", "--init-scale", "0"], "--init-scale must be a finite number > 0, got 0"),
    (["simulate", "--seed", "-1"], "--seed must be >= 0, got -1"),
    (["simulate", "--rtol", "10"], r"--rtol must be in \(0, 1\), got 10"),
    (["simulate", "--lr", "0.1"], "--lr does not apply to --method flow"),
    (["simulate", "--method", "gd", "--rtol", "1e-6"], "--rtol does not apply to --method gd"),
    (["simulate", "--points", "1"], "--points must be >= 2, got 1"),
    (["simulate", "--plot", "/nonexistent/dir/x.png"], "the directory does not exist"),
    (["simulate", "--method", "gd", "--t-end", "0.001"], "shorter than one step"),
    (["check", "--load", "no_such_module_here"], "--load no_such_module_here: No module"),
    ([], "the following arguments are required: COMMAND"),
])
def test_bad_invocations_exit_2_with_one_line(capsys, args, message):
    refused(capsys, args, message)


def test_codegen_compiles_the_gradient_descent_map(capsys, tmp_path):
    """The gd map's kernel, generated from its derivation, passes the 50-digit check."""
    assert main(["codegen", "gd", "--field", "update", "--check",
                 "--cache-dir", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert "def kernel(a0, a1, a2, a3, a4)" in captured.out
    assert "(ok, limit 1e-12)" in captured.err


# symcnn codegen -------------------------------------------------------------------------


@pytest.fixture
def cache_path(tmp_path, monkeypatch):
    """Every kernel in these tests goes to a temporary cache."""
    path = tmp_path / "cache"
    monkeypatch.setenv("SYMCNN_CACHE", str(path))
    return path


def test_codegen_prints_checks_and_caches_a_kernel(cache_path, capsys, tmp_path):
    out = tmp_path / "r3b.py"
    assert main(["codegen", "r3b", "--out", str(out), "--check"]) == 0
    source = out.read_text()
    assert "Do not edit" in source and "arguments: a0 = t, a1 = tau, a2 = s" in source
    err = capsys.readouterr().err
    assert "cache miss" in err and "check: 1728 points" in err and "(ok" in err
    assert main(["codegen", "r3b", "--check"]) == 0
    assert "cache hit" in capsys.readouterr().err
    assert main(["codegen", "r3b", "--backend", "mpmath", "--dps", "40", "--check"]) == 0
    # the textbook form overflows at large 2 sqrt(N) s t / tau: --check fails
    assert main(["codegen", "r3b", "--field", "solution", "--check", "--no-cache"]) == 1
    captured = capsys.readouterr()
    assert "FAILED" in captured.err and "cache off" in captured.err
    assert "def kernel(a0, a1, a2, a3, a4, a5)" in captured.out
    assert main(["codegen", "r5", "--depth", "1", "--check"]) == 0
    assert "(ok" in capsys.readouterr().err


# symcnn check ---------------------------------------------------------------------------


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
    try:
        status = main(["check", "--load", "my_claims", "fully connected rate for a CNN",
                       "--examples", "2", "--json"])
        out = capsys.readouterr().out
        assert status == 1
        (row,) = json.loads(out)
        assert row["status"] == "FAIL" and row["proof"] == "none"
        assert "reproduce: symcnn.theorems.get('fully connected rate for a CNN')" in \
               row["counterexample"]
    finally:
        theorems.CATALOGUE.pop("fully connected rate for a CNN", None)
        sys.modules.pop("my_claims", None)
    with pytest.raises(SystemExit) as usage:
        main(["check", "no such theorem"])
    assert usage.value.code == 2 and "unknown theorem(s) 'no such theorem'" in \
        capsys.readouterr().err


def test_the_documented_user_claim_passes(monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(ROOT / "docs" / "examples"))
    try:
        assert main(["check", "--load", "my_claims", "my claim", "--examples", "2"]) == 0
        assert "| my claim |" in capsys.readouterr().out
    finally:
        theorems.CATALOGUE.pop("my claim", None)
        sys.modules.pop("my_claims", None)


# progress on stderr, and --quiet ----------------------------------------------------------


@pytest.fixture
def shown(monkeypatch):
    """Progress shown at once, every state a line (no delay, no throttle)."""
    monkeypatch.setattr(progress, "DELAY", 0.0)
    monkeypatch.setattr(progress, "INTERVAL", 0.0)


def twice(capsys, argv: list[str]) -> tuple[str, str, str]:
    """``symcnn argv`` with and without --quiet: stdout (the same in both) and both stderrs."""
    assert main(argv) in (0, 1)
    loud = capsys.readouterr()
    assert main([*argv, "--quiet"]) in (0, 1)
    quiet = capsys.readouterr()
    assert quiet.out == loud.out
    return loud.out, loud.err, quiet.err


def test_derive_reports_each_step_and_quiet_silences_it(shown, capsys):
    from symcnn.symbolic.pixel import gradient_flow

    out, err, quiet = twice(capsys, ["derive", "pixel"])
    derivation = gradient_flow(LinearCNN((4,), n_out=2)).derivation  # the defaults
    steps = derivation.steps
    assert out == derivation.to_markdown()
    for i, step in enumerate(steps, 1):
        assert re.search(rf"^symcnn derive pixel: step {i} {step.name} \(\d+\.\d s\)$", err,
                         re.MULTILINE)
    assert f"symcnn derive pixel: {len(steps)} steps checked" in err
    assert re.fullmatch(rf"{len(steps)} steps verified in \d+\.\d s\n", quiet)  # the result


def test_check_reports_instance_i_of_n_and_the_result(shown, capsys):
    out, err, quiet = twice(capsys, ["check", "decoupling", "--examples", "2", "--no-proof"])
    assert "| decoupling |" in out and "| pass |" in out
    own = [re.sub(r" \(\d+\.\d s\)$", "", line) for line in err.splitlines()
           if re.match(r"symcnn check decoupling(: [^:]*)? \(", line)]  # not a derivation's
    assert own[:3] == ["symcnn check decoupling", "symcnn check decoupling: instance 1/2",
                       "symcnn check decoupling: instance 2/2"]
    assert re.fullmatch(r"symcnn check decoupling: pass, 2/2 instances, max error \S+", own[3])
    assert len(own) == 4 and quiet == ""


def test_codegen_reports_the_derivation_and_the_generation(shown, capsys, tmp_path):
    from symcnn.symbolic.closed_forms import gd

    out, err, quiet = twice(capsys, ["codegen", "gd", "--field", "update", "--no-cache"])
    assert "def kernel(a0, a1, a2, a3, a4)" in out
    assert f"symcnn derive gd: {len(gd().derivation.steps)} steps checked" in err
    assert "symcnn codegen numpy kernel (u, eta, s, lambda, c): cache off" in err
    assert quiet.startswith("Kernel(numpy, args=(u, eta, s, lambda, c)")
    assert len(quiet.splitlines()) == 1


@pytest.mark.parametrize("scale, message", [
    ("1e-300", r"--init-scale 1e-300: params are too small to train"),
    ("1e300", r"CNN \(--init-scale 1e\+300, --rtol 1e-08\): training diverged: the initial "
              r"weights are too large"),
])
def test_simulate_names_the_initial_scale_it_cannot_train_from(capsys, scale, message):
    """Weights too small or too large for float64 are refused naming --init-scale (the
    messages named only train's ``params``)."""
    refused(capsys, ["simulate", "--setup", "tiny-1d-4", "--points", "3", "--quiet",
                     "--init-scale", scale], message)
