"""The ops: each a ``Function`` with its forward beside its gradient rule, one file per kind.

    base.py         the Op base class, unbroadcast and the axis helpers every rule shares
    elementwise.py  + - * / ** neg, maximum/minimum, where, clip, cast, exp, log, sqrt, abs
    reductions.py   sum, mean, prod, amax/amin, max/min with indices, logsumexp, var/std, any/all
    scans.py        cumsum, cumprod, cummax/cummin, logcumsumexp, diff
    sorting.py      sort, argsort, topk, argmax, argmin
    movement.py     reshape, transpose/permute/swapaxes/moveaxis, broadcast_to/expand, squeeze/unsqueeze, indexing,
                    concatenate/cat, stack
    shape.py        pad, tile/repeat, flip/rot90/roll, split and stack families, diag/diagonal/trace, unfold
    linalg.py       matmul, affine, einsum and its products (tensordot, dot, vdot, inner, outer, kron, cross)
    indexing.py     gather, scatter, scatter_add, scatter_reduce, index_select, take_along_axis, masks, one_hot
    creation.py     tensor, zeros/ones/full/empty(_like), eye, arange, linspace, meshgrid, tril/triu, random draws
    special.py      erf, erfc, erfinv
    activations.py  relu, leaky_relu, sigmoid, tanh, softplus, log_sigmoid, softmax, log_softmax, softmin, gelu,
                    quick_gelu, silu/swish, elu, celu, selu, relu6, hardtanh, hardsigmoid, hardswish, mish,
                    softsign, normalize
    losses.py       squared_error, gaussian_kl (with torch's reductions), reparameterize
    methods.py      the Tensor's operators and methods, installed on Tensor here
"""

from tinygrad_vae.core.tensor import Tensor
from tinygrad_vae.ops import (
    activations, creation, elementwise, indexing, linalg, losses, methods, movement, reductions, scans, shape,
    sorting, special,
)
from tinygrad_vae.ops.activations import *  # each module's __all__ lists its functional forms
from tinygrad_vae.ops.activations import LeakyReLUFn, ReLUFn, SigmoidFn, SoftplusFn, TanhFn
from tinygrad_vae.ops.base import Op, unbroadcast
from tinygrad_vae.ops.creation import *
from tinygrad_vae.ops.elementwise import *
from tinygrad_vae.ops.elementwise import (
    Abs, Add, Cast, Clip, Div, Exp, Log, Maximum, Mul, Neg, Pow, PowScalar, Sqrt, Sub, Where,
)
from tinygrad_vae.ops.indexing import *
from tinygrad_vae.ops.linalg import *
from tinygrad_vae.ops.linalg import Affine, Einsum, MatMul
from tinygrad_vae.ops.losses import *
from tinygrad_vae.ops.losses import GaussianKL, Reparameterize, SquaredError
from tinygrad_vae.ops.movement import *
from tinygrad_vae.ops.movement import BroadcastTo, Concatenate, GetItem, Reshape, ScatterAdd, Transpose
from tinygrad_vae.ops.reductions import *
from tinygrad_vae.ops.reductions import Extreme, LogSumExp, Mean, Sum
from tinygrad_vae.ops.scans import *
from tinygrad_vae.ops.scans import Cumprod, Cumsum, LogCumSumExp
from tinygrad_vae.ops.shape import *
from tinygrad_vae.ops.sorting import *
from tinygrad_vae.ops.special import *

methods.install(Tensor)

# The functional forms (a primitive's apply, or a composite's function), which the top level exports too.
FUNCTIONS = sorted(
    {*activations.__all__, *creation.__all__, *elementwise.__all__, *indexing.__all__, *linalg.__all__, *losses.__all__,
     *movement.__all__, *reductions.__all__, *scans.__all__, *shape.__all__, *sorting.__all__, *special.__all__}
)
# The op classes, for users who build on them.
CLASSES = [
    "Abs", "Add", "Affine", "BroadcastTo", "Cast", "Clip", "Concatenate", "Cumprod", "Cumsum", "Div", "Einsum", "Exp",
    "Extreme", "GaussianKL", "GetItem", "LeakyReLUFn", "Log", "LogCumSumExp", "LogSumExp", "MatMul", "Maximum",
    "Mean", "Mul", "Neg", "Op", "Pow", "PowScalar", "ReLUFn", "Reparameterize", "Reshape", "ScatterAdd", "SigmoidFn",
    "SoftplusFn", "Sqrt", "SquaredError", "Sub", "Sum", "TanhFn", "Transpose", "Where",
]
__all__ = [*CLASSES, *FUNCTIONS, "unbroadcast"]
