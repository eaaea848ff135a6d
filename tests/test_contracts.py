"""Contracts users rely on: gradcheck's strictness, the engine's bookkeeping, defaults of the
public constructors, the Hessian transforms, gradient clipping, strict loading and safe checkpoints.

Every expected value here is worked out by hand from the formula in the test, not by the code
under test.
"""

from __future__ import annotations

import gc
import json
import os
import stat
import weakref
from typing import Any

import numpy as np
import pytest

from tinygrad_vae import GradcheckError, Tensor, gradcheck, gradgradcheck
from tinygrad_vae.core import Function
from tinygrad_vae.core.engine import gradients
from tinygrad_vae.core.grad_mode import no_grad
from tinygrad_vae.func import hessian, hvp
from tinygrad_vae.nn.linear import Linear
from tinygrad_vae.nn.serialization import load, save
from tinygrad_vae.optim import clip_grad_norm_
from tinygrad_vae.vae.model import VAE

# ---- gradcheck ------------------------------------------------------------------------------


def _doubling_with_gradient(factor: float, offset: float) -> type[Function]:
    """y = 2 x, whose rule claims dy/dx = 2 * factor + offset (the truth: factor 1, offset 0)."""

    class Doubling(Function):
        def forward(self, a: np.ndarray) -> np.ndarray:
            return 2 * a

        def backward(self, grad: Any, out: Any, a: Any) -> Any:
            return grad * (2 * factor + offset)

    return Doubling


X3 = np.array([0.3, -1.2, 2.0])


@pytest.mark.parametrize("fast_mode", [False, True])
def test_gradcheck_fails_a_rule_5x_outside_atol_and_passes_one_inside(fast_mode: bool) -> None:
    atol = 1e-3  # rtol 0: the allowed difference is atol alone
    wrong = _doubling_with_gradient(1.0, 5 * atol)
    with pytest.raises(GradcheckError):
        gradcheck(lambda t: wrong.apply(t), [X3], atol=atol, rtol=0.0, fast_mode=fast_mode)
    close = _doubling_with_gradient(1.0, 0.2 * atol)  # full mode: the error per element is 0.2 atol
    if not fast_mode:
        assert gradcheck(lambda t: close.apply(t), [X3], atol=atol, rtol=0.0)


@pytest.mark.parametrize("fast_mode", [False, True])
def test_gradcheck_fails_a_rule_5x_outside_rtol_and_passes_one_inside(fast_mode: bool) -> None:
    rtol = 1e-2  # atol 0: the allowed difference is rtol * |numerical|
    wrong = _doubling_with_gradient(1.0 + 5 * rtol, 0.0)
    with pytest.raises(GradcheckError):
        gradcheck(lambda t: wrong.apply(t), [X3], atol=0.0, rtol=rtol, fast_mode=fast_mode)
    close = _doubling_with_gradient(1.0 + 0.2 * rtol, 0.0)  # a relative error is relative in both modes
    assert gradcheck(lambda t: close.apply(t), [X3], atol=0.0, rtol=rtol, fast_mode=fast_mode)


class _TransposedGradient(Function):
    """y = sum(x * C) with the right gradient values C, but returned flat-reshaped to the wrong shape.

    check_gradients is off, as for the engine's own ops, so only gradcheck can catch it.
    """

    check_gradients = False
    C = np.arange(6.0).reshape(2, 3) + 1

    def forward(self, a: np.ndarray) -> np.ndarray:
        return np.sum(a * self.C)

    def backward(self, grad: Any, out: Any, a: Any) -> Any:
        return (grad * self.C).reshape(3, 2)


@pytest.mark.parametrize("fast_mode", [False, True])
def test_gradcheck_fails_a_gradient_of_the_wrong_shape_but_the_right_size(fast_mode: bool) -> None:
    x = np.random.default_rng(0).standard_normal((2, 3))
    with pytest.raises(GradcheckError, match=r"shape \(3, 2\).*\(2, 3\)"):
        gradcheck(lambda t: _TransposedGradient.apply(t), [x], fast_mode=fast_mode)


class _ThreeInputs(Function):
    """y = a * b + c elementwise, with the rule for input ``WRONG`` off by 10%."""

    WRONG = -1

    def forward(self, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
        return a * b + c

    def backward(self, grad: Any, out: Any, a: Any, b: Any, c: Any) -> tuple[Any, ...]:
        grads = [grad * b, grad * a, grad * 1.0]
        if self.WRONG >= 0:
            grads[self.WRONG] = grads[self.WRONG] * 1.1
        return tuple(grads)


@pytest.mark.parametrize("wrong", [0, 1, 2])
def test_gradcheck_fast_mode_checks_every_input(wrong: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(1)
    xs = [rng.standard_normal(4) for _ in range(3)]
    assert gradcheck(lambda a, b, c: _ThreeInputs.apply(a, b, c), xs, fast_mode=True)
    monkeypatch.setattr(_ThreeInputs, "WRONG", wrong)
    with pytest.raises(GradcheckError, match=f"input {wrong}"):
        gradcheck(lambda a, b, c: _ThreeInputs.apply(a, b, c), xs, fast_mode=True)


E = 0.1  # the error of the rules below, +E on one output and -E on the other


class _CancellingFirstDerivative(Function):
    """y = (x, x) for x of shape (1,); the rule claims dy0/dx = 1 + E and dy1/dx = 1 - E.

    Projected on v = (1, 1) the two errors cancel; only a random projection sees them.
    """

    def forward(self, a: np.ndarray) -> np.ndarray:
        return np.concatenate([a, a])

    def backward(self, grad: Any, out: Any, a: Any) -> Any:
        return grad[0:1] * (1 + E) + grad[1:2] * (1 - E)


def _scaled_identity(factor: float) -> type[Function]:
    """y = x, whose rule claims dy/dx = factor."""

    class ScaledIdentity(Function):
        def forward(self, a: np.ndarray) -> np.ndarray:
            return a.copy()

        def backward(self, grad: Any, out: Any, a: Any) -> Any:
            return grad * factor

    return ScaledIdentity


_PLUS, _MINUS = _scaled_identity(1 + E), _scaled_identity(1 - E)


class _CancellingSecondDerivative(Function):
    """y = (x^2 / 2, x^2 / 2) for x of shape (1,). Its rule, v0 x + v1 x, is right, but the second
    derivative of output 0 comes out as 1 + E and that of output 1 as 1 - E: on v = (1, 1) they cancel."""

    def forward(self, a: np.ndarray) -> np.ndarray:
        return np.concatenate([a * a / 2, a * a / 2])

    def backward(self, grad: Any, out: Any, a: Any) -> Any:
        return grad[0:1] * _PLUS.apply(a) + grad[1:2] * _MINUS.apply(a)


X1 = np.array([0.7])


def test_the_cancelling_rules_pass_a_projection_on_ones() -> None:
    # What a fixed all-ones projection would see: v^T J u exactly right, so it would pass.
    x = Tensor(X1.copy(), requires_grad=True)
    (g,) = gradients(_CancellingFirstDerivative.apply(x), [x], grad_output=np.ones(2))
    np.testing.assert_allclose(g.data, [2.0], rtol=1e-15)
    (g,) = gradients(_CancellingSecondDerivative.apply(x), [x], grad_output=np.ones(2), create_graph=True)
    (gg,) = gradients(g.sum(), [x])
    np.testing.assert_allclose(gg.data, [2.0], rtol=1e-15)


@pytest.mark.parametrize("seed", [None, 0, 1, 2, 3])
def test_gradcheck_fast_mode_projects_on_a_random_vector(seed: int | None) -> None:
    rng = None if seed is None else np.random.default_rng(seed)
    with pytest.raises(GradcheckError):
        gradcheck(lambda t: _CancellingFirstDerivative.apply(t), [X1], fast_mode=True, rng=rng)


@pytest.mark.parametrize("fast_mode", [False, True])
@pytest.mark.parametrize("seed", [None, 0, 1, 2, 3])
def test_gradgradcheck_projects_on_a_random_vector(seed: int | None, fast_mode: bool) -> None:
    rng = None if seed is None else np.random.default_rng(seed)
    assert gradcheck(lambda t: _CancellingSecondDerivative.apply(t), [X1])  # the first derivative is right
    with pytest.raises(GradcheckError):
        gradgradcheck(lambda t: _CancellingSecondDerivative.apply(t), [X1], rng=rng, fast_mode=fast_mode)


# ---- the engine -----------------------------------------------------------------------------


def test_grad_accumulates_across_two_create_graph_backwards() -> None:
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    for _ in range(2):
        (x * x * x).sum().backward(create_graph=True)
    np.testing.assert_array_equal(x.grad.data, [6.0, 24.0])  # 2 * 3 x^2
    (second,) = gradients(x.grad.sum(), [x])
    np.testing.assert_array_equal(second.data, [12.0, 24.0])  # 2 * 6 x


def test_create_graph_backward_inside_no_grad_gives_a_differentiable_grad() -> None:
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = (x * x * x).sum()
    with no_grad():
        y.backward(create_graph=True)
    assert x.grad.requires_grad
    (second,) = gradients(x.grad.sum(), [x])
    np.testing.assert_array_equal(second.data, [6.0, 12.0])  # 6 x


class _Float64Rule(Function):
    """y = 2 x, whose rule returns its gradient in float64 whatever the input's dtype."""

    def forward(self, a: np.ndarray) -> np.ndarray:
        return 2 * a

    def backward(self, grad: Any, out: Any, a: Any) -> Any:
        return grad.astype(np.float64) * 2


@pytest.mark.parametrize("create_graph", [False, True])
def test_a_user_functions_gradient_takes_its_inputs_dtype(create_graph: bool) -> None:
    x = Tensor(np.array([1.0, 2.0], np.float32), requires_grad=True)
    _Float64Rule.apply(x).sum().backward(create_graph=create_graph)
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.data, [2.0, 2.0])


@pytest.mark.parametrize("through_an_op", [False, True])
@pytest.mark.parametrize("create_graph", [False, True])
def test_a_float64_seed_into_a_float32_graph_gives_float32_gradients(through_an_op: bool, create_graph: bool) -> None:
    x = Tensor(np.array([1.0, 2.0], np.float32), requires_grad=True)
    y = x * 3 if through_an_op else x
    y.backward(Tensor(np.array([1.0, 0.5])), create_graph=create_graph)
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.data, [3.0, 1.5] if through_an_op else [1.0, 0.5])


def test_gradients_leaves_every_leafs_grad_alone() -> None:
    a = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    b = Tensor(np.array([3.0, 4.0]), requires_grad=True)
    earlier = Tensor(np.array([5.0, 5.0]))
    a.grad = earlier
    (gb,) = gradients((a * b).sum(), [b])
    np.testing.assert_array_equal(gb.data, [1.0, 2.0])
    assert a.grad is earlier
    np.testing.assert_array_equal(a.grad.data, [5.0, 5.0])
    assert b.grad is None


def test_requires_grad_false_on_a_non_leaf_raises() -> None:
    x = Tensor(np.ones(2), requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match="requires_grad_"):
        y.requires_grad_(False)
    assert y.requires_grad


class _SavesAnArray(Function):
    """y = 2 x, keeping a large array from forward as an attribute."""

    def forward(self, a: np.ndarray) -> np.ndarray:
        self.saved = np.ones(1000)
        return 2 * a

    def backward(self, grad: Any, out: Any, a: Any) -> Any:
        return grad * 2


@pytest.mark.parametrize("retain_graph", [False, True])
def test_arrays_saved_by_forward_are_released_after_backward(retain_graph: bool) -> None:
    x = Tensor(np.ones(3), requires_grad=True)
    y = _SavesAnArray.apply(x).sum()
    saved = weakref.ref(y._ctx.inputs[0]._ctx.saved)
    y.backward(retain_graph=retain_graph)
    gc.collect()
    assert (saved() is not None) is retain_graph  # kept only when asked to


# ---- defaults -------------------------------------------------------------------------------


def test_var_and_std_default_to_correction_1() -> None:
    x = Tensor(np.array([1.0, 2.0, 3.0, 4.0]))  # mean 2.5, squared deviations sum to 5
    assert x.var().item() == pytest.approx(5 / 3, rel=1e-15)
    assert x.std().item() == pytest.approx(np.sqrt(5 / 3), rel=1e-15)
    assert x.var(correction=0).item() == pytest.approx(5 / 4, rel=1e-15)


def test_vae_beta_weighs_the_kl_term() -> None:
    x = np.random.default_rng(0).standard_normal((5, 2))
    eps = np.random.default_rng(1).standard_normal((5, 2))
    losses = {beta: VAE(2, beta=beta, rng=np.random.default_rng(2), dtype=np.float64).loss(x, eps=eps) for beta in (1.0, 3.0)}
    (total1, recon1, kl1), (total3, recon3, kl3) = losses[1.0], losses[3.0]
    assert recon1.item() == recon3.item() and kl1.item() == kl3.item() and kl1.item() > 0
    assert total3.item() == pytest.approx(recon3.item() + 3 * kl3.item(), rel=1e-14)
    assert total1.item() == pytest.approx(recon1.item() + kl1.item(), rel=1e-14)


def test_vae_weight_init_torch_uses_linears_default_and_notebook_its_own() -> None:
    torch_style = VAE(2, weight_init="torch", rng=np.random.default_rng(0), dtype=np.float64)
    notebook = VAE(2, rng=np.random.default_rng(0), dtype=np.float64)
    for name, param in torch_style.named_parameters():
        bound = 1 / np.sqrt(dict(torch_style.named_modules())[name.rsplit(".", 1)[0]].in_features)
        assert np.abs(param.data).max() <= bound and param.data.all(), name
    assert np.abs(torch_style.encoder[0].weight.data).max() > 0.9 / np.sqrt(2)  # 64 draws from U(-1/sqrt(2), ...)
    assert not any(p.data.any() for name, p in notebook.named_parameters() if name.endswith("bias"))
    with pytest.raises(ValueError, match="VAE: weight_init must be one of \\('notebook', 'torch'\\), got 'xavier'"):
        VAE(2, weight_init="xavier")


# ---- transforms -----------------------------------------------------------------------------
# f(x, y) = sum_ij x_i^2 y_j with x of shape (2, 1) and y of shape (3,): not symmetric in its
# arguments, and of different sizes, so a block in the wrong orientation has the wrong shape.
XH = np.array([[0.5], [-2.0]])
YH = np.array([1.0, 3.0, -0.5])


def _f_xy(x: Tensor, y: Tensor) -> Tensor:
    return (x**2 * y).sum()


def test_hessian_of_two_arguments_has_its_blocks_in_the_right_orientation() -> None:
    (hxx, hxy), (hyx, hyy) = hessian(_f_xy, argnums=(0, 1))(XH, YH)
    # d2f/dx_i dx_k = 2 sum(y) [i = k]; d2f/dx_i dy_j = 2 x_i; d2f/dy dy = 0.
    expected_xx = np.zeros((2, 1, 2, 1))
    expected_xx[0, 0, 0, 0] = expected_xx[1, 0, 1, 0] = 2 * 3.5
    expected_xy = np.array([[[1.0, 1.0, 1.0]], [[-4.0, -4.0, -4.0]]])  # [i, 0, j] = 2 x_i
    expected_yx = np.array([[[1.0], [-4.0]]] * 3)  # [j, i, 0] = 2 x_i
    np.testing.assert_allclose(hxx, expected_xx, rtol=1e-15)
    assert hxy.shape == (2, 1, 3) and hyx.shape == (3, 2, 1)
    np.testing.assert_allclose(hxy, expected_xy, rtol=1e-15)
    np.testing.assert_allclose(hyx, expected_yx, rtol=1e-15)
    np.testing.assert_array_equal(hyy, np.zeros((3, 3)))


def test_hvp_with_several_primals_uses_the_whole_hessian() -> None:
    tx, ty = np.array([[1.0], [2.0]]), np.array([0.5, -1.0, 4.0])
    value, (hx, hy) = hvp(_f_xy, (XH, YH), (tx, ty))
    # (H t)_x = 2 sum(y) t_x + 2 x sum(t_y); (H t)_y = 2 <x, t_x> for every j.
    assert value == pytest.approx((0.25 + 4.0) * 3.5, rel=1e-15)
    np.testing.assert_allclose(hx, [[2 * 3.5 * 1.0 + 2 * 0.5 * 3.5], [2 * 3.5 * 2.0 + 2 * -2.0 * 3.5]], rtol=1e-15)
    np.testing.assert_allclose(hy, np.full(3, 2 * (0.5 * 1.0 + -2.0 * 2.0)), rtol=1e-15)


# ---- optimizers -----------------------------------------------------------------------------


@pytest.mark.parametrize("as_list", [True, False])
def test_clip_grad_norm_of_huge_float32_gradients_does_not_overflow(as_list: bool) -> None:
    p = Tensor(np.zeros(4, np.float32), requires_grad=True)
    p.grad = Tensor(np.full(4, 3e19, np.float32))  # its squares, 9e38, overflow float32 (max 3.4e38)
    total = clip_grad_norm_([p] if as_list else p, max_norm=1.0)
    assert total == pytest.approx(6e19, rel=1e-6)  # sqrt(4 * 9e38)
    assert p.grad.dtype == np.float32
    np.testing.assert_allclose(p.grad.data, np.full(4, 0.5), rtol=1e-6)  # rescaled to norm 1


def test_clip_grad_norm_on_a_single_tensor_clips_it() -> None:
    p = Tensor(np.zeros(2), requires_grad=True)
    p.grad = Tensor(np.array([3.0, 4.0]))
    assert clip_grad_norm_(p, max_norm=1.0) == pytest.approx(5.0, rel=1e-15)
    np.testing.assert_allclose(p.grad.data, [0.6, 0.8], rtol=1e-6)


# ---- modules --------------------------------------------------------------------------------


def test_strict_load_state_dict_refuses_unexpected_keys_alone() -> None:
    layer = Linear(2, 3, dtype=np.float64, generator=np.random.default_rng(0))
    before = {key: value.copy() for key, value in layer.state_dict().items()}
    state = {key: np.zeros_like(value) for key, value in before.items()}
    state["extra.weight"] = np.zeros(2)  # nothing missing, one key too many
    with pytest.raises(KeyError, match="unexpected keys \\['extra.weight'\\]"):
        layer.load_state_dict(state, strict=True)
    for key, value in layer.state_dict().items():
        np.testing.assert_array_equal(value, before[key])  # nothing written
    result = layer.load_state_dict(state, strict=False)
    assert list(result.unexpected_keys) == ["extra.weight"] and not result.missing_keys


# ---- serialization --------------------------------------------------------------------------

UNPICKLED: list[str] = []


def _record_unpickling() -> str:
    UNPICKLED.append("called")
    return "payload"


class _Hostile:
    """Pickles as a call to ``_record_unpickling``: loading it with pickle runs code."""

    def __reduce__(self) -> tuple[Any, tuple[()]]:
        return _record_unpickling, ()


def test_load_refuses_a_pickled_object_without_unpickling_it(tmp_path: Any) -> None:
    path = tmp_path / "hostile.npz"
    meta = json.dumps({"format": "tinygrad_vae.checkpoint", "version": 2, "order": ["w"], "values": {}})
    hostile = np.empty(1, dtype=object)
    hostile[0] = _Hostile()
    np.savez(path, __tinygrad_vae__=np.asarray(meta), w=hostile)  # np.savez pickles object arrays
    UNPICKLED.clear()
    with pytest.raises(ValueError, match="hostile.npz"):
        load(path)
    assert UNPICKLED == []
    with np.load(path, allow_pickle=True) as contents:  # the file really is hostile
        assert contents["w"][0] == "payload"
    assert UNPICKLED == ["called"]


def test_save_fsyncs_the_file_before_the_rename_and_the_folder_after(tmp_path: Any,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def spy_fsync(fd: int) -> None:
        events.append("fsync folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync file")
        real_fsync(fd)

    def spy_replace(src: Any, dst: Any) -> None:
        events.append("replace")
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", spy_fsync)
    monkeypatch.setattr(os, "replace", spy_replace)
    save({"w": np.arange(3.0)}, tmp_path / "ckpt.npz")
    assert events == ["fsync file", "replace", "fsync folder"]
    np.testing.assert_array_equal(load(tmp_path / "ckpt.npz")["w"], [0.0, 1.0, 2.0])
