"""The derivation engine: checks that pass and fail, rendering, determinism, pdflatex."""

import os
import subprocess
import sys

import pytest
import sympy as sp

from symcnn.symbolic.derivation import Derivation, DerivationError
from tests.reference import compile_latex

a, b = sp.symbols("a b", real=True)
n, f = sp.symbols("n f", integer=True)
N = sp.Symbol("N", integer=True, positive=True)
x = sp.IndexedBase("x")


def unitary_dft(f, n):
    return sp.exp(-2 * sp.pi * sp.I * f * n / N) / sp.sqrt(N)


def example() -> Derivation:
    d = Derivation("Parseval for the unitary DFT", "Two steps & a 50% check_name.")
    d.assume("real samples $x_n$, $N \\ge 1$")
    d.step("square", (a + b) ** 2, a**2 + 2 * a * b + b**2, "expand the square")
    d.step("pythagoras", sp.sin(a) ** 2 + sp.cos(a) ** 2, 1, "a trigonometric identity")
    d.step("parseval",
           sp.Sum(sp.Abs(sp.Sum(x[n] * unitary_dft(f, n), (n, 0, N - 1))) ** 2, (f, 0, N - 1)),
           sp.Sum(x[n] ** 2, (n, 0, N - 1)), "$U$ is unitary", check="numeric")
    return d


def test_checks_record_how_each_step_was_verified():
    d = example()
    assert d["square"].verified == "verified exactly (the difference expands to 0)"
    assert d["pythagoras"].verified == "verified exactly (the difference simplifies to 0)"
    assert d["parseval"].verified.startswith("verified numerically at 4 random points, 30 digits")


def test_matrix_statements_are_checked_entrywise():
    d = Derivation("matrices")
    m = sp.Matrix([[a, b], [b, a]])
    d.step("square", m**2, sp.Matrix([[a**2 + b**2, 2 * a * b], [2 * a * b, a**2 + b**2]]),
           "multiply out")
    with pytest.raises(DerivationError, match="step 'transpose' fails its exact check"):
        d.step("transpose", sp.Matrix([[a, b]]), sp.Matrix([[b, a]]), "wrong on purpose")
    with pytest.raises(DerivationError, match="shapes differ"):
        d.step("shapes", sp.Matrix([[a, b]]), sp.Matrix([a, b]), "wrong on purpose")


@pytest.fixture
def wrong_steps():
    """Deliberately wrong steps: an algebra slip, an off-by-one sum, a missing 1/sqrt(N)."""
    return [
        ("slip", (a + b) ** 2, a**2 + b**2, "exact"),
        ("off-by-one", sp.Sum(x[n], (n, 0, N - 1)), sp.Sum(x[n], (n, 0, N - 2)), "numeric"),
        ("normalisation",
         sp.Sum(sp.Abs(sp.Sum(x[n] * unitary_dft(f, n) * sp.sqrt(N), (n, 0, N - 1))) ** 2,
                (f, 0, N - 1)), sp.Sum(x[n] ** 2, (n, 0, N - 1)), "numeric"),
    ]


def test_a_wrong_step_is_caught_and_named(wrong_steps):
    d = example()
    for name, lhs, rhs, check in wrong_steps:
        with pytest.raises(DerivationError, match=f"step '{name}' fails its {check} check"):
            d.step(name, lhs, rhs, "wrong on purpose", check=check)
    assert [s.name for s in d.steps] == ["square", "pythagoras", "parseval"]


def test_numeric_checks_need_enough_digits_and_a_known_kind():
    d = Derivation("options")
    with pytest.raises(ValueError, match="digits must be >= 30"):
        d.step("low", a, a + 0, "x", check="numeric", digits=15)
    with pytest.raises(ValueError, match="check must be 'exact' or 'numeric'"):
        d.step("kind", a, a, "x", check="maybe")
    d.step("same", a, a, "x")
    with pytest.raises(ValueError, match="step name 'same' is already used"):
        d.step("same", b, b, "y")


def test_rendering_escapes_text_and_keeps_math():
    tex = example().to_latex()
    assert tex.startswith("\\documentclass{article}") and tex.endswith("\\end{document}\n")
    assert "Two steps \\& a 50\\% check\\_name." in tex
    assert "real samples $x_n$" in tex
    assert "$<$ 1e-25" in tex  # text-mode < is not in the default OT1 font
    md = example().to_markdown()
    assert md.startswith("# Parseval for the unitary DFT")
    assert "$$ \\left(a + b\\right)^{2} = a^{2} + 2 a b + b^{2} $$" in md
    assert example()._repr_latex_().startswith("$\\begin{aligned}")


def test_write_by_suffix(tmp_path):
    d = example()
    assert d.write(tmp_path / "p.md").read_text() == d.to_markdown()
    assert d.write(tmp_path / "sub" / "p.tex").read_text() == d.to_latex()
    with pytest.raises(ValueError, match="must end in .tex or .md"):
        d.write(tmp_path / "p.txt")


def test_rendering_is_identical_across_processes():
    """Fresh interpreters with different hash seeds render the same bytes."""
    code = ("from tests.test_derivation import example; d = example(); "
            "print(d.to_latex() + d.to_markdown())")
    outputs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              check=True, env={**os.environ, "PYTHONHASHSEED": seed}).stdout
               for seed in ("1", "2", "3")}
    assert len(outputs) == 1


def test_latex_compiles(tmp_path):
    compile_latex(example().write(tmp_path / "d.tex"))
