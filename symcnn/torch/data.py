"""Dataset statistics from PyTorch data, accumulated in batches.

:func:`statistics` returns the :class:`symcnn.data.Statistics` of
:meth:`Statistics.from_samples <symcnn.data.Statistics.from_samples>` from a
``torch.utils.data.Dataset``, a ``DataLoader`` or ``(x, y)`` tensors or arrays, without
holding the samples: it sums ``x x^T``, ``y x^T`` and ``|y|^2`` over batches in float64,
so its memory is ``O(D^2 + N_o D + batch D)``, independent of ``P``.  Class indices are
summed per class (``sum_{mu in c} x_mu``, the rows of ``P Sigma_yx`` for one-hot targets), so
the number of classes need not be known before the last batch.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from ..checks import finite_array, positive_int
from ..data import Statistics


class _Sums:
    """``sum x x^T``, ``sum y x^T`` (or per-class ``sum x``), ``sum |y|^2`` and ``P``."""

    def __init__(self):
        self.sample_shape = self.sxx = self.syx = self.labels = None
        self.syy, self.count = 0.0, 0

    def add(self, x, y) -> None:
        x, y = _array("x", x), _array("y", y)
        if x.ndim not in (3, 4):
            raise ValueError("x must have shape (P, C_in, N_1) or (P, C_in, N_1, N_2) (a batch of "
                             f"samples (C_in, *shape)), got a batch of shape {x.shape}")
        if self.sample_shape is None:
            self.sample_shape = x.shape[1:]
            self.sxx = np.zeros((x[0].size, x[0].size))
        if x.shape[1:] != self.sample_shape:
            raise ValueError(f"x: every sample must have shape (C_in, *shape) = "
                             f"{self.sample_shape} like the first, got a batch of {x.shape}")
        if y.shape[:1] != x.shape[:1]:
            raise ValueError(f"y must have one label per sample: a batch of {len(x)} samples "
                             f"has labels of shape {y.shape}")
        flat = x.reshape(len(x), -1)
        self.sxx += flat.T @ flat
        self._add_labels(flat, y)
        self.count += len(x)

    def _add_labels(self, flat: np.ndarray, y: np.ndarray) -> None:
        kind = "indices" if y.ndim == 1 and np.issubdtype(y.dtype, np.integer) else "targets"
        if y.ndim != (1 if kind == "indices" else 2):
            raise ValueError("y must be class indices (integers, shape (P,)) or target vectors "
                             f"(shape (P, N_o)), got a batch of dtype {y.dtype} and shape "
                             f"{y.shape}")
        if self.labels not in (None, kind):
            raise ValueError(f"y: a batch of class {kind} after batches of class "
                             f"{self.labels}; give one kind of label throughout")
        self.labels = kind
        if kind == "targets":
            y = finite_array("y", y)
            self.syx = y.T @ flat + (0.0 if self.syx is None else self.syx)
            self.syy += float(np.sum(y**2))
            return
        if y.min() < 0:
            raise ValueError(f"class indices y must be >= 0, got {y.min()}")
        classes = int(y.max()) + 1
        if self.syx is None or len(self.syx) < classes:
            grown = np.zeros((classes, flat.shape[1]))
            if self.syx is not None:
                grown[: len(self.syx)] = self.syx
            self.syx = grown
        np.add.at(self.syx, y, flat)
        self.syy += float(len(y))  # |one-hot|^2 = 1

    def statistics(self, n_out: int | None) -> Statistics:
        if self.count == 0:
            raise ValueError("data holds no samples")
        syx = self.syx
        if n_out is not None and self.labels == "indices":
            if len(syx) > n_out:
                raise ValueError(f"class indices y must lie in [0, n_out) = [0, {n_out}), got "
                                 f"a maximum of {len(syx) - 1}")
            syx = np.concatenate([syx, np.zeros((n_out - len(syx), syx.shape[1]))])
        elif n_out is not None and len(syx) != n_out:
            raise ValueError(f"target vectors y have N_o = {len(syx)} columns, but "
                             f"n_out = {n_out}")
        sums = {"sxx": self.sxx, "syx": syx, "syy": self.syy}
        for name, value in sums.items():
            if not np.all(np.isfinite(value)):
                raise ValueError(f"data are too large: the sum behind {name} overflows float64")
        c_in, *shape = self.sample_shape
        p = self.count
        return Statistics(shape=tuple(shape), c_in=c_in, sxx=self.sxx / p, syx=syx / p,
                          syy=self.syy / p, n_samples=p)


def _array(name: str, value) -> np.ndarray:
    """A batch as a NumPy array (a tensor is detached and moved to the CPU; its float
    values are widened to float64 when summed); complex or non-numeric data refused."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        if value.dtype in (torch.bfloat16, torch.float16):
            value = value.double()
        value = value.numpy()
    value = np.asarray(value)
    if value.dtype.kind in "iub":
        return value if name == "y" else value.astype(float)
    return finite_array(name, value)


def _batches(data, batch_size: int):
    """``(x, y)`` batches of ``data``: a DataLoader as it is, a Dataset through a
    DataLoader of ``batch_size`` in order, a pair ``(x, y)`` by slices of ``batch_size``."""
    if isinstance(data, DataLoader):
        yield from data
    elif isinstance(data, Dataset):
        yield from DataLoader(data, batch_size=batch_size, shuffle=False)
    elif isinstance(data, tuple | list) and len(data) == 2:
        x, y = data
        if len(x) != len(y):
            raise ValueError(f"data: x has {len(x)} samples and y {len(y)} labels")
        for start in range(0, len(x), batch_size):
            yield x[start: start + batch_size], y[start: start + batch_size]
    else:
        raise TypeError("data must be a torch Dataset or DataLoader yielding (x, y), or a pair "
                        f"(x, y) of tensors or arrays, got {type(data).__name__}")


def statistics(data, n_out: int | None = None, batch_size: int = 1024) -> Statistics:
    """``Statistics`` of samples ``x`` ``(P, C_in, *shape)`` and labels ``y``, in batches.

    ``Sigma_xx = (1/P) sum_mu x_mu x_mu^T``, ``Sigma_yx = (1/P) sum_mu y_mu x_mu^T`` and
    ``<|y|^2>``, as :meth:`symcnn.data.Statistics.from_samples` (equal to rounding, about
    ``1e-16`` relative), summed in float64 batch by batch.

    Parameters
    ----------
    data : Dataset, DataLoader or (x, y)
        A ``torch.utils.data.Dataset`` of ``(x_mu, y_mu)`` (read in order, ``batch_size`` at a
        time), a ``DataLoader`` yielding ``(x, y)`` batches (used as it is), or tensors or
        arrays ``x`` ``(P, C_in, *shape)`` and ``y``.  ``y`` is class indices ``(P,)``
        (one-hot, ``y_mu = e_c``) or target vectors ``(P, N_o)``.
    n_out : int, optional
        The number of classes (default ``max(y) + 1``) or, for target vectors, their
        ``N_o`` (checked).
    batch_size : int
        Samples per batch for a Dataset or ``(x, y)``; memory is ``O(D^2 + batch D)``.
    """
    n_out = None if n_out is None else positive_int("n_out", n_out)
    batch_size = positive_int("batch_size", batch_size)
    sums = _Sums()
    for batch in _batches(data, batch_size):
        if not (isinstance(batch, tuple | list) and len(batch) == 2):
            raise TypeError("data: each batch must be a pair (x, y), got "
                            f"{type(batch).__name__}")
        sums.add(*batch)
    return sums.statistics(n_out)
