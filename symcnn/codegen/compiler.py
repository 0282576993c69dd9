"""``compile``: expressions to a cached :class:`~symcnn.codegen.kernel.Kernel`, and the
cache key that determines its generated code."""

from __future__ import annotations

import numbers
import os
from collections.abc import Mapping, Sequence, Set
from pathlib import Path

import sympy as sp

from .. import progress
from ..checks import positive_int
from .backends import BACKENDS, FORMAT, Backend, Spec
from .cache import CACHE_STATS, OFF, cache_dir, digest, generator_hash
from .kernel import Kernel
from .lowering import inner_args, prepare

MPMATH_DPS = 30
"""Decimal digits of the mpmath backend when ``dps`` is not given."""


def backend_named(name: str) -> Backend:
    """The backend called ``name`` in :data:`~symcnn.codegen.backends.BACKENDS`."""
    try:
        return BACKENDS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown backend {name!r}; choose from "
                         f"{', '.join(BACKENDS)}") from None


def compile(exprs, args: Sequence[sp.Symbol] | sp.Symbol, backend: str = "numpy",
            dps: int | None = None, cache: str | os.PathLike | bool | None = None,
            inner: Sequence[sp.Symbol | str] = ()) -> Kernel:
    """Generate, cache and load a kernel evaluating ``exprs`` at ``args``.

    Parameters
    ----------
    exprs : sympy expression or sequence of them
        Real, no ``zoo``, free symbols among ``args``; not a string, a set, a mapping or a
        matrix (pass ``list(matrix)``).
    args : sympy.Symbol or sequence of them
        The symbols, in call order.
    backend : {"numpy", "mpmath", "c"}
    dps : int, optional
        Decimal digits of the mpmath backend (>= 1, default :data:`MPMATH_DPS`); only for
        ``"mpmath"``.
    cache : path, bool or None
        Cache directory, ``False`` for none, None for :func:`cache_dir`'s default.
    inner : sequence of sympy.Symbol or str
        Arguments (symbols or names) expected to vary along the last axis, e.g. the times.
        Everything free of them is computed once per row where only they vary there (C;
        other layouts take a general loop) and on its own broadcast shape (NumPy). The
        values are those of the expressions; only the rounding may differ.

    A cache miss (generating, and for C compiling) that takes more than a second is
    reported by :mod:`symcnn.progress`.

    Raises
    ------
    ValueError, TypeError
        Bad expressions or arguments, naming them.
    CompilerNotFound
        ``"c"`` without a C compiler.
    RuntimeError
        The compiler fails.
    """
    target = backend_named(backend)
    exprs, args, single = _prepared(exprs, args)
    inner = inner_args(_inner(inner), args)
    settings = target.settings(_digits(backend, dps))
    key = cache_key(exprs, args, backend, dps, compiler=settings.get("compiler"),
                    inner=inner)
    spec = Spec(exprs, args, single, inner, key, **settings)
    directory = _cache_directory(cache)
    label = f"codegen {backend} kernel ({', '.join(a.name for a in args)})"
    with progress.task(label, unit="") as task:
        kernel = target.build(spec, directory)
        task.result = f"cache {kernel.cache_status}"
    CACHE_STATS[kernel.cache_status] += 1
    return kernel


def cache_key(exprs, args, backend: str, dps: int | None = None, version: str | None = None,
              compiler: str | None = None, inner: Sequence[sp.Symbol | str] = ()) -> str:
    """SHA-256 (hex) of what determines a kernel's generated code.

    ``sympy.srepr`` of the expressions and arguments, the modules of their function classes,
    the backend, ``dps`` (mpmath), the compiler identity and flags (C), the symcnn version
    (default: installed), the SymPy version, the code format and a hash of the source of
    :mod:`symcnn.codegen`. The arguments are checked as by :func:`compile`.
    """
    target = backend_named(backend)
    exprs, args, _ = _prepared(exprs, args)
    inner = inner_args(_inner(inner), args)
    if version is None:
        import symcnn

        version = symcnn.__version__
    # srepr names a function by its class name only: add where each class comes from
    functions = sorted({f"{type(f).__module__}.{type(f).__qualname__}"
                        for e in exprs for f in e.atoms(sp.Function)})
    parts = {"exprs": [sp.srepr(e) for e in exprs], "args": [sp.srepr(a) for a in args],
             "functions": functions, "backend": backend, "symcnn": version,
             "sympy": sp.__version__, "format": FORMAT, "generator": generator_hash(),
             "inner": [a.name for a in inner]}
    return digest({**parts, **target.key_parts(_digits(backend, dps), compiler)})


def _prepared(exprs, args) -> tuple[tuple[sp.Expr, ...], tuple[sp.Symbol, ...], bool]:
    """:func:`~symcnn.codegen.lowering.prepare` (its errors name ``exprs`` or ``args``),
    after refusing what it would misread: a string (iterated by character), a set or a
    mapping (unordered), what does not iterate (None, a 0-d array), a matrix, ``zoo``."""
    if not isinstance(exprs, sp.Basic | sp.MatrixBase | numbers.Number):
        exprs = _listed("exprs", exprs, "a SymPy expression or a sequence of them")
    if not isinstance(args, sp.Symbol):
        args = _listed("args", args, "a SymPy Symbol or a sequence of them")
    exprs, args, single = prepare(exprs, args)
    for i, e in enumerate(exprs):
        if isinstance(e, sp.MatrixBase):
            raise TypeError(f"exprs: expression {i} is a {e.shape[0]} x {e.shape[1]} matrix; "
                            f"pass its entries, list(matrix)")
        if e.has(sp.zoo):
            raise ValueError(f"exprs: expression {i} contains zoo (complex infinity); a "
                             f"kernel computes real values (oo and nan are allowed)")
    return exprs, args, single


def _inner(inner):
    """``inner`` as a Symbol, a name or a list of them (else a ``TypeError``)."""
    if isinstance(inner, sp.Symbol | str):
        return inner
    return _listed("inner", inner, "an argument (a Symbol or its name) or a sequence of them")


def _listed(name: str, value, allowed: str) -> list:
    """``value`` as a list, if it is an ordered collection: a ``TypeError`` naming ``name``
    for a string, a set, a mapping or what does not iterate."""
    if not isinstance(value, str | bytes | Set | Mapping):
        try:
            return list(value)
        except TypeError:  # None, a number, a 0-d array
            pass
    raise TypeError(f"{name} must be {allowed}, got {type(value).__name__} {value!r}")


def _digits(backend: str, dps) -> int | None:
    """The mpmath digits: ``dps`` checked (default :data:`MPMATH_DPS`); None for the other
    backends, which refuse a ``dps``."""
    if backend != "mpmath":
        if dps is not None:
            raise ValueError(f"dps applies to backend 'mpmath', not to {backend!r}; got "
                             f"dps={dps!r}")
        return None
    return MPMATH_DPS if dps is None else positive_int("dps", dps)


def _cache_directory(cache) -> Path | None:
    """:func:`cache_dir` of ``cache``, refusing a bad type, ``""``, an existing file and the
    words that turn ``$SYMCNN_CACHE`` off (``"off"`` is not ``False`` here)."""
    if cache is not None and not isinstance(cache, bool | str | os.PathLike):
        raise TypeError(f"cache must be a directory (str or path), False (no cache) or None "
                        f"(the default), got {cache!r}")
    if isinstance(cache, str) and cache.lower() in OFF:
        raise ValueError(f"cache={cache!r} would be a directory of that name; pass "
                         f"cache=False for no cache (or a Path for such a directory)")
    if cache == "" or (isinstance(cache, str | os.PathLike) and Path(cache).is_file()):
        raise ValueError(f"cache must be a directory (created if missing), got {cache!r}")
    return cache_dir(cache)
