"""Command line: ``symcnn simulate`` trains a zoo setup and summarises what it learned;
``symcnn derive`` derives, checks and prints a gradient flow or a closed form;
``symcnn codegen`` generates the numeric kernel of a closed form; ``symcnn check`` checks
theorems; ``symcnn zoo`` lists the setups."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from .. import __version__, zoo
from ..model import LinearCNN
from ..simulate import Dense, Fast, Samples, Trajectory, init_random, train
from ..symbolic import closed_forms, pixel, reductions
from ..theorems import report
from . import codegen as codegen_command

ENGINES = {"fast": Fast, "dense": Dense, "samples": Samples}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="symcnn", description=__doc__)
    parser.add_argument("--version", action="version", version=f"symcnn {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("zoo", help="list the named setups")
    sim = commands.add_parser("simulate", help="train a CNN and its fully connected baseline")
    sim.add_argument("--setup", default="stripes-vs-blobs-1d-16", choices=zoo.names())
    sim.add_argument("--engine", default="fast", choices=list(ENGINES))
    sim.add_argument("--method", default="flow", choices=["flow", "gd"])
    sim.add_argument("--t-end", type=float, help="training time (default: the setup's)")
    sim.add_argument("--points", type=int, default=41, help="recorded times")
    sim.add_argument("--init-scale", type=float, help="std of the random initial weights")
    sim.add_argument("--seed", type=int, default=0)
    sim.add_argument("--rtol", type=float, default=1e-8, help="adaptive RK4 accuracy")
    sim.add_argument("--lr", type=float, default=0.01, help="step for --method gd")
    sim.add_argument("--rows", type=int, default=11, help="rows of the printed table")
    sim.add_argument("--plot", metavar="FILE", help="save learning curves (needs matplotlib)")
    sim.add_argument("--quiet", action="store_true", help="no progress bar")
    der = commands.add_parser(
        "derive", help="derive and check a gradient flow, print it",
        description="Derive a gradient flow with SymPy, check every step, print the "
                    "derivation. Model options apply to the explicit-size derivations.")
    der.add_argument("derivation", choices=list(DERIVATIONS))
    der.add_argument("--convention", default="correlation",
                     choices=["correlation", "convolution"])
    model = der.add_argument_group("model (explicit sizes)")
    model.add_argument("--shape", type=int, nargs="+", metavar="N", help="image size, 1 or 2 "
                       f"entries (default {MODEL_DEFAULTS['shape'][0]})")
    model.add_argument("--kernel", type=int, nargs="+", metavar="K",
                       help="kernel size (default: full, K = N)")
    for name, help_text in (("channels", "C"), ("c-in", "C_in"), ("n-out", "N_o"),
                            ("depth", "convolution layers"), ("n-in", "D, fully connected"),
                            ("hidden", "H, fully connected")):
        model.add_argument(f"--{name}", type=int,
                           help=f"{help_text} (default {MODEL_DEFAULTS[name.replace('-', '_')]})")
    der.add_argument("--format", default="markdown", choices=["latex", "markdown"])
    der.add_argument("--out", metavar="FILE", help="write here instead of standard output")
    codegen_command.add_parser(commands)
    report.add_parser(commands)
    args = parser.parse_args(argv)
    if args.command == "zoo":
        for name in zoo.names():
            print(f"{name:24s} {zoo.get(name).description}")
        return 0
    if args.command == "derive":
        try:
            return derive(args)
        except ValueError as error:
            der.error(str(error))
    if args.command == "codegen":
        return codegen_command.run(args)
    if args.command == "check":
        return report.run(args)
    return simulate(args)


MODEL_DEFAULTS = {"shape": (4,), "kernel": None, "channels": 1, "c_in": 1, "n_out": 2,
                  "depth": 1, "n_in": 3, "hidden": 2}
CNN_OPTIONS = ("shape", "kernel", "channels", "c_in", "n_out", "depth")
MODEL_OPTIONS = {"pixel": CNN_OPTIONS, "fourier-explicit": CNN_OPTIONS,
                 "fully-connected": ("n_in", "hidden", "n_out"), "r4": ("shape", "kernel"),
                 "r5": ("depth",)}


def _model_options(args: argparse.Namespace) -> dict:
    """The model options given, checked against the derivation; defaults filled in."""
    allowed = MODEL_OPTIONS.get(args.derivation, ())
    given = [name for name in MODEL_DEFAULTS if getattr(args, name) is not None]
    for name in given:
        if name not in allowed:
            where = [d for d, names in MODEL_OPTIONS.items() if name in names]
            raise ValueError(f"--{name.replace('_', '-')} applies to {', '.join(where)}, "
                             f"not to {args.derivation}")
    return {name: MODEL_DEFAULTS[name] if getattr(args, name) is None else getattr(args, name)
            for name in allowed}


def _cnn(args: argparse.Namespace) -> LinearCNN:
    return LinearCNN(**_model_options(args), convention=args.convention)


DERIVATIONS = {
    "fully-connected": lambda args: reductions.fully_connected(**_model_options(args)),
    "cnn-fourier": lambda args: reductions.cnn_fourier(args.convention),
    "small-kernels": lambda args: reductions.small_kernels(args.convention),
    "pixel": lambda args: pixel.gradient_flow(_cnn(args)).derivation,
    "fourier-explicit": lambda args: reductions.explicit_fourier(_cnn(args)),
    "r1": lambda args: closed_forms.r1().derivation,
    "r3": lambda args: closed_forms.r3().derivation,
    "r3b": lambda args: closed_forms.r3b().derivation,
    "r3c": lambda args: closed_forms.r3c().derivation,
    "r4": lambda args: closed_forms.r4(*_r4_size(args)),
    "r5": lambda args: closed_forms.r5(_model_options(args)["depth"] + 1).derivation,
}


def _r4_size(args: argparse.Namespace) -> tuple[int, int]:
    """``(N, k)`` of ``derive r4``: 1-D, default ``N = 8``, ``k = 3``."""
    shape, kernel = args.shape or (8,), args.kernel or (3,)
    if len(shape) != 1 or len(kernel) != 1:
        raise ValueError("r4 is derived for 1-D models: give one --shape and one --kernel")
    LinearCNN(shape, kernel)  # checks 1 <= k <= N
    return shape[0], kernel[0]


def derive(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    _model_options(args)
    derivation = DERIVATIONS[args.derivation](args)
    text = derivation.to_latex() if args.format == "latex" else derivation.to_markdown()
    report = (f"{len(derivation.steps)} steps verified in "
              f"{time.perf_counter() - start:.1f} s")
    if args.out:
        Path(args.out).write_text(text)
        print(f"{report}; written to {args.out}")
    else:
        print(text, end="")
        print(report, file=sys.stderr)
    return 0


def simulate(args: argparse.Namespace) -> int:
    setup = zoo.get(args.setup)
    t_end = args.t_end or setup.t_end
    if args.method == "gd":
        t_end = round(t_end / args.lr) * args.lr
    times = np.linspace(0, t_end, max(args.points, 2))
    if args.method == "gd":
        times = np.round(times / args.lr) * args.lr
    scale = args.init_scale or setup.init_scale
    step = {"rtol": args.rtol} if args.method == "flow" else {"lr": args.lr}
    if args.engine == "samples":
        if setup.dataset is None:
            raise SystemExit(f"setup {setup.name} has statistics but no samples; "
                             "use --engine fast or dense")
        engine = Samples(setup.model, setup.dataset.x, setup.dataset.y)
    else:
        engine = ENGINES[args.engine](setup.model, setup.stats)
    runs = {}
    for label, model, eng in (("CNN", setup.model, engine),
                              ("FC", setup.baseline(), Dense(setup.baseline(), setup.stats))):
        if not args.quiet:
            print(f"training {label} ...", file=sys.stderr)
        runs[label] = train(eng, init_random(model, scale, args.seed), times,
                            method=args.method, progress=not args.quiet, **step)
    print(summary(setup, runs, args, scale, min(args.rows, len(times))))
    if args.plot:
        plot(setup, runs, args.plot)
    return 0


def summary(setup: zoo.Setup, runs: dict[str, Trajectory], args, scale: float,
            rows: int) -> str:
    modes = setup.stats.modes()
    frequencies, mismatch = modes.dominant_frequencies(), modes.mismatch()
    step = f"rtol {args.rtol:g}" if args.method == "flow" else f"lr {args.lr:g}"
    lines = [f"symcnn {__version__}: setup {setup.name}: {setup.description}",
             f"model: {setup.model}",
             f"data: P = {setup.stats.n_samples or 'n/a'}, stationarity deviation "
             f"{setup.stats.stationarity:.3g}",
             f"training: {args.method} ({step}), engine {args.engine}, "
             f"init N(0, {scale:g}^2), seed {args.seed}; "
             f"baseline FC hidden width {setup.model.channels}",
             "", "modes of Sigma_yx:",
             f"  {'a':>2} {'s_a':>9} {'f*_a':>10} {'sqrt(N)|v_hat[f*]|':>19}"]
    lines += [f"  {a + 1:>2} {s:9.4f} {str(f):>10} {m:19.3f}"
              for a, (s, f, m) in enumerate(zip(modes.s, frequencies, mismatch, strict=True))]
    shown = modes.s[:4]
    header = "".join(f" {'CNN u_' + str(a + 1):>9}" for a in range(len(shown)))
    header += "".join(f" {'FC u_' + str(a + 1):>9}" for a in range(len(shown)))
    lines += ["", f"  {'t':>8} {'loss CNN':>11} {'loss FC':>11}{header}"]
    strengths = {k: r.mode_strengths(modes)[:, : len(shown)] for k, r in runs.items()}
    cnn, fc = runs["CNN"], runs["FC"]
    for i in np.unique(np.linspace(0, len(cnn.times) - 1, rows).round().astype(int)):
        values = "".join(f" {u:9.4f}" for u in (*strengths["CNN"][i], *strengths["FC"][i]))
        lines.append(f"  {cnn.times[i]:8.3f} {cnn.loss[i]:11.5g} {fc.loss[i]:11.5g}{values}")
    target = np.einsum("oa,od,ad->a", modes.u, setup.stats.optimal_map(),
                       modes.v.reshape(len(modes.s), -1))
    half = {k: r.half_way_times(modes, target) for k, r in runs.items()}
    lines += ["", "half-way times (u_a reaches half its value u*_a in the optimal map "
              "Sigma_yx Sigma_xx^+):"]
    lines += [f"  mode {a + 1} (u* = {target[a]:.4f}): "
              + ", ".join(f"{k} {_time(half[k][a])}" for k in runs) for a in range(len(target))]
    for k in runs:
        reached = np.nonzero(~np.isnan(half[k]))[0]
        order = reached[np.argsort(half[k][reached])] + 1
        lines.append(f"learning order {k}: {', '.join(map(str, order)) or 'none yet'}")
    return "\n".join(lines)


def _time(t: float) -> str:
    return "not reached" if np.isnan(t) else f"{t:.3f}"


def plot(setup: zoo.Setup, runs: dict[str, Trajectory], path: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SystemExit("--plot needs matplotlib: pip install 'symcnn[plot]'") from None
    modes = setup.stats.modes()
    fig, (ax_u, ax_l) = plt.subplots(1, 2, figsize=(10, 4))
    for (label, run), style in zip(runs.items(), ("-", "--"), strict=True):
        for a, curve in enumerate(run.mode_strengths(modes).T):
            ax_u.plot(run.times, curve / modes.s[a], style, color=f"C{a}",
                      label=f"{label} mode {a + 1}")
        ax_l.plot(run.times, run.loss, style, color="k", label=label)
    ax_u.set(xlabel="t", ylabel="u_a(t) / s_a", title=f"{setup.name}: mode strengths")
    ax_l.set(xlabel="t", ylabel="loss", title="loss")
    ax_u.legend(fontsize=7)
    ax_l.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"figure written to {path}")
