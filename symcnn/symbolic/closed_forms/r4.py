"""R4: the linearised small-kernel flow for explicit ``N``, ``k`` (white input,
``C_in = 1``): the end-to-end map grows like ``exp(2 gamma t / tau)`` with ``gamma^2`` the
eigenvalues of ``S D S`` (docs/theory-reference.md, R4).  Its numbers, all ``gamma_j`` and
the top kernel spectrum, are :func:`symcnn.theory.small_kernels.r4_growth_rates`."""

from __future__ import annotations

from functools import cache

import mpmath
import sympy as sp

from ...model import LinearCNN
from ..derivation import Derivation, mpmath_matrix, op
from ..reductions import dirichlet_matrix, phase
from .base import Reduction, s, t, tau


@cache
def r4(size: int = 8, width: int = 3) -> Reduction:
    """Linearised small-kernel flow (docs/theory-reference.md, R4) for ``N = size``,
    ``k = width``, white input, ``C_in = 1``: every step exact but the two checked at 30
    (Sylvester) and 50 digits (the single pairs' top eigenvalues).

    Around small weights ``tau dkappa/dt = D (conj(beta) * T)``, ``tau dbeta/dt =
    T * conj(kappa)`` (entrywise over frequencies), so ``tau^2 d^2 kappa/dt^2 = D S^2 kappa``
    with ``S = diag(|T_f|)``: ``kappa = v e^(gamma t/tau)`` with ``D S^2 v = gamma^2 v``, and
    ``M_f = beta_f kappa_f`` grows like ``exp(2 gamma t / tau)``.  ``gamma^2`` are the
    eigenvalues of ``S D S``; its nonzero ones are those of the ``k x k`` Gram matrix
    ``E^* S^2 E`` with ``D = E E^*``, ``E[f, p] = exp(2 pi i f lag(p) / N)``.

    Returns
    -------
    Reduction
        ``"R4(N=size, k=width)"`` with :attr:`~Reduction.ode` the linearised second-order
        system ``tau^2 d^2 kappa/dt^2 = D S^2 kappa`` (in the functions ``kappa_f(t)`` and
        the symbols ``s_f`` of ``|T_f|``) and :attr:`~Reduction.solution` the end-to-end
        growth ``M_f(t) = T_f |v_f|^2 e^(2 gamma t/tau) / gamma`` of a growing mode ``v``
        (``T_f = s_f e^(i theta_f)``); no limit, stable form or half-way time (the
        linearisation holds only while the weights are small).
    """
    model = LinearCNN((size,), (width,))
    big_d = dirichlet_matrix(model)
    half = size // 2
    d = Derivation(
        f"R4: growth rates of small kernels (N = {size}, k = {width})",
        "The kernel flow with the Dirichlet matrix $D_{fg} = \\sum_p e^{2\\pi i (f - g)\\,"
        "\\mathrm{lag}(p)/N}$ (symcnn.symbolic.reductions.small_kernels), $\\tau\\dot\\kappa_f = "
        "\\sum_g D_{fg}\\bar\\beta_g(T_g - \\beta_g\\kappa_g)$, and the readout flow $\\tau"
        "\\dot\\beta_f = (T_f - \\beta_f\\kappa_f)\\bar\\kappa_f$ (white input, $C = C_{in} = "
        "N_o = 1$; with $C$ channels each channel obeys the same equations), linearised "
        "around small weights.")
    d.assume(f"$N = {size}$, $k = {width}$, cross-correlation, $\\mathrm{{lag}}(p) = p - "
             f"{(width - 1) // 2}$; white input")
    d.assume("real data: $T_f = s_f e^{i\\theta_f}$ with $s_{-f} = s_f \\ge 0$, $\\theta_{-f} "
             "= -\\theta_f$ ($\\theta_0 = \\theta_{N/2} = 0$ up to the sign of $s$)")
    sv = sp.symbols(f"s_0:{half + 1}", nonnegative=True)
    th = sp.symbols(f"theta_1:{half + (size % 2)}", real=True)

    def theta(f):
        g = min(f, size - f)
        if g == 0 or (2 * g == size):
            return sp.S.Zero
        return th[g - 1] if f == g else -th[g - 1]

    mags = [sv[min(f, size - f)] for f in range(size)]
    target = [mags[f] * sp.exp(sp.I * theta(f)) for f in range(size)]
    kap = [sp.Function(f"kappa_{f}")(t) for f in range(size)]
    bet = [sp.Function(f"beta_{f}")(t) for f in range(size)]
    eps = sp.Symbol("epsilon", positive=True)
    full = [sum((big_d[f, g] * sp.conjugate(eps * bet[g]) * (target[g] - eps**2 * bet[g] * kap[g])
                 for g in range(size)), sp.S.Zero) for f in range(size)]
    linear_k = sp.Matrix([sp.diff(e, eps).subs(eps, 0) for e in full])
    big_t = sp.diag(*target)
    bar_beta = sp.Matrix([sp.conjugate(b) for b in bet])
    d.step("linearised kernel flow", linear_k, big_d * big_t * bar_beta,
           "first order in the weights ($\\beta, \\kappa \\to \\epsilon\\beta, \\epsilon\\kappa$"
           ", $d/d\\epsilon$ at 0): $\\tau\\dot\\kappa = D\\,T\\bar\\beta$ with $T = "
           "\\operatorname{diag}(T_f)$; the remainder is cubic",
           display=(op("\\tau\\dot\\kappa"), op("D") * op("T") * op("\\bar\\beta")))
    d.step("no second order", sp.Matrix([sp.diff(e, eps, 2).subs(eps, 0) for e in full]),
           sp.zeros(size, 1), "the second $\\epsilon$-derivative vanishes",
           display=(sp.Symbol("\\partial_\\epsilon^2 \\tau\\dot\\kappa|_0"), 0))
    # second-order system: tau dbar(beta)/dt = conj(T) kappa (the readout flow, linearised)
    bar_beta_dot = sp.Matrix([sp.conjugate(target[f]) * kap[f] for f in range(size)]) / tau
    kappa_ddot = (tau * (big_d * big_t * bar_beta).diff(t)).subs(
        {sp.conjugate(bet[f]).diff(t): bar_beta_dot[f] for f in range(size)})
    big_s = sp.diag(*mags)
    d.step("second-order system", kappa_ddot,
           big_d * big_s**2 * sp.Matrix(kap),
           "differentiate and use the linearised readout flow $\\tau\\dot{\\bar\\beta} = "
           "\\bar T\\kappa$: $T\\bar T = S^2$, $S = \\operatorname{diag}(|T_f|)$; the phases "
           "drop out", display=(tau**2 * op("\\ddot\\kappa"), op("D") * op("S^{2}")
                                * op("\\kappa")))
    gamma = sp.Symbol("gamma", positive=True)
    vec = sp.Matrix(sp.symbols(f"v_0:{size}"))
    growth = sp.exp(gamma * t / tau)
    kappa_g = vec * growth
    bar_beta_g = sp.Matrix([sp.conjugate(target[f]) * vec[f] for f in range(size)]) * growth \
        / gamma
    d.step("exponential growth", tau * kappa_g.diff(t) - big_d * big_t * bar_beta_g,
           (gamma**2 * vec - big_d * big_s**2 * vec) * growth / gamma,
           "$\\kappa = v e^{\\gamma t/\\tau}$, $\\bar\\beta = \\bar T v e^{\\gamma t/\\tau}/"
           "\\gamma$ solve the linearised flow iff $D S^2 v = \\gamma^2 v$ (the readout "
           "equation holds identically)",
           display=(op("\\tau\\dot\\kappa - D T\\bar\\beta"),
                    (gamma**2 * op("v") - op("D S^{2} v")) * growth / gamma))
    d.step("readout equation", tau * bar_beta_g.diff(t),
           sp.Matrix([sp.conjugate(target[f]) * kappa_g[f] for f in range(size)]),
           "$\\tau\\dot{\\bar\\beta} = \\bar T\\kappa$ for the growing solution")
    m_growth = sp.Matrix([sp.conjugate(bar_beta_g[f]) * kappa_g[f] for f in range(size)])
    d.step("end-to-end growth", m_growth, sp.Matrix(
        [target[f] * sp.conjugate(vec[f]) * vec[f] / gamma for f in range(size)])
        * sp.exp(2 * gamma * t / tau),
        "$M_f = \\beta_f\\kappa_f = T_f |v_f|^2 e^{2\\gamma t/\\tau}/\\gamma$: the end-to-end "
        "map grows like $e^{2\\gamma t/\\tau}$",
        display=(op("M_f"), op("T_f |v_f|^{2}") * sp.exp(2 * gamma * t / tau) / gamma))
    s_inv = sp.diag(*[1 / m for m in mags])
    d.step("similar to S D S", big_s * big_d * big_s**2 * s_inv, big_s * big_d * big_s,
           "$S (D S^2) S^{-1} = S D S$ (for $s_f > 0$; by continuity in general): "
           "$\\gamma^2$ are the eigenvalues of the Hermitian $S D S$",
           display=(op("S D S^{2} S^{-1}"), op("S D S")))
    lags = [p - model.offset[0] for p in range(width)]  # signed: lag(p) = p - o
    big_e = sp.Matrix(size, width, lambda f, p: phase(model, (f,), (lags[p],)))
    d.step("Dirichlet factorisation", big_e * big_e.H, big_d,
           "$D = E E^*$ with $E_{fp} = e^{2\\pi i f\\,\\mathrm{lag}(p)/N}$ ($N \\times k$)",
           display=(op("E E^{*}"), op("D")))
    gram = (big_e.H * big_s**2 * big_e).applyfunc(sp.expand)
    corr = [sp.expand(sum(mags[f] ** 2 * phase(model, (f,), (dd,)) for f in range(size)))
            for dd in range(width)]
    d.step("Gram matrix", gram,
           sp.Matrix(width, width, lambda p, q: corr[abs(lags[q] - lags[p])]),
           "$S D S = (SE)(SE)^*$ has the nonzero eigenvalues of $(SE)^*(SE) = E^* S^2 E$, "
           "the real symmetric Toeplitz matrix of $c_d = \\sum_f s_f^2 \\cos(2\\pi f d/N)$ "
           "(the power spectrum's Fourier coefficients at the kernel's lags)",
           display=(op("E^{*} S^{2} E"), op("[c_{\\mathrm{lag}(q) - \\mathrm{lag}(p)}]_{pq}")))
    x = sp.Symbol("x")
    d.step("Sylvester", sp.Determinant(sp.ImmutableMatrix(x * sp.eye(size) - big_s * big_d
                                                          * big_s)),
           x ** (size - width) * sp.Determinant(sp.ImmutableMatrix(x * sp.eye(width) - gram)),
           "$\\det(x I_N - (SE)(SE)^*) = x^{N-k}\\det(x I_k - (SE)^*(SE))$: checked at random "
           "$s_f$ and $x$", check="numeric",
           display=(sp.Symbol("\\det(x I_N - S D S)"),
                    x ** (size - width) * sp.Symbol("\\det(x I_k - E^* S^2 E)")))
    for f_star in range(half + 1):
        single = {sv[g]: 0 for g in range(half + 1) if g != f_star}
        single[sv[f_star]] = s
        top = s**2 * _top_eigenvalue(gram.subs(single).subs(s, 1))
        pair = sp.Abs(big_d[f_star, (-f_star) % size]) if 0 < 2 * f_star < size else 0
        d.step(f"single pair f* = {f_star}", top, s**2 * (width + pair),
               f"a mode on $\\pm f^* = \\pm {f_star}$ only: $\\gamma^2_{{\\max}} = s^2(k + "
               "|D_{f^*, -f^*}|)$" + (" ($f^*$ self-conjugate: $s^2 k$)" if pair == 0
                                      and f_star in (0, half) else "")
               + "; the largest eigenvalue of the Gram matrix by mpmath.eigh at 50 digits",
               check="numeric", display=(sp.Symbol("\\gamma^2_{\\max}"), s**2 * (width + pair)))
    symbols = {"t": t, "tau": tau, "gamma": gamma, **{x.name: x for x in (*sv, *th, *vec)}}
    return Reduction(f"R4(N={size}, k={width})", d,
                     ode=sp.Eq(tau**2 * sp.Matrix(kap).diff(t, 2), d["second-order system"].rhs,
                               evaluate=False),
                     solution=d["end-to-end growth"].rhs, symbols=symbols)


def _top_eigenvalue(matrix: sp.Matrix, dps: int = 50) -> sp.Float:
    """The largest eigenvalue of a numeric Hermitian matrix, by ``mpmath.eigh`` at ``dps``
    digits."""
    with mpmath.workdps(dps):
        values = mpmath.eigh(mpmath_matrix(matrix, dps + 10), eigvals_only=True)
        return sp.Float(max(values), dps)

