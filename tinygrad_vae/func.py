"""Function transforms built on the reverse-mode engine (in the spirit of HIPS autograd and JAX).

``grad(f)`` is a new function that returns df/dx instead of f(x); ``jacobian``
and ``hessian`` likewise return whole derivative arrays. ``vjp``, ``jvp`` and
``hvp`` evaluate one product with a derivative at a point without building it.

Called on NumPy arrays or numbers they return arrays; called on Tensors they
return Tensors, and if those Tensors are themselves being differentiated (as
in ``grad(grad(f))`` or ``hessian = jacobian(grad(f))``) the result is
recorded, so transforms compose.

Shapes: for f: R^(n) -> R^(m) written with array shapes ``x.shape`` and
``y.shape``, the Jacobian has shape ``y.shape + x.shape`` (torch and JAX use
the same convention), a vector-Jacobian product ``v^T J`` has the shape of
``x`` and a Jacobian-vector product ``J t`` has the shape of ``y``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tinygrad_vae.core.engine import gradients
from tinygrad_vae.core.grad_mode import enable_grad, is_grad_enabled
from tinygrad_vae.core.tensor import Tensor
from tinygrad_vae.ops.movement import stack


def _argnums_tuple(argnums: int | tuple[int, ...]) -> tuple[int, ...]:
    return (argnums,) if isinstance(argnums, int) else tuple(argnums)


def _as_input(value: Any) -> Tensor:
    """A Tensor that requires grad for ``value``: a Tensor that already does is used as is.

    Keeping such a Tensor (rather than a detached copy) is what lets an
    enclosing transform differentiate through this one.
    """
    if isinstance(value, Tensor):
        return value if value.requires_grad else value.detach().requires_grad_()
    array = np.asarray(value)
    return Tensor(array.astype(np.result_type(array.dtype, np.float32)), requires_grad=True)


def _wants_higher_order(values: Sequence[Any]) -> bool:
    """True when the result may be differentiated again, so the backward pass must be recorded.

    That is when recording is on and some argument of f (not only the ones
    being differentiated) is a Tensor that requires grad: d/dy (df/dx) needs
    the backward pass for x recorded as a function of y.
    """
    return is_grad_enabled() and any(isinstance(v, Tensor) and v.requires_grad for v in values)


def _output(values: Sequence[Any], results: Sequence[Tensor], higher_order: bool) -> list[Any]:
    """Tensors when any input was a Tensor, or when the results are recorded for an enclosing
    transform (d/dy of df/dx with a number x needs them); otherwise NumPy arrays."""
    if higher_order or any(isinstance(v, Tensor) for v in values):
        return list(results)
    return [r.data for r in results]


def _call(f: Callable[..., Any], args: Sequence[Any], kwargs: dict[str, Any], where: str) -> Tensor:
    """Run ``f`` with recording on and check that it returned a Tensor."""
    with enable_grad():
        out = f(*args, **kwargs)
    if not isinstance(out, Tensor):
        raise TypeError(f"{where}: f must return a Tensor, got {type(out).__name__}")
    return out


def _select(
    args: Sequence[Any], argnums: int | tuple[int, ...], where: str
) -> tuple[list[Any], list[Tensor], list[Any]]:
    """Replace ``args[argnums]`` by Tensors that require grad.

    Returns the new args, those inputs, and the original values of those
    arguments (which decide between array and Tensor results).
    """
    nums = _argnums_tuple(argnums)
    for i in nums:
        if not -len(args) <= i < len(args):
            raise TypeError(f"{where}: argnums={argnums} but f was called with {len(args)} positional arguments")
    chosen = [args[i] for i in nums]
    args = list(args)
    for i in nums:
        args[i] = _as_input(args[i])
    return args, [args[i] for i in nums], chosen


def _pack(results: list[Any], argnums: int | tuple[int, ...]) -> Any:
    return results[0] if isinstance(argnums, int) else tuple(results)


def value_and_grad(f: Callable[..., Tensor], argnums: int | tuple[int, ...] = 0) -> Callable[..., tuple[Any, Any]]:
    """A function returning ``(f(*args), df/d args[argnums])``.

    ``f`` must return a scalar Tensor. With a tuple ``argnums`` the gradient
    is a tuple, one entry per argument.
    """
    return _value_and_grad(f, argnums, "value_and_grad")


def _value_and_grad(
    f: Callable[..., Tensor], argnums: int | tuple[int, ...], where: str
) -> Callable[..., tuple[Any, Any]]:
    """``value_and_grad``, with errors naming ``where`` (the transform the user called)."""

    def wrapped(*args: Any, **kwargs: Any) -> tuple[Any, Any]:
        higher_order = _wants_higher_order([*args, *kwargs.values()])
        args, inputs, chosen = _select(args, argnums, where)
        value = _call(f, args, kwargs, where)
        if value.numel() != 1:
            raise TypeError(f"{where}: f must return a Tensor with one element, got shape {value.shape}; "
                            f"use jacobian for vector outputs")
        with enable_grad():
            grads = gradients(value, inputs, create_graph=higher_order, materialize_grads=True)
        value_out, *grads = _output(chosen, [value, *grads], higher_order)
        if not isinstance(value_out, Tensor):
            value_out = value_out.item() if value_out.ndim == 0 else value_out
        return value_out, _pack(grads, argnums)

    return wrapped


def grad(f: Callable[..., Tensor], argnums: int | tuple[int, ...] = 0) -> Callable[..., Any]:
    """A function returning df/d args[argnums] (see ``value_and_grad``)."""
    vg = _value_and_grad(f, argnums, "grad")

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        return vg(*args, **kwargs)[1]

    return wrapped


def jacobian(f: Callable[..., Tensor], argnums: int | tuple[int, ...] = 0) -> Callable[..., Any]:
    """A function returning the Jacobian of ``f`` with respect to ``args[argnums]``.

    For an output ``y`` and an input ``x`` the result has shape
    ``y.shape + x.shape``: entry ``[i..., j...]`` is dy[i...]/dx[j...]. It is
    built row by row, one backward pass (a vector-Jacobian product with a
    unit vector e_i) per output element, so it suits small outputs. With a
    tuple ``argnums`` the result is a tuple, one Jacobian per argument.
    """

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        higher_order = _wants_higher_order([*args, *kwargs.values()])
        args, inputs, chosen = _select(args, argnums, "jacobian")
        out = _call(f, args, kwargs, "jacobian")
        rows: list[list[Tensor]] = [[] for _ in inputs]
        with enable_grad():
            for k in range(out.numel()):
                unit = np.zeros(out.numel(), dtype=out.dtype)
                unit[k] = 1.0
                row = gradients(out, inputs, grad_output=unit.reshape(out.shape),
                                retain_graph=True, create_graph=higher_order, materialize_grads=True)
                for per_input, g in zip(rows, row):
                    per_input.append(g)
            # An empty output has an empty Jacobian: nothing to stack.
            jacs = [stack(r).reshape(out.shape + x.shape) if r else Tensor(np.zeros(out.shape + x.shape, x.dtype))
                    for r, x in zip(rows, inputs)]
        return _pack(_output(chosen, jacs, higher_order), argnums)

    return wrapped


def hessian(f: Callable[..., Tensor], argnums: int | tuple[int, ...] = 0) -> Callable[..., Any]:
    """A function returning the matrix of second derivatives of a scalar ``f``.

    ``hessian(f)(x)`` has shape ``x.shape + x.shape`` and is
    ``jacobian(grad(f))(x)``: each row is a derivative of the gradient, which
    works because gradient rules are written with differentiable ops. With a
    tuple ``argnums`` the result is a tuple of tuples, ``H[i][j]`` holding
    d^2 f / d args[argnums[i]] d args[argnums[j]].
    """
    if isinstance(argnums, int):
        return jacobian(grad(f, argnums), argnums)
    nums = _argnums_tuple(argnums)
    blocks = [[jacobian(grad(f, i), j) for j in nums] for i in nums]

    def wrapped(*args: Any, **kwargs: Any) -> tuple[tuple[Any, ...], ...]:
        higher_order = _wants_higher_order([*args, *kwargs.values()])
        # Hand every block Tensors, so the inner grad(f, i) differentiates through x_j too.
        args, _, chosen = _select(args, argnums, "hessian")
        return tuple(tuple(_output(chosen, [block(*args, **kwargs) for block in row], higher_order))
                     for row in blocks)

    return wrapped


def _check_like(name: str, given: Sequence[Any], reference: Sequence[Tensor], what: str, where: str) -> list[Tensor]:
    """Turn ``given`` into Tensors of the dtypes of ``reference`` and check their shapes match."""
    if len(given) != len(reference):
        raise ValueError(f"{where}: got {len(given)} {name}s for {len(reference)} {what}s")
    checked = []
    for i, (g, r) in enumerate(zip(given, reference)):
        g = g if isinstance(g, Tensor) else Tensor(np.asarray(g, dtype=r.dtype))
        if g.shape != r.shape:
            raise ValueError(f"{where}: {name} {i} has shape {g.shape} but {what} {i} has shape {r.shape}")
        checked.append(g)
    return checked


def _as_tuple(values: Any, where: str, name: str) -> tuple[Any, ...]:
    if not isinstance(values, (tuple, list)) or len(values) == 0:
        raise TypeError(f"{where}: {name} must be a non-empty tuple or list (one entry per argument of f), "
                        f"got {values!r}")
    return tuple(values)


def _product_setup(
    f: Callable[..., Tensor], primals: Sequence[Any], tangents: Sequence[Any], where: str
) -> tuple[list[Any], list[Tensor], list[Tensor], Tensor, bool]:
    """Check primals and tangents, run f once with recording on.

    Returns the values as given (they decide arrays or Tensors out), the
    inputs, the tangents as Tensors, f's output, and whether the result must
    itself be differentiable.
    """
    primals = _as_tuple(primals, where, "primals")
    tangents = _as_tuple(tangents, where, "tangents")
    given = [*primals, *tangents]
    higher_order = _wants_higher_order(given)
    inputs = [_as_input(p) for p in primals]
    ts = _check_like("tangent", tangents, inputs, "primal", where)
    return given, inputs, ts, _call(f, inputs, {}, where), higher_order


def _inner(xs: Sequence[Tensor], ys: Sequence[Tensor]) -> Tensor:
    """sum_i <xs[i], ys[i]>, the inner product over several tensors."""
    return sum((x * y).sum() for x, y in zip(xs, ys))


def vjp(f: Callable[..., Tensor], primals: Sequence[Any], cotangent: Any) -> tuple[Any, tuple[Any, ...]]:
    """The vector-Jacobian product: ``(f(*primals), v^T J)`` with ``v = cotangent``.

    This is what one backward pass computes: for y = f(x_1, ..., x_n) it
    returns, for each x_i, sum_k v_k dy_k/dx_i, with the shape of x_i.
    ``cotangent`` has the shape of the output. Every primal is differentiated.
    """
    primals = _as_tuple(primals, "vjp", "primals")
    higher_order = _wants_higher_order([*primals, cotangent])
    inputs = [_as_input(p) for p in primals]
    out = _call(f, inputs, {}, "vjp")
    v = cotangent if isinstance(cotangent, Tensor) else Tensor(np.asarray(cotangent, dtype=out.dtype))
    if v.shape != out.shape:
        raise ValueError(f"vjp: cotangent has shape {v.shape} but f's output has shape {out.shape}")
    with enable_grad():
        grads = gradients(out, inputs, grad_output=v, create_graph=higher_order, materialize_grads=True)
    out_value, *grads = _output([*primals, cotangent], [out, *grads], higher_order)
    return out_value, tuple(grads)


def jvp(f: Callable[..., Tensor], primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
    """The Jacobian-vector product: ``(f(*primals), J t)`` with ``t = tangents``, by double backward.

    The engine only runs backward (reverse mode), which gives ``u -> J^T u``
    for any u shaped like the output. That map is linear in u:

        g(u) = J^T u,   so   d/du <g(u), t> = d/du (u^T J t) = J t.

    So: record one backward pass with a placeholder u (create_graph=True),
    take the inner product of the result with the tangent t, and differentiate
    that with respect to u. The value of u does not matter (the derivative of
    a linear map is the same everywhere); zeros are used. Forward mode would
    compute J t in one pass; this costs about two backward passes, and needs
    every gradient rule on the way to be differentiable, which ours are.
    """
    given, inputs, ts, out, higher_order = _product_setup(f, primals, tangents, "jvp")
    with enable_grad():
        u = Tensor(np.zeros(out.shape, dtype=out.dtype), requires_grad=True)
        vjps = gradients(out, inputs, grad_output=u, create_graph=True, materialize_grads=True)
        (jt,) = gradients(_inner(vjps, ts), [u], create_graph=higher_order, materialize_grads=True)
    out_value, jt = _output(given, [out, jt], higher_order)
    return out_value, jt


def hvp(f: Callable[..., Tensor], primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, tuple[Any, ...]]:
    """The Hessian-vector product of a scalar ``f``: ``(f(*primals), H t)``.

    H t = d/dx <grad f(x), t>: differentiate the gradient's inner product with
    the tangent once more. It costs about two backward passes, never forms H,
    and returns one block per primal (H is taken over all primals together).
    """
    given, inputs, ts, out, higher_order = _product_setup(f, primals, tangents, "hvp")
    if out.numel() != 1:
        raise TypeError(f"hvp: f must return a Tensor with one element, got shape {out.shape}")
    with enable_grad():
        grads = gradients(out, inputs, create_graph=True, materialize_grads=True)
        products = gradients(_inner(grads, ts), inputs, create_graph=higher_order, materialize_grads=True)
    out_value, *products = _output(given, [out, *products], higher_order)
    if not isinstance(out_value, Tensor):
        out_value = out_value.item()
    return out_value, tuple(products)
