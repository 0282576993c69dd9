"""Kernels: generated code called on arrays, one class per backend.

This module does not import SymPy (nor mpmath, until an mpmath kernel is called): a kernel
is built from its generated code alone (:meth:`Kernel.from_python_source`), so that cached
kernels load without SymPy.
"""

from __future__ import annotations

import ctypes
import os
import re
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ..checks import numeric_array, positive_int, unmasked

BLOCK = 1 << 16
"""Elements per block of the NumPy kernel (intermediates stay in the L2 cache)."""
MAX_DIMS = 64
"""Most dimensions of the broadcast shape of a C kernel."""


class Kernel(ABC):
    """A compiled closed form: ``kernel(*arrays)`` or ``kernel(name=array, ...)``.

    The inputs broadcast against each other (NumPy rules); the result has the broadcast
    shape: one array for a single expression, a tuple for a list. NumPy and C kernels
    return float64 arrays, mpmath kernels object arrays of ``mpf`` (a scalar for 0-d
    inputs). Inputs are checked, and an error names the argument: their number and names
    and that they broadcast (``ValueError``); real numbers (NumPy and C: real numeric
    arrays, no strings, objects, dates or masked arrays; mpmath also numbers as strings
    and ``mpf``), else a ``TypeError``; no NaN (``ValueError``). ``inf`` and ``-inf`` are
    accepted and follow IEEE arithmetic (e.g. ``exp(-inf) = 0``); mpmath raises
    ``ZeroDivisionError`` where NumPy and C return ``inf``.

    Attributes: ``backend``, ``names`` (argument names in call order), ``n_outputs``,
    ``single`` (one expression: the call returns an array, not a tuple), ``key``,
    ``source`` (the generated code, checksum line excluded), ``path`` (cache file or
    None), ``cache_status`` (``hit``, ``miss``, ``regenerated`` or ``off``); from
    ``compile`` also ``exprs``, ``args`` (symbols in call order) and ``inner`` (the
    arguments it is specialised to vary along the last axis), else None, None and ``()``;
    ``dps`` (mpmath) and ``compiler`` (C), else None.
    """

    backend: str
    dps: int | None = None
    compiler: str | None = None

    def __init__(self, names: Sequence[str], n_outputs: int, key: str, source: str,
                 path: Path | None = None, cache_status: str = "off", *,
                 single: bool | None = None, exprs=None, args=None, inner=()):
        self.names, self.n_outputs = tuple(names), n_outputs
        self.single = n_outputs == 1 if single is None else single
        self.key, self.source, self.path, self.cache_status = key, source, path, cache_status
        self.exprs, self.args, self.inner = exprs, args, inner

    @classmethod
    def from_python_source(cls, source: str, names: Sequence[str], n_outputs: int,
                           key: str, path: Path | None = None, cache_status: str = "hit", *,
                           single: bool | None = None) -> Kernel:
        """The NumPy kernel of generated ``source`` (checksum line excluded), without SymPy.

        ``names``, ``n_outputs`` and ``key`` are those of the kernel that generated it
        (``kernel.names``, ``kernel.n_outputs``, ``kernel.key``); ``single`` defaults to
        ``n_outputs == 1`` (the call returns an array, not a tuple of one).
        """
        names, n_outputs = _declared(source, names, n_outputs)
        return NumPyKernel(exec_source(source, key, path), names, n_outputs, key, source,
                           path, cache_status, single=single)

    def __repr__(self) -> str:
        outputs = "1 output" if self.single else f"{self.n_outputs} outputs"
        return (f"Kernel({self.backend}, args=({', '.join(self.names)}), {outputs}, "
                f"key={self.key[:12]}, cache {self.cache_status})")

    @property
    def operations(self) -> int:
        """Operation count after CSE, as recorded in the generated header."""
        for line in self.source.splitlines():
            if "operations after CSE:" in line:
                return int(line.rsplit(":", 1)[1])
        raise ValueError("no operation count in the generated source")

    def __call__(self, *arrays, **named):
        outs = self._evaluate(self._bind(arrays, named))
        return outs[0] if self.single else tuple(outs)

    @abstractmethod
    def _evaluate(self, values: list) -> Sequence:
        """The outputs at ``values`` (one input per argument, in call order)."""

    def _bind(self, arrays, named) -> list:
        n = len(self.names)
        signature = f"({', '.join(self.names)})"
        if len(arrays) > n:
            raise ValueError(f"kernel takes {n} arguments {signature}, got {len(arrays)}")
        values = dict(zip(self.names, arrays, strict=False))
        for name, value in named.items():
            if name not in self.names:
                raise ValueError(f"unknown argument {name!r}; the kernel takes {signature}")
            if name in values:
                raise ValueError(f"argument {name!r} given twice")
            values[name] = value
        missing = [name for name in self.names if name not in values]
        if missing:
            raise ValueError(f"kernel takes {n} arguments {signature}, got {len(values)}: "
                             f"missing {', '.join(missing)}")
        return [values[name] for name in self.names]

    def _float_arrays(self, values: list) -> tuple[list[np.ndarray], tuple[int, ...]]:
        """The inputs as checked float64 arrays, and their broadcast shape."""
        arrays = [_float_array(v, name) for v, name in zip(values, self.names, strict=True)]
        return arrays, self._broadcast(arrays)

    def _broadcast(self, arrays: Sequence[np.ndarray]) -> tuple[int, ...]:
        """The broadcast shape of the inputs; a ValueError names each argument's shape."""
        try:
            return np.broadcast_shapes(*(a.shape for a in arrays))
        except ValueError:
            shapes = ", ".join(f"{name} {a.shape}" for name, a in
                               zip(self.names, arrays, strict=True))
            raise ValueError(f"the arguments do not broadcast together: {shapes}") from None


class NumPyKernel(Kernel):
    """A kernel running a generated NumPy function ``kernel(a0, a1, ...)``, in blocks of
    about :data:`BLOCK` points; underflow is ignored (terms such as ``e^{-x}`` at large
    ``x`` are meant to vanish), other floating-point errors follow ``numpy.errstate``."""

    backend = "numpy"

    def __init__(self, function: Callable, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._function = function

    def _evaluate(self, values):
        arrays, shape = self._float_arrays(values)
        outs = [np.empty(shape) for _ in range(self.n_outputs)]
        with np.errstate(under="ignore"):
            for part, pieces in _blocks(arrays, shape):
                for out, value in zip(outs, self._function(*pieces), strict=True):
                    out[part] = value
        return outs


class MpmathKernel(Kernel):
    """A kernel running a generated mpmath function elementwise at ``dps`` digits; inputs
    may be floats, integers, strings or ``mpf``."""

    backend = "mpmath"

    def __init__(self, function: Callable, *args, dps: int, **kwargs):
        super().__init__(*args, **kwargs)
        self._function, self.dps = function, dps

    def _evaluate(self, values):
        objects = [_mpf_array(v, name, self.dps)
                   for v, name in zip(values, self.names, strict=True)]
        self._broadcast(objects)
        n_out = self.n_outputs
        outs = np.frompyfunc(self._point, len(self.names), n_out)(*objects)
        return outs if n_out > 1 else (outs,)

    def _point(self, *values):
        """The outputs at one point (one output: itself); a division by zero names it."""
        try:
            outs = self._function(*values)
        except ZeroDivisionError:
            point = ", ".join(f"{n} = {v}" for n, v in zip(self.names, values, strict=True))
            raise ZeroDivisionError(f"the mpmath kernel divides by zero at {point} (NumPy "
                                    f"and C kernels return inf or nan there)") from None
        return outs if self.n_outputs > 1 else outs[0]


class CKernel(Kernel):
    """A kernel calling ``symcnn_kernel`` of a shared library (verified bytes) through
    ``ctypes``, on strided views of the broadcast inputs."""

    backend = "c"

    def __init__(self, library: bytes, *args, compiler: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self._library, self.compiler = _load_library(library), compiler

    def _evaluate(self, values):
        arrays, shape = self._float_arrays(values)
        full = shape if shape else (1,)
        if len(full) > MAX_DIMS:
            raise ValueError(f"at most {MAX_DIMS} dimensions")
        views = [_strided(a, full) for a in arrays]
        strides = np.array([[st // 8 for st in v.strides] for v in views], dtype=np.int64)
        dims = np.array(full, dtype=np.int64)
        outs = [np.empty(full) for _ in range(self.n_outputs)]
        ins = (ctypes.c_void_p * len(views))(*[v.ctypes.data for v in views])
        outp = (ctypes.c_void_p * len(outs))(*[o.ctypes.data for o in outs])
        self._library.symcnn_kernel(len(full), dims.ctypes.data, ins, strides.ctypes.data,
                                    outp)
        return [o.reshape(shape) for o in outs]


def _strided(array: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``array`` broadcast to ``shape`` with strides in whole, aligned elements."""
    view = np.broadcast_to(array, shape)
    if not view.flags.aligned or any(st % view.itemsize for st in view.strides):
        view = np.broadcast_to(np.ascontiguousarray(array), shape)
    return view


def _blocks(arrays, shape):
    """``(index, pieces)``: the broadcast shape cut into blocks of about :data:`BLOCK`
    points along one axis, with the matching piece of every input (broadcast axes kept)."""
    size = int(np.prod(shape))
    if size <= BLOCK:
        yield (...,), arrays
        return
    arrays = [a.reshape((1,) * (len(shape) - a.ndim) + a.shape) for a in arrays]
    axis = next(d for d in range(len(shape)) if int(np.prod(shape[d + 1:])) <= BLOCK)
    rows = max(1, BLOCK // max(1, int(np.prod(shape[axis + 1:]))))
    for outer in np.ndindex(*shape[:axis]):
        for start in range(0, shape[axis], rows):
            block = slice(start, start + rows)
            pieces = [a[tuple(i if a.shape[d] > 1 else 0 for d, i in enumerate(outer))
                        + ((block if a.shape[axis] > 1 else slice(None)),)]
                      for a in arrays]
            yield (*outer, block), pieces


def _float_array(value, name: str) -> np.ndarray:
    """``value`` as float64 (:func:`symcnn.checks.numeric_array`: real numbers only, not a
    masked array), with no NaN."""
    array = numeric_array(f"argument {name}", value)
    if np.isnan(array).any():
        raise ValueError(f"argument {name} contains NaN")
    return array


def _mpf_array(value, name: str, dps: int) -> np.ndarray:
    import mpmath  # here: importing symcnn.codegen loads neither SymPy nor mpmath

    def to_mpf(v):
        if isinstance(v, mpmath.mpf):
            return v
        if isinstance(v, np.floating | np.integer):
            v = v.item()
        return mpmath.mpf(v)

    value = unmasked(f"argument {name}", value)
    try:
        array = np.asarray(value, dtype=object)
        with mpmath.workdps(dps), np.errstate(invalid="ignore"):
            converted = np.frompyfunc(to_mpf, 1, 1)(array)
    except (TypeError, ValueError) as error:
        raise TypeError(f"argument {name} must be real numbers (floats, integers, strings "
                        f"or mpf), got {value!r}: {error}") from None
    if np.any(np.asarray(np.frompyfunc(mpmath.isnan, 1, 1)(converted), dtype=bool)):
        raise ValueError(f"argument {name} contains NaN")
    return np.asarray(converted, dtype=object)


def _declared(source: str, names, n_outputs) -> tuple[tuple[str, ...], int]:
    """``names`` and ``n_outputs`` as tuple and int, if they are those in the header of the
    generated ``source`` (its ``arguments:`` and ``output <i>:`` lines)."""
    if not isinstance(source, str):
        raise TypeError(f"source must be a generated kernel's code (kernel.source), got "
                        f"{type(source).__name__}")
    arguments = re.search(r"^# arguments: (.*)$", source, re.MULTILINE)
    if arguments is None:
        raise ValueError("source is not a generated NumPy kernel (no '# arguments:' header "
                         "line); pass kernel.source")
    declared = tuple(re.split(r"(?:^|, )a\d+ = ", arguments.group(1))[1:])
    if isinstance(names, str) or tuple(names) != declared:
        raise ValueError(f"names {names!r} are not the source's arguments "
                         f"({', '.join(declared)})")
    outputs = len(re.findall(r"^# output \d+: ", source, re.MULTILINE))
    if positive_int("n_outputs", n_outputs) != outputs:
        raise ValueError(f"n_outputs is {n_outputs!r}; the source has {outputs}")
    return declared, outputs


def exec_source(source: str, key: str, path: Path | None) -> Callable:
    """The function ``kernel`` of generated Python ``source`` (ours: its checksum was
    verified, or it was just generated)."""
    namespace = {"__name__": f"symcnn_kernel_{key[:16]}"}
    code = compile(source, str(path) if path else f"<symcnn kernel {key[:16]}>", "exec")
    exec(code, namespace)  # our own generated code, see above
    return namespace["kernel"]


def _load_library(data: bytes) -> ctypes.CDLL:
    """Load a shared library from verified bytes, through a private temporary copy (the
    cache file may be replaced or corrupted later without affecting the loaded code)."""
    handle, tmp = tempfile.mkstemp(prefix="symcnn-kernel-", suffix=".so")
    try:
        with os.fdopen(handle, "wb") as f:
            f.write(data)
        lib = ctypes.CDLL(tmp)
    finally:
        Path(tmp).unlink(missing_ok=True)
    fn = lib.symcnn_kernel
    fn.argtypes = [ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
                   ctypes.c_void_p]
    fn.restype = None
    return lib
