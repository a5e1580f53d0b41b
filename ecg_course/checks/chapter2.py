"""Chapter 2 (MIT-BIH with an LSTM-FCN): undersampling, the forward pass, batched
inference, the per-class table and the endpoint client."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from sklearn import metrics as skm
from torch import nn

from ecg_course import metrics
from ecg_course.checks._common import (
    ExerciseError,
    _expect,
    _matches_model,
    _model_proba,
    _name_mistake,
    _numpy_answer,
    _passed,
    _references,
    _row_keys,
    _same_rates,
    _same_rows,
    _shown,
)
from ecg_course.payload import answer_columns
from ecg_course.training import predict_proba

# --- chapter 2 ------------------------------------------------------------------------------


def check_undersampling(X_res, y_res, sampler, X_train, y_train, random_state: int = 42) -> None:
    """Check ``X_res, y_res = sampler.fit_resample(X_train, y_train)`` with ``random_state``."""
    X_res, y_res = _numpy_answer(X_res, "X_bal"), _numpy_answer(y_res, "y_bal")
    X_train, y_train = np.asarray(X_train), np.asarray(y_train)
    _expect(len(X_res) == len(y_res), f"{len(X_res):,} beats but {len(y_res):,} labels.")
    _expect(
        not (
            X_res.ndim == 1 and set(np.unique(X_res).tolist()) <= set(np.unique(y_train).tolist())
        ),
        f"X_bal holds labels (shape {X_res.shape}), not beats: fit_resample returns X_bal, "
        "y_bal in that order.",
    )
    _expect(
        X_res.ndim == 2 and X_res.shape[1:] == X_train.shape[1:],
        f"X_bal has shape {X_res.shape}, expected (n, {X_train.shape[1]}): one beat of "
        f"{X_train.shape[1]} samples per row, as in X_train.",
    )
    n_classes = int(y_train.max()) + 1
    counts = np.bincount(y_res.astype(np.int64), minlength=n_classes)
    rarest = int(np.bincount(y_train, minlength=n_classes).min())
    _expect(
        len(set(counts)) == 1,
        f"class counts are {counts.tolist()}, expected all equal "
        "(RandomUnderSampler's default sampling_strategy).",
    )
    _expect(
        counts[0] == rarest,
        f"each class has {counts[0]:,} beats, expected {rarest:,}: the rarest class's count "
        "in y_train, which RandomUnderSampler's default sampling_strategy keeps of every class.",
    )
    from imblearn.under_sampling import RandomUnderSampler

    _expect(
        isinstance(sampler, RandomUnderSampler),
        f"sampler is a {type(sampler).__name__}, expected a RandomUnderSampler: the exercise "
        f"keeps beats of every class at random, RandomUnderSampler(random_state=SEED).",
    )
    indices = getattr(sampler, "sample_indices_", None)
    _expect(
        indices is not None,
        "sampler has no sample_indices_: keep the RandomUnderSampler you called fit_resample "
        "on in the variable sampler.",
    )
    seed = getattr(sampler, "random_state", None)
    indices = np.asarray(indices)
    _expect(
        not (
            len(indices) == len(X_res)
            and not _same_rows(X_train[indices], X_res)
            and sorted(_row_keys(X_train[indices])) == sorted(_row_keys(X_res))
        ),
        "X_bal holds the right beats in another order: keep the order fit_resample returns.",
    )
    _expect(
        len(indices) == len(X_res) and _same_rows(X_train[indices], X_res),
        "X_bal is not X_train[sampler.sample_indices_]: resample X_train, y_train with the "
        "sampler you keep.",
    )
    _expect(
        np.array_equal(y_train[indices], y_res),
        "y_bal does not hold the labels of the beats in X_bal: take both from one "
        "fit_resample call.",
    )
    expected = RandomUnderSampler(random_state=random_state)
    expected.fit_resample(X_train, y_train)
    if not np.array_equal(np.sort(indices), np.sort(expected.sample_indices_)):
        _expect(
            seed is not None,
            "RandomUnderSampler() without random_state draws other beats every run: pass "
            f"random_state=SEED ({random_state}).",
        )
        _expect(
            seed == random_state,
            f"the sampler has random_state={seed!r}, expected SEED ({random_state}).",
        )
        _expect(
            not getattr(sampler, "replacement", False),
            "replacement=True draws some beats twice: keep the default replacement=False.",
        )
        raise ExerciseError(
            f"these are not the beats RandomUnderSampler(random_state={random_state}) keeps: "
            "resample X_train, y_train with the default sampling_strategy."
        )
    _passed(f"{counts[0]:,} beats in each of {n_classes} classes.")


def check_lstm_fcn_output(logits, batch_size: int, n_classes: int = 5, x=None, source=None) -> None:
    """Check the logits of an LSTM-FCN forward pass (and ``x``, the first beats of ``source``)."""
    if x is not None:
        _expect(
            isinstance(x, torch.Tensor),
            f"x is a {type(x).__name__}, expected a torch.Tensor.",
        )
        _expect(
            x.dtype == torch.float32,
            f"x has dtype {x.dtype}, expected torch.float32 (dtype=torch.float32).",
        )
        _expect(
            tuple(x.shape) == (batch_size, np.asarray(source).shape[1])
            if source is not None
            else x.shape[0] == batch_size,
            f"x has shape {tuple(x.shape)}, expected ({batch_size}, beat length): the first "
            f"{batch_size} beats, X_bal[:{batch_size}].",
        )
        if source is not None:
            _expect(
                np.allclose(x.detach().cpu().numpy(), np.asarray(source)[:batch_size]),
                f"x is not X_bal[:{batch_size}]: take the first {batch_size} beats of the "
                "balanced training set.",
            )
    _expect(
        isinstance(logits, torch.Tensor),
        f"expected a tensor, got {type(logits).__name__}.",
    )
    _expect(
        tuple(logits.shape) == (batch_size, n_classes),
        f"logits have shape {tuple(logits.shape)}, expected ({batch_size}, {n_classes}): "
        "one score per class for every beat.",
    )
    _expect(bool(torch.isfinite(logits).all()), "logits contain NaN or inf.")
    detached = logits.detach().float()
    _expect(
        not (
            bool((detached >= 0).all())
            and torch.allclose(detached.sum(1), torch.ones(1), atol=1e-4)
        ),
        "these rows sum to 1: they are probabilities. The logits are what the model "
        "returns, before any softmax.",
    )
    _expect(
        not torch.allclose(detached.exp().sum(1), torch.ones(1), atol=1e-4),
        "these are log-probabilities (log_softmax): the logits are what the model returns.",
    )
    _expect(
        not bool(((detached > 0) & (detached < 1)).all()),
        "every value lies between 0 and 1, as torch.sigmoid gives: the logits are what the "
        "model returns, any real numbers, before any sigmoid or softmax.",
    )
    _passed(f"logits of shape ({batch_size}, {n_classes}).")


def check_batched_inference(
    proba, model: nn.Module, X, n_check: int = 200, batch_size: int = 100
) -> None:
    """Check probabilities (n, C) of every beat in X against the model in eval mode
    (``batch_size``: the beats per batch the exercise asks for)."""
    was_training = model.training  # the references below put the model in eval mode
    X = np.asarray(X)
    n = len(X)
    if isinstance(proba, list | tuple):
        kind = type(proba).__name__
        _expect(
            not (proba and all(getattr(c, "ndim", 0) == 2 for c in proba)),
            f"proba_seed is a {kind} of {len(proba)} arrays of rows, "
            f"{sum(len(c) for c in proba):,} rows in all: join them into one array with "
            "torch.cat(chunks).numpy() (or np.concatenate).",
        )
        raise ExerciseError(
            f"proba_seed is a {kind} of {len(proba):,} items; later cells need a NumPy array "
            "of shape (beats, classes): np.asarray(...), or the array torch.cat(chunks).numpy() "
            "gives."
        )
    proba = _numpy_answer(proba, "proba_seed")
    if proba.ndim != 2:
        n_classes = _model_proba(model, X[:1]).shape[1]
        _expect(
            not (
                proba.ndim == 1
                and np.array_equal(proba, np.round(proba))
                and ((proba >= 0) & (proba < n_classes)).all()
            ),
            f"proba_seed has shape {proba.shape}: one predicted class per beat. Keep the "
            f"probability of every class, shape ({n:,}, {n_classes}).",
        )
        raise ExerciseError(
            f"proba_seed has shape {proba.shape}, expected ({n:,}, {n_classes}): one row of "
            "class probabilities per beat."
        )
    if len(proba) != n:
        head = f"proba_seed has {len(proba):,} rows, expected {n:,}"
        kept = np.unique(np.linspace(0, len(proba) - 1, min(n_check, len(proba))).astype(int))
        _name_mistake(
            lambda rows: len(proba) == rows and _matches_model(proba[kept], model, X[kept]),
            [
                (
                    n - n % batch_size if n % batch_size and len(proba) else None,
                    f"{head}: the last, smaller batch of {n % batch_size} beats is missing. "
                    f"range(0, len(X_test), {batch_size}) ends with it, and "
                    f"X_test[i:i + {batch_size}] takes it whole.",
                )
            ],
        )
        raise ExerciseError(f"{head}: one row per test beat, in order.")
    rows = np.linspace(0, n - 1, min(n_check, n)).astype(int)
    if not np.allclose(proba.sum(axis=1), 1, atol=1e-4):
        _expect(
            not np.allclose(np.exp(proba).sum(axis=1), 1, atol=1e-4),
            "these are log-probabilities (log_softmax): apply torch.softmax(logits, dim=1).",
        )
        columns = proba.sum(axis=0)  # a softmax over each batch's beats: whole numbers
        _expect(
            not (
                np.allclose(columns, columns[0], atol=1e-3)
                and abs(columns[0] - round(columns[0])) < 1e-3
            ),
            "the softmax ran over the beats (dim=0): apply it over the class dimension, dim=1.",
        )
        softmax = torch.softmax(torch.as_tensor(proba[rows], dtype=torch.float32), 1).numpy()
        _expect(
            not _matches_model(softmax, model, X[rows]),
            "rows must sum to 1: these are the logits; apply the softmax over the class "
            "dimension, torch.softmax(logits, dim=1).",
        )
        i = int(np.argmax(np.abs(proba.sum(axis=1) - 1)))
        raise ExerciseError(
            f"rows must sum to 1: row {i} sums to {proba[i].sum():.4g}; apply the softmax over "
            "the class dimension, torch.softmax(logits, dim=1)."
        )
    references, tol = _references(model, X[rows])
    expected = references[0]
    if any(np.allclose(proba[rows], r, atol=tol) for r in references):
        _expect(
            not was_training,
            "the probabilities are right but the model is left in train mode: call "
            "model.eval() first.",
        )
        _passed(f"{len(proba):,} beats scored, in order, in eval mode.")
        return
    _expect(
        not was_training,
        "the model was in train mode (dropout on, batch norm on batch statistics): call "
        "model.eval() before scoring.",
    )
    found = [
        np.abs(proba - e).max(axis=1).min() < tol for e in expected[:: max(1, len(rows) // 20)]
    ]
    _expect(
        not all(found),
        "these are the right probabilities in the wrong order: keep the beats in their "
        f"order (no shuffling; batch i covers X_test[i:i + {batch_size}]).",
    )
    first = int(np.flatnonzero(~np.isclose(proba[rows], expected, atol=tol).all(axis=1))[0])
    raise ExerciseError(
        f"probabilities differ from the model's in eval mode for X_test: beat {rows[first]:,} "
        f"has {_shown(proba[rows[first]])}, the model gives "
        f"{_shown(expected[first])}. Score X_test with this model in eval mode "
        "(model.eval() before the loop), one softmax per beat over dim=1."
    )


def _undefined_rates(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> dict:
    """Per class, where a rate is 0 / 0: precision (+P) of a class never predicted, recall
    (Se) of a class absent from ``y_true``, and F1 where TP = 0 (2PR / (P + R) is then
    0 / 0). NumPy gives NaN there, sklearn 0 (``zero_division=0``): both are accepted, in
    chapter 2's table as in chapter 3's (:func:`_same_rates`)."""
    tp = np.array([np.sum((y_true == c) & (y_pred == c)) for c in range(n_classes)])
    predicted = np.array([np.sum(y_pred == c) for c in range(n_classes)])
    actual = np.array([np.sum(y_true == c) for c in range(n_classes)])
    return {"precision": predicted == 0, "recall": actual == 0, "f1": tp == 0}


def check_per_class_table(table: pd.DataFrame, y_true, proba, class_names) -> None:
    """Check the one-vs-rest per-class table (accuracy, roc_auc, precision, recall, f1).

    Where a rate is 0 / 0 (the precision of a class the model never predicts), NaN and 0
    are both accepted, as in :func:`check_aami_table`."""
    expected = metrics.per_class_table(y_true, proba, class_names)
    _expect(
        isinstance(table, pd.DataFrame),
        f"expected a DataFrame, got {type(table).__name__}.",
    )
    if list(table.columns) == list(class_names):
        raise ExerciseError("the classes are the columns: one row per class (transpose: .T).")
    _expect(
        list(table.index) == list(class_names),
        f"rows are {list(table.index)}, expected one per class, index={list(class_names)}.",
    )
    columns = ("accuracy", "roc_auc", "precision", "recall", "f1")
    for column in columns:
        _expect(
            column in table.columns,
            f"the table has no '{column}' column (it has {list(table.columns)}).",
        )
    try:
        got = {c: table[c].to_numpy(dtype=np.float64) for c in columns}
    except (TypeError, ValueError) as error:
        raise ExerciseError(
            f"the table must hold numbers, not text ({error}): keep the values and format "
            "them only when printing."
        ) from error
    y_true, proba = np.asarray(y_true), np.asarray(proba)
    pred = proba.argmax(axis=1)
    names = list(class_names)
    undefined = _undefined_rates(y_true, pred, len(names))
    want = {
        c: np.where(undefined[c], np.nan, expected[c].to_numpy(dtype=np.float64))
        if c in undefined
        else expected[c].to_numpy(dtype=np.float64)
        for c in columns
    }

    def same(g: np.ndarray, w: np.ndarray, atol: float = 1e-4) -> np.ndarray:
        return _same_rates(g, w, atol=atol)  # NaN or 0 where w is undefined (NaN)

    ok = {c: same(got[c], want[c]) for c in columns}
    if all(v.all() for v in ok.values()):
        never = [n for n, u in zip(names, undefined["precision"], strict=True) if u]
        _passed(
            "accuracy, ROC-AUC, precision, recall and F1 for every class, one-vs-rest"
            + (
                f" (the precision of {', '.join(never)} is 0 / 0: never predicted)."
                if never
                else "."
            )  # fmt: skip
        )
        return

    def same_table(atol: float):  # the answer's columns are those of ``table``
        return lambda table: all(same(got[c], table[c], atol=atol).all() for c in table)

    _name_mistake(
        same_table(atol=1e-9),
        [
            (
                {c: np.round(want[c], decimals) for c in columns},
                f"the values are rounded to {decimals} decimals: keep the full values and "
                "round only when printing (table_seed.round(3)).",
            )
            for decimals in range(1, 4)
        ],
    )
    _name_mistake(
        same_table(atol=1e-4),
        [
            (
                {"precision": want["recall"], "recall": want["precision"]},
                "precision and recall are swapped: precision = TP / (TP + FP), recall = "
                "TP / (TP + FN).",
            )
        ],
    )
    rows = {n: np.array([got[c][k] for c in columns]) for k, n in enumerate(names)}
    rows_want = {n: np.array([want[c][k] for c in columns]) for k, n in enumerate(names)}
    truth = [y_true == c for c in range(len(names))]
    column_mistakes = {
        "accuracy": [
            (
                np.full(len(names), (pred == y_true).mean()),
                "the overall accuracy of all classes, in every row; one-vs-rest accuracy is "
                "accuracy_score(y_test == c, pred_seed == c)",
            )
        ],
        "roc_auc": [
            (
                np.array(
                    [
                        skm.roc_auc_score(t, pred == c) if 0 < t.sum() < len(t) else np.nan
                        for c, t in enumerate(truth)
                    ]
                ),
                "computed from predicted labels, in every row; score the probability "
                "proba_seed[:, c]",
            )
        ],
    }
    for column in columns:
        for c, name in enumerate(names):
            if ok[column][c]:
                continue
            head = (
                f"{column} of class {name} is {got[column][c]:.4f}, expected {want[column][c]:.4f}"
            )
            _name_mistake(
                lambda wrong, column=column: same(got[column], wrong).all(),
                [(wrong, f"{head}: {what}.") for wrong, what in column_mistakes.get(column, [])],
            )
            other = {"precision": "recall", "recall": "precision"}.get(column)
            formula = {"precision": "TP / (TP + FP)", "recall": "TP / (TP + FN)"}
            _expect(
                not (other and same(got[column][c : c + 1], want[other][c : c + 1])[0]),
                f"{head}: that is its {other}, {formula.get(other)}; {column} is "
                f"{formula.get(column)}.",
            )
            others = [o for o in names if o != name and same(rows[name], rows_want[o]).all()]
            _expect(
                not others,
                f"{head}: row {name} holds the values of class {others[0] if others else ''}; "
                f"it must hold class {c} (y_test == {c}).",
            )
            _expect(
                not (len(names) > 1 and np.allclose(got[column], got[column][0], equal_nan=True)),
                f"{head}: the same value in every row; compute it for each class on its own, "
                "one-vs-rest (y_test == c against pred_seed == c).",
            )
            raise ExerciseError(f"{head}: one-vs-rest, class {name} against all others.")
    raise ExerciseError("the table differs from the one-vs-rest metrics.")  # unreachable


# --- chapter 2: the endpoint client ---------------------------------------------------------


@dataclass(frozen=True)
class _Endpoint:
    """The endpoint the client talked to, recomputed in-process: ``model`` scores each
    request of up to ``batch_size`` beats as one batch, in ``precision``."""

    model: nn.Module
    batch_size: int
    precision: str

    def answer(self, beats: np.ndarray) -> np.ndarray:
        """The probabilities (m, C) the endpoint answers for beats (m, T) sent as one request."""
        return predict_proba(
            self.model, beats, batch_size=max(1, len(beats)), precision=self.precision
        )


def _check_answers_table(answers) -> None:
    """Raise unless the answers were joined into one DataFrame."""
    _expect(
        isinstance(answers, pd.DataFrame),
        f"answers is a {type(answers).__name__}, expected a pandas DataFrame: read each answer "
        "with pd.read_csv(io.StringIO(response.text)) and join them with pd.concat.",
    )


def _reference_rows(
    endpoint: _Endpoint, X: np.ndarray, n_check: int
) -> tuple[np.ndarray, np.ndarray]:
    """The rows (k,) of ``n_check`` batches of X (n, T), evenly spread, the last one
    included, and the endpoint's probabilities (k, C) for them."""
    size = endpoint.batch_size
    n_batches = -(-len(X) // size)
    checked = np.unique(np.linspace(0, n_batches - 1, min(n_check, n_batches)).astype(int))
    batches = [X[b * size : (b + 1) * size] for b in checked]
    rows = np.concatenate(
        [b * size + np.arange(len(beats)) for b, beats in zip(checked, batches, strict=True)]
    )
    return rows, np.concatenate([endpoint.answer(beats) for beats in batches])


def _check_columns(answers: pd.DataFrame, columns: list[str]) -> None:
    """Raise unless the answers have every column y_1..y_C, p_1..p_C (``columns``)."""
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


def _answered_probabilities(answers: pd.DataFrame, p_cols: list[str]) -> np.ndarray:
    """The p_ columns as numbers (m, C); (0, C) when they hold text (a later check says so)."""
    try:
        return answers[p_cols].to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        return np.empty((0, len(p_cols)))


def _rows_hold(p: np.ndarray, first: int, beats: np.ndarray, endpoint: _Endpoint) -> bool:
    """Whether rows ``first``.. of the answered probabilities p (m, C) are the endpoint's
    answers for ``beats`` (k, T) sent as one request."""
    if len(p) < first + len(beats):
        return False
    return bool(np.allclose(p[first : first + len(beats)], endpoint.answer(beats), atol=1e-4))


def _sending_step(batch_size: int) -> str:
    """How to step through X in requests of batch_size beats, for a message."""
    return f"X[i:i + {batch_size}] for i in range(0, len(X), {batch_size})"


def _raise_missing_rows(
    head: str, p: np.ndarray, m: int, endpoint: _Endpoint, X: np.ndarray
) -> None:
    """Raise for m answered rows, fewer than the n beats of X (n, T): the last, shorter
    batch lost when the answered probabilities p (m, C) say so, else how many are missing."""
    n, size = len(X), endpoint.batch_size
    missing = n - m
    if m > 0 and missing == n % size:
        last = max(0, m - size)
        _name_mistake(
            bool,
            [
                (
                    lambda: _rows_hold(p, last, X[last:m], endpoint),
                    f"{head}: the last, shorter batch ({missing} beats) is missing: "
                    f"range(0, len(X), {size}) ends with it, and X[i:i + {size}] takes it whole.",
                )
            ],
        )
    raise ExerciseError(f"{head}: {missing:,} missing. Send every beat: {_sending_step(size)}.")


def _extra_rows_mistakes(
    head: str, p: np.ndarray, endpoint: _Endpoint, X: np.ndarray, extra: int
) -> list[tuple[Callable[[], bool], str]]:
    """(whether the answers p (m, C) are what the mistake gives, what to say) for the
    mistakes that answer ``extra`` rows too many: a header line sent as one more beat in
    each request, overlapping batches."""
    n, size = len(X), endpoint.batch_size
    starts = range(0, n, size)
    mistakes = []
    if extra == len(starts):
        header = np.arange(X.shape[1], dtype=np.float64)[None]  # to_csv()'s line 0,1,...,T-1
        mistakes.append(
            (
                lambda: _rows_hold(p, 0, np.vstack([header, X[:size]]), endpoint),
                f"{head}: {extra:,} too many, one per request, and each answer starts with the "
                f"answer for the beat 0, 1, ..., {X.shape[1] - 1}: the CSV sent has a header "
                "line, which the endpoint reads as one more beat. Send the beats only "
                "(format_beats, or to_csv(header=False, index=False)).",
            )
        )
    for overlap in range(1, size):
        if sum(len(X[i : i + size + overlap]) for i in starts) - n == extra:
            mistakes.append(
                (
                    lambda overlap=overlap: _rows_hold(p, 0, X[: size + overlap], endpoint),
                    f"{head}: {extra:,} too many: the batches overlap by {overlap} beat"
                    f"{'s' if overlap > 1 else ''}, the first holds {size + overlap} beats. "
                    f"Step by {size}: {_sending_step(size)}.",
                )
            )
            break
    return mistakes


def _check_row_count(
    answers: pd.DataFrame, p_cols: list[str], endpoint: _Endpoint, X: np.ndarray
) -> None:
    """Raise for answers with another number of rows than X (n, T) has beats, naming the
    mistake whose answers they are (the last batch lost, overlapping batches, a header line
    sent as one more beat in each request), else saying how many rows are missing or extra."""
    n, m = len(X), len(answers)
    if m == n:
        return
    head = f"answers has {m:,} rows, expected {n:,}"
    p = _answered_probabilities(answers, p_cols)
    if m < n:
        _raise_missing_rows(head, p, m, endpoint, X)
    extra = m - n
    _name_mistake(bool, _extra_rows_mistakes(head, p, endpoint, X, extra))
    raise ExerciseError(
        f"{head}: {extra:,} too many. Send each beat once: {_sending_step(endpoint.batch_size)}."
    )


def _check_index(answers: pd.DataFrame, n: int, batch_size: int) -> None:
    """Raise unless the index is 0..n-1, naming an index that starts over in every batch."""
    sizes = [min(batch_size, n - start) for start in range(0, n, batch_size)]
    _expect(
        not answers.index.equals(pd.Index(np.concatenate([np.arange(k) for k in sizes]))),
        f"the index is not 0..{n - 1}: it starts {list(answers.index[:3])} and starts over "
        "at 0 for every batch. Join the answers with pd.concat(..., ignore_index=True) so "
        "that row i is beat i.",
    )
    _expect(
        answers.index.equals(pd.RangeIndex(n)),
        f"the index is not 0..{n - 1} (it starts {list(answers.index[:3])}): row i must be "
        "beat i (pd.concat(..., ignore_index=True), or .reset_index(drop=True)).",
    )


def _one_hot_and_probabilities(
    answers: pd.DataFrame, y_cols: list[str], p_cols: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """The y_ columns (n, C), one-hot, and the p_ columns (n, C), probabilities, as
    arrays; an ExerciseError for text, swapped columns, rows that are not one-hot or do
    not sum to 1."""
    for column in [*y_cols, *p_cols]:
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
    return y, p


def _check_not_moved(p: np.ndarray, wanted: np.ndarray, rows: np.ndarray, batch_size: int) -> None:
    """Raise when the answers ``wanted`` (k, C) for beats ``rows`` (k,) are all in p (n, C),
    at other rows: whole batches out of order, or rows in another order."""
    distances = np.abs(p[None, :, :] - wanted[:, None, :]).max(axis=2)  # (k, n)
    if not (distances.min(axis=1) <= 1e-4).all():
        return
    where = distances.argmin(axis=1)
    _expect(
        not ((where - rows) % batch_size == 0).all(),
        f"the batches are out of order: the answer for beats {rows[0]:,}... sits "
        f"at row {where[0]:,}. Keep each answer at its batch's place (append in the "
        "order sent; if sent concurrently, order them by their start index).",
    )
    raise ExerciseError(
        "the rows hold the right answers but in another order: keep the "
        "beats of a batch in order and put the answers back in the order sent."
    )


def _raise_changed_beats(
    p: np.ndarray, beat: int, wanted: np.ndarray, endpoint: _Endpoint, X: np.ndarray
) -> None:
    """Raise for a beat whose answer p[beat] is not the model's, ``wanted`` (C,): naming the
    beats rounded or written with too few digits when its batch's answers are theirs."""
    size = endpoint.batch_size
    first = beat // size * size
    sent = X[first : first + size]
    head = (
        f"p_ of beat {beat:,} is {_shown(p[beat])}, the model says {_shown(wanted)} for X[{beat}]"
    )
    fix = "send each beat whole and unchanged, as format_beats writes it (9 significant digits)"
    _name_mistake(
        lambda beats: np.allclose(endpoint.answer(beats), p[first : first + len(sent)], atol=1e-4),
        [
            (
                lambda d=d: np.round(sent, d),
                f"{head}: these are the answers for the beats rounded to {d} decimal"
                f"{'s' if d != 1 else ''}; {fix}.",
            )
            for d in range(0, 7)
        ]
        + [
            (
                lambda d=d: np.char.mod(f"%.{d}g", sent).astype(np.float64),
                f"{head}: these are the answers for the beats written with {d} "
                f"significant digit{'s' if d != 1 else ''}; {fix}.",
            )
            for d in range(1, 9)
        ],
    )
    raise ExerciseError(f"{head}: send each beat as it is in X, and keep each answer at its place.")


def _check_answered_rows(
    p: np.ndarray, rows: np.ndarray, expected: np.ndarray, endpoint: _Endpoint, X: np.ndarray
) -> None:
    """Raise unless the answered probabilities p (n, C) of beats ``rows`` (k,) are the
    model's, ``expected`` (k, C), naming what moved or changed them."""
    close = np.isclose(p[rows], expected, atol=1e-4).all(axis=1)
    if close.all():
        return
    bad = np.flatnonzero(~close)[:20]
    _check_not_moved(p, expected[bad], rows[bad], endpoint.batch_size)
    _raise_changed_beats(p, int(rows[bad[0]]), expected[bad[0]], endpoint, X)


def _checked_latencies(latencies, n_batches: int, batch_size: int) -> np.ndarray:
    """The latencies as an array (n_batches,) of seconds, one per request."""
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
    _expect(
        float(np.median(latencies)) < 60,
        f"the median latency is {np.median(latencies):,.0f}: that is milliseconds, not "
        "seconds (a local request of 100 beats takes well under a minute). Keep "
        "time.perf_counter() differences as they are.",
    )
    return latencies


def check_endpoint_client(
    answers: pd.DataFrame,
    latencies,
    model: nn.Module,
    X,
    batch_size: int = 100,
    n_check: int = 5,
    precision: str = "auto",
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
        precision: the endpoint's precision (``/health`` says it; ``"auto"`` by default, as
            the endpoint's): the batches are recomputed in-process with it, batch by batch
            as the endpoint scored them.
    """
    X = np.asarray(X)
    n, n_batches = len(X), -(-len(X) // batch_size)
    endpoint = _Endpoint(model, batch_size, precision)
    _check_answers_table(answers)
    rows, expected = _reference_rows(endpoint, X, n_check)
    n_classes = expected.shape[1]
    columns = answer_columns(n_classes)
    y_cols, p_cols = columns[:n_classes], columns[n_classes:]
    _check_columns(answers, columns)
    _check_row_count(answers, p_cols, endpoint, X)
    _check_index(answers, n, batch_size)
    y, p = _one_hot_and_probabilities(answers, y_cols, p_cols)
    _check_answered_rows(p, rows, expected, endpoint, X)
    _expect(
        (y.argmax(axis=1) == p.argmax(axis=1)).all(),
        "y_ columns disagree with the most probable p_ column: keep each row's y_ and p_ together.",
    )
    latencies = _checked_latencies(latencies, n_batches, batch_size)
    _passed(
        f"{n:,} beats in {n_batches:,} requests, answers in order with {', '.join(columns)}; "
        f"median latency {np.median(latencies) * 1000:.0f} ms, 99th percentile "
        f"{np.percentile(latencies, 99) * 1000:.0f} ms per batch."
    )
