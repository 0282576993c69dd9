"""Closed-form learning curves of the reduced gradient flows (docs/theory-reference.md, R1,
R3, R3b, R3c, R4, R5, and gradient descent per frequency), each a :class:`Reduction` with a
checked :class:`~symcnn.symbolic.derivation.Derivation`.

Every formula is computed by SymPy from the flow it reduces: the ansatz is substituted into
the system, the velocities are solved for, the scalar ODE comes out of differentiation and
substitution, ``sympy.dsolve`` solves it (confirmed by ``sympy.checkodesol``), and the
half-way time comes out of ``sympy.solve``.  Each step is checked exactly where SymPy decides
it, else at 30 digits.

Conventions (docs/conventions.md): gradient flow ``tau dtheta/dt = -dL/dtheta``; per
frequency ``M_f = beta_f kappa_{L-1, f} ... kappa_{1, f}``, ``T_f = (Sigma_yx U^*)_f``,
``Lambda_f = (U Sigma_xx U^*)_{ff}``; for ``C_in = 1`` the strength is ``u = |M_f|``,
``s = |T_f|`` and ``lambda = Lambda_f``.

Reductions, one module each (the functions shadow their modules' names here: import a
module's private helpers as ``from symcnn.symbolic.closed_forms.r3c import ...``):

- :func:`r1`: fully connected, white input, ``tau du/dt = 2 u (s - u)``;
- :func:`r3b`: one frequency, ``C_in = 1``, stationary input,
  ``tau du/dt = 2 sqrt(N) u (s - lambda u)``; :func:`r3` is ``lambda = 1``;
- :func:`r3c`: ``C_in, C, N_o > 1``, white input: each singular mode of ``T_f`` obeys R3;
- :func:`r5`: ``L - 1`` full-kernel convolution layers,
  ``tau du/dt = L N^((L-1)/L) u^(2 - 2/L) (s - lambda u)``; explicit for ``L = 2``, implicit
  ``t(u)`` for ``L > 2``;
- :func:`r4`: the linearised small-kernel flow for explicit ``N, k``: the end-to-end map
  grows like ``exp(2 gamma t / tau)`` with ``gamma^2`` the eigenvalues of ``S D S``
  (:func:`symcnn.theory.small_kernels.r4_growth_rates` computes them numerically);
- :func:`gd`: one step of gradient descent, the exact map
  ``u' = u (1 + eta c (s - lambda u))^2`` (:attr:`Reduction.update`).

:func:`document` is docs/derivations/closed_forms.{tex,md}.  Numbers come from
:meth:`Reduction.kernel`; numerically stable forms use :class:`symcnn.codegen.exprel`
(``(e^z - 1)/z``, ``1`` at ``z = 0``), which every :mod:`symcnn.codegen` backend evaluates
with ``expm1``.
"""

from ...codegen import exprel
from .base import N, Reduction, lam, s, t, tau, u, u0, v
from .document import INTRO, TITLE, derivations, document
from .gd import gd
from .r1 import r1
from .r3 import r3, r3b
from .r3c import r3c
from .r4 import r4
from .r5 import r5

__all__ = ["INTRO", "N", "Reduction", "TITLE", "derivations", "document", "exprel", "gd",
           "lam", "r1", "r3", "r3b", "r3c", "r4", "r5", "s", "t", "tau", "u", "u0", "v"]
