"""(e) Small kernels in 2-D: where the kernel spectrum learned first peaks, against each
mode's dominant frequency ``f*``, and R4's prediction of it.

White input on 8x8 images, one output, ``Sigma_yx = v^T`` with designed unit patterns ``v``
(seeded gratings, grating pairs, blobs, mixtures), a 3x3 kernel with :data:`CHANNELS`
channels trained from tiny random weights through the linear phase (Fast engine, adaptive
RK4).  R4 (:func:`symcnn.theory.small_kernels.linearised`): every channel's kernel spectrum
turns to the top vector ``v_R4`` of ``D S^2 v = gamma_1^2 v`` (``S = diag|T_f|``, ``D`` the
Dirichlet matrix of the 3x3 kernel), and ``||M||`` grows like ``exp(2 gamma_1 t/tau)``.
``D`` couples ``f*`` and ``-f*``: when they are two apart along an axis (a component 1 or
3) their lobes overlap; if ``D[f*, -f*] > 0`` the top vector adds them in phase and peaks
between them, not at ``f*``; if ``D[f*, -f*] < 0`` they cancel there and the peak stays at
``f*``, where a weak grating inside the lobe can still move it."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import plots
from ..data import Statistics, blob, grating
from ..fourier import canonical, conjugate, kernel_spectrum
from ..model import LinearCNN
from ..simulate import Fast, init_random, train
from ..theorems.frequency import linearised_spectra
from ..theory.small_kernels import Linearisation, linearised
from .base import Finding, Measure, Settings

KEY = "e"
NAME = "small_kernels"
SHAPE, KERNEL, CHANNELS = (8, 8), (3, 3), 8
"""Image, kernel, channels: with several channels the kernel direction (the top singular
direction of their spectra) does not hang on one channel's random projection on ``v_R4``."""
INIT_SCALE = 1e-8
"""Scale of the random start."""
END = 1e-2
"""The runs end where R4's linearised flow from the same start reaches ``||M|| = END
||Sigma_yx||``: inside the linear phase, long enough for the other directions to fade."""
RTOL = {True: 1e-7, False: 1e-8}
"""Relative accuracy per step of the adaptive RK4 flow, quick and full runs (1e-7 changes
``M`` by about 1e-6 relative)."""
MAX_GAP = 0.85
"""Random mixtures are redrawn until ``gamma_2 / gamma_1 <= MAX_GAP``, so that the finite
linear phase separates the top direction."""


def _grating(rng, frequency, weight: float = 1.0) -> np.ndarray:
    """``weight`` times a grating at ``frequency``, random phase."""
    return weight * grating(SHAPE, frequency, rng.uniform(0, 2 * np.pi))


def _choice(rng, frequencies) -> tuple[int, int]:
    return frequencies[rng.integers(len(frequencies))]


def _pair(rng, strong, weak, low: float, high: float) -> np.ndarray:
    """Gratings at ``strong`` (weight ``a`` uniform in ``[low, high]``) and ``weak``
    (``sqrt(1 - a^2)``)."""
    a = rng.uniform(low, high)
    return _grating(rng, strong, a) + _grating(rng, weak, np.sqrt(1 - a**2))


def _mixture(rng) -> np.ndarray:
    """Three gratings at random frequencies, weights uniform in ``[0.2, 1]``."""
    return sum(_grating(rng, tuple(rng.integers(0, 8, 2)), rng.uniform(0.2, 1.0))
               for _ in range(3))


def _blob(rng) -> np.ndarray:
    return blob(SHAPE, rng.uniform(0, 8, 2), rng.uniform(0.8, 1.5))


DESIGNS = (
    ("grating, even f", lambda r: _grating(r, _choice(r, [(0, 2), (2, 2), (2, 4)]))),
    ("grating, lobes add", lambda r: _grating(r, _choice(r, [(0, 1), (0, 3), (1, 4),
                                                              (3, 4)]))),
    ("grating, lobes cancel", lambda r: _grating(r, _choice(r, [(1, 2), (2, 3), (1, 6),
                                                                 (3, 6)]))),
    ("blob", _blob),
    ("grating + weak neighbour", lambda r: _pair(r, (1, 2), (0, 2), 0.74, 0.84)),
    ("random mixture", _mixture),
    ("odd grating + weaker even", lambda r: _pair(r, (1, 4), (0, 2), 0.78, 0.84)),
    ("blob + grating", lambda r: _blob(r) + _grating(r, _choice(r, [(1, 4), (0, 3)]),
                                                     r.uniform(0.3, 0.5))),
)
"""``(label, pattern(rng))``, each pattern transposed with probability 1/2 (frequencies
``(f_1, f_2) -> (f_2, f_1)``); the quick run uses the first six."""


class Case(NamedTuple):
    """One dataset: its ``label``, ``|v_hat|`` (``weights``) and ``f*``, R4's linearisation
    ``r4``, the trained kernel direction ``kernel`` (top right singular vector of the
    ``C x N`` kernel spectra), and ``||M(t)||`` of training and of R4's linearised flow."""

    label: str
    weights: np.ndarray
    f_star: tuple[int, int]
    r4: Linearisation
    kernel: np.ndarray
    times: np.ndarray
    simulated: np.ndarray
    linear: np.ndarray

    @property
    def cosine(self) -> float:
        """``|<v_R4, v_sim>|`` (both unit)."""
        return float(abs(np.vdot(self.r4.kernel.ravel(), self.kernel.ravel())))

    @property
    def rate(self) -> float:
        """Measured ``d ln||M||/dt``: least-squares slope over the second half of the run."""
        late = self.times >= self.times[-1] / 2
        return float(np.polyfit(self.times[late], np.log(self.simulated[late]), 1)[0])


def _peak(spectrum: np.ndarray) -> tuple[int, int]:
    """The canonical member of the pair ``+-f`` where ``|spectrum|`` is largest."""
    moduli = np.abs(spectrum)
    return canonical(np.unravel_index(np.argmax(moduli), moduli.shape), SHAPE)


def _statistics(rng, build) -> Statistics:
    """White input and ``Sigma_yx = v^T``, ``v`` the normalised pattern, transposed with
    probability 1/2; random mixtures redrawn until ``gamma_2 / gamma_1 <= MAX_GAP``."""
    model = LinearCNN(SHAPE, KERNEL)
    while True:
        v = build(rng)
        v = v.T if rng.random() < 0.5 else v
        stats = Statistics(SHAPE, sxx=np.eye(v.size), syx=(v / np.linalg.norm(v)).reshape(1, -1))
        gamma = linearised(model, stats).gamma
        if gamma[1] <= MAX_GAP * gamma[0] or build is not _mixture:
            return stats


def _case(label: str, stats: Statistics, seed: int, points: int, rtol: float) -> Case:
    """Train from ``N(0, INIT_SCALE^2)`` weights (``seed``) until the linearised flow reaches
    :data:`END` (adaptive RK4 to ``rtol``), recording ``points`` times; the kernel direction
    at the end."""
    model = LinearCNN(SHAPE, KERNEL, channels=CHANNELS)
    r4, params = linearised(model, stats), init_random(model, INIT_SCALE, seed)
    scale = np.linalg.norm(stats.syx)
    times = _times(model, stats, params, r4.gamma[0], points)
    run = train(Fast(model, stats), params, times, rtol=rtol)
    spectra = kernel_spectrum(model, run.final[0])[:, 0].reshape(CHANNELS, -1)
    kernel = np.linalg.svd(spectra, full_matrices=False)[2][0].reshape(SHAPE)
    modes = stats.modes()
    return Case(label, modes.frequency_weights()[0], modes.dominant_frequencies()[0], r4,
                kernel, times, np.linalg.norm(run.maps.reshape(points, -1), axis=1) / scale,
                _linear_size(model, stats, params, times))


def _linear_size(model: LinearCNN, stats: Statistics, params, times) -> np.ndarray:
    """``||M(t)|| / ||Sigma_yx||`` of R4's linearised flow from ``params``."""
    return np.linalg.norm(linearised_spectra(model, stats, params, times), axis=1) / (
        np.linalg.norm(stats.syx))


def _times(model: LinearCNN, stats: Statistics, params, gamma: float,
           points: int) -> np.ndarray:
    """``points`` times from 0 to where the linearised ``||M||`` reaches :data:`END`
    (located on a grid of 400 times, up to twice the time ``||M(0)|| e^(2 gamma t/tau)``
    takes, ``gamma = gamma_1``)."""
    start = np.linalg.norm(model.end_to_end(params)) / np.linalg.norm(stats.syx)
    grid = np.linspace(0, np.log(END / start) / gamma, 400)
    reached = _linear_size(model, stats, params, grid) >= END
    if not reached.any():
        raise ValueError(f"the linearised flow from this start does not reach ||M|| = {END:g} "
                         f"||Sigma_yx|| by t = {grid[-1]:.3g} tau: its projection on the "
                         "growing directions is too small")
    return np.linspace(0, grid[np.argmax(reached)], points)


def _margin(spectrum: np.ndarray) -> float:
    """``|v|`` at its peak pair over its largest value off that pair."""
    moduli, peak = np.abs(spectrum), _peak(spectrum)
    off = moduli.copy()
    off[peak] = off[conjugate(peak, SHAPE)] = 0
    return float(moduli[peak] / off.max())


def _numbers(cases: list[Case]) -> dict:
    return {
        "datasets": [c.label for c in cases],
        "f_star": [list(c.f_star) for c in cases],
        "r4_peak": [list(_peak(c.r4.kernel)) for c in cases],
        "simulated_peak": [list(_peak(c.kernel)) for c in cases],
        "r4_peak_margin": [_margin(c.r4.kernel) for c in cases],
        "cosine": [c.cosine for c in cases],
        "gamma_1": [float(c.r4.gamma[0]) for c in cases],
        "gamma_2_over_gamma_1": [float(c.r4.gamma[1] / c.r4.gamma[0]) for c in cases],
        "measured_rate": [c.rate for c in cases],
        "end_map_over_limit": [float(c.simulated[-1]) for c in cases],
    }


def run(settings: Settings) -> Finding:
    """Finding (e): the first six :data:`DESIGNS` (quick) or all, each trained from its own
    seeded start; theory from R4, measures against the training runs."""
    designs = DESIGNS[:6] if settings.quick else DESIGNS
    points = 13 if settings.quick else 25
    cases = [_case(label, _statistics(settings.rng(i), build), settings.seed_of(100 + i),
                   points, RTOL[settings.quick]) for i, (label, build) in enumerate(designs)]
    cosine = min(c.cosine for c in cases)
    agree = sum(_peak(c.r4.kernel) == _peak(c.kernel) for c in cases)
    at_f = sum(_peak(c.kernel) == c.f_star for c in cases)
    rate = max(abs(c.rate / (2 * c.r4.gamma[0]) - 1) for c in cases)
    linear = max(np.max(np.abs(c.simulated / c.linear - 1)) for c in cases)
    n = len(cases)
    measures = [
        Measure("kernel_direction", cosine, 0.98, "worst |<v_R4, v_sim>| over the datasets: "
                "the trained 3x3 kernel spectrum (top singular direction over the channels) "
                "against R4's top vector", upper=False),
        Measure("peaks_agree", agree, n, f"datasets (of {n}) whose trained kernel spectrum "
                "peaks on the pair +-f where R4's top vector does", upper=False),
        Measure("peak_at_f_star", at_f, 1, "datasets whose trained kernel spectrum peaks at the "
                "dominant frequency +-f*", upper=False),
        Measure("peak_not_at_f_star", n - at_f, 1, "datasets whose trained kernel spectrum peaks "
                "off +-f*", upper=False),
        Measure("growth_rate", rate, 0.03, "worst |rate / (2 gamma_1/tau) - 1|, rate the "
                "log-slope of ||M|| over the second half of the run"),
        Measure("linearised_flow", linear, 0.025, "worst relative deviation of ||M(t)|| of "
                f"training from R4's linearised flow from the same start, up to ||M|| = {END:g} "
                "||Sigma_yx|| (the cubic terms)"),
    ]
    summary = (
        f"On 8x8 images with a 3x3 kernel ({CHANNELS} channels, white input, one output), "
        f"the kernel spectrum trained from random weights of scale {INIT_SCALE:g} turns to "
        f"R4's top vector (cosine >= {cosine:.4f} over {n} datasets) and peaks where it does "
        f"in {agree} of {n}; ||M|| grows at 2 gamma_1/tau to {rate:.1%} and follows R4's "
        f"linearised flow to {linear:.1%} up to ||M|| = {END:g} ||Sigma_yx||. "
        f"The peak sits at the dominant frequency f* in {at_f} datasets and elsewhere in "
        f"{n - at_f}. The Dirichlet coupling D of a 3x3 kernel joins f* and -f* when they are "
        "two apart along an axis (a component 1 or 3): if D[f*, -f*] > 0 their lobes add "
        "and the peak moves between them, if D[f*, -f*] < 0 they cancel there and it stays; "
        "a weak grating next to f*, inside its lobe, can take the peak.")
    return Finding(KEY, NAME, "Small kernels in 2-D: the first-learned kernel spectrum and "
                   "its peak", summary, measures, _draw(cases), _numbers(cases))


# Figure --------------------------------------------------------------------------------


ROWS = (("data $|\\hat v_f|$", lambda c: c.weights),
        ("training $|\\kappa_f|$", lambda c: c.kernel),
        ("R4 top vector $|v_f|$", lambda c: c.r4.kernel))


def _plane(ax, spectrum: np.ndarray, f_star, peak: bool):
    """``|spectrum| / max`` on the fftshifted frequency plane (0 central), ``+-f*`` circled
    and, if ``peak``, the peak pair crossed; returns the image."""
    moduli = np.abs(spectrum) / np.abs(spectrum).max()
    half = SHAPE[0] // 2
    image = ax.imshow(np.fft.fftshift(moduli), cmap="viridis", vmin=0, vmax=1, origin="lower",
                      extent=(-half - 0.5, half - 0.5, -half - 0.5, half - 0.5))
    marks = [(f_star, dict(marker="o", s=110, facecolors="none", edgecolors="black",
                           linewidths=3.0)),
             (f_star, dict(marker="o", s=110, facecolors="none", edgecolors="white",
                           linewidths=1.2))]
    marks += [(_peak(spectrum), dict(marker="x", s=40, c="tab:red", linewidths=1.8))] * peak
    for points, style in marks:
        pair = (np.array([points, conjugate(points, SHAPE)]) + half) % SHAPE[0] - half
        ax.scatter(pair[:, 1], pair[:, 0], **style)
    ax.set_xticks([-4, 0, 3])
    ax.set_yticks([-4, 0, 3])
    return image


def _draw(cases: list[Case]):
    fig, axes = plots.figure(4, len(cases), width=2.1, height=2.1)
    for column, case in enumerate(cases):
        peak = _peak(case.kernel)
        axes[0, column].set_title(f"{case.label}\nf* = {case.f_star}: " + (
            "peak at f*" if peak == case.f_star else f"peak {peak} $\\neq$ f*"),
            fontsize="small", color="black" if peak == case.f_star else "tab:red")
        for row, (name, spectrum) in enumerate(ROWS):
            image = _plane(axes[row, column], spectrum(case), case.f_star, row > 0)
            if column == 0:
                axes[row, column].set_ylabel(f"{name}\n$f_1$")
            if row == len(ROWS) - 1:
                axes[row, column].set_xlabel("$f_2$")
    fig.colorbar(image, ax=axes[:3, -1], label="$|\\cdot| / \\max$", shrink=0.8)
    grid = axes[3, 0].get_gridspec()
    for ax in axes[3]:
        ax.remove()
    _growth(fig.add_subplot(grid[3, :]), cases)
    fig.suptitle("3x3 kernels on 8x8 images: the trained kernel spectrum is R4's top vector; "
                 "its peak (red x) sits at f* (circles) only in some datasets")
    return fig


def _growth(ax, cases: list[Case]) -> None:
    """``||M(t)|| / ||Sigma_yx||``: training as markers, R4's linearised flow as lines."""
    for i, case in enumerate(cases):
        ax.semilogy(case.times, case.linear, color=plots.color(i))
        ax.semilogy(case.times, case.simulated, "o", color=plots.color(i), markersize=3.5,
                    markerfacecolor="none",
                    label=f"{case.label}: rate / $2\\gamma_1$ = "
                          f"{case.rate / (2 * case.r4.gamma[0]):.3f}")
    ax.set_xlabel("training time $t / \\tau$")
    ax.set_ylabel("$\\|M(t)\\| / \\|\\Sigma_{yx}\\|$")
    ax.set_title("Linear phase: lines R4's linearised flow from the same start, markers "
                 "training; $\\|M\\| \\sim e^{2\\gamma_1 t/\\tau}$")
    ax.legend(fontsize="x-small", ncols=2)
