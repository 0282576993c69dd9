"""The PyTorch bridge (the ``torch`` extra; importing symcnn never imports torch): linear
CNNs and datasets from PyTorch to symcnn's theory, and back (docs/torch.md).

- :func:`to_torch` and :func:`from_torch`: a symcnn model and its parameters as the
  equivalent ``torch.nn.Sequential`` (circular ``'same'`` convolutions without bias, then a
  ``Linear`` readout), and back, bit for bit;
- :func:`statistics`: :class:`~symcnn.data.Statistics` of a torch ``Dataset``,
  ``DataLoader`` or tensors, accumulated in float64 in batches;
- :func:`train`: full-batch gradient descent of a torch module, recorded as a
  :class:`~symcnn.simulate.Trajectory`;
- :class:`Torch`: an engine for :func:`symcnn.simulate.train` that trains on the samples with
  torch (CPU or GPU).
"""

from .convert import from_torch, to_torch
from .data import statistics
from .engine import Torch
from .training import train

__all__ = ["Torch", "from_torch", "statistics", "to_torch", "train"]
