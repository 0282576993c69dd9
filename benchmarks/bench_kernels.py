"""Throughput of the R3b closed-form kernels on one core, against lambdify and solve_ivp.

R3b: tau du/dt = 2 sqrt(N) u (s - lam u), u(0) = u0, per frequency. A "point" is one
(frequency, time) pair. Methods:

- ``codegen numpy`` / ``codegen C``: ``symcnn.codegen`` kernels of the stable form, by
  ``Reduction.kernel`` (specialised to times along the last axis: the statements free of
  ``t`` are computed once per frequency; the C kernel uses glibc's libmvec where it can);
- ``lambdify``: ``sympy.lambdify`` (default modules) of ``solution``, dsolve's closed form
  (after ``simplify``) not rewritten for stability;
- ``solve_ivp batched``: scipy's DOP853 (rtol 1e-10, and 1e-13 to approach the kernels'
  accuracy; atol 1e-20) on all frequencies at once (one system of F equations, vectorized
  right-hand side, ``t_eval`` = the times);
- ``solve_ivp per frequency``: the same, one scalar ODE per frequency (timed on a subset,
  scaled to all frequencies).

Accuracy is the largest relative error against the dsolve solution at 50 digits (mpmath) on
a random sample of points. The forms are ``symcnn.symbolic.closed_forms.r3b()``'s ``stable`` and
``solution``. Code generation (cache miss), cache hits and evaluation are timed separately.

Run from the repository root: ``python benchmarks/bench_kernels.py [--quick]``. Tables go
to standard output (Markdown), progress to standard error.
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # one core (before numpy is imported)

import argparse  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout's symcnn

import mpmath  # noqa: E402
import numpy as np  # noqa: E402
import sympy as sp  # noqa: E402
from scipy.integrate import solve_ivp  # noqa: E402

from symcnn import codegen  # noqa: E402
from symcnn.symbolic import closed_forms  # noqa: E402

ROLES = ("t", "s", "lam", "u0", "N", "tau")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def dsolve_solution(symbols: dict) -> sp.Expr:
    """R3b's solution as ``sympy.dsolve`` returns it (the 50-digit reference)."""
    t, s, lam, u0, n, tau = (symbols[k] for k in ROLES)
    u = sp.Function("u")
    ode = sp.Eq(tau * u(t).diff(t), 2 * sp.sqrt(n) * u(t) * (s - lam * u(t)))
    return sp.dsolve(ode, u(t), ics={u(0): u0}).rhs


def timed(function, repeats: int) -> tuple[float, object]:
    """Median wall time of ``repeats`` calls (after one warm-up call) and the last result."""
    result = function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), result


def grid(frequencies: int, times: int) -> dict:
    """A typical grid: N = 1024, strengths s_f over three decades, spectrum lam_f in
    [0.5, 1.5], u0 = 1e-6, tau = 1, times up to x = 2 sqrt(N) s t / tau = 640 (the
    textbook ``solution``'s exp(x) stays finite)."""
    rng = np.random.default_rng(0)
    return {"t": np.linspace(0.0, 10.0, times)[None, :],
            "s": np.sort(10.0 ** rng.uniform(-3, 0, frequencies))[::-1, None],
            "lam": rng.uniform(0.5, 1.5, (frequencies, 1)), "u0": 1e-6, "N": 1024.0,
            "tau": 1.0}


def extreme_grid(frequencies: int, times: int) -> dict:
    """s from 0 (exactly) to 10, u0 = 1e-300, x up to 1e5."""
    s = np.concatenate([[0.0, 1e-20], np.geomspace(1e-10, 10.0, frequencies - 2)])[:, None]
    t_max = 1e5 / (2 * np.sqrt(7.0) * 10.0) * 0.37
    return {"t": np.linspace(0.0, t_max, times)[None, :], "s": s, "lam": 2.3,
            "u0": 1e-300, "N": 7.0, "tau": 0.37}


def reference(solution, symbols, values: dict, sample: int, seed: int = 1):
    """(flat indices, 50-digit values) of dsolve's solution at a sample."""
    shape = np.broadcast_shapes(*(np.shape(v) for v in values.values()))
    rng = np.random.default_rng(seed)
    flat = rng.choice(int(np.prod(shape)), size=min(sample, int(np.prod(shape))),
                      replace=False)
    arrays = {k: np.broadcast_to(v, shape).ravel() for k, v in values.items()}
    args = [symbols[k] for k in ROLES]
    f = sp.lambdify(args, solution, modules="mpmath")
    limit = sp.lambdify(args, sp.limit(solution, symbols["s"], 0), modules="mpmath")
    out = []
    with mpmath.workdps(50):
        for i in flat:
            x = [mpmath.mpf(float(arrays[k][i])) for k in ROLES]
            out.append(mpmath.re((limit if x[1] == 0 else f)(*x)))
    return flat, out


def max_error(result, flat, ref) -> float:
    values = np.asarray(result, dtype=float).ravel()[flat]
    worst = 0.0
    with mpmath.workdps(50):
        for v, r in zip(values, ref, strict=True):
            if not np.isfinite(v):
                return float("inf")
            worst = max(worst, float(abs(mpmath.mpf(float(v)) - r) / abs(r)))
    return worst


def ivp_batched(values: dict, rtol: float = 1e-10) -> np.ndarray:
    s, lam = values["s"][:, 0], np.broadcast_to(values["lam"], values["s"].shape)[:, 0]
    rate = 2 * np.sqrt(values["N"]) / values["tau"]
    times = values["t"][0]

    def rhs(_, u):
        return rate * u * (s - lam * u)

    sol = solve_ivp(rhs, (times[0], times[-1]), np.full(len(s), values["u0"]),
                    method="DOP853", t_eval=times, rtol=rtol, atol=1e-20)
    assert sol.success, sol.message
    return sol.y


def ivp_single(values: dict, rows, rtol: float = 1e-10) -> np.ndarray:
    lam = np.broadcast_to(values["lam"], values["s"].shape)[:, 0]
    rate = 2 * np.sqrt(values["N"]) / values["tau"]
    times = values["t"][0]
    out = []
    for f in rows:
        s_f, lam_f = values["s"][f, 0], lam[f]
        sol = solve_ivp(lambda _, u, s_f=s_f, lam_f=lam_f: rate * u * (s_f - lam_f * u),
                        (times[0], times[-1]), [values["u0"]], method="DOP853",
                        t_eval=times, rtol=rtol, atol=1e-20)
        assert sol.success, sol.message
        out.append(sol.y[0])
    return np.array(out)


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    compiler = codegen.find_c_compiler()
    identity = codegen.toolchain.identity(compiler) if compiler else "no C compiler"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    import scipy

    return (f"{cpu}, {os.cpu_count()} cores (one used: OMP/OpenBLAS/MKL threads = 1), "
            f"{platform.system()} {platform.release()}, Python {platform.python_version()}, "
            f"numpy {np.__version__}, SymPy {sp.__version__}, mpmath {mpmath.__version__}, "
            f"scipy {scipy.__version__}, {identity}, load average {load:.2f} at the start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats and points")
    parser.add_argument("--frequencies", type=int, default=1000)
    parser.add_argument("--times", type=int, default=1000)
    options = parser.parse_args()
    repeats = 3 if options.quick else 15
    sample = 300 if options.quick else 2000
    single_rows = 5 if options.quick else 20
    print(f"Machine: {machine()}.\n")
    r3b = closed_forms.r3b()
    solution, symbols = r3b.solution, r3b.symbols
    exact = dsolve_solution(symbols)
    args = r3b.arguments("stable")
    roles = {v: k for k, v in symbols.items()}
    order = [roles[a] for a in args]
    print("Closed forms: `symcnn.symbolic.closed_forms.r3b()` (`stable` and `solution`); kernel "
          f"arguments ({', '.join(a.name for a in args)}); reference: `sympy.dsolve`'s "
          "solution evaluated with mpmath at 50 digits.\n")

    # code generation, cache, evaluation: timed separately
    backends = ["numpy"] + (["c"] if codegen.find_c_compiler() else [])
    kernels, gen_rows = {}, []
    with tempfile.TemporaryDirectory() as cache:
        for backend in backends:
            start = time.perf_counter()
            kernel = r3b.kernel("stable", backend=backend, cache=cache)
            miss = time.perf_counter() - start
            start = time.perf_counter()
            again = r3b.kernel("stable", backend=backend, cache=cache)
            hit = time.perf_counter() - start
            assert (kernel.cache_status, again.cache_status) == ("miss", "hit")
            kernels[backend] = again
            simd = "-" if backend == "numpy" else ("yes" if "__simd__" in again.source else "no")
            gen_rows.append(f"| {backend} | {kernel.operations} | {miss:.3f} | {hit:.4f} | "
                            f"{simd} |")
        if "c" in kernels:  # the general loop only: what hoisting gains
            kernels["c, no hoisting"] = r3b.kernel("stable", backend="c", cache=cache,
                                                   inner=())
        start = time.perf_counter()
        lambdified = sp.lambdify([symbols[k] for k in ROLES], solution)
        lambdify_time = time.perf_counter() - start
    print("| backend | operations after CSE | generate + load, cache miss (s) | "
          "load, cache hit (s) | libmvec |")
    print("| --- | --- | --- | --- | --- |")
    print("\n".join(gen_rows))
    print(f"\n`sympy.lambdify` of `solution`: {lambdify_time:.3f} s.\n")

    for name, build in (("typical", grid), ("extreme", extreme_grid)):
        values = build(options.frequencies, options.times)
        points = options.frequencies * options.times
        log(f"{name} grid: reference at 50 digits on {sample} points ...")
        flat, ref = reference(exact, symbols, values, sample)
        ordered = [values[k] for k in order]
        in_roles = [values[k] for k in ROLES]
        rows = []
        for backend, kernel in kernels.items():
            log(f"{name}: codegen {backend} ...")
            seconds, result = timed(lambda k=kernel, a=ordered: k(*a), repeats)
            rows.append((f"codegen {backend}", seconds, result))
        log(f"{name}: lambdify ...")
        with np.errstate(all="ignore"):
            seconds, result = timed(lambda a=in_roles: lambdified(*a), repeats)
        rows.append(("lambdify (`solution`)", seconds, np.broadcast_to(
            result, (options.frequencies, options.times))))
        if name == "typical":
            for rtol in (1e-10, 1e-13):
                log(f"{name}: solve_ivp batched, rtol {rtol:g} ...")
                seconds, result = timed(lambda v=values, r=rtol: ivp_batched(v, r),
                                        max(1, repeats // 5))
                rows.append((f"solve_ivp DOP853 batched, rtol {rtol:g}", seconds, result))
                log(f"{name}: solve_ivp per frequency ({single_rows} of them) ...")
                subset = np.linspace(0, options.frequencies - 1, single_rows).astype(int)
                start = time.perf_counter()
                part = ivp_single(values, subset, rtol)
                seconds = (time.perf_counter() - start) * options.frequencies / single_rows
                full = np.full((options.frequencies, options.times), np.nan)
                full[subset] = part
                keep = np.isin(flat // options.times, subset)
                rows.append((f"solve_ivp DOP853 per frequency, rtol {rtol:g}", seconds,
                             (full, flat[keep], [r for r, k in zip(ref, keep, strict=True)
                                                 if k])))
        fastest = "codegen c" if "c" in kernels else "codegen numpy"
        base = dict((label_, sec) for label_, sec, _ in rows)[fastest]
        print(f"### {name} grid: {options.frequencies} frequencies x {options.times} times "
              f"= {points:.0e} points\n")
        print(" ".join((grid if name == "typical" else extreme_grid).__doc__.split()))
        print(f"\n| method | s per grid | points/s | {fastest} is faster by | "
              "max rel. error (sample) | non-finite |")
        print("| --- | --- | --- | --- | --- | --- |")
        for label_, seconds, result in rows:
            if isinstance(result, tuple):
                result, idx, ref_part = result
                error = max_error(result, idx, ref_part)
                bad = "-"
            else:
                error = max_error(result, flat, ref)
                bad = int(np.sum(~np.isfinite(np.asarray(result, dtype=float))))
            print(f"| {label_} | {seconds:.4g} | {points / seconds:.3g} | "
                  f"{seconds / base:.3g}x | {error:.2g} | {bad} |")
        print()


if __name__ == "__main__":
    main()
