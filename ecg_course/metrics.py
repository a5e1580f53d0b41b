"""Metrics for (imbalanced) heartbeat classifiers, built on scikit-learn."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from sklearn import metrics as skm

from ecg_course.training import predict_proba

__all__ = [
    "balanced_accuracy",
    "classification_summary",
    "early_auc",
    "forward_flops_per_beat",
    "per_class_table",
    "roc_auc",
]


def _check_labels_and_proba(y_true: np.ndarray, proba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y_true, proba = np.asarray(y_true), np.asarray(proba, dtype=np.float64)
    if proba.ndim != 2 or proba.shape[0] != len(y_true):
        raise ValueError(
            f"proba must have shape (n, n_classes) = ({len(y_true)}, C); got {proba.shape}."
        )
    if len(y_true) and (y_true.min() < 0 or y_true.max() >= proba.shape[1]):
        raise ValueError(
            f"y_true must hold labels in 0..{proba.shape[1] - 1}; "
            f"got values from {y_true.min()} to {y_true.max()}."
        )
    return y_true, proba


def roc_auc(y_true: np.ndarray, proba: np.ndarray) -> float:
    """ROC-AUC of class probabilities (n, C): binary for C == 2, else macro one-vs-rest."""
    y_true, proba = _check_labels_and_proba(y_true, proba)
    if proba.shape[1] == 2:
        return float(skm.roc_auc_score(y_true, proba[:, 1]))
    return float(
        skm.roc_auc_score(
            y_true, proba, multi_class="ovr", average="macro", labels=np.arange(proba.shape[1])
        )
    )


def _balanced_accuracy_of_predictions(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean recall over the classes present in ``y_true``; labels ``(n,)`` both.

    Scikit-learn's ``balanced_accuracy_score``, without the warning it gives when
    ``y_pred`` names a class absent from ``y_true`` (that class has no recall and is
    left out of the mean, which is what the course wants, not a mistake).
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
        return float(skm.balanced_accuracy_score(y_true, y_pred))


def balanced_accuracy(y_true: np.ndarray, proba: np.ndarray) -> float:
    """Balanced accuracy of the most probable class: the mean recall over the classes
    present in ``y_true`` (sensitivity Se, in the AAMI tables of chapter 3).

    It is the course's one balanced accuracy: :func:`classification_summary` reports it,
    and it is the ``score`` by which ``fit`` keeps an epoch across patients. With nine
    beats in ten normal, the lowest validation loss favours a model that calls
    everything normal, and accuracy does too; the mean recall does not.

    Args:
        y_true: integer labels ``(n,)`` in ``0..C-1``.
        proba: class probabilities ``(n, C)``.

    Returns:
        ``sklearn.metrics.balanced_accuracy_score(y_true, proba.argmax(axis=1))``.
    """
    y_true, proba = _check_labels_and_proba(y_true, proba)
    return _balanced_accuracy_of_predictions(y_true, proba.argmax(axis=1))


def classification_summary(
    y_true: np.ndarray, y_pred: np.ndarray, class_names: Sequence[str] | None = None
) -> dict:
    """Headline metrics and a per-class table.

    Returns:
        dict with ``accuracy``, ``balanced_accuracy`` (mean recall over the classes
        present in ``y_true``, as :func:`balanced_accuracy`), ``macro_f1``
        and ``per_class``: a DataFrame of precision, recall, F1 and support per class.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(
            f"y_true and y_pred must be 1-D of equal length; got {y_true.shape} and {y_pred.shape}."
        )
    n_classes = (
        len(class_names) if class_names is not None else int(max(y_true.max(), y_pred.max())) + 1
    )
    labels = np.arange(n_classes)
    names = list(class_names) if class_names is not None else [str(c) for c in labels]
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    per_class = pd.DataFrame(
        {"precision": precision, "recall": recall, "f1": f1, "support": support}, index=names
    )
    return {
        "accuracy": float(skm.accuracy_score(y_true, y_pred)),
        "balanced_accuracy": _balanced_accuracy_of_predictions(y_true, y_pred),
        "macro_f1": float(f1.mean()),
        "per_class": per_class,
    }


def per_class_table(
    y_true: np.ndarray, proba: np.ndarray, class_names: Sequence[str] | None = None
) -> pd.DataFrame:
    """One-vs-rest metrics per class, as the MIT-BIH seed reported them.

    For each class c, the problem "c or not c" gets its accuracy, ROC-AUC,
    precision, recall and F1, with the prediction ``argmax(proba)``. Accuracy
    here is dominated by the many true negatives of a rare class.
    """
    y_true, proba = _check_labels_and_proba(y_true, proba)
    y_pred = proba.argmax(axis=1)
    names = (
        list(class_names) if class_names is not None else [str(c) for c in range(proba.shape[1])]
    )
    rows = {}
    for c, name in enumerate(names):
        truth, predicted = y_true == c, y_pred == c
        rows[name] = {
            "accuracy": skm.accuracy_score(truth, predicted),
            "roc_auc": skm.roc_auc_score(truth, proba[:, c])
            if 0 < truth.sum() < len(truth)
            else np.nan,
            "precision": skm.precision_score(truth, predicted, zero_division=0),
            "recall": skm.recall_score(truth, predicted, zero_division=0),
            "f1": skm.f1_score(truth, predicted, zero_division=0),
            "support": int(truth.sum()),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def early_auc(
    model: torch.nn.Module,
    X: np.ndarray,
    y: np.ndarray,
    fractions: Sequence[float] = tuple(np.round(np.arange(0.05, 1.0001, 0.05), 2)),
    batch_size: int = 256,
) -> pd.DataFrame:
    """ROC-AUC of ``model`` when it only sees the first part of every beat.

    For each fraction f, the model classifies ``X[:, :k]`` with
    ``k = max(1, round(f * T))`` samples.

    Returns:
        DataFrame with columns ``fraction``, ``samples`` and ``roc_auc``.
    """
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"X must be (n_beats, n_samples); got shape {X.shape}.")
    if any(not 0 < f <= 1 for f in fractions):
        raise ValueError(f"fractions must lie in (0, 1]; got {list(fractions)}.")
    length = X.shape[1]
    rows = []
    for f in fractions:
        k = max(1, int(round(f * length)))
        proba = predict_proba(model, X[:, :k].astype(np.float32), batch_size=batch_size)
        rows.append({"fraction": float(f), "samples": k, "roc_auc": roc_auc(y, proba)})
    return pd.DataFrame(rows)


def forward_flops_per_beat(model: torch.nn.Module, seq_len: int, in_channels: int = 1) -> int:
    """Floating-point operations of one forward pass for one beat, from the layer shapes.

    Counts the multiply-adds (2 FLOPs each) of the ``Conv1d``, ``Linear`` and
    ``LSTM`` layers, which hold nearly all the work; batch norm, activations,
    pooling and biases are left out. A training step costs about three times
    this (forward, then the gradients with respect to inputs and to weights).

    Args:
        model: any module made of those layers (run once on a dummy beat).
        seq_len, in_channels: the beat's shape ``(seq_len, in_channels)``.
    """
    from torch import nn

    total = 0

    def conv_hook(module, inputs, output):
        nonlocal total
        kernel = module.kernel_size[0]
        total += 2 * output.numel() * (module.in_channels // module.groups) * kernel

    def linear_hook(module, inputs, output):
        nonlocal total
        total += (
            2 * (output.numel() // module.out_features) * module.in_features * module.out_features
        )

    def lstm_hook(module, inputs, output):
        nonlocal total
        x = inputs[0]
        steps = x.shape[1] if module.batch_first else x.shape[0]
        hidden, directions = module.hidden_size, 2 if module.bidirectional else 1
        for layer in range(module.num_layers):
            size_in = module.input_size if layer == 0 else hidden * directions
            total += directions * steps * 2 * 4 * hidden * (size_in + hidden)

    hooks = []
    for module in model.modules():
        if isinstance(module, nn.Conv1d):
            hooks.append(module.register_forward_hook(conv_hook))
        elif isinstance(module, nn.Linear):
            hooks.append(module.register_forward_hook(linear_hook))
        elif isinstance(module, nn.LSTM):
            hooks.append(module.register_forward_hook(lstm_hook))
    was_training = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        with torch.no_grad():
            model(torch.zeros(1, seq_len, in_channels, device=device))
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    return total
