"""The SymPy-derived pixel-space gradient flow against the numeric Dense engine."""

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from symcnn import Dense, FullyConnected, LinearCNN, Statistics
from symcnn.strategies import examples, models, samples, seeds
from symcnn.symbolic import pixel as symbolic
from symcnn.symbolic.derivation import DerivationError
from symcnn.symbolic.pixel import (
    end_to_end,
    gradient_flow,
    layer_matrix,
    loss_gradient,
    statistics_matrices,
    statistics_symbols,
    weight_symbols,
)


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


@settings(max_examples=examples(10))
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


@settings(max_examples=examples(5))
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


STEPS = ["end-to-end map", "gradient in M", "chain rule"]


def test_the_6x6_two_channel_flow_derives_checked_and_matches_dense():
    model = LinearCNN(shape=(6, 6), kernel=(3, 3), channels=2, n_out=2)
    stats = Statistics.from_samples(*samples(model, 0))
    flow = gradient_flow(model, stats)
    assert [s.name for s in flow.derivation.steps] == STEPS
    assert all(s.verified.startswith("verified exactly") for s in flow.derivation.steps)
    assert_matches_dense(flow, model, stats, random_params(model, 1))


def shifted_by_one(model, p):
    s = shift_matrix_unpatched(model, p)
    return s[1:, :].col_join(s[:1, :])


shift_matrix_unpatched = symbolic.shift_matrix


def doubled_first_layer(params, m, g_symbols, tau):
    first, *rest = chain_rule_unpatched(params, m, g_symbols, tau)
    return (2 * first, *rest)


chain_rule_unpatched = symbolic._chain_rule


def halved_gradient(sxx, syx):
    generic, g = loss_gradient_unpatched(sxx, syx)
    return generic, g - generic * sxx / 2


loss_gradient_unpatched = symbolic.loss_gradient


@pytest.mark.parametrize("step, name, wrong", [
    ("end-to-end map", "shift_matrix", shifted_by_one),
    ("gradient in M", "loss_gradient", halved_gradient),
    ("chain rule", "_chain_rule", doubled_first_layer),
])
@pytest.mark.parametrize("model", [LinearCNN(shape=(3,), kernel=(2,), channels=2, n_out=2),
                                   LinearCNN(shape=(2, 3), c_in=2, depth=2)])
def test_a_wrong_step_is_caught_by_its_check(monkeypatch, model, step, name, wrong):
    monkeypatch.setattr(symbolic, name, wrong)
    with pytest.raises(DerivationError, match=f"step '{step}' fails its exact check"):
        gradient_flow(model)


def renamed(flow, names: dict, zeros=()):
    """``rhs_g`` keyed by parameter name, with parameter symbols renamed by ``names`` and
    those named in ``zeros`` set to 0 (and their own equations dropped)."""
    rename = {s: sp.Integer(0) if s.name in zeros else
              sp.Symbol(names.get(s.name, s.name), real=True)
              for p in flow.params for s in p.ravel()}
    return {rename[s].name: e.xreplace(rename)
            for p, r in zip(flow.params, flow.rhs_g, strict=True)
            for s, e in zip(p.ravel(), r.ravel(), strict=True) if s.name not in zeros}


def test_convolution_is_correlation_with_the_flipped_kernel_for_odd_k():
    kwargs = dict(shape=(5,), kernel=(3,), channels=2, n_out=2)
    corr, conv = (gradient_flow(LinearCNN(**kwargs, convention=c))
                  for c in ("correlation", "convolution"))
    flip = {f"w1_{c}_0_{p}": f"w1_{c}_0_{2 - p}" for c in range(2) for p in range(3)}
    a, b = renamed(corr, {}), renamed(conv, flip)
    assert a.keys() == b.keys()
    assert all(sp.expand(a[key] - b[key]) == 0 for key in a)
    assert any(sp.expand(x - y) != 0 for x, y in zip(corr.rhs_g[0].ravel(),
                                                      conv.rhs_g[0].ravel(), strict=True))


def test_the_offset_k3_with_its_first_tap_zero_is_k2():
    """``o = 1`` for ``k = 3`` (lags -1, 0, 1) and ``o = 0`` for ``k = 2`` (lags 0, 1)."""
    kwargs = dict(shape=(4,), channels=2, n_out=2)
    three, two = (gradient_flow(LinearCNN(**kwargs, kernel=(k,))) for k in (3, 2))
    first_tap = {s.name for s in three.params[0][:, :, 0].ravel()}
    shift = {f"w1_{c}_0_{p + 1}": f"w1_{c}_0_{p}" for c in range(2) for p in range(2)}
    a, b = renamed(three, shift, first_tap), renamed(two, {})
    assert a.keys() == b.keys()
    assert all(sp.expand(a[key] - b[key]) == 0 for key in b)
    assert all(three.rhs_g[0][c, 0, 0] != 0 for c in range(2))  # the extra tap's own flow


def test_an_input_channel_without_data_gets_no_gradient_and_changes_nothing():
    one = LinearCNN(shape=(3,), kernel=(2,), channels=2, n_out=2)
    two = LinearCNN(shape=(3,), kernel=(2,), channels=2, n_out=2, c_in=2)
    sxx, syx = statistics_symbols(one.n_in, one.n_out)
    padded = (sp.diag(sxx, sp.zeros(3, 3)), syx.row_join(sp.zeros(2, 3)))
    flow_one, flow_two = gradient_flow(one, (sxx, syx)), gradient_flow(two, padded)
    absent = {s: 0 for s in flow_two.params[0][:, 1].ravel()}
    assert all(sp.expand(e.xreplace(absent)) == 0 for e in flow_two.rhs[0][:, 1].ravel())
    a = {s.name: e.xreplace(absent) for p, r in zip(flow_two.params, flow_two.rhs, strict=True)
         for s, e in zip(p.ravel(), r.ravel(), strict=True)}
    b = {s.name: e for p, r in zip(flow_one.params, flow_one.rhs, strict=True)
         for s, e in zip(p.ravel(), r.ravel(), strict=True)}
    assert all(sp.expand(a[key] - b[key]) == 0 for key in b)
