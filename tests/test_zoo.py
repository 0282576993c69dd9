"""The zoo's setups are consistent and deterministic."""

import warnings

import numpy as np
import pytest

from symcnn import Statistics, init_random, zoo
from symcnn.theory import ApproximationWarning, Theory


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
    """The message names the parameter (it used to say only "unknown setup 'nope'")."""
    with pytest.raises(ValueError, match="^name must be a setup name, got 'nope'; choose one "
                                         "of white-1d-8"):
        zoo.get("nope")


def test_get_and_baseline_refuse_bad_arguments():
    """``zoo.get([...])`` was a bare ``unhashable type`` TypeError; ``baseline(0)`` silently
    gave ``C`` hidden units."""
    with pytest.raises(TypeError, match=r"^name must be a setup name \(a str\), got "
                                        r"\['white-1d-8'\] \(list\); choose one of "):
        zoo.get(["white-1d-8"])
    setup = zoo.get("white-1d-8")
    with pytest.raises(ValueError, match="^hidden must be an integer >= 1, got 0"):
        setup.baseline(0)
    assert (setup.baseline().hidden, setup.baseline(3).hidden) == (setup.model.channels, 3)


@pytest.mark.parametrize("name", [n for n in zoo.names() if n != "classes-2d-32x32"])
def test_the_recipe_lasts_past_every_predicted_half_way_time(name):
    """Every stage is visible: from ``init_random(model, init_scale)`` the theory's half-way
    times (labelled approximations where its hypotheses fail) are below ``t_end``.
    ``stationary-1d-8`` stopped at 8.0, at the half-way time of its second mode (8.04).
    (Not classes-2d-32x32: 10 s to build; its two weakest modes are later than t_end.)"""
    setup = zoo.get(name)
    theory = Theory(setup.model, setup.stats, approximate=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ApproximationWarning)
        u0 = theory.effective_u0(init_random(setup.model, setup.init_scale, seed=0))
        assert np.all(theory.half_times(u0) < setup.t_end)
