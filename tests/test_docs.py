"""The documentation site builds with ``mkdocs build --strict``, and every code example of the
docs runs.

Conventions of the pages' fenced blocks (stated in docs/index.md):

- ```` ```python ````: run in order, one namespace per page, in a temporary working directory;
  a block of ``>>>`` lines (or ```` ```pycon ````) is a session whose expected output, or
  ``Name: message`` of the exception raised, is compared exactly.
- ```` ```bash ```` / ```` ```console ````: each ``symcnn ...`` line runs through
  ``symcnn.cli.main`` and must exit 0, or the status of a trailing ``# exits N``; a
  ``python benchmarks/NAME.py ...`` line names a benchmark and options its ``--help`` lists
  (benchmarks take minutes: not run); ``pip install``/``python3 -m venv`` lines must be one
  of the README's two commands or their parts (the fresh-machine check, ``.ci/run``, runs
  those).
- ```` ```text ```` and unlabelled blocks: output, synopses and diagrams, not run.

``docs/examples`` is on ``sys.path`` while a page runs, as the pages say for
``--load my_claims``; claims a page registers are removed afterwards.
"""

import contextlib
import doctest
import io
import os
import re
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from symcnn import cli, theorems

from .reference import require

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(p.relative_to(ROOT).as_posix() for p in DOCS.rglob("*.md")) + ["README.md"]
FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)"
                   r"^(?P=indent)```[ \t]*$", re.S | re.M)
EXITS = re.compile(r"#\s*exits (\d+)\s*$")
RUN = ("python", "pycon", "bash", "console", "sh", "shell")
SHOWN = ("text", "")
NOT_RUN = {("docs/derivations.md", "symcnn derive --all --out docs/derivations"):
           "derives every document (minutes); tests/test_documents.py runs exactly this"}
"""Command lines not run, by ``(page, command)``, with the reason; the page says so."""
EXTRAS = {"docs/torch.md": ("torch", "torch"), "docs/tutorials/torch.md": ("torch", "torch"),
          "docs/campaigns.md": ("distributed", "dask")}
"""Pages whose examples need an optional extra: ``page -> (module, extra)``."""


def blocks(page: str):
    """``(language, first line number, code)`` of each fenced block of ``page``."""
    text = (ROOT / page).read_text()
    for m in FENCE.finditer(text):
        line = text.count("\n", 0, m.start()) + 2
        yield m["lang"], line, textwrap.dedent(m["body"])


def readme_commands() -> list[str]:
    """The README's two commands: the first two lines of its first block."""
    lang, _, code = next(blocks("README.md"))
    return code.splitlines()[:2]


def shell_lines(code: str):
    """The logical lines of a shell block (continuations joined, ``$ `` prompts dropped)."""
    for line in code.replace("\\\n", " ").splitlines():
        line = line.strip().removeprefix("$ ")
        if line and not line.startswith("#"):
            yield line


@contextlib.contextmanager
def isolated():
    """As in a process of its own: the claims and hypotheses registered inside, and the
    modules imported from docs/, are forgotten on leaving."""
    catalogue, hypotheses = dict(theorems.CATALOGUE), dict(theorems.HYPOTHESES)
    modules = set(sys.modules)
    try:
        yield
    finally:
        for registry, saved in ((theorems.CATALOGUE, catalogue),
                                (theorems.HYPOTHESES, hypotheses)):
            registry.clear()
            registry.update(saved)
        for name in set(sys.modules) - modules:
            if str(DOCS) in str(getattr(sys.modules[name], "__file__", "")):
                del sys.modules[name]


def run_symcnn(args: list[str]) -> int:
    """``symcnn ARGS`` as its own process would run it, here; its exit status."""
    with isolated():
        try:
            return cli.main(args) or 0
        except SystemExit as stop:
            return stop.code if isinstance(stop.code, int) else 1


def check_benchmark(words: list[str], where: str):
    """A benchmark command: the script exists and its ``--help`` lists each option used."""
    script = ROOT / words[1]
    assert script.is_file() and words[1].startswith("benchmarks/"), f"{where}: no {words[1]}"
    usage = subprocess.run([sys.executable, str(script), "--help"], capture_output=True,
                           text=True, cwd=ROOT, timeout=60)
    assert usage.returncode == 0, f"{where}: {usage.stderr[-500:]}"
    for option in (w for w in words[2:] if w.startswith("--")):
        assert option in usage.stdout, f"{where}: {words[1]} has no option {option}"


def run_shell(code: str, page: str, where: str):
    """Run (or check) each line of a shell block."""
    readme = readme_commands()
    parts = {part.strip() for command in readme for part in command.split("&&")}
    for line in shell_lines(code):
        exits = EXITS.search(line)
        words = shlex.split(line, comments=True)
        if line in readme or all(p.strip() in parts for p in line.split("#")[0].split("&&")):
            continue                            # the README's commands: run by .ci/run
        if (page, shlex.join(words)) in NOT_RUN:
            continue
        if words[0] == "symcnn":
            expected = int(exits[1]) if exits else 0
            status = run_symcnn(words[1:])
            assert status == expected, f"{where}: `{line}` exited {status}, not {expected}"
        elif words[:1] == ["python"] and words[1:2] and words[1].startswith("benchmarks/"):
            check_benchmark(words, where)
        else:
            pytest.fail(f"{where}: `{line}` is neither a symcnn command, a benchmark nor one "
                        "of the README's commands")


def run_session(code: str, namespace: dict, where: str):
    """A ``>>>`` session: each example's output (or ``Name: message`` of its exception)
    equals the text shown."""
    for example in doctest.DocTestParser().get_examples(code):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            try:
                try:
                    value = eval(compile(example.source, where, "eval"), namespace)
                except SyntaxError:
                    value = None
                    exec(compile(example.source, where, "exec"), namespace)
                if value is not None:
                    print(repr(value))
            except Exception as error:           # the page shows the exception
                print(f"{type(error).__name__}: {error}")
        assert out.getvalue().strip() == example.want.strip(), \
            f"{where}: >>> {example.source.strip()}"


def run_page(page: str):
    """Run every block of ``page`` in order."""
    namespace = {"__name__": "__docs__"}
    for lang, line, code in blocks(page):
        where = f"{page}:{line}"
        assert lang in RUN + SHOWN, f"{where}: unknown block language {lang!r}"
        if lang in SHOWN:
            continue
        if lang == "pycon" or code.lstrip().startswith(">>>"):
            run_session(code, namespace, where)
        elif lang == "python":
            exec(compile(code, where, "exec"), namespace)
        else:
            run_shell(code, page, where)


@pytest.mark.parametrize("page", PAGES)
def test_examples_run(page, tmp_path, monkeypatch):
    """Every code example of ``page`` runs (in ``tmp_path``)."""
    if page in EXTRAS:
        require(*EXTRAS[page])
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(DOCS / "examples"))
    with isolated():
        run_page(page)


def test_shown_files_are_the_files():
    """A block whose first line is ``# docs/examples/NAME`` shows that file as it is."""
    shown = [(page, line, code) for page in PAGES for lang, line, code in blocks(page)
             if code.startswith("# docs/examples/")]
    assert shown
    for page, line, code in shown:
        name, body = code.split("\n", 1)
        text = (ROOT / name.removeprefix("# ")).read_text()
        assert body.strip() == text.split('"""', 2)[-1].strip(), f"{page}:{line}"


def test_not_run_lines_are_on_their_page_and_marked():
    """Every command listed as not run is on its page, with a comment naming the test that
    runs it instead."""
    for page, command in NOT_RUN:
        lines = [line for lang, _, code in blocks(page) if lang in RUN
                 for line in shell_lines(code) if shlex.join(shlex.split(line, comments=True))
                 == command]
        assert lines and all("tests/" in line.split("#", 1)[-1] for line in lines), command


def test_getting_started_has_the_readme_commands():
    """docs/index.md shows the README's two commands byte for byte."""
    _, _, code = next(blocks("docs/index.md"))
    assert code.splitlines()[:2] == readme_commands()


def test_block_parser():
    """The fence parser finds indented blocks, their languages and first lines."""
    text = "a\n\n  ```bash\n  symcnn zoo\n  ```\n\n```\nx\n```\n"
    found = [(m["lang"], textwrap.dedent(m["body"])) for m in FENCE.finditer(text)]
    assert found == [("bash", "symcnn zoo\n"), ("", "x\n")]
    assert list(shell_lines("$ symcnn a \\\n  --b\n# c\n\nsymcnn d  # exits 1\n")) == \
        ["symcnn a    --b", "symcnn d  # exits 1"]


def test_session_compares_output_and_exceptions():
    """A session fails on a wrong output and on a wrong exception message."""
    run_session(">>> 1 + 1\n2\n>>> int('x')\nValueError: invalid literal for int() with "
                "base 10: 'x'\n", {}, "t")
    for wrong in (">>> 1 + 1\n3\n", ">>> int('x')\nTypeError: no\n"):
        with pytest.raises(AssertionError):
            run_session(wrong, {}, "t")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site built by ``mkdocs build --strict``: (directory, mkdocs output)."""
    require("mkdocs", "docs")
    require("mkdocstrings", "docs")
    require("material", "docs")
    out = tmp_path_factory.mktemp("site")
    build = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                            str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300,
                           env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    return out, build.returncode, build.stdout + build.stderr


def test_site_builds_strict(site):
    """``mkdocs build --strict`` exits 0 without a warning."""
    _, status, log = site
    assert status == 0, log[-3000:]
    assert "WARNING" not in log, log[-3000:]


def test_site_api_reference(site):
    """The API reference holds the docstrings: Theory's among them."""
    out, _, _ = site
    html = (out / "api" / "theory" / "index.html").read_text()
    text = " ".join(re.sub(r"<[^>]+>", " ", html).split())
    assert 'id="symcnn.theory.Theory"' in html
    assert "The per-frequency (CNN) or per-mode (fully connected) theory of model on stats" in text
    # docs/griffe_docstrings.py: NumPy sections become lists, Sphinx roles code
    assert "Parameters model (LinearCNN or FullyConnected) stats (Statistics)" in text
    assert "Predict also when the hypotheses of APPROXIMATIONS fail" in text
    for page in sorted((out / "api").glob("*/index.html")):
        roles = re.findall(r":(?:class|mod|func|meth|data|attr|exc|obj):", page.read_text())
        assert not roles, f"{page}: Sphinx roles left raw: {roles[:3]}"


def test_site_renders_math(site):
    """A derivation page's math lands in arithmatex spans and blocks, with no raw ``$``."""
    out, _, _ = site
    html = (out / "derivations" / "closed_forms" / "index.html").read_text()
    assert html.count('<span class="arithmatex">') > 20
    assert '<div class="arithmatex">' in html
    body = html.split('<article', 1)[1].split("</article>", 1)[0]
    text = re.sub(r"<(code|pre)\b.*?</\1>", "", body, flags=re.S)
    assert "$" not in re.sub(r'<span class="arithmatex">.*?</span>|<div class="arithmatex">'
                             r".*?</div>", "", text, flags=re.S)
