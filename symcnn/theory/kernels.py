"""Derived kernels, ready in a fresh process: the theory's numbers without SymPy.

``kernel(name, field, **options)`` is the NumPy :class:`~symcnn.codegen.Kernel` of ``field``
of the closed form ``name`` of :mod:`symcnn.symbolic.registry`, built with the registry
``options`` (for example ``("r3b", "stable")``, R3b's learning curve, ``("gd", "update")``,
one step of the exact gradient-descent map, or ``("r5", "time_of_u", depth=2)``, R5's
implicit ``t(u)`` for two convolution layers).

Warm cache: the kernel is read from ``<cache>/derived`` (:func:`symcnn.codegen.cache.cache_dir`),
its checksum verified, and built from its generated source: no derivation runs and SymPy is
not imported. Cold cache: the closed form is derived with SymPy (every step checked), its
kernel generated and stored with the derivation's check status (each step's name and how it
was verified), and a line on stderr says so (:func:`symcnn.progress.note`; the derivation's
progress follows; :func:`symcnn.progress.quiet` silences both). The key is a SHA-256 of
the symcnn version, ``name``, ``field``, the ``options`` and the source of the
:mod:`symcnn.symbolic` and :mod:`symcnn.codegen` packages (everything that determines the
derivation and its kernel),
so an edited derivation is never served stale. An entry that fails its checksum or does
not parse is derived again (``cache_status`` ``"regenerated"``).
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from pathlib import Path

from .. import __version__, progress
from ..codegen import cache
from ..codegen.kernel import Kernel

SOURCES = ("symbolic", "codegen")
"""The packages whose source determines a derived kernel (part of its key)."""
FORMAT = 1
"""Version of the stored record; part of the key."""
COMMENT = "#"


@functools.cache
def source_hash() -> str:
    """SHA-256 of the relative paths and bytes of every ``.py`` file of :data:`SOURCES`."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for package in SOURCES:
        for path in sorted((root / package).rglob("*.py")):
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def key(name: str, field: str, **options) -> str:
    """The cache key of a derived kernel (hex SHA-256); ``options`` only when given, so the
    keys of option-free kernels are unchanged."""
    parts = {"name": name, "field": field, "symcnn": __version__, "sources": source_hash(),
             "format": FORMAT, **({"options": options} if options else {})}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


@functools.cache
def kernel(name: str, field: str = "stable", **options) -> Kernel:
    """The NumPy kernel of ``field`` of the closed form ``name`` built with the registry
    ``options`` (``depth=2`` for ``"r5"``), from the derived-results cache when it holds a
    valid entry, else derived, checked, stored and announced on stderr (unless
    :func:`symcnn.progress.quiet`). Cached per process too."""
    k, path = key(name, field, **options), _path(name, field, options)
    data = cache.read(path) if path else None
    record = _record(data, k) if data is not None else None
    if record is not None:
        return Kernel.from_python_source(record["source"], record["names"],
                                         record["outputs"], k, path=path, cache_status="hit")
    from ..symbolic import registry
    from ..symbolic.closed_forms.base import FIELDS

    registry.closed_form_entry(name)  # refuse an unknown name or field before deriving
    if field not in FIELDS:
        raise ValueError(f"field must be one of {', '.join(FIELDS)}, got {field!r}")
    where = f"; stored in {path.parent}" if path else " (cache off)"
    progress.note(f"deriving {_label(name, options)} {field} with SymPy, once{where}")
    start = time.perf_counter()
    reduction = registry.closed_form(name, **options)
    built = reduction.kernel(field, backend="numpy", cache=False)
    record = {"key": k, "name": name, "field": field, "options": options,
              "names": list(built.names),
              "outputs": len(built.exprs), "source": built.source,
              "status": [{"step": s.name, "check": s.verified}
                         for s in reduction.derivation.steps],
              "seconds": round(time.perf_counter() - start, 3)}
    if path is not None:
        cache.write_atomic(path, cache.seal(json.dumps(record, indent=1) + "\n", COMMENT)
                           .encode())
    return Kernel.from_python_source(built.source, built.names, len(built.exprs), k,
                                     path=path,
                                     cache_status="regenerated" if data else "miss")


def stored(name: str, field: str = "stable", **options) -> dict | None:
    """The stored record of a derived kernel (key, names, options, outputs, source, the check
    status of every derivation step as ``[{"step", "check"}, ...]``, seconds), or None if the
    cache holds no valid one."""
    path = _path(name, field, options)
    data = cache.read(path) if path else None
    return None if data is None else _record(data, key(name, field, **options))


def _label(name: str, options: dict) -> str:
    """``name`` and its options, as in a file name: ``r5`` with ``depth=2`` is ``r5-depth2``."""
    return "-".join([name, *(f"{o}{options[o]}" for o in sorted(options))])


def _path(name: str, field: str, options: dict) -> Path | None:
    """Where the derived kernel is stored, or None when the cache is off."""
    directory = cache.cache_dir()
    if directory is None:
        return None
    k = key(name, field, **options)
    return directory / "derived" / f"{_label(name, options)}-{field}-{k[:16]}.json"


def _record(data: bytes, k: str) -> dict | None:
    text = cache.unseal(data, COMMENT, None)
    if text is None:
        return None
    try:
        record = json.loads(text)
    except ValueError:
        return None
    return record if isinstance(record, dict) and record.get("key") == k else None
