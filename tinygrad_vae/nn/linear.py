"""``Linear``, the fully connected layer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_vae.core.dtypes import get_default_dtype
from tinygrad_vae.core.function import OpError
from tinygrad_vae.core.tensor import Tensor
from tinygrad_vae.nn import init as _init
from tinygrad_vae.nn.module import Module, Parameter
from tinygrad_vae.ops.linalg import affine
from tinygrad_vae.validation import check_int

_INITIALIZERS: dict[str, Callable[..., np.ndarray]] = {
    "normal": _init.normal,
    "xavier": _init.xavier_uniform,
    "kaiming": _init.kaiming_normal,
}


class Linear(Module):
    """A fully connected layer: ``y = x @ W + b`` as one fused op (``ops.affine``).

    ``weight`` has shape ``(in_features, out_features)`` (the notebook's
    layout; PyTorch stores the transpose) and ``bias`` shape
    ``(out_features,)``, initialized to zeros. ``init`` picks the weight
    initializer (see ``tinygrad_vae.nn.init``):

    - ``"normal"``: ``scale * N(0, 1)``, the notebook's (``scale`` only applies here);
    - ``"xavier"``: Glorot uniform, ``U(-a, a)``, ``a = sqrt(6 / (in + out))``;
    - ``"kaiming"``: He normal for ReLU, ``N(0, 2 / in)``.

    ``rng`` is a ``numpy.random.Generator`` (None: a fresh unseeded one);
    ``dtype`` defaults to ``get_default_dtype()``. Inputs have shape
    ``(..., in_features)``; arrays are wrapped in Tensors.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        init: str = "normal",
        scale: float = 0.1,
        rng: np.random.Generator | None = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        in_features = check_int(in_features, "in_features", "Linear")
        out_features = check_int(out_features, "out_features", "Linear")
        if init not in _INITIALIZERS:
            raise ValueError(f"Linear: init must be one of {sorted(_INITIALIZERS)}, got {init!r}")
        dtype = get_default_dtype() if dtype is None else np.dtype(dtype)
        shape = (in_features, out_features)
        kwargs = {"scale": scale} if init == "normal" else {}
        self.in_features, self.out_features = shape
        self.weight = Parameter(_INITIALIZERS[init](shape, rng=rng, dtype=dtype, **kwargs))
        self.bias = Parameter(_init.zeros((shape[1],), dtype=dtype)) if bias else None

    def forward(self, x: Any) -> Tensor:
        if not isinstance(x, Tensor):
            x = Tensor(x)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise OpError(
                f"Linear(in_features={self.in_features}, out_features={self.out_features}): "
                f"expected input of shape (..., {self.in_features}), got {x.shape}"
            )
        if self.bias is None:
            return x @ self.weight
        return affine(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
