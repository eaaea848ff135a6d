"""The ops: each a ``Function`` with its forward beside its gradient rule, one file per kind.

    base.py         the Op base class, unbroadcast and the axis helpers every rule shares
    elementwise.py  + - * / ** neg, maximum/minimum, where, clip/clamp, cast, exp, log, sqrt, abs
    math_functions.py  trigonometric, hyperbolic, log/exp family, rounding and sign, remainders, binary math
    logical.py      isnan/isclose-like predicates, logical and bitwise functions (no gradient)
    reductions.py   sum, mean, max, logsumexp, var
    movement.py     reshape, transpose, broadcast_to, squeeze/unsqueeze, indexing, concatenate, stack
    linalg.py       matmul, affine
    creation.py     tensor, as_tensors
    activations.py  relu, leaky_relu, sigmoid, tanh, softplus, log_sigmoid, softmax, log_softmax
    losses.py       squared_error, gaussian_kl (with torch's reductions), reparameterize
    methods.py      the Tensor's operators and methods, installed on Tensor here
"""

from tinygrad_vae.core.tensor import Tensor
from tinygrad_vae.ops import (
    activations, creation, elementwise, linalg, logical, losses, math_functions, methods, movement, reductions,
)
from tinygrad_vae.ops.activations import *  # each module's __all__ lists its functional forms
from tinygrad_vae.ops.activations import LeakyReLUFn, ReLUFn, SigmoidFn, SoftplusFn, TanhFn
from tinygrad_vae.ops.base import Op, unbroadcast
from tinygrad_vae.ops.creation import *
from tinygrad_vae.ops.elementwise import *
from tinygrad_vae.ops.elementwise import (
    Abs, Add, Cast, Clip, Div, Exp, Log, Maximum, Minimum, Mul, Neg, Pow, PowScalar, Sqrt, Sub, Where,
)
from tinygrad_vae.ops.linalg import *
from tinygrad_vae.ops.linalg import Affine, MatMul
from tinygrad_vae.ops.logical import *
from tinygrad_vae.ops.losses import *
from tinygrad_vae.ops.losses import GaussianKL, Reparameterize, SquaredError
from tinygrad_vae.ops.math_functions import *
from tinygrad_vae.ops.math_functions import (
    Acos, Acosh, Asin, Asinh, Atan, Atan2, Atanh, Cos, Cosh, Exp2, Expm1, FMax, FMin, Fmod, Hypot, Log1p, Log2, Log10,
    PiecewiseConstant, Remainder, Sin, Sinh, Tan,
)
from tinygrad_vae.ops.movement import *
from tinygrad_vae.ops.movement import BroadcastTo, Concatenate, GetItem, Reshape, ScatterAdd, Transpose
from tinygrad_vae.ops.reductions import *
from tinygrad_vae.ops.reductions import LogSumExp, Max, Mean, Sum

methods.install(Tensor)

# The functional forms (a primitive's apply, or a composite's function), which the top level exports too.
FUNCTIONS = sorted(
    {*activations.__all__, *creation.__all__, *elementwise.__all__, *linalg.__all__, *logical.__all__,
     *losses.__all__, *math_functions.__all__, *movement.__all__, *reductions.__all__}
)
# The op classes, for users who build on them.
CLASSES = [
    "Abs", "Acos", "Acosh", "Add", "Affine", "Asin", "Asinh", "Atan", "Atan2", "Atanh", "BroadcastTo", "Cast", "Clip",
    "Concatenate", "Cos", "Cosh", "Div", "Exp", "Exp2", "Expm1", "FMax", "FMin", "Fmod", "GaussianKL", "GetItem",
    "Hypot", "LeakyReLUFn", "Log", "Log10", "Log1p", "Log2", "LogSumExp", "MatMul", "Max", "Maximum", "Mean",
    "Minimum", "Mul", "Neg", "Op", "PiecewiseConstant", "Pow", "PowScalar", "ReLUFn", "Remainder", "Reparameterize",
    "Reshape", "ScatterAdd", "SigmoidFn", "Sin", "Sinh", "SoftplusFn", "Sqrt", "SquaredError", "Sub", "Sum", "Tan",
    "TanhFn", "Transpose", "Where",
]
__all__ = [*CLASSES, *FUNCTIONS, "unbroadcast"]
