"""Checkpoints as ``.npz`` files: crash-safe writes, no pickle, nested dicts.

``save(obj, path)`` stores a module's (or optimizer's) ``state_dict()``, or
any nested dict such as::

    {"model": model.state_dict(), "optimizer": opt.state_dict(),
     "epoch": 3, "rng": rng.bit_generator.state}

Layout of the file: a standard NumPy ``.npz`` (a zip of ``.npy`` members).
Nested keys are joined with ``"/"`` (``model/encoder.0.weight``); each array
(or Tensor, stored as its array) is one member; everything else (Python
numbers, bools, strings, None, lists, and dicts of those, e.g. a generator's
state with its 128-bit integers) goes into one JSON document stored in the
member ``__tinygrad_vae__``, together with a format tag and the key order.
Reading never unpickles anything (``allow_pickle=False``).
``first_nonfinite(state)`` finds the first array of a state holding NaN or
inf, so a caller can refuse to write or to use such weights.

Crash safety: the file is written to a temporary file in the same folder,
flushed and fsync'ed, then moved over ``path`` with ``os.replace`` (atomic on
POSIX and Windows). An interrupted save leaves the previous checkpoint as it
was, and removes its temporary file.
"""

from __future__ import annotations

import contextlib
import json
import os
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Mapping
from typing import IO, Any

import numpy as np

from tinygrad_vae.core.tensor import Tensor

SEPARATOR = "/"
FORMAT = "tinygrad_vae.checkpoint"
# Version 2: nn.Linear's weight is torch's (out_features, in_features). Version 1 files hold the
# transpose, (in_features, out_features), and are refused rather than loaded with a silent mismatch.
VERSION = 2
_META_MEMBER = "__tinygrad_vae__"
_ZIP_SIGNATURE = b"PK\x03\x04"  # every non-empty zip archive starts with a local file header


def _flatten(tree: Mapping[str, Any], prefix: str, arrays: dict[str, np.ndarray], values: dict[str, Any],
             order: list[str]) -> None:
    """Split a nested dict into flat-keyed arrays and JSON values, recording the key order."""
    for key, value in tree.items():
        if not isinstance(key, str) or not key or SEPARATOR in key:
            raise ValueError(f"save: keys must be non-empty strings without {SEPARATOR!r}, got {key!r} under {prefix!r}")
        flat = prefix + key
        if flat == _META_MEMBER:
            raise ValueError(f"save: the key {_META_MEMBER!r} is reserved for the checkpoint's metadata")
        if not isinstance(value, Mapping) and hasattr(value, "state_dict"):  # a Module or Optimizer
            value = value.state_dict()
        if isinstance(value, Mapping) and value:
            _flatten(value, flat + SEPARATOR, arrays, values, order)
            continue
        if isinstance(value, Tensor):
            value = value.data
        if isinstance(value, np.generic):  # NumPy scalars keep their exact dtype as 0-d arrays
            value = np.asarray(value)
        if isinstance(value, np.ndarray):
            if value.dtype.hasobject or value.dtype.kind == "V":
                raise TypeError(f"save: array at key {flat!r} has dtype {value.dtype}, which cannot be stored without pickle")
            arrays[flat] = value
        else:
            try:
                json.dumps(value)
            except (TypeError, ValueError) as error:
                raise TypeError(
                    f"save: value at key {flat!r} of type {type(value).__name__} is not supported ({error}); "
                    f"expected arrays, Tensors, nested dicts, or JSON-able numbers, strings, lists and dicts"
                ) from None
            values[flat] = value
        order.append(flat)


def _write_npz(file: IO[bytes], arrays: dict[str, np.ndarray], meta: str, compress: bool) -> None:
    """Write the members of an ``.npz`` (what ``np.savez`` does, without its reserved keyword ``file``)."""
    compression = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(file, mode="w", compression=compression, allowZip64=True) as archive:
        for key, array in {**arrays, _META_MEMBER: np.asarray(meta)}.items():
            with archive.open(key + ".npy", mode="w", force_zip64=True) as member:
                np.lib.format.write_array(member, array, allow_pickle=False)


def save(obj: Any, path: str | os.PathLike, compress: bool = False) -> None:
    """Write ``obj`` (a Module/Optimizer, or a possibly nested dict of them and values) to ``path`` atomically.

    ``path`` is used as given (no ``.npz`` is appended). ``compress=True``
    deflates the members. Tuples are stored as JSON lists and come back as
    lists; NumPy scalars come back as 0-d arrays.
    """
    state = obj.state_dict() if not isinstance(obj, Mapping) and hasattr(obj, "state_dict") else obj
    if not isinstance(state, Mapping):
        raise TypeError(f"save: expected a Module, an Optimizer or a dict, got {type(obj).__name__}")
    arrays: dict[str, np.ndarray] = {}
    values: dict[str, Any] = {}
    order: list[str] = []
    _flatten(state, "", arrays, values, order)
    meta = json.dumps({"format": FORMAT, "version": VERSION, "order": order, "values": values})

    write_atomically(path, lambda f: _write_npz(f, arrays, meta, compress))


def write_atomically(path: str | os.PathLike, write: Callable[[IO[bytes]], Any]) -> None:
    """Call ``write(file)`` on a temporary file beside ``path``, then move it over ``path``.

    The data is fsynced before the rename and the folder after it, so after a crash ``path``
    holds either the old file or the whole new one, never a part; if ``write`` raises, the old
    file is left as it was and the temporary file is removed.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes the file private; give it a normal file's mode
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_folder(folder)


def _fsync_folder(folder: str) -> None:
    """Make the rename durable too (POSIX); folders cannot be opened this way on Windows."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def first_nonfinite(tree: Mapping[str, Any], prefix: str = "") -> tuple[str, float] | None:
    """The first floating-point array (or Tensor) in the nested dict ``tree`` that holds NaN or inf.

    Returns its key, nested keys joined with ``"/"`` as in a checkpoint (``"model/encoder.0.weight"``),
    and its first non-finite value (``nan``, ``inf`` or ``-inf``); None when every array is finite.
    Keys are visited in order; values other than arrays (numbers, strings, lists) are not looked at.
    """
    for key, value in tree.items():
        if isinstance(value, Mapping):
            found = first_nonfinite(value, f"{prefix}{key}{SEPARATOR}")
            if found is not None:
                return found
            continue
        array = value.data if isinstance(value, Tensor) else value
        # One reduction over the array in the common case; the position is only looked for on failure.
        if isinstance(array, np.ndarray) and array.dtype.kind == "f" and not np.isfinite(array).all():
            return f"{prefix}{key}", float(array.flat[np.flatnonzero(~np.isfinite(array))[0]])
    return None


def _unflatten(flat: dict[str, Any], order: list[str]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for key in order:
        *parents, leaf = key.split(SEPARATOR)
        node = tree
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = flat[key]
    return tree


def load(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint written by ``save``: the same nested dict, arrays as ``np.ndarray``.

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` (naming
    the path) for a truncated or corrupt file, or one that is not a
    tinygrad_vae checkpoint (e.g. a plain ``.npz``: read that with ``numpy.load``).
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        signature = f.read(4)
    try:
        if not signature:
            raise ValueError("the file is empty")
        if signature != _ZIP_SIGNATURE:
            raise ValueError(f"it is not an .npz (zip) archive: it starts with {signature!r}, not {_ZIP_SIGNATURE!r}")
        try:
            with np.load(path, allow_pickle=False) as contents:
                if _META_MEMBER not in contents.files:
                    raise ValueError(f"it has no {_META_MEMBER!r} member (a plain .npz? read it with numpy.load)")
                members = {key: contents[key] for key in contents.files}
        except (EOFError, zipfile.BadZipFile, struct.error, zlib.error) as error:
            raise ValueError(f"truncated or corrupt archive ({error})") from None
        meta = json.loads(str(members.pop(_META_MEMBER)))
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ValueError(f"its metadata does not carry the format tag {FORMAT!r}")
        if meta.get("version") == 1:
            raise ValueError(f"it has format version 1, written when nn.Linear stored its weight as (in_features, "
                             f"out_features); this library reads version {VERSION}, with torch's (out_features, "
                             f"in_features) layout: retrain, or transpose the Linear weights and save again")
        if meta.get("version") != VERSION:
            raise ValueError(f"it has format version {meta.get('version')!r}; this library reads version {VERSION}")
        flat = {**members, **meta["values"]}
        order = meta["order"]
        if set(order) != set(flat):
            raise ValueError("its metadata does not list the same keys as the archive")
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"load: {path} is not a readable tinygrad_vae checkpoint: {error}") from None
    return _unflatten(flat, order)
