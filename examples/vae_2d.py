"""Train a VAE on the notebook's 2-D data (four Gaussian clusters) and draw the notebook's figure.

Run from the repository root after ``pip install '.[plot]'``::

    python examples/vae_2d.py                     # default config, writes plot.png
    python examples/vae_2d.py --config notebook   # the origin notebook's model and training

Configs (two of ``tinygrad_vae.vae.training.PRESETS``, the ones made for this data):

* ``notebook``: the origin notebook: one hidden layer of 32 on each side, latent 2,
  weights normal * 0.1 and zero biases, squared-error loss (a Gaussian decoder with variance 1/2)
  plus the closed-form KL to N(0, I), SGD with lr 0.01, batch 64, 500 epochs. Same data process
  and same loss; the random numbers differ, since this library draws everything from a seeded
  ``numpy.random.Generator`` (``--seed``) instead of the notebook's global legacy ``np.random.seed(42)``
  stream, so the curves and points are not the notebook's exact ones.
* ``default``: better samples at a similar cost: a learnable mixture-of-8-Gaussians prior,
  a decoder variance fixed at 0.02, Adam with lr 3e-3, batch 64, 200 epochs.

"Generated samples" are decoder means at z ~ p(z), as the notebook draws them. After training the
script prints two sample-quality measures of those 2,000 samples against 2,000 fresh data points:
the share within 1.5 (3 std) of a cluster centre and the unbiased RBF-kernel MMD^2 (bandwidth 1).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from tinygrad_vae.data import MODE_CENTERS, gaussian_mixture
from tinygrad_vae.vae.figures import plot_vae
from tinygrad_vae.vae.metrics import mmd_rbf, mode_coverage
from tinygrad_vae.vae.training import PRESETS, Trainer, trainer_from_preset

CONFIGS = ("default", "notebook")  # the presets for the notebook's 2-D data (the others are for images)
N_DATA = 2000  # the notebook's training set
N_SAMPLES = 2000  # samples drawn in the figure, saved and measured
FRESH_DATA_SEED_OFFSET = 1_000_000  # fresh data for measuring comes from seed + this


def train_2d(
    config: str, seed: int, epochs: int | None = None, quiet: bool = False, compile: bool = True
) -> tuple[Trainer, np.ndarray]:
    """Draw the notebook's data and train a preset on it, all from one generator seeded ``seed``
    (each step compiled with ``tinygrad_vae.compile`` unless ``compile`` is False: the same numbers)."""
    rng = np.random.default_rng(seed)
    data = gaussian_mixture(N_DATA, rng=rng)
    trainer = trainer_from_preset(config, rng=rng, compile=compile)
    epochs = PRESETS[config]["epochs"] if epochs is None else epochs
    trainer.fit(data, epochs, log_every=None if quiet else max(1, epochs // 5))
    return trainer, data


def sample_quality(samples: np.ndarray, seed: int) -> dict[str, float]:
    """Share within 1.5 of a mode centre, and unbiased RBF MMD^2 (h = 1) against fresh data."""
    fresh = gaussian_mixture(N_DATA, rng=np.random.default_rng(seed + FRESH_DATA_SEED_OFFSET))
    return {"within_3_std": mode_coverage(samples, MODE_CENTERS, radius=1.5), "mmd2": mmd_rbf(samples, fresh)}


def output_problem(flag: str, path: str, suffix: str) -> str | None:
    """Why ``path`` cannot be written as the ``suffix`` file of ``flag`` (None if it can), so bad paths fail before training."""
    target = Path(path)
    if target.suffix.lower() != suffix:
        return f"{flag} must name a {suffix} file, got {path!r}"
    if target.is_dir():
        return f"{flag} {path!r} is a folder; expected a {suffix} file name"
    parent = target.parent
    if not parent.is_dir():
        return f"{flag} {path!r}: folder {str(parent)!r} does not exist"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", choices=CONFIGS, default="default", help="model and training preset")
    parser.add_argument("--seed", type=int, default=0, help="seed of the one generator behind data, weights and noise")
    parser.add_argument("--epochs", type=int, default=None, help="override the preset's number of epochs")
    parser.add_argument("--out", default="plot.png", help="where to write the figure (PNG)")
    parser.add_argument("--save-samples", metavar="PATH.npy", help="also save the 2,000 generated samples (.npy)")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")
    parser.add_argument("--no-compile", action="store_true", help="run the training steps eagerly (same numbers)")
    args = parser.parse_args(argv)
    problems = [problem for problem in (
        f"--epochs must be at least 1, got {args.epochs}" if args.epochs is not None and args.epochs < 1 else None,
        f"--seed must be an integer >= 0, got {args.seed}" if args.seed < 0 else None,
        output_problem("--out", args.out, ".png"),
        None if args.save_samples is None else output_problem("--save-samples", args.save_samples, ".npy"),
    ) if problem is not None]
    if problems:
        print(f"examples/vae_2d.py: error: {problems[0]}", file=sys.stderr)
        return 2
    try:
        import matplotlib  # noqa: F401  (checked before training rather than after it)
    except ImportError:
        print("examples/vae_2d.py needs matplotlib: pip install '.[plot]'", file=sys.stderr)
        return 1

    start = time.perf_counter()
    trainer, data = train_2d(args.config, args.seed, args.epochs, args.quiet, compile=not args.no_compile)
    seconds = time.perf_counter() - start
    model = trainer.model
    samples = model.sample(N_SAMPLES)  # decoder means at z ~ p(z), from the same generator
    plot_vae(model, data, trainer.history, path=args.out, samples=samples)
    if args.save_samples:
        with open(args.save_samples, "wb") as file:  # np.save on a name would append .npy to s.NPY
            np.save(file, samples)
    if not args.quiet:
        quality = sample_quality(samples, args.seed)
        print(f"Trained the {args.config!r} config for {trainer.epoch} epochs in {seconds:.1f} s")
        print(f"Samples within 3 std of a mode: {quality['within_3_std']:.1%}, "
              f"MMD^2 (RBF, h=1, unbiased) vs fresh data: {quality['mmd2']:.4f}")
        print(f"Figure saved to {args.out}" + (f", samples to {args.save_samples}" if args.save_samples else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
