"""Chapter 3 (the beats of new patients): RR features and the AAMI table (matching the
detections to annotated beats is in beat_matching.py)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from ecg_course import aami, mitbih
from ecg_course.checks._common import (
    ExerciseError,
    _call_answer,
    _expect,
    _name_mistake,
    _passed,
    _returned,
    _same_rates,
)

# --- chapter 3: RR features -----------------------------------------------------------------

_RR_CASES: tuple[tuple[str, int, tuple[int, ...]], ...] = (
    # (what, fs, RR intervals in samples): the checker's own records, peaks from sample 77
    (
        "14 beats at 360 Hz",
        360,
        (290, 301, 287, 310, 296, 305, 283, 299, 312, 291, 288, 303, 297),
    ),
    ("6 beats at 125 Hz (fewer than 10)", 125, (98, 105, 101, 110, 96)),
    (
        "13 beats at 360 Hz with premature beats and pauses",
        360,
        (300, 296, 304, 180, 420, 298, 302, 295, 305, 300, 190, 404),
    ),
)


def _rr_window(
    values: np.ndarray, size: int, start: int = 0, divisor: int | None = None, stat=None
):
    """For each beat i: ``stat`` (the mean) of ``values[i + start - size + 1 : i + start + 1]``
    clipped to the record, NaN where that is empty; ``divisor``: divide the sum by it instead."""
    n, out = len(values), np.full(len(values), np.nan)
    for i in range(n):
        hi = min(n, i + start + 1)
        lo = max(0, i + start - size + 1)
        if hi > lo:
            window = values[lo:hi]
            out[i] = window.sum() / divisor if divisor else (stat or np.mean)(window)
    return out


def _rr_mistakes(peaks: np.ndarray, fs: float) -> list[list[tuple[np.ndarray, str]]]:
    """Per column of ``mitbih.RR_FEATURES``: the values the usual mistakes give, and what to say."""
    K = mitbih.LOCAL_RR_BEATS
    t = peaks / fs
    rr = np.diff(t)
    n = len(t)
    pre, post = np.r_[rr[:1], rr], np.r_[rr, rr[-1:]]
    local = _rr_window(pre, K)
    record = np.full(n, rr.mean())
    in_samples = "in samples: divide the differences of r_peaks by fs to get seconds"
    in_ms = "in milliseconds: keep seconds, the differences of t = r_peaks / fs"
    swapped = (
        "that is {other}: pre and post are swapped; pre_rr = t[i] - t[i-1] is the interval "
        "BEFORE the beat, post_rr = t[i+1] - t[i] the one after it"
    )
    local_what = f"local_rr is the mean pre_rr of the beat and the {K - 1} beats before it"
    ratio = {4: ("pre_rr", pre), 5: ("post_rr", post), 6: ("local_rr", local)}
    mistakes: list[list[tuple[np.ndarray, str]]] = [
        [
            (pre * fs, in_samples),
            (pre * 1000, in_ms),
            (post, swapped.format(other="post_rr")),
        ],
        [
            (post * fs, in_samples),
            (post * 1000, in_ms),
            (pre, swapped.format(other="pre_rr")),
        ],
        [
            (local * fs, in_samples),
            (local * 1000, in_ms),
            (
                _rr_window(pre, K, start=-1),
                f"the mean of the {K} beats BEFORE the beat, without the beat itself: "
                f"{local_what} (pre_rr[max(0, i - {K - 1}) : i + 1])",
            ),
            (
                _rr_window(pre, K - 1),
                f"a window of {K - 1} beats: {local_what}, {K} in all",
            ),
            (
                _rr_window(pre, K + 1),
                f"a window of {K + 1} beats: {local_what}, {K} in all",
            ),
            (
                _rr_window(pre, K, start=K - 1),
                f"the mean over the beat and the FOLLOWING beats: {local_what} (look back)",
            ),
            (
                _rr_window(post, K, start=K - 1),
                f"the mean post_rr of the beat and the following beats: {local_what}",
            ),
            (
                pd.Series(pre).rolling(K, center=True, min_periods=1).mean().to_numpy(),
                f"a centred window (rolling(center=True)): {local_what} (look back)",
            ),
            (_rr_window(post, K), f"the mean of post_rr, not pre_rr: {local_what}"),
            (_rr_window(pre, K, stat=np.median), f"a median: {local_what}, the mean"),
            (
                _rr_window(pre, K, divisor=K),
                f"at the start of the record the sum is divided by {K}: average the beats "
                f"there are (fewer than {K} for the first {K - 1} beats; rolling(..., "
                "min_periods=1))",
            ),
        ],
        [
            (record * fs, in_samples),
            (record * 1000, in_ms),
            (
                np.full(n, np.median(rr)),
                "the median RR interval: record_rr is the mean, (t[-1] - t[0]) / (n - 1)",
            ),
            (
                np.full(n, pre.mean()),
                "the mean of the pre_rr column, which counts the first interval twice: use "
                "the n - 1 intervals, (t[-1] - t[0]) / (n - 1)",
            ),
            (
                np.full(n, post.mean()),
                "the mean of the post_rr column, which counts the last interval twice: use "
                "the n - 1 intervals, (t[-1] - t[0]) / (n - 1)",
            ),
            (
                np.full(n, local.mean()),
                "the mean of local_rr: record_rr is the mean RR interval, (t[-1] - t[0]) / (n - 1)",
            ),
            (
                np.full(n, (t[-1] - t[0]) / n),
                "divided by n: n beats have n - 1 intervals, (t[-1] - t[0]) / (n - 1)",
            ),
        ],
    ]
    for column in (4, 5, 6):
        name, values = ratio[column]
        mistakes.append(
            [
                (
                    record / values,
                    f"inverted (record_rr / {name}): divide {name} by record_rr",
                ),
                (values / local, f"divided by local_rr: divide {name} by record_rr"),
                (
                    values * fs / record,
                    f"{fs:g} (fs) times too large: {name} and record_rr in different units",
                ),
                (
                    values / (record * fs),
                    f"{fs:g} (fs) times too small: {name} and record_rr in different units",
                ),
            ]
        )
    mistakes.append(
        [
            (
                post / pre,
                "inverted (post_rr / pre_rr): pre_post_ratio is pre_rr / post_rr",
            ),
            (pre - post, "a difference: pre_post_ratio is the ratio pre_rr / post_rr"),
        ]
    )
    return mistakes


def _close_columns(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-5, atol=1e-7))


def _close_where_finite(got: np.ndarray, candidate: np.ndarray) -> bool:
    """``got`` equals ``candidate`` on the rows where both are finite: all rows, or all but
    one (a mistake that leaves the first beat without a value)."""
    both = np.isfinite(got) & np.isfinite(candidate)
    return both.sum() >= len(got) - 1 and _close_columns(got[both], candidate[both])


def _rr_shape(got: np.ndarray, want: np.ndarray, where: str) -> None:
    """Raise unless ``got`` has the shape of ``want`` (n, 8), naming what is missing or extra."""
    n = len(want)
    if got.shape == want.shape:
        return
    shape = f"rr_by_hand returned shape {got.shape} for {where}, expected ({n}, 8)"
    _expect(
        got.ndim == 2,
        f"{shape}: one row per beat, one column per feature (np.column_stack of the eight).",
    )
    _expect(
        got.shape != want.T.shape,
        f"{shape}: the eight features are the rows; stack them as columns "
        "(np.column_stack, or np.stack(..., axis=1)), one row per beat.",
    )
    if got.shape == (n - 1, 8):
        for column, part, which in ((0, want[1:], "first"), (1, want[:-1], "last")):
            _expect(
                not _close_columns(got[:, column], part[:, column]),
                f"{shape}: the {which} beat is dropped. Keep one row per beat: the first "
                "beat takes its post-RR as its pre-RR, the last its pre-RR as its post-RR.",
            )
        raise ExerciseError(
            f"{shape}: one row per beat, n rows for n R peaks (n - 1 intervals; the first "
            "beat takes its post-RR as pre-RR, the last its pre-RR as post-RR)."
        )
    _expect(len(got) == n, f"{shape}: one row per R peak.")
    found = [
        c
        for c in range(8)
        if any(_close_columns(got[:, k], want[:, c]) for k in range(got.shape[1]))
    ]
    if got.shape[1] < 8:
        missing = [mitbih.RR_FEATURES[c] for c in range(8) if c not in found]
        raise ExerciseError(
            f"{shape}: {8 - got.shape[1]} column(s) missing; the eight are "
            f"{', '.join(mitbih.RR_FEATURES)}. Not found: {', '.join(missing)}."
        )
    extra = [
        k
        for k in range(got.shape[1])
        if not any(_close_columns(got[:, k], want[:, c]) for c in found)
    ]
    raise ExerciseError(
        f"{shape}: {got.shape[1] - 8} column(s) too many; the eight are "
        f"{', '.join(mitbih.RR_FEATURES)}"
        + (f". Column(s) {extra} are none of them: drop them." if extra else ".")
    )


def _rr_column(got: np.ndarray, want: np.ndarray, column: int, mistakes, where: str) -> None:
    """Raise unless column ``column`` of ``got`` is right, naming the mistake it shows."""
    name = mitbih.RR_FEATURES[column]
    g, w = got[:, column], want[:, column].astype(np.float64)
    if _close_columns(g, w):
        return
    n = len(g)
    head = f"column {column} ({name}) of rr_by_hand for {where}"
    _name_mistake(
        lambda candidate: _close_where_finite(g, candidate),
        [(candidate, f"{head} is wrong: {what}.") for candidate, what in mistakes[column]],
    )
    bad = np.flatnonzero(~np.isclose(g, w, rtol=1e-5, atol=1e-7))
    _expect(
        len(bad) > 0,
        f"{head} differs from mitbih.rr_features. " + _RR_DEFINITIONS[column],
    )
    first, last = bad[0], bad[-1]
    if column in (0, 4, 7):  # the first beat's pre-RR
        _expect(
            not (first == 0 and (len(bad) == 1 or not np.isfinite(g[0]) or g[0] == 0)),
            f"{head}: the first beat has {name} = {g[0]}, expected {w[0]:.6g}. The first beat "
            "has no beat before it: it takes its post-RR as its pre-RR (pre_rr[0] = "
            "post_rr[0]).",
        )
    if column in (1, 5, 7):  # the last beat's post-RR
        _expect(
            not (last == n - 1 and (len(bad) == 1 or not np.isfinite(g[-1]) or g[-1] == 0)),
            f"{head}: the last beat has {name} = {g[-1]}, expected {w[-1]:.6g}. The last beat "
            "has no beat after it: it takes its pre-RR as its post-RR (post_rr[-1] = "
            "pre_rr[-1]).",
        )
    k = mitbih.LOCAL_RR_BEATS
    if column == 2:
        _expect(
            last >= k - 1,
            f"{head}: the first {last + 1} beats have local_rr {np.round(g[: last + 1], 4)}, "
            f"expected {np.round(w[: last + 1], 4)}: at the start of the record average the "
            f"pre_rr of the beats there are (fewer than {k}: the mean of "
            "pre_rr[0 : i + 1]).",
        )
    if not np.isfinite(g).all():  # the message indexes a non-finite value: only when there is one
        raise ExerciseError(
            f"{head} holds NaN or inf at beat {np.flatnonzero(~np.isfinite(g))[0]}: every beat "
            "has a value (the first beat takes its post-RR as pre-RR, the last its pre-RR as "
            "post-RR)."
        )
    raise ExerciseError(
        f"{head}: beat {first} has {name} = {g[first]:.6g}, expected {w[first]:.6g}. "
        + _RR_DEFINITIONS[column]
    )


_RR_DEFINITIONS = (
    "pre_rr = t[i] - t[i-1] in seconds, t = r_peaks / fs.",
    "post_rr = t[i+1] - t[i] in seconds, t = r_peaks / fs.",
    f"local_rr is the mean pre_rr of the beat and the {mitbih.LOCAL_RR_BEATS - 1} beats before "
    "it (fewer at the start of the record).",
    "record_rr is the mean RR interval of the record, (t[-1] - t[0]) / (n - 1), in every row.",
    "pre_rr_ratio = pre_rr / record_rr.",
    "post_rr_ratio = post_rr / record_rr.",
    "local_rr_ratio = local_rr / record_rr.",
    "pre_post_ratio = pre_rr / post_rr.",
)


def check_rr_features(rr_features_by_hand: Callable) -> None:
    """Check a student's ``rr_by_hand(r_peaks, fs) -> (n, 8)`` against ``mitbih.rr_features``.

    The function is called on three small records that the checker builds (14 beats at
    360 Hz, 6 beats at 125 Hz, 13 beats at 360 Hz with premature beats and pauses), and
    its answer compared with :func:`ecg_course.mitbih.rr_features` column by column
    (``mitbih.RR_FEATURES``: pre_rr, post_rr, local_rr, record_rr, pre_rr_ratio, post_rr_ratio,
    local_rr_ratio, pre_post_ratio; relative tolerance 1e-5). Any array-like of shape
    ``(n, 8)`` in any float type passes (a NumPy array, a DataFrame, nested lists).

    When they differ, the message names the column and the mistake: a dropped first or
    last beat, 7 or 9 columns, a transposed answer, the columns in another order, NaN or 0
    for the first beat's pre-RR (or the last beat's post-RR), intervals in samples, a
    local average without the beat itself, over 9 or 11 beats, over the following beats,
    of post-RR or a median, a record RR that is a median or the mean of another column,
    inverted ratios, pre and post swapped; and a function that returns nothing or raises.
    """
    for where, fs, intervals in _RR_CASES:
        peaks = 77 + np.cumsum(np.r_[0, intervals]).astype(np.int64)
        where = f"{where} (r_peaks={peaks.tolist()}, fs={fs})"
        result = _call_answer(
            rr_features_by_hand,
            "rr_by_hand(r_peaks, fs)",
            f"for {where}",
            peaks.copy(),
            fs,
        )
        result = _returned(result, "rr_by_hand", "the (n, 8) array")
        try:
            got = np.asarray(result, dtype=np.float64)
        except (TypeError, ValueError) as error:
            raise ExerciseError(
                f"rr_by_hand returned a {type(result).__name__} that is not an array of "
                f"numbers ({error}): return an (n, 8) array, one row per beat."
            ) from error
        want = mitbih.rr_features(peaks, fs)
        _rr_shape(got, want, where)
        if _close_columns(got, want.astype(np.float64)):
            continue
        holds = [
            [c for c in range(8) if _close_columns(got[:, k], want[:, c].astype(np.float64))]
            for k in range(8)
        ]
        if all(len(h) == 1 for h in holds) and sorted(h[0] for h in holds) == list(range(8)):
            moved = [
                f"column {k} holds {mitbih.RR_FEATURES[h[0]]}"
                for k, h in enumerate(holds)
                if h[0] != k
            ]
            raise ExerciseError(
                f"the eight features are right but in another order ({', '.join(moved)}): "
                f"order the columns as mitbih.RR_FEATURES, {', '.join(mitbih.RR_FEATURES)}."
            )
        mistakes = _rr_mistakes(peaks.astype(np.float64), fs)
        for column in range(8):
            _rr_column(got, want, column, mistakes, where)
    _passed(
        f"the eight RR features of {len(_RR_CASES)} records (at 360 and 125 Hz, shorter and "
        "longer than the local window, with premature beats) match mitbih.rr_features."
    )


# --- chapter 3: the AAMI table --------------------------------------------------------------


def _class_codes(y, class_names) -> np.ndarray:
    """Labels as class numbers 0..C-1, whether given as numbers or as class names."""
    y = np.asarray(y)
    if y.dtype.kind in "biu":
        return y.astype(np.int64)
    codes = {name: c for c, name in enumerate(class_names)}
    return np.array([codes.get(v, -1) for v in y.tolist()], dtype=np.int64)


def _aami_rates(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> dict[str, np.ndarray]:
    """One-vs-rest rates per class from the confusion counts; NaN where undefined."""
    tp = np.array([np.sum((y_true == c) & (y_pred == c)) for c in range(n_classes)], float)
    fn = np.array([np.sum(y_true == c) for c in range(n_classes)], float) - tp
    fp = np.array([np.sum(y_pred == c) for c in range(n_classes)], float) - tp
    tn = len(y_true) - tp - fn - fp
    table = aami.aami_table(y_true, y_pred, [str(c) for c in range(n_classes)])
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "Se": table["Se"].to_numpy(),
            "+P": table["+P"].to_numpy(),
            "accuracy": (tp + tn) / len(y_true),
            "specificity": tn / (tn + fp),
            "npv": tn / (tn + fn),
        }


def _aami_numbers(table, names: list) -> dict[str, np.ndarray]:
    """Se and +P of ``table`` per class, in the order of ``names``, or a message saying why
    the table does not hold them: not a DataFrame, transposed, a class missing or extra,
    a column missing, text."""
    _expect(
        isinstance(table, pd.DataFrame),
        f"the table is a {type(table).__name__}, expected a pandas DataFrame with one row per "
        "class and the columns 'Se' and '+P'.",
    )
    _expect(
        not set(names) <= set(table.columns),
        "the classes are the columns: one row per class, Se and +P as columns (transpose: .T).",
    )
    index = list(table.index)
    if index != names:
        _expect(
            index != list(range(len(names))),
            f"rows are {index}, expected the class names: set index={names} (CLASSES).",
        )
        missing = [c for c in names if c not in index]
        _expect(
            not missing,
            f"no row for class {', '.join(map(str, missing))} (rows are {index}): one row per "
            f"class, {names}, even for a class that is rare or never predicted.",
        )
        extra = [r for r in index if r not in names]
        _expect(
            not extra,
            f"rows {extra} are not classes: keep one row per class, {names} (drop averages "
            "and totals).",
        )
        _expect(
            len(index) == len(names),
            f"rows are {index}: one row per class, {names}, each once.",
        )
        table = table.loc[names]  # the classes in another order: as good
    for column in ("Se", "+P"):
        _expect(
            column in table.columns,
            f"the table has no {column!r} column (it has {list(table.columns)}): name the "
            "sensitivity (recall) 'Se' and the positive predictivity (precision) '+P'.",
        )
    try:
        got = {c: table[c].to_numpy(dtype=np.float64) for c in ("Se", "+P")}
    except (TypeError, ValueError) as error:
        raise ExerciseError(
            f"Se and +P must hold numbers, not text ({error}): keep the fractions and format "
            "them only when printing."
        ) from error
    return got


def _aami_table_mistakes(got: dict, want: dict) -> None:
    """Raise naming the mistake the whole table shows: percentages, Se and +P swapped,
    rounded values."""
    values = np.concatenate([got["Se"], got["+P"]])
    if np.nanmax(np.abs(values)) > 1 + 1e-9:
        _name_mistake(
            lambda table: all(_same_rates(got[c] / 100, table[c], atol=5e-4).all() for c in table),
            [
                (
                    want,
                    "these are percentages: give fractions between 0 and 1 (0.93, not 93); "
                    "format them as percentages only when printing.",
                )
            ],
        )
        raise ExerciseError(
            f"Se and +P are fractions between 0 and 1; the table holds {np.nanmax(values):.4g}."
        )
    swapped = {"Se": "+P", "+P": "Se"}
    _name_mistake(
        lambda table: all(_same_rates(got[c], table[c]).all() for c in table),
        [
            (
                {c: want[swapped[c]] for c in want},
                "Se and +P are swapped (or y_true and y_pred were passed in the wrong order, "
                "which swaps them too): Se = TP / (TP + FN), the share of the class's beats "
                "found (recall); +P = TP / (TP + FP), the share of the beats predicted as the "
                "class that are right (precision).",
            )
        ]
        + [
            (
                {c: np.round(want[c], decimals) for c in want},
                f"the values are rounded to {decimals} decimals: keep the full values and "
                "round only when printing (table.round(3)).",
            )
            for decimals in range(1, 5)
        ],
    )


def _aami_column(column: str, got: dict, want: dict, rates: dict, ok: dict, names: list) -> None:
    """Raise at the first class whose ``column`` (Se or +P) is wrong, naming the mistake its
    column or its value shows."""
    swapped = {"Se": "+P", "+P": "Se"}
    g, w = got[column], want[column]
    wrong = np.flatnonzero(~ok[column])
    if not len(wrong):
        return
    c = int(wrong[0])
    head = f"{column} of class {names[c]} is {g[c]:.4f}, expected {w[c]:.4f}"
    definition = (
        "Se = TP / (TP + FN), one-vs-rest (y_true == c against y_pred == c)"
        if column == "Se"
        else "+P = TP / (TP + FP), one-vs-rest (y_true == c against y_pred == c)"
    )
    # the whole column is what a mistake gives: name it (swapped Se and +P: above)
    _name_mistake(
        lambda candidate, g=g: _same_rates(g, candidate).all(),
        [
            (rates[rate], f"{head}: {column} is {what}, in every row. {definition}.")
            for rate, what in (
                ("accuracy", "the one-vs-rest accuracy (TP + TN) / n"),
                ("specificity", "the specificity TN / (TN + FP)"),
                ("npv", "the negative predictive value TN / (TN + FN)"),
            )
        ],
    )
    other = swapped[column]
    _expect(
        not _same_rates(g[c : c + 1], want[other][c : c + 1])[0],
        f"{head}: that is its {other}, "
        + ("TP / (TP + FN)" if other == "Se" else "TP / (TP + FP)")
        + f". {definition}.",
    )
    row = np.array([got["Se"][c], got["+P"][c]])
    others = [
        names[k]
        for k in range(len(names))
        if k != c and _same_rates(row, np.array([want["Se"][k], want["+P"][k]])).all()
    ]
    _expect(
        not others,
        f"{head}: row {names[c]} holds the values of class {others[0] if others else ''}; "
        f"it must hold class {c} (y_true == {c}).",
    )
    _expect(
        not (len(g) > 1 and np.allclose(g, g[0], equal_nan=True)),
        f"{column} is {g[0]:.4f} in every row: compute it for each class on its own, "
        f"one-vs-rest, not one average for all. {definition}.",
    )
    raise ExerciseError(f"{head}: {definition}.")


def check_aami_table(table, y_true, y_pred, class_names) -> None:
    """Check the AAMI table of a beat classifier: Se and +P of every class, one-vs-rest.

    ``table`` must be a DataFrame with one row per class (index ``class_names``, in any
    order) and the columns ``"Se"`` (sensitivity, recall: TP / (TP + FN)) and ``"+P"``
    (positive predictivity, precision: TP / (TP + FP)) as fractions between 0 and 1;
    other columns are allowed. A class that is never predicted has no +P (0 / 0): NaN
    and 0 are both accepted there (sklearn's ``zero_division=0`` gives 0, NumPy NaN), and
    likewise Se for a class absent from ``y_true``. ``y_true`` and ``y_pred`` hold class
    numbers ``0..C-1`` (or the class names themselves).

    Mistakes named, each only when the answer is what it gives: the classes as columns
    (transposed), a missing or extra row or column, percentages instead of fractions, Se
    and +P swapped in every row (or ``y_true`` and ``y_pred`` swapped, which gives the
    same numbers), a column of one-vs-rest accuracy, specificity or negative predictive
    value, a row holding another class's values, one value for every class, rounded
    values, text instead of numbers. Otherwise the message says which value differs and
    what it equals (say, the class's Se where +P is asked for).
    """
    names = list(class_names)
    got = _aami_numbers(table, names)
    y_true = _class_codes(y_true, names)
    y_pred = _class_codes(y_pred, names)
    rates = _aami_rates(y_true, y_pred, len(names))
    want = {"Se": rates["Se"], "+P": rates["+P"]}
    ok = {c: _same_rates(got[c], want[c]) for c in want}
    if all(v.all() for v in ok.values()):
        undefined = [n for n, p in zip(names, want["+P"], strict=True) if np.isnan(p)]
        _passed(
            "Se and +P of every class, one-vs-rest"
            + (
                f" (+P of {', '.join(undefined)} is undefined: never predicted)."
                if undefined
                else "."
            )
        )
        return
    _aami_table_mistakes(got, want)
    for column in ("Se", "+P"):
        _aami_column(column, got, want, rates, ok, names)
    raise ExerciseError("Se and +P differ from TP / (TP + FN) and TP / (TP + FP).")  # unreachable
