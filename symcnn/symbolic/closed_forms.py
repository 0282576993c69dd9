"""Closed-form learning curves of the reduced gradient flows (THEORY.md R1, R3, R3b, R3c, R4,
R5), each a checked :class:`~symcnn.derivation.Derivation`.

Every formula is computed by SymPy from the flow it reduces: the ansatz is substituted into
the system, the velocities are solved for, the scalar ODE comes out of differentiation and
substitution, ``sympy.dsolve`` solves it (confirmed by ``sympy.checkodesol``), and the
half-way time comes out of ``sympy.solve``.  Each step is checked exactly where SymPy decides
it, else at 30 digits.

Conventions (docs/conventions.md): gradient flow ``tau dtheta/dt = -dL/dtheta``; per
frequency ``M_f = beta_f kappa_{L-1, f} ... kappa_{1, f}``, ``T_f = (Sigma_yx U^*)_f``,
``Lambda_f = (U Sigma_xx U^*)_{ff}``; for ``C_in = 1`` the strength is ``u = |M_f|``,
``s = |T_f|`` and ``lambda = Lambda_f``.

Reductions (:class:`Reduction`):

- :func:`r1`: fully connected, white input, ``tau du/dt = 2 u (s - u)``;
- :func:`r3b`: one frequency, ``C_in = 1``, stationary input,
  ``tau du/dt = 2 sqrt(N) u (s - lambda u)``; :func:`r3` is ``lambda = 1``;
- :func:`r3c`: ``C_in, C, N_o > 1``, white input: each singular mode of ``T_f`` obeys R3;
- :func:`r5`: ``L - 1`` full-kernel convolution layers,
  ``tau du/dt = L N^((L-1)/L) u^(2 - 2/L) (s - lambda u)``; explicit for ``L = 2``, implicit
  ``t(u)`` for ``L > 2``.

:func:`r4` (a :class:`~symcnn.derivation.Derivation`) is the linearised small-kernel flow:
the end-to-end map grows like ``exp(2 gamma t / tau)`` with ``gamma^2`` the eigenvalues of
``S D S``; :func:`r4_growth_rates` computes them numerically.

Numerically stable forms use :class:`symcnn.codegen.exprel` (``(e^z - 1)/z``, ``1`` at
``z = 0``), which every :mod:`symcnn.codegen` backend evaluates with ``expm1``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import mpmath
import numpy as np
import sympy as sp

from .. import codegen
from ..codegen import exprel
from ..model import LinearCNN
from .derivation import Derivation, DerivationError, _tex_text
from .pixel import gradient_flow
from .reductions import N, dft_matrix, dirichlet_matrix, kernel_spectrum, phase
from .reductions import row_spectrum as _row_spectrum

t = sp.Symbol("t", positive=True)
"""Time."""
tau = sp.Symbol("tau", positive=True)
"""The flow's time constant."""
s = sp.Symbol("s", positive=True)
"""Mode strength in the data: ``s_a`` (R1), ``|T_f|`` (R3, R3b, R5) or ``sigma_j`` (R3c)."""
lam = sp.Symbol("lambda", positive=True)
"""Input power at the frequency, ``Lambda_f`` (``1`` for white input)."""
u0 = sp.Symbol("u_0", positive=True)
"""Initial strength ``u(0)``."""
v = sp.Symbol("u", positive=True)
"""A value of the strength, the argument of :attr:`Reduction.time_of_u`."""
u = sp.Function("u")
"""The strength ``u(t)`` in :attr:`Reduction.ode`."""
__all__ = ["N", "Reduction", "exprel", "lam", "r1", "r3", "r3b", "r3c", "r4",
           "r4_growth_rates", "r5", "s", "t", "tau", "u", "u0", "v"]


@dataclass(frozen=True, eq=False)
class Reduction:
    """A scalar learning-curve reduction and its closed form.

    Attributes
    ----------
    name : str
        ``"R1"``, ``"R3"``, ``"R3b"``, ``"R3c"``, ``"R5(L=3)"``, ...
    derivation : Derivation
        Every step checked.
    ode : sympy.Eq
        ``tau du/dt = F(u)`` in the function :data:`u` of :data:`t`.
    solution : sympy expression or None
        ``u(t)`` with ``u(0) = u0``; ``None`` when only :attr:`time_of_u` is known.
    stable : sympy expression or None
        ``solution`` rewritten to evaluate in floating point without overflow or
        cancellation (uses :class:`exprel`), with a finite ``s -> 0`` limit.
    half_time : sympy expression or None
        The time at which ``u = u_inf / 2`` (for ``u0 < u_inf / 2``).
    u_inf : sympy expression
        ``lim_{t -> oo} u(t)``.
    symbols : dict
        Name -> symbol of every parameter the expressions use, in the order ``t, tau, s,
        lam, u0, N`` (those present), and ``u`` (:data:`v`) when :attr:`time_of_u` is set.
    time_of_u : sympy expression or None
        The time at which the strength reaches :data:`v` (for ``u0 < v < u_inf``).
    """

    name: str
    derivation: Derivation
    ode: sp.Eq
    solution: sp.Expr | None
    stable: sp.Expr | None
    half_time: sp.Expr | None
    u_inf: sp.Expr
    symbols: dict
    time_of_u: sp.Expr | None = None

    def arguments(self, field: str = "stable") -> tuple[sp.Symbol, ...]:
        """The free symbols of ``field`` in call order: the order of :attr:`symbols`
        (``t, tau, s, lam, u0, N``, those present), then any other by name."""
        free = self._field(field).free_symbols
        ordered = [sym for sym in self.symbols.values() if sym in free]
        return tuple(ordered + sorted(free - set(ordered), key=lambda sym: sym.name))

    def kernel(self, field: str = "stable", **options) -> codegen.Kernel:
        """The :func:`symcnn.codegen.compile` kernel of ``field`` (default the ``stable``
        form), arguments in :meth:`arguments` order; ``inner`` defaults to the time ``t``
        (learning curves are evaluated on time grids, the last axis)."""
        args = self.arguments(field)
        time = self.symbols.get("t")
        options.setdefault("inner", (time,) if time in args else ())
        return codegen.compile(self._field(field), args, **options)

    def _field(self, field: str) -> sp.Expr:
        expr = getattr(self, field)
        if expr is None:
            raise ValueError(f"{self.name} has no {field}")
        return expr


def _symbols(*exprs) -> dict:
    free = set().union(*(sp.sympify(e).free_symbols for e in exprs if e is not None))
    order = {"t": t, "tau": tau, "s": s, "lam": lam, "u0": u0, "N": N, "u": v}
    return {name: sym for name, sym in order.items() if sym in free}


def _checkodesol(ode: sp.Eq, solution: sp.Eq, what: str) -> str:
    result = sp.checkodesol(ode, solution)
    if result[0] is not True:
        raise DerivationError(f"sympy.checkodesol rejects the solution of {what}: {result}")
    return f"sympy.checkodesol returns {result}"


def _solve_logistic(d: Derivation, rhs: sp.Expr) -> dict:
    """Solve ``tau du/dt = rhs(u)`` (a logistic right-hand side) with ``u(0) = u0`` and add
    the steps: dsolve, initial value, limit, half time, and the stable form through the
    Bernoulli substitution ``w = 1/u``."""
    ode = sp.Eq(tau * u(t).diff(t), rhs)
    solved = sp.dsolve(ode, u(t), ics={u(0): u0})
    verdict = _checkodesol(ode, solved, "the strength ODE")
    solution = sp.simplify(solved.rhs)
    d.step("dsolve", tau * solution.diff(t), rhs.subs(u(t), solution),
           f"sympy.dsolve with $u(0) = u_0$ (then simplify); {verdict}; checked by "
           "substituting $u(t)$ into the ODE", display=(u(t), solution))
    d.step("initial value", solution.subs(t, 0), u0, "$t = 0$ in the solution")
    roots = [r for r in sp.solve(rhs.subs(u(t), v), v) if r != 0]
    u_inf = sp.limit(solution, t, sp.oo)
    d.step("long-time limit", u_inf, roots[0], "sympy.limit as $t \\to \\infty$; it is the "
           "nonzero fixed point of the ODE (sympy.solve of its right-hand side)",
           display=(sp.Limit(u(t), t, sp.oo), u_inf))
    (half,) = sp.solve(sp.Eq(solution, u_inf / 2), t)
    t_half = sp.Symbol("t_{1/2}")
    d.step("half-way time", solution.subs(t, half), u_inf / 2,
           "sympy.solve of $u(t) = u_\\infty/2$ for $t$ (real for $u_0 < u_\\infty/2$); "
           "checked by substituting it into $u$", display=(t_half, half))
    # Stable form: w = 1/u obeys a linear ODE (Bernoulli).
    w = sp.Function("w")
    linear = sp.expand((-rhs / u(t) ** 2).subs(u(t), 1 / w(t)))
    d.step("Bernoulli substitution",
           (tau * sp.diff(1 / u(t), t)).subs(u(t).diff(t), rhs / tau).subs(u(t), 1 / w(t)),
           linear, "$w = 1/u$ turns the ODE into a linear one",
           display=(tau * sp.Derivative(w(t), t), linear))
    linear_ode = sp.Eq(tau * w(t).diff(t), linear)
    w_solved = sp.dsolve(linear_ode, w(t), ics={w(0): 1 / u0})
    verdict = _checkodesol(linear_ode, w_solved, "the linear ODE")
    w_t = sp.expand(w_solved.rhs)
    d.step("linear solution", tau * w_t.diff(t), linear.subs(w(t), w_t),
           f"sympy.dsolve with $w(0) = 1/u_0$; {verdict}", display=(w(t), w_t))
    w_inf = sp.limit(w_t, t, sp.oo)
    (decay,) = w_t.atoms(sp.exp)
    x = -decay.args[0]
    d.step("relaxation form", w_t, sp.exp(-x) / u0 + w_inf * (1 - sp.exp(-x)),
           "$w$ relaxes from $1/u_0$ to $w_\\infty = 1/u_\\infty$ (sympy.limit) at the rate "
           f"read off its exponential, $x = {sp.latex(x)}$")
    stable = 1 / (sp.exp(-x) / u0 + sp.cancel(w_inf * x) * exprel(-x))
    d.step("stable form", solution, stable.rewrite(sp.exp),
           "$1 - e^{-x} = x \\operatorname{exprel}(-x)$ with $\\operatorname{exprel}(z) = "
           "(e^z - 1)/z$, $\\operatorname{exprel}(0) = 1$: no overflow for large $x$, no "
           "division by $s$, and no cancellation for small $x$ (evaluated with expm1)",
           display=(u(t), stable))
    d.step("small-s limit", sp.limit(solution, s, 0), stable.subs(s, 0),
           "sympy.limit of the solution as $s \\to 0$ equals the stable form at $s = 0$ "
           "(where $\\operatorname{exprel}(0) = 1$)",
           display=(sp.Limit(u(t), s, 0), stable.subs(s, 0)))
    return dict(ode=ode, solution=solution, stable=stable, half_time=half, u_inf=u_inf)


def _reduction(name: str, d: Derivation, parts: dict, time_of_u=None) -> Reduction:
    exprs = [parts["solution"], parts["stable"], parts["half_time"], parts["u_inf"],
             parts["ode"].rhs, time_of_u]
    return Reduction(name, d, parts["ode"], parts["solution"], parts["stable"],
                     parts["half_time"], parts["u_inf"], _symbols(*exprs), time_of_u)


def _strength_ode(d: Derivation, strength: sp.Expr, r: sp.Expr, r_dot: sp.Expr,
                  justification: str) -> sp.Expr:
    """``tau du/dt`` for ``u = strength(r)``, ``tau dr/dt = tau r_dot``, in ``u``: adds the
    step and returns ``F(u(t))``."""
    radius = sp.Symbol("r_", positive=True)
    (r_of_u,) = sp.solve(sp.Eq(strength.subs(r, radius), v), radius)
    chain = (tau * strength.diff(t)).subs(r.diff(t), r_dot)
    rhs = sp.factor(sp.powsimp(sp.expand(chain.subs(r, r_of_u)), force=True))
    d.step("strength ODE", chain, rhs.subs(v, strength),
           justification + f"; with $r = {sp.latex(r_of_u)}$",
           display=(tau * sp.Derivative(u(t), t), rhs.subs(v, u(t))))
    return rhs.subs(v, u(t))


# ----------------------------------------------------------------------------------------
# R1: fully connected (Saxe et al.)


def _cayley(params, size: int) -> sp.Matrix:
    """The real orthogonal ``(I - A)(I + A)^-1`` of the skew matrix with entries ``params``
    above the diagonal (rational in ``params``)."""
    entries = iter(params)
    a = sp.zeros(size)
    for i in range(size):
        for j in range(i + 1, size):
            a[i, j] = next(entries)
            a[j, i] = -a[i, j]
    return ((sp.eye(size) - a) * (sp.eye(size) + a).adjugate()
            / (sp.eye(size) + a).det()).applyfunc(sp.cancel)


def _op(latex: str) -> sp.Symbol:
    return sp.Symbol(latex, commutative=False)


def _sandwich(left: str, middle: sp.Matrix, right: str) -> sp.MatMul:
    """``left middle right`` for display, unevaluated (``left``, ``right`` in LaTeX)."""
    rows, cols = middle.shape
    return sp.MatMul(sp.MatrixSymbol(left, rows, rows), sp.ImmutableMatrix(middle),
                     sp.MatrixSymbol(right, cols, cols), evaluate=False)


@cache
def r1() -> Reduction:
    """Fully connected two-layer network (THEORY.md R1), white input, balanced aligned
    weights: ``tau du/dt = 2 u (s - u)`` per mode, solved.

    The flow ``tau dW_1/dt = W_2^T (Sigma_yx - W_2 W_1)``, ``tau dW_2/dt = (Sigma_yx -
    W_2 W_1) W_1^T`` (:func:`symcnn.reduction.fully_connected`) with ``Sigma_yx = U S V^T``
    and the ansatz ``W_1 = R A V^T``, ``W_2 = U A R^T``, ``A = diag(a_1, a_2)``, for generic
    orthogonal ``U, R`` (2 x 2) and orthonormal columns ``V`` (3 x 2): rational Cayley
    parametrisations, so every identity is decided exactly.
    """
    d = Derivation(
        "R1: fully connected network, balanced aligned modes",
        "Two-layer linear network $\\hat y = W_2 W_1 x$ with gradient flow $\\tau\\dot W_1 = "
        "W_2^T(\\Sigma_{yx} - W_2 W_1\\Sigma_{xx})$, $\\tau\\dot W_2 = (\\Sigma_{yx} - W_2 W_1"
        "\\Sigma_{xx}) W_1^T$ (Saxe et al. 2014). Each mode of $\\Sigma_{yx}$ is learned "
        "independently along a logistic curve.")
    d.assume("white input, $\\Sigma_{xx} = I$; $\\Sigma_{yx} = U S V^T$ with $S = "
             "\\operatorname{diag}(s_1, s_2)$, $s_j > 0$")
    d.assume("balanced aligned ansatz $W_1 = R A V^T$, $W_2 = U A R^T$, $A = \\operatorname"
             "{diag}(a_1(t), a_2(t))$, $a_j > 0$; explicit sizes: $3$ inputs, $2$ hidden units, "
             "$2$ outputs")
    d.assume("$U, R$ generic $2\\times 2$ rotations, $V$ the first two columns of a generic "
             "$3 \\times 3$ rotation, by Cayley's rational parametrisation "
             "$(I - K)(I + K)^{-1}$ of skew $K$ with parameters $p_1, \\dots, p_5$: the steps "
             "are identities of rational functions, decided exactly")
    p = sp.symbols("p_1:6", real=True)
    big_u, big_r, big_v = _cayley(p[:1], 2), _cayley(p[1:2], 2), _cayley(p[2:5], 3)[:, :2]
    s1, s2 = sp.symbols("s_1 s_2", positive=True)
    a = [sp.Function(f"a_{j}", positive=True)(t) for j in (1, 2)]
    big_a, big_s = sp.diag(*a), sp.diag(s1, s2)
    w1, w2, syx = big_r * big_a * big_v.T, big_u * big_a * big_r.T, big_u * big_s * big_v.T
    d.step("orthonormal factors",
           sp.diag(big_u.T * big_u, big_r.T * big_r, big_v.T * big_v).applyfunc(sp.cancel),
           sp.eye(6), "$U^T U = R^T R = V^T V = I$",
           display=(sp.Matrix([[_op("U^{T} U"), _op("R^{T} R"), _op("V^{T} V")]]),
                    sp.Matrix([[_op("I"), _op("I"), _op("I")]])))
    d.step("balanced", (w1 * w1.T - w2.T * w2).applyfunc(sp.cancel), sp.zeros(2),
           "$W_1 W_1^T = W_2^T W_2 = R A^2 R^T$: the conserved quantity of the flow is 0",
           display=(_op("W_1 W_1^{T} - W_2^{T} W_2"), sp.Integer(0)))
    error = syx - w2 * w1
    flow1, flow2 = w2.T * error, error * w1.T
    x1 = (big_r.T * flow1 * big_v).applyfunc(sp.cancel)
    x2 = (big_u.T * flow2 * big_r).applyfunc(sp.cancel)
    d.step("first layer", flow1.applyfunc(sp.cancel), (big_r * x1 * big_v.T).applyfunc(sp.cancel),
           "the flow of $W_1$ stays of the form $R\\,(\\cdot)\\,V^T$ with a diagonal middle "
           "factor (computed as $R^T \\tau\\dot W_1 V$)",
           display=(_op("\\tau \\dot{W}_1"), _sandwich("R", x1, "V^{T}")))
    d.step("second layer", flow2.applyfunc(sp.cancel),
           (big_u * x2 * big_r.T).applyfunc(sp.cancel),
           "the flow of $W_2$ stays of the form $U\\,(\\cdot)\\,R^T$, diagonal middle factor",
           display=(_op("\\tau \\dot{W}_2"), _sandwich("U", x2, "R^{T}")))
    d.step("both layers agree", x1, x2,
           "$\\tau\\dot W_1 = R\\,\\tau\\dot A\\,V^T$ and $\\tau\\dot W_2 = U\\,\\tau\\dot A\\,"
           "R^T$ give the same $\\tau\\dot a_j$: the ansatz is consistent")
    (a_dot,) = sp.solve(sp.Eq(tau * a[0].diff(t), x1[0, 0]), a[0].diff(t))
    (a2_dot,) = sp.solve(sp.Eq(tau * a[1].diff(t), x1[1, 1]), a[1].diff(t))
    d.step("modes decouple", a2_dot, a_dot.subs({a[0]: a[1], s1: s2}),
           "mode 2 obeys mode 1's equation with $s_1 \\to s_2$",
           display=(sp.Derivative(a[1], t), a2_dot))
    rhs = _strength_ode(d, a[0] ** 2, a[0], a_dot,
                        "$u = a_1^2$ (the mode's singular value of $W_2 W_1$), "
                        "$\\tau\\dot u = 2 a_1\\tau\\dot a_1$").subs(s1, s)
    d.assume("from here $s = s_1$ (any mode)")
    return _reduction("R1", d, _solve_logistic(d, rhs))


# ----------------------------------------------------------------------------------------
# R3, R3b: one frequency, C_in = 1


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
    rhs = _strength_ode(d, strength, r, dot_b, "$\\tau\\dot u = 2\\sqrt N r\\,\\tau\\dot r$")
    return _reduction(name, d, _solve_logistic(d, rhs))


@cache
def r3b() -> Reduction:
    """One frequency, ``C_in = 1``, stationary input (THEORY.md R3b):
    ``tau du/dt = 2 sqrt(N) u (s - lambda u)``, solved, with ``s = |T_f|``,
    ``lambda = Lambda_f``."""
    return _fourier_scalar(white=False)


@cache
def r3() -> Reduction:
    """R3b with white input, ``lambda = 1`` (THEORY.md R3)."""
    return _fourier_scalar(white=True)


# ----------------------------------------------------------------------------------------
# R3c: C_in > 1, white input


def _unitary2(h, phi) -> sp.Matrix:
    """``e^(i phi) ((1 - |h|^2) I - 2 i H)/(1 + |h|^2)``, ``H = [[h1, h2 + i h3], [h2 - i h3,
    -h1]]``: the Cayley transform ``(I - iH)(I + iH)^-1`` of the traceless Hermitian ``H``
    (``H^2 = |h|^2 I``) times a phase; generic in ``U(2)``."""
    h1, h2, h3 = h
    big_h = sp.Matrix([[h1, h2 + sp.I * h3], [h2 - sp.I * h3, -h1]])
    norm2 = h1**2 + h2**2 + h3**2
    return sp.exp(sp.I * phi) * ((1 - norm2) * sp.eye(2) - 2 * sp.I * big_h) / (1 + norm2)


def _rational_unitary(size: int, seed: int) -> sp.Matrix:
    """``(I - iH)(I + iH)^-1`` for a random Gaussian-rational Hermitian ``H``: an exactly
    unitary matrix with Gaussian-rational entries."""
    import random

    rng = random.Random(seed)

    def q():
        return sp.Rational(rng.randint(-9, 9), rng.randint(1, 5))

    big_h = sp.zeros(size)
    for i in range(size):
        big_h[i, i] = q()
        for j in range(i + 1, size):
            big_h[i, j] = q() + sp.I * q()
            big_h[j, i] = sp.conjugate(big_h[i, j])
    eye = sp.eye(size)
    return ((eye - sp.I * big_h) * (eye + sp.I * big_h).inv()).applyfunc(sp.nsimplify)


@cache
def r3c() -> Reduction:
    """``C_in, C, N_o > 1``, white input (THEORY.md R3c): with ``T_f = P diag(sigma) Q^*``
    and the ansatz ``beta_f = P diag(b) R^*``, ``kappa_f = R diag(k) Q^*`` (``R`` unitary,
    ``k_j = sqrt(N) b_j``), each singular mode obeys R3 with ``s = sigma_j``.

    Checked at 30 digits for generic ``2 x 2`` unitaries ``P, R, Q`` (Cayley parametrisation
    with phases) and exactly for Gaussian-rational isometries with ``N_o = C = 3``,
    ``C_in = 2``."""
    d = Derivation(
        "R3c: several input channels, white input, one frequency",
        "The per-frequency flow (R2) $\\tau\\dot\\beta = (T - \\beta\\kappa)\\kappa^*$, "
        "$\\tau\\dot\\kappa = N\\beta^*(T - \\beta\\kappa)$ for matrices $\\beta$ "
        "($N_o\\times C$), $\\kappa$ ($C \\times C_{in}$), $T$ ($N_o\\times C_{in}$) at one "
        "frequency, white input $\\Lambda_f = I$.")
    d.assume("full kernel, white input $\\Lambda_f = I$; SVD $T = P\\operatorname{diag}"
             "(\\sigma) Q^*$ with $\\sigma_j > 0$")
    d.assume("aligned ansatz $\\beta = P \\operatorname{diag}(b) R^*$, $\\kappa = R\\, "
             "\\operatorname{diag}(k) Q^*$ with $R$ unitary (an isometry when $C$ exceeds the "
             "rank) and real $b_j(t), k_j(t) > 0$")
    d.assume("first part: generic $2 \\times 2$ unitaries $P, R, Q$, each $e^{i\\phi}(I - iH)"
             "(I + iH)^{-1}$ with $H$ traceless Hermitian (3 real parameters), checked at "
             "random parameters with 30 digits; second part: $N_o = C = 3$, $C_{in} = 2$ with "
             "Gaussian-rational isometries (Cayley transforms of random rational Hermitian "
             "matrices), checked exactly")
    h = sp.symbols("h_1:10", real=True)
    phis = sp.symbols("phi_1:4", real=True)
    big_p, big_r, big_q = (_unitary2(h[3 * i:3 * i + 3], phis[i]) for i in range(3))
    d.step("unitary factors", sp.diag(big_p.H * big_p, big_r.H * big_r, big_q.H * big_q),
           sp.eye(6), "$P^*P = R^*R = Q^*Q = I$", check="numeric",
           display=(sp.Matrix([[_op("P^{*} P"), _op("R^{*} R"), _op("Q^{*} Q")]]),
                    sp.Matrix([[_op("I"), _op("I"), _op("I")]])))
    sig, bs, ks, x_beta, x_kappa = _aligned_flow(d, big_p, big_r, big_q, "", "numeric")
    big_p, big_r = _rational_unitary(3, 1)[:, :2], _rational_unitary(3, 2)[:, :2]
    _aligned_flow(d, big_p, big_r, _rational_unitary(2, 3), "rectangular ", "exact")
    b = [sp.Function(f"b_{j}", positive=True)(t) for j in (1, 2)]
    k = [sp.Function(f"k_{j}", positive=True)(t) for j in (1, 2)]
    in_time = {**dict(zip(bs, b, strict=True)), **dict(zip(ks, k, strict=True))}
    x_beta, x_kappa = x_beta.subs(in_time), x_kappa.subs(in_time)
    dot_b = [x_beta[j, j] / tau for j in (0, 1)]
    dot_k = [x_kappa[j, j] / tau for j in (0, 1)]
    balanced = {k[0]: sp.sqrt(N) * b[0], k[1]: sp.sqrt(N) * b[1]}
    d.step("balance is kept", sp.Matrix([(dot_k[j] - sp.sqrt(N) * dot_b[j]).subs(balanced)
                                         for j in (0, 1)]), sp.zeros(2, 1),
           "with $k_j = \\sqrt N b_j$ (the balanced ansatz, conserved quantity 0), "
           "$\\dot k_j = \\sqrt N\\dot b_j$: both equations agree",
           display=(sp.Matrix([sp.Derivative(k[j], t) - sp.sqrt(N) * sp.Derivative(b[j], t)
                               for j in (0, 1)]), sp.zeros(2, 1)))
    rhs = _strength_ode(d, sp.sqrt(N) * b[0] ** 2, b[0], dot_b[0].subs(balanced),
                        "$u_1 = b_1 k_1 = \\sqrt N b_1^2$, the first singular value of $M = "
                        "\\beta\\kappa = P\\operatorname{diag}(b_j k_j) Q^*$")
    rhs2 = sp.factor((tau * (sp.sqrt(N) * b[1] ** 2).diff(t)).subs(
        b[1].diff(t), dot_b[1].subs(balanced)))
    d.step("second mode", rhs2, rhs.subs({sig[0]: sig[1]}).subs(u(t), sp.sqrt(N) * b[1] ** 2),
           "mode 2 obeys mode 1's equation with $\\sigma_1 \\to \\sigma_2$",
           display=(tau * sp.Derivative(sp.Symbol("u_2"), t),
                    rhs.subs({sig[0]: sig[1]}).subs(u(t), sp.Symbol("u_2"))))
    base = r3()
    d.step("each mode obeys R3", rhs, base.ode.rhs.subs(s, sig[0]),
           "the right-hand side of R3 (symcnn.closed_forms.r3) with $s = \\sigma_j$",
           display=(tau * sp.Derivative(u(t), t), base.ode.rhs.subs(s, sig[0])))
    d.assume("from here on R3 applies with $s = \\sigma_j$")
    parts = dict(ode=sp.Eq(base.ode.lhs, base.ode.rhs), solution=base.solution,
                 stable=base.stable, half_time=base.half_time, u_inf=base.u_inf)
    return _reduction("R3c", d, parts)


def _aligned_flow(d: Derivation, big_p, big_r, big_q, prefix: str, check: str):
    """Steps ``{prefix}readout flow`` and ``{prefix}kernel flow``: with ``T = P diag(sigma)
    Q^*``, ``beta = P diag(b) R^*`` and ``kappa = R diag(k) Q^*``, R2's flows (white input)
    are ``tau dbeta/dt = P diag(k_j (sigma_j - b_j k_j)) R^*`` and ``tau dkappa/dt =
    R diag(N b_j (sigma_j - b_j k_j)) Q^*``.  Returns ``sigma, b, k`` and the two diagonals."""
    sig = sp.symbols("sigma_1 sigma_2", positive=True)
    b, k = sp.symbols("b_1 b_2", positive=True), sp.symbols("k_1 k_2", positive=True)
    beta = big_p * sp.diag(*b) * big_r.H
    kappa = big_r * sp.diag(*k) * big_q.H
    error = big_p * sp.diag(*sig) * big_q.H - beta * kappa
    mode = [sig[j] - b[j] * k[j] for j in (0, 1)]
    readout = sp.diag(*[mode[j] * k[j] for j in (0, 1)])
    kernel = sp.diag(*[N * b[j] * mode[j] for j in (0, 1)])
    shape = f"$N_o = {big_p.rows}$, $C = {big_r.rows}$, $C_{{in}} = {big_q.rows}$"
    d.step(f"{prefix}readout flow", error * kappa.H, big_p * readout * big_r.H,
           f"{shape}: $(T - \\beta\\kappa)\\kappa^* = P\\operatorname{{diag}}(k_j(\\sigma_j - "
           "b_j k_j)) R^*$, so $\\tau\\dot b_j = k_j(\\sigma_j - b_j k_j)$", check=check,
           display=(_op("\\tau\\dot\\beta"), _sandwich("P", readout, "R^{*}")))
    d.step(f"{prefix}kernel flow", N * beta.H * error, big_r * kernel * big_q.H,
           f"{shape}: $N\\beta^*(T - \\beta\\kappa) = R\\operatorname{{diag}}(N b_j(\\sigma_j - "
           "b_j k_j)) Q^*$, so $\\tau\\dot k_j = N b_j(\\sigma_j - b_j k_j)$", check=check,
           display=(_op("\\tau\\dot\\kappa"), _sandwich("R", kernel, "Q^{*}")))
    return sig, b, k, readout, kernel


# ----------------------------------------------------------------------------------------
# R5: deep, L - 1 full-kernel convolution layers


def _deep_rates(d: Derivation, depth: int, size: int = 4) -> None:
    """Per-frequency flow of ``depth`` full-kernel layers, from the pixel flow of
    :func:`symcnn.symbolic.gradient_flow` at ``N = size`` (``C = C_in = N_o = 1``)."""
    model = LinearCNN((size,), depth=depth)
    flow = gradient_flow(model)
    big_u = dft_matrix(model)
    kappas = [kernel_spectrum(model, w) for w in flow.params[:-1]]
    kappa_dots = [kernel_spectrum(model, w) for w in flow.rhs_g[:-1]]
    beta = _row_spectrum(sp.Matrix(flow.params[-1].reshape(1, -1)), big_u, 1)
    beta_dot = _row_spectrum(sp.Matrix(flow.rhs_g[-1].reshape(1, -1)), big_u, 1)
    g_hat = _row_spectrum(flow.g_symbols, big_u, 1)
    freqs = range(size)

    def product(f, skip=None):
        return sp.Mul(*[kappas[m][f][0] for m in range(depth) if m != skip])

    d.step("readout rate", sp.Matrix([beta_dot[f][0] for f in freqs]),
           sp.Matrix([-g_hat[f][0] * sp.conjugate(product(f)) for f in freqs]),
           f"pixel flow of $W$ (symcnn.symbolic.gradient_flow, ${depth}$ kernel layer(s), "
           f"$N = {size}$, generic $G = \\partial L/\\partial M$) through $\\beta_f = (W U^*)_f$:"
           " rate 1", display=(_op("\\tau\\dot\\beta_f"), -_op("\\hat G_f") * _op(
               "\\overline{\\kappa_{L-1,f}\\cdots\\kappa_{1,f}}")))
    d.step("kernel rates", sp.Matrix([kappa_dots[m][f][0] for m in range(depth) for f in freqs]),
           sp.Matrix([-size * sp.conjugate(beta[f][0] * product(f, skip=m)) * g_hat[f][0]
                      for m in range(depth) for f in freqs]),
           f"pixel flow of each kernel $w_l$ through $\\kappa_{{l,f}}$: every kernel layer has "
           f"the rate $N = {size}$ (a full kernel's weight acts at all $N$ positions, $D = N I$"
           ", as in R2)", display=(_op("\\tau\\dot\\kappa_{l,f}"), -N * _op(
               "\\overline{\\beta_f \\prod_{m \\ne l}\\kappa_{m,f}}") * _op("\\hat G_f")))
    d.assume(f"general $N$: the rates of the explicit $N = {size}$ flow, $N$ for each kernel "
             "layer and 1 for the readout (the Dirichlet matrix of a full kernel is $N I$ at "
             "every layer, R2)")


def _complex_symbol(name: str) -> sp.Expr:
    return sp.Symbol(f"{name}_r", real=True) + sp.I * sp.Symbol(f"{name}_i", real=True)


@cache
def r5(depth_l: int = 3) -> Reduction:
    """``L = depth_l`` layers: ``L - 1`` full-kernel convolutions and the readout, one
    frequency, ``C = C_in = N_o = 1`` (THEORY.md R5).

    Balanced aligned ansatz ``kappa_l = sqrt(N) r e^(i a_l)``, ``beta = r e^(i b)``:
    ``tau du/dt = L N^((L-1)/L) u^(2 - 2/L) (s - lambda u)`` for ``u = |M_f|``.  ``L = 2``:
    solved explicitly (equals R3b).  ``L > 2``: :attr:`Reduction.time_of_u` from
    ``t = tau int du / F(u)`` with ``u = (s/lambda) z^L`` (a rational integrand in ``z``),
    and the half-way time in closed form.
    """
    big_l = int(depth_l)
    if big_l < 2:
        raise ValueError(f"depth_l must be >= 2 (L layers: L - 1 >= 1 convolution layers "
                         f"and the readout), got {depth_l}")
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
    rhs = _strength_ode(d, strength, r, dot_b,
                        f"$\\tau\\dot u = {big_l} N^{{{sp.latex(sp.Rational(depth, 2))}}} "
                        f"r^{{{big_l - 1}}}\\,\\tau\\dot r$")
    name = f"R5(L={big_l})"
    if big_l == 2:
        d.step("equals R3b", rhs, r3b().ode.rhs, "for $L = 2$ this is R3b")
        return _reduction(name, d, _solve_logistic(d, rhs))
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
    time_of_u = antiderivative.subs(z, z_of) - antiderivative.subs(z, z_of.subs(v, u0))
    below = {"where": lambda vals: vals[v] < vals[s] / vals[lam]}
    d.step("implicit solution", time_of_u.diff(v), tau / big_f,
           "$t(u) = G(z(u)) - G(z(u_0))$, $z(u) = (\\lambda u/s)^{1/L}$: $dt/du = \\tau/F(u)$ "
           "and $t(u_0) = 0$", check="numeric", **below,
           display=(sp.Symbol("t(u)"), time_of_u))
    d.step("initial time", time_of_u.subs(v, u0), 0, "$t(u_0) = 0$")
    half = time_of_u.subs(v, u_inf / 2)
    d.step("half-way time", half, time_of_u.subs(v, u_inf / 2),
           "$t_{1/2} = t(u_\\infty/2)$, i.e. $z = 2^{-1/L}$",
           display=(sp.Symbol("t_{1/2}"), half))
    parts = dict(ode=ode, solution=None, stable=None, half_time=half, u_inf=u_inf)
    return _reduction(name, d, parts, time_of_u=time_of_u)


# ----------------------------------------------------------------------------------------
# R4: linearised small-kernel dynamics


def r4(size: int = 8, width: int = 3) -> Derivation:
    """Linearised small-kernel flow (THEORY.md R4) for ``N = size``, ``k = width``, white
    input, ``C_in = 1``: every step exact.

    Around small weights ``tau dkappa/dt = D (conj(beta) * T)``, ``tau dbeta/dt =
    T * conj(kappa)`` (entrywise over frequencies), so ``tau^2 d^2 kappa/dt^2 = D S^2 kappa``
    with ``S = diag(|T_f|)``: ``kappa = v e^(gamma t/tau)`` with ``D S^2 v = gamma^2 v``, and
    ``M_f = beta_f kappa_f`` grows like ``exp(2 gamma t / tau)``.  ``gamma^2`` are the
    eigenvalues of ``S D S``; its nonzero ones are those of the ``k x k`` Gram matrix
    ``E^* S^2 E`` with ``D = E E^*``, ``E[f, p] = exp(2 pi i f lag(p) / N)``.
    """
    model = LinearCNN((size,), (width,))
    big_d = dirichlet_matrix(model)
    half = size // 2
    d = Derivation(
        f"R4: growth rates of small kernels (N = {size}, k = {width})",
        "The kernel flow with the Dirichlet matrix $D_{fg} = \\sum_p e^{2\\pi i (f - g)\\,"
        "\\mathrm{lag}(p)/N}$ (symcnn.reduction.small_kernels), $\\tau\\dot\\kappa_f = "
        "\\sum_g D_{fg}\\bar\\beta_g(T_g - \\beta_g\\kappa_g)$, and the readout flow $\\tau"
        "\\dot\\beta_f = (T_f - \\beta_f\\kappa_f)\\bar\\kappa_f$ (white input, $C = C_{in} = "
        "N_o = 1$; with $C$ channels each channel obeys the same equations), linearised "
        "around small weights.")
    d.assume(f"$N = {size}$, $k = {width}$, cross-correlation, $\\mathrm{{lag}}(p) = p - "
             f"{(width - 1) // 2}$; white input")
    d.assume("real data: $T_f = s_f e^{i\\theta_f}$ with $s_{-f} = s_f \\ge 0$, $\\theta_{-f} "
             "= -\\theta_f$ ($\\theta_0 = \\theta_{N/2} = 0$ up to the sign of $s$)")
    sv = sp.symbols(f"s_0:{half + 1}", nonnegative=True)
    th = sp.symbols(f"theta_1:{half + (size % 2)}", real=True)

    def theta(f):
        g = min(f, size - f)
        if g == 0 or (2 * g == size):
            return sp.S.Zero
        return th[g - 1] if f == g else -th[g - 1]

    mags = [sv[min(f, size - f)] for f in range(size)]
    target = [mags[f] * sp.exp(sp.I * theta(f)) for f in range(size)]
    kap = [sp.Function(f"kappa_{f}")(t) for f in range(size)]
    bet = [sp.Function(f"beta_{f}")(t) for f in range(size)]
    eps = sp.Symbol("epsilon", positive=True)
    full = [sum((big_d[f, g] * sp.conjugate(eps * bet[g]) * (target[g] - eps**2 * bet[g] * kap[g])
                 for g in range(size)), sp.S.Zero) for f in range(size)]
    linear_k = sp.Matrix([sp.diff(e, eps).subs(eps, 0) for e in full])
    big_t = sp.diag(*target)
    bar_beta = sp.Matrix([sp.conjugate(b) for b in bet])
    d.step("linearised kernel flow", linear_k, big_d * big_t * bar_beta,
           "first order in the weights ($\\beta, \\kappa \\to \\epsilon\\beta, \\epsilon\\kappa$"
           ", $d/d\\epsilon$ at 0): $\\tau\\dot\\kappa = D\\,T\\bar\\beta$ with $T = "
           "\\operatorname{diag}(T_f)$; the remainder is cubic",
           display=(_op("\\tau\\dot\\kappa"), _op("D") * _op("T") * _op("\\bar\\beta")))
    d.step("no second order", sp.Matrix([sp.diff(e, eps, 2).subs(eps, 0) for e in full]),
           sp.zeros(size, 1), "the second $\\epsilon$-derivative vanishes",
           display=(sp.Symbol("\\partial_\\epsilon^2 \\tau\\dot\\kappa|_0"), 0))
    # second-order system: tau dbar(beta)/dt = conj(T) kappa (the readout flow, linearised)
    bar_beta_dot = sp.Matrix([sp.conjugate(target[f]) * kap[f] for f in range(size)]) / tau
    kappa_ddot = (tau * (big_d * big_t * bar_beta).diff(t)).subs(
        {sp.conjugate(bet[f]).diff(t): bar_beta_dot[f] for f in range(size)})
    big_s = sp.diag(*mags)
    d.step("second-order system", kappa_ddot,
           big_d * big_s**2 * sp.Matrix(kap),
           "differentiate and use the linearised readout flow $\\tau\\dot{\\bar\\beta} = "
           "\\bar T\\kappa$: $T\\bar T = S^2$, $S = \\operatorname{diag}(|T_f|)$; the phases "
           "drop out", display=(tau**2 * _op("\\ddot\\kappa"), _op("D") * _op("S^{2}")
                                * _op("\\kappa")))
    gamma = sp.Symbol("gamma", positive=True)
    vec = sp.Matrix(sp.symbols(f"v_0:{size}"))
    growth = sp.exp(gamma * t / tau)
    kappa_g = vec * growth
    bar_beta_g = sp.Matrix([sp.conjugate(target[f]) * vec[f] for f in range(size)]) * growth \
        / gamma
    d.step("exponential growth", tau * kappa_g.diff(t) - big_d * big_t * bar_beta_g,
           (gamma**2 * vec - big_d * big_s**2 * vec) * growth / gamma,
           "$\\kappa = v e^{\\gamma t/\\tau}$, $\\bar\\beta = \\bar T v e^{\\gamma t/\\tau}/"
           "\\gamma$ solve the linearised flow iff $D S^2 v = \\gamma^2 v$ (the readout "
           "equation holds identically)",
           display=(_op("\\tau\\dot\\kappa - D T\\bar\\beta"),
                    (gamma**2 * _op("v") - _op("D S^{2} v")) * growth / gamma))
    d.step("readout equation", tau * bar_beta_g.diff(t),
           sp.Matrix([sp.conjugate(target[f]) * kappa_g[f] for f in range(size)]),
           "$\\tau\\dot{\\bar\\beta} = \\bar T\\kappa$ for the growing solution")
    m_growth = sp.Matrix([sp.conjugate(bar_beta_g[f]) * kappa_g[f] for f in range(size)])
    d.step("end-to-end growth", m_growth, sp.Matrix(
        [target[f] * sp.conjugate(vec[f]) * vec[f] / gamma for f in range(size)])
        * sp.exp(2 * gamma * t / tau),
        "$M_f = \\beta_f\\kappa_f = T_f |v_f|^2 e^{2\\gamma t/\\tau}/\\gamma$: the end-to-end "
        "map grows like $e^{2\\gamma t/\\tau}$",
        display=(_op("M_f"), _op("T_f |v_f|^{2}") * sp.exp(2 * gamma * t / tau) / gamma))
    s_inv = sp.diag(*[1 / m for m in mags])
    d.step("similar to S D S", big_s * big_d * big_s**2 * s_inv, big_s * big_d * big_s,
           "$S (D S^2) S^{-1} = S D S$ (for $s_f > 0$; by continuity in general): "
           "$\\gamma^2$ are the eigenvalues of the Hermitian $S D S$",
           display=(_op("S D S^{2} S^{-1}"), _op("S D S")))
    lags = [p - model.offset[0] for p in range(width)]  # signed: lag(p) = p - o
    big_e = sp.Matrix(size, width, lambda f, p: phase(model, (f,), (lags[p],)))
    d.step("Dirichlet factorisation", big_e * big_e.H, big_d,
           "$D = E E^*$ with $E_{fp} = e^{2\\pi i f\\,\\mathrm{lag}(p)/N}$ ($N \\times k$)",
           display=(_op("E E^{*}"), _op("D")))
    gram = (big_e.H * big_s**2 * big_e).applyfunc(sp.expand)
    corr = [sp.expand(sum(mags[f] ** 2 * phase(model, (f,), (dd,)) for f in range(size)))
            for dd in range(width)]
    d.step("Gram matrix", gram,
           sp.Matrix(width, width, lambda p, q: corr[abs(lags[q] - lags[p])]),
           "$S D S = (SE)(SE)^*$ has the nonzero eigenvalues of $(SE)^*(SE) = E^* S^2 E$, "
           "the real symmetric Toeplitz matrix of $c_d = \\sum_f s_f^2 \\cos(2\\pi f d/N)$ "
           "(the power spectrum's Fourier coefficients at the kernel's lags)",
           display=(_op("E^{*} S^{2} E"), _op("[c_{\\mathrm{lag}(q) - \\mathrm{lag}(p)}]_{pq}")))
    x = sp.Symbol("x")
    d.step("Sylvester", sp.Determinant(sp.ImmutableMatrix(x * sp.eye(size) - big_s * big_d
                                                          * big_s)),
           x ** (size - width) * sp.Determinant(sp.ImmutableMatrix(x * sp.eye(width) - gram)),
           "$\\det(x I_N - (SE)(SE)^*) = x^{N-k}\\det(x I_k - (SE)^*(SE))$: checked at random "
           "$s_f$ and $x$", check="numeric",
           display=(sp.Symbol("\\det(x I_N - S D S)"),
                    x ** (size - width) * sp.Symbol("\\det(x I_k - E^* S^2 E)")))
    for f_star in range(half + 1):
        single = {sv[g]: 0 for g in range(half + 1) if g != f_star}
        single[sv[f_star]] = s
        top = s**2 * _top_eigenvalue(gram.subs(single).subs(s, 1))
        pair = sp.Abs(big_d[f_star, (-f_star) % size]) if 0 < 2 * f_star < size else 0
        d.step(f"single pair f* = {f_star}", top, s**2 * (width + pair),
               f"a mode on $\\pm f^* = \\pm {f_star}$ only: $\\gamma^2_{{\\max}} = s^2(k + "
               "|D_{f^*, -f^*}|)$" + (" ($f^*$ self-conjugate: $s^2 k$)" if pair == 0
                                      and f_star in (0, half) else "")
               + "; the largest eigenvalue of the Gram matrix by mpmath.eigh at 50 digits",
               check="numeric", display=(sp.Symbol("\\gamma^2_{\\max}"), s**2 * (width + pair)))
    return d


def _top_eigenvalue(matrix: sp.Matrix, dps: int = 50) -> sp.Float:
    """The largest eigenvalue of a numeric Hermitian matrix, by ``mpmath.eigh`` at ``dps``
    digits."""
    with mpmath.workdps(dps):
        values = [[sp.N(e, dps + 10) for e in row] for row in matrix.tolist()]
        entries = [[mpmath.mpc(str(sp.re(v)), str(sp.im(v))) for v in row] for row in values]
        return sp.Float(max(mpmath.eigh(mpmath.matrix(entries), eigvals_only=True)), dps)


def r4_growth_rates(t_hat, dirichlet) -> tuple[np.ndarray, np.ndarray]:
    """Growth rates of the linearised small-kernel flow (R4, white input, ``C_in = 1``).

    Parameters
    ----------
    t_hat : array
        ``T_f`` at every frequency (any shape; flattened row-major, like the model).
    dirichlet : (N, N) array
        ``D[f, g]`` in the same order (e.g. ``symcnn.reduction.dirichlet_matrix`` as
        complex numbers).

    Returns
    -------
    gamma : (N,) array
        ``sqrt`` of the eigenvalues of ``S D S`` (``S = diag(|T_f|)``), descending (negative
        rounding errors clipped to 0): the kernel spectrum grows like ``exp(gamma t/tau)``
        and the end-to-end map like ``exp(2 gamma t/tau)``.
    kernel : (N,) complex array
        The top kernel spectrum ``v`` (``D S^2 v = gamma_1^2 v``; ``v = D S w / gamma_1^2``
        for the top eigenvector ``w`` of ``S D S``), unit norm, with the entry of largest
        modulus (the first within a relative ``1e-9``) real and positive.
    """
    mags = np.abs(np.asarray(t_hat)).ravel()
    dm = np.asarray(dirichlet, dtype=complex)
    if dm.shape != (mags.size, mags.size):
        raise ValueError(f"dirichlet must have shape {(mags.size, mags.size)}, got {dm.shape}")
    if not np.allclose(dm, dm.conj().T, rtol=1e-12, atol=1e-12 * np.abs(dm).max()):
        raise ValueError("dirichlet must be Hermitian")
    sds = mags[:, None] * dm * mags[None, :]
    values, vectors = np.linalg.eigh((sds + sds.conj().T) / 2)
    order = np.argsort(values)[::-1]
    values, vectors = values[order], vectors[:, order]
    gamma = np.sqrt(np.clip(values, 0.0, None))
    if values[0] <= 0:
        raise ValueError("no growing mode: S D S has no positive eigenvalue")
    kernel = dm @ (mags * vectors[:, 0]) / values[0]
    kernel /= np.linalg.norm(kernel)
    moduli = np.abs(kernel)
    lead = int(np.argmax(moduli >= moduli.max() * (1 - 1e-9)))
    kernel *= np.conj(kernel[lead]) / moduli[lead]
    return gamma, kernel


# ----------------------------------------------------------------------------------------
# The document


def derivations() -> list[Derivation]:
    """The derivations of docs/derivations/closed_forms.{tex,md}, in order."""
    return [r1().derivation, r3().derivation, r3b().derivation, r3c().derivation,
            r5(2).derivation, r5(3).derivation, r5(4).derivation, r4()]


TITLE = "Closed forms of the reduced gradient flows"
INTRO = ("Each section is a checked derivation (symcnn.closed_forms): the ansatz is substituted "
         "into the flow, the velocities are solved for, the scalar ODE for the strength $u$ "
         "comes out of differentiation, sympy.dsolve solves it (confirmed by "
         "sympy.checkodesol), and the half-way time comes out of sympy.solve. Conventions of "
         "docs/conventions.md; $\\operatorname{exprel}(z) = (e^z - 1)/z$, "
         "$\\operatorname{exprel}(0) = 1$.")


def to_latex(items: list[Derivation] | None = None) -> str:
    """One amsmath document with a section per derivation."""
    items = derivations() if items is None else items
    body = []
    for item in items:
        text = item.to_latex()
        body.append(text[text.index(r"\begin{document}") + len(r"\begin{document}"):
                         text.index(r"\end{document}")].strip("\n"))
    head = [r"\documentclass{article}", r"\usepackage{amsmath,amssymb}", r"\allowdisplaybreaks",
            r"\begin{document}", rf"\title{{{TITLE}}}", r"\date{}", r"\maketitle",
            _tex_text(INTRO)]
    return "\n".join(head + body + [r"\end{document}", ""])


def to_markdown(items: list[Derivation] | None = None) -> str:
    """One Markdown document with a section per derivation."""
    items = derivations() if items is None else items
    parts = [f"# {TITLE}", "", INTRO, ""]
    for item in items:
        parts.append(re.sub(r"^# ", "## ", item.to_markdown(), count=1))
    return "\n".join(parts)
