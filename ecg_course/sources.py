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
``~/.cache/ecg_course``). pooch writes to a temporary file and moves it into
place only once its hash is right, so a failed or corrupted download never
leaves a half file behind.
"""

from __future__ import annotations

import hashlib
import os
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


def cache_dir() -> Path:
    """Folder where downloads and processed arrays are cached."""
    path = os.environ.get(CACHE_ENV)
    return Path(path) if path else Path(pooch.os_cache("ecg_course"))


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
        downloaded = pooch.retrieve(
            url,
            known_hash=f"sha256:{expected}",
            fname=target.name,
            path=target.parent,
            progressbar=progress,
        )
    except ValueError as error:  # pooch's hash mismatch; its temporary file is gone
        raise ValueError(
            f"Checksum mismatch for {name} downloaded from {url}: expected SHA-256 "
            f"{expected}. Nothing was kept in {target.parent}. ({error})"
        ) from error
    except Exception as error:
        raise ConnectionError(
            f"Could not download {name} from {url} ({type(error).__name__}: {error}). "
            f"Offline? Set {DATA_ENV} to a folder that holds the course data "
            "(see the README, 'Working offline')."
        ) from error
    return Path(downloaded)
