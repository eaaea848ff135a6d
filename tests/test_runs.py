"""Run folders as a library: settings of new and resumed runs, run.json, checkpoints, history files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tinygrad_vae.vae import runs
from tinygrad_vae.vae.datasets import Dataset, load_mixture
from tinygrad_vae.vae.runs import RunError
from tinygrad_vae.vae.training import PRESETS

TINY = {"hidden_dims": (4,), "batch_size": 500, "epochs": 2}


def trained_run(folder: Path, epochs: int = 2, **given: object) -> runs.Run:
    """A new mixture run in ``folder``, trained ``epochs`` epochs, with run.json, checkpoint and history written."""
    run = runs.start_run(folder, "mixture", None, False, {**TINY, "epochs": epochs, **given})
    run.write_record()
    test_losses: list[float] = []

    def after_epoch(trainer: object, epoch: int, record: dict[str, float]) -> None:
        test_losses.append(10.0 * epoch)  # made-up test losses: only their place in the history matters here
        run.write_history(test_losses)

    run.trainer.fit(run.data.x_train, epochs, callback=after_epoch, log_every=None,
                    checkpoint_path=run.checkpoint_path, checkpoint_every=1)
    return run


# --------------------------------------------------------------------------
# settings
# --------------------------------------------------------------------------


def test_the_defaults_of_a_data_set_are_its_preset_in_run_json_order() -> None:
    mixture = runs.dataset_defaults("mixture")
    assert mixture == {"arch": "mlp", "hidden_dims": (32,), "latent_dim": 2, "likelihood": "gaussian",
                       "optimizer": "sgd", "lr": 0.01, "batch_size": 64, "epochs": 500, "beta": 1.0, "seed": 0,
                       "history_format": "csv"}
    assert tuple(mixture) == runs.SETTING_NAMES
    digits = runs.dataset_defaults("digits")
    assert digits["likelihood"] == "bernoulli" and digits["hidden_dims"] == PRESETS["digits"]["model"]["hidden_dims"]
    assert runs.dataset_defaults("mnist")["batch_size"] == PRESETS["mnist"]["batch_size"]


def test_given_settings_win_over_the_defaults() -> None:
    settings = runs.new_run_settings("digits", {"lr": 0.5, "seed": 3})
    assert settings["lr"] == 0.5 and settings["seed"] == 3 and settings["optimizer"] == "adam"
    assert tuple(settings) == runs.SETTING_NAMES  # an override keeps its place


def test_a_resumed_run_keeps_its_settings_but_may_get_a_new_target() -> None:
    own = {**runs.dataset_defaults("mixture"), "hidden_dims": [16]}  # as read back from run.json
    assert runs.resumed_run_settings(own, {}, {}) == own
    assert runs.resumed_run_settings(own, {"epochs": 900, "hidden_dims": (16,), "lr": 0.01}, {})["epochs"] == 900
    with pytest.raises(RunError, match=r"^--hidden-dims \(32,\) differs from the resumed run's \(16,\); "
                                       r"a resumed run keeps its settings \(start a new run with --out"):
        runs.resumed_run_settings(own, {"hidden_dims": (32,)}, {})
    with pytest.raises(RunError, match=r"^--batch-size 8 differs from the resumed run's 64"):
        runs.resumed_run_settings(own, {"batch_size": 8}, {})
    unset = {"dataset": None, "data_dir": None, "binarize": False}
    assert runs.resumed_run_settings(own, {}, unset) == own
    with pytest.raises(RunError, match=r"^--data-dir cannot be combined with --resume: the run folder names its data"):
        runs.resumed_run_settings(own, {}, {**unset, "data_dir": Path("x")})


def test_a_bernoulli_decoder_needs_data_in_the_unit_interval() -> None:
    with pytest.raises(RunError, match=r"the bernoulli likelihood needs data in \[0, 1\], but mixture ranges over"):
        runs.check_data_fits(load_mixture(), "bernoulli")
    runs.check_data_fits(load_mixture(), "gaussian")
    pixels = np.array([[0.0, 1.0], [0.5, 0.25]])
    runs.check_data_fits(Dataset("pixels", pixels, np.zeros(2), pixels, np.zeros(2)), "bernoulli")


# --------------------------------------------------------------------------
# run.json
# --------------------------------------------------------------------------


def test_a_new_run_writes_nothing_until_write_record(tmp_path: Path) -> None:
    folder = tmp_path / "deep" / "run"
    run = runs.start_run(folder, "mixture", None, False, {**TINY, "seed": 4})
    assert not folder.exists()
    run.write_record()
    assert sorted(p.name for p in folder.iterdir()) == ["run.json"]  # no temporary file left behind
    record = runs.read_run(folder)
    assert record == json.loads(json.dumps(run.record))
    assert record["format"] == runs.RUN_FORMAT and record["version"] == runs.RUN_VERSION
    assert record["dataset"] == {"name": "mixture", "data_dir": None, "binarize": False}
    assert record["model"] == run.trainer.model.config()
    assert record["settings"] == {**runs.dataset_defaults("mixture"), **TINY, "seed": 4, "hidden_dims": [4]}


def test_the_seed_of_a_new_run_fixes_its_weights(tmp_path: Path) -> None:
    def weights(seed: int) -> np.ndarray:
        run = runs.start_run(tmp_path, "mixture", None, False, {**TINY, "seed": seed})
        return run.trainer.model.mu_head.weight.data

    assert np.array_equal(weights(1), weights(1)) and not np.array_equal(weights(1), weights(2))


def test_new_run_errors(tmp_path: Path) -> None:
    with pytest.raises(RunError, match=r"^--binarize applies to image data \(digits, mnist\), not to the 2-D mixture"):
        runs.start_run(tmp_path, "mixture", None, True, {})
    with pytest.raises(RunError, match=r"^--dataset mnist needs --data-dir DIR"):
        runs.start_run(tmp_path, "mnist", None, False, {})
    with pytest.raises(RunError, match=r"^--data-dir is only for --dataset mnist, not digits"):
        runs.start_run(tmp_path, "digits", tmp_path, False, {})
    with pytest.raises(RunError, match=r"the bernoulli likelihood needs data in \[0, 1\]"):
        runs.start_run(tmp_path, "mixture", None, False, {"likelihood": "bernoulli"})
    runs.start_run(tmp_path, "mixture", None, False, TINY).write_record()
    with pytest.raises(RunError, match=r"already holds a run; continue it with --resume .*, or start over "
                                       r"with --force"):
        runs.start_run(tmp_path, "mixture", None, False, TINY)
    assert runs.start_run(tmp_path, "mixture", None, False, TINY, force=True).trainer.epoch == 0


def test_read_run_errors(tmp_path: Path) -> None:
    with pytest.raises(RunError, match=r"nowhere is not a folder "
                                       r"\(expected a run folder written by 'tinygrad-vae train'\)"):
        runs.read_run(tmp_path / "nowhere")
    with pytest.raises(RunError, match=r"is not a run folder: it has no run.json"):
        runs.read_run(tmp_path)
    for text, pattern in [
        ("{not json", r"run.json is not valid JSON"),
        ('{"model": {}}', r"run.json is not a tinygrad-vae run file \(no format tag 'tinygrad_vae.run'\)"),
        ("[1, 2]", r"run.json is not a tinygrad-vae run file"),
        ('{"format": "tinygrad_vae.run", "model": {}}', r"run.json is damaged: it lacks dataset, settings"),
    ]:
        (tmp_path / "run.json").write_text(text)
        with pytest.raises(RunError, match=pattern):
            runs.read_run(tmp_path)
    assert issubclass(RunError, ValueError)


# --------------------------------------------------------------------------
# checkpoints and history
# --------------------------------------------------------------------------


def test_open_run_gives_the_trained_state_and_the_history(tmp_path: Path) -> None:
    trained = trained_run(tmp_path)
    run = runs.open_run(tmp_path)
    assert run.trainer.epoch == 2 and run.trainer.history == trained.trainer.history
    for (name, a), (_, b) in zip(run.trainer.model.named_parameters(), trained.trainer.model.named_parameters()):
        assert np.array_equal(a.data, b.data), name
    assert run.data.name == "mixture" and run.test_losses() == [10.0, 20.0]
    lines = (tmp_path / "history.csv").read_text().splitlines()
    assert lines[0] == "epoch,total,recon,kl,test_total" and [line[0] for line in lines[1:]] == ["1", "2"]


def test_a_checkpoint_must_fit_the_run(tmp_path: Path) -> None:
    trained_run(tmp_path / "a")
    trained_run(tmp_path / "b", hidden_dims=(6,))
    record = runs.read_run(tmp_path / "a")
    assert runs.load_trainer(tmp_path / "a", record, tmp_path / "a" / "checkpoint.npz").epoch == 2
    with pytest.raises(RunError, match=r"holds a different architecture from the run in .*a: "
                                       r"hidden_dims \[6\] where the run has \[4\]"):
        runs.load_trainer(tmp_path / "a", record, tmp_path / "b" / "checkpoint.npz")
    with pytest.raises(RunError, match=r"no checkpoint at .*none.npz"):
        runs.open_run(tmp_path / "a", tmp_path / "none.npz")
    (tmp_path / "garbage.npz").write_bytes(b"PK\x03\x04 this is not a zip archive")
    with pytest.raises(RunError, match=r"cannot load checkpoint .*garbage.npz: load: "):
        runs.load_trainer(tmp_path / "a", record, tmp_path / "garbage.npz")


def test_resume_run_sets_a_new_target_and_checks_it(tmp_path: Path) -> None:
    trained_run(tmp_path, epochs=3)
    with pytest.raises(RunError, match=r"^--epochs 2 is fewer than the 3 epochs already done in "):
        runs.resume_run(tmp_path, {"epochs": 2}, {})
    run = runs.resume_run(tmp_path, {"epochs": 5}, {})
    assert run.settings["epochs"] == 5 and runs.read_run(tmp_path)["settings"]["epochs"] == 3  # not yet written
    run.write_record()
    assert runs.read_run(tmp_path)["settings"]["epochs"] == 5
    assert runs.resume_run(tmp_path, {}, {}).settings["epochs"] == 5


@pytest.mark.parametrize("fmt", runs.HISTORY_FORMATS)
def test_history_files_round_trip(tmp_path: Path, fmt: str) -> None:
    history = {"total": [3.0, 2.5, 2.25], "recon": [2.0, 1.5, 1.25], "kl": [1.0, 1.0, 1.0]}
    rows = runs.history_rows(history, {"test_total": [3.5, 3.0]})  # no test loss for the last epoch (yet)
    assert rows[0] == {"epoch": 1, "total": 3.0, "recon": 2.0, "kl": 1.0, "test_total": 3.5}
    assert rows[2] == {"epoch": 3, "total": 2.25, "recon": 1.25, "kl": 1.0}
    assert runs.read_history(tmp_path, fmt) == []
    path = runs.write_history(tmp_path, fmt, rows)
    assert path == tmp_path / f"history.{fmt}"
    back = runs.read_history(tmp_path, fmt)
    assert back[:2] == rows[:2] and back[2]["total"] == 2.25
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_an_unreadable_history_is_a_run_error(tmp_path: Path) -> None:
    (tmp_path / "history.csv").write_text("epoch,total\n1,lots\n")
    with pytest.raises(RunError, match=r"cannot read history .*history.csv: could not convert string to float"):
        runs.read_history(tmp_path, "csv")
    (tmp_path / "history.json").write_text("[{")
    with pytest.raises(RunError, match=r"cannot read history .*history.json: "):
        runs.read_history(tmp_path, "json")
