"""The model against its definition (docs/theory-reference.md, Setting), and bad specifications."""

import itertools

import numpy as np
import pytest
from hypothesis import given

from symcnn import FullyConnected, LinearCNN
from symcnn.strategies import models, seeds


def layer_by_loops(model: LinearCNN, w: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``h[c, n] = sum_{c', p} w[c, c', p] x[c', n +- (p - o)]`` written out."""
    sign = 1 if model.convention == "correlation" else -1
    h = np.zeros((w.shape[0], *model.shape))
    for n in itertools.product(*map(range, model.shape)):
        for p in itertools.product(*map(range, model.kernel)):
            m = tuple((ni + sign * (pi - oi)) % ni_max for ni, pi, oi, ni_max
                      in zip(n, p, model.offset, model.shape, strict=True))
            h[(slice(None), *n)] += w[(slice(None), slice(None), *p)] @ x[(slice(None), *m)]
    return h


@given(models(), seeds)
def test_circulant_matrix_is_the_layer(model, seed):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(model.param_shapes()[0])
    x = rng.standard_normal((model.c_in, *model.shape))
    expected = layer_by_loops(model, w, x).ravel()
    np.testing.assert_allclose(model.circulant(w) @ x.ravel(), expected, rtol=1e-12, atol=1e-12)


@given(models(), seeds)
def test_end_to_end_is_the_forward_pass(model, seed):
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal(s) for s in model.param_shapes()]
    x = rng.standard_normal((model.c_in, *model.shape))
    h = x
    for w in params[:-1]:
        h = layer_by_loops(model, w, h)
    expected = params[-1].reshape(model.n_out, -1) @ h.ravel()
    np.testing.assert_allclose(model.end_to_end(params) @ x.ravel(), expected,
                               rtol=1e-11, atol=1e-11)


def test_offsets_and_lags():
    model = LinearCNN(shape=(7, 6), kernel=(3, 4))
    assert model.offset == (1, 1)
    np.testing.assert_array_equal(model.lags()[0][:, 0], [6, 0, 1])
    np.testing.assert_array_equal(model.lags()[1][0], [5, 0, 1, 2])
    conv = LinearCNN(shape=(7, 6), kernel=(3, 4), convention="convolution")
    np.testing.assert_array_equal(conv.lags()[1][0], [1, 0, 5, 4])


def test_defaults_and_param_shapes():
    model = LinearCNN(shape=5, channels=2, c_in=3, n_out=4, depth=2)
    assert model.shape == model.kernel == (5,) and model.full_kernel
    assert model.n_pixels == 5 and model.n_in == 15
    assert model.param_shapes() == [(2, 3, 5), (2, 2, 5), (4, 2, 5)]
    assert FullyConnected(6, 3, 2).param_shapes() == [(3, 6), (2, 3)]


@pytest.mark.parametrize("kwargs, match", [
    ({"shape": 4, "kernel": 5}, r"kernel\[0\] must satisfy 1 <= k <= N = 4"),
    ({"shape": (4, 4), "kernel": (3, 5)}, r"kernel\[1\] must satisfy 1 <= k <= N = 4"),
    ({"shape": -3}, r"shape\[0\] must be an integer >= 1"),
    ({"shape": 0}, r"shape\[0\] must be an integer >= 1"),
    ({"shape": (2, 2, 2)}, "1 or 2 entries"),
    ({"shape": 4.0}, r"shape\[0\] must be an integer >= 1, got 4.0"),
    ({"shape": 4, "kernel": 0}, r"kernel\[0\] must be an integer >= 1"),
    ({"shape": (4, 4), "kernel": 3}, "kernel must have 2 entries"),
    ({"shape": 4, "channels": 0}, "channels must be an integer >= 1"),
    ({"shape": 4, "c_in": -1}, "c_in must be an integer >= 1"),
    ({"shape": 4, "n_out": True}, "n_out must be an integer >= 1"),
    ({"shape": 4, "depth": 0}, "depth must be an integer >= 1"),
    ({"shape": 4, "convention": "conv"}, "convention must be one of"),
])
def test_invalid_specs_name_the_parameter(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LinearCNN(**kwargs)


def test_invalid_params_name_the_array():
    model = LinearCNN(shape=4, channels=2)
    good = [np.zeros(s) for s in model.param_shapes()]
    with pytest.raises(ValueError, match="must hold 2 arrays"):
        model.end_to_end(good[:1])
    with pytest.raises(ValueError, match=r"params\[1\] must have shape \(1, 2, 4\)"):
        model.end_to_end([good[0], np.zeros((1, 2, 5))])
    with pytest.raises(ValueError, match=r"params\[0\] contains NaN"):
        model.end_to_end([np.full((2, 1, 4), np.nan), good[1]])
    with pytest.raises(ValueError, match="hidden must be an integer >= 1"):
        FullyConnected(4, 0)


@pytest.mark.parametrize("bad, error, match", [
    (np.zeros((2, 1, 4)) + 0j, TypeError, r"^params\[0\] is complex .*symcnn takes real data"),
    (np.full((2, 1, 4), "0"), TypeError, r"^params\[0\] must be a numeric array"),
    (None, TypeError, r"^params\[0\] must be a numeric array"),
    (np.zeros((2, 1, 3)), ValueError, r"^params\[0\] must have shape \(2, 1, 4\)"),
])
def test_params_of_the_wrong_type_or_shape_are_refused(bad, error, match):
    model = LinearCNN(shape=4, channels=2)
    good = [np.zeros(s) for s in model.param_shapes()]
    with pytest.raises(error, match=match):
        model.check_params([bad, good[1]])


@pytest.mark.parametrize("params", [None, "ab", {"w": 1, "W": 2}, iter([1, 2])])
def test_params_must_be_a_sequence(params):
    for model in (LinearCNN(shape=4), FullyConnected(4, 2)):
        with pytest.raises(TypeError, match="^params must be a sequence"):
            model.end_to_end(params)


@pytest.mark.parametrize("params", [np.array(0.0), np.float64(1.0)])
def test_zero_dimensional_params_are_refused_naming_params(params):
    """A 0-d array has ``__len__`` but no length: refused as not a sequence (was a bare
    ``TypeError: len() of unsized object``)."""
    for model in (LinearCNN(shape=4), FullyConnected(4, 2)):
        with pytest.raises(TypeError, match="^params must be a sequence"):
            model.end_to_end(params)


@pytest.mark.parametrize("convention", [np.array(["correlation", "x"]), None, 1, ["a"]])
def test_a_convention_that_is_not_a_string_is_refused_naming_it(convention):
    """An array convention was truth-tested by ``in`` (a bare 'truth value of an array is
    ambiguous' ValueError)."""
    with pytest.raises(TypeError, match="^convention must be one of"):
        LinearCNN(shape=4, convention=convention)
