"""Argument checks shared by the public entry points: each returns the checked value or
raises ``ValueError`` (a bad value) or ``TypeError`` (a bad type: a string, a bool where a
number is meant, a complex, non-numeric or masked array), naming the parameter, the value
and what is allowed.  Nothing is coerced silently: ``"0.1"``, ``True``, ``2.5`` for an
integer, complex arrays and masks are refused, not converted or dropped."""

from __future__ import annotations

import numbers

import numpy as np

REAL_KINDS = "biuf"  # bool, signed and unsigned integers, floats
"""NumPy dtype kinds accepted as real data (bool arrays count as 0/1)."""


def positive_int(name: str, value, minimum: int = 1) -> int:
    """``value`` as an ``int >= minimum`` (bools and floats such as ``2.0`` refused)."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer) or (
            value < minimum):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def size_tuple(name: str, value) -> tuple[int, ...]:
    """A 1-D or 2-D size (an int or 1 or 2 ints >= 1) as a tuple."""
    if isinstance(value, str | bytes):
        raise TypeError(f"{name} must be an int or a tuple of 1 or 2 ints, got {value!r}")
    values = (value,) if np.ndim(value) == 0 else tuple(value)
    if len(values) not in (1, 2):
        raise ValueError(f"{name} must have 1 or 2 entries (1-D or 2-D images), got {value!r}")
    return tuple(positive_int(f"{name}[{i}]", v) for i, v in enumerate(values))


def real_number(name: str, value, allowed: str = "a real number") -> float:
    """``value`` as a float, if it is a real number (not a bool, a string or complex:
    ``TypeError``; ``None``, a missing value: ``ValueError``)."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        error = ValueError if value is None else TypeError
        raise error(f"{name} must be {allowed}, got {value!r} ({type(value).__name__})")
    try:
        return float(value)
    except OverflowError:  # an integer beyond float64
        raise ValueError(f"{name} must be {allowed}, got {value!r}, beyond the float64 "
                         "range") from None


def positive(name: str, value) -> float:
    """``value`` as a finite float ``> 0``."""
    number = real_number(name, value, "a finite number > 0")
    if not (np.isfinite(number) and number > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return number


def nonnegative(name: str, value) -> float:
    """``value`` as a finite float ``>= 0``."""
    number = real_number(name, value, "a finite number >= 0")
    if not (np.isfinite(number) and number >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return number


def fraction(name: str, value) -> float:
    """``value`` as a float in ``[0, 1)``."""
    number = real_number(name, value, "a number in [0, 1)")
    if not 0 <= number < 1:
        raise ValueError(f"{name} must be a number with 0 <= {name} < 1, got {value!r}")
    return number


def flag(name: str, value, none_ok: bool = False) -> bool | None:
    """``value`` if it is a bool, or ``None`` with ``none_ok`` (``'no'``, ``0`` or ``nan``
    are refused, not truth-tested)."""
    if value is None and none_ok:
        return None
    if not isinstance(value, bool | np.bool_):
        allowed = "True, False or None" if none_ok else "True or False"
        raise TypeError(f"{name} must be {allowed}, got {value!r}")
    return bool(value)


def instance(name: str, value, kinds: type | tuple[type, ...]):
    """``value`` if it is an instance of ``kinds`` (``TypeError`` naming them otherwise)."""
    if not isinstance(value, kinds):
        names = [f"a {k.__name__}" for k in (kinds if isinstance(kinds, tuple) else (kinds,))]
        allowed = " or ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)
        raise TypeError(f"{name} must be {allowed}, got {type(value).__name__}")
    return value


def unmasked(name: str, value):
    """``value``, unless it is a NumPy masked array (``TypeError``: converting it would drop
    its mask)."""
    if isinstance(value, np.ma.MaskedArray):
        raise TypeError(f"{name} is a masked array, whose mask would be ignored; pass a plain "
                        f"array (.filled(value), or only the entries meant)")
    return value


def numeric_array(name: str, value, complex_ok: bool = False) -> np.ndarray:
    """``value`` as a float (or, with ``complex_ok``, complex) array, refusing complex data
    where real is meant, non-numeric data (strings, objects, ragged lists) and masked arrays
    (:func:`unmasked`)."""
    try:
        a = np.asarray(unmasked(name, value))
    except ValueError as error:  # ragged nested sequences
        raise ValueError(f"{name} must be a rectangular numeric array, got {error}") from None
    if a.dtype.kind == "c" and not complex_ok:
        raise TypeError(f"{name} is complex (dtype {a.dtype}); symcnn takes real data")
    if a.dtype.kind not in REAL_KINDS + ("c" if complex_ok else ""):
        raise TypeError(f"{name} must be a numeric array, got dtype {a.dtype} "
                        f"({'real' if not complex_ok else 'real or complex'} numbers allowed)")
    return a.astype(complex if a.dtype.kind == "c" else float, copy=False)


def finite_array(name: str, value, ndim: int | None = None,
                 complex_ok: bool = False) -> np.ndarray:
    """``value`` as a non-empty float array of finite values (with ``ndim`` axes if given).

    Complex input raises ``TypeError`` (``"x is complex; symcnn takes real data"``) unless
    ``complex_ok`` (then the array is complex); so do strings and other non-numeric dtypes.
    """
    a = numeric_array(name, value, complex_ok)
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-D array, got shape {a.shape}")
    if a.size == 0:
        raise ValueError(f"{name} is empty (shape {a.shape})")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or inf")
    return a
