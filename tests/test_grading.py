"""The instructors' grader: its tests are the solutions', its scan refuses tampering, and a
part of chapter 1's synthetic class gets exactly the points it must (the whole class of
every chapter: ``python -m benchmarks.bench_grading``)."""

from __future__ import annotations

import csv
import hashlib
import textwrap
from pathlib import Path

import nbformat
import numpy as np
import pytest
from grading_class import ESCAPE, WRONG, _official_answers, mismatches, write_class
from test_exercise_alternatives import ALTERNATIVES

import ecg_course.checks
import ecg_course.checks.chapter3
from ecg_course import budgets
from ecg_course.grade import grade_folder, write_gradebook
from ecg_course.grading.exercises import NOTEBOOKS, POINTS, find_exercises, otter_tests_folder
from ecg_course.grading.kernel import run_checker
from ecg_course.grading.rebuild import prepare, tampering
from ecg_course.grading.sandbox import why_not_isolated
from tools import make_grading_tests

ROOT = Path(__file__).resolve().parents[1]


def test_test_files_are_generated_from_the_solutions():
    assert make_grading_tests.main(["--check"]) == 0, "run python tools/make_grading_tests.py"


@pytest.mark.parametrize("chapter", sorted(NOTEBOOKS))
def test_every_exercise_has_its_points_and_test(chapter):
    solution = nbformat.read(ROOT / "solutions" / NOTEBOOKS[chapter], as_version=4)
    exercises = find_exercises(solution, chapter)
    assert [e.name for e in exercises] == list(POINTS[chapter])
    for exercise in exercises:
        text = (otter_tests_folder(chapter) / f"{exercise.name}.py").read_text()
        assert f"points = {exercise.points}\n" in text
        assert repr(exercise.call) in text


def _answers() -> list[str]:
    official = [a for c in NOTEBOOKS for a in _official_answers(c).values()]
    wrong = [a for by_name in WRONG.values() for a in by_name.values()]
    return [textwrap.dedent(a) for a in official + list(ALTERNATIVES.values()) + wrong]


def test_no_answer_of_the_course_is_taken_for_tampering():
    for answer in _answers():
        assert tampering(answer) is None, answer
    solution = nbformat.read(ROOT / "solutions" / NOTEBOOKS[3], as_version=4)
    for exercise in find_exercises(solution, 3):  # answer cells holding their checker call
        cell = next(c for c in solution.cells if c.id == exercise.answer_cell)
        assert tampering(cell.source) is None


@pytest.mark.parametrize(
    "source",
    [
        "def check_split(*args):\n    pass",
        "checks.check_split = print",
        "from ecg_course import checks as c\nc.check_split = print",
        "import ecg_course.checks",
        "ecg_course.checks.check_split = print",
        "import sys\nsys.modules['ecg_course.checks'] = None",
        "__builtins__['print'] = len",
        "get_ipython().events.register('post_run_cell', print)",
        "exec('import otter')",
        "getattr(__import__('ecg_course'), 'checks')",
        "PRESET = 'cpu'",
        "SEED = 1",
        "np.mean = lambda x: 0",
        "().__class__.__base__.__subclasses__()",
        "import otter.test_files",
        "checks.check_split(*globals())",
    ],
)
def test_tampering_is_named_with_its_line(source):
    found = tampering(source)
    assert found is not None and found.startswith("line "), source


def test_tampering_allows_reading_the_library():
    assert tampering("model.eval()\nx = os.path.join('a', 'b')\nnp.random.seed(0)") is None
    assert tampering("checks.check_split(X_train, y_train)") is None
    assert tampering("x = (") is None  # does not parse: runs and fails as it is


def test_the_checker_is_a_fresh_copy(monkeypatch):
    """A kernel whose checks module was patched still gets the real checker."""
    monkeypatch.setattr(ecg_course.checks, "check_rr_features", lambda f: None)
    monkeypatch.setattr(ecg_course.checks.chapter3, "check_rr_features", lambda f: None)

    def wrong(r_peaks, fs):
        return np.zeros((len(r_peaks), 8))

    with pytest.raises(AssertionError, match="pre_rr"):  # the fresh copy's ExerciseError
        run_checker({"rr_by_hand": wrong}, "checks.check_rr_features(rr_by_hand)")
    assert ecg_course.checks.check_rr_features(wrong) is None  # the kernel's own is kept


def test_preset_environment_variable(monkeypatch, capsys):
    monkeypatch.setenv(budgets.PRESET_ENV, "smoke")
    assert budgets.chapter2("auto").name == "smoke"
    assert budgets.chapter1("auto").name == "smoke"
    assert "set by ECG_COURSE_PRESET" in capsys.readouterr().out
    assert budgets.chapter2("cpu-fp32").name == "cpu-fp32"  # the notebook's own choice wins
    monkeypatch.setenv(budgets.PRESET_ENV, "fast")
    with pytest.raises(ValueError, match="ECG_COURSE_PRESET must be one of"):
        budgets.chapter3("auto")


def test_unreadable_submission_is_a_status(tmp_path):
    path = tmp_path / "broken.ipynb"
    path.write_text("{not json")
    prepared = prepare(path, 1, ROOT)
    assert prepared.notebook is None
    assert prepared.status.startswith("not a readable notebook")


def test_gradebook_columns(tmp_path):
    outcome = {
        "status": "",
        "seconds": 3.5,
        "exercises": {
            "split": {"score": 2, "possible": 2, "message": "Correct"},
            "run_epoch": {"score": 0, "possible": 3, "message": "sum, not mean"},
        },
    }
    out = tmp_path / "grades.csv"
    write_gradebook([("ada.ipynb", outcome)], ["split", "run_epoch"], out)
    rows = list(csv.DictReader(out.open()))
    assert rows == [
        {
            "submission": "ada.ipynb",
            "status": "",
            "split points": "2",
            "split message": "Correct",
            "run_epoch points": "0",
            "run_epoch message": "sum, not mean",
            "total": "2",
            "possible": "5",
            "seconds": "3.5",
        }
    ]


CI_PART = {
    "official",
    "alternatives",
    "wrong-mixed",
    "bad-invalid-json",
    "bad-other-chapter",
    "bad-early-exception",
    "bad-endless-loop",
    "bad-20-gb",
    "bad-network",
    "bad-write-outside",
    "cheat-patches-checks",
    "cheat-new-cell-ids",
    "cheat-reorders-cells",
    "cheat-edits-test-file",
}


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


def test_chapter1_class_gets_exactly_its_points(data_root, tmp_path):
    if why_not_isolated():
        pytest.skip(f"no namespaces for the sandbox here: {why_not_isolated()}")
    folder = tmp_path / "submissions"
    submissions = write_class(1, folder, CI_PART)
    before = _digest(folder)
    test_file = otter_tests_folder(1) / "loss_plot.py"
    test_text = test_file.read_text()
    ESCAPE.unlink(missing_ok=True)

    # 90 s per cell: chapter 1's training cell takes about 5 s alone, but a 30 s limit
    # stopped it on a loaded CI machine and the reference run refused to grade.
    rows = grade_folder(folder, 1, tmp_path / "grades.csv", jobs=2, cell_timeout=90)

    assert mismatches(submissions, rows) == []
    assert _digest(folder) == before  # the submissions are left as they were
    assert test_file.read_text() == test_text
    assert not ESCAPE.exists()
    table = list(csv.DictReader((tmp_path / "grades.csv").open()))
    assert len(table) == len(CI_PART)
