"""The chapter 3 checkers (ecg_course/checks/chapter3.py: the RR features, the AAMI table)
accept right answers and name the mistake in wrong ones. The library's layout:
tests/answer_library.py."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest
from answer_library import has_enough_answers, params, says_what_differs, valid
from sklearn import metrics as skm

from ecg_course import checks, mitbih
from ecg_course.checks import chapter3

# --- exercise ex3-rr-features ---------------------------------------------------------------


def _rr_official(r_peaks, fs):
    t = np.asarray(r_peaks, dtype=np.float64) / fs
    rr = np.diff(t)
    pre, post = np.concatenate([rr[:1], rr]), np.concatenate([rr, rr[-1:]])
    sums = np.concatenate([[0.0], np.cumsum(pre)])
    i = np.arange(len(pre))
    start = np.maximum(i - 9, 0)
    local = (sums[i + 1] - sums[start]) / (i + 1 - start)
    record = np.full(len(t), (t[-1] - t[0]) / (len(t) - 1))
    return np.column_stack([pre, post, local, record, pre / record, post / record,
                            local / record, pre / post]).astype(np.float32)  # fmt: skip


def _rr_loops(r_peaks, fs):
    """Plain Python: one list per feature, then a float64 array."""
    times = [p / fs for p in r_peaks]
    n = len(times)
    pre, post = [], []
    for i in range(n):
        pre.append(times[i] - times[i - 1] if i > 0 else times[1] - times[0])
        post.append(times[i + 1] - times[i] if i < n - 1 else times[-1] - times[-2])
    local = []
    for i in range(n):
        window = pre[max(0, i - 9) : i + 1]
        local.append(sum(window) / len(window))
    record = (times[-1] - times[0]) / (n - 1)
    rows = [[pre[i], post[i], local[i], record, pre[i] / record, post[i] / record,
             local[i] / record, pre[i] / post[i]] for i in range(n)]  # fmt: skip
    return np.array(rows)


def _rr_pandas(r_peaks, fs):
    """A DataFrame with named columns, the local mean by rolling()."""
    t = pd.Series(r_peaks, dtype="float64") / fs
    pre = t.diff().bfill()
    post = t.diff(-1).abs().ffill()
    features = pd.DataFrame({"pre_rr": pre, "post_rr": post})
    features["local_rr"] = pre.rolling(10, min_periods=1).mean()
    features["record_rr"] = np.diff(t).mean()
    for name in ("pre_rr", "post_rr", "local_rr"):
        features[f"{name}_ratio"] = features[name] / features["record_rr"]
    features["pre_post_ratio"] = pre / post
    return features


def _rr_student(r_peaks, fs, seconds=True, window=10, own_beat=True, ahead=False,
                record="mean", invert_ratios=False, invert_pre_post=False, swap=False,
                order=None, unit=1, percent=False):  # fmt: skip
    """A whole answer; each keyword is one mistake a student makes."""
    t = unit * np.asarray(r_peaks, dtype=float) / (fs if seconds else 1)
    rr = np.diff(t)
    pre, post = np.r_[rr[0], rr], np.r_[rr, rr[-1]]
    if swap:  # "pre" taken as the interval to the next beat
        pre, post = post, pre
    series = pd.Series(pre).shift(1) if not own_beat else pd.Series(pre)
    if ahead:
        local = series[::-1].rolling(window, min_periods=1).mean()[::-1].to_numpy()
    else:
        local = series.rolling(window, min_periods=1).mean().to_numpy()
    rec = {"mean": rr.mean(), "median": np.median(rr), "pre column": pre.mean()}[record]
    ratios = [rec / x if invert_ratios else x / rec for x in (pre, post, local)]
    ratios = [100 * r for r in ratios] if percent else ratios
    columns = [pre, post, local, np.full(len(t), rec), *ratios,
               post / pre if invert_pre_post else pre / post]  # fmt: skip
    return np.column_stack([columns[k] for k in order or range(8)])


def _rr_first_dropped(r_peaks, fs):
    rr = np.diff(r_peaks) / fs  # one interval per beat after the first
    post = np.r_[rr[1:], rr[-1]]
    local = pd.Series(rr).rolling(10, min_periods=1).mean().to_numpy()
    record = rr.mean()
    return np.column_stack([rr, post, local, np.full(len(rr), record), rr / record,
                            post / record, local / record, rr / post])  # fmt: skip


def _rr_first_nan(r_peaks, fs):
    t = pd.Series(r_peaks) / fs
    pre, post = t.diff(), -t.diff(-1)  # NaN for the first pre and the last post
    local = pre.rolling(10, min_periods=1).mean()
    record = pre.mean()
    return pd.concat([pre, post, local, pre * 0 + record, pre / record, post / record,
                      local / record, pre / post], axis=1)  # fmt: skip


def _rr_first_zero(r_peaks, fs):
    t = np.asarray(r_peaks) / fs
    pre = np.diff(t, prepend=t[0])  # 0 for the first beat
    post = np.diff(t, append=t[-1] + (t[-1] - t[-2]))
    local = pd.Series(pre).rolling(10, min_periods=1).mean().to_numpy()
    record = (t[-1] - t[0]) / (len(t) - 1)
    with np.errstate(divide="ignore"):
        return np.column_stack([pre, post, local, np.full(len(t), record), pre / record,
                                post / record, local / record, pre / post])  # fmt: skip


def _rr_divided_by_ten(r_peaks, fs):
    t = np.asarray(r_peaks) / fs
    rr = np.diff(t)
    pre, post = np.r_[rr[0], rr], np.r_[rr, rr[-1]]
    local = np.convolve(pre, np.ones(10), mode="full")[: len(pre)] / 10
    record = rr.mean()
    return np.column_stack([pre, post, local, np.full(len(t), record), pre / record,
                            post / record, local / record, pre / post])  # fmt: skip


def _rr_no_return(r_peaks, fs):
    features = _rr_student(r_peaks, fs)  # computed, then never returned
    features = features.astype(np.float32)


def _rr_series_method(r_peaks, fs):
    rr = r_peaks.diff() / fs  # r_peaks is a NumPy array, not a pandas Series
    return rr


def _rr_transposed(r_peaks, fs):
    return _rr_student(r_peaks, fs).T  # np.array([pre, post, ...]): features as rows


def _rr_seven_columns(r_peaks, fs):
    return _rr_student(r_peaks, fs)[:, :7]  # pre_post_ratio forgotten


def _rr_with_times(r_peaks, fs):
    times = np.asarray(r_peaks) / fs  # the beat times kept as a first column
    return np.column_stack([times, _rr_student(r_peaks, fs)])


_rr = functools.partial

WRONG_RR = {
    "first beat dropped": (_rr_first_dropped, "the first beat is dropped"),
    "NaN pre-RR for the first beat": (_rr_first_nan, "first beat has pre_rr = nan"),
    "0 pre-RR for the first beat": (_rr_first_zero, r"first beat has pre_rr = 0\.0"),
    "intervals in samples": (_rr(_rr_student, seconds=False), "in samples: divide"),
    "local mean without the beat itself": (
        _rr(_rr_student, own_beat=False),
        "without the beat itself",
    ),
    "local mean over 9 beats": (_rr(_rr_student, window=9), "a window of 9 beats"),
    "local mean over 11 beats": (_rr(_rr_student, window=11), "a window of 11 beats"),
    "local mean over the following beats": (_rr(_rr_student, ahead=True), "FOLLOWING beats"),
    "local mean divided by 10 at the start": (_rr_divided_by_ten, "divided by 10"),
    "record RR a median": (_rr(_rr_student, record="median"), "the median RR interval"),
    "record RR the mean of the pre_rr column": (
        _rr(_rr_student, record="pre column"),
        "mean of the pre_rr column",
    ),
    "ratios inverted": (_rr(_rr_student, invert_ratios=True), r"inverted \(record_rr / pre_rr"),
    "pre/post inverted": (
        _rr(_rr_student, invert_pre_post=True),
        r"pre_post_ratio.*inverted \(post_rr / pre_rr\)",
    ),
    "pre and post swapped": (_rr(_rr_student, swap=True), "pre and post are swapped"),
    "local and record columns exchanged": (
        _rr(_rr_student, order=[0, 1, 3, 2, 4, 5, 6, 7]),
        r"another order \(column 2 holds record_rr, column 3 holds local_rr\)",
    ),
    "no return": (_rr_no_return, "returned None"),
    "a pandas method on a NumPy array": (_rr_series_method, "raised AttributeError: 'numpy"),
    "transposed": (_rr_transposed, "the eight features are the rows"),
    "seven columns": (_rr_seven_columns, "1 column.*missing.*Not found: pre_post_ratio"),
    "nine columns": (_rr_with_times, r"1 column\(s\) too many.*Column\(s\) \[0\] are none"),
    "intervals in milliseconds": (_rr(_rr_student, unit=1000), r"pre_rr.*in milliseconds"),
    "local mean over 5 beats": (
        _rr(_rr_student, window=5),
        r"column 2 \(local_rr\) .*: beat 5 has local_rr = 0\.\d+, expected 0\.\d+\. local_rr is",
    ),
    "ratios as percentages": (
        _rr(_rr_student, percent=True),
        r"column 4 \(pre_rr_ratio\) .*: beat 0 has pre_rr_ratio = \d+\.?\d*, expected",
    ),
}

VALID_RR = {
    "official": _rr_official,
    "Python loops": _rr_loops,
    "pandas DataFrame": _rr_pandas,
    "float64, pandas rolling": _rr_student,
}


@pytest.mark.parametrize(("answer", "message"), params(WRONG_RR))
def test_rr_features_wrong_answers(answer, message):
    with pytest.raises(checks.ExerciseError, match=message):
        checks.check_rr_features(answer)


@pytest.mark.parametrize("answer", valid(VALID_RR))
def test_rr_features_valid_answers(answer, capsys):
    checks.check_rr_features(answer)
    assert capsys.readouterr().out.startswith("Correct")


# --- exercise ex3-aami ----------------------------------------------------------------------

AAMI_CLASSES = list("NSVF")
_rng = np.random.default_rng(6)
AAMI_Y = np.repeat(np.arange(4), [300, 40, 50, 10])
# a rhythm model: S and V partly found, F never predicted (as on DS2)
_confusion = np.array([[0.9, 0.05, 0.05, 0.0], [0.5, 0.4, 0.1, 0.0], [0.2, 0.1, 0.7, 0.0],
                       [0.3, 0.1, 0.6, 0.0]])  # fmt: skip
AAMI_PRED = np.array([_rng.choice(4, p=_confusion[c]) for c in AAMI_Y])
AAMI_PRED_ALL = np.where(np.arange(400) % 97 == 0, 3, AAMI_PRED)  # F predicted a few times


def _aami_official(y, pred):
    precision, recall, _, _ = skm.precision_recall_fscore_support(
        y, pred, labels=range(4), zero_division=0
    )
    return pd.DataFrame({"Se": recall, "+P": precision}, index=AAMI_CLASSES)


def _aami_confusion(y, pred):
    """NumPy from the confusion matrix: NaN for a class never predicted."""
    cm = skm.confusion_matrix(y, pred, labels=range(4))
    tp = np.diag(cm)
    with np.errstate(invalid="ignore"):
        return pd.DataFrame({"Se": tp / cm.sum(1), "+P": tp / cm.sum(0)}, index=AAMI_CLASSES)


def _aami_crosstab(y, pred):
    """pandas crosstab of class names, with Se, +P and support columns."""
    names = np.array(AAMI_CLASSES)
    counts = pd.crosstab(pd.Series(names[y], name="true"), pd.Series(names[pred], name="pred"))
    counts = counts.reindex(index=AAMI_CLASSES, columns=AAMI_CLASSES, fill_value=0)
    tp = pd.Series(np.diag(counts), index=AAMI_CLASSES)
    return pd.DataFrame(
        {"Se": tp / counts.sum(axis=1), "+P": tp / counts.sum(axis=0), "n": counts.sum(axis=1)}
    )


def _aami_report(y, pred):
    """classification_report as a dict, its class rows renamed."""
    report = skm.classification_report(
        y, pred, labels=range(4), target_names=AAMI_CLASSES, output_dict=True, zero_division=0
    )
    frame = pd.DataFrame(report).T.loc[AAMI_CLASSES, ["recall", "precision"]]
    return frame.rename(columns={"recall": "Se", "precision": "+P"})


def _aami_modified(change):
    def answer(y, pred):
        return change(_aami_official(y, pred), y, pred)

    return answer


def _aami_one_vs_rest(rate):
    def answer(y, pred):
        rows = {}
        for c, name in enumerate(AAMI_CLASSES):
            tn, fp, fn, tp = skm.confusion_matrix(y == c, pred == c, labels=[False, True]).ravel()
            se = {"accuracy": (tp + tn) / (tp + tn + fp + fn), "specificity": tn / (tn + fp)}
            rows[name] = {"Se": se[rate], "+P": tp / (tp + fp) if tp + fp else 0.0}
        return pd.DataFrame.from_dict(rows, orient="index")

    return answer


def _aami_arguments_swapped(y, pred):
    return pd.DataFrame(
        {
            "Se": skm.recall_score(pred, y, labels=range(4), average=None, zero_division=0),
            "+P": skm.precision_score(pred, y, labels=range(4), average=None, zero_division=0),
        },
        index=AAMI_CLASSES,
    )


def _aami_predicted_labels_only(y, pred):
    labels = np.unique(pred)  # F is never predicted: no row for it
    precision, recall, _, _ = skm.precision_recall_fscore_support(y, pred, labels=labels)
    return pd.DataFrame({"Se": recall, "+P": precision}, index=[AAMI_CLASSES[c] for c in labels])


def _aami_shifted(t, y, p):
    shifted = t.copy()
    shifted.iloc[:, :] = np.roll(t.to_numpy(), 1, axis=0)
    return shifted


def _aami_plus_p_over_the_class(y, pred):
    """+P as TP / (TP + FN): the class's own beats in the denominator (that is Se)."""
    rows = {}
    for c, name in enumerate(AAMI_CLASSES):
        tp = np.sum((y == c) & (pred == c))
        rows[name] = {"Se": tp / np.sum(y == c), "+P": tp / (tp + np.sum((y == c) & (pred != c)))}
    return pd.DataFrame(rows).T


def _aami_jaccard(y, pred):
    """+P as TP / (TP + FN + FP): no listed mistake."""
    rows = {}
    for c, name in enumerate(AAMI_CLASSES):
        tp = np.sum((y == c) & (pred == c))
        wrong = np.sum((y == c) != (pred == c))
        rows[name] = {"Se": tp / np.sum(y == c), "+P": tp / (tp + wrong)}
    return pd.DataFrame(rows).T


WRONG_AAMI = {
    "Se and +P swapped": (
        _aami_modified(lambda t, y, p: t.rename(columns={"Se": "+P", "+P": "Se"})),
        "Se and \\+P are swapped",
    ),
    "y_true and y_pred swapped": (_aami_arguments_swapped, "wrong order"),
    "percentages": (_aami_modified(lambda t, y, p: 100 * t), "percentages"),
    "one-vs-rest accuracy as Se": (_aami_one_vs_rest("accuracy"), "one-vs-rest accuracy"),
    "specificity as Se": (_aami_one_vs_rest("specificity"), "specificity"),
    "transposed": (_aami_modified(lambda t, y, p: t.T), r"classes are the columns.*\.T"),
    "+P named PPV": (
        _aami_modified(lambda t, y, p: t.rename(columns={"+P": "PPV"})),
        "no '\\+P' column",
    ),
    "no row for a class never predicted": (_aami_predicted_labels_only, "no row for class F"),
    "integer index": (_aami_modified(lambda t, y, p: t.reset_index(drop=True)), r"rows are \[0"),
    "rows shifted by one class": (_aami_modified(_aami_shifted), "holds the values of class"),
    "rounded": (_aami_modified(lambda t, y, p: t.round(2)), "rounded to 2 decimals"),
    "macro Se in every row": (
        _aami_modified(lambda t, y, p: t.assign(Se=skm.recall_score(y, p, average="macro"))),
        "in every row",
    ),
    "text": (_aami_modified(lambda t, y, p: t.map("{:.1%}".format)), "numbers, not text"),
    "+P over the class's own beats": (
        _aami_plus_p_over_the_class,
        r"^(?!.*swapped).*\+P of class N is 0\.\d{4}, expected 0\.\d{4}: that is its Se",
    ),
    "+P over TP + FN + FP": (
        _aami_jaccard,
        r"\+P of class N is 0\.\d{4}, expected 0\.\d{4}: \+P = TP / \(TP \+ FP\)",
    ),
}

VALID_AAMI = {
    "official": _aami_official,
    "confusion matrix (NaN)": _aami_confusion,
    "pandas crosstab": _aami_crosstab,
    "classification_report": _aami_report,
    "rows sorted by name": _aami_modified(lambda t, y, p: t.sort_index()),
}


@pytest.mark.parametrize(("answer", "message"), params(WRONG_AAMI))
def test_aami_table_wrong_answers(answer, message):
    with pytest.raises(checks.ExerciseError, match=message):
        checks.check_aami_table(answer(AAMI_Y, AAMI_PRED), AAMI_Y, AAMI_PRED, AAMI_CLASSES)


@pytest.mark.parametrize("pred", [AAMI_PRED, AAMI_PRED_ALL], ids=["F never predicted", "all"])
@pytest.mark.parametrize("answer", valid(VALID_AAMI))
def test_aami_table_valid_answers(answer, pred, capsys):
    checks.check_aami_table(answer(AAMI_Y, pred), AAMI_Y, pred, AAMI_CLASSES)
    assert capsys.readouterr().out.startswith("Correct")


@pytest.mark.parametrize(
    ("wrong", "valid_answers"),
    [
        pytest.param(WRONG_RR, VALID_RR, id="RR features"),
        pytest.param(WRONG_AAMI, VALID_AAMI, id="AAMI table"),
    ],
)
def test_every_exercise_has_enough_answers(wrong, valid_answers):
    assert has_enough_answers(wrong, valid_answers)


# --- what the RR checker takes for granted --------------------------------------------------


def test_rr_checker_cases_keep_the_columns_apart():
    """No two columns, and no mistake the checker names, coincide with the right answer."""
    for _, fs, intervals in chapter3._RR_CASES:
        peaks = 77 + np.cumsum(np.r_[0, intervals])
        right = mitbih.rr_features(peaks, fs).astype(np.float64)
        for a in range(8):
            for b in range(a + 1, 8):
                assert not np.allclose(right[:, a], right[:, b], rtol=1e-4)
        if len(peaks) <= mitbih.LOCAL_RR_BEATS:
            continue  # the windows of 9, 10 and 11 beats agree on a short record
        for column, mistakes in enumerate(chapter3._rr_mistakes(peaks.astype(float), fs)):
            for values, what in mistakes:
                assert not chapter3._close_where_finite(right[:, column], values), what


# --- the fallback: an answer that is no listed mistake --------------------------------------

FALLBACK = {
    "check_rr_features": (
        None,
        lambda: checks.check_rr_features(_rr(_rr_student, window=5)),
        r"beat 5 has local_rr = 0\.\d+, expected 0\.\d+",
    ),
    "check_aami_table": (
        None,
        lambda: checks.check_aami_table(
            _aami_jaccard(AAMI_Y, AAMI_PRED), AAMI_Y, AAMI_PRED, AAMI_CLASSES
        ),
        r"\+P of class N is 0\.\d{4}, expected 0\.\d{4}: \+P = TP / \(TP \+ FP\)",
    ),
}


@pytest.mark.parametrize(("fixture", "run", "message"), params(FALLBACK))
def test_fallback_says_what_differs(request, fixture, run, message):
    says_what_differs(request, fixture, run, message)
