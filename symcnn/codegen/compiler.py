"""``compile``: expressions to a cached :class:`~symcnn.codegen.kernel.Kernel`, and the
cache key that determines its generated code."""

from __future__ import annotations

import os
from collections.abc import Sequence

import sympy as sp

from .backends import BACKENDS, FORMAT, Backend, Spec
from .cache import CACHE_STATS, cache_dir, digest, generator_hash
from .kernel import Kernel
from .lowering import inner_args, prepare


def backend_named(name: str) -> Backend:
    """The backend called ``name`` in :data:`~symcnn.codegen.backends.BACKENDS`."""
    try:
        return BACKENDS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown backend {name!r}; choose from "
                         f"{', '.join(BACKENDS)}") from None


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
    target = backend_named(backend)
    exprs, args, single = prepare(exprs, args)
    inner = inner_args(inner, args)
    settings = target.settings(dps)
    key = cache_key(exprs, args, backend, dps, compiler=settings.get("compiler"),
                    inner=inner)
    spec = Spec(exprs, args, single, inner, key, **settings)
    kernel = target.build(spec, cache_dir(cache))
    CACHE_STATS[kernel.cache_status] += 1
    return kernel


def cache_key(exprs, args, backend: str, dps: int = 30, version: str | None = None,
              compiler: str | None = None, inner: Sequence[sp.Symbol | str] = ()) -> str:
    """SHA-256 (hex) of what determines a kernel's generated code.

    ``sympy.srepr`` of the expressions and arguments, the modules of their function classes,
    the backend, ``dps`` (mpmath), the compiler identity and flags (C), the symcnn version
    (default: installed), the SymPy version, the code format and a hash of the source of
    :mod:`symcnn.codegen`.
    """
    target = backend_named(backend)
    exprs, args, _ = prepare(exprs, args)
    inner = inner_args(inner, args)
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
    return digest({**parts, **target.key_parts(dps, compiler)})
