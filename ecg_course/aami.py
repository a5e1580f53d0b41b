"""The AAMI-style evaluation of heartbeat classifiers on new patients (DS1 -> DS2).

AAMI EC57 reports, per class, the sensitivity ``Se = TP / (TP + FN)`` (the share of
the class's beats that are found: recall) and the positive predictivity
``+P = TP / (TP + FP)`` (the share of the beats called that class that are right:
precision), counted one-vs-rest over every beat. The inter-patient paradigm of de
Chazal et al. (2004) trains on the DS1 records and tests on the DS2 records
(:data:`ecg_course.mitbih.DS1`, :data:`ecg_course.mitbih.DS2`), so that no test
patient is ever seen in training. Q beats (8 in DS1, 7 in DS2) are too few to learn
or to score and are left out, as most papers on this split do.

References:
    de Chazal, O'Dwyer, Reilly, "Automatic classification of heartbeats using ECG
    morphology and heartbeat interval features", IEEE Trans. Biomed. Eng.
    51(7):1196-1206, 2004.
    Llamedo, Martinez, "Heartbeat classification using feature selection driven by
    database generalization criteria", IEEE Trans. Biomed. Eng. 58(3):616-625, 2011.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from ecg_course.metrics import balanced_accuracy  # the one owner; chapter 3 picks epochs by it

__all__ = ["CLASSES", "PUBLISHED", "aami_table", "balanced_accuracy", "published_row"]

CLASSES: tuple[str, ...] = ("N", "S", "V", "F")
"""The classes scored on DS2; their labels 0..3 are those of :data:`ecg_course.mitbih.CLASSES`."""

PUBLISHED: pd.DataFrame = pd.DataFrame(
    {
        "Se N": [0.87, 0.95],
        "Se S": [0.76, 0.77],
        "Se V": [0.77, 0.81],
        "+P S": [0.38, 0.39],
        "+P V": [0.82, 0.87],
    },
    index=[
        "de Chazal et al. 2004 (linear discriminants, RR + morphology)",
        "Llamedo & Martinez 2011",
    ],
)
"""Published DS1 -> DS2 results (fractions), as the papers report them; a column
``"<measure> <class>"`` holds that measure (``Se`` or ``+P``) of that class."""


def aami_table(
    y_true: np.ndarray, y_pred: np.ndarray, class_names: Sequence[str] = CLASSES
) -> pd.DataFrame:
    """Se and +P of every class, one-vs-rest.

    Args:
        y_true, y_pred: integer labels ``(n,)``; label ``c`` is ``class_names[c]``.

    Returns:
        DataFrame indexed by ``class_names`` with columns ``"Se"`` and ``"+P"``
        (fractions) and ``"beats"`` (the class's beats in ``y_true``). A class that is
        never predicted has +P NaN: no beat was called that class, so none was right
        or wrong.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(
            f"y_true and y_pred must be 1-D of equal length; got {y_true.shape} and {y_pred.shape}."
        )
    labels = np.arange(len(class_names))
    matrix = skm.confusion_matrix(y_true, y_pred, labels=labels)  # rows: truth, columns: predicted
    tp = np.diag(matrix).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        se = tp / matrix.sum(axis=1)
        ppv = tp / matrix.sum(axis=0)
    return pd.DataFrame({"Se": se, "+P": ppv, "beats": matrix.sum(axis=1)}, index=list(class_names))


def published_row(table: pd.DataFrame) -> dict[str, float]:
    """One row of an :func:`aami_table` in the layout of :data:`PUBLISHED`, to set beside it.

    Args:
        table: an :func:`aami_table`: indexed by class name, with columns ``"Se"`` and
            ``"+P"`` (at least the classes and measures that :data:`PUBLISHED` names).

    Returns:
        ``{"Se N": ..., "Se S": ..., "Se V": ..., "+P S": ..., "+P V": ...}``: the
        columns of :data:`PUBLISHED`, in its order.

    Raises:
        ValueError: ``table`` lacks a class or a measure that :data:`PUBLISHED` names.
    """
    row = {}
    for column in PUBLISHED.columns:
        measure, name = column.split(" ")  # e.g. "+P S": the +P of class S
        if measure not in table.columns or name not in table.index:
            raise ValueError(
                f"table has no {measure!r} of class {name!r}, which PUBLISHED's column "
                f"{column!r} needs; expected an aami_table (columns {list(table.columns)}, "
                f"classes {list(table.index)})."
            )
        row[column] = float(table.loc[name, measure])
    return row
