"""The figures of a VAE: the origin notebook's 2x3 figure for 2-D data, image figures, and a run's figures.

    notebook_figure, plot_vae     the notebook's six panels, for 2-D data and a 2-D latent space
    plot_reconstructions, plot_samples, plot_manifold, plot_latent_means
                                  image data (flattened rows, pixels in [0, 1])
    plot_losses, plot_points      any data: the loss by epoch; a scatter of 2-D points
    draw_run_figures              every figure that fits a model and its data set, into one folder

Two grids of latent points, for two different pictures:

    notebook_latent_grid   the notebook's 20 x 20 grid over [-3, 3]^2, z1 varying fastest (the
                           "Decoded Latent Grid" scatter panel)
    manifold_grid          an n x n grid over the central 95% of the prior (+-1.96), in image order,
                           z2 from top to bottom (the tiles of ``plot_manifold``)

Needs matplotlib (the optional ``plot`` extra), imported only when a figure is
drawn, through its object API on an Agg canvas: no window opens and the global
pyplot state (and backend) of the caller is left alone.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_vae.core import no_grad
from tinygrad_vae.vae.datasets import Dataset
from tinygrad_vae.vae.model import VAE
from tinygrad_vae.validation import check_int

# Gaussian quantiles of 2.5% and 97.5%: the manifold grid covers the central 95% of the prior on each axis.
MANIFOLD_SPAN = 1.96
SHOWN_IMAGES = 64  # test images and samples in a run's image grids
MANIFOLD_SIZE = 15  # a run's decoded latent grid has MANIFOLD_SIZE x MANIFOLD_SIZE images
# Every file name draw_run_figures may write (which of them depends on the data and the latent size).
RUN_FIGURES = ("figure.png", "losses.png", "reconstructions.png", "samples.png", "manifold.png", "latent.png")


def new_figure(width: float, height: float) -> Any:
    """A matplotlib Figure on an Agg canvas, or a clear error naming the extra."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(
            "tinygrad_vae figures need matplotlib, which is not installed: it is the optional 'plot' extra: "
            "pip install 'tinygrad_vae[plot]'"
        ) from None
    figure = Figure(figsize=(width, height), dpi=120)
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Any, path: str | os.PathLike) -> None:
    figure.savefig(path, bbox_inches="tight")


# --------------------------------------------------------------------------
# the notebook's figure
# --------------------------------------------------------------------------


def notebook_latent_grid(n: int = 20, span: float = 3.0) -> np.ndarray:
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
    notebook draws them), the grid is ``notebook_latent_grid()`` decoded. ``samples`` defaults to 2,000 decoder
    means at z ~ p(z). Draws come from ``rng`` (default ``model.rng``). Returns the Figure.
    """
    if model.input_dim != 2 or model.latent_dim != 2:
        raise ValueError(f"plot_vae: the notebook's figure needs 2-D data and a 2-D latent space, "
                         f"got input_dim={model.input_dim}, latent_dim={model.latent_dim}")
    rng = model.rng if rng is None else rng
    grid_z = notebook_latent_grid()
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


# --------------------------------------------------------------------------
# image data
# --------------------------------------------------------------------------


def image_grid(
    images: np.ndarray, image_shape: tuple[int, int], ncols: int, pad: int = 1, pad_value: float = 0.25
) -> np.ndarray:
    """Tile flattened images row by row into one 2-D mosaic, with ``pad`` pixels of ``pad_value`` between tiles.

    Missing tiles in the last row are left at ``pad_value``.
    """
    images = np.asarray(images, dtype=np.float64)
    height, width = image_shape
    if images.ndim != 2 or images.shape[1] != height * width:
        raise ValueError(
            f"image_grid: expected images of shape (n, {height * width}) for image shape {image_shape}, got {images.shape}"
        )
    check_int(ncols, "ncols", "image_grid")
    nrows = math.ceil(len(images) / ncols)
    mosaic = np.full((nrows * (height + pad) - pad, ncols * (width + pad) - pad), pad_value)
    for i, image in enumerate(images):
        r, c = divmod(i, ncols)
        top, left = r * (height + pad), c * (width + pad)
        mosaic[top : top + height, left : left + width] = image.reshape(height, width)
    return mosaic


def _show_grid(ax: Any, mosaic: np.ndarray, title: str) -> None:
    # Dark ink on white paper; the padding shows as thin light-grey lines between tiles.
    ax.imshow(mosaic, cmap="gray_r", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_title(title)
    ax.set_axis_off()


def plot_reconstructions(
    x: np.ndarray, x_hat: np.ndarray, image_shape: tuple[int, int], path: str | os.PathLike, ncols: int = 8
) -> None:
    """Test images (left) beside their reconstructions (right), in the same grid positions."""
    if np.shape(x) != np.shape(x_hat):
        raise ValueError(f"plot_reconstructions: images {np.shape(x)} and reconstructions {np.shape(x_hat)} differ in shape")
    figure = new_figure(10, 5.4)
    left, right = figure.subplots(1, 2)
    _show_grid(left, image_grid(x, image_shape, ncols), "test images")
    _show_grid(right, image_grid(x_hat, image_shape, ncols), "reconstructions")
    _save(figure, path)


def plot_samples(samples: np.ndarray, image_shape: tuple[int, int], path: str | os.PathLike, ncols: int = 8) -> None:
    """A grid of sampled images (e.g. ``VAE.sample``: decoder means at z ~ p(z)), titled as samples from the prior."""
    figure = new_figure(5.4, 5.4)
    _show_grid(figure.subplots(), image_grid(samples, image_shape, ncols), "samples from the prior")
    _save(figure, path)


def manifold_grid(n: int, span: float = MANIFOLD_SPAN) -> np.ndarray:
    """An n x n grid of 2-D latent points over [-span, span]^2 in row-major image order, shape (n*n, 2).

    z1 grows from left to right and z2 from bottom to top, so the first row of the image holds the
    largest z2, like the y axis of a plot.
    """
    check_int(n, "n", "manifold_grid", low=2)
    values = np.linspace(-span, span, n)
    z1, z2 = np.meshgrid(values, values[::-1])  # first image row = largest z2, like a plot's y axis
    return np.column_stack([z1.ravel(), z2.ravel()])


def plot_manifold(images: np.ndarray, image_shape: tuple[int, int], path: str | os.PathLike, span: float = MANIFOLD_SPAN) -> None:
    """The decoded manifold: ``images`` decoded from ``manifold_grid(n, span)`` (n*n rows), tiled as that grid."""
    n = math.isqrt(len(images))
    if n < 2 or n * n != len(images):
        raise ValueError(f"plot_manifold: expected n*n decoded images (n >= 2) from manifold_grid(n), "
                         f"got {len(images)}")
    height, width = image_shape
    edge = span + span / (n - 1)  # half a grid step beyond the outer z values, so tile centres sit at their z
    figure = new_figure(6, 6)
    ax = figure.subplots()
    ax.imshow(
        image_grid(images, image_shape, n),
        cmap="gray_r",
        vmin=0.0,
        vmax=1.0,
        extent=(-edge, edge, -edge, edge),
        interpolation="nearest",
    )
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    ax.set_title(f"decoded latent grid ({n} x {n}, {height}x{width} pixels each)")
    _save(figure, path)


def plot_latent_means(mu: np.ndarray, labels: np.ndarray, path: str | os.PathLike) -> None:
    """Each test image's latent mean (first two latent dimensions), coloured by its label."""
    mu, labels = np.asarray(mu), np.asarray(labels)
    if mu.ndim != 2 or mu.shape[1] < 2 or len(labels) != len(mu):
        raise ValueError(
            f"plot_latent_means: expected means of shape (n, >=2) and n labels, got {mu.shape} and {labels.shape}"
        )
    figure = new_figure(6.4, 5.4)
    ax = figure.subplots()
    classes = np.unique(labels)
    cmap = _colormap("tab10" if len(classes) <= 10 else "tab20")
    for i, label in enumerate(classes):
        chosen = labels == label
        ax.scatter(mu[chosen, 0], mu[chosen, 1], s=8, alpha=0.8, color=cmap(i % cmap.N), label=str(label))
    ax.legend(title="label", markerscale=2, fontsize="small", loc="center left", bbox_to_anchor=(1.0, 0.5))
    ax.set_xlabel("$\\mu_1$")
    ax.set_ylabel("$\\mu_2$")
    ax.set_title("latent means of the test set")
    ax.grid(True, alpha=0.3)
    ax.set_aspect("equal", adjustable="datalim")
    _save(figure, path)


def _colormap(name: str) -> Any:
    from matplotlib import colormaps

    return colormaps[name]


# --------------------------------------------------------------------------
# any data
# --------------------------------------------------------------------------


def loss_labels(model: VAE) -> tuple[str, str]:
    """The title and y-axis label that say what ``model.loss`` (the curves of ``plot_losses``) measures.

    That loss is a negative ELBO (or IWAE bound) in nats only without a reconstruction constant: for a
    Gaussian decoder it is (D/2) log(pi) lower (the notebook's convention), and with beta != 1 the KL
    term is weighted, so the total is no ELBO at all.
    """
    if model.beta != 1:
        objective = f"-log p(x|z) + {model.beta:g} KL"
    elif model.iw_samples > 1:
        objective = f"negative IWAE bound, k={model.iw_samples}"
    else:
        objective = "negative ELBO"
    constant = model.recon_constant
    if constant == 0:
        return f"loss ({objective}) by epoch", "nats per example"
    return (f"loss ({objective} - (D/2) log pi) by epoch",
            f"nats per example, less (D/2) log pi = {constant:.3f}")


def plot_losses(
    history: Mapping[str, Sequence[float]],
    path: str | os.PathLike,
    labels: tuple[str, str] = ("loss by epoch", "loss per example"),
) -> Any:
    """Per-epoch training loss and its two terms, and the test loss where the history has ``test_total``.

    ``labels`` are the title and the y-axis label (``loss_labels(model)`` names the model's loss exactly).
    Returns the Figure.
    """
    figure = new_figure(6.4, 4.2)
    ax = figure.subplots()
    epochs = np.arange(1, len(history["total"]) + 1)
    for key, label in (("total", "train loss"), ("recon", "train reconstruction"), ("kl", "train KL")):
        ax.plot(epochs, history[key], label=label, linewidth=1.5)
    test = history.get("test_total", [])
    if len(test):
        ax.plot(epochs[: len(test)], test, label="test loss", linewidth=1.5, linestyle="--", color="black")
    ax.set_xlabel("epoch")
    ax.set_ylabel(labels[1])
    ax.set_title(labels[0])
    ax.legend()
    ax.grid(True, alpha=0.3)
    _save(figure, path)
    return figure


def plot_points(points: np.ndarray, path: str | os.PathLike, title: str) -> None:
    """A scatter plot of 2-D points (samples of a model of 2-D data)."""
    points = np.asarray(points)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"plot_points: expected points of shape (n, 2), got {points.shape}")
    figure = new_figure(5.4, 5.4)
    ax = figure.subplots()
    ax.scatter(points[:, 0], points[:, 1], s=8, alpha=0.5, color="tab:red")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.set_aspect("equal", adjustable="datalim")
    _save(figure, path)


# --------------------------------------------------------------------------
# the figures of a run
# --------------------------------------------------------------------------


@no_grad()
def draw_run_figures(
    folder: str | os.PathLike,
    model: VAE,
    history: Mapping[str, Sequence[float]],
    data: Dataset,
    rng: np.random.Generator | None = None,
) -> list[Path]:
    """Draw every figure that fits ``model`` and ``data`` into ``folder``; returns the files written.

    - 2-D data: ``figure.png`` (the notebook's, when the latent space is 2-D too) and ``losses.png``.
    - images: ``reconstructions.png`` and ``samples.png`` (``SHOWN_IMAGES`` each), ``losses.png``, and
      for a 2-D latent space ``manifold.png`` (``MANIFOLD_SIZE`` squared tiles) and ``latent.png``.

    ``history`` holds the per-epoch ``total``, ``recon`` and ``kl``, and ``test_total`` where known.
    Samples come from ``rng`` (default ``model.rng``). Raises ImportError, naming the ``plot`` extra,
    without matplotlib.
    """
    folder = Path(folder)
    rng = model.rng if rng is None else rng
    names: list[str] = []
    if data.image_shape is None:
        if model.input_dim == 2 and model.latent_dim == 2:
            plot_vae(model, data.x_train, history, folder / "figure.png", rng=rng)
            names.append("figure.png")
        plot_losses(history, folder / "losses.png", loss_labels(model))
        names.append("losses.png")
        return [folder / name for name in names]
    shown = data.x_test[:SHOWN_IMAGES]
    # Reconstructions at z = mu(x), the model's best guess, without the noise of a sample.
    reconstructions = model.decode(model.encode(shown)[0]).data
    plot_reconstructions(shown, reconstructions, data.image_shape, folder / "reconstructions.png")
    plot_samples(model.sample(SHOWN_IMAGES, rng=rng), data.image_shape, folder / "samples.png")
    plot_losses(history, folder / "losses.png", loss_labels(model))
    names += ["reconstructions.png", "samples.png", "losses.png"]
    if model.latent_dim == 2:
        plot_manifold(model.decode(manifold_grid(MANIFOLD_SIZE)).data, data.image_shape, folder / "manifold.png")
        plot_latent_means(model.encode(data.x_test)[0].data, data.y_test, folder / "latent.png")
        names += ["manifold.png", "latent.png"]
    return [folder / name for name in names]
