"""Derivations that check themselves: an ordered list of steps, each a SymPy statement
``lhs = rhs`` with a one-line justification and a check that runs when the step is added.

- ``check="exact"``: ``lhs == rhs`` structurally, or ``lhs - rhs`` expands or simplifies to
  0 (entrywise for matrices).
- ``check="numeric"``: both sides at seeded random points in mpmath at ``digits`` (>= 30)
  significant digits, relative error below ``rtol`` (default ``1e-25``).  Integer symbols
  (e.g. a symbolic ``N``) get small integers, so finite sums can be carried out with
  ``doit()``; the ``Indexed`` entries that remain (kernel weights, data) get random values.

A failing check raises :class:`DerivationError` naming the step.  A derivation renders to a
standalone LaTeX (amsmath, breqn) document, to Markdown with ``$$`` math, and in Jupyter
through ``_repr_latex_``.  In the LaTeX document equations are kept inside the margins:
breqn's ``dmath*`` breaks a long one across lines, a long statement's fraction with a long
numerator ``a n`` over ``d`` is printed as ``(a/d) n`` (``a`` a few leading factors, so breqn
can break ``n``), a long matrix statement is written entry by entry and a long piecewise one
branch by branch; ``\\sloppy`` lets text with inline math and long identifiers break.  All
math is printed by SymPy's printer but for the brackets it puts around any term holding a
``Mod``, dropped when the ``Mod`` is only in a subscript (``a_{g \\bmod N}``).  The output
depends only on the derivation, so it is byte-identical across runs and machines.  A
:class:`Document` puts several derivations under one title (e.g.
docs/derivations/closed_forms.{tex,md}).

Helpers shared by the derivations: :func:`op` (a display symbol) and :func:`mpmath_matrix`
(a numeric SymPy matrix in mpmath).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from pathlib import Path

import mpmath
import sympy as sp
from sympy.printing.latex import LatexPrinter

from .. import progress

MIN_DIGITS = 30
_LATEX_HEAD = (r"\documentclass{article}", r"\usepackage{amsmath,amssymb}",
               r"\usepackage{breqn}", r"\allowdisplaybreaks", r"\sloppy")
_LONG = 50  # estimated glyphs in a statement beyond which the LaTeX document writes it in parts
_LONG_NUMERATOR = 30  # estimated glyphs in a long statement's fraction's numerator beyond
# which it is split: its leading factors up to _SPLIT_TOKENS (SymPy's tokens) over the
# denominator, times the rest
_SPLIT_TOKENS = 4


class DerivationError(AssertionError):
    """A step whose check failed."""


@dataclass(frozen=True)
class Step:
    """``lhs = rhs``, why it holds, and how that was checked (filled in by the check).
    ``display``, when given, is the same statement in abstract form (e.g. matrix symbols)
    shown instead of the checked, explicit one."""

    name: str
    lhs: sp.Basic
    rhs: sp.Basic
    justification: str
    verified: str = ""
    display: tuple | None = None

    def latex(self) -> str:
        lhs, rhs = self.display or (self.lhs, self.rhs)
        return f"{_latex(lhs)} = {_latex(rhs)}"

    def latex_lines(self) -> list[str]:
        """The statement as lines of a LaTeX document, inside the margins: one breqn
        ``dmath*`` if it is short (:data:`_LONG` estimated glyphs) or breqn can break it,
        else (a matrix) one per entry ``(i, j)``, 1-based, or (a piecewise right-hand side)
        one per branch, each long one with its long numerators split (:data:`_LONG_NUMERATOR`)."""
        lhs, rhs = self.display or (self.lhs, self.rhs)
        if _glyphs(self.latex()) <= _LONG:
            return _dmath(self.latex())
        if _is_matrix(lhs):
            return [line for (i, j), (left, right) in _entrywise(lhs, rhs)
                    for line in [rf"entry $({i}, {j})$:", *_dmath(_long_latex(left, right))]]
        if isinstance(rhs, sp.Piecewise):
            return [line for value, condition in rhs.args
                    for line in _dmath(_long_latex(lhs, value) + _condition(condition))]
        return _dmath(_long_latex(lhs, rhs))


@dataclass
class Derivation:
    """An ordered, self-checking list of :class:`Step` under stated hypotheses."""

    title: str
    description: str = ""
    hypotheses: list[str] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)

    def assume(self, hypothesis: str) -> None:
        """State a hypothesis (text with ``$...$`` math) under which the steps hold."""
        self.hypotheses.append(hypothesis)

    def step(self, name: str, lhs, rhs, justification: str, check: str = "exact",
             display: tuple | None = None, **options) -> Step:
        """Check ``lhs = rhs`` and append it; raise :class:`DerivationError` if it fails.

        ``options`` go to :func:`check_numeric`: ``digits``, ``rtol``, ``points``, ``seed``,
        ``integers`` (range for integer symbols), ``where``, ``cases``. The step is reported
        to the running :mod:`symcnn.progress` task, if any, before its check.
        """
        if any(s.name == name for s in self.steps):
            raise ValueError(f"step name {name!r} is already used in {self.title!r}")
        progress.update(name)
        lhs, rhs = sp.sympify(lhs), sp.sympify(rhs)
        if check == "exact":
            verified = check_exact(lhs, rhs)
        elif check == "numeric":
            verified = check_numeric(lhs, rhs, **options)
        else:
            raise ValueError(f"check must be 'exact' or 'numeric', got {check!r}")
        if not verified.startswith("verified"):
            raise DerivationError(f"{self.title}: step {name!r} fails its {check} check: "
                                  f"{verified}")
        if display is not None:
            verified += (f" on the explicit {' x '.join(map(str, _shape(lhs)))} form"
                         if _shape(lhs) else " on the explicit form")
        result = Step(name, lhs, rhs, justification, verified, display)
        self.steps.append(result)
        return result

    def __getitem__(self, name: str) -> Step:
        for s in self.steps:
            if s.name == name:
                return s
        raise KeyError(f"no step {name!r} in {self.title!r}")

    def to_latex(self) -> str:
        """A standalone amsmath document."""
        return "\n".join([*_LATEX_HEAD, r"\begin{document}", *self._latex_body(),
                          r"\end{document}", ""])

    def _latex_body(self) -> list[str]:
        """The lines between ``\\begin{document}`` and ``\\end{document}``."""
        lines = [rf"\section*{{{_tex_text(self.title)}}}"]
        if self.description:
            lines.append(_tex_text(self.description))
        if self.hypotheses:
            lines += [r"\paragraph{Hypotheses.}", r"\begin{itemize}"]
            lines += [rf"\item {_tex_text(h)}" for h in self.hypotheses]
            lines.append(r"\end{itemize}")
        lines.append(r"\begin{enumerate}")
        for s in self.steps:
            lines += [rf"\item \textbf{{{_tex_text(s.name)}}}: {_tex_text(s.justification)}",
                      *s.latex_lines(),
                      rf"\emph{{Check: {_tex_text(s.verified)}.}}"]
        lines.append(r"\end{enumerate}")
        return lines

    def to_markdown(self) -> str:
        """Markdown with ``$$`` display math, a numbered item per step; its math and check
        are indented four spaces, which keeps them inside the item for Python-Markdown (the
        docs site) as for CommonMark."""
        lines = [f"# {self.title}", ""]
        if self.description:
            lines += [self.description, ""]
        if self.hypotheses:
            lines += ["**Hypotheses.**", ""] + [f"- {h}" for h in self.hypotheses] + [""]
        for i, s in enumerate(self.steps, 1):
            lines += [f"{i}. **{s.name}**: {s.justification}", "",
                      f"    $$ {s.latex()} $$", "", f"    *Check: {s.verified}.*", ""]
        return "\n".join(lines)

    def _repr_latex_(self) -> str:
        rows = r" \\ ".join(rf"&\text{{{s.name}}}: & {s.latex()}" for s in self.steps)
        return rf"$\begin{{aligned}}{rows}\end{{aligned}}$"

    def write(self, path) -> Path:
        """Write ``.tex`` or ``.md`` by the file's suffix."""
        return _write(path, {".tex": self.to_latex, ".md": self.to_markdown})


@dataclass
class Document:
    """Several derivations under one title: an amsmath document with a section per part,
    or Markdown with a ``##`` section per part.

    Attributes
    ----------
    title : str
        The document's title (LaTeX text).
    intro : str
        A paragraph after the title (text with ``$...$`` math).
    parts : list of Derivation
        The sections, in order.
    """

    title: str
    intro: str = ""
    parts: list[Derivation] = field(default_factory=list)

    @property
    def steps(self) -> list[Step]:
        """Every part's steps, in order (``len(document.steps)`` counts them)."""
        return [s for part in self.parts for s in part.steps]

    def to_latex(self) -> str:
        """One amsmath document with a section per part."""
        lines = [*_LATEX_HEAD, r"\begin{document}", rf"\title{{{_tex_text(self.title)}}}",
                 r"\date{}", r"\maketitle"]
        if self.intro:
            lines.append(_tex_text(self.intro))
        for part in self.parts:
            lines += part._latex_body()
        return "\n".join([*lines, r"\end{document}", ""])

    def to_markdown(self) -> str:
        """Markdown with a ``##`` section per part (each part's title demoted)."""
        lines = [f"# {self.title}", ""]
        if self.intro:
            lines += [self.intro, ""]
        for part in self.parts:
            lines.append(re.sub(r"^# ", "## ", part.to_markdown(), count=1))
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def write(self, path) -> Path:
        """Write ``.tex`` or ``.md`` by the file's suffix."""
        return _write(path, {".tex": self.to_latex, ".md": self.to_markdown})


def _write(path, renders: dict) -> Path:
    path = Path(path)
    render = renders.get(path.suffix)
    if render is None:
        raise ValueError(f"path must end in .tex or .md, got {path.name!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render())
    return path


def op(latex: str) -> sp.Symbol:
    """A noncommutative symbol printed as ``latex``, for the abstract (display) form of a
    step, e.g. ``op("D") * op("S^{2}") * op("\\kappa")``."""
    return sp.Symbol(latex, commutative=False)


def mpmath_matrix(matrix, digits: int) -> mpmath.matrix:
    """The numeric SymPy ``matrix`` as an ``mpmath.matrix`` of ``mpc``: each entry evaluated
    by ``sympy.N`` at ``digits`` digits, then read at mpmath's working precision."""
    return mpmath.matrix([[mpmath.mpc(*(str(part) for part in sp.N(v, digits).as_real_imag()))
                           for v in row] for row in sp.Matrix(matrix).tolist()])


def check_exact(lhs, rhs) -> str:
    """``'verified ...'`` if ``lhs == rhs`` structurally, or ``lhs - rhs`` expands (cheap, for
    polynomials) or else simplifies to 0."""
    if lhs == rhs:
        return "verified exactly (structurally equal)"
    if _shape(lhs) != _shape(rhs):
        return f"shapes differ: {_shape(lhs)} and {_shape(rhs)}"
    nonzero = [r for r in _entries(lhs - rhs) if r != 0 and sp.expand(r) != 0]
    if not nonzero:
        return "verified exactly (the difference expands to 0)"
    nonzero = [r for r in map(sp.simplify, nonzero) if r != 0]
    if not nonzero:
        return "verified exactly (the difference simplifies to 0)"
    return f"the difference simplifies to {nonzero[0]} (not 0)"


def check_numeric(lhs, rhs, digits: int = MIN_DIGITS, rtol: float = 1e-25, points: int = 4,
                  seed: int = 0, integers: tuple[int, int] = (2, 7), where=None,
                  cases: tuple[dict, ...] = ()) -> str:
    """Compare both sides at ``points`` seeded random points with ``digits`` digits, plus
    the given ``cases`` (partial substitutions, the rest drawn).  ``where(values)`` rejects
    draws outside the statement's hypotheses (e.g. ``k <= N``)."""
    if digits < MIN_DIGITS:
        raise ValueError(f"digits must be >= {MIN_DIGITS} for a numeric check, got {digits}")
    if _shape(lhs) != _shape(rhs):
        return f"shapes differ: {_shape(lhs)} and {_shape(rhs)}"
    rng = random.Random(seed)
    worst = sp.Integer(0)
    for case in [{}] * points + list(cases):
        for _ in range(1000):
            values = {s: _draw(s, rng, integers) for s in _scalar_symbols(lhs, rhs)}
            values.update(case)
            if where is None or where(values):
                break
        else:
            raise ValueError("no draw satisfies the numeric check's `where` condition")
        left, right = _evaluate((lhs, rhs), values, rng, digits)
        for a, b in zip(left, right, strict=True):
            scale = max(abs(a), abs(b), sp.Float(10) ** -(digits // 2))
            worst = max(worst, abs(a - b) / scale)
    if worst < rtol:
        extra = f" and {len(cases)} given cases" if cases else ""
        return (f"verified numerically at {points} random points{extra}, {digits} digits, "
                f"max relative error {float(worst):.1e} < {rtol:g}")
    return f"relative error {float(worst):.3g} >= rtol = {rtol:g}"


def _scalar_symbols(*exprs) -> list[sp.Symbol]:
    """Free symbols that are neither ``Indexed`` entries nor the labels of their bases."""
    symbols = set().union(*(e.free_symbols for e in exprs))
    labels = {i.base.label for e in exprs for i in e.atoms(sp.Indexed)}
    return sorted((s for s in symbols if isinstance(s, sp.Symbol) and s not in labels), key=str)


def _draw(symbol: sp.Symbol, rng: random.Random, integers: tuple[int, int]):
    if symbol.is_integer:
        return sp.Integer(rng.randint(*integers))
    value = sp.Rational(rng.randint(1, 10**6), 10**6)
    if symbol.is_positive:
        return value + sp.Rational(1, 2)
    return 2 * value - 1


def _evaluate(exprs, values: dict, rng: random.Random, digits: int) -> list[list]:
    """Entries of each expression at ``values``, sums carried out, and the ``Indexed``
    entries that remain set to one shared random draw."""
    exprs = [e.subs(values).replace(lambda x: isinstance(x, sp.Determinant),
                                    lambda x: _determinant(x.arg, digits)).doit()
             for e in exprs]
    indexed = sorted(set().union(*(e.atoms(sp.Indexed) for e in exprs)), key=str)
    draw = {i: sp.Rational(rng.randint(-10**6, 10**6), 10**6) for i in indexed}
    return [[sp.N(v, digits) for v in _entries(e.subs(draw))] for e in exprs]


def _determinant(matrix, digits: int) -> sp.Float:
    """``det`` of a numeric matrix by mpmath with 10 guard digits (SymPy's exact
    elimination can mis-test a radical pivot for zero, e.g. at N = 12)."""
    with mpmath.workdps(digits + 10):
        value = mpmath.det(mpmath_matrix(matrix, digits + 10))
    return sp.Float(value.real, digits + 10) + sp.I * sp.Float(value.imag, digits + 10)


def _is_matrix(expr) -> bool:
    return isinstance(expr, sp.MatrixBase)


def _shape(expr) -> tuple[int, ...]:
    return tuple(expr.shape) if _is_matrix(expr) else ()


def _entries(expr) -> list:
    return list(expr) if _is_matrix(expr) else [expr]


def _glyphs(latex: str) -> int:
    """Estimated glyphs in ``latex``: each command (``\\sum``) one, braces, scripts, spaces
    and sizing (``\\left``, ``\\right``) none."""
    latex = re.sub(r"\\(?:left|right)(?![A-Za-z])", "", latex)
    return len(re.sub(r"[{}^_\s]", "", re.sub(r"\\[A-Za-z]+", "c", latex)))


class _Printer(LatexPrinter):
    """SymPy's LaTeX printer without brackets around a term or factor whose only ``Mod`` is
    in a subscript (``{a}_{g \\bmod N}``); with ``split``, a fraction whose numerator is long
    (:data:`_LONG_NUMERATOR`) ``a b`` over ``d`` is printed as ``\\frac{a}{d} b``, ``a`` its
    leading factors up to :data:`_SPLIT_TOKENS` tokens (SymPy's ``long_frac_ratio`` split)."""

    def __init__(self, split: bool = False):
        super().__init__()
        self._split = split

    def _needs_add_brackets(self, expr) -> bool:
        return super()._needs_add_brackets(_unindexed(expr))

    def _needs_mul_brackets(self, expr, first=False, last=False) -> bool:
        return super()._needs_mul_brackets(_unindexed(expr), first=first, last=last)

    def _print_Mul(self, expr) -> str:
        numerator, denominator = sp.fraction(expr, exact=True)
        ratio = None
        if (self._split and denominator != 1
                and _glyphs(self._print(numerator)) > _LONG_NUMERATOR):
            ratio = _SPLIT_TOKENS / len(self._print(denominator).split())
        saved, self._settings["long_frac_ratio"] = self._settings["long_frac_ratio"], ratio
        try:
            return super()._print_Mul(expr)
        finally:
            self._settings["long_frac_ratio"] = saved


def _unindexed(expr):
    """``expr`` with each ``Indexed`` entry replaced by a plain symbol."""
    return expr.xreplace({i: sp.Dummy() for i in expr.atoms(sp.Indexed)})


def _latex(expr, split: bool = False) -> str:
    """``expr`` in LaTeX by :class:`_Printer`."""
    return _Printer(split).doprint(expr)


def _long_latex(lhs, rhs) -> str:
    """``lhs = rhs`` with long numerators split (:data:`_LONG_NUMERATOR`)."""
    return " = ".join(_latex(side, split=True) for side in (lhs, rhs))


def _entrywise(lhs, rhs) -> list:
    """``((i, j), (lhs_ij, rhs_ij))`` for every entry, 1-based."""
    return [((i + 1, j + 1), (lhs[i, j], rhs[i, j]))
            for i in range(lhs.rows) for j in range(lhs.cols)]


def _condition(condition) -> str:
    """A piecewise branch's condition, after its value, in a group (breqn does not break it
    at its relation)."""
    if condition == sp.true:
        return r", \quad \text{otherwise}"
    return rf", \quad \text{{for }} {{{_latex(condition)}}}"


def _dmath(latex: str) -> list[str]:
    return [r"\begin{dmath*}", latex, r"\end{dmath*}"]


def _tex_text(text: str) -> str:
    """Escape LaTeX specials in ``text`` outside ``$...$`` math."""
    parts = re.split(r"(\$[^$]*\$)", text)
    return "".join(p if p.startswith("$") else
                   re.sub(r"([<>])", r"$\1$", re.sub(r"([&%#_{}])", r"\\\1", p))
                   for p in parts)
