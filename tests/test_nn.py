"""Modules: registration, names, buffers, state dicts and their errors, casting; Linear (torch layout); containers."""

import copy
import re
from pathlib import Path

import numpy as np
import pytest

from tinygrad_vae import nn
from tinygrad_vae.core import OpError, Tensor, get_default_dtype, set_default_dtype
from tinygrad_vae.testing.gradcheck import gradcheck, gradgradcheck


class Encoder(nn.Module):
    def __init__(self, rng: np.random.Generator) -> None:
        super().__init__()
        self.hidden = nn.Linear(2, 4, generator=rng)
        self.mu = nn.Linear(4, 3, generator=rng)
        self.scale = nn.Parameter(np.ones(3, dtype=np.float32))
        self.note = "not a parameter"

    def forward(self, x):
        return self.mu(self.hidden(x).relu()) * self.scale


class Model(nn.Module):
    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        rng = np.random.default_rng(seed)
        self.temperature = nn.Parameter(np.array(1.0, dtype=np.float32))
        self.encoder = Encoder(rng)
        self.decoder = nn.Sequential(nn.Linear(3, 4, generator=rng), nn.ReLU(), nn.Linear(4, 2, generator=rng))

    def forward(self, x):
        return self.decoder(self.encoder(x)) * self.temperature


EXPECTED_NAMES = [
    "temperature",
    "encoder.scale",
    "encoder.hidden.weight", "encoder.hidden.bias",
    "encoder.mu.weight", "encoder.mu.bias",
    "decoder.0.weight", "decoder.0.bias",
    "decoder.2.weight", "decoder.2.bias",
]


@pytest.fixture
def float64_default():
    previous = get_default_dtype()
    set_default_dtype(np.float64)
    yield
    set_default_dtype(previous)


# ---- Parameter --------------------------------------------------------------------


def test_parameter_requires_grad_has_no_dict_and_shares_the_array():
    data = np.zeros((2, 3), dtype=np.float32)
    p = nn.Parameter(data)
    assert p.requires_grad and p.is_leaf
    assert p.data is data
    assert not hasattr(p, "__dict__")
    assert repr(p).startswith("Parameter([[0., 0., 0.]")
    assert type(p * 2.0) is Tensor


def test_parameter_rejects_integer_data():
    with pytest.raises(TypeError, match="only float32 and float64 tensors can require grad, got dtype int64"):
        nn.Parameter(np.arange(3))


# ---- registration and traversal ------------------------------------------------------


def test_named_parameters_order_and_dotted_names():
    model = Model()
    names = [name for name, _ in model.named_parameters()]
    assert names == EXPECTED_NAMES
    for name, p in model.named_parameters():
        assert p.name == name
    assert [p for p in model.parameters()] == [p for _, p in model.named_parameters()]
    assert model.num_parameters() == 1 + 3 + (2 * 4 + 4) + (4 * 3 + 3) + (3 * 4 + 4) + (4 * 2 + 2)


def test_parameters_get_dotted_names_at_registration():
    model = Model()  # nobody has called named_parameters yet
    assert model.encoder.hidden.weight.name == "encoder.hidden.weight"
    assert model.decoder[2].bias.name == "decoder.2.bias"


def test_children_and_named_modules():
    model = Model()
    assert list(model.children()) == [model.encoder, model.decoder]
    assert [name for name, _ in model.named_children()] == ["encoder", "decoder"]
    names = [name for name, _ in model.named_modules()]
    assert names == ["", "encoder", "encoder.hidden", "encoder.mu", "decoder", "decoder.0", "decoder.1", "decoder.2"]
    assert next(iter(model.modules())) is model


def test_reassignment_and_deletion_update_the_registry():
    model = Model()
    model.temperature = None  # a parameter replaced by a plain value is no longer registered
    assert "temperature" not in [name for name, _ in model.named_parameters()]
    model.extra = nn.Linear(1, 1)
    assert [name for name, _ in model.named_children()] == ["encoder", "decoder", "extra"]
    del model.extra
    assert [name for name, _ in model.named_children()] == ["encoder", "decoder"]
    assert not hasattr(model, "extra")
    assert model.encoder.note == "not a parameter"


def test_shared_parameter_listed_once_but_saved_under_each_name():
    first = nn.Linear(2, 2, generator=np.random.default_rng(0))
    second = nn.Linear(2, 2, generator=np.random.default_rng(1))
    second.weight = first.weight
    model = nn.Sequential(first, second)
    assert [name for name, _ in model.named_parameters()] == ["0.weight", "0.bias", "1.bias"]
    assert list(model.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]


def test_assigning_before_init_names_the_class():
    class Forgetful(nn.Module):
        def __init__(self):
            self.layer = nn.Linear(1, 1)

    with pytest.raises(AttributeError, match=r"Forgetful: cannot assign attribute 'layer' before Module.__init__"):
        Forgetful()


def test_forward_must_be_defined():
    with pytest.raises(NotImplementedError, match="Module: subclasses of Module must define forward"):
        nn.Module()(1)


# ---- zero_grad and train/eval ----------------------------------------------------------


def test_zero_grad_sets_every_grad_to_none():
    model = Model()
    model(np.ones((5, 2), dtype=np.float32)).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_train_and_eval_propagate_to_every_submodule():
    model = Model()
    assert all(m.training for m in model.modules())
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    model.decoder.train()
    assert [m.training for m in model.modules()] == [False, False, False, False, True, True, True, True]
    model.train()
    assert all(m.training for m in model.modules())
    with pytest.raises(TypeError, match="Model.train: mode must be a bool, got str"):
        model.train("no")


def test_apply_visits_children_before_parents():
    model = Model()
    visited = []
    model.apply(lambda m: visited.append(m))
    assert visited[-1] is model
    assert visited.index(model.encoder.hidden) < visited.index(model.encoder)
    assert len(visited) == 8


# ---- state dicts -------------------------------------------------------------------------


def test_state_dict_is_a_copy_with_dotted_keys():
    model = Model()
    state = model.state_dict()
    assert list(state) == EXPECTED_NAMES
    state["encoder.hidden.weight"][...] = 7.0
    assert not np.any(model.encoder.hidden.weight.data == 7.0)


def test_state_dict_round_trip_into_a_differently_initialized_model():
    source, target = Model(seed=0), Model(seed=1)
    x = np.random.default_rng(2).standard_normal((6, 2)).astype(np.float32)
    assert not np.array_equal(source(x).data, target(x).data)
    result = target.load_state_dict(source.state_dict())
    assert result == nn.IncompatibleKeys([], [])
    for (name, p), (_, q) in zip(source.named_parameters(), target.named_parameters()):
        assert np.array_equal(p.data, q.data), name
    assert np.array_equal(source(x).data, target(x).data)


def test_load_state_dict_writes_in_place():
    model = Model()
    weight_array = model.encoder.hidden.weight.data
    model.load_state_dict(Model(seed=3).state_dict())
    assert model.encoder.hidden.weight.data is weight_array


def test_load_state_dict_accepts_tensors():
    model = Model()
    state = {k: Tensor(v + 1) for k, v in model.state_dict().items()}
    model.load_state_dict(state)
    assert np.array_equal(model.temperature.data, np.array(2.0, dtype=np.float32))


def test_load_state_dict_missing_and_unexpected_keys():
    model = Model()
    state = model.state_dict()
    del state["decoder.0.bias"]
    state["decoder.9.weight"] = np.zeros(1, dtype=np.float32)
    with pytest.raises(KeyError, match=re.escape(
        "Model.load_state_dict: missing keys ['decoder.0.bias']; unexpected keys ['decoder.9.weight']"
    )):
        model.load_state_dict(state)
    result = model.load_state_dict(state, strict=False)
    assert result.missing_keys == ["decoder.0.bias"]
    assert result.unexpected_keys == ["decoder.9.weight"]


def test_load_state_dict_only_missing_keys_message():
    model = nn.Linear(2, 3)
    with pytest.raises(KeyError, match=re.escape(
        "Linear.load_state_dict: missing keys ['bias'] (the module has keys ['weight', 'bias'])"
    )):
        model.load_state_dict({"weight": np.zeros((3, 2), dtype=np.float32)})


def test_load_state_dict_shape_mismatch_names_key_and_shapes():
    model = Model()
    state = model.state_dict()
    state["encoder.mu.weight"] = np.zeros((4, 3), dtype=np.float32)  # the transpose (an old checkpoint's layout)
    with pytest.raises(ValueError, match=re.escape(
        "Model.load_state_dict: for key 'encoder.mu.weight' expected shape (3, 4), got (4, 3)"
    )):
        model.load_state_dict(state)


def test_load_state_dict_dtype_mismatch_names_key_and_dtypes():
    model = Model()
    state = model.state_dict()
    state["decoder.2.bias"] = state["decoder.2.bias"].astype(np.float64)
    with pytest.raises(TypeError, match=re.escape(
        "Model.load_state_dict: for key 'decoder.2.bias' expected dtype float32, got float64"
    )):
        model.load_state_dict(state, strict=False)


def test_failed_load_leaves_the_module_unchanged():
    model = Model()
    before = model.state_dict()
    state = Model(seed=5).state_dict()
    state["decoder.2.bias"] = np.zeros(7, dtype=np.float32)  # the last key is bad, the others fine
    with pytest.raises(ValueError, match="decoder.2.bias"):
        model.load_state_dict(state)
    after = model.state_dict()
    assert all(np.array_equal(before[k], after[k]) for k in before)


def test_load_state_dict_rejects_non_mappings():
    with pytest.raises(TypeError, match="Linear.load_state_dict: expected a mapping of names to arrays, got list"):
        nn.Linear(1, 1).load_state_dict([1, 2])


# ---- repr -------------------------------------------------------------------------------


def test_repr_shows_the_tree():
    assert repr(Model()) == (
        "Model(\n"
        "  (encoder): Encoder(\n"
        "    (hidden): Linear(in_features=2, out_features=4, bias=True)\n"
        "    (mu): Linear(in_features=4, out_features=3, bias=True)\n"
        "  )\n"
        "  (decoder): Sequential(\n"
        "    (0): Linear(in_features=3, out_features=4, bias=True)\n"
        "    (1): ReLU()\n"
        "    (2): Linear(in_features=4, out_features=2, bias=True)\n"
        "  )\n"
        ")"
    )
    assert repr(nn.Linear(3, 1, bias=False)) == "Linear(in_features=3, out_features=1, bias=False)"


# ---- Linear ----------------------------------------------------------------------------


def test_linear_forward_is_x_times_w_transposed_plus_b():
    rng = np.random.default_rng(0)
    layer = nn.Linear(3, 5, dtype=np.float64, generator=rng)
    assert layer.weight.shape == (5, 3) and layer.bias.shape == (5,)  # torch's (out, in)
    x = rng.standard_normal((7, 3))
    np.testing.assert_allclose(layer(x).data, x @ layer.weight.data.T + layer.bias.data, rtol=1e-12, atol=0)
    x3 = rng.standard_normal((2, 4, 3))
    np.testing.assert_allclose(layer(Tensor(x3)).data, x3 @ layer.weight.data.T + layer.bias.data, rtol=1e-12, atol=0)
    np.testing.assert_allclose(nn.functional.linear(Tensor(x), layer.weight, layer.bias).data, layer(x).data,
                               rtol=0, atol=0)


def test_linear_uses_one_fused_op():
    layer = nn.Linear(2, 3)
    assert type(layer(np.ones((4, 2), dtype=np.float32))._ctx).__name__ == "Affine"
    assert type(nn.Linear(2, 3, bias=False)(np.ones((4, 2), dtype=np.float32))._ctx).__name__ == "MatMul"


def test_linear_without_bias():
    rng = np.random.default_rng(1)
    layer = nn.Linear(3, 2, bias=False, dtype=np.float64, generator=rng)
    assert layer.bias is None
    assert [name for name, _ in layer.named_parameters()] == ["weight"]
    x = rng.standard_normal((4, 3))
    np.testing.assert_allclose(layer(x).data, x @ layer.weight.data.T, rtol=1e-12, atol=0)
    np.testing.assert_allclose(nn.functional.linear(Tensor(x), layer.weight).data, x @ layer.weight.data.T, rtol=1e-12)


def test_linear_gradients_match_finite_differences():
    rng = np.random.default_rng(2)
    layer = nn.Linear(3, 4, dtype=np.float64, generator=rng)
    x, b = rng.standard_normal((2, 5, 3)), rng.standard_normal(4)

    def fn(x_t, w_t, b_t):
        # gradcheck differentiates its own copies of the inputs: put them in the layer's slots
        # (object.__setattr__ bypasses the Parameter type check of Module.__setattr__).
        object.__setattr__(layer, "weight", w_t)
        object.__setattr__(layer, "bias", b_t)
        return layer(x_t).tanh()

    assert gradcheck(fn, [x, layer.weight.data.copy(), b], atol=1e-6, rtol=1e-6)
    assert gradgradcheck(fn, [x, layer.weight.data.copy(), b], atol=1e-5, rtol=1e-5)


def test_linear_parameter_gradients_via_backward_match_numpy():
    rng = np.random.default_rng(3)
    layer = nn.Linear(3, 2, dtype=np.float64, generator=rng)
    x = rng.standard_normal((6, 3))
    g = rng.standard_normal((6, 2))
    layer(Tensor(x, requires_grad=True)).backward(g)
    np.testing.assert_allclose(layer.weight.grad.data, g.T @ x, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(layer.bias.grad.data, g.sum(axis=0), rtol=1e-12, atol=1e-15)


def test_linear_wrong_input_width_names_layer_and_shapes():
    layer = nn.Linear(3, 2)
    with pytest.raises(OpError, match=re.escape(
        "Linear(in_features=3, out_features=2): expected input of shape (..., 3), got (4, 5)"
    )):
        layer(np.ones((4, 5), dtype=np.float32))
    with pytest.raises(OpError, match=re.escape("expected input of shape (..., 3), got ()")):
        layer(np.float32(1.0))
    with pytest.raises(OpError, match=re.escape("linear: expected x (..., n_in), W (n_out, n_in), b (n_out,); "
                                                "got x (4, 2), W (2, 3), b (2,)")):
        nn.functional.linear(np.ones((4, 2)), np.ones((2, 3)), np.ones(2))
    with pytest.raises(OpError, match=re.escape("linear: expected a 2-D weight (out_features, in_features), got shape (3,)")):
        nn.functional.linear(np.ones((4, 3)), np.ones(3))


def test_linear_dtype_default_and_explicit(float64_default):
    assert nn.Linear(2, 2).weight.dtype == np.float64
    assert nn.Linear(2, 2, dtype=np.float32).weight.dtype == np.float32
    assert nn.Linear(2, 2, dtype=np.float32).bias.dtype == np.float32


def test_linear_default_dtype_is_float32():
    assert nn.Linear(2, 2).weight.dtype == np.float32


def test_linear_bad_arguments():
    with pytest.raises(ValueError, match="Linear: in_features must be a positive int, got 0"):
        nn.Linear(0, 2)
    with pytest.raises(ValueError, match="Linear: out_features must be a positive int, got 2.5"):
        nn.Linear(2, 2.5)
    with pytest.raises(TypeError, match="Linear: generator must be a numpy.random.Generator or None, got int"):
        nn.Linear(2, 2, generator=0)
    with pytest.raises(TypeError, match="unexpected keyword argument 'rng'"):
        nn.Linear(2, 2, rng=np.random.default_rng(0))


def test_linear_same_seed_same_weights_and_default_bounds():
    a = nn.Linear(4, 3, generator=np.random.default_rng(7))
    b = nn.Linear(4, 3, generator=np.random.default_rng(7))
    c = nn.Linear(4, 3, generator=np.random.default_rng(8))
    assert np.array_equal(a.weight.data, b.weight.data) and np.array_equal(a.bias.data, b.bias.data)
    assert not np.array_equal(a.weight.data, c.weight.data)
    # torch's default: weight and bias uniform on (-1/sqrt(in), 1/sqrt(in)), weight drawn first.
    wide = nn.Linear(400, 300, dtype=np.float64, generator=np.random.default_rng(9))
    bound = 1 / np.sqrt(400)
    for values in (wide.weight.data, wide.bias.data):
        assert np.abs(values).max() <= bound and np.quantile(np.abs(values), 0.99) > 0.95 * bound
    expected = np.random.default_rng(9)
    np.testing.assert_allclose(wide.weight.data, expected.uniform(-bound, bound, (300, 400)), rtol=1e-14, atol=0)
    np.testing.assert_allclose(wide.bias.data, expected.uniform(-bound, bound, 300), rtol=1e-14, atol=0)


def test_identity_returns_its_input():
    x = Tensor(np.ones(3))
    assert nn.Identity(54, unused="x")(x) is x
    assert repr(nn.Identity()) == "Identity()"


# ---- activations and Sequential -------------------------------------------------------------


def test_activations_match_numpy():
    x = np.linspace(-3, 3, 13)
    np.testing.assert_allclose(nn.ReLU()(Tensor(x)).data, np.maximum(x, 0), rtol=0, atol=0)
    np.testing.assert_allclose(nn.Sigmoid()(Tensor(x)).data, 1 / (1 + np.exp(-x)), rtol=1e-14, atol=0)
    np.testing.assert_allclose(nn.Tanh()(Tensor(x)).data, np.tanh(x), rtol=1e-14, atol=0)


def test_sequential_container_protocol():
    layers = [nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1), nn.Sigmoid()]
    seq = nn.Sequential(*layers)
    assert len(seq) == 4
    assert list(seq) == layers
    assert seq[0] is layers[0] and seq[-1] is layers[3]
    assert [name for name, _ in seq.named_children()] == ["0", "1", "2", "3"]
    tail = seq[1:3]
    assert isinstance(tail, nn.Sequential) and list(tail) == layers[1:3]
    with pytest.raises(IndexError, match="Sequential: index 4 is out of range for 4 modules"):
        seq[4]
    with pytest.raises(TypeError, match="Sequential: argument 1 must be a Module, got ufunc"):
        nn.Sequential(nn.ReLU(), np.tanh)


def test_sequential_forward_composes_in_order():
    rng = np.random.default_rng(4)
    first = nn.Linear(2, 3, generator=rng, dtype=np.float64)
    second = nn.Linear(3, 1, generator=rng, dtype=np.float64)
    seq = nn.Sequential(first, nn.Tanh(), second)
    x = rng.standard_normal((5, 2))
    expected = np.tanh(x @ first.weight.data.T + first.bias.data) @ second.weight.data.T + second.bias.data
    np.testing.assert_allclose(seq(x).data, expected, rtol=1e-12, atol=1e-15)


def test_a_parameter_can_only_be_replaced_by_a_parameter_or_none():
    layer = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="Linear: cannot assign Tensor to parameter 'weight' \\(a Parameter or None expected"):
        layer.weight = layer.weight * 2.0
    replacement = nn.Parameter(np.zeros((2, 2), dtype=np.float32))
    layer.weight = replacement
    assert dict(layer.named_parameters())["weight"] is replacement


def test_deepcopy_gives_an_independent_model():
    model = Model()
    clone = copy.deepcopy(model)
    assert type(clone.encoder.hidden.weight) is nn.Parameter
    assert [name for name, _ in clone.named_parameters()] == EXPECTED_NAMES
    clone.encoder.hidden.weight.data[...] = 0.0
    assert np.any(model.encoder.hidden.weight.data != 0.0)


# ---- nn.functional ------------------------------------------------------------------------


def test_functional_activations_match_their_definitions() -> None:
    from tinygrad_vae.nn import functional as F

    x = np.array([[-2.0, -0.5, 0.0, 0.75], [1.5, -3.0, 2.0, 0.25]])
    t = Tensor(x)
    np.testing.assert_allclose(F.relu(t).data, np.maximum(x, 0.0))
    np.testing.assert_allclose(F.leaky_relu(t, 0.2).data, np.where(x > 0, x, 0.2 * x))
    np.testing.assert_allclose(F.sigmoid(t).data, 1.0 / (1.0 + np.exp(-x)))
    np.testing.assert_allclose(F.tanh(t).data, np.tanh(x))
    np.testing.assert_allclose(F.softplus(t).data, np.log1p(np.exp(x)))
    np.testing.assert_allclose(F.logsigmoid(t).data, -np.log1p(np.exp(-x)))
    column_softmax = np.exp(x) / np.exp(x).sum(axis=0, keepdims=True)
    np.testing.assert_allclose(F.softmax(t, dim=0).data, column_softmax)
    np.testing.assert_allclose(F.log_softmax(t, dim=0).data, np.log(column_softmax))
    np.testing.assert_allclose(F.softmax(t).data.sum(axis=-1), [1.0, 1.0])  # dim=-1 by default


# ---- buffers, casting, freezing ------------------------------------------------------------


class Counter(nn.Module):
    """A module with a float buffer, an integer buffer and a non-persistent buffer."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(np.ones(2, dtype=np.float32))
        self.register_buffer("running_mean", Tensor(np.zeros(2, dtype=np.float32)))
        self.register_buffer("steps", Tensor(np.array(0, dtype=np.int64)))
        self.register_buffer("scratch", Tensor(np.ones(3, dtype=np.float32)), persistent=False)
        self.register_buffer("unset", None)

    def forward(self, x):
        return x * self.weight + self.running_mean


def test_buffers_are_listed_and_persistent_ones_saved():
    model = nn.Sequential(Counter(), Counter())
    assert [name for name, _ in model.named_buffers()] == [
        "0.running_mean", "0.steps", "0.scratch", "1.running_mean", "1.steps", "1.scratch"]
    assert list(model[0].buffers(recurse=False)) == [model[0].running_mean, model[0].steps, model[0].scratch]
    assert list(model.buffers(recurse=False)) == []
    assert list(model.state_dict()) == ["0.weight", "0.running_mean", "0.steps", "1.weight", "1.running_mean", "1.steps"]
    assert [name for name, _ in model.named_parameters()] == ["0.weight", "1.weight"]


def test_buffers_load_in_place_and_round_trip():
    source, target = Counter(), Counter()
    source.running_mean.data[...] = [1.5, -2.0]
    source.steps.data[...] = 7
    array = target.running_mean.data
    assert target.load_state_dict(source.state_dict()) == nn.IncompatibleKeys([], [])
    assert target.running_mean.data is array
    assert np.array_equal(array, [1.5, -2.0]) and int(target.steps.data) == 7
    assert np.array_equal(target.scratch.data, np.ones(3))  # not persistent: not loaded
    state = source.state_dict()
    del state["running_mean"]
    with pytest.raises(KeyError, match=re.escape("Counter.load_state_dict: missing keys ['running_mean']")):
        target.load_state_dict(state)


def test_assigning_to_a_buffer_keeps_it_registered():
    model = Counter()
    replacement = Tensor(np.full(2, 3.0, dtype=np.float32))
    model.running_mean = replacement
    assert dict(model.named_buffers())["running_mean"] is replacement
    assert list(model.state_dict())[1] == "running_mean"
    model.unset = Tensor(np.zeros(1, dtype=np.float32))
    assert "unset" in model.state_dict()
    model.scratch = Tensor(np.zeros(1, dtype=np.float32))
    assert "scratch" not in model.state_dict()  # stays non-persistent
    with pytest.raises(TypeError, match="Counter: cannot assign ndarray to buffer 'running_mean' \\(a Tensor or None"):
        model.running_mean = np.zeros(2)
    del model.running_mean
    assert "running_mean" not in dict(model.named_buffers())


def test_register_buffer_errors():
    model = Counter()
    with pytest.raises(TypeError, match="Counter.register_buffer: cannot register ndarray as buffer 'b'"):
        model.register_buffer("b", np.zeros(2))
    with pytest.raises(KeyError, match="Counter.register_buffer: attribute 'weight' already exists"):
        model.register_buffer("weight", Tensor(np.zeros(2)))
    with pytest.raises(KeyError, match="without '.', got 'a.b'"):
        model.register_buffer("a.b", Tensor(np.zeros(2)))
    with pytest.raises(TypeError, match="Counter.register_buffer: 'p' is a Parameter"):
        model.register_buffer("p", nn.Parameter(np.zeros(2)))


def test_to_double_float_cast_in_place_and_keep_the_parameter_objects():
    model = nn.Sequential(Counter(), nn.Linear(2, 2))
    params = list(model.parameters())
    model(np.ones((1, 2), dtype=np.float32)).sum().backward()
    assert model.double() is model
    assert list(model.parameters()) == params  # the same objects: an optimizer holding them still works
    assert all(p.dtype == np.float64 and p.grad.dtype == np.float64 for p in params)
    assert model[0].running_mean.dtype == np.float64 and model[0].scratch.dtype == np.float64
    assert model[0].steps.dtype == np.int64  # integer buffers are not cast
    assert model.float()[1].weight.dtype == np.float32 and model[0].running_mean.dtype == np.float32
    with pytest.raises(TypeError, match="Sequential.to: only float32 and float64 are supported, got int32"):
        model.to(np.int32)
    with pytest.raises(TypeError, match="Sequential.to: expected a dtype"):
        model.to("cuda:0")


def test_requires_grad_freezes_and_parameter_can_start_frozen():
    model = Model()
    assert model.requires_grad_(False) is model
    assert not any(p.requires_grad for p in model.parameters())
    model.decoder.requires_grad_()
    assert [p.requires_grad for p in model.parameters()] == [False] * 6 + [True] * 4
    frozen = nn.Parameter(np.zeros(2), requires_grad=False)
    assert not frozen.requires_grad and frozen.is_leaf
    (Tensor(np.ones(2), requires_grad=True) * frozen).sum().backward()
    assert frozen.grad is None
    with pytest.raises(TypeError, match="Parameter: requires_grad must be a bool, got str"):
        nn.Parameter(np.zeros(2), "no")


# ---- containers -----------------------------------------------------------------------------


class Tower(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        rng = np.random.default_rng(0)
        self.layers = nn.ModuleList([nn.Linear(2, 3, generator=rng), nn.Linear(3, 3, generator=rng)])
        self.heads = nn.ModuleDict({"mu": nn.Linear(3, 1, generator=rng), "scale": nn.Sequential(nn.Flatten())})

    def forward(self, x):
        for layer in self.layers:
            x = layer(x).relu()
        return self.heads["mu"](x)


def test_container_entries_are_registered_with_dotted_names():
    model = Tower()
    assert [name for name, _ in model.named_parameters()] == [
        "layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias", "heads.mu.weight", "heads.mu.bias"]
    assert list(model.state_dict()) == [name for name, _ in model.named_parameters()]
    assert model.layers[1].weight.name == "layers.1.weight"
    assert repr(model) == (
        "Tower(\n"
        "  (layers): ModuleList(\n"
        "    (0): Linear(in_features=2, out_features=3, bias=True)\n"
        "    (1): Linear(in_features=3, out_features=3, bias=True)\n"
        "  )\n"
        "  (heads): ModuleDict(\n"
        "    (mu): Linear(in_features=3, out_features=1, bias=True)\n"
        "    (scale): Sequential(\n"
        "      (0): Flatten(start_dim=1, end_dim=-1)\n"
        "    )\n"
        "  )\n"
        ")"
    )


def test_module_list_is_a_list():
    a, b, c, d = (nn.Linear(1, 1) for _ in range(4))
    layers = nn.ModuleList([a, b])
    assert len(layers) == 2 and list(layers) == [a, b] and layers[-1] is b
    assert layers.append(c) is layers and list(layers) == [a, b, c]
    layers.insert(0, d)
    assert list(layers) == [d, a, b, c]
    assert [name for name, _ in layers.named_children()] == ["0", "1", "2", "3"]
    assert isinstance(layers[1:3], nn.ModuleList) and list(layers[1:3]) == [a, b]
    del layers[0]
    assert list(layers) == [a, b, c] and [name for name, _ in layers.named_children()] == ["0", "1", "2"]
    assert not hasattr(layers, "3")
    layers[1] = d
    assert list(layers) == [a, d, c] and list(layers.parameters())[2] is d.weight
    combined = layers + nn.ModuleList([b])
    assert list(combined) == [a, d, c, b] and len(layers) == 3
    layers += [b]
    layers.extend(nn.ModuleList([a]))
    assert list(layers) == [a, d, c, b, a]
    assert len(list(layers.parameters())) == 8  # a's parameters listed once
    assert repr(nn.ModuleList([nn.ReLU(), nn.ReLU(), nn.Tanh(), nn.ReLU()])) == (
        "ModuleList(\n  (0-1): 2 x ReLU()\n  (2): Tanh()\n  (3): ReLU()\n)")
    assert repr(nn.ModuleList()) == "ModuleList()"


def test_module_list_errors():
    layers = nn.ModuleList([nn.ReLU()])
    with pytest.raises(IndexError, match="ModuleList: index 1 is out of range for 1 modules"):
        layers[1]
    with pytest.raises(TypeError, match="ModuleList: entry 1 must be a Module, got int"):
        layers.append(3)
    with pytest.raises(TypeError, match="ModuleList: indices must be ints or slices, got str"):
        layers["0"]
    with pytest.raises(TypeError, match="ModuleList.extend: expected an iterable of Modules, got Linear"):
        layers.extend(nn.Linear(1, 1))
    with pytest.raises(NotImplementedError, match="ModuleList: subclasses of Module must define forward"):
        layers(1)
    assert list(layers) == [layers[0]]  # a failed append changed nothing


def test_module_dict_is_a_mapping():
    a, b, c = nn.Linear(1, 1), nn.ReLU(), nn.Tanh()
    heads = nn.ModuleDict([("a", a), ("b", b)])
    assert list(heads) == ["a", "b"] and list(heads.keys()) == ["a", "b"] and list(heads.values()) == [a, b]
    assert dict(heads.items()) == {"a": a, "b": b} and "a" in heads and "z" not in heads and len(heads) == 2
    heads["c"] = c
    heads.update({"a": c})  # replacing keeps the place
    assert list(heads.items()) == [("a", c), ("b", b), ("c", c)]
    assert heads.pop("b") is b and list(heads) == ["a", "c"]
    del heads["a"]
    assert list(heads) == ["c"] and not hasattr(heads, "a")
    heads.clear()
    assert len(heads) == 0 and list(heads.named_children()) == []


def test_module_dict_errors():
    heads = nn.ModuleDict({"a": nn.ReLU()})
    with pytest.raises(KeyError, match="ModuleDict: no module under 'z' \\(keys: \\['a'\\]\\)"):
        heads["z"]
    with pytest.raises(KeyError, match="ModuleDict.add_module: attribute 'keys' already exists"):
        heads["keys"] = nn.ReLU()
    with pytest.raises(KeyError, match="without '.', got 'a.b'"):
        heads["a.b"] = nn.ReLU()
    with pytest.raises(TypeError, match="ModuleDict.add_module: 'b' must be a Module, got int"):
        heads["b"] = 1
    with pytest.raises(TypeError, match="ModuleDict.update: element 0 should be a \\(key, module\\) pair, got 'ab'"):
        heads.update(["ab"])
    assert list(heads.keys()) == ["a"]


def test_flatten_and_unflatten():
    x = Tensor(np.arange(120.0).reshape(2, 3, 4, 5))
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(0, 1)(x).shape == (6, 4, 5)
    assert nn.Flatten(-2)(x).shape == (2, 3, 20)
    y = nn.Unflatten(1, (3, 20))(nn.Flatten()(x))
    assert y.shape == (2, 3, 20) and np.array_equal(y.data, x.data.reshape(2, 3, 20))
    assert nn.Unflatten(-1, (-1, 2))(Tensor(np.zeros((3, 8)))).shape == (3, 4, 2)
    assert repr(nn.Unflatten(1, [2, 3])) == "Unflatten(dim=1, unflattened_size=(2, 3))"
    with pytest.raises(TypeError, match="Unflatten: unflattened_size must be a non-empty sequence of positive ints"):
        nn.Unflatten(1, 6)
    with pytest.raises(TypeError, match="Flatten: start_dim must be an int, got 1.0"):
        nn.Flatten(1.0)


def test_train_and_eval_reach_modules_inside_containers():
    model = Tower()
    model.eval()
    assert not any(m.training for m in model.modules())
    assert len(list(model.modules())) == 8  # Tower, ModuleList, 2 Linear, ModuleDict, Linear, Sequential, Flatten
    model.heads.train()
    assert [name for name, m in model.named_modules() if m.training] == ["heads", "heads.mu", "heads.scale",
                                                                         "heads.scale.0"]


def test_a_torch_state_dict_loads_one_to_one():
    """tests/fixtures/torch_mlp.npz (tests/fixtures/make_torch_state_dict.py) holds a torch model's
    state_dict, an input and torch's output; the same architecture here, loaded, gives that output."""

    class MLP(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inp = nn.Linear(3, 4, dtype=np.float64)
            self.layers = nn.ModuleList([nn.Sequential(nn.Linear(4, 4, dtype=np.float64), nn.ReLU()),
                                         nn.Linear(4, 2, bias=False, dtype=np.float64)])

        def forward(self, x):
            h = self.inp(x).tanh()
            for layer in self.layers:
                h = layer(h)
            return h

    with np.load(Path(__file__).parent / "fixtures" / "torch_mlp.npz") as fixture:
        state = {key.removeprefix("state/"): fixture[key] for key in fixture.files if key.startswith("state/")}
        x, expected = fixture["input"], fixture["output"]
    model = MLP()
    assert model.load_state_dict(state) == nn.IncompatibleKeys([], [])
    assert list(model.state_dict()) == list(state)  # same names in the same order
    np.testing.assert_allclose(model(x).data, expected, rtol=1e-12, atol=1e-12)
