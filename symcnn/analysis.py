"""A dataset's structure as a linear CNN and its fully connected baseline learn it: the
theory's predictions beside a simulation of the network (``symcnn analyze``)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from . import datasets, zoo
from .checks import flag, positive, positive_int
from .data import Statistics, zca_whiten
from .model import FullyConnected, LinearCNN
from .simulate import (
    Dense,
    Fast,
    Trajectory,
    aligned_spectrum,
    init_balanced,
    init_random,
    train,
)
from .theory import ApproximationWarning, Theory

__all__ = ["Accuracy", "Comparison", "Source", "compare", "model_for", "report", "source"]


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
            seed: int = 0, approximate: bool = False, rtol: float = 1e-8,
            aligned: bool = False) -> Comparison:
    """Predict, and train ``model`` on ``stats`` (gradient flow, adaptive RK4 to ``rtol``;
    the FFT engine for a CNN) from ``N(0, scale^2)`` weights seeded by ``seed`` (with
    ``aligned``: the balanced, aligned start of strength ``u0 = scale``, any depth),
    recording at ``times``; ``approximate`` as for :class:`~symcnn.theory.Theory`."""
    theory = Theory(model, stats, approximate=approximate)
    if flag("aligned", aligned):
        params, u0 = init_balanced(model, _aligned(theory, scale)), positive("scale", scale)
    else:
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


def _aligned(theory: Theory, u0: float) -> np.ndarray:
    """The end-to-end spectrum (CNN) or map (fully connected) of every mode at strength
    ``u0``."""
    if theory.cnn:
        return aligned_spectrum(theory.stats, u0, theory.rtol)
    p, s, qh = theory.svd
    return u0 * np.einsum("pa,a,ad->pd", p[0], s[0] > 0, qh[0])


# -- symcnn analyze: a report of the theory's predictions for a dataset -------------------

MAX_PIXELS = 4096
"""The largest input dimension ``D = C_in N`` analysed (``Sigma_xx`` is ``D x D``)."""
MAX_SIMULATED = 1024
"""The largest ``D`` trained by ``simulate=True``."""
POINTS = 201
"""Times of the predicted (and simulated) curves, from 0 to 1.5 times the slowest half-way
time."""


@dataclass(frozen=True)
class Accuracy:
    """How close a prediction is to training: ``kind`` ``"exact"`` or ``"approximation"``,
    ``bound`` on ``|t_predicted / t_simulated - 1|`` (``None``: no measured bound) and the
    ``statement`` with where it was measured."""

    kind: str
    bound: float | None
    statement: str


RANDOM_START = Accuracy(
    "exact", 0.1, "closed form from the effective u0; half-way times measured within 3.9% "
    "of training at widths from the number of competing modes up (benchmarks/"
    "effective_u0_width.py) and 8% on the whitened digits at that width (docs/theory.md); "
    "stated bound 10%")
ALIGNED_START = Accuracy(
    "exact", 1e-6, "closed form (R5) from a balanced, aligned start; measured within 1e-7 "
    "of the half-way time (docs/theory.md); stated bound 1e-4%")
MEASURED = {"full kernel": "k < N: measured -7% (k = 7) to -49% (k = 3) at N = 8 "
                           "(docs/theory.md)",
            "stationary input": "non-stationary input: within 3% of training on the "
                                "whitened digits (worst mode, symcnn reproduce (f)), "
                                "unmeasured elsewhere"}
"""The measured accuracy of each approximation of :data:`symcnn.theory.APPROXIMATIONS`."""


@dataclass(frozen=True)
class Source:
    """The statistics of a dataset to analyse, a one-line ``description`` of where they come
    from, and the zoo ``model`` whose defaults apply (``None`` for samples)."""

    stats: Statistics
    description: str
    model: LinearCNN | None = None


def source(name: str, whiten: bool = False, simulate: bool = False) -> Source:
    """The dataset ``name``: an ``.npz`` file (:func:`symcnn.datasets.load`), ``"digits"`` or
    a zoo setup (:func:`symcnn.zoo.get`); with ``whiten``, its samples ZCA-whitened
    (:func:`symcnn.data.zca_whiten`, on the support of a singular ``Sigma_xx``).  Samples
    of more inputs than :func:`report` takes (``simulate`` or not) are refused before their
    statistics are computed (``ValueError``)."""
    if name == "digits":
        return _samples(*datasets.digits(), "scikit-learn's 8x8 digits", whiten, simulate)
    if name in zoo.names():
        setup = zoo.get(name)
        if not whiten:
            return Source(setup.stats, f"zoo setup {name}: {setup.description}", setup.model)
        if setup.dataset is None:
            raise ValueError(f"--whiten needs samples; zoo setup {name} has statistics only")
        found = _samples(setup.dataset.x, setup.dataset.y, f"zoo setup {name}", whiten,
                         simulate)
        return Source(found.stats, found.description, setup.model)
    if not name.endswith(".npz"):
        raise ValueError(f"DATA {name!r}: give an .npz file of x and y, 'digits' or a zoo "
                         f"setup ({', '.join(zoo.names())})")
    return _samples(*datasets.load(name), name, whiten, simulate)


def _samples(x: np.ndarray, y: np.ndarray, name: str, whiten: bool,
             simulate: bool) -> Source:
    """:class:`Source` of samples ``x``, ``y`` (refused above the limit of :func:`_size`)."""
    d = int(np.prod(x.shape[1:]))
    _size(d, simulate, f"{name}: ")
    if whiten:
        x = zca_whiten(x, support=True)[0]
    stats = Statistics.from_samples(x, y)
    if whiten:
        rank = int(round(np.trace(stats.sxx)))
        name += (", ZCA-whitened" if rank == d else
                 f", ZCA-whitened on its support (Sigma_xx singular: rank {rank} of D = {d})")
    return Source(stats, name)


def model_for(found: Source, kernel=None, channels: int | None = None,
              depth: int | None = None) -> LinearCNN:
    """The CNN analysed: ``kernel``, ``channels`` and ``depth`` as given, else the zoo
    model's, else the full kernel, ``C = 2 r`` with ``r`` the rank of ``Sigma_yx`` (wider
    than the modes competing for the CNN's channels and the baseline's hidden units: see
    :func:`_accuracy`) and depth 1."""
    stats, zoo_model = found.stats, found.model
    default = zoo_model or LinearCNN(stats.shape, channels=max(1, 2 * len(stats.modes().s)))
    return LinearCNN(stats.shape, kernel=default.kernel if kernel is None else kernel,
                     channels=default.channels if channels is None else channels,
                     c_in=stats.c_in, n_out=stats.n_out,
                     depth=default.depth if depth is None else depth)


def report(stats: Statistics, model: LinearCNN, init_scale: float = 1e-4, seed: int = 0,
           simulate: bool = False, description: str = "") -> dict:
    """What the theory predicts for ``model`` and its fully connected baseline (hidden width
    ``C``) learning ``stats``, as a JSON-able dict: the data (``stationarity``, whitening in
    ``description``), the dataset's modes ``s_a`` with their spectra, each network's
    hypotheses, half-way times and learning order from ``N(0, init_scale^2)`` weights
    seeded by ``seed`` (depth > 1: a balanced, aligned start of strength ``init_scale``),
    the accuracy of each prediction, and with ``simulate`` the training runs beside them
    (:func:`compare`).  A prediction that cannot be made carries its reason (``why_not``)."""
    init_scale = positive("init_scale", init_scale)
    seed = positive_int("seed", seed, minimum=0)
    _size(stats.n_in, flag("simulate", simulate))
    networks = {"CNN": model, "FC": FullyConnected(model.n_in, model.channels, model.n_out)}
    out = {"data": _data(stats, description), "model": _model(model),
           "start": {"init_scale": init_scale, "seed": seed}, "modes": _modes(stats),
           "networks": {}, "warnings": []}
    for label, net in networks.items():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out["networks"][label] = _network(net, stats, init_scale, seed, simulate)
        out["warnings"] += dict.fromkeys(f"{label}: {w.message}" for w in caught
                                         if not issubclass(w.category, ApproximationWarning))
    return out


def _size(d: int, simulate: bool, where: str = "") -> None:
    """Refuse ``D = d`` inputs above :data:`MAX_PIXELS` (:data:`MAX_SIMULATED` with
    ``simulate``)."""
    if d > MAX_PIXELS:
        raise ValueError(f"{where}D = C_in N = {d} inputs; symcnn analyze takes at most "
                         f"D = {MAX_PIXELS} (Sigma_xx is D x D)")
    if simulate and d > MAX_SIMULATED:
        raise ValueError(f"{where}--simulate trains networks of D = {d} inputs; it takes at "
                         f"most D = {MAX_SIMULATED}")


def _data(stats: Statistics, description: str) -> dict:
    return {"description": description, "samples": stats.n_samples,
            "shape": list(stats.shape), "c_in": stats.c_in, "n_out": stats.n_out,
            "D": stats.n_in, "stationarity": stats.stationarity}


def _model(model: LinearCNN) -> dict:
    return {"kernel": list(model.kernel), "channels": model.channels, "depth": model.depth,
            "fc_hidden": model.channels}



def _modes(stats: Statistics) -> list[dict]:
    """Per dataset mode: ``s_a``, ``f*_a``, ``|v_hat_a[f*_a]|``, the mismatch
    ``sqrt(N) |v_hat_a[f*_a]|``, the share of ``|v_hat_a|^2`` on the pair ``+-f*_a`` and the
    number of frequencies holding 90% of it."""
    modes = stats.modes()
    weights = modes.frequency_weights()
    rows = []
    for a, f in enumerate(modes.dominant_frequencies()):
        power = weights[a] ** 2 / np.sum(weights[a] ** 2)
        pair = {f, tuple(int(i) for i in np.mod(np.negative(f), stats.shape))}
        ranked = np.sort(power.ravel())[::-1]
        rows.append({"a": a + 1, "s": float(modes.s[a]), "f_star": list(f),
                     "v_hat_f_star": float(weights[a][f]),
                     "mismatch": float(modes.mismatch()[a]),
                     "pair_power": float(sum(power[g] for g in pair)),
                     "n90": int(np.searchsorted(np.cumsum(ranked), 0.9) + 1)})
    return rows


def _network(model, stats: Statistics, init_scale: float, seed: int, simulate: bool) -> dict:
    """One network's hypotheses, prediction (or why not), accuracy and simulation."""
    theory = Theory(model, stats)
    relaxed = theory.cnn and any(not theory.hypotheses[name].holds for name in MEASURED)
    theory = Theory(model, stats, approximate=relaxed)
    out = {"hypotheses": {h.name: {"holds": h.holds, "detail": h.detail}
                          for h in theory.hypotheses.values()},
           "approximations": theory.approximations, "accuracy": None, "why_not": None,
           "half_times": None, "learning_order": None, "simulation": None}
    try:
        u0, out["start"] = _start(theory, init_scale, seed)
        half = theory.half_times(u0)
    except ValueError as error:
        out["why_not"] = str(error)
        return out
    out["accuracy"] = _accuracy(theory).__dict__
    out["half_times"], out["learning_order"] = half.tolist(), theory.learning_order(u0)
    times = np.linspace(0, 1.5 * max(half.max(), theory.tau), POINTS)
    out["curves"] = {"times": times.tolist(),
                     "predicted": theory.dataset_mode_strengths(times, u0).tolist()}
    if simulate:
        out["simulation"] = _simulation(theory, times, init_scale, seed, out)
    return out


def _start(theory: Theory, init_scale: float, seed: int):
    """The initial strengths of the prediction and a sentence saying which start they are."""
    if theory.cnn and theory.model.depth > 1:
        return init_scale, (f"balanced, aligned start of strength u0 = {init_scale:g} "
                            "(depth > 1: effective_u0 of a random start is derived for "
                            "depth 1)")
    u0 = theory.effective_u0(init_random(theory.model, init_scale, seed))
    return u0, (f"random N(0, {init_scale:g}^2) weights, seed {seed}, as their effective u0 "
                "(Theory.effective_u0)")


def _accuracy(theory: Theory) -> Accuracy:
    """The accuracy of ``theory``'s half-way times: its approximations', or the exact
    closed form's from the start of :func:`_start`."""
    if theory.approximations:
        failed = [name for name in MEASURED if not theory.hypotheses[name].holds]
        return Accuracy("approximation", None, "; ".join(MEASURED[name] for name in failed))
    return ALIGNED_START if theory.cnn and theory.model.depth > 1 else RANDOM_START


def _simulation(theory: Theory, times: np.ndarray, init_scale: float, seed: int,
                out: dict) -> dict:
    """Training beside the prediction ``out`` of :func:`_network` (:func:`compare`); its
    curves become the run's."""
    deep = theory.cnn and theory.model.depth > 1
    run = compare(theory.model, theory.stats, times, init_scale, seed, theory.approximate,
                  aligned=deep)
    errors, bound = run.half_time_errors, out["accuracy"]["bound"]
    out["curves"] = {"times": run.trajectory.times.tolist(), "predicted": run.predicted.tolist(),
                     "simulated": run.simulated.tolist()}
    return {"predicted": run.predicted_half_times.tolist(),
            "simulated": _plain(run.simulated_half_times), "relative_error": _plain(errors),
            "bound": bound,
            "within": None if bound is None else bool(np.all(np.abs(errors) <= bound))}


def _plain(values: np.ndarray) -> list:
    """``values`` as a list, ``nan`` (not reached) as ``None``."""
    return [None if not np.isfinite(v) else float(v) for v in values]
