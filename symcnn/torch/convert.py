"""symcnn networks as PyTorch modules and back (docs/torch.md).

A :class:`~symcnn.model.LinearCNN` is the ``torch.nn.Sequential``

    Conv{d}d(C_in, C, k, padding='same', padding_mode='circular', bias=False),
    Conv{d}d(C, C, k, ...)  (depth - 1 times),  Flatten(),  Linear(C N, N_o, bias=False),

whose layer ``l`` computes ``h[c, n] = sum_{c', p} w_l[c, c', p] x[c', (n + p - o) mod N]``
with ``o = (k - 1) // 2`` (PyTorch pads ``o`` on the left for ``padding='same'``), which is
symcnn's cross-correlation; ``Flatten`` orders the ``C x N`` map channel-major, then
row-major, as ``W.reshape(N_o, C N)``.  A :class:`~symcnn.model.FullyConnected` network is
``Sequential(Flatten(), Linear(D, H, bias=False), Linear(H, N_o, bias=False))``.  Weights
are copied, never computed: ``from_torch(to_torch(m, p))`` returns ``m`` and ``p`` bit for
bit (float64).
"""

from __future__ import annotations

from math import prod

import numpy as np
import torch
from torch import nn

from ..checks import instance, size_tuple
from ..model import CONVENTIONS, FullyConnected, LinearCNN

CONVS = {1: nn.Conv1d, 2: nn.Conv2d}
"""The convolution class of each number of spatial dimensions."""


def to_torch(model: LinearCNN | FullyConnected, params, dtype: torch.dtype = torch.float64,
             device=None) -> nn.Sequential:
    """The ``torch.nn.Sequential`` computing ``y_hat = M x`` of ``model`` at ``params``.

    Parameters
    ----------
    model : LinearCNN or FullyConnected
    params : sequence of arrays
        ``(w_1, ..., w_depth, W)`` or ``(W_1, W_2)``, checked by ``model.check_params``.
    dtype : torch.dtype
        A floating dtype of the weights (float64 by default: no rounding).
    device : torch.device or str, optional

    A ``convention='convolution'`` model (``lag(p) = o - p``) is the cross-correlation with
    the kernel reversed, ``w[..., ::-1]``, when every ``k_i`` is odd (an index reversal, no
    arithmetic); for an even ``k_i`` the offsets differ by one and the model is refused
    (``ValueError``).
    """
    instance("model", model, (LinearCNN, FullyConnected))
    params = model.check_params(params)
    if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise TypeError(f"dtype must be a floating torch.dtype, got {dtype!r}")
    if isinstance(model, FullyConnected):
        w1, w2 = params
        layers = [nn.Flatten(), _linear(w1), _linear(w2)]
    else:
        *kernels, w_out = params
        if model.convention == "convolution":
            _require_odd(model.kernel, "model")
            kernels = [_reversed(w) for w in kernels]
        layers = [*(_conv(w) for w in kernels), nn.Flatten(),
                  _linear(w_out.reshape(model.n_out, -1))]
    return nn.Sequential(*layers).to(dtype=dtype, device=device)


def _conv(w: np.ndarray) -> nn.Module:
    conv = CONVS[w.ndim - 2](w.shape[1], w.shape[0], w.shape[2:], padding="same",
                             padding_mode="circular", bias=False)
    return _set(conv, w)


def _linear(w: np.ndarray) -> nn.Linear:
    return _set(nn.Linear(w.shape[1], w.shape[0], bias=False), w)


def _set(layer: nn.Module, w: np.ndarray) -> nn.Module:
    """``layer`` with its weight replaced by a float64 copy of ``w``."""
    with torch.no_grad():
        layer.weight = nn.Parameter(torch.tensor(w, dtype=torch.float64))
    return layer


def _reversed(w: np.ndarray) -> np.ndarray:
    """``w[:, :, ::-1, ...]`` over every spatial axis (convolution <-> cross-correlation)."""
    return np.ascontiguousarray(w[(slice(None), slice(None), *[slice(None, None, -1)] *
                                   (w.ndim - 2))])


def _require_odd(kernel: tuple[int, ...], name: str) -> None:
    if any(k % 2 == 0 for k in kernel):
        raise ValueError(
            f"{name}: convention='convolution' with the even kernel {kernel} has no PyTorch "
            "equivalent of that size: PyTorch's Conv is a cross-correlation, and the reversed "
            "kernel of even size k has offset (k - 1) // 2 + 1, not (k - 1) // 2; use "
            "convention='correlation' or an odd kernel")


def from_torch(module: nn.Module, shape=None, convention: str = "correlation"):
    """The symcnn model and parameters ``(model, params)`` of a module :func:`to_torch` makes.

    Parameters
    ----------
    module : torch.nn.Sequential
        ``Conv{d}d`` layers (``padding='same'``, or the equivalent integer ``(k - 1) // 2``
        for odd ``k``, with ``padding_mode='circular'``; no bias, stride 1, dilation 1,
        groups 1; one kernel size; ``C_in -> C``, then ``C -> C``), ``Flatten()`` and
        ``Linear(C N, N_o, bias=False)``; or ``Flatten(), Linear(D, H), Linear(H, N_o)``
        without biases (a :class:`~symcnn.model.FullyConnected` network).
    shape : int or tuple of int, optional
        The image shape ``N``, which a convolution does not store: required in 2-D, inferred
        as ``N = in_features / C`` in 1-D (and checked against ``in_features`` when given).
        For a fully connected module, an optional check that ``N`` divides ``D``.
    convention : {"correlation", "convolution"}
        The model's convention; ``"convolution"`` (odd kernels only) reverses the kernels,
        the inverse of :func:`to_torch`.

    Any other layer or attribute raises ``TypeError`` (a layer class) or ``ValueError``
    (an attribute), naming the layer by index and class.  Weights are copied as float64
    (exact from float32 and float64).
    """
    instance("module", module, nn.Sequential)
    if not (isinstance(convention, str) and convention in CONVENTIONS):
        raise ValueError(f"convention must be one of {CONVENTIONS}, got {convention!r}")
    shape = None if shape is None else size_tuple("shape", shape)
    layers = list(module)
    for i, layer in enumerate(layers):
        if not isinstance(layer, (nn.Conv1d, nn.Conv2d, nn.Flatten, nn.Linear)):
            raise TypeError(f"module[{i}] ({type(layer).__name__}) is not a layer of a linear "
                            "CNN: only Conv1d/Conv2d, Flatten and Linear are supported (no "
                            "nonlinearity, pooling, dropout or normalisation)")
    flat = [i for i, layer in enumerate(layers) if isinstance(layer, nn.Flatten)]
    if len(flat) != 1:
        raise ValueError(f"module must hold exactly one Flatten (between the convolutions and "
                         f"the Linear layers), got {len(flat)}")
    if flat[0] == 0:
        return _fully_connected(layers, shape)
    return _cnn(layers, flat[0], shape, convention)


def _weight(i: int, layer: nn.Module) -> np.ndarray:
    """``layer.weight`` as a float64 array (a copy), after refusing a bias."""
    if layer.bias is not None:
        raise ValueError(f"module[{i}] ({type(layer).__name__}) has a bias; symcnn's networks "
                         "are linear maps without bias (bias=False)")
    return layer.weight.detach().cpu().numpy().astype(np.float64, copy=True)


def _check_flatten(i: int, layer: nn.Flatten) -> None:
    if (layer.start_dim, layer.end_dim) != (1, -1):
        raise ValueError(f"module[{i}] (Flatten) has start_dim={layer.start_dim}, "
                         f"end_dim={layer.end_dim}; only Flatten(1, -1) (the batch axis kept) "
                         "is supported")


def _check_kinds(layers, kinds: tuple[type, ...], start: int) -> None:
    for i, layer in enumerate(layers, start):
        if not isinstance(layer, kinds):
            raise TypeError(f"module[{i}] ({type(layer).__name__}) is out of place: expected "
                            f"{' or '.join(k.__name__ for k in kinds)}")


def _chain(i: int, layer: nn.Module, name: str, got: int, want: int) -> None:
    if got != want:
        raise ValueError(f"module[{i}] ({type(layer).__name__}) has {name}={got}; the layer "
                         f"before it gives {want}")


def _fully_connected(layers, shape):
    _check_flatten(0, layers[0])
    if len(layers) != 3:
        raise ValueError(f"a fully connected module is Flatten, Linear, Linear; got "
                         f"{len(layers)} layers")
    _check_kinds(layers[1:], (nn.Linear,), 1)
    first, second = layers[1:]
    _chain(2, second, "in_features", second.in_features, first.out_features)
    if shape is not None and first.in_features % prod(shape):
        raise ValueError(f"shape={shape} ({prod(shape)} pixels) does not divide the input "
                         f"dimension in_features={first.in_features} of module[1] (Linear)")
    model = FullyConnected(first.in_features, first.out_features, second.out_features)
    return model, (_weight(1, first), _weight(2, second))


def _cnn(layers, flat: int, shape, convention: str):
    convs, readout = layers[:flat], layers[flat + 1:]
    _check_flatten(flat, layers[flat])
    _check_kinds(convs, (nn.Conv1d, nn.Conv2d), 0)
    if len(readout) != 1:
        raise ValueError(f"a CNN module ends with Flatten and one Linear; got {len(readout)} "
                         f"layers after module[{flat}] (Flatten)")
    _check_kinds(readout, (nn.Linear,), flat + 1)
    first = convs[0]
    for i, conv in enumerate(convs):
        _check_conv(i, conv, first)
        if i:
            _chain(i, conv, "in_channels", conv.in_channels, convs[i - 1].out_channels)
    channels, kernel, linear = first.out_channels, tuple(first.kernel_size), readout[0]
    shape = _image_shape(shape, len(kernel), channels, flat + 1, linear)
    try:
        model = LinearCNN(shape, kernel, channels, first.in_channels, linear.out_features,
                          len(convs), convention)
    except ValueError as error:
        raise ValueError(f"module[0] ({type(first).__name__}): {error}") from None
    kernels = [_weight(i, conv) for i, conv in enumerate(convs)]
    if convention == "convolution":
        _require_odd(kernel, "convention")
        kernels = [_reversed(w) for w in kernels]
    w_out = _weight(flat + 1, linear).reshape(model.param_shapes()[-1])
    return model, (*kernels, w_out)


def _check_conv(i: int, conv: nn.Module, first: nn.Module) -> None:
    """Refuse what symcnn's layer is not: another dimension or kernel size than the first
    layer's, a stride, dilation, groups, or a padding other than circular 'same'."""
    name = f"module[{i}] ({type(conv).__name__})"
    if type(conv) is not type(first) or conv.kernel_size != first.kernel_size:
        raise ValueError(f"{name} has kernel_size={conv.kernel_size}; every convolution must be "
                         f"a {type(first).__name__} of kernel_size={first.kernel_size} like "
                         "module[0]")
    if conv.out_channels != first.out_channels:
        raise ValueError(f"{name} has out_channels={conv.out_channels}; every convolution has "
                         f"the same C = {first.out_channels} channels")
    for attribute in ("stride", "dilation"):
        if any(v != 1 for v in getattr(conv, attribute)):
            raise ValueError(f"{name} has {attribute}={getattr(conv, attribute)}; only "
                             f"{attribute} 1 is supported")
    if conv.groups != 1:
        raise ValueError(f"{name} has groups={conv.groups}; only groups=1 is supported")
    if conv.padding_mode != "circular":
        raise ValueError(f"{name} has padding_mode={conv.padding_mode!r}; symcnn's layers are "
                         "periodic: padding_mode='circular'")
    same = tuple((k - 1) // 2 for k in conv.kernel_size)
    if conv.padding != "same" and not (conv.padding == same and all(
            k % 2 for k in conv.kernel_size)):
        raise ValueError(f"{name} has padding={conv.padding!r}; supported: padding='same', or "
                         f"for odd kernels the equivalent (k - 1) // 2 = {same}")


def _image_shape(shape, d: int, channels: int, i: int, linear: nn.Linear) -> tuple[int, ...]:
    """``shape``, checked against ``in_features = C N`` of ``linear`` (module[i]), or
    inferred from it in 1-D."""
    if shape is None:
        if d == 2:
            raise ValueError("shape is required for a 2-D module: a Conv2d does not store the "
                             "image shape, and in_features = C N1 N2 does not determine it")
        if linear.in_features % channels:
            raise ValueError(f"module[{i}] (Linear) has in_features={linear.in_features}, not "
                             f"a multiple of C = {channels} channels")
        shape = (linear.in_features // channels,)
    if len(shape) != d:
        raise ValueError(f"shape={shape} has {len(shape)} dimensions; the convolutions are "
                         f"{d}-D")
    if linear.in_features != channels * prod(shape):
        raise ValueError(f"module[{i}] (Linear) has in_features={linear.in_features}; the "
                         f"convolutions give C N = {channels} x {prod(shape)} = "
                         f"{channels * prod(shape)} for shape={shape}")
    return shape
