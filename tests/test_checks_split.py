"""checks.check_split (ecg_course/checks/split.py) accepts right splits and names the
mistake in wrong ones. The library's layout: tests/answer_library.py."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from answer_library import SEED, has_enough_answers, params, says_what_differs, valid
from sklearn.model_selection import train_test_split

from ecg_course import checks

# --- exercise ex1-split: the answer library -------------------------------------------------

_rng = np.random.default_rng(0)
SPLIT_X = _rng.normal(size=(1000, 6)).astype(np.float32)
SPLIT_Y5 = _rng.choice(5, size=1000, p=[0.55, 0.25, 0.1, 0.06, 0.04])
SPLIT_YB = (SPLIT_Y5 != 0).astype(np.int64)


def _split_official(X, y, y5):
    X_rest, X_test, y_rest, y_test = train_test_split(
        X, y, test_size=0.2, stratify=y, random_state=SEED
    )
    X_train, X_val, y_train, y_val = train_test_split(
        X_rest, y_rest, test_size=0.25, stratify=y_rest, random_state=SEED
    )
    return X_train, X_val, X_test, y_train, y_val, y_test


def _split_indices(X, y, y5):
    """NumPy style: split the row numbers, then index."""
    rows = np.arange(len(y))
    rest, test = train_test_split(rows, test_size=0.2, stratify=y, random_state=SEED)
    train, val = train_test_split(rest, test_size=0.25, stratify=y[rest], random_state=SEED)
    return X[train], X[val], X[test], y[train], y[val], y[test]


def _split_pandas(X, y, y5):
    """pandas inputs, train_size and an integer validation size."""
    frame, labels = pd.DataFrame(X), pd.Series(y, name="abnormal")
    f_rest, f_test, l_rest, l_test = train_test_split(
        frame, labels, train_size=0.8, random_state=SEED, stratify=labels
    )
    f_train, f_val, l_train, l_val = train_test_split(
        f_rest, l_rest, test_size=len(f_rest) // 4, random_state=SEED, stratify=l_rest
    )
    return tuple(p.to_numpy() for p in (f_train, f_val, f_test, l_train, l_val, l_test))


def _split(X, y, test_kw, val_kw):
    X_rest, X_test, y_rest, y_test = train_test_split(X, y, test_size=0.2, **test_kw)
    X_train, X_val, y_train, y_val = train_test_split(X_rest, y_rest, test_size=0.25, **val_kw)
    return X_train, X_val, X_test, y_train, y_val, y_test


def _second_without_seed(X, y, y5):
    X_rest, X_test, y_rest, y_test = train_test_split(
        X, y, test_size=0.2, stratify=y, random_state=SEED
    )
    X_train, X_val, y_train, y_val = train_test_split(
        X_rest, y_rest, test_size=0.25, stratify=y_rest, random_state=7
    )  # no random_state: a fresh draw every run, here seed 7
    return X_train, X_val, X_test, y_train, y_val, y_test


def _val_first(X, y, y5):
    X_rest, X_val, y_rest, y_val = train_test_split(
        X, y, test_size=0.2, stratify=y, random_state=SEED
    )
    X_train, X_test, y_train, y_test = train_test_split(
        X_rest, y_rest, test_size=0.25, stratify=y_rest, random_state=SEED
    )
    return X_train, X_val, X_test, y_train, y_val, y_test


def _leaky(X, y, y5):
    X_rest, X_test, y_rest, y_test = train_test_split(
        X, y, test_size=0.2, stratify=y, random_state=SEED
    )
    X_train, X_val, y_train, y_val = train_test_split(
        X, y, test_size=0.2, stratify=y, random_state=SEED
    )  # the second split from all beats
    X_train, y_train = X_train[:600], y_train[:600]
    return X_train, X_val, X_test, y_train, y_val, y_test


def _wrong_order_of_outputs(X, y, y5):
    X_rest, y_rest, X_test, y_test = train_test_split(  # outputs in the wrong order
        X, y, test_size=0.2, stratify=y, random_state=SEED
    )
    return X_rest[:600], X_rest[600:], X_test, y_rest[:600], y_rest[600:], y_test


def _misaligned_labels(X, y, y5):
    X_train, X_val, X_test, y_train, y_val, y_test = _split_official(X, y, y5)
    return X_train, X_val, X_test, np.sort(y_train), y_val, y_test


def _split_strata(X, y, y5):
    rows = np.arange(len(y))
    rest, test = train_test_split(rows, test_size=0.2, stratify=y5, random_state=SEED)
    train, val = train_test_split(rest, test_size=0.25, stratify=y5[rest], random_state=SEED)
    return X[train], X[val], X[test], y[train], y[val], y[test]


def _split_stratified_seed(X, y, seed):
    X_rest, X_test, y_rest, y_test = train_test_split(
        X, y, test_size=0.2, stratify=y, random_state=seed
    )
    X_train, X_val, y_train, y_val = train_test_split(
        X_rest, y_rest, test_size=0.25, stratify=y_rest, random_state=seed
    )
    return X_train, X_val, X_test, y_train, y_val, y_test


def _split_sizes(X, y, test_size, val_size):
    X_rest, X_test, y_rest, y_test = train_test_split(
        X, y, test_size=test_size, stratify=y, random_state=SEED
    )
    X_train, X_val, y_train, y_val = train_test_split(
        X_rest, y_rest, test_size=val_size, stratify=y_rest, random_state=SEED
    )
    return X_train, X_val, X_test, y_train, y_val, y_test


def _split_official_on_y5(X, y, y5):
    return _split_official(X, y5, y5)


def _reshuffled(X, y, y5):
    X_train, X_val, X_test, y_train, y_val, y_test = _split_official(X, y, y5)
    order = np.random.default_rng(0).permutation(len(y_train))
    return X_train[order], X_val, X_test, y_train[order], y_val, y_test


def _split_strata_second(X, y, y5):
    rows = np.arange(len(y))
    rest, test = train_test_split(rows, test_size=0.2, stratify=y, random_state=SEED)
    train, val = train_test_split(rest, test_size=0.25, stratify=y5[rest], random_state=SEED)
    return X[train], X[val], X[test], y[train], y[val], y[test]


WRONG_SPLIT = {
    "second split without random_state": (_second_without_seed, "second train_test_split"),
    "second split not stratified": (
        lambda X, y, y5: _split(X, y, dict(stratify=y, random_state=SEED), dict(random_state=SEED)),
        "second train_test_split call is not stratified",
    ),
    "no split stratified": (
        lambda X, y, y5: _split(X, y, dict(random_state=SEED), dict(random_state=SEED)),
        "neither train_test_split call is stratified",
    ),
    "stratified on the five classes": (_split_strata, "five-class labels"),
    "second split stratified on the five classes": (
        _split_strata_second,
        "second call is stratified on the five-class labels",
    ),
    "validation set split off first": (_val_first, "swapped"),
    "random_state=0": (
        lambda X, y, y5: _split_stratified_seed(X, y, 0),
        "random_state=42 gives",
    ),
    "second split takes 20% of the rest": (
        lambda X, y, y5: _split_sizes(X, y, 0.2, 0.2),
        "training set has 640 rows, expected 600",
    ),
    "five-class labels split": (_split_official_on_y5, "not the five classes"),
    "second split from all beats": (_leaky, "in both the .* and the test set"),
    "outputs unpacked in the wrong order": (_wrong_order_of_outputs, "in that order"),
    "labels sorted apart from the beats": (_misaligned_labels, "do not belong to its beats"),
    "training set reshuffled": (_reshuffled, "in another order"),
    "not shuffled": (
        lambda X, y, y5: _split(X, y, dict(shuffle=False), dict(shuffle=False)),
        "not shuffled",
    ),
    "a channel axis added to the beats": (
        lambda X, y, y5: tuple(
            a[..., None] if a.ndim == 2 else a for a in _split_official(X, y, y5)
        ),  # fmt: skip
        r"^(?!.*in that order).*X_train has shape \(600, 6, 1\), expected \(600, 6\)",
    ),
}


VALID_SPLIT = {
    "official": _split_official,
    "row numbers (NumPy)": _split_indices,
    "pandas, train_size, integer size": _split_pandas,
}


@pytest.mark.parametrize(("answer", "message"), params(WRONG_SPLIT))
def test_split_wrong_answers(answer, message):
    parts = answer(SPLIT_X, SPLIT_YB, SPLIT_Y5)
    with pytest.raises(checks.ExerciseError, match=message):
        checks.check_split(*parts, SPLIT_X, SPLIT_YB, random_state=SEED, other_labels=SPLIT_Y5)


@pytest.mark.parametrize("answer", valid(VALID_SPLIT))
def test_split_valid_answers(answer, capsys):
    parts = answer(SPLIT_X, SPLIT_YB, SPLIT_Y5)
    checks.check_split(*parts, SPLIT_X, SPLIT_YB, random_state=SEED, other_labels=SPLIT_Y5)
    out = capsys.readouterr().out
    assert out == "Correct: 600 / 200 / 200 beats, stratified, no beat in two sets.\n"


def test_split_without_stratification_fails_for_every_seed():
    """An unstratified split must never pass, whatever seed it happened to use."""
    for seed in range(20):
        parts = _split(SPLIT_X, SPLIT_YB, dict(random_state=seed), dict(random_state=seed))
        with pytest.raises(checks.ExerciseError):
            checks.check_split(*parts, SPLIT_X, SPLIT_YB, random_state=SEED)


def test_split_has_enough_answers():
    assert has_enough_answers(WRONG_SPLIT, VALID_SPLIT)


# --- hand-made cases on another data set ----------------------------------------------------


@pytest.fixture
def beats():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 8)).astype(np.float32)
    y = (np.arange(500) % 5 == 0).astype(np.int64)  # 20% positives
    return X, y


def _good_split(X, y, seed=42):
    X_rest, X_test, y_rest, y_test = train_test_split(
        X, y, test_size=0.2, stratify=y, random_state=seed
    )
    X_train, X_val, y_train, y_val = train_test_split(
        X_rest, y_rest, test_size=0.25, stratify=y_rest, random_state=seed
    )
    return X_train, X_val, X_test, y_train, y_val, y_test


def test_check_split_names_a_short_validation_set(beats):
    X, y = beats
    X_train, X_val, X_test, y_train, y_val, y_test = _good_split(X, y)
    with pytest.raises(checks.ExerciseError, match="validation set has 80 rows, expected 100"):
        checks.check_split(X_train, X_val[:80], X_test, y_train, y_val[:80], y_test, X, y)


def test_check_split_names_blocks_of_beats_sorted_by_class(beats):
    X, y = beats
    order = np.argsort(y, kind="stable")  # negatives first: an unshuffled split
    Xs, ys = X[order], y[order]
    with pytest.raises(checks.ExerciseError, match="stratify="):
        checks.check_split(Xs[:300], Xs[300:400], Xs[400:], ys[:300], ys[300:400], ys[400:], X, y)


def test_check_split_catches_overlap(beats):
    X, y = beats
    X_train, X_val, X_test, y_train, y_val, y_test = _good_split(X, y)
    X_val = X_val.copy()
    X_val[0] = X_train[0]
    with pytest.raises(checks.ExerciseError, match="both the training and the validation"):
        checks.check_split(X_train, X_val, X_test, y_train, y_val, y_test, X, y)


# --- the fallback: an answer that is no listed mistake --------------------------------------

FALLBACK = {
    "check_split": (
        None,
        lambda: checks.check_split(
            *_split_stratified_seed(SPLIT_X, SPLIT_YB, 7), SPLIT_X, SPLIT_YB, random_state=SEED
        ),
        "sizes and proportions are right, but the test set is not the one random_state=42",
    ),
}


@pytest.mark.parametrize(("fixture", "run", "message"), params(FALLBACK))
def test_fallback_says_what_differs(request, fixture, run, message):
    says_what_differs(request, fixture, run, message)
