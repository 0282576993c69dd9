"""R5: ``L - 1`` full-kernel convolution layers and the readout, one frequency:
``tau du/dt = L N^((L-1)/L) u^(2 - 2/L) (s - lambda u)``; explicit for ``L = 2``, implicit
``t(u)`` for ``L > 2`` (docs/theory-reference.md, R5)."""

from __future__ import annotations

from functools import cache

import sympy as sp

from ...checks import positive_int
from ...model import LinearCNN
from ..derivation import Derivation, op
from ..pixel import gradient_flow
from ..reductions import dft_matrix, kernel_spectrum, row_spectrum
from .base import (
    N,
    Reduction,
    lam,
    reduction,
    s,
    solve_logistic,
    strength_ode,
    t,
    tau,
    u,
    u0,
    v,
)
from .r3 import r3b


def _deep_rates(d: Derivation, depth: int, size: int = 4) -> None:
    """Per-frequency flow of ``depth`` full-kernel layers, from the pixel flow of
    :func:`symcnn.symbolic.pixel.gradient_flow` at ``N = size`` (``C = C_in = N_o = 1``)."""
    model = LinearCNN((size,), depth=depth)
    flow = gradient_flow(model)
    big_u = dft_matrix(model)
    kappas = [kernel_spectrum(model, w) for w in flow.params[:-1]]
    kappa_dots = [kernel_spectrum(model, w) for w in flow.rhs_g[:-1]]
    beta = row_spectrum(sp.Matrix(flow.params[-1].reshape(1, -1)), big_u, 1)
    beta_dot = row_spectrum(sp.Matrix(flow.rhs_g[-1].reshape(1, -1)), big_u, 1)
    g_hat = row_spectrum(flow.g_symbols, big_u, 1)
    freqs = range(size)

    def product(f, skip=None):
        return sp.Mul(*[kappas[m][f][0] for m in range(depth) if m != skip])

    d.step("readout rate", sp.Matrix([beta_dot[f][0] for f in freqs]),
           sp.Matrix([-g_hat[f][0] * sp.conjugate(product(f)) for f in freqs]),
           f"pixel flow of $W$ (symcnn.symbolic.pixel.gradient_flow, ${depth}$ kernel layer(s), "
           f"$N = {size}$, generic $G = \\partial L/\\partial M$) through $\\beta_f = (W U^*)_f$:"
           " rate 1", display=(op("\\tau\\dot\\beta_f"), -op("\\hat G_f") * op(
               "\\overline{\\kappa_{L-1,f}\\cdots\\kappa_{1,f}}")))
    d.step("kernel rates", sp.Matrix([kappa_dots[m][f][0] for m in range(depth) for f in freqs]),
           sp.Matrix([-size * sp.conjugate(beta[f][0] * product(f, skip=m)) * g_hat[f][0]
                      for m in range(depth) for f in freqs]),
           f"pixel flow of each kernel $w_l$ through $\\kappa_{{l,f}}$: every kernel layer has "
           f"the rate $N = {size}$ (a full kernel's weight acts at all $N$ positions, $D = N I$"
           ", as in R2)", display=(op("\\tau\\dot\\kappa_{l,f}"), -N * op(
               "\\overline{\\beta_f \\prod_{m \\ne l}\\kappa_{m,f}}") * op("\\hat G_f")))
    d.assume(f"general $N$: the rates of the explicit $N = {size}$ flow, $N$ for each kernel "
             "layer and 1 for the readout (the Dirichlet matrix of a full kernel is $N I$ at "
             "every layer, R2)")


def _complex_symbol(name: str) -> sp.Expr:
    return sp.Symbol(f"{name}_r", real=True) + sp.I * sp.Symbol(f"{name}_i", real=True)


@cache
def r5(depth_l: int = 3) -> Reduction:
    """``L = depth_l`` layers: ``L - 1`` full-kernel convolutions and the readout, one
    frequency, ``C = C_in = N_o = 1`` (docs/theory-reference.md, R5).

    Balanced aligned ansatz ``kappa_l = sqrt(N) r e^(i a_l)``, ``beta = r e^(i b)``:
    ``tau du/dt = L N^((L-1)/L) u^(2 - 2/L) (s - lambda u)`` for ``u = |M_f|``.  ``L = 2``:
    solved explicitly (equals R3b).  ``L > 2``: :attr:`Reduction.time_of_u` from
    ``t = tau int du / F(u)`` with ``u = (s/lambda) z^L`` (a rational integrand in ``z``),
    and the half-way time in closed form, derived on the growing branch ``0 < u0 < u_inf``,
    ``u < u_inf`` (elsewhere the logarithm of a negative number, NaN in floating point), and
    ``t(u0) = 0`` for every ``u0``.
    """
    big_l = positive_int("depth_l", depth_l, minimum=2)  # L - 1 >= 1 convolutions, the readout
    depth = big_l - 1
    d = Derivation(
        f"R5: deep linear CNN, L = {big_l} ({depth} full-kernel convolution layer"
        f"{'s' if depth > 1 else ''}), one frequency",
        "Per frequency, $M = \\beta\\kappa_{L-1}\\cdots\\kappa_1$ (scalars, $C = C_{in} = "
        "N_o = 1$), $\\hat G = M\\lambda - T$ for stationary input.")
    d.assume("full kernels, stationary input, $\\lambda = \\Lambda_f > 0$, $s = |T_f|$")
    _deep_rates(d, depth)
    beta = _complex_symbol("beta")
    kappas = [_complex_symbol(f"kappa{m + 1}") for m in range(depth)]
    beta_dot, kappa_dots = _deep_flow(beta, kappas, _complex_symbol("T"), lam)
    sq_dot = [sp.expand(zd * sp.conjugate(z) + z * sp.conjugate(zd))
              for z, zd in zip((beta, *kappas), (beta_dot, *kappa_dots), strict=True)]
    d.step("conserved quantities",
           sp.Matrix([sq_dot[0] - sq_dot[m + 1] / N for m in range(depth)]),
           sp.zeros(depth, 1),
           "along the per-frequency flow, $|\\beta|^2 - |\\kappa_l|^2/N$ is constant for "
           "every layer (generic complex values)",
           display=(sp.Matrix([sp.Symbol(f"\\frac{{d}}{{dt}}(|\\beta|^2 - |\\kappa_{m + 1}|^2"
                                         "/N)") for m in range(depth)]), sp.zeros(depth, 1)))
    d.assume("balanced aligned ansatz $\\beta = r e^{ib}$, $\\kappa_l = \\sqrt N r e^{i a_l}$, "
             "$T = s e^{i(b + a_1 + \\dots + a_{L-1})}$, $r, s > 0$ (the conserved quantities "
             "are 0)")
    r = sp.Function("r", positive=True)(t)
    b = sp.Symbol("b", real=True)
    a = sp.symbols(f"a_1:{big_l}", real=True)
    beta = r * sp.exp(sp.I * b)
    kappas = [sp.sqrt(N) * r * sp.exp(sp.I * a[m]) for m in range(depth)]
    beta_dot, kappa_dots = _deep_flow(beta, kappas, s * sp.exp(sp.I * (b + sum(a))), lam)
    (dot_b,) = sp.solve(sp.Eq(tau * beta.diff(t), beta_dot), r.diff(t))
    d.step("readout flow", (tau * beta.diff(t)).subs(r.diff(t), dot_b), beta_dot,
           "the ansatz in the readout flow, solved for $\\dot r$",
           display=(tau * sp.Derivative(r, t), tau * dot_b))
    dots = [sp.solve(sp.Eq(tau * kappas[m].diff(t), kappa_dots[m]), r.diff(t))[0]
            for m in range(depth)]
    d.step("kernel flows", sp.Matrix([(tau * kappas[m].diff(t)).subs(r.diff(t), dots[m])
                                      for m in range(depth)]),
           sp.Matrix([kappa_dots[m] for m in range(depth)]),
           "the ansatz in each kernel flow, solved for $\\dot r$",
           display=(tau * sp.Derivative(r, t), tau * dots[0]))
    d.step("consistency", sp.Matrix(dots), sp.Matrix([dot_b] * depth),
           "all layers give the same real ODE for $r$")
    strength = sp.Abs(beta * sp.Mul(*kappas))
    d.step("strength", strength, N ** sp.Rational(depth, 2) * r ** big_l,
           "$u = |M| = |\\beta\\kappa_{L-1}\\cdots\\kappa_1|$")
    rhs = strength_ode(d, strength, r, dot_b,
                        f"$\\tau\\dot u = {big_l} N^{{{sp.latex(sp.Rational(depth, 2))}}} "
                        f"r^{{{big_l - 1}}}\\,\\tau\\dot r$")
    name = f"R5(L={big_l})"
    if big_l == 2:
        d.step("equals R3b", rhs, r3b().ode.rhs, "for $L = 2$ this is R3b")
        return reduction(name, d, solve_logistic(d, rhs))
    return _implicit(d, name, rhs, big_l)


def _deep_flow(beta, kappas, target, power):
    """Per-frequency flow of ``L - 1`` full-kernel layers (scalars): ``tau dbeta/dt = (T -
    lambda M) conj(kappa_{L-1} ... kappa_1)``, ``tau dkappa_l/dt = N conj(beta prod_{m != l}
    kappa_m) (T - lambda M)``."""
    error = target - power * beta * sp.Mul(*kappas)
    others = [sp.Mul(*[k for m, k in enumerate(kappas) if m != skip])
              for skip in range(len(kappas))]
    return (error * sp.conjugate(sp.Mul(*kappas)),
            [N * sp.conjugate(beta * o) * error for o in others])


def _implicit(d: Derivation, name: str, rhs: sp.Expr, big_l: int) -> Reduction:
    """``t(u) = tau int_{u0}^{u} dv / F(v)`` in closed form for ``F`` of R5, ``L > 2``."""
    ode = sp.Eq(tau * u(t).diff(t), rhs)
    big_f = rhs.subs(u(t), v)
    roots = [r for r in sp.solve(big_f, v) if r != 0]
    u_inf = roots[0]
    d.step("fixed point", big_f.subs(v, u_inf), 0,
           "the nonzero zero of the right-hand side (sympy.solve): $u_\\infty = s/\\lambda$, "
           "approached from below for $0 < u_0 < u_\\infty$",
           display=(sp.Symbol("u_\\infty"), u_inf))
    z = sp.Symbol("z", positive=True)
    u_of_z = u_inf * z ** big_l
    integrand = sp.factor(sp.powsimp(sp.expand_power_base(
        (tau / big_f).subs(v, u_of_z) * u_of_z.diff(z), force=True), force=True))
    d.step("substitution", (tau / big_f).subs(v, u_of_z) * u_of_z.diff(z), integrand,
           f"separate variables, $dt = \\tau\\,du/F(u)$, and set $u = u_\\infty z^{{{big_l}}}$ "
           "($0 < z < 1$): the integrand becomes rational in $z$",
           display=(sp.Symbol("\\frac{dt}{dz}"), integrand))
    # integrate the partial fractions: sympy.integrate of the factored integrand drops
    # terms (L = 3, SymPy 1.14), which the check below catches
    constant, rational = integrand.as_independent(z)
    raw = constant * sp.integrate(sp.apart(rational, z), z)
    antiderivative = raw.replace(
        sp.log, lambda arg: sp.log(sp.expand(-arg)) if arg.subs(z, sp.Rational(1, 2)) < 0
        else sp.log(arg))
    d.step("antiderivative", antiderivative.diff(z), integrand,
           "sympy.integrate of the partial fractions (sympy.apart); logarithms of arguments "
           "negative on $(0, 1)$ negated (a constant shift); checked by differentiating",
           display=(sp.Symbol("G(z)"), antiderivative))
    z_of = (v / u_inf) ** sp.Rational(1, big_l)
    growth = antiderivative.subs(z, z_of) - antiderivative.subs(z, z_of.subs(v, u0))
    below = {"where": lambda vals: vals[v] < vals[s] / vals[lam]}
    d.step("implicit solution", growth.diff(v), tau / big_f,
           "$t(u) = G(z(u)) - G(z(u_0))$, $z(u) = (\\lambda u/s)^{1/L}$: $dt/du = \\tau/F(u)$ "
           "and $t(u_0) = 0$", check="numeric", **below,
           display=(sp.Symbol("t(u)"), growth))
    d.step("initial time", growth.subs(v, u0), 0, "$t(u_0) = 0$")
    time_of_u = sp.Piecewise((0, sp.Eq(v, u0)), (growth, True))
    d.step("the start", time_of_u, growth,
           "$t(u_0) = 0$ for every $u_0$, also $u_0 > u_\\infty$, where $G(z(u_0))$ takes the "
           "logarithm of $1 - z(u_0) < 0$ (NaN in floating point); the other values are those "
           "of the growing branch, $0 < u_0 < u_\\infty$, $u < u_\\infty$",
           check="numeric", where=lambda vals: vals[lam] * max(vals[u0], vals[v]) < vals[s],
           cases=({v: sp.Rational(1, 2), u0: sp.Rational(1, 2)},),
           display=(sp.Symbol("t(u)"), time_of_u))
    half = time_of_u.subs(v, u_inf / 2)
    d.step("half-way time", half, time_of_u.subs(v, u_inf / 2),
           "$t_{1/2} = t(u_\\infty/2)$, i.e. $z = 2^{-1/L}$",
           display=(sp.Symbol("t_{1/2}"), half))
    parts = dict(ode=ode, solution=None, stable=None, half_time=half, u_inf=u_inf)
    return reduction(name, d, parts, time_of_u=time_of_u)

