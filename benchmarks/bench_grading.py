"""Grading benchmark: the whole synthetic class of every chapter, and 40 of chapter 1.

1. For each chapter, writes the synthetic class of ``tests/grading_class.py`` (the
   official solution, the valid alternatives, an untouched notebook, wrong answers,
   the bad and the cheating submissions of issue 26) and grades it with
   ``python -m ecg_course.grade``'s own function at ``--jobs 2``. The gradebook must
   equal the expected points (and statuses and messages) exactly.
2. Times: per chapter, the reference run (the official solution, alone on the
   machine: the time one submission takes) and every submission's seconds at
   ``--jobs 2``. Target: <= 60 s per submission at the grading preset.
3. Grades 40 submissions of chapter 1 (the class, cycled) at ``--jobs 2``. Target:
   <= 15 minutes, reference run included.

Writes ``benchmarks/results/grading.json`` after each step (a long run can be read
while it goes), prints a summary, and exits 1 when a target or a gradebook is missed::

    python -m benchmarks.bench_grading              # everything (about 30 minutes)
    python -m benchmarks.bench_grading --chapters 1 --skip-forty
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from ecg_course.grade import grade_folder, grade_one
from ecg_course.grading.exercises import NOTEBOOKS, course_root
from tests.grading_class import mismatches, synthetic_class, write_class

RESULTS = Path(__file__).resolve().parent / "results" / "grading.json"
TARGET_PER_SUBMISSION_S = 60
TARGET_FORTY_S = 15 * 60


def _grade(chapter: int, folder: Path, out: Path) -> tuple[list, float]:
    start = time.perf_counter()
    rows = grade_folder(folder, chapter, out, jobs=2)
    return rows, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chapters", type=int, nargs="*", default=sorted(NOTEBOOKS))
    parser.add_argument("--skip-forty", action="store_true")
    args = parser.parse_args(argv)
    report: dict = {"chapters": {}}
    failed = []
    work = Path(tempfile.mkdtemp(prefix="bench-grading-"))
    try:
        for chapter in args.chapters:
            folder = work / f"chapter{chapter}"
            submissions = write_class(chapter, folder)
            rows, seconds = _grade(chapter, folder, work / f"grades{chapter}.csv")
            problems = mismatches(submissions, rows)
            per = {name: outcome["seconds"] for name, outcome in rows}
            solo = _reference_seconds(chapter, work)
            report["chapters"][chapter] = {
                "submissions": len(submissions),
                "gradebook_mismatches": problems,
                "wall_s_jobs2": round(seconds, 1),
                "reference_alone_s": solo,
                "per_submission_jobs2_median_s": statistics.median(per.values()),
                "per_submission_jobs2_max_s": max(per.values()),
                "slowest": max(per, key=per.get),
                "per_submission_s": per,
            }
            _save(report)
            if problems:
                failed.append(f"chapter {chapter}: {len(problems)} gradebook mismatches")
            if solo > TARGET_PER_SUBMISSION_S:
                failed.append(f"chapter {chapter}: {solo:.0f} s per submission")
        if not args.skip_forty:
            folder = work / "forty"
            folder.mkdir()
            names = [s.name for s in synthetic_class(1)]
            source = work / "chapter1-forty-source"
            write_class(1, source)
            for i in range(40):
                name = names[i % len(names)]
                shutil.copyfile(source / f"{name}.ipynb", folder / f"{i:02d}-{name}.ipynb")
            rows, seconds = _grade(1, folder, work / "forty.csv")
            report["forty_chapter1"] = {"wall_s_jobs2": round(seconds, 1), "rows": len(rows)}
            _save(report)
            if seconds > TARGET_FORTY_S:
                failed.append(f"40 submissions of chapter 1 took {seconds:.0f} s")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _print(report, failed)
    return 1 if failed else 0


def _reference_seconds(chapter: int, work: Path) -> float:
    """Seconds of one submission alone on the machine: the official answers, graded with
    every core (as ``--jobs 1`` grades)."""
    folder = work / f"alone{chapter}"
    write_class(chapter, folder, {"official"})
    outcome = grade_one(folder / "official.ipynb", chapter, course_root(), threads=os.cpu_count())
    return outcome["seconds"]


def _save(report: dict) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=1) + "\n")


def _print(report: dict, failed: list[str]) -> None:
    for chapter, r in report["chapters"].items():
        print(
            f"chapter {chapter}: {r['submissions']} submissions, gradebook "
            f"{'exact' if not r['gradebook_mismatches'] else 'MISMATCHED'}; one submission "
            f"alone {r['reference_alone_s']:.0f} s (target <= {TARGET_PER_SUBMISSION_S}); at "
            f"--jobs 2 median {r['per_submission_jobs2_median_s']:.0f} s, max "
            f"{r['per_submission_jobs2_max_s']:.0f} s ({r['slowest']}), class in "
            f"{r['wall_s_jobs2']:.0f} s"
        )
        for problem in r["gradebook_mismatches"]:
            print("  MISMATCH", problem)
    if "forty_chapter1" in report:
        seconds = report["forty_chapter1"]["wall_s_jobs2"]
        print(f"40 submissions of chapter 1 at --jobs 2: {seconds:.0f} s "
              f"(target <= {TARGET_FORTY_S})")
    print("FAIL: " + "; ".join(failed) if failed else "PASS")


if __name__ == "__main__":
    sys.exit(main())
