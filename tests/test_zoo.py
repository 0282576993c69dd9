"""The zoo's setups are consistent and deterministic."""

import numpy as np
import pytest

from symcnn import Statistics, zoo


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
