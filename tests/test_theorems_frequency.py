"""The frequency theorems (symcnn.theorems.frequency): they pass on random instances, a
planted wrong prediction of each is caught as a counterexample, each refuses data outside
its hypotheses, and the paper's kernel equation departs from the exact flow off its ansatz."""

import dataclasses

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings

from symcnn import Fast, LinearCNN, Statistics, init_balanced, theorems, train
from symcnn.fourier import canonical
from symcnn.instances import stationary, white
from symcnn.strategies import examples, instances
from symcnn.symbolic import reductions as reduction
from symcnn.symbolic.derivation import check_exact
from symcnn.theorems import HypothesisFailed, check
from symcnn.theorems import frequency as fq
from symcnn.theory import small_kernels

NAMES = ["small-kernel linearization", "dominant frequency bias", "order reversal",
         "paper kernel equation"]


@pytest.mark.parametrize("name", NAMES)
def test_frequency_theorems_pass_with_their_proofs(name):
    result = check(name, examples=3, seed=0)
    assert result.passed, result.counterexample or result.proof
    assert result.instances == 3 and result.max_error <= result.theorem.tolerance
    if result.theorem.proof is None:
        assert result.proof == "none"
    else:
        assert result.proof == f"{len(result.theorem.proof().steps)} steps checked"


@pytest.mark.parametrize("name", NAMES)
def test_frequency_theorems_pass_for_another_seed(name):
    result = check(name, examples=2, seed=17, proof=False)
    assert result.passed, result.counterexample


def test_catalogue_lists_them_after_the_exact_theorems():
    assert list(theorems.CATALOGUE)[-4:] == NAMES


# Planted wrong predictions are counterexamples ---------------------------------------------


def planted(name: str, predict) -> theorems.Theorem:
    return dataclasses.replace(theorems.get(name), name=f"wrong {name}", proof=None,
                               predict=predict)


def test_a_rate_two_percent_off_is_caught():
    result = check(planted(NAMES[0], lambda i: 1.02 * fq._predicted_rate(i)), examples=1)
    assert not result.passed and 0.015 < result.max_error < 0.03


def test_the_neighbouring_frequency_is_caught():
    def neighbour(instance):
        (f_star,) = fq._predicted_peak(instance)
        return np.array(canonical((f_star + 1,), instance.model.shape))
    result = check(planted(NAMES[1], neighbour), examples=1)
    assert not result.passed and result.max_error == 1.0


def test_a_fully_connected_network_learning_like_the_cnn_is_caught():
    """Predicting the CNN's order (texture first) for both networks: not reversed."""
    def same_order(instance):
        times = fq._predicted_half_times(instance)
        return np.stack([times[0], times[0]])
    result = check(planted(NAMES[2], same_order), examples=1)
    assert not result.passed and result.max_error == np.inf


def test_the_reversal_error_needs_both_orders_reversed():
    reversed_ = np.array([[2.0, 1.0], [1.0, 2.0]])
    assert fq._reversal_error(reversed_, reversed_) == 0.0
    assert fq._reversal_error(reversed_, np.array([[1.0, 2.0], [1.0, 2.0]])) == np.inf


def test_the_fully_connected_constant_in_the_kernel_equation_is_caught():
    """c = 2 / tau (no sqrt(N)) in place of 2 sqrt(N) / tau."""
    def fully_connected(instance):
        return fq._predicted_kernel_rate(instance) / np.sqrt(instance.model.n_pixels)
    result = check(planted(NAMES[3], fully_connected), examples=1)
    assert not result.passed and result.max_error > 0.4


# Hypotheses -------------------------------------------------------------------------------


def one_mode(model, magnitudes, seed: int = 0) -> Statistics:
    v = fq.real_signal(np.asarray(magnitudes, dtype=float), seed)
    return Statistics(shape=model.shape, sxx=np.eye(model.n_in), syx=v.reshape(1, -1))


def peaked(n: int, f_star: int) -> np.ndarray:
    magnitudes = np.full(n, 0.2)
    magnitudes[[f_star, -f_star]] = 1.0
    return magnitudes


SMALL = LinearCNN((16,), (5,))
REFUSALS = [
    (NAMES[0], LinearCNN((8,)), lambda m: white(m, 1), "small kernel"),
    (NAMES[0], SMALL, lambda m: stationary(m, 1), "white input"),
    (NAMES[0], LinearCNN((8,), (3,), n_out=2), lambda m: white(m, 1), "one output"),
    (NAMES[1], LinearCNN((16,), (3,)), lambda m: one_mode(m, peaked(16, 3)),
     "resolved dominant frequency"),
    (NAMES[1], SMALL, lambda m: one_mode(m, np.ones(16)), "peaked mode"),
    (NAMES[2], LinearCNN((8,), n_out=2), lambda m: white(m, 1), "flat disjoint modes"),
    (NAMES[2], LinearCNN((12,), n_out=2),
     lambda m: fq.shape_and_texture(m, 2, (1.0, 0.3), angle=0.4, seed=1),
     "texture faster than shape"),
    (NAMES[3], LinearCNN((8,)), lambda m: one_mode(m, 1 + np.cos(np.pi * np.arange(8) / 4) / 2),
     "flat disjoint modes"),
    (NAMES[3], LinearCNN((8,), (7,)), lambda m: one_mode(m, np.ones(8)), "full kernel"),
]


@pytest.mark.parametrize(("name", "model", "data", "hypothesis"), REFUSALS)
def test_theorems_refuse_data_outside_their_hypotheses(name, model, data, hypothesis):
    with pytest.raises(HypothesisFailed, match=f"hypothesis '{hypothesis}' fails"):
        theorems.get(name).require(model, data(model))


def test_verify_refuses_an_instance_outside_before_predicting():
    instance = dataclasses.replace(theorems.get(NAMES[1]).instance(0, 0), model=SMALL,
                                   stats=one_mode(SMALL, np.ones(16)))
    with pytest.raises(HypothesisFailed, match="hypothesis 'peaked mode' fails"):
        theorems.get(NAMES[1]).verify(instance)


def test_the_constructions_lie_inside_the_hypotheses():
    model = LinearCNN((12,), n_out=2)
    stats = fq.shape_and_texture(model, 2, (1.0, 0.8), angle=0.4, seed=1)
    assert theorems.get(NAMES[2]).failed_hypotheses(model, stats) == []
    np.testing.assert_allclose(stats.modes().s, [1.0, 0.8], rtol=1e-12)
    assert stats.modes().dominant_frequencies()[1] == (2,)
    assert theorems.get(NAMES[1]).failed_hypotheses(SMALL, one_mode(SMALL, peaked(16, 4))) \
        == []


@settings(max_examples=examples(3), deadline=None)
@given(instances(NAMES[3]))
def test_public_strategy_draws_kernel_equation_instances_inside(instance):
    theorem = theorems.get(NAMES[3])
    assert theorem.failed_hypotheses(instance.model, instance.stats) == []
    assert theorem.verify(instance) <= theorem.tolerance


# The pieces -------------------------------------------------------------------------------


@pytest.mark.parametrize("model", [LinearCNN((6,), (3,)), LinearCNN((5,), (2,)),
                                   LinearCNN((3, 4), (2, 3), convention="convolution")])
def test_dirichlet_matrix_is_the_symbolic_one(model):
    np.testing.assert_allclose(small_kernels.dirichlet_matrix(model),
                               np.array(reduction.dirichlet_matrix(model), dtype=complex),
                               atol=1e-12)


def test_kernel_equation_derivation_checks_and_rejects_the_fully_connected_constant():
    d = fq.kernel_equation()
    assert [s.name for s in d.steps] == ["kernel power flow", "balanced aligned",
                                         "kernel power", "the ansatz", "departure",
                                         "ansatz preserved"]
    assert all(s.verified.startswith("verified exactly") for s in d.steps)
    ansatz = d["the ansatz"]
    n = reduction.N
    assert not check_exact(ansatz.lhs, ansatz.rhs / sp.sqrt(n)).startswith("verified")


def gaussian_mode(n: int, f_star: int, width: float) -> np.ndarray:
    """``|v_hat_f|`` a Gaussian of ``width`` around ``+-f*`` (circular distance)."""
    f = np.arange(n)
    dist = np.minimum.reduce([(f - f_star) % n, (f_star - f) % n, (f + f_star) % n,
                              (-f - f_star) % n])
    return np.exp(-dist**2 / (2 * width**2))


@pytest.mark.parametrize(("width", "low", "high"), [(np.inf, 0, 1e-10), (1.0, 0.5, 2.0)])
def test_kernel_equation_is_exact_for_a_flat_mode_and_departs_for_a_spread_one(width, low,
                                                                             high):
    """From the ansatz ``M(0) = a0 u v^T``: a flat spectrum keeps it (error at rounding), a
    Gaussian of width 1 on N = 16 (4.9 effective frequencies) loses it: the paper's
    right-hand side is off by order one of max |d|kappa_f|^2/dt| after t* (docs)."""
    model = LinearCNN((16,))
    magnitudes = np.ones(16) if np.isinf(width) else gaussian_mode(16, 3, width)
    stats = one_mode(model, magnitudes)
    t_star = np.log(999) / (2 * 4 * np.max(stats.modes().frequency_weights()))
    run = train(Fast(model, stats), init_balanced(model, 1e-3 * stats.output_spectrum()),
                np.linspace(0, 3 * t_star, 31), rtol=1e-11, record_params=True)
    error = fq.kernel_equation_error(model, stats, run)
    assert error[0] < 1e-12 and low <= error.max() < high
