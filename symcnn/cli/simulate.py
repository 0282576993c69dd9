"""``symcnn simulate``: train a zoo setup's CNN and its fully connected baseline, print the
learning curve of each of the dataset's modes and their half-way times."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from .. import __version__, progress, zoo
from ..simulate import Dense, Fast, Samples, Trajectory, init_random, train
from .options import optional

ENGINES = {"fast": Fast, "dense": Dense, "samples": Samples}
RTOL, LR = 1e-8, 0.01
"""Defaults of --rtol (flow) and --lr (gd)."""


def add_parser(commands) -> None:
    sim = commands.add_parser("simulate", help="train a CNN and its fully connected baseline")
    sim.add_argument("--setup", default="stripes-vs-blobs-1d-16", choices=zoo.names())
    sim.add_argument("--engine", default="fast", choices=list(ENGINES))
    sim.add_argument("--method", default="flow", choices=["flow", "gd"])
    sim.add_argument("--t-end", type=float, help="training time > 0 (default: the setup's)")
    sim.add_argument("--points", type=int, default=41, help="recorded times, >= 2")
    sim.add_argument("--init-scale", type=float,
                     help="std > 0 of the random initial weights (default: the setup's)")
    sim.add_argument("--seed", type=int, default=0, help="seed of the initial weights, >= 0")
    sim.add_argument("--rtol", type=float,
                     help=f"adaptive RK4 accuracy in (0, 1), --method flow (default {RTOL:g})")
    sim.add_argument("--lr", type=float, help=f"step > 0 for --method gd (default {LR:g})")
    sim.add_argument("--rows", type=int, default=11, help="rows of the printed table, >= 1")
    sim.add_argument("--plot", metavar="FILE", help="save learning curves (the reproduce extra)")
    sim.add_argument("--quiet", action="store_true", help="no progress on stderr")
    sim.set_defaults(func=run)


def checked(args: argparse.Namespace, setup: zoo.Setup) -> argparse.Namespace:
    """``args`` with the defaults filled in; a ValueError names an option that is out of
    range or does not apply to --method."""
    unused = "lr" if args.method == "flow" else "rtol"
    if getattr(args, unused) is not None:
        raise ValueError(f"--{unused} does not apply to --method {args.method}")
    args.rtol = RTOL if args.rtol is None and args.method == "flow" else args.rtol
    args.lr = LR if args.lr is None and args.method == "gd" else args.lr
    args.t_end = setup.t_end if args.t_end is None else args.t_end
    args.init_scale = setup.init_scale if args.init_scale is None else args.init_scale
    for name in ("t_end", "init_scale", "lr"):
        value = getattr(args, name)
        if value is not None and not (np.isfinite(value) and value > 0):
            raise ValueError(f"--{name.replace('_', '-')} must be a finite number > 0, "
                             f"got {value:g}")
    if args.rtol is not None and not 0 < args.rtol < 1:
        raise ValueError(f"--rtol must be in (0, 1), got {args.rtol:g}")
    for name, low in (("points", 2), ("rows", 1), ("seed", 0)):
        if getattr(args, name) < low:
            raise ValueError(f"--{name} must be >= {low}, got {getattr(args, name)}")
    if args.plot and not Path(args.plot).resolve().parent.is_dir():
        raise ValueError(f"--plot {args.plot}: the directory does not exist")
    if args.method == "gd" and args.t_end < args.lr:
        raise ValueError(f"--t-end {args.t_end:g} is shorter than one step (--lr {args.lr:g})")
    return args


def run(args: argparse.Namespace) -> int:
    setup = zoo.get(args.setup)
    args = checked(args, setup)
    t_end = args.t_end
    if args.method == "gd":
        t_end = round(t_end / args.lr) * args.lr
    times = np.linspace(0, t_end, args.points)
    if args.method == "gd":
        times = np.round(times / args.lr) * args.lr
    scale = args.init_scale
    step = {"rtol": args.rtol} if args.method == "flow" else {"lr": args.lr}
    if args.engine == "samples":
        if setup.dataset is None:
            raise ValueError(f"setup {setup.name} has statistics but no samples; "
                             "use --engine fast or dense")
        engine = Samples(setup.model, setup.dataset.x, setup.dataset.y)
    else:
        engine = ENGINES[args.engine](setup.model, setup.stats)
    runs = {}
    for label, model, eng in (("CNN", setup.model, engine),
                              ("FC", setup.baseline(), Dense(setup.baseline(), setup.stats))):
        try:
            with progress.quiet(args.quiet), progress.task(f"simulate {label}", unit=""):
                runs[label] = train(eng, init_random(model, scale, args.seed), times,
                                    method=args.method, **step)
        except ValueError as error:  # the options are checked: the weights are the cause
            raise ValueError(f"--init-scale {scale:g}: {error}") from None
        except FloatingPointError as error:  # divergence: name the options that set the run
            options = f"--init-scale {scale:g}, " + ", ".join(
                f"--{name} {value:g}" for name, value in step.items())
            raise FloatingPointError(f"{label} ({options}): {error}") from None
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
    plots = optional("symcnn.plots", "reproduce", "--plot")
    modes = setup.stats.modes()
    fig, ((ax_u, ax_l),) = plots.figure(1, 2)
    for (label, run), style in zip(runs.items(), ("-", "--"), strict=True):
        for a, curve in enumerate(run.mode_strengths(modes).T):
            ax_u.plot(run.times, curve / modes.s[a], style, color=f"C{a}",
                      label=f"{label} mode {a + 1}")
        ax_l.plot(run.times, run.loss, style, color="k", label=label)
    ax_u.set(xlabel="t", ylabel="u_a(t) / s_a", title=f"{setup.name}: mode strengths")
    ax_l.set(xlabel="t", ylabel="loss", title="loss")
    ax_u.legend(fontsize=7)
    ax_l.legend()
    fig.savefig(path, dpi=120)
    print(f"figure written to {path}")
