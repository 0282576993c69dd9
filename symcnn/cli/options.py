"""Checks of command-line options shared by the commands, made before any work starts: a
refusal names the option as typed (``--out``, ``--c-in``), its value and what is allowed."""

from __future__ import annotations

import importlib
import math
from pathlib import Path

from ..symbolic import registry


def flag(name: str) -> str:
    """The command-line flag of the option ``name``: ``c_in`` -> ``--c-in``."""
    return f"--{name.replace('_', '-')}"


def output_file(option: str, value: str) -> Path:
    """``value`` of ``option`` as a file that can be written, checked before the work starts:
    a name that is not a directory, in a directory that exists."""
    path = Path(value)
    if not value or path.is_dir():
        raise ValueError(f"{option} {value!r}: give a file name, not a directory")
    if not path.absolute().parent.is_dir():
        raise ValueError(f"{option} {value}: the directory {path.parent} does not exist")
    return path


def output_dir(option: str, value: str) -> Path:
    """``value`` of ``option`` as a directory to write into: one that exists, or a new one in
    a directory that exists (not a file)."""
    path = Path(value)
    if not value or (path.exists() and not path.is_dir()):
        raise ValueError(f"{option} {value!r}: give a directory, not a file")
    if not path.absolute().parent.is_dir():
        raise ValueError(f"{option} {value}: the directory {path.parent} does not exist")
    return path


EXTRAS = {"reproduce": ("matplotlib", "sklearn"), "torch": ("torch",), "dask": ("distributed",)}
"""The optional dependencies of each extra, by import name."""


def optional(module: str, extra: str, command: str):
    """Import ``module``, which needs the packages of ``extra``; their absence is an
    ``OSError`` saying what to install."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        if (error.name or "").split(".")[0] not in EXTRAS[extra]:
            raise
        raise OSError(f"{command} needs {error.name}: pip install 'symcnn[{extra}]'") from None


def bounded(option: str, value: int, high: int, where: str = "") -> int:
    """``value`` of ``option`` if it is from 1 to ``high``."""
    if not 1 <= value <= high:
        raise ValueError(f"{option} must be an integer from 1 to {high}{where}, got {value}")
    return value


def within_limits(entry: registry.Entry, options: dict) -> None:
    """Refuse a value of ``options`` (registry option -> value, ``shape`` a tuple) below 1 or
    above :attr:`~symcnn.symbolic.registry.Entry.limits` (``shape``: its pixel count)."""
    for name, value in options.items():
        high = entry.limits.get(name)
        if high is None:
            continue
        if name != "shape":
            bounded(flag(name), value, high, f" for {entry.name}")
        elif min(value) < 1 or math.prod(value) > high:
            raise ValueError(f"--shape must be sizes >= 1 with at most {high} pixels in all "
                             f"(their product) for {entry.name}, got "
                             f"{' '.join(map(str, value))}")


def limits_help(name: str) -> str:
    """The entries taking the option ``name``, each with its limit: ``pixel <= 5, r5 <= 5``."""
    return ", ".join(n + (f" <= {e.limits[name]}" if name in e.limits else "")
                     for n, e in registry.ENTRIES.items() if name in e.options)
