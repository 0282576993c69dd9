"""What a finding of :mod:`symcnn.reproduce` is: the numbers it measured, the agreement it
states for each, a summary and a figure."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Settings:
    """A run of :func:`symcnn.reproduce.run`: ``seed`` (every dataset and initialisation of
    the run is drawn from it) and ``quick`` (smaller datasets and fewer seeds)."""

    seed: int = 0
    quick: bool = False

    def rng(self, stream: int) -> np.random.Generator:
        """The generator of the finding's ``stream`` (an integer), seeded by ``[seed, stream]``:
        independent of the order in which findings run."""
        return np.random.default_rng([self.seed, stream])

    def seed_of(self, stream: int) -> int:
        """An integer seed for APIs that take one (e.g. ``init_random``), from ``stream``."""
        return int(self.rng(stream).integers(2**31))


@dataclass(frozen=True)
class Measure:
    """A number the run measured and the agreement the report states for it: the measure
    holds when ``value <= bound`` (``upper``) or ``value >= bound`` (not ``upper``)."""

    name: str
    value: float
    bound: float
    description: str
    upper: bool = True

    @property
    def holds(self) -> bool:
        value = float(self.value)
        return bool(np.isfinite(value) and (value <= self.bound if self.upper
                                            else value >= self.bound))

    def to_dict(self) -> dict:
        return {"value": float(self.value), "bound": float(self.bound),
                "relation": "<=" if self.upper else ">=", "holds": self.holds,
                "description": self.description}


@dataclass
class Finding:
    """One of the paper's findings, reproduced: ``key`` (its figure's letter), ``name`` (the
    figure's file stem), ``title``, ``summary`` (Markdown: what the figure shows, with the
    run's numbers), ``measures`` and the drawn ``figure`` (a matplotlib ``Figure``).
    ``numbers`` holds further measured values for report.json that state no agreement."""

    key: str
    name: str
    title: str
    summary: str
    measures: list[Measure]
    figure: object
    numbers: dict[str, object] = field(default_factory=dict)

    @property
    def holds(self) -> bool:
        return all(m.holds for m in self.measures)
