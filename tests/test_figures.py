"""Tests of the figures: the notebook's six panels (titles, labels, the data they show, the PNG), the image
figures' layout and input checks, and the figures of a run folder."""

import builtins
import subprocess
import sys

import numpy as np
import pytest

from tinygrad_vae.vae import figures
from tinygrad_vae.vae.datasets import Dataset
from tinygrad_vae.vae.figures import draw_run_figures, notebook_figure, notebook_latent_grid, plot_vae
from tinygrad_vae.vae.model import VAE
from tinygrad_vae.vae.training import Trainer

TITLES = [
    ["Training Loss Components", "Original Data", "Latent Space Encoding ($\\mu$)"],
    ["Reconstructed Data", "Generated Samples from Prior", "Decoded Latent Grid (colored by ||z||)"],
]
LABELS = [
    [("Epoch", "Loss"), ("$x_1$", "$x_2$"), ("$z_1$", "$z_2$")],
    [("$\\hat{x}_1$", "$\\hat{x}_2$"), ("$x_1$", "$x_2$"), ("$x_1$", "$x_2$")],
]


def test_notebook_latent_grid_is_the_notebooks_20_by_20_grid():
    grid = notebook_latent_grid()
    assert grid.shape == (400, 2)
    np.testing.assert_allclose(grid[:3], [[-3.0, -3.0], [-3.0 + 6 / 19, -3.0], [-3.0 + 12 / 19, -3.0]])
    np.testing.assert_allclose(grid[-1], [3.0, 3.0])


def test_figure_has_the_notebooks_panels_and_shows_the_given_arrays(tmp_path):
    rng = np.random.default_rng(0)
    model = VAE(2, hidden_dims=(8,), rng=rng)
    data = rng.normal(size=(50, 2))
    trainer = Trainer(model, lr=1e-2, batch_size=25)
    trainer.fit(data, 3, log_every=None)
    samples = rng.normal(size=(30, 2))
    path = tmp_path / "plot.png"
    figure = plot_vae(model, data, trainer.history, path=path, samples=samples)

    axes = np.array(figure.axes[:6]).reshape(2, 3)
    for r in range(2):
        for c in range(3):
            ax = axes[r, c]
            assert ax.get_title() == TITLES[r][c]
            assert (ax.get_xlabel(), ax.get_ylabel()) == LABELS[r][c]
    # loss curves: the three history lists, labelled as in the notebook
    curves = axes[0, 0].get_lines()
    assert [line.get_label() for line in curves] == ["Total Loss", "Reconstruction", "KL Divergence"]
    for line, key in zip(curves, ("total", "recon", "kl")):
        np.testing.assert_array_equal(line.get_ydata(), trainer.history[key])
    # scatter panels hold the data, the encoder means, the given samples and the decoded grid
    np.testing.assert_allclose(axes[0, 1].collections[0].get_offsets(), data)
    np.testing.assert_allclose(axes[0, 2].collections[0].get_offsets(), model.encode(data)[0].data, rtol=1e-6)
    np.testing.assert_allclose(axes[1, 1].collections[0].get_offsets(), samples)
    assert axes[1, 0].collections[0].get_offsets().shape == (50, 2)
    grid = axes[1, 2].collections[0]
    np.testing.assert_allclose(grid.get_offsets(), model.decode(notebook_latent_grid()).data, rtol=1e-6)
    np.testing.assert_allclose(grid.get_array(), np.linalg.norm(notebook_latent_grid(), axis=1))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_figure_rejects_bad_shapes():
    points = np.zeros((5, 2))
    history = {"total": [1.0], "recon": [1.0], "kl": [0.0]}
    with pytest.raises(ValueError, match=r"notebook_figure: samples must have shape \(n, 2\), got \(5, 3\)"):
        notebook_figure(history, points, points, points, np.zeros((5, 3)), points, points)
    with pytest.raises(KeyError, match=r"notebook_figure: history lacks \['kl'\]"):
        notebook_figure({"total": [1.0], "recon": [1.0]}, points, points, points, points, points, points)
    with pytest.raises(ValueError, match=r"plot_vae: the notebook's figure needs 2-D data and a 2-D latent space, "
                                         r"got input_dim=3, latent_dim=2"):
        plot_vae(VAE(3, rng=np.random.default_rng(0)), np.zeros((4, 3)), history)


def test_missing_matplotlib_names_the_extra(monkeypatch):
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    with pytest.raises(ImportError, match=r"figures need matplotlib, which is not installed: .*'plot' extra: pip install 'tinygrad_vae\[plot\]'"):
        plot_vae(VAE(2, rng=np.random.default_rng(0)), np.zeros((4, 2)), {"total": [], "recon": [], "kl": []})


def test_importing_the_library_does_not_import_matplotlib():
    code = "import sys, tinygrad_vae, tinygrad_vae.vae.figures, tinygrad_vae.vae.training; print('matplotlib' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_example_script_writes_the_figure_and_the_samples(tmp_path):
    root = __file__.rsplit("/tests/", 1)[0]
    out, samples = tmp_path / "plot.png", tmp_path / "samples.npy"
    result = subprocess.run(
        [sys.executable, f"{root}/examples/vae_2d.py", "--epochs", "2", "--seed", "3", "--out", str(out),
         "--save-samples", str(samples)],
        capture_output=True, text=True, env={"PYTHONPATH": root, "PATH": ""}, cwd=tmp_path, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert np.load(samples).shape == (2000, 2)
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Epoch 1/2, Loss: ") and lines[1].startswith("Epoch 2/2, Loss: ")
    assert lines[-2].startswith("Samples within 3 std of a mode: ")


def _loss_axis_limits(history):
    points = np.zeros((4, 2))
    figure = notebook_figure(history, points, points, points, points, points, points)
    return figure.axes[0].get_ylim()


def test_a_huge_first_epoch_does_not_flatten_the_loss_curves():
    epochs = np.arange(100.0)
    settled = {"total": list(2 + np.exp(-epochs / 20)), "recon": list(-2 + np.exp(-epochs / 20)), "kl": [4.0] * 100}
    spiked = {key: [200.0] + values[1:] for key, values in settled.items()}
    low, high = _loss_axis_limits(spiked)
    assert high < 10 and low < -1.5  # fitted to the later epochs, the 200 runs off the top
    low, high = _loss_axis_limits(settled)
    assert low <= -2 + np.exp(-99 / 20) and high >= 4.0  # no spike: every value stays in view


# --------------------------------------------------------------------------
# image figures
# --------------------------------------------------------------------------


def test_image_grid_layout():
    images = np.arange(3 * 4, dtype=np.float64).reshape(3, 4) / 10  # three 2x2 images
    mosaic = figures.image_grid(images, (2, 2), ncols=2, pad=1, pad_value=-1.0)
    expected = np.array(
        [
            [0.0, 0.1, -1, 0.4, 0.5],
            [0.2, 0.3, -1, 0.6, 0.7],
            [-1, -1, -1, -1, -1],
            [0.8, 0.9, -1, -1, -1],
            [1.0, 1.1, -1, -1, -1],
        ]
    )
    np.testing.assert_array_equal(mosaic, expected)
    with pytest.raises(ValueError, match=r"image_grid: expected images of shape \(n, 64\) for image shape \(8, 8\), got \(3, 63\)"):
        figures.image_grid(np.zeros((3, 63)), (8, 8), ncols=2)


def test_manifold_grid_orientation():
    z = figures.manifold_grid(3, span=1.0)
    # row-major like the mosaic: the top-left tile is (z1, z2) = (-1, +1), the bottom-right (+1, -1)
    np.testing.assert_array_equal(z[0], [-1.0, 1.0])
    np.testing.assert_array_equal(z[2], [1.0, 1.0])
    np.testing.assert_array_equal(z[8], [1.0, -1.0])
    with pytest.raises(ValueError, match="manifold_grid: n must be an int >= 2, got 1"):
        figures.manifold_grid(1)


def test_figure_input_errors(tmp_path):
    with pytest.raises(ValueError, match=r"plot_reconstructions: images \(2, 4\) and reconstructions \(3, 4\) differ"):
        figures.plot_reconstructions(np.zeros((2, 4)), np.zeros((3, 4)), (2, 2), tmp_path / "x.png")
    with pytest.raises(ValueError, match=r"plot_manifold: expected n\*n decoded images \(n >= 2\) from manifold_grid\(n\), got 15"):
        figures.plot_manifold(np.zeros((15, 4)), (2, 2), tmp_path / "x.png")
    with pytest.raises(ValueError, match=r"plot_latent_means: expected means of shape \(n, >=2\) and n labels, got \(5, 1\)"):
        figures.plot_latent_means(np.zeros((5, 1)), np.zeros(5), tmp_path / "x.png")
    with pytest.raises(ValueError, match=r"plot_points: expected points of shape \(n, 2\), got \(4, 3\)"):
        figures.plot_points(np.zeros((4, 3)), tmp_path / "x.png", "t")


# --------------------------------------------------------------------------
# the figures of a run
# --------------------------------------------------------------------------


def tiny_images(n_train=12, n_test=6):
    """A made-up image data set of 3x2 images with binary pixels and labels 0..2."""
    rng = np.random.default_rng(0)

    def pixels(n):
        return (rng.random((n, 6)) < 0.5).astype(np.float32)

    return Dataset("tiny", pixels(n_train), np.arange(n_train) % 3, pixels(n_test), np.arange(n_test) % 3, (3, 2))


HISTORY = {"total": [3.0, 2.0], "recon": [2.5, 1.5], "kl": [0.5, 0.5], "test_total": [3.1, 2.1]}


@pytest.mark.parametrize("latent_dim, names", [
    (2, ["reconstructions.png", "samples.png", "losses.png", "manifold.png", "latent.png"]),
    (3, ["reconstructions.png", "samples.png", "losses.png"]),  # no 2-D latent space: no manifold, no latent map
])
def test_run_figures_of_image_data(tmp_path, latent_dim, names):
    model = VAE(6, hidden_dims=(4,), latent_dim=latent_dim, likelihood="bernoulli", rng=np.random.default_rng(1))
    written = draw_run_figures(tmp_path, model, HISTORY, tiny_images())
    assert written == [tmp_path / name for name in names]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names)
    for path in written:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("latent_dim, names", [(2, ["figure.png", "losses.png"]), (3, ["losses.png"])])
def test_run_figures_of_2d_data(tmp_path, latent_dim, names):
    rng = np.random.default_rng(2)
    points = rng.normal(size=(20, 2))
    data = Dataset("points", points, np.zeros(20), points[:5], np.zeros(5))
    model = VAE(2, hidden_dims=(4,), latent_dim=latent_dim, rng=rng)
    assert draw_run_figures(tmp_path, model, HISTORY, data) == [tmp_path / name for name in names]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names)


def test_run_figures_samples_come_from_the_given_generator(tmp_path):
    """The same seed draws the same samples figure; the model's own generator is left alone."""
    model = VAE(6, hidden_dims=(4,), latent_dim=3, likelihood="bernoulli", rng=np.random.default_rng(1))
    before = model.rng.bit_generator.state
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        draw_run_figures(tmp_path / folder, model, HISTORY, tiny_images(), rng=np.random.default_rng(7))
    assert model.rng.bit_generator.state == before
    assert (tmp_path / "a" / "samples.png").read_bytes() == (tmp_path / "b" / "samples.png").read_bytes()
