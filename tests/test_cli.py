"""The command line, run in-process through ``main([...])`` (plus one real subprocess).

Runs are kept tiny (a few epochs of a narrow model) so the whole file takes seconds.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tinygrad_vae
from tinygrad_vae import serialization
from tinygrad_vae.vae import cli
from tinygrad_vae.vae.datasets import load_dataset
from tinygrad_vae.vae.training import Trainer

TINY = ["--hidden-dims", "8", "--batch-size", "256", "--no-figures"]


def run(*argv: str | os.PathLike) -> tuple[int, str, str]:
    """``main(argv)`` in-process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    code = cli.main([str(a) for a in argv], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def assert_one_line_error(result: tuple[int, str, str], code: int, pattern: str) -> None:
    """A non-zero exit, exactly one line on stderr, matching ``pattern``; nothing on stdout; no traceback."""
    got_code, out, err = result
    assert got_code == code, (got_code, err)
    assert out == ""
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("tinygrad-vae"), err
    assert re.search(pattern, err), err


def checkpoint_arrays(run_dir: Path) -> dict[str, np.ndarray]:
    """Every array of a run's checkpoint (model and optimizer), keyed by its path in the checkpoint."""
    flat: dict[str, np.ndarray] = {}

    def walk(prefix: str, node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(f"{prefix}/{key}", value)
        elif isinstance(node, np.ndarray):
            flat[prefix] = node

    walk("", serialization.load(run_dir / "checkpoint.npz"))
    return flat


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 3-epoch Bernoulli VAE on binarized digits, with figures, shared by the read-only tests below."""
    run_dir = tmp_path_factory.mktemp("runs") / "digits"
    code, _, err = run("train", "--dataset", "digits", "--binarize", "--epochs", "3", "--hidden-dims", "16",
                       "--batch-size", "128", "--out", run_dir, "-q")
    assert code == 0, err
    return run_dir


# --------------------------------------------------------------------------
# help
# --------------------------------------------------------------------------


def test_python_dash_m_help_in_a_subprocess() -> None:
    package_root = Path(tinygrad_vae.__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": f"{package_root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    done = subprocess.run([sys.executable, "-m", "tinygrad_vae", "--help"], capture_output=True, text=True, env=env, check=False,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    for command in ("train", "evaluate", "sample", "plot"):
        assert command in done.stdout
    assert "tinygrad-vae train --dataset digits --binarize --out runs/digits" in done.stdout
    assert done.stderr == ""


def test_subcommand_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["train", "--help"]) == 0
    text = capsys.readouterr().out
    for option in ("--dataset", "--data-dir", "--resume", "--epochs", "--seed", "--quiet", "--verbose", "--binarize"):
        assert option in text
    assert cli.main(["evaluate", "--help"]) == 0
    assert "importance samples per example" in capsys.readouterr().out


# --------------------------------------------------------------------------
# train, evaluate, sample, plot on digits
# --------------------------------------------------------------------------


def test_train_writes_a_run_folder(digits_run: Path) -> None:
    names = {p.name for p in digits_run.iterdir()}
    assert {"run.json", "checkpoint.npz", "history.csv", "reconstructions.png", "samples.png", "losses.png",
            "manifold.png", "latent.png"} <= names
    lines = (digits_run / "history.csv").read_text().splitlines()
    assert lines[0] == "epoch,total,recon,kl,test_total"
    assert [line.split(",")[0] for line in lines[1:]] == ["1", "2", "3"]
    run_file = json.loads((digits_run / "run.json").read_text())
    assert run_file["dataset"] == {"name": "digits", "data_dir": None, "binarize": True}
    assert run_file["model"]["likelihood"] == "bernoulli" and run_file["model"]["hidden_dims"] == [16]
    assert Trainer.from_checkpoint(digits_run / "checkpoint.npz").epoch == 3


def test_evaluate_reports_nats_and_baselines(digits_run: Path) -> None:
    code, out, err = run("evaluate", digits_run, "-k", "50", "--baselines", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["examples"] == 297 and result["k"] == 50 and result["epochs"] == 3
    # The independent-pixel baseline, computed here from its definition on the same binarized test set.
    data = load_dataset("digits", binarize_pixels=True)
    p = (data.x_train.sum(axis=0, dtype=np.float64) + 1.0) / (len(data.x_train) + 2.0)
    expected = np.mean(data.x_test @ np.log(p) + (1 - data.x_test) @ np.log(1 - p))
    assert result["baseline_bernoulli_log_likelihood"] == pytest.approx(expected, rel=1e-12)
    # log p(x) >= the importance-weighted bound >= the ELBO on average; for a Bernoulli model log p(x) <= 0.
    assert result["elbo"] < result["log_likelihood"] < 0
    assert 0 < result["elbo_se"] < 1 and 0 < result["log_likelihood_se"] < 1
    # The same seed gives the same numbers.
    assert json.loads(run("evaluate", digits_run, "-k", "50", "--baselines", "--json")[1]) == result


def test_evaluate_text_output(digits_run: Path) -> None:
    code, out, _ = run("evaluate", digits_run, "-k", "5")
    assert code == 0
    assert "digits test set, 297 examples, model after 3 epochs" in out
    assert "log p(x), importance-weighted, k=5" in out
    assert "note:" not in out  # binarized pixels: the Bernoulli numbers are log-probabilities


def test_grey_level_pixels_get_a_note(tmp_path: Path) -> None:
    """Without --binarize the Bernoulli numbers are cross-entropies, and evaluate says so."""
    assert run("train", "--dataset", "digits", "--epochs", "1", *TINY, "--out", tmp_path, "-q")[0] == 0
    code, out, _ = run("evaluate", tmp_path, "-k", "2")
    assert code == 0
    assert "note: the pixels are not binary, so the Bernoulli numbers are cross-entropies" in out


def test_sample_npy_and_png(digits_run: Path, tmp_path: Path) -> None:
    code, out, _ = run("sample", digits_run, "-n", "10", "--out", tmp_path / "s.npy", "--seed", "3")
    assert code == 0 and "wrote 10 samples" in out
    means = np.load(tmp_path / "s.npy")
    assert means.shape == (10, 64) and 0 < means.min() and means.max() < 1  # decoder means: sigmoid of logits
    run("sample", digits_run, "-n", "10", "--out", tmp_path / "d.npy", "--seed", "3", "--draw")
    draws = np.load(tmp_path / "d.npy")
    assert set(np.unique(draws)) <= {0.0, 1.0}
    assert run("sample", digits_run, "--out", tmp_path / "s.png", "-q") == (0, "", "")
    assert (tmp_path / "s.png").read_bytes()[:4] == b"\x89PNG"


def test_plot_redraws_the_figures(digits_run: Path) -> None:
    (digits_run / "manifold.png").unlink()
    code, out, _ = run("plot", digits_run)
    assert code == 0 and "manifold.png" in out
    assert (digits_run / "manifold.png").read_bytes()[:4] == b"\x89PNG"


def test_a_conv_run_trains_evaluates_samples_and_draws(tmp_path: Path) -> None:
    """--arch conv end to end: run.json and the checkpoint name the architecture, every command reads it back
    (a resumed conv run is the checkpoint round trip of test_conv_vae.py)."""
    folder = tmp_path / "conv"
    code, _, err = run("train", "--dataset", "digits", "--binarize", "--arch", "conv", "--hidden-dims", "4,8",
                       "--epochs", "1", "--batch-size", "256", "--out", folder, "-q", "--no-figures")
    assert code == 0, err
    record = json.loads((folder / "run.json").read_text())
    assert record["settings"]["arch"] == "conv" and record["settings"]["hidden_dims"] == [4, 8]
    assert record["model"]["arch"] == "conv" and record["model"]["image_shape"] == [1, 8, 8]
    assert Trainer.from_checkpoint(folder / "checkpoint.npz").model.decoder[3].weight.shape == (8, 4, 3, 3)
    code, out, err = run("evaluate", folder, "-k", "3", "--json")
    assert code == 0, err
    assert json.loads(out)["epochs"] == 1 and json.loads(out)["log_likelihood"] < 0
    assert run("sample", folder, "-n", "4", "--out", tmp_path / "s.npy", "-q")[0] == 0
    assert np.load(tmp_path / "s.npy").shape == (4, 64)
    code, _, err = run("plot", folder, "-v")
    assert code == 0 and "conv VAE 1x8x8, channels 4,8, latent 2, bernoulli decoder" in err
    assert {"reconstructions.png", "samples.png", "manifold.png", "latent.png"} <= {p.name for p in folder.iterdir()}
    assert_one_line_error(run("train", "--resume", folder, "--arch", "mlp"), 1,
                          r"--arch 'mlp' differs from the resumed run's 'conv'")


def test_bernoulli_vae_beats_the_independent_pixel_baseline(tmp_path: Path) -> None:
    """A short run on binarized digits already models pixel correlations: its log p(x) beats independent pixels."""
    run_dir = tmp_path / "digits"
    code, _, err = run("train", "--dataset", "digits", "--binarize", "--epochs", "15", "--latent-dim", "4",
                       "--batch-size", "32", "--lr", "3e-3", "--out", run_dir, "-q", "--no-figures")
    assert code == 0, err
    result = json.loads(run("evaluate", run_dir, "-k", "100", "--baselines", "--json")[1])
    assert result["log_likelihood"] > result["baseline_bernoulli_log_likelihood"] + 1.0, result


# --------------------------------------------------------------------------
# progress, quiet, verbose, history formats
# --------------------------------------------------------------------------


def test_progress_verbose_and_quiet(tmp_path: Path) -> None:
    code, out, err = run("train", "--dataset", "mixture", "--epochs", "3", *TINY, "--out", tmp_path / "a", "-v")
    assert code == 0
    progress = [line for line in err.splitlines() if line.startswith("epoch")]
    assert [line.split()[1] for line in progress] == ["1/3", "2/3", "3/3"]
    assert all(" ex/s  left 0:00:" in line and "loss" in line and "kl" in line for line in progress)
    assert "mixture (2000 train / 1000 test examples)" in err
    assert "3 epochs, train loss" in out
    assert run("train", "--dataset", "mixture", "--epochs", "2", *TINY, "--out", tmp_path / "b", "-q") == (0, "", "")


def test_progress_in_a_log_file_prints_about_ten_lines(tmp_path: Path) -> None:
    code, _, err = run("train", "--dataset", "mixture", "--epochs", "25", *TINY, "--out", tmp_path / "a")
    assert code == 0
    epochs = [line.split()[1] for line in err.splitlines() if line.startswith("epoch")]
    assert epochs == ["3/25", "6/25", "9/25", "12/25", "15/25", "18/25", "21/25", "24/25", "25/25"]


def test_progress_on_a_terminal_is_rewritten_in_place(tmp_path: Path) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    err = Terminal()
    argv = ["train", "--dataset", "mixture", "--epochs", "3", *TINY, "--out", str(tmp_path)]
    assert cli.main(argv, stdout=io.StringIO(), stderr=err) == 0
    text = err.getvalue()
    assert text.count("\r") == 3 and text.count("\n") == 1 and text.endswith("\n")
    assert [part.split()[1] for part in text.strip().split("\r") if part] == ["1/3", "2/3", "3/3"]


def test_history_json(tmp_path: Path) -> None:
    code, _, _ = run("train", "--dataset", "mixture", "--epochs", "2", *TINY, "--history-format", "json",
                     "--out", tmp_path / "a", "-q")
    assert code == 0
    rows = json.loads((tmp_path / "a" / "history.json").read_text())
    assert [row["epoch"] for row in rows] == [1, 2]
    assert set(rows[0]) == {"epoch", "total", "recon", "kl", "test_total"}
    assert rows[0]["total"] == pytest.approx(rows[0]["recon"] + rows[0]["kl"], rel=1e-6)  # float32 model


def test_mixture_run_draws_the_notebook_figure(tmp_path: Path) -> None:
    code, _, _ = run("train", "--dataset", "mixture", "--epochs", "2", "--hidden-dims", "8", "--out", tmp_path)
    assert code == 0
    assert (tmp_path / "figure.png").read_bytes()[:4] == b"\x89PNG"
    assert run("sample", tmp_path, "-n", "50", "--out", tmp_path / "s.png")[0] == 0
    assert (tmp_path / "s.png").read_bytes()[:4] == b"\x89PNG"


# --------------------------------------------------------------------------
# resume: interrupted + resumed == uninterrupted, bit for bit
# --------------------------------------------------------------------------


def test_resume_is_bit_identical(tmp_path: Path) -> None:
    base = ["--dataset", "digits", "--binarize", "--hidden-dims", "8", "--batch-size", "128", "--seed", "5",
            "--no-figures", "-q"]
    assert run("train", *base, "--epochs", "4", "--out", tmp_path / "straight")[0] == 0
    assert run("train", *base, "--epochs", "2", "--out", tmp_path / "resumed")[0] == 0
    assert run("train", "--resume", tmp_path / "resumed", "--epochs", "4", "-q", "--no-figures")[0] == 0
    straight, resumed = checkpoint_arrays(tmp_path / "straight"), checkpoint_arrays(tmp_path / "resumed")
    assert set(straight) == set(resumed) and any(key.startswith("/optimizer") for key in straight)
    for key in straight:
        assert np.array_equal(straight[key], resumed[key]), key
    assert (tmp_path / "straight" / "history.csv").read_text() == (tmp_path / "resumed" / "history.csv").read_text()


def test_interrupt_then_resume_matches_an_uninterrupted_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base = ["--dataset", "mixture", "--hidden-dims", "8", "--batch-size", "200", "--epochs", "3", "--no-figures"]
    assert run("train", *base, "--out", tmp_path / "straight", "-q")[0] == 0

    real_epoch = Trainer.train_epoch

    def ctrl_c_in_epoch_3(self: Trainer, data: np.ndarray) -> dict[str, float]:
        if self.epoch == 2:
            raise KeyboardInterrupt
        return real_epoch(self, data)

    monkeypatch.setattr(Trainer, "train_epoch", ctrl_c_in_epoch_3)
    code, _, err = run("train", *base, "--out", tmp_path / "cut")
    assert code == cli.EXIT_INTERRUPTED
    assert f"interrupted after epoch 2; continue with: tinygrad-vae train --resume {tmp_path / 'cut'}" in err
    assert "Traceback" not in err
    monkeypatch.setattr(Trainer, "train_epoch", real_epoch)
    assert run("train", "--resume", tmp_path / "cut", "-q")[0] == 0  # goes on to the run's own 3 epochs
    straight, cut = checkpoint_arrays(tmp_path / "straight"), checkpoint_arrays(tmp_path / "cut")
    for key in straight:
        assert np.array_equal(straight[key], cut[key]), key


def test_resume_with_nothing_left_to_do(tmp_path: Path) -> None:
    assert run("train", "--dataset", "mixture", "--epochs", "1", *TINY, "--out", tmp_path, "-q")[0] == 0
    code, _, err = run("train", "--resume", tmp_path)
    assert code == 0 and "already has 1 epochs; nothing to train" in err


# --------------------------------------------------------------------------
# bad input: one line on stderr, non-zero exit, no traceback
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv, pattern",
    [
        (["train", "--dataset", "cifar"], r"argument --dataset: invalid choice: 'cifar'"),
        (["train", "--epochs", "0"], r"argument --epochs: expected a positive integer, got '0'"),
        (["train", "--epochs", "ten"], r"argument --epochs: expected a positive integer, got 'ten'"),
        (["train", "--lr", "-1"], r"argument --lr: expected a positive number, got '-1'"),
        (["train", "--lr", "nan"], r"argument --lr: expected a positive number, got 'nan'"),
        (["train", "--batch-size", "0"], r"argument --batch-size: expected a positive integer"),
        (["train", "--latent-dim", "0"], r"argument --latent-dim: expected a positive integer"),
        (["train", "--hidden-dims", "32,x"], r"argument --hidden-dims: expected comma-separated positive integers"),
        (["train", "--hidden-dims", "0"], r"argument --hidden-dims: expected comma-separated positive integers"),
        (["train", "--beta", "-0.5"], r"argument --beta: expected a number >= 0"),
        (["train", "--arch", "resnet"], r"argument --arch: invalid choice: 'resnet'"),
        (["train", "--seed", "-1"], r"argument --seed: expected an integer >= 0"),
        (["train", "-q", "-v"], r"argument -v/--verbose: not allowed with argument -q/--quiet"),
        (["evaluate", "somewhere", "-k", "0"], r"argument -k/--samples: expected a positive integer"),
        (["frobnicate"], r"argument COMMAND: invalid choice: 'frobnicate'"),
        ([], r"the following arguments are required: COMMAND"),
    ],
)
def test_usage_errors(argv: list[str], pattern: str) -> None:
    assert_one_line_error(run(*argv), cli.EXIT_USAGE, pattern)


def test_data_errors(tmp_path: Path) -> None:
    out = ["--out", tmp_path / "run"]
    assert_one_line_error(run("train", "--dataset", "mnist", *out), 1, r"--dataset mnist needs --data-dir DIR")
    assert_one_line_error(run("train", "--dataset", "mnist", "--data-dir", tmp_path / "nowhere", *out), 1,
                          r"load_mnist: data directory .*nowhere does not exist")
    assert_one_line_error(run("train", "--data-dir", tmp_path, *out), 1, r"--data-dir is only for --dataset mnist")
    assert_one_line_error(run("train", "--binarize", *out), 1, r"--binarize applies to image data")
    assert_one_line_error(run("train", "--arch", "conv", *out), 1,
                          r"--arch conv is for image data \(digits, mnist\); mixture holds points, not images: "
                          r"use --arch mlp")
    assert_one_line_error(run("train", "--likelihood", "bernoulli", *out), 1,
                          r"the bernoulli likelihood needs data in \[0, 1\], but mixture ranges over \[-\d")
    mnist = tmp_path / "mnist"
    mnist.mkdir()
    assert_one_line_error(run("train", "--dataset", "mnist", "--data-dir", mnist, *out), 1,
                          r"train-images-idx3-ubyte\[.gz\] not found in")
    # A malformed file: every name present, but the images file is a gzip of a PNG header.
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (mnist / f"{name}.gz").write_bytes(gzip.compress(b"\x89PNG\r\n\x1a\n" + bytes(16)))
    assert_one_line_error(run("train", "--dataset", "mnist", "--data-dir", mnist, *out), 1,
                          r"read_idx: .*train-images-idx3-ubyte.gz is not an IDX file: magic number 0x89504e47")
    assert not (tmp_path / "run" / "run.json").exists()


def test_mnist_from_idx_files_end_to_end(tmp_path: Path) -> None:
    """A tiny MNIST-format folder written here: train, evaluate, and a truncated file afterwards."""
    rng = np.random.default_rng(0)
    mnist = tmp_path / "mnist"
    mnist.mkdir()
    for prefix, n in (("train", 40), ("t10k", 12)):
        images = rng.integers(0, 256, (n, 6, 5), dtype=np.uint8)
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        (mnist / f"{prefix}-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03" + np.array([n, 6, 5], ">u4").tobytes()
                                                            + images.tobytes())
        (mnist / f"{prefix}-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01" + np.array([n], ">u4").tobytes()
                                                            + labels.tobytes())
    run_dir = tmp_path / "run"
    code, _, err = run("train", "--dataset", "mnist", "--data-dir", mnist, "--binarize", "--epochs", "2",
                         "--hidden-dims", "4", "--out", run_dir)
    assert code == 0, err
    assert (run_dir / "manifold.png").exists()
    result = json.loads(run("evaluate", run_dir, "-k", "3", "--json")[1])
    assert result["dataset"] == "mnist" and result["examples"] == 12
    truncated = (mnist / "t10k-images-idx3-ubyte").read_bytes()[:-7]
    (mnist / "t10k-images-idx3-ubyte").write_bytes(truncated)
    assert_one_line_error(run("evaluate", run_dir), 1,
                          r"t10k-images-idx3-ubyte is truncated: header says shape \(12, 6, 5\) of u1 \(360 data bytes\), found 353")


def test_run_folder_errors(tmp_path: Path, digits_run: Path) -> None:
    assert_one_line_error(run("evaluate", tmp_path / "nowhere"), 1, r"nowhere is not a folder")
    assert_one_line_error(run("evaluate", tmp_path), 1, r"is not a run folder: it has no run.json")
    (tmp_path / "run.json").write_text("{not json")
    assert_one_line_error(run("plot", tmp_path), 1, r"run.json is not valid JSON")
    (tmp_path / "run.json").write_text('{"format": "tinygrad_vae.run", "model": {}}')
    assert_one_line_error(run("plot", tmp_path), 1, r"run.json is damaged: it lacks dataset, settings")
    assert_one_line_error(run("sample", digits_run, "--out", tmp_path / "s.txt"), 1,
                          r"--out must end in .png \(a figure\) or .npy \(the array\)")
    assert_one_line_error(run("sample", digits_run, "--out", tmp_path / "no" / "such" / "s.npy"), 1,
                          r"tinygrad-vae sample: error: .*No such file or directory")
    assert_one_line_error(run("train", "--dataset", "digits", "--out", digits_run), 1,
                          r"already holds a run; continue it with --resume .* or start over with --force")
    assert_one_line_error(run("train", "--resume", digits_run, "--out", tmp_path), 1, r"either --out .* or --resume")
    assert_one_line_error(run("train", "--resume", digits_run, "--epochs", "2"), 1,
                          r"--epochs 2 is fewer than the 3 epochs already done")
    assert_one_line_error(run("evaluate", digits_run, "--baselines", "--checkpoint", tmp_path / "none.npz"), 1,
                          r"no checkpoint at .*none.npz")
    (tmp_path / "garbage.npz").write_bytes(b"PK\x03\x04 this is not a zip archive")
    assert_one_line_error(run("evaluate", digits_run, "--checkpoint", tmp_path / "garbage.npz"), 1,
                          r"cannot load checkpoint .*garbage.npz: load: .* is not a readable tinygrad_vae checkpoint")


def test_checkpoint_from_a_different_architecture(tmp_path: Path, digits_run: Path) -> None:
    other = tmp_path / "other"
    assert run("train", "--dataset", "digits", "--binarize", "--epochs", "1", "--hidden-dims", "8",
               "--out", other, "-q", "--no-figures")[0] == 0
    assert_one_line_error(run("evaluate", digits_run, "--checkpoint", other / "checkpoint.npz"), 1,
                          r"holds a different architecture from the run in .*: hidden_dims \[8\] where the run has \[16\]")
    assert_one_line_error(run("train", "--resume", digits_run, "--hidden-dims", "32"), 1,
                          r"--hidden-dims \(32,\) differs from the resumed run's \(16,\)")
    assert_one_line_error(run("train", "--resume", digits_run, "--dataset", "mixture"), 1,
                          r"--dataset cannot be combined with --resume")
    assert_one_line_error(run("train", "--resume", digits_run, "--binarize"), 1,
                          r"--binarize cannot be combined with --resume: the run folder names its data")
