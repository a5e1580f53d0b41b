"""Checkers for the exercises: each says what is right, or what is wrong in plain words.

A checker prints one line starting with "Correct" when the answer passes, and
raises :class:`ExerciseError` (an ``AssertionError``) naming the first problem
otherwise, e.g. "validation set has 800 rows, expected 1,000".

Where a checker can recompute the right answer it does, and compares the whole
answer with it; when they differ it recomputes the answers that the usual
mistakes give (another class column, argmax labels, a split without
``random_state``...) so that the message names the mistake that was made. A
message names a mistake only when the answer equals what that mistake gives
(:func:`_name_mistake`); otherwise it says what differs (which rows, which values)
without guessing a cause, and a wrong answer never crashes a checker.
"""

from ecg_course.checks._common import ExerciseError
from ecg_course.checks.beat_matching import check_beat_matching
from ecg_course.checks.chapter1 import (
    check_early_auc,
    check_loss_plot,
    check_run_epoch,
    check_test_metrics,
)
from ecg_course.checks.chapter2 import (
    check_batched_inference,
    check_endpoint_client,
    check_lstm_fcn_output,
    check_per_class_table,
    check_undersampling,
)
from ecg_course.checks.chapter3 import check_aami_table, check_rr_features
from ecg_course.checks.split import check_split

__all__ = [
    "ExerciseError",
    "check_aami_table",
    "check_batched_inference",
    "check_beat_matching",
    "check_early_auc",
    "check_endpoint_client",
    "check_loss_plot",
    "check_lstm_fcn_output",
    "check_per_class_table",
    "check_rr_features",
    "check_run_epoch",
    "check_split",
    "check_test_metrics",
    "check_undersampling",
]
