"""Chapter 1: the train / validation / test split of ECG5000 (check_split).

Its own module because the split's mistakes (no random_state, another order of the two
train_test_split calls, other strata or fractions) are a topic of their own, apart from
training and evaluating the LSTM in chapter1.py."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from sklearn.model_selection import train_test_split

from ecg_course.checks._common import (
    ExerciseError,
    _expect,
    _name_mistake,
    _numpy_answer,
    _passed,
    _row_keys,
    _same_rows,
)
from ecg_course.data import stratified_split

# The three sets, in the order check_split takes them, and the suffix of their names
# (X_train, y_val...).
_SHORT_NAMES = {"training": "train", "validation": "val", "test": "test"}
_SETS = tuple(_SHORT_NAMES)
_OUTPUT_ORDER = "train_test_split returns X_rest, X_test, y_rest, y_test in that order"

# {set name: (its beats (m, T), its labels (m,))}
Parts = dict[str, tuple[np.ndarray, np.ndarray]]
# (train, validation, test) row numbers of X
RowParts = tuple[np.ndarray, np.ndarray, np.ndarray]


def _split(X, y, fractions, random_state, strata_test="y", strata_val="y", strata=None):
    """A train/val/test split as train_test_split makes it, with chosen stratification."""
    _, val_f, test_f = fractions
    idx = np.arange(len(y))
    by = {"y": y, None: None, "strata": strata}
    rest, test = train_test_split(
        idx, test_size=test_f, stratify=by[strata_test], random_state=random_state
    )
    s_val = {
        "y": y[rest],
        None: None,
        "strata": None if strata is None else strata[rest],
    }
    train, val = train_test_split(
        rest,
        test_size=val_f / (fractions[0] + val_f),
        stratify=s_val[strata_val],
        random_state=random_state,
    )
    return train, val, test


# --- what the answer holds ---------------------------------------------------------------------


def _answer_parts(X_parts: Sequence, y_parts: Sequence) -> Parts:
    """The student's (X_train, X_val, X_test) and (y_train, y_val, y_test) as arrays, by set;
    a tensor or a DataFrame is refused with a message."""
    return {
        name: (_numpy_answer(X_part, f"X_{short}"), _numpy_answer(y_part, f"y_{short}"))
        for (name, short), X_part, y_part in zip(
            _SHORT_NAMES.items(), X_parts, y_parts, strict=True
        )
    }


def _expected_parts(X: np.ndarray, y: np.ndarray, fractions, random_state: int) -> Parts:
    """The right split of X (n, T) and y (n,), by set."""
    expected = stratified_split(X, y, fractions, random_state)
    return dict(zip(_SETS, zip(expected[:3], expected[3:], strict=True), strict=True))


def _check_unpacking(name: str, X_part: np.ndarray, y_part: np.ndarray, X, y) -> None:
    """Raise when train_test_split's outputs were unpacked in the wrong order: X_ holding
    labels (1-D), y_ holding beats (rows like those of X (n, T))."""
    short = _SHORT_NAMES[name]
    labels = set(np.unique(y).tolist())
    _expect(
        not (X_part.ndim == 1 and set(np.unique(X_part).tolist()) <= labels),
        f"X_{short} holds labels (shape {X_part.shape}), not beats: {_OUTPUT_ORDER}.",
    )
    _expect(
        not (y_part.ndim == 2 and y_part.shape[1:] == X.shape[1:]),
        f"y_{short} holds beats (shape {y_part.shape}), not labels: {_OUTPUT_ORDER}.",
    )


def _check_shapes(name: str, X_part: np.ndarray, y_part: np.ndarray, X, want: int) -> None:
    """Raise unless X_part is (m, T) as X (n, T) is, and y_part (m,): one label per beat."""
    short = _SHORT_NAMES[name]
    _expect(
        X_part.ndim == 2 and X_part.shape[1:] == X.shape[1:],
        f"X_{short} has shape {X_part.shape}, expected ({want}, {X.shape[1]}): one beat of "
        f"{X.shape[1]} samples per row, as in X.",
    )
    _expect(
        y_part.ndim == 1,
        f"y_{short} has shape {y_part.shape}, expected ({want},): one label per beat.",
    )
    _expect(
        len(X_part) == len(y_part),
        f"the {name} set has {len(X_part):,} beats but {len(y_part):,} labels.",
    )


def _check_labels(name: str, y_part: np.ndarray, y, other_labels) -> None:
    """Raise when y_part (m,) holds labels that y (n,) does not: other labels were split."""
    _expect(
        set(np.unique(y_part)) <= set(np.unique(y)),
        f"y_{_SHORT_NAMES[name]} holds the labels {sorted(np.unique(y_part).tolist())}, but the "
        f"labels to split are {sorted(np.unique(y).tolist())}: split those labels"
        + (", not the five classes." if other_labels is not None else "."),
    )


def _check_size(
    name: str, X_part: np.ndarray, want: int, fraction: float, fractions, n: int
) -> None:
    """Raise unless the set has ``want`` rows, its share ``fraction`` of the n beats."""
    _expect(
        len(X_part) == want,
        f"the {name} set has {len(X_part):,} rows, expected {want:,} ({fraction:.0%} of {n:,}): "
        f"the test set is {fractions[2]:.0%} of all beats, the validation set "
        f"{fractions[1] / (fractions[0] + fractions[1]):.0%} of the rest.",
    )


def _check_disjoint(keys: dict[str, list[bytes]]) -> None:
    """Raise when a beat is in two sets; ``keys``: the rows of each set as bytes."""
    sets = {name: set(k) for name, k in keys.items()}
    for a, b in (
        ("training", "test"),
        ("training", "validation"),
        ("validation", "test"),
    ):
        shared = len(sets[a] & sets[b])
        _expect(
            not shared,
            f"{shared} beats are in both the {a} and the {b} set: split the test set off "
            "first, then split only what is left (X_rest).",
        )


def _check_rows_of_X(parts: Parts, keys: dict[str, list[bytes]], X, y) -> None:
    """Raise when a set holds a beat that is no row of X (n, T), or a label that is not
    its beat's label in y (n,)."""
    label_of: dict[bytes, set] = {}
    for key, label in zip(_row_keys(X), y.tolist(), strict=True):
        label_of.setdefault(key, set()).add(label)
    for name, (_, y_part) in parts.items():
        _expect(
            set(keys[name]) <= set(label_of),
            f"the {name} set holds beats that are not rows of X: split X itself.",
        )
        wrong = sum(
            label not in label_of[key]
            for key, label in zip(keys[name], y_part.tolist(), strict=True)
        )
        _expect(
            not wrong,
            f"{wrong:,} labels of the {name} set do not belong to its beats: pass X and "
            "y_binary to the same train_test_split call, and the X_rest, y_rest it returned "
            "to the second.",
        )


# --- a wrong split: which mistake gives it ------------------------------------------------------


def _check_order_kept(keys: dict[str, list[bytes]], expected: Parts) -> None:
    """Raise when every set holds the right beats, but in another order."""
    _expect(
        not all(set(keys[name]) == set(_row_keys(expected[name][0])) for name in _SETS),
        "the three sets hold the right beats but in another order: keep the arrays in the "
        "order train_test_split returns them.",
    )


def _stratification_mistakes(has_other_labels: bool) -> list[tuple[tuple, str]]:
    """((the strata of the first call, of the second), what to say) for each way of
    stratifying wrongly: "y" the labels split, None none, "strata" the other labels."""
    mistakes = [
        (
            (None, None),
            "neither train_test_split call is stratified: pass stratify=y_binary to "
            "the first and stratify=y_rest to the second.",
        ),
        (
            ("y", None),
            "the second train_test_split call is not stratified: pass stratify=y_rest.",
        ),
        (
            (None, "y"),
            "the first train_test_split call is not stratified: pass stratify=y_binary.",
        ),
    ]
    if has_other_labels:
        mistakes += [
            (
                ("strata", "strata"),
                "you stratified on the five-class labels y; stratify on the "
                "labels you split, y_binary (and y_rest in the second call).",
            ),
            (
                ("strata", "y"),
                "the first call is stratified on the five-class labels y; stratify on y_binary.",
            ),
            (
                ("y", "strata"),
                "the second call is stratified on the five-class labels of the rest; "
                "stratify on y_rest.",
            ),
        ]
    return mistakes


def _split_mistakes(
    X, y, fractions, random_state: int, other_labels
) -> list[tuple[Callable[[], RowParts | None], str]]:
    """(a function computing the rows of the split a mistake gives, or None where
    train_test_split refuses to make it; what to say) for the usual mistakes: another
    stratification, the validation and test sets swapped."""

    def stratified_on(strata_test, strata_val) -> RowParts | None:
        try:
            return _split(X, y, fractions, random_state, strata_test, strata_val, other_labels)
        except ValueError:
            return None

    def validation_first() -> RowParts:
        train, val, test = _split(X, y, fractions, random_state)
        return train, test, val

    mistakes: list[tuple[Callable[[], RowParts | None], str]] = [
        (lambda strata=strata: stratified_on(*strata), message)
        for strata, message in _stratification_mistakes(other_labels is not None)
    ]
    mistakes.append(
        (
            validation_first,
            "the validation and test sets are swapped: the first call sets the test set "
            "aside (X_rest, X_test = ...), the second takes the validation set from the rest.",
        )
    )
    return mistakes


def _name_split_mistake(parts: Parts, X, y, fractions, random_state: int, other_labels) -> None:
    """Raise the message of the usual mistake whose split the answer is: another
    stratification, the validation and test sets swapped, no shuffling."""
    if other_labels is not None:
        other_labels = np.asarray(other_labels)
    rows_of_X = np.ascontiguousarray(X, dtype=np.float32)

    def same_split(rows: RowParts) -> bool:
        return all(
            _same_rows(parts[name][0], rows_of_X[r]) for name, r in zip(_SETS, rows, strict=True)
        )

    _name_mistake(same_split, _split_mistakes(X, y, fractions, random_state, other_labels))
    n, n_test = len(X), len(parts["test"][0])  # the right size: checked before
    _name_mistake(
        lambda block: _same_rows(parts["test"][0], block),
        [
            (
                block,
                "the test set is a block of consecutive beats of X: the split was not shuffled "
                "(shuffle=False?); use the default shuffle with stratify=y_binary.",
            )
            for block in (rows_of_X[n - n_test :], rows_of_X[:n_test])
        ],
    )


def _check_proportions(parts: Parts, expected: Parts, y) -> None:
    """Raise when a set's count of some class differs by more than 1 from a stratified
    split's."""
    overall = np.bincount(y) / len(y)
    for name, (_, y_part) in parts.items():
        want = np.bincount(expected[name][1], minlength=len(overall))
        got = np.bincount(y_part, minlength=len(overall))
        worst = int(np.argmax(np.abs(got - want)))
        _expect(
            abs(int(got[worst]) - int(want[worst])) <= 1,
            f"the {name} set holds {got[worst]:,} beats of class {worst}, a stratified split "
            f"{want[worst]:,} ({overall[worst]:.1%} of all beats): pass stratify= to both "
            "train_test_split calls.",
        )


def _raise_other_draw(parts: Parts, expected: Parts, random_state: int) -> None:
    """Raise for a split of the right sizes and proportions that another draw made: in the
    second call only when the test set is right."""
    if _same_rows(parts["test"][0], expected["test"][0]):
        raise ExerciseError(
            "the test set is right, but the training and validation sets are not the ones "
            f"random_state={random_state} gives: pass random_state=SEED to the second "
            "train_test_split call too."
        )
    raise ExerciseError(
        f"sizes and proportions are right, but the test set is not the one "
        f"random_state={random_state} gives: pass random_state=SEED to both "
        "train_test_split calls, test set first, then the validation set from the rest."
    )


def check_split(
    X_train,
    X_val,
    X_test,
    y_train,
    y_val,
    y_test,
    X,
    y,
    fractions=(0.6, 0.2, 0.2),
    random_state: int = 42,
    other_labels=None,
) -> None:
    """Check a stratified train/validation/test split of (X, y).

    All six arrays are compared with the split that ``random_state`` gives.
    ``other_labels``: labels a student might stratify on by mistake (the 5 classes
    when ``y`` is binary); named in the message when they were used.
    """
    X, y = np.asarray(X), np.asarray(y)
    parts = _answer_parts((X_train, X_val, X_test), (y_train, y_val, y_test))
    expected = _expected_parts(X, y, fractions, random_state)
    for name, fraction in zip(_SETS, fractions, strict=True):
        X_part, y_part = parts[name]
        want = len(expected[name][0])
        _check_unpacking(name, X_part, y_part, X, y)
        _check_shapes(name, X_part, y_part, X, want)
        _check_labels(name, y_part, y, other_labels)
        _check_size(name, X_part, want, fraction, fractions, len(X))
    keys = {name: _row_keys(X_part) for name, (X_part, _) in parts.items()}
    _check_disjoint(keys)
    _check_rows_of_X(parts, keys, X, y)
    if all(_same_rows(parts[name][0], expected[name][0]) for name in _SETS):
        _passed(
            f"{len(parts['training'][0]):,} / {len(parts['validation'][0]):,} / "
            f"{len(parts['test'][0]):,} beats, stratified, no beat in two sets."
        )
        return
    _check_order_kept(keys, expected)
    _name_split_mistake(parts, X, y, fractions, random_state, other_labels)
    _check_proportions(parts, expected, y)
    _raise_other_draw(parts, expected, random_state)
