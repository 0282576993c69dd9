"""``symcnn derive``: derive, check and print an entry of :mod:`symcnn.symbolic.registry`, or
write every document of docs/derivations with ``--all --out DIR``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .. import progress
from ..symbolic import registry
from .options import flag, limits_help, output_file, within_limits

OPTIONS = {"shape": ("N", "image size, 1 or 2 entries, limited in pixels"),
           "kernel": ("K", "kernel size, at most the image size"),
           "channels": ("C", "channels"), "c_in": ("C_IN", "input channels"),
           "n_out": ("N_O", "outputs"), "depth": ("L", "convolution layers"),
           "n_in": ("D", "inputs, fully connected"),
           "hidden": ("H", "hidden width, fully connected"),
           "convention": ("NAME", "correlation or convolution")}
"""The derivation options of the command line (registry option -> metavar, help); the help
adds the entries that take each and their limits (:attr:`registry.Entry.limits`)."""


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "derive", help="derive and check a gradient flow or closed form, print it",
        description="Derive with SymPy, check every step, print the derivation; or write "
                    "every document of docs/derivations (--all --out DIR). The size options "
                    "are limited (see each) so that a derivation takes minutes, not hours.")
    parser.add_argument("derivation", nargs="?", choices=list(registry.ENTRIES),
                        metavar="NAME", help="one of " + ", ".join(registry.ENTRIES))
    parser.add_argument("--all", action="store_true",
                        help="write every document of docs/derivations (.tex and .md) to --out")
    options = parser.add_argument_group("derivation options (each applies to some entries)")
    for name, (metavar, text) in OPTIONS.items():
        text = f"{text} ({limits_help(name)})"
        if name in ("shape", "kernel"):
            options.add_argument(flag(name), type=int, nargs="+", metavar=metavar, help=text)
        elif name == "convention":
            options.add_argument(flag(name), choices=["correlation", "convolution"], help=text)
        else:
            options.add_argument(flag(name), type=int, metavar=metavar, help=text)
    parser.add_argument("--format", choices=["latex", "markdown"],
                        help="default markdown (--all writes both)")
    parser.add_argument("--out", metavar="PATH", help="write here instead of standard output "
                        "(a directory with --all)")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress on standard error (the step being checked)")
    parser.set_defaults(func=run)


def given_options(args: argparse.Namespace, entry: registry.Entry | None) -> dict:
    """The derivation options given on the command line, checked against ``entry``: that it
    takes them, within its limits."""
    given = {name: getattr(args, name) for name in OPTIONS if getattr(args, name) is not None}
    for name in given:
        if entry is None or name not in entry.options:
            where = [n for n, e in registry.ENTRIES.items() if name in e.options]
            target = entry.name if entry else "--all"
            raise ValueError(f"{flag(name)} applies to {', '.join(where)}, not to {target}")
    given = {name: tuple(v) if isinstance(v, list) else v for name, v in given.items()}
    if entry is not None:
        within_limits(entry, given)
    return given


def run(args: argparse.Namespace) -> int:
    """``symcnn derive``: returns the exit status."""
    with progress.quiet(args.quiet):
        return write_all(args) if args.all else derive(args)


def derive(args: argparse.Namespace) -> int:
    """One entry, to standard output or --out."""
    if args.derivation is None:
        raise ValueError("give a derivation NAME, or --all --out DIR")
    out = None if args.out is None else output_file("--out", args.out)
    start = time.perf_counter()
    entry = registry.get(args.derivation)
    derivation = entry.derivation(**given_options(args, entry))
    text = derivation.to_latex() if args.format == "latex" else derivation.to_markdown()
    report = f"{len(derivation.steps)} steps verified in {time.perf_counter() - start:.1f} s"
    if out is not None:
        out.write_text(text)
        print(f"{report}; written to {out}")
    else:
        print(text, end="")
        print(report, file=sys.stderr)
    return 0


def write_all(args: argparse.Namespace) -> int:
    """``--all``: each document of :data:`registry.FILES` as ``.tex`` and ``.md`` in --out."""
    if args.derivation is not None or args.out is None or args.format is not None:
        raise ValueError("--all writes every document as .tex and .md: give --out DIR, "
                         "and no NAME or --format")
    given_options(args, None)
    out = Path(args.out)
    if not out.is_dir():
        raise ValueError(f"--out {args.out}: not a directory")
    for stem in registry.FILES:
        start = time.perf_counter()
        derivation = registry.document(stem)
        for suffix in (".tex", ".md"):
            derivation.write(out / f"{stem}{suffix}")
        print(f"{out / stem}.{{tex,md}}: {len(derivation.steps)} steps verified in "
              f"{time.perf_counter() - start:.1f} s", file=sys.stderr)
    return 0
