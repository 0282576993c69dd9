"""Built-in theorems: the exact reductions R1, R2, R3, R3b, R3c and R5 of
docs/theory-reference.md.

Each is checked against the full network: R2 against the pixel-space gradient at random
weights, the others against the trained maps from a balanced aligned start.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .. import fourier, instances, simulate
from ..model import FullyConnected
from ..symbolic import closed_forms, reductions
from ..theory import Theory
from .core import Instance, Theorem, register, theory_reference

FLOW_TOLERANCE = 1e-8
"""Closed forms against the trained maps (RK4 with steps 0.02 / fastest rate)."""


# Trajectories from a balanced aligned start ---------------------------------------------


def _transition_times(theory: Theory, u0: float, points: int = 9) -> np.ndarray:
    """Times through the transitions of the modes within 10x of the fastest rate (a nearly
    vanishing singular value would need millions of steps)."""
    rates = theory.rates[theory.rates > 0.1 * theory.rates.max()]
    return np.linspace(0, 2 * np.log(1e3) / rates.min(), points)


def _aligned_instance(model, stats, label: str) -> Instance:
    theory = Theory(model, stats)
    u0 = 1e-3 * float(np.max(theory.strengths))
    aligned = simulate.aligned_spectrum if theory.cnn else simulate.aligned_map
    start = simulate.init_balanced(model, aligned(stats, u0))
    return Instance(model, stats, start, _transition_times(theory, u0), u0, label=label)


def _predicted_maps(instance: Instance) -> np.ndarray:
    return Theory(instance.model, instance.stats, instance.tau).maps(instance.times,
                                                                     instance.u0)


def _trained_maps(instance: Instance) -> np.ndarray:
    model, stats = instance.model, instance.stats
    rate = np.max(Theory(model, stats, instance.tau).rates)
    engine = (simulate.Dense if isinstance(model, FullyConnected) else simulate.Fast)(model, stats)
    run = simulate.train(engine, instance.params, instance.times, tau=instance.tau,
                         dt=0.02 / rate)
    return run.maps


def _cnn_space(data: str, c_in: int):
    """Full-kernel, one-layer CNNs (sides up to 5) with ``data`` input and enough channels
    for the rank of ``T_f``, from a balanced aligned start."""
    def space(pick) -> Instance:
        model = instances.model(pick, full_kernel=True, max_depth=1, max_side=5,
                                c_in=(c_in,))
        model = dataclasses.replace(model, channels=max(model.channels,
                                                        min(model.n_out, c_in)))
        seed = instances.seed(pick)
        return _aligned_instance(model, instances.DATA[data](model, seed),
                                 f"{data} input (seed {seed}), balanced aligned start")
    return space


def _fc_space(pick) -> Instance:
    n_in, n_out = pick.integer(2, 8), pick.integer(1, 3)
    model = FullyConnected(n_in, pick.integer(min(n_in, n_out), 4), n_out)
    seed = instances.seed(pick)
    return _aligned_instance(model, instances.white(model, seed),
                             f"white input (seed {seed}), balanced aligned start")


def _flow_theorem(name, title, statement, hypotheses, space, closed_form,
                  section) -> Theorem:
    """Register a closed form (``closed_form()``, a Reduction, proves it) checked against
    the trained maps; ``section`` is its anchor in docs/theory-reference.md."""
    return register(Theorem(name=name, title=title, statement=statement,
                            hypotheses=hypotheses, space=space, predict=_predicted_maps,
                            measure=_trained_maps, tolerance=FLOW_TOLERANCE,
                            proof=lambda: closed_form().derivation,
                            reference=theory_reference(section)))


_flow_theorem(
    "fully connected baseline", "Saxe's solution for a two-layer linear network",
    r"\tau \dot u_a = 2 u_a (s_a - u_a),\quad "
    r"u_a(t) = \frac{s_a e^{2 s_a t/\tau}}{e^{2 s_a t/\tau} - 1 + s_a/u_0}",
    ("fully connected", "white input"), _fc_space, closed_forms.r1, "r1-fully-connected-baseline")

# R2: decoupling ---------------------------------------------------------------------------


def _per_frequency(model, a: np.ndarray, kind: str) -> np.ndarray:
    """``(F, rows, cols)`` spectra of a readout (``kind = "row"``) or a kernel."""
    return fourier.to_flat(fourier.row_spectrum(a, len(model.shape)) if kind == "row"
                           else fourier.kernel_spectrum(model, a))


def _decoupled_rhs(instance: Instance) -> np.ndarray:
    """R2: ``tau dbeta_f/dt = (T_f - M_f Lambda_f) alpha_f^*``,
    ``tau dalpha_f/dt = N beta_f^* (T_f - M_f Lambda_f)``, per frequency."""
    model, stats = instance.model, instance.stats
    kernel, readout = instance.params
    beta, alpha = _per_frequency(model, readout, "row"), _per_frequency(model, kernel, "k")
    t_hat, lam = fourier.to_flat(stats.output_spectrum()), fourier.to_flat(stats.input_spectrum())
    residual = t_hat - beta @ alpha @ lam
    adjoint = np.conj(np.swapaxes(alpha, 1, 2))
    return np.concatenate([(residual @ adjoint).ravel(),
                           (model.n_pixels * np.conj(np.swapaxes(beta, 1, 2))
                            @ residual).ravel()]) / instance.tau


def _pixel_gradient_spectra(instance: Instance) -> np.ndarray:
    """``-dL/dtheta / tau`` of the full network in pixel space, transformed to Fourier."""
    model = instance.model
    d_kernel, d_readout = simulate.Dense(model, instance.stats).gradient(instance.params)
    return -np.concatenate([_per_frequency(model, d_readout, "row").ravel(),
                            _per_frequency(model, d_kernel, "k").ravel()]) / instance.tau


def _decoupling_space(pick) -> Instance:
    c_in = pick.choice((1, 2))
    model = instances.model(pick, full_kernel=True, max_depth=1, max_side=6, c_in=(c_in,))
    seed = instances.seed(pick)
    data = "stationary" if c_in == 1 else "white"
    return Instance(model, instances.DATA[data](model, seed),
                    simulate.init_random(model, 0.5, seed), label=f"{data} input, random weights "
                    f"of scale 0.5 (seed {seed})")


register(Theorem(
    name="decoupling", title="The gradient flow splits into one system per frequency",
    statement=r"\tau \dot\beta_f = (T_f - M_f\Lambda_f)\alpha_f^*,\quad "
              r"\tau \dot\alpha_f = N \beta_f^* (T_f - M_f\Lambda_f),\quad "
              r"M_f = \beta_f \alpha_f",
    hypotheses=("linear CNN", "full kernel", "stationary input", "depth 1"),
    space=_decoupling_space, predict=_decoupled_rhs, measure=_pixel_gradient_spectra,
    tolerance=1e-12, proof=reductions.cnn_fourier, reference=theory_reference("r2-decoupling")))


CNN_FLOWS = (
    ("closed form", "Per-frequency closed form (white input)",
     r"\tau \dot u_f = 2\sqrt{N} u_f (s_f - u_f),\quad "
     r"u_f(t) = \frac{s_f E}{E - 1 + s_f/u_0},\ E = e^{2\sqrt{N} s_f t/\tau}",
     ("linear CNN", "full kernel", "white input", "one input channel", "depth 1"),
     ("white", 1), closed_forms.r3, "r3-closed-form-per-frequency"),
    ("stationary input", "Per-frequency closed form (stationary input)",
     r"\tau \dot u_f = 2\sqrt{N} u_f (s_f - \lambda_f u_f),\quad "
     r"u_f(t) = \frac{(s_f/\lambda_f) E}{E - 1 + s_f/(\lambda_f u_0)}",
     ("linear CNN", "full kernel", "stationary input", "one input channel", "depth 1"),
     ("stationary", 1), closed_forms.r3b, "r3b-stationary-input"),
    ("multi-channel input", "Saxe's solution for every singular mode of T_f (C_in > 1)",
     r"T_f = P_f S_f Q_f^*:\quad \tau \dot u_{fj} = 2\sqrt{N} u_{fj} (s_{fj} - u_{fj})",
     ("linear CNN", "full kernel", "white input", "several input channels", "depth 1",
      "enough channels"),
     ("white", 2), closed_forms.r3c, "r3c-multi-channel-input"),
)
"""The per-frequency closed forms: name, title, statement, hypotheses, (data, C_in) of the
instance space, the closed form that proves it, its section of docs/theory-reference.md."""

for name, title, statement, hypotheses, space, closed_form, section in CNN_FLOWS:
    _flow_theorem(name, title, statement, hypotheses, _cnn_space(*space), closed_form, section)


# R5: depth --------------------------------------------------------------------------------


def _r5(layers: int, field: str, stats, u0: float, tau: float, u=None) -> np.ndarray:
    """R5's ``field`` (``half_time`` or ``time_of_u`` at ``u``) per frequency, for
    ``C_in = N_o = 1``."""
    kernel = closed_forms.r5(layers).kernel(field)
    values = {"tau": tau, "s": np.abs(stats.output_spectrum()).ravel(),
              "lambda": np.real(stats.input_spectrum()).ravel(), "u_0": u0,
              "N": float(stats.n_pixels), "u": u}
    return kernel(**{name: values[name] for name in kernel.names})


def _deep_space(pick) -> Instance:
    n, layers = pick.integer(3, 7), pick.integer(3, 4)
    model = dataclasses.replace(instances.model(pick, full_kernel=True, dims=(1,), c_in=(1,),
                                                max_out=1), shape=(n,), kernel=(n,),
                                depth=layers - 1)
    seed, data = instances.seed(pick), pick.choice(("white", "stationary"))
    stats = instances.DATA[data](model, seed)
    u0 = 1e-2 * float(np.abs(stats.output_spectrum()).min())
    half = float(np.max(_r5(layers, "half_time", stats, u0, 1.0)))
    start = simulate.init_balanced(model, simulate.aligned_spectrum(stats, u0))
    return Instance(model, stats, start,
                    np.linspace(0, 1.5 * half, 61), u0, extra={"layers": layers, "half": half},
                    label=f"{data} input (seed {seed}), balanced aligned start, L = {layers}")


def _deep_run(instance: Instance) -> tuple[np.ndarray, np.ndarray]:
    """Simulated ``|M_f(t)|`` ``(T, F)`` and the mask of values inside
    ``(1.01 u0, 0.99 u_inf)``; trained once per instance (kept in ``extra``)."""
    if "run" not in instance.extra:
        run = simulate.train(simulate.Fast(instance.model, instance.stats), instance.params,
                             instance.times, tau=instance.tau, rtol=1e-11)
        strengths = np.abs(run.spectra).reshape(len(instance.times), -1)
        u_inf = (np.abs(instance.stats.output_spectrum())
                 / np.real(instance.stats.input_spectrum())).ravel()
        instance.extra["run"] = strengths, ((strengths > 1.01 * instance.u0)
                                            & (strengths < 0.99 * u_inf))
    return instance.extra["run"]


def _deep_predicted_times(instance: Instance) -> np.ndarray:
    """R5's implicit solution ``t(u)`` at the simulated strengths, over the half-way time."""
    strengths, inside = _deep_run(instance)
    with np.errstate(divide="ignore", invalid="ignore"):  # outside (u0, u_inf): masked
        t = _r5(instance.extra["layers"], "time_of_u", instance.stats, instance.u0,
                instance.tau, strengths)
    return np.where(inside, t, 0.0) / instance.extra["half"]


def _deep_simulated_times(instance: Instance) -> np.ndarray:
    _, inside = _deep_run(instance)
    return np.where(inside, instance.times[:, None], 0.0) / instance.extra["half"]


def _absolute(predicted, measured) -> float:
    return float(np.max(np.abs(np.asarray(predicted) - np.asarray(measured))))


register(Theorem(
    name="depth", title="Deep full-kernel CNNs: balanced reduction, implicit t(u)",
    statement=r"\tau \dot u_f = L N^{(L-1)/L} u_f^{2-2/L} (s_f - \lambda_f u_f)"
              r"\quad (L - 1 \text{ convolution layers; } t(u) \text{ implicit for } L > 2)",
    hypotheses=("linear CNN", "full kernel", "one input channel", "one output",
                "stationary input", "deep"),
    space=_deep_space, predict=_deep_predicted_times, measure=_deep_simulated_times,
    tolerance=1e-7, error=_absolute, proof=lambda: closed_forms.r5(3).derivation,
    reference=theory_reference("r5-deep-networks")))
