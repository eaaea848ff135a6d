"""The ops: each a ``Function`` with its forward beside its gradient rule, one file per kind.

    base.py         the Op base class, unbroadcast and the axis helpers every rule shares
    elementwise.py  + - * / ** neg, maximum/minimum, where, clip, cast, exp, log, sqrt, abs
    reductions.py   sum, mean, max, logsumexp, var
    movement.py     reshape, transpose, broadcast_to, squeeze/unsqueeze, indexing, concatenate, stack
    linalg.py       matmul, affine, einsum and its products (tensordot, dot, vdot, inner, outer, kron, cross)
    indexing.py     gather, scatter, scatter_add, scatter_reduce, index_select, take_along_axis, masks, one_hot
    creation.py     tensor, as_tensors
    activations.py  relu, leaky_relu, sigmoid, tanh, softplus, log_sigmoid, softmax, log_softmax
    losses.py       squared_error, gaussian_kl (with torch's reductions), reparameterize
    methods.py      the Tensor's operators and methods, installed on Tensor here
"""

from tinygrad_vae.core.tensor import Tensor
from tinygrad_vae.ops import (
    activations, creation, elementwise, indexing, linalg, losses, methods, movement, reductions,
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
from tinygrad_vae.ops.reductions import LogSumExp, Max, Mean, Sum

methods.install(Tensor)

# The functional forms (a primitive's apply, or a composite's function), which the top level exports too.
FUNCTIONS = sorted(
    {*activations.__all__, *creation.__all__, *elementwise.__all__, *indexing.__all__, *linalg.__all__,
     *losses.__all__, *movement.__all__, *reductions.__all__}
)
# The op classes, for users who build on them.
CLASSES = [
    "Abs", "Add", "Affine", "BroadcastTo", "Cast", "Clip", "Concatenate", "Div", "Einsum", "Exp", "GaussianKL",
    "GetItem", "LeakyReLUFn", "Log", "LogSumExp", "MatMul", "Max", "Maximum", "Mean", "Mul", "Neg", "Op", "Pow",
    "PowScalar", "ReLUFn", "Reparameterize", "Reshape", "ScatterAdd", "SigmoidFn", "SoftplusFn", "Sqrt", "SquaredError",
    "Sub", "Sum", "TanhFn", "Transpose", "Where",
]
__all__ = [*CLASSES, *FUNCTIONS, "unbroadcast"]
