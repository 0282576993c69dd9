"""Numeric predictions of the theory for a (model, data) pair: :class:`Theory`.

The closed forms are derived once with SymPy and their kernels stored on disk
(:mod:`.kernels`); importing this package, and predicting with a warm cache, loads no SymPy.
"""

from .predict import APPROXIMATIONS, ApproximationWarning, Hypothesis, Theory

__all__ = ["APPROXIMATIONS", "ApproximationWarning", "Hypothesis", "Theory"]
