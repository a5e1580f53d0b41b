"""The chapter 2 checkers (ecg_course/checks/chapter2.py: undersampling, the LSTM-FCN's
forward pass, batched inference, the per-class table, the endpoint client) accept right
answers and name the mistake in wrong ones. The library's layout: tests/answer_library.py."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
import torch
from answer_library import SEED, has_enough_answers, params, says_what_differs, valid
from imblearn.under_sampling import NearMiss, RandomUnderSampler
from scipy.special import softmax
from sklearn import metrics as skm
from sklearn.preprocessing import label_binarize
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from ecg_course import checks, metrics, mitbih, payload
from ecg_course.models import LSTMFCN
from ecg_course.training import predict_proba

# --- exercise ex2-undersample ---------------------------------------------------------------

_rng = np.random.default_rng(2)
US_X = _rng.normal(size=(400, 7)).astype(np.float32)
US_Y = np.repeat(np.arange(5), [250, 60, 50, 12, 28])
US_X_TEST = _rng.normal(size=(100, 7)).astype(np.float32)
US_Y_TEST = np.repeat(np.arange(5), [60, 15, 12, 5, 8])


def _us_official(X, y, X_test, y_test):
    sampler = RandomUnderSampler(random_state=SEED)
    X_bal, y_bal = sampler.fit_resample(X, y)
    return sampler, X_bal, y_bal


def _us_pandas(X, y, X_test, y_test):
    sampler = RandomUnderSampler(sampling_strategy="auto", random_state=SEED)
    frame, labels = sampler.fit_resample(pd.DataFrame(X), pd.Series(y))
    return sampler, frame.to_numpy(), labels.to_numpy()


def _us_indices(X, y, X_test, y_test):
    sampler = RandomUnderSampler(sampling_strategy="not minority", random_state=SEED)
    sampler.fit_resample(X, y)
    keep = sampler.sample_indices_
    return sampler, X[keep], y[keep]


def _us_seed(seed):
    def answer(X, y, X_test, y_test):
        sampler = RandomUnderSampler(random_state=seed)
        X_bal, y_bal = sampler.fit_resample(X, y)
        return sampler, X_bal, y_bal

    return answer


def _us_swapped(X, y, X_test, y_test):
    sampler = RandomUnderSampler(random_state=SEED)
    y_bal, X_bal = sampler.fit_resample(X, y)
    return sampler, X_bal, y_bal


def _us_unfitted_sampler(X, y, X_test, y_test):
    X_bal, y_bal = RandomUnderSampler(random_state=SEED).fit_resample(X, y)
    return RandomUnderSampler(random_state=SEED), X_bal, y_bal


def _us_other_sampler(X, y, X_test, y_test):
    sampler = RandomUnderSampler(random_state=SEED)
    X_bal, y_bal = sampler.fit_resample(X, y)
    sampler = RandomUnderSampler(random_state=SEED, replacement=True)
    sampler.fit_resample(X, y)  # kept another draw
    return sampler, X_bal, y_bal


def _us_majority(X, y, X_test, y_test):
    sampler = RandomUnderSampler(sampling_strategy="majority", random_state=SEED)
    X_bal, y_bal = sampler.fit_resample(X, y)
    return sampler, X_bal, y_bal


def _us_test_set(X, y, X_test, y_test):
    sampler = RandomUnderSampler(random_state=SEED)
    X_bal, y_bal = sampler.fit_resample(X_test, y_test)
    return sampler, X_bal, y_bal


def _us_dataframe(X, y, X_test, y_test):
    sampler = RandomUnderSampler(random_state=SEED)
    X_bal, y_bal = sampler.fit_resample(pd.DataFrame(X), pd.Series(y))
    return sampler, X_bal, y_bal


def _us_replacement(X, y, X_test, y_test):
    sampler = RandomUnderSampler(random_state=SEED, replacement=True)
    X_bal, y_bal = sampler.fit_resample(X, y)
    return sampler, X_bal, y_bal


def _us_reshuffled(X, y, X_test, y_test):
    sampler, X_bal, y_bal = _us_official(X, y, X_test, y_test)
    order = np.random.default_rng(SEED).permutation(len(y_bal))
    return sampler, X_bal[order], y_bal[order]


def _us_near_miss(X, y, X_test, y_test):
    sampler = NearMiss()  # another undersampler: keeps the beats nearest to the rare classes
    X_bal, y_bal = sampler.fit_resample(X, y)
    return sampler, X_bal, y_bal


def _us_ten_per_class(X, y, X_test, y_test):
    sampler = RandomUnderSampler(sampling_strategy={c: 10 for c in range(5)}, random_state=SEED)
    X_bal, y_bal = sampler.fit_resample(X, y)
    return sampler, X_bal, y_bal


WRONG_UNDERSAMPLING = {
    "random_state=0": (_us_seed(0), r"random_state=0, expected SEED \(42\)"),
    "no random_state": (_us_seed(None), "without random_state"),
    "outputs swapped": (_us_swapped, "X_bal holds labels.*in that order"),
    "sampler kept unfitted": (_us_unfitted_sampler, "no sample_indices_"),
    "another sampler kept": (_us_other_sampler, r"X_bal is not X_train\[sampler.sample_indices_\]"),
    "only the majority class reduced": (_us_majority, "expected all equal"),
    "the test set resampled": (_us_test_set, "rarest class's count in y_train"),
    "pandas output kept": (_us_dataframe, "pandas DataFrame.*to_numpy"),
    "replacement=True": (_us_replacement, "replacement=True"),
    "resampled set reshuffled": (_us_reshuffled, "right beats in another order"),
    "NearMiss": (
        _us_near_miss,
        r"^(?!.*without random_state).*sampler is a NearMiss.*RandomUnderSampler",
    ),
    "ten beats per class": (
        _us_ten_per_class,
        r"^(?!.*resample X_train).*each class has 10 beats, expected 12",
    ),
}

VALID_UNDERSAMPLING = {
    "official": _us_official,
    "pandas in, NumPy out": _us_pandas,
    "indexing with sample_indices_": _us_indices,
}


@pytest.mark.parametrize(("answer", "message"), params(WRONG_UNDERSAMPLING))
def test_undersampling_wrong_answers(answer, message):
    sampler, X_bal, y_bal = answer(US_X, US_Y, US_X_TEST, US_Y_TEST)
    with pytest.raises(checks.ExerciseError, match=message):
        checks.check_undersampling(X_bal, y_bal, sampler, US_X, US_Y, random_state=SEED)


@pytest.mark.parametrize("answer", valid(VALID_UNDERSAMPLING))
def test_undersampling_valid_answers(answer, capsys):
    sampler, X_bal, y_bal = answer(US_X, US_Y, US_X_TEST, US_Y_TEST)
    checks.check_undersampling(X_bal, y_bal, sampler, US_X, US_Y, random_state=SEED)
    assert capsys.readouterr().out.startswith("Correct")


# --- exercises ex2-forward and ex2-batched --------------------------------------------------

SMALL_FCN = dict(hidden_size=8, filters_1=8, filters_2=8, filters_3=8, kernel_size_1=5,
                 kernel_size_2=3, kernel_size_3=3)  # fmt: skip


@pytest.fixture(scope="module")
def fcn_task():
    torch.manual_seed(0)
    model = LSTMFCN(num_classes=5, seq_len=40, **SMALL_FCN)
    model.eval()  # a few steps of "training" so that batch norm has running statistics
    rng = np.random.default_rng(3)
    X_bal = rng.normal(size=(30, 40)).astype(np.float32)
    X_train = rng.normal(size=(30, 40)).astype(np.float32)
    X_test = rng.normal(size=(250, 40)).astype(np.float32)
    with torch.no_grad():
        model.train()
        model(torch.from_numpy(X_test))  # batch norm running statistics move off their start
    return model, X_bal, X_train, X_test


WRONG_FORWARD = {
    "beats of X_train": (
        lambda m, Xb, Xt: (torch.tensor(Xt[:8]), m(torch.tensor(Xt[:8]))),
        r"x is not X_bal\[:8\]",
    ),
    "softmax applied": (
        lambda m, Xb, Xt: (x := torch.tensor(Xb[:8]), torch.softmax(m(x), dim=1)),
        "probabilities",
    ),
    "log_softmax applied": (
        lambda m, Xb, Xt: (x := torch.tensor(Xb[:8]), torch.log_softmax(m(x), dim=1)),
        "log-probabilities",
    ),
    "argmax": (
        lambda m, Xb, Xt: (x := torch.tensor(Xb[:8]), m(x).argmax(dim=1)),
        r"logits have shape \(8,\)",
    ),
    "ten beats": (
        lambda m, Xb, Xt: (x := torch.tensor(Xb[:10]), m(x)),
        r"x has shape \(10, 40\)",
    ),
    "logits as NumPy": (
        lambda m, Xb, Xt: (x := torch.tensor(Xb[:8]), m(x).detach().numpy()),
        "expected a tensor, got ndarray",
    ),
    "x left a NumPy array": (
        lambda m, Xb, Xt: (Xb[:8], m(torch.tensor(Xb[:8]))),
        "x is a ndarray",
    ),
    "sigmoid applied": (
        lambda m, Xb, Xt: (x := torch.tensor(Xb[:8]), torch.sigmoid(m(x))),
        "sigmoid",
    ),
}


def _forward_no_grad(model, X_bal):
    x = torch.from_numpy(X_bal[:8]).float()
    with torch.no_grad():
        return x, model(x)


VALID_FORWARD = {
    "official": lambda m, Xb, Xt: (x := torch.tensor(Xb[:8], dtype=torch.float32), m(x)),
    "from_numpy, no_grad": lambda m, Xb, Xt: _forward_no_grad(m, Xb),
    "as_tensor, eval mode": lambda m, Xb, Xt: (
        x := torch.as_tensor(Xb[0:8, :]),
        m.eval()(x),
    ),
}


@pytest.mark.parametrize(("answer", "message"), params(WRONG_FORWARD))
def test_forward_wrong_answers(fcn_task, answer, message):
    model, X_bal, X_train, _ = fcn_task
    x, logits = answer(model, X_bal, X_train)
    with pytest.raises(checks.ExerciseError, match=message):
        checks.check_lstm_fcn_output(logits, batch_size=8, x=x, source=X_bal)


@pytest.mark.parametrize("answer", valid(VALID_FORWARD))
def test_forward_valid_answers(fcn_task, answer, capsys):
    model, X_bal, X_train, _ = fcn_task
    with torch.enable_grad():
        x, logits = answer(model, X_bal, X_train)
    checks.check_lstm_fcn_output(logits, batch_size=8, x=x, source=X_bal)
    assert capsys.readouterr().out.startswith("Correct")


def _batched(X, model, softmax_dim=1, log=False, stop=None, step=100, order=None, eval_=True,
             join=True, numpy=True, start=0, other=None):  # fmt: skip
    if eval_:
        model.eval()
    if other is not None:  # the model to check: put in eval mode, then another one scores
        other.eval()
    chunks = []
    starts = list(range(start, stop if stop is not None else len(X), step))
    with torch.no_grad():
        for i in starts if order is None else order(starts):
            logits = model(torch.tensor(X[i : i + step]))
            f = torch.log_softmax if log else torch.softmax
            chunks.append(f(logits, dim=softmax_dim))
    if not join:
        return chunks
    proba = torch.cat(chunks)
    return proba.numpy() if numpy else proba


def _batched_eval_late(model, X):
    proba = _batched(X, model, eval_=False)
    model.eval()
    return proba


WRONG_BATCHED = {
    "no model.eval()": (lambda m, X: _batched(X, m, eval_=False), r"train mode.*model\.eval\(\)"),
    "last batch lost": (
        lambda m, X: _batched(X, m, stop=len(X) - len(X) % 100),
        "last, smaller batch",
    ),
    "softmax over the beats": (lambda m, X: _batched(X, m, softmax_dim=0), "dim=0"),
    "log_softmax": (lambda m, X: _batched(X, m, log=True), "log-probabilities"),
    "logits": (
        lambda m, X: torch.cat(
            [m.eval()(torch.tensor(X[i : i + 100])).detach() for i in range(0, len(X), 100)]
        ).numpy(),
        "rows must sum to 1",
    ),  # fmt: skip
    "left a tensor": (lambda m, X: _batched(X, m, numpy=False), r"torch\.Tensor"),
    "batches never joined": (lambda m, X: _batched(X, m, join=False), "is a list"),
    "batches in reverse order": (
        lambda m, X: _batched(X, m, order=lambda s: s[::-1]),
        "wrong order",
    ),
    "model.eval() after the loop": (_batched_eval_late, r"model\.eval\(\) before the loop"),
    "predicted classes only": (
        lambda m, X: _batched(X, m).argmax(axis=1),
        "probability of every class",
    ),
    "batches from beat 1": (
        lambda m, X: _batched(X, m, start=1),
        r"^(?!.*last, smaller).*249 rows, expected 250",
    ),
    "a list of rows": (
        lambda m, X: _batched(X, m).tolist(),
        r"^(?!.*of batches).*proba_seed is a list.*NumPy array",
    ),
    "another model": (
        lambda m, X: _batched(X, LSTMFCN(num_classes=5, seq_len=40, **SMALL_FCN), other=m),
        r"probabilities differ from the model's in eval mode for X_test: beat \d+ has \[",
    ),
}


def _batched_loader(model, X):
    """A DataLoader, inference_mode, NumPy chunks."""
    model.eval()
    loader = DataLoader(TensorDataset(torch.from_numpy(X)), batch_size=100, shuffle=False)
    parts = []
    with torch.inference_mode():
        for (xb,) in loader:
            parts.append(torch.softmax(model(xb), dim=-1).numpy())
    return np.concatenate(parts)


def _batched_scipy(model, X):
    """np.array_split and SciPy's softmax."""
    model.eval()
    parts = []
    for chunk in np.array_split(X, np.arange(100, len(X), 100)):
        with torch.no_grad():
            parts.append(softmax(model(torch.as_tensor(chunk)).numpy(), axis=1))
    return np.vstack(parts)


def _batched_autocast(model, X):
    """Mixed precision, as chapter 2's precision section shows."""
    model.eval()
    parts = []
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        for i in range(0, len(X), 100):
            parts.append(torch.softmax(model(torch.from_numpy(X[i : i + 100])).float(), 1))
    return torch.cat(parts).numpy()


VALID_BATCHED = {
    "official": lambda m, X: _batched(X, m),
    "DataLoader and inference_mode": _batched_loader,
    "array_split and SciPy softmax": _batched_scipy,
    "bfloat16 autocast": _batched_autocast,
}


@pytest.mark.parametrize(("answer", "message"), params(WRONG_BATCHED))
def test_batched_wrong_answers(fcn_task, answer, message):
    model, _, _, X_test = fcn_task
    model.train()  # as the notebook leaves it before the exercise
    proba = answer(model, X_test)
    with pytest.raises(checks.ExerciseError, match=message):
        checks.check_batched_inference(proba, model, X_test)


def _cpu_runs_bf16_lstm() -> bool:
    """oneDNN has no bfloat16 LSTM on CPUs without bfloat16 instructions."""
    try:
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            nn.LSTM(1, 2, batch_first=True)(torch.zeros(1, 3, 1))
    except RuntimeError:
        return False
    return True


@pytest.mark.parametrize("answer", valid(VALID_BATCHED))
def test_batched_valid_answers(fcn_task, answer, capsys):
    if answer is _batched_autocast and not _cpu_runs_bf16_lstm():
        pytest.skip("this CPU cannot run an LSTM in bfloat16: no student computes in it here")
    model, _, _, X_test = fcn_task
    model.train()
    checks.check_batched_inference(answer(model, X_test), model, X_test)
    assert capsys.readouterr().out.startswith("Correct")


# --- exercise ex2-table ---------------------------------------------------------------------

CLASSES = list("NSVFQ")
_rng = np.random.default_rng(4)
TABLE_Y = np.repeat(np.arange(5), [40, 15, 15, 10, 10])
TABLE_PROBA = softmax(_rng.normal(size=(90, 5)) + 1.5 * np.eye(5)[TABLE_Y], axis=1)
# a model that never predicts Q: its precision is 0 / 0, NaN in NumPy, 0 in sklearn
TABLE_PROBA_NO_Q = TABLE_PROBA * [1, 1, 1, 1, 0.01]
TABLE_PROBA_NO_Q /= TABLE_PROBA_NO_Q.sum(axis=1, keepdims=True)
assert not (TABLE_PROBA_NO_Q.argmax(axis=1) == 4).any()


def _table_official(y, proba):
    pred = proba.argmax(axis=1)
    rows = {}
    for c, name in enumerate(CLASSES):
        truth, predicted = y == c, pred == c
        rows[name] = {
            "accuracy": skm.accuracy_score(truth, predicted),
            "roc_auc": skm.roc_auc_score(truth, proba[:, c]),
            "precision": skm.precision_score(truth, predicted, zero_division=0),
            "recall": skm.recall_score(truth, predicted),
            "f1": skm.f1_score(truth, predicted),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def _table_average_none(y, proba):
    pred = proba.argmax(axis=1)
    labels = np.arange(5)
    precision, recall, f1, _ = skm.precision_recall_fscore_support(
        y, pred, labels=labels, average=None, zero_division=0
    )
    truth = label_binarize(y, classes=labels)
    return pd.DataFrame(
        {
            "accuracy": (truth == label_binarize(pred, classes=labels)).mean(axis=0),
            "roc_auc": skm.roc_auc_score(truth, proba, average=None),
            "precision": precision,
            "recall": recall,
            "f1": f1,
        },
        index=CLASSES,
    )


def _table_numpy(y, proba):
    """Counts from the confusion matrix, NumPy only."""
    cm = skm.confusion_matrix(y, proba.argmax(1), labels=range(5))
    tp = np.diag(cm)
    fp, fn = cm.sum(0) - tp, cm.sum(1) - tp
    tn = cm.sum() - tp - fp - fn
    with np.errstate(invalid="ignore"):  # 0 / 0 for a class never predicted: NaN, allowed
        precision, recall = tp / (tp + fp), tp / (tp + fn)
        f1 = 2 * precision * recall / (precision + recall)
    aucs = [skm.roc_auc_score(y == c, proba[:, c]) for c in range(5)]
    table = pd.DataFrame(
        np.column_stack([(tp + tn) / cm.sum(), aucs, precision, recall, f1]),
        columns=["accuracy", "roc_auc", "precision", "recall", "f1"],
    )  # fmt: skip
    table.index = CLASSES
    return table


def _table_modified(change):
    def answer(y, proba):
        return change(_table_official(y, proba), y, proba)

    return answer


def _overall_accuracy(t, y, p):
    return t.assign(accuracy=skm.accuracy_score(y, p.argmax(1)))


def _auc_of_labels(t, y, p):
    return t.assign(roc_auc=[skm.roc_auc_score(y == c, p.argmax(1) == c) for c in range(5)])


def _swapped(t, y, p):
    return t.rename(columns={"precision": "recall", "recall": "precision"})


def _shifted(t, y, p):
    shifted = t.copy()
    shifted.iloc[:, :] = np.roll(t.to_numpy(), 1, axis=0)  # enumerate(CLASSES, start=1)
    return shifted


def _macro_precision(t, y, p):
    return t.assign(precision=skm.precision_score(y, p.argmax(1), average="macro"))


WRONG_TABLE = {
    "overall accuracy in every row": (_table_modified(_overall_accuracy), "overall accuracy"),
    "ROC-AUC of predicted labels": (_table_modified(_auc_of_labels), "from predicted labels"),
    "precision and recall swapped": (_table_modified(_swapped), "swapped"),
    "rows shifted by one class": (_table_modified(_shifted), "holds the values of class"),
    "transposed": (_table_modified(lambda t, y, p: t.T), r"columns.*\.T"),
    "integer index": (
        _table_modified(lambda t, y, p: t.reset_index(drop=True)),
        r"rows are \[0, 1",
    ),
    "f1 column named f1_score": (
        _table_modified(lambda t, y, p: t.rename(columns={"f1": "f1_score"})),
        "no 'f1' column",
    ),
    "macro precision in every row": (_table_modified(_macro_precision), "same value in every row"),
    "a dict, not a DataFrame": (
        _table_modified(lambda t, y, p: t.to_dict()),
        "expected a DataFrame, got dict",
    ),
    "rounded to 3 decimals": (_table_modified(lambda t, y, p: t.round(3)), "rounded to 3 decimals"),
    "precision computed as recall": (
        _table_modified(lambda t, y, p: t.assign(precision=t["recall"])),
        r"^(?!.*swapped).*precision of class N is 0\.\d{4}, expected 0\.\d{4}: that is its recall",
    ),
    "f1 as the mean of precision and recall": (
        _table_modified(lambda t, y, p: t.assign(f1=(t["precision"] + t["recall"]) / 2)),
        r"f1 of class N is 0\.\d{4}, expected 0\.\d{4}: one-vs-rest",
    ),
}

VALID_TABLE = {
    "official": _table_official,
    "average=None": _table_average_none,
    "NumPy counts": _table_numpy,
}


@pytest.mark.parametrize(("answer", "message"), params(WRONG_TABLE))
def test_table_wrong_answers(answer, message):
    with pytest.raises(checks.ExerciseError, match=message):
        checks.check_per_class_table(answer(TABLE_Y, TABLE_PROBA), TABLE_Y, TABLE_PROBA, CLASSES)


@pytest.mark.parametrize("proba", [TABLE_PROBA, TABLE_PROBA_NO_Q], ids=["all", "Q never predicted"])
@pytest.mark.parametrize("answer", valid(VALID_TABLE))
def test_table_valid_answers(answer, proba, capsys):
    checks.check_per_class_table(answer(TABLE_Y, proba), TABLE_Y, proba, CLASSES)
    assert capsys.readouterr().out.startswith("Correct")


@pytest.mark.parametrize(
    ("wrong", "valid_answers"),
    [
        pytest.param(WRONG_UNDERSAMPLING, VALID_UNDERSAMPLING, id="undersampling"),
        pytest.param(WRONG_FORWARD, VALID_FORWARD, id="forward pass"),
        pytest.param(WRONG_BATCHED, VALID_BATCHED, id="batched inference"),
        pytest.param(WRONG_TABLE, VALID_TABLE, id="per-class table"),
    ],
)
def test_every_exercise_has_enough_answers(wrong, valid_answers):
    assert has_enough_answers(wrong, valid_answers)


# --- hand-made cases on a full-size LSTM-FCN ------------------------------------------------


@pytest.fixture(scope="module")
def full_size_task():
    """An untrained LSTM-FCN of the course's size, 30 beats of 187 samples and its
    probabilities for them, computed in batches of 7."""
    torch.manual_seed(0)
    model = LSTMFCN(num_classes=5)
    X = np.random.default_rng(0).random((30, 187)).astype(np.float32)
    return model, X, predict_proba(model, X, batch_size=7)


def test_check_undersampling_names_a_beat_kept_twice():
    X_train = np.random.default_rng(0).normal(size=(20, 3))
    y_train = np.repeat(np.arange(5), [8, 3, 3, 2, 4])
    sampler = RandomUnderSampler(random_state=42)
    X_bal, y_bal = sampler.fit_resample(X_train, y_train)
    checks.check_undersampling(X_bal, y_bal, sampler, X_train, y_train)
    with pytest.raises(checks.ExerciseError, match=r"class counts are \[3, 2, 2, 2, 2\]"):
        checks.check_undersampling(
            np.r_[X_bal[:1], X_bal], np.r_[0, y_bal], sampler, X_train, y_train
        )


def test_check_lstm_fcn_output_names_the_wrong_shape():
    checks.check_lstm_fcn_output(torch.zeros(4, 5), batch_size=4)
    with pytest.raises(checks.ExerciseError, match=r"shape \(4, 3\), expected \(4, 5\)"):
        checks.check_lstm_fcn_output(torch.zeros(4, 3), batch_size=4)


def test_check_batched_inference_names_a_lost_last_batch_only_where_it_is_one(full_size_task):
    model, X, proba = full_size_task
    checks.check_batched_inference(proba, model, X)
    with pytest.raises(checks.ExerciseError, match="last, smaller batch"):
        checks.check_batched_inference(proba[:28], model, X, batch_size=7)  # 4 x 7 + 2
    with pytest.raises(checks.ExerciseError, match=r"^(?!.*last, smaller).*28 rows, expected 30"):
        checks.check_batched_inference(proba[:28], model, X)  # batches of 100: none is lost


def test_check_per_class_table_names_the_wrong_value(full_size_task):
    _, _, proba = full_size_task
    y = np.arange(30) % 5
    table = metrics.per_class_table(y, proba, list(mitbih.CLASSES))
    checks.check_per_class_table(table, y, proba, list(mitbih.CLASSES))
    wrong = table.copy()
    wrong.loc["S", "precision"] += 0.1
    with pytest.raises(checks.ExerciseError, match="precision of class S"):
        checks.check_per_class_table(wrong, y, proba, list(mitbih.CLASSES))


# --- exercise ex2-endpoint-client -----------------------------------------------------------

# The answers are built the way the endpoint writes them (payload.format_answers) and read
# back the way a client reads them, without a server: the checker only sees the table.
N_SENT, BATCH = 350, 100  # three full batches and a last one of 50


@pytest.fixture(scope="module")
def endpoint_task():
    """A small LSTM-FCN behind the endpoint, and the beats X (N_SENT, 187) a client sends."""
    torch.manual_seed(0)
    model = LSTMFCN(hidden_size=8, filters_1=8, filters_2=16, filters_3=8).eval()
    X = np.random.default_rng(0).random((N_SENT, 187), dtype=np.float32)
    return model, X


def _answer_csv(model, batch: np.ndarray, **read_csv) -> pd.DataFrame:
    """The endpoint's CSV answer for one request, scored in the endpoint's default precision
    (the checker's too), read back as a client reads it."""
    text = payload.format_answers(predict_proba(model, batch), payload.CSV)
    return pd.read_csv(io.StringIO(text), **read_csv)


def _client(model, X, starts=None, step=BATCH, size=BATCH, **read_csv):
    """What a client loop collects: the answer of every batch, and one time per request."""
    starts = range(0, len(X), step) if starts is None else starts
    chunks = [_answer_csv(model, X[i : i + size], **read_csv) for i in starts]
    return chunks, [0.05] * len(chunks)


def test_endpoint_client_accepts_the_reference_loop(endpoint_task, capsys):
    model, X = endpoint_task
    chunks, latencies = _client(model, X)
    checks.check_endpoint_client(pd.concat(chunks, ignore_index=True), latencies, model, X)
    out = capsys.readouterr().out
    assert out.startswith("Correct: 350 beats in 4 requests") and "median latency 50 ms" in out


def test_endpoint_client_accepts_json_answers_with_columns_in_another_order(endpoint_task, capsys):
    model, X = endpoint_task
    chunks = []
    for i in range(0, N_SENT, BATCH):
        proba = predict_proba(model, X[i : i + BATCH])
        text = payload.format_answers(proba, payload.JSON)
        chunks.append(pd.DataFrame(json.loads(text)["predictions"]))
    answers = pd.concat(chunks, ignore_index=True)
    answers = answers[payload.answer_columns(5)[5:] + payload.answer_columns(5)[:5]]
    checks.check_endpoint_client(answers, np.full(4, 0.02), model, X)
    assert capsys.readouterr().out.startswith("Correct")


def test_endpoint_client_accepts_concurrent_answers_put_back_in_order(endpoint_task, capsys):
    model, X = endpoint_task
    starts = [300, 100, 0, 200]  # the order in which they came back
    chunks, latencies = _client(model, X, starts=starts)
    by_start = dict(zip(starts, chunks, strict=True))
    answers = pd.concat([by_start[i] for i in sorted(by_start)], ignore_index=True)
    checks.check_endpoint_client(answers, latencies, model, X)
    assert capsys.readouterr().out.startswith("Correct")


def test_endpoint_client_names_the_missing_last_batch(endpoint_task):
    model, X = endpoint_task
    chunks, latencies = _client(model, X, starts=range(0, N_SENT - BATCH, BATCH))
    with pytest.raises(checks.ExerciseError, match="the last, shorter batch \\(50 beats\\)"):
        checks.check_endpoint_client(pd.concat(chunks, ignore_index=True), latencies, model, X)


def test_endpoint_client_names_a_missing_full_batch(endpoint_task):
    model, X = endpoint_task
    chunks, latencies = _client(model, X, starts=[0, 200, 300])
    with pytest.raises(checks.ExerciseError, match="250 rows, expected 350: 100 missing"):
        checks.check_endpoint_client(pd.concat(chunks, ignore_index=True), latencies, model, X)


def test_endpoint_client_names_batches_out_of_order(endpoint_task):
    model, X = endpoint_task
    chunks, latencies = _client(model, X, starts=[100, 0, 200, 300])  # appended as they came
    with pytest.raises(checks.ExerciseError, match="batches are out of order"):
        checks.check_endpoint_client(pd.concat(chunks, ignore_index=True), latencies, model, X)


def test_endpoint_client_names_overlapping_batches(endpoint_task):
    model, X = endpoint_task
    chunks, latencies = _client(model, X, size=BATCH + 1)  # X[i:i + 101]
    with pytest.raises(checks.ExerciseError, match="3 too many: the batches overlap by 1 beat"):
        checks.check_endpoint_client(pd.concat(chunks, ignore_index=True), latencies, model, X)


def test_endpoint_client_names_a_header_line_sent_as_a_beat(endpoint_task):
    """pd.DataFrame(batch).to_csv(index=False) writes the column names 0,1,...,186 first: the
    endpoint reads that line as one more beat, and answers it."""
    model, X = endpoint_task
    chunks = [
        _answer_csv(model, np.vstack([np.arange(X.shape[1]), X[i : i + BATCH]]))
        for i in range(0, N_SENT, BATCH)
    ]
    with pytest.raises(checks.ExerciseError, match=r"^(?!.*overlap).*4 too many.*header line"):
        checks.check_endpoint_client(pd.concat(chunks, ignore_index=True), [0.05] * 4, model, X)


def test_endpoint_client_says_what_differs_for_beats_changed_before_sending(endpoint_task):
    """Beats standardised before sending: no listed mistake, so no guessed cause."""
    model, X = endpoint_task
    scaled = (X - X.mean(axis=1, keepdims=True)) / X.std(axis=1, keepdims=True)
    chunks, latencies = _client(model, scaled)
    with pytest.raises(
        checks.ExerciseError,
        match=r"^(?!.*digits).*p_ of beat 0 is \[.*\], the model says \[.*\] for X\[0\]",
    ):
        checks.check_endpoint_client(pd.concat(chunks, ignore_index=True), latencies, model, X)


def test_endpoint_client_names_the_header_read_as_a_row(endpoint_task):
    model, X = endpoint_task
    chunks, latencies = _client(model, X, header=None)
    with pytest.raises(checks.ExerciseError, match="not with header=None"):
        checks.check_endpoint_client(pd.concat(chunks, ignore_index=True), latencies, model, X)


def test_endpoint_client_names_the_repeated_index(endpoint_task):
    model, X = endpoint_task
    chunks, latencies = _client(model, X)
    with pytest.raises(checks.ExerciseError, match="ignore_index=True"):
        checks.check_endpoint_client(pd.concat(chunks), latencies, model, X)


def test_endpoint_client_says_what_the_index_is_without_guessing_why(endpoint_task):
    model, X = endpoint_task
    chunks, latencies = _client(model, X)
    answers = pd.concat(chunks, ignore_index=True)
    answers.index = answers.index + 1  # numbered from 1: not a pd.concat without ignore_index
    with pytest.raises(
        checks.ExerciseError, match=r"^(?!.*repeats).*index is not 0\.\.349 \(it starts \[1, 2, 3\]"
    ):
        checks.check_endpoint_client(answers, latencies, model, X)


def test_endpoint_client_names_swapped_one_hot_and_probabilities(endpoint_task):
    model, X = endpoint_task
    chunks, latencies = _client(model, X)
    answers = pd.concat(chunks, ignore_index=True)
    y_cols, p_cols = payload.answer_columns(5)[:5], payload.answer_columns(5)[5:]
    swapped = answers.rename(columns=dict(zip(y_cols + p_cols, p_cols + y_cols, strict=True)))
    with pytest.raises(checks.ExerciseError, match="y_ and p_ are swapped"):
        checks.check_endpoint_client(swapped, latencies, model, X)


def test_endpoint_client_names_beats_sent_with_too_few_digits(endpoint_task):
    model, X = endpoint_task
    rounded = np.round(X, 1)  # e.g. fmt="%.1f"
    chunks, latencies = _client(model, rounded)
    with pytest.raises(checks.ExerciseError, match=r"rounded to 1 decimal.*9 significant"):
        checks.check_endpoint_client(pd.concat(chunks, ignore_index=True), latencies, model, X)


def test_endpoint_client_names_one_latency_per_beat(endpoint_task):
    model, X = endpoint_task
    chunks, _ = _client(model, X)
    with pytest.raises(checks.ExerciseError, match="latencies has 350 entries, expected 4"):
        checks.check_endpoint_client(
            pd.concat(chunks, ignore_index=True), [0.01] * N_SENT, model, X
        )


def test_endpoint_client_latencies_in_milliseconds():
    torch.manual_seed(0)
    model = LSTMFCN(num_classes=5, seq_len=40, **SMALL_FCN).eval()
    X = np.random.default_rng(5).random((150, 40), dtype=np.float32)
    answers = pd.DataFrame(predict_proba(model, X), columns=[f"p_{c}" for c in range(1, 6)])
    for c in range(1, 6):
        answers[f"y_{c}"] = (answers.filter(like="p_").to_numpy().argmax(1) == c - 1).astype(int)
    checks.check_endpoint_client(answers, [0.04, 0.03], model, X)
    with pytest.raises(checks.ExerciseError, match="milliseconds, not seconds"):
        checks.check_endpoint_client(answers, [150.0, 120.0], model, X)  # ms


# --- the fallback: an answer that is no listed mistake --------------------------------------


def _fallback_table(y, proba):
    return _table_modified(lambda t, y, p: t.assign(f1=(t["precision"] + t["recall"]) / 2))(
        y, proba
    )


def _endpoint_answers(model, X_sent):
    """What the endpoint answers for X_sent, in batches of 100, read back as a client does."""
    proba = np.concatenate([predict_proba(model, X_sent[i : i + 100]) for i in range(0, 250, 100)])
    answers = pd.DataFrame(proba, columns=[f"p_{c}" for c in range(1, 6)])
    for c in range(1, 6):
        answers[f"y_{c}"] = (proba.argmax(axis=1) == c - 1).astype(int)
    return answers


FALLBACK = {
    "check_undersampling": (
        None,
        lambda: checks.check_undersampling(
            *_us_ten_per_class(US_X, US_Y, US_X_TEST, US_Y_TEST)[1:],
            _us_ten_per_class(US_X, US_Y, US_X_TEST, US_Y_TEST)[0],
            US_X,
            US_Y,
            random_state=SEED,
        ),
        r"^(?!.*resample X_train).*each class has 10 beats, expected 12",
    ),
    "check_lstm_fcn_output": (
        "fcn_task",
        lambda model, X_bal, X_train, X_test: checks.check_lstm_fcn_output(
            model(torch.tensor(X_bal[:8]))[:4],
            batch_size=8,
            x=torch.tensor(X_bal[:8]),
            source=X_bal,
        ),
        r"logits have shape \(4, 5\), expected \(8, 5\)",
    ),
    "check_batched_inference": (
        "fcn_task",
        lambda model, X_bal, X_train, X_test: checks.check_batched_inference(
            WRONG_BATCHED["another model"][0](model, X_test), model.eval(), X_test
        ),
        r"probabilities differ from the model's in eval mode.*beat 0 has \[",
    ),
    "check_per_class_table": (
        None,
        lambda: checks.check_per_class_table(
            _fallback_table(TABLE_Y, TABLE_PROBA), TABLE_Y, TABLE_PROBA, CLASSES
        ),
        r"f1 of class N is 0\.\d{4}, expected 0\.\d{4}: one-vs-rest",
    ),
    "check_endpoint_client": (
        "fcn_task",
        lambda model, X_bal, X_train, X_test: checks.check_endpoint_client(
            _endpoint_answers(model.eval(), X_test * 2), [0.05] * 3, model, X_test
        ),
        r"^(?!.*digits).*p_ of beat 0 is \[",
    ),
}


@pytest.mark.parametrize(("fixture", "run", "message"), params(FALLBACK))
def test_fallback_says_what_differs(request, fixture, run, message):
    says_what_differs(request, fixture, run, message)
