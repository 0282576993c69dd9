"""Math functions meant for generated code (as SymPy's ``sympy.codegen.cfunctions``).

Each function states a form that every backend evaluates without cancellation; the
printers of :mod:`symcnn.codegen.backends` know how to print it.
"""

from __future__ import annotations

import mpmath
import sympy as sp
from mpmath.libmp import prec_to_dps


class exprel(sp.Function):
    r"""``exprel(z) = (e^z - 1)/z`` for ``z != 0``, ``exprel(0) = 1`` (entire in ``z``).

    Positive for real ``z``; ``exprel(-x) = (1 - e^{-x})/x`` lies in ``(0, 1]`` for ``x >= 0``
    and behaves like ``1/x`` at large ``x``. Every backend evaluates it as ``expm1(z)/z``,
    without cancellation, and returns 1 at ``z = 0``.

    Examples
    --------
    >>> from sympy import Piecewise, Rational, Symbol, exp, oo
    >>> from symcnn.codegen import exprel
    >>> z = Symbol("z")
    >>> exprel(0), exprel(-oo)
    (1, 0)
    >>> exprel(z).diff(z)
    (exp(z) - exprel(z))/z
    >>> exprel(z).rewrite(exp)
    (exp(z) - 1)/z
    >>> exprel(z).rewrite(Piecewise)
    Piecewise((1, Eq(z, 0)), ((exp(z) - 1)/z, True))
    >>> exprel(-40).evalf(20)
    0.024999999999999999894
    >>> exprel(Rational(1, 10**30)).evalf(20)  # (e^z - 1)/z would cancel here
    1.0000000000000000000
    >>> exprel(-Symbol("x", positive=True)).is_positive
    True
    """

    nargs = 1

    @classmethod
    def eval(cls, z):
        if z.is_zero:
            return sp.S.One
        if z is sp.S.NegativeInfinity:
            return sp.S.Zero
        return None

    def fdiff(self, argindex=1):
        z = self.args[0]
        return (sp.exp(z) - exprel(z)) / z

    def _eval_is_real(self):
        return self.args[0].is_real

    def _eval_is_positive(self):
        return True if self.args[0].is_real else None

    def _eval_rewrite_as_exp(self, z, **kwargs):
        """``(e^z - 1)/z``: equal for ``z != 0`` only."""
        return (sp.exp(z) - 1) / z

    def _eval_rewrite_as_Piecewise(self, z, **kwargs):
        return sp.Piecewise((sp.S.One, sp.Eq(z, 0)), ((sp.exp(z) - 1) / z, True))

    def _eval_evalf(self, prec):
        z = self.args[0].evalf(prec_to_dps(prec) + 10)
        if not (z.is_Number and z.is_real):
            return None
        with mpmath.workprec(prec + 30):
            x = mpmath.mpf(z._mpf_)
            value = mpmath.mpf(1) if x == 0 else mpmath.expm1(x) / x
        return sp.Float(value, precision=prec)
