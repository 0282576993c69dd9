"""The networks symcnn studies (docs/theory-reference.md, Setting).

A linear CNN maps an input ``x`` of ``c_in`` channels on a periodic grid of ``shape``
(``N = prod(shape)`` pixels) through ``depth`` circular convolution layers of ``channels``
channels, then a fully connected layer to ``n_out`` outputs.  Layer ``l`` computes

    h[c, n] = sum_{c', p} w[c, c', p] x[c', (n + lag(p)) mod N],

with ``lag(p) = p - o`` (cross-correlation, PyTorch's ``padding='same',
padding_mode='circular'``) or ``lag(p) = o - p`` (true convolution), and the centred
offset ``o_i = (k_i - 1) // 2``.  The output is ``y_hat[o] = sum_{c, n} W[o, c, n] h[c, n]``.

Parameters are a tuple of real arrays: the kernels ``w_1 .. w_depth`` of shapes
``(channels, c_in, *kernel)`` then ``(channels, channels, *kernel)``, and last ``W`` of
shape ``(n_out, channels, *shape)``.  The end-to-end map ``M`` is the ``n_out x D``
matrix (``D = c_in N``, inputs flattened channel-major, then row-major over pixels) with
``y_hat = M x``.

Everything here is the definition: dense circulant matrices, no Fourier transform.  The
fast paths live in :mod:`symcnn.fourier` and :mod:`symcnn.simulate` and are tested
against these.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from math import prod

import numpy as np

from .checks import finite_array, positive_int, size_tuple

CONVENTIONS = ("correlation", "convolution")


@dataclass(frozen=True)
class LinearCNN:
    """A linear CNN: ``depth`` circular convolution layers, then a fully connected layer.

    Parameters
    ----------
    shape : int or tuple of int
        Image size ``(N_1,)`` or ``(N_1, N_2)``; non-square allowed.
    kernel : int or tuple of int, optional
        Kernel size ``k_i`` with ``1 <= k_i <= N_i``; default ``shape`` (full kernel).
    channels : int
        ``C``, the channels of every convolution layer.
    c_in : int
        ``C_in``, the input channels.
    n_out : int
        ``N_o``, the outputs.
    depth : int
        Number of convolution layers (``L - 1`` in docs/theory-reference.md), ``>= 1``.
    convention : {"correlation", "convolution"}
        ``lag(p) = p - o`` or ``o - p``; convolution conjugates the kernel spectrum.
    """

    shape: tuple[int, ...]
    kernel: tuple[int, ...] | None = None
    channels: int = 1
    c_in: int = 1
    n_out: int = 1
    depth: int = 1
    convention: str = "correlation"

    def __post_init__(self):
        shape = size_tuple("shape", self.shape)
        kernel = shape if self.kernel is None else size_tuple("kernel", self.kernel)
        if len(kernel) != len(shape):
            raise ValueError(
                f"kernel must have {len(shape)} entries like shape={shape}, got {kernel}"
            )
        for i, (k, n) in enumerate(zip(kernel, shape, strict=True)):
            if k > n:
                raise ValueError(f"kernel[{i}] must satisfy 1 <= k <= N = {n}, got k = {k}")
        if not isinstance(self.convention, str):  # an array would be truth-tested by `in`
            raise TypeError(f"convention must be one of {CONVENTIONS} (a string), got "
                            f"{self.convention!r} ({type(self.convention).__name__})")
        if self.convention not in CONVENTIONS:
            raise ValueError(f"convention must be one of {CONVENTIONS}, got {self.convention!r}")
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "kernel", kernel)
        for name in ("channels", "c_in", "n_out", "depth"):
            object.__setattr__(self, name, positive_int(name, getattr(self, name)))

    @property
    def n_pixels(self) -> int:
        """``N``, the number of pixels."""
        return prod(self.shape)

    @property
    def n_in(self) -> int:
        """``D = C_in N``, the input dimension."""
        return self.c_in * self.n_pixels

    @property
    def full_kernel(self) -> bool:
        """Whether ``k = N`` in every dimension (the decoupling hypothesis of R2)."""
        return self.kernel == self.shape

    @property
    def offset(self) -> tuple[int, ...]:
        """The centred offset ``o_i = (k_i - 1) // 2``."""
        return tuple((k - 1) // 2 for k in self.kernel)

    def lags(self) -> np.ndarray:
        """``lag(p) mod N`` per kernel position: integer array of shape ``(d, *kernel)``."""
        sign = 1 if self.convention == "correlation" else -1
        grids = np.indices(self.kernel)
        return np.stack(
            [
                (sign * (g - o)) % n
                for g, o, n in zip(grids, self.offset, self.shape, strict=True)
            ]
        )

    def param_shapes(self) -> list[tuple[int, ...]]:
        """Shapes of ``(w_1, ..., w_depth, W)``."""
        kernels = [(self.channels, self.c_in if layer == 0 else self.channels, *self.kernel)
                   for layer in range(self.depth)]
        return [*kernels, (self.n_out, self.channels, *self.shape)]

    def check_params(self, params) -> tuple[np.ndarray, ...]:
        """Return ``params`` as float arrays, or raise naming the parameter that is off:
        ``ValueError`` for a wrong count, shape or a NaN/inf, ``TypeError`` for a complex or
        non-numeric array, or ``params`` not a sequence of arrays."""
        shapes = self.param_shapes()
        if isinstance(params, str | bytes | dict) or not hasattr(params, "__len__") or (
                isinstance(params, np.ndarray) and params.ndim == 0):
            raise TypeError(f"params must be a sequence (tuple or list) of {len(shapes)} "
                            f"arrays, got {type(params).__name__}")
        if len(params) != len(shapes):
            raise ValueError(f"params must hold {len(shapes)} arrays (depth kernels, then W), "
                             f"got {len(params)}")
        out = []
        for i, (p, s) in enumerate(zip(params, shapes, strict=True)):
            p = finite_array(f"params[{i}]", p)
            if p.shape != s:
                raise ValueError(f"params[{i}] must have shape {s}, got {p.shape}")
            out.append(p)
        return tuple(out)

    def padded_kernel(self, w: np.ndarray) -> np.ndarray:
        """The kernel placed on the grid: ``wpad[c, c', lag(p)] = w[c, c', p]``, else 0."""
        wpad = np.zeros(w.shape[:2] + self.shape)
        wpad[(slice(None), slice(None), *self.lags())] = w
        return wpad

    def circulant(self, w: np.ndarray) -> np.ndarray:
        """The layer as a matrix ``K[(c, n), (c', m)] = wpad[c, c', (m - n) mod N]``."""
        return block_circulant(self.padded_kernel(w))

    def end_to_end(self, params) -> np.ndarray:
        """``M = W K_depth ... K_1``, the ``n_out x D`` end-to-end matrix."""
        *kernels, w_out = self.check_params(params)
        m = w_out.reshape(self.n_out, -1)
        for w in reversed(kernels):
            m = m @ self.circulant(w)
        return m


@lru_cache(maxsize=8)
def difference_index(shape: tuple[int, ...]) -> np.ndarray:
    """Flat index of ``(m - n) mod N`` (per dimension) for flat pixel indices ``n, m``
    (cached, read-only)."""
    grids = np.indices(shape).reshape(len(shape), -1)
    diff = (grids[:, None, :] - grids[:, :, None]) % np.array(shape)[:, None, None]
    index = np.ravel_multi_index(tuple(diff), shape)
    index.setflags(write=False)
    return index


def block_circulant(sigma: np.ndarray) -> np.ndarray:
    """``B[(c, n), (c', m)] = sigma[c, c', (m - n) mod N]`` from ``sigma`` ``(C, C', *shape)``."""
    c, c2, *shape = sigma.shape
    n = prod(shape)
    blocks = sigma.reshape(c, c2, n)[:, :, difference_index(tuple(shape))]
    return blocks.transpose(0, 2, 1, 3).reshape(c * n, c2 * n)


@dataclass(frozen=True)
class FullyConnected:
    """The two-layer fully connected linear baseline ``y_hat = W_2 W_1 x`` (Saxe et al.).

    Parameters are ``(W_1, W_2)`` of shapes ``(hidden, n_in)`` and ``(n_out, hidden)``.
    """

    n_in: int
    hidden: int
    n_out: int = 1

    def __post_init__(self):
        for name in ("n_in", "hidden", "n_out"):
            object.__setattr__(self, name, positive_int(name, getattr(self, name)))

    def param_shapes(self) -> list[tuple[int, ...]]:
        """Shapes of ``(W_1, W_2)``."""
        return [(self.hidden, self.n_in), (self.n_out, self.hidden)]

    check_params = LinearCNN.check_params

    def end_to_end(self, params) -> np.ndarray:
        """``M = W_2 W_1``."""
        w1, w2 = self.check_params(params)
        return w2 @ w1


def flatten(params) -> np.ndarray:
    """The parameter arrays raveled and concatenated (the inverse of :func:`unflatten`)."""
    return np.concatenate([np.ravel(a) for a in params])


def unflatten(model: LinearCNN | FullyConnected, theta) -> tuple[np.ndarray, ...]:
    """``model``'s parameter arrays from their concatenation ``theta`` (:func:`flatten`)."""
    shapes = model.param_shapes()
    splits = np.cumsum([prod(s) for s in shapes])[:-1]
    return tuple(p.reshape(s) for p, s in zip(np.split(np.asarray(theta), splits), shapes,
                                                strict=True))
