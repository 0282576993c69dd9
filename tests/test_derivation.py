"""The derivation engine: checks that pass and fail, rendering, determinism, pdflatex; the
progress it reports (symcnn.progress)."""

import io
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import mpmath
import numpy as np
import pytest
import sympy as sp

from symcnn import progress
from symcnn.symbolic.derivation import (
    Derivation,
    DerivationError,
    Document,
    mpmath_matrix,
    op,
)
from tests.reference import compile_latex

ROOT = Path(__file__).resolve().parents[1]

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


@pytest.mark.slow  # three fresh interpreters
def test_rendering_is_identical_across_processes():
    """Fresh interpreters with different hash seeds render the same bytes."""
    code = ("from tests.test_derivation import example; d = example(); "
            "print(d.to_latex() + d.to_markdown())")
    outputs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              check=True, cwd=ROOT,
                              env={**os.environ, "PYTHONHASHSEED": seed}).stdout
               for seed in ("1", "2", "3")}
    assert len(outputs) == 1


def test_latex_compiles(tmp_path):
    compile_latex(example().write(tmp_path / "d.tex"))


def second() -> Derivation:
    d = Derivation("A second part", "Its own description.")
    d.step("difference of squares", (a - b) * (a + b), a**2 - b**2, "expand")
    return d


def test_a_document_puts_the_parts_under_one_title(tmp_path):
    parts = [example(), second()]
    doc = Document("Two parts & a title", "An intro with $x_n$ and 5%.", parts)
    assert [s.name for s in doc.steps] == ["square", "pythagoras", "parseval",
                                           "difference of squares"]
    md = doc.to_markdown()
    assert md.startswith("# Two parts & a title\n\nAn intro with $x_n$ and 5%.\n\n"
                         "## Parseval for the unitary DFT\n")
    assert "\n## A second part\n" in md and md.count("\n# ") == 0
    for part in parts:  # each part's own rendering, title demoted
        assert part.to_markdown().replace("# ", "## ", 1) in md
    tex = doc.to_latex()
    assert tex.startswith("\\documentclass{article}\n\\usepackage{amsmath,amssymb}\n"
                          "\\usepackage{breqn}\n\\allowdisplaybreaks\n\\sloppy\n"
                          "\\begin{document}\n"
                          "\\title{Two parts \\& a title}\n\\date{}\n\\maketitle\n"
                          "An intro with $x_n$ and 5\\%.\n\\section*{Parseval")
    assert tex.endswith("\\end{enumerate}\n\\end{document}\n")
    assert tex.count("\\begin{document}") == 1 and tex.count("\\section*{") == 2
    for part in parts:  # each part's body, between its own \begin/\end{document}
        body = part.to_latex().split("\\begin{document}\n")[1].split("\\end{document}")[0]
        assert body in tex
    assert doc._repr_markdown_() == md
    assert doc.write(tmp_path / "d.md").read_text() == md
    assert doc.write(tmp_path / "sub" / "d.tex").read_text() == tex
    with pytest.raises(ValueError, match="must end in .tex or .md"):
        doc.write(tmp_path / "d.txt")
    compile_latex(tmp_path / "sub" / "d.tex")


def test_a_document_without_intro_has_no_intro_paragraph():
    doc = Document("Title", parts=[second()])
    assert doc.to_markdown().startswith("# Title\n\n## A second part\n")
    assert "\\maketitle\n\\section*{A second part}" in doc.to_latex()


def test_display_symbols_do_not_commute():
    assert op("D") * op("S") != op("S") * op("D")
    assert sp.latex(op("D") * op("S^{2}")) == "D S^{2}"


def test_mpmath_matrix_keeps_the_digits_asked_for():
    third = sp.Rational(1, 3)
    matrix = sp.Matrix([[third, sp.sqrt(2) * sp.I], [1 - sp.I, 0]])
    with mpmath.workdps(50):
        got = mpmath_matrix(matrix, 60)
        assert got.rows == got.cols == 2
        assert abs(got[0, 0] - mpmath.mpf(1) / 3) < mpmath.mpf(10) ** -49
        assert abs(got[0, 1] - mpmath.sqrt(2) * 1j) < mpmath.mpf(10) ** -49
        assert got[1, 0] == mpmath.mpc(1, -1) and got[1, 1] == 0
        low = mpmath_matrix(matrix, 10)  # evaluated at 10 digits only
        assert 1e-12 < abs(low[0, 0] - mpmath.mpf(1) / 3) < 1e-9


# progress (symcnn.progress): what a derivation, or any task, reports on stderr ------------


@pytest.fixture
def shown(monkeypatch):
    """Every task shown at once, every state a line (no delay, no throttle)."""
    monkeypatch.setattr(progress, "DELAY", 0.0)
    monkeypatch.setattr(progress, "INTERVAL", 0.0)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def three_steps() -> Derivation:
    """Three cheap steps (each checked by expansion)."""
    d = Derivation("three steps")
    for name, power in (("square", 2), ("cube", 3), ("fourth power", 4)):
        d.step(name, (a + b) ** power, sp.expand((a + b) ** power), "expand")
    return d


def lines(text: str) -> list[str]:
    """``text`` without the times, one entry per line."""
    return re.sub(r" \(\d+\.\d s\)", "", text).splitlines()


def test_each_step_of_a_derivation_is_reported_with_the_time(shown, capsys):
    with progress.task("derive example") as task:
        three_steps()
        task.result = f"{task.done} steps checked"
    err = capsys.readouterr().err
    assert lines(err) == ["symcnn derive example", "symcnn derive example: step 1 square",
                          "symcnn derive example: step 2 cube",
                          "symcnn derive example: step 3 fourth power",
                          "symcnn derive example: 3 steps checked"]
    assert all(re.search(r" \(\d+\.\d s\)$", line) for line in err.splitlines())


def test_a_task_that_ends_within_the_delay_prints_nothing(capsys):
    assert progress.DELAY >= 0.5
    with progress.task("derive example"):
        second()
    three_steps()  # outside any task: no reporter, nothing printed
    assert capsys.readouterr().err == ""


def test_a_long_step_is_shown_without_a_further_update(monkeypatch, capsys):
    """The line appears after the delay although the step started before it."""
    monkeypatch.setattr(progress, "DELAY", 0.1)
    with progress.task("slow"):
        progress.update("waiting")
        time.sleep(0.5)
        assert lines(capsys.readouterr().err) == ["symcnn slow: step 1 waiting"]
    assert lines(capsys.readouterr().err) == ["symcnn slow: done"]


def test_lines_are_throttled_the_latest_state_wins(monkeypatch, capsys):
    monkeypatch.setattr(progress, "DELAY", 0.0)
    monkeypatch.setattr(progress, "INTERVAL", 60.0)
    with progress.task("many", total=1000, unit="instance"):
        for _ in range(1000):
            progress.update()
    assert len(capsys.readouterr().err.splitlines()) <= 2  # at most a state and the end


def test_away_from_a_terminal_a_count_makes_a_line_per_tenth(shown, capsys):
    with progress.task("train", total=5.0, unit="t ="):
        for t in np.linspace(0, 5, 101):
            progress.update(f"loss = {1 / (1 + t):.3f}", done=t)
    times = np.linspace(0, 5, 101)
    tenths = [t for before, t in zip(times, times[1:], strict=False)
              if int(2 * t) > int(2 * before)]
    assert len(tenths) == 10
    assert lines(capsys.readouterr().err) == [
        "symcnn train",
        *[f"symcnn train: t = {t:g}/5 loss = {1 / (1 + t):.3f}" for t in tenths],
        "symcnn train: done"]


def test_a_terminal_line_is_redrawn_in_place(shown, monkeypatch):
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    with progress.task("derive example"):
        three_steps()
        progress.note("a note above the line")
    text = terminal.getvalue()
    assert text.count("\n") == 2  # the note and the last line; the rest is redrawn in place
    assert re.search(r"\rsymcnn derive example: done \(\d+\.\d s\)\x1b\[K\n$", text)
    assert "\r\x1b[Ksymcnn: a note above the line\n\rsymcnn derive example: step 3" in text
    assert "\rsymcnn derive example: step 2 cube" in text


def test_a_task_inside_another_is_shown_on_its_line(shown, capsys):
    with progress.task("check claim", total=2, unit="instance"):
        with progress.task("proof"):
            second()
        progress.update()
    assert lines(capsys.readouterr().err) == [
        "symcnn check claim", "symcnn check claim: proof",
        "symcnn check claim: proof: step 1 difference of squares",
        "symcnn check claim: instance 1/2", "symcnn check claim: done"]


def test_quiet_silences_tasks_and_notes_and_a_failure_ends_the_line(shown, capsys):
    with progress.quiet():
        with progress.task("derive example"):
            three_steps()
        progress.note("not shown")
        with progress.quiet(False):  # does not un-silence
            progress.note("not shown either")
    assert capsys.readouterr().err == ""
    with pytest.raises(DerivationError), progress.task("derive wrong"):
        Derivation("wrong").step("slip", (a + b) ** 2, a**2 + b**2, "wrong on purpose")
    assert lines(capsys.readouterr().err)[-1] == "symcnn derive wrong: stopped by DerivationError"
