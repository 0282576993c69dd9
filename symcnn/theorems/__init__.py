"""The theorem checker: a catalogue of named claims, each with a LaTeX statement,
machine-checkable hypotheses on (model, data), a symbolic proof where one exists (a checked
:class:`~symcnn.symbolic.derivation.Derivation`) and a numeric verification against full-network
training on random instances inside its hypotheses.

``check(name, examples, seed)`` returns a :class:`Result`; ``symcnn check`` prints them as
a table. Users register their own claims with :func:`register` (see docs/theorems.md).
"""

from . import exact, frequency  # noqa: F401  (importing them registers the built-ins)
from .core import (
    CATALOGUE,
    HYPOTHESES,
    HypothesisFailed,
    Instance,
    Result,
    Theorem,
    check,
    get,
    hypothesis,
    max_relative_error,
    register,
)

__all__ = ["CATALOGUE", "HYPOTHESES", "HypothesisFailed", "Instance", "Result", "Theorem",
           "check", "get", "hypothesis", "max_relative_error", "register"]
