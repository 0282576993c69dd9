"""A fourth training engine for :func:`symcnn.simulate.train`: the samples through PyTorch.

:class:`Torch` computes ``L = 1/(2P) sum_mu |y_mu - y_hat(x_mu)|^2`` by a forward pass of
the network over the samples in torch and its gradient by autograd, on the CPU or a GPU.
The layers are ``torch.nn.functional.conv1d``/``conv2d`` (cross-correlation, no padding)
on the input padded circularly (``torch.nn.functional.pad(mode='circular')``) by ``o_i``
before and ``k_i - 1 - o_i`` after, ``o_i = (k_i - 1) // 2``: then ``h[c, n] = sum_{c', p}
w[c, c', p] x[c', n + p - o]``, symcnn's ``lag(p) = p - o``.  For ``convention =
'convolution'`` (``lag(p) = o - p``) the kernel is flipped, ``w'[p] = w[k - 1 - p]``, and the
padding is ``k_i - 1 - o_i`` before and ``o_i`` after.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..checks import finite_array, instance
from ..data import targets_from_labels
from ..model import FullyConnected, LinearCNN
from ..simulate import _Engine

DTYPES = (torch.float64, torch.float32)


class Torch(_Engine):
    """Loss and gradient over the samples by torch autograd.

    Parameters
    ----------
    model : LinearCNN or FullyConnected
    x : array or tensor, shape (P, C_in, *shape)
        The samples; for a ``FullyConnected`` model ``C_in N`` must be its ``n_in``.
    y : array or tensor
        Class indices ``(P,)`` (one-hot over ``model.n_out``) or targets ``(P, N_o)``.
    device : str or torch.device, optional
        Default ``'cuda'`` when ``torch.cuda.is_available()``, else ``'cpu'``.
    dtype : torch.float64 or torch.float32
        The precision of the passes; float64 agrees with the other engines to rounding
        (1e-12 tested), float32 to about 1e-6.

    The loss includes ``1/2 <|y|^2>``, as :class:`symcnn.simulate.Samples`.
    """

    def __init__(self, model: LinearCNN | FullyConnected, x, y, device=None,
                 dtype=torch.float64):
        self.model = instance("model", model, (LinearCNN, FullyConnected))
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be torch.float64 or torch.float32, got {dtype!r}")
        self.device, self.dtype = _device(device), dtype
        x = finite_array("x", x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x)
        _check_samples(model, x)
        self.shape, self.c_in = x.shape[2:], x.shape[1]
        if isinstance(y, torch.Tensor):
            y = y.detach().cpu().numpy()
        targets = targets_from_labels(y, len(x), model.n_out)
        self.syx = targets.T @ x.reshape(len(x), -1) / len(x)  # Sigma_yx of the samples
        self._x, self._y = self._tensor(x), self._tensor(targets)

    def _tensor(self, a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(a, dtype=self.dtype, device=self.device)

    def _outputs(self, weights: list[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        """``y_hat`` ``(B, N_o)`` for inputs ``x`` ``(B, C_in, *shape)``."""
        if isinstance(self.model, FullyConnected):
            w1, w2 = weights
            return x.reshape(len(x), -1) @ w1.T @ w2.T
        *kernels, w_out = weights
        for w in kernels:
            x = _layer(self.model, w, x)
        return x.reshape(len(x), -1) @ w_out.reshape(len(w_out), -1).T

    def _weights(self, params, grad: bool = False) -> list[torch.Tensor]:
        return [self._tensor(p).requires_grad_(grad) for p in params]

    def _loss(self, weights: list[torch.Tensor]) -> torch.Tensor:
        residual = self._outputs(weights, self._x) - self._y
        return 0.5 * torch.sum(residual**2) / len(self._x)

    def _evaluate(self, params) -> tuple[float, np.ndarray]:
        """``(L, M)``; ``M^T`` is the network applied to the basis vectors ``e_d``."""
        with torch.no_grad():
            weights = self._weights(params)
            basis = torch.eye(self.model.n_in, dtype=self.dtype, device=self.device)
            m = self._outputs(weights, basis.reshape(-1, self.c_in, *self.shape)).T
            return float(self._loss(weights)), m.cpu().numpy().astype(float)

    def _gradient(self, params) -> tuple[np.ndarray, ...]:
        weights = self._weights(params, grad=True)
        grads = torch.autograd.grad(self._loss(weights), weights)
        return tuple(g.cpu().numpy().astype(float) for g in grads)


def _layer(model: LinearCNN, w: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """One circular layer, ``h[c, n] = sum_{c', p} w[c, c', p] x[c', n + lag(p)]``."""
    d = len(model.shape)
    before, after = model.offset, tuple(k - 1 - o for k, o in zip(model.kernel, model.offset,
                                                                  strict=True))
    if model.convention == "convolution":
        w, before, after = torch.flip(w, dims=tuple(range(2, 2 + d))), after, before
    pad = [n for axis in reversed(range(d)) for n in (before[axis], after[axis])]
    conv = F.conv1d if d == 1 else F.conv2d
    return conv(F.pad(x, pad, mode="circular"), w)


def _check_samples(model, x: np.ndarray) -> None:
    if x.ndim not in (3, 4):
        raise ValueError("x must have shape (P, C_in, N_1) or (P, C_in, N_1, N_2), got "
                         f"{x.shape}")
    if isinstance(model, LinearCNN) and x.shape[1:] != (model.c_in, *model.shape):
        raise ValueError(f"x must have shape (P, C_in, *shape) = (P, {model.c_in}, "
                         f"{', '.join(map(str, model.shape))}) for the model, got {x.shape}")
    if isinstance(model, FullyConnected) and x[0].size != model.n_in:
        raise ValueError(f"x must have C_in N = n_in = {model.n_in} entries per sample for the "
                         f"model, got shape {x.shape}")


def _device(device) -> torch.device:
    """``device`` as a ``torch.device``, default cuda when available, else cpu."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"device must be a torch device such as 'cpu' or 'cuda', got "
                         f"{device!r} ({error})") from None
