"""Kernels generated from closed forms: NumPy, mpmath and C, cached on disk.

``compile(exprs, args, backend)`` turns SymPy expressions into a :class:`Kernel`, a callable
``kernel(*arrays)`` that evaluates them elementwise over the broadcast of its inputs (for
example frequencies ``s[:, None]`` against times ``t[None, :]``). The expressions are
evaluated exactly as written: numerical stability must be in the expression, e.g. the
``stable`` forms of :mod:`symcnn.closed_forms`. Two rewrites are applied, both of which only
remove cancellation: ``exp(x) - 1 -> expm1(x)`` and ``log(1 + x) -> log1p(x)``. The function
:class:`exprel`, ``(e^z - 1)/z`` continued by 1 at ``z = 0``, lets an expression state a
removable singularity such as ``(1 - e^{-c s})/s`` at ``s = 0`` so that every backend
evaluates it without ``0/0``.

Backends
    ``"numpy"``: common-subexpression elimination (``sympy.cse``), one NumPy statement per
    subexpression; intermediate arrays take the broadcast shape of their own arguments, so
    work that depends on the times only is done once per time. Large inputs are evaluated in
    blocks that fit in cache. Underflow is ignored inside the kernel (terms such as
    ``e^{-x}`` at large ``x`` are meant to vanish); overflow, division by zero and invalid
    operations follow the caller's ``numpy.errstate``.
    ``"mpmath"``: the same statements with mpmath functions at ``dps`` decimal digits;
    returns object arrays of ``mpmath.mpf`` (inputs may be floats, integers, strings or
    mpf).
    ``"c"``: C99 source from SymPy's ``C99CodePrinter``, one loop over the broadcast arrays
    (any number of dimensions, zero strides for broadcast axes), compiled with the system C
    compiler (``$CC``, ``cc``, ``gcc`` or ``clang``; :data:`CFLAGS`, ``-O3`` with IEEE
    arithmetic as written, never ``-ffast-math``) and loaded with ``ctypes``. On x86-64
    Linux the source declares the SIMD variants of glibc's vector math library (libmvec,
    glibc >= 2.35; errors of a few ulp) and clones the loop for AVX2, so that GCC
    vectorizes it; where that fails to build the kernel is compiled without them. Without
    a compiler ``compile`` raises :class:`CompilerNotFound`.

Hoisting
    ``compile(..., inner=(t,))`` specialises a kernel to inputs along whose last axis only
    ``t`` varies (a time grid): each largest subexpression free of ``t`` (the ``t``-free
    factors of a product or terms of a sum gathered first) becomes a statement computed
    once per row in C, on its own broadcast shape in NumPy. The C kernel checks the strides
    and runs a general loop for other layouts. ``compile_reduction`` sets ``inner`` to the
    time.

Cache
    Generated files live in ``$SYMCNN_CACHE`` if set (``off`` disables the cache), else
    ``$XDG_CACHE_HOME/symcnn/kernels`` or ``~/.cache/symcnn/kernels``; the ``cache`` argument
    overrides both (``False`` disables). The key is a SHA-256 of ``sympy.srepr`` of the
    expressions and arguments, the backend (and ``dps`` or the compiler), the symcnn and
    SymPy versions, the code format and a hash of this module's source. Each file stores
    the SHA-256 of its content (the shared library's is in a JSON manifest); an entry that
    fails the check (truncated, garbled) is regenerated. The check detects corruption, not
    tampering: the cache directory must be trusted like the package itself. Generated
    source is deterministic (no dates, paths or hash-seed dependent ordering).
"""

from __future__ import annotations

import builtins
import ctypes
import functools
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import mpmath
import numpy as np
import sympy as sp
from mpmath.libmp import prec_to_dps
from sympy.codegen.rewriting import expm1_opt, log1p_opt, optimize
from sympy.printing.c import C99CodePrinter
from sympy.printing.codeprinter import PrintMethodNotImplementedError
from sympy.printing.numpy import NumPyPrinter
from sympy.printing.pycode import MpmathPrinter

BACKENDS = ("numpy", "mpmath", "c")
FORMAT = 2
"""Version of the generated code; part of the cache key (with a hash of this file, so that
an edited generator never reuses stale entries)."""
CFLAGS = ("-O3", "-std=c99", "-fPIC", "-shared", "-ffp-contract=off", "-fno-math-errno",
          "-fno-trapping-math")
"""C compiler flags: IEEE arithmetic as written (no contraction to FMA, never -ffast-math);
errno and floating-point traps are not observed, which lets GCC vectorize."""
VECTOR_LIBS = ("-Wl,-z,defs", "-lmvec", "-lm")
"""Linked when the source declares libmvec's SIMD variants (undefined symbols fail the link
and the kernel is rebuilt without them)."""
VECTOR_MATH = platform.machine() in ("x86_64", "AMD64") and sys.platform.startswith("linux")
"""Whether to try libmvec (glibc's vector math library, x86-64)."""
LIBMVEC = {"acos": 1, "acosh": 1, "asin": 1, "asinh": 1, "atan": 1, "atan2": 2, "atanh": 1,
           "cbrt": 1, "cos": 1, "cosh": 1, "erf": 1, "erfc": 1, "exp": 1, "exp10": 1,
           "exp2": 1, "expm1": 1, "hypot": 2, "log": 1, "log10": 1, "log1p": 1, "log2": 1,
           "pow": 2, "sin": 1, "sinh": 1, "tan": 1, "tanh": 1}
"""Functions with SIMD variants in glibc >= 2.35's libmvec (x86-64), by number of
arguments."""
BLOCK = 1 << 16
"""Elements per block of the NumPy kernel (intermediates stay in the L2 cache)."""
MAX_DIMS = 64

CACHE_STATS: Counter = Counter()
"""How ``compile`` obtained its code: ``hit``, ``miss``, ``regenerated`` (a corrupted entry
was replaced) or ``off`` (no cache)."""


class CompilerNotFound(RuntimeError):
    """No C compiler: the ``"c"`` backend is unavailable."""


class exprel(sp.Function):
    r"""``exprel(z) = (e^z - 1)/z`` for ``z != 0``, ``exprel(0) = 1`` (entire in ``z``).

    Positive for real ``z``; ``exprel(-x) = (1 - e^{-x})/x`` lies in ``(0, 1]`` for ``x >= 0``
    and behaves like ``1/x`` at large ``x``. Every backend evaluates it as ``expm1(z)/z``,
    without cancellation, and returns 1 at ``z = 0``.
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


# Printers -------------------------------------------------------------------------------


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


class _CPrinter(C99CodePrinter):
    """C99 with numeric literals for constants (no ``M_PI``: not in strict C99)."""

    def __init__(self, settings=None):
        super().__init__({"math_macros": {}, **(settings or {})})

    def _print_exprel(self, expr):
        return f"symcnn_exprel({self._print(expr.args[0])})"

    def _print_NumberSymbol(self, expr):
        return repr(float(expr))

    _print_Pi = _print_Exp1 = _print_EulerGamma = _print_Catalan = _print_NumberSymbol
    _print_GoldenRatio = _print_NumberSymbol


NUMPY_HELPERS = '''
def _exprel(z):
    """(e^z - 1)/z, 1 at z = 0 (where z is replaced by 1e-300: expm1(z)/z is then 1)."""
    z = numpy.asarray(z, dtype=float)
    zero = z == 0
    if zero.any():
        z = numpy.where(zero, 1e-300, z)
    return numpy.expm1(z) / z
'''
MPMATH_HELPERS = '''
def _exprel(z):
    """(e^z - 1)/z, 1 at z = 0."""
    return mpmath.mpf(1) if z == 0 else mpmath.expm1(z) / z
'''
C_HELPERS = """
static double symcnn_exprel(double z)
{
    return z == 0.0 ? 1.0 : expm1(z) / z;
}
"""


# Preparing the expressions --------------------------------------------------------------


def _prepare(exprs, args) -> tuple[tuple[sp.Expr, ...], tuple[sp.Symbol, ...], bool]:
    """Sympified expressions and arguments, checked; ``single`` if one expression was given."""
    single = isinstance(exprs, sp.Basic) or not isinstance(exprs, Iterable)
    exprs = (exprs,) if single else tuple(exprs)
    if not exprs:
        raise ValueError("no expressions to compile")
    exprs = tuple(sp.sympify(e) for e in exprs)
    if isinstance(args, sp.Symbol):
        args = (args,)
    args = tuple(args)
    if not args:
        raise ValueError("a kernel needs at least one argument")
    for a in args:
        if not isinstance(a, sp.Symbol):
            raise ValueError(f"argument {a!r} is not a SymPy Symbol")
    names = [a.name for a in args]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ValueError(f"duplicated argument names: {', '.join(duplicated)}")
    for i, e in enumerate(exprs):
        if not isinstance(e, sp.Expr):
            raise ValueError(f"expression {i} is not a SymPy expression: {e!r}")
        extra = sorted(s.name for s in e.free_symbols - set(args))
        if extra:
            raise ValueError(f"expression {i} has symbols that are not arguments: "
                             f"{', '.join(extra)}")
        if e.has(sp.I):
            raise ValueError(f"expression {i} is complex; kernels are real")
        bad = sorted({type(f).__name__ for f in e.atoms(sp.Derivative, sp.Integral,
                                                        sp.core.function.AppliedUndef)})
        if bad:
            raise ValueError(f"expression {i} contains unevaluated {', '.join(bad)}")
    return exprs, args, single


def _inner_args(inner, args) -> tuple[sp.Symbol, ...]:
    """The ``inner`` arguments (symbols or names) as symbols, in argument order."""
    if isinstance(inner, str | sp.Symbol):
        inner = (inner,)
    names = {a.name: a for a in args}
    unknown = [str(a) for a in inner if str(a) not in names]
    if unknown:
        raise ValueError(f"inner: {', '.join(unknown)} not among the arguments "
                         f"({', '.join(names)})")
    chosen = {str(a) for a in inner}
    return tuple(a for a in args if a.name in chosen)


def cache_key(exprs, args, backend: str, dps: int = 30, version: str | None = None,
              compiler: str | None = None, inner: Sequence[sp.Symbol | str] = ()) -> str:
    """SHA-256 (hex) of what determines a kernel's generated code.

    ``sympy.srepr`` of the expressions and arguments, the modules of their function classes,
    the backend, ``dps`` (mpmath), the compiler identity and flags (C), the symcnn version
    (default: installed), the SymPy version, :data:`FORMAT` and a hash of this module.
    """
    exprs, args, _ = _prepare(exprs, args)
    inner = _inner_args(inner, args)
    if version is None:
        import symcnn

        version = symcnn.__version__
    # srepr names a function by its class name only: add where each class comes from
    functions = sorted({f"{type(f).__module__}.{type(f).__qualname__}"
                        for e in exprs for f in e.atoms(sp.Function)})
    parts = {"exprs": [sp.srepr(e) for e in exprs], "args": [sp.srepr(a) for a in args],
             "functions": functions, "backend": backend, "symcnn": version,
             "sympy": sp.__version__, "format": FORMAT, "generator": _generator_hash(),
             "inner": [a.name for a in inner]}
    if backend == "mpmath":
        parts["dps"] = int(dps)
    if backend == "c":
        parts["compiler"] = compiler
        parts["cflags"] = list(CFLAGS) + list(VECTOR_LIBS if VECTOR_MATH else ())
        parts["machine"] = platform.machine()
    text = json.dumps(parts, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


@functools.cache
def _generator_hash() -> str:
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()


def _hoist(expr, inner: frozenset, table: dict):
    """``expr`` with each largest subexpression free of the ``inner`` symbols replaced by a
    symbol ``h<i>`` (``table``: value -> symbol). The factors of a product and the terms of
    a sum that are free of them are gathered first: ``2 t sqrt(N)/tau -> h0 t``."""
    if not expr.args:
        return expr
    if not isinstance(expr, sp.Expr):
        return expr.func(*(_hoist(a, inner, table) for a in expr.args))
    if not expr.free_symbols & inner:
        return table.setdefault(expr, sp.Symbol(f"h{len(table)}"))
    if isinstance(expr, sp.Add | sp.Mul):
        fixed = [a for a in expr.args if not a.free_symbols & inner]
        moving = [_hoist(a, inner, table) for a in expr.args if a.free_symbols & inner]
        if fixed:
            moving.insert(0, _hoist(expr.func(*fixed), inner, table))
        return expr.func(*moving)
    return expr.func(*(_hoist(a, inner, table) for a in expr.args))


def _lower(exprs, args, inner=()):
    """Renamed (``a0, a1, ...``), rewritten and CSE-reduced expressions:
    ``(hoisted, replacements, reduced, operations)``. ``hoisted`` are the statements free of
    the ``inner`` arguments (none if ``inner`` is empty), ``replacements`` the others."""
    renamed = {a: sp.Symbol(f"a{i}", **a.assumptions0) for i, a in enumerate(args)}
    exprs = [optimize(e.xreplace(renamed), [expm1_opt, log1p_opt]) for e in exprs]
    hoisted = []
    if inner:
        table: dict = {}
        moving = frozenset(renamed[a] for a in inner)
        exprs = [_hoist(e, moving, table) for e in exprs]
        if table:
            common, values = sp.cse(list(table), symbols=sp.numbered_symbols("k"),
                                    order="canonical")
            hoisted = common + list(zip(table.values(), values, strict=True))
    replacements, reduced = sp.cse(exprs, symbols=sp.numbered_symbols("c"), order="canonical")
    operations = sum(sp.count_ops(v) for _, v in hoisted + replacements) + sum(
        sp.count_ops(e) for e in reduced)
    return hoisted, replacements, reduced, operations


def _printed(printer, expr, backend: str) -> str:
    try:
        text = printer.doprint(expr)
    except PrintMethodNotImplementedError:
        missing = {f for f in expr.atoms(sp.Function) if not isinstance(f, exprel)}
        missing = {f for f in missing if not _printable(printer, f)}
    else:
        missing = getattr(printer, "_not_supported", set())
    if missing:
        names = ", ".join(sorted({type(m).__name__ for m in missing}))
        raise ValueError(f"the {backend} backend cannot print {names}")
    return text


def _printable(printer, function) -> bool:
    try:
        printer.doprint(function)
    except PrintMethodNotImplementedError:
        return False
    return not getattr(printer, "_not_supported", set())


def _header(exprs, args, backend, key, operations, dps, comment: str, inner) -> list[str]:
    import symcnn

    srepr = hashlib.sha256("\n".join(sp.srepr(e) for e in exprs).encode()).hexdigest()
    lines = [f"Generated by symcnn.codegen (symcnn {symcnn.__version__}, "
             f"SymPy {sp.__version__}, format {FORMAT}).",
             "Do not edit: the file is checked against the checksum on its first line and",
             "regenerated when the check fails.",
             f"key: {key}", f"backend: {backend}" + (f", {dps} digits" if dps else ""),
             f"expressions (sha256 of srepr): {srepr}",
             "arguments: " + ", ".join(f"a{i} = {a.name}" for i, a in enumerate(args))]
    if inner:
        lines.append("hoisted: the statements free of " + ", ".join(a.name for a in inner))
    lines += [f"output {i}: {sp.sstr(e)}" for i, e in enumerate(exprs)]
    lines.append(f"operations after CSE: {operations}")
    return [f"{comment} {line}".rstrip() for line in lines]


def _python_source(exprs, args, backend, key, dps, inner) -> str:
    hoisted, replacements, reduced, operations = _lower(exprs, args, inner)
    printer = _NumPyPrinter() if backend == "numpy" else _MpmathPrinter()
    body = [f"    {sym} = {_printed(printer, value, backend)}"
            for sym, value in hoisted + replacements]
    outputs = [f"        {_printed(printer, e, backend)}," for e in reduced]
    names = ", ".join(f"a{i}" for i in range(len(args)))
    lines = _header(exprs, args, backend, key, operations,
                    dps if backend == "mpmath" else None, "#", inner)
    if backend == "numpy":
        lines += ["import numpy", "", "", NUMPY_HELPERS.strip("\n"), "", "",
                  f"def kernel({names}):"]
        lines += body + ["    return (", *outputs, "    )"]
    else:
        lines += ["import mpmath", "", f"DPS = {int(dps)}", "", "",
                  MPMATH_HELPERS.strip("\n"), "", "", f"def kernel({names}):",
                  "    with mpmath.workdps(DPS):"]
        lines += [f"        a{i} = mpmath.mpf(a{i})" for i in range(len(args))]
        lines += ["    " + line for line in body]
        lines += ["        return (", *["    " + o for o in outputs], "        )"]
    return "\n".join(lines) + "\n"


def _c_source(exprs, args, key, inner=(), vector=False) -> str:
    """C99 source of ``symcnn_kernel``. With ``inner``, rows along which only the ``inner``
    arguments vary compute the hoisted statements once per row. With ``vector``, libmvec's
    SIMD variants of the math functions are declared and the function is cloned for AVX2,
    so that GCC vectorizes the loops (x86-64 Linux, glibc >= 2.35)."""
    hoisted, replacements, reduced, operations = _lower(exprs, args, inner)
    printer = _CPrinter()

    def statements(pairs, indent):
        return [f"{indent}const double {sym} = {_printed(printer, value, 'c')};"
                for sym, value in pairs]

    def loop(indent, loads, pre):
        inside = indent + "    "
        return ([f"{indent}for (int64_t j = 0; j < inner; ++j) {{"]
                + [f"{inside}const double a{k} = p{k}[j * s{k}];" for k in loads]
                + statements(pre + replacements, inside)
                + [f"{inside}r{i}[j] = {_printed(printer, e, 'c')};"
                   for i, e in enumerate(reduced)]
                + [f"{indent}}}"])

    n_in, n_out = len(args), len(reduced)
    positions = {a: k for k, a in enumerate(args)}
    moving = sorted(positions[a] for a in inner)
    fixed = [k for k in range(n_in) if k not in moving]
    general = loop("        ", range(n_in), hoisted)
    text = "\n".join(general)
    if "symcnn_exprel" in text:
        text += C_HELPERS
    lines = _header(exprs, args, "c", key, operations, None, "//", inner)
    lines += ["#include <math.h>", "#include <stdint.h>", ""]
    vectorized = sorted(f for f in LIBMVEC if re.search(rf"\b{f}\(", text)) if vector else []
    if vectorized:
        lines += ["// SIMD variants in glibc's libmvec: GCC vectorizes the loops without "
                  "-ffast-math."]
        lines += [f'__attribute__((__simd__("notinbranch"))) double {f}'
                  f'({", ".join(["double"] * LIBMVEC[f])});' for f in vectorized]
        lines.append("")
    if "symcnn_exprel" in text:
        lines += [C_HELPERS.strip("\n"), ""]
    lines += [
        "// Evaluates the outputs at every point of the broadcast shape (ndim >= 1 axes).",
        "// in[k]: argument k, strides[k * ndim + d] its stride along axis d in elements",
        "// (0 on broadcast axes); out[i]: C-contiguous output i.",
        *(['__attribute__((target_clones("avx2", "default")))'] if vector else []),
        "void symcnn_kernel(int64_t ndim, const int64_t *shape, const double *const *in,",
        "                   const int64_t *strides, double *const *out)",
        "{",
        f"    int64_t count[{MAX_DIMS}] = {{0}};",
        f"    int64_t base[{n_in}] = {{0}};",
        "    int64_t total = 1;",
        "    for (int64_t d = 0; d < ndim; ++d)",
        "        total *= shape[d];",
        "    if (total == 0)",
        "        return;",
        "    const int64_t inner = shape[ndim - 1];",
        "    const int64_t outer = total / inner;",
    ]
    lines += [f"    const int64_t s{k} = strides[{k} * ndim + ndim - 1];" for k in range(n_in)]
    if inner:
        steady = " && ".join([f"s{k} == 0" for k in fixed] or ["1"])
        lines += ["    // rows along which only the inner arguments vary: hoisted statements once",
                  f"    const int hoist = {steady};"]
    lines += ["    for (int64_t o = 0; o < outer; ++o) {"]
    lines += [f"        const double *const p{k} = in[{k}] + base[{k}];" for k in range(n_in)]
    lines += [f"        double *const r{i} = out[{i}] + o * inner;" for i in range(n_out)]
    if inner:
        lines.append("        if (hoist) {")
        lines += [f"            const double a{k} = p{k}[0];" for k in fixed]
        lines += statements(hoisted, "            ")
        lines += loop("            ", moving, [])
        lines.append("        } else {")
        lines += ["    " + line for line in general]
        lines.append("        }")
    else:
        lines += general
    lines += [
        "        for (int64_t d = ndim - 2; d >= 0; --d) {",
        "            ++count[d];",
        f"            for (int k = 0; k < {n_in}; ++k)",
        "                base[k] += strides[k * ndim + d];",
        "            if (count[d] < shape[d])",
        "                break;",
        f"            for (int k = 0; k < {n_in}; ++k)",
        "                base[k] -= strides[k * ndim + d] * shape[d];",
        "            count[d] = 0;",
        "        }",
        "    }",
        "}",
    ]
    return "\n".join(lines) + "\n"


# Cache ----------------------------------------------------------------------------------


def cache_dir(cache: str | os.PathLike | bool | None = None) -> Path | None:
    """The kernel cache directory, or None when caching is off.

    ``cache``: a directory, ``False`` (off), or None: ``$SYMCNN_CACHE`` (``off``, ``0``,
    ``false``, ``no`` or ``none`` turn it off), else ``$XDG_CACHE_HOME/symcnn/kernels``,
    else ``~/.cache/symcnn/kernels``.
    """
    if cache is False:
        return None
    if cache is not None and cache is not True:
        return Path(cache)
    env = os.environ.get("SYMCNN_CACHE", "")
    if env:
        return None if env.lower() in ("off", "0", "false", "no", "none") else Path(env)
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "symcnn" / "kernels"


def _checksum_prefix(comment: str) -> str:
    return f"{comment} symcnn-codegen sha256:"


def _sealed(source: str, comment: str) -> str:
    """``source`` with a first line holding its SHA-256."""
    return f"{_checksum_prefix(comment)}{hashlib.sha256(source.encode()).hexdigest()}\n{source}"


def _unsealed(data: bytes, comment: str, key: str) -> str | None:
    """The source in ``data`` if its checksum and key are right, else None."""
    first, newline, rest = data.partition(b"\n")
    prefix = _checksum_prefix(comment).encode()
    if not newline or not first.startswith(prefix):
        return None
    if first[len(prefix):].decode("ascii", "replace") != hashlib.sha256(rest).hexdigest():
        return None
    try:
        source = rest.decode()
    except UnicodeDecodeError:
        return None
    return source if f"{comment} key: {key}\n" in source else None


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def find_c_compiler() -> str | None:
    """Path of the C compiler: ``$CC``, else ``cc``, ``gcc`` or ``clang`` on PATH."""
    for name in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if name:
            path = shutil.which(name)
            if path:
                return path
    return None


def _compiler_identity(compiler: str) -> str:
    try:
        done = subprocess.run([compiler, "--version"], capture_output=True, text=True,
                              timeout=60, check=False)
        version = done.stdout.splitlines()[0] if done.stdout else ""
    except (OSError, subprocess.TimeoutExpired):
        version = ""
    return f"{compiler} {version}".strip()


def _compile_c(source: str, compiler: str, vector: bool) -> bytes:
    libraries = VECTOR_LIBS if vector else ("-lm",)
    with tempfile.TemporaryDirectory(prefix="symcnn-cc-") as tmp:
        src, lib = Path(tmp) / "kernel.c", Path(tmp) / "kernel.so"
        src.write_text(source)
        done = subprocess.run([compiler, *CFLAGS, "-o", str(lib), str(src), *libraries],
                              capture_output=True, text=True, timeout=600, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"C compiler {compiler} failed ({done.returncode}):\n"
                               f"{done.stderr[-4000:]}")
        return lib.read_bytes()


def _load_library(data: bytes) -> ctypes.CDLL:
    """Load a shared library from verified bytes, through a private temporary copy (the
    cache file may be replaced or corrupted later without affecting the loaded code)."""
    handle, tmp = tempfile.mkstemp(prefix="symcnn-kernel-", suffix=".so")
    try:
        with os.fdopen(handle, "wb") as f:
            f.write(data)
        lib = ctypes.CDLL(tmp)
    finally:
        Path(tmp).unlink(missing_ok=True)
    fn = lib.symcnn_kernel
    fn.argtypes = [ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
                   ctypes.c_void_p]
    fn.restype = None
    return lib


# Kernels --------------------------------------------------------------------------------


class Kernel:
    """A compiled closed form: ``kernel(*arrays)`` or ``kernel(name=array, ...)``.

    The inputs broadcast against each other (NumPy rules); the result has the broadcast
    shape: one array for a single expression, a tuple for a list. NumPy and C kernels
    return float64 arrays, mpmath kernels object arrays of ``mpf`` (a scalar for 0-d
    inputs). Inputs are checked: their number, real values and no NaN; a ValueError names
    the argument.

    Attributes: ``backend``, ``exprs``, ``args`` (symbols in call order), ``dps``, ``key``,
    ``source`` (the generated code, checksum line excluded), ``path`` (cache file or None),
    ``cache_status`` (``hit``, ``miss``, ``regenerated`` or ``off``), ``compiler``,
    ``inner`` (the arguments it is specialised to vary along the last axis).
    """

    def __init__(self, backend, exprs, args, single, dps, key, source, path, cache_status,
                 function=None, library=None, compiler=None, inner=()):
        self.backend, self.exprs, self.args, self.dps = backend, exprs, args, dps
        self.inner = inner
        self.key, self.source, self.path, self.cache_status = key, source, path, cache_status
        self.compiler = compiler
        self._single, self._function, self._library = single, function, library
        self.names = tuple(a.name for a in args)

    def __repr__(self) -> str:
        outputs = "1 output" if self._single else f"{len(self.exprs)} outputs"
        return (f"Kernel({self.backend}, args=({', '.join(self.names)}), {outputs}, "
                f"key={self.key[:12]}, cache {self.cache_status})")

    @property
    def operations(self) -> int:
        """Operation count after CSE, as recorded in the generated header."""
        for line in self.source.splitlines():
            if "operations after CSE:" in line:
                return int(line.rsplit(":", 1)[1])
        raise ValueError("no operation count in the generated source")

    def _bind(self, arrays, named) -> list:
        n = len(self.args)
        signature = f"({', '.join(self.names)})"
        if len(arrays) > n:
            raise ValueError(f"kernel takes {n} arguments {signature}, got {len(arrays)}")
        values = dict(zip(self.names, arrays, strict=False))
        for name, value in named.items():
            if name not in self.names:
                raise ValueError(f"unknown argument {name!r}; the kernel takes {signature}")
            if name in values:
                raise ValueError(f"argument {name!r} given twice")
            values[name] = value
        missing = [name for name in self.names if name not in values]
        if missing:
            raise ValueError(f"kernel takes {n} arguments {signature}, got {len(values)}: "
                             f"missing {', '.join(missing)}")
        return [values[name] for name in self.names]

    def __call__(self, *arrays, **named):
        values = self._bind(arrays, named)
        if self.backend == "mpmath":
            outs = self._call_mpmath(values)
            return outs[0] if self._single else tuple(outs)
        checked = [_float_array(v, name) for v, name in zip(values, self.names, strict=True)]
        shape = np.broadcast_shapes(*(a.shape for a in checked))
        if self.backend == "numpy":
            outs = self._call_numpy(checked, shape)
        else:
            outs = self._call_c(checked, shape)
        return outs[0] if self._single else tuple(outs)

    def _call_numpy(self, arrays, shape):
        outs = [np.empty(shape) for _ in self.exprs]
        with np.errstate(under="ignore"):
            for part, pieces in _blocks(arrays, shape):
                for out, value in zip(outs, self._function(*pieces), strict=True):
                    out[part] = value
        return outs

    def _call_c(self, arrays, shape):
        full = shape if shape else (1,)
        if len(full) > MAX_DIMS:
            raise ValueError(f"at most {MAX_DIMS} dimensions")
        views = []
        for a in arrays:
            v = np.broadcast_to(a, full)
            if not v.flags.aligned or any(st % v.itemsize for st in v.strides):
                v = np.broadcast_to(np.ascontiguousarray(a), full)
            views.append(v)
        strides = np.array([[st // 8 for st in v.strides] for v in views], dtype=np.int64)
        dims = np.array(full, dtype=np.int64)
        outs = [np.empty(full) for _ in self.exprs]
        ins = (ctypes.c_void_p * len(views))(*[v.ctypes.data for v in views])
        outp = (ctypes.c_void_p * len(outs))(*[o.ctypes.data for o in outs])
        self._library.symcnn_kernel(len(full), dims.ctypes.data, ins, strides.ctypes.data,
                                    outp)
        return [o.reshape(shape) for o in outs]

    def _call_mpmath(self, values):
        objects = [_mpf_array(v, name, self.dps)
                   for v, name in zip(values, self.names, strict=True)]
        n_out = len(self.exprs)
        function = self._function if n_out > 1 else (lambda *a: self._function(*a)[0])
        outs = np.frompyfunc(function, len(self.args), n_out)(*objects)
        return outs if n_out > 1 else (outs,)


def _blocks(arrays, shape):
    """``(index, pieces)``: the broadcast shape cut into blocks of about :data:`BLOCK`
    points along one axis, with the matching piece of every input (broadcast axes kept)."""
    size = int(np.prod(shape))
    if size <= BLOCK:
        yield (...,), arrays
        return
    arrays = [a.reshape((1,) * (len(shape) - a.ndim) + a.shape) for a in arrays]
    axis = next(d for d in range(len(shape)) if int(np.prod(shape[d + 1:])) <= BLOCK)
    rows = max(1, BLOCK // max(1, int(np.prod(shape[axis + 1:]))))
    for outer in np.ndindex(*shape[:axis]):
        for start in range(0, shape[axis], rows):
            block = slice(start, start + rows)
            pieces = [a[tuple(i if a.shape[d] > 1 else 0 for d, i in enumerate(outer))
                        + ((block if a.shape[axis] > 1 else slice(None)),)]
                      for a in arrays]
            yield (*outer, block), pieces


def _float_array(value, name: str) -> np.ndarray:
    try:
        array = np.asarray(value)
    except Exception as error:  # any conversion failure names the argument
        raise ValueError(f"argument {name}: not an array of numbers ({error})") from None
    if np.iscomplexobj(array):
        raise ValueError(f"argument {name} is complex; kernels take real inputs")
    if array.dtype != np.float64:
        try:
            array = array.astype(np.float64)
        except (TypeError, ValueError) as error:
            raise ValueError(f"argument {name}: not real numbers ({error})") from None
    if np.isnan(array).any():
        raise ValueError(f"argument {name} contains NaN")
    return array


def _to_mpf(value):
    if isinstance(value, mpmath.mpf):
        return value
    if isinstance(value, np.floating | np.integer):
        value = value.item()
    return mpmath.mpf(value)


def _mpf_array(value, name: str, dps: int) -> np.ndarray:
    array = np.asarray(value, dtype=object)
    try:
        with mpmath.workdps(dps), np.errstate(invalid="ignore"):
            converted = np.frompyfunc(_to_mpf, 1, 1)(array)
    except (TypeError, ValueError) as error:
        raise ValueError(f"argument {name}: not real numbers ({error})") from None
    if np.any(np.asarray(np.frompyfunc(mpmath.isnan, 1, 1)(converted), dtype=bool)):
        raise ValueError(f"argument {name} contains NaN")
    return np.asarray(converted, dtype=object)


def _exec_module(source: str, key: str, path: Path | None):
    """Run our own generated module (checksum verified or just generated)."""
    namespace = {"__name__": f"symcnn_kernel_{key[:16]}"}
    code = builtins.compile(source, str(path) if path else f"<symcnn kernel {key[:16]}>",
                            "exec")
    exec(code, namespace)  # our own generated code, see above
    return namespace["kernel"]


def compile(exprs, args: Sequence[sp.Symbol] | sp.Symbol, backend: str = "numpy",
            dps: int = 30, cache: str | os.PathLike | bool | None = None,
            inner: Sequence[sp.Symbol | str] = ()) -> Kernel:
    """Generate, cache and load a kernel evaluating ``exprs`` at ``args``.

    Parameters
    ----------
    exprs : a SymPy expression or a list of them (real; free symbols among ``args``).
    args : the symbols, in call order.
    backend : ``"numpy"``, ``"mpmath"`` or ``"c"``.
    dps : decimal digits of the mpmath backend.
    cache : cache directory, ``False`` for none, None for :func:`cache_dir`'s default.
    inner : arguments (symbols or names) expected to vary along the last axis, e.g. the
        times. Everything free of them is computed once per row where only they vary
        there (C; other layouts take a general loop) and on its own broadcast shape
        (NumPy). The values are those of the expressions; only the rounding may differ.

    Raises
    ------
    ValueError for bad expressions or arguments, CompilerNotFound for ``"c"`` without a
    C compiler, RuntimeError if the compiler fails.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
    exprs, args, single = _prepare(exprs, args)
    inner = _inner_args(inner, args)
    if backend == "mpmath" and int(dps) < 1:
        raise ValueError(f"dps must be positive, got {dps}")
    compiler = None
    if backend == "c":
        path = find_c_compiler()
        if path is None:
            raise CompilerNotFound("no C compiler found (looked for $CC, cc, gcc, clang "
                                   "on PATH); use backend 'numpy'")
        compiler = _compiler_identity(path)
    key = cache_key(exprs, args, backend, dps, compiler=compiler, inner=inner)
    directory = cache_dir(cache)
    common = {"backend": backend, "exprs": exprs, "args": args, "single": single,
              "dps": int(dps) if backend == "mpmath" else None, "key": key,
              "compiler": compiler, "inner": inner}
    if backend == "c":
        return _compile_c_kernel(common, directory, path)
    file = directory / f"{key}.py" if directory else None
    status = "off"
    source = None
    if file is not None:
        data = _read(file)
        source = None if data is None else _unsealed(data, "#", key)
        status = "hit" if source is not None else ("miss" if data is None else "regenerated")
    if source is None:
        source = _python_source(exprs, args, backend, key, dps, inner)
        if file is not None:
            try:
                _write_atomic(file, _sealed(source, "#").encode())
            except OSError as error:
                warnings.warn(f"could not write the kernel cache {file}: {error}",
                              RuntimeWarning, stacklevel=2)
    CACHE_STATS[status] += 1
    function = _exec_module(source, key, file)
    return Kernel(**common, source=source, path=file, cache_status=status, function=function)


def _build_c(common: dict, compiler: str) -> tuple[str, bytes, bool]:
    """``(source, library, vector)``: the kernel with libmvec's SIMD functions where
    available (:data:`VECTOR_MATH`), else (compile or link failure) without them."""
    exprs, args, key, inner = (common[k] for k in ("exprs", "args", "key", "inner"))
    if VECTOR_MATH:
        source = _c_source(exprs, args, key, inner, vector=True)
        try:
            return source, _compile_c(source, compiler, vector=True), True
        except RuntimeError:
            pass  # no libmvec, or a compiler without its attributes: the scalar kernel
    source = _c_source(exprs, args, key, inner)
    return source, _compile_c(source, compiler, vector=False), False


def _compile_c_kernel(common: dict, directory: Path | None, compiler: str) -> Kernel:
    key = common["key"]
    status, source, library = "off", None, None
    if directory is not None:
        src, lib, manifest = (directory / f"{key}{ext}" for ext in (".c", ".so", ".json"))
        data, binary, meta = _read(src), _read(lib), _read(manifest)
        if data is None and binary is None and meta is None:
            status = "miss"
        else:
            source = None if data is None else _unsealed(data, "//", key)
            try:
                recorded = json.loads(meta) if meta is not None else {}
            except (ValueError, UnicodeDecodeError):
                recorded = {}
            ok = (source is not None and binary is not None and recorded.get("key") == key
                  and recorded.get("source_sha256") == hashlib.sha256(data).hexdigest()
                  and recorded.get("library_sha256") == hashlib.sha256(binary).hexdigest())
            status = "hit" if ok else "regenerated"
            if ok:
                library = binary
            else:
                source = None
    if library is None:
        source, library, vector = _build_c(common, compiler)
        sealed = _sealed(source, "//").encode()
        if directory is not None:
            meta = {"key": key, "source_sha256": hashlib.sha256(sealed).hexdigest(),
                    "library_sha256": hashlib.sha256(library).hexdigest(),
                    "compiler": common["compiler"], "cflags": list(CFLAGS),
                    "libraries": list(VECTOR_LIBS if vector else ("-lm",))}
            try:
                _write_atomic(src, sealed)
                _write_atomic(lib, library)
                _write_atomic(manifest, (json.dumps(meta, indent=1, sort_keys=True)
                                         + "\n").encode())
            except OSError as error:
                warnings.warn(f"could not write the kernel cache {directory}: {error}",
                              RuntimeWarning, stacklevel=3)
    CACHE_STATS[status] += 1
    return Kernel(**common, source=source, path=src if directory else None,
                  cache_status=status, library=_load_library(library))


def check(kernel: Kernel, values: dict[str, Sequence[float]]) -> tuple[float, int]:
    """Largest relative difference between ``kernel`` and its expressions at 50
    digits (mpmath) over the grid of ``values`` (argument name -> values), and the number
    of points compared. Points where the 50-digit value is not a finite real number (a
    singularity such as ``0/0``, or outside the expression's domain) are skipped."""
    grids = np.meshgrid(*[np.asarray(values[name], dtype=float) for name in kernel.names],
                        indexing="ij")
    exact = compile(kernel.exprs[0] if kernel._single else list(kernel.exprs), kernel.args,
                    backend="mpmath", dps=50, cache=False)
    with np.errstate(all="ignore"):
        got = kernel(*grids)
    got = [got] if kernel._single else list(got)
    worst, compared = 0.0, 0
    for index in np.ndindex(grids[0].shape):
        try:
            want = exact(*(g[index] for g in grids))
        except (ZeroDivisionError, ValueError):
            continue
        for g, w in zip(got, (want,) if kernel._single else want, strict=True):
            if not (isinstance(w, mpmath.mpf) and mpmath.isfinite(w)):
                continue
            compared += 1
            with mpmath.workdps(50):
                value = mpmath.mpf(g[index] if kernel.backend == "mpmath" else float(g[index]))
                if not mpmath.isfinite(value):
                    worst = float("inf")
                    continue
                scale = abs(w) if w != 0 else mpmath.mpf(1)
                worst = max(worst, float(abs(value - w) / scale))
    return worst, compared
