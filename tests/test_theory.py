"""The theory object: hypotheses, and its predictions against full-network training."""

import warnings

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from symcnn import (
    Dense,
    Fast,
    FullyConnected,
    LinearCNN,
    Statistics,
    aligned_spectrum,
    fourier,
    init_balanced,
    init_random,
    train,
)
from symcnn.strategies import examples, models, seeds, stationary, white
from symcnn.symbolic.closed_forms import gd
from symcnn.symbolic.derivation import DerivationError
from symcnn.theory import APPROXIMATIONS, ApproximationWarning, Theory
from symcnn.theory.small_kernels import dirichlet_matrix, r4_growth_rates


def simulated_strengths(theory, run):
    """``u_fj = Re(p_fj^* M_f q_fj)`` of a simulated run, shape ``(T, F, r)``."""
    p, _, qh = theory._svd
    if theory.cnn:
        m = run.spectra.reshape(len(run.times), *run.spectra.shape[1:3], -1)
        m = np.moveaxis(m, -1, 1)
    else:
        m = run.maps[:, None]
    return np.real(np.einsum("fpj,tfpq,fjq->tfj", np.conj(p), m, np.conj(qh)))


def simulated_and_predicted_half_times(theory, start):
    """Half-way times of the dataset's modes: trained from ``start``, and predicted from its
    effective initial strengths."""
    u0 = theory.effective_u0(start)
    half = theory.half_times(u0)
    run = train(Fast(theory.model, theory.stats), start, np.linspace(0, 1.5 * half.max(), 301),
                rtol=1e-9)
    final = theory.dataset_mode_strengths([1e4], u0)[0]
    return run.half_way_times(theory.stats.modes(), final), half


def test_the_gd_map_is_derived_and_checked():
    d = gd().derivation
    assert [s.name for s in d.steps] == ["readout keeps its phase", "kernel stays balanced",
                                         "strength map", "fixed point", "stability"]
    assert all(s.verified.startswith("verified exactly") for s in d.steps)
    u, eta, c, s, lam = sp.symbols("u eta c s lambda", positive=True)
    with pytest.raises(DerivationError, match="step 'wrong' fails"):
        d.step("wrong", d["strength map"].lhs, u * (1 + eta * c**2 * (s - lam * u)) ** 2,
               "the factor c^2 instead of c")


@settings(max_examples=examples(8), deadline=None)
@given(models(full_kernel=True, max_depth=1, max_side=5), seeds, st.sampled_from(["white",
                                                                                  "stationary"]))
def test_gd_map_predicts_full_network_gradient_descent(model, seed, data):
    if data == "stationary" and model.c_in > 1:
        data = "white"  # R3c needs white input for C_in > 1
    stats = white(model, seed) if data == "white" else stationary(model, seed)
    theory = Theory(model, stats)
    if not theory.hypotheses["enough channels"].holds:
        with pytest.raises(ValueError, match="hypothesis 'enough channels' fails"):
            theory.gd_mode_strengths(1, 0.1, 1e-3)
        return
    lr, steps, u0 = 0.5 * theory.max_stable_lr, 40, 1e-3 * np.max(theory.strengths)
    run = train(Fast(model, stats), init_balanced(model, aligned_spectrum(stats, u0)),
                lr * np.arange(steps + 1), method="gd", lr=lr)
    predicted = theory.gd_mode_strengths(steps, lr, u0)
    assert predicted[-1].max() > 10 * u0  # the run leaves the initial plateau
    error = np.abs(simulated_strengths(theory, run) - predicted).max()
    assert error < 1e-10 * predicted.max()


def test_gd_map_predicts_the_fully_connected_network():
    rng = np.random.default_rng(4)
    stats = Statistics(shape=6, sxx=np.eye(6), syx=rng.standard_normal((3, 6)))
    model = FullyConnected(6, 3, 3)
    theory = Theory(model, stats)
    lr, steps, u0 = 0.5 * theory.max_stable_lr, 60, 1e-3
    u, s, vt = np.linalg.svd(stats.syx, full_matrices=False)
    run = train(Dense(model, stats), init_balanced(model, u0 * u @ vt),
                lr * np.arange(steps + 1), method="gd", lr=lr)
    predicted = theory.gd_mode_strengths(steps, lr, u0)
    assert np.abs(simulated_strengths(theory, run) - predicted).max() < 1e-10 * s.max()


@pytest.mark.parametrize("model, stats, hypothesis", [
    (LinearCNN(shape=6, kernel=3), None, "full kernel"),
    (LinearCNN(shape=6, depth=2), None, "depth 1"),
    (LinearCNN(shape=4, n_out=3, c_in=2), None, "enough channels"),
    (LinearCNN(shape=4), Statistics(shape=4, sxx=np.diag([1.0, 2, 3, 4]),
                                    syx=np.ones((1, 4))), "stationary input"),
    (FullyConnected(4, 2), Statistics(shape=4, sxx=2 * np.eye(4), syx=np.ones((1, 4))),
     "white input"),
])
def test_predictions_outside_their_hypotheses_raise_naming_them(model, stats, hypothesis):
    """Also ``max_stable_lr`` and ``rates``, which used to answer outside them."""
    theory = Theory(model, stats or white(model, 0))
    assert not theory.hypotheses[hypothesis].holds
    for call in (lambda: theory.gd_mode_strengths(3, 0.01, 1e-3), lambda: theory.max_stable_lr,
                 lambda: theory.rates):
        with pytest.raises(ValueError, match=f"hypothesis '{hypothesis}' fails"):
            call()


def test_bad_arguments_are_named():
    model = LinearCNN(shape=4)
    with pytest.raises(ValueError, match="N_o = 2"):
        Theory(model, white(LinearCNN(shape=4, n_out=2), 0))
    theory = Theory(model, white(model, 0))
    for name, call in (("lr", lambda: theory.gd_mode_strengths(3, -1.0, 1e-3)),
                       ("u0", lambda: theory.gd_mode_strengths(3, 0.1, float("nan")))):
        with pytest.raises(ValueError, match=f"{name} must be a finite number > 0"):
            call()


@settings(max_examples=examples(6), deadline=None)
@given(models(full_kernel=True, max_depth=1, max_side=5), seeds,
       st.sampled_from(["white", "stationary"]))
def test_closed_forms_predict_the_full_network_flow(model, seed, data):
    """Balanced aligned start: maps and loss of the simulated flow follow the closed forms."""
    if data == "stationary" and model.c_in > 1:
        data = "white"
    stats = white(model, seed) if data == "white" else stationary(model, seed)
    theory = Theory(model, stats)
    if not theory.hypotheses["enough channels"].holds:
        return
    u0 = 1e-3 * np.max(theory.strengths)
    # past the transitions of the modes within 10x of the fastest (a nearly vanishing
    # singular value would need a run of millions of steps)
    rates = theory.rates[theory.rates > 0.1 * theory.rates.max()]
    times = np.linspace(0, 2 * np.log(1e3) / rates.min(), 9)
    run = train(Fast(model, stats), init_balanced(model, aligned_spectrum(stats, u0)), times,
                dt=0.02 / np.max(theory.rates))  # RK4 error ~ (rate dt)^4 per unit time
    scale = np.abs(run.maps).max()
    assert np.abs(theory.maps(times, u0)[-1]).max() > 0.5 * scale  # past the transition
    assert np.abs(theory.maps(times, u0) - run.maps).max() < 1e-8 * scale
    assert np.abs(theory.loss(times, u0) - run.loss).max() < 1e-8 * np.abs(run.loss).max()


def test_half_times_and_learning_order_match_the_simulation():
    model = LinearCNN(shape=8, channels=2, n_out=2)
    stats = white(model, 1)
    theory, u0 = Theory(model, stats), 1e-4
    half = theory.half_times(u0)
    u_final = theory.dataset_mode_strengths([1e3], u0)[0]
    times = np.linspace(0, 1.5 * half.max(), 301)
    run = train(Fast(model, stats), init_balanced(model, aligned_spectrum(stats, u0)), times,
                rtol=1e-10)
    simulated = run.half_way_times(stats.modes(), u_final)
    np.testing.assert_allclose(simulated, half, rtol=1e-4)  # linear interpolation in run
    assert theory.learning_order(u0) == [int(a) + 1 for a in np.argsort(simulated)]


@pytest.mark.parametrize("model", [LinearCNN(shape=8, channels=2, n_out=2),
                                   LinearCNN(shape=(4, 4), channels=3, n_out=3, c_in=2)])
@pytest.mark.parametrize("scale", [1e-4, 1e-6])
def test_small_random_init_half_times_within_ten_percent(model, scale):
    stats = white(model, 1)
    theory = Theory(model, stats)
    simulated, half = simulated_and_predicted_half_times(theory, init_random(model, scale, 2))
    assert np.all(np.abs(simulated / half - 1) < 0.1)


def test_effective_u0_of_a_balanced_aligned_start_is_its_strength():
    model = LinearCNN(shape=(3, 4), channels=3, n_out=2, c_in=2)
    stats = white(model, 5)
    theory = Theory(model, stats)
    u0 = theory.effective_u0(init_balanced(model, aligned_spectrum(stats, 1e-3)))
    np.testing.assert_allclose(u0[theory.strengths > 0], 1e-3, rtol=1e-10)


@pytest.mark.filterwarnings("ignore::symcnn.theory.ApproximationWarning")
def test_approximate_predictions_are_labelled_and_close_for_a_nearly_full_kernel():
    """k = N - 1: the exact theory refuses; ``approximate=True`` warns, lists what it
    neglects, and its half-way times (D replaced by k I) are within 10% of training."""
    model = LinearCNN(shape=8, kernel=7, channels=2, n_out=2)
    stats = white(model, 1)
    with pytest.raises(ValueError, match="hypothesis 'full kernel' fails"):
        Theory(model, stats).half_times(1e-3)
    theory = Theory(model, stats, approximate=True)
    assert len(theory.approximations) == 1 and "diagonal k I" in theory.approximations[0]
    with pytest.warns(ApproximationWarning, match="the half-way times is an approximation"):
        simulated, half = simulated_and_predicted_half_times(theory, init_random(model, 1e-5, 2))
    assert np.all(np.abs(simulated / half - 1) < 0.1)


def test_approximate_theory_is_exact_where_the_hypotheses_hold():
    model = LinearCNN(shape=6, channels=2, n_out=2)
    stats = stationary(model, 3)
    exact, approximate = Theory(model, stats), Theory(model, stats, approximate=True)
    assert approximate.approximations == []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(approximate.maps([0.5, 2.0], 1e-3),
                                      exact.maps([0.5, 2.0], 1e-3))


def test_non_stationary_input_is_approximated_by_its_stationary_projection():
    model = LinearCNN(shape=6, n_out=1)
    base = stationary(model, 4)
    sxx = base.sxx.copy()
    sxx[0, 0] += 0.3  # one pixel louder: no longer block-circulant
    stats = Statistics(shape=model.shape, c_in=1, sxx=sxx, syx=base.syx)
    with pytest.raises(ValueError, match="hypothesis 'stationary input' fails"):
        Theory(model, stats).maps([1.0], 1e-3)
    theory = Theory(model, stats, approximate=True)
    assert "block-circulant projection" in theory.approximations[0]
    projected = np.real(np.fft.fft(np.mean([np.roll(sxx[i], -i) for i in range(6)], axis=0)))
    np.testing.assert_allclose(theory.input_strengths[:, 0], projected, rtol=1e-12)
    with pytest.warns(ApproximationWarning):
        assert np.all(np.isfinite(theory.maps([1.0], 1e-3)))


# ---------------------------------------------------------------- no silent wrong answer


@pytest.mark.parametrize("kwargs, error, match", [
    ({"approximate": "no"}, TypeError, "approximate must be True or False, got 'no'"),
    ({"approximate": 0}, TypeError, "approximate must be True or False, got 0"),
    ({"approximate": None}, TypeError, "approximate must be True or False, got None"),
    ({"rtol": 0}, ValueError, "rtol must be a number with 0 < rtol < 1, got 0"),
    ({"rtol": 1.0}, ValueError, "rtol must be a number with 0 < rtol < 1, got 1.0"),
    ({"rtol": np.nan}, ValueError, "rtol must be a number with 0 < rtol < 1, got nan"),
    ({"rtol": "1e-12"}, TypeError, "rtol must be a real number, got '1e-12'"),
    ({"tau": 0}, ValueError, "tau must be a finite number > 0, got 0"),
    ({"tau": np.inf}, ValueError, "tau must be a finite number > 0, got inf"),
    ({"tau": "1"}, TypeError, "tau must be a finite number > 0, got '1'"),
    ({"tau": True}, TypeError, "tau must be a finite number > 0, got True"),
])
def test_theory_options_are_validated_not_coerced(kwargs, error, match):
    model = LinearCNN(shape=4)
    with pytest.raises(error, match=f"^{match}"):
        Theory(model, white(model, 0), **kwargs)


def test_theory_refuses_a_model_and_statistics_that_do_not_match():
    """Same D = 16 and N_o, but the pixels are laid out differently: the message names
    both."""
    stats = white(LinearCNN(shape=16), 0)
    with pytest.raises(ValueError, match=r"stats have shape = \(16,\), c_in = 1; the model "
                                         r"needs shape = \(4, 4\), c_in = 1"):
        Theory(LinearCNN(shape=(4, 4)), stats)
    with pytest.raises(ValueError, match=r"c_in = 1; the model needs shape = \(8,\), c_in = 2"):
        Theory(LinearCNN(shape=8, c_in=2), stats)
    with pytest.raises(TypeError, match="^model must be a LinearCNN or a FullyConnected"):
        Theory("cnn", stats)
    with pytest.raises(TypeError, match="^stats must be a Statistics, got ndarray"):
        Theory(LinearCNN(shape=16), np.eye(16))


def test_not_a_covariance_never_reaches_the_theory():
    """``Sigma_xx = -I`` used to give half-way times; now Statistics refuses it."""
    with pytest.raises(ValueError, match="sxx must be positive semidefinite"):
        Statistics(shape=4, sxx=-np.eye(4), syx=np.ones((1, 4)))


@pytest.mark.parametrize("name, call, error, match", [
    ("steps", lambda t: t.gd_mode_strengths(2.5, 0.1, 1e-3), ValueError,
     "steps must be an integer >= 0, got 2.5"),
    ("iterations", lambda t: t.half_times(1e-3, iterations=0), ValueError,
     "iterations must be an integer >= 1, got 0"),
    ("hidden", lambda t: t.baseline(0), ValueError, "hidden must be an integer >= 1, got 0"),
    ("u0", lambda t: t.mode_strengths_at([0, 1], 1e-3 + 0j), TypeError, "u0 is complex"),
    ("u0", lambda t: t.mode_strengths_at([0, 1], "0.1"), TypeError,
     "u0 must be a numeric array"),
    ("u0", lambda t: t.mode_strengths_at([0, 1], np.ones(7)), ValueError,
     r"u0 must be a number or an array broadcastable to \(F, r\)"),
    ("times", lambda t: t.mode_strengths_at([0, 1j], 1e-3), TypeError, "times is complex"),
    ("u0", lambda t: t.dominant_frequency_half_times(1e6), ValueError,
     "u0 = 1000000.0 must be below every mode's strength"),
    ("lr", lambda t: t.gd_mode_strengths(3, "0.1", 1e-3), TypeError,
     "lr must be a finite number > 0, got .0.1. \\(str\\)"),
    ("u0", lambda t: t.loss([0.0, 1.0], 1e200), ValueError,  # used to return inf
     "the predicted loss overflows float64"),
    ("lr", lambda t: t.gd_mode_strengths(10, 100.0, 1e-3), ValueError,  # FloatingPointError
     "gradient descent diverges: u leaves the float64 range at step "),
    ("names", lambda t: t.require("x", "nope"), ValueError,  # KeyError
     "unknown hypothesis 'nope'; this theory's: white input, full kernel"),
    ("u0", lambda t: t.mode_strengths_at([0, 1], True), TypeError,  # was u0 = 1
     "u0 must be real numbers, got True \\(bool\\)"),
    ("times", lambda t: t.mode_strengths_at([True, False], 1e-3), TypeError,
     "times must be real numbers"),
    ("params", lambda t: t.effective_u0([1e200 * w for w in init_random(t.model, 1.0, 0)]),
     ValueError, "params are no small start: .g.\\^2 overflows float64"),  # was inf
])
def test_prediction_arguments_are_validated_not_coerced(name, call, error, match):
    model = LinearCNN(shape=4, channels=2)
    with pytest.raises(error, match=f"^{match}"):
        call(Theory(model, white(model, 0)))


def test_a_frequency_without_input_power_but_with_a_target_is_refused():
    """``lambda_f = 0`` where ``T_f != 0`` (no data do that: ``|T_f|^2 <= <|y|^2> lambda_f``)
    made ``half_times`` divide by zero and the trajectory blow up (``tau du/dt = 2 sqrt(N)
    s u`` has no fixed point); now every prediction names the hypothesis.  A dead frequency
    with ``T_f = 0`` is fine: the maps tend to the minimum-norm minimiser
    ``Sigma_yx Sigma_xx^+``."""
    model, lam = LinearCNN(shape=4), np.array([1.0, 0.0, 2.0, 0.0])[None, None]
    syx = np.random.default_rng(3).standard_normal((1, 4))
    theory = Theory(model, Statistics.stationary(4, lam, syx))
    for call in (lambda: theory.half_times(1e-3), lambda: theory.maps([1.0], 1e-3),
                 lambda: theory.max_stable_lr, lambda: theory.gd_mode_strengths(2, 0.1, 1e-3)):
        with pytest.raises(ValueError, match=r"hypothesis 'input power' fails \(Lambda_f = 0 "
                                             r"at f = \(1,\), where \|T_f\| = "):
            call()
    t_hat = np.fft.fft(syx)
    t_hat[:, [1, 3]] = 0  # no target where there is no input
    stats = Statistics.stationary(4, lam, np.real(np.fft.ifft(t_hat)))
    np.testing.assert_allclose(Theory(model, stats).maps([1e3], 1e-3)[0],
                               stats.syx @ np.linalg.pinv(stats.sxx, rcond=1e-10), atol=1e-12)


def test_zero_sigma_yx_has_no_modes_and_no_step_bound():
    """``Sigma_yx = 0``: nothing to learn.  ``half_times`` used to fail inside NumPy
    (``zero-size array``), so did ``dataset_mode_strengths``, and ``max_stable_lr`` divided by
    zero.  Now there is no mode (empty per-mode results), the maps stay 0, so the loss stays
    ``<|y|^2>/2``, and no fixed point bounds the step: ``max_stable_lr = inf``."""
    stats = Statistics(shape=4, sxx=np.eye(4), syx=np.zeros((1, 4)), syy=0.5)
    for theory in (Theory(LinearCNN(shape=4), stats), Theory(FullyConnected(4, 1), stats)):
        assert theory.half_times(1e-3).shape == (0,) and theory.learning_order(1e-3) == []
        assert theory.dataset_mode_strengths([0.0, 1.0], 1e-3).shape == (2, 0)
        np.testing.assert_array_equal(theory.loss([0.0, 5.0], 1e-3), [0.25, 0.25])
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no division by zero
            assert theory.max_stable_lr == np.inf


def test_the_baseline_keeps_the_options():
    """``baseline()`` used to drop ``approximate`` (issue 12: it passes its options on)."""
    model = LinearCNN(shape=4, n_out=2)
    stats = Statistics(shape=4, sxx=np.eye(4), syx=np.arange(8.0).reshape(2, 4))
    for approximate in (False, True):
        fc = Theory(model, stats, tau=2.0, rtol=1e-6, approximate=approximate).baseline()
        assert (fc.tau, fc.rtol, fc.approximate) == (2.0, 1e-6, approximate)


def test_no_times_give_empty_predictions():
    """``times = []`` (found by tests/test_fuzz.py: ``maps`` failed inside NumPy's reshape)."""
    model = LinearCNN(shape=4, n_out=2)
    stats = Statistics(shape=4, sxx=np.eye(4), syx=np.arange(8.0).reshape(2, 4))
    theory = Theory(model, stats)
    assert theory.maps([], 1e-3).shape == (0, 2, 4)
    assert theory.loss([], 1e-3).shape == (0,)


def test_a_fully_connected_network_needs_a_hidden_unit_per_mode():
    """R1's aligned start ``W_1 = R A V^T`` needs ``hidden >= rank Sigma_yx``: with fewer
    units the theory used to predict every mode anyway."""
    stats = Statistics(shape=4, sxx=np.eye(4),
                       syx=np.random.default_rng(0).standard_normal((2, 4)))
    with pytest.raises(ValueError, match=r"hypothesis 'enough hidden units' fails \(rank of "
                                         r"Sigma_yx 2, hidden = 1"):
        Theory(FullyConnected(4, 1, 2), stats).half_times(1e-3)
    assert Theory(FullyConnected(4, 2, 2), stats).hypotheses["enough hidden units"].holds


def test_the_dominant_frequency_approximation_needs_white_input():
    """It is R3's ``tau ln(s/u0 - 1)/(2 c s)``, blind to ``lambda_f``: for stationary
    non-white input it used to answer anyway."""
    model = LinearCNN(shape=6)
    theory = Theory(model, stationary(model, 3))
    assert not theory.hypotheses["white input"].holds
    with pytest.raises(ValueError, match="hypothesis 'white input' fails"):
        theory.dominant_frequency_half_times(1e-4)


def test_r4_growth_rates_vanish_beyond_the_kernel_size_at_any_scale():
    """``S D S`` has rank ``k`` (``D = N Pi``, ``Pi`` a rank-``k`` projector): the rates
    ``gamma_j``, ``j > k``, used to come out near 1e-8 (square roots of rounding), and
    ``|T| ~ 1e-300`` underflowed to "no growing mode".  The others are the square roots of
    the eigenvalues of the ``k x k`` Toeplitz matrix of ``c_d = sum_f s_f^2 cos(2 pi f d/N)``
    (docs/theory-reference.md, R4), and scale like ``|T|``."""
    n, k = 8, 3
    t_hat = np.fft.fft(np.random.default_rng(1).standard_normal(n), norm="ortho")
    lags = np.arange(k) - (k - 1) // 2
    c = [np.sum(np.abs(t_hat) ** 2 * np.cos(2 * np.pi * np.arange(n) * d / n))
         for d in range(k)]
    want = np.sqrt(np.linalg.eigvalsh([[c[abs(q - p)] for q in lags] for p in lags])[::-1])
    for scale in (1.0, 1e-300, 1e300):
        gamma, _ = r4_growth_rates(scale * t_hat, dirichlet_matrix(LinearCNN(n, k)))
        np.testing.assert_allclose(gamma[:k], scale * want, rtol=1e-12)
        assert np.all(gamma[k:] == 0)


@pytest.mark.parametrize("call, error, match", [
    (lambda d: dirichlet_matrix("cnn"), TypeError, "model must be a LinearCNN, got str"),
    (lambda d: r4_growth_rates(np.full(8, np.nan), d), ValueError, "t_hat contains NaN"),
    (lambda d: r4_growth_rates([], d), ValueError, r"t_hat is empty"),
    (lambda d: r4_growth_rates("abcdefgh", d), TypeError, "t_hat must be a numeric array"),
    (lambda d: r4_growth_rates(np.ones(8), d * np.nan), ValueError, "dirichlet contains NaN"),
    (lambda d: r4_growth_rates(np.zeros(8), d), ValueError, "no growing mode"),
    # S (-D) S <= 0: its rounding errors used to be reported as growth rates ~ 4e-8
    (lambda d: r4_growth_rates(np.ones(8), -d), ValueError, "no growing mode"),
])
def test_r4_growth_rates_refuse_bad_input(call, error, match):
    with pytest.raises(error, match=f"^{match}"):
        call(dirichlet_matrix(LinearCNN(8, 3)))


def test_a_mode_that_starts_above_half_its_limit_has_half_way_time_zero():
    """The half-way time is the first time ``u_a(t) >= u_a(inf)/2`` (as
    ``Trajectory.half_way_times``): 0 when the start is already there, here a single
    frequency from ``u0 > s``, where R3's ``u(t)`` decays to ``s``.  The bisection used to
    return its bracket's end, 4.5e-22."""
    model = LinearCNN(shape=4)
    stats = Statistics(shape=4, sxx=np.eye(4), syx=np.array([[0.5, 0.5, 0.5, 0.5]]))
    theory = Theory(model, stats)  # T_f = 0 but at f = 0, where s = 1
    assert theory.half_times(2.0)[0] == 0.0
    # from below: R3's t_1/2 = tau ln(s/u0 - 1) / (2 sqrt(N) s)
    np.testing.assert_allclose(theory.half_times(1e-3), np.log(1e3 - 1) / 4, rtol=1e-12)


# ---------------------------------------------------------------- depth > 1 (R5)


def aligned_run(theory, times, u0, rtol=1e-12):
    """Full-network flow from a balanced aligned start of strength ``u0``."""
    engine = Fast if theory.cnn else Dense
    if theory.cnn:
        start = init_balanced(theory.model, aligned_spectrum(theory.stats, u0))
    else:
        u, _, vt = np.linalg.svd(theory.stats.syx, full_matrices=False)
        start = init_balanced(theory.model, u0 * u @ vt)
    return train(engine(theory.model, theory.stats), start, times, rtol=rtol)


@pytest.mark.parametrize("depth", [2, 3])
@pytest.mark.parametrize("data", [white, stationary])
def test_deep_closed_forms_predict_the_full_network_flow(depth, data):
    """R5 through the same methods: maps, loss and dataset strengths from a balanced aligned
    start (``u0 = |M_f(0)|``) against training with rtol 1e-12; measured < 1e-11 relative
    (the bisection of t(u) is exact to rounding; the error is the integrator's)."""
    model = LinearCNN(shape=6, depth=depth)
    theory = Theory(model, data(model, 1))
    assert not theory.hypotheses["depth 1"].holds
    u0 = 1e-2 * np.max(theory.strengths)
    half = theory.frequency_half_times(u0)
    times = np.linspace(0, 2 * half[np.isfinite(half)].max(), 9)
    run = aligned_run(theory, times, u0)
    maps, scale = theory.maps(times, u0), np.abs(run.maps).max()
    assert np.abs(maps[-1]).max() > 0.5 * scale  # past the transitions
    assert np.abs(maps - run.maps).max() < 1e-10 * scale
    assert np.abs(theory.loss(times, u0) - run.loss).max() < 1e-10 * np.abs(run.loss).max()
    np.testing.assert_allclose(theory.mode_strengths_at(times, u0),
                               simulated_strengths(theory, run), rtol=0, atol=1e-10 * scale)


@pytest.mark.parametrize("depth, data", [(1, stationary), (2, white), (3, stationary)])
def test_half_times_are_where_the_simulated_strengths_reach_half(depth, data):
    """``frequency_half_times`` (closed form) and ``half_times`` (bisection): at those times
    the trained network's ``u_fj`` and ``u_a`` are at half their limits, to 1e-9 relative."""
    model = LinearCNN(shape=6, depth=depth)
    theory = Theory(model, data(model, 2))
    u0 = 1e-3 * np.max(theory.strengths)
    t_f, t_a = theory.frequency_half_times(u0), theory.half_times(u0)
    live = np.isfinite(t_f)
    times = np.concatenate([[0.0], t_f[live], t_a])
    order = np.argsort(times)
    run = aligned_run(theory, times[order], u0)
    u = simulated_strengths(theory, run)[np.argsort(order)]
    limit = theory.strengths / theory.input_strengths
    at_half = u[1 + np.arange(live.sum()), *np.nonzero(live)]
    np.testing.assert_allclose(at_half, limit[live] / 2, rtol=1e-9)
    final = theory.dataset_mode_strengths([1e6], u0)[0]
    modes = stats_modes_strengths(theory, run)[np.argsort(order)][-len(t_a):]
    np.testing.assert_allclose(np.diagonal(modes), final / 2, rtol=1e-9)
    assert np.all(t_f[~live] == np.inf)
    assert np.all(theory.frequency_half_times(limit.max()) == np.where(live, 0.0, np.inf))


def stats_modes_strengths(theory, run):
    """``u_a = u_a^T M v_a`` of a simulated run, shape ``(T, a)``."""
    modes = theory.modes
    v = modes.v.reshape(len(modes.s), -1)
    return np.einsum("oa,tod,ad->ta", modes.u, run.maps, v)


def test_deep_results_not_derived_for_depth_greater_than_one_refuse():
    model = LinearCNN(shape=6, depth=2)
    theory = Theory(model, white(model, 0))
    start = init_balanced(model, aligned_spectrum(theory.stats, 1e-3))
    for call in (lambda: theory.gd_mode_strengths(3, 0.01, 1e-3), lambda: theory.rates,
                 lambda: theory.max_stable_lr, lambda: theory.effective_u0(start),
                 lambda: theory.dominant_frequency_half_times(1e-4)):
        with pytest.raises(ValueError, match="hypothesis 'depth 1' fails"):
            call()
    with pytest.raises(ValueError, match="u0 = .* is above the limit s/lambda .* growing"):
        theory.maps([1.0], 2 * np.max(theory.strengths))
    wide = LinearCNN(shape=6, depth=2, n_out=2, channels=2)
    with pytest.raises(ValueError, match=r"hypothesis 'scalar blocks \(depth > 1\)' fails"):
        Theory(wide, white(wide, 0)).maps([1.0], 1e-3)


@pytest.mark.parametrize("model", [LinearCNN(shape=(3, 4), channels=3, n_out=2, c_in=2),
                                   FullyConnected(6, 3, 2)])
def test_svd_reconstructs_the_targets(model):
    """``(P, S, Q^*)``: ``T_f = P_f diag(S_f) Q_f^*`` over flat frequencies (``to_flat``)."""
    stats = white(model, 3) if isinstance(model, LinearCNN) else Statistics(
        shape=6, sxx=np.eye(6), syx=np.random.default_rng(3).standard_normal((2, 6)))
    p, s, qh = Theory(model, stats).svd
    target = (fourier.to_flat(stats.output_spectrum()) if isinstance(model, LinearCNN)
              else stats.syx[None])
    np.testing.assert_allclose(np.einsum("fpj,fj,fjq->fpq", p, s, qh), target, atol=1e-12)
    assert np.all(np.diff(s, axis=1) <= 0) and p.shape[:2] == target.shape[:2]


# ---------------------------------------------------------------- white on its support


def whitened_on_support(x):
    """Samples ``x`` ``(P, D)`` whitened on their support (NumPy oracle): ``Sigma^{+1/2} x``,
    eigenvalues below ``1e-10`` of the largest dropped."""
    lam, q = np.linalg.eigh(x.T @ x / len(x))
    keep = lam > 1e-10 * lam.max()
    return x @ (q[:, keep] / np.sqrt(lam[keep])) @ q[:, keep].T


def support_data(kind, c_in=1, n=6, samples=200, seed=0):
    """Whitened samples with a dead pixel (``kind = "pixel"``) or zero-mean images
    (``"mean"``, a block-circulant projector, ``lambda_0 = 0``) and linear targets."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((samples, c_in, n))
    if kind == "pixel":
        x[:, :, 0] = 0.0
    else:
        x -= x.mean(axis=2, keepdims=True)
    flat = whitened_on_support(x.reshape(samples, -1))
    y = flat @ rng.standard_normal((2, c_in * n)).T
    return Statistics.from_samples(flat.reshape(x.shape), y)


def test_fully_connected_theory_on_data_white_on_its_support():
    """Dead pixel: ``Sigma_xx = Pi`` (rank D - 1): R1 on the support, against training with
    rtol 1e-12 (measured < 1e-11 relative)."""
    stats = support_data("pixel")
    theory = Theory(FullyConnected(6, 2, 2), stats)
    hypotheses = theory.hypotheses
    assert not hypotheses["white input"].holds and hypotheses["white on its support"].holds
    assert "rank 5" in hypotheses["white on its support"].detail
    u0, times = 1e-3, np.linspace(0, 8, 9)
    run = aligned_run(theory, times, u0)
    scale = np.abs(run.maps).max()
    assert np.abs(theory.maps(times, u0) - run.maps).max() < 1e-10 * scale
    assert np.abs(theory.loss(times, u0) - run.loss).max() < 1e-10 * np.abs(run.loss).max()
    leak = Statistics(shape=6, sxx=stats.sxx, syx=stats.syx + np.eye(2, 6))  # T on pixel 0
    with pytest.raises(ValueError, match=r"hypothesis 'white on its support' fails \(Sigma_"
                                         r"xx = Pi, an orthogonal projector of rank 5"):
        Theory(FullyConnected(6, 2, 2), leak).half_times(1e-3)


@pytest.mark.parametrize("c_in", [1, 2])
def test_cnn_theory_on_zero_mean_images_white_on_their_support(c_in):
    """Zero-mean images: ``Sigma_xx`` a block-circulant projector, ``Lambda_f`` 0 at ``f = 0``
    and 1 elsewhere (``C_in = 1``), ``T_0 = 0``: the CNN and fully connected theories (and the
    dominant-frequency approximation, which needs white input on the support) answer, and
    the CNN's maps follow training (rtol 1e-12) to 1e-10.  The same data with a dead pixel are
    not stationary: the CNN refuses."""
    stats = support_data("mean", c_in)
    model = LinearCNN(shape=6, channels=2, n_out=2, c_in=c_in)
    theory = Theory(model, stats)
    assert theory.hypotheses["white on its support"].holds
    if c_in == 1:
        np.testing.assert_allclose(theory.input_strengths[:, 0], [0, 1, 1, 1, 1, 1], atol=1e-12)
    u0 = 1e-3 * np.max(theory.strengths)
    times = np.linspace(0, 2 * np.max(theory.half_times(u0)), 5)
    run = aligned_run(theory, times, u0)
    scale = np.abs(run.maps).max()
    assert np.abs(theory.maps(times, u0) - run.maps).max() < 1e-10 * scale
    assert np.all(np.isfinite(theory.baseline().half_times(1e-3)))
    if c_in == 1:
        assert np.all(np.isfinite(theory.dominant_frequency_half_times(1e-6)))
    with pytest.raises(ValueError, match="hypothesis 'stationary input' fails"):
        Theory(model, support_data("pixel", c_in)).maps([1.0], 1e-3)


def test_a_subnormal_u0_is_refused_not_a_nan():
    """``s / (lambda u0)`` overflows for ``u0 = 5e-324``: a ValueError naming u0 (it was NaN
    at late times and 0 at t = 0; found by tests/test_fuzz.py)."""
    model = LinearCNN(shape=1)
    theory = Theory(model, Statistics(shape=1, sxx=np.eye(1), syx=np.array([[0.126]])))
    with pytest.raises(ValueError, match=r"u0 = 4.94e-324 is too small: s_fj / \(lambda_f u0\)"):
        theory.mode_strengths_at([0.0, 1e300], 5e-324)
    assert np.isfinite(theory.mode_strengths_at([0.0, 1e300], 1e-300)).all()


def test_a_theory_renders_its_hypotheses_in_jupyter():
    model = LinearCNN(shape=6, kernel=3, channels=2, n_out=2)
    theory = Theory(model, white(model, 0), approximate=True)
    text = theory._repr_markdown_()
    assert text.startswith("**Theory** of a linear CNN on data of shape (6,)")
    assert "| full kernel | **no** | kernel (3,), shape (6,) |" in text
    assert "| white input | yes | Sigma_xx = I |" in text
    assert f"Approximation: {APPROXIMATIONS['full kernel']}" in text
