"""Labelled matplotlib figures used by the notebooks. Every function returns its Axes."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from sklearn import metrics as skm

from ecg_course.training import History

__all__ = [
    "confusion_matrix",
    "early_auc_curve",
    "embedding",
    "example_beats",
    "loss_curves",
    "roc_curves",
]


def _axes(ax: Axes | None, figsize: tuple[float, float] = (6, 4)) -> Axes:
    return ax if ax is not None else plt.subplots(figsize=figsize, layout="constrained")[1]


def loss_curves(history: History, ax: Axes | None = None, title: str = "Loss per epoch") -> Axes:
    """Training and validation loss per epoch, with the kept (best) epoch marked."""
    ax = _axes(ax)
    epochs = np.arange(1, len(history.train_loss) + 1)
    ax.plot(epochs, history.train_loss, marker="o", label="training")
    ax.plot(epochs, history.val_loss, marker="o", label="validation")
    if history.best_epoch >= 0:
        ax.axvline(history.best_epoch + 1, color="gray", linestyle="--", label="kept epoch")
    ax.set(xlabel="epoch", ylabel="mean cross-entropy per beat", title=title)
    ax.legend()
    return ax


def example_beats(
    X: np.ndarray,
    y: np.ndarray,
    class_names: Sequence[str],
    fs: float | None = None,
    ax: Axes | None = None,
    title: str = "One example beat per class",
) -> Axes:
    """The first beat of every class, overlaid. Time in seconds when ``fs`` is given."""
    ax = _axes(ax, (8, 4))
    for c, name in enumerate(class_names):
        rows = np.flatnonzero(np.asarray(y) == c)
        if len(rows) == 0:
            continue
        beat = np.asarray(X)[rows[0]]
        t = np.arange(len(beat)) / fs if fs else np.arange(len(beat))
        ax.plot(t, beat, label=f"{c}: {name} (n={len(rows):,})")
    ax.set(xlabel="time (s)" if fs else "sample", ylabel="amplitude", title=title)
    ax.legend(fontsize="small")
    return ax


def confusion_matrix(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    class_names: Sequence[str],
    normalize: str | None = None,
    ax: Axes | None = None,
    title: str = "Confusion matrix",
) -> Axes:
    """Confusion matrix (rows: true class, columns: predicted class).

    ``normalize="true"`` shows per-class recall on the diagonal.
    """
    ax = _axes(ax, (5, 4.5))
    display = skm.ConfusionMatrixDisplay.from_predictions(
        y_true,
        y_pred,
        labels=np.arange(len(class_names)),
        display_labels=class_names,
        normalize=normalize,
        ax=ax,
        colorbar=False,
        cmap="Blues",
        values_format=".2f" if normalize else "d",
    )
    display.ax_.set(title=title, xlabel="predicted class", ylabel="true class")
    return ax


def roc_curves(
    y_true: np.ndarray,
    proba: np.ndarray,
    class_names: Sequence[str],
    ax: Axes | None = None,
    title: str = "ROC curve",
) -> Axes:
    """ROC curve of the positive class (two classes) or one-vs-rest curves (more)."""
    ax = _axes(ax, (5, 5))
    proba = np.asarray(proba)
    classes = [1] if proba.shape[1] == 2 else range(proba.shape[1])
    for c in classes:
        truth = np.asarray(y_true) == c
        if truth.all() or not truth.any():
            continue
        fpr, tpr, _ = skm.roc_curve(truth, proba[:, c])
        label = class_names[c] if proba.shape[1] > 2 else f"{class_names[1]} vs {class_names[0]}"
        ax.plot(fpr, tpr, label=f"{label} (AUC {skm.auc(fpr, tpr):.3f})")
    ax.plot([0, 1], [0, 1], color="gray", linestyle=":", label="chance")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title=title, aspect="equal")
    ax.legend(loc="lower right", fontsize="small")
    return ax


def early_auc_curve(
    curves: dict[str, pd.DataFrame],
    ax: Axes | None = None,
    title: str = "Early classification: ROC-AUC vs observed part of the beat",
) -> Axes:
    """ROC-AUC against the observed fraction, one line per model (``early_auc`` outputs)."""
    ax = _axes(ax, (7, 4))
    for label, frame in curves.items():
        ax.plot(100 * frame["fraction"], frame["roc_auc"], marker="o", label=label)
    ax.axhline(0.5, color="gray", linestyle=":", label="chance")
    ax.set(
        xlabel="observed part of the beat (%)", ylabel="test ROC-AUC", title=title, ylim=(0, 1.02)
    )
    ax.legend()
    return ax


def embedding(
    points: np.ndarray,
    y: np.ndarray,
    class_names: Sequence[str],
    ax: Axes | None = None,
    title: str = "Embedding",
    axis_label: str = "component",
) -> Axes:
    """Scatter of 2-D points (n, 2), coloured by class; rare classes drawn on top."""
    ax = _axes(ax, (5, 4.5))
    y = np.asarray(y)
    order = sorted(range(len(class_names)), key=lambda c: -(y == c).sum())
    for c in order:
        mask = y == c
        if mask.any():
            ax.scatter(
                points[mask, 0],
                points[mask, 1],
                s=6,
                alpha=0.6,
                label=f"{class_names[c]} (n={mask.sum():,})",
            )
    ax.set(xlabel=f"{axis_label} 1", ylabel=f"{axis_label} 2", title=title)
    ax.legend(fontsize="small", markerscale=2)
    return ax
