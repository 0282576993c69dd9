"""The Fourier reduction of a linear CNN's gradient flow for general ``N`` (THEORY.md R2, R4).

Index notation for one spatial dimension and one channel pair (the 2-D case is the product of
two 1-D transforms; channels turn the scalars ``kappa_f, beta_f`` into matrices, and the
per-frequency steps are written for matrices).  Symbols: ``N`` pixels, kernel size ``k``,
offset ``o = floor((k - 1) / 2)``, ``lag(p) = p - o`` (cross-correlation) or ``o - p``
(convolution), unitary DFT ``U[f, n] = exp(-2 pi i f n / N) / sqrt(N)``.
Steps about roots of unity cannot be decided symbolically for symbolic ``N``; they are
checked at 30 digits for random ``N, k`` and data.
"""

from __future__ import annotations

import sympy as sp

from .derivation import Derivation

N = sp.Symbol("N", integer=True, positive=True)
k = sp.Symbol("k", integer=True, positive=True)
n, m, p, f, g, h, s = sp.symbols("n m p f g h s", integer=True)
x, w, W, a, b = (sp.IndexedBase(name, real=True) for name in ("x", "w", "W", "a", "b"))


def offset():
    return sp.floor((k - 1) / 2)


def lag(q, convention: str = "correlation"):
    """``lag(q) = q - o`` or ``o - q``."""
    return q - offset() if convention == "correlation" else offset() - q


def u(freq, pixel):
    """``U[f, n]``."""
    return sp.exp(-2 * sp.pi * sp.I * freq * pixel / N) / sp.sqrt(N)


def u_star(pixel, freq):
    """``U^*[n, f] = conj(U[f, n])``."""
    return sp.exp(2 * sp.pi * sp.I * freq * pixel / N) / sp.sqrt(N)


def kappa(freq, convention: str = "correlation"):
    """``kappa_f = sum_p w[p] exp(2 pi i f lag(p) / N)``."""
    return sp.Sum(w[p] * sp.exp(2 * sp.pi * sp.I * freq * lag(p, convention) / N), (p, 0, k - 1))


def dirichlet(f1, f2, convention: str = "correlation"):
    """``D[f, f'] = sum_p exp(2 pi i (f - f') lag(p) / N)``."""
    return sp.Sum(sp.exp(2 * sp.pi * sp.I * (f1 - f2) * lag(p, convention) / N), (p, 0, k - 1))


def layer(pixel, convention: str = "correlation"):
    """``h[n] = sum_p w[p] x[(n + lag(p)) mod N]``."""
    return sp.Sum(w[p] * x[sp.Mod(pixel + lag(p, convention), N)], (p, 0, k - 1))


def hermitian(base_re, base_im, freq):
    """A generic conjugate-symmetric sequence ``A_f`` (``A_{-f} = conj(A_f)``)."""
    minus = sp.Mod(-freq, N)
    return base_re[sp.Mod(freq, N)] + base_re[minus] + sp.I * (base_im[sp.Mod(freq, N)]
                                                               - base_im[minus])


def cnn_fourier(convention: str = "correlation") -> Derivation:
    """The per-frequency gradient flow of a two-layer linear CNN (R2) and the small-kernel
    coupling (R4), every step checked."""
    d = Derivation(
        f"Linear CNN in Fourier space ({convention})",
        "Gradient flow $\\tau \\dot\\theta = -\\partial L/\\partial\\theta$ of a circular "
        "convolution layer (kernel $w$, size $k \\le N$) followed by a fully connected layer "
        "$W$, reduced to frequencies. Unitary DFT $U_{fn} = N^{-1/2} e^{-2\\pi i f n/N}$, "
        "kernel spectrum $\\kappa_f = \\sum_p w_p e^{2\\pi i f\\,\\mathrm{lag}(p)/N}$, "
        "$\\beta_f = (W U^*)_f$, $M_f = \\beta_f \\kappa_f$.")
    d.assume("one spatial dimension, one channel pair (channels make $\\kappa_f$, $\\beta_f$ "
             "matrices; 2-D is the product of two 1-D transforms)")
    d.assume("$1 \\le k \\le N$; the decoupling steps further assume a full kernel, $k = N$")
    d.assume("the loss depends on $M$ through $M_f$ with gradient $\\hat G_f = M_f\\Lambda_f"
             " - T_f$, which needs stationary input (block-circulant $\\Sigma_{xx}$)")
    within = dict(check="numeric", where=lambda v: v[k] <= v[N])
    d.step("roots of unity", sp.Sum(sp.exp(2 * sp.pi * sp.I * f * s / N), (f, 0, N - 1)),
           N * sp.KroneckerDelta(sp.Mod(s, N), 0),
           "geometric sum of the $N$-th roots of unity", check="numeric",
           cases=({s: 0}, {N: 3, s: 6}, {N: 4, s: -4}, {N: 5, s: 2}))
    d.step("circulant diagonalisation",
           sp.Sum(w[p] * sp.KroneckerDelta(sp.Mod(m - n - lag(p, convention), N), 0),
                  (p, 0, k - 1)),
           sp.Sum(u_star(n, f) * kappa(f, convention) * u(f, m), (f, 0, N - 1)),
           "$K_{nm} = (U^* \\operatorname{diag}(\\kappa) U)_{nm}$, by the roots of unity",
           **within)
    d.step("convolution theorem",
           sp.Sum(u(f, n) * layer(n, convention), (n, 0, N - 1)),
           kappa(f, convention) * sp.Sum(u(f, n) * x[n], (n, 0, N - 1)),
           "$\\hat h_f = \\kappa_f \\hat x_f$: the layer is diagonal in frequency", **within)
    d.step("end-to-end map",
           sp.Sum(W[n] * layer(n, convention), (n, 0, N - 1)),
           sp.Sum(sp.Sum(W[n] * u_star(n, f), (n, 0, N - 1)) * kappa(f, convention)
                  * sp.Sum(u(f, n) * x[n], (n, 0, N - 1)), (f, 0, N - 1)),
           "$\\hat y = \\sum_f \\beta_f \\kappa_f \\hat x_f$, so $M_f = \\beta_f\\kappa_f$",
           **within)
    big_a = hermitian(a, b, g)
    d.step("kernel flow couples frequencies",
           -sp.Sum(sp.exp(2 * sp.pi * sp.I * f * lag(p, convention) / N)
                   * sp.Sum(sp.conjugate(big_a)
                            * sp.exp(2 * sp.pi * sp.I * g * lag(p, convention) / N),
                            (g, 0, N - 1)), (p, 0, k - 1)),
           -sp.Sum(dirichlet(f, g, convention) * big_a, (g, 0, N - 1)),
           "$\\dot w_p = -\\partial L/\\partial w_p = -\\sum_g \\overline{A_g}\\, e^{2\\pi i g"
           "\\,\\mathrm{lag}(p)/N}$ with $A_g = \\beta_g^* \\hat G_g$ (chain rule through "
           "$\\kappa_g$); so $\\tau\\dot\\kappa_f = -\\sum_g D_{fg} A_g$ (R4)", **within)
    d.step("Dirichlet kernel is N times a projector",
           sp.Sum(dirichlet(f, g, convention) * dirichlet(g, h, convention), (g, 0, N - 1)),
           N * dirichlet(f, h, convention), "$D^2 = N D$, i.e. $\\Pi = D/N$ is a projector",
           **within)
    d.step("projector rank", sp.Sum(dirichlet(f, f, convention), (f, 0, N - 1)),
           N * k, "$\\operatorname{tr} \\Pi = k$: the projector has rank $k$")
    d.step("full kernel decouples",
           dirichlet(f, g, convention).subs(k, N), N * sp.KroneckerDelta(sp.Mod(f - g, N), 0),
           "with $k = N$, $D = N I$: $\\tau\\dot\\kappa_f = N \\beta_f^*(T_f - M_f\\Lambda_f)$ "
           "(R2, the factor $N$)", check="numeric", cases=({f: 2, g: 2}, {N: 4, f: 1, g: 5}))
    big_b = hermitian(a, b, g)
    d.step("readout flow is diagonal",
           sp.Sum(u_star(n, f) * -sp.Sum(sp.conjugate(big_b) * u_star(n, g), (g, 0, N - 1)),
                  (n, 0, N - 1)),
           -hermitian(a, b, f),
           "$\\dot W_n = -\\sum_g \\overline{B_g} U^*_{ng}$ with $B_g = \\hat G_g \\kappa_g^*$; "
           "so $\\tau\\dot\\beta_f = (T_f - M_f\\Lambda_f)\\kappa_f^*$ (R2)", check="numeric")
    conserved(d)
    return d


def conserved(d: Derivation, n_out: int = 2, channels: int = 2, c_in: int = 2) -> None:
    """``d/dt (beta^* beta - kappa kappa^* / N) = 0`` along R2, for generic matrices."""
    def matrix(name, rows, cols):
        return sp.Matrix(rows, cols, lambda i, j: sp.Symbol(f"{name}_{i}{j}r", real=True)
                         + sp.I * sp.Symbol(f"{name}_{i}{j}i", real=True))

    beta, kap = matrix("beta", n_out, channels), matrix("kappa", channels, c_in)
    error = matrix("E", n_out, c_in)  # T_f - M_f Lambda_f
    beta_dot, kappa_dot = error * kap.H, N * beta.H * error
    lhs = beta_dot.H * beta + beta.H * beta_dot - (kappa_dot * kap.H + kap * kappa_dot.H) / N
    d.step("conserved quantity", lhs, sp.zeros(channels, channels),
           f"along R2, $\\beta_f^*\\beta_f - \\kappa_f\\kappa_f^*/N$ is constant "
           f"(generic complex matrices, $N_o = {n_out}$, $C = {channels}$, "
           f"$C_{{in}} = {c_in}$)")


def _real_matrix(name: str, rows: int, cols: int, symmetric: bool = False) -> sp.Matrix:
    def entry(i, j):
        i, j = (min(i, j), max(i, j)) if symmetric else (i, j)
        return sp.Symbol(f"{name}_{i}{j}", real=True)
    return sp.Matrix(rows, cols, entry)


def fully_connected(n_in: int = 3, hidden: int = 2, n_out: int = 2,
                    samples: int = 2) -> Derivation:
    """Gradient flow of ``y_hat = W_2 W_1 x`` (Saxe et al.) by ``sympy.diff`` of the loss, for
    generic matrices of the given sizes."""
    d = Derivation(
        "Fully connected linear network: gradient flow",
        "Two-layer linear network $\\hat y = W_2 W_1 x$, loss $L = \\frac{1}{2P}\\sum_\\mu "
        "\\lVert y_\\mu - W_2 W_1 x_\\mu\\rVert^2$, gradient flow $\\tau\\dot W_i = "
        "-\\partial L/\\partial W_i$.")
    d.assume(f"generic real matrices: $D = {n_in}$ inputs, $H = {hidden}$ hidden units, "
             f"$N_o = {n_out}$ outputs, $P = {samples}$ samples (the identities are polynomial, "
             "so generic entries prove them for these sizes)")
    w1, w2 = _real_matrix("W1", hidden, n_in), _real_matrix("W2", n_out, hidden)
    xs = [_real_matrix(f"x{mu}", n_in, 1) for mu in range(samples)]
    ys = [_real_matrix(f"y{mu}", n_out, 1) for mu in range(samples)]
    sxx = sum((v * v.T for v in xs), sp.zeros(n_in, n_in)) / samples
    syx = sum((y * v.T for y, v in zip(ys, xs, strict=True)), sp.zeros(n_out, n_in)) / samples
    syy = sum((y.T * y)[0] for y in ys) / samples
    m = w2 * w1
    loss = sum(((y - m * v).T * (y - m * v))[0] for y, v in zip(ys, xs, strict=True)) / (
        2 * samples)
    big = {name: sp.MatrixSymbol(name, *shape) for name, shape in (
        ("W_1", (hidden, n_in)), ("W_2", (n_out, hidden)), ("Sigma_xx", (n_in, n_in)),
        ("Sigma_yx", (n_out, n_in)))}
    big_m = big["W_2"] * big["W_1"]
    big_error = big["Sigma_yx"] - big_m * big["Sigma_xx"]
    d.step("loss through the statistics", loss,
           (m * sxx * m.T).trace() / 2 - (m * syx.T).trace() + syy / 2,
           "expand the square, with $\\Sigma_{xx} = \\langle x x^T\\rangle$, "
           "$\\Sigma_{yx} = \\langle y x^T\\rangle$, $\\Sigma_{yy} = \\langle y^T y\\rangle$",
           display=(sp.Symbol("L"), sp.trace(big_m * big["Sigma_xx"] * big_m.T) / 2
                    - sp.trace(big_m * big["Sigma_yx"].T)
                    + sp.Symbol("Sigma_yy") / 2))
    sxx_s = _real_matrix("Sxx", n_in, n_in, symmetric=True)
    syx_s = _real_matrix("Syx", n_out, n_in)
    loss_s = (m * sxx_s * m.T).trace() / 2 - (m * syx_s.T).trace()
    error = syx_s - m * sxx_s
    d.step("gradient of W1", -loss_s.diff(w1), w2.T * error,
           "$-\\partial L/\\partial W_1$, differentiating entry by entry",
           display=(sp.Symbol(r"\tau \dot{W}_1"), big["W_2"].T * big_error))
    d.step("gradient of W2", -loss_s.diff(w2), error * w1.T,
           "$-\\partial L/\\partial W_2$, differentiating entry by entry",
           display=(sp.Symbol(r"\tau \dot{W}_2"), big_error * big["W_1"].T))
    w1_dot, w2_dot = w2.T * error, error * w1.T
    d.step("conserved quantity",
           w1_dot * w1.T + w1 * w1_dot.T - w2_dot.T * w2 - w2.T * w2_dot,
           sp.zeros(hidden, hidden), "the balance $W_1 W_1^T - W_2^T W_2$ is conserved",
           display=(sp.Symbol(r"\frac{d}{dt}\left(W_1 W_1^T - W_2^T W_2\right)"),
                    sp.Integer(0)))
    return d
