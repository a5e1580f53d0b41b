"""The exercise checkers accept right answers and name what is wrong in wrong ones."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch
from imblearn.under_sampling import RandomUnderSampler
from sklearn.model_selection import train_test_split

from ecg_course import checks, metrics, mitbih, precision
from ecg_course.checks import _common, beat_matching, chapter3
from ecg_course.models import LSTMFCN, LSTMClassifier
from ecg_course.training import predict_proba


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


def test_check_split_accepts_the_solution(beats, capsys):
    X, y = beats
    checks.check_split(*_good_split(X, y), X, y)
    assert "Correct: 300 / 100 / 100 beats" in capsys.readouterr().out


def test_check_split_names_the_wrong_size(beats):
    X, y = beats
    X_train, X_val, X_test, y_train, y_val, y_test = _good_split(X, y)
    with pytest.raises(checks.ExerciseError, match="validation set has 80 rows, expected 100"):
        checks.check_split(X_train, X_val[:80], X_test, y_train, y_val[:80], y_test, X, y)
    X_rest, X_test, y_rest, y_test = train_test_split(
        X, y, test_size=0.2, stratify=y, random_state=42
    )
    X_train, X_val, y_train, y_val = train_test_split(
        X_rest, y_rest, test_size=0.2, stratify=y_rest, random_state=42
    )
    with pytest.raises(checks.ExerciseError, match="training set has 320 rows, expected 300"):
        checks.check_split(X_train, X_val, X_test, y_train, y_val, y_test, X, y)


def test_check_split_catches_missing_stratification_and_wrong_seed(beats):
    X, y = beats
    order = np.argsort(y, kind="stable")  # negatives first: an unshuffled split
    Xs, ys = X[order], y[order]
    with pytest.raises(checks.ExerciseError, match="stratify="):
        checks.check_split(Xs[:300], Xs[300:400], Xs[400:], ys[:300], ys[300:400], ys[400:], X, y)
    with pytest.raises(checks.ExerciseError, match="random_state=42"):
        checks.check_split(*_good_split(X, y, seed=0), X, y)


def test_check_split_catches_overlap(beats):
    X, y = beats
    X_train, X_val, X_test, y_train, y_val, y_test = _good_split(X, y)
    X_val = X_val.copy()
    X_val[0] = X_train[0]
    with pytest.raises(checks.ExerciseError, match="both the training and the validation"):
        checks.check_split(X_train, X_val, X_test, y_train, y_val, y_test, X, y)


# run_epoch's right and wrong answers: tests/test_exercise_answers.py (the answer library).


def test_check_loss_plot():
    train, val = [3, 2, 1], [3, 2.5, 2]
    fig, ax = plt.subplots()
    ax.plot([1, 2, 3], train, label="training")
    with pytest.raises(checks.ExerciseError, match="no curve holds val_losses"):
        checks.check_loss_plot(ax, train, val)
    ax.plot([1, 2, 3], val, label="validation")
    with pytest.raises(checks.ExerciseError, match="label the x axis"):
        checks.check_loss_plot(ax, train, val)
    ax.set(xlabel="epoch", ylabel="loss", title="Loss")
    with pytest.raises(checks.ExerciseError, match="legend"):
        checks.check_loss_plot(ax, train, val)
    ax.legend()
    checks.check_loss_plot(ax, train, val)
    with pytest.raises(checks.ExerciseError, match=r"curves of ax hold \[3\.0, 2\.0, 1\.0"):
        checks.check_loss_plot(ax, [5, 4, 3], [6, 5, 4])  # losses of another run
    plt.close(fig)


def test_check_test_metrics():
    torch.manual_seed(0)
    model = LSTMClassifier(hidden_size=4, num_classes=2)
    X = np.random.default_rng(0).normal(size=(30, 12)).astype(np.float32)
    y = np.arange(30) % 2
    proba = predict_proba(model, X)
    accuracy = float((proba.argmax(1) == y).mean())
    auc = metrics.roc_auc(y, proba)
    checks.check_test_metrics(y, proba, accuracy, auc, model, X)
    with pytest.raises(checks.ExerciseError, match="normal class"):
        checks.check_test_metrics(y, proba, accuracy, 1 - auc, model, X)
    with pytest.raises(checks.ExerciseError, match=r"test_accuracy is 2\.0000"):
        checks.check_test_metrics(y, proba, 2.0, auc, model, X)
    with pytest.raises(checks.ExerciseError, match="sum to 1"):
        checks.check_test_metrics(y, proba * 3, accuracy, auc, model, X)
    with pytest.raises(checks.ExerciseError, match="not the model's probabilities"):
        checks.check_test_metrics(y, proba[::-1], accuracy, auc, model, X)


def _whole_beats(m, X, y, fractions):
    """An early-AUC answer that scores the whole beat at every fraction."""
    auc = metrics.roc_auc(y, predict_proba(m, X, precision="fp32"))
    samples = [max(1, round(f * X.shape[1])) for f in fractions]
    return pd.DataFrame({"fraction": fractions, "samples": samples, "roc_auc": auc})


def test_check_early_auc():
    torch.manual_seed(0)
    model = LSTMClassifier(hidden_size=4, num_classes=2)
    X = np.random.default_rng(0).normal(size=(40, 20)).astype(np.float32)
    y = np.arange(40) % 2

    with pytest.raises(checks.ExerciseError, match="that of the whole beat"):
        checks.check_early_auc(_whole_beats, model, X, y)

    def full_beats_only(m, X, y, fractions):
        return pd.DataFrame(
            {
                "fraction": fractions,
                "samples": [max(1, round(f * X.shape[1])) for f in fractions],
                "roc_auc": [metrics.roc_auc(y, predict_proba(m, X))] * len(fractions),
            }
        )

    with pytest.raises(checks.ExerciseError, match=r"that of the whole beat.*X\[:, :2\]"):
        checks.check_early_auc(full_beats_only, model, X, y)
    with pytest.raises(checks.ExerciseError, match="expected a pandas DataFrame"):
        checks.check_early_auc(lambda *a: [0.5, 0.5, 0.5], model, X, y)


def test_chapter_two_checkers():
    X_train = np.random.default_rng(0).normal(size=(20, 3))
    y_train = np.repeat(np.arange(5), [8, 3, 3, 2, 4])
    sampler = RandomUnderSampler(random_state=42)
    X_bal, y_bal = sampler.fit_resample(X_train, y_train)
    checks.check_undersampling(X_bal, y_bal, sampler, X_train, y_train)
    with pytest.raises(checks.ExerciseError, match=r"class counts are \[3, 2, 2, 2, 2\]"):
        checks.check_undersampling(
            np.r_[X_bal[:1], X_bal], np.r_[0, y_bal], sampler, X_train, y_train
        )
    checks.check_lstm_fcn_output(torch.zeros(4, 5), batch_size=4)
    with pytest.raises(checks.ExerciseError, match=r"shape \(4, 3\), expected \(4, 5\)"):
        checks.check_lstm_fcn_output(torch.zeros(4, 3), batch_size=4)
    torch.manual_seed(0)
    model = LSTMFCN(num_classes=5)
    X = np.random.default_rng(0).random((30, 187)).astype(np.float32)
    proba = predict_proba(model, X, batch_size=7)
    checks.check_batched_inference(proba, model, X)
    with pytest.raises(checks.ExerciseError, match="last, smaller batch"):
        checks.check_batched_inference(proba[:28], model, X, batch_size=7)  # 4 x 7 + 2
    with pytest.raises(checks.ExerciseError, match=r"^(?!.*last, smaller).*28 rows, expected 30"):
        checks.check_batched_inference(proba[:28], model, X)  # batches of 100: none is lost
    model.train()
    with torch.no_grad():
        train_mode = torch.softmax(model(torch.as_tensor(X)), 1).numpy()
    with pytest.raises(checks.ExerciseError, match=r"model\.eval\(\)"):
        checks.check_batched_inference(train_mode, model, X)
    y = np.arange(30) % 5
    table = metrics.per_class_table(y, proba, list(mitbih.CLASSES))
    checks.check_per_class_table(table, y, proba, list(mitbih.CLASSES))
    wrong = table.copy()
    wrong.loc["S", "precision"] += 0.1
    with pytest.raises(checks.ExerciseError, match="precision of class S"):
        checks.check_per_class_table(wrong, y, proba, list(mitbih.CLASSES))


# Chapter 3's right and wrong answers: tests/test_exercise_answers.py. Here, what the
# checkers take for granted.


def test_beat_matching_follows_wfdb_on_the_hand_made_cases():
    """wfdb matches closer than window_width (strict), a contested detection to the nearer
    beat: the hand-made cases and their messages rely on it."""
    expected = ([0, -1, -1, 3, -1], [0, -1, 1, 2, 3, -1], [2, 4, -1], [0, 1, 2], [0, 3])
    tolerance = beat_matching._MATCH_TOLERANCE
    for (_, reference, detected), want in zip(beat_matching._MATCH_CASES, expected, strict=True):
        got = beat_matching._wfdb_matches(np.array(reference), np.array(detected), tolerance)
        assert got.tolist() == want


def test_beat_matching_random_case_leaves_no_choice():
    """No detection is within the tolerance of two beats, so every valid matching finds the
    same number of true positives: comparing the counts cannot reject a correct answer."""
    reference, detected = beat_matching._random_beats()
    tolerance = beat_matching._MATCH_TOLERANCE
    assert len(reference) == 2000 and np.diff(reference).min() >= 2 * tolerance
    assert np.all(np.diff(detected) > 0)
    near = np.abs(detected[None, :] - reference[:, None]) < tolerance
    matches = beat_matching._wfdb_matches(reference, detected, tolerance)
    assert (matches >= 0).sum() == near.any(axis=1).sum()
    assert (~near.any(axis=1)).any() and (~near.any(axis=0)).any()  # FN and FP


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


def test_a_16_bit_format_the_device_cannot_run_is_left_out(monkeypatch):
    """oneDNN has no bfloat16 LSTM on CPUs without bfloat16 instructions, and predict_proba
    refuses that precision there (ValueError): the references leave it out
    (precision.lstm_runs_in), and a wrong answer still gets an ExerciseError, not a crash."""

    def no_16_bit_lstm(name, device_type):
        return "could not create a primitive descriptor for the LSTM"

    monkeypatch.setattr(precision, "_lstm_probe", no_16_bit_lstm)
    torch.manual_seed(0)
    model = LSTMClassifier(hidden_size=4, num_classes=2)
    X = np.random.default_rng(0).normal(size=(30, 12)).astype(np.float32)
    y = np.arange(30) % 2
    assert _common._sixteen_bit(model) == []
    with pytest.raises(ValueError, match="cannot run an LSTM"):
        predict_proba(model, X, precision="bf16")
    proba = predict_proba(model, X, precision="fp32")
    with pytest.raises(checks.ExerciseError, match="not the model's probabilities"):
        checks.check_test_metrics(y, proba[::-1], 0.5, 0.5, model, X)

    with pytest.raises(checks.ExerciseError, match="that of the whole beat"):
        checks.check_early_auc(_whole_beats, model, X, y)


def test_the_matching_rule_is_wfdbs_on_the_checkers_cases():
    """The rule the checker applies at another tolerance (to name a tolerance converted
    with fs) gives wfdb's matches at the checker's tolerance, on every case."""
    tolerance = beat_matching._MATCH_TOLERANCE
    cases = [(np.array(r), np.array(d)) for _, r, d in beat_matching._MATCH_CASES]
    for reference, detected in [*cases, beat_matching._random_beats()]:
        rule = beat_matching._nearest_rule(reference, detected, tolerance)
        wfdb = beat_matching._wfdb_matches(reference, detected, tolerance)
        assert not len(beat_matching._differs(rule, wfdb, reference, detected))
