"""``symcnn codegen``: the numeric kernel of a closed form, optionally checked."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import codegen
from ..codegen import BACKENDS
from ..symbolic import registry
from ..symbolic.closed_forms.base import FIELDS


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "codegen", help="generate the numeric kernel of a closed form",
        description="Generate (or fetch from the cache) the kernel of a closed form of "
                    "symcnn.symbolic.registry and print its source; --check compares it with "
                    "SymPy's evalf at 50 digits on a grid including extreme values.")
    parser.add_argument("reduction", choices=registry.closed_forms_names(), metavar="NAME",
                        help="one of " + ", ".join(registry.closed_forms_names()))
    parser.add_argument("--depth", type=int,
                        help="convolution layers for r5, L = depth + 1 layers (default 2)")
    parser.add_argument("--field", default="stable", choices=FIELDS,
                        help="which expression of the closed form (default stable)")
    parser.add_argument("--backend", default="numpy", choices=list(BACKENDS))
    parser.add_argument("--dps", type=int, help="digits, mpmath backend (default 30)")
    parser.add_argument("--cache-dir", metavar="DIR", help="cache directory (default: "
                        "$SYMCNN_CACHE or the user cache directory)")
    parser.add_argument("--no-cache", action="store_true", help="do not use the cache")
    parser.add_argument("--out", metavar="FILE", help="write the source here")
    parser.add_argument("--check", action="store_true",
                        help="compare with the expression at 50 digits (evalf) on a grid "
                             "with extreme values; exit 1 above 1e-12 (1e-25 for mpmath)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """``symcnn codegen``: returns the exit status."""
    if args.dps is not None and args.backend != "mpmath":
        raise ValueError(f"--dps applies to --backend mpmath, not to {args.backend}")
    if args.no_cache and args.cache_dir:
        raise ValueError("--cache-dir and --no-cache exclude each other")
    options = {} if args.depth is None else {"depth": args.depth}
    if options and "depth" not in registry.get(args.reduction).options:
        raise ValueError(f"--depth applies to r5, not to {args.reduction}")
    reduction = registry.closed_form(args.reduction, **options)
    cache = False if args.no_cache else args.cache_dir
    kernel = reduction.kernel(args.field, backend=args.backend,
                              dps=30 if args.dps is None else args.dps, cache=cache)
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
             "tau": [0.37, 1.0], "u": [1e-200, 1e-6, 0.1, 0.37, 2.0],
             "eta": [1e-3, 0.05, 0.4], "c": [1.0, 4.0]}
"""Values of ``symcnn codegen --check``, by role (key of ``Reduction.symbols``)."""
