"""The shared argument checks (symcnn.checks): what they refuse, naming the parameter."""

import numpy as np
import pytest

from symcnn import Statistics, theorems
from symcnn.checks import finite_array, numeric_array

MASKED = np.ma.masked_array([1.0, 2.0, 3.0], mask=[0, 1, 0])


@pytest.mark.parametrize("call, name", [
    (lambda: numeric_array("x", MASKED), "x"),
    (lambda: numeric_array("x", np.ma.masked_array([1.0])), "x"),  # even with no entry masked
    (lambda: finite_array("spectrum", MASKED, complex_ok=True), "spectrum"),
    (lambda: Statistics(shape=3, sxx=np.ma.masked_array(np.eye(3), mask=np.eye(3)),
                        syx=np.ones((1, 3))), "sxx"),
    (lambda: theorems.max_relative_error([1.0, 2.0, 3.0], MASKED), "measured"),
])
def test_a_masked_array_is_refused_not_unmasked(call, name):
    """Converting a masked array would silently drop its mask (the masked 2.0 would count)."""
    with pytest.raises(TypeError, match=f"^{name} is a masked array, whose mask would be "
                                        f"ignored"):
        call()


def test_plain_arrays_are_converted():
    assert numeric_array("x", [1, 2]).dtype == float
    assert numeric_array("x", [1j], complex_ok=True).dtype == complex
