"""Checkpoint files: round trips, crash safety, and clear errors for bad files and bad contents."""

import os
import re
import zipfile

import numpy as np
import pytest

from tinygrad_vae import nn, optim, serialization
from tinygrad_vae.core import Tensor


def _assert_same_tree(a, b, where=""):
    assert type(a) is type(b), where
    if isinstance(a, dict):
        assert list(a) == list(b), where
        for key in a:
            _assert_same_tree(a[key], b[key], f"{where}/{key}")
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, where
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), where
    else:
        assert a == b, where


def _model(seed: int = 0) -> nn.Module:
    return nn.Sequential(nn.Linear(2, 3, generator=np.random.default_rng(seed)), nn.ReLU(), nn.Linear(3, 1))


def test_round_trip_of_a_nested_checkpoint(tmp_path):
    rng = np.random.default_rng(0)
    checkpoint = {
        "model": _model().state_dict(),
        "arrays": {
            "f32": rng.standard_normal((2, 3)).astype(np.float32),
            "f64": np.array([np.nan, np.inf, -0.0, 1e-300]),
            "int": np.arange(5, dtype=np.int64),
            "bool": np.array([True, False]),
            "scalar": np.array(2.5),
            "empty": np.zeros((0, 4)),
            "text": np.array(["a", "bc"]),
        },
        "epoch": 3,
        "loss": 0.1 + 0.2,  # JSON must keep every bit of a float
        "done": False,
        "name": "run-1",
        "nothing": None,
        "history": [1.5, 2.5],
        "empty": {},
        "rng": rng.bit_generator.state,  # nested dict with 128-bit integers
    }
    path = tmp_path / "ckpt.npz"
    serialization.save(checkpoint, path)
    _assert_same_tree(serialization.load(path), checkpoint)
    assert os.listdir(tmp_path) == ["ckpt.npz"]


def test_scalars_tuples_and_tensors_come_back_as_documented(tmp_path):
    path = tmp_path / "c.npz"
    serialization.save({"np_scalar": np.float32(1.25), "pair": (1, 2), "t": Tensor(np.ones(2))}, path)
    loaded = serialization.load(path)
    assert loaded["np_scalar"].dtype == np.float32 and loaded["np_scalar"].shape == ()
    assert loaded["pair"] == [1, 2]
    assert isinstance(loaded["t"], np.ndarray) and np.array_equal(loaded["t"], np.ones(2))


def test_restored_rng_state_continues_the_stream(tmp_path):
    rng = np.random.default_rng(1)
    rng.standard_normal(10)
    serialization.save({"rng": rng.bit_generator.state}, tmp_path / "r.npz")
    expected = rng.standard_normal(5)
    restored = np.random.default_rng()
    restored.bit_generator.state = serialization.load(tmp_path / "r.npz")["rng"]
    assert np.array_equal(restored.standard_normal(5), expected)


def test_module_and_optimizer_can_be_saved_directly(tmp_path):
    model = _model(seed=1)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(np.ones((4, 2), dtype=np.float32)).sum().backward()
    opt.step()
    serialization.save(model, tmp_path / "model.npz")
    serialization.save({"opt": opt, "model": model}, tmp_path / "both.npz")
    restored = _model(seed=2)
    restored.load_state_dict(serialization.load(tmp_path / "model.npz"))
    _assert_same_tree(restored.state_dict(), model.state_dict())
    both = serialization.load(tmp_path / "both.npz")
    _assert_same_tree(both["opt"], opt.state_dict())
    assert list(both) == ["opt", "model"]


def test_compressed_round_trip(tmp_path):
    state = {"w": np.zeros((100, 100))}
    serialization.save(state, tmp_path / "plain.npz")
    serialization.save(state, tmp_path / "small.npz", compress=True)
    _assert_same_tree(serialization.load(tmp_path / "small.npz"), state)
    assert os.path.getsize(tmp_path / "small.npz") < os.path.getsize(tmp_path / "plain.npz") / 10


def test_file_is_a_standard_npz(tmp_path):
    path = tmp_path / "c.npz"
    serialization.save({"model": {"0.weight": np.ones(3)}, "file": np.zeros(1)}, path)
    with np.load(path, allow_pickle=False) as npz:
        assert sorted(npz.files) == ["__tinygrad_vae__", "file", "model/0.weight"]
        assert np.array_equal(npz["model/0.weight"], np.ones(3))


def test_save_overwrites_and_uses_the_path_verbatim(tmp_path):
    path = tmp_path / "checkpoint"  # no suffix is added
    serialization.save({"a": np.zeros(1)}, path)
    serialization.save({"a": np.ones(1)}, str(path))
    assert os.listdir(tmp_path) == ["checkpoint"]
    assert serialization.load(path)["a"][0] == 1.0


# ---- crash safety ------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["_write_npz", "replace", "fsync"])
def test_interrupted_save_keeps_the_old_file_and_leaves_no_temp_file(tmp_path, monkeypatch, where):
    path = tmp_path / "ckpt.npz"
    serialization.save({"w": np.arange(3.0)}, path)
    old_bytes = path.read_bytes()

    def crash(*args, **kwargs):
        if where == "_write_npz":  # die half-way through writing the new archive
            args[0].write(b"PK\x03\x04 partial")
        raise KeyboardInterrupt("simulated crash")

    target = serialization if where == "_write_npz" else serialization.os
    monkeypatch.setattr(target, where, crash)
    with pytest.raises(KeyboardInterrupt, match="simulated crash"):
        serialization.save({"w": np.arange(1000.0)}, path)
    monkeypatch.undo()
    assert path.read_bytes() == old_bytes
    assert os.listdir(tmp_path) == ["ckpt.npz"]
    assert np.array_equal(serialization.load(path)["w"], np.arange(3.0))


def test_saved_file_has_a_normal_mode(tmp_path):
    path = tmp_path / "c.npz"
    serialization.save({"a": 1}, path)
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask


# ---- bad files ---------------------------------------------------------------------------------


@pytest.mark.parametrize("keep, reason", [
    (0, "the file is empty"),
    (10, "truncated or corrupt archive (File is not a zip file)"),
    (0.5, "truncated or corrupt archive (File is not a zip file)"),
    (-1, "truncated or corrupt archive (File is not a zip file)"),
])
def test_truncated_file_gives_a_clear_error(tmp_path, keep, reason):
    path = tmp_path / "ckpt.npz"
    serialization.save({"model": _model().state_dict(), "epoch": 2}, path)
    data = path.read_bytes()
    n = {0: 0, 10: 10, 0.5: len(data) // 2, -1: len(data) - 1}[keep]
    path.write_bytes(data[:n])
    with pytest.raises(ValueError, match=re.escape(f"load: {path} is not a readable tinygrad_vae checkpoint: {reason}")):
        serialization.load(path)


def test_corrupted_array_data_gives_a_clear_error(tmp_path):
    path = tmp_path / "ckpt.npz"
    serialization.save({"w": np.zeros(1000)}, path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside the stored array: the CRC check fails
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=re.escape(f"load: {path} is not a readable tinygrad_vae checkpoint: truncated or corrupt archive (Bad CRC-32")):
        serialization.load(path)


def test_foreign_files_give_clear_errors(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello, not a checkpoint\n")
    with pytest.raises(ValueError, match=re.escape(
        f"load: {text} is not a readable tinygrad_vae checkpoint: it is not an .npz (zip) archive: it starts with b'hell'"
    )):
        serialization.load(text)

    plain = tmp_path / "plain.npz"
    np.savez(plain, w=np.ones(2))
    with pytest.raises(ValueError, match=re.escape(
        f"load: {plain} is not a readable tinygrad_vae checkpoint: it has no '__tinygrad_vae__' member (a plain .npz?"
    )):
        serialization.load(plain)

    single = tmp_path / "single.npy"
    np.save(single, np.ones(2))
    with pytest.raises(ValueError, match=re.escape("it is not an .npz (zip) archive: it starts with b'\\x93NUM'")):
        serialization.load(single)

    other_zip = tmp_path / "other.npz"
    with zipfile.ZipFile(other_zip, "w") as archive:
        archive.writestr("__tinygrad_vae__.npy", b"not an npy header")
    with pytest.raises(ValueError, match=re.escape(f"load: {other_zip} is not a readable tinygrad_vae checkpoint")):
        serialization.load(other_zip)


def test_wrong_format_tag_and_version(tmp_path):
    path = tmp_path / "c.npz"
    serialization.save({"a": 1}, path)
    with np.load(path) as npz:
        meta = str(npz["__tinygrad_vae__"])
    for old, new, message in [('"format": "tinygrad_vae.checkpoint"', '"format": "x"', "does not carry the format tag"),
                              ('"version": 2', '"version": 99', "it has format version 99; this library reads version 2"),
                              ('"version": 2', '"version": 1', r"format version 1, written when nn.Linear stored its weight as \(in_fe")]:
        np.savez(path, __tinygrad_vae__=np.asarray(meta.replace(old, new)))
        with pytest.raises(ValueError, match=message):
            serialization.load(path)


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        serialization.load(tmp_path / "nope.npz")


# ---- bad contents ----------------------------------------------------------------------------------


def test_unsupported_contents_are_refused_before_writing(tmp_path):
    path = tmp_path / "c.npz"
    cases = [
        ({"a/b": 1}, ValueError, "save: keys must be non-empty strings without '/', got 'a/b' under ''"),
        ({"m": {3: 1}}, ValueError, "save: keys must be non-empty strings without '/', got 3 under 'm/'"),
        ({"__tinygrad_vae__": 1}, ValueError, "save: the key '__tinygrad_vae__' is reserved"),
        ({"o": np.array([object()])}, TypeError, "save: array at key 'o' has dtype object, which cannot be stored without pickle"),
        ({"x": {"s": {1, 2}}}, TypeError, "save: value at key 'x/s' of type set is not supported"),
        ({"l": [np.zeros(2)]}, TypeError, "save: value at key 'l' of type list is not supported"),
    ]
    for state, error, message in cases:
        with pytest.raises(error, match=re.escape(message)):
            serialization.save(state, path)
    with pytest.raises(TypeError, match="save: expected a Module, an Optimizer or a dict, got list"):
        serialization.save([1, 2], path)
    assert os.listdir(tmp_path) == []
