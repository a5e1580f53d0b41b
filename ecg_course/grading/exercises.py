"""What is graded: each chapter's notebook, its exercises and their points (one owner).

An exercise is found in the solution notebook, never listed by hand: its *answer
cell* is a code cell with a ``### BEGIN SOLUTION`` region, and its *checker call*
is the first ``checks.check_<name>(...)`` statement outside a solution region, in
that cell or a later one. The exercise is called ``<name>`` (``check_split`` ->
``split``), and :data:`POINTS` gives its points.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

NOTEBOOKS: dict[int, str] = {
    1: "01_ecg5000_lstm.ipynb",
    2: "02_mitbih_lstm_fcn.ipynb",
    3: "03_new_patients.ipynb",
}
"""File name of each chapter's notebook (the same in ``solutions/`` and ``notebooks/``)."""

POINTS: dict[int, dict[str, int]] = {
    1: {"split": 2, "run_epoch": 3, "loss_plot": 1, "test_metrics": 2, "early_auc": 2},
    2: {
        "undersampling": 2,
        "lstm_fcn_output": 1,
        "batched_inference": 2,
        "per_class_table": 2,
        "endpoint_client": 3,
    },
    3: {"rr_features": 3, "aami_table": 3, "beat_matching": 4},
}
"""Points of each exercise, per chapter: the one place they are stated."""

GRADING_PRESET = "smoke"
"""The budget preset grading runs at: the smallest one, a few batches per training run.

Every checker recomputes its reference from the submission's own model and data, so
it decides as well at this budget as at full strength; ``tests/test_grading.py``
grades the official solution and the answer library's wrong answers at it.
"""

SKIPPED_TAGS = ("claim", "not-graded")
"""Cells with these tags do not run when grading: ``claim`` cells assert accuracy
(meaningless at the grading preset); ``not-graded`` cells (timings, figures) feed no
exercise and would only cost time."""

_BEGIN = re.compile(r"^[ \t]*### BEGIN SOLUTION")
_END = re.compile(r"^[ \t]*### END SOLUTION")


@dataclass(frozen=True)
class Exercise:
    """One graded exercise of a chapter, as the solution notebook holds it."""

    name: str
    """``split``, ``run_epoch``, ...: the checker's name without ``check_``."""
    answer_cell: str
    """Cell id of the answer cell (the one with the ``### BEGIN SOLUTION`` region)."""
    check_cell: str
    """Cell id of the cell holding the checker call (may be the answer cell)."""
    call: str
    """The checker call's source, e.g. ``checks.check_split(X_train, ...)``."""
    points: int


def outside_regions(source: str) -> str:
    """``source`` with every solution region (markers included) blanked, line numbers kept."""
    lines, inside = [], False
    for line in source.splitlines():
        if _BEGIN.match(line):
            inside = True
        lines.append("" if inside else line)
        if _END.match(line):
            inside = False
    return "\n".join(lines)


def checker_call(statement: ast.stmt) -> ast.Call | None:
    """The call of ``statement`` when it is a plain ``checks.check_<name>(...)``, else None."""
    call = statement.value if isinstance(statement, ast.Expr) else None
    if (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Attribute)
        and isinstance(call.func.value, ast.Name)
        and call.func.value.id == "checks"
        and call.func.attr.startswith("check_")
    ):
        return call
    return None


def checker_calls(source: str) -> list[tuple[str, str]]:
    """``(name, call source)`` of each ``checks.check_<name>(...)`` statement in ``source``
    (solution regions excluded), in order."""
    try:
        tree = ast.parse(outside_regions(source))
    except SyntaxError:
        return []
    text = outside_regions(source)
    calls = []
    for node in tree.body:
        call = checker_call(node)
        if call is not None:
            name = call.func.attr.removeprefix("check_")
            calls.append((name, ast.get_source_segment(text, call)))
    return calls


def has_region(source: str) -> bool:
    return any(_BEGIN.match(line) for line in source.splitlines())


def find_exercises(solution: nbformat.NotebookNode, chapter: int) -> list[Exercise]:
    """The exercises of ``solution`` (chapter ``chapter``'s solution notebook), in order.

    Raises ``ValueError`` when an answer cell has no checker call after it, or when an
    exercise has no entry in :data:`POINTS` (or an entry names no exercise).
    """
    exercises: list[Exercise] = []
    pending: str | None = None
    for cell in solution.cells:
        if cell.cell_type != "code":
            continue
        if has_region(cell.source):
            if pending is not None:
                raise ValueError(f"answer cell {pending} has no checker call before the next one")
            pending = cell.id
        calls = checker_calls(cell.source)
        if pending is not None and calls:
            name, call = calls[0]
            points = POINTS[chapter].get(name)
            if points is None:
                raise ValueError(f"exercise {name!r} of chapter {chapter} has no points in POINTS")
            exercises.append(Exercise(name, pending, cell.id, call, points))
            pending = None
    if pending is not None:
        raise ValueError(f"answer cell {pending} has no checker call after it")
    unknown = set(POINTS[chapter]) - {e.name for e in exercises}
    if unknown:
        raise ValueError(f"POINTS names exercises chapter {chapter} does not have: {unknown}")
    return exercises


def course_root(start: Path | None = None) -> Path:
    """The course folder (the one holding ``solutions/`` and ``notebooks/``): ``start``,
    or the first of the current folder, its parents, and the package's own parent."""
    here = Path(__file__).resolve().parents[2]
    candidates = [start] if start is not None else [Path.cwd(), *Path.cwd().parents, here]
    for folder in candidates:
        if all((folder / sub / NOTEBOOKS[1]).is_file() for sub in ("solutions", "notebooks")):
            return folder
    where = start or "the current folder, its parents or the package's folder"
    raise FileNotFoundError(
        f"no course folder (with solutions/{NOTEBOOKS[1]} and notebooks/{NOTEBOOKS[1]}) in "
        f"{where}: pass --course with the course repository's folder."
    )


def otter_tests_folder(chapter: int) -> Path:
    """Folder of chapter ``chapter``'s Otter test files (generated, in the package)."""
    return Path(__file__).resolve().parent / "tests" / f"chapter{chapter}"
