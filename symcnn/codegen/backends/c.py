"""The C backend: C99 source of ``symcnn_kernel``, compiled and loaded with ``ctypes``.

One loop over the broadcast arrays (any number of dimensions, zero strides on broadcast
axes); with ``inner``, rows along which only the inner arguments vary compute the hoisted
statements once. On x86-64 Linux (:data:`~symcnn.codegen.toolchain.VECTOR_MATH`) the
source first declares libmvec's SIMD variants of the math functions and clones the
function for AVX2, so that GCC vectorizes the loops; where that fails to build, the
kernel is built without them. A cache entry is three files: the sealed source (``.c``),
the library (``.so``) and a JSON manifest holding both checksums.
"""

from __future__ import annotations

import json
import platform
import re
from pathlib import Path
from string import Template

from sympy.printing.c import C99CodePrinter

from .. import cache, toolchain
from ..kernel import MAX_DIMS, CKernel
from .base import Backend, Spec

LIBMVEC = {"acos": 1, "acosh": 1, "asin": 1, "asinh": 1, "atan": 1, "atan2": 2, "atanh": 1,
           "cbrt": 1, "cos": 1, "cosh": 1, "erf": 1, "erfc": 1, "exp": 1, "exp10": 1,
           "exp2": 1, "expm1": 1, "hypot": 2, "log": 1, "log10": 1, "log1p": 1, "log2": 1,
           "pow": 2, "sin": 1, "sinh": 1, "tan": 1, "tanh": 1}
"""Functions with SIMD variants in glibc >= 2.35's libmvec (x86-64), by number of
arguments."""


class _CPrinter(C99CodePrinter):
    """C99 with numeric literals for constants (no ``M_PI``: not in strict C99)."""

    def __init__(self, settings=None):
        super().__init__({"math_macros": {}, **(settings or {})})

    def _print_exprel(self, expr):
        return f"symcnn_exprel({self._print(expr.args[0])})"

    def _print_NumberSymbol(self, expr):
        return repr(float(expr))

    _print_Pi = _print_Exp1 = _print_EulerGamma = _print_Catalan = _print_NumberSymbol
    _print_GoldenRatio = _print_NumberSymbol


HELPERS = """
static double symcnn_exprel(double z)
{
    return z == 0.0 ? 1.0 : expm1(z) / z;
}
"""
KERNEL_TEMPLATE = Template("""\
// Evaluates the outputs at every point of the broadcast shape (ndim >= 1 axes).
// in[k]: argument k, strides[k * ndim + d] its stride along axis d in elements
// (0 on broadcast axes); out[i]: C-contiguous output i.
${clones}void symcnn_kernel(int64_t ndim, const int64_t *shape, const double *const *in,
                   const int64_t *strides, double *const *out)
{
    int64_t count[${max_dims}] = {0};
    int64_t base[${n_in}] = {0};
    int64_t total = 1;
    for (int64_t d = 0; d < ndim; ++d)
        total *= shape[d];
    if (total == 0)
        return;
    const int64_t inner = shape[ndim - 1];
    const int64_t outer = total / inner;
${setup}    for (int64_t o = 0; o < outer; ++o) {
${rows}        for (int64_t d = ndim - 2; d >= 0; --d) {
            ++count[d];
            for (int k = 0; k < ${n_in}; ++k)
                base[k] += strides[k * ndim + d];
            if (count[d] < shape[d])
                break;
            for (int k = 0; k < ${n_in}; ++k)
                base[k] -= strides[k * ndim + d] * shape[d];
            count[d] = 0;
        }
    }
}
""")


class CBackend(Backend):
    """``"c"``: C99 from SymPy's ``C99CodePrinter``, built by the system C compiler."""

    name = "c"
    comment = "//"

    def settings(self, dps: int) -> dict:
        path = toolchain.find_c_compiler()
        if path is None:
            raise toolchain.CompilerNotFound("no C compiler found (looked for $CC, cc, gcc, "
                                             "clang on PATH); use backend 'numpy'")
        return {"compiler": toolchain.identity(path), "compiler_path": path}

    def key_parts(self, dps: int, compiler: str | None) -> dict:
        vector = toolchain.VECTOR_LIBS if toolchain.VECTOR_MATH else ()
        return {"compiler": compiler, "cflags": list(toolchain.CFLAGS) + list(vector),
                "machine": platform.machine()}

    def build(self, spec: Spec, directory: Path | None) -> CKernel:
        files = None if directory is None else _files(directory, spec.key)
        status, source, library = _cached(files, spec.key) if files else ("off", None, None)
        if library is None:
            source, library, vector = self.library(spec)
            if files is not None:
                _store(files, spec, source, library, vector)
        path = None if files is None else files[0]
        return CKernel(library, **spec.kernel_options(source, path, status),
                       compiler=spec.compiler)

    def library(self, spec: Spec) -> tuple[str, bytes, bool]:
        """``(source, library, vector)``: the kernel with libmvec's SIMD functions where
        available (:data:`~symcnn.codegen.toolchain.VECTOR_MATH`), else (compile or link
        failure) without them."""
        if toolchain.VECTOR_MATH:
            source = self.source(spec, vector=True)
            try:
                return source, toolchain.build_library(source, spec.compiler_path, True), True
            except RuntimeError:
                pass  # no libmvec, or a compiler without its attributes: the scalar kernel
        source = self.source(spec)
        return source, toolchain.build_library(source, spec.compiler_path, False), False

    def source(self, spec: Spec, vector: bool = False) -> str:
        """C99 source of ``symcnn_kernel``; with ``vector``, libmvec's SIMD variants of
        the math functions are declared and the function is cloned for AVX2."""
        printer, lowered = _CPrinter(), spec.lowered
        n_in = len(spec.args)
        general = self._loop(printer, "        ", range(n_in), lowered.hoisted, lowered)
        uses_exprel = "symcnn_exprel" in "\n".join(general)
        lines = [*self.header(spec), "#include <math.h>", "#include <stdint.h>", ""]
        if vector:  # the helper's expm1 too
            lines += _simd_declarations("\n".join(general) + (HELPERS if uses_exprel else ""))
        if uses_exprel:
            lines += [HELPERS.strip("\n"), ""]
        rows = self._rows(printer, spec, general) if spec.inner else general
        body = KERNEL_TEMPLATE.substitute(
            clones='__attribute__((target_clones("avx2", "default")))\n' if vector else "",
            max_dims=MAX_DIMS, n_in=n_in, setup=_lines(_setup(spec)),
            rows=_lines(_pointers(n_in, len(lowered.reduced)) + rows))
        return "\n".join(lines) + "\n" + body

    def _statements(self, printer, pairs, indent: str) -> list[str]:
        return [f"{indent}const double {sym} = {self.printed(printer, value)};"
                for sym, value in pairs]

    def _loop(self, printer, indent: str, loads, pre, lowered) -> list[str]:
        """The loop along the last axis: load the arguments ``loads``, compute the
        statements ``pre`` and the replacements, store the outputs."""
        inside = indent + "    "
        return ([f"{indent}for (int64_t j = 0; j < inner; ++j) {{"]
                + [f"{inside}const double a{k} = p{k}[j * s{k}];" for k in loads]
                + self._statements(printer, pre + lowered.replacements, inside)
                + [f"{inside}r{i}[j] = {self.printed(printer, e)};"
                   for i, e in enumerate(lowered.reduced)]
                + [f"{indent}}}"])

    def _rows(self, printer, spec: Spec, general: list[str]) -> list[str]:
        """A row: the hoisted loop where only the inner arguments vary, else ``general``."""
        moving, fixed = _split(spec)
        lowered = spec.lowered
        return (["        if (hoist) {"]
                + [f"            const double a{k} = p{k}[0];" for k in fixed]
                + self._statements(printer, lowered.hoisted, "            ")
                + self._loop(printer, "            ", moving, [], lowered)
                + ["        } else {"] + ["    " + line for line in general] + ["        }"])


def _split(spec: Spec) -> tuple[list[int], list[int]]:
    """Positions of the inner arguments and of the others."""
    positions = {a: k for k, a in enumerate(spec.args)}
    moving = sorted(positions[a] for a in spec.inner)
    return moving, [k for k in range(len(spec.args)) if k not in moving]


def _setup(spec: Spec) -> list[str]:
    """The strides along the last axis, and whether rows may use the hoisted loop."""
    lines = [f"    const int64_t s{k} = strides[{k} * ndim + ndim - 1];"
             for k in range(len(spec.args))]
    if spec.inner:
        steady = " && ".join([f"s{k} == 0" for k in _split(spec)[1]] or ["1"])
        lines += ["    // rows along which only the inner arguments vary: hoisted statements once",
                  f"    const int hoist = {steady};"]
    return lines


def _pointers(n_in: int, n_out: int) -> list[str]:
    """The start of a row in every input and output."""
    return ([f"        const double *const p{k} = in[{k}] + base[{k}];" for k in range(n_in)]
            + [f"        double *const r{i} = out[{i}] + o * inner;" for i in range(n_out)])


def _simd_declarations(text: str) -> list[str]:
    """Declarations of the SIMD variants of the libmvec functions called in ``text``."""
    vectorized = sorted(f for f in LIBMVEC if re.search(rf"\b{f}\(", text))
    if not vectorized:
        return []
    return (["// SIMD variants in glibc's libmvec: GCC vectorizes the loops without "
             "-ffast-math."]
            + [f'__attribute__((__simd__("notinbranch"))) double {f}'
               f'({", ".join(["double"] * LIBMVEC[f])});' for f in vectorized]
            + [""])


def _lines(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)


def _files(directory: Path, key: str) -> tuple[Path, Path, Path]:
    """The source, library and manifest of a cache entry."""
    return tuple(directory / f"{key}{ext}" for ext in (".c", ".so", ".json"))


def _cached(files: tuple[Path, Path, Path], key: str) -> tuple[str, str | None, bytes | None]:
    """``(status, source, library)`` of the cache entry: ``hit`` with both if every
    checksum matches, else ``miss`` (no file) or ``regenerated`` and None, None."""
    data, binary, meta = (cache.read(f) for f in files)
    if data is None and binary is None and meta is None:
        return "miss", None, None
    source = None if data is None else cache.unseal(data, "//", key)
    ok = (source is not None and binary is not None
          and _manifest(meta) == {"key": key, "source_sha256": cache.sha256(data),
                                  "library_sha256": cache.sha256(binary)})
    return ("hit", source, binary) if ok else ("regenerated", None, None)


def _manifest(meta: bytes | None) -> dict:
    """The key and checksums recorded in a manifest (empty if unreadable)."""
    try:
        recorded = json.loads(meta) if meta is not None else {}
    except (ValueError, UnicodeDecodeError):
        return {}
    if not isinstance(recorded, dict):
        return {}
    return {k: recorded.get(k) for k in ("key", "source_sha256", "library_sha256")}


def _store(files: tuple[Path, Path, Path], spec: Spec, source: str, library: bytes,
           vector: bool) -> None:
    sealed = cache.seal(source, "//").encode()
    meta = {"key": spec.key, "source_sha256": cache.sha256(sealed),
            "library_sha256": cache.sha256(library), "compiler": spec.compiler,
            "cflags": list(toolchain.CFLAGS),
            "libraries": list(toolchain.libraries(vector))}
    manifest = (json.dumps(meta, indent=1, sort_keys=True) + "\n").encode()
    # a warning points at compile's caller: store <- _store <- build <- compile <- caller
    cache.store(dict(zip(files, (sealed, library, manifest), strict=True)), stacklevel=4)
