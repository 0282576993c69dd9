"""The SymPy-derived pixel-space gradient flow against the numeric Dense engine."""

import numpy as np
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from symcnn import Dense, FullyConnected, LinearCNN, Statistics
from symcnn.symbolic import (
    end_to_end,
    gradient_flow,
    layer_matrix,
    loss_gradient,
    statistics_matrices,
    statistics_symbols,
    weight_symbols,
)
from tests.strategies import models, samples, seeds


def relative_error(a, b) -> float:
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def random_params(model, seed):
    rng = np.random.default_rng(seed)
    return tuple(rng.standard_normal(s) for s in model.param_shapes())


def assert_matches_dense(flow, model, stats, params, tau=1.0):
    expected = Dense(model, stats).gradient(params)
    for got, want in zip(flow.numeric(params), expected, strict=True):
        assert got.shape == want.shape
        assert relative_error(got, -want / tau) < 1e-12


@settings(max_examples=10)
@given(models(max_side=4), seeds)
def test_rhs_equals_minus_the_dense_gradient(model, seed):
    stats = Statistics.from_samples(*samples(model, seed))
    flow = gradient_flow(model, stats)
    assert_matches_dense(flow, model, stats, random_params(model, seed + 1))


@given(st.integers(1, 4), st.integers(1, 3), st.integers(1, 3), seeds)
def test_fully_connected_rhs_equals_minus_the_dense_gradient(n_in, hidden, n_out, seed):
    model = FullyConnected(n_in=n_in, hidden=hidden, n_out=n_out)
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((6, 1, n_in)), rng.standard_normal((6, n_out))
    stats = Statistics.from_samples(x, y)
    flow = gradient_flow(model, stats, tau=sp.Rational(1, 2))
    assert_matches_dense(flow, model, stats, random_params(model, seed + 1), tau=0.5)


def test_layer_and_end_to_end_matrices_match_the_numeric_model():
    for model in (LinearCNN(shape=(5,), kernel=(2,), channels=2, c_in=2, n_out=2, depth=2),
                  LinearCNN(shape=(3, 4), kernel=(2, 3), channels=2, convention="convolution")):
        params = random_params(model, 1)
        symbols = weight_symbols(model)
        values = {s: v for p, x in zip(symbols, params, strict=True)
                  for s, v in zip(p.ravel(), x.ravel(), strict=True)}
        k = np.array(layer_matrix(model, symbols[0]).xreplace(values), dtype=float)
        np.testing.assert_allclose(k, model.circulant(params[0]), rtol=0, atol=1e-14)
        m = np.array(end_to_end(model, symbols).xreplace(values), dtype=float)
        np.testing.assert_allclose(m, model.end_to_end(params), rtol=1e-13, atol=1e-14)


def test_loss_matches_the_dense_loss():
    model = LinearCNN(shape=(2, 3), kernel=(1, 2), channels=2, c_in=2, n_out=2, depth=2)
    stats = Statistics.from_samples(*samples(model, 7))
    flow = gradient_flow(model, stats)
    params = random_params(model, 8)
    values = {s: v for p, x in zip(flow.params, params, strict=True)
              for s, v in zip(p.ravel(), x.ravel(), strict=True)}
    want = Dense(model, stats).evaluate(params)[0] - stats.syy / 2
    assert abs(float(flow.loss.xreplace(values)) - want) < 1e-12 * abs(want)


@settings(max_examples=5)
@given(models(max_side=3, max_depth=1), seeds)
def test_symbolic_statistics_substituted_equal_the_numeric_flow(model, seed):
    stats = Statistics.from_samples(*samples(model, seed))
    generic = gradient_flow(model)
    numeric = gradient_flow(model, stats)
    assert generic.rhs[-1].ravel()[0].free_symbols & set(generic.syx)
    substituted = generic.substitute(stats)
    for a, b in zip(substituted, numeric.rhs, strict=True):
        for x, y in zip(a.ravel(), b.ravel(), strict=True):
            assert sp.expand(x - y) == 0


def test_derived_dl_dm_is_m_sxx_minus_syx():
    for sxx, syx in (statistics_symbols(4, 2),
                     statistics_matrices(Statistics.from_samples(
                         *samples(LinearCNN(shape=(2, 2), n_out=2), 3)))):
        generic, g = loss_gradient(sxx, syx)
        assert (g - (generic * sxx - syx)).applyfunc(sp.expand) == sp.zeros(*g.shape)
        # a wrong candidate (missing the symmetrisation) is told apart
        assert (g - (generic * sxx.T / 2 - syx)).applyfunc(sp.expand) != sp.zeros(*g.shape)


@given(seeds)
def test_switching_convention_changes_the_equations_and_both_match_dense(seed):
    kwargs = dict(shape=(4,), kernel=(2,), channels=2, n_out=2)
    flows = {}
    for convention in ("correlation", "convolution"):
        model = LinearCNN(**kwargs, convention=convention)
        stats = Statistics.from_samples(*samples(model, seed))
        flows[convention] = flow = gradient_flow(model, stats)
        assert_matches_dense(flow, model, stats, random_params(model, seed + 1))
    a, b = (flows[c] for c in ("correlation", "convolution"))
    assert [str(s) for s in a.params[0].ravel()] == [str(s) for s in b.params[0].ravel()]
    assert any(sp.expand(x - y) != 0 for x, y in zip(a.rhs[0].ravel(), b.rhs[0].ravel(),
                                                      strict=True))
    params = random_params(LinearCNN(**kwargs), seed + 1)
    assert relative_error(a.numeric(params)[0], b.numeric(params)[0]) > 1e-6
