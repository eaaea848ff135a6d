"""``Function``, one node of the graph: an op's forward on arrays and its gradient rule.

``Function.apply`` runs ``forward`` on the inputs' arrays and, when recording
is on and some input requires grad, attaches the node to the result, so the
engine can later call its rule. ``Function.input_gradients`` is how the engine
calls that rule.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_vae.core import grad_mode
from tinygrad_vae.core.observers import ACTIVE
from tinygrad_vae.core.tensor import Tensor, lift, wrap


class OpError(ValueError):
    """Bad input to an op; the message already names the op, the shapes and what was expected."""


# Numbers the recorded ops in the order they are created. An op's output is created after its
# inputs, so every tensor's number is larger than its inputs' numbers: ordering by it is a
# topological order, which is how the backward pass schedules its work.
_recorded_ops = itertools.count()


def _explain(fn: Function, arrays: Sequence[np.ndarray], error: Exception) -> Exception:
    """Re-word an error NumPy raised inside an op's forward so it names the op and its inputs."""
    shapes = " and ".join(str(a.shape) for a in arrays)
    dtypes = " and ".join(str(a.dtype) for a in arrays)
    hint = "; broadcasting needs each pair of trailing dimensions to be equal or 1" if "broadcast" in str(error) else ""
    message = f"{type(fn).__name__}: {error} (input shapes {shapes}, dtypes {dtypes}{hint})"
    return TypeError(message) if isinstance(error, TypeError) else ValueError(message)


class Function:
    """Base class of every op: ``forward`` on arrays, ``backward`` on Tensors or on arrays.

    ``backward(grad, out, *inputs)`` receives the gradient of the output, the
    output and the inputs, and returns one gradient per input, shaped like that
    input, or None where ``needs_input_grad`` is False.

    The engine calls ``backward`` with Tensors when the backward pass is itself
    recorded (``create_graph=True``) and with bare NumPy arrays otherwise, so a
    rule is written with what works on both: Python's operators, NumPy-style
    methods such as ``.reshape`` and ``.sum``, and other ops' ``apply``, which
    on arrays just runs their forward.
    """

    inputs: tuple[Tensor, ...] | None
    needs_input_grad: tuple[bool, ...]
    sequence_nr: int
    # The engine checks each gradient a user's rule returns (a Tensor or an array as the path
    # expects, the input's shape) and fixes it up or raises a clear error. The engine's own ops,
    # whose rules the test suite checks op by op, turn this off.
    check_gradients: bool = True
    # Elementwise ops promote float32 with float64 to float64, as NumPy and torch do. Products such as
    # matmul refuse the mix, as torch does: a float32 model must not turn float64 without a word.
    same_float_dtype: bool = False

    def forward(self, *arrays: np.ndarray, **params: Any) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad: Any, out: Any, *inputs: Any) -> tuple[Any, ...]:
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs: Any, **params: Any) -> Any:
        """Run the op. On Tensors the result is a Tensor (recorded when a gradient may be needed);
        on arrays alone (inside a rule on the array path) it is the bare array."""
        fn = cls()
        if not isinstance(inputs[0], Tensor):
            return _apply_mixed(cls, fn, inputs, params)
        # The usual one to three inputs spelled out: in CPython 3.11 a list built in a loop or a
        # comprehension costs ~0.3 us, a sixth of a small op (8% of the 2-D VAE's step in all).
        try:
            if len(inputs) == 1:
                arrays: Sequence[np.ndarray] = (inputs[0].data,)
                needs: tuple[bool, ...] = (inputs[0].requires_grad,)
            elif len(inputs) == 2:
                arrays = (inputs[0].data, inputs[1].data)
                needs = (inputs[0].requires_grad, inputs[1].requires_grad)
                if arrays[0].dtype is not arrays[1].dtype and cls.same_float_dtype:  # dtypes are singletons
                    _check_float_dtypes(cls, arrays)
            elif len(inputs) == 3:
                arrays = (inputs[0].data, inputs[1].data, inputs[2].data)
                needs = (inputs[0].requires_grad, inputs[1].requires_grad, inputs[2].requires_grad)
                if cls.same_float_dtype and not arrays[0].dtype is arrays[1].dtype is arrays[2].dtype:
                    _check_float_dtypes(cls, arrays)
            else:
                arrays = [t.data for t in inputs]
                needs = tuple([t.requires_grad for t in inputs])
                if cls.same_float_dtype:
                    _check_float_dtypes(cls, arrays)
        except AttributeError:  # a later input is an array or a number
            return _apply_mixed(cls, fn, inputs, params)
        fn.inputs = inputs
        try:
            out = wrap(fn.forward(*arrays, **params))
        except OpError:
            raise
        except (ValueError, TypeError) as error:
            raise _explain(fn, arrays, error) from None
        if grad_mode.enabled and True in needs:
            out.requires_grad = True
            out._ctx = fn
            fn.needs_input_grad = needs
            fn.sequence_nr = next(_recorded_ops)
        for observer in ACTIVE:
            observer.op_applied(fn, out)
        return out

    def input_gradients(self, grad: Any, out: Tensor, create_graph: bool) -> Sequence[Any]:
        """Run the rule, on Tensors (``create_graph``) or on the bare arrays, and check what it returned."""
        inputs = self.inputs
        if inputs is None:
            raise RuntimeError(
                f"backward: trying to backward through the graph a second time "
                f"({type(self).__name__}'s saved inputs were freed); "
                f"pass retain_graph=True to the first backward if you need to"
            )
        if create_graph:
            grads = self.backward(grad, out, *inputs)
        else:
            try:
                if len(inputs) == 1:  # spelled out, as in apply
                    grads = self.backward(grad, out.data, inputs[0].data)
                elif len(inputs) == 2:
                    grads = self.backward(grad, out.data, inputs[0].data, inputs[1].data)
                else:
                    grads = self.backward(grad, out.data, *[t.data for t in inputs])
            except AttributeError as error:
                if "numpy" not in str(error):
                    raise
                raise AttributeError(
                    f"{type(self).__name__}.backward: {error}. Without create_graph the engine runs rules on "
                    f"NumPy arrays, so a rule may use operators, NumPy-style methods and ops' apply "
                    f"(Exp.apply(x), not x.exp()); see docs/engine.md, section 5"
                ) from error
        if type(grads) is not tuple:
            grads = tuple(grads) if isinstance(grads, list) else (grads,)  # one input's gradient alone, as in torch
        if len(grads) != len(inputs):
            raise RuntimeError(
                f"{type(self).__name__}.backward returned {len(grads)} gradients for {len(inputs)} inputs "
                f"(one per input expected, None for an input that needs none)"
            )
        if self.check_gradients:
            return [None if g is None else self._checked(g, t.data, create_graph) for g, t in zip(grads, inputs)]
        return grads

    def _checked(self, g: Any, p_data: np.ndarray, create_graph: bool) -> Any:
        """A user rule's gradient for an input holding ``p_data``, made usable or refused with a clear error.

        The rule may return the other kind of value (a Tensor on the array path, or the reverse) or
        another float dtype (which is cast); a wrong shape is an error.
        """
        if isinstance(g, Tensor) is not create_graph:
            g = wrap(np.asarray(g)) if create_graph else g.data
        if g.shape != p_data.shape:
            raise RuntimeError(
                f"{type(self).__name__}.backward returned a gradient of shape {g.shape} "
                f"for an input of shape {p_data.shape}"
            )
        return g if g.dtype == p_data.dtype else g.astype(p_data.dtype)

    def release(self) -> None:
        """Drop the references to the inputs (and whatever forward saved) after backward."""
        sequence_nr = self.sequence_nr
        self.__dict__.clear()
        self.inputs, self.sequence_nr = None, sequence_nr


def _check_float_dtypes(cls: type[Function], arrays: Sequence[np.ndarray]) -> None:
    """Refuse operands of two float dtypes, for the ops that set ``same_float_dtype`` (as torch's matmul).

    Numbers and NumPy arrays are lifted to the Tensor operand's dtype (see ``lift``), so only two
    Tensors can disagree.
    """
    floats = sorted({str(a.dtype) for a in arrays if a.dtype.kind == "f"})
    if len(floats) > 1:
        shown = ", ".join(f"{a.dtype}{list(a.shape)}" for a in arrays)
        raise OpError(
            f"{cls.__name__}: operands of different float dtypes ({shown}); cast one first, "
            f"e.g. x.astype(np.float64) or x.double(), or x.float() for float32"
        )


def _apply_mixed(cls: type[Function], fn: Function, inputs: tuple[Any, ...], params: dict[str, Any]) -> Any:
    """``apply`` on inputs that are not all Tensors: with any Tensor among them, the others become
    constant Tensors and the op is recorded as usual; with none (a rule on the array path), the
    forward runs on the arrays."""
    for like in inputs:
        if isinstance(like, Tensor):
            return cls.apply(*[lift(x, like) for x in inputs], **params)
    return fn.forward(*inputs, **params)
