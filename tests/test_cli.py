"""The zoo's setups are consistent, and the CLI reports what training does."""

import re

import numpy as np
import pytest

from symcnn import Dense, LinearCNN, Statistics, init_random, train, zoo
from symcnn.cli import main
from tests.reference import compile_latex


@pytest.mark.parametrize("name", zoo.names())
def test_setups_are_consistent_and_deterministic(name):
    setup, again = zoo.get(name), zoo.get(name)
    assert setup.name == name
    assert (setup.model.shape, setup.model.c_in, setup.model.n_out) == (
        setup.stats.shape, setup.stats.c_in, setup.stats.n_out)
    np.testing.assert_array_equal(setup.stats.syx, again.stats.syx)
    if setup.dataset is not None:
        direct = Statistics.from_samples(setup.dataset.x, setup.dataset.y)
        np.testing.assert_allclose(setup.stats.sxx, direct.sxx, rtol=1e-14)


def test_unknown_setup_lists_the_choices():
    with pytest.raises(ValueError, match="unknown setup 'nope'; choose one of white-1d-8"):
        zoo.get("nope")


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


def test_simulate_refuses_samples_without_a_dataset():
    with pytest.raises(SystemExit, match="has statistics but no samples"):
        main(["simulate", "--setup", "white-1d-8", "--engine", "samples", "--quiet"])


def test_plot_is_written_or_the_extra_is_named(tmp_path, capsys):
    path = tmp_path / "curves.png"
    args = ["simulate", "--setup", "tiny-1d-4", "--points", "5", "--quiet", "--plot", str(path)]
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        with pytest.raises(SystemExit, match=r"symcnn\[plot\]"):
            main(args)
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
    (["pixel", "--depth", "0"], "depth must be an integer >= 1, got 0"),
    (["pixel", "--hidden", "2"], "--hidden applies to fully-connected, not to pixel"),
    (["fourier-explicit", "--depth", "2"], "needs depth = 1"),
    (["r4", "--shape", "4", "4"], "r4 is derived for 1-D models"),
    (["r4", "--shape", "4", "--kernel", "5"], "kernel"),
    (["r5", "--shape", "4"], "--shape applies to pixel, fourier-explicit, r4, not to r5"),
    (["cnn-fourier", "--shape", "4"],
     "--shape applies to pixel, fourier-explicit, r4, not to cnn-fourier"),
])
def test_derive_rejects_bad_model_options(capsys, args, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["derive", *args])
    assert exit_info.value.code == 2
    assert re.search(message, capsys.readouterr().err)
