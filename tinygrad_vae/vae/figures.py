"""The origin notebook's 2x3 figure of a VAE on 2-D data, panel for panel.

Panels (titles and axis labels as in the notebook):

    Training Loss Components | Original Data         | Latent Space Encoding (mu)
    Reconstructed Data       | Generated Samples ... | Decoded Latent Grid (colored by ||z||)

Needs matplotlib (the optional ``plot`` extra), imported only when a figure
is drawn, through its object API on an Agg canvas: no window opens and the
global pyplot state (and backend) of the caller is left alone.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tinygrad_vae.core import no_grad
from tinygrad_vae.vae.image_figures import new_figure  # Agg canvas; ImportError naming the extra
from tinygrad_vae.vae.model import VAE


def latent_grid(n: int = 20, span: float = 3.0) -> np.ndarray:
    """The notebook's n x n grid over [-span, span]^2 as rows (z1, z2), z1 varying fastest, shape (n*n, 2)."""
    axis = np.linspace(-span, span, n)
    z1, z2 = np.meshgrid(axis, axis)
    return np.column_stack([z1.ravel(), z2.ravel()])


def _scatter_panel(ax: Any, points: np.ndarray, title: str, labels: Sequence[str], **style: Any) -> None:
    ax.scatter(points[:, 0], points[:, 1], **{"alpha": 0.5, "s": 10, **style})
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.set_aspect("equal")


def _zoom_past_first_epochs(ax: Any, curves: Sequence[np.ndarray]) -> None:
    """Keep a huge first-epoch loss from flattening the rest of the curves.

    The y-range is fitted to the epochs after the first 2% when the early values
    would otherwise stretch the axis more than threefold; the spike then runs off the top.
    """
    n = min(len(c) for c in curves)
    start = max(1, n // 50)
    if n < 10:
        return
    late = np.concatenate([c[start:n] for c in curves])
    every = np.concatenate([c[:n] for c in curves])
    low, high = late.min(), late.max()
    span = max(high - low, 1e-12)
    if every.max() - low > 3 * span:
        ax.set_ylim(low - 0.1 * span, high + 0.1 * span)


def notebook_figure(
    history: Mapping[str, Sequence[float]],
    data: np.ndarray,
    latent_means: np.ndarray,
    reconstructions: np.ndarray,
    samples: np.ndarray,
    grid_z: np.ndarray,
    grid_decoded: np.ndarray,
    samples_title: str = "Generated Samples from Prior",
) -> Any:
    """Draw the six panels from arrays (each (n, 2)) and the loss history; returns the matplotlib Figure."""
    for name, array in (("data", data), ("latent_means", latent_means), ("reconstructions", reconstructions),
                        ("samples", samples), ("grid_z", grid_z), ("grid_decoded", grid_decoded)):
        if np.ndim(array) != 2 or np.shape(array)[1] != 2:
            raise ValueError(f"notebook_figure: {name} must have shape (n, 2), got {np.shape(array)}")
    missing = [key for key in ("total", "recon", "kl") if key not in history]
    if missing:
        raise KeyError(f"notebook_figure: history lacks {missing} (expected lists under 'total', 'recon', 'kl')")
    figure = new_figure(15, 10)
    axes = figure.subplots(2, 3)

    ax = axes[0, 0]
    for key, label in (("total", "Total Loss"), ("recon", "Reconstruction"), ("kl", "KL Divergence")):
        ax.plot(history[key], label=label, linewidth=2)
    ax.set_xlabel("Epoch")
    ax.set_ylabel("Loss")
    ax.set_title("Training Loss Components")
    _zoom_past_first_epochs(ax, [np.asarray(history[key], dtype=float) for key in ("total", "recon", "kl")])
    ax.legend()
    ax.grid(True, alpha=0.3)

    _scatter_panel(axes[0, 1], data, "Original Data", ("$x_1$", "$x_2$"), c="blue")
    _scatter_panel(axes[0, 2], latent_means, "Latent Space Encoding ($\\mu$)", ("$z_1$", "$z_2$"), c="green")
    _scatter_panel(axes[1, 0], reconstructions, "Reconstructed Data", ("$\\hat{x}_1$", "$\\hat{x}_2$"), c="orange")
    _scatter_panel(axes[1, 1], samples, samples_title, ("$x_1$", "$x_2$"), c="red")
    _scatter_panel(axes[1, 2], grid_decoded, "Decoded Latent Grid (colored by ||z||)", ("$x_1$", "$x_2$"),
                   c=np.linalg.norm(grid_z, axis=1), cmap="viridis", alpha=0.7, s=15)
    figure.tight_layout()
    return figure


def plot_vae(
    model: VAE,
    data: np.ndarray,
    history: Mapping[str, Sequence[float]],
    path: str | os.PathLike | None = None,
    samples: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
    samples_title: str = "Generated Samples from Prior",
    dpi: int = 150,
) -> Any:
    """The notebook's figure for a trained 2-D ``model``; written to ``path`` (PNG) when given.

    Latent means are mu(x) of the encoder, reconstructions decoder means at one z ~ q(z|x) (as the
    notebook draws them), the grid is ``latent_grid()`` decoded. ``samples`` defaults to 2,000 decoder
    means at z ~ p(z). Draws come from ``rng`` (default ``model.rng``). Returns the Figure.
    """
    if model.input_dim != 2 or model.latent_dim != 2:
        raise ValueError(f"plot_vae: the notebook's figure needs 2-D data and a 2-D latent space, "
                         f"got input_dim={model.input_dim}, latent_dim={model.latent_dim}")
    rng = model.rng if rng is None else rng
    grid_z = latent_grid()
    with no_grad():
        latent_means, grid_decoded = model.encode(data)[0].data, model.decode(grid_z).data
    figure = notebook_figure(
        history, np.asarray(data), latent_means, model.reconstruct(data, rng=rng),
        model.sample(2000, rng=rng) if samples is None else samples, grid_z, grid_decoded,
        samples_title=samples_title,
    )
    if path is not None:
        figure.savefig(path, dpi=dpi, bbox_inches="tight")
    return figure
