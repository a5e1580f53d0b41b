"""Render the book's figures (PNG) from the real data into book/figures/.

Usage, from the repository root::

    ECG_COURSE_DATA=/path/to/data python -m tools.make_book_figures [--out book/figures]

Every figure is drawn from what the course package computes: the records and
beats of :mod:`ecg_course.mitbih` (``read_record``, ``record_beats``,
``build_beats``, and its constants: AAMI classes, DS1/DS2, sampling rates) and
the ECG5000 beats of :mod:`ecg_course.ecg5000`. So the book shows the beats the
notebooks train on, and this script restates none of the course's facts. The
PNGs are committed; rerun the script when a figure or the package changes.
Figures are deterministic (fixed records, fixed beats, fixed seed).
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from ecg_course import mitbih, sources
from ecg_course.ecg5000 import CLASSES as ECG5000_CLASSES
from ecg_course.ecg5000 import load_ecg5000

ROOT = Path(__file__).resolve().parents[1]
DPI = 100
CLASS_COLORS = dict(
    zip(mitbih.CLASSES, ["#1f77b4", "#ff7f0e", "#d62728", "#2ca02c", "#9467bd"], strict=True)
)
ECG5000_NAMES = [f"{i}: {name}" for i, name in enumerate(ECG5000_CLASSES)]


def save(fig: plt.Figure, out: Path, name: str) -> None:
    path = out / name
    fig.savefig(path, dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    print(
        f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path} "
        f"({path.stat().st_size / 1024:.0f} KiB)"
    )


def mlii(record) -> np.ndarray:
    """The preferred lead of a wfdb record (``mitbih.LEAD``), 360 Hz, mV."""
    return record.p_signal[:, record.sig_name.index(mitbih.LEAD)]


# --------------------------------------------------------------------------- figures


def fig_waveform(out: Path) -> None:
    rec, ann = mitbih.read_record(100)
    x = mlii(rec)
    fs = mitbih.SOURCE_FS
    beat = ann.sample[ann.symbol.index("N") + 3]
    lo, hi = beat - int(0.45 * fs), beat + int(0.75 * fs)
    t = (np.arange(lo, hi) - beat) / fs
    seg = x[lo:hi]
    fig, ax = plt.subplots(figsize=(7, 3.4))
    ax.plot(t, seg, color="black", lw=1.4)

    def peak(a: float, b: float, fn=np.argmax) -> int:
        idx = np.where((t >= a) & (t <= b))[0]
        return idx[fn(seg[idx])]

    p, q, r, s, tw = (
        peak(-0.25, -0.08),
        peak(-0.06, -0.005, np.argmin),
        peak(-0.03, 0.03),
        peak(0.005, 0.07, np.argmin),
        peak(0.15, 0.42),
    )
    for idx, label, dy in [
        (p, "P", 0.12),
        (q, "Q", -0.2),
        (r, "R", 0.1),
        (s, "S", -0.2),
        (tw, "T", 0.12),
    ]:
        ax.annotate(
            label,
            (t[idx], seg[idx]),
            (t[idx], seg[idx] + dy),
            ha="center",
            fontsize=13,
            fontweight="bold",
            color="#d62728",
        )
    spans = [
        (t[p] - 0.05, t[p] + 0.05, "#ff7f0e", "P wave: atrial depolarisation"),
        (t[q] - 0.02, t[s] + 0.02, "#1f77b4", "QRS complex: ventricular depolarisation"),
        (t[tw] - 0.09, t[tw] + 0.09, "#2ca02c", "T wave: ventricular repolarisation"),
    ]
    for a, b, color, label in spans:
        ax.axvspan(a, b, color=color, alpha=0.15, label=label)
    ax.set_xlabel("time relative to the R peak (s)")
    ax.set_ylabel(f"{mitbih.LEAD} amplitude (mV)")
    ax.set_title(f"One normal heartbeat, MIT-BIH record 100 (lead {mitbih.LEAD}, {fs} Hz)")
    ax.set_ylim(seg.min() - 0.35, seg.max() + 0.35)
    ax.legend(loc="upper right", fontsize=8, framealpha=0.9)
    ax.grid(alpha=0.3)
    save(fig, out, "ecg_waveform.png")


def fig_leads(out: Path) -> None:
    rec, ann = mitbih.read_record(100)
    fs = mitbih.SOURCE_FS
    n = 6 * fs
    t = np.arange(n) / fs
    fig, axes = plt.subplots(2, 1, figsize=(8, 4), sharex=True)
    for k, ax in enumerate(axes):
        ax.plot(t, rec.p_signal[:n, k], lw=0.9, color="black")
        ax.set_ylabel(f"{rec.sig_name[k]} ({rec.units[k]})")
        ax.grid(alpha=0.3)
    top = axes[0]
    ymax = rec.p_signal[:n, 0].max()
    for s, sym in zip(ann.sample, ann.symbol, strict=True):
        if s < n and sym in mitbih.SYMBOL_TO_LABEL:
            top.text(
                s / fs,
                ymax + 0.15,
                sym,
                ha="center",
                fontsize=10,
                color="#d62728" if sym != "N" else "#1f77b4",
            )
    top.set_ylim(None, ymax + 0.5)
    axes[0].set_title("MIT-BIH record 100: the two leads and the reference beat annotations")
    axes[1].set_xlabel("time (s)")
    save(fig, out, "mitbih_leads.png")


def fig_segmentation(out: Path) -> None:
    """Beats 2..4 of the second 10 s window of record 100, as ``mitbih.record_beats`` cuts them."""
    beats = mitbih.record_beats(100)
    fs, window = beats.fs, round(mitbih.WINDOW_SECONDS * beats.fs)
    lo, hi = window, 2 * window  # the second window (the first starts at the recording's start)
    inside = np.flatnonzero((beats.r_peaks >= lo) & (beats.r_peaks < hi))
    t = np.arange(lo, hi) / fs
    fig = plt.figure(figsize=(9, 5.4))
    gs = fig.add_gridspec(2, 3, height_ratios=[1.2, 1], hspace=0.55, wspace=0.3)
    top = fig.add_subplot(gs[0, :])
    top.plot(t, beats.signal[lo:hi], color="black", lw=0.9)
    r = beats.r_peaks[inside]
    top.plot(r / fs, beats.signal[r], "v", color="#d62728", label="R peak (reference annotation)")
    shown = inside[2:5]
    for i, k in enumerate(shown):
        a = beats.r_peaks[k] / fs
        top.axvspan(
            a,
            a + beats.lengths[k] / fs,
            color=f"C{i}",
            alpha=0.2,
            label=f"{mitbih.WINDOW_FACTOR} x median RR of the window" if i == 0 else None,
        )
        label_at = top.get_xaxis_transform()  # x in seconds, y in axes fraction
        top.text(a + 0.05, 0.93, f"beat {i + 2}", color=f"C{i}", fontsize=9, transform=label_at)
    top.set_xlabel("time in the record (s)")
    top.set_ylabel(f"{beats.lead} (mV)")
    top.set_title(
        f"A {mitbih.WINDOW_SECONDS:.0f} s window of record 100, lead {beats.lead}, "
        f"resampled to {fs} Hz"
    )
    top.legend(loc="lower right", fontsize=8, framealpha=0.9)
    for i, k in enumerate(shown):
        ax = fig.add_subplot(gs[1, i])
        ax.plot(np.arange(mitbih.BEAT_LENGTH), beats.beats[k], color=f"C{i}")
        ax.axvline(beats.lengths[k], color="grey", ls="--", lw=0.8)
        ax.text(beats.lengths[k] + 3, 0.85, "zero\npadding", fontsize=8, color="grey")
        ax.set_title(
            f"beat {i + 2} ({beats.symbols[k]}): {mitbih.BEAT_LENGTH} samples", fontsize=10
        )
        ax.set_xlabel(f"sample at {fs} Hz")
        if i == 0:
            ax.set_ylabel("scaled to [0, 1]")
        ax.set_ylim(-0.05, 1.05)
        ax.grid(alpha=0.3)
    save(fig, out, "beat_segmentation.png")


def beats_by_class(records, per_class: int, seed: int = 0) -> dict[str, np.ndarray]:
    """``per_class`` random beats of every AAMI class, cut by ``mitbih.record_beats``."""
    rng = np.random.default_rng(seed)
    per_record = [mitbih.record_beats(record) for record in records]
    beats = np.concatenate([b.beats for b in per_record])
    labels = np.concatenate([b.labels for b in per_record])
    chosen = {}
    for label, name in enumerate(mitbih.CLASSES):
        rows = np.flatnonzero(labels == label)
        chosen[name] = beats[rng.choice(rows, size=min(per_class, len(rows)), replace=False)]
    return chosen


def fig_aami(out: Path) -> None:
    beats = beats_by_class([100, 101, 106, 118, 119, 124, 208, 213, 217, 232], per_class=15)
    t = np.arange(mitbih.BEAT_LENGTH)
    fig, axes = plt.subplots(1, 5, figsize=(12, 3.1), sharey=True)
    for ax, cls in zip(axes, mitbih.CLASSES, strict=True):
        for beat in beats[cls]:
            ax.plot(t, beat, color=CLASS_COLORS[cls], alpha=0.25, lw=0.8)
        ax.plot(t, np.median(beats[cls], axis=0), color="black", lw=1.3, label="median")
        symbols = " ".join(mitbih.AAMI_SYMBOLS[cls])
        ax.set_title(f"{cls} ({mitbih.CLASS_DESCRIPTIONS[cls]})\nsymbols: {symbols}", fontsize=9)
        ax.set_xlabel(f"sample at {mitbih.TARGET_FS} Hz")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("amplitude (scaled)")
    axes[0].legend(fontsize=8, loc="upper right")
    fig.suptitle(
        "MIT-BIH beats of the five AAMI classes "
        f"(15 random beats each, {mitbih.BEAT_LENGTH} samples)",
        y=1.1,
    )
    save(fig, out, "aami_classes.png")


def count_classes(labels: np.ndarray) -> dict[str, int]:
    counts = np.bincount(labels, minlength=len(mitbih.CLASSES))
    return {name: int(c) for name, c in zip(mitbih.CLASSES, counts, strict=True)}


def fig_class_balance(out: Path) -> None:
    _, labels, record_ids = mitbih.build_beats()
    all_counts = count_classes(labels)
    ds1 = count_classes(labels[np.isin(record_ids, [int(r) for r in mitbih.DS1])])
    ds2 = count_classes(labels[np.isin(record_ids, [int(r) for r in mitbih.DS2])])
    _, y_train, _, y_test = load_ecg5000()
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 3.6))
    idx = np.arange(5)
    tr = np.bincount(y_train, minlength=5)
    te = np.bincount(y_test, minlength=5)
    a.bar(idx - 0.2, tr, 0.4, label="UCR train (500)")
    a.bar(idx + 0.2, te, 0.4, label="UCR test (4,500)")
    for i in idx:
        a.text(i + 0.2, te[i] * 1.1, str(te[i]), ha="center", fontsize=8)
        a.text(i - 0.2, tr[i] * 1.1, str(tr[i]), ha="center", fontsize=8)
    a.set_xticks(idx, [n.replace(": ", "\n") for n in ECG5000_NAMES], fontsize=8)
    a.set_yscale("log")
    a.set_ylim(1, 8000)
    a.set_ylabel("number of beats (log scale)")
    a.set_title("ECG5000: class counts")
    a.legend(fontsize=8)
    classes = list(mitbih.CLASSES)
    width = 0.27
    for k, (label, c) in enumerate(
        [
            (f"all {len(mitbih.RECORDS)} records", all_counts),
            (f"DS1 ({len(mitbih.DS1)} records)", ds1),
            (f"DS2 ({len(mitbih.DS2)} records)", ds2),
        ]
    ):
        vals = [c[x] for x in classes]
        b.bar(idx + (k - 1) * width, vals, width, label=label)
        for i, v in enumerate(vals):
            b.text(
                i + (k - 1) * width, max(v, 1) * 1.1, str(v), ha="center", fontsize=6.5, rotation=90
            )
    b.set_xticks(idx, classes)
    b.set_yscale("log")
    b.set_ylim(1, 10**6)
    b.set_xlabel("AAMI class")
    b.set_ylabel("number of beats (log scale)")
    b.set_title("MIT-BIH: annotated beats per AAMI class")
    b.legend(fontsize=8, loc="upper right")
    save(fig, out, "class_balance.png")
    print("AAMI counts, all records:", all_counts)
    print("AAMI counts, DS1:", ds1)
    print("AAMI counts, DS2:", ds2)


def fig_ecg5000(out: Path) -> None:
    X_train, y_train, X_test, y_test = load_ecg5000()
    X, y = np.vstack([X_train, X_test]), np.concatenate([y_train, y_test])
    t = np.arange(X.shape[1])
    fig, axes = plt.subplots(1, 5, figsize=(12, 2.8), sharey=True)
    rng = np.random.default_rng(0)
    for cls, ax in enumerate(axes):
        Xc = X[y == cls]
        for row in Xc[rng.permutation(len(Xc))[:10]]:
            ax.plot(t, row, color=f"C{cls}", alpha=0.3, lw=0.8)
        mean, std = Xc.mean(0), Xc.std(0)
        ax.fill_between(t, mean - std, mean + std, color="grey", alpha=0.25, label="mean ± 1 sd")
        ax.plot(t, mean, color="black", lw=1.3)
        ax.set_title(f"class {ECG5000_NAMES[cls]}\n(n = {len(Xc)})", fontsize=9)
        ax.set_xlabel("sample")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("amplitude (z-normalised)")
    axes[0].legend(fontsize=8, loc="lower right")
    fig.suptitle(
        "ECG5000: 10 random beats per class, with the class mean ± 1 standard deviation", y=1.06
    )
    save(fig, out, "ecg5000_classes.png")


def fig_early(out: Path) -> None:
    X, y, _, _ = load_ecg5000()
    t = np.arange(X.shape[1])
    fig, ax = plt.subplots(figsize=(8, 3.3))
    for cls in (0, 1, 2):
        ax.plot(
            t,
            X[y == cls].mean(0),
            lw=1.6,
            color=f"C{cls}",
            label=f"class {ECG5000_NAMES[cls]} (mean of train)",
        )
    for frac in (0.25, 0.5, 0.75):
        cut = int(frac * len(t))
        ax.axvline(cut, color="grey", ls="--", lw=0.9)
        ax.text(cut + 1, ax.get_ylim()[0] + 0.2, f"{frac:.0%} observed", fontsize=8, color="grey")
    ax.axvspan(0, int(0.25 * len(t)), color="grey", alpha=0.12)
    ax.set_xlabel("sample (of 140)")
    ax.set_ylabel("amplitude (z-normalised)")
    ax.set_title("Early classification: the model sees only a prefix of each beat")
    ax.legend(fontsize=8, loc="upper right")
    ax.grid(alpha=0.3)
    save(fig, out, "early_prefix.png")


def _box(ax, xy, w, h, text, color):
    ax.add_patch(
        FancyBboxPatch(
            xy, w, h, boxstyle="round,pad=0.02,rounding_size=0.08", fc=color, ec="black", lw=1
        )
    )
    ax.text(xy[0] + w / 2, xy[1] + h / 2, text, ha="center", va="center", fontsize=8.5)


def _arrow(ax, a, b):
    ax.add_patch(FancyArrowPatch(a, b, arrowstyle="-|>", mutation_scale=12, lw=1, color="black"))


def fig_lstm_fcn(out: Path) -> None:
    fig, ax = plt.subplots(figsize=(11, 4.4))
    ax.set_xlim(0, 11)
    ax.set_ylim(0, 4.6)
    ax.axis("off")
    blue, orange, green, grey = "#cfe2f3", "#fce5cd", "#d9ead3", "#eeeeee"
    _box(ax, (0.1, 1.8), 1.3, 1.0, "input beat\n(B, T, 1)\nT = 187", grey)
    # LSTM branch (top)
    _box(ax, (2.0, 3.3), 1.9, 0.95, "dimension shuffle\n(B, T, 1) -> (B, 1, T)", blue)
    _box(ax, (4.4, 3.3), 1.7, 0.95, "LSTM, H units\n1 step of T inputs\n-> (B, H)", blue)
    _box(ax, (6.6, 3.3), 1.2, 0.95, "dropout", blue)
    # FCN branch (bottom)
    fcn = [
        ("Conv1D 128, k=8\nBN + ReLU", 2.0),
        ("Conv1D 256, k=5\nBN + ReLU", 3.7),
        ("Conv1D 128, k=3\nBN + ReLU", 5.4),
        ("global average\npooling\n-> (B, 128)", 7.1),
    ]
    for text, x in fcn:
        _box(ax, (x, 0.45), 1.45, 1.0, text, orange)
    for (_, x0), (_, x1) in itertools.pairwise(fcn):
        _arrow(ax, (x0 + 1.45, 0.95), (x1, 0.95))
    _box(ax, (8.95, 1.8), 0.95, 1.0, "concat\n(B, H+128)", green)
    _box(ax, (10.05, 1.8), 0.9, 1.0, "linear\n-> (B, C)\nlogits", green)
    _arrow(ax, (1.4, 2.5), (2.0, 3.75))
    _arrow(ax, (1.4, 2.1), (2.0, 0.95))
    _arrow(ax, (3.9, 3.78), (4.4, 3.78))
    _arrow(ax, (6.1, 3.78), (6.6, 3.78))
    _arrow(ax, (7.8, 3.78), (9.3, 2.8))
    _arrow(ax, (8.55, 0.95), (9.3, 1.8))
    _arrow(ax, (9.9, 2.3), (10.05, 2.3))
    ax.text(4.9, 4.4, "LSTM branch", ha="center", fontsize=10, fontweight="bold")
    ax.text(
        4.9,
        0.05,
        "fully convolutional (FCN) branch: input (B, 1, T), channels first",
        ha="center",
        fontsize=10,
        fontweight="bold",
    )
    ax.set_title(
        "LSTM-FCN (Karim et al., 2018). B = batch, T = time steps, H = LSTM units, "
        "C = classes, k = kernel size, BN = batch normalisation",
        fontsize=10,
    )
    save(fig, out, "lstm_fcn_architecture.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "book" / "figures")
    args = parser.parse_args()
    if sources.local_data_dir() is None:
        raise SystemExit(f"Set {sources.DATA_ENV} to the folder holding ecg5000/ and mitdb/.")
    matplotlib.use("Agg")
    args.out.mkdir(parents=True, exist_ok=True)
    plt.rcParams.update({"font.size": 9, "axes.titlesize": 10})
    fig_waveform(args.out)
    fig_leads(args.out)
    fig_segmentation(args.out)
    fig_aami(args.out)
    fig_class_balance(args.out)
    fig_ecg5000(args.out)
    fig_early(args.out)
    fig_lstm_fcn(args.out)


if __name__ == "__main__":
    main()
