"""The disk cache of generated files: location, sealed files, atomic writes, keys.

A sealed file starts with a line holding the SHA-256 of the rest (``<comment>
symcnn-codegen sha256:<hex>``); :func:`unseal` returns the rest only if it matches, so a
truncated or garbled entry is regenerated rather than used. The check detects corruption,
not tampering: the cache directory must be trusted like the package itself.

This module does not import SymPy: kernels are loaded from the cache without it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
import warnings
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path

CACHE_STATS: Counter = Counter()
"""How ``compile`` obtained its code: ``hit``, ``miss``, ``regenerated`` (a corrupted entry
was replaced) or ``off`` (no cache)."""

OFF = ("off", "0", "false", "no", "none")
"""Values of ``$SYMCNN_CACHE`` that turn the cache off (any case)."""


def cache_dir(cache: str | os.PathLike | bool | None = None) -> Path | None:
    """The kernel cache directory, or None when caching is off.

    ``cache``: a directory, ``False`` (off), or None: ``$SYMCNN_CACHE`` (``off``, ``0``,
    ``false``, ``no`` or ``none`` turn it off), else ``$XDG_CACHE_HOME/symcnn/kernels``,
    else ``~/.cache/symcnn/kernels``.
    """
    if cache is False:
        return None
    if cache is not None and cache is not True:
        return Path(cache)
    env = os.environ.get("SYMCNN_CACHE", "")
    if env:
        return None if env.lower() in OFF else Path(env)
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "symcnn" / "kernels"


def sha256(data: bytes) -> str:
    """SHA-256 of ``data``, hexadecimal."""
    return hashlib.sha256(data).hexdigest()


def digest(parts: Mapping) -> str:
    """A cache key: the SHA-256 of ``parts`` (JSON-serializable) as sorted JSON."""
    return sha256(json.dumps(parts, sort_keys=True).encode())


@functools.cache
def generator_hash() -> str:
    """SHA-256 of the source of every module of :mod:`symcnn.codegen` (by relative path),
    part of each key: an edited generator never reuses stale entries."""
    root = Path(__file__).parent
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py"), key=lambda p: p.relative_to(root).as_posix()):
        h.update(f"{path.relative_to(root).as_posix()}\n".encode())
        h.update(sha256(path.read_bytes()).encode())
    return h.hexdigest()


def _prefix(comment: str) -> str:
    return f"{comment} symcnn-codegen sha256:"


def seal(text: str, comment: str) -> str:
    """``text`` behind a first line holding its SHA-256, as a ``comment`` line (``#``,
    ``//``)."""
    return f"{_prefix(comment)}{sha256(text.encode())}\n{text}"


def unseal(data: bytes, comment: str, key: str | None = None) -> str | None:
    """The text sealed in ``data`` if its checksum is right (and, with ``key``, if it has
    the line ``<comment> key: <key>``), else None."""
    first, newline, rest = data.partition(b"\n")
    prefix = _prefix(comment).encode()
    if not newline or not first.startswith(prefix):
        return None
    if first[len(prefix):].decode("ascii", "replace") != sha256(rest):
        return None
    try:
        text = rest.decode()
    except UnicodeDecodeError:
        return None
    return text if key is None or f"{comment} key: {key}\n" in text else None


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory (created
    if needed) and a rename: readers see the old content or the new, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read(path: Path) -> bytes | None:
    """The content of ``path``, or None if it cannot be read."""
    try:
        return path.read_bytes()
    except OSError:
        return None


def store(entries: Mapping[Path, bytes], stacklevel: int = 1) -> None:
    """Write each ``path: data`` with :func:`write_atomic`; a failure is a RuntimeWarning
    (``stacklevel`` counted from the caller), not an error: the cache is optional."""
    for path, data in entries.items():
        try:
            write_atomic(path, data)
        except OSError as error:
            warnings.warn(f"could not write the kernel cache {path}: {error}",
                          RuntimeWarning, stacklevel=stacklevel + 1)
            return


def cached_text(path: Path | None, comment: str, key: str, generate: Callable[[], str],
                stacklevel: int = 1) -> tuple[str, str]:
    """``(text, status)``: the text sealed at ``path`` if it unseals with ``key``
    (``hit``), else ``generate()``, stored sealed (``miss``, or ``regenerated`` if the
    file was there but failed the check); ``off`` without ``path``."""
    if path is None:
        return generate(), "off"
    data = read(path)
    text = None if data is None else unseal(data, comment, key)
    if text is not None:
        return text, "hit"
    text = generate()
    store({path: seal(text, comment).encode()}, stacklevel + 1)
    return text, "miss" if data is None else "regenerated"
