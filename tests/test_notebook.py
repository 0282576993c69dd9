"""docs/tutorial.ipynb runs top to bottom in a fresh kernel of this interpreter, its outputs
render richly, and the committed file stays clean."""

import base64
import os
import re
import sys
from pathlib import Path

import pytest

from tests.reference import require

nbformat = require("nbformat", "docs")
nbclient = require("nbclient", "docs")
require("ipykernel", "docs")
require("matplotlib", "reproduce")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "docs" / "tutorial.ipynb"
CELL_TIMEOUT = 300
"""Seconds per cell: the whole notebook takes about 30 s here (a cold kernel cache adds the
code generation of R3b's kernels)."""


def code_cells(nb):
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def test_the_committed_notebook_has_no_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    assert [(c.outputs, c.execution_count) for c in code_cells(nb)] == \
        [([], None)] * len(code_cells(nb))


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """The notebook executed by the native ``python3`` kernel of ipykernel (this
    interpreter, whatever kernel specs are installed), in a temporary directory."""
    from jupyter_client import KernelManager
    from jupyter_client.kernelspec import KernelSpecManager

    manager = KernelManager(kernel_name="python3",
                            kernel_spec_manager=KernelSpecManager(kernel_dirs=[]))
    assert manager.kernel_spec.argv[0] == sys.executable
    nb = nbformat.read(NOTEBOOK, as_version=4)
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHONPATH", path)  # the kernel imports this checkout's symcnn
        nbclient.NotebookClient(nb, km=manager, timeout=CELL_TIMEOUT,
                                resources={"metadata": {"path": str(
                                    tmp_path_factory.mktemp("tutorial"))}}).execute()
    return [output for cell in code_cells(nb) for output in cell.outputs]


def rich(outputs, mime: str) -> list[str]:
    return [o["data"][mime] for o in outputs if mime in o.get("data", {})]


@pytest.mark.slow
def test_the_notebook_runs_without_error(executed):
    assert [o for o in executed if o.output_type == "error"] == []
    stderr = "".join(o.text for o in executed if o.get("name") == "stderr")
    assert all(line.startswith("symcnn ") for line in stderr.splitlines() if line), stderr
    stdout = "".join(o.text for o in executed if o.get("name") == "stdout")
    assert "half-way time: tau*log(-1 + s/(lambda*u_0))/(2*sqrt(N)*s)" in stdout
    assert "passed: True" in stdout
    error = float(re.search(r"/ \(s_f / lambda_f\): (\S+)", stdout).group(1))
    assert error < 1e-8  # the closed form against training (docs/theory.md: < 1e-8)


@pytest.mark.slow
def test_the_notebook_outputs_render_richly(executed):
    latex = rich(executed, "text/latex")
    assert len(latex) == 1 and r"\text{dsolve}" in latex[0] and r"\sqrt{N}" in latex[0]
    markdown = rich(executed, "text/markdown")
    assert any(m.startswith("**Theory** of a linear CNN") for m in markdown)
    assert any(m.startswith("| theorem | hypotheses |") and "stationary input" in m
               for m in markdown)  # the check's Result
    html = rich(executed, "text/html")
    assert any("<b>Trajectory</b>" in h and "<svg" in h and "<polyline" in h for h in html)
    (png,) = rich(executed, "image/png")
    assert base64.b64decode(png).startswith(b"\x89PNG")
