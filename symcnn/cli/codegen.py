"""``symcnn codegen``: the numeric kernel of a closed form, optionally checked."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import codegen, progress
from ..codegen import BACKENDS
from ..symbolic import registry
from ..symbolic.closed_forms import Reduction
from ..symbolic.closed_forms.base import FIELDS
from .options import bounded, output_file, within_limits

KERNEL_FIELDS = tuple(field for field in FIELDS if field != "ode")
"""The fields a kernel can be generated for (``ode`` is an equation, not an expression)."""
MAX_DPS = 1000
"""The largest --dps (--check compares with 50 digits). Measured, codegen r3 --backend mpmath
--check: 14 s at 30 digits, 18 s at 3000, 10 min at 30000."""


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "codegen", help="generate the numeric kernel of a closed form",
        description="Generate (or fetch from the cache) the kernel of a closed form of "
                    "symcnn.symbolic.registry and print its source; --check compares it with "
                    "SymPy's evalf at 50 digits on a grid including extreme values.")
    parser.add_argument("reduction", choices=registry.closed_forms_names(), metavar="NAME",
                        help="one of " + ", ".join(registry.closed_forms_names()))
    parser.add_argument("--depth", type=int,
                        help=f"convolution layers for r5, L = depth + 1 layers, 1 to "
                             f"{registry.get('r5').limits['depth']} (default 2)")
    parser.add_argument("--field", default="stable", choices=KERNEL_FIELDS,
                        help="which expression of the closed form (default stable)")
    parser.add_argument("--backend", default="numpy", choices=list(BACKENDS))
    parser.add_argument("--dps", type=int,
                        help=f"digits, mpmath backend, 1 to {MAX_DPS} (default 30)")
    parser.add_argument("--cache-dir", metavar="DIR", help="cache directory (default: "
                        "$SYMCNN_CACHE or the user cache directory)")
    parser.add_argument("--no-cache", action="store_true", help="do not use the cache")
    parser.add_argument("--out", metavar="FILE", help="write the source here")
    parser.add_argument("--check", action="store_true",
                        help="compare with the expression at 50 digits (evalf) on a grid "
                             "with extreme values; exit 1 above 1e-12 (1e-25 for mpmath)")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress on standard error (deriving, generating, compiling)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """``symcnn codegen``: returns the exit status."""
    with progress.quiet(args.quiet):
        return generate(args)


def generate(args: argparse.Namespace) -> int:
    """Derive, generate, print or write, and check; the exit status."""
    check_options(args)
    out = None if args.out is None else output_file("--out", args.out)
    options = {} if args.depth is None else {"depth": args.depth}
    reduction = registry.closed_form(args.reduction, **options)
    kernel = reduction_kernel(reduction, args)
    if out is not None:
        out.write_text(kernel.source)
    else:
        sys.stdout.write(kernel.source)
    print(f"{kernel!r}; {kernel.operations} operations after CSE; cache: "
          f"{kernel.path or 'off'}", file=sys.stderr)
    return check_kernel(reduction, kernel) if args.check else 0


def check_options(args: argparse.Namespace) -> None:
    """Refuse options out of range or that do not go together, before anything is derived."""
    if args.dps is not None and args.backend != "mpmath":
        raise ValueError(f"--dps applies to --backend mpmath, not to {args.backend}")
    if args.dps is not None:
        bounded("--dps", args.dps, MAX_DPS)
    if args.no_cache and args.cache_dir:
        raise ValueError("--cache-dir and --no-cache exclude each other")
    if args.cache_dir is not None and (not args.cache_dir or Path(args.cache_dir).is_file()):
        raise ValueError(f"--cache-dir {args.cache_dir!r}: give a directory (created if "
                         f"missing)")
    if args.depth is not None:
        entry = registry.get(args.reduction)
        if "depth" not in entry.options:
            raise ValueError(f"--depth applies to r5, not to {args.reduction}")
        within_limits(entry, {"depth": args.depth})


def reduction_kernel(reduction: Reduction, args: argparse.Namespace) -> codegen.Kernel:
    """The kernel of ``--field`` of ``reduction``; an error names the field."""
    fields = [field for field in KERNEL_FIELDS if getattr(reduction, field) is not None]
    if args.field not in fields:
        raise ValueError(f"{args.reduction} has no field {args.field}; its fields: "
                         f"{', '.join(fields) or 'none'}")
    options = {"backend": args.backend, "cache": False if args.no_cache else args.cache_dir}
    if args.dps is not None:
        options["dps"] = args.dps
    try:
        return reduction.kernel(args.field, **options)
    except ValueError as error:
        raise ValueError(f"{args.reduction} {args.field}: {error}") from None


def check_kernel(reduction: Reduction, kernel: codegen.Kernel) -> int:
    """``--check``: compare on :data:`ROLE_GRID`, report on stderr; the exit status."""
    roles = {sym: role for role, sym in reduction.symbols.items()}
    values = {a.name: ROLE_GRID.get(roles.get(a), ROLE_GRID["t"]) for a in kernel.args}
    error, compared = codegen.check(kernel, values)
    limit = 1e-25 if kernel.backend == "mpmath" else 1e-12
    ok = error <= limit and compared > 0
    print(f"check: {compared} points, largest relative difference from 50 digits "
          f"{error:.3g} ({'ok' if ok else 'FAILED'}, limit {limit:g})", file=sys.stderr)
    return 0 if ok else 1


ROLE_GRID = {"t": [0.0, 1e-3, 0.37, 1.0, 7.5, 1e3], "s": [0.0, 1e-20, 1e-3, 0.37, 1.0, 7.5],
             "lam": [0.5, 2.3], "u0": [1e-300, 1e-12, 0.37, 5.0], "N": [1.0, 16.0, 1e3],
             "tau": [0.37, 1.0], "u": [1e-200, 1e-6, 0.1, 0.37, 2.0],
             "eta": [1e-3, 0.05, 0.4], "c": [1.0, 4.0]}
"""Values of ``symcnn codegen --check``, by role (key of ``Reduction.symbols``)."""
