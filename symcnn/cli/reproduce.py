"""``symcnn reproduce``: the paper's findings derived, predicted, verified against simulation
and drawn, with report.md and report.json (the ``reproduce`` extra)."""

from __future__ import annotations

import argparse

from .. import progress
from .options import optional, output_dir


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "reproduce", help="derive, predict, simulate and draw the paper's findings",
        description=__doc__.split("\n\n")[0].replace("``", ""))
    parser.add_argument("--out", default="symcnn-reproduce", metavar="DIR",
                        help="directory for the figures, derivation and report "
                             "(default: symcnn-reproduce)")
    parser.add_argument("--quick", action="store_true",
                        help="smaller datasets and fewer seeds (about a minute)")
    parser.add_argument("--seed", type=int, default=0, help="seed of every dataset and "
                        "initialisation, >= 0 (default 0)")
    parser.add_argument("--torch", action="store_true",
                        help="add finding (g): a network trained by PyTorch against the "
                             "theory (the torch extra)")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Exit status 0 when every measure is inside its stated agreement, 1 otherwise."""
    out = output_dir("--out", args.out)
    if args.seed < 0:
        raise ValueError(f"--seed must be an integer >= 0, got {args.seed}")
    reproduce = optional("symcnn.reproduce", "reproduce", "symcnn reproduce")
    if args.torch:
        optional("symcnn.reproduce.torch_gd", "torch", "symcnn reproduce --torch")
    with progress.quiet(args.quiet):
        report = reproduce.run(out, quick=args.quick, seed=args.seed, torch=args.torch)
    for finding in report.findings:
        failed = [m.name for m in finding.measures if not m.holds]
        print(f"({finding.key}) {finding.title}: "
              + (f"outside the stated agreement: {', '.join(failed)}" if failed else
                 f"{len(finding.measures)} measures inside the stated agreement"))
    print(f"report: {out / 'report.md'}, {out / 'report.json'} ({report.seconds:.0f} s)")
    return 0 if report.holds else 1
