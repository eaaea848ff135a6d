"""Optimizers against their update formulas written out here, state round trips, gradient clipping."""

import math
import re

import numpy as np
import pytest

from tinygrad_vae import nn, optim, serialization
from tinygrad_vae.core import Tensor

STEPS = 4


def _setup(seed: int = 0, dtype=np.float64):
    """Two parameters and, for each of STEPS steps, a gradient for each."""
    rng = np.random.default_rng(seed)
    params = [nn.Parameter(rng.standard_normal((3, 2)).astype(dtype)), nn.Parameter(rng.standard_normal(4).astype(dtype))]
    grads = [[rng.standard_normal(p.shape).astype(dtype) for p in params] for _ in range(STEPS)]
    return params, grads


def _run(opt: optim.Optimizer, params, grads) -> list[np.ndarray]:
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = Tensor(g)
        opt.step()
    return [p.data.copy() for p in params]


def _sgd_reference(p0, grads, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
    p, buf = p0.copy(), None
    for g in grads:
        g = g + weight_decay * p
        if momentum:
            buf = g.copy() if buf is None else momentum * buf + g
            g = g + momentum * buf if nesterov else buf
        p = p - lr * g
    return p


def _adam_reference(p0, grads, lr, b1, b2, eps, weight_decay=0.0, decoupled=False):
    p, m, v = p0.copy(), np.zeros_like(p0), np.zeros_like(p0)
    for t, g in enumerate(grads, start=1):
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return p


SGD_CASES = [
    {"lr": 0.1},
    {"lr": 0.05, "momentum": 0.9},
    {"lr": 0.05, "momentum": 0.9, "nesterov": True},
    {"lr": 0.1, "weight_decay": 0.01},
    {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 0.1},
]


@pytest.mark.parametrize("kwargs", SGD_CASES, ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()))
def test_sgd_matches_the_update_formulas(kwargs):
    params, grads = _setup()
    initial = [p.data.copy() for p in params]
    result = _run(optim.SGD(params, **kwargs), params, grads)
    for i, (p0, p) in enumerate(zip(initial, result)):
        expected = _sgd_reference(p0, [step[i] for step in grads], **kwargs)
        np.testing.assert_allclose(p, expected, rtol=1e-13, atol=1e-15)


ADAM_CASES = [
    (optim.Adam, {"lr": 0.01}, {"b1": 0.9, "b2": 0.999, "eps": 1e-8}),
    (optim.Adam, {"lr": 0.02, "betas": (0.5, 0.9), "eps": 1e-3, "weight_decay": 0.1},
     {"b1": 0.5, "b2": 0.9, "eps": 1e-3, "weight_decay": 0.1}),
    (optim.AdamW, {"lr": 0.01}, {"b1": 0.9, "b2": 0.999, "eps": 1e-8, "weight_decay": 1e-2, "decoupled": True}),
    (optim.AdamW, {"lr": 0.05, "betas": (0.8, 0.99), "weight_decay": 0.3},
     {"b1": 0.8, "b2": 0.99, "eps": 1e-8, "weight_decay": 0.3, "decoupled": True}),
]


@pytest.mark.parametrize("cls, kwargs, reference", ADAM_CASES)
def test_adam_and_adamw_match_the_update_formulas(cls, kwargs, reference):
    params, grads = _setup(seed=1)
    initial = [p.data.copy() for p in params]
    result = _run(cls(params, **kwargs), params, grads)
    for i, (p0, p) in enumerate(zip(initial, result)):
        expected = _adam_reference(p0, [step[i] for step in grads], kwargs["lr"], **reference)
        np.testing.assert_allclose(p, expected, rtol=1e-12, atol=1e-15)


def test_adam_first_step_moves_each_weight_by_about_lr():
    # With bias correction, m_hat / sqrt(v_hat) = g / |g| on step 1: every weight moves by lr (minus eps effects).
    params, grads = _setup(seed=2)
    initial = [p.data.copy() for p in params]
    _run(optim.Adam(params, lr=0.01), params, grads[:1])
    for p0, p, g in zip(initial, params, grads[0]):
        np.testing.assert_allclose(p0 - p.data, 0.01 * np.sign(g), rtol=1e-6, atol=0)


def test_parameters_without_grad_are_skipped_with_their_own_step_count():
    params, grads = _setup(seed=3)
    opt = optim.Adam(params, lr=0.01)
    initial = [p.data.copy() for p in params]
    # The second parameter has no gradient on the first two steps.
    for step, step_grads in enumerate(grads):
        params[0].grad = Tensor(step_grads[0])
        params[1].grad = Tensor(step_grads[1]) if step >= 2 else None
        opt.step()
    assert opt.step_count == STEPS
    assert opt.state[0]["step"] == STEPS and opt.state[1]["step"] == STEPS - 2
    # Its bias correction counts only its own steps, as in PyTorch.
    expected = _adam_reference(initial[1], [g[1] for g in grads[2:]], 0.01, 0.9, 0.999, 1e-8)
    np.testing.assert_allclose(params[1].data, expected, rtol=1e-12, atol=1e-15)


def test_sgd_skips_parameter_without_grad_and_creates_no_buffer():
    params, grads = _setup(seed=4)
    before = params[1].data.copy()
    opt = optim.SGD(params, lr=0.1, momentum=0.9)
    params[0].grad = Tensor(grads[0][0])
    opt.step()
    assert np.array_equal(params[1].data, before)
    assert "momentum_buffer" in opt.state[0] and opt.state[1] == {}


@pytest.mark.parametrize("make", [
    lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1),
    lambda ps: optim.Adam(ps, lr=0.1, weight_decay=0.1),
    lambda ps: optim.AdamW(ps, lr=0.1),
])
def test_gradients_are_never_written_in_place(make):
    params, grads = _setup(seed=5)
    opt = make(params)
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            g.flags.writeable = False  # writing into it would raise
            p.grad = Tensor(g)
        copies = [g.copy() for g in step_grads]
        opt.step()
        assert all(np.array_equal(g, c) for g, c in zip(step_grads, copies))


def test_float32_parameters_stay_float32():
    params, grads = _setup(seed=6, dtype=np.float32)
    for opt in (optim.SGD(params, lr=0.1, momentum=0.9), optim.Adam(params), optim.AdamW(params)):
        _run(opt, params, grads)
        assert all(p.dtype == np.float32 for p in params)
        assert all(v.dtype == np.float32 for s in opt.state for v in s.values() if isinstance(v, np.ndarray))


def test_zero_grad_clears_all_grads():
    params, grads = _setup()
    opt = optim.SGD(params, lr=0.1)
    for p, g in zip(params, grads[0]):
        p.grad = Tensor(g)
    opt.zero_grad()
    assert all(p.grad is None for p in params)


def test_hyperparameters_can_be_changed_between_steps():
    params, grads = _setup(seed=7)
    initial = params[0].data.copy()
    opt = optim.SGD(params, lr=0.1)
    _run(opt, params, grads[:1])
    opt.lr = 0.01
    _run(opt, params, grads[1:2])
    np.testing.assert_allclose(params[0].data, initial - 0.1 * grads[0][0] - 0.01 * grads[1][0], rtol=1e-14, atol=0)


def test_adam_minimizes_a_quadratic_through_the_engine():
    rng = np.random.default_rng(8)
    target = rng.standard_normal(5)
    w = nn.Parameter(np.zeros(5))
    opt = optim.Adam([w], lr=0.05)
    for _ in range(500):
        opt.zero_grad()
        ((w - target) ** 2).sum().backward()
        opt.step()
    np.testing.assert_allclose(w.data, target, atol=1e-3, rtol=0)


# ---- state dicts ---------------------------------------------------------------------------

OPTIMIZERS = {
    "sgd": lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
    "adam": lambda ps: optim.Adam(ps, lr=0.01, weight_decay=1e-3),
    "adamw": lambda ps: optim.AdamW(ps, lr=0.01, betas=(0.8, 0.99)),
}


def _train(model: nn.Module, opt: optim.Optimizer, batches) -> None:
    for x, y in batches:
        opt.zero_grad()
        ((model(x) - y) ** 2).mean().backward()
        opt.step()


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("through_file", [False, True])
def test_state_dict_round_trip_continues_bit_identically(name, through_file, tmp_path):
    rng = np.random.default_rng(9)
    batches = [(rng.standard_normal((8, 3)).astype(np.float32), rng.standard_normal((8, 2)).astype(np.float32))
               for _ in range(6)]

    def make_model() -> nn.Module:
        return nn.Sequential(nn.Linear(3, 4, generator=np.random.default_rng(10)), nn.Tanh(),
                             nn.Linear(4, 2, generator=np.random.default_rng(11)))

    uninterrupted = make_model()
    opt = OPTIMIZERS[name](uninterrupted.parameters())
    _train(uninterrupted, opt, batches[:3])
    checkpoint = {"model": uninterrupted.state_dict(), "optimizer": opt.state_dict()}
    if through_file:
        serialization.save(checkpoint, tmp_path / "ckpt.npz")
        checkpoint = serialization.load(tmp_path / "ckpt.npz")
    _train(uninterrupted, opt, batches[3:])

    resumed = make_model()
    resumed_opt = OPTIMIZERS[name](resumed.parameters())
    resumed_opt.lr = 123.0  # overwritten by the loaded hyperparameters
    resumed.load_state_dict(checkpoint["model"])
    resumed_opt.load_state_dict(checkpoint["optimizer"])
    assert resumed_opt.step_count == 3
    _train(resumed, resumed_opt, batches[3:])
    for (key, a), b in zip(uninterrupted.state_dict().items(), resumed.state_dict().values()):
        assert np.array_equal(a, b), key


def test_state_dict_holds_copies_and_plain_values():
    params, grads = _setup()
    opt = optim.Adam(params, betas=(0.5, 0.6))
    _run(opt, params, grads[:1])
    state = opt.state_dict()
    assert state["type"] == "Adam" and state["step_count"] == 1
    assert state["hyperparameters"] == {"lr": 1e-3, "betas": [0.5, 0.6], "eps": 1e-8, "weight_decay": 0.0}
    assert sorted(state["state"]) == ["0", "1"]
    assert state["state"]["0"]["step"] == 1
    state["state"]["0"]["exp_avg"][...] = 99.0
    assert not np.any(opt.state[0]["exp_avg"] == 99.0)


def test_load_state_dict_errors_name_the_problem():
    params, grads = _setup()
    adam = optim.Adam(params)
    _run(adam, params, grads[:1])
    state = adam.state_dict()
    with pytest.raises(ValueError, match="SGD.load_state_dict: this state is from a Adam optimizer, not a SGD"):
        optim.SGD(params, lr=0.1).load_state_dict(state)
    with pytest.raises(KeyError, match="Adam.load_state_dict: missing key 'state'"):
        optim.Adam(params).load_state_dict({k: v for k, v in state.items() if k != "state"})
    with pytest.raises(ValueError, match="Adam.load_state_dict: state for parameter 1, but the optimizer has 1 parameters"):
        optim.Adam(params[:1]).load_state_dict(state)
    bad = adam.state_dict()
    bad["state"]["1"]["exp_avg"] = np.zeros(5)
    fresh = optim.Adam(params)
    with pytest.raises(ValueError, match=re.escape(
        "Adam.load_state_dict: buffer 'exp_avg' of parameter 1 has shape (5,) and dtype float64; "
        "expected shape (4,) and dtype float64 like the parameter"
    )):
        fresh.load_state_dict(bad)
    assert fresh.state == [{}, {}] and fresh.step_count == 0  # nothing was changed
    bad = adam.state_dict()
    del bad["hyperparameters"]["eps"]
    with pytest.raises(KeyError, match="expected hyperparameters \\['betas', 'eps', 'lr', 'weight_decay'\\]"):
        optim.Adam(params).load_state_dict(bad)


# ---- construction errors ----------------------------------------------------------------------


def test_constructor_errors():
    p = nn.Parameter(np.zeros(2))
    with pytest.raises(ValueError, match="SGD: got an empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="Adam: params must be an iterable of Tensors .* got a single Tensor"):
        optim.Adam(p)
    with pytest.raises(TypeError, match="SGD: parameter 1 must be a Tensor, got ndarray"):
        optim.SGD([p, np.zeros(2)], lr=0.1)
    with pytest.raises(ValueError, match=re.escape(
        "Adam: parameter 0 (shape (3,), dtype int64) must be a float32/float64 leaf Tensor, not an integer tensor"
    )):
        optim.Adam([Tensor(np.zeros(3, dtype=np.int64))])
    with pytest.raises(ValueError, match=re.escape("SGD: parameter 1 (shape (2,), dtype float64) must be a float32/float64 leaf")):
        optim.SGD([p, p * 2.0], lr=0.1)
    with pytest.raises(ValueError, match=re.escape("SGD: parameter 1 (shape (2,)) appears more than once")):
        optim.SGD([p, p], lr=0.1)
    with pytest.raises(ValueError, match="SGD: lr must be >= 0.0, got -1"):
        optim.SGD([p], lr=-1)
    with pytest.raises(ValueError, match="SGD: nesterov=True requires momentum > 0"):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match=re.escape("AdamW: betas[1] must be [0.0, 1.0), got 1.0")):
        optim.AdamW([p], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="Adam: eps must be >= 0.0, got -1e-08"):
        optim.Adam([p], eps=-1e-8)
    with pytest.raises(ValueError, match="SGD: momentum must be >= 0.0, got -0.5"):
        optim.SGD([p], lr=0.1, momentum=-0.5)


def test_repr():
    p = nn.Parameter(np.zeros(2))
    assert repr(optim.SGD([p], lr=0.1)) == "SGD(1 parameters, lr=0.1, momentum=0.0, nesterov=False, weight_decay=0.0)"


# ---- clip_grad_norm_ ------------------------------------------------------------------------


def _params_with_grads(seed: int = 12):
    rng = np.random.default_rng(seed)
    params = [nn.Parameter(np.zeros(s)) for s in [(3, 2), (5,), (2,)]]
    for p in params:
        p.grad = Tensor(rng.standard_normal(p.shape))
    return params


def test_clip_grad_norm_scales_to_max_norm():
    params = _params_with_grads()
    originals = [p.grad for p in params]
    arrays = [p.grad.data.copy() for p in params]
    total = math.sqrt(sum(float(np.sum(a**2)) for a in arrays))
    returned = optim.clip_grad_norm_(params, max_norm=0.5)
    assert isinstance(returned, float)
    assert returned == pytest.approx(total, rel=1e-14)
    coef = 0.5 / (total + 1e-6)
    for p, original, array in zip(params, originals, arrays):
        assert p.grad is not original  # replaced, not modified
        assert np.array_equal(original.data, array)
        np.testing.assert_allclose(p.grad.data, array * coef, rtol=1e-14, atol=0)
    clipped_total = math.sqrt(sum(float(np.sum(p.grad.data**2)) for p in params))
    assert clipped_total == pytest.approx(0.5, rel=1e-5)


def test_clip_grad_norm_leaves_small_gradients_alone():
    params = _params_with_grads()
    originals = [p.grad for p in params]
    total = optim.clip_grad_norm_(params, max_norm=100.0)
    assert total < 100.0
    assert all(p.grad is g for p, g in zip(params, originals))


def test_clip_grad_norm_ignores_parameters_without_grad_and_keeps_dtype():
    params = [nn.Parameter(np.zeros(2, dtype=np.float32)), nn.Parameter(np.zeros(3, dtype=np.float32))]
    params[0].grad = Tensor(np.array([3.0, 4.0], dtype=np.float32))
    total = optim.clip_grad_norm_(iter(params), max_norm=1.0)
    assert total == 5.0
    assert params[1].grad is None
    assert params[0].grad.dtype == np.float32
    np.testing.assert_allclose(params[0].grad.data, [0.6, 0.8], rtol=1e-6)


def test_clip_grad_norm_rejects_negative_max_norm():
    with pytest.raises(ValueError, match="clip_grad_norm_: max_norm must be >= 0, got -1"):
        optim.clip_grad_norm_(_params_with_grads(), max_norm=-1)


def test_custom_optimizer_on_the_base_class():
    class SignSGD(optim.Optimizer):
        """p -= lr * sign(g), with a counter of updates per parameter."""

        hyperparameters = ("lr",)

        def __init__(self, params, lr):
            super().__init__(params)
            self.lr = lr

        def _update(self, param, grad, state):
            state["updates"] = state.get("updates", 0) + 1
            param.data -= self.lr * np.sign(grad)

    params, grads = _setup(seed=13)
    initial = [p.data.copy() for p in params]
    opt = SignSGD(params, lr=0.5)
    _run(opt, params, grads[:2])
    for i, (p0, p) in enumerate(zip(initial, params)):
        np.testing.assert_array_equal(p.data, p0 - 0.5 * np.sign(grads[0][i]) - 0.5 * np.sign(grads[1][i]))
    assert opt.state_dict()["state"]["1"] == {"updates": 2}
    with pytest.raises(NotImplementedError, match="Optimizer: subclasses of Optimizer must implement _update"):
        optim.Optimizer(params).step()


def test_frozen_parameters_are_accepted_and_skipped():
    params, grads = _setup(seed=14)
    params[1].requires_grad_(False)
    frozen = params[1].data.copy()
    opt = optim.AdamW(params, lr=0.1)
    params[0].grad = Tensor(grads[0][0])
    opt.step()
    assert np.array_equal(params[1].data, frozen)  # no update, not even weight decay
    assert opt.state[1] == {}
