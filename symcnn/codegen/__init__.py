"""Kernels generated from closed forms: NumPy, mpmath and C, cached on disk.

``compile(exprs, args, backend)`` turns SymPy expressions into a :class:`Kernel`, a callable
``kernel(*arrays)`` that evaluates them elementwise over the broadcast of its inputs (for
example frequencies ``s[:, None]`` against times ``t[None, :]``). The expressions are
evaluated exactly as written: numerical stability must be in the expression, e.g. the
``stable`` forms of :mod:`symcnn.symbolic.closed_forms`. Two rewrites are applied, both of
which only remove cancellation: ``exp(x) - 1 -> expm1(x)`` and ``log(1 + x) -> log1p(x)``.
The function :class:`exprel`, ``(e^z - 1)/z`` continued by 1 at ``z = 0``, lets an
expression state a removable singularity such as ``(1 - e^{-c s})/s`` at ``s = 0`` so that
every backend evaluates it without ``0/0``. ``check(kernel, values)`` compares a kernel on
a grid with its expressions evaluated by SymPy at 50 digits.

Backends (:data:`BACKENDS`, name -> backend object)
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
    and runs a general loop for other layouts. ``Reduction.kernel`` of
    :mod:`symcnn.symbolic.closed_forms` sets ``inner`` to the time.

Cache
    Generated files live in ``$SYMCNN_CACHE`` if set (``off`` disables the cache), else
    ``$XDG_CACHE_HOME/symcnn/kernels`` or ``~/.cache/symcnn/kernels``; the ``cache`` argument
    overrides both (``False`` disables). The key is a SHA-256 of ``sympy.srepr`` of the
    expressions and arguments, the backend (and ``dps`` or the compiler), the symcnn and
    SymPy versions, the code format and a hash of the source of every module of this
    package. Each file stores the SHA-256 of its content (the shared library's is in a JSON
    manifest); an entry that fails the check (truncated, garbled) is regenerated. The check
    detects corruption, not tampering: the cache directory must be trusted like the package
    itself. Generated source is deterministic (no dates, paths or hash-seed dependent
    ordering). A NumPy kernel can be rebuilt from its source alone, without SymPy:
    ``Kernel.from_python_source(kernel.source, kernel.names, kernel.n_outputs, kernel.key)``.

Modules
    :mod:`~symcnn.codegen.functions` (:class:`exprel`), :mod:`~symcnn.codegen.lowering`
    (validation, rewrites, hoisting, CSE), :mod:`~symcnn.codegen.backends` (one object per
    target: printer, template, build), :mod:`~symcnn.codegen.toolchain` (the C compiler),
    :mod:`~symcnn.codegen.cache` (directory, sealed files, keys),
    :mod:`~symcnn.codegen.kernel` (:class:`Kernel`), :mod:`~symcnn.codegen.compiler`
    (:func:`compile`, :func:`cache_key`), :mod:`~symcnn.codegen.checking` (:func:`check`).
    Importing this package, :mod:`~symcnn.codegen.cache` or :mod:`~symcnn.codegen.kernel`
    does not import SymPy; the names that need it are loaded on first use.
"""

from __future__ import annotations

import importlib

from .cache import CACHE_STATS, cache_dir
from .kernel import Kernel
from .toolchain import CFLAGS, CompilerNotFound, find_c_compiler

_LAZY = {"BACKENDS": "backends", "cache_key": "compiler", "check": "checking",
         "compile": "compiler", "exprel": "functions"}
"""Names that need SymPy -> the module defining them, imported on first access."""

__all__ = ["BACKENDS", "CACHE_STATS", "CFLAGS", "CompilerNotFound", "Kernel", "cache_dir",
           "cache_key", "check", "compile", "exprel", "find_c_compiler"]


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return list(__all__)
