"""Grade one submission: rebuild it, run it, read its grading cells (one process each).

``python -m ecg_course.grading.submission`` is what :mod:`ecg_course.grade` starts,
inside the sandbox (:mod:`ecg_course.grading.sandbox`), once per submission, in the
submission's own working folder. It writes its result as JSON to the file
descriptor ``--result-fd`` (a pipe the kernel it starts does not inherit), never to
a file the submission's code could write first.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

from ecg_course.grading.exercises import Exercise
from ecg_course.grading.rebuild import prepare, results

CELL_TIMEOUT_S = 120
"""Seconds one cell may run before it is interrupted (the solution's longest cell at the
grading preset takes about 20 s on 2 cores)."""


def _error_of(cell: nbformat.NotebookNode) -> str | None:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            if output.get("ename") == "KeyboardInterrupt":
                return "was stopped: it ran past the per-cell time limit"
            return f"raised {output.get('ename')}: {output.get('evalue', '')}".strip()
    return None


def _message(exercise: Exercise, executed: nbformat.NotebookNode, result: dict | None) -> str:
    """The gradebook's message for ``exercise``: the checker's, after what went wrong
    before it (the answer cell's own error, or the first failing cell since the last
    exercise)."""
    by_id = {c.get("id"): c for c in executed.cells}
    answer_error = _error_of(by_id[exercise.answer_cell]) if exercise.answer_cell in by_id else None
    parts = []
    if answer_error:
        parts.append(f"the answer cell {answer_error}")
    if result is not None:
        parts.append(result["message"])
    else:
        grading = by_id.get(f"grade-{exercise.name}")
        grading_error = _error_of(grading) if grading is not None else None
        parts.append(f"not graded: the grading cell {grading_error or 'did not run'}")
    return "; ".join(parts)


def grade_submission(
    path: Path, chapter: int, course: Path, cell_timeout: int = CELL_TIMEOUT_S
) -> dict:
    """Grade ``path`` against chapter ``chapter``; return ``{"status", "exercises"}``,
    ``exercises`` mapping each exercise to ``{"score", "possible", "message"}``."""
    prepared = prepare(path, chapter, course)
    zero = {
        e.name: {"score": 0, "possible": e.points, "message": prepared.notes.get(e.name, "")}
        for e in prepared.exercises
    }
    if prepared.notebook is None:
        for row in zero.values():
            row["message"] = row["message"] or prepared.status
        return {"status": prepared.status, "exercises": zero}

    notebook = prepared.notebook
    client = NotebookClient(
        notebook,
        timeout=cell_timeout,
        interrupt_on_timeout=True,
        allow_errors=True,
        kernel_name="python3",
        resources={"metadata": {"path": os.getcwd()}},
    )
    status = ""
    try:
        client.execute()
    except DeadKernelError:
        ran = [c for c in notebook.cells if c.get("outputs") or c.get("execution_count")]
        status = f"the kernel died (out of memory, or a crash) after cell {len(ran)}"
    except Exception as error:  # a timeout the kernel ignored, a cell nbclient cannot run
        status = f"stopped: {type(error).__name__}: {str(error).strip()[:200]}"
    found = results(notebook, prepared.exercises)
    graded = {}
    for exercise in prepared.exercises:
        result = found[exercise.name]
        score = result["score"] if result is not None else 0
        message = prepared.notes.get(exercise.name) or _message(exercise, notebook, result)
        graded[exercise.name] = {"score": score, "possible": exercise.points, "message": message}
    return {"status": status, "exercises": graded}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("submission", type=Path)
    parser.add_argument("--chapter", type=int, required=True)
    parser.add_argument("--course", type=Path, required=True)
    parser.add_argument("--cell-timeout", type=int, default=CELL_TIMEOUT_S)
    parser.add_argument("--result-fd", type=int, required=True)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    outcome = grade_submission(args.submission, args.chapter, args.course, args.cell_timeout)
    outcome["seconds"] = round(time.perf_counter() - start, 1)
    with os.fdopen(args.result_fd, "w") as channel:
        json.dump(outcome, channel)


if __name__ == "__main__":
    main()
