"""Neural-network building blocks in the style of ``torch.nn``.

    module.py         Module and Parameter: registration, traversal, state_dict
    linear.py         Linear
    conv.py           Conv1d, Conv2d, ConvTranspose2d
    pooling.py        MaxPool2d, AvgPool2d, Upsample
    activation.py     ReLU, Sigmoid, Tanh
    container.py      Sequential
    functional.py     the functions behind the modules (activations and losses), as torch.nn.functional
    init.py           weight initializers, each drawing from a numpy.random.Generator
    serialization.py  save/load of nested state dicts as .npz, written atomically

Differences from PyTorch, kept on purpose for a small teaching library:

- ``Linear`` stores its weight as ``(in_features, out_features)`` and
  computes ``x @ W + b`` (the origin notebook's layout), not ``x @ W.T + b``.
- There are no buffers, hooks on modules, or devices.
- ``zero_grad`` always sets ``.grad = None`` (PyTorch's default).
- ``load_state_dict`` refuses a dtype mismatch instead of casting silently.
"""

from tinygrad_vae.nn import functional, init, serialization
from tinygrad_vae.nn.activation import ReLU, Sigmoid, Tanh
from tinygrad_vae.nn.container import Sequential
from tinygrad_vae.nn.conv import Conv1d, Conv2d, ConvTranspose2d
from tinygrad_vae.nn.linear import Linear
from tinygrad_vae.nn.module import IncompatibleKeys, Module, Parameter
from tinygrad_vae.nn.pooling import AvgPool2d, MaxPool2d, Upsample

__all__ = [
    "AvgPool2d", "Conv1d", "Conv2d", "ConvTranspose2d", "IncompatibleKeys", "Linear", "MaxPool2d", "Module",
    "Parameter", "ReLU", "Sequential", "Sigmoid", "Tanh", "Upsample",
    "functional", "init", "serialization",
]
