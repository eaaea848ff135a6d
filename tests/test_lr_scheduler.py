"""Learning-rate schedulers: their sequences against the closed forms written out here, stepping, state dicts, errors.

(The exact agreement with torch's sequences is in tests/test_optim_torch.py.)
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from tinygrad_vae import nn, optim, serialization
from tinygrad_vae.optim import lr_scheduler as sched

STEPS = 30


def _optimizer(cls=optim.SGD, **kwargs) -> optim.Optimizer:
    kwargs = {"lr": 0.1, "momentum": 0.9, **kwargs} if cls is optim.SGD else {"lr": 0.1, **kwargs}
    return cls([{"params": [nn.Parameter(np.ones(2))]}, {"params": [nn.Parameter(np.ones(3))], "lr": 0.05}], **kwargs)


def _rates(scheduler, steps: int = STEPS) -> list[list[float]]:
    """The rates of both groups after construction and after each of ``steps`` steps."""
    rates = [scheduler.get_last_lr()]
    for _ in range(steps):
        scheduler.optimizer.step()
        scheduler.step()
        rates.append(scheduler.get_last_lr())
    return rates


def _closed(formula, steps: int = STEPS) -> list[list[float]]:
    return [[formula(base, t) for base in (0.1, 0.05)] for t in range(steps + 1)]


CLOSED_FORMS = {
    "StepLR": (lambda o: sched.StepLR(o, step_size=4, gamma=0.5), lambda b, t: b * 0.5 ** (t // 4)),
    "MultiStepLR": (lambda o: sched.MultiStepLR(o, milestones=[3, 10, 10], gamma=0.3),
                    lambda b, t: b * 0.3 ** ((t >= 3) + 2 * (t >= 10))),
    "ExponentialLR": (lambda o: sched.ExponentialLR(o, gamma=0.9), lambda b, t: b * 0.9**t),
    "CosineAnnealingLR": (lambda o: sched.CosineAnnealingLR(o, T_max=8, eta_min=0.01),
                          lambda b, t: 0.01 + (b - 0.01) * (1 + math.cos(math.pi * t / 8)) / 2),
    "LinearLR": (lambda o: sched.LinearLR(o, start_factor=0.2, end_factor=0.8, total_iters=10),
                 lambda b, t: b * (0.2 + 0.6 * min(t, 10) / 10)),
    "LambdaLR": (lambda o: sched.LambdaLR(o, lambda e: 1 / (1 + e)), lambda b, t: b / (1 + t)),
}


@pytest.mark.parametrize("name", sorted(CLOSED_FORMS))
def test_sequence_follows_the_closed_form(name):
    make, formula = CLOSED_FORMS[name]
    opt = _optimizer()
    scheduler = make(opt)
    assert scheduler.last_epoch == 0 and [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.05]
    rates = _rates(scheduler)
    np.testing.assert_allclose(rates, _closed(formula), rtol=1e-12, atol=1e-15)
    assert [g["lr"] for g in opt.param_groups] == rates[-1] and scheduler.last_epoch == STEPS


def test_the_constructor_performs_the_initial_step():
    opt = _optimizer()
    sched.LinearLR(opt, start_factor=0.5)
    assert [g["lr"] for g in opt.param_groups] == [0.05, 0.025]  # already scaled for epoch 0


def test_a_rate_changed_by_hand_carries_on_through_a_recursive_schedule():
    opt = _optimizer()
    scheduler = sched.ExponentialLR(opt, gamma=0.5)
    opt.param_groups[0]["lr"] = 1.0
    scheduler.step()
    assert scheduler.get_last_lr() == [0.5, 0.025]


def test_one_cycle_rises_to_max_lr_then_falls_to_min_lr_with_momentum_going_the_other_way():
    opt = _optimizer()
    scheduler = sched.OneCycleLR(opt, max_lr=[1.0, 0.5], total_steps=20, pct_start=0.25)
    momenta = [opt.param_groups[0]["momentum"]]
    rates = [scheduler.get_last_lr()[0]]
    for _ in range(19):
        scheduler.step()
        rates.append(scheduler.get_last_lr()[0])
        momenta.append(opt.param_groups[0]["momentum"])
    assert rates[0] == pytest.approx(1.0 / 25) and momenta[0] == pytest.approx(0.95)
    peak = int(np.argmax(rates))
    assert peak == 4 and rates[4] == pytest.approx(1.0) and momenta[4] == pytest.approx(0.85)  # 0.25 * 20 - 1
    assert rates[-1] == pytest.approx(1.0 / 25 / 1e4) and momenta[-1] == pytest.approx(0.95)
    assert all(np.diff(rates[:5]) > 0) and all(np.diff(rates[4:]) < 0)
    # cosine annealing between the phase ends: halfway through the fall the rate is the mean of max and min
    pct = (9 - 4) / (19 - 4)
    assert rates[9] == pytest.approx(4e-6 + (1.0 - 4e-6) * (1 + math.cos(math.pi * pct)) / 2)
    assert scheduler.get_last_lr()[1] == pytest.approx(0.5 / 25 / 1e4)
    scheduler.step()  # step 20 = total_steps is still allowed, as in torch
    with pytest.raises(ValueError, match="OneCycleLR: stepped 21 times, past total_steps = 20"):
        scheduler.step()


def test_one_cycle_cycles_beta1_of_adam_and_linear_three_phase():
    opt = _optimizer(optim.Adam, betas=(0.9, 0.99))
    scheduler = sched.OneCycleLR(opt, max_lr=0.1, epochs=2, steps_per_epoch=10, anneal_strategy="linear",
                                 three_phase=True, pct_start=0.25)
    rates = [scheduler.get_last_lr()[0]] + [scheduler.step() or scheduler.get_last_lr()[0] for _ in range(19)]
    assert opt.param_groups[0]["betas"] == (0.95, 0.99)
    np.testing.assert_allclose(rates[:5], np.linspace(0.004, 0.1, 5), rtol=1e-12)  # up, linearly
    np.testing.assert_allclose(rates[4:9], np.linspace(0.1, 0.004, 5), rtol=1e-12)  # back down to initial_lr
    np.testing.assert_allclose(rates[8:], np.linspace(0.004, 4e-7, 12), rtol=1e-10)  # then to min_lr


def test_reduce_lr_on_plateau_by_hand():
    opt = _optimizer()
    scheduler = sched.ReduceLROnPlateau(opt, factor=0.5, patience=2, cooldown=1, min_lr=[0.02, 0.0])
    metrics = [1.0, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.5, 0.5]
    expected = [0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025]
    for metric, lr in zip(metrics, expected):
        scheduler.step(metric)
        assert scheduler.get_last_lr()[0] == lr
    # epoch 4 is the third without progress (more than patience 2), then 1 cooldown epoch, then 3 more bad ones
    assert opt.param_groups[1]["lr"] == 0.05 / 4
    for _ in range(20):
        scheduler.step(0.5)
    assert opt.param_groups[0]["lr"] == 0.02 and opt.param_groups[1]["lr"] < 0.001  # min_lr per group
    assert scheduler.last_epoch == 31


@pytest.mark.parametrize(("mode", "threshold_mode", "metrics", "reduced"), [
    ("min", "rel", [1.0, 0.99995, 0.99985], False),  # rel 1e-4: 0.99995 is no progress, 0.99985 is
    ("min", "abs", [1.0, 0.99995, 0.99991], True),  # abs 1e-4: neither is progress
    ("max", "rel", [1.0, 1.00005, 1.0002], False),
    ("max", "abs", [1.0, 0.5, 0.7], True),
])
def test_reduce_lr_on_plateau_threshold_modes(mode, threshold_mode, metrics, reduced):
    opt = _optimizer()
    scheduler = sched.ReduceLROnPlateau(opt, mode=mode, threshold_mode=threshold_mode, patience=1)
    for metric in metrics:
        scheduler.step(metric)
    assert (opt.param_groups[0]["lr"] < 0.1) == reduced


# ---- state dicts --------------------------------------------------------------------------------

RESUMABLE = {
    **{name: make for name, (make, _) in CLOSED_FORMS.items()},
    "OneCycleLR": lambda o: sched.OneCycleLR(o, max_lr=0.5, total_steps=40, three_phase=True),
    "ReduceLROnPlateau": lambda o: sched.ReduceLROnPlateau(o, patience=1, cooldown=1, factor=0.7),
}


def _advance(scheduler, steps: int, start: int) -> list[list[float]]:
    out = []
    for t in range(start, start + steps):
        scheduler.optimizer.step()
        if isinstance(scheduler, sched.ReduceLROnPlateau):
            scheduler.step(1.0 / (1 + t % 4))
        else:
            scheduler.step()
        out.append(scheduler.get_last_lr() + [g.get("momentum") for g in scheduler.optimizer.param_groups])
    return out


@pytest.mark.parametrize("name", sorted(RESUMABLE))
@pytest.mark.parametrize("through_file", [False, True])
def test_state_dict_round_trip_continues_identically(name, through_file, tmp_path):
    opt = _optimizer()
    scheduler = RESUMABLE[name](opt)
    _advance(scheduler, 6, 0)
    checkpoint = {"optimizer": opt.state_dict(), "scheduler": scheduler.state_dict()}
    if through_file:
        serialization.save(checkpoint, tmp_path / "ckpt.npz")
        checkpoint = serialization.load(tmp_path / "ckpt.npz")
    straight = _advance(scheduler, 15, 6)

    resumed_opt = _optimizer()
    resumed = RESUMABLE[name](resumed_opt)
    resumed_opt.load_state_dict(checkpoint["optimizer"])
    resumed.load_state_dict(checkpoint["scheduler"])
    assert resumed.last_epoch == 6
    assert _advance(resumed, 15, 6) == straight
    assert len({tuple(r) for r in straight}) > 1  # the part after the checkpoint changes the rates


def test_lambda_lr_state_dict_leaves_out_plain_functions_and_keeps_callable_objects_state():
    class Warmup:
        def __init__(self, steps):
            self.steps = steps

        def __call__(self, epoch):
            return min(1.0, (epoch + 1) / self.steps)

    opt = _optimizer()
    scheduler = sched.LambdaLR(opt, [lambda e: 0.5**e, Warmup(4)])
    state = scheduler.state_dict()
    assert state["lr_lambdas"] == [None, {"steps": 4}] and "optimizer" not in state
    other = sched.LambdaLR(_optimizer(), [lambda e: 0.5**e, Warmup(10)])
    other.load_state_dict(state)
    assert other.lr_lambdas[1].steps == 4 and callable(other.lr_lambdas[0])


# ---- errors -------------------------------------------------------------------------------------


def test_constructor_errors_name_the_scheduler_and_the_value():
    opt = _optimizer()
    cases = [
        (lambda: sched.StepLR("sgd", 3), TypeError, "StepLR: optimizer must be an Optimizer, got str"),
        (lambda: sched.StepLR(opt, 0), ValueError, "StepLR: step_size must be a positive integer, got 0"),
        (lambda: sched.MultiStepLR(opt, [2.5]), TypeError, "MultiStepLR: milestones must be integers (epochs), got [2.5]"),
        (lambda: sched.CosineAnnealingLR(opt, T_max=0), ValueError, "CosineAnnealingLR: T_max must be a positive integer"),
        (lambda: sched.LinearLR(opt, start_factor=0), ValueError, "LinearLR: start_factor must be in (0, 1], got 0"),
        (lambda: sched.LinearLR(opt, end_factor=1.5), ValueError, "LinearLR: end_factor must be in [0, 1], got 1.5"),
        (lambda: sched.LambdaLR(opt, [lambda e: 1.0]), ValueError, "LambdaLR: lr_lambda has 1 values, the optimizer has 2"),
        (lambda: sched.LambdaLR(opt, 3.0), TypeError, "LambdaLR: lr_lambda must be callable (epoch -> factor), got float"),
        (lambda: sched.OneCycleLR(opt, 0.1), ValueError, "OneCycleLR: give either total_steps or both epochs and"),
        (lambda: sched.OneCycleLR(opt, 0.1, total_steps=10, pct_start=1.5), ValueError,
         "OneCycleLR: pct_start must be a number in [0, 1], got 1.5"),
        (lambda: sched.OneCycleLR(opt, 0.1, total_steps=10, anneal_strategy="exp"), ValueError,
         "OneCycleLR: anneal_strategy must be 'cos' or 'linear', got 'exp'"),
        (lambda: sched.OneCycleLR(_optimizer(optim.Adagrad), 0.1, total_steps=10), ValueError,
         "OneCycleLR: cycle_momentum=True needs an optimizer with momentum or betas, Adagrad has neither"),
        (lambda: sched.ReduceLROnPlateau(opt, factor=1.0), ValueError, "ReduceLROnPlateau: factor must be < 1, got 1.0"),
        (lambda: sched.ReduceLROnPlateau(opt, mode="up"), ValueError, "ReduceLROnPlateau: mode must be 'min' or 'max'"),
        (lambda: sched.ReduceLROnPlateau(opt, threshold_mode="x"), ValueError, "threshold_mode must be 'rel' or 'abs'"),
        (lambda: sched.ReduceLROnPlateau(opt, patience=-1), ValueError, "patience must be an integer >= 0, got -1"),
        (lambda: sched.ReduceLROnPlateau(opt, min_lr=[0.1]), ValueError,
         "ReduceLROnPlateau: min_lr has 1 values, the optimizer has 2 param groups"),
        (lambda: sched.StepLR(_optimizer(), 3, last_epoch=5), KeyError,
         "StepLR: param_groups[0] has no 'initial_lr', which resuming with last_epoch 5 needs"),
    ]
    for make, error, message in cases:
        with pytest.raises(error, match=re.escape(message)):
            make()


def test_load_state_dict_refuses_another_schedulers_state():
    step = sched.StepLR(_optimizer(), 3)
    with pytest.raises(KeyError, match=re.escape("ExponentialLR.load_state_dict: expected the keys ['_is_initial'")):
        sched.ExponentialLR(_optimizer(), 0.9).load_state_dict(step.state_dict())
