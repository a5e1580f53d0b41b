"""R-peak detection benchmark: ``ecg_course.detection`` scored on the MIT-BIH records.

For each of the 44 non-paced records (the 48 minus ``mitbih.PACED``) it detects the R
peaks of the MLII lead at 360 Hz (``detection.detect_record``), scores them against the
annotated beats (``detection.reference_peaks``; 150 ms window, ``score_detections``) and
records TP, FP, FN, sensitivity (Se), positive predictivity (+P), the median and 95th
percentile of ``|detection - annotation|`` (ms) over matched beats, and the seconds the
detection took. Then the gross totals over the records run, against the issue's targets
(gross Se and +P at least 99.5 %; Pan & Tompkins 1985 reported 99.3 %).

``benchmarks/results/detection.json`` is rewritten after every record, so an interrupted
run leaves the records it finished. Needs the data (``ECG_COURSE_DATA`` or internet).

Usage::

    python -m benchmarks.bench_detection [--records 100 103 ...]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

from ecg_course import detection, mitbih

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "detection.json"
NON_PACED: tuple[str, ...] = tuple(r for r in mitbih.RECORDS if r not in mitbih.PACED)
TARGETS = {"sensitivity": 0.995, "positive_predictivity": 0.995}
"""Gross Se and +P over the 44 non-paced records (the issue's targets)."""


def offsets_ms(
    reference: np.ndarray, peaks: np.ndarray, matched: np.ndarray, fs: float
) -> np.ndarray:
    """``detection - annotation`` of every matched beat (ms), ``(n_matched,)``."""
    hit = matched >= 0
    return (peaks[matched[hit]] - reference[hit]) * 1000.0 / fs


def run_record(record: str) -> tuple[dict, np.ndarray]:
    """One record's row of the table and its signed offsets (ms)."""
    start = time.perf_counter()
    signal, peaks = detection.detect_record(record)
    seconds = time.perf_counter() - start
    reference = detection.reference_peaks(mitbih.read_record(record)[1])
    score = detection.score_detections(reference, peaks, mitbih.SOURCE_FS)
    offsets = offsets_ms(reference, peaks, score.matched, mitbih.SOURCE_FS)
    absolute = np.abs(offsets)
    row = {
        "record": record,
        "reference_beats": len(reference),
        "detections": len(peaks),
        "tp": score.tp,
        "fp": score.fp,
        "fn": score.fn,
        "sensitivity": score.sensitivity,
        "positive_predictivity": score.positive_predictivity,
        "offset_ms_median": float(np.median(absolute)) if len(absolute) else None,
        "offset_ms_p95": float(np.percentile(absolute, 95)) if len(absolute) else None,
        "seconds": seconds,
        "signal_seconds": len(signal) / mitbih.SOURCE_FS,
    }
    return row, offsets


def totals(rows: list[dict], offsets: list[np.ndarray]) -> dict:
    """Gross counts, Se, +P and offset statistics over ``rows``."""
    tp, fp, fn = (sum(row[key] for row in rows) for key in ("tp", "fp", "fn"))
    absolute = np.abs(np.concatenate(offsets)) if offsets else np.zeros(0)
    return {
        "records": len(rows),
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "sensitivity": tp / (tp + fn) if tp + fn else float("nan"),
        "positive_predictivity": tp / (tp + fp) if tp + fp else float("nan"),
        "offset_ms_median": float(np.median(absolute)) if len(absolute) else None,
        "offset_ms_p95": float(np.percentile(absolute, 95)) if len(absolute) else None,
        "offset_ms_signed_median": float(np.median(np.concatenate(offsets))) if offsets else None,
        "seconds": sum(row["seconds"] for row in rows),
    }


def write(records: list[str], rows: list[dict], offsets: list[np.ndarray]) -> dict:
    """Rewrite the results file with the rows so far; return the totals."""
    gross = totals(rows, offsets)
    results = {
        "machine": {"platform": platform.platform()},
        "detector": "ecg_course.detection.detect_r_peaks (gqrs + correct_peaks + "
        "refractory + T-wave check)",
        "match_window_s": detection.MATCH_WINDOW_S,
        "records_requested": records,
        "complete": len(rows) == len(records),
        "targets": TARGETS,
        "gross": gross,
        "per_record": rows,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    partial = RESULTS.with_suffix(".json.tmp")
    partial.write_text(json.dumps(results, indent=2))
    partial.replace(RESULTS)
    return gross


def _pct(value: float) -> str:
    return f"{100 * value:7.3f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", nargs="+", default=list(NON_PACED),
                        help="MIT-BIH records (default: the 44 non-paced ones)")  # fmt: skip
    args, others = parser.parse_known_args()  # tasks.py bench passes every script the same
    if others:
        print(f"(bench_detection ignores {' '.join(others)})")
    records = [str(r) for r in args.records]
    for record in records:
        if record not in mitbih.RECORDS:
            parser.error(f"unknown record {record!r}; valid: {', '.join(mitbih.RECORDS)}")
    print(
        f"R-peak detection on MLII at {mitbih.SOURCE_FS} Hz, {len(records)} records, "
        f"match window {detection.MATCH_WINDOW_S * 1000:.0f} ms"
    )
    print(
        f"{'record':>6} {'beats':>6} {'TP':>6} {'FP':>5} {'FN':>5} {'Se %':>7} {'+P %':>7} "
        f"{'|dt| med':>8} {'p95 ms':>7} {'s':>5}"
    )
    rows: list[dict] = []
    offsets: list[np.ndarray] = []
    for record in records:
        row, record_offsets = run_record(record)
        rows.append(row)
        offsets.append(record_offsets)
        write(records, rows, offsets)
        median = row["offset_ms_median"] if row["offset_ms_median"] is not None else float("nan")
        p95 = row["offset_ms_p95"] if row["offset_ms_p95"] is not None else float("nan")
        print(
            f"{record:>6} {row['reference_beats']:6d} {row['tp']:6d} {row['fp']:5d} "
            f"{row['fn']:5d} {_pct(row['sensitivity'])} {_pct(row['positive_predictivity'])} "
            f"{median:8.1f} {p95:7.1f} {row['seconds']:5.1f}",
            flush=True,
        )
    gross = write(records, rows, offsets)
    print(
        f" gross {gross['tp'] + gross['fn']:6d} {gross['tp']:6d} {gross['fp']:5d} "
        f"{gross['fn']:5d} {_pct(gross['sensitivity'])} {_pct(gross['positive_predictivity'])} "
        f"{gross['offset_ms_median']:8.1f} {gross['offset_ms_p95']:7.1f} {gross['seconds']:5.0f}"
    )
    worst = sorted(rows, key=lambda row: -(row["fp"] + row["fn"]))[:5]
    print(
        "worst records (FP + FN): "
        + ", ".join(f"{row['record']} ({row['fp']} FP, {row['fn']} FN)" for row in worst)
    )
    print(
        f"offset |detection - annotation| over {gross['tp']:,} matched beats: median "
        f"{gross['offset_ms_median']:.1f} ms, 95th percentile {gross['offset_ms_p95']:.1f} ms "
        f"(signed median {gross['offset_ms_signed_median']:+.1f} ms); detection took "
        f"{gross['seconds']:.0f} s in all, {gross['seconds'] / len(rows):.1f} s per record "
        "(a shared machine: rough)"
    )
    met = True
    full = sorted(records) == sorted(NON_PACED)
    for key, target in TARGETS.items():
        ok = gross[key] >= target
        met &= ok
        print(
            f"target gross {key.replace('_', ' ')} >= {100 * target:.1f} %: "
            f"{100 * gross[key]:.3f} % {'ok' if ok else 'MISSED'}"
            + ("" if full else " (not the 44 non-paced records: indicative only)")
        )
    print(f"Written to {RESULTS.relative_to(ROOT)}")
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
