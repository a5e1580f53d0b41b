"""The grading side that runs inside the submission's kernel, right after an answer.

The grader inserts, after each exercise's checker call, a cell that calls
:func:`grade` with the text of the exercise's Otter test file. :func:`grade` runs the test with
Otter against the kernel's variables and prints one line, :data:`RESULT_MARK`
followed by JSON (score, possible, the checker's message), that the grader reads from
*that cell's* output only: what the submission printed elsewhere is never read.

The test file calls :func:`run_checker`, which evaluates the solution's checker call
with ``checks`` bound to a private, freshly imported copy of ``ecg_course.checks``:
a submission that redefined ``check_split`` or patched ``ecg_course.checks`` is
checked by the untouched checkers.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import sys
from types import ModuleType
from typing import Any

RESULT_MARK = "ecg-course-grade:"
"""Start of the one line :func:`grade` prints; JSON follows."""

_CHECKS = "ecg_course.checks"


def fresh_checks() -> ModuleType:
    """A new copy of ``ecg_course.checks`` (and its submodules), imported from disk.

    The kernel's own modules are put back afterwards, so the notebook keeps the
    ``checks`` it imported; only the caller holds the fresh copy.
    """
    import ecg_course

    ours = [name for name in sys.modules if name == _CHECKS or name.startswith(_CHECKS + ".")]
    saved = {name: sys.modules.pop(name) for name in ours}
    saved_attribute = getattr(ecg_course, "checks", None)
    try:
        return importlib.import_module(_CHECKS)
    finally:
        for name in [n for n in sys.modules if n == _CHECKS or n.startswith(_CHECKS + ".")]:
            del sys.modules[name]
        sys.modules.update(saved)
        if saved_attribute is not None:
            ecg_course.checks = saved_attribute


def run_checker(env: dict[str, Any], call: str) -> None:
    """Evaluate ``call`` (``checks.check_<name>(...)``) on the kernel's variables ``env``,
    with ``checks`` the fresh copy; raises what the checker raises."""
    namespace = dict(env)
    namespace["checks"] = fresh_checks()
    eval(compile(call, "<checker call>", "eval"), namespace)


def _failure(message: str) -> str:
    """The exception line(s) of an Otter failure message, without its header and source
    line ("❌ Test case failed / Error at line 3 in test split: / <line>")."""
    lines = message.strip().splitlines()
    for i, line in enumerate(lines):
        if line.startswith("Error at line"):
            message = "\n".join(lines[i + 2 :]).strip() or message
            break
    return message.removeprefix("ExerciseError: ")


def grade(test_source: str, test_path: str, env: dict[str, Any]) -> None:
    """Run the Otter test file ``test_source`` (read from ``test_path`` by the grader)
    against ``env``; print the result line."""
    from otter.test_files.exception_test import ExceptionTestFile

    test = ExceptionTestFile.from_string(test_source, path=test_path)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        test.run(env)
    if test.passed_all:
        message = printed.getvalue().strip().splitlines()[-1:] or ["Correct"]
        message = message[0]
    else:
        message = "; ".join(_failure(r.message) for r in test.test_case_results if not r.passed)
    result = {
        "exercise": test.name,
        "score": test.score,
        "possible": test.possible,
        "message": message,
    }
    print(RESULT_MARK + json.dumps(result))
