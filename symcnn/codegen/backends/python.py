"""The Python backends: NumPy (float64 arrays) and mpmath (``dps`` digits).

Both print the lowered statements into a module defining ``kernel(a0, a1, ...)`` (from a
template holding the helper ``_exprel``), cache it sealed with a ``#`` checksum line and
load it with ``exec``.
"""

from __future__ import annotations

from pathlib import Path
from string import Template

from sympy.printing.numpy import NumPyPrinter
from sympy.printing.pycode import MpmathPrinter

from .. import cache
from ..kernel import Kernel, MpmathKernel, NumPyKernel, exec_source
from .base import Backend, Spec


class _NumPyPrinter(NumPyPrinter):
    def _print_exprel(self, expr):
        return f"_exprel({self._print(expr.args[0])})"

    def _print_Pow(self, expr, rational=False):
        if expr.exp == -1:  # 1/x: a division, twice as fast as numpy's x**(-1.0)
            base = self._print(expr.base)
            return f"1/{base}" if expr.base.is_Atom else f"1/({base})"
        return super()._print_Pow(expr, rational=rational)


class _MpmathPrinter(MpmathPrinter):
    def _print_exprel(self, expr):
        return f"_exprel({self._print(expr.args[0])})"


NUMPY_TEMPLATE = Template('''\
$header
import numpy


def _exprel(z):
    """(e^z - 1)/z, 1 at z = 0 (where z is replaced by 1e-300: expm1(z)/z is then 1)."""
    z = numpy.asarray(z, dtype=float)
    zero = z == 0
    if zero.any():
        z = numpy.where(zero, 1e-300, z)
    return numpy.expm1(z) / z


def kernel($arguments):
$statements    return (
$outputs    )
''')
MPMATH_TEMPLATE = Template('''\
$header
import mpmath

DPS = $dps


def _exprel(z):
    """(e^z - 1)/z, 1 at z = 0."""
    return mpmath.mpf(1) if z == 0 else mpmath.expm1(z) / z


def kernel($arguments):
    with mpmath.workdps(DPS):
$conversions$statements        return (
$outputs        )
''')


class PythonBackend(Backend):
    """A backend generating a Python module: ``template`` filled with the statements,
    indented by ``indent``, printed by ``printer``; the kernel is ``kernel_class``."""

    comment = "#"
    printer: type
    template: Template
    indent: str
    kernel_class: type[Kernel]

    def build(self, spec: Spec, directory: Path | None) -> Kernel:
        path = None if directory is None else directory / f"{spec.key}.py"
        # a warning points at compile's caller: cached_text <- build <- compile <- caller
        source, status = cache.cached_text(path, self.comment, spec.key,
                                           lambda: self.source(spec), stacklevel=3)
        function = exec_source(source, spec.key, path)
        return self.kernel_class(function, **spec.kernel_options(source, path, status),
                                 **self.kernel_settings(spec))

    def kernel_settings(self, spec: Spec) -> dict:
        """Keyword arguments of :attr:`kernel_class` beyond the common ones."""
        return {}

    def source(self, spec: Spec) -> str:
        """The generated module."""
        return self.template.substitute(self.fields(spec))

    def fields(self, spec: Spec) -> dict:
        """The values of the template's placeholders."""
        printer, lowered = self.printer(), spec.lowered
        statements = lowered.hoisted + lowered.replacements
        return {"header": "\n".join(self.header(spec)),
                "arguments": ", ".join(f"a{i}" for i in range(len(spec.args))),
                "statements": "".join(f"{self.indent}{sym} = {self.printed(printer, value)}\n"
                                      for sym, value in statements),
                "outputs": "".join(f"{self.indent}    {self.printed(printer, e)},\n"
                                   for e in lowered.reduced)}


class NumPyBackend(PythonBackend):
    """``"numpy"``: one NumPy statement per subexpression, on its own broadcast shape."""

    name = "numpy"
    printer = _NumPyPrinter
    template = NUMPY_TEMPLATE
    indent = " " * 4
    kernel_class = NumPyKernel


class MpmathBackend(PythonBackend):
    """``"mpmath"``: the same statements with mpmath functions at ``dps`` digits."""

    name = "mpmath"
    printer = _MpmathPrinter
    template = MPMATH_TEMPLATE
    indent = " " * 8
    kernel_class = MpmathKernel

    def settings(self, dps: int) -> dict:
        if int(dps) < 1:
            raise ValueError(f"dps must be positive, got {dps}")
        return {"dps": int(dps)}

    def key_parts(self, dps: int, compiler: str | None) -> dict:
        return {"dps": int(dps)}

    def label(self, spec: Spec) -> str:
        return f"{self.name}, {spec.dps} digits"

    def kernel_settings(self, spec: Spec) -> dict:
        return {"dps": spec.dps}

    def fields(self, spec: Spec) -> dict:
        conversions = "".join(f"{self.indent}a{i} = mpmath.mpf(a{i})\n"
                              for i in range(len(spec.args)))
        return {**super().fields(spec), "dps": spec.dps, "conversions": conversions}
