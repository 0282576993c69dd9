"""symcnn.torch.data.statistics and the Torch engine against symcnn's own engines and
Statistics.from_samples (independent code paths: FFTs, dense circulant matrices, NumPy)."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from symcnn.data import Statistics
from symcnn.model import FullyConnected, LinearCNN
from symcnn.simulate import Dense, Samples, init_random, train
from tests.reference import require

torch = require("torch", "torch")
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

from symcnn.torch.data import statistics  # noqa: E402
from symcnn.torch.engine import Torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

CASES = {  # (shape, kernel, channels, c_in, n_out, depth, convention)
    "1d-odd": ((8,), 3, 2, 1, 2, 1, "correlation"),
    "1d-even-cin2-depth2": ((8,), 4, 3, 2, 2, 2, "correlation"),
    "1d-full-convolution": ((7,), 7, 2, 2, 1, 1, "convolution"),
    "2d-odd-cin2": ((5, 6), (3, 3), 2, 2, 2, 1, "correlation"),
    "2d-even-depth2-convolution": ((4, 6), (2, 3), 2, 2, 3, 2, "convolution"),
}


def _case(name, p=40, seed=0):
    shape, kernel, channels, c_in, n_out, depth, convention = CASES[name]
    model = LinearCNN(shape, kernel, channels=channels, c_in=c_in, n_out=n_out, depth=depth,
                      convention=convention)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((p, c_in, *shape))
    return model, x, rng.integers(0, n_out, p), init_random(model, 0.4, seed=seed)


def _relative(a, b):
    return np.max(np.abs(np.asarray(a) - np.asarray(b))) / np.max(np.abs(b))


@pytest.mark.parametrize("name", CASES)
def test_engine_matches_samples_dense_and_end_to_end(name):
    """Loss, M and every gradient equal Samples' (FFTs over the samples) and Dense's (dense
    circulant matrices on Statistics.from_samples) to 1e-12 relative; M equals the
    definition LinearCNN.end_to_end."""
    model, x, y, params = _case(name)
    engine = Torch(model, x, y, device="cpu")
    loss, m = engine.evaluate(params)
    grads = engine.gradient(params)
    assert _relative(m, model.end_to_end(params)) < 1e-12
    for other in (Samples(model, x, y), Dense(model, Statistics.from_samples(x, y, model.n_out))):
        other_loss, other_m = other.evaluate(params)
        assert abs(loss - other_loss) < 1e-12 * abs(other_loss)
        assert _relative(m, other_m) < 1e-12
        for g, h in zip(grads, other.gradient(params), strict=True):
            assert g.shape == h.shape and _relative(g, h) < 1e-12
    assert _relative(engine.syx, Samples(model, x, y).syx) < 1e-14


def test_fully_connected_matches_dense():
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((30, 2, 4)), rng.standard_normal((30, 3))
    model = FullyConnected(n_in=8, hidden=5, n_out=3)
    params = init_random(model, 0.4, seed=3)
    engine, dense = Torch(model, x, y), Dense(model, Statistics.from_samples(x, y))
    (loss, m), (dense_loss, dense_m) = engine.evaluate(params), dense.evaluate(params)
    assert abs(loss - dense_loss) < 1e-12 * abs(dense_loss) and _relative(m, dense_m) < 1e-12
    for g, h in zip(engine.gradient(params), dense.gradient(params), strict=True):
        assert _relative(g, h) < 1e-12
    run = train(engine, params, [0.5, 1.0], method="gd", lr=0.05)
    reference = train(dense, params, [0.5, 1.0], method="gd", lr=0.05)
    assert _relative(run.maps, reference.maps) < 1e-10


@pytest.mark.parametrize("name", ["1d-even-cin2-depth2", "2d-even-depth2-convolution"])
@pytest.mark.parametrize("method", [{"method": "flow", "rtol": 1e-8},
                                    {"method": "gd", "lr": 0.05}])
def test_train_with_torch_follows_samples(name, method):
    """train() on Torch and on Samples: the same run to 1e-10 (flow at rtol 1e-8, and gd)."""
    model, x, y, params = _case(name)
    times = [0.5, 1.0]
    run = train(Torch(model, x, y), params, times, **method)
    reference = train(Samples(model, x, y), params, times, **method)
    assert _relative(run.maps, reference.maps) < 1e-10
    assert _relative(run.loss, reference.loss) < 1e-10
    for a, b in zip(run.final, reference.final, strict=True):
        assert _relative(a, b) < 1e-10


def test_float32_is_close():
    model, x, y, params = _case("1d-odd")
    grads = Torch(model, x, y, dtype=torch.float32).gradient(params)
    for g, h in zip(grads, Samples(model, x, y).gradient(params), strict=True):
        assert g.dtype == np.float64 and _relative(g, h) < 1e-5


@pytest.mark.parametrize("make, error, match", [
    (lambda m, x, y: Torch("cnn", x, y), TypeError, "model must be a LinearCNN or a Fully"),
    (lambda m, x, y: Torch(m, x, y, dtype=torch.int64), ValueError, "dtype must be torch.f"),
    (lambda m, x, y: Torch(m, x, y, device="nowhere"), ValueError, "device must be a torch"),
    (lambda m, x, y: Torch(m, x[:, :, :4], y), ValueError, r"x must have shape \(P, C_in"),
    (lambda m, x, y: Torch(m, x[:, 0], y), ValueError, r"x must have shape \(P, C_in, N_1\)"),
    (lambda m, x, y: Torch(m, x, y + 5), ValueError, r"class indices y must lie in \[0, n_o"),
    (lambda m, x, y: Torch(FullyConnected(5, 2), x, y), ValueError, "n_in = 5 entries"),
    (lambda m, x, y: Torch(m, np.full_like(x, np.nan), y), ValueError, "x contains NaN"),
])
def test_engine_refuses(make, error, match):
    model, x, y, _ = _case("1d-odd")
    with pytest.raises(error, match=match):
        make(model, x, y)


def _compare(stats, reference):
    assert (stats.shape, stats.c_in, stats.n_samples) == (reference.shape, reference.c_in,
                                                            reference.n_samples)
    for name in ("sxx", "syx", "syy"):
        assert _relative(getattr(stats, name), getattr(reference, name)) < 1e-12, name


def test_statistics_equal_from_samples():
    """Tensors, arrays, a Dataset and a DataLoader; class indices (with and without n_out)
    and targets; 1-D and 2-D; batches that do not divide P."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((203, 2, 4, 5))
    labels, targets = rng.integers(0, 3, 203), rng.standard_normal((203, 2))
    for y, n_out in ((labels, None), (labels, 5), (targets, None), (targets, 2)):
        reference = Statistics.from_samples(x, y, n_out)
        xt, yt = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y)
        reference32 = Statistics.from_samples(xt.double().numpy(), y, n_out)
        for data, ref in (((x, y), reference), ((xt, yt), reference32),
                          (TensorDataset(torch.as_tensor(x), yt), reference),
                          (DataLoader(TensorDataset(xt, yt), batch_size=17), reference32)):
            _compare(statistics(data, n_out=n_out, batch_size=50), ref)
    x1 = rng.standard_normal((64, 1, 9))
    _compare(statistics((x1, labels[:64])), Statistics.from_samples(x1, labels[:64]))


def test_statistics_grow_classes_across_batches():
    """The largest class first appears in the last batch: Sigma_yx still one-hot-exact."""
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((20, 1, 6)), np.r_[np.zeros(15, int), np.full(5, 3)]
    _compare(statistics((x, y), batch_size=4), Statistics.from_samples(x, y))


@pytest.mark.parametrize("data, kwargs, error, match", [
    ("samples", {}, TypeError, "data must be a torch Dataset or DataLoader"),
    ((np.ones((4, 1, 3)), np.zeros(3, int)), {}, ValueError, "x has 4 samples and y 3"),
    ((np.ones((4, 3)), np.zeros(4, int)), {}, ValueError, r"x must have shape \(P, C_in, N_1\)"),
    ((np.ones((4, 1, 3)), np.zeros(4)), {}, ValueError, "y must be class indices"),
    ((np.ones((4, 1, 3)), np.array([0, 1, 2, -1])), {}, ValueError, "must be >= 0"),
    ((np.ones((4, 1, 3)), np.array([0, 1, 2, 3])), {"n_out": 2}, ValueError, r"\[0, 2\)"),
    ((np.ones((4, 1, 3)), np.ones((4, 2))), {"n_out": 3}, ValueError, "N_o = 2 columns"),
    ((np.ones((4, 1, 3)) + 1j, np.zeros(4, int)), {}, TypeError, "x is complex"),
    ((np.full((4, 1, 3), np.inf), np.zeros(4, int)), {}, ValueError, "x contains NaN or inf"),
    ((np.ones((4, 1, 3)), np.zeros(4, int)), {"batch_size": 0}, ValueError, "batch_size must"),
    ((np.ones((4, 1, 3)), np.zeros(4, int)), {"n_out": 1.5}, ValueError, "n_out must be an"),
    ((np.ones((0, 1, 3)), np.zeros(0, int)), {}, ValueError, "data holds no samples"),
    (DataLoader(TensorDataset(torch.ones(4, 1, 3), torch.arange(4)), batch_size=2,
                collate_fn=lambda b: torch.stack([s[0] for s in b])), {}, TypeError,
     "each batch must be a pair"),
])
def test_statistics_refuses(data, kwargs, error, match):
    with pytest.raises(error, match=match):
        statistics(data, **kwargs)


def test_statistics_refuse_mixed_labels():
    batches = DataLoader([(torch.ones(1, 3), 0), (torch.ones(1, 3), torch.ones(2))],
                         batch_size=1)
    with pytest.raises(ValueError, match="a batch of class targets after batches of class "
                                         "indices"):
        statistics(batches)


MEMORY = """
import sys, tracemalloc
import torch
from torch.utils.data import DataLoader, Dataset
from symcnn.torch.data import statistics

def status(key):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key))

class Generated(Dataset):  # samples made on the fly: the data are never in memory
    def __init__(self, p):
        self.p = p
    def __len__(self):
        return self.p
    def __getitem__(self, i):
        g = torch.Generator().manual_seed(i)
        return torch.randn(1, 8, 8, generator=g, dtype=torch.float64), i % 3

statistics(DataLoader(Generated(2000), batch_size=1000))  # warm-up: imports, allocator
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # reset the peak RSS (VmHWM) to the current RSS
before = status("VmRSS")
tracemalloc.start()
statistics(DataLoader(Generated(int(sys.argv[1])), batch_size=1000))
print(tracemalloc.get_traced_memory()[1], status("VmHWM") - before)
"""


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc")
def test_statistics_memory_does_not_grow_with_p():
    """A DataLoader of P = 10^4 and 10^5 generated samples (D = 64): the peak of traced
    Python allocations and the rise of the process's peak RSS during the call.  Holding the
    10^5 samples would take 51 MB (float64), against the 2 MB of slack allowed here."""
    peaks = {}
    for p in (10**4, 10**5):
        run = subprocess.run([sys.executable, "-c", MEMORY, str(p)], capture_output=True,
                             text=True, cwd=ROOT, check=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
        peaks[p] = [int(v) for v in run.stdout.split()]
    (traced_small, rss_small), (traced_large, rss_large) = peaks[10**4], peaks[10**5]
    assert traced_large <= 1.5 * traced_small, peaks
    assert rss_large <= 1.5 * rss_small + 2**21, peaks
