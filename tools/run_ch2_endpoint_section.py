"""Run chapter 2's endpoint section (tools/ch2_endpoint_section.py) on its own, timed.

Builds the names the section takes from the notebook's earlier cells, with an untrained
seed-size LSTM-FCN in place of the trained ``better`` (the endpoint's work and time do
not depend on the weights) and the first ``--beats`` beats of the real Kachuee test
split, then runs the section's code cells in order and prints each one's seconds.
Needs the data (``ECG_COURSE_DATA`` or internet); the first run builds the beat cache.

Usage: ``python tools/run_ch2_endpoint_section.py [--beats 2000]`` (``--beats 0``: all).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ecg_course import checks
from ecg_course.data import load_mitbih
from ecg_course.metrics import per_class_table
from ecg_course.mitbih import CLASSES
from ecg_course.models import LSTMFCN
from ecg_course.training import get_device, predict_proba, seed_everything

SECTION = Path(__file__).resolve().parent / "ch2_endpoint_section.py"
SEED_HPARAMS = dict(num_layers=1, hidden_size=128, dropout=0.8, filters_1=128, filters_2=256,
                    filters_3=128, kernel_size_1=8, kernel_size_2=5, kernel_size_3=3)  # fmt: skip
"""The notebook's seed hyperparameters (its cell that builds the seed model)."""


def code_cells(path: Path) -> list[str]:
    """The code cells of a py:percent file, in order (markdown cells left out)."""
    cells, current = [], None
    for line in path.read_text().splitlines():
        if line.startswith("# %%"):
            if current is not None:
                cells.append("\n".join(current))
            current = None if "[markdown]" in line else []
        elif current is not None:
            current.append(line)
    if current is not None:
        cells.append("\n".join(current))
    return cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--beats", type=int, default=2000, help="test beats to send (0: all)")
    args = parser.parse_args()
    _, _, X_test, y_test = load_mitbih(progress=False)
    if args.beats:
        X_test, y_test = X_test[: args.beats], y_test[: args.beats]
    seed_everything(42)
    device = get_device()
    better = LSTMFCN(num_classes=5, seq_len=187, **SEED_HPARAMS).to(device)
    names = {
        "better": better, "X_test": X_test, "y_test": y_test, "CLASSES": list(CLASSES),
        "SEED_HPARAMS": SEED_HPARAMS, "device": device, "predict_proba": predict_proba,
        "per_class_table": per_class_table, "checks": checks, "pd": pd, "np": np, "time": time,
    }  # fmt: skip
    total = time.perf_counter()
    for i, source in enumerate(code_cells(SECTION), start=1):
        start = time.perf_counter()
        exec(compile(source, f"{SECTION.name}, code cell {i}", "exec"), names)
        print(f"--- code cell {i}: {time.perf_counter() - start:.1f} s", flush=True)
    print(f"section: {len(X_test):,} test beats, {time.perf_counter() - total:.1f} s in all")


if __name__ == "__main__":
    main()
