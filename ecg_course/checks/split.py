"""Chapter 1: the train / validation / test split of ECG5000 (check_split).

Its own module because the split's mistakes (no random_state, another order of the two
train_test_split calls, other strata or fractions) are a topic of their own, apart from
training and evaluating the LSTM in chapter1.py."""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import train_test_split

from ecg_course.checks._common import (
    ExerciseError,
    _expect,
    _numpy_answer,
    _passed,
    _row_keys,
    _same_rows,
)
from ecg_course.data import stratified_split

# --- the split -------------------------------------------------------------------------------


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
    n = len(X)
    names = ("training", "validation", "test")
    parts = {
        name: (_numpy_answer(Xp, f"X_{short}"), _numpy_answer(yp, f"y_{short}"))
        for name, short, Xp, yp in zip(
            names,
            ("train", "val", "test"),
            (X_train, X_val, X_test),
            (y_train, y_val, y_test),
            strict=True,
        )
    }
    expected = stratified_split(X, y, fractions, random_state)
    expected_parts = dict(zip(names, zip(expected[:3], expected[3:], strict=True), strict=True))
    labels = set(np.unique(y).tolist())
    order = "train_test_split returns X_rest, X_test, y_rest, y_test in that order"
    for (name, (Xp, yp)), f in zip(parts.items(), fractions, strict=True):
        short = {"training": "train", "validation": "val", "test": "test"}[name]
        want = len(expected_parts[name][0])
        # unpacked in the wrong order, X_ gets labels (1-D) and y_ gets beats
        _expect(
            not (Xp.ndim == 1 and set(np.unique(Xp).tolist()) <= labels),
            f"X_{short} holds labels (shape {Xp.shape}), not beats: {order}.",
        )
        _expect(
            not (yp.ndim == 2 and yp.shape[1:] == X.shape[1:]),
            f"y_{short} holds beats (shape {yp.shape}), not labels: {order}.",
        )
        _expect(
            Xp.ndim == 2 and Xp.shape[1:] == X.shape[1:],
            f"X_{short} has shape {Xp.shape}, expected ({want}, {X.shape[1]}): one beat of "
            f"{X.shape[1]} samples per row, as in X.",
        )
        _expect(
            yp.ndim == 1,
            f"y_{short} has shape {yp.shape}, expected ({want},): one label per beat.",
        )
        _expect(
            len(Xp) == len(yp),
            f"the {name} set has {len(Xp):,} beats but {len(yp):,} labels.",
        )
        _expect(
            set(np.unique(yp)) <= set(np.unique(y)),
            f"y_{short} holds the labels {sorted(np.unique(yp).tolist())}, but the labels to "
            f"split are {sorted(np.unique(y).tolist())}: split those labels"
            + (", not the five classes." if other_labels is not None else "."),
        )
        _expect(
            len(Xp) == want,
            f"the {name} set has {len(Xp):,} rows, expected {want:,} ({f:.0%} of {n:,}): "
            f"the test set is {fractions[2]:.0%} of all beats, the validation set "
            f"{fractions[1] / (fractions[0] + fractions[1]):.0%} of the rest.",
        )
    keys = {name: _row_keys(Xp) for name, (Xp, _) in parts.items()}
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
    label_of: dict[bytes, set] = {}
    for key, label in zip(_row_keys(X), y.tolist(), strict=True):
        label_of.setdefault(key, set()).add(label)
    all_keys = set(label_of)
    for name, (_, yp) in parts.items():
        _expect(
            sets[name] <= all_keys,
            f"the {name} set holds beats that are not rows of X: split X itself.",
        )
        wrong = sum(lab not in label_of[k] for k, lab in zip(keys[name], yp.tolist(), strict=True))
        _expect(
            not wrong,
            f"{wrong:,} labels of the {name} set do not belong to its beats: pass X and "
            "y_binary to the same train_test_split call, and the X_rest, y_rest it returned "
            "to the second.",
        )
    if all(_same_rows(parts[m][0], expected_parts[m][0]) for m in names):
        _passed(
            f"{len(parts['training'][0]):,} / {len(parts['validation'][0]):,} / "
            f"{len(parts['test'][0]):,} beats, stratified, no beat in two sets."
        )
        return
    _expect(
        not all(sets[m] == set(_row_keys(expected_parts[m][0])) for m in names),
        "the three sets hold the right beats but in another order: keep the arrays in the "
        "order train_test_split returns them.",
    )
    # Wrong, but how? Recompute the splits that the usual mistakes give.
    Xf = np.ascontiguousarray(X, dtype=np.float32)

    def matches(idx_parts) -> bool:
        return all(_same_rows(parts[m][0], Xf[i]) for m, i in zip(names, idx_parts, strict=True))

    candidates = [
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
    if other_labels is not None:
        other_labels = np.asarray(other_labels)
        candidates += [
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
    for (s_test, s_val), message in candidates:
        try:
            idx_parts = _split(X, y, fractions, random_state, s_test, s_val, other_labels)
        except ValueError:
            continue
        if matches(idx_parts):
            raise ExerciseError(message)
    ref_idx = _split(X, y, fractions, random_state)
    if matches((ref_idx[0], ref_idx[2], ref_idx[1])):
        raise ExerciseError(
            "the validation and test sets are swapped: the first call sets the test set "
            "aside (X_rest, X_test = ...), the second takes the validation set from the rest."
        )
    n_test = len(ref_idx[2])
    if _same_rows(parts["test"][0], Xf[n - n_test :]) or _same_rows(parts["test"][0], Xf[:n_test]):
        raise ExerciseError(
            "the test set is a block of consecutive beats of X: the split was not shuffled "
            "(shuffle=False?); use the default shuffle with stratify=y_binary."
        )
    overall = np.bincount(y) / n
    for name, (_, yp) in parts.items():
        want = np.bincount(expected_parts[name][1], minlength=len(overall))
        got = np.bincount(yp, minlength=len(overall))
        worst = int(np.argmax(np.abs(got - want)))
        _expect(
            abs(int(got[worst]) - int(want[worst])) <= 1,
            f"the {name} set holds {got[worst]:,} beats of class {worst}, a stratified split "
            f"{want[worst]:,} ({overall[worst]:.1%} of all beats): pass stratify= to both "
            "train_test_split calls.",
        )
    if _same_rows(parts["test"][0], expected_parts["test"][0]):
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
