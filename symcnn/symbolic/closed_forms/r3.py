"""R3 and R3b: one frequency, ``C_in = 1``, full kernel, balanced aligned weights:
``tau du/dt = 2 sqrt(N) u (s - lambda u)``, solved (docs/theory-reference.md, R3, R3b)."""

from __future__ import annotations

from functools import cache

import sympy as sp

from ..derivation import Derivation
from .base import N, Reduction, lam, reduction, s, solve_logistic, strength_ode, t, tau


def _r2_scalar(beta, kappa, target, power):
    """Right-hand sides of the per-frequency flow (R2) for scalars."""
    error = target - beta * kappa * power
    return error * sp.conjugate(kappa), N * sp.conjugate(beta) * error


def _fourier_scalar(white: bool) -> Reduction:
    power = sp.S.One if white else lam
    name = "R3" if white else "R3b"
    d = Derivation(
        f"{name}: one frequency, {'white' if white else 'stationary'} input, balanced "
        "aligned weights",
        "The per-frequency flow of a two-layer linear CNN with a full kernel (R2), for "
        "$C = C_{in} = N_o = 1$: $\\tau\\dot\\beta = (T - M\\lambda)\\bar\\kappa$, "
        "$\\tau\\dot\\kappa = N\\bar\\beta(T - M\\lambda)$, $M = \\beta\\kappa$, with "
        "$T = T_f$, $\\lambda = \\Lambda_f$ at one frequency $f$.")
    d.assume("full kernel $k = N$ and stationary input (R2); " + (
        "white input, $\\lambda = 1$" if white else "input power $\\lambda = \\Lambda_f > 0$"))
    d.assume("balanced aligned ansatz $\\kappa = \\sqrt N\\, r(t)\\, e^{ia}$, $\\beta = r(t)\\, "
             "e^{ib}$, $T = s\\, e^{i(a + b)}$ with $r, s > 0$ and real phases $a, b$ (so "
             "$M(0) = u_0 T/|T|$)")
    r = sp.Function("r", positive=True)(t)
    a, b = sp.symbols("a b", real=True)
    beta, kappa, target = r * sp.exp(sp.I * b), sp.sqrt(N) * r * sp.exp(sp.I * a), \
        s * sp.exp(sp.I * (a + b))
    d.step("balanced", sp.Abs(beta) ** 2 - sp.Abs(kappa) ** 2 / N, 0,
           "$|\\beta|^2 - |\\kappa|^2/N$, conserved by R2, is 0")
    rhs_beta, rhs_kappa = _r2_scalar(beta, kappa, target, power)
    (dot_b,) = sp.solve(sp.Eq(tau * beta.diff(t), rhs_beta), r.diff(t))
    (dot_k,) = sp.solve(sp.Eq(tau * kappa.diff(t), rhs_kappa), r.diff(t))
    d.step("readout flow", (tau * beta.diff(t)).subs(r.diff(t), dot_b), rhs_beta,
           "the ansatz in $\\tau\\dot\\beta = (T - M\\lambda)\\bar\\kappa$, solved for "
           "$\\dot r$ (sympy.solve); checked by substituting back",
           display=(tau * sp.Derivative(r, t), tau * dot_b))
    d.step("kernel flow", (tau * kappa.diff(t)).subs(r.diff(t), dot_k), rhs_kappa,
           "the ansatz in $\\tau\\dot\\kappa = N\\bar\\beta(T - M\\lambda)$, solved for "
           "$\\dot r$", display=(tau * sp.Derivative(r, t), tau * dot_k))
    d.step("consistency", dot_b, dot_k,
           "both equations give the same real ODE for $r$: the ansatz is preserved "
           "(the phases stay constant)")
    strength = sp.Abs(beta * kappa)
    d.step("strength", strength, sp.sqrt(N) * r ** 2, "$u = |M| = |\\beta\\kappa|$")
    rhs = strength_ode(d, strength, r, dot_b, "$\\tau\\dot u = 2\\sqrt N r\\,\\tau\\dot r$")
    return reduction(name, d, solve_logistic(d, rhs))


@cache
def r3b() -> Reduction:
    """One frequency, ``C_in = 1``, stationary input (docs/theory-reference.md, R3b):
    ``tau du/dt = 2 sqrt(N) u (s - lambda u)``, solved, with ``s = |T_f|``,
    ``lambda = Lambda_f``."""
    return _fourier_scalar(white=False)


@cache
def r3() -> Reduction:
    """R3b with white input, ``lambda = 1`` (docs/theory-reference.md, R3)."""
    return _fourier_scalar(white=True)

