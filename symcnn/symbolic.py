"""The pixel-space gradient flow of a linear CNN (or the fully connected baseline) for
explicit sizes, derived with SymPy from the model definition (THEORY.md section 1).

Structure first: a convolution layer is ``K = sum_p kron(w[:, :, p], S_p)`` with the shift
(permutation) matrices ``S_p[n, m] = 1`` iff ``m = (n + lag(p)) mod N`` (in 2-D the
Kronecker product of the 1-D shifts), and ``M = W K_depth ... K_1`` (``W_2 W_1`` for the
fully connected network).  The loss is ``L = 1/2 tr(M Sigma_xx M^T) - tr(M Sigma_yx^T)``.
Its gradient in ``M`` is derived once by ``sympy.diff`` on generic entries ``M_o_j`` and
checked to equal ``G = M Sigma_xx - Sigma_yx``; then the chain rule
``dL/dtheta = sum_{o, j} G[o, j] dM[o, j]/dtheta`` differentiates only the sparse,
multilinear entries of the end-to-end ``M``.  Gradient flow: ``tau dtheta/dt = -dL/dtheta``.
Entries stay sums of products: nothing large is expanded or simplified.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import sympy as sp
from sympy.polys.rings import ring

from .data import Statistics
from .model import FullyConnected, LinearCNN

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


def _loss(m: sp.Matrix, sxx: sp.Matrix, syx: sp.Matrix) -> sp.Expr:
    """``L = 1/2 tr(M Sigma_xx M^T) - tr(M Sigma_yx^T)`` as ``sum_{o, j} M[o, j] ((M
    Sigma_xx)[o, j] / 2 - Sigma_yx[o, j])`` (up to the constant ``<|y|^2> / 2``)."""
    msxx = m * sxx
    return sp.Add(*[m[o, j] * (msxx[o, j] / 2 - syx[o, j])
                    for o in range(m.rows) for j in range(m.cols)])


def loss_gradient(sxx: sp.Matrix, syx: sp.Matrix) -> tuple[sp.Matrix, sp.Matrix]:
    """``(M, dL/dM)`` for generic symbols ``M_o_j``, by ``sympy.diff`` of the loss.

    Raises ``AssertionError`` unless the result equals ``G = M Sigma_xx - Sigma_yx``
    exactly (``simplify`` of each entry of the difference is 0).
    """
    generic = sp.Matrix(syx.rows, syx.cols, lambda o, j: sp.Symbol(f"M_{o}_{j}", real=True))
    # The loss is a polynomial in the M_o_j (and the statistics symbols): differentiate it
    # in sympy's sparse polynomial ring (exact, and fast for large D).
    stat_symbols = sorted(sxx.free_symbols | syx.free_symbols, key=str)
    _, *gens = ring([*generic, *stat_symbols], sp.QQ)
    loss = gens[0].ring(_loss(generic, sxx, syx))
    g = sp.Matrix(generic.rows, generic.cols,
                  [loss.diff(x).as_expr() for x in gens[:len(generic)]])
    difference = g - (generic * sxx - syx)
    if not all(e == 0 or sp.simplify(e) == 0 for e in difference):
        raise AssertionError("dL/dM differs from M Sigma_xx - Sigma_yx")
    return generic, g


@dataclass(frozen=True, eq=False)
class PixelFlow:
    """``tau dtheta/dt = rhs = -dL/dtheta / tau`` in pixel space.

    Attributes
    ----------
    model : LinearCNN or FullyConnected
    params : tuple of object arrays
        The parameter symbols, shaped like ``model.param_shapes()``.
    rhs : tuple of object arrays
        ``-dL/dtheta / tau`` per parameter, sums of products of ``G`` and ``dM/dtheta``.
    m : sympy Matrix
        The end-to-end map ``M`` (``N_o x D``).
    g : sympy Matrix
        ``G = dL/dM`` derived on generic ``M`` (checked ``= M Sigma_xx - Sigma_yx``).
    g_network : tuple of sympy expressions
        ``G`` at the network's ``M`` (row-major), the factors shared by ``rhs``.
    sxx, syx : sympy Matrix
        The statistics used (exact rationals, or symbols ``Sxx_i_j``, ``Syx_o_j``).
    """

    model: Model
    params: tuple[np.ndarray, ...]
    rhs: tuple[np.ndarray, ...]
    m: sp.Matrix
    g: sp.Matrix
    sxx: sp.Matrix
    syx: sp.Matrix
    tau: sp.Expr = field(default=sp.Integer(1))
    g_network: tuple[sp.Expr, ...] = field(default=(), repr=False)

    @cached_property
    def loss(self) -> sp.Expr:
        """``L = 1/2 tr(M Sigma_xx M^T) - tr(M Sigma_yx^T)`` at the network's ``M``
        (up to ``<|y|^2>/2``), unexpanded."""
        return _loss(self.m, self.sxx, self.syx)

    def _cse(self, exprs):
        """Common subexpressions for ``lambdify``: the entries of ``G`` at the network."""
        names = sp.numbered_symbols("G_")
        replacements = [(next(names), e) for e in self.g_network if e != 0]
        back = {e: s for s, e in replacements}
        return replacements, [e.xreplace(back) for e in exprs]

    @cached_property
    def _function(self):
        symbols = [s for p in self.params for s in p.ravel()]
        exprs = [e for r in self.rhs for e in r.ravel()]
        return sp.lambdify(symbols, exprs, modules="numpy", cse=self._cse)

    def numeric(self, values) -> tuple[np.ndarray, ...]:
        """``rhs`` at numeric parameters ``values`` (arrays shaped like ``params``), as
        float arrays; needs numeric statistics (substitute symbolic ones first)."""
        flat = self._function(*[float(v) for p in values for v in np.ravel(p)])
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
        return tuple(np.vectorize(lambda e: e.xreplace(values), otypes=[object])(r)
                     for r in self.rhs)


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


def gradient_flow(model: Model, stats=None, tau=1) -> PixelFlow:
    """Derive ``tau dtheta/dt = -dL/dtheta`` for ``model``.

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

    Returns
    -------
    PixelFlow
        With ``rhs[k] = -(1/tau) sum_{o, j} G[o, j] dM[o, j]/dtheta_k``, where
        ``G = dL/dM`` comes from ``sympy.diff`` of the loss and ``dM/dtheta`` from
        ``sympy.diff`` of the end-to-end entries.
    """
    sxx, syx = _statistics(model, stats)
    tau = sp.sympify(tau)
    params = weight_symbols(model)
    generic, g_generic = loss_gradient(sxx, syx)
    m = end_to_end(model, params)
    to_network = dict(zip(generic, m, strict=True))
    g = g_generic.xreplace(to_network)
    terms: dict[sp.Symbol, list] = {s: [] for p in params for s in p.ravel()}
    for g_entry, m_entry in zip(g, m, strict=True):
        for s in m_entry.free_symbols & terms.keys():
            terms[s].append(g_entry * m_entry.diff(s))
    rhs = tuple(np.array([-sp.Add(*terms[s]) / tau for s in p.ravel()],
                         dtype=object).reshape(p.shape) for p in params)
    return PixelFlow(model, params, rhs, m, g_generic, sxx, syx, tau, tuple(g))

