"""Datasets of the course: loading, verifying, splitting and batching heartbeats.

``load_ecg5000`` returns the UCR ECG5000 beats; ``load_mitbih`` and
``load_mitbih_csv`` the MIT-BIH heartbeats (built in :mod:`ecg_course.mitbih`).
``stratified_split``, ``BeatDataset``, ``make_loader`` and ``make_weighted_loader``
turn arrays into the train/validation/test batches the notebooks train on.
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import IO

import numpy as np
import pooch
import torch
from sklearn.model_selection import train_test_split
from torch.utils.data import DataLoader, Dataset, WeightedRandomSampler

from ecg_course import sources
from ecg_course.mitbih import load_mitbih, load_mitbih_csv

__all__ = [
    "ECG5000_CLASS_NAMES",
    "MITBIH_CLASS_NAMES",
    "BeatDataset",
    "load_ecg5000",
    "load_mitbih",
    "load_mitbih_csv",
    "make_loader",
    "make_weighted_loader",
    "stratified_split",
    "validate_beats",
]

ECG5000_CLASS_NAMES = ("Normal", "R-on-T PVC", "PVC", "SP or EB", "Unclassified")
"""Classes 0..4 of ECG5000 (UCR labels 1..5), as named by the UCR archive."""

MITBIH_CLASS_NAMES = ("N", "S", "V", "F", "Q")
"""The five AAMI heartbeat classes of the MIT-BIH chapter, labels 0..4."""

ECG5000_ZIP_URL = "https://www.timeseriesclassification.com/aeon-toolkit/ECG5000.zip"
"""The archive tslearn's ``UCR_UEA_datasets().load_dataset("ECG5000")`` reads."""

# What the UCR ECG5000 split must contain. The fingerprint is three sums over the
# beats, weighted so that a changed value, row order or column order moves them.
# The zip above prints the same values with other rounding, hence a tolerance
# (rounding moves the sums by about 1e-3; changing one value by 0.1 moves them more).
_ECG5000_EXPECTED = {
    "TRAIN": {
        "counts": (292, 177, 10, 19, 2),
        "fingerprint": (991737.2786706567, 23133.503853400543, -119347.32930635705),
    },
    "TEST": {
        "counts": (2627, 1590, 86, 175, 22),
        "fingerprint": (9288003.819457998, 209330.7135246267, -1056489.3811232545),
    },
}
_ECG5000_LENGTH = 140
_CACHE_VERSION = 1


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


def _check_ecg5000(X: np.ndarray, y: np.ndarray, part: str, origin: str) -> None:
    """Raise ValueError unless (X, y) is the published ECG5000 ``part`` (TRAIN/TEST)."""
    expected = _ECG5000_EXPECTED[part]
    n = sum(expected["counts"])
    if X.shape != (n, _ECG5000_LENGTH):
        raise ValueError(
            f"ECG5000 {part} from {origin} has shape {X.shape}, expected ({n}, {_ECG5000_LENGTH})."
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


def _read_ecg5000_part(part: str) -> tuple[np.ndarray, np.ndarray]:
    """Read and check one part from ECG_COURSE_DATA / the mirror, else the upstream zip."""
    if sources.local_data_dir() is not None or sources.mirror_url() is not None:
        path = sources.fetch(f"ecg5000/ECG5000_{part}.tsv")
        X, y = _parse_ucr_rows(path)
        _check_ecg5000(X, y, part, str(path))
        return X, y
    zip_path = _download_ecg5000_zip()
    try:
        with zipfile.ZipFile(zip_path) as archive, archive.open(f"ECG5000_{part}.txt") as member:
            X, y = _parse_ucr_rows(member)
        _check_ecg5000(X, y, part, ECG5000_ZIP_URL)
    except (ValueError, KeyError, zipfile.BadZipFile) as error:
        zip_path.unlink(missing_ok=True)  # our own cached download: fetch it afresh next time
        raise ValueError(
            f"{error} The downloaded {zip_path.name} was removed from the cache; "
            "run again to download it anew."
        ) from error
    return X, y


def _download_ecg5000_zip() -> Path:
    folder = sources.cache_dir() / "raw" / "ecg5000"
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel("WARNING")  # no "use this known_hash" advice: the values are checked
    try:
        return Path(
            pooch.retrieve(
                ECG5000_ZIP_URL, known_hash=None, path=folder, fname="ECG5000.zip", progressbar=True
            )
        )
    except Exception as error:
        raise ConnectionError(
            f"Could not download ECG5000 from {ECG5000_ZIP_URL} ({error}). Offline? Set "
            f"{sources.DATA_ENV} to a folder holding ecg5000/ECG5000_TRAIN.tsv and "
            "ecg5000/ECG5000_TEST.tsv (see the README, 'Working offline')."
        ) from error
    finally:
        logger.setLevel(level)


def load_ecg5000(cache: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The UCR ECG5000 beats in the archive's default split.

    Reads ``ECG_COURSE_DATA/ecg5000/*.tsv`` when that variable is set (SHA-256
    checked, nothing downloaded), else downloads the data once. Either way the
    result is checked (shape, class counts, a checksum of the values) and cached
    as ``ecg5000.npz`` in :func:`ecg_course.sources.cache_dir`.

    Returns:
        X_train: float32 (500, 140), y_train: int64 (500,) in 0..4,
        X_test: float32 (4500, 140), y_test: int64 (4500,) in 0..4.
        Class 0 is the normal beat (see ``ECG5000_CLASS_NAMES``).
    """
    cached = sources.cache_dir() / "processed" / "ecg5000.npz"
    if cache and cached.is_file():
        try:
            with np.load(cached) as arrays:
                if int(arrays["version"]) == _CACHE_VERSION:
                    parts = [arrays[k] for k in ("X_train", "y_train", "X_test", "y_test")]
                    _check_ecg5000(parts[0], parts[1], "TRAIN", str(cached))
                    _check_ecg5000(parts[2], parts[3], "TEST", str(cached))
                    return tuple(parts)  # type: ignore[return-value]
        except (OSError, KeyError, ValueError, zipfile.BadZipFile):
            pass  # stale or corrupt cache: rebuild below
    X_train, y_train = _read_ecg5000_part("TRAIN")
    X_test, y_test = _read_ecg5000_part("TEST")
    if cache:
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(".tmp.npz")
        np.savez_compressed(
            partial,
            X_train=X_train,
            y_train=y_train,
            X_test=X_test,
            y_test=y_test,
            version=_CACHE_VERSION,
        )
        partial.replace(cached)
    return X_train, y_train, X_test, y_test


def validate_beats(
    X: np.ndarray, y: np.ndarray | None = None, num_classes: int | None = None, name: str = "X"
) -> None:
    """Raise a ValueError naming what was expected unless X is (n, T) finite numbers
    and y (if given) holds n integer labels in 0..num_classes-1."""
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (n_beats, n_samples); got shape {X.shape}.")
    if not np.issubdtype(X.dtype, np.number):
        raise ValueError(f"{name} must hold numbers; got dtype {X.dtype}.")
    if not np.isfinite(X).all():
        bad = int((~np.isfinite(X)).any(axis=1).sum())
        raise ValueError(f"{name} must be finite; {bad} beat(s) contain NaN or inf.")
    if y is None:
        return
    y = np.asarray(y)
    if y.shape != (len(X),):
        raise ValueError(f"y must have shape ({len(X)},) to match {name}; got {y.shape}.")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"y must hold integer class labels; got dtype {y.dtype}.")
    if num_classes is not None and len(y) and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(
            f"y must hold labels in 0..{num_classes - 1}; got values from {y.min()} to {y.max()}."
        )


def stratified_split(
    X: np.ndarray,
    y: np.ndarray,
    fractions: Sequence[float] = (0.6, 0.2, 0.2),
    random_state: int = 42,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split beats into train/validation/test sets with the same class proportions.

    Two nested ``train_test_split`` calls: first the test set is set aside,
    then the validation set is taken from what is left.

    Args:
        X: (n, T) beats; y: (n,) integer labels.
        fractions: train, validation and test fractions, summing to 1.

    Returns:
        X_train, X_val, X_test, y_train, y_val, y_test.
    """
    validate_beats(X, y)
    if len(fractions) != 3 or any(f <= 0 for f in fractions) or not np.isclose(sum(fractions), 1):
        raise ValueError(
            f"fractions must be three positive numbers (train, val, test) summing to 1; "
            f"got {tuple(fractions)}."
        )
    train_f, val_f, test_f = fractions
    X_rest, X_test, y_rest, y_test = train_test_split(
        X, y, test_size=test_f, stratify=y, random_state=random_state
    )
    X_train, X_val, y_train, y_val = train_test_split(
        X_rest,
        y_rest,
        test_size=val_f / (train_f + val_f),
        stratify=y_rest,
        random_state=random_state,
    )
    return X_train, X_val, X_test, y_train, y_val, y_test


class BeatDataset(Dataset):
    """Heartbeats as (sequence, label) pairs for a ``DataLoader``.

    Args:
        X: (n, T) beats, any real dtype (stored as float32).
        y: (n,) integer labels (stored as int64).

    Items: ``x`` float32 tensor (T, 1), ``y`` int64 scalar tensor.
    """

    def __init__(self, X: np.ndarray, y: np.ndarray) -> None:
        validate_beats(X, y)
        self.X = torch.as_tensor(np.asarray(X, dtype=np.float32)).unsqueeze(-1)
        self.y = torch.as_tensor(np.asarray(y, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.X[index], self.y[index]


class RandomPrefixCollate:
    """Collate a batch and keep only a random prefix of every beat in it.

    Training on prefixes teaches a model to classify a beat it has only partly
    seen (early classification). Each batch gets one length, drawn uniformly
    among the multiples of ``multiple_of`` between ``min_fraction`` of the beat
    and the whole beat (``multiple_of`` matches a model's ``samples_per_step``).
    """

    def __init__(self, min_fraction: float = 0.1, seed: int = 0, multiple_of: int = 1) -> None:
        if not 0 < min_fraction <= 1:
            raise ValueError(f"min_fraction must be in (0, 1]; got {min_fraction}.")
        if multiple_of < 1:
            raise ValueError(f"multiple_of must be at least 1; got {multiple_of}.")
        self.min_fraction = min_fraction
        self.multiple_of = multiple_of
        self.generator = torch.Generator().manual_seed(seed)

    def __call__(self, batch: list[tuple[torch.Tensor, torch.Tensor]]):
        x = torch.stack([item[0] for item in batch])
        y = torch.stack([item[1] for item in batch])
        steps = x.shape[1] // self.multiple_of
        fewest = min(steps, max(1, int(np.ceil(self.min_fraction * steps - 1e-9))))
        keep = int(torch.randint(fewest, steps + 1, (1,), generator=self.generator))
        return x[:, : keep * self.multiple_of], y


def make_loader(
    X: np.ndarray,
    y: np.ndarray,
    batch_size: int = 64,
    shuffle: bool = False,
    seed: int = 0,
    random_prefix: float | None = None,
    prefix_multiple: int = 1,
) -> DataLoader:
    """A ``DataLoader`` over :class:`BeatDataset` with a seeded shuffle.

    Args:
        random_prefix: if given, every batch is cut to a random prefix of at
            least this fraction of the beat (see :class:`RandomPrefixCollate`),
            whose length is a multiple of ``prefix_multiple`` samples.

    Batches: x float32 (B, T, 1) (T shorter with ``random_prefix``), y int64 (B,).
    """
    generator = torch.Generator().manual_seed(seed)
    collate = RandomPrefixCollate(random_prefix, seed, prefix_multiple) if random_prefix else None
    return DataLoader(
        BeatDataset(X, y),
        batch_size=batch_size,
        shuffle=shuffle,
        generator=generator,
        collate_fn=collate,
    )


def make_weighted_loader(
    X: np.ndarray,
    y: np.ndarray,
    alpha: float = 0.5,
    batch_size: int = 64,
    num_samples: int | None = None,
    seed: int = 0,
) -> DataLoader:
    """A ``DataLoader`` that draws beats with replacement, rare classes more often.

    A beat of class ``c`` (``n_c`` beats in ``y``) is drawn with probability
    proportional to ``n_c ** alpha / n_c``, so class ``c`` makes up a share
    ``n_c ** alpha / sum_k n_k ** alpha`` of the beats drawn: ``alpha = 1`` keeps the
    natural mix, ``alpha = 0`` shows every class equally often, and values in between
    trade the two. Unlike undersampling, every beat can be drawn.

    Args:
        X: (n, T) beats.
        y: (n,) integer labels; classes with no beats are simply never drawn.
        alpha: exponent in [0, 1].
        batch_size: beats per batch.
        num_samples: beats drawn per pass over the loader (one "epoch"); ``len(y)``
            by default.
        seed: seed of the draws (the same seed gives the same batches).

    Batches: x float32 (B, T, 1), y int64 (B,).
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1]; got {alpha}.")
    if num_samples is not None and num_samples < 1:
        raise ValueError(f"num_samples must be a positive number of beats; got {num_samples}.")
    dataset = BeatDataset(X, y)
    counts = torch.bincount(dataset.y).double()
    # Empty classes get weight 0 (never drawn) instead of 0 ** alpha / 0.
    per_class = torch.where(counts > 0, counts**alpha / counts.clamp(min=1), 0.0)
    sampler = WeightedRandomSampler(
        per_class[dataset.y],
        num_samples=len(dataset) if num_samples is None else num_samples,
        replacement=True,
        generator=torch.Generator().manual_seed(seed),
    )
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler)
