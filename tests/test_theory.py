"""The theory object: hypotheses, and its predictions against full-network training."""

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
    init_balanced,
    train,
)
from symcnn.derivation import DerivationError
from symcnn.theory import Theory, gd_map
from tests.strategies import models, seeds, white


def stationary(model, seed):
    """Stationary non-white input with ``Lambda_f`` in [0.5, 1.5] and a Gaussian ``Sigma_yx``."""
    rng = np.random.default_rng(seed)
    lam = rng.uniform(0.5, 1.5, model.shape)
    axes = tuple(range(lam.ndim))
    lam = (lam + np.roll(np.flip(lam, axes), 1, axes)) / 2  # Lambda_{-f} = Lambda_f
    syx = rng.standard_normal((model.n_out, model.n_in)) / np.sqrt(model.n_in)
    return Statistics.stationary(model.shape, lam[None, None], syx)


def simulated_strengths(theory, run):
    """``u_fj = Re(p_fj^* M_f q_fj)`` of a simulated run, shape ``(T, F, r)``."""
    p, _, qh = theory._svd
    if theory.cnn:
        m = run.spectra.reshape(len(run.times), *run.spectra.shape[1:3], -1)
        m = np.moveaxis(m, -1, 1)
    else:
        m = run.maps[:, None]
    return np.real(np.einsum("fpj,tfpq,fjq->tfj", np.conj(p), m, np.conj(qh)))


def test_gd_map_is_derived_and_checked():
    d = gd_map()
    assert [s.name for s in d.steps] == ["readout keeps its phase", "kernel stays balanced",
                                         "strength map", "fixed point", "stability"]
    assert all(s.verified.startswith("verified exactly") for s in d.steps)
    u, eta, c, s, lam = sp.symbols("u eta c s lambda", positive=True)
    with pytest.raises(DerivationError, match="step 'wrong' fails"):
        d.step("wrong", d["strength map"].lhs, u * (1 + eta * c**2 * (s - lam * u)) ** 2,
               "the factor c^2 instead of c")


@settings(max_examples=8, deadline=None)
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
    theory = Theory(model, stats or white(model, 0))
    assert not theory.hypotheses[hypothesis].holds
    with pytest.raises(ValueError, match=f"hypothesis '{hypothesis}' fails"):
        theory.gd_mode_strengths(3, 0.01, 1e-3)


def test_bad_arguments_are_named():
    model = LinearCNN(shape=4)
    with pytest.raises(ValueError, match="N_o = 2"):
        Theory(model, white(LinearCNN(shape=4, n_out=2), 0))
    theory = Theory(model, white(model, 0))
    for name, call in (("lr", lambda: theory.gd_mode_strengths(3, -1.0, 1e-3)),
                       ("u0", lambda: theory.gd_mode_strengths(3, 0.1, float("nan")))):
        with pytest.raises(ValueError, match=f"{name} must be a finite number > 0"):
            call()
