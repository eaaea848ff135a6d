"""Run folders: everything about one training run of the command line, in files that outlive the process.

    run.json         what was trained on and how: the data set, the model's architecture, the settings
                     (``SETTING_NAMES``: arch, hidden_dims ... epochs, the target total; beta, seed,
                     history_format)
    checkpoint.npz   model, optimizer state, epochs done, generator states, history (``Trainer``'s checkpoint)
    history.csv      one row per epoch: epoch, total, recon, kl, test_total (or history.json)
    *.png            the figures (``figures.draw_run_figures``)

``start_run`` sets up a new run and ``resume_run`` reopens one to train on;
``open_run`` reopens one to evaluate, sample or draw. A folder or file that
does not fit, or settings that contradict the run, raise :class:`RunError`
with a message naming the file or the option and what was wrong. Every file
is written atomically (``write_atomically``): a crash leaves the old file or
the new one, never half of one.
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_vae.nn.serialization import write_atomically
from tinygrad_vae.vae.datasets import Dataset, load_dataset
from tinygrad_vae.vae.figures import RUN_FIGURES
from tinygrad_vae.vae.model import VAE
from tinygrad_vae.vae.training import CONV_PRESETS, DATASET_PRESETS, PRESETS, Trainer, check_finite_rows

RUN_FORMAT, RUN_VERSION = "tinygrad_vae.run", 1
RUN_FILE, CHECKPOINT_FILE = "run.json", "checkpoint.npz"
HISTORY_FORMATS = ("csv", "json")
# Every file a run folder may hold that this package writes; --force removes these and nothing else.
RUN_FOLDER_FILES = (RUN_FILE, CHECKPOINT_FILE, *(f"history.{fmt}" for fmt in HISTORY_FORMATS), *RUN_FIGURES)
# The settings of a run, as run.json stores them and as the options of 'tinygrad-vae train' name them.
SETTING_NAMES = ("arch", "hidden_dims", "latent_dim", "likelihood", "optimizer", "lr", "batch_size", "epochs",
                 "beta", "seed", "history_format")


class RunError(ValueError):
    """A run folder, one of its files, or the settings asked for do not fit; the message says where and why."""


# --------------------------------------------------------------------------
# settings
# --------------------------------------------------------------------------


def dataset_defaults(dataset: str, arch: str = "mlp") -> dict[str, Any]:
    """The settings a new run on ``dataset`` starts from: its preset (``DATASET_PRESETS``, or ``CONV_PRESETS``
    for ``arch="conv"``), beta 1, seed 0, csv.

    The presets of the data sets give hidden_dims (for conv: the channels), latent_dim and (for images)
    the likelihood; a preset without a likelihood has the VAE's default Gaussian decoder. The conv
    architecture is for image data only: on other data a :class:`RunError`.
    """
    if arch == "conv" and dataset not in CONV_PRESETS:
        raise RunError(f"--arch conv is for image data ({', '.join(CONV_PRESETS)}); {dataset} holds "
                       f"points, not images: use --arch mlp")
    preset = PRESETS[(CONV_PRESETS if arch == "conv" else DATASET_PRESETS)[dataset]]
    model = preset["model"]
    return {
        "arch": arch, "hidden_dims": model["hidden_dims"], "latent_dim": model["latent_dim"],
        "likelihood": model.get("likelihood", "gaussian"), "optimizer": preset["optimizer"], "lr": preset["lr"],
        "batch_size": preset["batch_size"], "epochs": preset["epochs"],
        "beta": 1.0, "seed": 0, "history_format": "csv",
    }


def new_run_settings(dataset: str, given: dict[str, Any]) -> dict[str, Any]:
    """The settings of a new run: those ``given`` (some of ``SETTING_NAMES``), the defaults of the data set and
    the architecture for the rest."""
    return {**dataset_defaults(dataset, given.get("arch", "mlp")), **given}


def resumed_run_settings(
    settings: dict[str, Any], given: dict[str, Any], data_options: dict[str, Any]
) -> dict[str, Any]:
    """The settings of a resumed run: its own ``settings``, with a new ``epochs`` target if one is given.

    Any other setting ``given`` must equal the run's own, and none of ``data_options`` (dataset,
    data_dir, binarize) may be set, since run.json names the data: otherwise a :class:`RunError`.
    """
    for key, value in given.items():
        if key == "epochs":
            continue
        own = tuple(settings[key]) if isinstance(value, tuple) else settings[key]  # JSON keeps tuples as lists
        if value != own:
            raise RunError(
                f"--{key.replace('_', '-')} {value!r} differs from the resumed run's {own!r}; "
                f"a resumed run keeps its settings (start a new run with --out to change them)"
            )
    for option, value in data_options.items():
        if value not in (None, False):
            raise RunError(f"--{option.replace('_', '-')} cannot be combined with --resume: "
                           f"the run folder names its data")
    return {**settings, "epochs": given.get("epochs", settings["epochs"])}


def check_data_fits(data: Dataset, likelihood: str) -> None:
    """A :class:`RunError` for data with NaN or inf (naming the split and the row), or, for a Bernoulli decoder
    (a distribution over [0, 1] only), for training data outside [0, 1]."""
    for split, x in (("training", data.x_train), ("test", data.x_test)):
        check_finite_rows(x, f"the {data.name} {split} data", RunError)
    if likelihood == "bernoulli" and (data.x_train.min() < 0 or data.x_train.max() > 1):
        raise RunError(
            f"the bernoulli likelihood needs data in [0, 1], but {data.name} ranges over "
            f"[{data.x_train.min():.3g}, {data.x_train.max():.3g}]; use --likelihood gaussian"
        )


# --------------------------------------------------------------------------
# the files of a run folder
# --------------------------------------------------------------------------


def _write_text(path: Path, text: str) -> None:
    write_atomically(path, lambda file: file.write(text.encode("utf-8")))


def clear_run_files(folder: str | os.PathLike) -> None:
    """Remove the files of ``RUN_FOLDER_FILES`` from ``folder``, so a new run leaves none of an old run's beside
    its own; any other file (the user's) stays."""
    for name in RUN_FOLDER_FILES:
        path = Path(folder) / name
        if path.is_file() or path.is_symlink():
            path.unlink()


def read_run(folder: str | os.PathLike) -> dict[str, Any]:
    """The contents of ``folder``'s run.json, checked for the format tag and the dataset, model and settings."""
    folder = Path(folder)
    path = folder / RUN_FILE
    if not folder.is_dir():
        raise RunError(f"{folder} is not a folder (expected a run folder written by 'tinygrad-vae train')")
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunError(f"{folder} is not a run folder: it has no {RUN_FILE}") from None
    except json.JSONDecodeError as error:
        raise RunError(f"{path} is not valid JSON: {error}") from None
    if not isinstance(record, dict) or record.get("format") != RUN_FORMAT:
        raise RunError(f"{path} is not a tinygrad-vae run file (no format tag {RUN_FORMAT!r})")
    missing = [key for key in ("dataset", "model", "settings") if not isinstance(record.get(key), dict)]
    if missing:
        raise RunError(f"{path} is damaged: it lacks {', '.join(missing)}")
    record["settings"].setdefault("arch", "mlp")  # run.json written before there was a choice
    return record


def load_trainer(
    folder: str | os.PathLike, record: dict[str, Any], checkpoint: str | os.PathLike | None = None
) -> Trainer:
    """The Trainer saved in ``checkpoint`` (default: the folder's checkpoint.npz), if it holds the model of ``record``.

    Every architecture key of run.json's ``model`` must have the same value in the checkpoint.
    """
    path = Path(folder) / CHECKPOINT_FILE if checkpoint is None else Path(checkpoint)
    if not path.is_file():
        raise RunError(f"no checkpoint at {path}")
    try:
        trainer = Trainer.from_checkpoint(path)
    except (ValueError, KeyError, TypeError) as error:
        raise RunError(f"cannot load checkpoint {path}: {error}") from None
    saved, wanted = trainer.model.config(), record["model"]
    different = {key: (saved.get(key), value) for key, value in wanted.items() if saved.get(key) != value}
    if different:
        detail = ", ".join(f"{key} {got!r} where the run has {want!r}" for key, (got, want) in different.items())
        raise RunError(f"checkpoint {path} holds a different architecture from the run in {folder}: {detail}")
    return trainer


def load_run_data(record: dict[str, Any]) -> Dataset:
    """The data set that run.json's ``dataset`` names (name, data_dir, binarize)."""
    spec = record["dataset"]
    return load_dataset(spec["name"], spec.get("data_dir"), spec.get("binarize", False))


def history_rows(history: dict[str, list[float]], extra: dict[str, list[float]]) -> list[dict[str, float]]:
    """One row per epoch of ``history`` (``{"epoch": 1, "total": ..., ...}``); ``extra`` columns may be shorter."""
    columns = {**history, **extra}
    return [{"epoch": i + 1, **{key: values[i] for key, values in columns.items() if i < len(values)}}
            for i in range(len(history["total"]))]


def write_history(folder: str | os.PathLike, fmt: str, rows: list[dict[str, float]]) -> Path:
    """Write ``rows`` to ``folder``/history.csv or history.json (``fmt``); returns the path."""
    path = Path(folder) / f"history.{fmt}"
    if fmt == "json":
        _write_text(path, json.dumps(rows, indent=1) + "\n")
    else:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else ["epoch"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        _write_text(path, buffer.getvalue())
    return path


def read_history(folder: str | os.PathLike, fmt: str) -> list[dict[str, float]]:
    """The rows of ``folder``'s history file in format ``fmt`` (an empty list if there is none)."""
    path = Path(folder) / f"history.{fmt}"
    if not path.is_file():
        return []
    try:
        if fmt == "json":
            return json.loads(path.read_text(encoding="utf-8"))
        with path.open(newline="", encoding="utf-8") as f:
            # An empty cell is a column that epoch lacks, as history_rows leaves it out.
            return [{key: float(value) for key, value in row.items() if value != ""} for row in csv.DictReader(f)]
    except ValueError as error:  # json.JSONDecodeError is a ValueError too
        raise RunError(f"cannot read history {path}: {error}") from None


# --------------------------------------------------------------------------
# a run, opened
# --------------------------------------------------------------------------


@dataclass
class Run:
    """A run folder, opened: the contents of its run.json, the Trainer of its checkpoint, its data set."""

    folder: Path
    record: dict[str, Any]
    trainer: Trainer
    data: Dataset

    @property
    def settings(self) -> dict[str, Any]:
        return self.record["settings"]

    @property
    def checkpoint_path(self) -> Path:
        return self.folder / CHECKPOINT_FILE

    def test_losses(self) -> list[float]:
        """The test losses in the history file, for the epochs the checkpoint holds."""
        rows = read_history(self.folder, self.settings["history_format"])[: self.trainer.epoch]
        return [row["test_total"] for row in rows if "test_total" in row]

    def write_record(self) -> None:
        """Write run.json (creating the folder if need be)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        _write_text(self.folder / RUN_FILE, json.dumps(self.record, indent=1) + "\n")

    def write_history(self, test_losses: list[float]) -> Path:
        """Write the trainer's history so far, with a ``test_total`` column from ``test_losses``."""
        rows = history_rows(self.trainer.history, {"test_total": test_losses})
        return write_history(self.folder, self.settings["history_format"], rows)

    def discard_unstarted(self) -> None:
        """Remove what a new run writes before its first checkpoint (run.json, the history file), so the
        folder needs no --force to start again; the folder's other files stay."""
        for name in (RUN_FILE, f"history.{self.settings['history_format']}"):
            (self.folder / name).unlink(missing_ok=True)


def open_run(folder: str | os.PathLike, checkpoint: str | os.PathLike | None = None) -> Run:
    """The run in ``folder``, its trainer from ``checkpoint`` (default: the folder's own)."""
    folder = Path(folder)
    record = read_run(folder)
    trainer = load_trainer(folder, record, checkpoint)
    return Run(folder, record, trainer, load_run_data(record))


def resume_run(folder: str | os.PathLike, given: dict[str, Any], data_options: dict[str, Any]) -> Run:
    """The run in ``folder``, ready to train on to ``given["epochs"]`` (default: its own target).

    ``given`` and ``data_options`` are checked as in ``resumed_run_settings``; a target below the
    epochs already done is a :class:`RunError`. Call ``write_record`` to store the new target.
    """
    folder = Path(folder)
    record = read_run(folder)
    settings = resumed_run_settings(record["settings"], given, data_options)
    trainer = load_trainer(folder, record)
    if settings["epochs"] < trainer.epoch:
        raise RunError(f"--epochs {settings['epochs']} is fewer than the {trainer.epoch} epochs already done "
                       f"in {folder}")
    record["settings"]["epochs"] = settings["epochs"]
    data = load_run_data(record)
    check_data_fits(data, settings["likelihood"])
    return Run(folder, record, trainer, data)


def start_run(
    folder: str | os.PathLike,
    dataset: str,
    data_dir: str | os.PathLike | None,
    binarize: bool,
    given: dict[str, Any],
    force: bool = False,
) -> Run:
    """A new run in ``folder`` on ``dataset``: settings from ``given`` and the data set's defaults, a fresh model.

    ``data_dir`` is for (and needed by) mnist, ``binarize`` for image data; a folder that already
    holds a run needs ``force``, and then, once the data has loaded and the model is built, the old
    run's files are removed (``clear_run_files``). The model's weights, the shuffling and the noise all
    come from one generator seeded with the run's seed. Nothing else is written until ``write_record``.
    """
    folder = Path(folder)
    settings = new_run_settings(dataset, given)
    if binarize and dataset == "mixture":
        raise RunError("--binarize applies to image data (digits, mnist), not to the 2-D mixture")
    if dataset == "mnist" and data_dir is None:
        raise RunError("--dataset mnist needs --data-dir DIR (the folder with train-images-idx3-ubyte[.gz] etc.)")
    if dataset != "mnist" and data_dir is not None:
        raise RunError(f"--data-dir is only for --dataset mnist, not {dataset}")
    if folder.exists() and not folder.is_dir():
        raise RunError(f"--out {folder} is a file, not a folder (expected a run folder to create or reuse)")
    if (folder / RUN_FILE).exists() and not force:
        raise RunError(f"{folder} already holds a run; continue it with --resume {folder}, or start over with --force")
    spec = {"name": dataset, "data_dir": None if data_dir is None else str(Path(data_dir).resolve()),
            "binarize": binarize}
    data = load_dataset(spec["name"], spec["data_dir"], spec["binarize"])
    check_data_fits(data, settings["likelihood"])
    image_shape = None if settings["arch"] == "mlp" else (1, *data.image_shape)
    model = VAE(data.input_dim, settings["hidden_dims"], settings["latent_dim"], settings["likelihood"],
                beta=settings["beta"], rng=np.random.default_rng(settings["seed"]), arch=settings["arch"],
                image_shape=image_shape)
    trainer = Trainer(model, optimizer=settings["optimizer"], lr=settings["lr"], batch_size=settings["batch_size"])
    record = {"format": RUN_FORMAT, "version": RUN_VERSION, "dataset": spec, "model": model.config(),
              "settings": {**settings, "hidden_dims": list(settings["hidden_dims"])}}
    if (folder / RUN_FILE).exists():  # only with force, checked above
        clear_run_files(folder)
    return Run(folder, record, trainer, data)
