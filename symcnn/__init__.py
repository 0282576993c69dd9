"""symcnn: the exact theory of learning in linear convolutional networks.

Conventions (docs/theory-reference.md, docs/conventions.md): unitary DFT ``U[f, n] = N^(-1/2)
exp(-2 pi i f.n / N)``; kernel spectrum ``kappa[f] = sum_p w[p] exp(+2 pi i f.(p - o) / N)``;
gradient flow ``tau dtheta/dt = -dL/dtheta``.
"""

from .data import Dataset, Modes, Statistics, blob, grating, make_dataset, zca_whiten
from .model import FullyConnected, LinearCNN
from .simulate import (
    Dense,
    Fast,
    Samples,
    Trajectory,
    aligned_map,
    aligned_spectrum,
    init_balanced,
    init_random,
    train,
)

__version__ = "0.1.0"

__all__ = [
    "Dataset", "Dense", "Fast", "FullyConnected", "LinearCNN", "Modes", "Samples",
    "Statistics", "Trajectory", "aligned_map", "aligned_spectrum", "blob", "grating",
    "init_balanced", "init_random", "make_dataset", "train", "zca_whiten",
]
