"""Authoring tools of the course: exercise generator, notebook runner, book figures.

Import them from the repository root, e.g. ``from tools.execute_solutions import execute``
(pytest puts the root on the path: ``pythonpath`` in pyproject.toml); run them as
modules from the root, e.g. ``python -m tools.make_exercises``.
"""
