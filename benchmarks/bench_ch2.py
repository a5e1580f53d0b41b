"""Chapter 2 benchmark: the MIT-BIH numbers the course claims, measured.

1. ``throughput``: LSTM-FCN training throughput (beats/s) and the share of this
   machine's float32 matmul peak it reaches, both measured in this run, with one
   thread. The model's FLOPs come from its layer shapes
   (``metrics.forward_flops_per_beat``), times 3 for a training step (forward,
   input gradients, weight gradients).
2. ``notebook``: runs ``solutions/02_mitbih_lstm_fcn.ipynb`` top to bottom (as a
   student would), timing it, then reads from the live kernel what it computed
   within its budget: the seed recipe's one-vs-rest table, the better recipe's
   accuracy and macro-F1, and the inter-patient recall per class.
   ``--save-notebook`` writes the executed notebook back (outputs tidied as by
   ``tools/execute_solutions.py``), so one run both measures and refreshes it.
3. ``--long seed|better|both``: the same recipes with more training, as the seed
   and the published baselines had: the seed recipe for ``SEED_LONG_EPOCHS``
   epochs, and the better recipe for ``LONG_BEATS`` beats. Test results and
   training times. The two are independent; ``--threads 1`` lets them run side by
   side on a 2-core machine. Results are merged into the JSON of earlier runs.

The long runs use the package's functions with the notebook's settings (the
constants below mirror the notebook's budget cell and better-recipe cell).

Usage::

    python benchmarks/bench_ch2.py [--long seed|better|both] [--threads N]
        [--save-notebook] [--skip-notebook] [--skip-throughput]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from imblearn.under_sampling import RandomUnderSampler
from torch import nn

from ecg_course.data import MITBIH_CLASS_NAMES, load_mitbih, make_loader, make_weighted_loader
from ecg_course.metrics import classification_summary, forward_flops_per_beat, per_class_table
from ecg_course.models import LSTMFCN
from ecg_course.training import fit, predict_proba, seed_everything

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from execute_solutions import execute  # noqa: E402

NOTEBOOK = ROOT / "solutions" / "02_mitbih_lstm_fcn.ipynb"
RESULTS = ROOT / "benchmarks" / "results" / "ch2.json"
SEED = 42
CLASSES = list(MITBIH_CLASS_NAMES)
# The notebook's settings (solutions/02_mitbih_lstm_fcn.ipynb).
VAL_SIZE = 1000
ALPHA = 0.75
BATCH_BETTER = 64
MAX_LR = 3e-3
PCT_START = 0.15
# The long runs.
SEED_LONG_EPOCHS = 50
LONG_BEATS = 896_000
LONG_BEATS_PER_EPOCH = 25_600

# Run in the notebook's kernel after the notebook: its results as one JSON line.
REPORT_CELL = """
import json as _json
print(_json.dumps({
    "seed": {
        "epochs": EPOCHS_SEED, "training_beats": len(y_bal), "training_seconds": seconds_seed,
        "one_vs_rest": table_seed.to_dict(orient="index"),
        "accuracy": summary_seed["accuracy"], "macro_f1": summary_seed["macro_f1"],
        "balanced_accuracy": summary_seed["balanced_accuracy"],
    },
    "better": {
        "beats_drawn": EPOCHS_BETTER * BEATS_PER_EPOCH, "training_seconds": seconds_better,
        "threads": torch.get_num_threads(),
        "accuracy": summary_better["accuracy"], "macro_f1": summary_better["macro_f1"],
        "balanced_accuracy": summary_better["balanced_accuracy"],
        "f1": summary_better["per_class"]["f1"].to_dict(),
    },
    "inter_patient": {
        "balanced_accuracy": summary_inter["balanced_accuracy"],
        "recall": summary_inter["per_class"]["recall"].to_dict(),
    },
}, default=float))
"""


def matmul_peak(n: int = 2048, repeats: int = 20) -> float:
    """Float32 matmul throughput in FLOP/s (best of ``repeats``), 2 n^3 FLOPs per product."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best


def training_throughput(batch_size: int, steps: int = 8, model_class=LSTMFCN) -> float:
    """Training beats/s of the seed LSTM-FCN on random beats (after 2 warm-up steps)."""
    torch.manual_seed(SEED)
    model = model_class()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    criterion = nn.CrossEntropyLoss()
    x, y = torch.rand(batch_size, 187), torch.randint(0, 5, (batch_size,))
    model.train()

    def step():
        loss = criterion(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    for _ in range(2):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * batch_size / (time.perf_counter() - start)


class _PlainConv1dLSTMFCN(LSTMFCN):
    """The same network in the textbook layout: nn.Conv1d and BatchNorm1d on (B, C, T).

    Only for timing, to show what the course's channels-last convolutions
    (``ecg_course.models.lstm_fcn.ChannelsLastConv1d``) gain. Same parameters, same function.
    """

    def __init__(self) -> None:
        super().__init__()

        def block(c_in: int, c_out: int, kernel: int) -> nn.Sequential:
            return nn.Sequential(
                nn.ConstantPad1d(((kernel - 1) // 2, kernel // 2), 0.0),
                nn.Conv1d(c_in, c_out, kernel),
                nn.BatchNorm1d(c_out),
                nn.ReLU(),
            )

        self.conv1, self.conv2, self.conv3 = (
            block(seq[1].in_channels, seq[1].out_channels, seq[1].kernel_size[0])
            for seq in (self.conv1, self.conv2, self.conv3)  # (pad, conv, batch norm, ReLU)
        )

    def _conv_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv3(self.conv2(self.conv1(x.transpose(1, 2))))


def throughput_report() -> dict:
    """One thread; the peak is the best of two measurements, before and after."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        flops_train = 3 * forward_flops_per_beat(LSTMFCN(), 187)
        peak = matmul_peak()
        rates = {batch: training_throughput(batch) for batch in (64, 128, 256)}
        plain = training_throughput(256, model_class=_PlainConv1dLSTMFCN)
        peak = max(peak, matmul_peak())
    finally:
        torch.set_num_threads(threads)
    best = max(rates, key=rates.get)
    return {
        "threads": 1,
        "training_flops_per_beat": flops_train,
        "matmul_peak_gflops": peak / 1e9,
        "beats_per_s": {f"batch {b}": round(r, 1) for b, r in rates.items()},
        "batch_256_fraction_of_peak": rates[256] * flops_train / peak,
        "best_batch": best,
        "best_fraction_of_peak": rates[best] * flops_train / peak,
        "plain_conv1d_batch_256": {
            "beats_per_s": round(plain, 1),
            "fraction_of_peak": plain * flops_train / peak,
        },
    }


def run_notebook(save: bool) -> dict:
    """Execute the chapter 2 solution notebook; its results and its wall time."""
    printed, seconds = execute(NOTEBOOK, extra_cell=REPORT_CELL, save=save)
    return {**json.loads(printed), "notebook_seconds": seconds}


def _summary(y_true: np.ndarray, proba: np.ndarray) -> dict:
    summary = classification_summary(y_true, proba.argmax(axis=1), CLASSES)
    return {
        "accuracy": summary["accuracy"],
        "balanced_accuracy": summary["balanced_accuracy"],
        "macro_f1": summary["macro_f1"],
        "f1": summary["per_class"]["f1"].to_dict(),
    }


@dataclass
class KachueeSplit:
    """The Kachuee split with the notebook's undersampled set and validation rows."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    X_bal: np.ndarray  # RandomUnderSampler(random_state=SEED) of the training beats
    y_bal: np.ndarray
    val_rows: np.ndarray  # VAL_SIZE training rows the sampler left out

    @classmethod
    def load(cls) -> KachueeSplit:
        X_train, y_train, X_test, y_test = load_mitbih("kachuee")
        sampler = RandomUnderSampler(random_state=SEED)
        X_bal, y_bal = sampler.fit_resample(X_train, y_train)
        rest = np.setdiff1d(np.arange(len(y_train)), sampler.sample_indices_)
        val_rows = np.random.default_rng(SEED).choice(rest, size=VAL_SIZE, replace=False)
        return cls(X_train, y_train, X_test, y_test, X_bal, y_bal, val_rows)

    def val_loader(self):
        return make_loader(self.X_train[self.val_rows], self.y_train[self.val_rows], 256)


def seed_long(split: KachueeSplit) -> dict:
    """The seed recipe (undersampling, batch 256, Adam 1e-3) for SEED_LONG_EPOCHS epochs."""
    X_bal, y_bal, X_test, y_test = split.X_bal, split.y_bal, split.X_test, split.y_test
    seed_everything(SEED)
    model = LSTMFCN()
    start = time.perf_counter()
    history = fit(
        model,
        make_loader(X_bal, y_bal, batch_size=256, shuffle=True, seed=SEED),
        split.val_loader(),
        epochs=SEED_LONG_EPOCHS,
        lr=1e-3,
        progress=True,
    )
    seconds = time.perf_counter() - start
    proba = predict_proba(model, X_test, batch_size=100)
    return {
        "epochs": SEED_LONG_EPOCHS,
        "kept_epoch": history.best_epoch + 1,
        "training_beats": len(y_bal),
        "training_seconds": seconds,
        "threads": torch.get_num_threads(),
        "one_vs_rest": per_class_table(y_test, proba, CLASSES).to_dict(orient="index"),
        **_summary(y_test, proba),
    }


def better_long(split: KachueeSplit) -> dict:
    """The notebook's better recipe (weighted sampler, one-cycle LR) for LONG_BEATS beats."""
    pool = np.setdiff1d(np.arange(len(split.y_train)), split.val_rows)
    epochs = LONG_BEATS // LONG_BEATS_PER_EPOCH
    loader = make_weighted_loader(
        split.X_train[pool],
        split.y_train[pool],
        alpha=ALPHA,
        batch_size=BATCH_BETTER,
        num_samples=LONG_BEATS_PER_EPOCH,
        seed=SEED,
    )
    seed_everything(SEED)
    model = LSTMFCN()
    optimizer = torch.optim.Adam(model.parameters(), lr=MAX_LR)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=MAX_LR, total_steps=epochs * len(loader), pct_start=PCT_START
    )
    start = time.perf_counter()
    history = fit(
        model,
        loader,
        split.val_loader(),
        epochs=epochs,
        optimizer=optimizer,
        scheduler=scheduler,
        step_scheduler="batch",
        progress=True,
    )
    seconds = time.perf_counter() - start
    return {
        "beats_drawn": epochs * LONG_BEATS_PER_EPOCH,
        "kept_epoch": history.best_epoch + 1,
        "training_seconds": seconds,
        "threads": torch.get_num_threads(),
        **_summary(split.y_test, predict_proba(model, split.X_test)),
    }


def report(results: dict) -> None:
    """Print the targets of the chapter 2 issue beside what was measured."""
    lines = [f"Chapter 2 benchmark ({results['machine']})"]

    def check(name: str, value: float, target: float, sign: str = ">") -> None:
        met = {">": value > target, ">=": value >= target, "<=": value <= target}[sign]
        lines.append(
            f"  {name:44s} {value:10.4f}   target {sign} {target:<6} {'ok' if met else 'MISSED'}"
        )

    if "throughput" in results:
        t = results["throughput"]
        lines.append(
            f"  throughput (1 thread, peak {t['matmul_peak_gflops']:.0f} GFLOP/s): "
            f"{t['beats_per_s']} beats/s"
        )
        check("fraction of peak, batch 256", t["batch_256_fraction_of_peak"], 0.5, ">=")
        check(
            f"fraction of peak, batch {t['best_batch']} (best)",
            t["best_fraction_of_peak"],
            0.5,
            ">=",
        )
        variant = t.get("plain_conv1d_batch_256")
        if variant:
            lines.append(
                f"    same network with plain nn.Conv1d/BatchNorm1d (batch 256): "
                f"{variant['beats_per_s']} beats/s, {variant['fraction_of_peak']:.2f} of peak"
            )
    for key, label in (("seed", "notebook"), ("seed_long", "long")):
        if key in results:
            for name, row in results[key]["one_vs_rest"].items():
                check(f"seed recipe ({label}): one-vs-rest accuracy {name}", row["accuracy"], 0.9)
    for key, label in (("better", "notebook budget"), ("better_long", "long run")):
        if key in results:
            acc_target, f1_target = (0.97, 0.85) if key == "better" else (0.985, 0.92)
            check(f"better recipe ({label}): accuracy", results[key]["accuracy"], acc_target, ">=")
            check(f"better recipe ({label}): macro-F1", results[key]["macro_f1"], f1_target, ">=")
            lines.append(
                f"    beats drawn {results[key]['beats_drawn']:,}, training "
                f"{results[key]['training_seconds']:.0f} s on {_threads(results, key)}"
            )
    if "inter_patient" in results:
        recall = {k: round(v, 3) for k, v in results["inter_patient"]["recall"].items()}
        lines.append(
            f"  inter-patient recall per class: {recall}, balanced accuracy "
            f"{results['inter_patient']['balanced_accuracy']:.3f}"
        )
    if "notebook_seconds" in results:
        check(
            f"notebook seconds ({_threads(results, 'better')})",
            results["notebook_seconds"],
            720,
            "<=",
        )
    print("\n".join(lines))


def _threads(results: dict, key: str) -> str:
    """The torch threads a stored result was measured with, as words."""
    threads = results[key]["threads"]
    return f"{threads} thread" + ("s" if threads > 1 else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--long",
        choices=("seed", "better", "both"),
        help="also run the long training runs (one of them, or both)",
    )
    parser.add_argument("--threads", type=int, help="torch threads for the long runs")
    parser.add_argument("--skip-notebook", action="store_true", help="do not run the notebook")
    parser.add_argument("--skip-throughput", action="store_true", help="no throughput timing")
    parser.add_argument(
        "--save-notebook", action="store_true", help="write the executed notebook back"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    # Each result records its own thread count: results of several runs are merged.
    results = {
        "machine": f"{platform.processor() or platform.machine()}, torch {torch.__version__}"
    }
    if not args.skip_throughput:
        results["throughput"] = throughput_report()
    if not args.skip_notebook:
        results.update(run_notebook(args.save_notebook))
    split = KachueeSplit.load() if args.long else None
    if args.long in ("seed", "both"):
        results["seed_long"] = seed_long(split)
    if args.long in ("better", "both"):
        results["better_long"] = better_long(split)
    # Merge into the results of earlier runs (read now: a long run may take an hour).
    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results = {**previous, **results}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1, default=float) + "\n")
    report(results)
    print(f"written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
