"""Random models, data and initialisations for checks.

Each space is described once, as a function of a *pick* (an object with ``integer(low,
high)`` and ``choice(options)``, both ends included): :class:`RandomPick` draws from a seeded
NumPy generator (``symcnn check``), :mod:`symcnn.strategies` draws with Hypothesis (tests,
with shrinking). Bulk arrays (``Sigma_yx``, samples, spectra) come from a NumPy generator
seeded by a picked integer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from .data import Statistics
from .model import LinearCNN

SEED_MAX = 2**32 - 1


class Pick(Protocol):
    def integer(self, low: int, high: int) -> int: ...

    def choice(self, options: Sequence[Any]) -> Any: ...


class RandomPick:
    """Picks from a NumPy generator."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng

    def integer(self, low: int, high: int) -> int:
        return int(self.rng.integers(low, high, endpoint=True))

    def choice(self, options: Sequence[Any]) -> Any:
        return options[int(self.rng.integers(len(options)))]


def seed(pick: Pick) -> int:
    return pick.integer(0, SEED_MAX)


def model(pick: Pick, max_side: int = 6, max_depth: int = 2, full_kernel: bool = False,
          c_in: Sequence[int] = (1, 2), dims: Sequence[int] = (1, 2),
          max_channels: int = 3, max_out: int = 3) -> LinearCNN:
    """A linear CNN: 1-D or 2-D, odd, even and non-square sizes (2-D sides up to
    ``max_side - 2``), any kernel (or the full one), both conventions."""
    d = pick.choice(tuple(dims))
    side = max_side if d == 1 else max_side - 2
    shape = tuple(pick.integer(1, side) for _ in range(d))
    kernel = shape if full_kernel else tuple(pick.integer(1, n) for n in shape)
    return LinearCNN(shape=shape, kernel=kernel, channels=pick.integer(1, max_channels),
                     c_in=pick.choice(tuple(c_in)), n_out=pick.integer(1, max_out),
                     depth=pick.integer(1, max_depth),
                     convention=pick.choice(("correlation", "convolution")))


def samples(model: LinearCNN, seed: int, n_samples: int = 12):
    """Gaussian inputs of unit expected norm and Gaussian targets."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n_samples, model.c_in, *model.shape)) / np.sqrt(model.n_in)
    return x, rng.standard_normal((n_samples, model.n_out))


def white(model, seed: int) -> Statistics:
    """White input and a Gaussian ``Sigma_yx`` with entries of size ``1/sqrt(D)`` (a
    fully connected model's input is a 1-D image of ``D`` pixels)."""
    syx = np.random.default_rng(seed).standard_normal((model.n_out, model.n_in))
    shape, c_in = (model.shape, model.c_in) if isinstance(model, LinearCNN) else (model.n_in, 1)
    return Statistics(shape=shape, c_in=c_in, sxx=np.eye(model.n_in),
                      syx=syx / np.sqrt(model.n_in))


def stationary(model, seed: int) -> Statistics:
    """Stationary non-white input (``C_in = 1``) with ``Lambda_f`` in [0.5, 1.5] and a
    Gaussian ``Sigma_yx``."""
    rng = np.random.default_rng(seed)
    lam = rng.uniform(0.5, 1.5, model.shape)
    axes = tuple(range(lam.ndim))
    lam = (lam + np.roll(np.flip(lam, axes), 1, axes)) / 2  # Lambda_{-f} = Lambda_f
    syx = rng.standard_normal((model.n_out, model.n_in)) / np.sqrt(model.n_in)
    return Statistics.stationary(model.shape, lam[None, None], syx)


def non_stationary(model, seed: int) -> Statistics:
    """Stationary input seen through a pixel-dependent gain ``1 + 0.5 cos(2 pi n / N)``
    along the first axis: ``Sigma_xx`` is no longer block-circulant."""
    base = stationary(model, seed)
    n = np.arange(model.shape[0]).reshape(-1, *([1] * (len(model.shape) - 1)))
    gain = np.broadcast_to(1 + 0.5 * np.cos(2 * np.pi * n / model.shape[0]), model.shape)
    gain = np.tile(gain.ravel(), model.c_in)
    return Statistics(shape=model.shape, c_in=model.c_in,
                      sxx=gain[:, None] * base.sxx * gain[None, :], syx=base.syx)


DATA = {"white": white, "stationary": stationary, "non-stationary": non_stationary}
"""Statistics builders by name: ``DATA[kind](model, seed)``."""
