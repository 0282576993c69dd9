"""``symcnn codegen``: the numeric kernel of a closed form, optionally checked."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import codegen
from ..codegen import BACKENDS, CompilerNotFound

REDUCTIONS = ("r1", "r3", "r3b", "r3c", "r5")


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add ``symcnn codegen`` to an ``argparse`` subparsers object."""
    parser = subparsers.add_parser(
        "codegen", help="generate a kernel for a closed form",
        description="Generate (or fetch from the cache) the kernel of a closed form of "
                    "symcnn.closed_forms and print its source; --check compares it with "
                    "mpmath at 50 digits on a grid including extreme values.")
    parser.add_argument("reduction", choices=REDUCTIONS)
    parser.add_argument("--depth", type=int, default=2,
                        help="convolution layers for r5, L = depth + 1 layers (default 2)")
    parser.add_argument("--field", default="stable",
                        choices=["stable", "solution", "half_time", "u_inf", "time_of_u"],
                        help="which expression of the reduction (default stable)")
    parser.add_argument("--backend", default="numpy", choices=list(BACKENDS))
    parser.add_argument("--dps", type=int, default=30, help="digits, mpmath backend")
    parser.add_argument("--cache-dir", metavar="DIR", help="cache directory (default: "
                        "$SYMCNN_CACHE or the user cache directory)")
    parser.add_argument("--no-cache", action="store_true", help="do not use the cache")
    parser.add_argument("--out", metavar="FILE", help="write the source here")
    parser.add_argument("--check", action="store_true",
                        help="compare with the expression at 50 digits (mpmath) on a grid "
                             "with extreme values; exit 1 above 1e-12 (1e-25 for mpmath)")
    return parser


def run(args: argparse.Namespace) -> int:
    """``symcnn codegen``: returns the exit status."""
    from ..symbolic import closed_forms

    build = getattr(closed_forms, args.reduction)
    try:
        reduction = build(args.depth + 1) if args.reduction == "r5" else build()
    except ValueError as error:
        raise SystemExit(f"symcnn codegen: {error}") from None
    cache = False if args.no_cache else args.cache_dir
    try:
        kernel = reduction.kernel(args.field, backend=args.backend, dps=args.dps,
                                  cache=cache)
    except (CompilerNotFound, ValueError) as error:
        raise SystemExit(f"symcnn codegen: {error}") from None
    if args.out:
        Path(args.out).write_text(kernel.source)
    else:
        sys.stdout.write(kernel.source)
    print(f"{kernel!r}; {kernel.operations} operations after CSE; cache: "
          f"{kernel.path or 'off'}", file=sys.stderr)
    if args.check:
        roles = {sym: role for role, sym in reduction.symbols.items()}
        values = {a.name: ROLE_GRID.get(roles.get(a), ROLE_GRID["t"]) for a in kernel.args}
        error, compared = codegen.check(kernel, values)
        limit = 1e-25 if kernel.backend == "mpmath" else 1e-12
        ok = error <= limit and compared > 0
        print(f"check: {compared} points, largest relative difference from 50 digits "
              f"{error:.3g} ({'ok' if ok else 'FAILED'}, limit {limit:g})", file=sys.stderr)
        if not ok:
            return 1
    return 0


ROLE_GRID = {"t": [0.0, 1e-3, 0.37, 1.0, 7.5, 1e3], "s": [0.0, 1e-20, 1e-3, 0.37, 1.0, 7.5],
             "lam": [0.5, 2.3], "u0": [1e-300, 1e-12, 0.37, 5.0], "N": [1.0, 16.0, 1e3],
             "tau": [0.37, 1.0], "u": [1e-200, 1e-6, 0.1, 0.37, 2.0]}
"""Values of ``symcnn codegen --check``, by role (key of ``Reduction.symbols``)."""
