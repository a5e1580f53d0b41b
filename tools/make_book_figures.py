"""Render the book's figures (PNG) from the real data into book/figures/.

Usage::

    ECG_COURSE_DATA=/path/to/data python tools/make_book_figures.py [--out book/figures]

``ECG_COURSE_DATA`` names a folder laid out like the course's data root
(``ecg5000/ECG5000_TRAIN.tsv``, ``mitdb/100.hea``, ...). The script reads the
files directly with numpy and wfdb (it does not import ``ecg_course``), so the
book's figures only depend on the raw data. The PNGs are committed; rerun the
script only when a figure changes. Figures are deterministic (fixed records,
fixed beats, fixed seed).
"""

from __future__ import annotations

import argparse
import itertools
import os
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import wfdb
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from scipy.signal import resample_poly

ROOT = Path(__file__).resolve().parents[1]
DPI = 100

AAMI = {
    "N": ("N", "L", "R", "e", "j"),
    "S": ("A", "a", "J", "S"),
    "V": ("V", "E"),
    "F": ("F",),
    "Q": ("/", "f", "Q"),
}
AAMI_NAMES = {
    "N": "normal, BBB",
    "S": "supraventricular",
    "V": "ventricular",
    "F": "fusion",
    "Q": "paced, unknown",
}
SYMBOL_TO_AAMI = {s: c for c, symbols in AAMI.items() for s in symbols}
CLASS_COLORS = dict(
    zip("NSVFQ", ["#1f77b4", "#ff7f0e", "#d62728", "#2ca02c", "#9467bd"], strict=True)
)

DS1 = [
    101,
    106,
    108,
    109,
    112,
    114,
    115,
    116,
    118,
    119,
    122,
    124,
    201,
    203,
    205,
    207,
    208,
    209,
    215,
    220,
    223,
    230,
]
DS2 = [
    100,
    103,
    105,
    111,
    113,
    117,
    121,
    123,
    200,
    202,
    210,
    212,
    213,
    214,
    219,
    221,
    222,
    228,
    231,
    232,
    233,
    234,
]
PACED = [102, 104, 107, 217]

FS_IN, FS_OUT, BEAT_LEN = 360, 125, 187
ECG5000_NAMES = ["0: normal", "1: R-on-T PVC", "2: PVC", "3: SP or EB", "4: unclassified"]


def data_root() -> Path:
    path = os.environ.get("ECG_COURSE_DATA")
    if not path:
        raise SystemExit("Set ECG_COURSE_DATA to the folder holding ecg5000/ and mitdb/.")
    return Path(path)


def save(fig: plt.Figure, out: Path, name: str) -> None:
    path = out / name
    fig.savefig(path, dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    print(
        f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path} "
        f"({path.stat().st_size / 1024:.0f} KiB)"
    )


def read_record(mitdb: Path, record: int):
    rec = wfdb.rdrecord(str(mitdb / str(record)))
    ann = wfdb.rdann(str(mitdb / str(record)), "atr")
    return rec, ann


def mlii(rec) -> np.ndarray:
    return rec.p_signal[:, rec.sig_name.index("MLII")]


def kachuee_beats(signal_360: np.ndarray, r_samples_360: np.ndarray):
    """Beats from one window, the way Kachuee et al. (2018) build them.

    Resample to 125 Hz, scale the window to [0, 1], take 1.2 x the median RR
    interval from each R peak and zero-pad to 187 samples.
    """
    x = resample_poly(signal_360, FS_OUT, FS_IN)
    x = (x - x.min()) / (x.max() - x.min())
    r = np.round(r_samples_360 * FS_OUT / FS_IN).astype(int)
    period = round(1.2 * float(np.median(np.diff(r))))
    beats = []
    for start in r:
        seg = x[start : start + period][:BEAT_LEN]
        beats.append(np.pad(seg, (0, BEAT_LEN - len(seg))))
    return x, r, period, np.array(beats)


# --------------------------------------------------------------------------- figures


def fig_waveform(mitdb: Path, out: Path) -> None:
    rec, ann = read_record(mitdb, 100)
    x = mlii(rec)
    beat = ann.sample[ann.symbol.index("N") + 3]
    lo, hi = beat - int(0.45 * FS_IN), beat + int(0.75 * FS_IN)
    t = (np.arange(lo, hi) - beat) / FS_IN
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
    ax.set_ylabel("MLII amplitude (mV)")
    ax.set_title("One normal heartbeat, MIT-BIH record 100 (lead MLII, 360 Hz)")
    ax.set_ylim(seg.min() - 0.35, seg.max() + 0.35)
    ax.legend(loc="upper right", fontsize=8, framealpha=0.9)
    ax.grid(alpha=0.3)
    save(fig, out, "ecg_waveform.png")


def fig_leads(mitdb: Path, out: Path) -> None:
    rec, ann = read_record(mitdb, 100)
    n = 6 * FS_IN
    t = np.arange(n) / FS_IN
    fig, axes = plt.subplots(2, 1, figsize=(8, 4), sharex=True)
    for k, ax in enumerate(axes):
        ax.plot(t, rec.p_signal[:n, k], lw=0.9, color="black")
        ax.set_ylabel(f"{rec.sig_name[k]} ({rec.units[k]})")
        ax.grid(alpha=0.3)
    top = axes[0]
    ymax = rec.p_signal[:n, 0].max()
    for s, sym in zip(ann.sample, ann.symbol, strict=True):
        if s < n and sym in SYMBOL_TO_AAMI:
            top.text(
                s / FS_IN,
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


def fig_segmentation(mitdb: Path, out: Path) -> None:
    rec, ann = read_record(mitdb, 100)
    start = 6 * FS_IN
    stop = start + 10 * FS_IN
    x = mlii(rec)[start:stop]
    keep = [
        (s, sym)
        for s, sym in zip(ann.sample, ann.symbol, strict=True)
        if start <= s < stop and sym in SYMBOL_TO_AAMI
    ]
    r360 = np.array([s for s, _ in keep]) - start
    xs, r, period, beats = kachuee_beats(x, r360)
    t = np.arange(len(xs)) / FS_OUT
    fig = plt.figure(figsize=(9, 5.4))
    gs = fig.add_gridspec(2, 3, height_ratios=[1.2, 1], hspace=0.55, wspace=0.3)
    top = fig.add_subplot(gs[0, :])
    top.plot(t, xs, color="black", lw=0.9)
    top.plot(r / FS_OUT, xs[r], "v", color="#d62728", label="R peak (reference annotation)")
    for i, k in enumerate(range(2, 5)):
        a = r[k] / FS_OUT
        top.axvspan(
            a,
            a + period / FS_OUT,
            color=f"C{i}",
            alpha=0.2,
            label="1.2 x median RR window" if i == 0 else None,
        )
        top.text(a + 0.05, 1.02, f"beat {k}", color=f"C{i}", fontsize=9)
    top.set_xlabel("time (s)")
    top.set_ylabel("amplitude (scaled to [0, 1])")
    top.set_title("10 s of record 100, lead MLII, resampled to 125 Hz and scaled to [0, 1]")
    top.set_ylim(-0.05, 1.15)
    top.legend(loc="lower right", fontsize=8, framealpha=0.9)
    for i, k in enumerate(range(2, 5)):
        ax = fig.add_subplot(gs[1, i])
        ax.plot(np.arange(BEAT_LEN), beats[k], color=f"C{i}")
        ax.axvline(period, color="grey", ls="--", lw=0.8)
        ax.text(period + 3, 0.85, "zero\npadding", fontsize=8, color="grey")
        ax.set_title(f"beat {k} ({keep[k][1]}): {BEAT_LEN} samples", fontsize=10)
        ax.set_xlabel("sample at 125 Hz")
        if i == 0:
            ax.set_ylabel("amplitude")
        ax.set_ylim(-0.05, 1.05)
        ax.grid(alpha=0.3)
    save(fig, out, "beat_segmentation.png")


def all_beats_by_class(mitdb: Path, records, per_class: int, seed: int = 0):
    """A few Kachuee-style beats of every AAMI class, in 10 s windows of the records."""
    rng = np.random.default_rng(seed)
    found: dict[str, list[np.ndarray]] = {c: [] for c in AAMI}
    for record in records:
        rec, ann = read_record(mitdb, record)
        if "MLII" not in rec.sig_name:
            continue
        x = mlii(rec)
        samples = np.array(ann.sample)
        symbols = np.array(ann.symbol)
        beat_mask = np.isin(symbols, list(SYMBOL_TO_AAMI))
        samples, symbols = samples[beat_mask], symbols[beat_mask]
        win = 10 * FS_IN
        for w0 in range(0, len(x) - win, win):
            inside = (samples >= w0) & (samples < w0 + win)
            if inside.sum() < 3:
                continue
            _, _, _, beats = kachuee_beats(x[w0 : w0 + win], samples[inside] - w0)
            for beat, sym in zip(beats, symbols[inside], strict=True):
                cls = SYMBOL_TO_AAMI[sym]
                if len(found[cls]) < 4 * per_class:
                    found[cls].append(beat)
    return {c: np.array(b)[rng.permutation(len(b))[:per_class]] for c, b in found.items()}


def fig_aami(mitdb: Path, out: Path) -> None:
    beats = all_beats_by_class(
        mitdb, [100, 101, 106, 118, 119, 124, 208, 213, 217, 232], per_class=15
    )
    t = np.arange(BEAT_LEN)
    fig, axes = plt.subplots(1, 5, figsize=(12, 3.1), sharey=True)
    for ax, cls in zip(axes, AAMI, strict=True):
        for beat in beats[cls]:
            ax.plot(t, beat, color=CLASS_COLORS[cls], alpha=0.25, lw=0.8)
        ax.plot(t, np.median(beats[cls], axis=0), color="black", lw=1.3, label="median")
        ax.set_title(f"{cls} ({AAMI_NAMES[cls]})\nsymbols: {' '.join(AAMI[cls])}", fontsize=9)
        ax.set_xlabel("sample at 125 Hz")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("amplitude (scaled)")
    axes[0].legend(fontsize=8, loc="upper right")
    fig.suptitle(
        "MIT-BIH beats of the five AAMI classes (15 random beats each, 187 samples)", y=1.1
    )
    save(fig, out, "aami_classes.png")


def count_aami(mitdb: Path, records) -> dict[str, int]:
    counts = dict.fromkeys(AAMI, 0)
    for record in records:
        ann = wfdb.rdann(str(mitdb / str(record)), "atr")
        for sym in ann.symbol:
            if sym in SYMBOL_TO_AAMI:
                counts[SYMBOL_TO_AAMI[sym]] += 1
    return counts


def read_ecg5000(root: Path):
    train = np.loadtxt(root / "ecg5000" / "ECG5000_TRAIN.tsv", delimiter="\t")
    test = np.loadtxt(root / "ecg5000" / "ECG5000_TEST.tsv", delimiter="\t")
    return train, test


def fig_class_balance(root: Path, out: Path) -> None:
    mitdb = root / "mitdb"
    records = [int(r) for r in (mitdb / "RECORDS").read_text().split()]
    all_counts = count_aami(mitdb, records)
    ds1, ds2 = count_aami(mitdb, DS1), count_aami(mitdb, DS2)
    train, test = read_ecg5000(root)
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 3.6))
    idx = np.arange(5)
    tr = np.bincount(train[:, 0].astype(int) - 1, minlength=5)
    te = np.bincount(test[:, 0].astype(int) - 1, minlength=5)
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
    classes = list(AAMI)
    width = 0.27
    for k, (label, c) in enumerate(
        [("all 48 records", all_counts), ("DS1 (22 records)", ds1), ("DS2 (22 records)", ds2)]
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


def fig_ecg5000(root: Path, out: Path) -> None:
    train, test = read_ecg5000(root)
    data = np.vstack([train, test])
    y, X = data[:, 0].astype(int) - 1, data[:, 1:]
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


def fig_early(root: Path, out: Path) -> None:
    train, _ = read_ecg5000(root)
    y, X = train[:, 0].astype(int) - 1, train[:, 1:]
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
    root = data_root()
    matplotlib.use("Agg")
    args.out.mkdir(parents=True, exist_ok=True)
    plt.rcParams.update({"font.size": 9, "axes.titlesize": 10})
    mitdb = root / "mitdb"
    fig_waveform(mitdb, args.out)
    fig_leads(mitdb, args.out)
    fig_segmentation(mitdb, args.out)
    fig_aami(mitdb, args.out)
    fig_class_balance(root, args.out)
    fig_ecg5000(root, args.out)
    fig_early(root, args.out)
    fig_lstm_fcn(args.out)


if __name__ == "__main__":
    main()
