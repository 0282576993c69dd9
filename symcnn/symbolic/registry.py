"""The registry of derivations: every document and closed form symcnn derives, by name.

One :class:`Entry` per result: what it is, the options it takes with their defaults, and how
to build it. ``symcnn derive NAME`` prints an entry's derivation, ``symcnn codegen NAME``
compiles a closed form's field, :mod:`symcnn.theory.kernels` derives the theory's kernels
through :func:`closed_form`, and :data:`FILES` names the documents of docs/derivations
(``symcnn derive --all --out docs/derivations`` writes them; a test checks they are current).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .. import progress
from ..checks import positive_int
from ..model import LinearCNN
from . import closed_forms, pixel, reductions
from .closed_forms import Reduction
from .derivation import Derivation, Document

CNN_OPTIONS = {"shape": (4,), "kernel": None, "channels": 1, "c_in": 1, "n_out": 2,
               "depth": 1, "convention": "correlation"}
"""The options of the explicit-size CNN derivations, with their defaults (``kernel``: full)."""
CNN_LIMITS = {"shape": 64, "channels": 16, "c_in": 16, "n_out": 16, "depth": 5}
"""The limits of ``pixel`` (:attr:`Entry.limits`), measured: shape 64 163 s (8 x 8 81 s), c_in
16 20 s, channels 16 3 s, n_out 16 2 s, depth 5 56 s."""


@dataclass(frozen=True)
class Entry:
    """A derivation or closed form: ``build(**options)`` returns a :class:`Derivation` or
    :class:`Document`, or for a closed form a :class:`Reduction`; ``options`` maps each
    option to its default.

    ``limits`` maps each size option to the largest value ``symcnn derive`` and ``symcnn
    codegen`` accept (``shape``: its pixel count; ``kernel`` is bounded by ``shape``; a value
    the derivation refuses at once needs none): at its limit, the others at their defaults,
    each derives in about three minutes or less (measured, one core), but for the sizes that
    ``fourier-explicit`` checks numerically (N = 11: 21 min). The Python API takes any
    value."""

    name: str
    summary: str
    build: Callable[..., Derivation | Document | Reduction]
    options: dict[str, Any]
    closed_form: bool = False
    limits: dict[str, int] = field(default_factory=dict)

    def __call__(self, **options) -> Derivation | Document | Reduction:
        """Build with ``options`` (the others at their defaults), each step reported as
        progress (``symcnn derive NAME: step 3 <name>``, :mod:`symcnn.progress`); an option
        the entry does not take is a ``TypeError`` naming it."""
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            raise TypeError(f"{self.name} takes no option {', '.join(unknown)} (its options: "
                            f"{', '.join(self.options) or 'none'})")
        with progress.task(f"derive {self.name}") as task:
            built = self.build(**{**self.options, **options})
            task.result = f"{len(_derivation(built).steps)} steps checked"
        return built

    def derivation(self, **options) -> Derivation | Document:
        """The checked derivation (of a closed form: its :attr:`Reduction.derivation`)."""
        return _derivation(self(**options))


def _derivation(built: Derivation | Document | Reduction) -> Derivation | Document:
    return built.derivation if isinstance(built, Reduction) else built


def _cnn(shape, kernel, channels, c_in, n_out, depth, convention) -> LinearCNN:
    return LinearCNN(shape, kernel, c_in=c_in, channels=channels, n_out=n_out, depth=depth,
                     convention=convention)


def _r5(depth) -> Reduction:
    return closed_forms.r5(positive_int("depth", depth) + 1)


def _r4(shape, kernel) -> Reduction:
    if len(shape) != 1 or len(kernel) != 1:
        raise ValueError(f"r4 is derived for 1-D models: shape {tuple(shape)} and kernel "
                         f"{tuple(kernel)} must have one entry each")
    LinearCNN(shape, kernel)  # checks 1 <= k <= N
    return closed_forms.r4(shape[0], kernel[0])


_ENTRIES = [
    # limits, measured at the limit: n_in 22 s, hidden 72 s, n_out 8 s (hidden 32: > 5 min)
    Entry("fully-connected", "gradient flow of the two-layer fully connected network",
          reductions.fully_connected, {"n_in": 3, "hidden": 2, "n_out": 2},
          limits={"n_in": 16, "hidden": 16, "n_out": 16}),
    Entry("cnn-fourier", "per-frequency flow of a linear CNN, general N (R2)",
          reductions.cnn_fourier, {"convention": "correlation"}),
    Entry("small-kernels", "the small-kernel coupling through D, general N (R4)",
          reductions.small_kernels, {"convention": "correlation"}),
    Entry("pixel", "pixel-space gradient flow of an explicit linear CNN",
          lambda **o: pixel.gradient_flow(_cnn(**o)).derivation, CNN_OPTIONS, limits=CNN_LIMITS),
    # N = 8 12 s, 12 70 s, 3 x 4 64 s (4 x 4 99 s); sizes outside RADICAL_SIZES are checked
    # numerically: N = 5 61 s, 7 3.6 min, 11 21 min; channels 16 81 s, c_in 16 55 s; depth 1
    Entry("fourier-explicit", "Fourier reduction of an explicit linear CNN, exact",
          lambda **o: reductions.explicit_fourier(_cnn(**o)), CNN_OPTIONS,
          limits={"shape": 12, "channels": 16, "c_in": 16, "n_out": 16}),
    Entry("closed-forms", "the closed forms R1, R3, R3b, R3c, R5 and R4 in one document",
          closed_forms.document, {}),
    Entry("r1", "fully connected, white input: Saxe's logistic curve", closed_forms.r1, {}, True),
    Entry("r3", "one frequency, white input", closed_forms.r3, {}, True),
    Entry("r3b", "one frequency, stationary input", closed_forms.r3b, {}, True),
    Entry("r3c", "several channels and outputs, white input", closed_forms.r3c, {}, True),
    # N = 16: 16 s at k = 3, 50 s at k = 16; N = 32: 77 s at k = 3, > 6 min at k = 16
    Entry("r4", "linearised small-kernel flow, 1-D", _r4, {"shape": (8,), "kernel": (3,)}, True,
          limits={"shape": 16}),
    # depth 4 67 s, 5 3 min; 6: 11 min, then SymPy fails (a RootSum in the partial fractions)
    Entry("r5", "deep full-kernel CNN (depth counts convolution layers, L = depth + 1)",
          _r5, {"depth": 2}, True, limits={"depth": 5}),
    Entry("gd", "gradient descent per frequency: the exact discrete map", closed_forms.gd, {},
          True),
]
ENTRIES: dict[str, Entry] = {entry.name: entry for entry in _ENTRIES}
"""Every entry, by name."""

FILES: dict[str, tuple[str, dict[str, Any]]] = {
    "fully_connected": ("fully-connected", {}),
    "cnn_fourier": ("cnn-fourier", {}),
    "cnn_fourier_convolution": ("cnn-fourier", {"convention": "convolution"}),
    "small_kernels": ("small-kernels", {}),
    "cnn_fourier_explicit": ("fourier-explicit", {"n_out": 1}),
    "closed_forms": ("closed-forms", {}),
}
"""The documents of docs/derivations: file stem -> (entry, options); each is written as
``.tex`` and ``.md``."""


def get(name: str) -> Entry:
    """The entry ``name``; a ``ValueError`` lists the names for an unknown one."""
    if name not in ENTRIES:
        raise ValueError(f"unknown derivation {name!r}; choose one of {', '.join(ENTRIES)}")
    return ENTRIES[name]


def closed_form(name: str, **options) -> Reduction:
    """The closed form ``name`` (a :class:`Reduction`), built with ``options``."""
    return closed_form_entry(name)(**options)


def closed_form_entry(name: str) -> Entry:
    """The entry of the closed form ``name``; a ``ValueError`` for a derivation or an unknown
    name lists the closed forms."""
    entry = get(name)
    if not entry.closed_form:
        raise ValueError(f"{name} is a derivation, not a closed form; closed forms: "
                         f"{', '.join(closed_forms_names())}")
    return entry


def closed_forms_names() -> list[str]:
    """The names of the entries that are closed forms."""
    return [name for name, entry in ENTRIES.items() if entry.closed_form]


def document(stem: str) -> Derivation | Document:
    """The derivation written to docs/derivations/``stem``.{tex,md}."""
    name, options = FILES[stem]
    return get(name).derivation(**options)
