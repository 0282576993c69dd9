"""Independent references shared by the tests."""

import numpy as np


def dft_matrix(shape) -> np.ndarray:
    """``U[f, n] = N^(-1/2) exp(-2 pi i f.n / N)``: Kronecker product of the 1-D matrices,
    which is row-major flattening of ``f`` and ``n``."""
    u = np.ones((1, 1))
    for n in shape:
        k = np.arange(n)
        u = np.kron(u, np.exp(-2j * np.pi * np.outer(k, k) / n) / np.sqrt(n))
    return u
