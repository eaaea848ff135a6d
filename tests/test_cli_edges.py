"""Edge cases of the command line and the example script: bad paths, --force, Ctrl-C, MNIST files, big samples."""

from __future__ import annotations

import importlib.util
import io
import re
from pathlib import Path

import numpy as np
import pytest

from tinygrad_vae.vae import cli, figures, runs
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
