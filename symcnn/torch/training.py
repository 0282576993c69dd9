"""Full-batch gradient descent of a PyTorch module, recorded as a symcnn
:class:`~symcnn.simulate.Trajectory` (docs/torch.md).

The loss is symcnn's ``L = 1/(2P) sum_mu |y_mu - f(x_mu)|^2`` (the ``Samples`` engine's, and
``1/2 tr(M Sigma_xx M^T) - tr(M Sigma_yx^T) + 1/2 <|y|^2>`` of ``Statistics.from_samples``),
its gradient accumulated over every batch before each step.  Step ``k`` is at time
``t = lr tau k`` with ``tau = 1``, as ``symcnn.simulate.train(..., method='gd')``.
"""

from __future__ import annotations

import warnings
from math import prod

import numpy as np
import torch

from ..checks import finite_array, numeric_array, positive, positive_int
from ..data import targets_from_labels
from ..model import FullyConnected
from ..simulate import Trajectory
from .convert import from_torch
from .data import _batches

DATASET_BATCH = 1024
"""The batch size a :class:`torch.utils.data.Dataset` is read in (the gradient is summed over
all of them, so it only sets the memory)."""


def train(module: torch.nn.Sequential, data, lr: float, steps: int, record=1,
          optimizer: torch.optim.Optimizer | None = None) -> Trajectory:
    """Train ``module`` in place by full-batch gradient descent on ``data``; the run as a
    :class:`~symcnn.simulate.Trajectory`.

    Parameters
    ----------
    module : torch.nn.Sequential
        A linear CNN or fully connected module that :func:`symcnn.torch.convert.from_torch`
        accepts; its image shape is read from ``x``.
    data : (x, y) tensors or arrays, a DataLoader or a Dataset of (x, y) pairs
        ``x`` of shape ``(P, C_in, *shape)``; ``y`` class indices ``(P,)`` (one-hot over the
        module's ``N_o`` outputs) or targets ``(P, N_o)``
        (:func:`symcnn.data.targets_from_labels`).  A ``Dataset`` is read in batches of
        :data:`DATASET_BATCH`.
    lr : float
        The step ``eta > 0``; step ``k`` is recorded at ``t = lr k``.
    steps : int
        Number of steps ``>= 0``.
    record : int or sequence of int
        The steps at which ``M``, the loss and the parameters' map are recorded: an int
        ``k >= 1`` records ``0, k, 2k, ...`` and always the last step; a sequence gives the
        steps, ascending integers in ``[0, steps]``.
    optimizer : torch.optim.Optimizer, optional
        Over exactly ``module.parameters()``, with learning rate ``lr`` in every group;
        default ``torch.optim.SGD(module.parameters(), lr)``, ``theta <- theta - lr dL/dtheta``.
        The theory covers plain SGD (no momentum, dampening, weight decay or Nesterov); any
        other optimizer warns (``UserWarning``), and its run is recorded all the same.

    Raises
    ------
    FloatingPointError
        The loss is no longer finite (``lr`` too large), naming the step.
    """
    x_shape = _x_shape(data)
    model, shape = _model(module, x_shape)
    lr = positive("lr", lr)
    steps = positive_int("steps", steps, minimum=0)
    recorded = _record(record, steps)
    optimizer = _optimizer(module, optimizer, lr)
    dtype = next(module.parameters()).dtype
    size = _size(data, model)
    maps, losses = [], []
    for k in range(steps + 1):
        optimizer.zero_grad()
        loss = _accumulate(module, data, model, dtype, size)
        if not np.isfinite(loss):
            raise FloatingPointError(f"training diverged: the loss is {loss} at step {k} (lr = "
                                     f"{lr:g}); lower lr")
        if k in recorded:
            maps.append(model.end_to_end(from_torch(module, **shape)[1]))
            losses.append(loss)
        if k < steps:
            optimizer.step()
    return Trajectory(times=lr * np.array(sorted(recorded), dtype=float), maps=np.array(maps),
                      loss=np.array(losses), final=from_torch(module, **shape)[1],
                      shape=x_shape[1:], c_in=x_shape[0])


def _x_shape(data) -> tuple[int, ...]:
    """``(C_in, *shape)`` of the first batch's ``x``."""
    x = next(iter(_batches(data, DATASET_BATCH)))[0]
    if np.ndim(x) not in (3, 4):
        raise ValueError(f"x must have shape (P, C_in, N_1) or (P, C_in, N_1, N_2), got "
                         f"{tuple(np.shape(x))}")
    return tuple(np.shape(x)[1:])


def _model(module, x_shape: tuple[int, ...]):
    """The symcnn model of ``module`` on inputs of shape ``x_shape = (C_in, *shape)``, and
    the keywords that give :func:`from_torch` the image shape."""
    model = from_torch(module, shape=x_shape[1:])[0]
    shape = {} if isinstance(model, FullyConnected) else {"shape": x_shape[1:]}
    if model.n_in != prod(x_shape):
        raise ValueError(f"x has C_in x N = {x_shape[0]} x {prod(x_shape[1:])} = "
                         f"{prod(x_shape)} inputs; the module takes {model.n_in}")
    return model, shape


def _record(record, steps: int) -> set[int]:
    """The recorded steps (see :func:`train`)."""
    if np.ndim(record) == 0:
        every = positive_int("record", record)
        return set(range(0, steps + 1, every)) | {steps}
    values = numeric_array("record", record)
    if values.ndim != 1 or len(values) == 0 or not np.all(values == np.round(values)) or (
            np.any(np.diff(values) <= 0)) or values[0] < 0 or values[-1] > steps:
        raise ValueError(f"record must be an int >= 1 or a non-empty ascending sequence of "
                         f"integer steps in [0, steps] = [0, {steps}], got {record!r}")
    return {int(v) for v in values}


def _optimizer(module, optimizer, lr: float) -> torch.optim.Optimizer:
    """``optimizer`` checked against ``module`` and ``lr`` (see :func:`train`)."""
    if optimizer is None:
        return torch.optim.SGD(module.parameters(), lr=lr)
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got "
                        f"{type(optimizer).__name__}")
    ours = {id(p) for p in module.parameters()}
    theirs = [id(p) for group in optimizer.param_groups for p in group["params"]]
    if set(theirs) != ours or len(theirs) != len(ours):
        raise ValueError("optimizer must be over exactly module.parameters() (each once)")
    rates = [group["lr"] for group in optimizer.param_groups]
    if any(rate != lr for rate in rates):
        raise ValueError(f"optimizer has learning rates {rates}; train records step k at "
                         f"t = lr k with lr = {lr!r}: give the optimizer lr={lr!r}")
    if not _plain_sgd(optimizer):
        warnings.warn(f"the theory covers plain SGD (no momentum, dampening, weight decay or "
                      f"Nesterov), not this {type(optimizer).__name__}; the run is recorded at "
                      "t = lr k all the same", UserWarning, stacklevel=3)
    return optimizer


def _plain_sgd(optimizer) -> bool:
    plain = {"momentum": 0, "dampening": 0, "weight_decay": 0, "nesterov": False,
             "maximize": False}
    return type(optimizer) is torch.optim.SGD and all(
        group.get(key, value) == value for group in optimizer.param_groups
        for key, value in plain.items())


def _tensors(x, y, model, dtype):
    """One batch as tensors in ``dtype``: ``x`` and the targets ``(P, N_o)``."""
    x = torch.as_tensor(x).to(dtype)
    targets = targets_from_labels(np.asarray(torch.as_tensor(y).cpu()), len(x), model.n_out)
    return x, torch.as_tensor(targets, dtype=dtype)


def _size(data, model) -> int:
    """``P``, the number of samples over all batches, each checked: finite ``x`` of the first
    batch's shape, labels or targets for the model's ``N_o`` outputs."""
    size, first = 0, None
    for i, (x, y) in enumerate(_batches(data, DATASET_BATCH)):
        x = finite_array(f"x (batch {i})", np.asarray(torch.as_tensor(x).cpu()))
        first = x.shape[1:] if first is None else first
        if x.shape[1:] != first:
            raise ValueError(f"x (batch {i}) has samples of shape {x.shape[1:]}, the first "
                             f"batch {first}")
        targets_from_labels(np.asarray(torch.as_tensor(y).cpu()), len(x), model.n_out)
        size += len(x)
    return size


def _accumulate(module, data, model, dtype, size: int) -> float:
    """``L = 1/(2P) sum |y - f(x)|^2`` over every batch, its gradient accumulated in the
    parameters' ``.grad``."""
    total = 0.0
    device = next(module.parameters()).device
    for x, y in _batches(data, DATASET_BATCH):
        x, targets = _tensors(x, y, model, dtype)
        loss = torch.sum((module(x.to(device)) - targets.to(device)) ** 2) / (2 * size)
        loss.backward()
        total += float(loss.detach())
    return total
