"""The ops: each a ``Function`` with its forward beside its gradient rule, one file per kind.

    base.py         the Op base class, unbroadcast and the axis helpers every rule shares
    elementwise.py  + - * / ** neg, maximum/minimum, where, clip/clamp, cast, exp, log, sqrt, abs
    math_functions.py  trigonometric, hyperbolic, log/exp family, rounding and sign, remainders, binary math
    logical.py      isnan/isclose-like predicates, logical and bitwise functions (no gradient)
    reductions.py   sum, mean, prod, amax/amin, max/min with indices, logsumexp, var/std, any/all
    scans.py        cumsum, cumprod, cummax/cummin, logcumsumexp, diff
    sorting.py      sort, argsort, topk, argmax, argmin
    movement.py     reshape, transpose/permute/swapaxes/moveaxis, broadcast_to/expand, squeeze/unsqueeze, indexing,
                    concatenate/cat, stack
    shape.py        pad, tile/repeat, flip/rot90/roll, split and stack families, diag/diagonal/trace, unfold
    convolution.py  conv1d, conv2d, conv_transpose2d (im2col and one matrix product; col2im backward)
    pooling.py      max_pool2d, avg_pool2d, interpolate (nearest)
    linalg.py       matmul, affine, linear, einsum and its products (tensordot, dot, vdot, inner, outer, kron, cross)
    indexing.py     gather, scatter, scatter_add, scatter_reduce, index_select, take_along_axis, masks, one_hot
    creation.py     tensor, zeros/ones/full/empty(_like), eye, arange, linspace, meshgrid, tril/triu, random draws
    special.py      erf, erfc, erfinv
    activations.py  relu, leaky_relu, sigmoid, tanh, softplus, log_sigmoid, softmax, log_softmax, softmin, gelu,
                    quick_gelu, silu/swish, elu, celu, selu, relu6, hardtanh, hardsigmoid, hardswish, mish,
                    softsign, normalize
    losses.py       squared_error, gaussian_kl (with torch's reductions), reparameterize
    methods.py      the Tensor's operators and elementwise methods (and install, called here)
    axis_methods.py the Tensor's methods along dims: reductions, scans, sorting, shape, contractions, indexing
"""

from tinygrad_vae.core.tensor import Tensor
from tinygrad_vae.ops import (
    activations,
    convolution,
    creation,
    elementwise,
    indexing,
    linalg,
    logical,
    losses,
    math_functions,
    methods,
    movement,
    pooling,
    reductions,
    scans,
    shape,
    sorting,
    special,
)
from tinygrad_vae.ops.base import Op, unbroadcast

MODULES = (activations, convolution, creation, elementwise, indexing, linalg, logical, losses, math_functions,
           movement, pooling, reductions, scans, shape, sorting, special)

# The functional forms (a primitive's apply, or a composite's function), which the top level exports too;
# each module's __all__ lists its own.
FUNCTIONS = sorted({name for module in MODULES for name in module.__all__})
# The op classes, for users who build on them: every public Op subclass defined in a module.
CLASSES = sorted(
    name for module in MODULES for name, value in vars(module).items()
    if isinstance(value, type) and issubclass(value, Op) and value.__module__ == module.__name__
    and not name.startswith("_")
)
globals().update({name: getattr(module, name) for module in MODULES for name in vars(module)
                  if name in FUNCTIONS or name in CLASSES})

methods.install(Tensor)

__all__ = [*CLASSES, *FUNCTIONS, "Op", "unbroadcast"]
