"""The closed forms' document, docs/derivations/closed_forms.{tex,md}: one section per
derivation under :data:`TITLE` and :data:`INTRO`."""

from __future__ import annotations

from ..derivation import Derivation, Document
from .r1 import r1
from .r3 import r3, r3b
from .r3c import r3c
from .r4 import r4
from .r5 import r5

TITLE = "Closed forms of the reduced gradient flows"
INTRO = ("Each section is a checked derivation (symcnn.symbolic.closed_forms): the ansatz is "
         "substituted into the flow, the velocities are solved for, the scalar ODE for the "
         "strength $u$ comes out of differentiation, sympy.dsolve solves it (confirmed by "
         "sympy.checkodesol), and the half-way time comes out of sympy.solve. Conventions of "
         "docs/conventions.md; $\\operatorname{exprel}(z) = (e^z - 1)/z$, "
         "$\\operatorname{exprel}(0) = 1$.")


def derivations() -> list[Derivation]:
    """The derivations of docs/derivations/closed_forms.{tex,md}, in order."""
    return [r.derivation for r in (r1(), r3(), r3b(), r3c(), r5(2), r5(3), r5(4), r4())]


def document() -> Document:
    """The :class:`~symcnn.symbolic.derivation.Document` of
    docs/derivations/closed_forms.{tex,md}: :data:`TITLE`, :data:`INTRO` and
    :func:`derivations`."""
    return Document(TITLE, INTRO, derivations())

