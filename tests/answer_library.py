"""What the tests of the exercise checkers share: the library's layout and its helpers.

The tests of ``ecg_course/checks/<module>.py`` are in ``tests/test_checks_<module>.py``
(the package itself, ``__init__.py``, in ``tests/test_checks.py``). Each holds a library
of student answers, wrong and right, for the checkers of its module, on small arrays
and models:

* ``WRONG_<EXERCISE>``: realistic wrong answers, ``{what: (answer, message)}``: the
  checker must raise, and its message must match ``message`` (a regular expression that
  names the mistake that was made). To add a mistake students make: add one entry.
* ``VALID_<EXERCISE>``: right answers written differently from the official solution,
  ``{what: answer}``: the checker must accept them.
* ``FALLBACK``: for each checker of the module, one answer that is no listed mistake,
  ``{checker: (fixture or None, run, message)}``: the checker must raise an ExerciseError
  saying what differs, never crash and never name a mistake the answer does not show.
"""

from __future__ import annotations

from collections.abc import Callable

import matplotlib.pyplot as plt
import pytest

from ecg_course import checks

SEED = 42


def params(table: dict) -> list:
    """The entries ``{what: (answer, message)}`` of a table as pytest params, by ``what``."""
    return [pytest.param(*value, id=name) for name, value in table.items()]


def valid(table: dict) -> list:
    """The entries ``{what: answer}`` of a table as pytest params, by ``what``."""
    return [pytest.param(value, id=name) for name, value in table.items()]


def has_enough_answers(wrong: dict, valid_answers: dict) -> bool:
    """Whether an exercise has at least 5 wrong answers, and 3 valid ones: the official
    one and two others."""
    return len(wrong) >= 5 and len(valid_answers) >= 2 + 1


def says_what_differs(
    request: pytest.FixtureRequest, fixture: str | None, run: Callable, message: str
) -> None:
    """Run a FALLBACK entry: ``run(*the fixture's value)`` must raise an ExerciseError
    matching ``message``, not an IndexError or any other crash inside the checker."""
    task = request.getfixturevalue(fixture) if fixture else ()
    try:
        with pytest.raises(checks.ExerciseError, match=message):
            run(*task)
    finally:
        plt.close("all")
