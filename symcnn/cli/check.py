"""``symcnn check``: check theorems, print a table (or JSON), exit 1 on any failure."""

from __future__ import annotations

import argparse
import importlib
import json
from contextlib import nullcontext

from .. import progress
from ..theorems import CATALOGUE, campaign, check
from ..theorems.report import catalogue, table
from .options import optional


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "check", help="check theorems: symbolic proof and full-network simulation",
        description="Check the catalogue's theorems (all by default): build and check each "
                    "symbolic proof, then compare each prediction with full-network "
                    "training on random instances inside its hypotheses. Exit status 1 "
                    "if any fails; each failure is printed with a reproducible instance.")
    parser.add_argument("theorems", nargs="*", metavar="THEOREM",
                        help="theorem names (default: all; see --list)")
    parser.add_argument("--examples", type=int, default=3,
                        help="random instances per theorem (default 3)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the instances")
    parser.add_argument("--jobs", type=int, default=1, metavar="N",
                        help="verify the instances in N processes (default 1: serially); "
                             "the results are the same")
    parser.add_argument("--dask", metavar="ADDRESS",
                        help="verify the instances as tasks on the Dask cluster whose "
                             "scheduler is at ADDRESS (e.g. tcp://host:8786; the dask "
                             "extra); the results are the same")
    parser.add_argument("--no-proof", action="store_true", help="skip the symbolic proofs")
    parser.add_argument("--load", action="append", default=[], metavar="MODULE",
                        help="import MODULE first (it registers its own claims)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress on standard error (instance i of N, the result)")
    parser.add_argument("--list", action="store_true", help="list the theorems and exit")
    parser.add_argument("--catalogue", action="store_true",
                        help="print the catalogue (statements, hypotheses) as Markdown and exit")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """``symcnn check``: returns the exit status (0: all pass, 1: a failure)."""
    with progress.quiet(args.quiet):
        return check_theorems(args)


def check_theorems(args: argparse.Namespace) -> int:
    """Load, list or check the theorems of ``args``; the exit status."""
    for module in args.load:
        try:
            importlib.import_module(module)
        except ImportError as error:
            raise ValueError(f"--load {module}: {error}") from None
    if args.catalogue:
        print(catalogue(), end="")
        return 0
    if args.list:
        for theorem in CATALOGUE.values():
            print(f"{theorem.name:28s} {theorem.title} ({theorem.reference or 'user claim'})")
        return 0
    unknown = [name for name in args.theorems if name not in CATALOGUE]
    if unknown:
        raise ValueError(f"unknown theorem(s) {', '.join(map(repr, unknown))}; "
                         f"known: {', '.join(CATALOGUE)}")
    with _cluster(args) as client:
        results = [check(name, args.examples, args.seed, proof=not args.no_proof,
                         jobs=args.jobs, dask=client)
                   for name in args.theorems or list(CATALOGUE)]
    if args.json:
        print(json.dumps([r.row() for r in results], indent=1))
    else:
        print(table(results))
        for r in results:
            for failure in r.failures():
                print(f"\n{failure}")
    return 0 if all(r.passed for r in results) else 1


def _cluster(args: argparse.Namespace):
    """A context giving the Client of ``--dask`` (None without it), shared by every
    theorem and closed at the end; ``--dask`` with ``--jobs`` above 1 refused first."""
    if args.dask is None:
        return nullcontext()
    if not args.dask.strip():
        raise ValueError(f"--dask must be a scheduler address such as tcp://host:8786, "
                         f"got {args.dask!r}")
    if args.jobs > 1:
        raise ValueError(f"--dask {args.dask} and --jobs {args.jobs}: the Dask cluster runs "
                         f"the instances; give one of them")
    optional("distributed", "dask", "symcnn check --dask")
    return campaign.connect(args.dask)
