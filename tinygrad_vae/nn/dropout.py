"""``Dropout``: inverted dropout as a module, its masks drawn from a ``numpy.random.Generator``.

In training each element is kept with probability 1 - p and scaled by 1 / (1 - p), so the
expected output equals the input and evaluation needs no rescaling:

    y = x * m / (1 - p),   m_i ~ Bernoulli(1 - p)   (training);    y = x   (eval)

The mask is a constant of the graph (dy/dx = m / (1 - p)), drawn through ``ops.creation.draw``
(the library's random draw; see ``nn.functional.dropout``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_vae.core import tracing
from tinygrad_vae.core.tensor import Tensor
from tinygrad_vae.nn import functional as F
from tinygrad_vae.nn.module import Module
from tinygrad_vae.validation import check_generator


class Dropout(Module):
    """Zeroes each element with probability ``p`` in training mode and scales the rest by 1 / (1 - p).

    ``Dropout(p=0.5, inplace=False, generator=None)``: the masks are drawn from ``generator``,
    a ``numpy.random.Generator`` that a forward pass in training mode needs (torch would use
    its global generator; here there is none). In eval mode (``module.eval()``) it is the identity.
    p = 1 gives zeros, as torch.
    """

    def __init__(self, p: float = 0.5, inplace: bool = False, generator: np.random.Generator | None = None) -> None:
        super().__init__()
        F._out_of_place("Dropout", inplace)
        self.p = F._dropout_p(p, "Dropout")
        self.inplace = inplace
        self.generator = None if generator is None else check_generator(generator, "Dropout", name="generator")

    def forward(self, x: Any) -> Tensor:
        tracing.guard_attributes(self, "training", "p")  # a compiled step is traced again after train()/eval()
        return F._dropout(x, self.p, self.training, self.generator, "Dropout")

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"
