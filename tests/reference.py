"""Independent references shared by the tests."""

import numpy as np


def dft_matrix(shape) -> np.ndarray:
    """``U[f, n] = N^(-1/2) exp(-2 pi i f.n / N)``: Kronecker product of the 1-D matrices,
    which is row-major flattening of ``f`` and ``n``."""
    u = np.ones((1, 1))
    for n in shape:
        k = np.arange(n)
        u = np.kron(u, np.exp(-2j * np.pi * np.outer(k, k) / n) / np.sqrt(n))
    return u


def compile_latex(path) -> None:
    """Compile ``path`` with pdflatex; a missing pdflatex skips the test with the packages to
    install, except in CI (``CI`` set), where it fails."""
    import os
    import shutil
    import subprocess

    import pytest

    if shutil.which("pdflatex") is None:
        if os.environ.get("CI"):
            pytest.fail("pdflatex is missing in CI: .ci/run must install texlive-latex-base "
                        "and texlive-latex-recommended")
        pytest.skip("pdflatex not found: apt-get install texlive-latex-base "
                    "texlive-latex-recommended")
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error",
                          "-output-directory", str(path.parent), str(path)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-2000:]
    assert path.with_suffix(".pdf").stat().st_size > 1000


def require(module: str, extra: str):
    """Import ``module`` of the optional ``extra``; its absence skips the test with what to
    install, except in CI (``CI`` set), where it fails."""
    import importlib
    import os

    import pytest

    try:
        return importlib.import_module(module)
    except ModuleNotFoundError:
        if os.environ.get("CI"):
            pytest.fail(f"{module} is missing in CI: .ci/run must install the {extra} extra")
        pytest.skip(f"{module} not installed: pip install '.[{extra}]'",
                    allow_module_level=True)
