"""Chapter 2 benchmark: the MIT-BIH numbers the course claims, measured.

1. ``throughput``: LSTM-FCN training throughput (beats/s) in float32 and under
   bfloat16 autocast, side by side in one run, each as a fraction of the matrix-
   multiply peak of its own dtype measured in the same run, for the model in both
   memory layouts of its conv blocks: ``LSTMFCN(channels_last=True)`` and the plain
   ``ConvBlock`` (``nn.Conv1d`` on ``(B, C, T)``), ``channels_last=False``. bfloat16
   is left out on a CPU without a bfloat16 LSTM kernel (no AVX-512). The model's
   FLOPs come from its layer shapes (``metrics.forward_flops_per_beat``), times 3
   for a training step.
2. ``notebook``: runs ``solutions/02_mitbih_lstm_fcn.ipynb`` top to bottom as a
   student would (its ``PRESET = "auto"`` picks the budget from the hardware),
   timing it, and reads the notebook's ``results`` dictionary: nothing else.
   ``--save-notebook`` writes the executed notebook back.
3. ``--seeds 1 2 3``: the notebook again with ``SEED`` overridden in its
   ``parameters`` cell, once per seed, so that a target met by one lucky seed
   shows as such (mean and spread beside the notebook's own seed).
4. ``--long``: the notebook with ``PRESET = "gpu"`` (the long budget), with its
   wall time. ``--threads N`` gives the kernels of 2-4 N threads.

Results are merged into ``benchmarks/results/ch2.json``.

Usage::

    python -m benchmarks.bench_ch2 [--skip-throughput] [--skip-notebook] [--save-notebook]
        [--seeds 1 2 3] [--long] [--threads N]
"""

from __future__ import annotations

import argparse
import functools
import inspect
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from ecg_course.metrics import forward_flops_per_beat
from ecg_course.models import LSTMFCN
from ecg_course.precision import lstm_runs_in, resolve_precision
from tools.execute_solutions import CELL_TIMEOUT_S, execute

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "solutions" / "02_mitbih_lstm_fcn.ipynb"
RESULTS = ROOT / "benchmarks" / "results" / "ch2.json"
# Run in the notebook's kernel after the notebook: its results dictionary as JSON.
REPORT_CELL = "import json as _json\nprint(_json.dumps(results, default=float))"
# The targets (this 2-core machine).
TARGETS = {
    "bf16_over_fp32": 2.5,
    "bf16_fraction_of_peak": 0.40,
    "notebook_seconds": 720,
    "seed_one_vs_rest": 0.90,
    "better_accuracy": 0.975,
    "better_macro_f1": 0.87,
    "long_seconds": 2700,
    "long_accuracy": 0.987,
    "long_macro_f1": 0.925,
}


def matmul_peak(dtype: torch.dtype, n: int = 2048, repeats: int = 10) -> float:
    """Matrix-multiply throughput in FLOP/s for ``dtype`` (best of ``repeats``)."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best


LAYOUTS = {"channels-last": True, "plain ConvBlock": False}
"""The timed layouts of the conv blocks: label -> ``LSTMFCN(channels_last=...)``."""
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def default_layout() -> str:
    """The label in ``LAYOUTS`` of the layout that ``LSTMFCN()`` builds."""
    default = inspect.signature(LSTMFCN).parameters["channels_last"].default
    return next(label for label, channels_last in LAYOUTS.items() if channels_last == default)


def timed_precisions() -> tuple[str, ...]:
    """``("fp32", "bf16")``, or ``("fp32",)`` on a CPU that cannot run an LSTM in bf16."""
    return tuple(p for p in DTYPES if lstm_runs_in(resolve_precision(p, "cpu")))


def training_throughput(
    make_model: Callable[[], nn.Module], batch_size: int, precision: str, steps: int = 8
) -> float:
    """Training beats/s on random beats, after 2 warm-up steps (Adam, cross-entropy)."""
    torch.manual_seed(0)
    model = make_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    criterion = nn.CrossEntropyLoss()
    x, y = torch.rand(batch_size, 187), torch.randint(0, 5, (batch_size,))
    chosen = resolve_precision(precision, "cpu")
    model.train()

    def step() -> None:
        with chosen.autocast():
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


def throughput_report(repeats: int = 3) -> dict:
    """Both layouts, fp32 and bf16 side by side; each rate the best of ``repeats`` (interleaved)."""
    precisions = timed_precisions()
    flops_train = 3 * forward_flops_per_beat(LSTMFCN(), 187)
    peaks = {p: matmul_peak(DTYPES[p]) for p in precisions}
    rates: dict[str, dict[str, float]] = {}
    for _ in range(repeats):
        for layout, channels_last in LAYOUTS.items():
            for precision in precisions:
                for batch in (64, 256):
                    key = f"{layout}, {precision}, batch {batch}"
                    make_model = functools.partial(LSTMFCN, channels_last=channels_last)
                    rate = training_throughput(make_model, batch, precision)
                    rates.setdefault(key, {"beats_per_s": 0.0})
                    rates[key]["beats_per_s"] = max(rates[key]["beats_per_s"], rate)
    peaks = {p: max(peaks[p], matmul_peak(DTYPES[p])) for p in precisions}
    for key, row in rates.items():
        precision = "bf16" if ", bf16," in key else "fp32"
        row["fraction_of_peak"] = row["beats_per_s"] * flops_train / peaks[precision]

    def best(layout: str, precision: str) -> float:
        return max(rates[f"{layout}, {precision}, batch {b}"]["beats_per_s"] for b in (64, 256))

    package = default_layout()
    report = {
        "threads": torch.get_num_threads(),
        "default_layout": package,
        "precisions": list(precisions),
        "training_flops_per_beat": flops_train,
        "matmul_peak_gflops": {k: v / 1e9 for k, v in peaks.items()},
        "rates": rates,
        "channels_last_over_plain": {
            p: best("channels-last", p) / best("plain ConvBlock", p) for p in precisions
        },
    }
    if "bf16" in precisions:
        report["bf16_over_fp32"] = best(package, "bf16") / best(package, "fp32")
        report["bf16_fraction_of_peak"] = max(
            rates[f"{package}, bf16, batch {b}"]["fraction_of_peak"] for b in (64, 256)
        )
    return report


def run_notebook(save: bool = False, overrides: dict | None = None) -> dict:
    """Execute the chapter 2 solution notebook; its ``results`` and its wall time."""
    timeout = None if overrides and "PRESET" in overrides else CELL_TIMEOUT_S
    printed, seconds = execute(
        NOTEBOOK, timeout=timeout, extra_cell=REPORT_CELL, save=save, overrides=overrides
    )
    return {**json.loads(printed), "notebook_seconds": seconds, "overrides": overrides or {}}


def _summary(runs: list[dict]) -> dict:
    """Mean, spread (min, max) of the headline numbers over several runs."""
    picks = {
        "seed_min_one_vs_rest": lambda r: min(r["seed"]["one_vs_rest_accuracy"].values()),
        "better_accuracy": lambda r: r["better"]["accuracy"],
        "better_macro_f1": lambda r: r["better"]["macro_f1"],
        "inter_balanced_accuracy": lambda r: r["inter_patient"]["balanced_accuracy"],
        "notebook_seconds": lambda r: r["notebook_seconds"],
    }
    out = {}
    for name, pick in picks.items():
        values = [pick(r) for r in runs]
        out[name] = {"mean": statistics.mean(values), "min": min(values), "max": max(values),
                     "values": values}  # fmt: skip
    return out


def report(results: dict) -> None:
    """Print the targets of the chapter 2 issue beside what was measured."""
    lines = [f"Chapter 2 benchmark ({results['machine']})"]

    def check(name: str, value: float, target: float, sign: str = ">=") -> None:
        met = {">": value > target, ">=": value >= target, "<=": value <= target}[sign]
        lines.append(
            f"  {name:46s} {value:10.4f}   target {sign} {target:<6} {'ok' if met else 'MISSED'}"
        )

    if "throughput" in results:
        t = results["throughput"]
        peaks = ", ".join(f"{k} {v:.0f}" for k, v in t["matmul_peak_gflops"].items())
        lines.append(
            f"  training throughput, {t['threads']} threads (matmul peak GFLOP/s: {peaks}); "
            f"the package's default layout: {t.get('default_layout', 'channels-last')}"
        )
        for key, row in t["rates"].items():
            lines.append(
                f"    {key:40s} {row['beats_per_s']:7.0f} beats/s  "
                f"{row['fraction_of_peak']:.2f} of its dtype's peak"
            )
        if "bf16_over_fp32" in t:
            check("bf16 / fp32 training throughput", t["bf16_over_fp32"],
                  TARGETS["bf16_over_fp32"])  # fmt: skip
            check("bf16 fraction of the bf16 peak", t["bf16_fraction_of_peak"],
                  TARGETS["bf16_fraction_of_peak"])  # fmt: skip
        else:
            lines.append("    bf16 not timed: this CPU has no bfloat16 LSTM kernel")
        for precision, ratio in t.get("channels_last_over_plain", {}).items():
            lines.append(
                f"    channels-last / plain ConvBlock, {precision}: {ratio:.2f}x "
                f"(the plain layout costs {1 - 1 / ratio:.0%} of the throughput)"
            )
    if "notebook" in results:
        _report_run(results["notebook"], "notebook", check, lines)
    if "seeds" in results:
        lines.append(f"  over seeds {results['seeds']['seeds']} (mean [min, max]):")
        for name, s in results["seeds"]["summary"].items():
            lines.append(f"    {name:40s} {s['mean']:.4f} [{s['min']:.4f}, {s['max']:.4f}]")
    if "long" in results:
        _report_run(results["long"], "long", check, lines)
    print("\n".join(lines))


def _report_run(run: dict, label: str, check, lines: list[str]) -> None:
    """The targets of one notebook run (its preset's budget, or the long one)."""
    long = label == "long"
    lines.append(f"  {label} run: preset {run['preset']}, precision {run['precision']}")
    seed = run["seed"]
    for name, accuracy in seed["one_vs_rest_accuracy"].items():
        check(f"seed recipe ({label}): one-vs-rest accuracy {name}", accuracy,
              TARGETS["seed_one_vs_rest"], ">")  # fmt: skip
    lines.append(
        f"    {seed['epochs']} epochs of {seed['training_beats']:,} beats in "
        f"{seed['seconds']:.0f} s, kept epoch {seed['kept_epoch']}; accuracy "
        f"{seed['accuracy']:.3f}, balanced accuracy {seed['balanced_accuracy']:.3f}, "
        f"macro-F1 {seed['macro_f1']:.3f}"
    )
    better = run["better"]
    prefix = "long" if long else "better"
    check(f"better recipe ({label}): accuracy", better["accuracy"], TARGETS[f"{prefix}_accuracy"])
    check(f"better recipe ({label}): macro-F1", better["macro_f1"], TARGETS[f"{prefix}_macro_f1"])
    f1 = {k: round(v, 3) for k, v in better["f1"].items()}
    lines.append(
        f"    beats drawn {better['beats_drawn']:,} in {better['seconds']:.0f} s, kept epoch "
        f"{better['kept_epoch']}; balanced accuracy {better['balanced_accuracy']:.3f}; F1 {f1}"
    )
    inter = run["inter_patient"]
    recall = {k: round(v, 3) for k, v in inter["recall"].items()}
    lines.append(
        f"    inter-patient recall {recall}, balanced accuracy "
        f"{inter['balanced_accuracy']:.3f}, kept epoch {inter['kept_epoch']}"
    )
    check(f"{label} wall time (s)", run["notebook_seconds"],
          TARGETS["long_seconds" if long else "notebook_seconds"], "<=")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--long", action="store_true", help='also run PRESET="gpu" (45 min)')
    parser.add_argument("--seeds", type=int, nargs="+", help="also run the notebook per SEED")
    parser.add_argument("--threads", type=int, help="torch threads of the notebook kernels")
    parser.add_argument("--skip-notebook", action="store_true", help="do not run the notebook")
    parser.add_argument("--skip-throughput", action="store_true", help="no throughput timing")
    parser.add_argument(
        "--save-notebook", action="store_true", help="write the executed notebook back"
    )
    args = parser.parse_args()
    if args.threads:  # the kernels are child processes: they read the variable
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
    results: dict = {
        "machine": f"{platform.processor() or platform.machine()}, torch {torch.__version__}"
    }

    def save() -> None:  # after every part: a long run may be stopped midway
        previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps({**previous, **results}, indent=1, default=float) + "\n")

    if not args.skip_throughput:
        results["throughput"] = throughput_report()
        save()
    if not args.skip_notebook:
        results["notebook"] = run_notebook(save=args.save_notebook)
        save()
    if args.seeds:
        runs = [run_notebook(overrides={"SEED": seed}) for seed in args.seeds]
        results["seeds"] = {"seeds": args.seeds, "runs": runs, "summary": _summary(runs)}
        save()
    if args.long:
        results["long"] = run_notebook(overrides={"PRESET": "gpu"})
        save()
    report({**(json.loads(RESULTS.read_text()) if RESULTS.exists() else {}), **results})
    print(f"written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
