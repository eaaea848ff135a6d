"""Optimizers and learning-rate schedulers against torch.optim in float64 (skipped when torch is absent).

Optimizers: 25-step trajectories on the same problem, where each step's gradient depends on
the parameters (g = A p + noise_t, a different A per parameter), compared at every step.
Schedulers: the learning rates (and OneCycleLR's momentum) over 30 steps, compared exactly.
"""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_vae import nn, optim
from tinygrad_vae.core import Tensor
from tinygrad_vae.optim import lr_scheduler

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

STEPS = 25
SHAPES = [(3, 2), (4,), (2, 2)]


def _problem(seed: int):
    """Initial values, a matrix per parameter, and per-step noise."""
    rng = np.random.default_rng(seed)
    initial = [rng.standard_normal(s) for s in SHAPES]
    matrices = [rng.standard_normal((int(np.prod(s)),) * 2) * 0.3 for s in SHAPES]
    noise = [[rng.standard_normal(s) for s in SHAPES] for _ in range(STEPS)]
    return initial, matrices, noise


def _gradient(value: np.ndarray, matrix: np.ndarray, noise: np.ndarray) -> np.ndarray:
    return (matrix @ value.ravel()).reshape(value.shape) + noise


def _groups(params, grouping):
    """All parameters in one group, or the groups given as (indices, overrides) pairs."""
    if grouping is None:
        return params
    return [{"params": [params[i] for i in indices], **overrides} for indices, overrides in grouping]


def _trajectories(name: str, kwargs: dict, grouping, seed: int = 0):
    initial, matrices, noise = _problem(seed)
    ours = [nn.Parameter(v.copy()) for v in initial]
    theirs = [torch.tensor(v.copy(), dtype=torch.float64, requires_grad=True) for v in initial]
    ours_opt = getattr(optim, name)(_groups(ours, grouping), **kwargs)
    torch_opt = getattr(torch.optim, name)(_groups(theirs, grouping), **kwargs)
    steps = []
    for step_noise in noise:
        for p, t, m, n in zip(ours, theirs, matrices, step_noise):
            p.grad = Tensor(_gradient(p.data, m, n))
            t.grad = torch.from_numpy(_gradient(t.detach().numpy(), m, n))
        ours_opt.step()
        torch_opt.step()
        steps.append(([p.data.copy() for p in ours], [t.detach().numpy().copy() for t in theirs]))
    return steps, ours_opt, torch_opt


TWO_GROUPS = [([0, 2], {"lr": 0.05}), ([1], {})]
OPTIMIZER_CASES = [
    ("SGD", {"lr": 0.1}, None),
    ("SGD", {"lr": 0.05, "momentum": 0.9}, None),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1}, None),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "dampening": 0.3, "maximize": True}, None),
    ("SGD", {"lr": 0.02, "momentum": 0.9}, [([0], {"lr": 0.1, "weight_decay": 0.2}), ([1, 2], {"momentum": 0.5})]),
    ("Adam", {"lr": 0.01}, None),
    ("Adam", {"lr": 0.02, "betas": (0.5, 0.9), "eps": 1e-3, "weight_decay": 0.1}, None),
    ("Adam", {"lr": 0.02, "amsgrad": True}, None),
    ("Adam", {"lr": 0.01, "maximize": True, "amsgrad": True, "weight_decay": 0.05}, TWO_GROUPS),
    ("AdamW", {"lr": 0.01}, None),
    ("AdamW", {"lr": 0.05, "betas": (0.8, 0.99), "weight_decay": 0.3, "amsgrad": True}, None),
    ("AdamW", {"lr": 0.01}, [([0, 1], {"weight_decay": 0.5}), ([2], {"lr": 0.1, "betas": (0.7, 0.9)})]),
    ("RMSprop", {}, None),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9, "momentum": 0.8}, None),
    ("RMSprop", {"lr": 0.01, "centered": True, "weight_decay": 0.1}, None),
    ("RMSprop", {"lr": 0.005, "centered": True, "momentum": 0.7, "eps": 1e-4}, TWO_GROUPS),
    ("Adagrad", {}, None),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.05, "initial_accumulator_value": 0.5}, None),
    ("Adagrad", {"lr": 0.1, "weight_decay": 0.1, "eps": 1e-6, "maximize": True}, TWO_GROUPS),
]


def _case_id(case) -> str:
    name, kwargs, grouping = case
    return name + "-" + ",".join(f"{k}={v}" for k, v in kwargs.items()) + ("-groups" if grouping else "")


@pytest.mark.parametrize("case", OPTIMIZER_CASES, ids=[_case_id(c) for c in OPTIMIZER_CASES])
def test_trajectory_matches_torch(case):
    name, kwargs, grouping = case
    steps, ours_opt, torch_opt = _trajectories(name, kwargs, grouping)
    start = _problem(0)[0]
    for step, (ours, theirs) in enumerate(steps, start=1):
        for i, (a, b) in enumerate(zip(ours, theirs)):
            np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-13, err_msg=f"step {step}, parameter {i}")
    # the parameters moved: a comparison of two optimizers that did nothing would prove nothing
    assert all(np.abs(a - p0).max() > 1e-3 for a, p0 in zip(steps[-1][0], start))
    # the same buffers under the same names, and the same hyperparameters in each group
    ours_state, torch_state = ours_opt.state_dict(), torch_opt.state_dict()
    assert sorted(ours_state["state"]) == sorted(torch_state["state"])
    for index, buffers in ours_state["state"].items():
        theirs = torch_state["state"][index]
        assert set(buffers) == {k for k, v in theirs.items() if v is not None}, index
        for key, value in buffers.items():
            np.testing.assert_allclose(value, theirs[key].numpy(), rtol=1e-10, atol=1e-13, err_msg=key)
    for ours_group, torch_group in zip(ours_state["param_groups"], torch_state["param_groups"]):
        assert ours_group["params"] == torch_group["params"]
        for key, value in ours_group.items():
            assert torch_group[key] == value, key


# ---- schedulers -------------------------------------------------------------------------------

SCHEDULER_STEPS = 30
SCHEDULER_CASES = [
    ("StepLR", {"step_size": 4, "gamma": 0.5}, "SGD"),
    ("MultiStepLR", {"milestones": [3, 7, 7, 20], "gamma": 0.3}, "SGD"),
    ("ExponentialLR", {"gamma": 0.9}, "SGD"),
    ("CosineAnnealingLR", {"T_max": 10}, "SGD"),
    ("CosineAnnealingLR", {"T_max": 7, "eta_min": 0.001}, "Adam"),
    ("LinearLR", {}, "SGD"),
    ("LinearLR", {"start_factor": 0.1, "end_factor": 0.6, "total_iters": 12}, "SGD"),
    ("LambdaLR", {"lr_lambda": lambda epoch: 0.95**epoch + 0.01 * (epoch % 3)}, "SGD"),
    ("LambdaLR", {"lr_lambda": [lambda e: 1.0 / (1 + e), lambda e: 0.9**e]}, "SGD"),
    ("OneCycleLR", {"max_lr": 0.5, "total_steps": SCHEDULER_STEPS + 1}, "SGD"),
    ("OneCycleLR", {"max_lr": [0.5, 0.2], "epochs": 4, "steps_per_epoch": 8, "anneal_strategy": "linear",
                    "three_phase": True, "pct_start": 0.25}, "SGD"),
    ("OneCycleLR", {"max_lr": 0.01, "total_steps": 40, "div_factor": 10.0, "final_div_factor": 100.0,
                    "base_momentum": 0.8, "max_momentum": 0.9}, "Adam"),
    ("OneCycleLR", {"max_lr": 0.1, "total_steps": 35, "cycle_momentum": False}, "Adagrad"),
]


def _pair(optimizer: str, scheduler: str, kwargs: dict):
    """Our and torch's optimizer (two groups, SGD with momentum) and scheduler on the same start."""
    extra = {"momentum": 0.9} if optimizer == "SGD" else {}
    made = []
    for lib, sched_lib, make_param in ((optim, lr_scheduler, lambda: nn.Parameter(np.ones(2))),
                                       (torch.optim, torch.optim.lr_scheduler,
                                        lambda: torch.ones(2, dtype=torch.float64, requires_grad=True))):
        params = [make_param(), make_param()]
        opt = getattr(lib, optimizer)([{"params": params[:1]}, {"params": params[1:], "lr": 0.05}], lr=0.1, **extra)
        made.append((params, opt, getattr(sched_lib, scheduler)(opt, **kwargs)))
    return made


def _momenta(opt) -> list[float]:
    return [g["betas"][0] if "betas" in g else g.get("momentum") for g in opt.param_groups]


@pytest.mark.parametrize("case", SCHEDULER_CASES, ids=[f"{c[0]}-{c[2]}-{i}" for i, c in enumerate(SCHEDULER_CASES)])
def test_learning_rates_match_torch_exactly(case):
    scheduler, kwargs, optimizer = case
    (ours_params, ours_opt, ours), (torch_params, torch_opt, theirs) = _pair(optimizer, scheduler, kwargs)
    sequence = []
    for step in range(SCHEDULER_STEPS):
        assert ours.get_last_lr() == theirs.get_last_lr(), f"step {step}"
        assert [g["lr"] for g in ours_opt.param_groups] == [g["lr"] for g in torch_opt.param_groups], f"step {step}"
        assert _momenta(ours_opt) == _momenta(torch_opt), f"step {step}"
        assert ours.last_epoch == theirs.last_epoch
        sequence.append(ours.get_last_lr()[0])
        for p in ours_params:
            p.grad = Tensor(np.full(2, 0.1))
        for t in torch_params:
            t.grad = torch.full((2,), 0.1, dtype=torch.float64)
        ours_opt.step()
        torch_opt.step()
        ours.step()
        theirs.step()
    assert len(set(sequence)) > 2  # the schedule changed the rate
    for ours_group, torch_group in zip(ours_opt.param_groups, torch_opt.param_groups):
        assert {k: v for k, v in ours_group.items() if k != "params"}.items() <= torch_group.items()


@pytest.mark.parametrize("kwargs", [
    {},
    {"mode": "max", "factor": 0.5, "patience": 2, "threshold": 0.05, "cooldown": 2},
    {"patience": 1, "threshold_mode": "abs", "threshold": 0.2, "min_lr": [0.01, 0.02]},
    {"mode": "max", "threshold_mode": "abs", "patience": 0, "factor": 0.7, "min_lr": 0.03, "eps": 0.005},
], ids=["defaults", "max-rel-cooldown", "min-abs-min_lrs", "max-abs-eps"])
def test_reduce_lr_on_plateau_matches_torch(kwargs):
    (_, ours_opt, ours), (_, torch_opt, theirs) = _pair("SGD", "ReduceLROnPlateau", kwargs)
    rng = np.random.default_rng(3)
    metrics = np.concatenate([np.linspace(1.0, 0.5, 6), np.full(14, 0.5) + 0.01 * rng.standard_normal(14),
                              np.linspace(0.5, 0.9, 6), np.full(14, 0.9)])
    rates = []
    for epoch, metric in enumerate(metrics):
        ours.step(metric)
        theirs.step(metric)
        assert [g["lr"] for g in ours_opt.param_groups] == [g["lr"] for g in torch_opt.param_groups], epoch
        assert ours.get_last_lr() == theirs.get_last_lr(), epoch
        assert (ours.best, ours.num_bad_epochs, ours.cooldown_counter) == (
            theirs.best, theirs.num_bad_epochs, theirs.cooldown_counter), epoch
        rates.append(ours.get_last_lr()[0])
    assert len(set(rates)) > 1  # some reduction happened
