"""The backends of :func:`symcnn.codegen.compile`, one object per target language.

:data:`BACKENDS` maps each name to its :class:`~symcnn.codegen.backends.base.Backend`:
``"numpy"`` and ``"mpmath"`` (:mod:`.python`), ``"c"`` (:mod:`.c`).
"""

from .base import FORMAT, Backend, Spec
from .c import CBackend
from .python import MpmathBackend, NumPyBackend

BACKENDS: dict[str, Backend] = {b.name: b for b in (NumPyBackend(), MpmathBackend(),
                                                     CBackend())}
"""Backend name -> backend."""

__all__ = ["BACKENDS", "FORMAT", "Backend", "CBackend", "MpmathBackend", "NumPyBackend",
           "Spec"]
