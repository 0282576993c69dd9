"""The general-N Fourier reduction: every step verifies, wrong variants fail, and the
documents in docs/derivations are what the derivation renders (``SYMCNN_UPDATE_DOCS=1``
rewrites them) and compile."""

import os
import shutil
from functools import cache
from pathlib import Path

import pytest
import sympy as sp

from symcnn import reduction as r
from symcnn.derivation import Derivation, DerivationError
from tests.reference import compile_latex

DOCS = Path(__file__).resolve().parents[1] / "docs" / "derivations"
DOCUMENTS = {"cnn_fourier": lambda: r.cnn_fourier("correlation"),
             "cnn_fourier_convolution": lambda: r.cnn_fourier("convolution"),
             "fully_connected": r.fully_connected}


@cache
def build(name: str) -> Derivation:
    return DOCUMENTS[name]()


@pytest.mark.parametrize("name", DOCUMENTS)
def test_every_step_is_verified(name):
    d = build(name)
    assert len(d.steps) == (4 if name == "fully_connected" else 10)
    assert all(s.verified.startswith("verified") for s in d.steps)


def within(values):
    return values.get(r.k, 1) <= values[r.N]


def convolution_theorem(kappa_convention: str, with_offset: bool = True):
    kappa = (r.kappa(r.f, kappa_convention) if with_offset else
             sp.Sum(r.w[r.p] * sp.exp(2 * sp.pi * sp.I * r.f * r.p / r.N), (r.p, 0, r.k - 1)))
    return (sp.Sum(r.u(r.f, r.n) * r.layer(r.n), (r.n, 0, r.N - 1)),
            kappa * sp.Sum(r.u(r.f, r.n) * r.x[r.n], (r.n, 0, r.N - 1)))


@pytest.mark.parametrize("name, lhs_rhs", [
    ("the convolution spectrum", convolution_theorem("convolution")),
    ("no centring offset", convolution_theorem("correlation", with_offset=False)),
    ("D transposed", (
        -sp.Sum(sp.exp(2 * sp.pi * sp.I * r.f * r.lag(r.p) / r.N)
                * sp.Sum(sp.conjugate(r.hermitian(r.a, r.b, r.g))
                         * sp.exp(2 * sp.pi * sp.I * r.g * r.lag(r.p) / r.N), (r.g, 0, r.N - 1)),
                (r.p, 0, r.k - 1)),
        -sp.Sum(r.dirichlet(r.g, r.f) * r.hermitian(r.a, r.b, r.g), (r.g, 0, r.N - 1)))),
    ("no factor N for the full kernel",
     (r.dirichlet(r.f, r.g).subs(r.k, r.N), sp.KroneckerDelta(sp.Mod(r.f - r.g, r.N), 0))),
])
def test_mutated_steps_fail(name, lhs_rhs):
    with pytest.raises(DerivationError, match=f"step '{name}' fails its numeric check"):
        Derivation("mutations").step(name, *lhs_rhs, "wrong on purpose", check="numeric",
                                     where=within, cases=({r.f: 1, r.g: 1},))


def test_wrong_fully_connected_gradient_fails():
    w1, w2 = r._real_matrix("W1", 2, 3), r._real_matrix("W2", 2, 2)
    sxx, syx = r._real_matrix("Sxx", 3, 3, symmetric=True), r._real_matrix("Syx", 2, 3)
    loss = (w2 * w1 * sxx * w1.T * w2.T).trace() / 2 - (w2 * w1 * syx.T).trace()
    with pytest.raises(DerivationError, match="step 'no transpose' fails its exact check"):
        Derivation("m").step("no transpose", -loss.diff(w1),
                             w2 * (syx - w2 * w1 * sxx), "wrong on purpose")


@pytest.mark.parametrize("name", DOCUMENTS)
def test_documents_are_current_and_compile(name, tmp_path):
    d = build(name)
    for suffix, render in ((".tex", d.to_latex), (".md", d.to_markdown)):
        path = DOCS / f"{name}{suffix}"
        if os.environ.get("SYMCNN_UPDATE_DOCS"):
            d.write(path)
        assert path.read_text() == render(), f"{path} is stale: run the derivations/ scripts"
    compile_latex(Path(shutil.copy(DOCS / f"{name}.tex", tmp_path)))
