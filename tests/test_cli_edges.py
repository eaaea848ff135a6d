"""Edge cases of the command line and the example script: bad paths, --force, Ctrl-C, MNIST files, big samples."""

from __future__ import annotations

import importlib.util
import io
import re
from pathlib import Path

import numpy as np
import pytest

from tinygrad_vae.vae import cli, figures
from tinygrad_vae.vae.training import Trainer

ROOT = Path(__file__).resolve().parent.parent
TINY = ["--hidden-dims", "4", "--batch-size", "512", "--epochs", "1", "-q"]


def run(*argv: str | Path) -> tuple[int, str, str]:
    """``cli.main(argv)`` in-process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    code = cli.main([str(a) for a in argv], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def one_line(err: str, pattern: str) -> None:
    """Exactly one line on stderr, no traceback, matching ``pattern``."""
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert re.search(pattern, err), err


# --------------------------------------------------------------------------
# examples/vae_2d.py checks its paths and seed before training
# --------------------------------------------------------------------------


def _example_main():
    spec = importlib.util.spec_from_file_location("vae_2d_example", ROOT / "examples" / "vae_2d.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


@pytest.mark.parametrize("argv, pattern", [
    (["--out", "nodir/plot.png"], r"--out 'nodir/plot.png': folder 'nodir' does not exist"),
    (["--out", "plot.txt"], r"--out must name a .png file, got 'plot.txt'"),
    (["--save-samples", "s.txt"], r"--save-samples must name a .npy file, got 's.txt'"),
    (["--save-samples", "nodir/s.npy"], r"--save-samples 'nodir/s.npy': folder 'nodir' does not exist"),
    (["--seed", "-1"], r"--seed must be an integer >= 0, got -1"),
    (["--epochs", "0"], r"--epochs must be at least 1, got 0"),
])
def test_example_rejects_bad_arguments_before_training(argv, pattern, tmp_path, monkeypatch, capsys) -> None:
    main = _example_main()
    monkeypatch.chdir(tmp_path)
    module_globals = main.__globals__
    monkeypatch.setitem(module_globals, "train_2d", lambda *a, **k: pytest.fail("trained despite bad arguments"))
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("examples/vae_2d.py: error: ")
    one_line(captured.err, pattern)
    assert list(tmp_path.iterdir()) == []


def test_example_rejects_an_out_that_is_a_folder(tmp_path, monkeypatch, capsys) -> None:
    main = _example_main()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d.png").mkdir()
    assert main(["--out", "d.png"]) == 2
    one_line(capsys.readouterr().err, r"^examples/vae_2d.py: error: --out 'd.png' is a folder; expected a .png file name$")


# --------------------------------------------------------------------------
# --force starts over without stale files; Ctrl-C
# --------------------------------------------------------------------------


def test_force_removes_the_old_runs_files_and_keeps_the_users(tmp_path: Path) -> None:
    folder = tmp_path / "r"
    assert run("train", "--out", folder, *TINY)[0] == 0  # with figures: figure.png, losses.png, history.csv
    (folder / "notes.txt").write_text("mine")
    (folder / "sub").mkdir()
    assert {"figure.png", "losses.png", "history.csv"} <= {p.name for p in folder.iterdir()}
    code, _, err = run("train", "--out", folder, "--force", "--history-format", "json", "--no-figures", *TINY)
    assert code == 0, err
    assert sorted(p.name for p in folder.iterdir()) == ["checkpoint.npz", "history.json", "notes.txt", "run.json",
                                                       "sub"]
    assert (folder / "notes.txt").read_text() == "mine"


def test_force_keeps_the_old_run_when_the_new_one_cannot_start(tmp_path: Path) -> None:
    folder = tmp_path / "r"
    assert run("train", "--out", folder, "--no-figures", *TINY)[0] == 0
    before = sorted(p.name for p in folder.iterdir())
    code, _, err = run("train", "--out", folder, "--force", "--likelihood", "bernoulli", *TINY)
    assert code == 1
    one_line(err, r"the bernoulli likelihood needs data in \[0, 1\]")
    assert sorted(p.name for p in folder.iterdir()) == before


def _interrupt(*args: object, **kwargs: object) -> None:
    raise KeyboardInterrupt


def test_ctrl_c_in_the_first_epoch_leaves_nothing_to_force(tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "r"
    folder.mkdir()
    (folder / "samples.png").write_text("the user's, from an earlier 'sample'")
    monkeypatch.setattr(Trainer, "train_epoch", _interrupt)
    code, out, err = run("train", "--out", folder, *TINY)
    assert code == 130 and out == ""
    one_line(err, r"^tinygrad-vae train: error: interrupted during the first epoch, before any checkpoint: "
                  r"nothing to resume; run the same command again to start over$")
    assert [p.name for p in folder.iterdir()] == ["samples.png"]
    monkeypatch.undo()
    code, _, err = run("train", "--out", folder, "--no-figures", *TINY)  # the plain rerun, no --force
    assert code == 0, err


def test_ctrl_c_while_drawing_the_training_figures(tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "r"
    monkeypatch.setattr(figures, "draw_run_figures", _interrupt)
    code, _, err = run("train", "--out", folder, *TINY)
    assert code == 130
    one_line(err, r"interrupted while drawing the figures; the trained run is saved, draw them with: "
                  r"tinygrad-vae plot .*r$")
    assert Trainer.from_checkpoint(folder / "checkpoint.npz").epoch == 1


@pytest.fixture(scope="module")
def mixture_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-epoch run on the 2-D mixture, without figures, shared by the read-only tests below."""
    folder = tmp_path_factory.mktemp("runs") / "mixture"
    code, _, err = run("train", "--out", folder, "--no-figures", *TINY)
    assert code == 0, err
    return folder


@pytest.mark.parametrize("target, argv", [
    ("tinygrad_vae.vae.cli.model_statistics", ["evaluate", "-k", "2"]),
    ("tinygrad_vae.vae.cli.runs.open_run", ["sample", "--out", "s.npy"]),
    ("tinygrad_vae.vae.cli.figures.draw_run_figures", ["plot"]),
])
def test_ctrl_c_in_evaluate_sample_plot_is_one_line(target, argv, mixture_run, monkeypatch) -> None:
    monkeypatch.setattr(target, _interrupt)
    code, out, err = run(argv[0], mixture_run, *argv[1:])
    assert code == 130 and out == ""
    one_line(err, rf"^tinygrad-vae {argv[0]}: error: interrupted$")


# --------------------------------------------------------------------------
# MNIST folders with something wrong, written here as tiny IDX files
# --------------------------------------------------------------------------


def _idx(array: np.ndarray, type_code: int = 0x08) -> bytes:
    """An IDX file by the spec: magic 0, 0, type, ndim; big-endian uint32 sizes; big-endian elements."""
    big_endian = {0x08: ">u1", 0x09: ">i1"}[type_code]
    return bytes([0, 0, type_code, array.ndim]) + np.array(array.shape, ">u4").tobytes() + array.astype(big_endian).tobytes()


def _mnist_folder(folder: Path, n_train: int = 8, labels: np.ndarray | None = None, label_type: int = 0x08) -> Path:
    rng = np.random.default_rng(0)
    folder.mkdir()
    for prefix, n in (("train", n_train), ("t10k", 4)):
        (folder / f"{prefix}-images-idx3-ubyte").write_bytes(_idx(rng.integers(0, 256, (n, 3, 2), dtype=np.uint8)))
        own = labels if labels is not None and prefix == "train" else rng.integers(0, 10, n)
        (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(_idx(np.asarray(own), label_type))
    return folder


@pytest.mark.parametrize("make, pattern", [
    (lambda d: _mnist_folder(d, n_train=0, labels=np.zeros(0, np.uint8)),
     r"load_mnist: .*train-images-idx3-ubyte holds no pixels: shape \(0, 3, 2\); expected at least one image"),
    (lambda d: _mnist_folder(d, labels=np.array([0, 1, 2, 3, 10, 4, 255, 10])),
     r"load_mnist: .*train-labels-idx1-ubyte has labels \[10, 255\] \(3 of 8\); expected the digits 0-9"),
    (lambda d: _mnist_folder(d, labels=np.array([0, 1, 2, 3, -1, 4, 5, 6]), label_type=0x09),
     r"load_mnist: .*train-labels-idx1-ubyte has labels \[-1\] \(1 of 8\); expected the digits 0-9"),
    (lambda d: (d.write_bytes(b"not a folder"), d)[1],
     r"load_mnist: data directory .*mnist is a file, not a folder \(expected the folder holding the four IDX files\)"),
])
def test_mnist_folder_problems_are_one_line(make, pattern, tmp_path: Path) -> None:
    data_dir = make(tmp_path / "mnist")
    code, out, err = run("train", "--dataset", "mnist", "--data-dir", data_dir, "--out", tmp_path / "r", *TINY)
    assert code == 1 and out == ""
    one_line(err, r"^tinygrad-vae train: error: " + pattern)
    assert not (tmp_path / "r").exists()


def test_out_naming_a_file(tmp_path: Path) -> None:
    (tmp_path / "r").write_text("mine")
    code, _, err = run("train", "--out", tmp_path / "r", *TINY)
    assert code == 1
    one_line(err, r"^tinygrad-vae train: error: --out .*r is a file, not a folder \(expected a run folder")
    assert (tmp_path / "r").read_text() == "mine"


# --------------------------------------------------------------------------
# the loss figure says what it plots
# --------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, title, ylabel", [
    # Gaussian decoder, 2-D data: the loss is the negative ELBO less (2/2) log(pi) = 1.1447 nats.
    ({}, "loss (negative ELBO - (D/2) log pi) by epoch", "nats per example, less (D/2) log pi = 1.145"),
    ({"likelihood": "bernoulli"}, "loss (negative ELBO) by epoch", "nats per example"),
    ({"likelihood": "bernoulli", "beta": 0.5}, "loss (-log p(x|z) + 0.5 KL) by epoch", "nats per example"),
    ({"beta": 2.0}, "loss (-log p(x|z) + 2 KL - (D/2) log pi) by epoch", "nats per example, less (D/2) log pi = 1.145"),
    ({"likelihood": "bernoulli", "iw_samples": 4}, "loss (negative IWAE bound, k=4) by epoch", "nats per example"),
])
def test_losses_figure_labels_what_it_plots(kwargs, title, ylabel, tmp_path: Path) -> None:
    from tinygrad_vae.vae.model import VAE

    model = VAE(2, (4,), 2, rng=np.random.default_rng(0), **kwargs)
    history = {"total": [3.0, 2.0], "recon": [2.0, 1.5], "kl": [1.0, 0.5]}
    figure = figures.plot_losses(history, tmp_path / "losses.png", figures.loss_labels(model))
    assert (figure.axes[0].get_title(), figure.axes[0].get_ylabel()) == (title, ylabel)


def test_a_mixture_runs_losses_png_is_labelled_with_the_constant(tmp_path: Path, monkeypatch) -> None:
    drawn: list[tuple[str, str]] = []
    real = figures.plot_losses
    monkeypatch.setattr(figures, "plot_losses", lambda history, path, labels: drawn.append(labels) or real(
        history, path, labels))
    assert run("train", "--out", tmp_path / "r", *TINY)[0] == 0
    assert drawn == [("loss (negative ELBO - (D/2) log pi) by epoch", "nats per example, less (D/2) log pi = 1.145")]


# --------------------------------------------------------------------------
# sample: a figure holds a legible number of images
# --------------------------------------------------------------------------


def test_sample_png_caps_the_grid_and_says_so(tmp_path: Path, monkeypatch) -> None:
    folder, mnist = tmp_path / "run", _mnist_folder(tmp_path / "mnist")  # 3x2-pixel images
    assert run("train", "--dataset", "mnist", "--data-dir", mnist, "--out", folder, "--no-figures", *TINY)[0] == 0
    drawn: list[tuple[tuple[int, ...], int]] = []
    monkeypatch.setattr(figures, "plot_samples", lambda samples, shape, path, ncols: drawn.append((samples.shape, ncols)))
    code, out, err = run("sample", folder, "-n", "1000", "--out", tmp_path / "s.png")
    assert code == 0, err
    assert drawn == [((256, 6), 16)]
    assert out == f"wrote 256 samples to {tmp_path / 's.png'}\n"
    assert err == (f"a figure shows at most 256 images legibly, so {tmp_path / 's.png'} gets 256 of the -n 1000; "
                   f"write a .npy file for all of them\n")
    code, out, _ = run("sample", folder, "-n", "1000", "--out", tmp_path / "s.npy")
    assert code == 0 and np.load(tmp_path / "s.npy").shape == (1000, 6)
    assert out == f"wrote 1000 samples to {tmp_path / 's.npy'}\n"


# --------------------------------------------------------------------------
# -v says what it does for each command
# --------------------------------------------------------------------------


@pytest.mark.parametrize("command, text", [
    ("train", "print more: the run's setup, and every epoch on its own line"),
    ("evaluate", "also print which run, checkpoint and data set were loaded (on stderr)"),
    ("sample", "also print which run, checkpoint and data set were loaded (on stderr)"),
    ("plot", "also print which run, checkpoint and data set were loaded (on stderr)"),
])
def test_verbose_help_fits_the_command(command, text, capsys) -> None:
    assert cli.main([command, "--help"]) == 0
    help_text = " ".join(capsys.readouterr().out.split())
    assert f"-v, --verbose {text}" in help_text
    assert command == "train" or "epoch" not in help_text.split("-v, --verbose", 1)[1]


def test_verbose_evaluate_names_the_run_it_loaded(mixture_run: Path) -> None:
    code, out, err = run("evaluate", mixture_run, "-k", "2", "-v")
    assert code == 0 and out.startswith("mixture test set, 1000 examples")
    assert err == (f"{mixture_run}: checkpoint {mixture_run / 'checkpoint.npz'} after 1 epochs; VAE 2-4-2, "
                   f"gaussian decoder; mixture (2000 train / 1000 test)\n")


def test_sample_writes_the_file_it_names(mixture_run: Path, tmp_path: Path) -> None:
    code, out, _ = run("sample", mixture_run, "-n", "5", "--out", tmp_path / "s.NPY")
    assert code == 0 and out == f"wrote 5 samples to {tmp_path / 's.NPY'}\n"
    assert [p.name for p in tmp_path.iterdir()] == ["s.NPY"]
    assert np.load(tmp_path / "s.NPY").shape == (5, 2)
