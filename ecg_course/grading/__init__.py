"""Grading for instructors: the course's checkers as Otter-Grader tests.

* :mod:`~ecg_course.grading.exercises`: the chapters' notebooks, exercises and points;
* ``tests/chapter<N>/<exercise>.py``: Otter test files, generated from the solutions
  by ``tools/make_grading_tests.py`` (each calls the solution's checker call);
* :mod:`~ecg_course.grading.rebuild`: a submission rebuilt on the solution;
* :mod:`~ecg_course.grading.kernel`: what runs inside the submission's kernel;
* :mod:`~ecg_course.grading.submission`: one submission, run and scored;
* :mod:`~ecg_course.grading.sandbox`: its process: no network, read-only files, memory.

The instructor's command is ``python -m ecg_course.grade`` (:mod:`ecg_course.grade`).
"""
