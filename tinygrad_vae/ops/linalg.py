"""Linear algebra: the matrix product, ``affine``/``linear`` (x @ W + b, x @ W^T + b in one node), and einsum.

``Einsum`` is the one other primitive: its gradient is again an einsum (see its docstring).
The NumPy-named products (tensordot, dot, vdot, inner, outer, kron, cross) are composites of
it and of indexing, with NumPy's semantics; the Tensor methods of the same names follow torch
(``x.dot(y)`` takes 1-D tensors only, ``x.cross(y, dim)`` is ``torch.linalg.cross``). All of
them are smooth, so there are no conventions at non-differentiable points.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_vae.core.function import OpError
from tinygrad_vae.core.tensor import Tensor, lift
from tinygrad_vae.ops.base import Grads, Op, Value, unbroadcast
from tinygrad_vae.ops.movement import Reshape, Transpose, unsqueeze


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
    """``x @ W + b`` in one node, or with ``transpose_weight`` torch's ``x @ W^T + b`` (what ``Linear`` uses).

    x: (..., n_in); W: (n_in, n_out), or (n_out, n_in) with ``transpose_weight``; b: (n_out,) or ().
    With X and G the input and the output gradient flattened to 2-D, the gradients are
    dx = G W^T, dW = X^T G (plain) or dx = G W, dW = G^T X (transposed), and db = the sum of G
    over the batch. NumPy's matmul multiplies by ``W.T`` (a view) without copying it.
    """

    same_float_dtype = True  # float32 @ float64 is an error, as in torch

    def forward(self, x: np.ndarray, w: np.ndarray, b: np.ndarray, transpose_weight: bool = False) -> np.ndarray:
        self.transpose_weight = transpose_weight
        n_in, n_out = (w.shape[::-1] if transpose_weight else w.shape) if w.ndim == 2 else (None, None)
        if n_in is None or x.ndim == 0 or x.shape[-1] != n_in or b.shape not in ((n_out,), ()):
            layout = "W (n_out, n_in)" if transpose_weight else "W (n_in, n_out)"
            raise OpError(
                f"{'linear' if transpose_weight else 'affine'}: expected x (..., n_in), {layout}, b (n_out,); "
                f"got x {x.shape}, W {w.shape}, b {b.shape}"
            )
        out = x @ (w.T if transpose_weight else w)
        out += b
        return out

    def backward(self, grad: Value, out: Value, x: Value, w: Value, b: Value) -> Grads:
        need_x, need_w, need_b = self.needs_input_grad
        transposed = self.transpose_weight
        n_in, n_out = w.shape[::-1] if transposed else w.shape
        x2 = x if x.ndim == 2 else x.reshape(-1, n_in)
        g2 = grad if grad.ndim == 2 else grad.reshape(-1, n_out)
        grad_x = grad_w = None
        if need_x:
            grad_x = grad @ w if transposed else grad @ w.T
        if need_w:
            grad_w = g2.T @ x2 if transposed else x2.T @ g2
        return grad_x, grad_w, unbroadcast(g2.sum(axis=0), b.shape) if need_b else None


def affine(x: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """``x @ weight + bias`` as a single op, weight (n_in, n_out) (fewer NumPy calls forward and backward)."""
    return Affine.apply(x, weight, bias)


def linear(input: Any, weight: Any, bias: Any = None) -> Tensor:
    """``torch.nn.functional.linear``: ``input @ weight^T + bias``, weight (out_features, in_features).

    One node (``Affine`` with ``transpose_weight``), or one ``MatMul`` without a bias.
    """
    x = input if isinstance(input, Tensor) else Tensor(input)
    weight = lift(weight, x)
    if weight.ndim != 2:
        raise OpError(f"linear: expected a 2-D weight (out_features, in_features), got shape {weight.shape}")
    if bias is None:
        if x.ndim == 0 or x.shape[-1] != weight.shape[1]:
            raise OpError(f"linear: expected x (..., {weight.shape[1]}) for W {weight.shape}, got x {x.shape}")
        return MatMul.apply(x, weight, transpose_b=True)
    return Affine.apply(x, weight, lift(bias, x), transpose_weight=True)




# --------------------------------------------------------------------------
# einsum, and the products written with it
# --------------------------------------------------------------------------

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _fresh_letters(used: str, count: int, op: str) -> str:
    """``count`` subscript letters not in ``used``."""
    free = [c for c in LETTERS if c not in used]
    if len(free) < count:
        raise OpError(f"{op}: needs {count} more subscript letters than the 52 available")
    return "".join(free[:count])


def _split_ellipsis(term: str, ndim: int, subscripts: str) -> tuple[str, str, int]:
    """A term's letters before and after its '...', and how many axes the '...' covers."""
    if term.count("...") > 1 or "." in term.replace("...", ""):
        raise OpError(f"einsum: '{subscripts}': each term may hold one '...' and no other '.'")
    before, _, after = term.partition("...")
    for c in before + after:
        if c not in LETTERS:
            raise OpError(f"einsum: '{subscripts}': subscripts must be letters, got {c!r}")
    covered = ndim - len(before) - len(after)
    if covered < 0 or ("..." not in term and covered != 0):
        raise OpError(f"einsum: '{subscripts}': term '{term}' does not fit an operand of shape with {ndim} dimensions")
    return before, after, covered


def parse_einsum(subscripts: str, shapes: Sequence[tuple[int, ...]]) -> tuple[list[str], str]:
    """Subscripts in plain letters: each '...' replaced by letters of its own, and the output made explicit.

    The '...' axes of all operands are aligned from the right (NumPy's broadcasting); without
    '->' the output is the '...' axes, then the letters that occur exactly once, in
    alphabetical order (uppercase first), as in NumPy and torch.
    """
    spec = subscripts.replace(" ", "")
    if spec.count("->") > 1:
        raise OpError(f"einsum: '{subscripts}' has more than one '->'")
    lhs, arrow, rhs = spec.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise OpError(f"einsum: '{subscripts}' names {len(terms)} operands, got {len(shapes)}")
    parts = [_split_ellipsis(t, len(s), subscripts) for t, s in zip(terms, shapes)]
    ellipsis_dims = max((covered for _, _, covered in parts), default=0)
    ellipsis = _fresh_letters(lhs + rhs, ellipsis_dims, "einsum")
    inputs = [before + ellipsis[ellipsis_dims - covered:] + after for before, after, covered in parts]
    if arrow:
        if "..." not in rhs and ellipsis_dims:
            raise OpError(f"einsum: '{subscripts}': the output needs '...' for the operands' '...' axes")
        before, after, _ = _split_ellipsis(rhs, len(rhs.replace("...", "")) + ellipsis_dims, subscripts)
        output = before + ellipsis + after
    else:
        named = "".join(b + a for b, a, _ in parts)
        output = ellipsis + "".join(sorted(c for c in set(named) if named.count(c) == 1))
    for c in output:
        if output.count(c) > 1 or not any(c in t for t in inputs):
            raise OpError(f"einsum: '{subscripts}': output subscript {c!r} is repeated or names no input axis")
    return inputs, output


def _label_sizes(inputs: list[str], shapes: Sequence[tuple[int, ...]], subscripts: str) -> dict[str, int]:
    """Each letter's size; axes of one letter must agree, or be 1 in another operand (broadcasting)."""
    sizes: dict[str, int] = {}
    for term, shape in zip(inputs, shapes):
        own: dict[str, int] = {}
        for c, n in zip(term, shape):
            if own.setdefault(c, n) != n:
                raise OpError(f"einsum: '{subscripts}': repeated subscript {c!r} in one operand of shape {shape} "
                              f"needs equal sizes, got {own[c]} and {n}")
            if sizes.get(c, 1) not in (1, n) and n != 1:
                raise OpError(f"einsum: '{subscripts}': subscript {c!r} has sizes {sizes[c]} and {n}, "
                              f"which do not broadcast (operand shapes {[tuple(s) for s in shapes]})")
            sizes[c] = max(sizes.get(c, 1), n)
    return sizes


class Einsum(Op):
    """Einstein summation over operands whose subscripts are plain letters (see ``einsum``).

    A primitive, because an einsum is one NumPy call where the composite (broadcast, multiply,
    sum) would build every product in full. Each letter has one size in all operands (``einsum``
    removes size-1 broadcasting first). The output is linear in each operand, so the gradient
    of operand k is again an einsum: of the output gradient G with the other operands, into
    operand k's subscripts,

        dA_k[labels_k] = sum over the other letters of G[out] * prod_{j != k} A_j[labels_j].

    Two corrections make that an einsum NumPy can run: a letter of operand k that no other
    term has (summed away in the forward pass) gets a ones vector, since the gradient is
    constant along it; and a repeated letter (a diagonal, 'ii') gets a fresh letter tied to
    the first by an identity matrix, which puts the gradient on the diagonal and zeros off it.
    """

    def forward(self, *arrays: np.ndarray, inputs: tuple[str, ...], output: str) -> np.ndarray:
        self.inputs_spec, self.output_spec = inputs, output
        self.sizes = {c: n for term, a in zip(inputs, arrays) for c, n in zip(term, a.shape)}
        return np.einsum(",".join(inputs) + "->" + output, *arrays, optimize=len(arrays) > 1)

    def backward(self, grad: Value, out: Value, *operands: Value) -> Grads:
        return tuple(self._operand_grad(k, grad, operands) if need else None
                     for k, need in enumerate(self.needs_input_grad))

    def _operand_grad(self, k: int, grad: Value, operands: Sequence[Value]) -> Value:
        term = self.inputs_spec[k]
        terms = [self.output_spec] + [t for j, t in enumerate(self.inputs_spec) if j != k]
        values = [grad] + [a for j, a in enumerate(operands) if j != k]
        fresh = iter(_fresh_letters("".join(self.inputs_spec) + self.output_spec, len(term), "einsum"))
        target, seen, present = "", "", "".join(terms)
        for c in term:
            n = self.sizes[c]
            if c in seen:  # the diagonal: a new letter, equal to c through an identity matrix
                f = next(fresh)
                terms.append(c + f)
                values.append(np.eye(n, dtype=grad.dtype))
                target += f
                continue
            if c not in present:  # summed away in the forward pass: the gradient is constant along c
                terms.append(c)
                values.append(np.ones(n, dtype=grad.dtype))
                present += c
            seen += c
            target += c
        return Einsum.apply(*values, inputs=tuple(terms), output=target)


def _as_tensors(*xs: Any) -> list[Tensor]:
    """Operands as Tensors, numbers taking the dtype of the first Tensor among them."""
    like = next((x for x in xs if isinstance(x, Tensor)), None)
    return [x if isinstance(x, Tensor) else Tensor(x) if like is None else lift(x, like) for x in xs]


def einsum(subscripts: str, *operands: Any) -> Tensor:
    """Einstein summation, as ``numpy.einsum`` and ``torch.einsum``.

    ``einsum('ij,jk->ik', a, b)`` is a @ b; a letter repeated in one operand takes its
    diagonal ('ii->i'), a letter missing from the output is summed ('ii->' is the trace),
    and without '->' the output is the letters that occur once, in alphabetical order. '...'
    stands for axes that broadcast as in NumPy; so does an axis of size 1 against a larger
    one with the same letter. torch's form ``einsum(subscripts, [a, b])`` is accepted too.
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise OpError("einsum: needs at least one operand")
    tensors = _as_tensors(*operands)
    shapes = [t.shape for t in tensors]
    inputs, output = parse_einsum(subscripts, shapes)
    sizes = _label_sizes(inputs, shapes, subscripts)
    # Size-1 broadcasting: an operand's size-1 axis against a larger size is the same value along
    # the letter, i.e. the operand does not have the letter. Dropping it lets the primitive assume
    # one size per letter; the reshape's own gradient sums over the broadcast.
    for i, (term, t) in enumerate(zip(inputs, tensors)):
        keep = [j for j, c in enumerate(term) if not (t.shape[j] == 1 and sizes[c] > 1)]
        if len(keep) < len(term):
            tensors[i] = Reshape.apply(t, shape=tuple(t.shape[j] for j in keep))
            inputs[i] = "".join(term[j] for j in keep)
    return Einsum.apply(*tensors, inputs=tuple(inputs), output=output)


def tensordot(a: Any, b: Any, axes: int | Sequence[Any] = 2) -> Tensor:
    """``numpy.tensordot``: sum the products over ``axes`` of ``a`` paired with ``axes`` of ``b``.

    ``axes=N`` pairs a's last N axes with b's first N; ``axes=(axes_a, axes_b)`` names them. The
    result's axes are a's free axes, then b's.
    """
    a, b = _as_tensors(a, b)
    if isinstance(axes, (int, np.integer)):
        if not 0 <= axes <= min(a.ndim, b.ndim):
            raise OpError(f"tensordot: axes={axes} does not fit shapes {a.shape} and {b.shape}")
        axes_a, axes_b = list(range(a.ndim - axes, a.ndim)), list(range(axes))
    else:
        axes_a, axes_b = ([x] if isinstance(x, (int, np.integer)) else list(x) for x in axes)
    if len(axes_a) != len(axes_b):
        raise OpError(f"tensordot: axes {axes_a} and {axes_b} must be as many")
    letters = LETTERS[: a.ndim + b.ndim]
    term_a, term_b = list(letters[: a.ndim]), list(letters[a.ndim:])
    for i, j in zip(axes_a, axes_b):
        if not (-a.ndim <= i < a.ndim and -b.ndim <= j < b.ndim) or a.shape[i] != b.shape[j]:
            raise OpError(f"tensordot: axis {i} of shape {a.shape} and axis {j} of shape {b.shape} "
                          f"do not exist or differ in size")
        term_b[j] = term_a[i]
    output = "".join(c for c in term_a + term_b if (term_a + term_b).count(c) == 1)
    return Einsum.apply(a, b, inputs=("".join(term_a), "".join(term_b)), output=output)


def outer(a: Any, b: Any) -> Tensor:
    """``numpy.outer``: out[i, j] = a.flat[i] * b.flat[j] (both operands flattened)."""
    a, b = _as_tensors(a, b)
    return einsum("i,j->ij", Reshape.apply(a, shape=(-1,)), Reshape.apply(b, shape=(-1,)))


def inner(a: Any, b: Any) -> Tensor:
    """``numpy.inner`` (and ``torch.inner``): the sum over the last axes; a 0-d operand multiplies."""
    a, b = _as_tensors(a, b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    return tensordot(a, b, axes=([-1], [-1]))


def dot(a: Any, b: Any) -> Tensor:
    """``numpy.dot``: a product for a 0-d operand, the inner product of vectors, the matrix product
    of matrices, and for N-D operands the sum over a's last axis and b's second-to-last."""
    a, b = _as_tensors(a, b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    return tensordot(a, b, axes=([-1], [0 if b.ndim == 1 else -2]))


def vdot(a: Any, b: Any) -> Tensor:
    """``numpy.vdot`` for real operands: the sum of products of the flattened operands (sizes must agree)."""
    a, b = _as_tensors(a, b)
    if a.numel() != b.numel():
        raise OpError(f"vdot: operands of shapes {a.shape} and {b.shape} have {a.numel()} and {b.numel()} elements; "
                      f"they must have as many")
    return einsum("i,i->", Reshape.apply(a, shape=(-1,)), Reshape.apply(b, shape=(-1,)))


def kron(a: Any, b: Any) -> Tensor:
    """``numpy.kron``: the block matrix of a[i] * b, in any number of dimensions.

    The shorter shape is padded with leading 1s; then out[i*m + k] = a[i] b[k] axis by axis,
    which is the einsum 'ij,kl->ikjl' reshaped (for 2-D).
    """
    a, b = _as_tensors(a, b)
    ndim = max(a.ndim, b.ndim)
    a = Reshape.apply(a, shape=(1,) * (ndim - a.ndim) + a.shape)
    b = Reshape.apply(b, shape=(1,) * (ndim - b.ndim) + b.shape)
    term_a, term_b = LETTERS[:ndim], LETTERS[ndim: 2 * ndim]
    pairs = Einsum.apply(a, b, inputs=(term_a, term_b), output="".join(x + y for x, y in zip(term_a, term_b)))
    return Reshape.apply(pairs, shape=tuple(m * n for m, n in zip(a.shape, b.shape)))


def _moveaxis(x: Tensor, source: int, destination: int) -> Tensor:
    order = [i for i in range(x.ndim) if i != source % x.ndim]
    order.insert(destination % x.ndim, source % x.ndim)
    return Transpose.apply(x, axes=tuple(order))


def cross(a: Any, b: Any, axis: int = -1) -> Tensor:
    """``numpy.cross(a, b, axis=axis)`` for 3-vectors along ``axis`` of each operand (the rest broadcasts).

    c = (a2 b3 - a3 b2, a3 b1 - a1 b3, a1 b2 - a2 b1). NumPy's deprecated 2-vectors are not supported.
    """
    a, b = _as_tensors(a, b)
    for t in (a, b):
        if t.ndim == 0 or not -t.ndim <= axis < t.ndim or t.shape[axis] != 3:
            raise OpError(f"cross: needs axis {axis} of length 3 in both operands, got shapes {a.shape} and {b.shape}")
    a, b = _moveaxis(a, axis, -1), _moveaxis(b, axis, -1)
    after, before = [1, 2, 0], [2, 0, 1]  # (a2, a3, a1) and (a3, a1, a2)
    c = a[..., after] * b[..., before] - a[..., before] * b[..., after]
    return _moveaxis(c, -1, axis)


# The functional forms, exported by tinygrad_vae.ops and at the top level.
__all__ = ["affine", "cross", "dot", "einsum", "inner", "kron", "linear", "matmul", "outer", "tensordot", "vdot"]
