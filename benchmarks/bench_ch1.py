"""Chapter 1 benchmark: the numbers the course claims for ECG5000, measured.

1. Runs ``solutions/01_ecg5000_lstm.ipynb`` top to bottom (as a student would),
   timing it, then reads its ``results`` dictionary: binary test ROC-AUC and
   accuracy, the early-classification curves, and the 5-class accuracy /
   balanced accuracy / macro-F1 on the UCR split.
2. Times one full training epoch (3,000 beats, batch 64) of the from-scratch LSTM
   and of ``nn.LSTM`` side by side, in the same process, in float32 as the notebook.
3. On a CPU with native bfloat16: training and scoring beats/s of the five-class
   LSTM in float32 and bfloat16, the measurement behind chapter 1's choice (``fit``
   trains with ``"auto"``, ``predict_proba`` scores in float32).

Prints a report and writes ``benchmarks/results/ch1.json``. Needs the data
(``ECG_COURSE_DATA`` or internet). Usage, from the repository root:
``python -m benchmarks.bench_ch1 [--skip-notebook]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ecg_course.data import make_loader, stratified_split
from ecg_course.ecg5000 import load_ecg5000
from ecg_course.models import LSTMClassifier, LSTMFromScratch, copy_lstm_weights
from ecg_course.precision import resolve_precision
from ecg_course.training import predict_proba, run_epoch, seed_everything
from tools.execute_solutions import execute

ROOT = Path(__file__).resolve().parents[1]

NOTEBOOK = ROOT / "solutions" / "01_ecg5000_lstm.ipynb"
RESULTS = ROOT / "benchmarks" / "results" / "ch1.json"
TARGETS = {
    "binary_auc": 0.99,
    "binary_accuracy": 0.97,
    "prefix_auc_at_50pct": 0.90,
    "prefix_min_auc_past_20pct": 0.5,
    "five_class_accuracy": 0.935,
    "speedup_nn_lstm": 8.0,
    "notebook_seconds": 360.0,
}

# Run in the notebook's kernel after the notebook: its results dictionary as JSON.
REPORT_CELL = "import json as _json\nprint(_json.dumps(results, default=float))"


def run_notebook() -> dict:
    """Execute the solution notebook; return its ``results`` (flattened) and its wall time."""
    printed, seconds = execute(NOTEBOOK, extra_cell=REPORT_CELL, save=False)
    results = json.loads(printed)
    prefix = {float(k): v for k, v in results["prefix_model_auc_by_fraction"].items()}
    return {
        **{k: v for k, v in results.items() if k != "five_class"},
        "prefix_auc_at_50pct": prefix[0.5],
        "prefix_min_auc_past_20pct": min(v for f, v in prefix.items() if f > 0.2),
        **{f"five_class_{k}": v for k, v in results["five_class"].items()},
        "notebook_seconds": seconds,
    }


def race(epochs: int = 1) -> dict:
    """Seconds per training epoch of the two LSTMs, same data, same weights."""
    X_train, y_train, X_test, y_test = load_ecg5000()
    X = np.concatenate([X_train, X_test])
    y = (np.concatenate([y_train, y_test]) != 0).astype(np.int64)
    X_train, _, _, y_train, _, _ = stratified_split(X, y)
    loader = make_loader(X_train, y_train, batch_size=64, shuffle=True, seed=0)
    seed_everything(0)
    scratch = LSTMFromScratch(hidden_size=64, num_classes=2)
    fused = copy_lstm_weights(scratch, LSTMClassifier(hidden_size=64, num_classes=2))
    seconds = {}
    for name, model in (("from_scratch", scratch), ("nn_lstm", fused)):
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        start = time.perf_counter()
        for _ in range(epochs):
            run_epoch(model, loader, nn.CrossEntropyLoss(), optimizer, precision="fp32")
        seconds[name] = (time.perf_counter() - start) / epochs
    return {
        "epoch_seconds_from_scratch": seconds["from_scratch"],
        "epoch_seconds_nn_lstm": seconds["nn_lstm"],
        "speedup_nn_lstm": seconds["from_scratch"] / seconds["nn_lstm"],
    }


def precision_race(repeats: int = 3) -> dict:
    """Chapter 1's choice of precision, measured: beats/s of training (what ``fit`` does,
    with ``"auto"``) and of scoring (``predict_proba``, float32 by default) for the
    five-class LSTM (4 samples per step), in float32 and in bfloat16; best of ``repeats``."""
    X_train, y_train, X_test, _ = load_ecg5000()
    X = np.concatenate([X_train, X_test])
    loader = make_loader(X[:3000], np.zeros(3000, dtype=np.int64), batch_size=64)
    rates: dict[str, float] = {}
    for _ in range(repeats):
        for precision in ("fp32", "bf16"):
            seed_everything(0)
            model = LSTMClassifier(hidden_size=64, num_classes=5, samples_per_step=4)
            optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
            start = time.perf_counter()
            run_epoch(model, loader, nn.CrossEntropyLoss(), optimizer, precision=precision)
            train = 3000 / (time.perf_counter() - start)
            start = time.perf_counter()
            predict_proba(model, X_test, precision=precision)
            score = len(X_test) / (time.perf_counter() - start)
            for key, rate in ((f"train_{precision}", train), (f"predict_{precision}", score)):
                rates[key] = max(rates.get(key, 0.0), rate)
    return {
        "beats_per_s_by_precision": rates,
        "bf16_over_fp32_train": rates["train_bf16"] / rates["train_fp32"],
        "bf16_over_fp32_predict": rates["predict_bf16"] / rates["predict_fp32"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-notebook", action="store_true", help="only time the two LSTMs")
    args = parser.parse_args()
    results = {
        "machine": f"{platform.processor() or platform.machine()}, "
        f"{torch.get_num_threads()} torch threads, torch {torch.__version__}",
    }
    results.update(race())
    if resolve_precision("auto", "cpu").name == "bf16":  # elsewhere bf16 is emulated
        results.update(precision_race())
    if not args.skip_notebook:
        results.update(run_notebook())
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"Chapter 1 benchmark ({results['machine']})")
    for key, target in TARGETS.items():
        if key not in results:
            continue
        value = results[key]
        lower_is_better = key == "notebook_seconds"
        met = value <= target if lower_is_better else value >= target
        sign = "<=" if lower_is_better else ">="
        print(f"  {key:28s} {value:10.4f}   target {sign} {target:<8} {'ok' if met else 'MISSED'}")
    for key in (
        "bf16_over_fp32_train",
        "bf16_over_fp32_predict",
        "epoch_seconds_from_scratch",
        "epoch_seconds_nn_lstm",
        "five_class_balanced_accuracy",
        "five_class_macro_f1",
    ):
        if key in results:
            print(f"  {key:28s} {results[key]:10.4f}")
    if "full_model_auc_by_fraction" in results:
        print("  early AUC by observed fraction (full-beat model | prefix-trained model):")
        for fraction, auc in results["full_model_auc_by_fraction"].items():
            prefix = results["prefix_model_auc_by_fraction"][fraction]
            print(f"    {float(fraction):4.0%}  {auc:.3f} | {prefix:.3f}")
    print(f"written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
