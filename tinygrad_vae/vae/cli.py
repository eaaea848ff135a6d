"""The ``tinygrad-vae`` command line (also ``python -m tinygrad_vae``): train, evaluate, sample, plot.

A run folder holds everything about one training run:

    run.json         what was trained on and how (data set, seed, model, optimizer, target epochs)
    checkpoint.npz   model, optimizer state, epochs done, generator states, history (Trainer's checkpoint)
    history.csv      one row per epoch (or history.json with --history-format json)
    *.png            the figures (``plot`` draws them again)

Bad input (an unknown data set, a missing or malformed file, an impossible
option value, a checkpoint that does not fit the run) ends with one line on
stderr naming the problem and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from tinygrad_vae.core import no_grad
from tinygrad_vae.vae.baselines import PCA, IndependentBernoulli, squared_error
from tinygrad_vae.vae.datasets import DATASETS, Dataset, DatasetError, load_dataset
from tinygrad_vae.vae.model import LIKELIHOODS, VAE
from tinygrad_vae.vae.training import OPTIMIZERS, PRESETS, Trainer

PROG = "tinygrad-vae"
RUN_FORMAT = "tinygrad_vae.run"
RUN_FILE, CHECKPOINT_FILE = "run.json", "checkpoint.npz"
EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130

# Defaults per data set; an option given on the command line wins. The mixture's are the notebook's.
_NOTEBOOK = PRESETS["notebook"]
DEFAULTS: dict[str, dict[str, Any]] = {
    "mixture": {"hidden_dims": _NOTEBOOK["model"]["hidden_dims"], "latent_dim": _NOTEBOOK["model"]["latent_dim"],
                "likelihood": "gaussian", "optimizer": _NOTEBOOK["optimizer"], "lr": _NOTEBOOK["lr"],
                "batch_size": _NOTEBOOK["batch_size"], "epochs": _NOTEBOOK["epochs"]},
    "digits": {"hidden_dims": (128,), "latent_dim": 2, "likelihood": "bernoulli", "optimizer": "adam", "lr": 1e-3,
               "batch_size": 64, "epochs": 200},
    "mnist": {"hidden_dims": (256,), "latent_dim": 2, "likelihood": "bernoulli", "optimizer": "adam", "lr": 1e-3,
              "batch_size": 128, "epochs": 20},
}


class CliError(Exception):
    """Ends the command with ``message`` on stderr and exit status ``code``."""

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.code = code


# --------------------------------------------------------------------------
# argument parsing
# --------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that raises CliError (one line) instead of printing usage and exiting."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise CliError(f"{self.prog}: error: {message} (see {self.prog} --help)", EXIT_USAGE)


def _number(kind: type, low: float, inclusive: bool, what: str) -> Callable[[str], Any]:
    """An argparse type: ``kind(text)``, required to be > low (or >= low when ``inclusive``)."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not (value >= low if inclusive else value > low) or (kind is float and not math.isfinite(value)):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    return parse


positive_int = _number(int, 0, False, "a positive integer")
nonnegative_int = _number(int, 0, True, "an integer >= 0")
positive_float = _number(float, 0.0, False, "a positive number")
nonnegative_float = _number(float, 0.0, True, "a number >= 0")


def dims_list(text: str) -> tuple[int, ...]:
    """``"128,64"`` -> (128, 64): hidden layer widths, outermost first."""
    try:
        dims = tuple(int(part) for part in text.split(","))
    except ValueError:
        dims = ()
    if not dims or min(dims) < 1:
        raise argparse.ArgumentTypeError(f"expected comma-separated positive integers such as 128 or 128,64, got {text!r}")
    return dims


def _output_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    group.add_argument("-v", "--verbose", action="store_true", help="print more (every epoch on its own line)")


def _checkpoint_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", type=Path, help="a run folder written by 'train'")
    parser.add_argument("--checkpoint", metavar="FILE", type=Path,
                        help="use this checkpoint file instead of RUN_DIR/checkpoint.npz (it must fit the run)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of all four subcommands."""
    parser = _Parser(
        prog=PROG,
        description="Train and inspect variational autoencoders built on tinygrad_vae's NumPy autodiff engine.",
        epilog=(
            "examples:\n"
            f"  {PROG} train --dataset mixture --out runs/mixture      # the origin notebook, 500 epochs\n"
            f"  {PROG} train --dataset digits --binarize --out runs/digits\n"
            f"  {PROG} train --dataset mnist --data-dir ~/data/mnist --binarize --out runs/mnist\n"
            f"  {PROG} train --resume runs/digits --epochs 300          # continue an interrupted run\n"
            f"  {PROG} evaluate runs/digits -k 1000 --baselines\n"
            f"  {PROG} sample runs/digits -n 64 --out samples.png\n"
            f"  {PROG} plot runs/digits\n"
            f"\nrun '{PROG} COMMAND --help' for the options of each command"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    train = commands.add_parser(
        "train", help="train a VAE and write a run folder",
        description="Train a VAE and write a run folder (run.json, checkpoint.npz, history, figures).\n"
        "A checkpoint is written after every epoch, so an interrupted run can go on with --resume.",
        epilog="defaults by data set (an option given on the command line wins):\n" + "\n".join(
            f"  {name:<8} hidden {','.join(map(str, d['hidden_dims']))}, latent {d['latent_dim']}, {d['likelihood']}, "
            f"{d['optimizer']} lr {d['lr']}, batch {d['batch_size']}, {d['epochs']} epochs"
            for name, d in DEFAULTS.items()
        ) + "\n  (mixture: the origin notebook's settings)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    data = train.add_argument_group("data")
    data.add_argument("--dataset", choices=DATASETS, help="mixture: the notebook's 2-D clusters (default); "
                      "digits: scikit-learn's 8x8 digits; mnist: IDX files in --data-dir")
    data.add_argument("--data-dir", metavar="DIR", type=Path,
                      help="folder holding train-images-idx3-ubyte[.gz] and the other three MNIST files")
    data.add_argument("--binarize", action="store_true",
                      help="threshold pixels at 0.5, so the Bernoulli log-likelihood is a true log-probability")
    model = train.add_argument_group("model")
    model.add_argument("--hidden-dims", metavar="N[,N...]", type=dims_list, help="hidden layer widths, e.g. 128,64")
    model.add_argument("--latent-dim", metavar="N", type=positive_int, help="size of z")
    model.add_argument("--likelihood", choices=LIKELIHOODS, help="decoder distribution p(x|z)")
    model.add_argument("--beta", metavar="B", type=nonnegative_float, help="weight of the KL term (default 1)")
    opt = train.add_argument_group("optimization")
    opt.add_argument("--optimizer", choices=sorted(OPTIMIZERS))
    opt.add_argument("--lr", metavar="LR", type=positive_float, help="learning rate")
    opt.add_argument("--batch-size", metavar="N", type=positive_int)
    opt.add_argument("--epochs", metavar="N", type=positive_int, help="total epochs (with --resume: the new total)")
    opt.add_argument("--seed", metavar="S", type=nonnegative_int,
                     help="seeds the initial weights, the shuffling and the noise (default 0)")
    run = train.add_argument_group("run folder")
    run.add_argument("--out", metavar="RUN_DIR", type=Path, help="run folder to create (default runs/DATASET)")
    run.add_argument("--resume", metavar="RUN_DIR", type=Path,
                     help="continue the run in RUN_DIR from its checkpoint (bit-identical to never stopping)")
    run.add_argument("--force", action="store_true", help="start over in an --out folder that already holds a run")
    run.add_argument("--history-format", choices=("csv", "json"), help="per-epoch history file (default csv)")
    run.add_argument("--no-figures", action="store_true", help="do not draw the figures at the end")
    _output_flags(train)
    train.set_defaults(handler=cmd_train)

    evaluate = commands.add_parser(
        "evaluate", help="test ELBO and importance-weighted log-likelihood, in nats per example",
        description="Estimate, on the test set, the ELBO (one z per example) and the importance-weighted "
        "log-likelihood log p(x) with k samples per example (Burda et al. 2016), both in nats per example "
        "(mean +- standard error over the test examples), and the squared reconstruction error at z = mu(x).",
    )
    _checkpoint_flag(evaluate)
    evaluate.add_argument("-k", "--samples", metavar="K", type=positive_int, default=1000,
                          help="importance samples per example (default 1000)")
    evaluate.add_argument("--split", choices=("test", "train"), default="test")
    evaluate.add_argument("--seed", metavar="S", type=nonnegative_int, default=0, help="seeds the noise (default 0)")
    evaluate.add_argument("--baselines", action="store_true",
                          help="also measure the independent-pixel Bernoulli model and PCA the same way (image data)")
    evaluate.add_argument("--json", action="store_true", help="print the numbers as one JSON object")
    _output_flags(evaluate)
    evaluate.set_defaults(handler=cmd_evaluate)

    sample = commands.add_parser("sample", help="draw samples from the prior, as a figure or an .npy file",
                                 description="Decode z ~ N(0, I) and write the samples as a PNG figure or an .npy array.")
    _checkpoint_flag(sample)
    sample.add_argument("--out", metavar="FILE", type=Path, required=True, help="FILE.png (a figure) or FILE.npy")
    sample.add_argument("-n", metavar="N", type=positive_int, default=64, help="number of samples (default 64)")
    sample.add_argument("--seed", metavar="S", type=nonnegative_int, default=0)
    sample.add_argument("--draw", action="store_true",
                        help="draw x ~ p(x|z) instead of taking the decoder mean (binary pixels for Bernoulli)")
    _output_flags(sample)
    sample.set_defaults(handler=cmd_sample)

    plot = commands.add_parser("plot", help="draw the figures of a run folder again",
                               description="Redraw the run's figures from its checkpoint into the run folder.")
    _checkpoint_flag(plot)
    plot.add_argument("--seed", metavar="S", type=nonnegative_int, default=0, help="seeds the samples (default 0)")
    _output_flags(plot)
    plot.set_defaults(handler=cmd_plot)
    return parser


# --------------------------------------------------------------------------
# run folders
# --------------------------------------------------------------------------


def _write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path`` and move it over ``path`` (never half a file)."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def _read_run(run_dir: Path) -> dict[str, Any]:
    """The run folder's run.json, checked."""
    path = run_dir / RUN_FILE
    if not run_dir.is_dir():
        raise CliError(f"{run_dir} is not a folder (expected a run folder written by '{PROG} train')")
    try:
        run = json.loads(path.read_text())
    except FileNotFoundError:
        raise CliError(f"{run_dir} is not a run folder: it has no {RUN_FILE}") from None
    except json.JSONDecodeError as error:
        raise CliError(f"{path} is not valid JSON: {error}") from None
    if not isinstance(run, dict) or run.get("format") != RUN_FORMAT:
        raise CliError(f"{path} is not a {PROG} run file (no format tag {RUN_FORMAT!r})")
    missing = [key for key in ("dataset", "model", "settings") if not isinstance(run.get(key), dict)]
    if missing:
        raise CliError(f"{path} is damaged: it lacks {', '.join(missing)}")
    return run


def _load_data(run: dict[str, Any]) -> Dataset:
    spec = run["dataset"]
    return load_dataset(spec["name"], spec.get("data_dir"), spec.get("binarize", False))


def _load_trainer(run_dir: Path, run: dict[str, Any], checkpoint: Path | None = None) -> Trainer:
    """The Trainer saved in the run's checkpoint, after checking that it is the model run.json describes."""
    path = run_dir / CHECKPOINT_FILE if checkpoint is None else checkpoint
    if not path.is_file():
        raise CliError(f"no checkpoint at {path}")
    try:
        trainer = Trainer.from_checkpoint(path)
    except (ValueError, KeyError, TypeError) as error:
        raise CliError(f"cannot load checkpoint {path}: {error}") from None
    saved = trainer.model.config()
    different = {key: (saved[key], run["model"][key]) for key in run["model"] if saved.get(key) != run["model"][key]}
    if different:
        detail = ", ".join(f"{key} {got!r} where the run has {want!r}" for key, (got, want) in different.items())
        raise CliError(f"checkpoint {path} holds a different architecture from the run in {run_dir}: {detail}")
    return trainer


def _history_rows(history: dict[str, list[float]], extra: dict[str, list[float]]) -> list[dict[str, float]]:
    columns = {**history, **extra}
    n = len(history["total"])
    return [{"epoch": i + 1, **{key: values[i] for key, values in columns.items() if i < len(values)}} for i in range(n)]


def _write_history(run_dir: Path, fmt: str, rows: list[dict[str, float]]) -> Path:
    path = run_dir / f"history.{fmt}"
    if fmt == "json":
        _write_atomically(path, json.dumps(rows, indent=1) + "\n")
    else:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else ["epoch"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        _write_atomically(path, buffer.getvalue())
    return path


def _read_history(run_dir: Path, fmt: str) -> list[dict[str, float]]:
    """The rows of an existing history file (an empty list if there is none)."""
    path = run_dir / f"history.{fmt}"
    if not path.is_file():
        return []
    try:
        if fmt == "json":
            return json.loads(path.read_text())
        with path.open(newline="") as f:
            return [{key: float(value) for key, value in row.items()} for row in csv.DictReader(f)]
    except (ValueError, json.JSONDecodeError) as error:
        raise CliError(f"cannot read history {path}: {error}") from None


# --------------------------------------------------------------------------
# output
# --------------------------------------------------------------------------


class Console:
    """Where a command's messages go: results to stdout, progress and notes to stderr, per -q / -v."""

    def __init__(self, args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> None:
        self.quiet, self.verbose = args.quiet, args.verbose
        self.stdout, self.stderr = stdout, stderr

    def result(self, text: str) -> None:
        if not self.quiet:
            print(text, file=self.stdout)

    def note(self, text: str) -> None:
        if not self.quiet:
            print(text, file=self.stderr)

    def detail(self, text: str) -> None:
        if self.verbose:
            print(text, file=self.stderr)


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class ProgressLine:
    """The per-epoch callback that prints ``epoch 12/200  loss 31.40 (recon 25.1, kl 6.30)  4,210 ex/s  left 0:01:05``.

    On a terminal the line is rewritten in place every epoch; otherwise (a log
    file) about ten lines are printed over the run. ``-v`` prints every epoch on
    its own line; ``-q`` nothing. Throughput counts training examples per second
    of wall time, including the optimizer step.
    """

    def __init__(self, console: Console, epochs: int, n_examples: int, start_epoch: int) -> None:
        self.console, self.epochs, self.n_examples = console, epochs, n_examples
        self.start_epoch = start_epoch
        self.started = self.last = time.perf_counter()
        self.trained = 0.0
        self.in_place = console.stderr.isatty() and not console.verbose
        self.every = 1 if console.verbose or self.in_place else max(1, math.ceil((epochs - start_epoch) / 10))

    def epoch_done(self) -> None:
        """Call when an epoch's training ends: examples/s counts the time since ``start_next``."""
        self.trained = time.perf_counter() - self.last

    def start_next(self) -> None:
        """Call when the work between epochs (evaluation, files) is done."""
        self.last = time.perf_counter()

    def __call__(self, epoch: int, record: dict[str, float], test_loss: float | None) -> None:
        per_second = self.n_examples / max(self.trained, 1e-9)
        left = (time.perf_counter() - self.started) / (epoch - self.start_epoch) * (self.epochs - epoch)
        if self.console.quiet or (epoch % self.every and epoch != self.epochs):
            return
        width = len(str(self.epochs))
        line = (f"epoch {epoch:>{width}}/{self.epochs}  loss {record['total']:.4f} "
                f"(recon {record['recon']:.4f}, kl {record['kl']:.4f})")
        if test_loss is not None:
            line += f"  test {test_loss:.4f}"
        line += f"  {per_second:,.0f} ex/s  left {_duration(left)}"
        if self.in_place:
            end = "\n" if epoch == self.epochs else ""
            print("\r" + line, end=end, file=self.console.stderr, flush=True)
        else:
            print(line, file=self.console.stderr, flush=True)


# --------------------------------------------------------------------------
# train
# --------------------------------------------------------------------------


def _train_settings(args: argparse.Namespace, previous: dict[str, Any] | None) -> dict[str, Any]:
    """The run's settings: a resumed run's own, or the options given with the data set's defaults for the rest."""
    given = {key: getattr(args, key) for key in (*DEFAULTS["mixture"], "beta", "seed", "history_format")}
    given = {key: value for key, value in given.items() if value is not None}
    if previous is not None:
        settings = previous["settings"]
        for key, value in given.items():
            if key == "epochs":
                continue
            old = tuple(settings[key]) if isinstance(value, tuple) else settings[key]
            if value != old:
                raise CliError(
                    f"--{key.replace('_', '-')} {value!r} differs from the resumed run's {old!r}; "
                    f"a resumed run keeps its settings (start a new run with --out to change them)"
                )
        for flag in ("dataset", "data_dir", "binarize"):
            if getattr(args, flag) not in (None, False):
                raise CliError(f"--{flag.replace('_', '-')} cannot be combined with --resume: the run folder names its data")
        return {**settings, "epochs": given.get("epochs", settings["epochs"])}
    dataset = args.dataset or "mixture"
    return {**DEFAULTS[dataset], "beta": 1.0, "seed": 0, "history_format": "csv", **given}


def _check_data_fits(data: Dataset, likelihood: str) -> None:
    if likelihood == "bernoulli" and (data.x_train.min() < 0 or data.x_train.max() > 1):
        raise CliError(
            f"the bernoulli likelihood needs data in [0, 1], but {data.name} ranges over "
            f"[{data.x_train.min():.3g}, {data.x_train.max():.3g}]; use --likelihood gaussian"
        )


def cmd_train(args: argparse.Namespace, console: Console) -> int:
    if args.resume is not None and args.out is not None:
        raise CliError("give either --out (a new run) or --resume (an existing one), not both")
    if args.resume is not None:
        run_dir = args.resume
        run = _read_run(run_dir)
        settings = _train_settings(args, run)
        trainer = _load_trainer(run_dir, run)
        if settings["epochs"] < trainer.epoch:
            raise CliError(f"--epochs {settings['epochs']} is fewer than the {trainer.epoch} epochs already done in {run_dir}")
        data = _load_data(run)
        rows = _read_history(run_dir, settings["history_format"])[: trainer.epoch]
    else:
        settings = _train_settings(args, None)
        dataset = args.dataset or "mixture"
        if args.binarize and dataset == "mixture":
            raise CliError("--binarize applies to image data (digits, mnist), not to the 2-D mixture")
        if dataset == "mnist" and args.data_dir is None:
            raise CliError("--dataset mnist needs --data-dir DIR (the folder with train-images-idx3-ubyte[.gz] etc.)")
        if dataset != "mnist" and args.data_dir is not None:
            raise CliError(f"--data-dir is only for --dataset mnist, not {dataset}")
        run_dir = args.out if args.out is not None else Path("runs") / dataset
        if (run_dir / RUN_FILE).exists() and not args.force:
            raise CliError(f"{run_dir} already holds a run; continue it with --resume {run_dir}, "
                           f"or start over with --force")
        spec = {"name": dataset, "data_dir": None if args.data_dir is None else str(args.data_dir.resolve()),
                "binarize": args.binarize}
        data = load_dataset(spec["name"], spec["data_dir"], spec["binarize"])
        _check_data_fits(data, settings["likelihood"])
        model = VAE(data.input_dim, settings["hidden_dims"], settings["latent_dim"], settings["likelihood"],
                    beta=settings["beta"], rng=np.random.default_rng(settings["seed"]))
        trainer = Trainer(model, optimizer=settings["optimizer"], lr=settings["lr"], batch_size=settings["batch_size"])
        run = {"format": RUN_FORMAT, "version": 1, "dataset": spec, "model": model.config(),
               "settings": {**settings, "hidden_dims": list(settings["hidden_dims"])}}
        run_dir.mkdir(parents=True, exist_ok=True)
        rows = []
    run["settings"]["epochs"] = settings["epochs"]
    _write_atomically(run_dir / RUN_FILE, json.dumps(run, indent=1) + "\n")
    model = trainer.model
    console.detail(f"{run_dir}: {data.name} ({len(data.x_train)} train / {len(data.x_test)} test examples); "
                   f"VAE {model.input_dim}-{'-'.join(map(str, model.hidden_dims))}-{model.latent_dim}, "
                   f"{model.likelihood} decoder, {model.num_parameters()} parameters; {trainer.optimizer!r}; "
                   f"{settings['batch_size']} per batch; seed {settings['seed']}")

    test_losses = [row["test_total"] for row in rows if "test_total" in row]
    progress = ProgressLine(console, settings["epochs"], len(data.x_train), trainer.epoch)

    def after_epoch(trainer: Trainer, epoch: int, record: dict[str, float]) -> None:
        progress.epoch_done()
        # The test loss uses its own fixed noise, so evaluating never changes the training run.
        test_losses.append(trainer.evaluate(data.x_test, rng=np.random.default_rng(0))["total"])
        _write_history(run_dir, settings["history_format"], _history_rows(trainer.history, {"test_total": test_losses}))
        progress(epoch, record, test_losses[-1])
        progress.start_next()

    if trainer.epoch == settings["epochs"]:
        console.note(f"{run_dir} already has {trainer.epoch} epochs; nothing to train (raise --epochs to go on)")
    try:
        trainer.fit(data.x_train, settings["epochs"], callback=after_epoch, log_every=None,
                    checkpoint_path=run_dir / CHECKPOINT_FILE, checkpoint_every=1)
    except KeyboardInterrupt:
        if progress.in_place:
            print(file=console.stderr)  # end the progress line before the message
        raise CliError(f"interrupted after epoch {trainer.epoch}; continue with: {PROG} train --resume {run_dir}",
                       EXIT_INTERRUPTED) from None
    test_part = f", test loss {test_losses[-1]:.4f}" if test_losses else ""
    console.result(f"{run_dir}: {trainer.epoch} epochs, train loss {trainer.history['total'][-1]:.4f}{test_part}; "
                   f"'{PROG} evaluate {run_dir}' measures the ELBO in nats")
    if not args.no_figures:
        _draw_figures(run_dir, trainer.model, {**trainer.history, "test_total": test_losses}, data, console, strict=False)
    return 0


# --------------------------------------------------------------------------
# figures
# --------------------------------------------------------------------------

N_SHOWN = 64  # test images and samples in the image grids
MANIFOLD_N = 15  # decoded latent grid of MANIFOLD_N x MANIFOLD_N images


@no_grad()
def _draw_figures(
    run_dir: Path, model: VAE, history: dict[str, list[float]], data: Dataset, console: Console, strict: bool,
    seed: int = 0,
) -> None:
    """Draw the run's figures into ``run_dir``, samples seeded by ``seed``. Without matplotlib: an error if
    ``strict``, else a note."""
    from tinygrad_vae.vae import figures as plotting
    from tinygrad_vae.vae import image_figures as image_plots

    rng = np.random.default_rng(seed)
    written = []
    try:
        if data.image_shape is None:
            if model.input_dim == 2 and model.latent_dim == 2:
                plotting.plot_vae(model, data.x_train, history, run_dir / "figure.png", rng=rng)
                written.append("figure.png")
            image_plots.plot_losses(history, run_dir / "losses.png")
            written.append("losses.png")
        else:
            shown = data.x_test[:N_SHOWN]
            image_plots.plot_reconstructions(shown, model.decode(model.encode(shown)[0]).data, data.image_shape,
                                             run_dir / "reconstructions.png")
            image_plots.plot_samples(model.sample(N_SHOWN, rng=rng), data.image_shape, run_dir / "samples.png")
            image_plots.plot_losses(history, run_dir / "losses.png")
            written += ["reconstructions.png", "samples.png", "losses.png"]
            if model.latent_dim == 2:
                grid = image_plots.latent_grid(MANIFOLD_N)
                image_plots.plot_manifold(model.decode(grid).data, data.image_shape, run_dir / "manifold.png")
                image_plots.plot_latent_means(model.encode(data.x_test)[0].data, data.y_test, run_dir / "latent.png")
                written += ["manifold.png", "latent.png"]
    except ImportError as error:
        if strict:
            raise CliError(str(error)) from None
        console.note(f"figures skipped: {error}")
        return
    console.result(f"figures: {', '.join(str(run_dir / name) for name in written)}")


# --------------------------------------------------------------------------
# evaluate, sample, plot
# --------------------------------------------------------------------------


def _mean_and_se(values: np.ndarray) -> tuple[float, float]:
    """Mean and its standard error (sample std / sqrt(n)) of per-example numbers."""
    values = np.asarray(values, dtype=np.float64)
    se = values.std(ddof=1) / math.sqrt(len(values)) if len(values) > 1 else float("nan")
    return float(values.mean()), float(se)


def _open_run(args: argparse.Namespace) -> tuple[dict[str, Any], Trainer, Dataset]:
    run = _read_run(args.run_dir)
    trainer = _load_trainer(args.run_dir, run, args.checkpoint)
    return run, trainer, _load_data(run)


@no_grad()
def cmd_evaluate(args: argparse.Namespace, console: Console) -> int:
    _, trainer, data = _open_run(args)
    model, k = trainer.model, args.samples
    x = data.x_test if args.split == "test" else data.x_train
    rng = np.random.default_rng(args.seed)
    # log_likelihood holds k * batch rows of the widest layer at once: keep that near 8 million numbers.
    batch = max(1, 8_000_000 // (k * max(model.input_dim, *model.hidden_dims)))
    elbo, elbo_se = _mean_and_se(model.elbo(x, rng=rng))
    ll, ll_se = _mean_and_se(model.log_likelihood(x, k=k, rng=rng, batch_size=batch))
    error, error_se = _mean_and_se(squared_error(x, model.decode(model.encode(x)[0]).data))
    results: dict[str, Any] = {
        "dataset": data.name, "split": args.split, "examples": len(x), "epochs": trainer.epoch, "k": k,
        "elbo": elbo, "elbo_se": elbo_se, "log_likelihood": ll, "log_likelihood_se": ll_se,
        "squared_error": error, "squared_error_se": error_se,
    }
    nats = [("ELBO, one z per example", elbo, elbo_se), (f"log p(x), importance-weighted, k={k}", ll, ll_se)]
    errors = [("VAE, decoder mean at z = mu(x)", error, error_se)]
    if args.baselines:
        if data.image_shape is None:
            raise CliError("--baselines compares image models (digits, mnist); this run is on the 2-D mixture")
        bernoulli, bernoulli_se = _mean_and_se(IndependentBernoulli(alpha=1.0).fit(data.x_train).log_likelihood(x))
        pca_error, pca_error_se = _mean_and_se(PCA(model.latent_dim).fit(data.x_train).reconstruction_error(x))
        results.update(baseline_bernoulli_log_likelihood=bernoulli, baseline_bernoulli_log_likelihood_se=bernoulli_se,
                       baseline_pca_components=model.latent_dim, baseline_pca_squared_error=pca_error,
                       baseline_pca_squared_error_se=pca_error_se)
        nats.append(("baseline: independent pixels, alpha=1", bernoulli, bernoulli_se))
        errors.append((f"baseline: PCA, {model.latent_dim} components", pca_error, pca_error_se))
    lines = [(f"{data.name} {args.split} set, {len(x)} examples, model after {trainer.epoch} epochs "
              f"(mean +- standard error over the examples)"), "nats per example:"]
    lines += [f"  {label:<40} {mean:10.3f} +- {se:.3f}" for label, mean, se in nats]
    lines.append("squared reconstruction error per example:")
    lines += [f"  {label:<40} {mean:10.3f} +- {se:.3f}" for label, mean, se in errors]
    if model.likelihood == "bernoulli" and not np.isin(x, (0.0, 1.0)).all():
        lines.append("note: the pixels are not binary, so the Bernoulli numbers are cross-entropies, not "
                     "log-probabilities; train with --binarize for a true log-likelihood")
    console.result(json.dumps(results) if args.json else "\n".join(lines))
    return 0


def cmd_sample(args: argparse.Namespace, console: Console) -> int:
    suffix = args.out.suffix.lower()
    if suffix not in (".png", ".npy"):
        raise CliError(f"--out must end in .png (a figure) or .npy (the array), got {args.out}")
    _, trainer, data = _open_run(args)
    samples = trainer.model.sample(args.n, rng=np.random.default_rng(args.seed), mean=not args.draw)
    if suffix == ".npy":
        np.save(args.out, samples)
    else:
        from tinygrad_vae.vae import image_figures as image_plots

        if data.image_shape is None:
            image_plots.plot_points(samples, args.out, f"{args.n} samples from the prior")
        else:
            image_plots.plot_samples(samples, data.image_shape, args.out, ncols=math.ceil(math.sqrt(args.n)))
    console.result(f"wrote {args.n} samples to {args.out}")
    return 0


def cmd_plot(args: argparse.Namespace, console: Console) -> int:
    run, trainer, data = _open_run(args)
    rows = _read_history(args.run_dir, run["settings"]["history_format"])[: trainer.epoch]
    history = {**trainer.history, "test_total": [row["test_total"] for row in rows if "test_total" in row]}
    _draw_figures(args.run_dir, trainer.model, history, data, console, strict=True, seed=args.seed)
    return 0


# --------------------------------------------------------------------------
# entry point
# --------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Run the command line; returns the exit status (0 on success) instead of raising."""
    stdout = sys.stdout if stdout is None else stdout
    stderr = sys.stderr if stderr is None else stderr
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except CliError as error:
        print(error, file=stderr)
        return error.code
    except SystemExit as exit_:  # --help printed its text
        return exit_.code if isinstance(exit_.code, int) else EXIT_ERROR
    console = Console(args, stdout, stderr)
    try:
        return args.handler(args, console)
    except CliError as error:
        message, code = str(error), error.code
    except (DatasetError, ValueError, OSError, ImportError) as error:
        # Library errors already name the function and what was wrong; one line, no traceback.
        message, code = str(error), EXIT_ERROR
    print(f"{PROG} {args.command}: error: {message}", file=stderr)
    return code
