"""Arrays of beats -> PyTorch ``Dataset`` and ``DataLoader``: checking, splitting, batching.

``validate_beats`` checks arrays; ``stratified_split`` splits them into
train/validation/test sets; ``BeatDataset``, ``make_loader`` and
``make_weighted_loader`` turn them into the batches the notebooks train on. The
datasets themselves are loaded by :mod:`ecg_course.ecg5000` (``load_ecg5000``) and
:mod:`ecg_course.mitbih` (``load_mitbih``, ``load_mitbih_csv``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from torch.utils.data import DataLoader, Dataset, WeightedRandomSampler

from ecg_course.models._inputs import as_side_batch, require_finite

__all__ = [
    "BeatDataset",
    "RandomPrefixCollate",
    "make_loader",
    "make_weighted_loader",
    "stratified_split",
    "validate_beats",
]


def validate_beats(
    X: np.ndarray,
    y: np.ndarray | None = None,
    num_classes: int | None = None,
    name: str = "X",
    channels: bool = False,
) -> None:
    """Raise a ValueError naming what was expected unless X is (n, T) finite numbers
    (or (n, T, C) with ``channels=True``) and y (if given) holds n integer labels in
    0..num_classes-1."""
    X = np.asarray(X)
    if X.ndim != 2 and not (channels and X.ndim == 3):
        shape = "2-D array (n_beats, n_samples)"
        if channels:
            shape += " or a 3-D array (n_beats, n_samples, n_channels)"
        raise ValueError(f"{name} must be a {shape}; got shape {X.shape}.")
    if not np.issubdtype(X.dtype, np.number):
        raise ValueError(f"{name} must hold numbers; got dtype {X.dtype}.")
    require_finite(torch.as_tensor(X), name)
    if y is None:
        return
    y = np.asarray(y)
    if y.shape != (len(X),):
        raise ValueError(f"y must have shape ({len(X)},) to match {name}; got {y.shape}.")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"y must hold integer class labels; got dtype {y.dtype}.")
    if num_classes is None or not len(y):
        return
    outside = (y < 0) | (y >= num_classes)
    if outside.any():
        first = int(np.flatnonzero(outside)[0])
        raise ValueError(
            f"y must hold labels in 0..{num_classes - 1}; got values from {y.min()} to "
            f"{y.max()} (y[{first}] = {y[first]} is not a class of num_classes={num_classes})."
        )


def _check_num_classes(num_classes: int | None) -> None:
    if num_classes is not None and (
        isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer))
        or num_classes < 1
    ):  # fmt: skip
        raise ValueError(f"num_classes must be a positive integer or None; got {num_classes!r}.")


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
        X: (n, T) beats, any real dtype (stored as float32), or (n, T, C) beats of C
            channels (e.g. chapter 3's beat and beat relative to the patient's usual one).
        y: (n,) integer labels (stored as int64).
        side: optional (n, F) features of each beat besides its samples (e.g. its
            RR intervals, chapter 3), stored as float32.
        num_classes: the number of classes of the model the beats are for: every
            label must then be in 0..num_classes-1 (a label out of that range would
            only fail later, inside the loss, or on a GPU as a device-side assert).
            Labels must be at least 0 in any case: the loss reads label c as the
            model's output c.

    Items: ``x`` float32 tensor (T, 1) (or (T, C)), ``y`` int64 scalar tensor; with ``side``,
    ``(x, side, y)`` with ``side`` float32 (F,).
    """

    def __init__(
        self,
        X: np.ndarray,
        y: np.ndarray,
        side: np.ndarray | None = None,
        num_classes: int | None = None,
    ) -> None:
        _check_num_classes(num_classes)
        validate_beats(X, y, num_classes, channels=True)
        y = np.asarray(y)
        if len(y) and y.min() < 0:
            first = int(np.flatnonzero(y < 0)[0])
            raise ValueError(
                f"y must hold class labels 0, 1, 2, ...; got y[{first}] = {y[first]}: the "
                "loss reads label c as the model's output c, and there is no output -1."
            )
        X = torch.as_tensor(np.asarray(X, dtype=np.float32))
        self.X = X.unsqueeze(-1) if X.dim() == 2 else X
        self.y = torch.as_tensor(np.asarray(y, dtype=np.int64))
        self.side = None if side is None else as_side_batch(side, len(self.y))

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, ...]:
        if self.side is None:
            return self.X[index], self.y[index]
        return self.X[index], self.side[index], self.y[index]


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
    side: np.ndarray | None = None,
    num_classes: int | None = None,
) -> DataLoader:
    """A ``DataLoader`` over :class:`BeatDataset` with a seeded shuffle.

    Args:
        random_prefix: if given, every batch is cut to a random prefix of at
            least this fraction of the beat (see :class:`RandomPrefixCollate`),
            whose length is a multiple of ``prefix_multiple`` samples.
        side: optional (n, F) features of each beat (see :class:`BeatDataset`).
        num_classes: the model's number of classes; when given, a label outside
            0..num_classes-1 is refused here, naming it (see :class:`BeatDataset`).

    Batches: x float32 (B, T, 1) (T shorter with ``random_prefix``), y int64 (B,);
    with ``side``, ``(x, side, y)``, side float32 (B, F).
    """
    if side is not None and random_prefix:
        raise ValueError("random_prefix cuts the beats only; it does not take side features.")
    generator = torch.Generator().manual_seed(seed)
    collate = RandomPrefixCollate(random_prefix, seed, prefix_multiple) if random_prefix else None
    return DataLoader(
        BeatDataset(X, y, side, num_classes),
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
    side: np.ndarray | None = None,
    num_classes: int | None = None,
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
        side: optional (n, F) features of each beat (see :class:`BeatDataset`).
        num_classes: the model's number of classes; when given, a label outside
            0..num_classes-1 is refused here, naming it (see :class:`BeatDataset`).

    Batches: x float32 (B, T, 1), y int64 (B,); with ``side``, ``(x, side, y)``.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1]; got {alpha}.")
    if num_samples is not None and num_samples < 1:
        raise ValueError(f"num_samples must be a positive number of beats; got {num_samples}.")
    dataset = BeatDataset(X, y, side, num_classes)
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
