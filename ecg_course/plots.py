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
    "beat_pipeline",
    "class_activation_maps",
    "confusion_matrix",
    "early_auc_curve",
    "embedding",
    "example_beats",
    "loss_curves",
    "rhythm_strip",
    "roc_curves",
]


def _axes(ax: Axes | None, figsize: tuple[float, float] = (6, 4)) -> Axes:
    return ax if ax is not None else plt.subplots(figsize=figsize, layout="constrained")[1]


def loss_curves(history: History, ax: Axes | None = None, title: str = "Loss per epoch") -> Axes:
    """Training and validation loss per epoch, with the kept (best) epoch marked."""
    ax = _axes(ax)
    epochs = np.arange(1, len(history.train_loss) + 1)
    ax.plot(epochs, history.train_loss, marker="o", label="training")
    if history.val_loss:
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
    ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.22), fontsize="small", ncol=2)
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
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2, fontsize="small")
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


def beat_pipeline(
    record,
    start_s: float = 0.0,
    duration_s: float = 5.0,
    class_names: Sequence[str] | None = None,
    axes: Sequence[Axes] | None = None,
    title: str | None = None,
) -> np.ndarray:
    """How one record becomes beats: signal with R peaks and windows, then the beats.

    Args:
        record: a :class:`ecg_course.mitbih.RecordBeats` (``mitbih.record_beats(...)``).
        start_s, duration_s: the stretch of the record shown (seconds).
        class_names: name of each label; ``mitbih.CLASSES`` (N, S, V, F, Q) by default.
        axes: two Axes (signal, beats); a new figure when omitted.

    Returns:
        the two Axes, as an array. Top: the resampled lead in mV, the annotated
        R peaks (labelled with their AAMI class) and, shaded, the samples each
        beat takes. Bottom: those beats after scaling to [0, 1] and zero-padding.
    """
    if class_names is None:
        from ecg_course import mitbih  # here, not above: only this plot needs wfdb

        class_names = mitbih.CLASSES
    if axes is None:
        axes = plt.subplots(2, 1, figsize=(10, 6), layout="constrained")[1]
    ax_signal, ax_beats = axes
    fs = record.fs
    lo, hi = int(round(start_s * fs)), int(round((start_s + duration_s) * fs))
    hi = min(hi, len(record.signal))
    t = np.arange(lo, hi) / fs
    ax_signal.plot(t, record.signal[lo:hi], color="black", linewidth=1, label=f"lead {record.lead}")
    shown = np.flatnonzero((record.r_peaks >= lo) & (record.r_peaks < hi))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, i in enumerate(shown):
        r, length = int(record.r_peaks[i]), int(record.lengths[i])
        color = colors[k % len(colors)]
        ax_signal.axvspan(r / fs, min(r + length, hi) / fs, color=color, alpha=0.15)
        ax_signal.annotate(
            class_names[record.labels[i]],
            (r / fs, record.signal[r]),
            textcoords="offset points",
            xytext=(0, 6),
            ha="center",
            fontsize="small",
        )
        beat_t = np.arange(len(record.beats[i])) / fs
        ax_beats.plot(beat_t, record.beats[i], color=color, label=f"beat at {r / fs:.2f} s")
        ax_beats.axvline(length / fs, color=color, linestyle=":", linewidth=1)
    ax_signal.plot(
        record.r_peaks[shown] / fs,
        record.signal[record.r_peaks[shown]],
        "v",
        color="red",
        label="annotated R peak",
    )
    ax_signal.set(
        xlabel="time in the record (s)",
        ylabel="amplitude (mV)",
        title=title or f"Resampled signal ({fs} Hz), R peaks and the span of each beat",
    )
    ax_signal.legend(loc="upper right", fontsize="small")
    ax_beats.set(
        xlabel="time from the R peak (s)",
        ylabel="scaled amplitude",
        title="The extracted beats: scaled to [0, 1], zero-padded to "
        f"{record.beats.shape[1]} samples (dotted: end of the signal taken)",
    )
    ax_beats.legend(loc="upper right", fontsize="small", ncol=2)
    return np.asarray(axes)


def class_activation_maps(
    beats: np.ndarray,
    cams: np.ndarray,
    class_names: Sequence[str],
    fs: float | None = None,
    axes: Sequence[Axes] | None = None,
    title: str = "Class activation maps",
) -> np.ndarray:
    """Beats drawn as lines coloured by their class activation map, one panel per class.

    Args:
        beats: ``(n_classes, k, T)`` beats, ``k`` examples of each class (row c: class c).
        cams: ``(n_classes, k, T)`` the map of each beat for its own class
            (``LSTMFCN.class_activation_map(x)[b, c]``).
        fs: sampling rate; time axis in seconds when given.
        axes: ``n_classes`` Axes; a new figure (one row) when omitted.

    Returns:
        the Axes, as an array. Each map is scaled to [0, 1] per beat, so colours
        compare positions within a beat, not beats with each other.
    """
    from matplotlib.collections import LineCollection

    beats, cams = np.asarray(beats), np.asarray(cams)
    if beats.shape != cams.shape or beats.ndim != 3 or len(beats) != len(class_names):
        raise ValueError(
            f"beats and cams must both be (n_classes={len(class_names)}, k, T); "
            f"got {beats.shape} and {cams.shape}."
        )
    n_classes, _, length = beats.shape
    if axes is None:
        fig, axes = plt.subplots(
            1, n_classes, figsize=(3.2 * n_classes, 3.4), sharey=True, layout="constrained"
        )
        fig.suptitle(title)
    t = np.arange(length) / fs if fs else np.arange(length)
    norm = plt.Normalize(0, 1)
    collection = None
    for c, ax in enumerate(axes):
        for beat, cam in zip(beats[c], cams[c], strict=True):
            span = cam.max() - cam.min()
            scaled = (cam - cam.min()) / span if span > 0 else np.zeros_like(cam)
            points = np.stack([t, beat], axis=1)
            segments = np.stack([points[:-1], points[1:]], axis=1)
            collection = LineCollection(segments, cmap="inferno_r", norm=norm, linewidth=2)
            collection.set_array((scaled[:-1] + scaled[1:]) / 2)
            ax.add_collection(collection)
        ax.set(
            xlim=(t[0], t[-1]),
            ylim=(-0.05, 1.05),
            xlabel="time (s)" if fs else "sample",
            title=f"class {class_names[c]}",
        )
    axes[0].set_ylabel("scaled amplitude")
    if collection is not None:
        colorbar = plt.colorbar(collection, ax=list(axes), shrink=0.8)
        colorbar.set_label("activation for the true class (scaled per beat)")
    return np.asarray(axes)


def rhythm_strip(
    signal: np.ndarray,
    fs: float,
    r_peaks: np.ndarray,
    labels: Sequence[str],
    start_s: float,
    duration_s: float = 6.0,
    predicted: Sequence[str] | None = None,
    predicted_peaks: np.ndarray | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """A strip of ECG with each beat's class and the RR intervals between beats.

    Args:
        signal: one lead in mV, ``(n_samples,)`` at ``fs`` Hz.
        r_peaks: annotated R-peak sample indices, ``(n_beats,)``.
        labels: the annotated class of each of those beats (e.g. ``"N"``, ``"S"``).
        start_s, duration_s: the stretch shown (seconds).
        predicted: optional predicted classes, one per ``predicted_peaks`` (or per
            ``r_peaks`` when ``predicted_peaks`` is omitted), drawn under the trace;
            a prediction that differs from the annotated beat it sits on is in red.
        predicted_peaks: where the predicted beats are (e.g. a detector's peaks).

    Returns:
        the Axes: the trace, annotated classes above the R peaks, the RR interval
        (s) between consecutive annotated beats, and the predictions below.
    """
    ax = _axes(ax, figsize=(11, 3.6))
    lo = max(int(round(start_s * fs)), 0)
    hi = min(int(round((start_s + duration_s) * fs)), len(signal))
    t = np.arange(lo, hi) / fs
    ax.plot(t, signal[lo:hi], color="black", linewidth=1)
    top, bottom = float(signal[lo:hi].max()), float(signal[lo:hi].min())
    span = top - bottom
    peaks = np.asarray(r_peaks)
    shown = np.flatnonzero((peaks >= lo) & (peaks < hi))
    for i in shown:
        ax.annotate(
            labels[i],
            (peaks[i] / fs, top + 0.12 * span),
            ha="center",
            fontweight="bold" if labels[i] != "N" else "normal",
        )
    for i in shown[:-1]:
        a, b = peaks[i] / fs, peaks[i + 1] / fs
        ax.annotate(
            "",
            xy=(b, top + 0.05 * span),
            xytext=(a, top + 0.05 * span),
            arrowprops={"arrowstyle": "<->", "color": "tab:blue", "linewidth": 0.8},
        )
        ax.text(
            (a + b) / 2,
            top + 0.22 * span,
            f"{b - a:.2f} s",
            ha="center",
            color="tab:blue",
            fontsize="small",
        )
    ax.plot(
        peaks[shown] / fs,
        signal[peaks[shown]],
        "v",
        color="tab:blue",
        label="annotated beat (class above, RR interval in s)",
    )
    if predicted is not None:
        where = peaks if predicted_peaks is None else np.asarray(predicted_peaks)
        for j in np.flatnonzero((where >= lo) & (where < hi)):
            nearest = int(np.argmin(np.abs(peaks - where[j]))) if len(peaks) else -1
            agrees = nearest >= 0 and labels[nearest] == predicted[j]
            ax.annotate(
                predicted[j],
                (where[j] / fs, bottom - 0.18 * span),
                ha="center",
                color="black" if agrees else "tab:red",
            )
        ax.plot([], [], " ", label="predicted class below (red: differs from the annotation)")
    ax.set_ylim(bottom - 0.3 * span, top + 0.35 * span)
    ax.set(
        xlabel="time in the record (s)",
        ylabel="amplitude (mV)",
        title=title or "Rhythm strip: annotated classes and RR intervals",
    )
    ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.22), fontsize="small", ncol=2)
    return ax
