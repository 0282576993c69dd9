"""``symcnn analyze DATA``: what the theory predicts for a linear CNN and its fully connected
baseline learning your dataset (an .npz of x and y, ``digits`` or a zoo setup), with the
accuracy of each prediction, and optionally the training runs beside them."""

from __future__ import annotations

import argparse
import json

import numpy as np

from .. import __version__, analysis, progress
from .options import optional, output_dir

INIT_SCALE = 1e-4
"""Default of --init-scale."""
MARKERS = 40
"""About as many simulated times are drawn as markers."""


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "analyze", help="predict how a CNN and its FC baseline learn your dataset",
        description=__doc__.split("\n\n")[0].replace("``", ""))
    parser.add_argument("data", metavar="DATA",
                        help="an .npz file of x (P x C_in x spatial) and y (class indices "
                             "or targets), 'digits' (the reproduce extra) or a zoo setup")
    parser.add_argument("--kernel", type=int, nargs="+", metavar="K",
                        help="kernel size per spatial axis (default: full, or the setup's)")
    parser.add_argument("--channels", type=int, help="channels C >= 1 of the CNN and hidden "
                        "units of the FC baseline (default: twice the rank of Sigma_yx, or the "
                        "setup's)")
    parser.add_argument("--depth", type=int, help="convolution layers >= 1 (default 1)")
    parser.add_argument("--init-scale", type=float, default=INIT_SCALE,
                        help=f"std > 0 of the random initial weights (default {INIT_SCALE:g})")
    parser.add_argument("--seed", type=int, default=0, help="seed of the initial weights, >= 0")
    parser.add_argument("--whiten", action="store_true",
                        help="ZCA-whiten the samples first (on the support if singular)")
    parser.add_argument("--simulate", action="store_true",
                        help=f"train both networks too (D <= {analysis.MAX_SIMULATED})")
    parser.add_argument("--out", metavar="DIR",
                        help="write report.json and figure.png/.svg (the reproduce extra)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.set_defaults(func=run)


def checked(args: argparse.Namespace, shape: tuple[int, ...]) -> None:
    """Refuse an option out of range for data of ``shape``, naming it."""
    if args.kernel is not None:
        if len(args.kernel) != len(shape):
            raise ValueError(f"--kernel needs {len(shape)} size(s), one per spatial axis of "
                             f"the data (shape {shape}), got {len(args.kernel)}")
        for k, n in zip(args.kernel, shape, strict=True):
            if not 1 <= k <= n:
                raise ValueError(f"--kernel sizes must be from 1 to the image size {shape}, "
                                 f"got {' '.join(map(str, args.kernel))}")
    for name in ("channels", "depth"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise ValueError(f"--{name} must be an integer >= 1, got {getattr(args, name)}")
    if not (np.isfinite(args.init_scale) and args.init_scale > 0):
        raise ValueError(f"--init-scale must be a finite number > 0, got {args.init_scale:g}")
    if args.seed < 0:
        raise ValueError(f"--seed must be an integer >= 0, got {args.seed}")


def run(args: argparse.Namespace) -> int:
    out = None if args.out is None else output_dir("--out", args.out)
    plots = None if out is None else optional("symcnn.plots", "reproduce", "--out")
    if args.data == "digits":
        optional("sklearn", "reproduce", "symcnn analyze digits")
    with progress.quiet(args.quiet), progress.task("analyze", unit=""):
        found = analysis.source(args.data, args.whiten, args.simulate)
        checked(args, found.stats.shape)
        model = analysis.model_for(found, args.kernel and tuple(args.kernel), args.channels,
                                   args.depth)
        result = analysis.report(found.stats, model, args.init_scale, args.seed,
                                 args.simulate, found.description)
    print(json.dumps(result, indent=1) if args.json else text(result))
    if out is not None:
        out.mkdir(exist_ok=True)
        (out / "report.json").write_text(json.dumps(result, indent=1) + "\n")
        files = plots.save(figure(plots, result), out / "figure")
        if not args.json:
            print(f"written: {out / 'report.json'}, " + ", ".join(map(str, files)))
    return 0


def text(result: dict) -> str:
    """The report as text a researcher reads in 20 seconds."""
    data, model, nets = result["data"], result["model"], result["networks"]
    lines = [f"symcnn {__version__} analyze: {data['description']}",
             f"data   P = {data['samples'] or 'n/a'}, shape {tuple(data['shape'])}, C_in = "
             f"{data['c_in']}, N_o = {data['n_out']}, D = {data['D']}; stationarity "
             f"deviation {data['stationarity']:.3g}",
             f"model  CNN kernel {tuple(model['kernel'])}, C = {model['channels']}, depth "
             f"{model['depth']}; FC baseline hidden {model['fc_hidden']}",
             *_modes(result["modes"], nets), ""]
    for label, net in nets.items():
        lines += _network(label, net)
    lines += [f"warning {w}" for w in result["warnings"]]
    if any(net["simulation"] for net in nets.values()):
        lines += ["", *_simulation(nets)]
    return "\n".join(lines)


def _modes(modes: list[dict], nets: dict) -> list[str]:
    """The modes table: spectrum summary and both networks' predicted half-way times."""
    head = (f"{'a':>3} {'s_a':>8} {'f*_a':>8} {'|v^[f*]|':>8} {'mismatch':>8} "
            f"{'pair %':>6} {'n90':>4} {'CNN t1/2':>9} {'FC t1/2':>9}")
    rows = ["", "modes of Sigma_yx (pair %: power on +-f*; n90: frequencies holding 90%; "
                "t1/2: predicted half-way time, ~ an approximation)", head]
    for i, m in enumerate(modes):
        half = [_half_time(n, i) for n in nets.values()]
        rows.append(f"{m['a']:>3} {m['s']:8.4f} {_frequency(m['f_star']):>8} "
                    f"{m['v_hat_f_star']:8.3f} {m['mismatch']:8.3f} "
                    f"{100 * m['pair_power']:6.1f} {m['n90']:>4} {half[0]:>9} {half[1]:>9}")
    return rows


def _network(label: str, net: dict) -> list[str]:
    """Hypotheses, order, start and accuracy of one network's prediction."""
    fails = [f"{name} ({h['detail']})" for name, h in net["hypotheses"].items()
             if not h["holds"]]
    holds = [name for name, h in net["hypotheses"].items() if h["holds"]]
    lines = [f"{label:<4} hypotheses hold: {', '.join(holds) or 'none'}",
             f"{'':<4} fail: {'; '.join(fails) or 'none'}"]
    if net["why_not"]:
        return lines + [f"{'':<4} no prediction: {net['why_not']}"]
    accuracy = net["accuracy"]
    lines += [f"{'':<4} learning order {' '.join(map(str, net['learning_order']))}; start: "
              f"{net['start']}",
              f"{'':<4} {accuracy['kind']}: {accuracy['statement']}"]
    return lines + [f"{'':<4} neglects: {note}" for note in net["approximations"]]


def _simulation(nets: dict) -> list[str]:
    """Predicted against simulated half-way times, per network and mode."""
    lines = ["simulation (gradient flow, RK4) against prediction: half-way times"]
    for label, sim in ((k, n["simulation"]) for k, n in nets.items() if n["simulation"]):
        bound = sim["bound"]
        verdict = ("no stated bound" if bound is None else
                   f"{'within' if sim['within'] else 'OUTSIDE'} the stated {100 * bound:g}%")
        lines.append(f"{label}: {verdict}")
        lines.append(f"{'a':>5} {'predicted':>10} {'simulated':>10} {'error %':>9}")
        lines += [f"{a + 1:>5} {_number(p):>10} {_number(s):>10} "
                  f"{'-' if e is None else f'{100 * e:+.3f}':>9}"
                  for a, (p, s, e) in enumerate(zip(sim["predicted"], sim["simulated"],
                                                    sim["relative_error"], strict=True))]
    return lines


def _half_time(net: dict, a: int) -> str:
    """Mode ``a``'s predicted half-way time, ``~`` marking an approximation."""
    if not net["half_times"]:
        return "-"
    mark = "~" if net["accuracy"]["kind"] == "approximation" else ""
    return mark + _number(net["half_times"][a])


def _frequency(f: list[int]) -> str:
    """``f`` as ``3`` (1-D) or ``(1, 2)`` (2-D)."""
    return str(f[0]) if len(f) == 1 else str(tuple(f))


def _number(value: float | None) -> str:
    return "not reached" if value is None else f"{value:.4g}"


def figure(plots, result: dict):
    """Each mode's strength ``u_a(t) / s_a`` over time, CNN and FC: theory lines, simulation
    markers."""
    fig, axes = plots.figure(1, 2)
    s = np.array([m["s"] for m in result["modes"]])
    last = len(result["networks"]) - 1
    for i, (ax, (label, net)) in enumerate(zip(axes[0], result["networks"].items(),
                                               strict=True)):
        curves = net.get("curves")
        if curves is None:
            ax.set_title(f"{label}: no prediction")
            continue
        times, simulated = np.array(curves["times"]), curves.get("simulated")
        every = slice(None, None, max(1, len(times) // MARKERS))
        plots.strengths(ax, times, np.array(curves["predicted"]) / s,
                        None if simulated is None else np.array(simulated)[every] / s,
                        times[every], title=f"{label}: mode strengths" + (
                            " (theory: an approximation)"
                            if net["accuracy"]["kind"] == "approximation" else ""),
                        legend=i == last)
    return fig
