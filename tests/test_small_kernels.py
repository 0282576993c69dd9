"""Small kernels with several outputs (R4's linearisation, symcnn.theory.small_kernels) and
the effective initial strength of small random starts of narrow networks
(Theory.effective_u0), against full-network training."""

import warnings

import numpy as np
import pytest

from benchmarks.effective_u0_width import half_time_error
from symcnn import Fast, FullyConnected, LinearCNN, Statistics, fourier, init_random, train
from symcnn.data import grating
from symcnn.instances import stationary, white
from symcnn.theory import ApproximationWarning, Theory
from symcnn.theory.small_kernels import dirichlet_matrix, linearised, r4_growth_rates

RATE_TOLERANCE = 1e-3
"""``d ln||M||/dt`` at the end of the linear phase against ``2 gamma_1``, relative (measured
up to 1.4e-4; ``S = diag|T_f[0]|``, output 0 only, is 46 to 74% off for ``N_o = 2, 3``)."""
ALIGNMENT_TOLERANCE = 1e-6
"""``1 - |cos|`` between the learned and the predicted kernel spectrum, map spectrum and
readout at the grating's frequency (measured up to 5e-11 for the kernel and the map, 2e-16
for the readout)."""


def texture(model: LinearCNN, f, seed: int) -> Statistics:
    """White input; a grating at the self-conjugate ``f`` read out along a random direction
    of the ``N_o`` outputs, over a Gaussian background of relative size 0.5: ``T_f`` points
    in a different direction at every frequency, and ``gamma_2 / gamma_1 <= 0.6``."""
    rng = np.random.default_rng(seed)
    syx = (rng.standard_normal((model.n_out, 1)) * grating(model.shape, f).reshape(1, -1)
           + 0.5 * rng.standard_normal((model.n_out, model.n_in)) / np.sqrt(model.n_in))
    return Statistics(shape=model.shape, sxx=np.eye(model.n_in), syx=syx)


def misalignment(predicted: np.ndarray, learned: np.ndarray) -> float:
    """``1 - ||P^* L|| / ||L||``: ``predicted`` (unit, ``(..., n)`` flattened to ``n``) against
    the rows of ``learned`` (``(C, n)``), each learned up to a complex factor."""
    learned = learned.reshape(len(learned), -1)
    overlap = learned @ np.conj(predicted.ravel())
    return 1 - float(np.sqrt(np.sum(np.abs(overlap) ** 2) / np.sum(np.abs(learned) ** 2)))


CASES = [((12,), (3,), 1, 2, 1, (6,)), ((12,), (3,), 2, 2, 1, (6,)),
         ((12,), (3,), 3, 2, 1, (6,)), ((6, 6), (3, 3), 1, 1, 3, (0, 3)),
         ((6, 6), (3, 3), 2, 2, 2, (3, 3)), ((6, 6), (3, 3), 3, 2, 2, (3, 3))]


@pytest.mark.parametrize(("shape", "kernel", "n_out", "channels", "seed", "f"), CASES)
def test_linearised_growth_and_directions_match_training(shape, kernel, n_out, channels,
                                                         seed, f):
    """From a random start of scale 1e-12 (Fast engine, RK4 steps ``0.1 / gamma_1``), at
    the end of the linear phase (``||M|| < 1e-4 ||Sigma_yx||``): ``||M||`` grows at
    ``2 gamma_1`` with ``S = diag(||T_f||)``; every channel's kernel spectrum is ``v``, the
    map ``M_f`` is along ``T_f |v_f|^2`` and every readout column, at ``f``, along ``T_f``.
    With ``N_o > 1``, ``S = diag|T_f[0]|`` (output 0 only, as before) misses the rate."""
    model = LinearCNN(shape, kernel, channels=channels, n_out=n_out)
    stats = texture(model, f, seed)
    lin = linearised(model, stats)
    gamma = lin.gamma[0]
    assert lin.gamma[1] / gamma <= 0.6
    times = np.linspace(0, 24 / gamma, 121)
    run = train(Fast(model, stats), init_random(model, 1e-12, seed), times, dt=0.1 / gamma,
                resolution=1e-13, record_params=True)
    norm = np.linalg.norm(run.maps.reshape(len(times), -1), axis=1)
    end = np.nonzero(norm < 1e-4 * np.linalg.norm(stats.syx))[0][-1]
    assert norm[end] > 1e-6 * np.linalg.norm(stats.syx)  # the end of the linear phase
    rate = np.gradient(np.log(norm), times)[end] / 2
    assert rate / gamma == pytest.approx(1, abs=RATE_TOLERANCE)
    kernels, readout = run.params[end]
    d = len(shape)
    kappa = fourier.kernel_spectrum(model, kernels)[:, 0]
    m_f = fourier.row_spectrum(run.maps[end].reshape(n_out, 1, *shape), d)[:, 0]
    beta = fourier.row_spectrum(readout, d)[(slice(None), slice(None), *f)]
    assert misalignment(lin.kernel, kappa) < ALIGNMENT_TOLERANCE
    assert misalignment(lin.map, m_f[None]) < ALIGNMENT_TOLERANCE
    assert misalignment(lin.readout[(slice(None), *f)], beta.T) < ALIGNMENT_TOLERANCE
    if n_out > 1:
        first = r4_growth_rates(stats.output_spectrum()[0, 0], dirichlet_matrix(model))[0][0]
        assert abs(first / rate - 1) > 0.1


def test_growth_rates_take_one_or_several_outputs():
    """``(N,)``, ``(*shape)`` and ``(1, N)`` are one output; ``(N_o, *shape)`` several,
    whose rates depend on ``||T_f||`` only (a rotation of the outputs keeps them)."""
    model = LinearCNN((4, 3), (2, 2), n_out=2)
    t = white(model, 0).output_spectrum()[:, 0]
    big_d = dirichlet_matrix(model)
    one = r4_growth_rates(t[0], big_d)
    for same in (t[0].ravel(), t[:1], t[:1].reshape(1, -1)):
        np.testing.assert_array_equal(r4_growth_rates(same, big_d)[0], one[0])
    rotation = np.array([[0.6, -0.8], [0.8, 0.6]])
    norms = np.linalg.norm(t, axis=0)
    np.testing.assert_allclose(r4_growth_rates(np.einsum("po,o...->p...", rotation, t),
                                               big_d)[0],
                               r4_growth_rates(norms, big_d)[0], rtol=1e-12)
    with pytest.raises(ValueError, match=r"^t_hat must have N = 12 entries per output"):
        r4_growth_rates(np.ones((2, 5)), big_d)
    with pytest.raises(ValueError, match=r"^dirichlet must be a square"):
        r4_growth_rates(np.ones(12), np.ones((12, 11)))


@pytest.mark.parametrize(("model", "stats", "error", "match"), [
    (LinearCNN(8, 3, c_in=2), None, ValueError, "the R4 linearisation needs one input "
                                                "channel, got c_in = 2"),
    (LinearCNN(8, 8), None, ValueError, r"the R4 linearisation needs a small kernel \(k < N\)"),
    (LinearCNN(8, 3, depth=2), None, ValueError, "hypothesis 'depth 1' fails"),
    (LinearCNN(8, 3), "stationary", ValueError, "hypothesis 'white input' fails"),
    (LinearCNN(8, 3), "other shape", ValueError, "stats have D = 6"),
    (FullyConnected(8, 2), None, TypeError, "model must be a LinearCNN"),
])
def test_linearised_refuses_what_r4_does_not_cover(model, stats, error, match):
    data = {None: lambda: white(model, 0), "stationary": lambda: stationary(model, 0),
            "other shape": lambda: white(LinearCNN(6, 3), 0)}[stats]()
    with pytest.raises(error, match=f"^{match}"):
        linearised(model, data)


def test_effective_u0_of_a_start_narrowed_to_its_modes_counts_only_what_is_new():
    """Fully connected, ``H = r = 3`` modes (seed 2, scale 1e-4, docs/theory.md "Small
    random starts: the width error"): ``c |g_j|^2 / 4`` (the NumPy oracle below) predicts the
    weakest mode 36% early; the Gram-Schmidt strength, the part of ``g_j`` orthogonal to the
    stronger modes', is within 0.2% of training at ``H = r`` and at ``H = 8r``, and warns
    of nothing."""
    errors = {}
    for hidden in (3, 24):
        with warnings.catch_warnings():
            warnings.simplefilter("error", ApproximationWarning)
            errors[hidden] = half_time_error(FullyConnected(8, hidden, n_out=3), 2, 1e-4)
        assert np.max(np.abs(errors[hidden])) < 2e-3
    model = FullyConnected(8, 3, n_out=3)
    stats, start = white(model, 2), init_random(model, 1e-4, 2)
    theory = Theory(model, stats)
    trained = theory.half_times(theory.effective_u0(start)) * (1 + errors[3])
    u, _, vh = np.linalg.svd(stats.syx, full_matrices=False)
    g = start[1].T @ u + start[0] @ vh.T  # (H, r): columns g_j = W_2^T u_j + W_1 v_j
    norms = theory.half_times(np.sum(g**2, axis=0) / 4)
    assert np.max(trained / norms - 1) > 0.3


def test_the_linearised_trajectory_refuses_several_outputs():
    from symcnn.theorems.frequency import linearised_spectra

    model = LinearCNN((8,), (3,), n_out=2)
    stats = Statistics((8,), np.eye(8), np.random.default_rng(0).standard_normal((2, 8)))
    with pytest.raises(ValueError, match="N_o = C_in = 1, got N_o = 2"):
        linearised_spectra(model, stats, init_random(model, 1e-3), [0.0, 1.0])
