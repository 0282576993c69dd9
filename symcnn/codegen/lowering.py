"""From SymPy expressions to statements: validation, rewrites, hoisting and CSE.

:func:`lower` renames the arguments ``a0, a1, ...``, applies :data:`REWRITES` (which only
remove cancellation), hoists what is free of the ``inner`` arguments and eliminates common
subexpressions. Every backend prints the same :class:`Lowered` statements.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

import sympy as sp
from sympy.codegen.rewriting import expm1_opt, log1p_opt, optimize

REWRITES = (expm1_opt, log1p_opt)
"""Rewrites applied to every expression: ``exp(x) - 1 -> expm1(x)``, ``log(1 + x) ->
log1p(x)`` (``sympy.codegen.rewriting`` optimizations)."""


class Lowered(NamedTuple):
    """The statements of a kernel, in terms of the renamed arguments ``a<i>``."""

    hoisted: list[tuple[sp.Symbol, sp.Expr]]
    """Statements free of the ``inner`` arguments (``k<i>``, ``h<i>``); empty without."""
    replacements: list[tuple[sp.Symbol, sp.Expr]]
    """The other common subexpressions (``c<i>``)."""
    reduced: list[sp.Expr]
    """The outputs, in terms of both."""
    operations: int
    """Operation count of all statements and outputs (``sympy.count_ops``)."""


def prepare(exprs, args) -> tuple[tuple[sp.Expr, ...], tuple[sp.Symbol, ...], bool]:
    """Sympified expressions and arguments, checked; ``single`` if one expression was given.

    Raises
    ------
    ValueError
        naming ``args`` or ``exprs``: no argument, an argument that is not a Symbol,
        duplicated argument names; no expression, or one that does not sympify, is not
        real, has other symbols or is unevaluated.
    """
    args = _arguments(args)
    single = isinstance(exprs, sp.Basic) or not isinstance(exprs, Iterable)
    exprs = (exprs,) if single else tuple(exprs)
    if not exprs:
        raise ValueError("exprs: no expressions to compile")
    try:
        exprs = tuple(sp.sympify(e) for e in exprs)
    except (sp.SympifyError, ValueError) as error:  # e.g. a float32 NaN: no Rational
        raise ValueError(f"exprs: {error}") from None
    for i, e in enumerate(exprs):
        _validate(i, e, args)
    return exprs, args, single


def _arguments(args) -> tuple[sp.Symbol, ...]:
    args = (args,) if isinstance(args, sp.Symbol) else tuple(args)
    if not args:
        raise ValueError("args: a kernel needs at least one argument")
    for a in args:
        if not isinstance(a, sp.Symbol):
            raise ValueError(f"args: argument {a!r} is not a SymPy Symbol")
    names = [a.name for a in args]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ValueError(f"args: duplicated argument names: {', '.join(duplicated)}")
    return args


def _validate(i: int, expr, args: tuple[sp.Symbol, ...]) -> None:
    if not isinstance(expr, sp.Expr):
        raise ValueError(f"exprs: expression {i} is not a SymPy expression: {expr!r}")
    extra = sorted(s.name for s in expr.free_symbols - set(args))
    if extra:
        raise ValueError(f"exprs: expression {i} has symbols that are not arguments: "
                         f"{', '.join(extra)}")
    if expr.has(sp.I):
        raise ValueError(f"exprs: expression {i} is complex; kernels are real")
    bad = sorted({type(f).__name__ for f in expr.atoms(sp.Derivative, sp.Integral,
                                                       sp.core.function.AppliedUndef)})
    if bad:
        raise ValueError(f"exprs: expression {i} contains unevaluated {', '.join(bad)}")


def inner_args(inner: Sequence[sp.Symbol | str] | sp.Symbol | str,
               args: tuple[sp.Symbol, ...]) -> tuple[sp.Symbol, ...]:
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


def renaming(args: Sequence[sp.Symbol]) -> dict[sp.Symbol, sp.Symbol]:
    """Argument ``i`` -> ``a<i>`` (same assumptions): generated code never depends on the
    user's names."""
    return {a: sp.Symbol(f"a{i}", **a.assumptions0) for i, a in enumerate(args)}


def rewrite(expr: sp.Expr) -> sp.Expr:
    """``expr`` with :data:`REWRITES` applied."""
    return optimize(expr, REWRITES)


def hoist(expr, inner: frozenset, table: dict):
    """``expr`` with each largest subexpression free of the ``inner`` symbols replaced by a
    symbol ``h<i>`` (``table``: value -> symbol). The factors of a product and the terms of
    a sum that are free of them are gathered first: ``2 t sqrt(N)/tau -> h0 t``."""
    if not expr.args:
        return expr
    if not isinstance(expr, sp.Expr):
        return expr.func(*(hoist(a, inner, table) for a in expr.args))
    if not expr.free_symbols & inner:
        return table.setdefault(expr, sp.Symbol(f"h{len(table)}"))
    if isinstance(expr, sp.Add | sp.Mul):
        fixed = [a for a in expr.args if not a.free_symbols & inner]
        moving = [hoist(a, inner, table) for a in expr.args if a.free_symbols & inner]
        if fixed:
            moving.insert(0, hoist(expr.func(*fixed), inner, table))
        return expr.func(*moving)
    return expr.func(*(hoist(a, inner, table) for a in expr.args))


def lower(exprs: Sequence[sp.Expr], args: Sequence[sp.Symbol],
          inner: Sequence[sp.Symbol] = ()) -> Lowered:
    """The statements of a kernel: arguments renamed (:func:`renaming`), :func:`rewrite`
    applied, the statements free of the ``inner`` arguments set apart (:func:`hoist`),
    then common subexpressions eliminated (``sympy.cse``, canonical order)."""
    renamed = renaming(args)
    exprs = [rewrite(e.xreplace(renamed)) for e in exprs]
    hoisted = []
    if inner:
        hoisted, exprs = _hoisted(exprs, frozenset(renamed[a] for a in inner))
    replacements, reduced = sp.cse(exprs, symbols=sp.numbered_symbols("c"), order="canonical")
    return Lowered(hoisted, replacements, reduced, operations(hoisted + replacements, reduced))


def _hoisted(exprs: list, inner: frozenset) -> tuple[list, list]:
    """``(statements, exprs)``: the statements free of ``inner`` (CSE-reduced among
    themselves) and the expressions in terms of them."""
    table: dict = {}
    exprs = [hoist(e, inner, table) for e in exprs]
    if not table:
        return [], exprs
    common, values = sp.cse(list(table), symbols=sp.numbered_symbols("k"), order="canonical")
    return common + list(zip(table.values(), values, strict=True)), exprs


def operations(statements: Sequence[tuple[sp.Symbol, sp.Expr]],
               outputs: Sequence[sp.Expr]) -> int:
    """Operation count of ``statements`` and ``outputs`` (``sympy.count_ops``)."""
    return (sum(sp.count_ops(v) for _, v in statements)
            + sum(sp.count_ops(e) for e in outputs))
