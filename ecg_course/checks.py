"""Checkers for the exercises: each says what is right, or what is wrong in plain words.

A checker prints one line starting with "Correct" when the answer passes, and
raises :class:`ExerciseError` (an ``AssertionError``) naming the first problem
otherwise, e.g. "validation set has 800 rows, expected 1,000".
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import torch
from matplotlib.axes import Axes
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from ecg_course import metrics
from ecg_course.data import stratified_split
from ecg_course.training import predict_proba

__all__ = [
    "ExerciseError",
    "check_batched_inference",
    "check_early_auc",
    "check_endpoint_client",
    "check_loss_plot",
    "check_lstm_fcn_output",
    "check_per_class_table",
    "check_run_epoch",
    "check_split",
    "check_test_metrics",
    "check_undersampling",
]


class ExerciseError(AssertionError):
    """An exercise answer is not right yet; the message says why."""


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise ExerciseError(message)


def _passed(message: str) -> None:
    print(f"Correct: {message}")


def _row_keys(X: np.ndarray) -> set[bytes]:
    return {row.tobytes() for row in np.ascontiguousarray(X, dtype=np.float32)}


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
) -> None:
    """Check a stratified train/validation/test split of (X, y)."""
    n = len(X)
    parts = {"training": (X_train, y_train), "validation": (X_val, y_val), "test": (X_test, y_test)}
    expected_train, expected_val, expected_test, *_ = stratified_split(
        X, y, fractions, random_state
    )
    expected_sizes = {
        "training": len(expected_train),
        "validation": len(expected_val),
        "test": len(expected_test),
    }
    for name, (Xp, yp) in parts.items():
        Xp, yp = np.asarray(Xp), np.asarray(yp)
        _expect(
            Xp.ndim == 2 and Xp.shape[1] == X.shape[1],
            f"{name} beats have shape {Xp.shape}, expected (n, {X.shape[1]}).",
        )
        _expect(len(Xp) == len(yp), f"{name} set has {len(Xp):,} beats but {len(yp):,} labels.")
        _expect(
            len(Xp) == expected_sizes[name],
            f"{name} set has {len(Xp):,} rows, expected {expected_sizes[name]:,} "
            f"({fractions[list(parts).index(name)]:.0%} of {n:,}).",
        )
    keys = {name: _row_keys(Xp) for name, (Xp, _) in parts.items()}
    _expect(
        not keys["training"] & keys["test"],
        f"{len(keys['training'] & keys['test'])} beats are in both the training and the test set.",
    )
    _expect(
        not keys["training"] & keys["validation"],
        "some beats are in both the training and the validation set.",
    )
    _expect(
        not keys["validation"] & keys["test"],
        "some beats are in both the validation and the test set.",
    )
    overall = np.bincount(y) / n
    for name, (_, yp) in parts.items():
        share = np.bincount(np.asarray(yp), minlength=len(overall)) / len(yp)
        worst = int(np.argmax(np.abs(share - overall)))
        _expect(
            abs(share[worst] - overall[worst]) < 0.01,
            f"class {worst} makes up {share[worst]:.1%} of the {name} set but "
            f"{overall[worst]:.1%} of all beats: pass stratify=y to keep proportions.",
        )
    _expect(
        _row_keys(X_test) == _row_keys(expected_test),
        f"sizes and proportions are right, but the test set is not the one "
        f"random_state={random_state} gives: split off the test set first, then the "
        "validation set, both with that random_state.",
    )
    _passed(
        f"{len(X_train):,} / {len(X_val):,} / {len(X_test):,} beats, stratified, "
        "no beat in two sets."
    )


def check_run_epoch(run_epoch: Callable) -> None:
    """Check a student's ``run_epoch(model, loader, criterion, optimizer=None, device)``."""
    torch.manual_seed(0)
    x, y = torch.randn(10, 6, 1), torch.tensor([0, 1] * 5)
    loader = DataLoader(TensorDataset(x, y), batch_size=4)  # batches of 4, 4 and 2
    model = nn.Sequential(nn.Flatten(), nn.Dropout(0.5), nn.Linear(6, 2))
    criterion = nn.CrossEntropyLoss()
    model.eval()
    with torch.no_grad():
        expected = criterion(model(x), y).item()
    before = [p.detach().clone() for p in model.parameters()]
    loss = run_epoch(model, loader, criterion, None, "cpu")
    _expect(
        isinstance(loss, float | np.floating)
        or (isinstance(loss, torch.Tensor) and loss.numel() == 1),
        f"run_epoch returned {type(loss).__name__}, expected a float (the mean loss).",
    )
    loss = float(loss)
    _expect(
        not model.training,
        "without an optimizer the model must be in eval mode: call model.eval().",
    )
    _expect(
        all(torch.equal(b, p) for b, p in zip(before, model.parameters(), strict=True)),
        "the weights changed although no optimizer was given.",
    )
    _expect(
        all(p.grad is None for p in model.parameters()),
        "gradients were computed in evaluation: wrap the loop in torch.no_grad().",
    )
    batch_mean = np.mean([criterion(model(xb), yb).item() for xb, yb in loader])
    _expect(
        not np.isclose(loss, batch_mean, atol=1e-6) or np.isclose(loss, expected),
        f"run_epoch returned {loss:.4f}, the mean of the batch losses; expected "
        f"{expected:.4f}, the mean per sample (the last batch is smaller: weight each "
        "batch loss by its size).",
    )
    _expect(
        np.isclose(loss, expected, atol=1e-5),
        f"evaluation loss is {loss:.4f}, expected the mean loss per sample {expected:.4f}.",
    )
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    run_epoch(model, loader, criterion, optimizer, "cpu")
    _expect(model.training, "with an optimizer the model must be in train mode: model.train().")
    _expect(
        any(not torch.equal(b, p) for b, p in zip(before, model.parameters(), strict=True)),
        "with an optimizer the weights must change: call loss.backward() and optimizer.step().",
    )
    _passed("mean loss per sample; eval mode without gradients; train mode updates the weights.")


def check_loss_plot(ax: Axes) -> None:
    """Check that a loss plot has two labelled curves, axis labels and a title."""
    _expect(
        isinstance(ax, Axes), f"pass the matplotlib Axes of your plot, got {type(ax).__name__}."
    )
    lines = [line for line in ax.get_lines() if len(line.get_xdata()) > 1]
    _expect(
        len(lines) >= 2,
        f"the plot has {len(lines)} curve(s); expected training and validation loss.",
    )
    _expect(bool(ax.get_xlabel()), "label the x axis (epoch).")
    _expect(bool(ax.get_ylabel()), "label the y axis (loss).")
    _expect(bool(ax.get_title()), "give the plot a title.")
    legend = ax.get_legend()
    _expect(
        legend is not None and len(legend.get_texts()) >= 2,
        "add a legend that says which curve is training and which validation.",
    )
    _passed("two curves with a legend, axis labels and a title.")


def check_test_metrics(y_true, proba, accuracy: float, auc: float) -> None:
    """Check accuracy and ROC-AUC computed from test probabilities (n, 2)."""
    proba = np.asarray(proba)
    _expect(
        proba.ndim == 2 and len(proba) == len(y_true),
        f"proba has shape {proba.shape}, expected ({len(y_true)}, n_classes).",
    )
    _expect(
        np.allclose(proba.sum(axis=1), 1, atol=1e-4),
        "rows of proba must sum to 1: apply softmax to the logits.",
    )
    expected_accuracy = float((proba.argmax(axis=1) == np.asarray(y_true)).mean())
    expected_auc = metrics.roc_auc(y_true, proba)
    _expect(
        np.isclose(accuracy, expected_accuracy, atol=1e-6),
        f"accuracy is {accuracy:.4f}, expected {expected_accuracy:.4f} from argmax(proba).",
    )
    _expect(
        not np.isclose(auc, metrics.roc_auc(y_true, np.roll(proba, 1, axis=1)), atol=1e-9)
        or np.isclose(auc, expected_auc),
        f"ROC-AUC is {auc:.4f}: you scored the wrong class; use proba[:, 1].",
    )
    _expect(
        np.isclose(auc, expected_auc, atol=1e-6),
        f"ROC-AUC is {auc:.4f}, expected {expected_auc:.4f}: pass probabilities, not "
        "predicted labels, to roc_auc_score.",
    )
    _passed(f"accuracy {accuracy:.3f}, ROC-AUC {auc:.3f}.")


def check_early_auc(early_auc: Callable, model: nn.Module, X, y, fractions=(0.1, 0.5, 1.0)) -> None:
    """Check a student's ``early_auc(model, X, y, fractions) -> DataFrame``."""
    result = early_auc(model, X, y, fractions)
    _expect(
        isinstance(result, pd.DataFrame),
        f"early_auc returned {type(result).__name__}, expected a pandas DataFrame.",
    )
    for column in ("fraction", "roc_auc"):
        _expect(column in result.columns, f"the DataFrame has no '{column}' column.")
    _expect(
        len(result) == len(fractions),
        f"the DataFrame has {len(result)} rows, expected one per fraction ({len(fractions)}).",
    )
    expected = metrics.early_auc(model, X, y, fractions)
    for got, want in zip(result["roc_auc"], expected.itertuples(), strict=True):
        _expect(
            np.isclose(got, want.roc_auc, atol=1e-4),
            f"at {want.fraction:.0%} of the beat ({want.samples} samples) the AUC is "
            f"{got:.4f}, expected {want.roc_auc:.4f}: feed X[:, :k] with "
            "k = round(fraction * T).",
        )
    _passed(f"ROC-AUC at {', '.join(f'{f:.0%}' for f in fractions)} of the beat.")


def check_undersampling(X_res, y_res, n_classes: int = 5, per_class: int | None = None) -> None:
    """Check an undersampled training set: equal class counts and matching rows."""
    X_res, y_res = np.asarray(X_res), np.asarray(y_res)
    _expect(len(X_res) == len(y_res), f"{len(X_res):,} beats but {len(y_res):,} labels.")
    counts = np.bincount(y_res, minlength=n_classes)
    _expect(len(set(counts)) == 1, f"class counts are {counts.tolist()}, expected all equal.")
    if per_class is not None:
        _expect(
            counts[0] == per_class,
            f"each class has {counts[0]:,} beats, expected {per_class:,} (the rarest "
            "class's count).",
        )
    _passed(f"{counts[0]:,} beats in each of {n_classes} classes.")


def check_lstm_fcn_output(logits, batch_size: int, n_classes: int = 5) -> None:
    """Check the logits of an LSTM-FCN forward pass."""
    _expect(isinstance(logits, torch.Tensor), f"expected a tensor, got {type(logits).__name__}.")
    _expect(
        tuple(logits.shape) == (batch_size, n_classes),
        f"logits have shape {tuple(logits.shape)}, expected ({batch_size}, {n_classes}): "
        "one score per class for every beat.",
    )
    _expect(bool(torch.isfinite(logits).all()), "logits contain NaN or inf.")
    _passed(f"logits of shape ({batch_size}, {n_classes}).")


def check_batched_inference(proba, model: nn.Module, X, n_check: int = 200) -> None:
    """Check probabilities (n, C) of every beat in X against the model in eval mode."""
    proba = np.asarray(proba)
    _expect(
        proba.ndim == 2 and len(proba) == len(X),
        f"proba has shape {proba.shape}, expected ({len(X):,}, n_classes): one row per "
        "test beat (did the last, smaller batch get lost?).",
    )
    _expect(
        np.allclose(proba.sum(axis=1), 1, atol=1e-4),
        "rows must sum to 1: apply softmax over the class dimension (dim=1).",
    )
    rows = np.linspace(0, len(X) - 1, min(n_check, len(X))).astype(int)
    expected = predict_proba(model, np.asarray(X)[rows])
    _expect(
        np.allclose(proba[rows], expected, atol=1e-4),
        "probabilities differ from the model's in eval mode: call model.eval() "
        "(dropout and batch norm behave differently in training) and keep the beat order.",
    )
    _passed(f"{len(proba):,} beats scored, in order, in eval mode.")


def check_per_class_table(table: pd.DataFrame, y_true, proba, class_names) -> None:
    """Check the one-vs-rest per-class table (accuracy, roc_auc, precision, recall, f1)."""
    expected = metrics.per_class_table(y_true, proba, class_names)
    _expect(isinstance(table, pd.DataFrame), f"expected a DataFrame, got {type(table).__name__}.")
    _expect(
        list(table.index) == list(class_names),
        f"rows are {list(table.index)}, expected one per class {list(class_names)}.",
    )
    for column in ("accuracy", "roc_auc", "precision", "recall", "f1"):
        _expect(column in table.columns, f"the table has no '{column}' column.")
        for name in class_names:
            got, want = float(table.loc[name, column]), float(expected.loc[name, column])
            _expect(
                np.isclose(got, want, atol=1e-4),
                f"{column} of class {name} is {got:.4f}, expected {want:.4f} "
                f"(one-vs-rest: class {name} against all others).",
            )
    _passed("accuracy, ROC-AUC, precision, recall and F1 for every class, one-vs-rest.")


def check_endpoint_client(
    answers: pd.DataFrame,
    latencies,
    model: nn.Module,
    X,
    batch_size: int = 100,
    n_check: int = 5,
    precision: str = "fp32",
) -> None:
    """Check chapter 2's endpoint client: every batch sent, the answers put back in order.

    Args:
        answers: one row per beat of ``X`` (index ``0..n-1``), columns ``y_1..y_C`` (the
            one-hot predicted class) and ``p_1..p_C`` (the probabilities), in any order.
        latencies: seconds per request, one per batch: ``ceil(n / batch_size)`` of them.
        model: the model behind the endpoint, to recompute ``n_check`` rows in-process.
        X: the beats sent, ``(n, T)``.
        batch_size: beats per request.
        n_check: how many batches (evenly spread, the last one included) are recomputed.
        precision: the endpoint's precision (``/health`` says it): the batches are
            recomputed in-process with it, batch by batch as the endpoint scored them.
    """
    from ecg_course.payload import answer_columns  # here, to leave the imports above untouched

    X = np.asarray(X)
    n, n_batches = len(X), -(-len(X) // batch_size)
    _expect(
        isinstance(answers, pd.DataFrame),
        f"answers is a {type(answers).__name__}, expected a pandas DataFrame: read each answer "
        "with pd.read_csv(io.StringIO(response.text)) and join them with pd.concat.",
    )
    checked = np.unique(np.linspace(0, n_batches - 1, min(n_check, n_batches)).astype(int))
    batches = [X[b * batch_size : (b + 1) * batch_size] for b in checked]
    rows = np.concatenate(
        [b * batch_size + np.arange(len(x)) for b, x in zip(checked, batches, strict=True)]
    )
    expected = np.concatenate(
        [predict_proba(model, x, batch_size=batch_size, precision=precision) for x in batches]
    )
    n_classes = expected.shape[1]
    columns = answer_columns(n_classes)
    y_cols, p_cols = columns[:n_classes], columns[n_classes:]
    _expect(
        set(columns) <= set(answers.columns),
        f"columns are {list(answers.columns)}, expected {columns}. "
        + (
            "The first line of every answer is the header y_1,...,p_5: read it as the header, "
            "pd.read_csv(io.StringIO(response.text)), not with header=None."
            if all(isinstance(c, int) for c in answers.columns)
            else f"Missing: {[c for c in columns if c not in answers.columns]}."
        ),
    )
    if len(answers) < n:
        missing = n - len(answers)
        hint = (
            f"the last, shorter batch ({missing} beats) is missing: range(0, len(X), "
            f"{batch_size}) ends with it, and X[i:i + {batch_size}] takes it whole."
            if missing == n % batch_size
            else f"{missing // batch_size} batch(es) of {batch_size} are missing."
            if missing % batch_size == 0
            else f"send every beat, in batches of {batch_size}."
        )
        _expect(False, f"answers has {len(answers):,} rows, expected {n:,}: {hint}")
    _expect(
        len(answers) == n,
        f"answers has {len(answers):,} rows, expected {n:,}: {len(answers) - n:,} too many. "
        f"Are batches overlapping or sent twice? Step by {batch_size}: X[i:i + {batch_size}] "
        f"for i in range(0, len(X), {batch_size}).",
    )
    _expect(
        answers.index.equals(pd.RangeIndex(n)),
        f"the index is not 0..{n - 1} (it starts {list(answers.index[:3])} and repeats "
        "for every batch): join the answers with pd.concat(..., ignore_index=True) so that row "
        "i is beat i.",
    )
    for column in columns:
        _expect(
            pd.api.types.is_numeric_dtype(answers[column]),
            f"column {column} holds {answers[column].dtype} values, expected numbers: parse each "
            "answer with pd.read_csv instead of keeping the text.",
        )
    y, p = answers[y_cols].to_numpy(dtype=float), answers[p_cols].to_numpy(dtype=float)
    p_is_one_hot = np.isin(p, (0.0, 1.0)).all()
    _expect(
        not (p_is_one_hot and not np.isin(y, (0.0, 1.0)).all()),
        "y_ and p_ are swapped: y_1..y_C are the one-hot predicted class (0 or 1), "
        "p_1..p_C the probabilities.",
    )
    _expect(
        np.allclose(p.sum(axis=1), 1, atol=1e-4) and not p_is_one_hot,
        "every row of p_1..p_C must hold probabilities that sum to 1 (the p_ columns of the "
        "answer, not the y_ ones).",
    )
    _expect(
        np.isin(y, (0.0, 1.0)).all() and (y.sum(axis=1) == 1).all(),
        "every row of y_1..y_C must be one-hot: a single 1 for the predicted class.",
    )
    got = p[rows]
    if not np.allclose(got, expected, atol=1e-4):
        bad = np.flatnonzero(~np.isclose(got, expected, atol=1e-4).all(axis=1))[:20]
        distances = np.abs(p[None, :, :] - expected[bad, None, :]).max(axis=2)  # (bad, n)
        found = distances.min(axis=1) <= 1e-4
        where = distances.argmin(axis=1)
        if found.all():
            same_offset = (where - rows[bad]) % batch_size == 0
            _expect(
                not same_offset.all(),
                f"the batches are out of order: the answer for beats {rows[bad[0]]:,}... sits "
                f"at row {where[0]:,}. Keep each answer at its batch's place (append in the "
                "order sent; if sent concurrently, order them by their start index).",
            )
            _expect(
                False,
                "the rows hold the right answers but in another order: keep the "
                "beats of a batch in order and put the answers back in the order sent.",
            )
        _expect(
            False,
            f"p_ of beat {rows[bad[0]]:,} is {np.round(got[bad[0]], 4).tolist()}, the model says "
            f"{np.round(expected[bad[0]], 4).tolist()}: send each beat whole and unchanged "
            "(187 values, enough digits, e.g. np.savetxt(..., fmt='%.9g')).",
        )
    _expect(
        (y.argmax(axis=1) == p.argmax(axis=1)).all(),
        "y_ columns disagree with the most probable p_ column: keep each row's y_ and p_ together.",
    )
    latencies = np.asarray(latencies, dtype=float).ravel()
    _expect(
        len(latencies) == n_batches,
        f"latencies has {len(latencies):,} entries, expected {n_batches:,}: one time per "
        f"request of {batch_size} beats (time.perf_counter() around each post).",
    )
    _expect(
        bool(np.isfinite(latencies).all() and (latencies > 0).all()),
        "latencies must be positive numbers of seconds.",
    )
    _passed(
        f"{n:,} beats in {n_batches:,} requests, answers in order with {', '.join(columns)}; "
        f"median latency {np.median(latencies) * 1000:.0f} ms, 99th percentile "
        f"{np.percentile(latencies, 99) * 1000:.0f} ms per batch."
    )
