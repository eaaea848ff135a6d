"""Neural-network building blocks in the style of ``torch.nn``.

    module.py         Module and Parameter: registration, traversal, state_dict
    linear.py         Linear
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
from tinygrad_vae.nn.activation import ELU, GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, SiLU, Softmax, Softplus, Tanh
from tinygrad_vae.nn.container import Sequential
from tinygrad_vae.nn.dropout import Dropout
from tinygrad_vae.nn.embedding import Embedding
from tinygrad_vae.nn.linear import Linear
from tinygrad_vae.nn.loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    GaussianNLLLoss,
    KLDivLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
)
from tinygrad_vae.nn.module import IncompatibleKeys, Module, Parameter
from tinygrad_vae.nn.normalization import BatchNorm1d, BatchNorm2d, LayerNorm

__all__ = [
    "ELU", "GELU", "BCELoss", "BCEWithLogitsLoss", "BatchNorm1d", "BatchNorm2d", "CrossEntropyLoss", "Dropout",
    "Embedding", "GaussianNLLLoss", "IncompatibleKeys", "KLDivLoss", "L1Loss", "LayerNorm", "LeakyReLU", "Linear",
    "LogSoftmax", "MSELoss", "Module", "NLLLoss", "Parameter", "ReLU", "Sequential", "SiLU", "Sigmoid", "Softmax",
    "Softplus", "Tanh", "functional", "init", "serialization",
]
