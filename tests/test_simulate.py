"""The three simulators against each other, finite differences and the R1/R3 solutions."""

import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from symcnn import (
    Dense,
    Fast,
    FullyConnected,
    LinearCNN,
    Samples,
    Statistics,
    Trajectory,
    aligned_map,
    aligned_spectrum,
    fourier,
    init_balanced,
    init_random,
    progress,
    train,
    zoo,
)
from symcnn.strategies import models, samples, seeds, white


def relative_error(a, b) -> float:
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def three_engines(model, seed):
    x, y = samples(model, seed)
    stats = Statistics.from_samples(x, y)
    return Dense(model, stats), Fast(model, stats), Samples(model, x, y)


def unit_layers(model, seed, norm: float = 0.7):
    """Random parameters with every layer of operator norm ``norm``: the products stay of
    order one, so gradient steps of 0.05 are stable whatever the size drawn."""
    *kernels, w_out = init_random(model, 1.0, seed)
    kernels = [w * norm / np.linalg.norm(np.moveaxis(fourier.kernel_spectrum(model, w).reshape(
        *w.shape[:2], -1), -1, 0), ord=2, axis=(1, 2)).max() for w in kernels]
    return (*kernels, w_out * norm / np.linalg.norm(w_out.reshape(len(w_out), -1), ord=2))


@given(models(), seeds, st.sampled_from(["flow", "gd"]))
def test_dense_fast_and_samples_agree_over_a_run(model, seed, method):
    """Same integrator, three gradients: the maps agree to 1e-10 along the whole run."""
    params = unit_layers(model, seed)
    times = np.linspace(0, 2, 5)
    step = {"dt": 0.05} if method == "flow" else {"lr": 0.05}
    runs = [train(engine, params, times, method=method, **step)
            for engine in three_engines(model, seed)]
    dense = runs[0]
    assert relative_error(dense.maps[-1], dense.maps[0]) > 1e-6  # the run goes somewhere
    for other in runs[1:]:
        assert relative_error(other.maps, dense.maps) < 1e-10
        assert relative_error(other.loss, dense.loss) < 1e-10
        for p, q in zip(other.final, dense.final, strict=True):
            assert relative_error(p, q) < 1e-10


@given(models(), seeds)
def test_stationary_data_term_equals_the_dense_one(model, seed):
    rng = np.random.default_rng(seed)
    half = rng.standard_normal((model.c_in, 2 * model.c_in, *model.shape))
    b = fourier.dft(half, len(model.shape))
    spectrum = np.einsum("ak...,bk...->ab...", b, np.conj(b))
    stats = Statistics.stationary(model.shape, spectrum,
                                  rng.standard_normal((model.n_out, model.n_in)))
    params = init_random(model, 0.5, seed)
    per_frequency = Fast(model, stats, stationary=True)
    dense_term = Fast(model, stats, stationary=False)
    for g, h in zip(per_frequency.gradient(params), dense_term.gradient(params), strict=True):
        assert relative_error(g, h) < 1e-11
    assert abs(per_frequency.evaluate(params)[0] - dense_term.evaluate(params)[0]) < 1e-11 * (
        1 + abs(dense_term.evaluate(params)[0]))


@given(models(max_side=4), seeds)
def test_gradients_match_central_differences(model, seed):
    """``(L(theta + h v) - L(theta - h v)) / 2h = <grad L, v> + O(h^2)`` along random v."""
    rng = np.random.default_rng(seed)
    params = init_random(model, 0.7, seed)
    direction = [rng.standard_normal(p.shape) for p in params]
    h = 1e-4
    for engine in three_engines(model, seed):
        def loss(s, engine=engine):
            return engine.evaluate([p + s * v for p, v in zip(params, direction, strict=True)])[0]

        numeric = (loss(h) - loss(-h)) / (2 * h)
        exact = sum(np.vdot(g, v) for g, v in zip(engine.gradient(params), direction,
                                                   strict=True))
        assert abs(numeric - exact) <= 1e-6 * max(1.0, abs(exact))


def test_fully_connected_gradient_matches_central_differences():
    model = FullyConnected(5, 3, 2)
    rng = np.random.default_rng(0)
    stats = Statistics(shape=5, sxx=np.cov(rng.standard_normal((5, 20))),
                       syx=rng.standard_normal((2, 5)))
    engine, params = Dense(model, stats), init_random(model, 0.5, 1)
    for i, p in enumerate(params):
        for idx in np.ndindex(p.shape):
            plus = [q.copy() for q in params]
            minus = [q.copy() for q in params]
            plus[i][idx] += 1e-5
            minus[i][idx] -= 1e-5
            numeric = (engine.evaluate(plus)[0] - engine.evaluate(minus)[0]) / 2e-5
            assert abs(numeric - engine.gradient(params)[i][idx]) < 1e-8


@given(models(full_kernel=True, max_depth=3), seeds, st.floats(1e-3, 1.0))
def test_balanced_init_realises_the_spectrum_and_is_balanced(model, seed, u0):
    model = LinearCNN(shape=model.shape, channels=max(model.channels, model.n_out,
                                                      model.c_in),
                      c_in=model.c_in, n_out=model.n_out, depth=model.depth,
                      convention=model.convention)
    stats = white(model, seed)
    spectrum = aligned_spectrum(stats, u0)
    params = init_balanced(model, spectrum)
    assert all(np.isrealobj(p) for p in params)
    d = len(model.shape)
    m_hat = fourier.row_spectrum(model.end_to_end(params).reshape(spectrum.shape), d)
    np.testing.assert_allclose(m_hat, spectrum, atol=1e-12)
    # conserved quantities of R2 vanish: beta^* beta = kappa kappa^* / N between layers
    flat = [np.moveaxis(fourier.kernel_spectrum(model, w).reshape(*w.shape[:2], -1), -1, 0)
            for w in params[:-1]]
    beta = np.moveaxis(fourier.row_spectrum(params[-1], d).reshape(model.n_out,
                                                                   model.channels, -1), -1, 0)
    outer = [beta * np.sqrt(model.n_pixels), *reversed(flat)]
    for upper, lower in zip(outer[:-1], outer[1:], strict=True):
        gram_upper = np.conj(np.swapaxes(upper, 1, 2)) @ upper
        gram_lower = lower @ np.conj(np.swapaxes(lower, 1, 2))
        np.testing.assert_allclose(gram_upper, gram_lower, atol=1e-12 * model.n_pixels)


def r3(s, u0, n, t):
    """docs/theory-reference.md, R3: ``u(t) = s E / (E - 1 + s / u0)``,
    ``E = exp(2 sqrt(N) s t)``."""
    e = np.exp(2 * np.sqrt(n) * s * t)
    return s * e / (e - 1 + s / u0)


@given(models(full_kernel=True, max_depth=1, c_in=(1,)), seeds, st.floats(1e-4, 1e-1))
def test_full_kernel_white_input_follows_r3(model, seed, ratio):
    """Balanced aligned init, k = N, white input, C_in = 1: |M_f(t)| obeys R3 to 1e-8."""
    stats = white(model, seed)
    s_f = np.linalg.norm(stats.output_spectrum(), axis=(0, 1))
    u0 = ratio * s_f.max()
    rate = 2 * np.sqrt(model.n_pixels) * s_f.max()  # the fastest growth rate
    times = np.linspace(0, 1.5 * np.log(10 / ratio) / rate * 4, 7)
    run = train(Fast(model, stats), init_balanced(model, aligned_spectrum(stats, u0)), times,
                dt=0.02 / rate)  # RK4 error ~ (rate dt)^4 per unit time
    simulated = np.linalg.norm(run.spectra, axis=(1, 2))
    predicted = r3(s_f[None], u0, model.n_pixels, times.reshape(-1, *[1] * s_f.ndim))
    assert predicted[-1].max() > 0.99 * s_f.max()  # the transition happens inside the run
    assert np.max(np.abs(simulated - predicted)) < 1e-8 * predicted.max()


def test_fully_connected_follows_saxe():
    """R1: white input, balanced aligned init: each mode's strength follows R3 with N = 1."""
    rng = np.random.default_rng(3)
    syx = rng.standard_normal((3, 6))
    stats = Statistics(shape=6, sxx=np.eye(6), syx=syx)
    u, s, vt = np.linalg.svd(syx, full_matrices=False)
    u0 = 1e-3
    model = FullyConnected(6, 3, 3)
    times = np.linspace(0, 6 / s.max(), 9)
    run = train(Dense(model, stats), init_balanced(model, u0 * u @ vt), times, dt=1e-3)
    strengths = np.einsum("oa,tod,ad->ta", u, run.maps, vt)
    np.testing.assert_allclose(strengths, r3(s, u0, 1, times[:, None]), rtol=1e-8, atol=1e-12)


def test_gradient_descent_is_the_discrete_map():
    """``method='gd'`` is ``theta <- theta - lr grad L``, step ``k`` at ``t = lr tau k``."""
    model = LinearCNN(shape=5, kernel=3, channels=2, n_out=2)
    engine = Fast(model, white(model, 0))
    params = init_random(model, 0.3, 0)
    run = train(engine, params, [0.0, 0.2, 0.6], method="gd", lr=0.1, tau=0.5,
                record_params=True)
    theta = [p.copy() for p in params]
    for step in range(12):
        theta = [p - 0.1 * g for p, g in zip(theta, engine.gradient(theta), strict=True)]
        if step + 1 in (4, 12):
            recorded = run.params[1 if step + 1 == 4 else 2]
            for p, q in zip(recorded, theta, strict=True):
                np.testing.assert_array_equal(p, q)


def test_adaptive_rk4_meets_its_tolerance():
    model = LinearCNN(shape=6, channels=2, n_out=2)
    engine = Fast(model, white(model, 1))
    params = init_random(model, 0.01, 1)
    times = np.linspace(0, 4, 5)
    reference = train(engine, params, times, dt=1e-3)
    for rtol in (1e-6, 1e-9):
        adaptive = train(engine, params, times, rtol=rtol)
        error = relative_error(adaptive.maps, reference.maps)
        assert error < 100 * rtol


def test_progress_is_reported(capsys, monkeypatch):
    """A run shows its time and loss after ``progress.DELAY`` (here 0), not when quiet."""
    monkeypatch.setattr(progress, "DELAY", 0.0)
    monkeypatch.setattr(progress, "INTERVAL", 0.0)
    model = LinearCNN(shape=4)
    engine, params = Dense(model, white(model, 0)), init_random(model, 0.1)
    run = train(engine, params, [0, 0.5, 1], dt=0.1)
    err = capsys.readouterr().err.splitlines()
    assert [re.sub(r" \(\d+\.\d s\)$", "", line) for line in err] == [
        "symcnn train", f"symcnn train: t = 0.5/1 loss {run.loss[1]:.6g}",
        f"symcnn train: t = 1/1 loss {run.loss[2]:.6g}",
        f"symcnn train: t = 1, loss {run.loss[2]:.6g}"]
    with progress.quiet():
        train(engine, params, [0, 1], dt=0.1)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("kwargs, error, match", [
    ({"dt": 0.1, "rtol": 1e-6}, ValueError, "exactly one of dt"),
    ({}, ValueError, "exactly one of dt"),
    ({"dt": -1}, ValueError, "dt must be a finite number > 0"),
    ({"method": "gd"}, ValueError, "lr must be a finite number > 0"),
    ({"method": "gd", "lr": 0.3}, ValueError, "multiple of lr \\* tau"),
    ({"method": "euler", "dt": 0.1}, ValueError, "method must be 'flow' or 'gd'"),
    ({"dt": 0.1, "tau": 0}, ValueError, "tau must be a finite number > 0"),
    ({"method": "gd", "lr": 50.0, "times": [0, 1000]}, FloatingPointError,
     r"diverged.*step too large \(lr=50\).*2 / lambda_max"),
    ({"dt": 5.0, "times": [0, 100]}, FloatingPointError, "diverged.*dt=5 is too large"),
    ({"rtol": 1.0}, ValueError, r"rtol must be in \(0, 1\)"),
    ({"rtol": 2.0}, ValueError, r"rtol must be in \(0, 1\)"),
    ({"rtol": 0.0}, ValueError, "rtol must be a finite number > 0"),
    ({"rtol": np.nan}, ValueError, "rtol must be a finite number > 0"),
    ({"dt": np.inf}, ValueError, "dt must be a finite number > 0"),
    ({"method": "gd", "lr": np.nan}, ValueError, "lr must be a finite number > 0"),
    ({"dt": 0.1, "lr": 0.1}, ValueError, "lr does not apply to method='flow'"),
    ({"rtol": 1e-6, "lr": 0.1}, ValueError, "lr does not apply to method='flow'"),
    ({"method": "gd", "lr": 0.5, "dt": 0.1}, ValueError, "dt does not apply to method='gd'"),
    ({"method": "gd", "lr": 0.5, "rtol": 1e-8}, ValueError,
     "rtol does not apply to method='gd'"),
    ({"dt": 0.1, "times": [1, 0.5]}, ValueError, "ascending"),
    ({"dt": 0.1, "times": [np.nan]}, ValueError, "finite"),
    ({"dt": 0.1, "resolution": 1.0}, ValueError, "0 <= resolution < 1"),
    ({"dt": 0.1, "resolution": -1e-7}, ValueError, "0 <= resolution < 1"),
    ({"dt": 0.1, "resolution": np.nan}, ValueError, "0 <= resolution < 1"),
])
def test_bad_training_arguments(kwargs, error, match):
    model = LinearCNN(shape=4, channels=2)
    kwargs = {"times": [0, 1], **kwargs}
    with pytest.raises(error, match=match), np.errstate(over="ignore", invalid="ignore"):
        train(Dense(model, white(model, 0)), init_random(model, 0.5), **kwargs)


def test_mismatched_model_and_data_are_refused():
    stats = white(LinearCNN(shape=6), 0)
    with pytest.raises(ValueError, match=r"model \(shape=\(5,\), c_in=1\) and data"):
        Dense(LinearCNN(shape=5), stats)
    with pytest.raises(ValueError, match="n_out=2"):
        Fast(LinearCNN(shape=6, n_out=2), stats)
    with pytest.raises(ValueError, match="hypothesis 'stationary input' fails"):
        Fast(LinearCNN(shape=6), Statistics(shape=6, sxx=np.diag(np.arange(1.0, 7)),
                                            syx=np.ones((1, 6))), stationary=True)
    with pytest.raises(ValueError, match="hypothesis 'full kernel' fails"):
        init_balanced(LinearCNN(shape=6, kernel=3), np.ones((1, 1, 6)))
    with pytest.raises(ValueError, match="channels = 1 is too small"):
        init_balanced(LinearCNN(shape=6, c_in=2, n_out=2),
                      aligned_spectrum(white(LinearCNN(shape=6, c_in=2, n_out=2), 0), 0.1))


def _trajectory():
    model = LinearCNN(shape=4)
    return train(Dense(model, white(model, 0)), init_random(model, 0.1), [0, 1], dt=0.1)


@pytest.mark.parametrize("call, error, match", [  # found by tests/test_fuzz.py
    (lambda m, s: Fast(1.0, s), TypeError, "model must be a LinearCNN or a FullyConnected"),
    (lambda m, s: Fast(FullyConnected(4, 2, 1), s), TypeError, "model: Fast trains"),
    (lambda m, s: Dense(m, s.sxx), TypeError, "stats must be a Statistics, got ndarray"),
    (lambda m, s: Samples(1.0, np.ones((2, 1, 4)), [0, 0]), TypeError, "model must be a"),
    (lambda m, s: Samples(m, np.ones((2, 1, 4)), np.full((2, 1), 1e300)), ValueError,
     r"y is too large: its average <\|y\|\^2> overflows float64 \(max \|y\| = 1e\+300\)"),
    (lambda m, s: Fast(m, s, stationary=np.nan), TypeError, "stationary must be True, Fal"),
    (lambda m, s: Fast(m, s, stationary=np.ones(2)), TypeError, "stationary must be"),
    (lambda m, s: Dense(m, s).gradient((np.full((1, 1, 4), 1e300), np.ones((1, 1, 4)))),
     ValueError, r"params: the gradient overflows float64 .*max \|params\| = 1e\+300"),
    (lambda m, s: Dense(m, s).evaluate((np.full((1, 1, 4), 1e300), np.ones((1, 1, 4)))),
     ValueError, "params: the loss overflows float64"),
    (lambda m, s: train(1.0, init_random(m, 0.1), [1], dt=0.1), TypeError,
     "engine must be a Dense, a Fast or a Samples"),
    (lambda m, s: train(Dense(m, s), init_random(m, 0.1), [1], method=np.array([]), dt=0.1),
     ValueError, "method must be 'flow' or 'gd'"),
    (lambda m, s: train(Dense(m, s), init_random(m, 0.1), [1], tau=np.array([]), dt=0.1),
     TypeError, "tau must be a finite number > 0"),
    (lambda m, s: train(Dense(m, s), init_random(m, 0.1), [1], record_params=np.nan, dt=0.1),
     TypeError, "record_params must be True or False"),
    (lambda m, s: train(Dense(m, s), init_random(m, 0.1), ["abc"], dt=0.1), TypeError,
     "times must be a numeric array"),
    (lambda m, s: train(Dense(m, s), init_random(m, 0.1), [0.01], method="gd", lr=2e-311),
     ValueError, "lr \\* tau = .* is too small .* overflows float64"),
    (lambda m, s: init_random(m, 0.1, seed=-1), ValueError, "seed must be an integer >= 0"),
    (lambda m, s: init_balanced(FullyConnected(4, 1, 1), "abc"), TypeError,
     "spectrum must be a numeric array"),
    (lambda m, s: aligned_spectrum(s, 0.1, rtol=np.nan), ValueError, "0 <= rtol < 1"),
    (lambda m, s: _trajectory().half_way_times(s.modes(), [1.0, 2.0]), ValueError,
     r"target must hold 1 finite numbers \(one per mode\), got shape \(2,\)"),
    (lambda m, s: _trajectory().half_way_times(s.modes(), [np.nan]), ValueError,
     "with NaN or inf"),
    (lambda m, s: _trajectory().mode_strengths(s.sxx), TypeError, "modes must be a Modes"),
    (lambda m, s: _trajectory().mode_strengths(white(LinearCNN(shape=3), 0).modes()),
     ValueError, r"modes are for 1 outputs and inputs of shape \(1, 3\)"),
])
def test_bad_engine_and_run_arguments(call, error, match):
    model = LinearCNN(shape=4)
    with pytest.raises(error, match=match), np.errstate(over="ignore", invalid="ignore"):
        call(model, white(model, 0))


def test_no_modes_give_an_empty_strength_and_a_zero_aligned_map():
    """``Sigma_yx = 0`` has no singular modes (found by tests/test_fuzz.py: both raised)."""
    stats = Statistics(shape=4, sxx=np.eye(4), syx=np.zeros((1, 4)))
    assert np.array_equal(aligned_map(stats, 0.1), np.zeros((1, 4)))
    assert _trajectory().mode_strengths(stats.modes()).shape == (2, 0)


def test_samples_engine_refuses_mismatched_samples():
    model = LinearCNN(shape=(4, 3), c_in=2, n_out=2)
    with pytest.raises(ValueError, match=r"= \(P, 2, 4, 3\) for the model"):
        Samples(model, np.ones((5, 1, 4, 3)), np.zeros(5, dtype=int))
    with pytest.raises(ValueError, match=r"class indices y must lie in \[0, n_out\) = \[0, 2\)"):
        Samples(model, np.ones((5, 2, 4, 3)), np.arange(5))
    with pytest.raises(ValueError, match="x contains NaN"):
        Samples(model, np.full((5, 2, 4, 3), np.nan), np.zeros(5, dtype=int))


def test_mode_strengths_and_half_way_times_on_known_curves():
    """Two modes of a 2 x 3 map: u_1(t) = t rises through 1 at t = 1; u_2(t) = -t/4 reaches
    half of its target -1 only at t = 2, after the run ends."""
    modes = Statistics(shape=3, sxx=np.eye(3),
                       syx=np.array([[2.0, 0, 0], [0, 1.0, 0]])).modes()
    times = np.linspace(0, 1.5, 4)
    maps = np.einsum("t,a,oa,ad->tod", times, [1.0, -0.25], modes.u, modes.v.reshape(2, 3))
    run = Trajectory(times=times, maps=maps, loss=np.zeros(4), final=(), shape=(3,), c_in=1)
    np.testing.assert_allclose(run.mode_strengths(modes), np.outer(times, [1.0, -0.25]),
                               atol=1e-15)
    half = run.half_way_times(modes, np.array([2.0, -1.0]))
    assert half[0] == pytest.approx(1.0, abs=1e-14) and np.isnan(half[1])


def test_options_of_the_other_mode_are_not_needed():
    """Refusing foreign options must not break the defaults: gd with lr alone, the flow with
    dt or rtol alone."""
    model = LinearCNN(shape=4, channels=2)
    engine, params = Dense(model, white(model, 0)), init_random(model, 0.5)
    gd = train(engine, params, [0, 1], method="gd", lr=0.05)
    flow = train(engine, params, [0, 1], rtol=1e-8)
    fixed = train(engine, params, [0, 1], dt=0.01)
    assert relative_error(flow.maps, fixed.maps) < 1e-8
    assert gd.loss[-1] < gd.loss[0]


def test_huge_initial_weights_are_reported_as_init_too_large():
    model = LinearCNN(shape=4, channels=2)
    with pytest.raises(FloatingPointError, match="init too large"), np.errstate(
            over="ignore", invalid="ignore"):
        train(Dense(model, white(model, 0)), init_random(model, 1e200), [0, 1], rtol=1e-8)


def test_gd_divergence_reports_a_stable_bound_that_holds():
    """The bound 2 / lambda_max in the message is the real one: just below it descent from
    near the minimum converges, well above it descent diverges."""
    model = LinearCNN(shape=4, channels=2)
    engine = Dense(model, white(model, 0))
    start = train(engine, init_random(model, 0.5), [0, 40], rtol=1e-10).final
    with pytest.raises(FloatingPointError) as info, np.errstate(over="ignore",
                                                                invalid="ignore"):
        train(engine, start, [0, 2000 * 3.0], method="gd", lr=3.0)
    bound = float(str(info.value).split("lambda_max = ")[1].split(" ")[0])
    assert 0 < bound < 3.0
    lr = 0.9 * bound
    run = train(engine, start, lr * np.array([0, 200]), method="gd", lr=lr)
    assert run.loss[-1] <= run.loss[0] + 1e-12


def test_norm_does_not_underflow():
    from symcnn.simulate import _norm
    x = np.full(4, 1e-300)
    assert np.linalg.norm(x) == 0  # the unscaled norm does
    assert _norm(x) == pytest.approx(2e-300, rel=1e-15)
    assert _norm(np.zeros(3)) == 0
    assert _norm(np.full(4, 1e300)) == pytest.approx(2e300, rel=1e-15)


def one_mode_samples(model, seed=0, p=12):
    """Samples whose statistics live at frequency 0 only (each image is constant): one
    nonzero singular mode, so no mode is ever below rounding relative to another and every
    engine can follow the flow exactly from any representable scale."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(p)
    x = a[:, None, None] * np.ones((p, model.c_in, *model.shape))
    y = rng.standard_normal((p, model.n_out)) + 2 * a[:, None]
    return x, y


@pytest.mark.parametrize("scale, t_end", [(1e-300, None), (1e-50, 40.0), (1e-6, 10.0),
                                          (1.0, 5.0)])
def test_engines_agree_across_initial_scales(scale, t_end):
    """Fast (spectral state), Dense and Samples (pixel state) follow the same run to 1e-10
    from initial scales 1e-50 to 1, the mode being learned within the run; 1e-300 is outside
    the supported range (the map, a product of two layers, underflows) and refused."""
    model = LinearCNN(shape=4, channels=2, n_out=2)
    x, y = one_mode_samples(model)
    stats = Statistics.from_samples(x, y)
    engines = [Dense(model, stats), Fast(model, stats), Samples(model, x, y)]
    params = init_random(model, scale, seed=3)
    if t_end is None:
        for engine in engines:
            with pytest.raises(ValueError, match=r"params are too small.*supported 1e-280"):
                train(engine, params, [0, 1], dt=0.05)
        return
    times = np.linspace(0, t_end, 9)
    runs = [train(engine, params, times, dt=0.04) for engine in engines]
    learned = stats.optimal_map().sum(-1)  # the map at frequency 0 (the others stay)
    assert relative_error(runs[0].maps[-1].sum(-1), learned) < 1e-6  # the mode was learned
    assert relative_error(runs[0].maps[1 if scale < 1 else 0].sum(-1), learned) > 0.1
    for other in runs[1:]:
        assert relative_error(other.maps, runs[0].maps) < 1e-10
        assert relative_error(other.loss - runs[2].loss[-1], runs[0].loss - runs[2].loss[-1]
                              ) < 1e-10 or other is runs[2]


def white_samples(stats):
    """Samples with exactly the statistics ``stats`` of white input: ``x_mu = sqrt(D) e_mu``
    (so ``Sigma_xx = I``) and ``y_mu = sqrt(D) Sigma_yx e_mu``."""
    d = stats.n_in
    x = np.sqrt(d) * np.eye(d).reshape(d, stats.c_in, *stats.shape)
    return x, np.sqrt(d) * stats.syx.T


@pytest.mark.parametrize("scale", [1e-300, 1e-50, 1e-6, 1.0])
def test_engines_agree_or_refuse_from_every_scale(scale):
    """The issue's example: the zoo's white-1d-8 setup (eight frequencies, their data shares
    0.37 to 1). Fast keeps each frequency to its own precision; Dense and Samples keep pixel
    weights and refuse once a frequency falls below their resolution (from 1e-50 the last
    frequency is ~1e-30 of the first when the first is learned; Fast used to stop at
    loss -0.47 with only f = 0 learned). Whatever runs agrees to 1e-10; from small starts it
    reaches the minimum ``1/2 syy - 1/2 |Sigma_yx|^2`` (white input)."""
    setup = zoo.get("white-1d-8")
    x, y = white_samples(setup.stats)
    stats = Statistics.from_samples(x, y)
    engines = {"Fast": Fast(setup.model, stats), "Dense": Dense(setup.model, stats),
               "Samples": Samples(setup.model, x, y)}
    params = init_random(setup.model, scale, seed=0)
    times = np.linspace(0, 12 + 1.2 * np.log(1 / scale) if scale > 1e-300 else 1.0, 17)
    runs, refusals = {}, {}
    for name, engine in engines.items():
        try:
            runs[name] = train(engine, params, times, dt=0.05)
        except ValueError as error:
            refusals[name] = str(error)
    if scale == 1e-300:
        assert set(refusals) == set(engines)
        assert all("too small to train in float64" in m for m in refusals.values())
        return
    expected = {"Fast"} if scale == 1e-50 else set(engines)
    assert set(runs) == expected
    for name, message in refusals.items():
        assert message.startswith("params:") and f"{name} keeps the weights in pixel" in message
    minimum = 0.5 * stats.syy - 0.5 * np.sum(stats.syx**2)  # 0 here: y is linear in x
    if scale < 1:  # from small starts the run is long enough to reach it
        assert abs(runs["Fast"].loss[-1] - minimum) < 1e-8 * stats.syy
    for run in runs.values():
        assert relative_error(run.maps, runs["Fast"].maps) < 1e-10


def test_fully_connected_refuses_a_start_its_weights_cannot_resolve():
    """Saxe's modes ``s = (1, 0.5)`` from 1e-40: when the first is learned the second is
    ~1e-20 of it in ``W_1``, below what pixel weights resolve; from 1e-3 the run goes on."""
    syx = np.diag([1.0, 0.5])
    model, stats = FullyConnected(2, 2, 2), Statistics(shape=2, sxx=np.eye(2), syx=syx)
    with pytest.raises(ValueError, match=r"params: .*data mode 1 of the first layer W_1"):
        train(Dense(model, stats), init_random(model, 1e-40, seed=0), [0, 200], dt=0.05)
    run = train(Dense(model, stats), init_random(model, 1e-3, seed=0), [0, 60], dt=0.05)
    assert relative_error(run.maps[-1], syx) < 1e-6
    coarse = train(Dense(model, stats), init_random(model, 1e-40, seed=0), [0, 200], dt=0.05,
                   resolution=1e-30)  # a weaker demand is met
    assert relative_error(coarse.maps[-1], syx) < 1e-6


def test_adaptive_steps_follow_the_flow_from_a_tiny_start():
    """The error estimate is relative to the state and scaled: from 1e-140 (a map of 1e-280)
    the adaptive run matches the fixed-step one; from 1e-300 (its error estimate underflowed
    to 0 and it did not move) the start is refused."""
    model = LinearCNN(shape=4, channels=2, n_out=2)
    x, y = one_mode_samples(model)
    engine = Fast(model, Statistics.from_samples(x, y))
    params = init_random(model, 1e-140, seed=3)
    times = np.linspace(0, 80, 5)
    fixed = train(engine, params, times, dt=0.04)
    adaptive = train(engine, params, times, rtol=1e-6)
    assert relative_error(fixed.maps[-1], engine.stats.optimal_map()) < 1e-3
    assert relative_error(adaptive.maps, fixed.maps) < 1e-4
    with pytest.raises(ValueError, match="params are too small"):  # used to stand still
        train(engine, init_random(model, 1e-300, seed=3), times, rtol=1e-6)


def test_fast_learns_every_frequency_from_a_tiny_start():
    """From 1e-50 the strongest frequency is learned while the others are 1e-20 of it:
    pixel-space weights round them away and become translation invariant, an exact saddle
    (Fast used to stop at the loss of frequency 0 alone). Fast keeps each frequency's
    half-spectrum and reaches the minimum the moderate start reaches."""
    model = LinearCNN(shape=6, channels=2, n_out=2)
    engine = Fast(model, white(model, 2))
    tiny = train(engine, init_random(model, 1e-50, seed=1), [0, 600], rtol=1e-8)
    moderate = train(engine, init_random(model, 1e-3, seed=1), [0, 60], rtol=1e-8)
    assert moderate.loss[-1] < -0.1
    assert tiny.loss[-1] == pytest.approx(moderate.loss[-1], rel=1e-8)
    assert relative_error(tiny.maps[-1], moderate.maps[-1]) < 1e-6


SVG = "{http://www.w3.org/2000/svg}"


def _rendered(run):
    """The run's HTML repr parsed as XML (it must be well formed), its SVG, its polyline's
    points as an array ``(n, 2)`` and its plot rectangle ``(left, top, right, bottom)``."""
    html = ET.fromstring(run._repr_html_())
    svg = html.find(f"{SVG}svg")
    rect = svg.find(f"{SVG}rect")
    left, top = float(rect.get("x")), float(rect.get("y"))
    box = (left, top, left + float(rect.get("width")), top + float(rect.get("height")))
    line = svg.find(f"{SVG}polyline")
    points = (np.zeros((0, 2)) if line is None else
              np.array([p.split(",") for p in line.get("points").split()], float))
    return html, svg, points, box


def test_trajectory_html_summarises_a_run_and_draws_its_loss():
    model = LinearCNN(shape=6, c_in=2, n_out=3)
    times = np.concatenate([[0.0], np.geomspace(0.01, 5.0, 19)])
    run = train(Fast(model, white(model, 0)), init_random(model, 0.1, seed=1), times,
                rtol=1e-8)
    html, svg, points, (left, top, right, bottom) = _rendered(run)
    text = "".join(html.itertext())
    for expected in (f"t = 0 to 5, {len(times)} points", f"{run.loss[0]:.6g}",
                     f"{run.loss[-1]:.6g}", "N_o x D = 3 x 12", "shape (6,), C_in = 2",
                     "not recorded", "not drawn: 1 at t <= 0 (log time axis)", "(log)"):
        assert expected in text
    assert len(points) == len(times) - 1                    # t = 0 is off the log axis
    assert points[0, 0] == pytest.approx(left) and points[-1, 0] == pytest.approx(right)
    # equal ratios of time are equal steps on the log axis
    np.testing.assert_allclose(np.diff(points[:, 0]), (right - left) / 18, atol=0.11)
    low, high = np.argmin(run.loss[1:]), np.argmax(run.loss[1:])
    assert points[low, 1] == pytest.approx(bottom) and points[high, 1] == pytest.approx(top)
    assert np.all((points[:, 1] >= top) & (points[:, 1] <= bottom))
    assert float(svg.get("width")) > right


def _made_up_run(times, loss):
    t = len(times)
    return Trajectory(times=np.asarray(times, float), maps=np.zeros((t, 1, 4)),
                      loss=np.asarray(loss, float), final=(), shape=(4,), c_in=1,
                      params=[()] * t)


def test_trajectory_html_leaves_out_a_zero_or_non_finite_loss_and_says_so():
    run = _made_up_run([0.5, 1.0, 2.0, 3.0], [1.0, 0.1, 0.0, np.nan])
    html, svg, points, (left, top, right, bottom) = _rendered(run)
    text = "".join(html.itertext())
    assert "not drawn: 1 with L = 0 (log loss axis), 1 not finite" in text
    assert "recorded at every time" in text and "L (log)" in text and "(log)" not in \
        text.replace("L (log)", "")                          # 0.5 to 3: no decade of time
    assert len(points) == 2
    # the axes span the drawn samples: (t, L) = (0.5, 1) top left, (1, 0.1) bottom right
    np.testing.assert_allclose(points, [[left, top], [right, bottom]], atol=0.06)
    labels = [t.text for t in svg.iter(f"{SVG}text")]
    assert {"0.5", "1", "0.1"} <= set(labels)


@pytest.mark.parametrize("times, loss", [([2.0], [0.3]), ([0.0], [-0.2])])
def test_trajectory_html_draws_a_single_time_as_a_dot(times, loss):
    html, svg, points, (left, top, right, bottom) = _rendered(_made_up_run(times, loss))
    assert f"t = {times[0]:g}, one point" in "".join(html.itertext())
    np.testing.assert_allclose(points, [[(left + right) / 2, (top + bottom) / 2]], atol=0.06)
    assert svg.find(f"{SVG}circle") is not None


def test_trajectory_html_with_nothing_to_draw_is_still_svg():
    html, svg, points, _ = _rendered(_made_up_run([1.0, 2.0], [np.nan, np.inf]))
    assert len(points) == 0 and svg.find(f"{SVG}polyline") is None
    assert "nothing to draw" in "".join(svg.itertext())
    assert "not drawn: 2 not finite" in "".join(html.itertext())
