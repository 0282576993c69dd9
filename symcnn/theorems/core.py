"""Theorems and claims: statement, hypotheses, proof, numeric verification, checking."""

from __future__ import annotations

import math
import numbers
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .. import progress
from ..checks import finite_array, flag
from ..data import Statistics
from ..instances import SEED_MAX, RandomPick
from ..model import FullyConnected, LinearCNN
from ..symbolic.derivation import Derivation, DerivationError
from ..theory import Theory
from . import campaign


class HypothesisFailed(ValueError):
    """A theorem applied to a (model, data) pair outside its hypotheses."""


@dataclass(frozen=True)
class Instance:
    """One (model, data, initialisation, times) configuration a theorem is checked on.

    ``params`` are the initial weights (None where the check does not train), ``u0`` the
    initial strength of a balanced aligned start (or the scale of a random one), ``extra``
    anything else the theorem needs. ``label`` says how the instance was made."""

    model: LinearCNN | FullyConnected
    stats: Statistics
    params: tuple | None = None
    times: np.ndarray | None = None
    u0: float | None = None
    tau: float = 1.0
    extra: dict = field(default_factory=dict)
    label: str = ""

    def describe(self) -> str:
        parts = [repr(self.model), self.label or "data given"]
        if self.u0 is not None:
            parts.append(f"u0 = {self.u0:.3g}")
        if self.times is not None and len(self.times):
            parts.append(f"times 0..{self.times[-1]:.4g} ({len(self.times)} points)")
        return "; ".join(parts)


def cnn_only(predicate: Callable) -> Callable:
    """``predicate(model, stats)``, failing for anything but a linear CNN."""
    def holds(model, stats) -> tuple[bool, str]:
        if not isinstance(model, LinearCNN):
            return False, f"{type(model).__name__} is not a linear CNN"
        return predicate(model, stats)
    return holds


def _theory_hypothesis(name: str) -> Callable:
    """The hypothesis ``name`` of :class:`~symcnn.theory.Theory` as a predicate."""
    def holds(model, stats) -> tuple[bool, str]:
        h = Theory(model, stats).hypotheses[name]
        return h.holds, h.detail
    return holds


HYPOTHESES: dict[str, Callable] = {
    "fully connected": lambda m, s: (isinstance(m, FullyConnected), type(m).__name__),
    "linear CNN": cnn_only(lambda m, s: (True, "LinearCNN")),
    "white input": _theory_hypothesis("white input"),
    "stationary input": cnn_only(_theory_hypothesis("stationary input")),
    "full kernel": cnn_only(lambda m, s: (m.full_kernel, f"kernel {m.kernel}, image {m.shape}")),
    "small kernel": cnn_only(
        lambda m, s: (not m.full_kernel, f"kernel {m.kernel}, image {m.shape}")),
    "one input channel": cnn_only(lambda m, s: (m.c_in == 1, f"C_in = {m.c_in}")),
    "several input channels": cnn_only(lambda m, s: (m.c_in > 1, f"C_in = {m.c_in}")),
    "one output": lambda m, s: (m.n_out == 1, f"N_o = {m.n_out}"),
    "depth 1": cnn_only(lambda m, s: (m.depth == 1, f"{m.depth} convolution layer(s)")),
    "deep": cnn_only(lambda m, s: (m.depth > 1, f"{m.depth} convolution layer(s)")),
    "enough channels": cnn_only(_theory_hypothesis("enough channels")),
}
"""Machine-checkable hypotheses on (model, data): name -> ``predicate(model, stats)``
returning ``(holds, detail)``."""


def hypothesis(name: str, replace: bool = False) -> Callable:
    """Decorator registering ``predicate(model, stats) -> (holds, detail)`` as hypothesis
    ``name`` (for user claims). A name already registered (a built-in such as ``"white
    input"``, or an earlier claim's) is refused with ``ValueError`` unless ``replace``: a
    claim cannot silently redefine what another theorem's hypothesis means."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"a hypothesis name must be a non-empty string, got {name!r}")
    if not flag("replace", replace) and name in HYPOTHESES:
        raise ValueError(f"a hypothesis named {name!r} is already registered; pass "
                         f"replace=True to redefine it")

    def register(predicate: Callable) -> Callable:
        if not callable(predicate):
            raise ValueError(f"hypothesis {name!r}: the predicate must be callable "
                             f"(model, stats) -> (holds, detail), got {predicate!r}")
        HYPOTHESES[name] = predicate
        return predicate
    return register


def max_relative_error(predicted, measured) -> float:
    """``max |predicted - measured| / max |measured|`` (divided by 1 where ``measured`` is all
    zero), of finite real or complex arrays of the same shape. Both are first scaled by the
    same power of two, that of their largest entry: no overflow or underflow on the way. A
    relative error beyond the float range is a ``ValueError``."""
    predicted = finite_array("predicted", predicted, complex_ok=True)
    measured = finite_array("measured", measured, complex_ok=True)
    if predicted.shape != measured.shape:
        raise ValueError(f"predicted has shape {predicted.shape}, measured {measured.shape}: "
                         f"they must be the same")
    largest = max(np.max(np.abs(part)) for a in (predicted, measured) for part in (a.real, a.imag))
    exponent = math.frexp(largest)[1]
    p, m = _times_power_of_two(predicted, -exponent), _times_power_of_two(measured, -exponent)
    difference = np.max(np.abs(p - m))
    with np.errstate(over="ignore", divide="ignore"):  # beyond the float range: refused
        if measured.any():
            error = difference / np.max(np.abs(m))
        else:  # divided by 1
            error = np.ldexp(difference, exponent)
    if not np.isfinite(error):
        raise ValueError(f"the relative error of predicted against measured exceeds the "
                         f"float range: max |measured| = {np.max(np.abs(measured)):.3g} "
                         f"against entries up to {largest:.3g}")
    return float(error)


def _times_power_of_two(a: np.ndarray, exponent: int) -> np.ndarray:
    """``a * 2**exponent`` (real or complex), exact unless an entry becomes subnormal."""
    scaled = np.ldexp(a.real, exponent)
    return scaled + 1j * np.ldexp(a.imag, exponent) if np.iscomplexobj(a) else scaled


@dataclass(frozen=True)
class Theorem:
    """A named claim about linear networks, checkable on instances.

    ``statement`` is LaTeX; ``hypotheses`` name entries of :data:`HYPOTHESES`; ``space``
    draws an instance inside them from a pick (:mod:`symcnn.instances`); ``predict`` and
    ``measure`` map an instance to arrays (the theory's prediction, the full-network
    simulation's measurement) compared by ``error`` (default
    :func:`max_relative_error`) against ``tolerance``; ``proof`` builds the checked
    :class:`~symcnn.symbolic.derivation.Derivation` that proves it (of a closed form, its
    :attr:`~symcnn.symbolic.closed_forms.Reduction.derivation`), where one exists.
    ``reference`` says where the claim is stated: for the built-ins a section of
    docs/theory-reference.md (:func:`theory_reference`; the catalogue links it).
    ``measured`` is an optional note on where an approximate claim holds, as measured."""

    name: str
    title: str
    statement: str
    hypotheses: tuple[str, ...]
    space: Callable
    predict: Callable
    measure: Callable
    tolerance: float
    error: Callable = max_relative_error
    proof: Callable[[], Derivation] | None = None
    reference: str = ""
    measured: str = ""

    def failed_hypotheses(self, model, stats) -> list[tuple[str, str]]:
        """``(name, detail)`` of each hypothesis that fails for ``(model, stats)``."""
        self.check_names()
        failed = []
        for name in self.hypotheses:
            holds, detail = HYPOTHESES[name](model, stats)
            if not holds:
                failed.append((name, detail))
        return failed

    def check_names(self) -> None:
        """Raise ``ValueError`` if a hypothesis is not in :data:`HYPOTHESES`."""
        unknown = [name for name in self.hypotheses if name not in HYPOTHESES]
        if unknown:
            raise ValueError(f"theorem {self.name!r}: unknown hypothesis {unknown[0]!r}; "
                             f"known: {', '.join(sorted(HYPOTHESES))}")

    def require(self, model, stats) -> None:
        """Raise :class:`HypothesisFailed` naming the first failing hypothesis."""
        failed = self.failed_hypotheses(model, stats)
        if failed:
            name, detail = failed[0]
            raise HypothesisFailed(f"theorem {self.name!r} does not apply: hypothesis "
                                   f"{name!r} fails ({detail})")

    def verify(self, instance: Instance) -> float:
        """The error of the prediction on ``instance`` (inside the hypotheses)."""
        self.require(instance.model, instance.stats)
        return float(self.error(self.predict(instance), self.measure(instance)))

    def instance(self, seed: int = 0, index: int = 0) -> Instance:
        """Instance ``index`` of ``symcnn check --seed seed``."""
        seed, index = _seed(seed), _integer("index", index, 0)
        return self.space(RandomPick(np.random.default_rng([seed, index])))


def _integer(name: str, value, low: int, high: int | None = None, what: str = "") -> int:
    """``value`` as an ``int`` in ``[low, high]``, or ``ValueError`` naming ``name``, the
    value and what is allowed (bools and non-integers refused)."""
    allowed = f"an integer >= {low}" if high is None else f"an integer from {low} to {high}"
    if not isinstance(value, numbers.Integral) or isinstance(value, (bool, np.bool_)) \
            or value < low or (high is not None and value > high):
        raise ValueError(f"{name} must be {allowed}{what}, got {value!r}")
    return int(value)


def _seed(seed) -> int:
    return _integer("seed", seed, 0, SEED_MAX, " (2**32 - 1)")


REFERENCE = "docs/theory-reference.md"
"""The package's reference for the theory, which the built-in theorems cite."""


def theory_reference(section: str) -> str:
    """``docs/theory-reference.md#section``: a :attr:`Theorem.reference` to the section with
    the GitHub anchor ``section`` (e.g. ``"r3b-stationary-input"``)."""
    return f"{REFERENCE}#{section}"


CATALOGUE: dict[str, Theorem] = {}
"""Registered theorems and claims by name (built-ins first, in the order of
docs/theory-reference.md)."""


def register(theorem: Theorem, replace: bool = False) -> Theorem:
    """Add ``theorem`` to :data:`CATALOGUE` (``symcnn check`` then checks it)."""
    if not isinstance(theorem, Theorem):
        raise TypeError(f"theorem must be a Theorem, got {type(theorem).__name__}")
    if not flag("replace", replace) and theorem.name in CATALOGUE:
        raise ValueError(f"a theorem named {theorem.name!r} is already registered")
    theorem.check_names()
    CATALOGUE[theorem.name] = theorem
    return theorem


def get(name: str) -> Theorem:
    """The registered theorem ``name``."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a theorem's name (a str), got {name!r}")
    if name not in CATALOGUE:
        raise ValueError(f"unknown theorem name {name!r}; known: {', '.join(CATALOGUE)}")
    return CATALOGUE[name]


@dataclass
class Result:
    """The outcome of :func:`check`."""

    theorem: Theorem
    proof: str
    instances: int
    max_error: float
    seed: int
    counterexample: str | None = None
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.counterexample is None and not self.proof.startswith("FAILED")

    def row(self) -> dict:
        t = self.theorem
        return {"theorem": t.name, "hypotheses": list(t.hypotheses), "proof": self.proof,
                "instances": self.instances, "max_error": self.max_error,
                "tolerance": t.tolerance, "status": "pass" if self.passed else "FAIL",
                "seed": self.seed, "seconds": round(self.seconds, 2),
                "counterexample": self.counterexample}

    def cells(self) -> list[str]:
        """The result's row of :func:`table`, a cell per column of :data:`COLUMNS`."""
        t = self.theorem
        cells = [t.name, ", ".join(t.hypotheses), self.proof.split("\n")[0],
                 str(self.instances), f"{self.max_error:.2g}", f"{t.tolerance:.2g}",
                 "pass" if self.passed else "FAIL"]
        return [cell.replace("|", "\\|") for cell in cells]

    def failures(self) -> list[str]:
        """What failed, a paragraph each: the counterexample, the failed proof."""
        failed = [f"counterexample: {self.counterexample}"] if self.counterexample else []
        if self.proof.startswith("FAILED"):
            failed.append(f"proof of {self.theorem.name}: {self.proof}")
        return failed

    def _repr_markdown_(self) -> str:
        """Jupyter's rendering: the result's row of :func:`table`, then each failure as
        text."""
        return "\n\n".join([table([self])] + [f"```text\n{failure}\n```"
                                              for failure in self.failures()])


COLUMNS = ("theorem", "hypotheses", "symbolic proof", "instances", "max error", "tolerance",
           "status")
"""The columns of :func:`table`."""


def table(results: list[Result]) -> str:
    """A Markdown table with :data:`COLUMNS`, a row per result (its first proof line; a
    ``|`` in a cell escaped)."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + " --- |" * len(COLUMNS)]
    lines += ["| " + " | ".join(r.cells()) + " |" for r in results]
    return "\n".join(lines)


def check(theorem: Theorem | str, examples: int = 3, seed: int = 0,
          proof: bool = True, jobs: int = 1, dask=None) -> Result:
    """Check ``theorem``: build and check its proof (if any, and ``proof``), then verify it on
    ``examples`` random instances inside its hypotheses (instance ``i`` from
    ``numpy.random.default_rng([seed, i])``). Stops at the first counterexample: an
    instance whose error exceeds the tolerance or whose check raises.

    Where the instances run (:mod:`symcnn.theorems.campaign`; the proof is built here
    meanwhile): ``jobs`` 1 serially here; ``jobs`` > 1 in that many forked processes;
    ``dask`` (a scheduler address, connected to and closed after, or a
    ``distributed.Client``; the ``dask`` extra) one task per instance on a Dask cluster,
    the theorem pickled there with the predicates of its hypotheses. The result is the
    same everywhere: instance ``i`` depends only on ``(seed, i)`` and the outcomes are read
    in index order, up to the first counterexample. A worker that dies holding an instance
    is replaced and the instance retried; one whose workers die more than
    :data:`~symcnn.theorems.campaign.ALLOWED_FAILURES` times (on Dask: ``KilledWorker``) is
    a counterexample. A Dask task cancelled (the cluster lost) is an ``OSError``.

    ``examples`` must be an integer >= 1, ``seed`` one from 0 to ``2**32 - 1``, ``proof``
    a bool, ``jobs`` an integer >= 1 and ``dask`` None, an address or a Client, not with
    ``jobs`` > 1 (``ValueError``, ``TypeError`` before anything runs). A failure of the
    claim itself (its proof, or building or checking an instance, raises) is reported in
    the :class:`Result`, never raised, so a caller checking several theorems gets a result
    for each. Progress (``symcnn check NAME: instance 2/3``, the proof's steps, the
    result) goes to :mod:`symcnn.progress`."""
    theorem = get(theorem) if isinstance(theorem, str) else theorem
    if not isinstance(theorem, Theorem):
        raise TypeError(f"theorem must be a Theorem or its name, got {theorem!r}")
    examples = _integer("examples", examples, 1, what=" (the number of random instances)")
    seed, proof = _seed(seed), flag("proof", proof)
    jobs = _integer("jobs", jobs, 1, what=" (the number of processes; 1 runs serially)")
    campaign.place(jobs, dask)
    hypotheses = {name: HYPOTHESES[name] for name in theorem.hypotheses if name in HYPOTHESES}
    start = time.perf_counter()
    with progress.task(f"check {theorem.name}", total=examples, unit="instance") as task, \
            campaign.outcomes(_verify_with, (hypotheses, theorem, seed), examples, jobs, dask,
                              label=f"check {theorem.name}") as outcomes:
        status = _proof_status(theorem, proof)
        worst, done, counterexample = 0.0, 0, None
        for index in range(examples):
            task.update()
            done = index + 1
            error, counterexample = _outcome(next(outcomes), theorem, seed, index)
            if error is not None:
                worst = max(worst, error) if np.isfinite(error) else np.inf
            if counterexample is not None:
                break
        result = Result(theorem, status, done, worst, seed, counterexample,
                        time.perf_counter() - start)
        task.result = (f"{'pass' if result.passed else 'FAIL'}, {done}/{examples} "
                       f"instances, max error {worst:.2g}")
    return result


Outcome = tuple[float | None, str | None]
"""An instance's error (None if it raised) and counterexample (None if it passed)."""


def _outcome(outcome: Outcome | campaign.Lost, theorem: Theorem, seed: int,
             index: int) -> Outcome:
    """``outcome``, or the counterexample a lost instance is."""
    if isinstance(outcome, campaign.Lost):
        return None, _counterexample(theorem, None, seed, index, outcome.why)
    return outcome


def _verify_with(hypotheses: dict[str, Callable], theorem: Theorem, seed: int,
                 index: int) -> Outcome:
    """:func:`_verify` after registering ``hypotheses`` (the theorem's predicates, which a
    fresh Dask worker process has not seen if they are a user claim's)."""
    HYPOTHESES.update(hypotheses)
    return _verify(theorem, seed, index)


def _proof_status(theorem: Theorem, proof: bool) -> str:
    """The proof column of ``theorem``'s row: its steps checked, FAILED, skipped or none."""
    if theorem.proof is None:
        return "none"
    if not proof:
        return "skipped (--no-proof)"
    with progress.task("proof"):
        try:
            return f"{len(theorem.proof().steps)} steps checked"
        except DerivationError as error:
            return f"FAILED: {error}"
        except Exception as exc:  # the claim's proof is broken: its row says so
            return f"FAILED: raised {_raised(exc)}"


def _raised(exc: Exception) -> str:
    """``Type: message (at file:line in function)``, the innermost frame: one line, where a
    traceback would flood the report."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {frames[-1].filename}:{frames[-1].lineno} in {frames[-1].name})" \
        if frames else ""
    return f"{type(exc).__name__}: {exc}{where}".replace("\n", " ")


def _verify(theorem: Theorem, seed: int, index: int) -> Outcome:
    """The error on instance ``index`` (None if building or checking it raises) and the
    counterexample it is (None if it passes)."""
    instance = None
    try:
        built = theorem.instance(seed, index)
        if not isinstance(built, Instance):
            raise TypeError(f"the space returned {type(built).__name__}, not an Instance")
        instance = built
        error = theorem.verify(instance)
    except Exception as exc:  # any failure is a counterexample, reported in full
        where = "checking it" if instance is not None else "building the instance"
        return None, _counterexample(theorem, instance, seed, index,
                                     f"{where} raised {_raised(exc)}")
    if error <= theorem.tolerance:
        return error, None
    return error, _counterexample(theorem, instance, seed, index,
                                  f"error {error:.3g} > tolerance {theorem.tolerance:.3g}")


def _counterexample(theorem, instance, seed, index, what: str) -> str:
    described = instance.describe() if instance is not None else "(not built)"
    return (f"{theorem.name}: {what}\n  instance: {described}\n"
            f"  reproduce: symcnn.theorems.get({theorem.name!r}).instance(seed={seed}, "
            f"index={index})")
