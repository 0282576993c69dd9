"""Samples from outside symcnn: an ``.npz`` file of ``x`` and ``y``, and scikit-learn's
bundled 8x8 digits (the ``reproduce`` extra; no download)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from .checks import finite_array
from .data import targets_from_labels

MIN_SAMPLES = 2
"""The fewest samples a dataset may have."""


def load(path) -> tuple[np.ndarray, np.ndarray]:
    """Samples ``x`` and labels ``y`` from the ``.npz`` file ``path`` (:func:`samples`);
    a file that is missing, no ``.npz`` archive, or without ``x`` or ``y`` raises
    ``ValueError`` naming the file."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile):
        raise ValueError(f"{path}: not a NumPy .npz archive") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"{path}: a single .npy array, not an .npz archive with x and y")
    with archive:
        missing = [key for key in ("x", "y") if key not in archive.files]
        if missing:
            raise ValueError(f"{path}: no array {missing[0]!r} (it has "
                             f"{', '.join(archive.files) or 'none'}); an .npz dataset holds x "
                             "(P x C_in x spatial) and y (class indices or targets)")
        try:
            x, y = archive["x"], archive["y"]
        except ValueError as error:  # an object array
            raise ValueError(f"{path}: {error}") from None
    try:
        return samples(x, y)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{path}: {error}") from None


def samples(x, y) -> tuple[np.ndarray, np.ndarray]:
    """``x`` as a finite float array ``(P, C_in, N_1)`` or ``(P, C_in, N_1, N_2)`` with
    ``P >= MIN_SAMPLES``, and ``y`` as class indices ``(P,)`` or targets ``(P, N_o)``
    (:func:`~symcnn.data.targets_from_labels` checks them); else ``ValueError``."""
    x = finite_array("x", x)
    if x.ndim not in (3, 4):
        raise ValueError("x must have shape (P, C_in, N_1) or (P, C_in, N_1, N_2), got "
                         f"{x.shape}")
    if len(x) < MIN_SAMPLES:
        raise ValueError(f"x has P = {len(x)} samples; at least {MIN_SAMPLES} are needed")
    targets_from_labels(y, len(x))
    return x, np.asarray(y)


def digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 handwritten digits: ``x`` ``(1797, 1, 8, 8)``, pixel values scaled
    to ``[0, 1]``, and class indices ``y`` ``(1797,)`` from 0 to 9."""
    from sklearn.datasets import load_digits

    data = load_digits()
    return data.images[:, None] / 16.0, data.target.astype(int)
