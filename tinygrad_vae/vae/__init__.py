"""The application: a variational autoencoder built from ``tinygrad_vae.nn``, and everything around it.

    model.py       VAE (MLP, conv or user-built encoder and decoder, Gaussian or Bernoulli decoder, mixture
                   prior, IWAE)
    convolutional.py  the conv encoder and decoder of VAE(arch="conv")
    training.py    Trainer, PRESETS, ProgressPrinter: minibatch epochs, checkpoints, exact resume, presets
    datasets.py    the named data sets: mixture, digits, mnist
    metrics.py     sample quality: mode coverage, MMD
    baselines.py   models to compare with: independent pixels, PCA
    evaluation.py  ELBO, importance-weighted log-likelihood and squared error, with standard errors
    figures.py     the notebook's 2x3 figure, figures for image data, a run's figures
    runs.py        run folders: run.json, checkpoint, history; new and resumed runs
    cli.py         the tinygrad-vae command line
"""

from tinygrad_vae.vae.model import VAE, soft_clamp
from tinygrad_vae.vae.training import PRESETS, DivergenceError, Trainer, trainer_from_preset

__all__ = ["PRESETS", "VAE", "DivergenceError", "Trainer", "soft_clamp", "trainer_from_preset"]
