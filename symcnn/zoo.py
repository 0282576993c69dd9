"""Named (model, dataset) setups shared by the tests, the docs, the benchmarks and the CLI.

``zoo.get(name)`` builds a :class:`Setup` deterministically; ``zoo.names()`` lists them.
Each setup carries a training recipe (initial scale and duration) under which the
stage-like learning of docs/theory-reference.md is visible.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .data import Dataset, Statistics, blob, grating, make_dataset
from .model import FullyConnected, LinearCNN


@dataclass(frozen=True, eq=False)
class Setup:
    """A model, its data (samples when there are any), and a training recipe."""

    name: str
    description: str
    model: LinearCNN
    stats: Statistics
    dataset: Dataset | None = None
    init_scale: float = 1e-3
    t_end: float = 10.0

    def baseline(self, hidden: int | None = None) -> FullyConnected:
        """The fully connected network on the same data, with ``hidden`` units (an integer
        ``>= 1``; default ``C``, the CNN's channels)."""
        return FullyConnected(self.model.n_in, self.model.channels if hidden is None else hidden,
                              self.model.n_out)


_FACTORIES: dict[str, Callable[[], Setup]] = {}


def _setup(func: Callable[[], Setup]) -> Callable[[], Setup]:
    _FACTORIES[func.__name__.replace("_", "-")] = func
    return func


def names() -> list[str]:
    """The setups' names."""
    return list(_FACTORIES)


def get(name: str) -> Setup:
    """Build the setup ``name`` (one of :func:`names`)."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a setup name (a str), got {name!r} "
                        f"({type(name).__name__}); choose one of {', '.join(names())}")
    if name not in _FACTORIES:
        raise ValueError(f"name must be a setup name, got {name!r}; choose one of "
                         f"{', '.join(names())}")
    return _FACTORIES[name]()


def _white(shape, n_out: int, c_in: int = 1, seed: int = 0) -> Statistics:
    """White input (``Sigma_xx = I``) and a seeded Gaussian ``Sigma_yx``."""
    n = int(np.prod(shape))
    syx = np.random.default_rng(seed).standard_normal((n_out, c_in * n)) / np.sqrt(n)
    return Statistics(shape=shape, sxx=np.eye(c_in * n), syx=syx, c_in=c_in)


@_setup
def white_1d_8() -> Setup:
    stats = _white((8,), n_out=3)
    return Setup("white-1d-8", "white input, random Sigma_yx, full kernel (R2, R3)",
                 LinearCNN(shape=8, channels=2, n_out=3), stats, t_end=6.0)


@_setup
def stationary_1d_8() -> Setup:
    lam = 0.5 + np.cos(2 * np.pi * np.arange(8) / 8) ** 2  # even in f: real, symmetric
    syx = np.random.default_rng(1).standard_normal((2, 8)) / np.sqrt(8)
    stats = Statistics.stationary(8, lam[None, None], syx)
    return Setup("stationary-1d-8", "stationary non-white input, full kernel (R3b)",
                 LinearCNN(shape=8, channels=2, n_out=2), stats, t_end=12.0)


@_setup
def two_channel_1d_6() -> Setup:
    return Setup("two-channel-1d-6", "two input channels, white, full kernel (R3c)",
                 LinearCNN(shape=6, channels=3, c_in=2, n_out=2),
                 _white((6,), n_out=2, c_in=2, seed=2), t_end=6.0)


@_setup
def small_kernel_1d_16() -> Setup:
    return Setup("small-kernel-1d-16", "white input, kernel 3 on 16 pixels (R4 coupling)",
                 LinearCNN(shape=16, kernel=3, channels=2, n_out=2),
                 _white((16,), n_out=2, seed=3), t_end=15.0)


@_setup
def stripes_vs_blobs_1d_16() -> Setup:
    parts = np.stack([grating(16, 3), blob(16, 8, 1.5)])[:, None]
    ds = make_dataset(parts, np.eye(2), samples_per_class=200, noise=0.1, jitter=0.1, seed=4)
    return Setup("stripes-vs-blobs-1d-16",
                 "class 0 a grating at f = 3 (texture), class 1 a Gaussian blob (shape)",
                 LinearCNN(shape=16, channels=4, n_out=2), ds.statistics(), ds,
                 init_scale=1e-3, t_end=24.0)


@_setup
def texture_vs_shape_1d_32() -> Setup:
    parts = np.stack([grating(32, 5), blob(32, 16, 1.0)])[:, None]
    ds = make_dataset(parts, np.diag([0.6, 1.0]), samples_per_class=250, noise=0.05,
                      seed=5)
    return Setup("texture-vs-shape-1d-32",
                 "a weak texture (grating, amplitude 0.6) against a strong spread shape "
                 "(blob, amplitude 1): the CNN learns the texture first",
                 LinearCNN(shape=32, channels=4, n_out=2), ds.statistics(), ds,
                 init_scale=1e-4, t_end=20.0)


@_setup
def tiny_1d_4() -> Setup:
    x = np.random.default_rng(6).standard_normal((40, 1, 4))
    y = x[:, 0, :2] @ np.array([[1.0, 0.5], [-0.3, 0.8]]) + 0.1 * x[:, 0, 2:]
    return Setup("tiny-1d-4", "4 pixels, even kernel 2, non-stationary Gaussian samples",
                 LinearCNN(shape=4, kernel=2, channels=2, n_out=2),
                 Statistics.from_samples(x, y), init_scale=0.1, t_end=5.0)


@_setup
def gratings_2d_8x8() -> Setup:
    parts = np.stack([grating((8, 8), (1, 0)), grating((8, 8), (1, 2)),
                      blob((8, 8), (4, 4), 1.2)])[:, None]
    ds = make_dataset(parts, np.eye(3), samples_per_class=100, noise=0.1, seed=7)
    return Setup("gratings-2d-8x8", "2-D: two gratings and a blob, three classes",
                 LinearCNN(shape=(8, 8), channels=4, n_out=3), ds.statistics(), ds,
                 t_end=10.0)


@_setup
def classes_2d_32x32() -> Setup:
    rng = np.random.default_rng(8)
    gratings = [grating((32, 32), f) for f in [(1, 0), (0, 2), (3, 1), (2, 5), (6, 0)]]
    blobs = [blob((32, 32), rng.uniform(0, 32, 2), rng.uniform(1, 4)) for _ in range(5)]
    classes = rng.uniform(0, 1, (10, 10)) * (rng.uniform(size=(10, 10)) < 0.3) + np.eye(10)
    ds = make_dataset(np.stack(gratings + blobs)[:, None], classes, samples_per_class=1000,
                      noise=0.05, jitter=0.1, seed=8)
    return Setup("classes-2d-32x32",
                 "2-D 32x32, ten classes mixing five gratings and five blobs, P = 10^4",
                 LinearCNN(shape=(32, 32), channels=16, n_out=10), ds.statistics(), ds,
                 t_end=10.0)
