"""Argument checks shared by the public entry points: each returns the checked value or
raises ``ValueError`` naming the parameter, the value and what is allowed."""

from __future__ import annotations

import numpy as np


def positive_int(name: str, value, minimum: int = 1) -> int:
    """``value`` as an ``int >= minimum`` (bools refused)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def size_tuple(name: str, value) -> tuple[int, ...]:
    """A 1-D or 2-D size (an int or 1 or 2 ints >= 1) as a tuple."""
    values = (value,) if np.ndim(value) == 0 else tuple(value)
    if len(values) not in (1, 2):
        raise ValueError(f"{name} must have 1 or 2 entries (1-D or 2-D images), got {value!r}")
    return tuple(positive_int(f"{name}[{i}]", v) for i, v in enumerate(values))


def positive(name: str, value) -> float:
    """``value`` as a finite float ``> 0``."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}") from None
    if not (np.isfinite(number) and number > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return number


def finite_array(name: str, value, ndim: int | None = None) -> np.ndarray:
    """``value`` as a non-empty float array of finite values (with ``ndim`` axes if given)."""
    a = np.asarray(value, dtype=float)
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-D array, got shape {a.shape}")
    if a.size == 0:
        raise ValueError(f"{name} is empty (shape {a.shape})")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or inf")
    return a
