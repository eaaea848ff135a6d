"""Training a VAE: minibatch epochs, per-epoch history, progress lines, checkpoints, exact resume, presets.

A ``Trainer`` owns the model, an optimizer, a ``numpy.random.Generator``
(which shuffles the data each epoch and draws the reparameterisation noise)
and the history so far. ``fit(data, epochs)`` trains up to ``epochs`` epochs in
total, so a resumed trainer continues towards the same target.

A checkpoint (``save_checkpoint``, written atomically by
``serialization.save``) holds everything the next epoch depends on: the
model's parameters, the optimizer's state (Adam's moments and step counts),
the number of epochs done, the generator states
(``Generator.bit_generator.state``), the history and the configuration needed
to rebuild model and optimizer. ``Trainer.from_checkpoint(path)`` rebuilds
them, and training on from there gives bit-identical numbers to a run that
was never interrupted.

``PRESETS`` is the one table of named configurations (model, optimizer,
learning rate, batch size, epochs): ``trainer_from_preset`` builds from it, and
the command line starts each data set from its entry in ``DATASET_PRESETS``.
``ProgressPrinter`` prints the per-epoch progress lines of both ``fit`` and the
command line.

Non-finite numbers stop a run instead of spreading through it: data with NaN
or inf is refused before training (naming the row), a batch whose loss is not
finite or whose step leaves NaN or inf in a parameter raises
:class:`DivergenceError` (naming the epoch and the batch), a checkpoint is
never written with non-finite values (so the last good one is kept), and
``from_checkpoint`` refuses a file that holds them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_vae.compiler import compile as compile_step
from tinygrad_vae.core import no_grad, tracing
from tinygrad_vae.data import minibatches
from tinygrad_vae.nn import serialization
from tinygrad_vae.optim import SGD, Adagrad, Adam, AdamW, Optimizer, RMSprop, clip_grad_norm_
from tinygrad_vae.vae.model import VAE
from tinygrad_vae.validation import check_generator, check_int

OPTIMIZERS: dict[str, type[Optimizer]] = {
    "sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop, "adagrad": Adagrad,
}
HISTORY_KEYS = ("total", "recon", "kl")
# Callback signature: callback(trainer, epoch, record) with record = {"total": ..., "recon": ..., "kl": ...}.
Callback = Callable[["Trainer", int, dict[str, float]], None]


class _NonFiniteLoss(ArithmeticError):
    """Raised by a training step whose loss is NaN or inf, before it changes anything."""

    def __init__(self, loss: Any) -> None:
        super().__init__(f"the loss is {loss}")
        self.loss = float(loss)


class DivergenceError(RuntimeError):
    """Training produced a non-finite loss, or a step left NaN or inf in a parameter.

    ``epoch`` and ``batch`` (both counted from 1) say where, ``problem`` what
    (``"the loss is nan"``), ``lr`` is the optimizer's learning rate. The
    trainer's model then holds the broken weights; its last checkpoint (if
    any) holds the last good ones.
    """

    def __init__(self, epoch: int, batch: int, problem: str, lr: float) -> None:
        self.epoch, self.batch, self.problem, self.lr = epoch, batch, problem, lr
        super().__init__(f"Trainer: {self.describe('lr')}")

    def describe(self, lr_name: str) -> str:
        """The message, calling the learning rate ``lr_name`` (the command line's ``--lr``)."""
        return (f"training diverged at epoch {self.epoch}, batch {self.batch}: {self.problem}; "
                f"try a lower learning rate ({lr_name}, now {self.lr:g})")


def check_finite_rows(data: np.ndarray, what: str, error: type[ValueError] = ValueError) -> None:
    """Raise ``error`` naming the first row (and its column) of the 2-D ``data`` that holds NaN or inf.

    ``what`` begins the message: the function and the argument, or the data set.
    """
    finite = np.isfinite(data)
    if not finite.all():
        row, column = np.argwhere(~finite)[0]
        raise error(f"{what}: row {row} holds {data[row, column]} (column {column}) as {data.dtype}; "
                    f"expected finite values")


class ProgressPrinter:
    """Prints one progress line for every ``every``-th epoch of a run of ``epochs`` epochs, and for the last.

    Two styles of line:

    - the notebook's (``timed=False``, what ``Trainer.fit`` prints with ``log_every``)::

          Epoch 100/500, Loss: 2.5163, Recon: 1.4937, KL: 1.0226

    - the command line's (``timed=True``), with the test loss when given, the training
      throughput and an estimate of the time left::

          epoch  12/200  loss 31.4000 (recon 25.1000, kl 6.3000)  test 30.9000  4,210 ex/s  left 0:01:05

      Throughput is ``examples_per_epoch`` over the wall time between ``start_epoch()`` and
      ``end_epoch()`` (the training itself, optimizer steps included, not the work between
      epochs); the time left extrapolates the mean time per epoch since the printer was made,
      counting from ``first_epoch`` (the epochs a resumed run had already done).

    Each line goes to ``print_fn(line)``. With ``in_place=True`` (a terminal) each line overwrites
    the one before: ``print_fn("\\r" + line, end="")``, with ``end="\\n"`` after the last epoch.
    """

    def __init__(
        self,
        epochs: int,
        every: int = 1,
        *,
        timed: bool = False,
        examples_per_epoch: int = 0,
        first_epoch: int = 0,
        in_place: bool = False,
        print_fn: Callable[..., None] = print,
    ) -> None:
        self.epochs = check_int(epochs, "epochs", "ProgressPrinter", low=0)
        self.every = check_int(every, "every", "ProgressPrinter")
        self.timed, self.examples_per_epoch, self.first_epoch = timed, examples_per_epoch, first_epoch
        self.in_place, self.print_fn = in_place, print_fn
        self.line_open = False  # an in-place line was printed and not yet ended
        self.started = self.epoch_started = time.perf_counter()
        self.epoch_seconds = 0.0

    def start_epoch(self) -> None:
        """Mark the start of an epoch's training (for the throughput)."""
        self.epoch_started = time.perf_counter()

    def end_epoch(self) -> None:
        """Mark the end of an epoch's training (for the throughput)."""
        self.epoch_seconds = time.perf_counter() - self.epoch_started

    def line(self, epoch: int, record: dict[str, float], test_loss: float | None = None) -> str:
        """The progress line of ``epoch``, whose mean ``total``, ``recon`` and ``kl`` are in ``record``."""
        if not self.timed:
            return (f"Epoch {epoch}/{self.epochs}, Loss: {record['total']:.4f}, Recon: {record['recon']:.4f}, "
                    f"KL: {record['kl']:.4f}")
        width = len(str(self.epochs))
        text = (f"epoch {epoch:>{width}}/{self.epochs}  loss {record['total']:.4f} "
                f"(recon {record['recon']:.4f}, kl {record['kl']:.4f})")
        if test_loss is not None:
            text += f"  test {test_loss:.4f}"
        per_second = self.examples_per_epoch / max(self.epoch_seconds, 1e-9)
        left = (time.perf_counter() - self.started) / max(epoch - self.first_epoch, 1) * (self.epochs - epoch)
        return text + f"  {per_second:,.0f} ex/s  left {_clock(left)}"

    def __call__(self, epoch: int, record: dict[str, float], test_loss: float | None = None) -> None:
        """Print ``line(epoch, record, test_loss)`` if ``epoch`` is one to report."""
        if epoch % self.every and epoch != self.epochs:
            return
        if self.in_place:
            last = epoch == self.epochs
            self.print_fn("\r" + self.line(epoch, record, test_loss), end="\n" if last else "")
            self.line_open = not last
        else:
            self.print_fn(self.line(epoch, record, test_loss))

    def end_line(self) -> None:
        """End an in-place line early (before a message, when a run stops before its last epoch)."""
        if self.line_open:
            self.print_fn()
            self.line_open = False


def _clock(seconds: float) -> str:
    """``3725.4`` -> ``"1:02:05"``."""
    seconds = round(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Trainer:
    """Minibatch training of a ``VAE`` with one of ``OPTIMIZERS``.

    ``Trainer(model, optimizer="adam", lr=1e-3, batch_size=64, rng=None, clip_norm=None, compile=True,
    **optimizer_kwargs)``

    ``rng`` defaults to ``model.rng``, so a single seeded generator drives the
    initial weights, the shuffling and the noise, as the notebook's global
    random state did. ``clip_norm`` rescales each step's gradients to that
    global L2 norm at most. ``compile`` runs each step through ``tinygrad_vae.compile``
    (the same numbers as eager, several times faster at small sizes); ``compile=False``
    runs it eagerly. Extra keyword arguments go to the optimizer
    (e.g. ``momentum=0.9`` for SGD, ``weight_decay``).
    """

    def __init__(
        self,
        model: VAE,
        optimizer: str = "adam",
        lr: float = 1e-3,
        batch_size: int = 64,
        rng: np.random.Generator | None = None,
        clip_norm: float | None = None,
        compile: bool = True,
        **optimizer_kwargs: Any,
    ) -> None:
        if not isinstance(model, VAE):
            raise TypeError(f"Trainer: model must be a VAE, got {type(model).__name__}")
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"Trainer: optimizer must be one of {sorted(OPTIMIZERS)}, got {optimizer!r}")
        batch_size = check_int(batch_size, "batch_size", "Trainer")
        # None means the model's own generator (not a fresh one): one seed drives the whole run.
        rng = model.rng if rng is None else check_generator(rng, "Trainer")
        if clip_norm is not None and not clip_norm > 0:
            raise ValueError(f"Trainer: clip_norm must be positive or None, got {clip_norm!r}")
        self.model = model
        self.optimizer_name, self.lr, self.optimizer_kwargs = optimizer, float(lr), dict(optimizer_kwargs)
        # Frozen parameters (requires_grad_(False)) are left out of the optimizer.
        trainable = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = OPTIMIZERS[optimizer](trainable, lr=lr, **optimizer_kwargs)
        # By name, so that a step that breaks one can say which; frozen ones cannot change.
        self._trainable = {name: p for name, p in model.named_parameters() if p.requires_grad}
        self.batch_size, self.clip_norm, self.rng = batch_size, clip_norm, rng
        self.epoch = 0  # epochs completed
        self.history: dict[str, list[float]] = {key: [] for key in HISTORY_KEYS}
        self.compile = compile

    @property
    def compile(self) -> bool:
        """Whether each step runs through ``tinygrad_vae.compile`` (settable: ``trainer.compile = False``)."""
        return self._compile

    @compile.setter
    def compile(self, value: bool) -> None:
        self._compile = bool(value)
        self._reset_step()

    def _reset_step(self) -> None:
        """A fresh (compiled) step: after the optimizer's state objects are replaced, old programs must go."""
        self._step_fn = compile_step(self._step) if self.compile else self._step

    def _step(self, batch: np.ndarray, rng: np.random.Generator) -> tuple[Any, Any, Any]:
        """One optimizer step on ``batch``: ``(total, recon, kl)``. A non-finite loss raises ``_NonFiniteLoss``
        before the backward pass and the update (in a compiled step too: the check is recorded)."""
        self.optimizer.zero_grad()
        total, recon, kl = self.model.loss(batch, rng=rng)
        tracing.fail_if(~np.isfinite(total.data), _NonFiniteLoss, total.data)
        total.backward()
        if self.clip_norm is not None:
            clip_grad_norm_(self._trainable.values(), self.clip_norm)
        self.optimizer.step()
        return total, recon, kl

    def config(self) -> dict[str, Any]:
        """What ``from_checkpoint`` needs to rebuild the model and the optimizer."""
        return {
            "model": self.model.config(), "optimizer": self.optimizer_name, "lr": self.lr,
            "optimizer_kwargs": self.optimizer_kwargs, "batch_size": self.batch_size,
            "clip_norm": self.clip_norm, "rng_is_model_rng": self.rng is self.model.rng,
        }

    # ---- training ------------------------------------------------------------------------
    def _check_data(self, data: Any, where: str) -> np.ndarray:
        array = np.asarray(data)
        if array.ndim != 2 or array.shape[1] != self.model.input_dim or len(array) == 0:
            raise ValueError(f"Trainer.{where}: expected data of shape (n, {self.model.input_dim}) with n >= 1, "
                             f"got {array.shape}")
        # Checked after the cast, since a value too large for the model's dtype becomes inf there.
        array = array.astype(self.model.dtype, copy=False)
        check_finite_rows(array, f"Trainer.{where}: data")
        return array

    def train_epoch(self, data: Any) -> dict[str, float]:
        """One pass over ``data`` (shuffled by ``self.rng``) with one optimizer step per batch.

        Returns the batch means of the loss terms (the notebook's epoch numbers) and appends them
        to ``history``. A batch whose loss is not finite, or a step that leaves NaN or inf in a
        parameter (found by the next batch's loss, or after the epoch's last step), raises
        :class:`DivergenceError`; the epoch is then not counted.
        """
        data = self._check_data(data, "train_epoch")
        sums = dict.fromkeys(HISTORY_KEYS, 0.0)
        n_batches = 0
        for batch in minibatches(data, batch_size=self.batch_size, rng=self.rng):
            n_batches += 1
            try:
                losses = self._step_fn(batch, self.rng)
            except _NonFiniteLoss as error:  # NaN or inf in recon or kl makes the total non-finite too
                raise self._diverged(n_batches, f"the loss is {error.loss}") from None
            for key, value in zip(HISTORY_KEYS, losses):
                sums[key] += value.item()
        # A step that leaves NaN or inf in a parameter almost always makes the next batch's loss non-finite,
        # which the check above catches for free. The last step, and a parameter whose broken value does not
        # reach the loss (behind a saturating clamp), are caught here: once an epoch, before any checkpoint.
        broken = serialization.first_nonfinite(self._trainable)
        if broken is not None:
            raise self._diverged(n_batches, f"parameter {broken[0]} holds {broken[1]} after the step")
        record = {key: value / n_batches for key, value in sums.items()}
        for key in HISTORY_KEYS:
            self.history[key].append(record[key])
        self.epoch += 1
        return record

    def _diverged(self, batch: int, problem: str) -> DivergenceError:
        """The error for ``problem`` in batch ``batch`` of the epoch being trained."""
        return DivergenceError(self.epoch + 1, batch, problem, self.optimizer.param_groups[0]["lr"])  # the rate in use

    def fit(
        self,
        data: Any,
        epochs: int,
        callback: Callback | None = None,
        log_every: int | None = 100,
        print_fn: Callable[[str], None] = print,
        checkpoint_path: str | os.PathLike | None = None,
        checkpoint_every: int | None = None,
    ) -> dict[str, list[float]]:
        """Train until ``epochs`` epochs are done in total (a resumed trainer continues where it stopped).

        After each epoch: ``callback(trainer, epoch, record)`` if given; the notebook's progress line
        (``ProgressPrinter``) through ``print_fn`` every ``log_every`` epochs and after the last one
        (None: never); a checkpoint at ``checkpoint_path`` every ``checkpoint_every`` epochs and after
        the last one. Returns the history: lists of per-epoch mean total, recon and kl, from the first
        epoch on.

        Data holding NaN or inf is a ValueError naming the first such row, before any training. A
        run that diverges (see ``train_epoch``) raises :class:`DivergenceError` and writes no
        checkpoint for the epoch it was in, so ``checkpoint_path`` keeps the last good state.
        """
        epochs = check_int(epochs, "epochs", "Trainer.fit", low=0)
        log_every = check_int(log_every, "log_every", "Trainer.fit", allow_none=True)
        checkpoint_every = check_int(checkpoint_every, "checkpoint_every", "Trainer.fit", allow_none=True)
        if checkpoint_every is not None and checkpoint_path is None:
            raise ValueError("Trainer.fit: checkpoint_every needs a checkpoint_path")
        data = self._check_data(data, "fit")
        progress = None if log_every is None else ProgressPrinter(epochs, log_every, print_fn=print_fn)
        while self.epoch < epochs:
            record = self.train_epoch(data)
            if callback is not None:
                callback(self, self.epoch, record)
            if progress is not None:
                progress(self.epoch, record)
            if checkpoint_path is not None and (self.epoch == epochs or (
                    checkpoint_every is not None and self.epoch % checkpoint_every == 0)):
                self.save_checkpoint(checkpoint_path)
        return self.history

    @no_grad()
    def evaluate(self, data: Any, rng: np.random.Generator | None = None) -> dict[str, float]:
        """Mean total, recon and kl of ``model.loss`` over ``data`` in batches, without training.

        The noise comes from ``rng`` (default: a new generator seeded 0), never from ``self.rng``,
        so evaluating does not change the training run.
        """
        data = self._check_data(data, "evaluate")
        rng = np.random.default_rng(0) if rng is None else rng
        sums = dict.fromkeys(HISTORY_KEYS, 0.0)
        for batch in minibatches(data, batch_size=self.batch_size, shuffle=False):
            for key, value in zip(HISTORY_KEYS, self.model.loss(batch, rng=rng)):
                sums[key] += value.item() * len(batch)
        return {key: value / len(data) for key, value in sums.items()}

    # ---- checkpoints ------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything a checkpoint holds: model, optimizer, epoch, generator states, history, config."""
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "epoch": self.epoch,
            "rng": self.rng.bit_generator.state,
            "model_rng": self.model.rng.bit_generator.state,
            "history": {key: list(values) for key, values in self.history.items()},
            "config": self.config(),
        }

    def save_checkpoint(self, path: str | os.PathLike) -> None:
        """Write ``state_dict()`` to ``path`` atomically (a crash mid-write keeps the previous file).

        A state with NaN or inf in the weights or the optimizer's buffers is a ValueError and
        nothing is written, so the file at ``path`` stays the last good checkpoint.
        """
        state = self.state_dict()
        broken = serialization.first_nonfinite(state)
        if broken is not None:
            raise ValueError(f"Trainer.save_checkpoint: {broken[0]} holds {broken[1]}; not writing {os.fspath(path)} "
                             f"(the file there, if any, is kept)")
        serialization.save(state, path)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a ``state_dict()`` (e.g. from ``serialization.load``) into this trainer and its model."""
        for key in ("model", "optimizer", "epoch", "rng", "model_rng", "history"):
            if key not in state:
                raise KeyError(f"Trainer.load_state_dict: missing key {key!r} (expected a Trainer checkpoint)")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self._reset_step()  # the optimizer's state dicts are new objects: programs bound to the old ones go
        self.model.rng.bit_generator.state = state["model_rng"]
        self.rng.bit_generator.state = state["rng"]
        self.epoch = int(state["epoch"])
        self.history = {key: [float(v) for v in values] for key, values in state["history"].items()}

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike) -> Trainer:
        """Rebuild model, optimizer and generators from a checkpoint file, ready to ``fit`` on.

        A file holding NaN or inf in the weights or the optimizer's buffers is a ValueError naming
        the first such array.
        """
        state = serialization.load(path)
        if "config" not in state:
            raise KeyError(f"Trainer.from_checkpoint: {os.fspath(path)} has no 'config' (not a Trainer checkpoint)")
        broken = serialization.first_nonfinite(state)
        if broken is not None:
            raise ValueError(f"Trainer.from_checkpoint: {os.fspath(path)} holds non-finite weights: {broken[0]} "
                             f"holds {broken[1]} (saved from a run that diverged?)")
        config = state["config"]
        if "user_modules" in config["model"]:
            raise ValueError(f"Trainer.from_checkpoint: {os.fspath(path)} holds a VAE with its own "
                             f"{' and '.join(config['model']['user_modules'])} module, which a checkpoint cannot "
                             f"rebuild: build the same VAE and Trainer again, then "
                             f"trainer.load_state_dict(serialization.load(path))")
        model = VAE(**config["model"], rng=np.random.default_rng())
        rng = None if config["rng_is_model_rng"] else np.random.default_rng()
        trainer = cls(model, optimizer=config["optimizer"], lr=config["lr"], batch_size=config["batch_size"],
                      rng=rng, clip_norm=config["clip_norm"], **config.get("optimizer_kwargs", {}))
        trainer.load_state_dict(state)
        return trainer


# Named configurations: the model's architecture (keyword arguments of VAE) and the training.
# "notebook": the origin notebook's model and training (SGD lr 0.01, batch 64, 500 epochs, hidden 32, latent 2,
# weights normal * 0.1, zero biases, squared-error loss = Gaussian decoder with variance 1/2, N(0, I) prior).
# "default": the best sample quality found on the notebook's 2-D data at a similar cost: a learnable mixture of
# 8 Gaussians as the prior, so each data cluster gets its own piece of latent space instead of the decoder having
# to tear N(0, I) apart (with exactly 4 components, one sometimes ends up covering two clusters; with 8 the
# surplus ones fade to weight ~0), and a small fixed decoder variance (0.02), so the latent code carries the
# position within a cluster and the decoder means (what the figure draws) spread like the data instead of
# sitting on the centres.
# "digits", "mnist": Bernoulli decoders for images with pixels in [0, 1], one hidden layer, Adam.
# "digits-conv", "mnist-conv": the same with the convolutional encoder and decoder (vae/convolutional.py).
PRESETS: dict[str, dict[str, Any]] = {
    "notebook": {
        "model": {"hidden_dims": (32,), "latent_dim": 2},
        "optimizer": "sgd", "lr": 0.01, "batch_size": 64, "epochs": 500,
    },
    "default": {
        "model": {"hidden_dims": (32,), "latent_dim": 2, "prior": "mixture", "prior_components": 8,
                  "decoder_variance": 0.02},
        "optimizer": "adam", "lr": 3e-3, "batch_size": 64, "epochs": 200,
    },
    "digits": {
        "model": {"hidden_dims": (128,), "latent_dim": 2, "likelihood": "bernoulli"},
        "optimizer": "adam", "lr": 1e-3, "batch_size": 64, "epochs": 200,
    },
    "mnist": {
        "model": {"hidden_dims": (256,), "latent_dim": 2, "likelihood": "bernoulli"},
        "optimizer": "adam", "lr": 1e-3, "batch_size": 128, "epochs": 20,
    },
    "digits-conv": {
        "model": {"arch": "conv", "image_shape": (1, 8, 8), "hidden_dims": (16, 32), "latent_dim": 2,
                  "likelihood": "bernoulli"},
        "optimizer": "adam", "lr": 1e-3, "batch_size": 64, "epochs": 100,
    },
    "mnist-conv": {
        "model": {"arch": "conv", "image_shape": (1, 28, 28), "hidden_dims": (16, 32), "latent_dim": 2,
                  "likelihood": "bernoulli"},
        "optimizer": "adam", "lr": 1e-3, "batch_size": 128, "epochs": 10,
    },
}
# The preset each data set of the command line starts from; the mixture trains as the notebook did.
DATASET_PRESETS = {"mixture": "notebook", "digits": "digits", "mnist": "mnist"}
# The same with --arch conv (image data only).
CONV_PRESETS = {"digits": "digits-conv", "mnist": "mnist-conv"}


def trainer_from_preset(
    name: str, input_dim: int = 2, rng: np.random.Generator | None = None, dtype: Any = None, compile: bool = True
) -> Trainer:
    """A fresh ``VAE`` and ``Trainer`` configured as ``PRESETS[name]``; ``rng`` drives everything
    (``compile``: see ``Trainer``).

    Train with ``trainer.fit(data, PRESETS[name]["epochs"])``.
    """
    if name not in PRESETS:
        raise ValueError(f"trainer_from_preset: unknown preset {name!r}; expected one of {sorted(PRESETS)}")
    preset = PRESETS[name]
    model = VAE(input_dim, **preset["model"], rng=rng, dtype=dtype)
    return Trainer(model, optimizer=preset["optimizer"], lr=preset["lr"], batch_size=preset["batch_size"],
                   compile=compile)
