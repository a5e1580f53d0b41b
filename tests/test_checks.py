"""The package ecg_course.checks (its __init__.py): every checker it exports has its tests.

The tests of ``ecg_course/checks/<module>.py`` are in ``tests/test_checks_<module>.py``;
tests/answer_library.py says what each of them holds.
"""

from __future__ import annotations

import importlib

from ecg_course import checks

CHECKERS = sorted(name for name in checks.__all__ if name.startswith("check_"))


def _module_of(checker: str) -> str:
    """The module of ecg_course/checks/ that defines ``checker``: "split", "chapter1"..."""
    return getattr(checks, checker).__module__.rpartition(".")[2]


def test_every_checker_has_a_fallback_case():
    """One FALLBACK entry per checker of checks.__all__, in the test file of its module."""
    found = {}
    for module in sorted({_module_of(checker) for checker in CHECKERS}):
        tests = importlib.import_module(f"test_checks_{module}")
        found.update(dict.fromkeys(tests.FALLBACK, module))
    assert found == {checker: _module_of(checker) for checker in CHECKERS}
