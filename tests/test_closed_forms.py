"""Closed forms (symcnn.symbolic.closed_forms): their ODEs against docs/theory-reference.md,
their solutions against 30-digit integration of those ODEs, R4, R5 and the gradient-descent
map against full-network training, and their document."""

from functools import cache

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from symcnn import (
    Fast,
    LinearCNN,
    aligned_spectrum,
    fourier,
    init_balanced,
    init_random,
    train,
)
from symcnn.codegen import check
from symcnn.strategies import examples, stationary, white
from symcnn.symbolic import closed_forms as cf
from symcnn.symbolic import registry
from symcnn.symbolic.closed_forms.base import checkodesol
from symcnn.symbolic.closed_forms.r3c import _aligned_flow, _unitary2
from symcnn.symbolic.derivation import Derivation, DerivationError, Document
from symcnn.theory.small_kernels import r4_growth_rates

BUILD = {"R1": cf.r1, "R3": cf.r3, "R3b": cf.r3b, "R3c": cf.r3c, "R5(L=2)": lambda: cf.r5(2),
         "R5(L=3)": lambda: cf.r5(3), "R5(L=4)": lambda: cf.r5(4)}
EXPLICIT = ["R1", "R3", "R3b", "R3c", "R5(L=2)"]
IMPLICIT = ["R5(L=3)", "R5(L=4)"]
DPS = 30
RTOL = 1e-12
SLOW = {"R1", "R3c"}
"""Closed forms whose derivation takes 20 s or more to build (R1 about 35 s, R3c 20 s): the
tests that build them are marked slow."""


def cases(names) -> list:
    """``names`` as parameters, those in :data:`SLOW` marked slow."""
    return [pytest.param(name, marks=pytest.mark.slow) if name in SLOW else name
            for name in names]


@cache
def reduction(name: str) -> cf.Reduction:
    return BUILD[name]()


def theory_rhs(name: str) -> sp.Expr:
    """``tau du/dt`` as docs/theory-reference.md states it (R1, R3, R3b, R3c, R5)."""
    u, s, lam, n = cf.v, cf.s, cf.lam, cf.N
    if name == "R1":
        return 2 * u * (s - u)
    if name in ("R3", "R3c"):
        return 2 * sp.sqrt(n) * u * (s - u)
    layers = 2 if name == "R3b" else int(name[-2])
    return layers * n ** sp.Rational(layers - 1, layers) * u ** (2 - sp.Rational(2, layers)) * (
        s - lam * u)


# The step whose display form is each field: the fields are what the derivation derived.
FIELD_STEPS = {"solution": "dsolve", "stable": "stable form", "half_time": "half-way time",
               "time_of_u": "the start"}


@pytest.mark.parametrize("name", cases(BUILD))
def test_odes_are_theorys_and_the_fields_are_the_derived_ones(name):
    red = reduction(name)
    assert red.name == name
    assert sp.simplify(red.ode.rhs.subs(cf.u(cf.t), cf.v) - theory_rhs(name)) == 0
    assert red.update is None
    own = red if name != "R3c" else reduction("R3")  # R3c reuses R3's solution
    for field, step in FIELD_STEPS.items():
        if getattr(red, field) is not None:
            assert own.derivation[step].display[1] == getattr(red, field), field
    if name in EXPLICIT and name != "R3c":
        assert "sympy.checkodesol returns (True, 0)" in red.derivation["dsolve"].justification
        assert red.time_of_u is None
    else:
        assert (red.solution is None) == (name in IMPLICIT)
    assert red.u_inf == cf.s / (cf.lam if cf.lam in red.ode.rhs.free_symbols else 1)


@pytest.mark.parametrize(("n", "k"), [(8, 3), (5, 2), (6, 4), (12, 5)])
def test_r4_derivation_holds_for_odd_and_even_sizes(n, k):
    red = cf.r4(n, k)
    steps = red.derivation.steps
    assert [step.name for step in steps][:3] == ["linearised kernel flow", "no second order",
                                                 "second-order system"]
    assert len([step for step in steps if step.name.startswith("single pair")]) == n // 2 + 1
    assert red.name == f"R4(N={n}, k={k})"
    # the fields are the derivation's: the second-order system and the end-to-end growth
    assert red.ode.lhs.shape == red.ode.rhs.shape == red.solution.shape == (n, 1)
    assert red.ode.rhs == red.derivation["second-order system"].rhs
    assert red.solution == red.derivation["end-to-end growth"].rhs
    kappa = sp.Matrix([sp.Function(f"kappa_{f}")(cf.t) for f in range(n)])
    assert red.ode.lhs == cf.tau**2 * kappa.diff(cf.t, 2)
    assert list(red.arguments("solution"))[:3] == [cf.t, cf.tau, red.symbols["gamma"]]
    for field in ("stable", "half_time", "u_inf", "time_of_u", "update"):
        with pytest.raises(ValueError, match=f"R4\\(N={n}, k={k}\\) has no {field}"):
            red.kernel(field)


@pytest.mark.slow  # it builds every closed form
def test_the_document_holds_every_closed_form():
    """The closed forms' document, in order (its files: tests/test_documents.py)."""
    document = cf.document()
    assert isinstance(document, Document)
    assert [part.title for part in document.parts] == [
        r.derivation.title for r in (cf.r1(), cf.r3(), cf.r3b(), cf.r3c(), cf.r5(2), cf.r5(3),
                                     cf.r5(4), cf.r4())]
    assert len(document.steps) == sum(len(part.steps) for part in document.parts)


@pytest.mark.parametrize("call, message", [
    (lambda: registry.closed_form("r5", depth=0), "depth must be an integer >= 1, got 0"),
    (lambda: registry.closed_form("r5", depth=2.5), "depth must be an integer >= 1, got 2.5"),
    (lambda: cf.r5(2.5), "depth_l must be an integer >= 2, got 2.5"),  # was L = 2, silently
    (lambda: cf.r5(1), "depth_l must be an integer >= 2, got 1"),
])
def test_r5_depth_is_refused_naming_the_parameter(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.slow
def test_r3c_flow_check_fails_for_a_non_unitary_factor():
    """R3c's 30-digit check of ``tau dbeta/dt = P diag(...) R^*`` can fail: with ``R``
    scaled it no longer holds."""
    h, phi = sp.symbols("h_1:10", real=True), sp.symbols("phi_1:4", real=True)
    big_p, big_r, big_q = (_unitary2(h[3 * i:3 * i + 3], phi[i]) for i in range(3))
    _aligned_flow(Derivation("unitary"), big_p, big_r, big_q, "", "numeric")
    with pytest.raises(DerivationError, match="'readout flow' fails its numeric check"):
        _aligned_flow(Derivation("scaled R"), big_p, big_r * sp.diag(1, 2), big_q, "",
                      "numeric")


def test_a_wrong_solution_is_rejected_by_checkodesol():
    red = reduction("R3b")
    wrong = sp.Eq(cf.u(cf.t), red.solution.subs(cf.s, sp.Rational(101, 100) * cf.s))
    with pytest.raises(DerivationError, match="checkodesol rejects"):
        checkodesol(red.ode, wrong, "a mutant")


# Against 30-digit integration of the reduction's own ODE --------------------------------


def integrate(red: cf.Reduction, values: dict, times, power: int = 1) -> list:
    """``u(times)`` of ``tau du/dt = F(u)`` from ``u(0) = u0`` with mpmath.odefun (Taylor
    series) at :data:`DPS` digits, integrated for ``y = u^(1/power)``: ``tau dy/dt =
    F(y^power)/(power y^(power - 1))``, a polynomial for R5 with ``power = L``."""
    y = sp.Symbol("y", positive=True)
    rhs = red.ode.rhs.subs(cf.u(cf.t), y**power) / (power * y ** (power - 1))
    rhs = sp.expand(sp.powsimp(sp.expand_power_base(rhs.subs(values), force=True), force=True))
    f = sp.lambdify(y, rhs / values[cf.tau], modules="mpmath")
    with mpmath.workdps(DPS):
        start = mpmath.root(mpmath.mpf(values[cf.u0]), power)
        solution = mpmath.odefun(lambda _, y_: f(y_), 0, start)
        return [solution(mpmath.mpf(time)) ** power for time in times]


def at(expr: sp.Expr, values: dict) -> mpmath.mpf:
    with mpmath.workdps(DPS):
        return mpmath.mpf(expr.evalf(DPS + 10, subs=values))


def relative(a, b) -> float:
    return float(abs(a - b) / abs(b))


@st.composite
def parameters(draw, red: cf.Reduction, min_fraction: float = 1e-6):
    """Exact rational values for the reduction's parameters; ``u0`` a fraction of
    ``u_inf`` in ``[min_fraction, 0.45]``, log-uniform."""
    values = {cf.s: sp.Rational(draw(st.integers(20, 300)), 100),
              cf.lam: sp.Rational(draw(st.integers(50, 200)), 100),
              cf.N: sp.Integer(draw(st.integers(1, 64))),
              cf.tau: sp.Rational(draw(st.integers(50, 200)), 100)}
    fraction = 10 ** draw(st.floats(np.log10(min_fraction), np.log10(0.45)))
    u_inf = red.u_inf.subs(values)
    values[cf.u0] = sp.nsimplify(sp.Float(fraction, 20), rational=True) * u_inf
    return {k: v for k, v in values.items() if k in set(red.symbols.values()) | {cf.tau}}


@pytest.mark.parametrize("name", cases(EXPLICIT))
@settings(max_examples=examples(4), deadline=None)
@given(data=st.data())
def test_explicit_closed_forms_match_30_digit_integration(name, data):
    """``solution``, ``stable`` and ``half_time`` against the integrated ODE: < 1e-12."""
    red = reduction(name)
    values = data.draw(parameters(red))
    half = at(red.half_time, values)
    times = [half / 4, half, 7 * half / 4]
    integrated = integrate(red, values, times)
    for time, want in zip(times, integrated, strict=True):
        point = {**values, cf.t: sp.Float(time, DPS + 10)}
        assert relative(at(red.solution, point), want) < RTOL
        assert relative(at(red.stable, point), want) < RTOL
    assert relative(integrated[1], at(red.u_inf, values) / 2) < RTOL


def time_to_reach(red: cf.Reduction, values: dict, target) -> mpmath.mpf:
    """``t(u) = tau int_{u0}^{u} dv / F(v)`` by mpmath.quad (tanh-sinh) at :data:`DPS`
    digits: the separable ODE integrated numerically."""
    f = sp.lambdify(cf.v, values[cf.tau] / red.ode.rhs.subs(cf.u(cf.t), cf.v).subs(values),
                    modules="mpmath")
    with mpmath.workdps(DPS):
        return mpmath.quad(f, [mpmath.mpf(values[cf.u0]), mpmath.mpf(target)])


@pytest.mark.parametrize("name", IMPLICIT)
@settings(max_examples=examples(6), deadline=None)
@given(data=st.data())
def test_implicit_closed_forms_match_30_digit_quadrature(name, data):
    """``time_of_u`` and ``half_time`` against the quadrature of ``tau/F(u)``: < 1e-12."""
    red = reduction(name)
    values = data.draw(parameters(red))
    u_inf = at(red.u_inf, values)
    for fraction in ("0.5", "0.9", "0.999"):
        target = u_inf * mpmath.mpf(fraction)
        got = at(red.time_of_u, {**values, cf.v: sp.Float(target, DPS + 10)})
        assert relative(got, time_to_reach(red, values, target)) < RTOL
    assert relative(at(red.half_time, values), time_to_reach(red, values, u_inf / 2)) < RTOL


@pytest.mark.parametrize("name", IMPLICIT)
def test_implicit_closed_forms_match_30_digit_integration(name):
    """Forward in time (mpmath.odefun, one example): ``t(u(t)) = t``, ``u(t_half) = u_inf/2``."""
    red = reduction(name)
    values = {cf.s: sp.Rational(13, 10), cf.lam: sp.Rational(4, 5), cf.N: sp.Integer(6),
              cf.tau: sp.Rational(9, 10)}
    values[cf.u0] = red.u_inf.subs(values) / 5
    half = at(red.half_time, values)
    times = [half / 2, half, 3 * half / 2]
    integrated = integrate(red, values, times, power=int(name[-2]))
    for time, u_t in zip(times, integrated, strict=True):
        assert relative(at(red.time_of_u, {**values, cf.v: sp.Float(u_t, DPS + 10)}),
                        time) < RTOL
    assert relative(integrated[1], at(red.u_inf, values) / 2) < RTOL


@pytest.mark.parametrize("name", IMPLICIT)
def test_r5_time_of_u_is_zero_at_the_start_and_agrees_with_50_digits(name):
    """``symcnn codegen r5 --field time_of_u --check`` failed at ``u = u0 > u_inf = s/lambda``
    (e.g. ``s = 1e-20``, ``u0 = u = 0.37``): SymPy's 50-digit reference cancelled
    ``G(z(u)) - G(z(u0))`` to 0 while the kernel took ``log(1 - z(u0))``, ``z(u0) > 1``: NaN.
    ``t(u0) = 0`` for every ``u0``; elsewhere ``t(u)`` is the growing branch (``u0 < u_inf``),
    NaN in floating point outside it, where the reference is complex and skipped."""
    kernel = reduction(name).kernel("time_of_u", cache=False)
    grid = {"tau": [1.0], "s": [1e-20, 0.37], "lambda": [0.5], "u_0": [1e-12, 0.37],
            "N": [16.0], "u": [1e-6, 0.37]}
    error, compared = check(kernel, grid)
    assert compared == 5 and error < 1e-12  # s = 0.37 (u_inf = 0.74), and the start u = u0
    with np.errstate(invalid="ignore"):  # from u0 = 0.8 > u_inf = 0.5
        t = kernel(1.0, 1.0, 2.0, 0.8, 4.0, np.array([0.6, 0.8, 0.9]))
    assert t[1] == 0 and np.all(np.isnan(t[[0, 2]]))


def test_the_comparison_catches_a_wrong_closed_form():
    """The factor sqrt(N) replaced by N: the integration test's comparison fails."""
    red = reduction("R3")
    values = {cf.s: sp.Rational(3, 2), cf.N: sp.Integer(4), cf.tau: sp.Integer(1),
              cf.u0: sp.Rational(1, 1000)}
    half = at(red.half_time, values)
    (want,) = integrate(red, values, [half])
    mutant = red.solution.subs(sp.sqrt(cf.N), cf.N)
    assert relative(at(mutant, {**values, cf.t: sp.Float(half, DPS)}), want) > 1e-3


# R4 and R5 against full-network training ------------------------------------------------


def call(red: cf.Reduction, field: str, roles: dict):
    """``red.field`` evaluated by NumPy, arguments by role (keys of ``red.symbols``)."""
    names = {sym: role for role, sym in red.symbols.items()}
    return red.kernel(field)(*(roles[names[a]] for a in red.arguments(field)))


def dirichlet(n: int, k: int) -> np.ndarray:
    """``D[f, g] = sum_p exp(2 pi i (f - g) lag(p) / N)``, lags ``p - (k - 1)//2``
    (cross-correlation), straight from docs/theory-reference.md (R4)."""
    lags = np.arange(k) - (k - 1) // 2
    diff = np.subtract.outer(np.arange(n), np.arange(n))
    return np.exp(2j * np.pi * diff[:, :, None] * lags / n).sum(-1)


@pytest.mark.parametrize(("n", "k"), [(5, 2), (8, 3), (16, 3), (12, 5)])
def test_r4_single_pair_rate_is_the_kernel_size_formula(n, k):
    """R4: a mode on +-f* only grows at ``|T_f*| sqrt(k + |D(2 f*)|)``."""
    big_d = dirichlet(n, k)
    for f_star in range(n // 2 + 1):
        t_hat = np.zeros(n, complex)
        t_hat[f_star] = t_hat[-f_star] = 0.7 * np.exp(0.3j)
        gamma, _ = r4_growth_rates(t_hat, big_d)
        pair = 0 if f_star in (0, n / 2) else abs(big_d[f_star, -f_star])
        assert gamma[0] == pytest.approx(0.7 * np.sqrt(k + pair), rel=1e-12)


@pytest.mark.parametrize(("n", "k", "seed"), [(16, 3, 3), (12, 4, 1), (9, 2, 5)])
def test_r4_growth_rate_and_first_kernel_match_training(n, k, seed):
    """Small random init (1e-9): in the linear phase the simulated map grows at
    ``2 gamma_1`` within 2%, and the kernel spectrum turns to the predicted one."""
    model = LinearCNN((n,), (k,), n_out=1)
    stats = white(model, seed)
    gamma, kernel = r4_growth_rates(stats.output_spectrum()[0, 0], dirichlet(n, k))
    times = np.linspace(0, 14 / gamma[0], 281)
    run = train(Fast(model, stats), init_random(model, 1e-9, seed=seed), times, rtol=1e-10,
                record_params=True)
    norm = np.linalg.norm(run.maps.reshape(len(times), -1), axis=1)
    linear = (norm > 1e3 * norm[0]) & (norm < 1e-4 * np.linalg.norm(stats.syx))
    assert linear.sum() > 20
    rate = np.gradient(np.log(norm), times)[linear] / (2 * gamma[0])
    assert np.all(np.abs(rate - 1) < 0.02), rate
    # the other kernel spectra fade like exp(-(gamma_1 - gamma_j) t): the misalignment
    # shrinks through the linear phase and ends below 1%
    kappas = [fourier.kernel_spectrum(model, run.params[i][0])[0, 0]
              for i in np.flatnonzero(linear)[::10]]
    misalignment = [1 - abs(np.vdot(kernel, kappa)) / np.linalg.norm(kappa) for kappa in kappas]
    assert np.all(np.diff(misalignment) < 0) and misalignment[-1] < 0.01, misalignment


@pytest.mark.parametrize("layers", [3, 4])
@pytest.mark.parametrize("data", ["white", "stationary"])
def test_r5_matches_deep_network_training(layers, data):
    """Balanced aligned start, ``L - 1`` full-kernel layers: ``t(|M_f(t)|) = t`` for the
    simulated maps, within 1e-7 of the half-way time."""
    model = LinearCNN((6,), depth=layers - 1, n_out=1)
    stats = white(model, 2) if data == "white" else stationary(model, 2)
    t_hat = np.abs(stats.output_spectrum()[0, 0])
    power = stats.input_spectrum()[0, 0].real if data == "stationary" else np.ones(6)
    u0 = 1e-2 * t_hat.min()
    red = reduction(f"R5(L={layers})")
    roles = dict(t=0.0, tau=1.0, s=t_hat, lam=power, u0=u0, N=6.0, u=0.0)
    halves = call(red, "half_time", roles)
    times = np.linspace(0, 1.5 * halves.max(), 61)
    run = train(Fast(model, stats), init_balanced(model, aligned_spectrum(stats, u0)), times,
                rtol=1e-11)
    strengths = np.abs(run.spectra[:, 0, 0])
    inside = (strengths > 1.01 * u0) & (strengths < 0.99 * t_hat / power)
    assert inside.sum() > 40
    with np.errstate(divide="ignore", invalid="ignore"):  # outside (u0, u_inf): masked
        predicted = call(red, "time_of_u", {**roles, "u": strengths})
    error = np.abs(predicted - times[:, None])[inside] / halves.max()
    assert error.max() < 1e-7


# The gradient-descent map -----------------------------------------------------------------


def test_gd_map_is_derived_checked_and_compiles_to_the_map():
    red = cf.gd()
    assert [s.name for s in red.derivation.steps] == [
        "readout keeps its phase", "kernel stays balanced", "strength map", "fixed point",
        "stability"]
    assert red.update == red.derivation["strength map"].lhs  # derived, not retyped
    assert list(red.symbols) == ["u", "eta", "s", "lam", "c"]
    step = red.kernel("update")
    assert step.names == ("u", "eta", "s", "lambda", "c")
    rng = np.random.default_rng(0)
    u, eta, s, lam, c = (rng.uniform(0.1, 2.0, 7) for _ in range(5))
    np.testing.assert_allclose(step(u, eta, s, lam, c), u * (1 + eta * c * (s - lam * u)) ** 2,
                               rtol=1e-14)
    eta_, c_ = red.symbols["eta"], red.symbols["c"]
    with pytest.raises(DerivationError, match="step 'wrong' fails"):  # c^2 for c
        red.derivation.step("wrong", red.update,
                            cf.v * (1 + eta_ * c_**2 * (cf.s - cf.lam * cf.v)) ** 2, "mutant")
