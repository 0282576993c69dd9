"""R3c: several input channels, white input, one frequency: each singular mode of ``T_f``
obeys R3 (docs/theory-reference.md, R3c)."""

from __future__ import annotations

import random
from functools import cache

import sympy as sp

from ..derivation import Derivation, op
from .base import N, Reduction, reduction, s, sandwich, strength_ode, t, tau, u
from .r3 import r3


def _unitary2(h, phi) -> sp.Matrix:
    """``e^(i phi) ((1 - |h|^2) I - 2 i H)/(1 + |h|^2)``, ``H = [[h1, h2 + i h3], [h2 - i h3,
    -h1]]``: the Cayley transform ``(I - iH)(I + iH)^-1`` of the traceless Hermitian ``H``
    (``H^2 = |h|^2 I``) times a phase; generic in ``U(2)``."""
    h1, h2, h3 = h
    big_h = sp.Matrix([[h1, h2 + sp.I * h3], [h2 - sp.I * h3, -h1]])
    norm2 = h1**2 + h2**2 + h3**2
    return sp.exp(sp.I * phi) * ((1 - norm2) * sp.eye(2) - 2 * sp.I * big_h) / (1 + norm2)


def _rational_unitary(size: int, seed: int) -> sp.Matrix:
    """``(I - iH)(I + iH)^-1`` for a random Gaussian-rational Hermitian ``H``: an exactly
    unitary matrix with Gaussian-rational entries."""
    rng = random.Random(seed)

    def q():
        return sp.Rational(rng.randint(-9, 9), rng.randint(1, 5))

    big_h = sp.zeros(size)
    for i in range(size):
        big_h[i, i] = q()
        for j in range(i + 1, size):
            big_h[i, j] = q() + sp.I * q()
            big_h[j, i] = sp.conjugate(big_h[i, j])
    eye = sp.eye(size)
    return ((eye - sp.I * big_h) * (eye + sp.I * big_h).inv()).applyfunc(sp.nsimplify)


@cache
def r3c() -> Reduction:
    """``C_in, C, N_o > 1``, white input (docs/theory-reference.md, R3c): with
    ``T_f = P diag(sigma) Q^*`` and the ansatz ``beta_f = P diag(b) R^*``, ``kappa_f =
    R diag(k) Q^*`` (``R`` unitary, ``k_j = sqrt(N) b_j``), each singular mode obeys R3 with
    ``s = sigma_j``.

    Checked at 30 digits for generic ``2 x 2`` unitaries ``P, R, Q`` (Cayley parametrisation
    with phases) and exactly for Gaussian-rational isometries with ``N_o = C = 3``,
    ``C_in = 2``."""
    d = Derivation(
        "R3c: several input channels, white input, one frequency",
        "The per-frequency flow (R2) $\\tau\\dot\\beta = (T - \\beta\\kappa)\\kappa^*$, "
        "$\\tau\\dot\\kappa = N\\beta^*(T - \\beta\\kappa)$ for matrices $\\beta$ "
        "($N_o\\times C$), $\\kappa$ ($C \\times C_{in}$), $T$ ($N_o\\times C_{in}$) at one "
        "frequency, white input $\\Lambda_f = I$.")
    d.assume("full kernel, white input $\\Lambda_f = I$; SVD $T = P\\operatorname{diag}"
             "(\\sigma) Q^*$ with $\\sigma_j > 0$")
    d.assume("aligned ansatz $\\beta = P \\operatorname{diag}(b) R^*$, $\\kappa = R\\, "
             "\\operatorname{diag}(k) Q^*$ with $R$ unitary (an isometry when $C$ exceeds the "
             "rank) and real $b_j(t), k_j(t) > 0$")
    d.assume("first part: generic $2 \\times 2$ unitaries $P, R, Q$, each $e^{i\\phi}(I - iH)"
             "(I + iH)^{-1}$ with $H$ traceless Hermitian (3 real parameters), checked at "
             "random parameters with 30 digits; second part: $N_o = C = 3$, $C_{in} = 2$ with "
             "Gaussian-rational isometries (Cayley transforms of random rational Hermitian "
             "matrices), checked exactly")
    h = sp.symbols("h_1:10", real=True)
    phis = sp.symbols("phi_1:4", real=True)
    big_p, big_r, big_q = (_unitary2(h[3 * i:3 * i + 3], phis[i]) for i in range(3))
    d.step("unitary factors", sp.diag(big_p.H * big_p, big_r.H * big_r, big_q.H * big_q),
           sp.eye(6), "$P^*P = R^*R = Q^*Q = I$", check="numeric",
           display=(sp.Matrix([[op("P^{*} P"), op("R^{*} R"), op("Q^{*} Q")]]),
                    sp.Matrix([[op("I"), op("I"), op("I")]])))
    sig, bs, ks, x_beta, x_kappa = _aligned_flow(d, big_p, big_r, big_q, "", "numeric")
    big_p, big_r = _rational_unitary(3, 1)[:, :2], _rational_unitary(3, 2)[:, :2]
    _aligned_flow(d, big_p, big_r, _rational_unitary(2, 3), "rectangular ", "exact")
    b = [sp.Function(f"b_{j}", positive=True)(t) for j in (1, 2)]
    k = [sp.Function(f"k_{j}", positive=True)(t) for j in (1, 2)]
    in_time = {**dict(zip(bs, b, strict=True)), **dict(zip(ks, k, strict=True))}
    x_beta, x_kappa = x_beta.subs(in_time), x_kappa.subs(in_time)
    dot_b = [x_beta[j, j] / tau for j in (0, 1)]
    dot_k = [x_kappa[j, j] / tau for j in (0, 1)]
    balanced = {k[0]: sp.sqrt(N) * b[0], k[1]: sp.sqrt(N) * b[1]}
    d.step("balance is kept", sp.Matrix([(dot_k[j] - sp.sqrt(N) * dot_b[j]).subs(balanced)
                                         for j in (0, 1)]), sp.zeros(2, 1),
           "with $k_j = \\sqrt N b_j$ (the balanced ansatz, conserved quantity 0), "
           "$\\dot k_j = \\sqrt N\\dot b_j$: both equations agree",
           display=(sp.Matrix([sp.Derivative(k[j], t) - sp.sqrt(N) * sp.Derivative(b[j], t)
                               for j in (0, 1)]), sp.zeros(2, 1)))
    rhs = strength_ode(d, sp.sqrt(N) * b[0] ** 2, b[0], dot_b[0].subs(balanced),
                        "$u_1 = b_1 k_1 = \\sqrt N b_1^2$, the first singular value of $M = "
                        "\\beta\\kappa = P\\operatorname{diag}(b_j k_j) Q^*$")
    rhs2 = sp.factor((tau * (sp.sqrt(N) * b[1] ** 2).diff(t)).subs(
        b[1].diff(t), dot_b[1].subs(balanced)))
    d.step("second mode", rhs2, rhs.subs({sig[0]: sig[1]}).subs(u(t), sp.sqrt(N) * b[1] ** 2),
           "mode 2 obeys mode 1's equation with $\\sigma_1 \\to \\sigma_2$",
           display=(tau * sp.Derivative(sp.Symbol("u_2"), t),
                    rhs.subs({sig[0]: sig[1]}).subs(u(t), sp.Symbol("u_2"))))
    base = r3()
    d.step("each mode obeys R3", rhs, base.ode.rhs.subs(s, sig[0]),
           "the right-hand side of R3 (symcnn.symbolic.closed_forms.r3) with $s = \\sigma_j$",
           display=(tau * sp.Derivative(u(t), t), base.ode.rhs.subs(s, sig[0])))
    d.assume("from here on R3 applies with $s = \\sigma_j$")
    parts = dict(ode=sp.Eq(base.ode.lhs, base.ode.rhs), solution=base.solution,
                 stable=base.stable, half_time=base.half_time, u_inf=base.u_inf)
    return reduction("R3c", d, parts)


def _aligned_flow(d: Derivation, big_p, big_r, big_q, prefix: str, check: str):
    """Steps ``{prefix}readout flow`` and ``{prefix}kernel flow``: with ``T = P diag(sigma)
    Q^*``, ``beta = P diag(b) R^*`` and ``kappa = R diag(k) Q^*``, R2's flows (white input)
    are ``tau dbeta/dt = P diag(k_j (sigma_j - b_j k_j)) R^*`` and ``tau dkappa/dt =
    R diag(N b_j (sigma_j - b_j k_j)) Q^*``.  Returns ``sigma, b, k`` and the two diagonals."""
    sig = sp.symbols("sigma_1 sigma_2", positive=True)
    b, k = sp.symbols("b_1 b_2", positive=True), sp.symbols("k_1 k_2", positive=True)
    beta = big_p * sp.diag(*b) * big_r.H
    kappa = big_r * sp.diag(*k) * big_q.H
    error = big_p * sp.diag(*sig) * big_q.H - beta * kappa
    mode = [sig[j] - b[j] * k[j] for j in (0, 1)]
    readout = sp.diag(*[mode[j] * k[j] for j in (0, 1)])
    kernel = sp.diag(*[N * b[j] * mode[j] for j in (0, 1)])
    shape = f"$N_o = {big_p.rows}$, $C = {big_r.rows}$, $C_{{in}} = {big_q.rows}$"
    d.step(f"{prefix}readout flow", error * kappa.H, big_p * readout * big_r.H,
           f"{shape}: $(T - \\beta\\kappa)\\kappa^* = P\\operatorname{{diag}}(k_j(\\sigma_j - "
           "b_j k_j)) R^*$, so $\\tau\\dot b_j = k_j(\\sigma_j - b_j k_j)$", check=check,
           display=(op("\\tau\\dot\\beta"), sandwich("P", readout, "R^{*}")))
    d.step(f"{prefix}kernel flow", N * beta.H * error, big_r * kernel * big_q.H,
           f"{shape}: $N\\beta^*(T - \\beta\\kappa) = R\\operatorname{{diag}}(N b_j(\\sigma_j - "
           "b_j k_j)) Q^*$, so $\\tau\\dot k_j = N b_j(\\sigma_j - b_j k_j)$", check=check,
           display=(op("\\tau\\dot\\kappa"), sandwich("R", kernel, "Q^{*}")))
    return sig, b, k, readout, kernel

