"""Closed forms (symcnn.closed_forms): their ODEs against THEORY.md, their solutions against
30-digit integration of those ODEs, and R4, R5 against full-network training."""

from functools import cache

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from symcnn import Fast, LinearCNN, Statistics, aligned_spectrum, init_balanced, init_random
from symcnn import closed_forms as cf
from symcnn import train
from symcnn.derivation import DerivationError
from tests.strategies import white

BUILD = {"R1": cf.r1, "R3": cf.r3, "R3b": cf.r3b, "R3c": cf.r3c, "R5(L=2)": lambda: cf.r5(2),
         "R5(L=3)": lambda: cf.r5(3), "R5(L=4)": lambda: cf.r5(4)}
EXPLICIT = ["R1", "R3", "R3b", "R3c", "R5(L=2)"]
IMPLICIT = ["R5(L=3)", "R5(L=4)"]
DPS = 30
RTOL = 1e-12


@cache
def reduction(name: str) -> cf.Reduction:
    return BUILD[name]()


def theory_rhs(name: str) -> sp.Expr:
    """``tau du/dt`` as THEORY.md states it (R5: derived by hand in docs/theory.md)."""
    u, s, lam, n = cf.v, cf.s, cf.lam, cf.N
    if name == "R1":
        return 2 * u * (s - u)
    if name in ("R3", "R3c"):
        return 2 * sp.sqrt(n) * u * (s - u)
    layers = 2 if name == "R3b" else int(name[-2])
    return layers * n ** sp.Rational(layers - 1, layers) * u ** (2 - sp.Rational(2, layers)) * (
        s - lam * u)


@pytest.mark.parametrize("name", BUILD)
def test_odes_are_theorys_and_every_step_is_checked(name):
    red = reduction(name)
    assert red.name == name
    assert sp.simplify(red.ode.rhs.subs(cf.u(cf.t), cf.v) - theory_rhs(name)) == 0
    steps = red.derivation.steps
    assert steps and all(step.verified.startswith("verified") for step in steps)
    if name in EXPLICIT and name != "R3c":  # R3c reuses R3's solution
        assert any("sympy.checkodesol returns (True, 0)" in step.justification
                   for step in steps)
    assert red.u_inf == cf.s / (cf.lam if cf.lam in red.ode.rhs.free_symbols else 1)


def test_a_wrong_solution_is_rejected_by_checkodesol():
    red = reduction("R3b")
    wrong = sp.Eq(cf.u(cf.t), red.solution.subs(cf.s, sp.Rational(101, 100) * cf.s))
    with pytest.raises(DerivationError, match="checkodesol rejects"):
        cf._checkodesol(red.ode, wrong, "a mutant")


# Against 30-digit integration of the reduction's own ODE --------------------------------


def integrate(red: cf.Reduction, values: dict, times) -> list:
    """``u(times)`` of ``tau du/dt = F(u)`` from ``u(0) = u0`` with mpmath.odefun (Taylor
    series) at :data:`DPS` digits."""
    rhs = red.ode.rhs.subs(cf.u(cf.t), cf.v).subs(values) / values[cf.tau]
    f = sp.lambdify(cf.v, rhs, modules="mpmath")
    with mpmath.workdps(DPS):
        solution = mpmath.odefun(lambda _, y: f(y), 0, mpmath.mpf(values[cf.u0]))
        return [solution(mpmath.mpf(time)) for time in times]


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


@pytest.mark.parametrize("name", EXPLICIT)
@settings(max_examples=4, deadline=None)
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


@pytest.mark.parametrize("name", IMPLICIT)
@settings(max_examples=3, deadline=None)
@given(data=st.data())
def test_implicit_closed_forms_match_30_digit_integration(name, data):
    """``t(u)`` at the integrated ``u(t)`` gives back ``t``; ``u(t_half) = u_inf/2``."""
    red = reduction(name)
    values = data.draw(parameters(red, min_fraction=1e-3))
    half = at(red.half_time, values)
    times = [half / 2, half, 3 * half / 2]
    integrated = integrate(red, values, times)
    for time, u_t in zip(times, integrated, strict=True):
        assert relative(at(red.time_of_u, {**values, cf.v: sp.Float(u_t, DPS + 10)}),
                        time) < RTOL
    assert relative(integrated[1], at(red.u_inf, values) / 2) < RTOL


def test_the_comparison_catches_a_wrong_closed_form():
    """The factor sqrt(N) replaced by N: the integration test's comparison fails."""
    red = reduction("R3")
    values = {cf.s: sp.Rational(3, 2), cf.N: sp.Integer(4), cf.tau: sp.Integer(1),
              cf.u0: sp.Rational(1, 1000)}
    half = at(red.half_time, values)
    (want,) = integrate(red, values, [half])
    mutant = red.solution.subs(sp.sqrt(cf.N), cf.N)
    assert relative(at(mutant, {**values, cf.t: sp.Float(half, DPS)}), want) > 1e-3
