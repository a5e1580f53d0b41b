"""From a submitted notebook to the notebook the grader runs.

A submission is never run as it is. The grader rebuilds it from the official
solution: every cell is the solution's, except each exercise's *answer cell*, which
is the student's (found by its cell id, or, when an editor changed the ids, by its
likeness to the exercise's cell). So a submission that deleted, reordered or added
cells, changed ``PRESET`` or the seed, or printed "Correct" is run as the course
wrote it, with only its answers in it. After each exercise's checker call comes a
grading cell (:mod:`ecg_course.grading.kernel`); cells after the last exercise, and
cells tagged in :data:`~ecg_course.grading.exercises.SKIPPED_TAGS`, are left out.

An answer cell that reaches for the grader (the checkers, Otter, ``sys.modules``,
builtins, IPython's hooks, ``exec``/``eval``, the preset or the seed) is not run:
the submission is marked as tampering and scores nothing (:func:`tampering`).
"""

from __future__ import annotations

import ast
import difflib
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from ecg_course.grading.exercises import (
    NOTEBOOKS,
    SKIPPED_TAGS,
    Exercise,
    checker_call,
    checker_calls,
    find_exercises,
    otter_tests_folder,
    outside_regions,
)
from ecg_course.grading.kernel import RESULT_MARK

LIKENESS = 0.6
"""How alike (difflib's ratio) a cell must be to an exercise's cell to be taken as its
answer cell when no cell has the exercise's id."""

_FORBIDDEN_NAMES = {
    "otter",
    "checks",
    "sys",
    "builtins",
    "__builtins__",
    "get_ipython",
    "importlib",
    "__import__",
    "exec",
    "eval",
    "compile",
    "globals",
    "locals",
    "vars",
    "setattr",
    "delattr",
    "inspect",
    "gc",
    "ctypes",
}
"""Names an answer cell may not use at all (``checks`` only in its checker call)."""
_FORBIDDEN_MODULES = {
    "otter",
    "sys",
    "builtins",
    "importlib",
    "inspect",
    "gc",
    "ctypes",
    "IPython",
    "ecg_course.checks",
    "ecg_course.grading",
}
_FORBIDDEN_ATTRIBUTES = {
    "__builtins__",
    "__import__",
    "__globals__",
    "__dict__",
    "__code__",
    "__class__",
    "__subclasses__",
    "__getattribute__",
    "__setattr__",
    "__module__",
    "f_globals",
    "f_back",
}
_READ_ONLY_NAMES = {
    "PRESET",
    "SEED",
    "budget",
    "os",
    "np",
    "numpy",
    "torch",
    "nn",
    "pd",
    "plt",
    "ecg_course",
}
"""Names an answer may read (``os.path``, ``np.mean``...) but not assign to or into."""


@dataclass
class Prepared:
    """What grading a submission starts from."""

    exercises: list[Exercise]
    notebook: NotebookNode | None = None
    """The notebook to run, or ``None`` when nothing is run (see ``status``)."""
    status: str = ""
    """Why nothing is run, or an empty string."""
    notes: dict[str, str] = field(default_factory=dict)
    """Per exercise, what was found before running (e.g. its answer cell is missing)."""


def read_submission(path: Path) -> NotebookNode:
    """The notebook at ``path``; raises ``ValueError`` saying why it is not one."""
    try:
        return nbformat.read(path, as_version=4)
    except Exception as error:  # nbformat raises several kinds for a bad file
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(f"not a readable notebook ({type(error).__name__}: {reason})") from None


def _code_cells(notebook: NotebookNode) -> list[NotebookNode]:
    return [c for c in notebook.get("cells", []) if c.get("cell_type") == "code"]


def _by_position(
    submission: list[NotebookNode], template: list[NotebookNode], answer_id: str
) -> NotebookNode | None:
    """The submission cell in the answer cell's place: between the submission's copies of
    the nearest unchanged cells before and after it in the exercise notebook."""
    ours = [c.get("source", "") for c in template]
    theirs = [c.get("source", "") for c in submission]
    matcher = difflib.SequenceMatcher(None, ours, theirs, autojunk=False)
    placed = {}
    for block in matcher.get_matching_blocks():
        placed.update({block.a + k: block.b + k for k in range(block.size)})
    k = next(i for i, c in enumerate(template) if c.get("id") == answer_id)
    before = max((placed[i] for i in placed if i < k), default=-1)
    after = min((placed[i] for i in placed if i > k), default=len(theirs))
    between = submission[before + 1 : after]
    if len(between) == 1:
        return between[0]
    return None


def find_answer_cell(
    submission: NotebookNode, exercise: Exercise, template: NotebookNode
) -> NotebookNode | None:
    """The submission's answer cell for ``exercise``: the code cell with its id; else (an
    editor changed the ids) the one cell in its place between unchanged cells; else the
    code cell most like the exercise notebook's, if alike enough (:data:`LIKENESS`)."""
    cells, template_cells = _code_cells(submission), _code_cells(template)
    for cell in cells:
        if cell.get("id") == exercise.answer_cell:
            return cell
    placed = _by_position(cells, template_cells, exercise.answer_cell)
    if placed is not None:
        return placed
    stub = next(c.source for c in template_cells if c.get("id") == exercise.answer_cell)
    scored = [
        (difflib.SequenceMatcher(None, stub, cell.get("source", "")).ratio(), i)
        for i, cell in enumerate(cells)
    ]
    if scored:
        ratio, best = max(scored)
        if ratio >= LIKENESS:
            return cells[best]
    return None


def _root_name(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _is_checker_call(node: ast.stmt) -> bool:
    """Whether ``node`` is a checker call whose arguments use no forbidden name."""
    call = checker_call(node)
    return call is not None and not any(
        isinstance(n, ast.Name) and n.id in _FORBIDDEN_NAMES
        for a in [*call.args, *(k.value for k in call.keywords)]
        for n in ast.walk(a)
    )


def _targets(node: ast.AST) -> list[ast.AST]:
    if isinstance(node, (ast.Assign, ast.Delete)):
        return list(node.targets)
    if isinstance(node, (ast.AugAssign, ast.AnnAssign, ast.NamedExpr, ast.For, ast.AsyncFor)):
        return [node.target]
    if isinstance(node, (ast.With, ast.AsyncWith)):
        return [item.optional_vars for item in node.items if item.optional_vars is not None]
    return []


def _forbidden(node: ast.AST) -> bool:
    """Whether ``node`` uses a forbidden name or attribute, or defines a protected name."""
    if isinstance(node, ast.Name):
        return node.id in _FORBIDDEN_NAMES
    if isinstance(node, ast.Attribute):
        return node.attr in _FORBIDDEN_ATTRIBUTES
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return node.name.startswith("check_") or node.name in _READ_ONLY_NAMES
    return False


def tampering(source: str) -> str | None:
    """What in ``source`` (an answer cell) reaches for the grader, or ``None``.

    Refused: any use of the names in ``_FORBIDDEN_NAMES`` (the checkers only in a plain
    ``checks.check_<name>(...)`` statement), importing ``_FORBIDDEN_MODULES``, the
    attributes that lead to other frames and builtins, assigning to or into the
    preset, the seed, the budget or a library module, defining a ``check_*`` name. A
    cell that does not parse is left to run (and fail) as it is.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    lines = source.splitlines()
    tree.body = [node for node in tree.body if not _is_checker_call(node)]

    def where(node: ast.AST) -> str:
        return f"line {node.lineno}: {lines[node.lineno - 1].strip()[:80]}"

    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [a.name for a in node.names]
            if isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            if any(m == f or m.startswith(f + ".") for m in modules for f in _FORBIDDEN_MODULES):
                return where(node)
        elif _forbidden(node):
            return where(node)
        for target in _targets(node):
            for leaf in ast.walk(target):
                name = _root_name(leaf)
                if name in _READ_ONLY_NAMES or (name or "").startswith("check_"):
                    return where(node)
    return None


def chapter_of(submission: NotebookNode, solutions: Path) -> int | None:
    """The chapter whose solution shares the most cell ids with the submission (``None``
    when none shares any, e.g. an editor renamed every cell)."""
    ids = {c.get("id") for c in submission.get("cells", [])} - {None}
    shared = {
        chapter: len(ids & {c.get("id") for c in nbformat.read(solutions / name, 4).cells})
        for chapter, name in NOTEBOOKS.items()
    }
    best = max(shared, key=shared.get)
    return best if shared[best] else None


def _grading_cell(exercise: Exercise, chapter: int) -> NotebookNode:
    test = otter_tests_folder(chapter) / f"{exercise.name}.py"
    # The test's text goes into the cell, read before anything runs: a submission that
    # writes to the test file changes nothing of its own grading.
    cell = nbformat.v4.new_code_cell(
        "import ecg_course.grading.kernel as _ecg_course_grading\n"
        f"_ecg_course_grading.grade({test.read_text()!r}, {str(test)!r}, globals())"
    )
    cell.id = f"grade-{exercise.name}"
    cell.metadata["tags"] = ["grading"]
    return cell


def _only_the_call(source: str) -> bool:
    """Whether a cell's source is its checker call(s) and nothing else (comments aside)."""
    body = outside_regions(source)
    for _, call in checker_calls(source):
        body = body.replace(call, "", 1)
    return all(not line.strip() or line.strip().startswith("#") for line in body.splitlines())


def prepare(submission_path: Path, chapter: int, course: Path) -> Prepared:
    """Read ``submission_path`` and rebuild it on chapter ``chapter``'s solution."""
    solutions, templates = course / "solutions", course / "notebooks"
    solution = nbformat.read(solutions / NOTEBOOKS[chapter], as_version=4)
    template = nbformat.read(templates / NOTEBOOKS[chapter], as_version=4)
    exercises = find_exercises(solution, chapter)
    prepared = Prepared(exercises)
    try:
        submission = read_submission(submission_path)
    except ValueError as error:
        prepared.status = str(error)
        return prepared

    other = chapter_of(submission, solutions)
    if other is not None and other != chapter:
        prepared.status = (
            f"not a chapter {chapter} notebook: its cells are chapter {other}'s "
            f"({NOTEBOOKS[other]}); grade it with --chapter {other}"
        )
        return prepared
    template_sources = {c.id: c.source for c in template.cells if c.get("id")}
    answers: dict[str, str] = {}
    for exercise in exercises:
        cell = find_answer_cell(submission, exercise, template)
        if cell is None:
            prepared.notes[exercise.name] = "answer cell not found (deleted, or not this chapter)"
            continue
        answers[exercise.answer_cell] = cell.get("source", "")
    if not answers:
        prepared.status = (
            f"not a chapter {chapter} notebook: none of its {len(exercises)} answer cells found"
        )
        return prepared
    for exercise in exercises:
        found = tampering(answers.get(exercise.answer_cell, ""))
        if found:
            prepared.status = (
                f"tampering: the answer cell of {exercise.name!r} reaches for the grader "
                f"({found}); nothing was run"
            )
            return prepared

    by_check_cell = {e.check_cell: e for e in exercises}
    last = max(i for i, c in enumerate(solution.cells) if c.get("id") in by_check_cell)
    cells: list[NotebookNode] = []
    for cell in solution.cells[: last + 1]:
        if set(cell.metadata.get("tags", [])) & set(SKIPPED_TAGS):
            continue
        exercise = by_check_cell.get(cell.get("id"))
        if any(e.answer_cell == cell.get("id") for e in exercises):
            answer_id = cell.id
            cell = nbformat.v4.new_code_cell(answers.get(answer_id, template_sources[answer_id]))
            cell.id = answer_id
        if exercise is None:
            cells.append(cell)
            continue
        if not (exercise.check_cell != exercise.answer_cell and _only_the_call(cell.source)):
            cells.append(cell)
        cells.append(_grading_cell(exercise, chapter))
    notebook = nbformat.v4.new_notebook(cells=cells, metadata=solution.metadata)
    prepared.notebook = notebook
    return prepared


def results(executed: NotebookNode, exercises: list[Exercise]) -> dict[str, dict]:
    """Per exercise, the result line its grading cell printed (``None`` if it printed none)."""
    import json

    found: dict[str, dict] = {}
    for cell in executed.cells:
        if "grading" not in cell.metadata.get("tags", []):
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") != "stream" or output.get("name") != "stdout":
                continue
            for line in output.get("text", "").splitlines():
                if line.startswith(RESULT_MARK):
                    result = json.loads(line[len(RESULT_MARK) :])
                    found[cell.id.removeprefix("grade-")] = result
    return {e.name: found.get(e.name) for e in exercises}
