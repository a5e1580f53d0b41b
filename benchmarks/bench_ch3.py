"""Chapter 3 benchmark: the beats of new patients (DS1 -> DS2), against the published rows.

Runs the chapter 3 solution notebook itself (``solutions/03_new_patients.ipynb``) once per
seed, timing it, and reads the notebook's ``results`` dictionary: nothing else. Claim
cells are skipped (``skip_tags={"claim"}``), so that a seed below the claims still
reports its numbers. Reports, per seed and as mean [min, max] over the seeds, the AAMI
numbers of the LSTM-FCN with rhythm on DS2 against the targets of the issue:

* beat de Chazal et al. 2004 on every one of Se S (0.76), Se V (0.77), +P S (0.38) and
  +P V (0.82), with a balanced accuracy over N, S, V, F of at least 0.78;
* the moonshot: Se S >= 0.85 with +P S >= 0.50;
* the notebook in at most 12 minutes on this machine.

R-peak detection has its own benchmark, ``python -m benchmarks.bench_detection``.
Results are written to ``benchmarks/results/ch3.json`` after every seed. Needs the data
(``ECG_COURSE_DATA`` or internet). Usage:
``python -m benchmarks.bench_ch3 [--seeds 1 2 3] [--preset auto] [--save-notebook]``
(``--save-notebook`` runs the notebook as committed, seed 42, claims included, and
saves its outputs).
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import numpy as np

from ecg_course import aami
from tools.execute_solutions import execute

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "solutions" / "03_new_patients.ipynb"
RESULTS = ROOT / "benchmarks" / "results" / "ch3.json"
REPORT_CELL = "import json as _json\nprint(_json.dumps(results, default=float))"
DE_CHAZAL = aami.PUBLISHED.iloc[0]
"""The row to beat: de Chazal et al. 2004."""
TARGETS = {
    "Se S": DE_CHAZAL["Se S"],
    "Se V": DE_CHAZAL["Se V"],
    "+P S": DE_CHAZAL["+P S"],
    "+P V": DE_CHAZAL["+P V"],
    "balanced accuracy": 0.78,
}
MOONSHOT = {"Se S": 0.85, "+P S": 0.50}
MAX_NOTEBOOK_SECONDS = 12 * 60


def run_notebook(seed: int | None, preset: str, save: bool) -> dict:
    """Execute the notebook (``seed=None``: as committed); its ``results`` and wall time."""
    overrides = {} if seed is None else {"SEED": seed}
    if preset != "auto":
        overrides["PRESET"] = preset
    printed, seconds = execute(
        NOTEBOOK,
        extra_cell=REPORT_CELL,
        save=save,
        overrides=overrides or None,
        skip_tags=() if save else {"claim"},
    )
    results = json.loads(printed)
    return {"notebook_seconds": seconds, **results}


def headline(run: dict) -> dict[str, float]:
    """The numbers the targets are about, from one run's ``results``."""
    model = run["model"]
    return {
        "Se N": model["Se"]["N"],
        "Se S": model["Se"]["S"],
        "Se V": model["Se"]["V"],
        "Se F": model["Se"]["F"],
        "+P S": model["+P"]["S"],
        "+P V": model["+P"]["V"],
        "+P F": model["+P"]["F"],
        "balanced accuracy": model["balanced_accuracy"],
        "beat-only Se S": run["beat_model"]["Se"]["S"],
        "beat-only balanced accuracy": run["beat_model"]["balanced_accuracy"],
        "rhythm-only Se S": run["rhythm_only"]["Se"]["S"],
        "rhythm-only +P S": run["rhythm_only"]["+P"]["S"],
        "record detection Se": run["record"]["detection_se"],
        "record detection +P": run["record"]["detection_ppv"],
        "training seconds": model["seconds"],
        "notebook seconds": run["notebook_seconds"],
    }


def report(results: dict) -> None:
    lines = [f"Chapter 3 benchmark ({results['machine']}), preset {results['preset']}"]
    runs = results["runs"]
    for run in runs:
        h = headline(run)
        lines.append(
            f"  seed {run['seed']}: "
            + ", ".join(f"{k} {v:.3f}" for k, v in h.items() if "seconds" not in k)
            + f"; kept epochs {run['model']['kept_epochs']},"
            f" training {h['training seconds']:.0f} s, notebook {h['notebook seconds']:.0f} s"
        )
    table = {k: [headline(r)[k] for r in runs] for k in headline(runs[0])}
    lines.append(f"  over seeds {[r['seed'] for r in runs]} (mean [min, max]):")
    for name, values in table.items():
        lines.append(f"    {name:24s} {np.mean(values):.3f} [{min(values):.3f}, {max(values):.3f}]")
    for name, target in TARGETS.items():
        worst = min(table[name])
        verdict = "ok" if worst >= target else "MISSED"
        source = "the issue" if name == "balanced accuracy" else "de Chazal 2004"
        lines.append(
            f"  target {name} >= {target:.2f} ({source}; every seed): lowest "
            f"{worst:.3f}, mean {np.mean(table[name]):.3f}  {verdict}"
        )
    moon = all(min(table[k]) >= v for k, v in MOONSHOT.items())
    lines.append(
        f"  moonshot Se S >= 0.85 and +P S >= 0.50: Se S mean {np.mean(table['Se S']):.3f}, "
        f"+P S mean {np.mean(table['+P S']):.3f}  {'ok' if moon else 'not reached'}"
    )
    slowest = max(table["notebook seconds"])
    lines.append(
        f"  notebook <= {MAX_NOTEBOOK_SECONDS} s: slowest {slowest:.0f} s  "
        f"{'ok' if slowest <= MAX_NOTEBOOK_SECONDS else 'MISSED'}"
    )
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--preset", default="auto")
    parser.add_argument("--save-notebook", action="store_true")
    args = parser.parse_args()
    results: dict = {"machine": platform.processor() or platform.machine(), "runs": []}
    seeds = [None] if args.save_notebook else args.seeds
    for seed in seeds:
        run = run_notebook(seed, args.preset, save=args.save_notebook)
        results["preset"] = run["preset"]
        results["runs"].append(run)
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=1, default=float) + "\n")
    report(results)


if __name__ == "__main__":
    main()
