"""Chapter 2 benchmark: the MIT-BIH recipes of solutions/02_mitbih_lstm_fcn.ipynb, timed.

Prints, and writes as JSON to ``benchmarks/results/ch2.json``:

* ``throughput``: LSTM-FCN training throughput (beats/s at batch 256) and the share
  of this machine's float32 matmul peak it reaches, both measured in this run. The
  model's FLOPs come from its layer shapes (``metrics.forward_flops_per_beat``),
  times 3 for a training step (forward, input gradients, weight gradients).
* ``seed``: the seed recipe (undersampling to the rarest class, LSTM-FCN, batch 256,
  Adam 1e-3) with the notebook's budget: the one-vs-rest per-class table on the
  Kachuee test split.
* ``better``: the notebook's better recipe (the seed model trained on, with batches of
  64 drawn from the whole training set by a weighted sampler that shows class c in
  proportion to n_c ** 0.5, and a cosine learning-rate decay): accuracy, balanced
  accuracy, macro-F1.
* ``inter_patient``: the seed recipe trained on DS1 and tested on DS2, recall per class.
* ``long`` (with ``--long``): the better recipe run 5x longer (same sampler, schedule
  and start); its training time is reported whatever the result.

The recipes use the same package functions and the same settings as the notebook
(the constants below mirror the notebook's budget cell).

Usage::

    python benchmarks/bench_ch2.py [--long] [--threads N] [--skip-recipes]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch
from imblearn.under_sampling import RandomUnderSampler
from torch import nn
from torch.utils.data import DataLoader, WeightedRandomSampler

from ecg_course.data import MITBIH_CLASS_NAMES, BeatDataset, load_mitbih, make_loader
from ecg_course.metrics import classification_summary, forward_flops_per_beat, per_class_table
from ecg_course.models import LSTMFCN
from ecg_course.training import fit, predict_proba, seed_everything

SEED = 42
CLASSES = list(MITBIH_CLASS_NAMES)
# The notebook's budget (solutions/02_mitbih_lstm_fcn.ipynb, setup cell).
EPOCHS_SEED = 10
EPOCHS_BETTER = 14  # "epochs" of BATCHES_PER_EPOCH batches of BATCH_BETTER beats
BATCHES_PER_EPOCH = 40
BATCH_BETTER = 64
ALPHA = 0.5
VAL_SIZE = 1000
# The long run: the better recipe with 5x the draws.
LONG_EPOCHS = 14
LONG_BATCHES_PER_EPOCH = 200
RESULTS = Path(__file__).resolve().parent / "results" / "ch2.json"


def matmul_peak(n: int = 2048, repeats: int = 10) -> float:
    """Float32 matmul throughput in FLOP/s (best of ``repeats``), 2 n^3 FLOPs per product."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best


def training_throughput(batch_size: int = 256, steps: int = 6, compile_model: bool = False):
    """Training beats/s of the seed LSTM-FCN on random beats (after 2 warm-up steps)."""
    torch.manual_seed(SEED)
    model = LSTMFCN()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    criterion = nn.CrossEntropyLoss()
    step_model = torch.compile(model) if compile_model else model
    x, y = torch.rand(batch_size, 187), torch.randint(0, 5, (batch_size,))
    model.train()

    def step():
        loss = criterion(step_model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    for _ in range(2):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * batch_size / (time.perf_counter() - start)


def throughput_report(try_compile: bool) -> dict:
    flops_forward = forward_flops_per_beat(LSTMFCN(), 187)
    flops_train = 3 * flops_forward
    peak = matmul_peak()
    variants = {}
    for batch in (128, 256, 512):
        variants[f"eager, batch {batch}"] = training_throughput(batch)
    if try_compile:
        try:
            variants["torch.compile, batch 256"] = training_throughput(256, compile_model=True)
        except Exception as error:  # inductor needs a C++ toolchain; report, don't fail
            variants["torch.compile, batch 256"] = f"failed: {type(error).__name__}: {error}"[:200]
    numeric = {k: v for k, v in variants.items() if isinstance(v, float)}
    best_name = max(numeric, key=numeric.get)
    return {
        "threads": torch.get_num_threads(),
        "forward_flops_per_beat": flops_forward,
        "training_flops_per_beat": flops_train,
        "matmul_peak_gflops": peak / 1e9,
        "beats_per_s": {
            k: (round(v, 1) if isinstance(v, float) else v) for k, v in variants.items()
        },
        "batch_256_beats_per_s": round(numeric["eager, batch 256"], 1),
        "batch_256_fraction_of_peak": numeric["eager, batch 256"] * flops_train / peak,
        "best": best_name,
        "best_fraction_of_peak": numeric[best_name] * flops_train / peak,
    }


def _validation(y: np.ndarray, kept: np.ndarray) -> np.ndarray:
    rest = np.setdiff1d(np.arange(len(y)), kept)
    return np.random.default_rng(SEED).choice(rest, size=VAL_SIZE, replace=False)


def _capped(X, y, caps):
    strategy = {c: min(n, int((y == c).sum())) for c, n in enumerate(caps)}
    sampler = RandomUnderSampler(sampling_strategy=strategy, random_state=SEED)
    X_sub, y_sub = sampler.fit_resample(X, y)
    return X_sub, y_sub, sampler.sample_indices_


def _summary(y_true, proba) -> dict:
    summary = classification_summary(y_true, proba.argmax(axis=1), CLASSES)
    return {
        "accuracy": summary["accuracy"],
        "balanced_accuracy": summary["balanced_accuracy"],
        "macro_f1": summary["macro_f1"],
        "per_class": summary["per_class"].to_dict(orient="index"),
    }


def train(model, X, y, val, X_all, y_all, epochs, batch_size=256, weights=None) -> float:
    seed_everything(SEED)
    start = time.perf_counter()
    fit(
        model,
        make_loader(X, y, batch_size=batch_size, shuffle=True, seed=SEED),
        make_loader(X_all[val], y_all[val], batch_size=256),
        epochs=epochs,
        lr=1e-3,
        device="cpu",
        criterion=nn.CrossEntropyLoss(weight=weights),
    )
    return time.perf_counter() - start


def train_weighted(model, X_train, y_train, val_rows, epochs, batches_per_epoch) -> float:
    """The notebook's better recipe: weighted sampler (n_c ** ALPHA), batch 64, cosine decay."""
    pool = np.setdiff1d(np.arange(len(y_train)), val_rows)
    X_pool, y_pool = X_train[pool], y_train[pool]
    n_c = np.bincount(y_pool, minlength=len(CLASSES))
    draw_weights = torch.tensor(n_c**ALPHA / n_c, dtype=torch.float64)[y_pool]
    sampler = WeightedRandomSampler(
        draw_weights,
        num_samples=batches_per_epoch * BATCH_BETTER,
        replacement=True,
        generator=torch.Generator().manual_seed(SEED),
    )
    loader = DataLoader(BeatDataset(X_pool, y_pool), batch_size=BATCH_BETTER, sampler=sampler)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    seed_everything(SEED)
    start = time.perf_counter()
    fit(
        model,
        loader,
        make_loader(X_train[val_rows], y_train[val_rows], batch_size=256),
        epochs=epochs,
        optimizer=optimizer,
        scheduler=scheduler,
        device="cpu",
    )
    return time.perf_counter() - start


def recipes(long: bool) -> dict:
    out = {}
    X_train, y_train, X_test, y_test = load_mitbih("kachuee")

    # Seed recipe.
    sampler = RandomUnderSampler(random_state=SEED)
    X_bal, y_bal = sampler.fit_resample(X_train, y_train)
    seed_everything(SEED)
    seed_model = LSTMFCN()
    seconds = train(
        seed_model,
        X_bal,
        y_bal,
        _validation(y_train, sampler.sample_indices_),
        X_train,
        y_train,
        EPOCHS_SEED,
    )
    proba = predict_proba(seed_model, X_test, batch_size=100)
    out["seed"] = {
        "epochs": EPOCHS_SEED,
        "training_beats": len(y_bal),
        "training_seconds": seconds,
        "per_class_table": per_class_table(y_test, proba, CLASSES).to_dict(orient="index"),
        **_summary(y_test, proba),
    }
    print("seed recipe:", json.dumps({k: out["seed"][k] for k in ("accuracy", "macro_f1")}))

    # Better recipe: the seed model trained on with a weighted sampler and a cosine decay.
    val_rows = _validation(y_train, sampler.sample_indices_)

    def continue_weighted(epochs: int, batches_per_epoch: int) -> dict:
        """Train a copy of the seed model on with the weighted sampler; its test results."""
        model = LSTMFCN()
        model.load_state_dict(seed_model.state_dict())
        seconds_more = train_weighted(model, X_train, y_train, val_rows, epochs, batches_per_epoch)
        return {
            "epochs": epochs,
            "beats_drawn": epochs * batches_per_epoch * BATCH_BETTER,
            "training_seconds": seconds_more,
            "training_seconds_incl_seed": seconds + seconds_more,
            **_summary(y_test, predict_proba(model, X_test)),
        }

    out["better"] = continue_weighted(EPOCHS_BETTER, BATCHES_PER_EPOCH)
    print("better recipe:", json.dumps({k: out["better"][k] for k in ("accuracy", "macro_f1")}))

    # Inter-patient: the seed recipe on DS1, tested on every DS2 beat.
    X_ds1, y_ds1, X_ds2, y_ds2 = load_mitbih("inter-patient")
    f_count = int((y_ds1 == 3).sum())
    X_d, y_d, kept = _capped(X_ds1, y_ds1, [f_count, f_count, f_count, f_count, 10**9])
    inter = LSTMFCN()
    seconds_inter = train(inter, X_d, y_d, _validation(y_ds1, kept), X_ds1, y_ds1, EPOCHS_SEED)
    summary = _summary(y_ds2, predict_proba(inter, X_ds2))
    out["inter_patient"] = {
        "epochs": EPOCHS_SEED,
        "training_beats": len(y_d),
        "training_seconds": seconds_inter,
        "recall": {c: summary["per_class"][c]["recall"] for c in CLASSES},
        **summary,
    }
    print("inter-patient recall:", json.dumps(out["inter_patient"]["recall"]))

    if long:
        out["long"] = {
            **continue_weighted(LONG_EPOCHS, LONG_BATCHES_PER_EPOCH),
            "target": "accuracy >= 0.985 and macro-F1 >= 0.92",
        }
        print(
            "long run:",
            json.dumps({k: out["long"][k] for k in ("accuracy", "macro_f1", "training_seconds")}),
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--long", action="store_true", help="also run the long training run")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    parser.add_argument("--skip-recipes", action="store_true", help="throughput only")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    result = {"machine": platform.processor() or platform.machine(), "torch": torch.__version__}
    result["throughput"] = throughput_report(args.compile)
    print("throughput:", json.dumps(result["throughput"], indent=1))
    if not args.skip_recipes:
        result.update(recipes(args.long))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1, default=float))
    print("written to", RESULTS)


if __name__ == "__main__":
    main()
