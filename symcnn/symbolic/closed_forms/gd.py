"""Gradient descent per frequency: one step of gradient descent on balanced aligned weights
is an exact discrete map of the strength, ``u' = u (1 + eta c (s - lambda u))^2``
(docs/theory-reference.md, Gradient descent per frequency)."""

from __future__ import annotations

from functools import cache

import sympy as sp

from ..derivation import Derivation
from .base import Reduction, lam, s, v


@cache
def gd() -> Reduction:
    """One step of gradient descent per frequency under the balanced aligned ansatz.

    A step ``theta <- theta - eta dL/dtheta`` (time ``t = eta tau k`` after ``k`` steps) keeps
    the weights balanced and aligned and maps the strength exactly: :attr:`Reduction.update`
    is ``u' = u (1 + eta c (s - lambda u))^2`` as the derivation computes it (``c = sqrt(N)``
    for the CNN, ``1`` for the fully connected network), with :attr:`Reduction.symbols`
    ``u, eta, s, lam, c`` in that order: ``gd().kernel("update")`` takes ``(u, eta, s,
    lambda, c)``.  The fixed point ``u = s/lambda`` is stable iff ``0 < eta c s < 1``.
    """
    r, eta, c = sp.symbols("r eta c", positive=True)
    a, b = sp.symbols("a b", real=True)
    d = Derivation(
        "Gradient descent per frequency: the exact discrete map",
        "One step $\\theta \\leftarrow \\theta - \\eta\\,\\partial L/\\partial\\theta$ of the "
        "weights is, through the linear change of variables of R2, the step "
        "$\\beta_f \\leftarrow \\beta_f + \\eta E_f \\kappa_f^*$, "
        "$\\kappa_f \\leftarrow \\kappa_f + \\eta c^2 \\beta_f^* E_f$ with "
        "$E_f = T_f - \\lambda_f M_f$, both evaluated at the old weights ($c^2 = N$ for the "
        "CNN, $c = 1$ for the fully connected network, whose modes play the frequencies' "
        "role). Time $t = \\eta\\tau k$ after $k$ steps.")
    d.assume("full kernel and stationary input (R2), one singular mode (scalars, or each mode "
             "of R3c)")
    d.assume("balanced aligned weights: $\\kappa = c\\, r e^{ia}$, $\\beta = r e^{ib}$, "
             "$T = s e^{i(a+b)}$")
    kappa, beta, t_f = c * r * sp.exp(sp.I * a), r * sp.exp(sp.I * b), s * sp.exp(sp.I * (a + b))
    u = v  # the strength before the step
    error = t_f - lam * beta * kappa
    beta_new = beta + eta * error * sp.conjugate(kappa)
    kappa_new = kappa + eta * c**2 * sp.conjugate(beta) * error
    r_new = sp.expand(sp.simplify(beta_new * sp.exp(-sp.I * b)))
    d.step("readout keeps its phase", beta_new, r_new * sp.exp(sp.I * b),
           "$\\beta' = r' e^{ib}$ with the real amplitude $r'$ read off")
    d.step("kernel stays balanced", kappa_new, c * r_new * sp.exp(sp.I * a),
           "$\\kappa' = c\\, r' e^{ia}$: the balance $|\\kappa| = c|\\beta|$ and the alignment "
           "are kept exactly")
    u_new = sp.factor(c * r_new**2).subs(r, sp.sqrt(u / c))
    map_ = u * (1 + eta * c * (s - lam * u)) ** 2
    d.step("strength map", u_new, map_,
           "$u = |M_f| = c\\, r^2$ after one step", display=(sp.Symbol("u'"), map_))
    slope = sp.diff(map_, u).subs(u, s / lam)
    d.step("fixed point", map_.subs(u, s / lam), s / lam,
           "$u^* = s/\\lambda$ is a fixed point of the map")
    d.step("stability", slope, 1 - 2 * eta * c * s,
           "its slope; the fixed point is stable iff $0 < \\eta c s < 1$",
           display=(sp.Symbol("\\left.\\frac{du'}{du}\\right|_{u = s/\\lambda}"),
                    1 - 2 * eta * c * s))
    symbols = {"u": u, "eta": eta, "s": s, "lam": lam, "c": c}
    return Reduction("GD", d, symbols=symbols, update=d["strength map"].lhs)
