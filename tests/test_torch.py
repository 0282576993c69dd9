"""symcnn.torch.convert and symcnn.torch.training: torch modules equal symcnn's networks
(forward against LinearCNN.end_to_end, round trips bit for bit, every refusal), and a
torch-trained network follows the theory (the exact gradient-descent map, the closed forms
within the discretisation error, symcnn's own full-network descent)."""

import numpy as np
import pytest

from symcnn.data import Statistics, zca_whiten
from symcnn.model import FullyConnected, LinearCNN
from symcnn.simulate import Dense, Fast, aligned_spectrum, init_balanced, init_random
from symcnn.simulate import train as symcnn_train
from symcnn.theory import Theory

from .reference import require

torch = require("torch", "torch")
nn = torch.nn

from symcnn.torch.convert import from_torch, to_torch  # noqa: E402
from symcnn.torch.training import train  # noqa: E402

MODELS = {
    "1d-odd": LinearCNN(8, kernel=3, channels=3, n_out=2),
    "1d-even-cin2-depth2": LinearCNN(8, kernel=4, channels=3, c_in=2, n_out=2, depth=2),
    "2d-odd-even-cin2": LinearCNN((6, 5), kernel=(3, 2), channels=2, c_in=2, n_out=3),
    "2d-depth2": LinearCNN((4, 5), kernel=(3, 5), channels=2, c_in=2, n_out=1, depth=2),
    "1d-convolution": LinearCNN(7, kernel=5, channels=2, c_in=2, n_out=2, depth=2,
                                convention="convolution"),
    "2d-convolution": LinearCNN((5, 7), kernel=(3, 5), channels=2, n_out=2,
                                convention="convolution"),
}


@pytest.mark.parametrize("name", MODELS)
def test_forward_is_the_end_to_end_map(name):
    model = MODELS[name]
    params = init_random(model, 1.0, seed=1)
    x = np.random.default_rng(2).standard_normal((5, model.c_in, *model.shape))
    y = to_torch(model, params)(torch.tensor(x)).detach().numpy()
    expected = x.reshape(5, -1) @ model.end_to_end(params).T
    assert np.max(np.abs(y - expected)) <= 1e-12 * np.max(np.abs(expected))


@pytest.mark.parametrize("name", MODELS)
def test_round_trip_is_exact(name):
    model = MODELS[name]
    params = init_random(model, 1.0, seed=3)
    module = to_torch(model, params)
    back, back_params = from_torch(module, shape=model.shape, convention=model.convention)
    assert back == model
    assert all(np.array_equal(a, b) for a, b in zip(params, back_params, strict=True))
    again = to_torch(back, back_params).state_dict()
    assert again.keys() == module.state_dict().keys()
    assert all(torch.equal(again[k], v) for k, v in module.state_dict().items())


def test_fully_connected_round_trip_and_forward():
    model = FullyConnected(12, 3, 2)
    params = init_random(model, 1.0, seed=4)
    module = to_torch(model, params)
    back, back_params = from_torch(module)
    assert back == model
    assert all(np.array_equal(a, b) for a, b in zip(params, back_params, strict=True))
    x = np.random.default_rng(5).standard_normal((4, 2, 6))
    y = module(torch.tensor(x)).detach().numpy()
    assert np.allclose(y, x.reshape(4, -1) @ model.end_to_end(params).T, rtol=0, atol=1e-13)


def test_one_d_shape_inferred_and_dtype_device():
    model = MODELS["1d-odd"]
    params = init_random(model, 1.0)
    module = to_torch(model, params, dtype=torch.float32, device="cpu")
    assert next(module.parameters()).dtype == torch.float32
    back, back_params = from_torch(module)
    assert back == model
    assert all(np.array_equal(np.float32(a), b) for a, b in zip(params, back_params,
                                                                  strict=True))


def test_explicit_equivalent_padding_accepted():
    conv = nn.Conv1d(1, 2, 3, padding=1, padding_mode="circular", bias=False)
    module = nn.Sequential(conv, nn.Flatten(), nn.Linear(16, 1, bias=False)).double()
    model, _ = from_torch(module)
    assert model == LinearCNN(8, kernel=3, channels=2)


def _cnn(*convs, features=16, n_out=1):
    return nn.Sequential(*convs, nn.Flatten(), nn.Linear(features, n_out, bias=False))


def _conv(c_in=1, c=2, k=3, dim=1, **options):
    options = {"padding": "same", "padding_mode": "circular", "bias": False, **options}
    return (nn.Conv1d if dim == 1 else nn.Conv2d)(c_in, c, k, **options)


REFUSALS = {
    "conv bias": (_cnn(_conv(bias=True)), ValueError, r"module\[0\] \(Conv1d\) has a bias"),
    "linear bias": (nn.Sequential(_conv(), nn.Flatten(), nn.Linear(16, 1)), ValueError,
                    r"module\[2\] \(Linear\) has a bias"),
    "stride": (_cnn(_conv(padding=1, stride=2)), ValueError, r"module\[0\].*stride=\(2,\)"),
    "dilation": (_cnn(_conv(dilation=2)), ValueError, r"module\[0\].*dilation=\(2,\)"),
    "groups": (_cnn(_conv(c_in=2, groups=2), features=16), ValueError,
               r"module\[0\].*groups=2"),
    "padding valid": (_cnn(_conv(padding="valid")), ValueError,
                      r"module\[0\].*padding='valid'"),
    "padding even explicit": (_cnn(_conv(k=4, padding=1)), ValueError,
                              r"module\[0\].*padding=\(1,\)"),
    "padding mode": (_cnn(_conv(padding_mode="reflect")), ValueError,
                     r"module\[0\].*padding_mode='reflect'"),
    "nonlinearity": (_cnn(_conv(), nn.ReLU()), TypeError, r"module\[1\] \(ReLU\)"),
    "pooling": (_cnn(_conv(), nn.MaxPool1d(2)), TypeError, r"module\[1\] \(MaxPool1d\)"),
    "dropout": (_cnn(_conv(), nn.Dropout()), TypeError, r"module\[1\] \(Dropout\)"),
    "batch norm": (_cnn(_conv(), nn.BatchNorm1d(2)), TypeError, r"module\[1\] \(BatchNorm1d\)"),
    "conv3d": (_cnn(nn.Conv3d(1, 2, 1, bias=False)), TypeError, r"module\[0\] \(Conv3d\)"),
    "channels between layers": (_cnn(_conv(c=2), _conv(c_in=3, c=2)), ValueError,
                                r"module\[1\].*in_channels=3; the layer before it gives 2"),
    "channels differ": (_cnn(_conv(c=2), _conv(c_in=2, c=3), features=24), ValueError,
                        r"module\[1\].*out_channels=3"),
    "kernel sizes differ": (_cnn(_conv(), _conv(c_in=2, k=5)), ValueError,
                            r"module\[1\].*kernel_size=\(5,\)"),
    "in_features": (_cnn(_conv(), features=15), ValueError,
                    r"module\[2\] \(Linear\) has in_features=15, not a multiple of C = 2"),
    "kernel above image": (_cnn(_conv(k=5), features=6), ValueError,
                           r"module\[0\] \(Conv1d\): kernel\[0\]"),
    "flatten dims": (nn.Sequential(_conv(), nn.Flatten(2), nn.Linear(8, 1, bias=False)),
                     ValueError, r"module\[1\] \(Flatten\) has start_dim=2"),
    "no flatten": (nn.Sequential(_conv()), ValueError, "exactly one Flatten"),
    "two linears after convs": (_cnn(_conv(), nn.Flatten(), nn.Linear(16, 1, bias=False)),
                                ValueError, "exactly one Flatten"),
    "linear before flatten": (nn.Sequential(nn.Linear(8, 8, bias=False), nn.Flatten(),
                                            nn.Linear(8, 1, bias=False)), TypeError,
                              r"module\[0\] \(Linear\) is out of place"),
    "fully connected depth": (nn.Sequential(nn.Flatten(), nn.Linear(8, 4, bias=False)),
                              ValueError, "Flatten, Linear, Linear; got 2 layers"),
    "fully connected sizes": (nn.Sequential(nn.Flatten(), nn.Linear(8, 4, bias=False),
                                            nn.Linear(3, 1, bias=False)), ValueError,
                              r"module\[2\].*in_features=3; the layer before it gives 4"),
}


@pytest.mark.parametrize("name", REFUSALS)
def test_from_torch_refuses(name):
    module, error, match = REFUSALS[name]
    with pytest.raises(error, match=match):
        from_torch(module)


def test_from_torch_refuses_shapes_and_modules():
    two_d = _cnn(_conv(dim=2), features=2 * 20)
    with pytest.raises(ValueError, match="shape is required for a 2-D module"):
        from_torch(two_d)
    with pytest.raises(ValueError, match=r"in_features=40; the convolutions give C N = 2 x 25"):
        from_torch(two_d, shape=(5, 5))
    assert from_torch(two_d, shape=(4, 5))[0].shape == (4, 5)
    with pytest.raises(ValueError, match="shape=\\(8, 2\\) has 2 dimensions"):
        from_torch(_cnn(_conv()), shape=(8, 2))
    with pytest.raises(ValueError, match="does not divide the input dimension"):
        from_torch(to_torch(FullyConnected(12, 2), init_random(FullyConnected(12, 2), 1.0)),
                   shape=5)
    with pytest.raises(TypeError, match="module must be a Sequential"):
        from_torch(_conv())
    with pytest.raises(ValueError, match="convention must be one of"):
        from_torch(_cnn(_conv()), convention="flipped")
    with pytest.raises(ValueError, match="even kernel"):
        from_torch(_cnn(_conv(k=4)), convention="convolution")


def test_to_torch_refuses():
    even = LinearCNN(8, kernel=4, convention="convolution")
    with pytest.raises(ValueError, match=r"model: convention='convolution' with the even "
                                         r"kernel \(4,\)"):
        to_torch(even, init_random(even, 1.0))
    model = MODELS["1d-odd"]
    with pytest.raises(TypeError, match="dtype must be a floating torch.dtype"):
        to_torch(model, init_random(model, 1.0), dtype=torch.int64)
    with pytest.raises(ValueError, match=r"params\[0\] must have shape"):
        to_torch(model, init_random(LinearCNN(8, kernel=5, channels=3, n_out=2), 1.0))
    with pytest.raises(TypeError, match="model must be"):
        to_torch("cnn", ())


# -- training ----------------------------------------------------------------------------

U0 = 1e-3


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One torch thread: these networks are tiny, and threads only contend."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _white_setup(shape, c_in=1, n_out=1, depth=1, samples=48, seed=0):
    """A full-kernel CNN on ZCA-whitened Gaussian samples (Sigma_xx = I to rounding), random
    targets, from the balanced aligned start of strength U0."""
    rng = np.random.default_rng(seed)
    x, _ = zca_whiten(rng.standard_normal((samples, c_in, *np.atleast_1d(shape))))
    y = rng.standard_normal((samples, n_out))
    stats = Statistics.from_samples(x, y)
    model = LinearCNN(shape, channels=2, c_in=c_in, n_out=n_out, depth=depth)
    params = init_balanced(model, aligned_spectrum(stats, U0))
    return model, stats, Theory(model, stats), params, x, y


def _singular_values(run, model) -> np.ndarray:
    """``|M_f(t)|`` per singular mode: the singular values of the recorded ``M_f``, shape
    ``(T, F, min(N_o, C_in))``."""
    spectra = run.spectra.reshape(len(run.times), model.n_out, model.c_in, -1)
    return np.linalg.svd(np.moveaxis(spectra, -1, 1), compute_uv=False)


def _steps(theory, lr):
    """Steps to twice the median frequency's half-way time (R3b's or R5's)."""
    return int(np.ceil(2 * np.median(theory.frequency_half_times(U0)) / lr))


DEPTH_ONE = {"1d-odd": ((7,), 1, 2), "1d-even-cin2": ((8,), 2, 1),
             "2d-even-odd": ((4, 5), 1, 2)}


@pytest.mark.parametrize("name", DEPTH_ONE)
def test_torch_descent_follows_the_exact_map_and_the_closed_form(name):
    """|M_f(t)| of torch's SGD against the exact gradient-descent map to 1e-10 relative, and
    against R3b within the discretisation error, which halves with lr."""
    model, stats, theory, params, x, y = _white_setup(*DEPTH_ONE[name])
    lr = 0.2 * theory.max_stable_lr
    deviations = []
    for rate in (lr, lr / 2):
        steps = _steps(theory, lr) * round(lr / rate)
        run = train(to_torch(model, params), (x, y), rate, steps)
        u = _singular_values(run, model)
        exact = theory.gd_mode_strengths(steps, rate, U0)[..., : u.shape[-1]]
        assert np.max(np.abs(u - exact) / exact) < 1e-10
        flow = theory.mode_strengths_at(run.times, U0)[..., : u.shape[-1]]
        discretisation = np.max(np.abs(exact - flow))
        deviations.append(np.max(np.abs(u - flow)))
        assert deviations[-1] <= discretisation + 1e-10
    assert 1.7 <= deviations[0] / deviations[1] <= 2.3


def test_depth_two_follows_symcnn_descent_and_r5():
    """Depth 2 (C_in = N_o = 1): the run equals symcnn's Fast gradient descent (maps and
    loss) to 1e-10, and |M_f| follows R5 within the discretisation error, halving with lr."""
    model, stats, theory, params, x, y = _white_setup((6,), depth=2)
    lr = 0.2 * Theory(LinearCNN((6,), channels=2), stats).max_stable_lr  # depth 1's bound
    deviations = []
    for rate in (lr, lr / 2):
        steps = _steps(theory, lr) * round(lr / rate)
        run = train(to_torch(model, params), (x, y), rate, steps)
        reference = symcnn_train(Fast(model, stats), params, run.times, method="gd", lr=rate)
        scale = np.max(np.abs(reference.maps))
        assert np.max(np.abs(run.maps - reference.maps)) < 1e-10 * scale
        assert np.allclose(run.loss, reference.loss, rtol=1e-10, atol=1e-12)
        flow = theory.mode_strengths_at(run.times, U0)[..., :1]
        exact = _singular_values(reference, model)
        deviations.append(np.max(np.abs(_singular_values(run, model) - flow)))
        assert deviations[-1] <= np.max(np.abs(exact - flow)) + 1e-10
    assert 1.7 <= deviations[0] / deviations[1] <= 2.3


def _small_run():
    model, stats, theory, params, x, y = _white_setup((6,), c_in=2, n_out=2)
    return model, stats, params, x, y, 0.2 * theory.max_stable_lr


def test_loaders_datasets_and_labels_give_the_full_batch_run():
    """A DataLoader (batches of 10) and a Dataset equal the tensors, to rounding; class
    indices equal their one-hot targets exactly; the loss is symcnn's at every step."""
    model, stats, params, x, _, lr = _small_run()
    labels = np.random.default_rng(6).integers(0, 2, len(x))
    tensors = (torch.tensor(x), torch.tensor(labels))
    whole = train(to_torch(model, params), tensors, lr, 20, record=5)
    one_hot = train(to_torch(model, params), (x, np.eye(2)[labels]), lr, 20, record=5)
    assert np.array_equal(whole.maps, one_hot.maps)
    dataset = torch.utils.data.TensorDataset(*tensors)
    for data in (torch.utils.data.DataLoader(dataset, batch_size=10), dataset):
        run = train(to_torch(model, params), data, lr, 20, record=5)
        assert np.allclose(run.maps, whole.maps, rtol=0, atol=1e-13)
        assert np.allclose(run.loss, whole.loss, rtol=1e-13, atol=0)
    assert np.array_equal(whole.times, lr * np.array([0, 5, 10, 15, 20]))
    labelled = Statistics.from_samples(x, labels, n_out=2)
    reference = symcnn_train(Fast(model, labelled), params, whole.times, method="gd", lr=lr)
    assert np.allclose(whole.loss, reference.loss, rtol=1e-10, atol=0)
    assert all(np.allclose(a, b, rtol=0, atol=1e-12) for a, b in
               zip(whole.final, reference.final, strict=True))


def test_record_steps_and_trajectory_methods():
    model, stats, params, x, y, lr = _small_run()
    run = train(to_torch(model, params), (x, y), lr, 7, record=3)
    assert np.array_equal(run.times, lr * np.array([0, 3, 6, 7]))
    chosen = train(to_torch(model, params), (x, y), lr, 7, record=[0, 3, 6, 7])
    assert np.array_equal(chosen.maps, run.maps)
    modes = stats.modes()
    assert run.mode_strengths(modes).shape == (4, len(modes.s))
    assert run.spectra.shape == (4, 2, 2, 6)
    for bad in (0, [3, 1], [0, 8], [0.5], []):
        with pytest.raises(ValueError, match="record must be"):
            train(to_torch(model, params), (x, y), lr, 7, record=bad)


def test_optimizers():
    """A user's plain SGD equals the default exactly; momentum warns; an optimizer over other
    parameters or at another learning rate is refused."""
    model, stats, params, x, y, lr = _small_run()
    default = train(to_torch(model, params), (x, y), lr, 5)
    module = to_torch(model, params)
    own = train(module, (x, y), lr, 5, optimizer=torch.optim.SGD(module.parameters(), lr=lr))
    assert np.array_equal(own.maps, default.maps)
    module = to_torch(model, params)
    with pytest.warns(UserWarning, match="the theory covers plain SGD"):
        train(module, (x, y), lr, 2,
              optimizer=torch.optim.SGD(module.parameters(), lr=lr, momentum=0.9))
    with pytest.raises(ValueError, match="optimizer must be over exactly module.parameters"):
        train(to_torch(model, params), (x, y), lr, 2,
              optimizer=torch.optim.SGD(module.parameters(), lr=lr))
    with pytest.raises(ValueError, match="optimizer has learning rates"):
        train(module, (x, y), lr, 2, optimizer=torch.optim.SGD(module.parameters(), lr=2 * lr))
    with pytest.raises(TypeError, match="optimizer must be a torch.optim.Optimizer"):
        train(module, (x, y), lr, 2, optimizer="sgd")


def test_train_refuses():
    model, stats, params, x, y, lr = _small_run()
    module = to_torch(model, params)
    with pytest.raises(ValueError, match="lr must be a finite number > 0"):
        train(module, (x, y), 0.0, 2)
    with pytest.raises(ValueError, match="steps must be an integer >= 0"):
        train(module, (x, y), lr, 2.5)
    with pytest.raises(TypeError, match="data must be"):
        train(module, x, lr, 2)
    with pytest.raises(ValueError, match="x must have shape"):
        train(module, (x.reshape(len(x), -1), y), lr, 2)
    with pytest.raises(ValueError, match=r"in_features=12; the convolutions give C N = 2 x 5"):
        train(module, (x[..., :5], y), lr, 2)
    bad = x.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match=r"x \(batch 0\) contains NaN"):
        train(module, (bad, y), lr, 2)
    with pytest.raises(ValueError, match="target vectors y have N_o = 3"):
        train(module, (x, np.zeros((len(x), 3))), lr, 2)
    with pytest.raises(FloatingPointError, match="training diverged: the loss is"):
        train(to_torch(model, params), (x, y), 1e3, 50)


def test_fully_connected_descent_is_symcnn_descent():
    model, stats, params, x, y, lr = _small_run()
    fc = FullyConnected(model.n_in, 3, model.n_out)
    start = init_random(fc, 0.1, seed=7)
    run = train(to_torch(fc, start), (x, y), lr, 30, record=10)
    reference = symcnn_train(Dense(fc, stats), start, run.times, method="gd", lr=lr)
    assert np.allclose(run.maps, reference.maps, rtol=0, atol=1e-12)
    assert np.allclose(run.loss, reference.loss, rtol=1e-12, atol=0)
