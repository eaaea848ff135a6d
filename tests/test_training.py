"""Tests of the training loop: it learns, it reports, and a resumed run is bit-identical to an uninterrupted one."""

import io
import os
import re

import numpy as np
import pytest

from tinygrad_vae import serialization
from tinygrad_vae.data import gaussian_mixture
from tinygrad_vae.vae.datasets import DATASETS
from tinygrad_vae.vae.model import VAE
from tinygrad_vae.vae.training import DATASET_PRESETS, PRESETS, ProgressPrinter, Trainer, trainer_from_preset


def small_trainer(seed: int = 0, optimizer: str = "adam", **model_kwargs) -> Trainer:
    model = VAE(2, hidden_dims=(16,), rng=np.random.default_rng(seed), **model_kwargs)
    return Trainer(model, optimizer=optimizer, lr=3e-3 if optimizer == "adam" else 0.01, batch_size=32)


def assert_same_state(a: Trainer, b: Trainer) -> None:
    state_a, state_b = a.model.state_dict(), b.model.state_dict()
    assert state_a.keys() == state_b.keys()
    for key in state_a:
        assert np.array_equal(state_a[key], state_b[key]), key
    assert a.history == b.history
    assert a.epoch == b.epoch
    assert a.rng.bit_generator.state == b.rng.bit_generator.state


def test_a_short_run_of_the_notebook_config_lowers_the_loss_clearly():
    rng = np.random.default_rng(0)
    data = gaussian_mixture(2000, rng=rng)
    trainer = trainer_from_preset("notebook", rng=rng)
    history = trainer.fit(data, 30, log_every=None)
    assert len(history["total"]) == 30
    # First epoch: about E||x||^2 = 8.25 of squared error (the decoder starts near 0). It plateaus there for
    # ~10 epochs, then drops; by epoch 30 the loss is well under half of that.
    assert history["total"][0] > 7.0
    assert history["total"][-1] < 0.5 * history["total"][0]
    for key in ("total", "recon", "kl"):
        assert np.isfinite(history[key]).all()
    np.testing.assert_allclose(history["total"], np.add(history["recon"], history["kl"]), rtol=1e-6)


@pytest.mark.parametrize("optimizer, model_kwargs", [
    ("sgd", {}),
    ("adam", {"prior": "mixture", "decoder_variance": 0.02}),
    ("adam", {"iw_samples": 3, "learn_decoder_variance": True}),
])
def test_resuming_from_a_checkpoint_is_bit_identical(tmp_path, optimizer, model_kwargs):
    data = gaussian_mixture(200, rng=np.random.default_rng(1))
    straight = small_trainer(optimizer=optimizer, **model_kwargs)
    straight.fit(data, 6, log_every=None)

    path = tmp_path / "checkpoint.npz"
    first = small_trainer(optimizer=optimizer, **model_kwargs)
    first.fit(data, 3, log_every=None, checkpoint_path=path)
    del first  # nothing of the first process survives but the file
    resumed = Trainer.from_checkpoint(path)
    assert resumed.epoch == 3 and len(resumed.history["total"]) == 3
    resumed.fit(data, 6, log_every=None)
    assert_same_state(straight, resumed)
    steps = [s["step"] for s in resumed.optimizer.state.values() if "step" in s]  # Adam counts, SGD does not
    assert steps == [s["step"] for s in straight.optimizer.state.values() if "step" in s]
    assert all(t == 6 * 7 for t in steps)
    # the generators continue identically too (the next draws agree)
    assert straight.model.sample(3).tolist() == resumed.model.sample(3).tolist()


def test_a_checkpoint_from_before_param_groups_resumes_bit_identically(tmp_path):
    data = gaussian_mixture(200, rng=np.random.default_rng(1))
    straight = small_trainer()
    straight.fit(data, 4, log_every=None)
    first = small_trainer()
    first.fit(data, 2, log_every=None)
    state = first.state_dict()
    new = state["optimizer"]
    # the optimizer's state as this library wrote it before parameter groups
    state["optimizer"] = {
        "type": "Adam", "step_count": 2 * 7, "hyperparameters": {"lr": 3e-3, "betas": [0.9, 0.999], "eps": 1e-8,
                                                                "weight_decay": 0.0},
        "state": {str(i): {"step": int(s["step"]), "exp_avg": s["exp_avg"], "exp_avg_sq": s["exp_avg_sq"]}
                  for i, s in new["state"].items()},
    }
    serialization.save(state, tmp_path / "old.npz")
    resumed = Trainer.from_checkpoint(tmp_path / "old.npz")
    resumed.fit(data, 4, log_every=None)
    assert_same_state(straight, resumed)


def test_checkpoint_contents_and_periodic_saves(tmp_path):
    data = gaussian_mixture(64, rng=np.random.default_rng(2))
    trainer = small_trainer()
    path = tmp_path / "ckpt.npz"
    saved_at = []
    trainer.fit(data, 5, log_every=None, checkpoint_path=path, checkpoint_every=2,
                callback=lambda t, epoch, record: saved_at.append(serialization.load(path)["epoch"])
                if os.path.exists(path) else saved_at.append(None))
    # the callback runs before that epoch's save: it sees the checkpoints of epochs 2 and 4, then the final one
    assert saved_at == [None, None, 2, 2, 4]
    state = serialization.load(path)
    assert state["epoch"] == 5
    assert set(state) == {"model", "optimizer", "epoch", "rng", "model_rng", "history", "config"}
    assert state["rng"] == trainer.rng.bit_generator.state
    assert state["history"] == trainer.history
    assert state["config"]["model"] == trainer.model.config()
    assert state["config"]["optimizer"] == "adam" and state["config"]["batch_size"] == 32
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.npz"]  # no temporary files left behind


def test_progress_lines_and_callback(capsys):
    data = gaussian_mixture(64, rng=np.random.default_rng(3))
    trainer = small_trainer()
    records = []
    trainer.fit(data, 4, log_every=2, callback=lambda t, epoch, record: records.append((epoch, record)))
    lines = capsys.readouterr().out.splitlines()
    assert [epoch for epoch, _ in records] == [1, 2, 3, 4]
    for key in ("total", "recon", "kl"):
        assert [record[key] for _, record in records] == trainer.history[key]
    h = trainer.history
    assert lines == [
        f"Epoch {e}/4, Loss: {h['total'][e - 1]:.4f}, Recon: {h['recon'][e - 1]:.4f}, KL: {h['kl'][e - 1]:.4f}"
        for e in (2, 4)
    ]
    assert ProgressPrinter(500).line(100, {"total": 2.51634, "recon": 1.5, "kl": 1.01634}) == \
        "Epoch 100/500, Loss: 2.5163, Recon: 1.5000, KL: 1.0163"


def test_fit_reports_the_last_epoch_too(capsys):
    trainer = small_trainer()
    trainer.fit(gaussian_mixture(64, rng=np.random.default_rng(3)), 5, log_every=2)
    assert [line.split(",")[0] for line in capsys.readouterr().out.splitlines()] == \
        ["Epoch 2/5", "Epoch 4/5", "Epoch 5/5"]


RECORD = {"total": 31.4, "recon": 25.1, "kl": 6.3}


def test_timed_progress_line_has_the_test_loss_the_throughput_and_the_time_left(monkeypatch):
    clock = iter([100.0, 100.0, 102.0, 104.0])  # made, epoch 11 starts, epoch 11 ends, the line is printed
    monkeypatch.setattr("tinygrad_vae.vae.training.time.perf_counter", lambda: next(clock))
    printer = ProgressPrinter(200, timed=True, examples_per_epoch=8420, first_epoch=10)
    printer.start_epoch()
    printer.end_epoch()
    # 8420 examples in 2 s; 4 s for the 1 epoch since epoch 10, so 189 epochs left take 756 s
    assert printer.line(11, RECORD, test_loss=30.9) == \
        "epoch  11/200  loss 31.4000 (recon 25.1000, kl 6.3000)  test 30.9000  4,210 ex/s  left 0:12:36"


def test_progress_every_n_epochs_and_in_place():
    out = io.StringIO()

    def to_out(*args, **kwargs):
        print(*args, **kwargs, file=out)

    printer = ProgressPrinter(5, every=2, timed=True, print_fn=to_out)
    for epoch in range(1, 6):
        printer(epoch, RECORD)
    assert [line.split()[1] for line in out.getvalue().splitlines()] == ["2/5", "4/5", "5/5"]

    out = io.StringIO()
    printer = ProgressPrinter(3, timed=True, in_place=True, print_fn=to_out)
    printer(1, RECORD)
    assert out.getvalue().startswith("\repoch 1/3") and "\n" not in out.getvalue()
    printer.end_line()  # a run stopped early ends the open line once
    printer.end_line()
    assert out.getvalue().count("\n") == 1
    printer(2, RECORD)
    printer(3, RECORD)
    assert re.findall(r"\repoch (\d)/3", out.getvalue()) == ["1", "2", "3"] and out.getvalue().endswith("\n")
    printer.end_line()  # after the last epoch the line is already ended
    assert out.getvalue().count("\n") == 2


def test_fit_continues_to_the_total_number_of_epochs():
    data = gaussian_mixture(64, rng=np.random.default_rng(4))
    trainer = small_trainer()
    trainer.fit(data, 2, log_every=None)
    trainer.fit(data, 2, log_every=None)  # already there: nothing to do
    assert trainer.epoch == 2
    trainer.fit(data, 3, log_every=None)
    assert trainer.epoch == 3 and len(trainer.history["kl"]) == 3


def test_evaluate_leaves_the_training_generator_alone():
    data = gaussian_mixture(64, rng=np.random.default_rng(5))
    trainer = small_trainer()
    before = trainer.rng.bit_generator.state
    scores = trainer.evaluate(data)
    assert trainer.rng.bit_generator.state == before
    assert scores == trainer.evaluate(data)  # seeded 0 by default: deterministic
    assert scores["total"] == pytest.approx(scores["recon"] + scores["kl"], rel=1e-6)


def test_frozen_parameters_stay_fixed():
    data = gaussian_mixture(64, rng=np.random.default_rng(6))
    model = VAE(2, hidden_dims=(8,), rng=np.random.default_rng(0), learn_decoder_variance=True)
    model.decoder_log_var.requires_grad_(False)
    frozen = model.decoder_log_var.data.copy()
    Trainer(model, lr=1e-2).fit(data, 2, log_every=None)
    assert np.array_equal(model.decoder_log_var.data, frozen)


def test_presets():
    assert PRESETS["notebook"] == {
        "model": {"hidden_dims": (32,), "latent_dim": 2},
        "optimizer": "sgd", "lr": 0.01, "batch_size": 64, "epochs": 500,
    }
    trainer = trainer_from_preset("default", rng=np.random.default_rng(0))
    assert trainer.model.prior == "mixture" and trainer.optimizer_name == "adam"
    with pytest.raises(ValueError, match=r"trainer_from_preset: unknown preset 'fast'; expected one of"):
        trainer_from_preset("fast")


def test_every_data_set_has_a_preset_that_builds():
    assert set(DATASET_PRESETS) == set(DATASETS) and DATASET_PRESETS["mixture"] == "notebook"
    digits = trainer_from_preset(DATASET_PRESETS["digits"], input_dim=64, rng=np.random.default_rng(0))
    assert digits.model.likelihood == "bernoulli" and digits.model.hidden_dims == (128,)
    assert (digits.optimizer_name, digits.lr, digits.batch_size) == ("adam", 1e-3, 64)
    assert PRESETS["mnist"]["model"]["hidden_dims"] == (256,) and PRESETS["mnist"]["epochs"] == 20


def test_bad_arguments_raise_clear_errors(tmp_path):
    model = VAE(2, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"Trainer: optimizer must be one of \['adagrad', 'adam', 'adamw', 'rmsprop', 'sgd'\], "
                                         r"got 'lbfgs'"):
        Trainer(model, optimizer="lbfgs")
    with pytest.raises(ValueError, match=r"Trainer: batch_size must be a positive int, got 0"):
        Trainer(model, batch_size=0)
    with pytest.raises(ValueError, match=r"Trainer: batch_size must be a positive int, got True"):
        Trainer(model, batch_size=True)
    with pytest.raises(TypeError, match=r"Trainer: rng must be a numpy.random.Generator or None, got int"):
        Trainer(model, rng=0)
    trainer = Trainer(model)
    with pytest.raises(ValueError, match=r"Trainer.fit: expected data of shape \(n, 2\) with n >= 1, got \(10, 3\)"):
        trainer.fit(np.zeros((10, 3)), 1)
    with pytest.raises(ValueError, match=r"Trainer.fit: checkpoint_every needs a checkpoint_path"):
        trainer.fit(np.zeros((10, 2)), 1, checkpoint_every=1)
    with pytest.raises(ValueError, match=r"Trainer.fit: epochs must be a non-negative int, got -1"):
        trainer.fit(np.zeros((10, 2)), -1)
    with pytest.raises(ValueError, match=r"Trainer.fit: log_every must be a positive int or None, got 0"):
        trainer.fit(np.zeros((10, 2)), 1, log_every=0)
    with pytest.raises(ValueError, match=r"Trainer.fit: checkpoint_every must be a positive int or None, got 1.5"):
        trainer.fit(np.zeros((10, 2)), 1, checkpoint_every=1.5, checkpoint_path=tmp_path / "c.npz")
    path = tmp_path / "model_only.npz"
    serialization.save(model, path)
    with pytest.raises(KeyError, match=r"Trainer.from_checkpoint: .*model_only.npz has no 'config'"):
        Trainer.from_checkpoint(path)
