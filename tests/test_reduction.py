"""The Fourier reduction, for general N and for explicit sizes: every step verifies, wrong
variants fail, the equations change with the kernel size, the convention and C_in as the math
says (the documents they render: tests/test_documents.py)."""

from functools import cache

import numpy as np
import pytest
import sympy as sp

from symcnn.fourier import kernel_spectrum, row_spectrum
from symcnn.model import LinearCNN
from symcnn.symbolic import reductions as r
from symcnn.symbolic import registry
from symcnn.symbolic.derivation import Derivation, DerivationError
from symcnn.symbolic.pixel import gradient_flow, layer_matrix, weight_symbols
from tests.reference import dft_matrix

STEPS = {"cnn_fourier": 8, "cnn_fourier_convolution": 8, "small_kernels": 8,
         "cnn_fourier_explicit": 11, "fully_connected": 4}
"""The documents of the registry built from these reductions, and their step counts."""


@cache
def build(name: str) -> Derivation:
    return registry.document(name)


@pytest.mark.parametrize("name", STEPS)
def test_every_step_is_checked(name):
    """The derivation builds (a step whose check fails raises), with its steps."""
    assert len(build(name).steps) == STEPS[name]


def within(values):
    return values.get(r.k, 1) <= values[r.N]


def convolution_theorem(kappa_convention: str, with_offset: bool = True):
    kappa = (r.kappa(r.f, kappa_convention) if with_offset else
             sp.Sum(r.w[r.p] * sp.exp(2 * sp.pi * sp.I * r.f * r.p / r.N), (r.p, 0, r.k - 1)))
    return (sp.Sum(r.u(r.f, r.n) * r.layer(r.n), (r.n, 0, r.N - 1)),
            kappa * sp.Sum(r.u(r.f, r.n) * r.x[r.n], (r.n, 0, r.N - 1)))


@pytest.mark.parametrize("name, lhs_rhs", [
    ("the convolution spectrum", convolution_theorem("convolution")),
    ("no centring offset", convolution_theorem("correlation", with_offset=False)),
    ("D transposed", (
        -sp.Sum(sp.exp(2 * sp.pi * sp.I * r.f * r.lag(r.p) / r.N)
                * sp.Sum(sp.conjugate(r.hermitian(r.a, r.b, r.g))
                         * sp.exp(2 * sp.pi * sp.I * r.g * r.lag(r.p) / r.N), (r.g, 0, r.N - 1)),
                (r.p, 0, r.k - 1)),
        -sp.Sum(r.dirichlet(r.g, r.f) * r.hermitian(r.a, r.b, r.g), (r.g, 0, r.N - 1)))),
    ("no factor N for the full kernel",
     (r.dirichlet(r.f, r.g).subs(r.k, r.N), sp.KroneckerDelta(sp.Mod(r.f - r.g, r.N), 0))),
])
def test_mutated_steps_fail(name, lhs_rhs):
    with pytest.raises(DerivationError, match=f"step '{name}' fails its numeric check"):
        Derivation("mutations").step(name, *lhs_rhs, "wrong on purpose", check="numeric",
                                     where=within, cases=({r.f: 1, r.g: 1},))


def test_wrong_fully_connected_gradient_fails():
    w1, w2 = r._real_matrix("W1", 2, 3), r._real_matrix("W2", 2, 2)
    sxx, syx = r._real_matrix("Sxx", 3, 3, symmetric=True), r._real_matrix("Syx", 2, 3)
    loss = (w2 * w1 * sxx * w1.T * w2.T).trace() / 2 - (w2 * w1 * syx.T).trace()
    with pytest.raises(DerivationError, match="step 'no transpose' fails its exact check"):
        Derivation("m").step("no transpose", -loss.diff(w1),
                             w2 * (syx - w2 * w1 * sxx), "wrong on purpose")


def test_closed_form_without_its_phase_fails_for_even_kernels():
    no_phase = sp.sin(sp.pi * r.k * (r.f - r.g) / r.N) / sp.sin(sp.pi * (r.f - r.g) / r.N)
    with pytest.raises(DerivationError, match="'no phase' fails its numeric check"):
        Derivation("m").step("no phase", r.dirichlet(r.f, r.g), no_phase, "wrong on purpose",
                             check="numeric", points=0, cases=({r.N: 8, r.k: 4, r.f: 1, r.g: 6},))


# Explicit sizes: N = 4, 6, 8, 3 x 4 exactly (roots of unity in radicals), N = 5 numerically.
EXPLICIT = {
    "N=4 C_in=2 C=2 N_o=2": LinearCNN((4,), c_in=2, channels=2, n_out=2),
    "N=6 k=3 C_in=2 convolution": LinearCNN((6,), kernel=(3,), c_in=2, convention="convolution"),
    "N=8 convolution": LinearCNN((8,), convention="convolution"),
    "N=8 k=4": LinearCNN((8,), kernel=(4,)),
    "N=3x4": LinearCNN((3, 4)),
    "N=3x4 k=2x3 convolution": LinearCNN((3, 4), kernel=(2, 3), convention="convolution"),
    "N=5 k=2": LinearCNN((5,), kernel=(2,)),
}
FOURIER_STEPS = ["stationary statistics are block-diagonal in frequency", "gradient in frequency",
                 "circulant diagonalisation", "end-to-end map in frequency", "readout flow",
                 "kernel flow"]


SLOW = {"N=3x4", "N=3x4 k=2x3 convolution"}
"""Explicit sizes whose derivation takes 20 s or more."""


@pytest.mark.parametrize("name", [pytest.param(name, marks=pytest.mark.slow) if name in SLOW
                                  else name for name in EXPLICIT])
def test_explicit_fourier_every_step_is_verified(name):
    model = EXPLICIT[name]
    d = r.explicit_fourier(model)
    full = ["full kernel decouples", "conserved quantity"] if model.full_kernel else []
    assert [s.name for s in d.steps] == ["end-to-end map", "gradient in M", "chain rule",
                                         *FOURIER_STEPS, *full]
    how = "exactly" if set(model.shape) <= r.RADICAL_SIZES else "numerically"
    assert all(d[s].verified.startswith(f"verified {how}") for s in FOURIER_STEPS + full)


def test_explicit_fourier_needs_depth_one():
    with pytest.raises(ValueError, match="depth = 1 .* got depth = 2"):
        r.explicit_fourier(LinearCNN((4,), depth=2))


@cache
def spectra(model: LinearCNN) -> tuple:
    flow = gradient_flow(model, r.stationary_statistics(model))
    return flow, r.explicit_spectra(model, flow)


def fails(name: str, lhs, rhs, check: str = "exact"):
    with pytest.raises(DerivationError, match=f"step '{name}' fails its {check} check"):
        Derivation("mutations").step(name, lhs, rhs, "wrong on purpose", check=check)


def circulant_rhs(model: LinearCNN, kappa) -> sp.Matrix:
    u = r.dft_matrix(model)
    return u.H * r._block_diagonal(kappa) * u


def test_explicit_missing_factor_n_fails():
    fails("full kernel decouples", r.dirichlet_matrix(LinearCNN((4,))), sp.eye(4))


@pytest.mark.parametrize("shape, kernel", [((4,), (4,)), ((6,), (3,)), ((2, 3), (2, 3))])
def test_explicit_kappa_without_offset_or_of_the_other_convention_fails(shape, kernel):
    model = LinearCNN(shape, kernel)
    w = weight_symbols(model)[0]
    k_matrix = sp.Matrix(layer_matrix(model, w))
    no_offset = [sp.Matrix([[sp.Add(*[w[(0, 0, *q)] * r.phase(model, freq, q)
                                      for q, _ in r.kernel_lags(model)])]])
                 for freq in r.sites(model)]
    other = r.kernel_spectrum(LinearCNN(shape, kernel, convention="convolution"), w)
    assert k_matrix == circulant_rhs(model, r.kernel_spectrum(model, w)).expand()
    fails("no centring offset", k_matrix, circulant_rhs(model, no_offset), "numeric")
    fails("the convolution spectrum", k_matrix, circulant_rhs(model, other), "numeric")


def test_explicit_d_transposed_and_unconjugated_kappa_fail():
    model = LinearCNN((4,), kernel=(2,))  # even k: D is complex, D^T = conj(D) != D
    _, s = spectra(model)
    assert s.dirichlet.T != s.dirichlet
    kappa_dot = sp.Matrix.vstack(*s.kappa_dot)
    Derivation("right").step("kernel flow", kappa_dot, r.coupled_kernel_flow(s), "R4")
    fails("D transposed", kappa_dot, r.coupled_kernel_flow(s, s.dirichlet.T))
    beta_dot = sp.Matrix.vstack(*s.beta_dot)
    Derivation("right").step("readout flow", beta_dot, sp.Matrix.vstack(
        *[-gf * kf.H for gf, kf in zip(s.g_hat, s.kappa, strict=True)]), "R2")
    fails("kappa not conjugated", beta_dot, sp.Matrix.vstack(
        *[-gf * kf for gf, kf in zip(s.g_hat, s.kappa, strict=True)]))


@pytest.mark.parametrize("model", [LinearCNN((8,), kernel=(4,)), LinearCNN((6,), kernel=(3,)),
                                   LinearCNN((3, 4), kernel=(2, 3), convention="convolution"),
                                   LinearCNN((6,), kernel=(1,))])
def test_small_kernel_dirichlet_is_n_times_a_rank_k_projector(model):
    n, k = model.n_pixels, int(np.prod(model.kernel))
    dm = r.dirichlet_matrix(model)
    assert (dm * dm - n * dm).expand() == sp.zeros(n, n)
    assert (dm.H - dm).expand() == sp.zeros(n, n)
    assert dm.trace() == n * k
    numeric = np.array(dm.evalf(30).tolist(), dtype=complex)
    assert np.linalg.matrix_rank(numeric) == k
    assert np.count_nonzero(np.abs(numeric - np.diag(np.diag(numeric))) > 1e-12) > 0
    assert r.dirichlet_matrix(LinearCNN(model.shape)) == n * sp.eye(n)


@pytest.mark.parametrize("shape, kernel", [((8,), (3,)), ((8,), (4,)), ((3, 4), (2, 3)),
                                           ((6,), (6,))])
def test_convolution_conjugates_kappa_and_is_correlation_with_the_flipped_kernel(shape, kernel):
    """``kappa_conv(w) = conj(kappa_corr(w))`` for every ``k``; ``kappa_conv(w)`` is
    ``kappa_corr`` of the flipped kernel only for odd ``k``: an even ``k_i`` leaves the phase
    ``exp(2 pi i f_i / N_i)``, as ``k - 1 - o = o + 1`` there."""
    corr, conv = LinearCNN(shape, kernel), LinearCNN(shape, kernel, convention="convolution")
    w = weight_symbols(corr)[0]
    flipped = w[(slice(None), slice(None), *[slice(None, None, -1)] * len(shape))]
    for freq, kc, kv, kf in zip(r.sites(corr), r.kernel_spectrum(corr, w),
                                r.kernel_spectrum(conv, w), r.kernel_spectrum(corr, flipped),
                                strict=True):
        assert (kv - kc.conjugate()).expand() == sp.zeros(1, 1)
        even = [fi if ki % 2 == 0 else 0 for fi, ki in zip(freq, kernel, strict=True)]
        assert (kf - r.phase(corr, even, [1] * len(shape)) * kv).expand() == sp.zeros(1, 1)
        if any(fi for fi in even):
            assert (kf - kv).expand() != sp.zeros(1, 1)


def test_input_channels_make_lambda_a_hermitian_complex_matrix():
    """``C_in = 1``: ``a_d = a_-d`` makes ``Lambda_f`` real; ``C_in = 2``: ``Lambda_f`` is
    Hermitian with complex off-diagonal entries (the channels' cross-covariance), and
    ``kappa_f`` is ``C x C_in``."""
    _, one = spectra(LinearCNN((4,)))
    assert all(lam.shape == (1, 1) and lam == lam.conjugate() for lam in one.lam)
    model = EXPLICIT["N=4 C_in=2 C=2 N_o=2"]
    _, two = spectra(model)
    assert all((lam.H - lam).expand() == sp.zeros(2, 2) for lam in two.lam)
    assert any(sp.im(lam[0, 1]) != 0 for lam in two.lam)
    assert {kf.shape for kf in two.kappa} == {(model.channels, model.c_in)}
    assert {b.shape for b in two.beta} == {(model.n_out, model.channels)}
    assert {t.shape for t in two.t} == {(model.n_out, model.c_in)}


@pytest.mark.parametrize("model", [LinearCNN((4,), c_in=2, channels=2, n_out=2),
                                   LinearCNN((3, 4), kernel=(2, 3), convention="convolution"),
                                   LinearCNN((5,), kernel=(2,))])
def test_explicit_spectra_match_the_numeric_fourier_module(model):
    rng = np.random.default_rng(0)
    w, big_w = (rng.standard_normal(shape) for shape in model.param_shapes())
    def as_complex(matrices):
        return np.array([np.array(m.evalf(20).tolist(), dtype=complex) for m in matrices])
    np.testing.assert_allclose(np.array(r.dft_matrix(model).evalf(20).tolist(), dtype=complex),
                               dft_matrix(model.shape), atol=1e-14)
    got = as_complex(r.kernel_spectrum(model, w))  # (N, C, C_in)
    want = kernel_spectrum(model, w).reshape(model.channels, model.c_in, -1)
    np.testing.assert_allclose(got, want.transpose(2, 0, 1), atol=1e-12)
    got = as_complex(r.row_spectrum(sp.Matrix(big_w.reshape(model.n_out, -1)),
                                    r.dft_matrix(model), model.channels))
    want = row_spectrum(big_w, len(model.shape)).reshape(model.n_out, model.channels, -1)
    np.testing.assert_allclose(got, want.transpose(2, 0, 1), atol=1e-12)
