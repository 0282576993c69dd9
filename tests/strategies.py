"""Hypothesis strategies drawing models, data and parameters."""

import os

import numpy as np
from hypothesis import strategies as st

from symcnn import LinearCNN, Statistics


@st.composite
def models(draw, max_side: int = 6, max_depth: int = 2, full_kernel: bool = False,
           c_in=(1, 2)):
    """1-D or 2-D linear CNNs: odd, even and non-square sizes, any kernel, both conventions."""
    d = draw(st.integers(1, 2))
    shape = tuple(draw(st.integers(1, max_side if d == 1 else max_side - 2)) for _ in range(d))
    kernel = shape if full_kernel else tuple(draw(st.integers(1, n)) for n in shape)
    return LinearCNN(shape=shape, kernel=kernel, channels=draw(st.integers(1, 3)),
                     c_in=draw(st.sampled_from(c_in)), n_out=draw(st.integers(1, 3)),
                     depth=draw(st.integers(1, max_depth)),
                     convention=draw(st.sampled_from(["correlation", "convolution"])))


def samples(model: LinearCNN, seed: int, n_samples: int = 12):
    """Gaussian inputs of unit expected norm and Gaussian targets."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n_samples, model.c_in, *model.shape)) / np.sqrt(model.n_in)
    return x, rng.standard_normal((n_samples, model.n_out))


def white(model: LinearCNN, seed: int) -> Statistics:
    """White input and a Gaussian ``Sigma_yx`` with entries of size ``1/sqrt(D)``."""
    syx = np.random.default_rng(seed).standard_normal((model.n_out, model.n_in))
    return Statistics(shape=model.shape, c_in=model.c_in, sxx=np.eye(model.n_in),
                      syx=syx / np.sqrt(model.n_in))


def stationary(model, seed):
    """Stationary non-white input with ``Lambda_f`` in [0.5, 1.5] and a Gaussian ``Sigma_yx``."""
    rng = np.random.default_rng(seed)
    lam = rng.uniform(0.5, 1.5, model.shape)
    axes = tuple(range(lam.ndim))
    lam = (lam + np.roll(np.flip(lam, axes), 1, axes)) / 2  # Lambda_{-f} = Lambda_f
    syx = rng.standard_normal((model.n_out, model.n_in)) / np.sqrt(model.n_in)
    return Statistics.stationary(model.shape, lam[None, None], syx)


def examples(n: int) -> int:
    """``n`` Hypothesis examples for a slow test in the default profile, ten times as many
    with ``SYMCNN_PROFILE=deep`` (like the profiles' defaults, 15 and 150)."""
    return n * (10 if os.environ.get("SYMCNN_PROFILE") == "deep" else 1)


seeds = st.integers(0, 2**32 - 1)
