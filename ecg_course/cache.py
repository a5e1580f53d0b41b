"""The cache of processed arrays: one key scheme and one atomic writer for every dataset.

Every dataset (ECG5000 in :mod:`ecg_course.ecg5000`, MIT-BIH in
:mod:`ecg_course.mitbih`) caches its processed arrays the same way:

* the **key** is a SHA-256 of the dataset's name, of every parameter that shapes
  its arrays and of :data:`VERSION`; it is stored in the file (array ``key``)
  and its first 16 hex digits are in the file name, so a change of a parameter
  or of :data:`VERSION` gives another file and an old file is never trusted;
* the **writer** writes to a temporary file with a unique name in the same
  folder, then moves it into place with :func:`os.replace` (atomic on one file
  system): a reader never sees half a file, and several processes that build the
  same cache at once (two notebooks, pytest workers) each move a whole file in.

The loaders write through :func:`store_arrays`: a cache that cannot be written
(read-only folder or file system, full disk) gives a :class:`CacheWarning` naming
the file, and the arrays, already built, are returned all the same.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ecg_course import sources
from ecg_course.sources import CacheWarning

__all__ = [
    "KEY_ARRAY", "VERSION", "CacheWarning", "cache_key", "cache_path", "read_arrays",
    "store_arrays", "write_arrays",
]  # fmt: skip

VERSION = 2
"""Bump when the processing of any dataset changes, so that every old cache is rebuilt."""

KEY_ARRAY = "key"
"""Name of the array that holds the key in every cache file."""


def cache_key(dataset: str, params: Mapping[str, object]) -> str:
    """Hex SHA-256 of ``dataset``, its JSON-serialisable ``params`` and :data:`VERSION`."""
    blob = json.dumps({"dataset": dataset, "params": params, "version": VERSION}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def cache_path(dataset: str, key: str) -> Path:
    """``<cache_dir>/processed/<dataset>_<first 16 hex digits of key>.npz``."""
    return sources.cache_dir() / "processed" / f"{dataset}_{key[:16]}.npz"


def write_arrays(path: Path, key: str, arrays: Mapping[str, np.ndarray]) -> None:
    """Write ``arrays`` and ``key`` to the compressed ``path``, atomically.

    The data go to a uniquely named temporary file next to ``path``
    (:func:`tempfile.mkstemp`), which :func:`os.replace` then moves onto ``path``;
    the temporary file is removed if anything fails.

    Raises:
        ValueError: an array is named ``"key"`` (that name holds the key).
    """
    if KEY_ARRAY in arrays:
        raise ValueError(f"{KEY_ARRAY!r} is reserved for the cache key; rename that array.")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as tmp:
            np.savez_compressed(tmp, **arrays, **{KEY_ARRAY: np.array(key)})
        os.replace(tmp_name, path)
    finally:
        if os.path.exists(tmp_name):
            os.remove(tmp_name)


def store_arrays(path: Path, key: str, arrays: Mapping[str, np.ndarray]) -> bool:
    """:func:`write_arrays`, but a cache that cannot be written is not an error.

    Returns True when the file was written. Any ``OSError`` (a read-only folder or
    file system, a full disk, a file where the folder should be) gives a
    :class:`CacheWarning` naming ``path`` and the reason instead, and False: the
    caller has the arrays and returns them; they are built again next time.
    """
    try:
        write_arrays(path, key, arrays)
    except OSError as error:
        warnings.warn(
            f"Could not write the cache file {path} ({error}). The data are loaded all the "
            f"same, but will be built again next time: set {sources.CACHE_ENV} to a "
            "writable folder with free space to keep them.",
            CacheWarning,
            stacklevel=3,
        )
        return False
    return True


def read_arrays(path: Path, key: str, names: tuple[str, ...]) -> dict[str, np.ndarray] | None:
    """The arrays ``names`` of the cache file ``path``, or None when it cannot be trusted.

    None when the file is missing or unreadable, holds other arrays than ``names``
    (and the key), or stores another key. Checking the values (shapes, ranges) is
    the caller's job.
    """
    try:
        if not path.is_file():  # (is_file raises PermissionError on an unreadable folder)
            return None
        with np.load(path, allow_pickle=False) as data:
            if set(data.files) != {*names, KEY_ARRAY} or str(data[KEY_ARRAY]) != key:
                return None
            return {name: data[name] for name in names}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
