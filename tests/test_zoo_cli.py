"""The zoo's setups are consistent, and the CLI reports what training does."""

import numpy as np
import pytest

from symcnn import Dense, Statistics, init_random, train, zoo
from symcnn.cli import main


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
    from symcnn.reduction import fully_connected

    assert main(["derive", "fully-connected"]) == 0
    assert capsys.readouterr().out == fully_connected().to_markdown()
    out = tmp_path / "fc.tex"
    assert main(["derive", "fully-connected", "--format", "latex", "--out", str(out)]) == 0
    assert out.read_text() == fully_connected().to_latex()
    assert "4 steps verified" in capsys.readouterr().out
