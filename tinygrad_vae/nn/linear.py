"""``Linear``, the fully connected layer, and ``Identity``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_vae.core.dtypes import get_default_dtype
from tinygrad_vae.core.function import OpError
from tinygrad_vae.core.tensor import Tensor
from tinygrad_vae.nn import init
from tinygrad_vae.nn.module import Module, Parameter
from tinygrad_vae.ops.linalg import Affine, MatMul
from tinygrad_vae.validation import check_generator, check_int


class Linear(Module):
    r"""``torch.nn.Linear``: ``y = x @ W^T + b`` as one fused op (``ops.linear``).

    ``Linear(in_features, out_features, bias=True, dtype=None, generator=None)``.
    ``weight`` has torch's shape ``(out_features, in_features)``, ``bias`` shape
    ``(out_features,)``. Initialisation (``reset_parameters``) is torch's: the
    weight from ``init.kaiming_uniform_(a=sqrt(5))``, i.e. ``U(-1/sqrt(in), 1/sqrt(in))``,
    and the bias from ``U(-1/sqrt(in), 1/sqrt(in))``, both drawn from ``generator``
    (a ``numpy.random.Generator``; None: a fresh unseeded one), weight first.
    ``dtype`` defaults to ``get_default_dtype()``. Inputs have shape
    ``(..., in_features)``; arrays are wrapped in Tensors.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        dtype: Any = None,
        generator: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        self.in_features = check_int(in_features, "in_features", "Linear")
        self.out_features = check_int(out_features, "out_features", "Linear")
        dtype = get_default_dtype() if dtype is None else np.dtype(dtype)
        self.weight = Parameter(np.empty((self.out_features, self.in_features), dtype=dtype))
        self.bias = Parameter(np.empty(self.out_features, dtype=dtype)) if bias else None
        self.reset_parameters(generator)

    def reset_parameters(self, generator: np.random.Generator | None = None) -> None:
        """Draw the weight and bias afresh, as torch does (see the class docstring)."""
        generator = check_generator(generator, "Linear", name="generator")
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), generator=generator)
        if self.bias is not None:
            bound = 1.0 / math.sqrt(self.in_features)
            init.uniform_(self.bias, -bound, bound, generator=generator)

    def forward(self, x: Any) -> Tensor:
        if not isinstance(x, Tensor):
            x = Tensor(x)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise OpError(
                f"Linear(in_features={self.in_features}, out_features={self.out_features}): "
                f"expected input of shape (..., {self.in_features}), got {x.shape}"
            )
        # The op classes directly: the shapes are checked above, and this is the hot path of every model.
        if self.bias is None:
            return MatMul.apply(x, self.weight, transpose_b=True)
        return Affine.apply(x, self.weight, self.bias, transpose_weight=True)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Identity(Module):
    """``torch.nn.Identity``: returns its input unchanged (any constructor arguments are ignored, as in torch)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, input: Any) -> Any:
        return input
