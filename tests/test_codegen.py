"""Generated kernels (symcnn.codegen): NumPy against mpmath at 50 digits on extreme grids,
mpmath against SymPy's evalf, C against NumPy, the disk cache, input validation, ``check``
(independent of the lowering), kernels rebuilt from their source without SymPy.

The test problem is R3b, tau du/dt = 2 sqrt(N) u (s - lam u), u(0) = u0, solved here by
``sympy.dsolve``. Its stable form is written in this file, for the tests only, and checked
against the ODE symbolically before any numerics: with c = 2 sqrt(N) t / tau,
    u = 1 / (lam c exprel(-c s) + e^{-c s} / u0),
which has no overflow (every term is bounded by 1/u0 or lam c) and no 0/0 at s = 0.
"""

import doctest
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import warnings
from functools import cache
from pathlib import Path

import mpmath
import numpy as np
import pytest
import sympy as sp

import symcnn
from symcnn import codegen, progress
from symcnn.codegen import (
    CompilerNotFound,
    Kernel,
    checking,
    compiler,
    exprel,
    functions,
    lowering,
    toolchain,
)
from symcnn.codegen import cache as codegen_cache
from symcnn.codegen import kernel as kernel_module
from symcnn.codegen.backends import BACKENDS
from symcnn.symbolic import closed_forms

ROOT = Path(__file__).resolve().parents[1]

EPS = np.finfo(float).eps
t, tau, s, lam, u0, N = sp.symbols("t tau s lambda u_0 N", positive=True)
ARGS = (t, s, lam, u0, N, tau)
RATE = 2 * sp.sqrt(N) * t / tau  # c: the exponent is -c s


@cache
def dsolve_solution() -> sp.Expr:
    u = sp.Function("u")
    ode = sp.Eq(tau * u(t).diff(t), 2 * sp.sqrt(N) * u(t) * (s - lam * u(t)))
    return sp.dsolve(ode, u(t), ics={u(0): u0}).rhs


@cache
def limit_at_s0() -> sp.Expr:
    return sp.limit(dsolve_solution(), s, 0)


def stable_form() -> sp.Expr:
    return 1 / (lam * RATE * exprel(-RATE * s) + sp.exp(-RATE * s) / u0)


@cache
def reference():
    """u(t) at 50 digits from dsolve's solution (its s -> 0 limit at s = 0), and the
    condition number |t du/dt / u| = |c (s - lam u)| from the ODE."""
    solution = sp.lambdify(ARGS, dsolve_solution(), modules="mpmath")
    at_zero = sp.lambdify(ARGS, limit_at_s0(), modules="mpmath")

    def value(*point):
        with mpmath.workdps(50):
            x = [mpmath.mpf(float(v)) for v in point]
            if x[1] == 0:
                return at_zero(*x)
            u = solution(*x)
            # dsolve's form takes the log of a negative number when lam u0 < s
            assert abs(mpmath.im(u)) <= mpmath.mpf(10) ** -40 * abs(u)
            return mpmath.re(u)

    return value


def reference_grid(*arrays):
    """Reference values and condition numbers over the broadcast of ``arrays``."""
    value = reference()
    grids = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in arrays))
    ref = np.empty(grids[0].shape, dtype=object)
    for index in np.ndindex(ref.shape):
        ref[index] = value(*(g[index] for g in grids))
    tt, ss, ll, _, nn, tt_au = grids
    with np.errstate(under="ignore"):
        condition = np.abs(2 * np.sqrt(nn) * tt / tt_au
                           * (ss - ll * ref.astype(float)))
    return ref, condition


def relative_error(got, ref) -> np.ndarray:
    got = np.asarray(got, dtype=object)
    out = np.empty(ref.shape)
    for index in np.ndindex(ref.shape):
        with mpmath.workdps(50):
            out[index] = float(abs(mpmath.mpf(got[index]) - ref[index]) / abs(ref[index]))
    return out


# The extreme grid: frequencies x times x initial strengths (broadcast), for given
# (lam, N, tau). x = 2 sqrt(N) s t / tau reaches 1e5 at the largest s and t.
S_VALUES = np.array([0.0, 1e-20, 1e-10, 1e-3, 0.1, 1.0, 3.7, 10.0])
U0_VALUES = np.array([1e-300, 1e-12, 0.5, 5.0])
PARAMETERS = [(2.3, 7.0, 0.37), (1.0, 1024.0, 1.0), (0.5, 1.0, 2.0)]


def extreme_grid(lam_v, n_v, tau_v, times=60):
    t_max = 1e5 * tau_v / (2 * np.sqrt(n_v) * S_VALUES.max())
    tt = np.concatenate([[0.0], np.geomspace(1e-3 * t_max, t_max, times)])
    return (tt[None, :, None], S_VALUES[:, None, None], lam_v, U0_VALUES[None, None, :],
            n_v, tau_v)


@pytest.fixture
def cache_path(tmp_path, monkeypatch):
    """Every kernel in these tests goes to a temporary cache."""
    path = tmp_path / "cache"
    monkeypatch.setenv("SYMCNN_CACHE", str(path))
    return path


# The stable form is R3b's solution --------------------------------------------------------


def test_stable_form_solves_the_ode():
    stable = stable_form()
    expanded = stable.rewrite(sp.exp)
    assert sp.simplify(expanded - dsolve_solution()) == 0
    residual = tau * stable.diff(t) - 2 * sp.sqrt(N) * stable * (s - lam * stable)
    assert sp.simplify(residual.rewrite(sp.exp)) == 0
    assert stable.subs(t, 0) == u0
    # at s = 0 the stable form is the limit itself (exprel(0) = 1), no 0/0
    assert sp.simplify(stable.subs(s, 0) - limit_at_s0()) == 0


# NumPy against mpmath at 50 digits -------------------------------------------------------


@pytest.mark.parametrize(("lam_v", "n_v", "tau_v"), PARAMETERS)
def test_numpy_kernel_matches_50_digits_on_extreme_grid(cache_path, lam_v, n_v, tau_v):
    kernel = codegen.compile(stable_form(), ARGS)
    grid = extreme_grid(lam_v, n_v, tau_v)
    with np.errstate(all="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        got = kernel(*grid)
    assert got.shape == (len(S_VALUES), 61, len(U0_VALUES))
    assert got.dtype == np.float64 and np.all(np.isfinite(got)) and np.all(got > 0)
    ref, condition = reference_grid(*grid)
    x = np.broadcast_to(2 * np.sqrt(n_v) * grid[1] * grid[0] / tau_v, got.shape)
    assert x.max() == pytest.approx(1e5)
    error = relative_error(got, ref)
    # 1e-13, plus the unavoidable part: x = c s is rounded (a few ulps) before exp, and
    # u's condition number in t is |c (s - lam u)|, up to ~x/2 ~ 350 in the transition
    # of u0 = 1e-300 (measured there: 1.4e-13).
    bound = 1e-13 + 2 * EPS * condition
    worst = np.unravel_index(np.argmax(error / bound), error.shape)
    assert np.all(error <= bound), (error[worst], condition[worst], worst)
    well_conditioned = condition <= 10
    assert well_conditioned.sum() > error.size / 2
    assert error[well_conditioned].max() <= 1e-13
    # s = 0 exactly and s = 1e-20: the limit u0 / (1 + lam c u0), to 1e-13
    assert error[:2].max() <= 1e-13


def test_numpy_kernel_large_times_reach_the_optimum(cache_path):
    kernel = codegen.compile(stable_form(), ARGS)
    ss = np.array([1e-3, 0.5, 2.0])[:, None]
    with np.errstate(all="raise"):
        u = kernel(1e9, ss, 2.0, 1e-300, 16.0, 1.0)
    np.testing.assert_allclose(u, np.broadcast_to(ss / 2.0, u.shape), rtol=1e-15)


def test_unstable_form_fails_the_extreme_grid(cache_path):
    """The checks above can fail: dsolve's own form (exp of a log of lam u0/(lam u0 - s))
    gives NaN, 0/0 at s = 0 and overflows."""
    kernel = codegen.compile(dsolve_solution(), ARGS)
    with np.errstate(all="raise"), pytest.raises(FloatingPointError):
        kernel(*extreme_grid(*PARAMETERS[0]))
    with np.errstate(all="ignore"):
        got = kernel(*extreme_grid(*PARAMETERS[0]))
    assert not np.all(np.isfinite(got))


# mpmath against SymPy's evalf at 50 digits -------------------------------------------------

EVALF_POINTS = [  # (t, s, lam, u0, N, tau)
    (0.75, 0.3, 2.3, 1e-3, 7.0, 0.37),
    (3.0, 0.0, 2.3, 0.25, 16.0, 1.0),  # s = 0 exactly: the limit
    (5e3, 1e-20, 1.0, 1e-300, 1024.0, 1.0),
    (699.3, 10.0, 2.3, 1e-300, 7.0, 0.37),  # x = 1e5
    (2.5, 1.7, 0.5, 5.0, 3.0, 2.0),  # u0 above s/lam: decreasing
    (0.0, 1.0, 1.0, 0.125, 4.0, 1.0),  # t = 0: u0
]


def test_mpmath_kernel_matches_evalf_50_digits(cache_path):
    kernel = codegen.compile(stable_form(), ARGS, backend="mpmath", dps=50)
    for point in EVALF_POINTS:
        got = kernel(*point)
        assert isinstance(got, mpmath.mpf)
        exact = {a: sp.Rational(v) for a, v in zip(ARGS, point, strict=True)}  # the doubles
        expr = limit_at_s0() if point[1] == 0 else dsolve_solution()
        want = sp.re(expr.subs(exact).evalf(50))
        # and the stable form through evalf (exprel's own evalf), at s = 0 too
        stable = stable_form().subs(exact).evalf(50)
        with mpmath.workdps(60):
            want = mpmath.mpf(sp.Float(want, 50)._mpf_)
            assert abs(got - want) <= mpmath.mpf(10) ** -47 * abs(want), point
            assert abs(mpmath.mpf(stable._mpf_) - want) <= mpmath.mpf(10) ** -47 * abs(want)


def test_mpmath_kernel_precision_and_exact_inputs(cache_path):
    x = sp.Symbol("x")
    k30 = codegen.compile(sp.exp(x) - 1, [x], backend="mpmath", dps=30)
    k60 = codegen.compile(sp.exp(x) - 1, [x], backend="mpmath", dps=60)
    assert k30.key != k60.key
    # strings are read at the kernel's precision; exp(x) - 1 went through expm1
    got = k60("1e-40")
    with mpmath.workdps(80):
        want = mpmath.expm1(mpmath.mpf("1e-40"))
        assert abs(got - want) <= mpmath.mpf(10) ** -59 * want
    out = k30(np.array([[0.0, 1.0], [2.0, 3.0]]))
    assert out.shape == (2, 2) and out.dtype == object
    assert all(isinstance(v, mpmath.mpf) for v in out.ravel())


# C against NumPy ---------------------------------------------------------------------------


def c_kernel(expr=None, args=ARGS, **options) -> Kernel:
    if codegen.find_c_compiler() is None:
        pytest.skip("no C compiler: none of $CC, cc, gcc, clang is on PATH")
    return codegen.compile(stable_form() if expr is None else expr, args, backend="c",
                           **options)


@pytest.mark.parametrize("inner", [(), (u0,)])  # u0 is the grid's last axis: hoisted loop
@pytest.mark.parametrize(("lam_v", "n_v", "tau_v"), PARAMETERS)
def test_c_kernel_matches_numpy(cache_path, lam_v, n_v, tau_v, inner):
    kernel = c_kernel(inner=inner)
    numpy_kernel = codegen.compile(stable_form(), ARGS)
    grid = extreme_grid(lam_v, n_v, tau_v, times=400)
    got = kernel(*grid)
    with np.errstate(all="raise"):
        want = numpy_kernel(*grid)
    assert got.shape == want.shape and np.all(np.isfinite(got))
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=0)


@pytest.mark.parametrize("inner", [(), (t,)])
def test_c_kernel_strides_and_shapes(cache_path, inner):
    """Case 1 has only the times along the last axis (the hoisted loop for inner = t);
    case 2 has u0 there too (the general loop)."""
    kernel = c_kernel(inner=inner)
    numpy_kernel = codegen.compile(stable_form(), ARGS)
    rng = np.random.default_rng(0)
    modes = rng.uniform(0.1, 2.0, size=(3, 1, 1))
    freq = rng.uniform(0.0, 1.0, size=(1, 5, 1))
    times = np.linspace(0, 9, 14)[::-2]  # negative stride
    big = rng.uniform(1e-6, 1.0, size=(6, 10))[:, ::2].T  # non-contiguous, transposed
    cases = [
        (times, modes * freq, 1.3, 1e-4, 16.0, 1.0),  # modes x frequencies x times
        (big, 0.5, 1.0, big[::-1], 4.0, 0.5),
        (2.0, 0.3, 1.0, 0.01, 16.0, 1.0),  # all scalars: 0-d output
        (np.zeros((0, 3)), 1.0, 1.0, 0.5, 4.0, 1.0),  # empty
    ]
    for case in cases:
        got, want = kernel(*case), numpy_kernel(*case)
        assert got.shape == want.shape == np.broadcast_shapes(*(np.shape(a) for a in case))
        np.testing.assert_allclose(got, want, rtol=1e-14, atol=0)


def test_c_kernel_without_libmvec_is_scalar(cache_path, monkeypatch):
    """A failed link with libmvec (here: a missing library) gives the scalar kernel."""
    monkeypatch.setattr(toolchain, "VECTOR_MATH", True)
    monkeypatch.setattr(toolchain, "VECTOR_LIBS", ("-lsymcnn_no_such_library", "-lm"))
    kernel = c_kernel(inner=(t,), cache=False)
    assert "__simd__" not in kernel.source and "target_clones" not in kernel.source
    grid = extreme_grid(1.3, 16.0, 1.0, times=50)
    np.testing.assert_allclose(kernel(*grid), codegen.compile(stable_form(), ARGS)(*grid),
                               rtol=1e-14, atol=0)


@pytest.mark.parametrize("name", ["stable", "r1", "r3", "r3b", "r3c", "r5"])
def test_hoisting_only_regroups(name):
    """Substituting the hoisted and CSE statements back gives the expression exactly."""
    if name == "stable":
        expr, args, inner = stable_form(), ARGS, (t,)
    else:
        expr = reduction(name).stable
        args = reduction(name).arguments("stable")
        inner = (reduction(name).symbols["t"],)
    hoisted, replacements, (reduced,), _ = lowering.lower([expr], args, inner)
    assert hoisted and all(sym.name != "a0" for _, v in hoisted for sym in v.free_symbols)
    for symbol, value in reversed(hoisted + replacements):
        reduced = reduced.xreplace({symbol: value})
    assert reduced == lowering.rewrite(expr.xreplace(lowering.renaming(args)))


def test_without_compiler_c_backend_says_so(cache_path, monkeypatch):
    monkeypatch.setattr(toolchain, "find_c_compiler", lambda: None)
    with pytest.raises(CompilerNotFound, match="no C compiler found.*cc, gcc, clang"):
        codegen.compile(stable_form(), ARGS, backend="c")


# Broadcasting, blocks, several outputs -------------------------------------------------------


def test_numpy_blocks_equal_one_pass_and_pointwise(cache_path, monkeypatch):
    kernel = codegen.compile(stable_form(), ARGS)
    rng = np.random.default_rng(1)
    grid = (rng.uniform(0, 5, size=(1, 7, 1, 9)), rng.uniform(0, 2, size=(5, 1, 3, 1)),
            1.5, rng.uniform(1e-3, 1, size=(3, 1)), 16.0, 1.0)
    whole = kernel(*grid)
    monkeypatch.setattr(kernel_module, "BLOCK", 10)  # blocks along an inner axis, ragged ends
    blocked = kernel(*grid)
    np.testing.assert_array_equal(blocked, whole)
    arrays = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in grid))
    for index in [(0, 0, 0, 0), (4, 6, 2, 8), (2, 3, 1, 5)]:
        point = [a[index] for a in arrays]
        assert kernel(*point) == whole[index]
    named = {"lambda": 1.5, "u_0": grid[3], "N": 16.0, "tau": 1.0}
    assert kernel(*grid[:2], **named).shape == whole.shape


def test_several_outputs_and_constants(cache_path):
    x, y = sp.symbols("x y", real=True)
    exprs = [sp.exp(-x) * sp.cos(y) + sp.pi, sp.log(1 + x**2), sp.Integer(3)]
    for backend in ("numpy", "mpmath") + (("c",) if codegen.find_c_compiler() else ()):
        kernel = codegen.compile(exprs, [x, y], backend=backend)
        a, b, c = kernel(np.array([0.0, 1e-8, 2.0])[:, None], np.array([0.0, 1.0]))
        assert np.shape(a) == np.shape(b) == np.shape(c) == (3, 2)
        xx, yy = np.meshgrid([0.0, 1e-8, 2.0], [0.0, 1.0], indexing="ij")
        np.testing.assert_allclose(np.asarray(a, float), np.exp(-xx) * np.cos(yy) + np.pi,
                                   rtol=1e-15)
        np.testing.assert_allclose(np.asarray(b, float), np.log1p(xx**2), rtol=1e-15)
        np.testing.assert_array_equal(np.asarray(c, float), 3.0)


# exprel -----------------------------------------------------------------------------------


def test_exprel():
    z = sp.Symbol("z")
    assert exprel(0) == 1 and exprel(-sp.oo) == 0
    derivative = exprel(-z).diff(z)
    assert sp.simplify(derivative.rewrite(sp.exp) - sp.diff((1 - sp.exp(-z)) / z, z)) == 0
    assert abs(derivative.subs(z, 1).evalf(30) - (2 * sp.exp(-1) - 1)) < 1e-29
    assert exprel(z).rewrite(sp.Piecewise).subs(z, 0) == 1
    for value in ("1e-30", "-3.5", "700", "-1e5"):
        got = exprel(sp.Float(value, 60)).evalf(50)
        with mpmath.workdps(70):
            v = mpmath.mpf(value)
            want = mpmath.expm1(v) / v
            assert abs(mpmath.mpf(got._mpf_) - want) <= mpmath.mpf(10) ** -48 * want
    assert exprel(-z).is_positive is None and exprel(-t).is_positive


def test_exprel_examples():
    """The examples in exprel's docstring."""
    results = doctest.testmod(functions, raise_on_error=False)
    assert results.attempted >= 8 and results.failed == 0


# Cache ------------------------------------------------------------------------------------


def test_cache_hit_and_keys(cache_path, monkeypatch):
    codegen.CACHE_STATS.clear()
    first = codegen.compile(stable_form(), ARGS)
    second = codegen.compile(stable_form(), ARGS)
    assert (first.cache_status, second.cache_status) == ("miss", "hit")
    assert codegen.CACHE_STATS == {"miss": 1, "hit": 1}
    assert first.path == second.path and first.path.parent == cache_path
    assert first.source == second.source and first.key == second.key
    key = first.key
    # the key follows the expression, the arguments' order, the backend and the version
    assert codegen.cache_key(stable_form() + 1, ARGS, "numpy") != key
    assert codegen.cache_key(stable_form(), ARGS[::-1], "numpy") != key
    assert codegen.cache_key(stable_form(), ARGS, "mpmath") != key
    assert codegen.cache_key(stable_form(), ARGS, "numpy", version="0.0.0-other") != key
    assert codegen.cache_key(stable_form(), ARGS, "numpy", inner=(t,)) != key
    assert codegen.cache_key(stable_form(), ARGS, "numpy") == key
    # same srepr, different class: a user's own exprel
    other = type("exprel", (sp.Function,), {"__module__": "elsewhere"})
    assert sp.srepr(stable_form().replace(exprel, other)) == sp.srepr(stable_form())
    assert codegen.cache_key(stable_form().replace(exprel, other), ARGS, "numpy") != key
    monkeypatch.setattr(symcnn, "__version__", "9.9.9")
    bumped = codegen.compile(stable_form(), ARGS)
    assert bumped.cache_status == "miss" and bumped.key != key
    assert "symcnn 9.9.9" in bumped.source


@pytest.mark.parametrize("damage", ["truncate", "garble", "checksum", "empty", "binary"])
def test_corrupted_cache_entry_is_regenerated(cache_path, damage):
    kernel = codegen.compile(stable_form(), ARGS)
    point = (0.7, 0.4, 2.3, 1e-3, 7.0, 0.37)
    want = kernel(*point)
    data = kernel.path.read_bytes()
    damaged = {
        "truncate": data[: len(data) // 2],
        "garble": data.replace(b"numpy.exp(", b"numpy.log("),  # checksum line untouched
        "checksum": data[:50] + b"zz" + data[52:],  # inside the checksum line
        "empty": b"",
        "binary": bytes(range(256)) * 3,
    }[damage]
    assert damaged != data
    kernel.path.write_bytes(damaged)
    again = codegen.compile(stable_form(), ARGS)
    assert again.cache_status == "regenerated"
    assert again(*point) == want
    assert kernel.path.read_bytes() == data  # rewritten, identical
    assert codegen.compile(stable_form(), ARGS).cache_status == "hit"


def test_corrupted_c_library_is_regenerated(cache_path):
    kernel = c_kernel()
    point = (0.7, 0.4, 2.3, 1e-3, 7.0, 0.37)
    want = kernel(*point)
    library = kernel.path.with_suffix(".so")
    data = library.read_bytes()
    library.write_bytes(data[: len(data) // 3])
    again = c_kernel()
    assert again.cache_status == "regenerated" and again(*point) == want
    assert c_kernel().cache_status == "hit"
    manifest = kernel.path.with_suffix(".json")
    manifest.write_text("{not json")
    assert c_kernel().cache_status == "regenerated"
    kernel.path.write_text(kernel.path.read_text().replace("exp(", "log(", 1))
    assert c_kernel().cache_status == "regenerated"
    assert c_kernel()(*point) == want


@pytest.mark.parametrize("backend", ["numpy", "c"])
def test_unwritable_cache_warns_at_the_caller_and_compiles(tmp_path, backend):
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    if backend == "c" and codegen.find_c_compiler() is None:
        pytest.skip("no C compiler")
    with pytest.warns(RuntimeWarning, match="could not write the kernel cache") as caught:
        kernel = codegen.compile(stable_form(), ARGS, backend=backend, cache=blocked / "sub")
    assert [Path(w.filename).name for w in caught] == [Path(__file__).name]
    assert kernel.cache_status == "miss" and not (blocked / "sub").exists()
    assert kernel(0.7, 0.4, 2.3, 1e-3, 7.0, 0.37) > 0


def test_cache_locations(tmp_path, monkeypatch):
    monkeypatch.delenv("SYMCNN_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert codegen.cache_dir() == tmp_path / "xdg" / "symcnn" / "kernels"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert codegen.cache_dir() == Path.home() / ".cache" / "symcnn" / "kernels"
    monkeypatch.setenv("SYMCNN_CACHE", str(tmp_path / "env"))
    assert codegen.cache_dir() == tmp_path / "env"
    assert codegen.cache_dir(tmp_path / "arg") == tmp_path / "arg"
    assert codegen.cache_dir(False) is None
    kernel = codegen.compile(stable_form(), ARGS, cache=tmp_path / "arg")
    assert kernel.path.parent == tmp_path / "arg"
    for off in ("off", "0", "OFF"):
        monkeypatch.setenv("SYMCNN_CACHE", off)
        assert codegen.cache_dir() is None
        kernel = codegen.compile(stable_form(), ARGS)
        assert kernel.cache_status == "off" and kernel.path is None
    assert not (tmp_path / "env").exists()


def test_generated_source_is_deterministic(tmp_path):
    script = (
        "import sympy as sp\n"
        "from symcnn import codegen\n"
        "from symcnn.codegen.backends import BACKENDS, Spec\n"
        "from tests.test_codegen import ARGS, stable_form\n"
        "x, y = sp.symbols('x y')\n"
        "for backend in ('numpy', 'mpmath', 'c'):\n"
        "    if backend == 'c':\n"
        "        spec = Spec((stable_form(),), ARGS, True, ARGS[:1], 'k')\n"
        "        source = BACKENDS['c'].source(spec, vector=True)\n"
        "    else:\n"
        "        source = codegen.compile([stable_form(), sp.exp(x + y) - sp.exp(x)],\n"
        "            ARGS + (x, y), backend=backend, cache=False).source\n"
        "    print(source)\n")
    outputs = []
    for seed in ("1", "2", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env,
                              capture_output=True, text=True, check=True)
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1] == outputs[2]
    assert "Do not edit" in outputs[0] and "operations after CSE" in outputs[0]


# Validation -------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["numpy", "mpmath", "c"])
def test_inputs_are_validated(cache_path, backend):
    kernel = (c_kernel() if backend == "c" else
              codegen.compile(stable_form(), ARGS, backend=backend))
    good = [1.0, np.array([0.1, 0.2]), 2.0, 1e-3, 16.0, 1.0]
    with pytest.raises(ValueError, match=r"takes 6 arguments .*missing N, tau"):
        kernel(*good[:4])
    with pytest.raises(ValueError, match="takes 6 arguments .* got 7"):
        kernel(*good, 1.0)
    with pytest.raises(ValueError, match="unknown argument 'sigma'"):
        kernel(*good[:5], sigma=1.0)
    with pytest.raises(ValueError, match="argument 's' given twice"):
        kernel(*good, s=1.0)
    bad = list(good)
    bad[3] = np.array([1e-3, np.nan])
    with pytest.raises(ValueError, match="argument u_0 contains NaN"):
        kernel(*bad)
    with pytest.raises(ValueError, match=r"do not broadcast together: t \(\), s \(2,\), "
                                         r"lambda \(3,\)"):
        kernel(good[0], good[1], np.ones(3), *good[3:])
    refused = [("fast", "argument s must be"), (None, "argument s must be"),
               (np.ma.masked_array([0.1, 0.2], mask=[0, 1]), "argument s is a masked array"),
               (np.array([1 + 2j]), "argument s (is complex|must be real numbers)"),
               ({"s": 1.0}, "argument s must be")]
    if backend != "mpmath":  # mpmath takes numbers as strings, and mpf
        refused += [("0.1", "argument s must be a numeric array, got dtype <U3"),
                    (np.array(["0.1"]), "got dtype <U3"), (np.datetime64(1, "D"), "datetime"),
                    (np.array([0.1], dtype=object), "got dtype object")]
    for value, message in refused:
        bad = list(good)
        bad[1] = value
        with pytest.raises(TypeError, match=message):
            kernel(*bad)
    assert kernel(*good[:5], np.inf)[0] > 0  # inf is accepted (IEEE arithmetic)


def test_an_mpmath_division_by_zero_names_the_point(cache_path):
    x, y = sp.symbols("x y", real=True)
    kernel = codegen.compile(x / y, [x, y], backend="mpmath")
    assert kernel(1, 4) == mpmath.mpf("0.25")
    with pytest.raises(ZeroDivisionError, match=r"divides by zero at x = 1.0, y = 0.0"):
        kernel(1.0, np.array([2.0, 0.0]))


def test_expressions_are_validated(cache_path):
    x, y = sp.symbols("x y")
    with pytest.raises(ValueError, match="not arguments: y"):
        codegen.compile(x + y, [x])
    with pytest.raises(ValueError, match="complex"):
        codegen.compile(sp.I * x, [x])
    with pytest.raises(ValueError, match="unknown backend 'fortran'"):
        codegen.compile(x, [x], backend="fortran")
    with pytest.raises(ValueError, match="duplicated argument names: x"):
        codegen.compile(x, [x, sp.Symbol("x", positive=True)])
    with pytest.raises(ValueError, match="unevaluated"):
        codegen.compile(sp.Function("f")(x), [x])
    with pytest.raises(ValueError, match="cannot print"):
        codegen.compile(sp.LambertW(x) + sp.zeta(x, 2), [x], backend="c")
    with pytest.raises(ValueError, match=r"inner: y not among the arguments \(x\)"):
        codegen.compile(x, [x], inner=("y",))


X, Y = sp.symbols("x y", real=True)
BAD_COMPILES = [
    (dict(exprs="x + y"), TypeError, "exprs must be a SymPy expression .*got str 'x \\+ y'"),
    (dict(exprs={X, Y}), TypeError, "got set"),  # unordered: outputs in no fixed order
    (dict(exprs=np.array([np.nan], dtype=np.float32)), ValueError,
     "exprs: cannot convert NaN"),  # found by tests/test_fuzz.py: SymPy's bare ValueError
    (dict(exprs={"a": X}), TypeError, "got dict"),
    (dict(exprs=sp.Matrix([X, Y])), TypeError, "expression 0 is a 2 x 1 matrix; pass its "
                                               "entries, list.matrix."),
    (dict(exprs=[X, X * sp.zoo]), ValueError, r"expression 1 contains zoo \(complex infinity"),
    (dict(args=None), TypeError, "args must be a SymPy Symbol or a sequence of them, got "
                                 "NoneType None"),
    (dict(args="x y"), TypeError, "args must be .*got str 'x y'"),
    (dict(exprs=np.array(X * Y)), TypeError, "exprs must be .*got ndarray"),  # 0-d: no items
    (dict(args=()), ValueError, "args: a kernel needs at least one argument"),
    (dict(exprs=sp.I * X), ValueError, "exprs: expression 0 is complex"),
    (dict(inner=3), TypeError, "inner must be an argument .*got int 3"),
    (dict(backend="mpmath", dps=2.5), ValueError, "dps must be an integer >= 1, got 2.5"),
    (dict(backend="mpmath", dps="40"), ValueError, "dps must be an integer >= 1, got '40'"),
    (dict(backend="mpmath", dps=True), ValueError, "dps must be an integer >= 1, got True"),
    (dict(dps=40), ValueError, "dps applies to backend 'mpmath', not to 'numpy'; got dps=40"),
    (dict(cache=3), TypeError, "cache must be a directory .*False .*None .*got 3"),
    (dict(cache=""), ValueError, "cache must be a directory .*got ''"),
    (dict(cache=__file__), ValueError, "cache must be a directory .*test_codegen.py'"),
    (dict(cache="off"), ValueError, "cache='off' would be a directory .*pass cache=False"),
]


@pytest.mark.parametrize("changes, error, message", BAD_COMPILES)
def test_bad_compile_arguments_are_named(cache_path, changes, error, message):
    call = {"exprs": X * Y, "args": [X, Y], **changes}
    with pytest.raises(error, match=message):
        codegen.compile(**call)
    if "dps" in changes:
        with pytest.raises(error, match=message):
            codegen.cache_key(call["exprs"], call["args"], call.get("backend", "numpy"),
                              dps=call["dps"])
    assert not cache_path.exists() and not Path("off").exists()  # refused before any write


def test_check_refuses_bad_values_naming_them(cache_path):
    kernel = codegen.compile(X * Y, [X, Y])
    for values, error, message in [
            ({"x": [1.0]}, ValueError, r"arguments \(x, y\); missing: y, not arguments: none"),
            ({"x": [1.0], "y": [1.0], "z": [2.0]}, ValueError, "missing: none, not arguments: z"),
            ([[1.0], [1.0]], TypeError, "values must map each argument name to its values"),
            ({"x": [], "y": [1.0]}, ValueError, r"values\['x'\] must hold at least one value"),
            ({"x": [1.0, np.nan], "y": [1.0]}, ValueError, r"values\['x'\] .*no NaN"),
            ({"x": "12", "y": [1.0]}, TypeError, r"values\['x'\] must be a numeric array"),
            ({"x": [1j], "y": [1.0]}, TypeError, r"values\['x'\] is complex")]:
        with pytest.raises(error, match=message):
            codegen.check(kernel, values)
    with pytest.raises(TypeError, match="kernel must be a symcnn.codegen Kernel .*function"):
        codegen.check(lambda x, y: x * y, {"x": [1.0], "y": [1.0]})
    assert codegen.check(kernel, {"x": [np.inf], "y": [2.0]}) == (0.0, 0)  # inf: skipped


def test_a_kernel_from_source_must_match_its_header(cache_path):
    """Swapped names would bind each value to the other argument: refused."""
    kernel = codegen.compile([X - Y], [X, Y])
    for names, outputs, message in [
            (("y", "x"), 1, r"names \('y', 'x'\) are not the source's arguments \(x, y\)"),
            ("xy", 1, "names 'xy' are not"), (("x",), 1, "are not the source's arguments"),
            (("x", "y"), 2, "n_outputs is 2; the source has 1"),
            (("x", "y"), 0, "n_outputs must be an integer >= 1, got 0")]:
        with pytest.raises(ValueError, match=message):
            Kernel.from_python_source(kernel.source, names, outputs, kernel.key)
    with pytest.raises(ValueError, match="not a generated NumPy kernel"):
        Kernel.from_python_source("def kernel(a0):\n    return (a0,)\n", ("x",), 1, "k")
    with pytest.raises(TypeError, match="source must be a generated kernel's code"):
        Kernel.from_python_source(None, ("x", "y"), 1, kernel.key)


def test_a_c_build_is_reported_as_progress(cache_path, monkeypatch, capsys):
    if codegen.find_c_compiler() is None:
        pytest.skip("no C compiler")
    monkeypatch.setattr(progress, "DELAY", 0.0)  # shown at once, every state a line
    monkeypatch.setattr(progress, "INTERVAL", 0.0)
    name = Path(codegen.find_c_compiler()).name
    codegen.compile(sp.exp(X) * Y, [X, Y], backend="c")
    err = capsys.readouterr().err
    assert f"symcnn codegen c kernel (x, y): compiling with {name}" in err
    assert "symcnn codegen c kernel (x, y): cache miss (" in err
    codegen.compile(sp.exp(X) * Y, [X, Y], backend="c")  # a hit: nothing to compile
    assert "compiling" not in capsys.readouterr().err


# Command line (symcnn.cli.codegen, which calls check) -----------------------------------------


@cache
def reduction(name: str):
    """A reduction of symcnn.closed_forms with a stable form (``r5``: ``L = 2``)."""
    return closed_forms.r5(2) if name == "r5" else getattr(closed_forms, name)()


# check: against SymPy's evalf of the expressions, not through the lowering -------------------


def test_check_compares_with_evalf_and_skips_singular_points(cache_path):
    x, y = sp.symbols("x y", real=True)
    exprs = [(sp.exp(x) - 1) / x, sp.exp(-x) * sp.cos(y)]  # the first is 0/0 at x = 0
    values = {"x": [0.0, 1e-10, 1.0, 30.0], "y": [0.5, 2.0]}
    kernel = codegen.compile(exprs, [x, y])
    worst, compared = codegen.check(kernel, values)
    assert compared == 8 + 6 and worst <= 1e-15  # the first output is skipped at x = 0
    exact = codegen.compile(exprs, [x, y], backend="mpmath", dps=40)  # raises at 0/0
    worst, compared = codegen.check(exact, {"x": values["x"][1:], "y": values["y"]})
    assert compared == 12 and worst <= 1e-38
    # a kernel value that is not finite where the expression is: an infinite difference
    overflowing = codegen.compile(sp.exp(x) / (sp.exp(x) + 1), [x])  # inf/inf at 800
    assert codegen.check(overflowing, {"x": [1.0, 800.0]}) == (float("inf"), 2)
    source_only = Kernel.from_python_source(kernel.source, kernel.names, 2, kernel.key)
    with pytest.raises(ValueError, match="expressions"):
        codegen.check(source_only, values)


def test_check_catches_a_lowering_bug_that_same_lowering_mpmath_misses(cache_path,
                                                                        monkeypatch):
    """A broken rewrite step (it drops a term) gives wrong kernels in every backend alike:
    comparing with the mpmath kernel of the same lowering (check's former reference) sees
    nothing, ``check`` sees the term."""
    x, y = sp.symbols("x y", positive=True)
    expr = sp.exp(-x) + y**2 / 10**8
    values = {"x": [0.0, 0.5, 3.0], "y": [1.0, 10.0, 100.0]}
    grid = np.meshgrid(*(np.array(v) for v in values.values()), indexing="ij")
    good = codegen.compile(expr, [x, y], cache=False)
    assert codegen.check(good, values) == (pytest.approx(0, abs=1e-15), 9)
    rewrite, a1 = lowering.rewrite, lowering.renaming((x, y))[y]

    def dropping(e):  # the bug: the term in y is lost
        return rewrite(e.func(*[arg for arg in e.args if not arg.has(a1)]))

    monkeypatch.setattr(lowering, "rewrite", dropping)
    broken = codegen.compile(expr, [x, y], cache=False)
    same_lowering = codegen.compile(expr, [x, y], backend="mpmath", dps=50, cache=False)
    got, want = broken(*grid), same_lowering(*grid).astype(float)
    np.testing.assert_allclose(got, np.exp(-grid[0]), rtol=1e-15)  # y is gone
    np.testing.assert_allclose(got, want, rtol=1e-15)  # and the old reference agrees
    worst, compared = codegen.check(broken, values)
    assert compared == 9 and worst > 1e-3  # y**2/1e8 = 1e-4 against e^-3 = 0.05


# Public face, lazy loading, kernels from source without SymPy --------------------------------


def test_public_names_load_lazily():
    assert dir(codegen) == codegen.__all__
    assert codegen.compile is compiler.compile and codegen.check is checking.check
    assert codegen.exprel is functions.exprel and codegen.BACKENDS is BACKENDS
    assert codegen.cache_key is compiler.cache_key and codegen.cache_dir is codegen_cache.cache_dir
    assert list(BACKENDS) == ["numpy", "mpmath", "c"]
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        codegen.no_such_name  # noqa: B018


def test_kernel_from_python_source(cache_path):
    x, y = sp.symbols("x y", real=True)
    for exprs, single in ((sp.exp(-x) * exprel(-y), True), ([sp.exp(-x), x * y], False),
                          ([x * exprel(y)], False)):
        kernel = codegen.compile(exprs, [x, y])
        rebuilt = Kernel.from_python_source(kernel.source, kernel.names, kernel.n_outputs,
                                            kernel.key, single=single)
        assert repr(rebuilt) == repr(kernel).replace("cache miss", "cache hit")
        assert rebuilt.operations == kernel.operations
        assert rebuilt.exprs is None and rebuilt.backend == "numpy"
        point = (np.array([0.0, 0.5]), np.array([[0.0], [2.0]]))
        np.testing.assert_array_equal(rebuilt(*point), kernel(*point))
    assert Kernel.from_python_source(kernel.source, ("x", "y"), 1, "k").single


def test_cache_and_kernel_modules_load_no_sympy(cache_path, tmp_path):
    """A NumPy kernel stored by its source, names, number of outputs and key is rebuilt
    and called in a fresh process that never imports SymPy (only the lazy names do)."""
    x, y = sp.symbols("x y", real=True)
    kernel = codegen.compile([sp.exp(-x) * exprel(-y), sp.log(1 + x**2)], [x, y])
    record = tmp_path / "kernel.json"
    record.write_text(json.dumps({"source": kernel.source, "names": kernel.names,
                                  "n_outputs": kernel.n_outputs, "key": kernel.key}))
    script = (
        "import json, sys\n"
        "import symcnn.codegen, symcnn.codegen.cache, symcnn.codegen.kernel\n"
        "from symcnn.codegen.kernel import Kernel\n"
        "r = json.loads(open(sys.argv[1]).read())\n"
        "k = Kernel.from_python_source(r['source'], r['names'], r['n_outputs'], r['key'])\n"
        "out = k([0.0, 0.5], [[0.0], [2.0]])\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'sympy')\n"
        "print(json.dumps([repr(k), k.operations, [o.tolist() for o in out], loaded]))\n"
        "from symcnn.codegen import exprel\n"
        "print('sympy' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", script, str(record)], cwd=ROOT,
                          capture_output=True, text=True, check=True)
    first, second = done.stdout.splitlines()
    text, operations, values, loaded = json.loads(first)
    assert loaded == [] and second == "True"
    assert text == repr(kernel).replace("cache miss", "cache hit")
    assert operations == kernel.operations
    want = kernel([0.0, 0.5], [[0.0], [2.0]])
    assert [np.array(v).tolist() for v in values] == [w.tolist() for w in want]


def test_generator_hash_covers_every_module(tmp_path):
    """An edit to any module of symcnn.codegen changes the hash in every cache key."""
    copy = tmp_path / "codegen"
    shutil.copytree(Path(codegen.__file__).parent, copy,
                    ignore=shutil.ignore_patterns("__pycache__"))
    spec = importlib.util.spec_from_file_location("codegen_cache_copy", copy / "cache.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    original = module.generator_hash.__wrapped__()
    assert original == codegen_cache.generator_hash()
    files = sorted(copy.rglob("*.py"))
    assert {"__init__.py", "cache.py", "c.py", "kernel.py"} <= {f.name for f in files}
    for path in files:
        text = path.read_bytes()
        path.write_bytes(text + b"# edited\n")
        assert module.generator_hash.__wrapped__() != original, path
        path.write_bytes(text)
    assert module.generator_hash.__wrapped__() == original


# The closed forms of symcnn.closed_forms ----------------------------------------------------
# Each reduction's stable form, compiled: no overflow, NaN or warning on the extreme grid,
# equal to the same expression at 50 digits (mpmath kernel) within the condition-aware bound
# above, and equal to its ``solution`` (evaluated at 50 digits) where that is finite.

ROLE_VALUES = {"s": S_VALUES, "u0": U0_VALUES, "lam": np.array([0.5, 2.3]),
               "N": np.array([1.0, 7.0, 1024.0]), "tau": np.array([0.37, 1.0])}


def role_grid(red, field, times):
    """Arguments of ``expr`` in call order, as broadcastable arrays over roles x times."""
    args = red.arguments(field)
    roles = {v: k for k, v in red.symbols.items()}
    axes = [roles.get(a) for a in args]
    assert "t" in axes and None not in axes, (args, red.symbols)
    others = [r for r in axes if r != "t"]
    arrays = []
    for role in axes:
        values = times if role == "t" else ROLE_VALUES[role]
        shape = [1] * (len(others) + 1)
        shape[0 if role == "t" else 1 + others.index(role)] = len(values)
        arrays.append(np.reshape(values, shape))
    return args, axes, arrays


def log_derivative_t(kernel, arrays, axes):
    """|t du/dt / u| at 50 digits (central difference, relative step 1e-20)."""
    i = axes.index("t")
    up, down = list(arrays), list(arrays)
    with mpmath.workdps(50):
        h = mpmath.mpf("1e-20")
        up[i] = np.vectorize(lambda v: mpmath.mpf(v) * (1 + h), otypes=[object])(arrays[i])
        down[i] = np.vectorize(lambda v: mpmath.mpf(v) * (1 - h), otypes=[object])(arrays[i])
        u, hi, lo = kernel(*arrays), kernel(*up), kernel(*down)
        ratio = np.frompyfunc(lambda a, b, c: abs((a - b) / (2 * h * c)), 3, 1)(hi, lo, u)
    return np.asarray(ratio, dtype=float)


@pytest.mark.parametrize("name", ["r1", "r3", "r3b", "r3c", "r5"])
def test_closed_forms_compile_and_match_50_digits(cache_path, name):
    reduction_ = reduction(name)
    stable = reduction_.stable
    times = np.concatenate([[0.0], np.geomspace(1e-3, 2e3, 24)])
    args, axes, arrays = role_grid(reduction_, "stable", times)
    kernel = codegen.compile(stable, args)
    exact = codegen.compile(stable, args, backend="mpmath", dps=50)
    with np.errstate(all="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        got = kernel(*arrays)
    assert np.all(np.isfinite(got))
    want = exact(*arrays)
    error = relative_error(got, want)
    condition = log_derivative_t(exact, arrays, axes)
    assert np.all(error <= 1e-13 + 2 * EPS * condition), error.max()
    # stable == solution at 50 digits for s > 0 (the solution is 0/0 at s = 0)
    positive = list(arrays)
    if "s" in axes:
        s_array = arrays[axes.index("s")]
        positive[axes.index("s")] = s_array[s_array > 0].reshape(
            [-1 if n > 1 else 1 for n in s_array.shape])
    solution = codegen.compile(reduction_.solution, args, backend="mpmath", dps=50)
    reference, want = solution(*positive), exact(*positive)
    finite = np.frompyfunc(lambda v: bool(mpmath.isfinite(v)), 1, 1)(reference).astype(bool)
    assert finite.sum() > finite.size / 2
    with mpmath.workdps(50):
        diff = np.frompyfunc(lambda a, b: float(abs(a - b) / abs(b)), 2, 1)(want, reference)
    # (the solution's e^x - 1 loses ~20 of its 50 digits at s = 1e-20)
    assert np.asarray(diff, dtype=float)[finite].max() <= 1e-25
    # t = 0 gives u0 where u0 is an argument
    if "u0" in axes:
        at_zero = got[(0,) + (slice(None),) * (got.ndim - 1)]
        u0_values = np.broadcast_to(arrays[axes.index("u0")][0], at_zero.shape)
        np.testing.assert_allclose(at_zero, u0_values, rtol=1e-15)
