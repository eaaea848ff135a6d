"""The reverse-mode engine: walk the graph from an output back to its leaves, applying each rule.

``run_backward`` is the whole algorithm. It keeps a dict of gradients that are
still being summed and a heap of the tensors waiting for their rule, and always
takes next the most recently made waiting tensor (every recorded op is numbered
as it is created, and an output is made after its inputs, so by then every
consumer of that tensor has added its share). Leaves wait in a list and are
done last. No recursion, so deep chains cannot overflow the Python stack.

Gradients flow as Tensors when ``create_graph=True`` (the rules are then
recorded like any other computation, which is what gives second derivatives)
and as bare NumPy arrays otherwise, so a plain backward pass costs no more than
the NumPy calls inside the rules.

Everything optional (tensor hooks, the observers of ``observers.py``, the
gradients ``gradients()`` asks for) happens in ``_gradient_ready``, called only
when one of them is in use.
"""

from __future__ import annotations

from collections.abc import Sequence
from heapq import heappop, heappush
from typing import Any

import numpy as np

from tinygrad_vae.core import grad_mode, observers
from tinygrad_vae.core.observers import ACTIVE
from tinygrad_vae.core.tensor import Tensor, wrap


def run_backward(
    root: Tensor, seed: Tensor, retain_graph: bool | None, create_graph: bool,
    captured: dict[int, Any] | None = None,
) -> None:
    """Propagate ``seed`` = d(root)/d(root) back through the graph that made ``root``.

    Leaf gradients are added to ``.grad``, unless ``captured`` is given: then nothing is written,
    and ``captured[id(t)]`` receives the gradient of each tensor ``t`` whose id it holds.
    """
    retain_graph = create_graph if retain_graph is None else retain_graph
    grads: dict[int, Any] = {id(root): seed if create_graph else seed.data}
    ready: list[tuple[int, Tensor]] = []  # heap of (-sequence_nr, tensor): the newest comes out first
    leaves: list[Tensor] = []
    if root._ctx is None:
        leaves.append(root)
    else:
        ready.append((-root._ctx.sequence_nr, root))
    previous_mode, grad_mode.enabled = grad_mode.enabled, create_graph  # record rules only if asked to
    try:
        while ready:
            t = heappop(ready)[1]
            grad = grads.pop(id(t))
            if t._hooks or ACTIVE or captured is not None:
                grad = _gradient_ready(t, grad, create_graph, captured)
            fn = t._ctx
            if ACTIVE:
                input_grads = _observed_rule(fn, grad, t, create_graph)
            else:
                input_grads = fn.input_gradients(grad, t, create_graph)
            for parent, g in zip(fn.inputs, input_grads):
                if g is None or not parent.requires_grad:
                    continue
                if g.dtype != parent.data.dtype:  # mixed precision: float32 * float64 gives float64
                    g = g.astype(parent.data.dtype)
                key = id(parent)
                if key in grads:
                    grads[key] = grads[key] + g
                    continue
                grads[key] = g  # its first share: the parent starts waiting
                if parent._ctx is None:
                    leaves.append(parent)
                else:
                    heappush(ready, (-parent._ctx.sequence_nr, parent))
            if not retain_graph:
                fn.release()
        for t in leaves:
            grad = grads.pop(id(t))
            if t._hooks or ACTIVE or captured is not None:
                grad = _gradient_ready(t, grad, create_graph, captured)
            if captured is not None:
                continue
            if t.grad is None:  # a new Tensor each time: .grad is never changed in place
                t.grad = grad if create_graph else wrap(grad)
            else:
                t.grad = t.grad + grad if create_graph else wrap(t.grad.data + grad)
    finally:
        grad_mode.enabled = previous_mode


def _observed_rule(fn: Any, grad: Any, out: Tensor, create_graph: bool) -> Sequence[Any]:
    """``fn``'s input gradients, which observers see (but not the ops the rule itself runs)."""
    with observers.paused():
        input_grads = fn.input_gradients(grad, out, create_graph)
    for observer in ACTIVE:
        observer.rule_returned(fn, input_grads)
    return input_grads


def _gradient_ready(t: Tensor, grad: Any, create_graph: bool, captured: dict[int, Any] | None) -> Any:
    """``t``'s gradient is complete: its hooks may replace it, observers see it, ``gradients()`` keeps it.

    Hooks and observers always get a Tensor, also on the array path.
    """
    as_tensor = grad if create_graph else wrap(grad)
    for hook in list(t._hooks or ()):
        as_tensor = _hook_result(hook, hook(as_tensor), as_tensor, t)
    for observer in ACTIVE:
        observer.gradient_ready(t, as_tensor)
    if captured is not None and id(t) in captured:
        captured[id(t)] = as_tensor
    return as_tensor if create_graph else as_tensor.data


def _hook_result(hook: Any, result: Any, grad: Tensor, t: Tensor) -> Tensor:
    """What a hook returned, as the gradient that replaces ``grad``: None keeps it; a Tensor or an
    array of ``t``'s shape and a float dtype replaces it; anything else is an error naming ``t``."""
    if result is None:
        return grad
    what = f"the hook {getattr(hook, '__name__', repr(hook))} on tensor {t.name or ''} of shape {t.shape}"
    if not isinstance(result, (Tensor, np.ndarray)):
        raise TypeError(f"register_hook: {what} returned a {type(result).__name__}; "
                        f"expected None, a Tensor or an array of shape {t.shape}")
    if result.shape != t.shape or result.dtype.kind != "f":
        raise ValueError(f"register_hook: {what} returned shape {result.shape}, dtype {result.dtype}; "
                         f"expected shape {t.shape} and a float dtype")
    replaced = result if isinstance(result, Tensor) else wrap(result)
    return replaced if replaced.dtype == t.dtype else replaced.astype(t.dtype)


def initial_gradient(out: Tensor, gradient: Any, where: str) -> Tensor:
    """The seed of the backward pass: ones for a one-element output, else the user's gradient."""
    if gradient is None:
        if out.data.size != 1:
            raise RuntimeError(
                f"{where}: grad can be implicitly created only for scalar outputs; "
                f"output has shape {out.shape}, so pass gradient= with that shape"
            )
        return wrap(np.ones(out.data.shape, out.data.dtype))  # np.ones_like is twice as slow on a NumPy scalar
    grad = gradient if isinstance(gradient, Tensor) else wrap(np.asarray(gradient, dtype=out.dtype))
    if grad.shape != out.shape:
        raise ValueError(f"{where}: gradient has shape {grad.shape} but the output has shape {out.shape}")
    # A float64 seed into a float32 graph must not make float64 gradients (a leaf root takes the seed as is).
    return grad if grad.dtype == out.dtype else grad.astype(out.dtype)


def gradients(
    output: Tensor,
    inputs: Tensor | Sequence[Tensor],
    grad_output: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool | None = None,
    materialize_grads: bool = False,
) -> tuple[Tensor | None, ...]:
    """d(output)/d(input) for each input, returned instead of accumulated into ``.grad``.

    Like ``torch.autograd.grad``: ``inputs`` is one Tensor or a sequence of them,
    and the result is a tuple with one gradient per input. An input that
    ``output`` does not reach is an error, unless ``allow_unused=True`` (its
    gradient is then None) or ``materialize_grads=True`` (then zeros). With
    ``create_graph=True`` the results are themselves differentiable. No leaf's
    ``.grad`` is touched.
    """
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise ValueError(f"gradients: input {i} must be a Tensor that requires grad")
    if allow_unused is None:
        allow_unused = materialize_grads
    elif materialize_grads and not allow_unused:
        raise ValueError("gradients: materialize_grads=True needs allow_unused to be None or True")
    captured: dict[int, Any] = dict.fromkeys(map(id, inputs))
    if output.requires_grad:
        run_backward(output, initial_gradient(output, grad_output, "gradients"), retain_graph, create_graph, captured)
    elif not allow_unused:
        raise ValueError("gradients: the output does not require grad, so no input reaches it "
                         "(pass allow_unused=True to get None, or materialize_grads=True for zeros)")
    results = []
    for i, t in enumerate(inputs):
        grad = captured[id(t)]
        if grad is None and not allow_unused:
            raise ValueError(f"gradients: input {i} (shape {t.shape}) is not used to compute the output; "
                             "pass allow_unused=True to get None for it, or materialize_grads=True for zeros")
        results.append(wrap(np.zeros_like(t.data)) if grad is None and materialize_grads else grad)
    return tuple(results)


def topological_order(root: Tensor) -> list[Tensor]:
    """Every tensor that ``root`` depends on through recorded ops, inputs before outputs.

    Leaves come first, in the order a search from ``root`` meets them, then the outputs of
    recorded ops in the order the ops ran (their ``sequence_nr``): an output is always made
    after its inputs. The search keeps its own stack instead of recursing, so a chain of
    100,000 ops is fine.
    """
    if root._ctx is None:
        return [root]
    leaves: list[Tensor] = []
    made_by_ops = [root]
    seen = {id(root)}
    stack = [root]
    while stack:
        inputs = stack.pop()._ctx.inputs
        for parent in inputs or ():  # no inputs: released by an earlier backward
            if parent.requires_grad and id(parent) not in seen:
                seen.add(id(parent))
                if parent._ctx is None:
                    leaves.append(parent)
                else:
                    made_by_ops.append(parent)
                    stack.append(parent)
    made_by_ops.sort(key=lambda t: t._ctx.sequence_nr)
    return leaves + made_by_ops
