"""Where the course's raw data files come from, verified by SHA-256.

Three sources, tried in this order:

1. ``ECG_COURSE_DATA``: a local folder laid out like the course's data root
   (``ecg5000/ECG5000_TRAIN.tsv``, ``mitdb/100.hea``, ...). Files are read in
   place, checked against their SHA-256, and nothing is downloaded.
2. ``ECG_COURSE_MIRROR``: the base URL of a mirror with that same layout (an
   instructor's server, or a test server on 127.0.0.1). Files are downloaded
   into the cache with pooch and checked against their SHA-256.
3. The primary sources on the internet (PhysioNet for MIT-BIH; the
   timeseriesclassification.com archive for ECG5000, see :mod:`ecg_course.ecg5000`).

Downloads land in ``ECG_COURSE_CACHE`` (default: the OS cache folder, e.g.
``~/.cache/ecg_course``; ``~`` is expanded). pooch writes to a temporary file and
moves it into place only once its hash is right, so a failed or corrupted download
never leaves a half file behind. A cache folder that cannot be written (read-only,
on a read-only file system, or on a full disk) never fails a load: the files are
downloaded into a temporary folder instead, with a :class:`CacheWarning` naming the
folder (see :func:`retrieve`); files already in a read-only cache are read there.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import tempfile
import warnings
from functools import cache
from pathlib import Path

import pooch

DATA_ENV = "ECG_COURSE_DATA"
MIRROR_ENV = "ECG_COURSE_MIRROR"
CACHE_ENV = "ECG_COURSE_CACHE"

PHYSIONET_MITDB_URL = "https://physionet.org/files/mitdb/1.0.0/"
"""PhysioNet serves the MIT-BIH files with the layout of ``mitdb/``."""

_REGISTRY_FILE = Path(__file__).with_name("registry.txt")


@cache
def registry() -> dict[str, str]:
    """Known SHA-256 of every raw file, keyed by path relative to the data root."""
    entries = {}
    for line in _REGISTRY_FILE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, digest = line.split()
            entries[name] = digest
    return entries


class CacheWarning(UserWarning):
    """The cache could not be written: the data are loaded all the same, but will be
    downloaded or built again next time."""


_WRITE_ERRNOS = {
    errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.ENOTDIR, errno.EEXIST,
    getattr(errno, "EDQUOT", errno.ENOSPC),
}  # fmt: skip


def cannot_write(error: BaseException) -> bool:
    """True when ``error`` says a file or folder could not be written (permission,
    read-only file system, full disk or quota, a file where a folder should be)."""
    return isinstance(error, PermissionError | NotADirectoryError | FileExistsError) or (
        isinstance(error, OSError) and error.errno in _WRITE_ERRNOS
    )


def cache_dir() -> Path:
    """Folder where downloads and processed arrays are cached (``~`` expanded)."""
    path = os.environ.get(CACHE_ENV)
    return Path(path).expanduser() if path else Path(pooch.os_cache("ecg_course"))


_FALLBACKS: dict[Path, Path] = {}
"""Cache folders that could not be written in this process -> the temporary folder used instead."""


@cache
def _fallback_root() -> Path:
    return Path(tempfile.mkdtemp(prefix="ecg_course-cache-"))


def _fall_back(folder: Path, error: OSError) -> Path:
    """The temporary folder that stands in for ``folder``, with a warning the first time."""
    if folder not in _FALLBACKS:
        # pooch's own PermissionError adds "Will not be able to download": say the cause only
        reason = error.__cause__ if isinstance(error.__cause__, OSError) else error
        _FALLBACKS[folder] = (
            _fallback_root() / hashlib.sha256(str(folder).encode()).hexdigest()[:16]
        )
        warnings.warn(
            f"Could not write to the cache folder {folder} ({reason}). Downloading into the "
            f"temporary folder {_FALLBACKS[folder]} instead, which is not kept: set "
            f"{CACHE_ENV} to a writable folder with free space to keep the downloads.",
            CacheWarning,
            stacklevel=3,
        )
    return _FALLBACKS[folder]


def retrieve(
    url: str, known_hash: str | None, folder: Path, fname: str, progress: bool = False
) -> Path:
    """``pooch.retrieve`` of ``url`` into ``folder / fname``, never failing for the cache.

    A file already in ``folder`` with the right hash is read there, written or not.
    When ``folder`` cannot be written (see :func:`cannot_write`), the file goes to a
    temporary folder instead, with a :class:`CacheWarning` naming ``folder`` (once per
    folder and process); from then on every file of ``folder`` is served from that
    temporary folder (those already in ``folder`` are copied there, never moved), so
    that the files of one record stay together.

    Raises:
        OSError: neither ``folder`` nor the temporary folder could take the file (the
            message names both); other errors are pooch's (a hash mismatch is a
            ValueError, a failed download a ``requests`` error).
    """

    def into(path: Path) -> Path:
        return Path(
            pooch.retrieve(url, known_hash=known_hash, fname=fname, path=path, progressbar=progress)
        )

    fallback = _FALLBACKS.get(folder)
    if fallback is None:
        try:
            return into(folder)
        except OSError as error:
            if not cannot_write(error):
                raise
            fallback = _fall_back(folder, error)
    elif (folder / fname).is_file() and not (fallback / fname).is_file():
        try:
            kept = into(folder)  # verified in place, or re-downloaded where it was damaged
            fallback.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(kept, fallback / fname)
        except OSError as error:
            if not cannot_write(error):
                raise
    try:
        return into(fallback)
    except OSError as error:
        if not cannot_write(error):
            raise
        raise OSError(
            error.errno,
            f"Could not write {fname} to the cache folder {folder} nor to the temporary "
            f"folder {fallback} ({error}). Free some disk space, or set {CACHE_ENV} to a "
            "writable folder.",
        ) from error


def local_data_dir() -> Path | None:
    """The folder named by ``ECG_COURSE_DATA``, or None when it is unset.

    Raises:
        FileNotFoundError: the variable is set but names no folder.
    """
    path = os.environ.get(DATA_ENV)
    if not path:
        return None
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(
            f"{DATA_ENV}={path!r} is not a folder. Point it at a folder laid out "
            "like the course data root (ecg5000/ECG5000_TRAIN.tsv, mitdb/100.hea, ...) "
            f"or unset it to download the data."
        )
    return folder


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify(path: Path, expected_sha256: str) -> Path:
    """Return ``path`` if its SHA-256 matches, else raise a ``ValueError`` naming both."""
    actual = sha256_of(path)
    if actual != expected_sha256:
        raise ValueError(
            f"Checksum mismatch for {path}: expected SHA-256 {expected_sha256}, "
            f"got {actual}. The file is corrupted or not the published version; "
            "replace it with a fresh copy from the source."
        )
    return path


def mirror_url() -> str | None:
    """Base URL of the mirror named by ``ECG_COURSE_MIRROR`` (with a trailing slash)."""
    url = os.environ.get(MIRROR_ENV)
    if not url:
        return None
    return url if url.endswith("/") else url + "/"


def fetch(name: str, upstream_url: str | None = None, progress: bool = False) -> Path:
    """Path to a verified copy of the raw file ``name`` (e.g. ``"mitdb/100.dat"``).

    Args:
        name: path relative to the data root; must be in :func:`registry`.
        upstream_url: URL of this file at its primary source, used when neither
            ``ECG_COURSE_DATA`` nor ``ECG_COURSE_MIRROR`` is set.
        progress: show a download progress bar.

    Raises:
        KeyError: ``name`` is not a known file.
        FileNotFoundError: the local folder lacks the file, or no source is available.
        ValueError: the file's SHA-256 differs from the registry.
    """
    expected = registry().get(name)
    if expected is None:
        raise KeyError(f"{name!r} is not a known data file; known files look like 'mitdb/100.dat'.")
    local = local_data_dir()
    if local is not None:
        path = local / name
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} is missing. {DATA_ENV} points at {local}, which should hold "
                f"{name}; copy the dataset there or unset {DATA_ENV} to download it."
            )
        return verify(path, expected)
    base = mirror_url()
    url = base + name if base else upstream_url
    if url is None:
        raise FileNotFoundError(f"No source for {name}: set {DATA_ENV} or {MIRROR_ENV}.")
    target = cache_dir() / "raw" / name
    try:
        downloaded = retrieve(url, f"sha256:{expected}", target.parent, target.name, progress)
    except ValueError as error:  # pooch's hash mismatch; its temporary file is gone
        raise ValueError(
            f"Checksum mismatch for {name} downloaded from {url}: expected SHA-256 "
            f"{expected}. Nothing was kept in {target.parent}. ({error})"
        ) from error
    except Exception as error:
        if cannot_write(error):  # the cache and the temporary folder: retrieve named both
            raise
        raise ConnectionError(
            f"Could not download {name} from {url} ({type(error).__name__}: {error}). "
            f"Offline? Set {DATA_ENV} to a folder that holds the course data "
            "(see the README, 'Working offline')."
        ) from error
    return Path(downloaded)
