"""R1: the fully connected network (Saxe et al. 2014), white input, balanced aligned
modes: ``tau du/dt = 2 u (s - u)`` per mode, solved (docs/theory-reference.md, R1)."""

from __future__ import annotations

from functools import cache

import sympy as sp

from ..derivation import Derivation, op
from .base import Reduction, reduction, s, sandwich, solve_logistic, strength_ode, t, tau


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


@cache
def r1() -> Reduction:
    """Fully connected two-layer network (docs/theory-reference.md, R1), white input,
    balanced aligned weights: ``tau du/dt = 2 u (s - u)`` per mode, solved.

    The flow ``tau dW_1/dt = W_2^T (Sigma_yx - W_2 W_1)``, ``tau dW_2/dt = (Sigma_yx -
    W_2 W_1) W_1^T`` (:func:`symcnn.symbolic.reductions.fully_connected`) with
    ``Sigma_yx = U S V^T`` and the ansatz ``W_1 = R A V^T``, ``W_2 = U A R^T``,
    ``A = diag(a_1, a_2)``, for generic orthogonal ``U, R`` (2 x 2) and orthonormal columns
    ``V`` (3 x 2): rational Cayley parametrisations, so every identity is decided exactly.
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
           display=(sp.Matrix([[op("U^{T} U"), op("R^{T} R"), op("V^{T} V")]]),
                    sp.Matrix([[op("I"), op("I"), op("I")]])))
    d.step("balanced", (w1 * w1.T - w2.T * w2).applyfunc(sp.cancel), sp.zeros(2),
           "$W_1 W_1^T = W_2^T W_2 = R A^2 R^T$: the conserved quantity of the flow is 0",
           display=(op("W_1 W_1^{T} - W_2^{T} W_2"), sp.Integer(0)))
    error = syx - w2 * w1
    flow1, flow2 = w2.T * error, error * w1.T
    x1 = (big_r.T * flow1 * big_v).applyfunc(sp.cancel)
    x2 = (big_u.T * flow2 * big_r).applyfunc(sp.cancel)
    d.step("first layer", flow1.applyfunc(sp.cancel), (big_r * x1 * big_v.T).applyfunc(sp.cancel),
           "the flow of $W_1$ stays of the form $R\\,(\\cdot)\\,V^T$ with a diagonal middle "
           "factor (computed as $R^T \\tau\\dot W_1 V$)",
           display=(op("\\tau \\dot{W}_1"), sandwich("R", x1, "V^{T}")))
    d.step("second layer", flow2.applyfunc(sp.cancel),
           (big_u * x2 * big_r.T).applyfunc(sp.cancel),
           "the flow of $W_2$ stays of the form $U\\,(\\cdot)\\,R^T$, diagonal middle factor",
           display=(op("\\tau \\dot{W}_2"), sandwich("U", x2, "R^{T}")))
    d.step("both layers agree", x1, x2,
           "$\\tau\\dot W_1 = R\\,\\tau\\dot A\\,V^T$ and $\\tau\\dot W_2 = U\\,\\tau\\dot A\\,"
           "R^T$ give the same $\\tau\\dot a_j$: the ansatz is consistent")
    (a_dot,) = sp.solve(sp.Eq(tau * a[0].diff(t), x1[0, 0]), a[0].diff(t))
    (a2_dot,) = sp.solve(sp.Eq(tau * a[1].diff(t), x1[1, 1]), a[1].diff(t))
    d.step("modes decouple", a2_dot, a_dot.subs({a[0]: a[1], s1: s2}),
           "mode 2 obeys mode 1's equation with $s_1 \\to s_2$",
           display=(sp.Derivative(a[1], t), a2_dot))
    rhs = strength_ode(d, a[0] ** 2, a[0], a_dot,
                        "$u = a_1^2$ (the mode's singular value of $W_2 W_1$), "
                        "$\\tau\\dot u = 2 a_1\\tau\\dot a_1$").subs(s1, s)
    d.assume("from here $s = s_1$ (any mode)")
    return reduction("R1", d, solve_logistic(d, rhs))

