"""What every closed form shares: the :class:`Reduction` it returns, the symbols of the
reduced flows, and the solving steps (the strength ODE by the chain rule, the logistic
solution with its stable form, checked by ``sympy.checkodesol``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

from ... import codegen
from ...codegen import exprel
from ..derivation import Derivation, DerivationError
from ..reductions import N

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
"""A value of the strength: the argument of :attr:`Reduction.time_of_u` and of
:attr:`Reduction.update`."""
u = sp.Function("u")
"""The strength ``u(t)`` in :attr:`Reduction.ode`."""

__all__ = ["N", "Reduction", "exprel", "lam", "s", "t", "tau", "u", "u0", "v"]


@dataclass(frozen=True, eq=False)
class Reduction:
    """A reduced learning-curve result and its closed forms, every step derived and checked.

    The expression fields a result lacks are ``None``.

    Attributes
    ----------
    name : str
        ``"R1"``, ``"R3"``, ``"R3b"``, ``"R3c"``, ``"R4(N=8, k=3)"``, ``"R5(L=3)"``,
        ``"GD"``, ...
    derivation : Derivation
        Every step checked.
    ode : sympy.Eq or None
        ``tau du/dt = F(u)`` in the function :data:`u` of :data:`t` (R1 to R5); for R4 the
        linearised second-order system ``tau^2 d^2 kappa/dt^2 = D S^2 kappa`` (a matrix
        equation in the functions ``kappa_f(t)``).
    solution : sympy expression or None
        ``u(t)`` with ``u(0) = u0``; for R4 the end-to-end growth ``M_f(t) = T_f |v_f|^2
        e^(2 gamma t/tau) / gamma`` along a growing mode ``v`` (``D S^2 v = gamma^2 v``), a
        column over the frequencies; ``None`` when only :attr:`time_of_u` is known.
    stable : sympy expression or None
        ``solution`` rewritten to evaluate in floating point without overflow or
        cancellation (uses :class:`exprel`), with a finite ``s -> 0`` limit.
    half_time : sympy expression or None
        The time at which ``u = u_inf / 2`` (for ``u0 < u_inf / 2``).
    u_inf : sympy expression or None
        ``lim_{t -> oo} u(t)``.
    symbols : dict
        Role -> symbol of every parameter the expressions use, in call order: ``t, tau, s,
        lam, u0, N`` (those present), and ``u`` (:data:`v`) when :attr:`time_of_u` is set;
        ``u, eta, s, lam, c`` for :attr:`update`.
    time_of_u : sympy expression or None
        The time at which the strength reaches :data:`v` (negative for ``v < u0``), derived on
        the growing branch ``0 < u0 < u_inf``, ``v < u_inf`` (R5, ``L > 2``: NaN in floating
        point outside it, but 0 at ``v = u0``).
    update : sympy expression or None
        One step of a discrete map, the new strength ``u'`` in the old one :data:`v`
        (gradient descent, :func:`~symcnn.symbolic.closed_forms.gd`).
    """

    name: str
    derivation: Derivation
    ode: sp.Eq | None = None
    solution: sp.Basic | None = None
    stable: sp.Expr | None = None
    half_time: sp.Expr | None = None
    u_inf: sp.Expr | None = None
    symbols: dict = field(default_factory=dict)
    time_of_u: sp.Expr | None = None
    update: sp.Expr | None = None

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

    def _field(self, field: str) -> sp.Basic:
        if field not in FIELDS:
            raise ValueError(f"field must be one of {', '.join(FIELDS)}, got {field!r}")
        expr = getattr(self, field)
        if expr is None:
            raise ValueError(f"{self.name} has no {field}")
        return expr


FIELDS = ("ode", "solution", "stable", "half_time", "u_inf", "time_of_u", "update")
"""The expression fields of a :class:`Reduction` (each may be None)."""


def symbols_of(*exprs) -> dict:
    """The :attr:`Reduction.symbols` of a learning curve: those of ``t, tau, s, lam, u0, N``
    and ``u`` (:data:`v`) that ``exprs`` (``None`` skipped) use, in that order."""
    free = set().union(*(sp.sympify(e).free_symbols for e in exprs if e is not None))
    order = {"t": t, "tau": tau, "s": s, "lam": lam, "u0": u0, "N": N, "u": v}
    return {name: sym for name, sym in order.items() if sym in free}


def reduction(name: str, d: Derivation, parts: dict, time_of_u=None) -> Reduction:
    """The :class:`Reduction` of a learning curve from ``parts`` (``ode``, ``solution``,
    ``stable``, ``half_time``, ``u_inf``)."""
    exprs = [parts["solution"], parts["stable"], parts["half_time"], parts["u_inf"],
             parts["ode"].rhs, time_of_u]
    return Reduction(name, d, ode=parts["ode"], solution=parts["solution"],
                     stable=parts["stable"], half_time=parts["half_time"],
                     u_inf=parts["u_inf"], symbols=symbols_of(*exprs), time_of_u=time_of_u)


def checkodesol(ode: sp.Eq, solution: sp.Eq, what: str) -> str:
    """``sympy.checkodesol``'s verdict on ``solution`` as text; raises
    :class:`~symcnn.symbolic.derivation.DerivationError` if it rejects it."""
    result = sp.checkodesol(ode, solution)
    if result[0] is not True:
        raise DerivationError(f"sympy.checkodesol rejects the solution of {what}: {result}")
    return f"sympy.checkodesol returns {result}"


def solve_logistic(d: Derivation, rhs: sp.Expr) -> dict:
    """Solve ``tau du/dt = rhs(u)`` (a logistic right-hand side) with ``u(0) = u0`` and add
    the steps: dsolve, initial value, limit, half time, and the stable form through the
    Bernoulli substitution ``w = 1/u``.  Returns the ``parts`` of :func:`reduction`."""
    ode = sp.Eq(tau * u(t).diff(t), rhs)
    solved = sp.dsolve(ode, u(t), ics={u(0): u0})
    verdict = checkodesol(ode, solved, "the strength ODE")
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
    verdict = checkodesol(linear_ode, w_solved, "the linear ODE")
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


def strength_ode(d: Derivation, strength: sp.Expr, r: sp.Expr, r_dot: sp.Expr,
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


def sandwich(left: str, middle: sp.Matrix, right: str) -> sp.MatMul:
    """``left middle right`` for display, unevaluated (``left``, ``right`` in LaTeX)."""
    rows, cols = middle.shape
    return sp.MatMul(sp.MatrixSymbol(left, rows, rows), sp.ImmutableMatrix(middle),
                     sp.MatrixSymbol(right, cols, cols), evaluate=False)
