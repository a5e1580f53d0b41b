"""ECG5000 (UCR Time Series Classification Archive): 5,000 beats of 140 samples, 5 classes.

The beats come from ``ECG_COURSE_DATA/ecg5000/*.tsv`` or a mirror (SHA-256 checked
by :mod:`ecg_course.sources`), else from the archive that tslearn's
``UCR_UEA_datasets`` reads. Every copy is checked for the published shape, class
counts and values, and cached by :mod:`ecg_course.cache`.

Reference: Dau et al., "The UCR time series archive", IEEE/CAA J. Autom. Sinica
6(6):1293-1305, 2019 (derived from record chf07 of the BIDMC Congestive Heart
Failure Database on PhysioNet).
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import IO

import numpy as np
import pooch

from ecg_course import cache as array_cache
from ecg_course import sources

__all__ = ["CLASSES", "LENGTH", "ZIP_URL", "cache_path", "load_ecg5000"]

CLASSES: tuple[str, ...] = ("Normal", "R-on-T PVC", "PVC", "SP or EB", "Unclassified")
"""Classes 0..4 of ECG5000 (UCR labels 1..5), as named by the UCR archive."""

LENGTH = 140
"""Samples per beat."""

ZIP_URL = "https://www.timeseriesclassification.com/aeon-toolkit/ECG5000.zip"
"""The archive tslearn's ``UCR_UEA_datasets().load_dataset("ECG5000")`` reads."""

# What the UCR ECG5000 split must contain. The fingerprint is three sums over the
# beats, weighted so that a changed value, row order or column order moves them.
# The zip above prints the same values with other rounding, hence a tolerance
# (rounding moves the sums by about 1e-3; changing one value by 0.1 moves them more).
_EXPECTED = {
    "TRAIN": {
        "counts": (292, 177, 10, 19, 2),
        "fingerprint": (991737.2786706567, 23133.503853400543, -119347.32930635705),
    },
    "TEST": {
        "counts": (2627, 1590, 86, 175, 22),
        "fingerprint": (9288003.819457998, 209330.7135246267, -1056489.3811232545),
    },
}


_CACHE_ARRAYS = ("X_train", "y_train", "X_test", "y_test")


def _fingerprint(X: np.ndarray) -> np.ndarray:
    X = X.astype(np.float64)
    n, t = X.shape
    return np.array(
        [
            (X * np.arange(t)).sum(),
            (np.abs(X) * np.arange(n)[:, None]).sum() / n,
            (X**3).sum(),
        ]
    )


def _check(X: np.ndarray, y: np.ndarray, part: str, origin: str) -> None:
    """Raise ValueError unless (X, y) is the published ECG5000 ``part`` (TRAIN/TEST)."""
    expected = _EXPECTED[part]
    n = sum(expected["counts"])
    if X.shape != (n, LENGTH):
        raise ValueError(
            f"ECG5000 {part} from {origin} has shape {X.shape}, expected ({n}, {LENGTH})."
        )
    counts = tuple(int(c) for c in np.bincount(y, minlength=5))
    if counts != expected["counts"]:
        raise ValueError(
            f"ECG5000 {part} from {origin} has class counts {counts}, "
            f"expected {expected['counts']}."
        )
    if not np.allclose(_fingerprint(X), expected["fingerprint"], rtol=0, atol=0.01):
        raise ValueError(
            f"ECG5000 {part} from {origin} does not hold the published values "
            "(checksum of the beats differs). Delete that file to download it again."
        )


def _parse_ucr_rows(path: Path | IO[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """Read a UCR text file (label then samples per row, tabs or spaces)."""
    rows = np.loadtxt(path, dtype=np.float64)
    y = rows[:, 0].astype(np.int64) - 1  # UCR labels 1..5 -> 0..4
    return rows[:, 1:].astype(np.float32), y


def _read_part(part: str) -> tuple[np.ndarray, np.ndarray]:
    """Read and check one part from ECG_COURSE_DATA / the mirror, else the upstream zip."""
    if sources.local_data_dir() is not None or sources.mirror_url() is not None:
        path = sources.fetch(f"ecg5000/ECG5000_{part}.tsv")
        X, y = _parse_ucr_rows(path)
        _check(X, y, part, str(path))
        return X, y
    zip_path = _download_zip()
    try:
        with zipfile.ZipFile(zip_path) as archive, archive.open(f"ECG5000_{part}.txt") as member:
            X, y = _parse_ucr_rows(member)
        _check(X, y, part, ZIP_URL)
    except (ValueError, KeyError, zipfile.BadZipFile) as error:
        try:
            zip_path.unlink(missing_ok=True)  # our own cached download: fetch it afresh next time
            done = f"The downloaded {zip_path.name} was removed from the cache; run again to "
            done += "download it anew."
        except OSError as unlink_error:  # a read-only cache
            done = f"The downloaded {zip_path} could not be removed ({unlink_error}); remove it."
        raise ValueError(f"{error} {done}") from error
    return X, y


def _download_zip() -> Path:
    folder = sources.cache_dir() / "raw" / "ecg5000"
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel("WARNING")  # no "use this known_hash" advice: the values are checked
    try:
        return sources.retrieve(ZIP_URL, None, folder, "ECG5000.zip", progress=True)
    except Exception as error:
        if sources.cannot_write(error):  # the cache and the temporary folder: retrieve named both
            raise
        raise ConnectionError(
            f"Could not download ECG5000 from {ZIP_URL} ({error}). Offline? Set "
            f"{sources.DATA_ENV} to a folder holding ecg5000/ECG5000_TRAIN.tsv and "
            "ecg5000/ECG5000_TEST.tsv (see the README, 'Working offline')."
        ) from error
    finally:
        logger.setLevel(level)


def cache_path() -> Path:
    """Where :func:`load_ecg5000` caches the beats (keyed by :mod:`ecg_course.cache`)."""
    return array_cache.cache_path("ecg5000", _cache_key())


def _cache_key() -> str:
    return array_cache.cache_key("ecg5000", {"length": LENGTH, "expected": _EXPECTED})


def load_ecg5000(cache: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The UCR ECG5000 beats in the archive's default split.

    Reads ``ECG_COURSE_DATA/ecg5000/*.tsv`` when that variable is set (SHA-256
    checked, nothing downloaded), else downloads the data once. Either way the
    result is checked (shape, class counts, a checksum of the values) and cached
    in :func:`cache_path` (see :mod:`ecg_course.cache`; a cache that fails these
    checks is rebuilt).

    Args:
        cache: read and write the cache (False: always read the source).

    Returns:
        X_train: float32 (500, 140), y_train: int64 (500,) in 0..4,
        X_test: float32 (4500, 140), y_test: int64 (4500,) in 0..4.
        Class 0 is the normal beat (see :data:`CLASSES`).
    """
    path, key = cache_path(), _cache_key()
    if cache:
        cached = array_cache.read_arrays(path, key, _CACHE_ARRAYS)
        if cached is not None:
            parts = tuple(cached[name] for name in _CACHE_ARRAYS)
            try:
                _check(parts[0], parts[1], "TRAIN", str(path))
                _check(parts[2], parts[3], "TEST", str(path))
                return parts  # type: ignore[return-value]
            except ValueError:
                pass  # tampered with: rebuild below
    X_train, y_train = _read_part("TRAIN")
    X_test, y_test = _read_part("TEST")
    if cache:  # a cache that cannot be written only warns (CacheWarning)
        arrays = (X_train, y_train, X_test, y_test)
        array_cache.store_arrays(path, key, dict(zip(_CACHE_ARRAYS, arrays, strict=True)))
    return X_train, y_train, X_test, y_test
