"""The ops: each a ``Function`` with its forward beside its gradient rule, one file per kind.

    base.py         the Op base class, unbroadcast and the axis helpers every rule shares
    elementwise.py  + - * / ** neg, maximum/minimum, where, clip, cast, exp, log, sqrt, abs
    reductions.py   sum, mean, max, logsumexp, var
    movement.py     reshape, transpose, broadcast_to, squeeze/unsqueeze, indexing, concatenate, stack
    linalg.py       matmul, affine
    creation.py     tensor, as_tensors
    activations.py  relu, leaky_relu, sigmoid, tanh, softplus, log_sigmoid, softmax, log_softmax
    losses.py       squared_error, gaussian_kl (with torch's reductions), reparameterize
    methods.py      the Tensor's operators and methods, installed on Tensor here
"""

from tinygrad_vae.core.tensor import Tensor
from tinygrad_vae.ops import methods
from tinygrad_vae.ops.activations import (
    LeakyReLUFn,
    ReLUFn,
    SigmoidFn,
    SoftplusFn,
    TanhFn,
    leaky_relu,
    log_sigmoid,
    log_softmax,
    relu,
    sigmoid,
    softmax,
    softplus,
    tanh,
)
from tinygrad_vae.ops.base import Op, unbroadcast
from tinygrad_vae.ops.creation import as_tensors, tensor
from tinygrad_vae.ops.elementwise import (
    Abs,
    Add,
    Cast,
    Clip,
    Div,
    Exp,
    Log,
    Maximum,
    Mul,
    Neg,
    Pow,
    PowScalar,
    Sqrt,
    Sub,
    Where,
    abs,
    add,
    astype,
    clip,
    div,
    exp,
    log,
    maximum,
    minimum,
    mul,
    neg,
    power,
    sqrt,
    sub,
    where,
)
from tinygrad_vae.ops.linalg import Affine, MatMul, affine, matmul
from tinygrad_vae.ops.losses import (
    GaussianKL,
    Reparameterize,
    SquaredError,
    gaussian_kl,
    reparameterize,
    squared_error,
)
from tinygrad_vae.ops.movement import (
    BroadcastTo,
    Concatenate,
    GetItem,
    Reshape,
    ScatterAdd,
    Transpose,
    broadcast_to,
    concatenate,
    getitem,
    reshape,
    squeeze,
    stack,
    transpose,
    unsqueeze,
)
from tinygrad_vae.ops.reductions import LogSumExp, Max, Mean, Sum, logsumexp, max, mean, min, sum, var

methods.install(Tensor)

# The op classes, then the functional forms (a primitive's apply, or a composite's function).
__all__ = [
    "Abs", "Add", "Affine", "BroadcastTo", "Cast", "Clip", "Concatenate", "Div", "Exp", "GaussianKL", "GetItem",
    "LeakyReLUFn", "Log", "LogSumExp", "MatMul", "Max", "Maximum", "Mean", "Mul", "Neg", "Op", "Pow", "PowScalar",
    "ReLUFn", "Reparameterize", "Reshape", "ScatterAdd", "SigmoidFn", "SoftplusFn", "Sqrt", "SquaredError", "Sub",
    "Sum", "TanhFn", "Transpose", "Where",
    "abs", "add", "affine", "as_tensors", "astype", "broadcast_to", "clip", "concatenate", "div", "exp",
    "gaussian_kl", "getitem", "leaky_relu", "log", "log_sigmoid", "log_softmax", "logsumexp", "matmul", "max",
    "maximum", "mean", "min", "minimum", "mul", "neg", "power", "relu", "reparameterize", "reshape", "sigmoid",
    "softmax", "softplus", "sqrt", "squared_error", "squeeze", "stack", "sub", "sum", "tanh", "tensor", "transpose",
    "unbroadcast", "unsqueeze", "var", "where",
]
