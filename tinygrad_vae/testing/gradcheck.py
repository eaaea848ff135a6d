"""Check gradient rules against finite differences.

For a function ``fn`` of tensors with output ``y``, the engine's backward pass
computes vector-Jacobian products ``v^T J``. ``gradcheck`` compares them with
central differences, which need only forward passes:

    dy/dx_i  ~  (fn(x + eps e_i) - fn(x - eps e_i)) / (2 eps)      (error O(eps^2))

In the default (full) mode it builds the whole Jacobian both ways: the
numerical one column by column (two forward passes per input element) and
the analytical one row by row (one backward pass per output element). In
``fast_mode`` it compares a single random projection ``v^T J u`` instead,
which costs two forward passes per input and one backward pass, whatever
their sizes.

Inputs must be float64: in float32 the rounding error of a difference
quotient (about 1e-7 / eps) swamps the comparison.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tinygrad_vae.core.engine import gradients
from tinygrad_vae.core.grad_mode import enable_grad, no_grad
from tinygrad_vae.core.tensor import Tensor
from tinygrad_vae.ops.movement import concatenate


class GradcheckError(AssertionError):
    """An analytical gradient disagrees with the finite-difference estimate."""


def _prepare(inputs: Sequence[Any]) -> list[Tensor]:
    prepared = []
    for i, x in enumerate(inputs):
        data = x.data if isinstance(x, Tensor) else np.asarray(x)
        if data.dtype != np.float64:
            raise TypeError(f"gradcheck: input {i} has dtype {data.dtype}; finite differences need float64")
        prepared.append(Tensor(data.copy(), requires_grad=True))
    return prepared


def _evaluate(fn: Callable[..., Tensor], inputs: Sequence[Tensor]) -> np.ndarray:
    with no_grad():
        out = fn(*inputs)
    return np.array(out.data, dtype=np.float64)


def _numerical_directional(fn: Callable[..., Tensor], inputs: list[Tensor], index: int,
                           direction: np.ndarray, eps: float) -> np.ndarray:
    """(fn(x + eps d) - fn(x - eps d)) / (2 eps), perturbing input ``index`` along ``direction``."""
    x = inputs[index]
    original = x.data
    try:
        x.data = original + eps * direction
        plus = _evaluate(fn, inputs)
        x.data = original - eps * direction
        minus = _evaluate(fn, inputs)
    finally:
        x.data = original
    return (plus - minus) / (2 * eps)


def _vjp(fn: Callable[..., Tensor], inputs: list[Tensor], v: np.ndarray, create_graph: bool = False) -> tuple[Tensor, ...]:
    with enable_grad():  # also when called from a finite-difference evaluation under no_grad
        out = fn(*inputs)
        if not isinstance(out, Tensor):
            raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
        grads = gradients(out, inputs, grad_output=Tensor(v.astype(out.dtype)), create_graph=create_graph,
                          materialize_grads=True)
    # Compared flattened (or broadcast against u in fast mode), a gradient of the wrong shape but
    # the right size could pass: its shape must be the input's.
    for i, (g, x) in enumerate(zip(grads, inputs)):
        if g.shape != x.shape:
            raise GradcheckError(f"gradcheck failed for input {i}: its gradient has shape {g.shape}, "
                                 f"expected the input's shape {x.shape}")
    return grads


def _position(flat_index: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    """A flat index as a tuple of plain ints, for messages: (1, 0) rather than (np.int64(1), np.int64(0))."""
    return tuple(int(i) for i in np.unravel_index(flat_index, shape))


def _compare(analytical: float, numerical: float, atol: float, rtol: float, where: str) -> None:
    if not abs(analytical - numerical) <= atol + rtol * abs(numerical):
        raise GradcheckError(
            f"gradcheck failed for {where}: analytical {analytical!r} vs numerical {numerical!r} "
            f"(difference {abs(analytical - numerical):.3g}, allowed {atol + rtol * abs(numerical):.3g})"
        )


def gradcheck(
    fn: Callable[..., Tensor],
    inputs: Sequence[Any],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    fast_mode: bool = False,
    rng: np.random.Generator | None = None,
) -> bool:
    """Compare ``fn``'s gradients with central differences; raise ``GradcheckError`` on a mismatch.

    ``fn`` takes one Tensor per entry of ``inputs`` (float64 arrays or
    Tensors) and returns a Tensor of any shape. Returns True when every
    element agrees within ``atol + rtol * |numerical|``. The error names the
    input, the input element, the output element and both values.
    """
    xs = _prepare(inputs)
    out_shape = _evaluate(fn, xs).shape
    if fast_mode:
        rng = rng if rng is not None else np.random.default_rng(0)
        v = rng.standard_normal(out_shape)
        analytical = _vjp(fn, xs, v)
        for i, x in enumerate(xs):
            u = rng.standard_normal(x.shape)
            numerical = float(np.sum(v * _numerical_directional(fn, xs, i, u, eps)))
            _compare(float(np.sum(analytical[i].data * u)), numerical, atol, rtol,
                     f"input {i} (shape {x.shape}), random projection v^T J u")
        return True
    n_out = int(np.prod(out_shape))
    # Analytical Jacobians: one backward pass per output element gives row k of every input's.
    jacs = [np.empty((n_out, x.numel())) for x in xs]
    for k in range(n_out):
        v = np.zeros(n_out)
        v[k] = 1.0
        for jac, g in zip(jacs, _vjp(fn, xs, v.reshape(out_shape))):
            jac[k] = g.data.ravel()
    for i, (x, jac) in enumerate(zip(xs, jacs)):
        for j in range(x.numel()):
            direction = np.zeros(x.numel())
            direction[j] = 1.0
            column = _numerical_directional(fn, xs, i, direction.reshape(x.shape), eps).ravel()
            for k in range(n_out):
                _compare(float(jac[k, j]), float(column[k]), atol, rtol,
                         f"input {i} (shape {x.shape}) element {_position(j, x.shape)}, "
                         f"output element {_position(k, out_shape)}")
    return True


def gradgradcheck(
    fn: Callable[..., Tensor], inputs: Sequence[Any], rng: np.random.Generator | None = None, **tolerances: Any
) -> bool:
    """Check second derivatives: gradcheck the map x -> v^T J(x) for a fixed random v.

    The backward pass is run with ``create_graph=True``, so this checks that
    every gradient rule is itself correctly differentiable. ``tolerances`` are
    ``gradcheck``'s keyword arguments (``eps``, ``atol``, ``rtol``, ``fast_mode``).
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    xs = _prepare(inputs)
    v = rng.standard_normal(_evaluate(fn, xs).shape)

    def first_derivatives(*args: Tensor) -> Tensor:
        grads = _vjp(fn, list(args), v, create_graph=True)
        return concatenate([g.reshape(-1) for g in grads])

    return gradcheck(first_derivatives, xs, rng=rng, **tolerances)
