"""Grade a folder of submitted exercise notebooks into a gradebook CSV.

Usage (from the course repository, with ``pip install "ecg_course[grading]"``)::

    python -m ecg_course.grade --chapter 2 submissions/ --out grades.csv --jobs 2

Every ``*.ipynb`` in the folder is one submission. First the official solution is
graded (the *reference run*: it must score full marks, and it fills the data cache);
then each submission is rebuilt on the solution (:mod:`ecg_course.grading.rebuild`),
run at the grading preset in its own sandboxed process and folder
(:mod:`ecg_course.grading.sandbox`), and scored by the course's checkers through
Otter-Grader's test files (``ecg_course/grading/tests/``). The CSV has one row per
submission: its file, a status (empty when it ran), per exercise its points and the
checker's message, the total and the seconds it took. Nothing in the submissions
folder is written to; working folders are temporary.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
from tqdm.auto import tqdm

from ecg_course.grading.exercises import NOTEBOOKS, POINTS, course_root, find_exercises
from ecg_course.grading.sandbox import MEMORY_LIMIT_GB, child_environment, start, why_not_isolated
from ecg_course.grading.submission import CELL_TIMEOUT_S

SUBMISSION_TIMEOUT_S = 900
"""Seconds a whole submission may take before it is stopped (the solution takes under a
minute at the grading preset)."""


def grade_one(
    path: Path,
    chapter: int,
    course: Path,
    *,
    threads: int = 1,
    cell_timeout: int = CELL_TIMEOUT_S,
    timeout: int = SUBMISSION_TIMEOUT_S,
    memory_gb: float = MEMORY_LIMIT_GB,
    reference: bool = False,
) -> dict:
    """Grade ``path`` in its own sandboxed process and temporary folder.

    Returns ``{"status", "exercises", "seconds"}`` as
    :func:`ecg_course.grading.submission.grade_submission` does, with the status saying
    why when the process failed or ran past ``timeout`` seconds. ``reference``: leave
    the data cache writable (the official solution's run fills it).
    """
    from ecg_course.sources import cache_dir

    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    start_time = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="ecg-course-grade-"))
    try:
        submission = workdir / "submission.ipynb"
        shutil.copyfile(path, submission)
        read_end, write_end = os.pipe()
        argv = [
            sys.executable,
            "-m",
            "ecg_course.grading.submission",
            str(submission),
            "--chapter",
            str(chapter),
            "--course",
            str(course.resolve()),
            "--cell-timeout",
            str(cell_timeout),
            "--result-fd",
            str(write_end),
        ]
        process = start(
            argv,
            workdir,
            writable=cache if reference else None,
            memory_gb=memory_gb,
            env=child_environment(workdir, threads, cache),
            pass_fds=(write_end,),
        )
        os.close(write_end)
        with os.fdopen(read_end) as channel:
            try:
                log, _ = process.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)
                process.communicate()
                return _failed(
                    chapter, f"stopped after {timeout} s (the whole-submission limit)", start_time
                )
            text = channel.read()
        if not text:
            tail = log.decode(errors="replace").strip().splitlines()[-3:]
            return _failed(
                chapter,
                f"the grading process failed (exit {process.returncode}): " + " / ".join(tail),
                start_time,
            )
        outcome = json.loads(text)
        outcome["seconds"] = round(time.perf_counter() - start_time, 1)
        return outcome
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _failed(chapter: int, status: str, start_time: float) -> dict:
    exercises = {
        name: {"score": 0, "possible": points, "message": status}
        for name, points in POINTS[chapter].items()
    }
    return {
        "status": status,
        "exercises": exercises,
        "seconds": round(time.perf_counter() - start_time, 1),
    }


def write_gradebook(rows: list[tuple[str, dict]], exercises: list[str], out: Path) -> None:
    """One CSV row per ``(submission name, outcome)``; a points and a message column per
    exercise, then the total, the possible total and the seconds."""
    with open(out, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        header = ["submission", "status"]
        for name in exercises:
            header += [f"{name} points", f"{name} message"]
        writer.writerow([*header, "total", "possible", "seconds"])
        for submission, outcome in rows:
            row = [submission, outcome["status"]]
            for name in exercises:
                result = outcome["exercises"][name]
                row += [result["score"], result["message"]]
            total = sum(outcome["exercises"][name]["score"] for name in exercises)
            possible = sum(outcome["exercises"][name]["possible"] for name in exercises)
            writer.writerow([*row, total, possible, outcome["seconds"]])


def grade_folder(
    folder: Path,
    chapter: int,
    out: Path,
    *,
    course: Path | None = None,
    jobs: int = 1,
    cell_timeout: int = CELL_TIMEOUT_S,
    timeout: int = SUBMISSION_TIMEOUT_S,
    memory_gb: float = MEMORY_LIMIT_GB,
) -> list[tuple[str, dict]]:
    """Grade every ``*.ipynb`` in ``folder`` into the CSV ``out``; return the rows."""
    course = course_root(course)
    submissions = sorted(folder.glob("*.ipynb"))
    if not submissions:
        raise SystemExit(f"no *.ipynb in {folder}: nothing to grade.")
    if out.resolve().parent == folder.resolve():
        raise SystemExit(f"--out {out} is inside the submissions folder: write it elsewhere.")
    problem = why_not_isolated()
    if problem:
        print(
            f"warning: submissions are not isolated from the network and the file system "
            f"({problem}); each still runs in its own process and folder.",
            file=sys.stderr,
        )
    solution = nbformat.read(course / "solutions" / NOTEBOOKS[chapter], as_version=4)
    names = [e.name for e in find_exercises(solution, chapter)]
    threads = max(1, (os.cpu_count() or 1) // jobs)
    options = {"cell_timeout": cell_timeout, "timeout": timeout, "memory_gb": memory_gb}

    print(f"reference run: the official solution of chapter {chapter}", file=sys.stderr)
    reference = grade_one(
        course / "solutions" / NOTEBOOKS[chapter],
        chapter,
        course,
        threads=os.cpu_count() or 1,
        reference=True,
        **options,
    )
    short = {
        n: r["message"] for n, r in reference["exercises"].items() if r["score"] != r["possible"]
    }
    if short:
        raise SystemExit(
            f"the official solution does not score full marks here, so no "
            f"submission is graded: {reference['status'] or short}"
        )

    def grade(path: Path) -> dict:
        return grade_one(path, chapter, course, threads=threads, **options)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        outcomes = list(
            tqdm(
                pool.map(grade, submissions),
                total=len(submissions),
                desc=f"grading chapter {chapter}",
                unit="submission",
            )
        )
    rows = [(path.name, outcome) for path, outcome in zip(submissions, outcomes, strict=True)]
    write_gradebook(rows, names, out)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m ecg_course.grade", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("submissions", type=Path, help="folder of submitted .ipynb files")
    parser.add_argument("--chapter", type=int, required=True, choices=sorted(NOTEBOOKS))
    parser.add_argument("--out", type=Path, required=True, help="gradebook CSV to write")
    parser.add_argument("--jobs", type=int, default=1, help="submissions graded at once")
    parser.add_argument("--course", type=Path, help="course repository (default: found)")
    parser.add_argument(
        "--cell-timeout", type=int, default=CELL_TIMEOUT_S, help="seconds a cell may run"
    )
    parser.add_argument(
        "--timeout",
        type=int,
        default=SUBMISSION_TIMEOUT_S,
        help="seconds a whole submission may run",
    )
    parser.add_argument(
        "--memory-gb", type=float, default=MEMORY_LIMIT_GB, help="memory limit of a submission"
    )
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    rows = grade_folder(
        args.submissions,
        args.chapter,
        args.out,
        course=args.course,
        jobs=args.jobs,
        cell_timeout=args.cell_timeout,
        timeout=args.timeout,
        memory_gb=args.memory_gb,
    )
    print(f"{len(rows)} submissions graded into {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
