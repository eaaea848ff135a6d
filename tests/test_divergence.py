"""Non-finite numbers stop a run: a diverging loss or step, broken checkpoints, data with NaN or inf.

Training that diverges raises DivergenceError naming the epoch and the batch (the command line: one
line and exit 1), a checkpoint is never written with NaN or inf (the last good file stays as it was),
a checkpoint holding them is refused by every command that reads one, and data holding them is
refused before training, naming the row.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import tinygrad_vae
from tinygrad_vae import serialization, vae
from tinygrad_vae.vae import cli, runs
from tinygrad_vae.vae.datasets import Dataset, load_mixture
from tinygrad_vae.vae.training import DivergenceError, Trainer

TINY = ["--dataset", "mixture", "--hidden-dims", "8", "--batch-size", "256", "--no-figures"]


def tiny_trainer(optimizer: str = "sgd", lr: float = 0.01, batch_size: int = 8) -> Trainer:
    model = vae.VAE(2, (4,), 2, rng=np.random.default_rng(0))
    return Trainer(model, optimizer=optimizer, lr=lr, batch_size=batch_size)


def points(n: int) -> np.ndarray:
    return np.random.default_rng(1).normal(size=(n, 2)).astype(np.float32)


def poison_after_first_step(trainer: Trainer, name: str, value: float) -> None:
    """Make the optimizer's first step leave ``value`` in the parameter ``name``, as an overflowing step would."""
    real_step, parameter = trainer.optimizer.step, dict(trainer.model.named_parameters())[name]

    calls = []

    def step() -> None:
        real_step()
        calls.append(None)
        if len(calls) == 1:
            parameter.data[0] = value

    trainer.optimizer.step = step  # type: ignore[method-assign]


def one_line_error(capsys: pytest.CaptureFixture[str], code: int) -> str:
    """The one line on stderr of a command that failed with exit status 1 and printed nothing else."""
    out, err = capsys.readouterr()
    assert code == 1, err
    assert out == ""
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err.rstrip("\n")


# --------------------------------------------------------------------------
# divergence while training
# --------------------------------------------------------------------------


def test_fit_stops_at_the_first_non_finite_loss() -> None:
    trainer = tiny_trainer(lr=1e10)
    with np.errstate(all="ignore"), pytest.raises(DivergenceError) as caught:
        trainer.fit(points(16), 3, log_every=None)
    assert str(caught.value) == ("Trainer: training diverged at epoch 1, batch 2: the loss is inf; "
                                 "try a lower learning rate (lr, now 1e+10)")
    assert (caught.value.epoch, caught.value.batch, caught.value.lr) == (1, 2, 1e10)
    assert isinstance(caught.value, RuntimeError)
    assert trainer.epoch == 0 and trainer.history == {"total": [], "recon": [], "kl": []}  # the epoch is not counted


def test_the_error_names_the_epoch_that_diverged() -> None:
    trainer = tiny_trainer(lr=0.01)
    trainer.fit(points(16), 2, log_every=None)
    trainer.optimizer.param_groups[0]["lr"] = 1e10  # the rate in use is the one the message reports
    with np.errstate(all="ignore"), pytest.raises(DivergenceError) as caught:
        trainer.fit(points(16), 5, log_every=None)
    assert (caught.value.epoch, caught.value.batch, caught.value.lr) == (3, 2, 1e10)
    assert trainer.epoch == 2 and len(trainer.history["total"]) == 2


def test_a_step_that_breaks_a_parameter_in_the_last_batch_is_caught() -> None:
    # One batch per epoch: no next batch's loss to show the broken weight.
    trainer = tiny_trainer()
    poison_after_first_step(trainer, "decoder.2.bias", np.inf)
    with pytest.raises(DivergenceError) as caught:
        trainer.fit(points(8), 3, log_every=None)
    assert (caught.value.epoch, caught.value.batch) == (1, 1)
    assert caught.value.problem == "parameter decoder.2.bias holds inf after the step"


def test_a_broken_parameter_shows_in_the_next_batchs_loss() -> None:
    trainer = tiny_trainer()
    poison_after_first_step(trainer, "decoder.2.bias", np.nan)
    with pytest.raises(DivergenceError) as caught:
        trainer.fit(points(16), 3, log_every=None)
    assert (caught.value.epoch, caught.value.batch, caught.value.problem) == (1, 2, "the loss is nan")


def test_a_broken_parameter_the_loss_does_not_see_is_caught_by_the_end_of_the_epoch() -> None:
    # The log-variance is soft-clamped, so an infinite bias there still gives a finite loss.
    trainer = tiny_trainer(optimizer="adam", lr=1e-3)
    poison_after_first_step(trainer, "log_var_head.bias", np.inf)
    with np.errstate(all="ignore"), pytest.raises(DivergenceError) as caught:
        trainer.fit(points(24), 3, log_every=None)
    assert (caught.value.epoch, caught.value.batch) == (1, 3)
    assert caught.value.problem == "parameter log_var_head.bias holds inf after the step"


def test_divergence_error_is_exported_beside_trainer() -> None:
    assert tinygrad_vae.DivergenceError is vae.DivergenceError is DivergenceError
    assert "DivergenceError" in tinygrad_vae.__all__ and "DivergenceError" in vae.__all__


def test_cli_train_that_diverges_exits_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "run"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # NumPy's overflow warnings must not come before the message
        code = cli.main(["train", "--dataset", "mixture", "--lr", "0.5", "--epochs", "5", "--out", str(folder)])
    assert one_line_error(capsys, code) == ("tinygrad-vae train: error: training diverged at epoch 1, batch 11: "
                                            "the loss is inf; try a lower learning rate (--lr, now 0.5)")
    assert not (folder / "checkpoint.npz").exists()
    assert not list(folder.glob("*.png"))


def test_cli_resumed_run_that_diverges_keeps_its_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "run"
    assert cli.main(["train", *TINY, "--lr", "0.3", "--epochs", "5", "--out", str(folder), "-q"]) == 0
    capsys.readouterr()
    good = (folder / "checkpoint.npz").read_bytes()
    history = (folder / "history.csv").read_text()
    code = cli.main(["train", "--resume", str(folder), "--epochs", "8", "-q"])
    assert one_line_error(capsys, code) == (
        "tinygrad-vae train: error: training diverged at epoch 6, batch 4: the loss is inf; "
        f"try a lower learning rate (--lr, now 0.3); {folder / 'checkpoint.npz'} keeps epoch 5")
    assert (folder / "checkpoint.npz").read_bytes() == good
    assert (folder / "history.csv").read_text() == history
    assert Trainer.from_checkpoint(folder / "checkpoint.npz").epoch == 5


# --------------------------------------------------------------------------
# checkpoints
# --------------------------------------------------------------------------


def test_a_diverging_fit_keeps_the_last_good_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.npz"
    trainer = tiny_trainer()
    trainer.fit(points(16), 2, log_every=None, checkpoint_path=path, checkpoint_every=1)
    good = path.read_bytes()
    trainer.optimizer.param_groups[0]["lr"] = 1e10
    with np.errstate(all="ignore"), pytest.raises(DivergenceError) as caught:
        trainer.fit(points(16), 5, log_every=None, checkpoint_path=path, checkpoint_every=1)
    assert caught.value.epoch == 3  # the next epoch after the good checkpoint
    assert path.read_bytes() == good
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.npz"]  # no temporary file left behind


@pytest.mark.parametrize(("key", "where"), [
    ("model/encoder.0.bias", lambda t: t.model.encoder[0].bias.data),
    ("optimizer/state/0/exp_avg_sq", lambda t: t.optimizer.state[t.optimizer.param_groups[0]["params"][0]]["exp_avg_sq"]),
])
def test_save_checkpoint_refuses_non_finite_values(
    tmp_path: Path, key: str, where: Callable[[Trainer], np.ndarray]
) -> None:
    path = tmp_path / "checkpoint.npz"
    trainer = tiny_trainer(optimizer="adam", lr=1e-3)
    trainer.fit(points(16), 1, log_every=None, checkpoint_path=path)
    good = path.read_bytes()
    where(trainer)[1] = -np.inf
    with pytest.raises(ValueError, match=rf"^Trainer.save_checkpoint: {key} holds -inf; not writing {path} "):
        trainer.save_checkpoint(path)
    assert path.read_bytes() == good
    with pytest.raises(ValueError, match="holds -inf"):
        trainer.save_checkpoint(tmp_path / "new.npz")
    assert not (tmp_path / "new.npz").exists()


def write_broken_checkpoint(source: Path, target: Path, key: str = "decoder.2.bias") -> None:
    """Copy the checkpoint ``source`` to ``target`` with a NaN in the model's parameter ``key``."""
    state = serialization.load(source)
    state["model"][key][0] = np.nan
    serialization.save(state, target)  # serialization itself stores any array; only Trainer refuses


def test_from_checkpoint_refuses_non_finite_weights(tmp_path: Path) -> None:
    trainer = tiny_trainer()
    trainer.save_checkpoint(tmp_path / "good.npz")
    write_broken_checkpoint(tmp_path / "good.npz", tmp_path / "bad.npz")
    assert Trainer.from_checkpoint(tmp_path / "good.npz").epoch == 0
    with pytest.raises(ValueError, match=rf"^Trainer.from_checkpoint: {tmp_path / 'bad.npz'} holds non-finite "
                                         r"weights: model/decoder.2.bias holds nan"):
        Trainer.from_checkpoint(tmp_path / "bad.npz")


def test_first_nonfinite_finds_the_first_array_in_order() -> None:
    finite = np.zeros(3, np.float32)
    tree = {"a": finite, "b": {"c": np.array([1.0, -np.inf, np.nan]), "d": np.array([np.nan])}, "e": [np.nan]}
    assert serialization.first_nonfinite(tree) == ("b/c", -np.inf)
    assert serialization.first_nonfinite({"a": finite, "n": np.arange(3), "e": [np.nan], "x": 1.5}) is None


@pytest.fixture(scope="module")
def broken_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-epoch run folder whose checkpoint then had a NaN put into a weight."""
    folder = tmp_path_factory.mktemp("broken") / "run"
    assert cli.main(["train", *TINY, "--epochs", "1", "--out", str(folder), "-q"]) == 0
    write_broken_checkpoint(folder / "checkpoint.npz", folder / "checkpoint.npz")
    return folder


@pytest.mark.parametrize("command", [
    ["evaluate", "{run}", "-k", "2"],
    ["sample", "{run}", "--out", "{run}/samples.npy"],
    ["plot", "{run}"],
    ["train", "--resume", "{run}", "--epochs", "2"],
])
def test_commands_refuse_a_checkpoint_with_non_finite_weights(
    broken_run: Path, command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    before = (broken_run / "checkpoint.npz").read_bytes()
    code = cli.main([part.format(run=broken_run) for part in command])
    line = one_line_error(capsys, code)
    assert line.startswith(f"tinygrad-vae {command[0]}: error: cannot load checkpoint {broken_run / 'checkpoint.npz'}")
    assert line.endswith("holds non-finite weights: model/decoder.2.bias holds nan (saved from a run that diverged?)")
    assert not (broken_run / "samples.npy").exists()
    assert (broken_run / "checkpoint.npz").read_bytes() == before


def test_evaluate_refuses_a_broken_checkpoint_given_with_checkpoint(
    tmp_path: Path, broken_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "other.npz"
    write_broken_checkpoint(broken_run / "checkpoint.npz", bad, key="encoder.0.weight")
    code = cli.main(["evaluate", str(broken_run), "--checkpoint", str(bad), "-k", "2"])
    assert f"{bad} holds non-finite weights: model/encoder.0.weight holds nan" in one_line_error(capsys, code)


# --------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------


@pytest.mark.parametrize(("row", "column", "value"), [(5, 1, np.nan), (0, 0, np.inf), (15, 1, -np.inf)])
def test_fit_refuses_non_finite_data_before_training(row: int, column: int, value: float) -> None:
    trainer = tiny_trainer()
    before = trainer.model.state_dict()
    data = points(16)
    data[row, column] = value
    with pytest.raises(ValueError, match=rf"^Trainer.fit: data: row {row} holds {value} \(column {column}\) "
                                         r"as float32; expected finite values$"):
        trainer.fit(data, 2, log_every=None)
    assert trainer.epoch == 0
    for key, array in trainer.model.state_dict().items():
        assert np.array_equal(array, before[key]), key


def test_a_value_too_large_for_the_models_dtype_is_refused() -> None:
    data = points(16).astype(np.float64)
    data[9, 0] = 1e39  # finite in float64, inf in the model's float32
    with np.errstate(over="ignore"), pytest.raises(ValueError, match=r"^Trainer.train_epoch: data: row 9 holds inf \(column 0\) as float32"):
        tiny_trainer().train_epoch(data)


@pytest.mark.parametrize("split", ["training", "test"])
def test_cli_refuses_non_finite_data_before_writing_anything(
    split: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    mixture = load_mixture()
    x_train, x_test = mixture.x_train.copy(), mixture.x_test.copy()
    (x_train if split == "training" else x_test)[7, 1] = np.nan
    broken = Dataset("mixture", x_train, mixture.y_train, x_test, mixture.y_test)
    monkeypatch.setattr(runs, "load_dataset", lambda *args: broken)
    folder = tmp_path / "run"
    code = cli.main(["train", *TINY, "--epochs", "1", "--out", str(folder)])
    assert one_line_error(capsys, code) == (f"tinygrad-vae train: error: the mixture {split} data: row 7 holds nan "
                                            f"(column 1) as float32; expected finite values")
    assert not folder.exists()


def test_cli_resume_refuses_non_finite_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "run"
    assert cli.main(["train", *TINY, "--epochs", "1", "--out", str(folder), "-q"]) == 0
    capsys.readouterr()
    good = (folder / "checkpoint.npz").read_bytes()
    mixture = load_mixture()
    x_train = mixture.x_train.copy()
    x_train[3, 0] = np.inf  # the files a run names can change between its sessions
    broken = Dataset("mixture", x_train, mixture.y_train, mixture.x_test, mixture.y_test)
    monkeypatch.setattr(runs, "load_dataset", lambda *args: broken)
    code = cli.main(["train", "--resume", str(folder), "--epochs", "2"])
    assert one_line_error(capsys, code) == ("tinygrad-vae train: error: the mixture training data: row 3 holds inf "
                                            "(column 0) as float32; expected finite values")
    assert (folder / "checkpoint.npz").read_bytes() == good
