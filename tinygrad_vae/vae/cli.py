"""The ``tinygrad-vae`` command line (also ``python -m tinygrad_vae``): train, evaluate, sample, plot.

This module parses the options and prints; the work is done by the library:
run folders in ``runs`` (run.json, checkpoint, history), training in
``training``, the statistics of ``evaluate`` in ``evaluation``, the figures in
``figures``.

Bad input (an unknown data set, a missing or malformed file, an impossible
option value, a checkpoint that does not fit the run) ends with one line on
stderr naming the problem and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from tinygrad_vae.vae import figures, runs
from tinygrad_vae.vae.datasets import DATASETS
from tinygrad_vae.vae.evaluation import baseline_statistics, model_statistics
from tinygrad_vae.vae.model import ARCHS, LIKELIHOODS, VAE
from tinygrad_vae.vae.runs import Run
from tinygrad_vae.vae.training import CONV_PRESETS, OPTIMIZERS, DivergenceError, ProgressPrinter, Trainer

PROG = "tinygrad-vae"
EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130
MAX_SAMPLE_TILES = 256  # images in one 'sample --out FILE.png' figure: a 16 x 16 grid


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


def _output_flags(parser: argparse.ArgumentParser, verbose_help: str) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    group.add_argument("-v", "--verbose", action="store_true", help=verbose_help)


# What -v adds to the commands that read a run (see _open_run).
VERBOSE_READ_HELP = "also print which run, checkpoint and data set were loaded (on stderr)"


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
            f"  {PROG} train --dataset digits --binarize --arch conv --out runs/digits-conv\n"
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
            f"  {name:<8} {'channels' if arch == 'conv' else 'hidden'} {','.join(map(str, d['hidden_dims']))}, "
            f"latent {d['latent_dim']}, {d['likelihood']}, "
            f"{d['optimizer']} lr {d['lr']}, batch {d['batch_size']}, {d['epochs']} epochs"
            for name, arch, d in ((name, arch, runs.dataset_defaults(name, arch)) for name in DATASETS
                                  for arch in ARCHS if arch == "mlp" or name in CONV_PRESETS)
        ) + "\n  (mixture: the origin notebook's settings; the second line of an image data set: --arch conv)",
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
    model.add_argument("--arch", choices=ARCHS, help="mlp: fully connected layers (default); conv: convolutions "
                       "over the images and transposed convolutions back (digits, mnist)")
    model.add_argument("--hidden-dims", metavar="N[,N...]", type=dims_list,
                       help="hidden layer widths, e.g. 128,64 (with --arch conv: the channels, e.g. 16,32)")
    model.add_argument("--latent-dim", metavar="N", type=positive_int, help="size of z")
    model.add_argument("--likelihood", choices=LIKELIHOODS, help="decoder distribution p(x|z)")
    model.add_argument("--beta", metavar="B", type=nonnegative_float, help="weight of the KL term (default 1)")
    opt = train.add_argument_group("optimization")
    opt.add_argument("--optimizer", choices=sorted(OPTIMIZERS))
    opt.add_argument("--lr", metavar="LR", type=positive_float, help="learning rate")
    opt.add_argument("--batch-size", metavar="N", type=positive_int)
    opt.add_argument("--epochs", metavar="N", type=positive_int, help="total epochs (with --resume: the new total)")
    opt.add_argument("--no-compile", action="store_true",
                     help="run each training step eagerly instead of through tinygrad_vae.compile (same numbers)")
    opt.add_argument("--seed", metavar="S", type=nonnegative_int,
                     help="seeds the initial weights, the shuffling and the noise (default 0)")
    run = train.add_argument_group("run folder")
    run.add_argument("--out", metavar="RUN_DIR", type=Path, help="run folder to create (default runs/DATASET)")
    run.add_argument("--resume", metavar="RUN_DIR", type=Path,
                     help="continue the run in RUN_DIR from its checkpoint (bit-identical to never stopping)")
    run.add_argument("--force", action="store_true", help="start over in an --out folder that already holds a run")
    run.add_argument("--history-format", choices=runs.HISTORY_FORMATS, help="per-epoch history file (default csv)")
    run.add_argument("--no-figures", action="store_true", help="do not draw the figures at the end")
    _output_flags(train, "print more: the run's setup, and every epoch on its own line")
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
    _output_flags(evaluate, VERBOSE_READ_HELP)
    evaluate.set_defaults(handler=cmd_evaluate)

    sample = commands.add_parser("sample", help="draw samples from the prior, as a figure or an .npy file",
                                 description="Decode z ~ N(0, I) and write the samples as a PNG figure or an .npy array.")
    _checkpoint_flag(sample)
    sample.add_argument("--out", metavar="FILE", type=Path, required=True, help="FILE.png (a figure) or FILE.npy")
    sample.add_argument("-n", metavar="N", type=positive_int, default=64, help="number of samples (default 64)")
    sample.add_argument("--seed", metavar="S", type=nonnegative_int, default=0)
    sample.add_argument("--draw", action="store_true",
                        help="draw x ~ p(x|z) instead of taking the decoder mean (binary pixels for Bernoulli)")
    _output_flags(sample, VERBOSE_READ_HELP)
    sample.set_defaults(handler=cmd_sample)

    plot = commands.add_parser("plot", help="draw the figures of a run folder again",
                               description="Redraw the run's figures from its checkpoint into the run folder.")
    _checkpoint_flag(plot)
    plot.add_argument("--seed", metavar="S", type=nonnegative_int, default=0, help="seeds the samples (default 0)")
    _output_flags(plot, VERBOSE_READ_HELP)
    plot.set_defaults(handler=cmd_plot)
    return parser


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


# --------------------------------------------------------------------------
# the commands
# --------------------------------------------------------------------------


def cmd_train(args: argparse.Namespace, console: Console) -> int:
    if args.resume is not None and args.out is not None:
        raise CliError("give either --out (a new run) or --resume (an existing one), not both")
    given = {name: getattr(args, name) for name in runs.SETTING_NAMES if getattr(args, name) is not None}
    if args.resume is not None:
        data_options = {"dataset": args.dataset, "data_dir": args.data_dir, "binarize": args.binarize}
        run = runs.resume_run(args.resume, given, data_options)
        test_losses = run.test_losses()
    else:
        dataset = args.dataset or "mixture"
        folder = args.out if args.out is not None else Path("runs") / dataset
        run = runs.start_run(folder, dataset, args.data_dir, args.binarize, given, args.force)
        test_losses = []
    run.write_record()
    trainer, data, settings = run.trainer, run.data, run.settings
    trainer.compile = not args.no_compile
    model = trainer.model
    console.detail(f"{run.folder}: {data.name} ({len(data.x_train)} train / {len(data.x_test)} test examples); "
                   f"{_describe(model)}, {model.num_parameters()} parameters; "
                   f"{type(trainer.optimizer).__name__} lr {trainer.optimizer.param_groups[0]['lr']:g}; "
                   f"{settings['batch_size']} per batch; seed {settings['seed']}")
    progress = _progress_printer(console, settings["epochs"], len(data.x_train), trainer.epoch)

    def after_epoch(trainer: Trainer, epoch: int, record: dict[str, float]) -> None:
        progress.end_epoch()
        # The test loss uses its own fixed noise, so evaluating never changes the training run.
        test_losses.append(trainer.evaluate(data.x_test, rng=np.random.default_rng(0))["total"])
        run.write_history(test_losses)
        if not console.quiet:
            progress(epoch, record, test_losses[-1])
        progress.start_epoch()

    if trainer.epoch == settings["epochs"]:
        console.note(f"{run.folder} already has {trainer.epoch} epochs; nothing to train (raise --epochs to go on)")
    try:
        # NumPy's overflow warnings would only come before the one-line error that says where training diverged.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            trainer.fit(data.x_train, settings["epochs"], callback=after_epoch, log_every=None,
                        checkpoint_path=run.checkpoint_path, checkpoint_every=1)
    except KeyboardInterrupt:
        progress.end_line()  # before the message
        if not run.checkpoint_path.is_file():
            # Interrupted before the first checkpoint: nothing to resume, so take back run.json (and any
            # history), and the same command starts the run again without --force.
            run.discard_unstarted()
            raise CliError("interrupted during the first epoch, before any checkpoint: nothing to resume; "
                           "run the same command again to start over", EXIT_INTERRUPTED) from None
        raise CliError(f"interrupted after epoch {trainer.epoch}; continue with: {PROG} train --resume {run.folder}",
                       EXIT_INTERRUPTED) from None
    except DivergenceError as error:
        progress.end_line()
        # A checkpoint is written after every epoch, and never with broken weights.
        kept = f"; {run.checkpoint_path} keeps epoch {trainer.epoch}" if trainer.epoch else ""
        raise CliError(error.describe("--lr") + kept) from None
    test_part = f", test loss {test_losses[-1]:.4f}" if test_losses else ""
    console.result(f"{run.folder}: {trainer.epoch} epochs, train loss {trainer.history['total'][-1]:.4f}{test_part}; "
                   f"'{PROG} evaluate {run.folder}' measures the ELBO in nats")
    if not args.no_figures:
        try:
            _draw_figures(run, {**trainer.history, "test_total": test_losses}, console, strict=False)
        except KeyboardInterrupt:
            raise CliError(f"interrupted while drawing the figures; the trained run is saved, draw them with: "
                           f"{PROG} plot {run.folder}", EXIT_INTERRUPTED) from None
    return 0


def _progress_printer(console: Console, epochs: int, n_examples: int, first_epoch: int) -> ProgressPrinter:
    """Per-epoch lines on stderr: rewritten in place on a terminal; in a log file about ten over the run;
    with -v every epoch on its own line."""
    in_place = console.stderr.isatty() and not console.verbose
    every = 1 if console.verbose or in_place else max(1, math.ceil((epochs - first_epoch) / 10))
    return ProgressPrinter(epochs, every, timed=True, examples_per_epoch=n_examples, first_epoch=first_epoch,
                           in_place=in_place, print_fn=functools.partial(print, file=console.stderr, flush=True))


def _draw_figures(run: Run, history: dict[str, list[float]], console: Console, strict: bool, seed: int = 0) -> None:
    """Draw the run's figures into its folder, samples seeded by ``seed``. Without matplotlib: an error if
    ``strict``, else a note."""
    try:
        written = figures.draw_run_figures(run.folder, run.trainer.model, history, run.data,
                                           rng=np.random.default_rng(seed))
    except ImportError as error:
        if strict:
            raise CliError(str(error)) from None
        console.note(f"figures skipped: {error}")
        return
    console.result(f"figures: {', '.join(map(str, written))}")


def _describe(model: VAE) -> str:
    """``VAE 64-128-2, bernoulli decoder`` or ``conv VAE 1x8x8, channels 16,32, latent 2, bernoulli decoder``."""
    if model.arch == "conv":
        shape = "x".join(map(str, model.image_shape))
        layers = f"conv VAE {shape}, channels {','.join(map(str, model.hidden_dims))}, latent {model.latent_dim}"
    else:
        layers = f"VAE {model.input_dim}-{'-'.join(map(str, model.hidden_dims))}-{model.latent_dim}"
    return f"{layers}, {model.likelihood} decoder"


def _open_run(args: argparse.Namespace, console: Console) -> Run:
    """The run of ``args.run_dir`` (with ``args.checkpoint``), described with -v."""
    run = runs.open_run(args.run_dir, args.checkpoint)
    model, data = run.trainer.model, run.data
    console.detail(f"{run.folder}: checkpoint {args.checkpoint or run.checkpoint_path} after {run.trainer.epoch} "
                   f"epochs; {_describe(model)}; {data.name} ({len(data.x_train)} train / {len(data.x_test)} test)")
    return run


def cmd_evaluate(args: argparse.Namespace, console: Console) -> int:
    run = _open_run(args, console)
    model, data, k = run.trainer.model, run.data, args.samples
    x = data.x_test if args.split == "test" else data.x_train
    if args.baselines and data.image_shape is None:
        raise CliError("--baselines compares image models (digits, mnist); this run is on the 2-D mixture")
    results: dict[str, Any] = {"dataset": data.name, "split": args.split, "examples": len(x),
                               "epochs": run.trainer.epoch, "k": k,
                               **model_statistics(model, x, k=k, rng=np.random.default_rng(args.seed))}
    if args.baselines:
        results.update(baseline_statistics(data.x_train, x, n_components=model.latent_dim))
    if args.json:
        console.result(json.dumps(results))
        return 0
    nats = [("ELBO, one z per example", "elbo"), (f"log p(x), importance-weighted, k={k}", "log_likelihood")]
    errors = [("VAE, decoder mean at z = mu(x)", "squared_error")]
    if args.baselines:
        nats.append(("baseline: independent pixels, alpha=1", "baseline_bernoulli_log_likelihood"))
        errors.append((f"baseline: PCA, {model.latent_dim} components", "baseline_pca_squared_error"))
    lines = [(f"{data.name} {args.split} set, {len(x)} examples, model after {run.trainer.epoch} epochs "
              f"(mean +- standard error over the examples)"), "nats per example:"]
    lines += [f"  {label:<40} {results[key]:10.3f} +- {results[key + '_se']:.3f}" for label, key in nats]
    lines.append("squared reconstruction error per example:")
    lines += [f"  {label:<40} {results[key]:10.3f} +- {results[key + '_se']:.3f}" for label, key in errors]
    if model.likelihood == "bernoulli" and not np.isin(x, (0.0, 1.0)).all():
        lines.append("note: the pixels are not binary, so the Bernoulli numbers are cross-entropies, not "
                     "log-probabilities; train with --binarize for a true log-likelihood")
    console.result("\n".join(lines))
    return 0


def cmd_sample(args: argparse.Namespace, console: Console) -> int:
    suffix = args.out.suffix.lower()
    if suffix not in (".png", ".npy"):
        raise CliError(f"--out must end in .png (a figure) or .npy (the array), got {args.out}")
    run = _open_run(args, console)
    n = args.n
    if suffix == ".png" and run.data.image_shape is not None and n > MAX_SAMPLE_TILES:
        # Beyond this the tiles shrink below a few screen pixels each and the figure becomes a texture.
        console.note(f"a figure shows at most {MAX_SAMPLE_TILES} images legibly, so {args.out} gets "
                     f"{MAX_SAMPLE_TILES} of the -n {n}; write a .npy file for all of them")
        n = MAX_SAMPLE_TILES
    samples = run.trainer.model.sample(n, rng=np.random.default_rng(args.seed), mean=not args.draw)
    if suffix == ".npy":
        with open(args.out, "wb") as file:  # np.save on a name would append .npy to s.NPY
            np.save(file, samples)
    elif run.data.image_shape is None:
        figures.plot_points(samples, args.out, f"{n} samples from the prior")
    else:
        figures.plot_samples(samples, run.data.image_shape, args.out, ncols=math.ceil(math.sqrt(n)))
    console.result(f"wrote {n} samples to {args.out}")
    return 0


def cmd_plot(args: argparse.Namespace, console: Console) -> int:
    run = _open_run(args, console)
    _draw_figures(run, {**run.trainer.history, "test_total": run.test_losses()}, console, strict=True, seed=args.seed)
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
    except (ValueError, OSError, ImportError) as error:  # RunError and DatasetError are ValueErrors
        # Library errors already name the function, the file or the option, and what was wrong.
        message, code = str(error), EXIT_ERROR
    except KeyboardInterrupt:  # Ctrl-C: evaluate, sample and plot only read the run, so nothing needs saving
        message, code = "interrupted", EXIT_INTERRUPTED
    print(f"{PROG} {args.command}: error: {message}", file=stderr)
    return code
