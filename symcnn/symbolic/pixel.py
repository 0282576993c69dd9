"""The pixel-space gradient flow of a linear CNN (or the fully connected baseline) for
explicit sizes, derived with SymPy from the model definition (docs/theory-reference.md,
Setting).

Structure first: a convolution layer is ``K = sum_p kron(w[:, :, p], S_p)`` with the shift
(permutation) matrices ``S_p[n, m] = 1`` iff ``m = (n + lag(p)) mod N`` (in 2-D the
Kronecker product of the 1-D shifts), and ``M = W K_depth ... K_1`` (``W_2 W_1`` for the
fully connected network).  The loss is ``L = 1/2 tr(M Sigma_xx M^T) - tr(M Sigma_yx^T)``.
Three checked steps (:class:`~symcnn.symbolic.derivation.Derivation`):

1. *end-to-end map*: ``M`` from the shift structure equals ``d y_hat / dx`` of the layers'
   index definition ``h[c, n] = sum_{c', p} w[c, c', p] x[c', (n + lag(p)) mod N]``;
2. *gradient in M*: ``dL/dM``, differentiated on generic entries ``M_o_j``, equals
   ``G = M Sigma_xx - Sigma_yx``;
3. *chain rule*: ``tau dtheta/dt = -sum_{o, j} G[o, j] dM[o, j]/dtheta``, with ``dM/dtheta``
   differentiated in SymPy's polynomial ring, equals ``-d/dt L(theta_0 + t v)`` exactly at
   random rational points and directions.

Entries stay sums of products in the parameters and the symbols ``G_o_j``: nothing large is
expanded or simplified.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import sympy as sp
from sympy.polys.rings import ring

from ..data import Statistics
from ..model import FullyConnected, LinearCNN
from .derivation import Derivation

Model = LinearCNN | FullyConnected


def weight_symbols(model: Model) -> tuple[np.ndarray, ...]:
    """Real symbols shaped like ``model.param_shapes()``.

    Names are ``w{l}_c_c'_p...`` for kernel ``l`` and ``W_o_c_n...`` for the fully
    connected layer (``W1_i_j``, ``W2_i_j`` for :class:`FullyConnected`).
    """
    if isinstance(model, LinearCNN):
        names = [f"w{layer + 1}" for layer in range(model.depth)] + ["W"]
    else:
        names = ["W1", "W2"]
    return tuple(
        np.array([sp.Symbol(f"{name}_" + "_".join(map(str, idx)), real=True)
                  for idx in np.ndindex(*shape)], dtype=object).reshape(shape)
        for name, shape in zip(names, model.param_shapes(), strict=True)
    )


def _shift_1d(n: int, lag: int) -> dict[tuple[int, int], int]:
    """Nonzeros of the 1-D shift ``S[i, j] = 1`` iff ``j = (i + lag) mod n``."""
    return {(i, (i + lag) % n): 1 for i in range(n)}


def _kron(a: dict, a_shape: tuple[int, int], b: dict, b_shape: tuple[int, int]) -> dict:
    """Sparse Kronecker product ``kron(A, B)`` of two ``{(row, col): value}`` maps."""
    rows, cols = b_shape
    return {(i * rows + k, j * cols + m): x * y
            for (i, j), x in a.items() for (k, m), y in b.items()}


def shift_matrix(model: LinearCNN, p: tuple[int, ...]) -> sp.SparseMatrix:
    """``S_p``, ``N x N``: ``S_p[n, m] = 1`` iff ``m = (n + lag(p)) mod N`` (per dimension;
    the Kronecker product of the 1-D shifts, pixels flattened row-major)."""
    lags = model.lags()[(slice(None), *p)]
    s, size = {(0, 0): 1}, (1, 1)
    for n, lag in zip(model.shape, lags, strict=True):
        s, size = _kron(s, size, _shift_1d(n, int(lag)), (n, n)), (size[0] * n, size[1] * n)
    return sp.SparseMatrix(*size, s)


def layer_matrix(model: LinearCNN, w: np.ndarray) -> sp.SparseMatrix:
    """``K = sum_p kron(w[:, :, p], S_p)``, the ``(C N) x (C' N)`` layer matrix, so that
    ``K[(c, n), (c', m)] = w[c, c', p]`` where ``m = n + lag(p) mod N``."""
    c_out, c_prev = w.shape[:2]
    n = model.n_pixels
    entries: dict[tuple[int, int], sp.Expr] = {}
    for p in np.ndindex(*model.kernel):
        block = {(c, c2): w[(c, c2, *p)] for c in range(c_out) for c2 in range(c_prev)}
        shift = shift_matrix(model, p).todok()
        for key, value in _kron(block, (c_out, c_prev), shift, (n, n)).items():
            entries[key] = entries.get(key, sp.Integer(0)) + value
    return sp.SparseMatrix(c_out * n, c_prev * n, entries)


def _sparse_product(left: dict, right: dict, shape: tuple[int, int]) -> sp.Matrix:
    """``A B`` from nonzero maps, each entry one ``Add`` of products (no expansion)."""
    by_row: dict[int, list] = {}
    for (k, j), y in right.items():
        by_row.setdefault(k, []).append((j, y))
    terms: dict[tuple[int, int], list] = {}
    for (i, k), x in left.items():
        for j, y in by_row.get(k, ()):
            terms.setdefault((i, j), []).append(x * y)
    return sp.Matrix(*shape, lambda i, j: sp.Add(*terms.get((i, j), ())))


def _nonzeros(m: sp.MatrixBase) -> dict[tuple[int, int], sp.Expr]:
    return {(i, j): e for i in range(m.rows) for j in range(m.cols) if (e := m[i, j]) != 0}


def end_to_end(model: Model, params: tuple[np.ndarray, ...]) -> sp.Matrix:
    """``M = W K_depth ... K_1`` (``W`` flattened to ``N_o x (C N)``), or ``W_2 W_1``;
    the ``N_o x D`` end-to-end matrix with symbolic parameters."""
    if isinstance(model, FullyConnected):
        w1, w2 = params
        return _sparse_product(_nonzeros(sp.Matrix(w2)), _nonzeros(sp.Matrix(w1)),
                               (model.n_out, model.n_in))
    *kernels, w_out = params
    m = sp.Matrix(w_out.reshape(model.n_out, -1))
    for w in reversed(kernels):
        k = layer_matrix(model, w)
        m = _sparse_product(_nonzeros(m), dict(k.todok()), (m.rows, k.cols))
    return m


def statistics_symbols(n_in: int, n_out: int) -> tuple[sp.Matrix, sp.Matrix]:
    """Generic ``Sigma_xx`` (symmetric: ``Sxx_i_j`` with ``i <= j``) and ``Sigma_yx``
    (``Syx_o_j``), real symbols."""
    sxx = sp.Matrix(n_in, n_in,
                    lambda i, j: sp.Symbol(f"Sxx_{min(i, j)}_{max(i, j)}", real=True))
    return sxx, sp.Matrix(n_out, n_in, lambda o, j: sp.Symbol(f"Syx_{o}_{j}", real=True))


def statistics_matrices(stats: Statistics) -> tuple[sp.Matrix, sp.Matrix]:
    """``Sigma_xx``, ``Sigma_yx`` as exact sympy Rationals (the floats' exact values)."""
    return tuple(sp.Matrix(a.shape[0], a.shape[1], [sp.Rational(float(x)) for x in a.ravel()])
                 for a in (stats.sxx, stats.syx))


def _loss(m, sxx, syx, total=lambda terms: sp.Add(*terms)):
    """``L = 1/2 tr(M Sigma_xx M^T) - tr(M Sigma_yx^T)`` as ``sum_{o, j} M[o, j] ((M
    Sigma_xx)[o, j] / 2 - Sigma_yx[o, j])`` (up to the constant ``<|y|^2> / 2``), for
    entries that are sympy expressions or polynomial-ring elements (``total`` sums)."""
    rows, cols = syx.shape
    return total([m[o, j] * (total([m[o, i] * sxx[i, j] for i in range(cols)]) / 2
                             - syx[o, j]) for o in range(rows) for j in range(cols)])


def loss_gradient(sxx: sp.Matrix, syx: sp.Matrix) -> tuple[sp.Matrix, sp.Matrix]:
    """``(M, dL/dM)`` for generic symbols ``M_o_j``, differentiating the loss in SymPy's
    sparse polynomial ring (exact, and fast for large ``D``)."""
    generic = sp.Matrix(syx.rows, syx.cols, lambda o, j: sp.Symbol(f"M_{o}_{j}", real=True))
    stat_symbols = sorted(sxx.free_symbols | syx.free_symbols, key=str)
    _, *gens = ring([*generic, *stat_symbols], sp.QQ)
    loss = gens[0].ring(_loss(generic, sxx, syx))
    return generic, sp.Matrix(generic.rows, generic.cols,
                              [loss.diff(x).as_expr() for x in gens[:len(generic)]])


def describe(model: Model) -> str:
    """A one-line description of ``model`` for titles."""
    if isinstance(model, FullyConnected):
        return (f"fully connected, $D = {model.n_in}$, $H = {model.hidden}$, "
                f"$N_o = {model.n_out}$")
    size = "\\times".join(map(str, model.shape))
    kernel = "\\times".join(map(str, model.kernel))
    return (f"linear CNN ({model.convention}), $N = {size}$, $k = {kernel}$, "
            f"$C_{{in}} = {model.c_in}$, $C = {model.channels}$, $N_o = {model.n_out}$, "
            f"depth {model.depth}")


def _defined_output(model: Model, params, x: np.ndarray) -> list[sp.Expr]:
    """``y_hat`` straight from the definition: ``h[c, n] = sum_{c', p} w[c, c', p]
    x[c', (n + lag(p)) mod N]`` per layer, ``y_hat[o] = sum_{c, n} W[o, c, n] h[c, n]``."""
    if isinstance(model, FullyConnected):
        w1, w2 = params
        hidden = [sp.Add(*(w1[i] * x)) for i in range(model.hidden)]
        return [sp.Add(*[w2[o, i] * hidden[i] for i in range(model.hidden)])
                for o in range(model.n_out)]
    sign = 1 if model.convention == "correlation" else -1
    *kernels, w_out = params
    h = x
    for w in kernels:
        new = np.empty((w.shape[0], *model.shape), dtype=object)
        for c, *n in np.ndindex(*new.shape):
            new[(c, *n)] = sp.Add(*[
                w[(c, c2, *q)] * h[(c2, *[(ni + sign * (qi - oi)) % size for ni, qi, oi, size
                                           in zip(n, q, model.offset, model.shape, strict=True)])]
                for c2 in range(w.shape[1]) for q in np.ndindex(*model.kernel)])
        h = new
    return [sp.Add(*(w_out[o] * h).ravel()) for o in range(model.n_out)]


def _random_rational(rng: random.Random) -> sp.Rational:
    return sp.Rational(rng.randint(-10**6, 10**6), 10**6)


@dataclass(frozen=True, eq=False)
class PixelFlow:
    """``tau dtheta/dt = -dL/dtheta = -sum_{o, j} G[o, j] dM[o, j]/dtheta`` in pixel space,
    with ``G = dL/dM = M Sigma_xx - Sigma_yx`` at the network's ``M``.

    Attributes
    ----------
    model : LinearCNN or FullyConnected
    params : tuple of object arrays
        The parameter symbols, shaped like ``model.param_shapes()``.
    m : sympy Matrix
        The end-to-end map ``M`` (``N_o x D``), multilinear in the parameters.
    generic, g : sympy Matrix
        Generic symbols ``M_o_j`` and ``dL/dM`` derived in them.
    g_symbols, g_network : sympy Matrix
        Symbols ``G_o_j`` and their values ``dL/dM`` at the network's ``M``.
    rhs_g : tuple of object arrays
        ``tau dtheta/dt`` in the parameters and the symbols ``G_o_j`` (compact).
    sxx, syx : sympy Matrix
        The statistics used (exact rationals, or symbols).
    tau : sympy expression
    derivation : Derivation
        The checked steps.
    """

    model: Model
    params: tuple[np.ndarray, ...]
    m: sp.Matrix
    generic: sp.Matrix
    g: sp.Matrix
    g_symbols: sp.Matrix
    g_network: sp.Matrix
    rhs_g: tuple[np.ndarray, ...]
    sxx: sp.Matrix
    syx: sp.Matrix
    tau: sp.Expr
    derivation: Derivation = field(repr=False)

    @cached_property
    def rhs(self) -> tuple[np.ndarray, ...]:
        """``tau dtheta/dt`` in the parameters and statistics alone (``G`` substituted)."""
        values = dict(zip(self.g_symbols, self.g_network, strict=True))
        return tuple(_map(lambda e: e.xreplace(values), r) for r in self.rhs_g)

    @cached_property
    def loss(self) -> sp.Expr:
        """``L`` at the network's ``M`` (up to ``<|y|^2>/2``), unexpanded."""
        return _loss(self.m, self.sxx, self.syx)

    @cached_property
    def _functions(self):
        """``M(theta)``, ``G(M)`` and ``tau dtheta/dt(theta, G)`` as NumPy functions.

        ``sympy.lambdify``, not :func:`symcnn.codegen.compile`: these are many outputs of
        large polynomials, evaluated once per call, and codegen's rewrites factor every
        expression. Measured (SymPy 1.14, one core) for ``N = 3 x 3``, ``k = 2 x 2``,
        ``C = 2``, ``N_o = 2`` (18, 18 and 44 outputs): lambdify builds all three in 0.4 s
        and one ``numeric`` call takes 0.07 ms; codegen builds them in 30 s (26 s for the
        right-hand sides, almost all in ``sympy.factor``) and a call takes 1.2 ms; for
        ``6 x 6``, ``k = 3 x 3`` (162 right-hand sides) codegen had not finished after
        15 minutes. The values agree to 2e-16 (relative)."""
        if self.sxx.free_symbols | self.syx.free_symbols | self.tau.free_symbols:
            raise ValueError("numeric() needs numeric statistics and tau; call "
                             "gradient_flow with a Statistics")
        symbols = [s for p in self.params for s in p.ravel()]
        return (sp.lambdify(symbols, list(self.m), modules="numpy"),
                sp.lambdify(list(self.generic), list(self.g), modules="numpy"),
                sp.lambdify(symbols + list(self.g_symbols),
                            [e for r in self.rhs_g for e in r.ravel()], modules="numpy"))

    def numeric(self, values) -> tuple[np.ndarray, ...]:
        """``tau dtheta/dt`` at numeric parameters ``values`` (arrays shaped like
        ``params``), as float arrays: ``M``, then ``G``, then the right-hand sides."""
        m_of, g_of, rhs_of = self._functions
        theta = [float(v) for p in values for v in np.ravel(p)]
        flat = rhs_of(*theta, *g_of(*m_of(*theta)))
        out, start = [], 0
        for p in self.params:
            out.append(np.array(flat[start:start + p.size], dtype=float).reshape(p.shape))
            start += p.size
        return tuple(out)

    def substitute(self, stats: Statistics) -> tuple[np.ndarray, ...]:
        """``rhs`` with symbolic statistics replaced by the exact values of ``stats``."""
        sxx, syx = statistics_matrices(stats)
        values = {s: v for s, v in zip(self.sxx, sxx, strict=True) if s.is_Symbol}
        values |= {s: v for s, v in zip(self.syx, syx, strict=True) if s.is_Symbol}
        return tuple(_map(lambda e: e.xreplace(values), r) for r in self.rhs)

    def directional_derivatives(self, points: int, seed: int) -> tuple[sp.Matrix, sp.Matrix]:
        """Exact ``d/dt L(theta_0 + t v)`` at ``t = 0`` and ``-tau (dtheta/dt) . v`` at
        seeded random rational points ``theta_0`` (statistics and ``tau`` drawn too if
        symbolic) along ``points`` random directions ``v``, then one coordinate direction
        per parameter array.  Equal exactly iff the chain rule was carried out right."""
        rng = random.Random(seed)
        symbols = [s for p in self.params for s in p.ravel()]
        others = (self.sxx.free_symbols | self.syx.free_symbols | self.tau.free_symbols)
        directions = [{s: _random_rational(rng) for s in symbols} for _ in range(points)]
        directions += [{rng.choice(list(p.ravel())): sp.Integer(1)} for p in self.params]
        t = sp.Symbol("t")
        polynomials, _ = ring([t], sp.QQ)
        lhs, rhs = [], []
        for v in directions:
            point = {s: _random_rational(rng) for s in symbols}
            point |= {s: abs(_random_rational(rng)) + 1 for s in sorted(others, key=str)}
            line = {s: point[s] + t * v.get(s, 0) for s in symbols}
            m_t = np.array([polynomials(e.xreplace(line)) for e in self.m],
                           dtype=object).reshape(self.m.shape)
            sxx, syx = (_map(polynomials, np.array(a.xreplace(point), dtype=object))
                        for a in (self.sxx, self.syx))
            loss = _loss(m_t, sxx, syx, total=lambda terms: sum(terms, polynomials.zero))
            lhs.append(polynomials.domain.to_sympy(loss.coeff(polynomials.gens[0])))
            m_0 = dict(zip(self.generic, self.m.xreplace(point), strict=True))
            g_0 = dict(zip(self.g_symbols, self.g.xreplace(m_0 | point), strict=True))
            velocity = [e.xreplace(point | g_0) for r in self.rhs_g for e in r.ravel()]
            rhs.append(-self.tau.xreplace(point)
                       * sp.Add(*[x * v.get(s, 0) for x, s in zip(velocity, symbols,
                                                                   strict=True)]))
        return sp.Matrix(lhs), sp.Matrix(rhs)


def _map(function, array: np.ndarray) -> np.ndarray:
    return np.array([function(e) for e in array.ravel()], dtype=object).reshape(array.shape)


def _statistics(model: Model, stats) -> tuple[sp.Matrix, sp.Matrix]:
    """``(Sigma_xx, Sigma_yx)`` from ``stats`` (see :func:`gradient_flow`), sizes checked."""
    if stats is None:
        return statistics_symbols(model.n_in, model.n_out)
    if isinstance(stats, Statistics):
        sxx, syx = statistics_matrices(stats)
    else:
        sxx, syx = map(sp.Matrix, stats)
    want = {"Sigma_xx": (model.n_in, model.n_in), "Sigma_yx": (model.n_out, model.n_in)}
    for (name, shape), matrix in zip(want.items(), (sxx, syx), strict=True):
        if matrix.shape != shape:
            raise ValueError(f"stats: {name} must have shape {shape} for this model "
                             f"(D = {model.n_in}, N_o = {model.n_out}), got {matrix.shape}")
    if sxx != sxx.T:
        raise ValueError("stats: Sigma_xx must be symmetric")
    return sxx, syx


def gradient_flow(model: Model, stats=None, tau=1, points: int = 3, seed: int = 0) -> PixelFlow:
    """Derive ``tau dtheta/dt = -dL/dtheta`` for ``model``, every step checked.

    Parameters
    ----------
    model : LinearCNN or FullyConnected
    stats : Statistics, pair of sympy matrices, or None
        Numeric ``Sigma_xx``, ``Sigma_yx`` (taken as exact rationals); or the matrices
        ``(Sigma_xx, Sigma_yx)`` themselves (any symmetric sympy entries, e.g. a symbolic
        block-circulant ``Sigma_xx``); ``None`` for generic symbols ``Sxx_i_j`` (symmetric)
        and ``Syx_o_j``.
    tau : number or sympy expression
        The time constant.
    points, seed : int
        Random directions (and the seed) of the exact chain-rule check.

    Returns
    -------
    PixelFlow
        With ``rhs_g[k] = -(1/tau) sum_{o, j} G[o, j] dM[o, j]/dtheta_k`` and its
        :class:`~symcnn.symbolic.derivation.Derivation`: the end-to-end map against the layers'
        definition, ``dL/dM`` by differentiation, and the chain rule at random points.
    """
    sxx, syx = _statistics(model, stats)
    tau = sp.sympify(tau)
    params = weight_symbols(model)
    d = Derivation(
        f"Pixel-space gradient flow: {describe(model)}",
        "Loss $L = \\frac{1}{2}\\operatorname{tr}(M\\Sigma_{xx}M^T) - "
        "\\operatorname{tr}(M\\Sigma_{yx}^T) + \\text{const}$ of the end-to-end map $M$, "
        "gradient flow $\\tau\\dot\\theta = -\\partial L/\\partial\\theta$ with one symbol "
        "per weight.")
    d.assume("statistics: " + ("symbols" if sxx.free_symbols else "exact rationals (the "
                               "data's floating-point values)"))
    m = end_to_end(model, params)
    x = np.array([sp.Symbol(f"x_{i}", real=True) for i in range(model.n_in)], dtype=object)
    image = x.reshape(model.c_in, *model.shape) if isinstance(model, LinearCNN) else x
    defined = sp.Matrix(_defined_output(model, params, image))
    d.step("end-to-end map", defined.jacobian(list(x)), m,
           "$M = \\partial\\hat y/\\partial x$ of the layers' definition equals the "
           "product of the layer matrices, $K = \\sum_p w_p \\otimes S_p$ with shift "
           "matrices $S_p$" if isinstance(model, LinearCNN) else
           "$M = \\partial\\hat y/\\partial x = W_2 W_1$",
           display=(sp.MatrixSymbol("M", *m.shape), _matrix_product(model)))
    generic, g = loss_gradient(sxx, syx)
    big = {name: sp.MatrixSymbol(name, *shape) for name, shape in (
        ("M", m.shape), ("Sigma_xx", sxx.shape), ("Sigma_yx", syx.shape))}
    d.step("gradient in M", g, generic * sxx - syx,
           "differentiate $L$ in the entries of a generic $M$",
           display=(sp.Symbol("\\partial L/\\partial M"),
                    big["M"] * big["Sigma_xx"] - big["Sigma_yx"]))
    g_symbols = sp.Matrix(*m.shape, lambda o, j: sp.Symbol(f"G_{o}_{j}", real=True))
    rhs_g = _chain_rule(params, m, g_symbols, tau)
    flow = PixelFlow(model, params, m, generic, g, g_symbols,
                     g.xreplace(dict(zip(generic, m, strict=True))), rhs_g, sxx, syx, tau, d)
    o, j, i = sp.symbols("o j i", integer=True)
    theta, big_g, big_m = (sp.IndexedBase(s) for s in ("theta", "G", "M"))
    d.step("chain rule", *flow.directional_derivatives(points, seed),
           f"$\\tau\\dot\\theta_i = -\\sum_{{o,j}} G_{{oj}}\\,\\partial M_{{oj}}/\\partial"
           f"\\theta_i$ with $G = \\partial L/\\partial M$ at the network, differentiating the"
           f" multilinear entries of $M$; checked exactly against $\\frac{{d}}{{dt}} L(\\theta_0"
           f" + t v)$ at $t = 0$ for {points} random and {len(params)} coordinate directions "
           f"$v$ at random rational points $\\theta_0$",
           display=(sp.Symbol("\\tau \\dot{\\theta}_{i}"),
                    -sp.Sum(big_g[o, j] * sp.Derivative(big_m[o, j], theta[i]),
                            (o, 0, m.rows - 1), (j, 0, m.cols - 1))))
    return flow


def _matrix_product(model: Model) -> sp.MatMul:
    """``W K_depth ... K_1`` (or ``W_2 W_1``) as matrix symbols, for display."""
    if isinstance(model, FullyConnected):
        names = [("W_2", (model.n_out, model.hidden)), ("W_1", (model.hidden, model.n_in))]
    else:
        width = model.channels * model.n_pixels
        names = [("W", (model.n_out, width))] + [
            (f"K_{layer}", (width, width if layer > 1 else model.n_in))
            for layer in range(model.depth, 0, -1)]
    return sp.MatMul(*[sp.MatrixSymbol(name, *shape) for name, shape in names])


def _chain_rule(params, m: sp.Matrix, g_symbols: sp.Matrix, tau) -> tuple[np.ndarray, ...]:
    """``-(1/tau) sum_{o, j} G[o, j] dM[o, j]/dtheta`` per parameter, each ``dM/dtheta``
    differentiated in SymPy's sparse polynomial ring over the parameters."""
    symbols = [s for p in params for s in p.ravel()]
    polynomials, *gens = ring(symbols, sp.ZZ)
    terms: dict[int, list] = {i: [] for i in range(len(symbols))}
    for g_entry, m_entry in zip(g_symbols, m, strict=True):
        poly = polynomials(m_entry)
        present = {i for monomial in poly.monoms() for i, e in enumerate(monomial) if e}
        for i in sorted(present):
            terms[i].append(g_entry * poly.diff(gens[i]).as_expr())
    flat = [-sp.Add(*terms[i]) / tau for i in range(len(symbols))]
    out, start = [], 0
    for p in params:
        out.append(np.array(flat[start:start + p.size], dtype=object).reshape(p.shape))
        start += p.size
    return tuple(out)
