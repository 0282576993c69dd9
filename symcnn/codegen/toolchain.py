"""The system C compiler: finding it, naming it, building shared libraries with it.

This module does not import SymPy.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .. import progress

CFLAGS = ("-O3", "-std=c99", "-fPIC", "-shared", "-ffp-contract=off", "-fno-math-errno",
          "-fno-trapping-math")
"""C compiler flags: IEEE arithmetic as written (no contraction to FMA, never -ffast-math);
errno and floating-point traps are not observed, which lets GCC vectorize."""
VECTOR_LIBS = ("-Wl,-z,defs", "-lmvec", "-lm")
"""Linked when the source declares libmvec's SIMD variants (undefined symbols fail the link
and the kernel is rebuilt without them)."""
VECTOR_MATH = platform.machine() in ("x86_64", "AMD64") and sys.platform.startswith("linux")
"""Whether to try libmvec (glibc's vector math library, x86-64)."""


class CompilerNotFound(RuntimeError):
    """No C compiler: the ``"c"`` backend is unavailable."""


def find_c_compiler() -> str | None:
    """Path of the C compiler: ``$CC``, else ``cc``, ``gcc`` or ``clang`` on PATH."""
    for name in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if name:
            path = shutil.which(name)
            if path:
                return path
    return None


def identity(compiler: str) -> str:
    """``compiler`` and the first line of its ``--version`` (part of the cache key)."""
    try:
        done = subprocess.run([compiler, "--version"], capture_output=True, text=True,
                              timeout=60, check=False)
        version = done.stdout.splitlines()[0] if done.stdout else ""
    except (OSError, subprocess.TimeoutExpired):
        version = ""
    return f"{compiler} {version}".strip()


def libraries(vector: bool) -> tuple[str, ...]:
    """The libraries to link: :data:`VECTOR_LIBS` for source using libmvec, else ``-lm``."""
    return VECTOR_LIBS if vector else ("-lm",)


def build_library(source: str, compiler: str, vector: bool) -> bytes:
    """The shared library built from C ``source`` with :data:`CFLAGS` (reported as
    progress: the running task's state becomes ``compiling with <compiler>``).

    Raises
    ------
    RuntimeError
        The compiler failed (its exit status and the end of its error output).
    """
    progress.update(f"compiling with {Path(compiler).name}" + (" (libmvec)" if vector else ""))
    with tempfile.TemporaryDirectory(prefix="symcnn-cc-") as tmp:
        src, lib = Path(tmp) / "kernel.c", Path(tmp) / "kernel.so"
        src.write_text(source)
        done = subprocess.run([compiler, *CFLAGS, "-o", str(lib), str(src),
                               *libraries(vector)],
                              capture_output=True, text=True, timeout=600, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"C compiler {compiler} failed ({done.returncode}):\n"
                               f"{done.stderr[-4000:]}")
        return lib.read_bytes()
