"""Hypothesis strategies for models, data, initialisations and theorem instances.

Public API for test suites (needs ``hypothesis``, in the ``test`` extra)::

    from hypothesis import given
    from symcnn import strategies as sst

    @given(sst.models(full_kernel=True, max_depth=1), sst.seeds)
    def test_mine(model, seed):
        stats = sst.white(model, seed)
        ...

    @given(sst.instances("closed form"))
    def test_theorem(instance):
        ...

Models are drawn structurally (Hypothesis shrinks them to small sizes); bulk arrays come
from a NumPy generator seeded by a drawn integer. The spaces are those of
:mod:`symcnn.instances`, shared with ``symcnn check``.

Profiles: :func:`register_profiles` registers ``ci`` (the default, lean: 15 examples) and
``deep`` (150 examples); ``SYMCNN_PROFILE=deep`` selects the deep one.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from . import instances as _instances
from .instances import SEED_MAX, non_stationary, samples, stationary, white

__all__ = ["DEEP_FACTOR", "examples", "instances", "models", "non_stationary",
           "register_profiles", "samples", "seeds", "stationary", "white"]

DEEP_FACTOR = 10
"""How many times more examples the ``deep`` profile runs."""

seeds = st.integers(0, SEED_MAX)
"""Seeds of the NumPy generators that draw bulk arrays."""


class _DrawPick:
    """Picks drawn by Hypothesis."""

    def __init__(self, draw):
        self.draw = draw

    def integer(self, low: int, high: int) -> int:
        return self.draw(st.integers(low, high))

    def choice(self, options):
        return self.draw(st.sampled_from(tuple(options)))


@st.composite
def models(draw, **constraints):
    """Linear CNNs (:func:`symcnn.instances.model`'s space and keyword arguments)."""
    return _instances.model(_DrawPick(draw), **constraints)


@st.composite
def instances(draw, theorem):
    """Instances of a theorem (a :class:`symcnn.theorems.Theorem` or its name) inside its
    hypotheses: its space, drawn by Hypothesis."""
    from . import theorems

    theorem = theorems.get(theorem) if isinstance(theorem, str) else theorem
    return theorem.space(_DrawPick(draw))


def examples(n: int) -> int:
    """``n`` examples for a slow test in the default profile, :data:`DEEP_FACTOR` times as
    many with ``SYMCNN_PROFILE=deep``."""
    return n * (DEEP_FACTOR if os.environ.get("SYMCNN_PROFILE") == "deep" else 1)


def register_profiles(load: bool = True) -> None:
    """Register the ``ci`` and ``deep`` profiles; load ``$SYMCNN_PROFILE`` (default ``ci``)."""
    common = {"deadline": None, "print_blob": True,
              "suppress_health_check": [HealthCheck.too_slow]}
    settings.register_profile("ci", max_examples=15, **common)
    settings.register_profile("deep", max_examples=15 * DEEP_FACTOR, **common)
    if load:
        settings.load_profile(os.environ.get("SYMCNN_PROFILE", "ci"))
