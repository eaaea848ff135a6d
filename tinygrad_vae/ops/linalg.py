"""Linear algebra: the matrix product, and ``affine`` (x @ W + b in one node, as layers use it)."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_vae.core.function import OpError
from tinygrad_vae.core.tensor import Tensor, lift
from tinygrad_vae.ops.base import Grads, Op, Value, unbroadcast
from tinygrad_vae.ops.movement import unsqueeze


def _matmul_shape_error(a: np.ndarray, b: np.ndarray, op: str) -> OpError:
    inner_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    return OpError(
        f"{op}: shapes {a.shape} and {b.shape} are not aligned: the left operand's last "
        f"dimension ({a.shape[-1]}) must equal the right operand's "
        f"{'only' if b.ndim == 1 else 'second-to-last'} dimension ({inner_b})"
    )


def _swap_last_axes(a: np.ndarray) -> np.ndarray:
    """The transpose of each matrix in ``a`` (a view)."""
    return a.T if a.ndim == 2 else np.swapaxes(a, -1, -2)


class MatMul(Op):
    """Matrix product with NumPy's rules: 1-D operands are vectors, leading axes broadcast.

    ``transpose_a``/``transpose_b`` multiply by an operand's transpose (its last two axes
    swapped), like the "transa"/"transb" arguments of BLAS's gemm. Every matrix gradient is a
    product with a transpose (dA = G B^T, dB = A^T G), so the rule below uses these flags
    instead of recording a separate ``Transpose`` node for each when it runs on Tensors.
    """

    same_float_dtype = True  # float32 @ float64 is an error, as in torch

    def forward(self, a: np.ndarray, b: np.ndarray, transpose_a: bool = False, transpose_b: bool = False) -> np.ndarray:
        if (transpose_a and a.ndim < 2) or (transpose_b and b.ndim < 2):
            raise OpError(f"matmul: only operands with at least 2 dimensions can be transposed, "
                          f"got shapes {a.shape} and {b.shape}")
        self.transpose_a, self.transpose_b = transpose_a, transpose_b
        a = _swap_last_axes(a) if transpose_a else a
        b = _swap_last_axes(b) if transpose_b else b
        try:
            return a @ b
        except ValueError:  # checked only on failure, to keep the common path short
            if a.ndim == 0 or b.ndim == 0:
                raise OpError(
                    f"matmul: operands must have at least 1 dimension, got shapes {a.shape} and {b.shape}"
                ) from None
            if a.shape[-1] != (b.shape[0] if b.ndim == 1 else b.shape[-2]):
                raise _matmul_shape_error(a, b, "matmul") from None
            raise

    def backward(self, grad: Value, out: Value, a: Value, b: Value) -> Grads:
        need_a, need_b = self.needs_input_grad
        ta, tb = self.transpose_a, self.transpose_b
        # Treat a vector as a matrix (a row on the left, a column on the right; vectors are never
        # transposed), apply the matrix rules, then drop the extra axis. With op(X) = X or X^T and
        # C = op(A) op(B):  d op(A) = G op(B)^T  and  d op(B) = op(A)^T G;  where op transposed an
        # operand, its own gradient is that transposed back:  dA = op(B) G^T,  dB = G^T op(A).
        a2 = unsqueeze(a, 0) if a.ndim == 1 else a
        b2 = unsqueeze(b, -1) if b.ndim == 1 else b
        g2 = grad
        if b.ndim == 1:
            g2 = unsqueeze(g2, -1)
        if a.ndim == 1:
            g2 = unsqueeze(g2, -2)
        grad_a = grad_b = None
        if need_a:
            ga = MatMul.apply(b2, g2, transpose_a=tb, transpose_b=True) if ta else MatMul.apply(g2, b2, transpose_b=not tb)
            grad_a = unbroadcast(ga.squeeze(-2) if a.ndim == 1 else ga, a.shape)
        if need_b:
            gb = MatMul.apply(g2, a2, transpose_a=True, transpose_b=ta) if tb else MatMul.apply(a2, g2, transpose_a=not ta)
            grad_b = unbroadcast(gb.squeeze(-1) if b.ndim == 1 else gb, b.shape)
        return grad_a, grad_b


def matmul(a: Any, b: Any, transpose_a: bool = False, transpose_b: bool = False) -> Tensor:
    """``a @ b``; ``transpose_a``/``transpose_b`` swap an operand's last two axes first (no extra node)."""
    a = a if isinstance(a, Tensor) else Tensor(a)
    return MatMul.apply(a, lift(b, a), transpose_a=transpose_a, transpose_b=transpose_b)


class Affine(Op):
    """``x @ W + b`` in one node, the layer that ``Linear`` uses.

    x: (..., n_in), W: (n_in, n_out), b: (n_out,). Gradients:
    dx = G W^T,  dW = X^T G,  db = sum of G over the batch,
    where X and G are x and the output gradient flattened to 2-D.
    """

    same_float_dtype = True  # float32 @ float64 is an error, as in torch

    def forward(self, x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
        if w.ndim != 2 or x.ndim == 0 or x.shape[-1] != w.shape[0] or b.shape not in ((w.shape[1],), ()):
            raise OpError(
                f"affine: expected x (..., n_in), W (n_in, n_out), b (n_out,); "
                f"got x {x.shape}, W {w.shape}, b {b.shape}"
            )
        out = x @ w
        out += b
        return out

    def backward(self, grad: Value, out: Value, x: Value, w: Value, b: Value) -> Grads:
        need_x, need_w, need_b = self.needs_input_grad
        x2 = x if x.ndim == 2 else x.reshape(-1, w.shape[0])
        g2 = grad if grad.ndim == 2 else grad.reshape(-1, w.shape[1])
        return (
            grad @ w.T if need_x else None,
            x2.T @ g2 if need_w else None,
            unbroadcast(g2.sum(axis=0), b.shape) if need_b else None,
        )


def affine(x: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """``x @ weight + bias`` as a single op (fewer NumPy calls forward and backward)."""
    return Affine.apply(x, weight, bias)


# The functional forms, exported by tinygrad_vae.ops and at the top level.
__all__ = ["affine", "matmul"]
