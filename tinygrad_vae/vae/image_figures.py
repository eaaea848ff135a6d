"""Figures for image data: reconstructions, samples, the decoded latent manifold, the latent means by label.

Every function takes plain arrays (images as flattened rows with pixels in
[0, 1]) and writes one PNG. matplotlib is imported only when a figure is
drawn (the optional ``plot`` extra), through its object API with the Agg
canvas, so no window opens and no global pyplot state is touched.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

# Gaussian quantiles of 2.5% and 97.5%: the manifold grid covers the central 95% of the prior on each axis.
MANIFOLD_SPAN = 1.96


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
    if ncols < 1:
        raise ValueError(f"image_grid: ncols must be >= 1, got {ncols}")
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


def latent_grid(n: int, span: float = MANIFOLD_SPAN) -> np.ndarray:
    """An n x n grid of 2-D latent points, z1 left to right and z2 bottom to top, in row-major image order."""
    if n < 2:
        raise ValueError(f"latent_grid: n must be >= 2, got {n}")
    values = np.linspace(-span, span, n)
    z1, z2 = np.meshgrid(values, values[::-1])  # first image row = largest z2, like a plot's y axis
    return np.column_stack([z1.ravel(), z2.ravel()])


def plot_manifold(images: np.ndarray, image_shape: tuple[int, int], path: str | os.PathLike, span: float = MANIFOLD_SPAN) -> None:
    """The decoded manifold: ``images`` decoded from ``latent_grid(n, span)`` (n*n rows), tiled as that grid."""
    n = math.isqrt(len(images))
    if n < 2 or n * n != len(images):
        raise ValueError(f"plot_manifold: expected n*n decoded images (n >= 2) from latent_grid(n), got {len(images)}")
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


def plot_losses(history: dict[str, list[float]], path: str | os.PathLike) -> None:
    """Per-epoch training loss and its two terms, and the test loss where the history has ``test_total``."""
    figure = new_figure(6.4, 4.2)
    ax = figure.subplots()
    epochs = np.arange(1, len(history["total"]) + 1)
    for key, label in (("total", "train loss"), ("recon", "train reconstruction"), ("kl", "train KL")):
        ax.plot(epochs, history[key], label=label, linewidth=1.5)
    test = history.get("test_total", [])
    if len(test):
        ax.plot(epochs[: len(test)], test, label="test loss", linewidth=1.5, linestyle="--", color="black")
    ax.set_xlabel("epoch")
    ax.set_ylabel("nats per example")
    ax.set_title("loss (negative ELBO) by epoch")
    ax.legend()
    ax.grid(True, alpha=0.3)
    _save(figure, path)


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
