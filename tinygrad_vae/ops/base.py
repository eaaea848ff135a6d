"""What every op file shares: the ``Op`` base class, the value types of rules, and the helpers of many rules.

Each op is a ``Function`` subclass with ``forward(*arrays, **params) -> ndarray``
and ``backward(grad, out, *inputs) -> one gradient per input``. A rule is
written once, with what works on Tensors and on NumPy arrays alike (operators,
``.sum``/``.reshape``/``.T``, other ops' ``apply``): a plain backward pass runs
it on bare arrays, at the cost of its NumPy calls, and ``create_graph=True``
runs it on Tensors, so it is recorded and can be differentiated again. A rule
returns ``None`` for an input whose ``needs_input_grad`` is False, so no work
is spent on it.

Broadcasting: an op that broadcasts its operands must sum the gradient back to
each operand's shape; every such rule goes through ``unbroadcast``.
"""

from __future__ import annotations

import numpy as np

from tinygrad_vae.core.function import Function, OpError
from tinygrad_vae.core.tensor import Tensor

Axis = int | tuple[int, ...] | None
# What a rule computes with: Tensors when the backward pass is recorded (create_graph=True),
# NumPy arrays otherwise (see core/function.py).
Value = Tensor | np.ndarray
Grads = tuple[Value | None, ...]  # one gradient per input, None where none is needed


class Op(Function):
    """The base of the engine's own ops.

    Their rules are checked op by op by the test suite (gradcheck and gradgradcheck on both
    paths, float32 kept float32), so the engine does not check each gradient they return again
    (see ``Function.check_gradients``); that saves a few percent of a small model's step.
    """

    check_gradients = False


def unbroadcast(grad: Value, shape: tuple[int, ...]) -> Value:
    """Sum ``grad`` over the axes that broadcasting added or stretched, so it has ``shape``.

    If ``x`` of shape (3, 1) was broadcast against (2, 3, 4), its gradient of
    shape (2, 3, 4) is summed over axis 0 (added) and axis 2 (stretched from 1).
    """
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    stretched = tuple(lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] != 1)
    if not stretched:  # only leading axes were added (a bias, say): one sum, no reshape
        return grad.sum(axis=tuple(range(lead)))
    return grad.sum(axis=tuple(range(lead)) + stretched, keepdims=True).reshape(shape)


def normalize_axes(axis: Axis, ndim: int, op: str) -> tuple[int, ...]:
    """``axis`` as a sorted tuple of non-negative axes (None means all of them)."""
    if axis is None:
        return tuple(range(ndim))
    if type(axis) is int and -ndim <= axis < ndim:  # the common case, without the loop below
        return (axis % ndim,)
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    for a in axes:
        if not -ndim <= a < max(ndim, 1):
            raise OpError(f"{op}: axis {a} is out of range for a tensor with {ndim} dimensions")
    return tuple(sorted(int(a) % max(ndim, 1) for a in axes))


def keepdims_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    """``shape`` with the reduced ``axes`` kept as length 1 (what ``keepdims=True`` gives)."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def dim_or_axis(op: str, dim: Axis, axis: Axis) -> Axis:
    """The axes of a method that takes torch's ``dim=`` and NumPy's ``axis=`` alike (giving both is an error)."""
    if dim is not None and axis is not None:
        raise TypeError(f"{op}: got both dim={dim} and axis={axis}; give one of them")
    return axis if dim is None else dim
