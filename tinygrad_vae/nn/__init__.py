"""Neural-network building blocks in the style of ``torch.nn``.

    module.py         Module and Parameter: registration, buffers, traversal, state_dict, to(dtype)
    linear.py         Linear (torch's (out, in) weight and initialisation), Identity
    activation.py     ReLU, Sigmoid, Tanh, LeakyReLU, GELU, ELU, SiLU, Softplus, Softmax, LogSoftmax
    dropout.py        Dropout
    normalization.py  LayerNorm, BatchNorm1d, BatchNorm2d (running statistics as buffers)
    embedding.py      Embedding
    loss.py           the loss modules (MSELoss, CrossEntropyLoss, ...) over the functional losses
    conv.py           Conv1d, Conv2d, ConvTranspose2d
    pooling.py        MaxPool2d, AvgPool2d, Upsample
    container.py      Sequential, ModuleList, ModuleDict, Flatten, Unflatten
    functional.py     the functions behind the modules (activations, losses, layers), as torch.nn.functional
    losses.py         the functional losses
    attention.py      scaled_dot_product_attention
    init.py           torch.nn.init's in-place initialisers, each drawing from a numpy.random.Generator
    serialization.py  save/load of nested state dicts as .npz, written atomically

Differences from PyTorch, kept on purpose for a small teaching library:

- Randomness comes from a ``generator=`` argument (modules, ``init``); None means a
  fresh unseeded ``np.random.default_rng()``: there is no global RNG to seed.
- ``Module.to`` takes a dtype only (float32/float64): there are no devices.
- There are no hooks on modules.
- ``zero_grad`` always sets ``.grad = None`` (PyTorch's default).
- ``load_state_dict`` refuses a dtype mismatch instead of casting silently.
"""

from tinygrad_vae.nn import functional, init, serialization
from tinygrad_vae.nn.activation import ELU, GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, SiLU, Softmax, Softplus, Tanh
from tinygrad_vae.nn.container import Flatten, ModuleDict, ModuleList, Sequential, Unflatten
from tinygrad_vae.nn.conv import Conv1d, Conv2d, ConvTranspose2d
from tinygrad_vae.nn.dropout import Dropout
from tinygrad_vae.nn.embedding import Embedding
from tinygrad_vae.nn.linear import Identity, Linear
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
from tinygrad_vae.nn.pooling import AvgPool2d, MaxPool2d, Upsample

__all__ = [
    "ELU",
    "GELU",
    "AvgPool2d",
    "BCELoss",
    "BCEWithLogitsLoss",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv1d",
    "Conv2d",
    "ConvTranspose2d",
    "CrossEntropyLoss",
    "Dropout",
    "Embedding",
    "Flatten",
    "GaussianNLLLoss",
    "Identity",
    "IncompatibleKeys",
    "KLDivLoss",
    "L1Loss",
    "LayerNorm",
    "LeakyReLU",
    "Linear",
    "LogSoftmax",
    "MSELoss",
    "MaxPool2d",
    "Module",
    "ModuleDict",
    "ModuleList",
    "NLLLoss",
    "Parameter",
    "ReLU",
    "Sequential",
    "SiLU",
    "Sigmoid",
    "Softmax",
    "Softplus",
    "Tanh",
    "Unflatten",
    "Upsample",
    "functional",
    "init",
    "serialization",
]
