"""``check``: a kernel against its expressions evaluated by SymPy at 50 digits.

The reference does not go through :mod:`symcnn.codegen.lowering` (rewrites, hoisting,
CSE): each original expression is evaluated by ``evalf`` with the exact inputs substituted,
so a lowering or printing error shows as a difference. (The module is not called
``check``: importing it would shadow the function ``symcnn.codegen.check``.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import mpmath
import numpy as np
import sympy as sp

from ..checks import numeric_array
from .kernel import Kernel

DIGITS = 50
"""Digits of the reference values."""


def check(kernel: Kernel, values: Mapping[str, Sequence[float]]) -> tuple[float, int]:
    """Largest relative difference between ``kernel`` and its expressions at 50 digits
    over the grid of ``values`` (argument name -> values), and the number of (point,
    output) pairs compared.

    The reference is SymPy's ``evalf`` at 50 digits of each expression of ``kernel.exprs``
    with the inputs substituted exactly (as rationals: the doubles themselves), so it is
    independent of the kernel's lowering. Points where that value is not a finite real
    number (a singularity such as ``0/0``, or outside the expression's domain) are skipped;
    a kernel value that is not finite where the reference is counts as an infinite
    difference.

    Raises
    ------
    TypeError
        ``kernel`` is not a :class:`Kernel`, ``values`` not a mapping, or holds values that
        are not real numbers.
    ValueError
        ``kernel`` has no expressions (built from its source alone); ``values`` does not
        name each argument once, or holds no value or NaN for one (``inf`` is allowed).
    """
    if not isinstance(kernel, Kernel):
        raise TypeError(f"kernel must be a symcnn.codegen Kernel (from compile), got "
                        f"{type(kernel).__name__}")
    if kernel.exprs is None:
        raise ValueError("check needs the kernel's expressions: compile it from them")
    grids = np.meshgrid(*_grid(kernel, values), indexing="ij")
    with np.errstate(all="ignore"):
        got = kernel(*grids)
    got = [got] if kernel.single else list(got)
    worst, compared = 0.0, 0
    for index in np.ndindex(grids[0].shape):
        point = {a: _exact(g[index]) for a, g in zip(kernel.args, grids, strict=True)}
        for expr, out in zip(kernel.exprs, got, strict=True):
            want = reference(expr, point)
            if want is not None:
                compared += 1
                worst = max(worst, _relative_difference(out[index], want))
    return worst, compared


def _grid(kernel: Kernel, values) -> list[np.ndarray]:
    """The values of each argument of ``kernel``, in call order, checked."""
    if not isinstance(values, Mapping):
        raise TypeError(f"values must map each argument name to its values, got "
                        f"{type(values).__name__}")
    missing = [n for n in kernel.names if n not in values]
    extra = [str(n) for n in values if n not in kernel.names]
    if missing or extra:
        raise ValueError(f"values must name the kernel's arguments ({', '.join(kernel.names)})"
                         f"; missing: {', '.join(missing) or 'none'}, not arguments: "
                         f"{', '.join(extra) or 'none'}")
    grid = []
    for name in kernel.names:
        array = numeric_array(f"values[{name!r}]", values[name]).ravel()
        if array.size == 0 or np.isnan(array).any():
            raise ValueError(f"values[{name!r}] must hold at least one value and no NaN, got "
                             f"{values[name]!r}")
        grid.append(array)
    return grid


def reference(expr: sp.Expr, point: Mapping[sp.Symbol, sp.Expr]) -> mpmath.mpf | None:
    """``expr`` at ``point`` to :data:`DIGITS` digits (SymPy's ``evalf``), or None if that
    is not a finite real number."""
    try:
        value = expr.xreplace(point).evalf(DIGITS)
    except (ArithmeticError, ValueError):  # e.g. mpmath's own domain errors
        return None
    if not (value.is_Number and value.is_finite):
        return None
    with mpmath.workdps(DIGITS):
        return mpmath.mpf(sp.Float(value, DIGITS)._mpf_)


def _exact(value: float) -> sp.Expr:
    """A double as the exact rational it is (``oo``, ``-oo`` for infinities)."""
    return sp.Rational(value) if np.isfinite(value) else sp.sympify(value)


def _relative_difference(got, want: mpmath.mpf) -> float:
    with mpmath.workdps(DIGITS):
        value = mpmath.mpf(got)
        if not mpmath.isfinite(value):
            return float("inf")
        scale = abs(want) if want != 0 else mpmath.mpf(1)
        return float(abs(value - want) / scale)
