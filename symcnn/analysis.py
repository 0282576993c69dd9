"""A dataset's structure as a linear CNN and its fully connected baseline learn it: the
theory's predictions beside a simulation of the network (``symcnn analyze``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .data import Statistics
from .model import FullyConnected, LinearCNN
from .simulate import Dense, Fast, Trajectory, init_random, train
from .theory import Theory

__all__ = ["Comparison", "compare"]


@dataclass(frozen=True, eq=False)
class Comparison:
    """The theory of a (model, data) pair beside a training run from small random weights.

    ``u0`` ``(F, r)`` are the effective initial strengths of the run's weights
    (:meth:`Theory.effective_u0`); ``limits`` ``(a,)`` each dataset mode's strength at the
    optimum ``u_a^T M* v_a``; ``predicted`` and ``simulated`` ``(T, a)`` the dataset mode
    strengths ``u_a(t)`` at the run's times; the half-way times ``(a,)`` are the first times
    ``u_a`` reaches ``limits / 2`` (the simulated ones interpolated between recorded times,
    ``nan`` when not reached)."""

    theory: Theory
    trajectory: Trajectory
    u0: np.ndarray
    limits: np.ndarray
    predicted: np.ndarray
    simulated: np.ndarray
    predicted_half_times: np.ndarray
    simulated_half_times: np.ndarray

    @property
    def half_time_errors(self) -> np.ndarray:
        """``(predicted - simulated) / simulated`` per dataset mode, ``(a,)``."""
        return self.predicted_half_times / self.simulated_half_times - 1


def compare(model: LinearCNN | FullyConnected, stats: Statistics, times, scale: float,
            seed: int = 0, approximate: bool = False, rtol: float = 1e-8) -> Comparison:
    """Predict, and train ``model`` on ``stats`` (gradient flow, adaptive RK4 to ``rtol``;
    the FFT engine for a CNN) from ``N(0, scale^2)`` weights seeded by ``seed``, recording
    at ``times``; ``approximate`` as for :class:`~symcnn.theory.Theory`."""
    theory = Theory(model, stats, approximate=approximate)
    params = init_random(model, scale, seed)
    u0 = theory.effective_u0(params)
    engine = Fast(model, stats) if isinstance(model, LinearCNN) else Dense(model, stats)
    run = train(engine, params, times, rtol=rtol)
    modes = theory.modes
    v = modes.v.reshape(len(modes.s), -1)
    limits = np.einsum("oa,od,ad->a", modes.u, stats.optimal_map(), v)
    return Comparison(theory, run, u0, limits,
                      theory.dataset_mode_strengths(run.times, u0), run.mode_strengths(modes),
                      theory.half_times(u0), run.half_way_times(modes, limits))
