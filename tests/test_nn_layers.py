"""The non-convolution layers: Dropout, LayerNorm, BatchNorm1d/2d, Embedding, the activation and loss modules.

Expected values are NumPy formulas written from each layer's definition (torch's documented
one); gradients are checked against central differences over Hypothesis-drawn configurations
with odd sizes, and second derivatives for the smooth layers. Inputs stay away from kinks by
construction (leaky_relu and elu: |x| >= 0.1).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_vae import OpError, Tensor, concatenate, nn
from tinygrad_vae.nn import functional as F
from tinygrad_vae.testing import arrays, away_from_zero, gradcheck, gradgradcheck

ODD = st.sampled_from([1, 3, 5])
SEEDS = st.integers(0, 2**32 - 1)


def as_function(module: nn.Module) -> Any:
    """``module`` as a function of (input, *its parameters), for gradcheck: the parameters are swapped for
    the checker's tensors during each call (test-only, past the Parameter check) and restored after."""
    names = [name for name, _ in module.named_parameters()]

    def fn(x: Tensor, *params: Tensor) -> Tensor:
        originals = [getattr(module, name) for name in names]
        for name, p in zip(names, params):
            object.__setattr__(module, name, p)
        try:
            return module(x)
        finally:
            for name, p in zip(names, originals):
                object.__setattr__(module, name, p)

    return fn


def check_module(module: nn.Module, x: np.ndarray, second: bool = False) -> None:
    """gradcheck (and with ``second`` gradgradcheck) of ``module`` in its input and every parameter."""
    inputs = [x] + [p.data.copy() for p in module.parameters()]
    gradcheck(as_function(module), inputs)
    if second:
        gradgradcheck(as_function(module), inputs, fast_mode=True)


def test_as_function_computes_with_the_given_parameters_and_restores_the_modules() -> None:
    layer = nn.LayerNorm(2, dtype=np.float64)
    weight, bias = layer.weight, layer.bias
    x = Tensor(np.array([[1.0, 3.0]]))
    y = as_function(layer)(x, Tensor(np.array([2.0, 2.0])), Tensor(np.array([0.0, 1.0])))
    np.testing.assert_allclose(y.data, [[-2.0 / np.sqrt(1 + 1e-5), 1.0 + 2.0 / np.sqrt(1 + 1e-5)]])
    assert layer.weight is weight and layer.bias is bias


def standardized(x: np.ndarray, axes: tuple[int, ...], eps: float) -> np.ndarray:
    """(x - mean) / sqrt(biased var + eps) over ``axes``, the definition."""
    mean = x.mean(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(x.var(axis=axes, keepdims=True) + eps)


# --------------------------------------------------------------------------
# Dropout
# --------------------------------------------------------------------------


def test_dropout_keeps_each_element_with_probability_one_minus_p_and_scales_it() -> None:
    x = np.random.default_rng(0).uniform(1.0, 2.0, (200, 100))
    y = nn.Dropout(0.3, generator=np.random.default_rng(1))(Tensor(x)).data
    kept = y != 0
    assert abs(kept.mean() - 0.7) < 0.01  # 20,000 draws: the standard error is 0.003
    np.testing.assert_allclose(y[kept], x[kept] / 0.7, rtol=1e-15)


def test_dropout_mask_is_the_generators_uniform_draw_against_p() -> None:
    x = np.ones((4, 5))
    mask = np.random.default_rng(7).random((4, 5)) >= 0.4
    y = F.dropout(Tensor(x), 0.4, generator=np.random.default_rng(7))
    np.testing.assert_array_equal(y.data, mask / 0.6)


def test_dropout_draws_through_the_librarys_random_draw(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    original = F.draw

    def recording(*args: Any) -> Tensor:
        calls.append(args)
        return original(*args)

    monkeypatch.setattr(F, "draw", recording)
    nn.Dropout(0.5, generator=np.random.default_rng(0))(Tensor(np.ones(3)))
    assert [call[:2] for call in calls] == [("random", (3,))]


def test_dropout_is_the_identity_in_eval_mode_and_draws_nothing() -> None:
    rng = np.random.default_rng(3)
    state = rng.bit_generator.state
    layer = nn.Dropout(0.5, generator=rng).eval()
    x = Tensor(np.arange(6.0))
    assert layer(x) is x
    assert rng.bit_generator.state == state
    assert nn.Dropout(0.5).eval()(x) is x  # without a generator: nothing to draw in eval
    assert F.dropout(x, 0.5, training=False) is x


def test_train_and_eval_switch_dropout_inside_a_sequential() -> None:
    model = nn.Sequential(nn.Dropout(0.5, generator=np.random.default_rng(0)))
    x = Tensor(np.ones(50))
    assert (model(x).data == 0).any()
    model.eval()
    np.testing.assert_array_equal(model(x).data, np.ones(50))
    model.train()
    assert (model(x).data == 0).any()


def test_dropout_with_p_one_gives_zeros_and_with_p_zero_the_input() -> None:
    x = Tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
    y = F.dropout(x, 1.0, generator=np.random.default_rng(0))
    np.testing.assert_array_equal(y.data, np.zeros(3))
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.zeros(3))
    assert F.dropout(x, 0.0) is x


def test_dropout_without_a_generator_names_the_module_and_the_fix() -> None:
    with pytest.raises(TypeError, match=r"Dropout: needs a generator: pass generator=np\.random\.default_rng"):
        nn.Dropout(0.5)(Tensor(np.ones(3)))
    with pytest.raises(TypeError, match=r"dropout: needs a generator"):
        F.dropout(Tensor(np.ones(3)), 0.5)


@pytest.mark.parametrize("p", [-0.1, 1.5, True, "0.5"])
def test_dropout_refuses_a_probability_outside_0_1(p: Any) -> None:
    with pytest.raises(ValueError, match="Dropout: dropout probability p must be a number in"):
        nn.Dropout(p)


def test_dropout_refuses_inplace_a_bad_generator_and_integer_input() -> None:
    with pytest.raises(OpError, match="Dropout: inplace=True is not supported"):
        nn.Dropout(0.5, inplace=True)
    with pytest.raises(TypeError, match="Dropout: generator must be a numpy.random.Generator"):
        nn.Dropout(0.5, generator=42)
    with pytest.raises(TypeError, match="dropout: input must be float32 or float64"):
        F.dropout(np.arange(3), 0.5, generator=np.random.default_rng(0))


@given(x=arrays(st.tuples(ODD, ODD)), p=st.sampled_from([0.2, 0.5, 0.8]), seed=SEEDS)
def test_dropout_gradient_with_a_fixed_mask(x: np.ndarray, p: float, seed: int) -> None:
    gradcheck(lambda t: F.dropout(t, p, generator=np.random.default_rng(seed)), [x])


def test_dropout_keeps_float32() -> None:
    y = nn.Dropout(0.5, generator=np.random.default_rng(0))(Tensor(np.ones(4, np.float32)))
    assert y.dtype == np.float32


# --------------------------------------------------------------------------
# LayerNorm
# --------------------------------------------------------------------------

BATCH = st.lists(ODD, min_size=0, max_size=2).map(tuple)
NORMALIZED = st.lists(st.sampled_from([2, 3, 5]), min_size=1, max_size=2).map(tuple)


@given(data=st.data(), batch=BATCH, shape=NORMALIZED)
def test_layer_norm_matches_its_definition(data: st.DataObject, batch: tuple, shape: tuple) -> None:
    x = data.draw(arrays(batch + shape))
    w, b = data.draw(arrays(shape)), data.draw(arrays(shape))
    layer = nn.LayerNorm(shape, eps=1e-3, dtype=np.float64)
    layer.weight.data[...] = w
    layer.bias.data[...] = b
    axes = tuple(range(len(batch), len(batch) + len(shape)))
    np.testing.assert_allclose(layer(Tensor(x)).data, standardized(x, axes, 1e-3) * w + b, rtol=1e-12, atol=1e-12)


@settings(max_examples=10)
@given(data=st.data(), batch=BATCH, shape=NORMALIZED, affine=st.booleans(), bias=st.booleans())
def test_layer_norm_gradients_in_input_and_parameters(data: st.DataObject, batch: tuple, shape: tuple,
                                                      affine: bool, bias: bool) -> None:
    layer = nn.LayerNorm(shape, eps=1e-3, elementwise_affine=affine, bias=bias, dtype=np.float64)
    for p in layer.parameters():
        p.data[...] = data.draw(arrays(p.shape))
    check_module(layer, data.draw(arrays(batch + shape)), second=len(batch) <= 1)


def test_layer_norm_module_parameters_receive_gradients() -> None:
    layer = nn.LayerNorm(3, dtype=np.float64)
    x = np.array([[1.0, 2.0, 4.0], [0.0, -1.0, 3.0]])
    (layer(Tensor(x)) * np.array([1.0, 2.0, 3.0])).sum().backward()
    np.testing.assert_allclose(layer.bias.grad.data, [2.0, 4.0, 6.0])
    np.testing.assert_allclose(layer.weight.grad.data, (standardized(x, (1,), 1e-5) * [1.0, 2.0, 3.0]).sum(0))


def test_layer_norm_options_and_errors() -> None:
    assert nn.LayerNorm(4, elementwise_affine=False).weight is None
    no_bias = nn.LayerNorm((2, 3), bias=False)
    assert no_bias.bias is None and no_bias.weight.shape == (2, 3)
    assert [name for name, _ in nn.LayerNorm(3).named_parameters()] == ["weight", "bias"]
    with pytest.raises(OpError, match=r"LayerNorm: expected input of shape \(\*, 4\)"):
        nn.LayerNorm(4)(Tensor(np.ones((2, 3))))
    with pytest.raises(ValueError, match="LayerNorm: normalized_shape"):
        nn.LayerNorm(())
    with pytest.raises(OpError, match=r"layer_norm: weight must have shape \(3,\)"):
        F.layer_norm(Tensor(np.ones((2, 3))), 3, np.ones(2))


# --------------------------------------------------------------------------
# BatchNorm
# --------------------------------------------------------------------------

BN_SHAPES = st.sampled_from([(5, 3), (3, 3, 5), (3, 1, 5), (3, 3, 1, 5), (1, 3, 3, 3)])


def batch_axes(ndim: int) -> tuple[int, ...]:
    return (0,) + tuple(range(2, ndim))


def module_for(shape: tuple[int, ...], **kwargs: Any) -> nn.Module:
    kind = nn.BatchNorm2d if len(shape) == 4 else nn.BatchNorm1d
    return kind(shape[1], dtype=np.float64, **kwargs)


@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
def test_batch_norm_running_statistics_over_several_steps(momentum: float | None) -> None:
    rng = np.random.default_rng(0)
    layer = nn.BatchNorm2d(3, momentum=momentum, dtype=np.float64)
    mean, var = np.zeros(3), np.ones(3)
    batches = [rng.normal(2.0, 3.0, (4, 3, 2, 5)) for _ in range(4)]
    for step, x in enumerate(batches, start=1):
        y = layer(Tensor(x))
        np.testing.assert_allclose(y.data, standardized(x, (0, 2, 3), 1e-5), rtol=1e-12, atol=1e-12)
        m = 1.0 / step if momentum is None else momentum
        mean = (1 - m) * mean + m * x.mean(axis=(0, 2, 3))
        var = (1 - m) * var + m * x.var(axis=(0, 2, 3), ddof=1)  # the unbiased variance
        np.testing.assert_allclose(layer.running_mean.data, mean, rtol=1e-12)
        np.testing.assert_allclose(layer.running_var.data, var, rtol=1e-12)
        assert int(layer.num_batches_tracked.data) == step
    if momentum is None:  # the cumulative average of the batch statistics
        np.testing.assert_allclose(mean, np.mean([x.mean(axis=(0, 2, 3)) for x in batches], axis=0))
    layer.eval()
    x = rng.standard_normal((2, 3, 2, 2))
    expected = (x - mean[:, None, None]) / np.sqrt(var[:, None, None] + 1e-5)
    np.testing.assert_allclose(layer(Tensor(x)).data, expected, rtol=1e-12)
    np.testing.assert_allclose(layer.running_mean.data, mean)  # eval updates nothing
    assert int(layer.num_batches_tracked.data) == 4


def test_batch_norm_buffers_are_in_the_state_dict_and_load_back() -> None:
    layer = nn.BatchNorm1d(2, dtype=np.float64)
    assert list(layer.state_dict()) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]
    layer(Tensor(np.array([[1.0, 2.0], [3.0, 6.0]])))
    state = layer.state_dict()
    np.testing.assert_allclose(state["running_mean"], [0.2, 0.4])
    np.testing.assert_allclose(state["running_var"], [0.9 + 0.1 * 2.0, 0.9 + 0.1 * 8.0])
    assert state["num_batches_tracked"].dtype == np.int64 and state["num_batches_tracked"] == 1
    fresh = nn.BatchNorm1d(2, dtype=np.float64)
    fresh.load_state_dict(state)
    np.testing.assert_array_equal(fresh.running_var.data, layer.running_var.data)
    fresh.reset_running_stats()
    np.testing.assert_array_equal(fresh.running_var.data, [1.0, 1.0])
    assert int(fresh.num_batches_tracked.data) == 0


def test_batch_norm_without_running_statistics_uses_the_batch_in_eval_too() -> None:
    layer = nn.BatchNorm1d(3, track_running_stats=False, affine=False, dtype=np.float64).eval()
    assert layer.running_mean is None and list(layer.state_dict()) == []
    x = np.random.default_rng(1).standard_normal((4, 3, 5))
    np.testing.assert_allclose(layer(Tensor(x)).data, standardized(x, (0, 2), 1e-5), rtol=1e-12, atol=1e-12)


def test_batch_norm_eval_gradient_is_the_running_scale() -> None:
    layer = nn.BatchNorm1d(2, dtype=np.float64).eval()
    layer.running_var.data[...] = [4.0, 0.25]
    x = Tensor(np.ones((3, 2)), requires_grad=True)
    layer(x).sum().backward()
    np.testing.assert_allclose(x.grad.data, np.tile(1 / np.sqrt(np.array([4.0, 0.25]) + 1e-5), (3, 1)))


@settings(max_examples=15)
@given(data=st.data(), shape=BN_SHAPES, training=st.booleans(), affine=st.booleans(), track=st.booleans())
def test_batch_norm_gradients_in_input_and_parameters(data: st.DataObject, shape: tuple, training: bool,
                                                      affine: bool, track: bool) -> None:
    layer = module_for(shape, eps=1e-3, affine=affine, track_running_stats=track).train(training)
    if track:
        layer.running_mean.data[...] = data.draw(arrays((shape[1],)))
        layer.running_var.data[...] = data.draw(arrays((shape[1],), low=0.5, high=2.0))
    for p in layer.parameters():
        p.data[...] = data.draw(arrays(p.shape))
    if shape[0] * int(np.prod(shape[2:])) == 1 and (training or not track):
        return  # one value per channel: batch statistics are refused (tested below)
    check_module(layer, data.draw(arrays(shape)), second=training)


def test_batch_norm_module_is_the_functional_form_with_its_parameters() -> None:
    x = np.random.default_rng(2).standard_normal((3, 2, 5))
    layer = nn.BatchNorm1d(2, dtype=np.float64)
    layer.weight.data[...] = [2.0, -1.0]
    y = layer(Tensor(x))
    np.testing.assert_allclose(y.data, standardized(x, (0, 2), 1e-5) * np.array([2.0, -1.0])[:, None], rtol=1e-12)
    (y * y).sum().backward()
    assert layer.weight.grad is not None and layer.bias.grad.shape == (2,)


def test_batch_norm_errors_name_the_module_and_the_shape() -> None:
    with pytest.raises(OpError, match=r"BatchNorm1d: expected 2D or 3D input, got 4D input of shape \(1, 2, 1, 1\)"):
        nn.BatchNorm1d(2)(Tensor(np.ones((1, 2, 1, 1))))
    with pytest.raises(OpError, match="BatchNorm2d: expected 4D input, got 3D"):
        nn.BatchNorm2d(2)(Tensor(np.ones((1, 2, 3))))
    with pytest.raises(OpError, match=r"BatchNorm1d\(3\): expected 3 channels on axis 1"):
        nn.BatchNorm1d(3)(Tensor(np.ones((4, 2))))
    layer = nn.BatchNorm1d(2)
    with pytest.raises(OpError, match="BatchNorm1d: expected more than 1 value per channel when training"):
        layer(Tensor(np.ones((1, 2), np.float32)))
    assert int(layer.num_batches_tracked.data) == 0
    with pytest.raises(OpError, match=r"batch_norm: running_mean must be a float Tensor or array of shape \(2,\)"):
        F.batch_norm(Tensor(np.ones((3, 2))), np.zeros(3), np.ones(2))
    with pytest.raises(OpError, match="batch_norm: evaluation .* needs running_mean and running_var"):
        F.batch_norm(Tensor(np.ones((3, 2))), None, None)
    with pytest.raises(ValueError, match="BatchNorm2d: momentum must be"):
        nn.BatchNorm2d(2, momentum=2.0)


def test_batch_norm_options() -> None:
    assert nn.BatchNorm2d(3, affine=False).weight is None
    assert nn.BatchNorm2d(3, bias=False).bias is None
    assert repr(nn.BatchNorm1d(3)) == "BatchNorm1d(3, eps=1e-05, momentum=0.1, affine=True, bias=True, " \
                                      "track_running_stats=True)"
    assert nn.BatchNorm1d(3).double().running_mean.dtype == np.float64


# --------------------------------------------------------------------------
# Embedding
# --------------------------------------------------------------------------


def test_embedding_looks_up_rows_and_scatters_gradients_back() -> None:
    table = nn.Embedding(5, 3, generator=np.random.default_rng(0), dtype=np.float64)
    index = np.array([[0, 4, 4], [2, 0, 4]])
    out = table(Tensor(index))
    np.testing.assert_array_equal(out.data, table.weight.data[index])
    upstream = np.random.default_rng(1).standard_normal((2, 3, 3))
    out.backward(Tensor(upstream))
    expected = np.zeros((5, 3))
    np.add.at(expected, index, upstream)
    np.testing.assert_allclose(table.weight.grad.data, expected)


def test_embedding_is_drawn_from_a_standard_normal_with_the_generator() -> None:
    table = nn.Embedding(400, 50, generator=np.random.default_rng(3), dtype=np.float64)
    assert abs(table.weight.data.mean()) < 0.01 and abs(table.weight.data.std() - 1) < 0.01
    again = nn.Embedding(400, 50, generator=np.random.default_rng(3), dtype=np.float64)
    np.testing.assert_array_equal(table.weight.data, again.weight.data)
    assert nn.Embedding(2, 2).weight.dtype == np.float32


def test_embedding_padding_row_starts_at_zero_and_gets_no_gradient() -> None:
    table = nn.Embedding(4, 2, padding_idx=-1, generator=np.random.default_rng(0), dtype=np.float64)
    assert table.padding_idx == 3 and repr(table) == "Embedding(4, 2, padding_idx=3)"
    np.testing.assert_array_equal(table.weight.data[3], [0.0, 0.0])
    table.weight.data[3] = [5.0, 6.0]  # the forward still reads the row
    index = np.array([3, 1, 3])
    out = table(index)
    np.testing.assert_array_equal(out.data[0], [5.0, 6.0])
    out.sum().backward()
    np.testing.assert_array_equal(table.weight.grad.data, [[0, 0], [1, 1], [0, 0], [0, 0]])


@settings(max_examples=10)
@given(data=st.data(), n=ODD, dim=ODD, padding=st.booleans())
def test_embedding_gradient(data: st.DataObject, n: int, dim: int, padding: bool) -> None:
    index = np.array(data.draw(st.lists(st.integers(0, n), min_size=1, max_size=5)))
    table = nn.Embedding(n + 1, dim, padding_idx=0 if padding else None, dtype=np.float64,
                         generator=np.random.default_rng(0))
    # Row 0 is the padding row where there is one: a constant (its values are read, its gradient is 0 by
    # design), so the check runs over the other rows.
    pad_row = Tensor(table.weight.data[:1])
    gradcheck(lambda rows: as_function(table)(index, concatenate([pad_row, rows])), [table.weight.data[1:]])
    if not padding:
        gradcheck(lambda weight: as_function(table)(index, weight), [table.weight.data])


def test_embedding_refuses_out_of_range_and_non_integer_indices() -> None:
    table = nn.Embedding(3, 2, generator=np.random.default_rng(0))
    with pytest.raises(IndexError, match=r"Embedding: index 3 is out of range for 3 embeddings"):
        table(np.array([0, 3]))
    with pytest.raises(IndexError, match=r"Embedding: index -1 is out of range"):
        table(np.array([-1]))
    with pytest.raises(TypeError, match="Embedding: indices must be integers, got dtype float64"):
        table(Tensor(np.array([0.0, 1.0])))
    with pytest.raises(ValueError, match="Embedding: padding_idx must be an int in"):
        nn.Embedding(3, 2, padding_idx=3)
    with pytest.raises(OpError, match="embedding: weight must be a 2-D Tensor"):
        F.embedding(np.array([0]), Tensor(np.ones(3)))


# --------------------------------------------------------------------------
# activation modules
# --------------------------------------------------------------------------


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def _erf(x: np.ndarray) -> np.ndarray:
    from math import erf

    return np.vectorize(erf)(x)


# (module, its definition in NumPy, whether it is smooth on the drawn inputs)
ACTIVATIONS = {
    "LeakyReLU": (nn.LeakyReLU(0.2), lambda x: np.where(x > 0, x, 0.2 * x)),
    "GELU": (nn.GELU(), lambda x: 0.5 * x * (1 + _erf(x / np.sqrt(2)))),
    "GELU-tanh": (nn.GELU("tanh"), lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))),
    "ELU": (nn.ELU(0.5), lambda x: np.where(x > 0, x, 0.5 * (np.exp(x) - 1))),
    "SiLU": (nn.SiLU(), lambda x: x * _sigmoid(x)),
    "Softplus": (nn.Softplus(beta=2.0, threshold=3.0), lambda x: np.where(2 * x > 3, x, np.log1p(np.exp(2 * x)) / 2)),
    "Softmax": (nn.Softmax(dim=0), lambda x: np.exp(x) / np.exp(x).sum(0, keepdims=True)),
    "LogSoftmax": (nn.LogSoftmax(dim=-1), lambda x: x - np.log(np.exp(x).sum(-1, keepdims=True))),
}
KINKED = {"LeakyReLU", "ELU", "Softplus"}  # inputs kept 0.1 from 0 (Softplus: from its threshold 1.5, by shifting)


def activation_input(name: str) -> st.SearchStrategy[np.ndarray]:
    shape = st.tuples(ODD, ODD)
    if name == "Softplus":
        return away_from_zero(shape, margin=0.1).map(lambda a: a + 1.5)
    return away_from_zero(shape, margin=0.1) if name in KINKED else arrays(shape)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@settings(max_examples=5)
@given(data=st.data())
def test_activation_module_values_and_gradients(name: str, data: st.DataObject) -> None:
    module, reference = ACTIVATIONS[name]
    x = data.draw(activation_input(name))
    np.testing.assert_allclose(module(Tensor(x)).data, reference(x), rtol=1e-10, atol=1e-12)
    gradcheck(module, [x])
    if name not in {"LeakyReLU"}:  # the others are smooth (away from 0 and the threshold)
        gradgradcheck(module, [x])


def test_activation_reprs_and_refusals() -> None:
    assert repr(nn.LeakyReLU()) == "LeakyReLU(negative_slope=0.01)"
    assert repr(nn.GELU("tanh")) == "GELU(approximate='tanh')"
    assert repr(nn.Softplus()) == "Softplus(beta=1.0, threshold=20.0)"
    assert repr(nn.Softmax(dim=1)) == "Softmax(dim=1)"
    for cls in (nn.Softmax, nn.LogSoftmax):
        with pytest.raises(ValueError, match=f"{cls.__name__}: dim=None .* pass it explicitly"):
            cls()
    with pytest.raises(OpError, match=r"softmax: pass dim for input of 3 dimensions .* implicit choice is dim 0"):
        F.softmax(Tensor(np.ones((2, 2, 2))))
    with pytest.raises(OpError, match=r"log_softmax: pass dim for input of 4 dimensions .* dim 1"):
        F.log_softmax(Tensor(np.ones((2, 2, 2, 2))))
    np.testing.assert_allclose(F.softmin(Tensor(np.zeros((2, 4)))).data, np.full((2, 4), 0.25))
    with pytest.raises(OpError, match="ELU: inplace=True is not supported"):
        nn.ELU(inplace=True)
    with pytest.raises(ValueError, match="GELU: approximate must be 'none' or 'tanh'"):
        nn.GELU("erf")
    with pytest.raises(ValueError, match="Softplus: beta must be nonzero"):
        nn.Softplus(beta=0)


# --------------------------------------------------------------------------
# loss modules
# --------------------------------------------------------------------------

P = np.array([[0.2, 0.7, 0.4], [0.9, 0.1, 0.6]])
T = np.array([[0.0, 1.0, 0.5], [1.0, 0.0, 0.3]])
CLASSES = np.array([2, 0])
W = np.array([0.5, 1.0, 2.0])

# (module, its functional form on (input, target), the input)
LOSSES = {
    "MSELoss": (nn.MSELoss(reduction="sum"), lambda x: F.mse_loss(x, T, reduction="sum"), P),
    "L1Loss": (nn.L1Loss(), lambda x: F.l1_loss(x, T), P + 0.05),
    "NLLLoss": (nn.NLLLoss(W, ignore_index=0), lambda x: F.nll_loss(x, CLASSES, W, ignore_index=0), np.log(P)),
    "CrossEntropyLoss": (nn.CrossEntropyLoss(W, label_smoothing=0.1, reduction="sum"),
                         lambda x: F.cross_entropy(x, CLASSES, W, label_smoothing=0.1, reduction="sum"), P),
    "BCELoss": (nn.BCELoss(W), lambda x: F.binary_cross_entropy(x, T, W), P),
    "BCEWithLogitsLoss": (nn.BCEWithLogitsLoss(reduction="none", pos_weight=W),
                          lambda x: F.binary_cross_entropy_with_logits(x, T, reduction="none", pos_weight=W), P),
    "KLDivLoss": (nn.KLDivLoss(reduction="batchmean"), lambda x: F.kl_div(x, T, reduction="batchmean"), np.log(P)),
}


def _loss_target(name: str) -> np.ndarray:
    return CLASSES if name in {"NLLLoss", "CrossEntropyLoss"} else T


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_module_is_its_functional_form_with_the_options(name: str) -> None:
    module, functional, x = LOSSES[name]
    np.testing.assert_array_equal(module(Tensor(x), _loss_target(name)).data, functional(Tensor(x)).data)
    gradcheck(lambda t: module(t, _loss_target(name)), [x])


def test_gaussian_nll_loss_module() -> None:
    var = np.array([[0.5, 1.0, 2.0], [1.0, 1.0, 1.0]])
    module = nn.GaussianNLLLoss(full=True, eps=1e-3, reduction="sum")
    expected = (0.5 * (np.log(var) + (P - T) ** 2 / var) + 0.5 * np.log(2 * np.pi)).sum()
    np.testing.assert_allclose(module(Tensor(P), T, Tensor(var)).data, expected, rtol=1e-12)
    gradcheck(lambda x, v: module(x, T, v), [P, var])


def test_loss_weights_are_buffers() -> None:
    assert list(nn.CrossEntropyLoss(W).state_dict()) == ["weight"]
    assert list(nn.BCEWithLogitsLoss(pos_weight=W).state_dict()) == ["pos_weight"]
    assert nn.MSELoss().state_dict() == {} and nn.NLLLoss().weight is None
    assert repr(nn.CrossEntropyLoss()) == "CrossEntropyLoss()"


def test_loss_modules_check_reduction_and_take_options_by_keyword() -> None:
    with pytest.raises(OpError, match="MSELoss: reduction must be one of"):
        nn.MSELoss(reduction="avg")
    with pytest.raises(OpError, match="L1Loss: reduction must be one of"):
        nn.L1Loss(reduction="batchmean")
    assert nn.KLDivLoss(reduction="batchmean").reduction == "batchmean"
    with pytest.raises(TypeError):
        nn.MSELoss("sum")  # torch's first positional argument is the deprecated size_average
    with pytest.raises(TypeError):
        nn.CrossEntropyLoss(None, None, 1)


def _class_probabilities(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


# name -> (module for a reduction, how the input is drawn from logits z, the target from uniforms u / classes k)
DRAWN_LOSSES: dict[str, tuple[Any, Any, Any]] = {
    "MSELoss": (lambda r: nn.MSELoss(reduction=r), lambda z: z, lambda u, k: u),
    "L1Loss": (lambda r: nn.L1Loss(reduction=r), lambda z: z, lambda u, k: None),  # target: z - offsets
    "NLLLoss": (lambda r: nn.NLLLoss(reduction=r), lambda z: np.log(_class_probabilities(z)), lambda u, k: k),
    "CrossEntropyLoss": (lambda r: nn.CrossEntropyLoss(reduction=r, label_smoothing=0.1), lambda z: z,
                         lambda u, k: k),
    "BCELoss": (lambda r: nn.BCELoss(reduction=r), lambda z: 0.05 + 0.9 / (1 + np.exp(-z)), lambda u, k: u),
    "BCEWithLogitsLoss": (lambda r: nn.BCEWithLogitsLoss(reduction=r), lambda z: z, lambda u, k: u),
    "KLDivLoss": (lambda r: nn.KLDivLoss(reduction=r), lambda z: np.log(_class_probabilities(z)),
                  lambda u, k: _class_probabilities(u)),
}


@pytest.mark.parametrize("name", sorted(DRAWN_LOSSES))
@settings(max_examples=5)
@given(data=st.data(), n=ODD, c=st.sampled_from([2, 3, 5]), reduction=st.sampled_from(["none", "mean", "sum"]))
def test_loss_module_gradients_over_drawn_shapes(name: str, data: st.DataObject, n: int, c: int,
                                                 reduction: str) -> None:
    make, input_of, target_of = DRAWN_LOSSES[name]
    z = data.draw(arrays((n, c)))
    u = data.draw(arrays((n, c), low=0.0, high=1.0))
    classes = np.array(data.draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)))
    target = target_of(u, classes)
    if target is None:  # l1: the target 0.1 or more away from the input, off the kink
        target = z - data.draw(away_from_zero((n, c), margin=0.1))
    module = make(reduction)
    gradcheck(lambda x: module(x, target), [input_of(z)])
