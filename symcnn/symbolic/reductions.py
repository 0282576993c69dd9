"""The Fourier reduction of a linear CNN's gradient flow (docs/theory-reference.md, R2, R4),
as checked derivations.

General ``N`` (:func:`cnn_fourier`, R2; :func:`small_kernels`, R4): index notation for one
spatial dimension and one channel pair (the 2-D case is the product of two 1-D transforms;
channels turn the scalars ``kappa_f, beta_f`` into matrices, and the per-frequency steps are
written for matrices).  Symbols: ``N`` pixels, kernel size ``k``, offset
``o = floor((k - 1) / 2)``, ``lag(p) = p - o`` (cross-correlation) or ``o - p``
(convolution), unitary DFT ``U[f, n] = exp(-2 pi i f n / N) / sqrt(N)``.  Steps about roots
of unity cannot be decided symbolically for symbolic ``N``; they are checked at 30 digits for
random ``N, k`` and data.

Explicit sizes (:func:`explicit_fourier`): the pixel-space flow of
:func:`symcnn.symbolic.pixel.gradient_flow` for a given depth-1 model, with symbolic stationary
statistics, pushed through the change of variables; exact for roots of unity in radicals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp

from ..model import LinearCNN, block_circulant
from .derivation import Derivation, op
from .pixel import PixelFlow, describe, gradient_flow, layer_matrix, statistics_symbols

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


def kernel_flow(d: Derivation, convention: str = "correlation") -> None:
    """Add the step ``tau dkappa_f/dt = -sum_g D[f, g] A_g``, ``A_g = beta_g^* G_g``, the
    kernel flow for any ``k <= N`` (R4), to ``d``."""
    big_a = hermitian(a, b, g)
    d.step("kernel flow couples frequencies",
           -sp.Sum(sp.exp(2 * sp.pi * sp.I * f * lag(p, convention) / N)
                   * sp.Sum(sp.conjugate(big_a)
                            * sp.exp(2 * sp.pi * sp.I * g * lag(p, convention) / N),
                            (g, 0, N - 1)), (p, 0, k - 1)),
           -sp.Sum(dirichlet(f, g, convention) * big_a, (g, 0, N - 1)),
           "$\\dot w_p = -\\partial L/\\partial w_p = -\\sum_g \\overline{A_g}\\, e^{2\\pi i g"
           "\\,\\mathrm{lag}(p)/N}$ with $A_g = \\beta_g^* \\hat G_g$ (chain rule through "
           "$\\kappa_g$); so $\\tau\\dot\\kappa_f = -\\sum_g D_{fg} A_g$ (R4)",
           check="numeric", where=_within)


def _within(values) -> bool:
    """Draws with ``k <= N``."""
    return values[k] <= values[N]


def cnn_fourier(convention: str = "correlation") -> Derivation:
    """The per-frequency gradient flow of a two-layer linear CNN and its decoupling for a
    full kernel (R2), every step checked; :func:`small_kernels` continues with ``k < N``."""
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
    within = dict(check="numeric", where=_within)
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
    kernel_flow(d, convention)
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


def dirichlet_closed_form(f1, f2, convention: str = "correlation"):
    """``D[f, f'] = e^(i phi) sin(pi k (f - f') / N) / sin(pi (f - f') / N)`` for
    ``f != f' (mod N)``, ``phi = +-pi (f - f') (k - 1 - 2 o) / N`` (``+`` for correlation):
    real for odd ``k``."""
    sign = 1 if convention == "correlation" else -1
    phi = sign * sp.pi * (f1 - f2) * (k - 1 - 2 * offset()) / N
    return (sp.exp(sp.I * phi) * sp.sin(sp.pi * k * (f1 - f2) / N)
            / sp.sin(sp.pi * (f1 - f2) / N))


def small_kernels(convention: str = "correlation") -> Derivation:
    """The kernel flow for ``k <= N`` (R4): ``tau dkappa_f/dt = -sum_g D[f, g] A_g`` with
    ``D = N Pi``, ``Pi`` a Hermitian rank-``k`` projector, ``D``'s closed form, and the
    explicit ``D`` for ``N = 6``, ``k = 3`` with its rank; every step checked."""
    d = Derivation(
        f"Small kernels: the Dirichlet coupling ({convention})",
        "Gradient flow of a circular convolution layer (kernel $w$, size $k \\le N$) followed "
        "by a fully connected layer, in frequency: kernel spectrum $\\kappa_f = \\sum_p w_p\\,"
        "e^{2\\pi i f\\,\\mathrm{lag}(p)/N}$, $\\beta_f = (W U^*)_f$, $\\hat G_f = M_f\\Lambda_f"
        " - T_f$. A kernel weight acts at every frequency, so the kernel flow couples "
        "frequencies through the Dirichlet matrix $D_{fg} = \\sum_p e^{2\\pi i (f - g)\\,"
        "\\mathrm{lag}(p)/N}$ (docs/theory-reference.md, R4).")
    d.assume("one spatial dimension, one channel pair (2-D: $D$ is the Kronecker product of "
             "the 1-D matrices)")
    d.assume("$1 \\le k \\le N$, $o = \\lfloor (k - 1)/2 \\rfloor$, $\\mathrm{lag}(p) = "
             + ("p - o$" if convention == "correlation" else "o - p$"))
    within = dict(check="numeric", where=_within)
    kernel_flow(d, convention)
    d.step("Dirichlet kernel is Hermitian", sp.conjugate(dirichlet(g, f, convention)),
           dirichlet(f, g, convention), "$D^* = D$: the lags are real", **within)
    d.step("Dirichlet kernel is N times a projector",
           sp.Sum(dirichlet(f, g, convention) * dirichlet(g, h, convention), (g, 0, N - 1)),
           N * dirichlet(f, h, convention),
           "$D^2 = N D$ by the roots of unity, so $\\Pi = D/N$ is an orthogonal projector",
           **within)
    d.step("projector rank", sp.Sum(dirichlet(f, f, convention), (f, 0, N - 1)), N * k,
           "$\\operatorname{tr} \\Pi = k$: the projector has rank $k$")
    d.step("Dirichlet closed form", dirichlet(f, g, convention),
           dirichlet_closed_form(f, g, convention),
           "geometric sum over the $k$ lags, for $f \\ne g \\pmod N$; the phase vanishes for "
           "odd $k$ (centred kernel)", check="numeric",
           where=lambda v: v[k] <= v[N] and (v[f] - v[g]) % v[N] != 0,
           cases=({N: 8, k: 4, f: 1, g: 6}, {N: 6, k: 3, f: 5, g: 0}))
    size, width = 6, 3
    dm = dirichlet_matrix(LinearCNN((size,), (width,), convention=convention))
    closed = sp.Matrix(size, size, lambda i, j: width if i == j else sp.expand(
        dirichlet_closed_form(f, g, convention).subs({N: size, k: width, f: i, g: j})))
    d.step("explicit Dirichlet matrix", dm, closed,
           f"$N = {size}$, $k = {width}$: the sums of roots of unity (in radicals) against "
           "the closed form", display=(sp.Symbol("D"), closed))
    d.step("explicit projector", dm * dm, size * dm,
           f"$D^2 = {size} D$ for the explicit matrix", display=(sp.Symbol("D^{2}"),
                                                               size * sp.Symbol("D")))
    d.step("explicit rank", sp.Integer(dm.rank()), sp.Integer(width),
           f"Gaussian elimination: $D = {size}\\,\\Pi$ with $\\Pi$ of rank $k = {width}$",
           display=(sp.Symbol("\\operatorname{rank} D"), sp.Integer(width)))
    return d


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


RADICAL_SIZES = frozenset({1, 2, 3, 4, 6, 8, 12})
"""Sizes whose roots of unity SymPy writes in radicals of ``Q(i, sqrt 2)`` or ``Q(i, sqrt 3)``:
there ``expand`` decides the polynomial identities of :func:`explicit_fourier` exactly."""


def root_of_unity(size: int, j: int) -> sp.Expr:
    """``exp(2 pi i j / size)``, in radicals when ``size`` is in :data:`RADICAL_SIZES`."""
    angle = 2 * sp.pi * sp.Rational(j % size, size)
    if size in RADICAL_SIZES:
        return sp.cos(angle) + sp.I * sp.sin(angle)
    return sp.exp(sp.I * angle)


def phase(model: LinearCNN, freq, lag_) -> sp.Expr:
    """``exp(2 pi i f.lag / N) = prod_i exp(2 pi i f_i lag_i / N_i)`` for multi-indices."""
    return sp.expand(sp.Mul(*(root_of_unity(size, fi * li)
                              for fi, li, size in zip(freq, lag_, model.shape, strict=True))))


def sites(model: LinearCNN) -> list[tuple[int, ...]]:
    """Pixel (and frequency) multi-indices in row-major order, the flattening of the model."""
    return list(np.ndindex(*model.shape))


def kernel_lags(model: LinearCNN) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """``(p, lag(p) mod N)`` for every kernel position ``p``."""
    lags = model.lags()
    return [(q, tuple(int(v) for v in lags[(slice(None), *q)])) for q in np.ndindex(*model.kernel)]


def dft_matrix(model: LinearCNN) -> sp.Matrix:
    """``U[f, n] = N^(-1/2) exp(-2 pi i f.n / N)``, ``N x N``."""
    grid, scale = sites(model), 1 / sp.sqrt(model.n_pixels)
    return sp.Matrix(len(grid), len(grid), lambda i, j: sp.expand(
        scale * phase(model, grid[i], [-v for v in grid[j]])))


def _spectrum_entry(model, w, freq, c, c2):
    return sp.Add(*[w[(c, c2, *q)] * phase(model, freq, lag_) for q, lag_ in kernel_lags(model)])


def kernel_spectrum(model: LinearCNN, w: np.ndarray) -> list[sp.Matrix]:
    """``kappa_f[c, c'] = sum_p w[c, c', p] exp(2 pi i f.lag(p) / N)`` per frequency ``f``
    (row-major), for ``w`` shaped ``(C, C', *kernel)``."""
    rows, cols = w.shape[:2]
    return [sp.Matrix(rows, cols, lambda c, c2, freq=freq: _spectrum_entry(model, w, freq, c, c2))
            for freq in sites(model)]


def row_spectrum(a: sp.Matrix, u: sp.Matrix, channels: int) -> list[sp.Matrix]:
    """The blocks ``A_f[r, c] = (A U_c^*)[r, (c, f)]`` of a row object ``A`` (``rows x
    channels N``, channel-major), ``U_c = I_channels (x) U``: e.g. ``beta_f``, ``T_f``."""
    n_pix, u_star = u.rows, u.H
    return [sp.Matrix(a.rows, channels, lambda r, c, f_=f_: sp.Add(
        *[a[r, c * n_pix + m] * u_star[m, f_] for m in range(n_pix)])) for f_ in range(n_pix)]


def dirichlet_matrix(model: LinearCNN) -> sp.Matrix:
    """``D[f, g] = sum_p exp(2 pi i (f - g).lag(p) / N)``, ``N x N``, exact (in radicals
    for :data:`RADICAL_SIZES`; docs/theory-reference.md, R4).  The same matrix in floating
    point, for numerics, is :func:`symcnn.theory.small_kernels.dirichlet_matrix`."""
    grid = sites(model)
    return sp.Matrix(len(grid), len(grid), lambda i, j: sp.expand(sp.Add(*[
        phase(model, [fi - gi for fi, gi in zip(grid[i], grid[j], strict=True)], lag_)
        for _, lag_ in kernel_lags(model)])))


def autocovariance_symbols(model: LinearCNN) -> np.ndarray:
    """``a[c, c', d]``, shaped ``(C_in, C_in, *shape)``: one real symbol ``a_c_c'_d`` per
    independent entry under ``a[c, c', d] = a[c', c, -d]`` (what makes ``Sigma_xx``
    symmetric)."""
    out = np.empty((model.c_in, model.c_in, *model.shape), dtype=object)
    for c, c2, *lag_ in np.ndindex(out.shape):
        minus = [-v % size for v, size in zip(lag_, model.shape, strict=True)]
        key = min((c, c2, *lag_), (c2, c, *minus))
        out[(c, c2, *lag_)] = sp.Symbol("a_" + "_".join(map(str, key)), real=True)
    return out


def stationary_statistics(model: LinearCNN) -> tuple[sp.Matrix, sp.Matrix]:
    """Block-circulant ``Sigma_xx[(c, n), (c', m)] = a[c, c', (m - n) mod N]``
    (:func:`autocovariance_symbols`) and generic ``Sigma_yx`` (symbols ``Syx_o_j``)."""
    sxx = sp.Matrix(block_circulant(autocovariance_symbols(model)))
    return sxx, statistics_symbols(model.n_in, model.n_out)[1]


def _block_diagonal(blocks: list[sp.Matrix]) -> sp.Matrix:
    """``B[(c, f), (c', g)] = delta_fg blocks[f][c, c']`` (channel-major, like the model)."""
    n_pix, (rows, cols) = len(blocks), blocks[0].shape
    return sp.Matrix(rows * n_pix, cols * n_pix, lambda i, j: (
        blocks[i % n_pix][i // n_pix, j // n_pix] if i % n_pix == j % n_pix else 0))


@dataclass(frozen=True)
class ExplicitSpectra:
    """The change of variables of a depth-1 model's pixel flow, per frequency ``f``
    (row-major lists of matrices; :func:`explicit_spectra`)."""

    u: sp.Matrix
    """``U``, ``N x N``."""
    lam: list[sp.Matrix]
    """``Lambda_f = sum_d a[:, :, d] exp(2 pi i f.d / N)``, ``C_in x C_in``."""
    t: list[sp.Matrix]
    """``T_f = (Sigma_yx U^*)_f``, ``N_o x C_in``."""
    m: list[sp.Matrix]
    """``M_f = (M U^*)_f`` of the generic ``M`` (symbols ``M_o_j``)."""
    g_hat: list[sp.Matrix]
    """``G_f = (G U^*)_f`` in the symbols ``G_o_j``."""
    kappa: list[sp.Matrix]
    """``kappa_f``, ``C x C_in``."""
    beta: list[sp.Matrix]
    """``beta_f = (W U^*)_f``, ``N_o x C``."""
    kappa_dot: list[sp.Matrix]
    """``tau dkappa_f/dt``: the pixel flow of ``w`` through ``kappa_f``."""
    beta_dot: list[sp.Matrix]
    """``tau dbeta_f/dt``: the pixel flow of ``W`` through ``beta_f``."""
    dirichlet: sp.Matrix
    """``D[f, g]`` (:func:`dirichlet_matrix`)."""


def explicit_spectra(model: LinearCNN, flow: PixelFlow) -> ExplicitSpectra:
    """:class:`ExplicitSpectra` of ``flow``, the pixel flow of the depth-1 ``model`` with
    :func:`stationary_statistics`."""
    u, a, grid = dft_matrix(model), autocovariance_symbols(model), sites(model)
    lam = [sp.Matrix(model.c_in, model.c_in, lambda c, c2, freq=freq: sp.Add(
        *[a[(c, c2, *lag_)] * phase(model, freq, lag_) for lag_ in grid])) for freq in grid]
    (w, big_w), (rhs_w, rhs_big_w) = flow.params, flow.rhs_g
    return ExplicitSpectra(
        u, lam, row_spectrum(flow.syx, u, model.c_in),
        row_spectrum(flow.generic, u, model.c_in), row_spectrum(flow.g_symbols, u, model.c_in),
        kernel_spectrum(model, w),
        row_spectrum(sp.Matrix(big_w.reshape(model.n_out, -1)), u, model.channels),
        kernel_spectrum(model, rhs_w),
        row_spectrum(sp.Matrix(rhs_big_w.reshape(model.n_out, -1)), u, model.channels),
        dirichlet_matrix(model))


def explicit_fourier(model: LinearCNN) -> Derivation:
    """The Fourier reduction (R2, R4) for the explicit sizes of a depth-1 ``model``.

    The pixel-space flow of :func:`symcnn.symbolic.pixel.gradient_flow` with stationary
    statistics (:func:`stationary_statistics`), pushed through ``kappa_f`` and ``beta_f =
    (W U^*)_f`` (:func:`explicit_spectra`), is ``tau dbeta_f/dt = -G_f kappa_f^*`` and ``tau
    dkappa_f/dt = -sum_g D[f, g] beta_g^* G_g``, with ``G_f = M_f Lambda_f - T_f`` and
    ``M_f = beta_f kappa_f``; for ``k = N``, ``D = N I`` and ``beta_f^* beta_f - kappa_f
    kappa_f^* / N`` is conserved.  Checked exactly when every ``N_i`` is in
    :data:`RADICAL_SIZES`, else numerically (30 digits).
    """
    if model.depth != 1:
        raise ValueError(f"explicit_fourier needs depth = 1 (one convolution layer), got "
                         f"depth = {model.depth}")
    sxx, syx = stationary_statistics(model)
    flow = gradient_flow(model, (sxx, syx))
    spec = explicit_spectra(model, flow)
    check = "exact" if all(size in RADICAL_SIZES for size in model.shape) else "numeric"
    n_pix, c_in, c_out = model.n_pixels, model.c_in, model.channels
    o = ", ".join(map(str, model.offset))
    o = o if len(model.offset) == 1 else f"({o})"
    lag_text = "p - o" if model.convention == "correlation" else "o - p"
    size = (f"$N = {n_pix}$" if len(model.shape) == 1 else
            f"$N = {model.shape[0]} \\times {model.shape[1]}$, multi-indices in row-major "
            "order, $f\\cdot n/N = \\sum_i f_i n_i/N_i$")
    d = Derivation(
        f"Fourier reduction, explicit sizes: {describe(model)}",
        "The pixel-space gradient flow $\\tau\\dot\\theta = -\\partial L/\\partial\\theta$, "
        "derived with one symbol per weight, pushed through the change of variables to "
        f"frequencies. Pixels $n$ and frequencies $f$ run over the sites ({size}): "
        "$U_{fn} = N^{-1/2} e^{-2\\pi i f\\cdot n/N}$, "
        "$\\kappa_f = \\sum_p w_p\\, e^{2\\pi i f\\cdot\\mathrm{lag}(p)/N}$ "
        f"($C \\times C_{{in}}$, $\\mathrm{{lag}}(p) = {lag_text}$, $o = {o}$), "
        "$\\beta_f = (W U^*)_f$, $T_f = (\\Sigma_{yx} U^*)_f$, $M_f = (M U^*)_f$, "
        "$\\hat G_f = (G U^*)_f$ (the columns of channel $c$ and frequency $f$).")
    d.assume("stationary input: $(\\Sigma_{xx})_{(c,n),(c',m)} = a_{c c' (m - n) \\bmod N}$ with "
             "$a_{c c' d} = a_{c' c (-d)}$, one real symbol per independent entry; generic "
             "real $\\Sigma_{yx}$")
    d.assume(f"steps 1-{len(flow.derivation.steps)} are the pixel-space derivation of "
             "symcnn.symbolic.pixel.gradient_flow; the Fourier steps are polynomial "
             "identities in the weights, the statistics and the symbols $G_{oj}$, so generic "
             "symbols prove them for these sizes")
    d.assume("roots of unity in radicals: the steps are checked exactly" if check == "exact"
             else "roots of unity of an order outside 1, 2, 3, 4, 6, 8, 12: the steps are "
             "checked numerically")
    d.steps.extend(flow.derivation.steps)
    u_in = sp.diag(*[spec.u] * c_in)
    d.step("stationary statistics are block-diagonal in frequency", u_in * sxx * u_in.H,
           _block_diagonal(spec.lam),
           "the blocks of $\\Sigma_{xx}$ are circulant, hence diagonal in frequency, with "
           "$\\Lambda_f = \\sum_d a_d\\, e^{2\\pi i f\\cdot d/N}$ (a $C_{in} \\times C_{in}$ "
           "matrix)", check=check,
           display=(op("\\left(U \\Sigma_{xx} U^{*}\\right)_{fg}"),
                    op("\\delta_{fg} \\sum_{d} a_{d}\\, e^{2\\pi i f\\cdot d/N}")))
    d.step("gradient in frequency", sp.Matrix.vstack(*row_spectrum(flow.g, spec.u, c_in)),
           sp.Matrix.vstack(*[mf * lf - tf for mf, lf, tf in zip(spec.m, spec.lam, spec.t,
                                                                  strict=True)]),
           "$G = M\\Sigma_{xx} - \\Sigma_{yx}$ with $U\\Sigma_{xx}U^*$ block-diagonal, for a "
           "generic $M$", check=check,
           display=(op("\\hat{G}_f"), op("M_f") * op("\\Lambda_f") - op("T_f")))
    d.step("circulant diagonalisation", sp.Matrix(layer_matrix(model, flow.params[0])),
           sp.diag(*[spec.u] * c_out).H * _block_diagonal(spec.kappa) * u_in,
           "the layer matrix is block-circulant; its blocks are diagonal in frequency with "
           "$\\kappa_f$", check=check,
           display=(op("K"), op("U^{*}") * op("\\operatorname{diag}(\\kappa)") * op("U")))
    d.step("end-to-end map in frequency", sp.Matrix.vstack(*row_spectrum(flow.m, spec.u, c_in)),
           sp.Matrix.vstack(*[b * kf for b, kf in zip(spec.beta, spec.kappa, strict=True)]),
           "$M U^* = W U^* \\operatorname{diag}(\\kappa)$ by the circulant diagonalisation",
           check=check, display=(op("M_f"), op("\\beta_f") * op("\\kappa_f")))
    d.step("readout flow", sp.Matrix.vstack(*spec.beta_dot),
           sp.Matrix.vstack(*[-gf * kf.H for gf, kf in zip(spec.g_hat, spec.kappa, strict=True)]),
           "the pixel flow of $W$ through $\\beta_f = (W U^*)_f$; with the gradient in "
           "frequency, $\\tau\\dot\\beta_f = (T_f - M_f\\Lambda_f)\\kappa_f^*$ (R2)", check=check,
           display=(op("\\tau \\dot{\\beta}_f"), -op("\\hat{G}_f") * op("\\kappa_f^{*}")))
    d.step("kernel flow", sp.Matrix.vstack(*spec.kappa_dot), coupled_kernel_flow(spec),
           "the pixel flow of $w$ through $\\kappa_f$, with the Dirichlet matrix $D_{fg} = "
           "\\sum_p e^{2\\pi i (f - g)\\cdot\\mathrm{lag}(p)/N}$: "
           "$\\tau\\dot\\kappa_f = \\sum_g D_{fg}\\beta_g^*(T_g - M_g\\Lambda_g)$ (R4)",
           check=check, display=(op("\\tau \\dot{\\kappa}_f"), -sp.Sum(
               op("D_{fg}") * op("\\beta_g^{*}") * op("\\hat{G}_g"), (g, 0, n_pix - 1))))
    if model.full_kernel:
        d.step("full kernel decouples", spec.dirichlet, n_pix * sp.eye(n_pix),
               f"with $k = N$ the lags cover all sites: $D = {n_pix} I$, so "
               f"$\\tau\\dot\\kappa_f = {n_pix}\\,\\beta_f^*(T_f - M_f\\Lambda_f)$ "
               "(R2, the factor $N$)", check=check,
               display=(op("D_{fg}"), n_pix * sp.KroneckerDelta(f, g)))
        d.step("conserved quantity", sp.Matrix.vstack(*[
            bd.H * b + b.H * bd - (kd * kf.H + kf * kd.H) / n_pix
            for b, bd, kf, kd in zip(spec.beta, spec.beta_dot, spec.kappa, spec.kappa_dot,
                                     strict=True)]),
            sp.zeros(c_out * n_pix, c_out),
            "along the transformed pixel flow, for every $G$", check=check,
            display=(op(f"\\frac{{d}}{{dt}}\\left(\\beta_f^{{*}}\\beta_f - "
                         f"\\kappa_f\\kappa_f^{{*}}/{n_pix}\\right)"), sp.Integer(0)))
    return d


def coupled_kernel_flow(spectra: ExplicitSpectra, dm: sp.Matrix | None = None) -> sp.Matrix:
    """``-sum_g D[f, g] beta_g^* G_g`` stacked over ``f`` (``D = dm``, or the model's)."""
    dm = spectra.dirichlet if dm is None else dm
    zero = sp.zeros(*(spectra.beta[0].H * spectra.g_hat[0]).shape)
    return sp.Matrix.vstack(*[
        -sum((dm[i, j] * spectra.beta[j].H * spectra.g_hat[j]
              for j in range(dm.cols) if dm[i, j] != 0), zero) for i in range(dm.rows)])
