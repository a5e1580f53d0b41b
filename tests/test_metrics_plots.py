"""Metrics against hand-computed values, and the labels on every plot."""

from __future__ import annotations

import warnings

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from sklearn import metrics as skm
from torch import nn

from ecg_course import aami, metrics, plots
from ecg_course.training import History


def test_classification_summary_by_hand():
    y_true = np.array([0, 0, 0, 0, 1, 1, 2, 2])
    y_pred = np.array([0, 0, 0, 1, 1, 0, 2, 0])
    summary = metrics.classification_summary(y_true, y_pred, ["a", "b", "c"])
    assert summary["accuracy"] == pytest.approx(5 / 8)
    # recalls 3/4, 1/2, 1/2
    assert summary["balanced_accuracy"] == pytest.approx((0.75 + 0.5 + 0.5) / 3)
    table = summary["per_class"]
    assert list(table.index) == ["a", "b", "c"]
    assert table.loc["a", "precision"] == pytest.approx(3 / 5)
    assert table.loc["c", "precision"] == pytest.approx(1.0)
    f1 = [2 * p * r / (p + r) for p, r in [(3 / 5, 3 / 4), (1 / 2, 1 / 2), (1, 1 / 2)]]
    assert summary["macro_f1"] == pytest.approx(np.mean(f1))
    assert table["support"].tolist() == [4, 2, 2]


def test_balanced_accuracy_by_hand():
    """The mean recall of the most probable class, over the classes present in y_true."""
    y_true = np.array([0, 0, 0, 0, 1, 1, 2, 2])
    y_pred = np.array([0, 0, 0, 1, 1, 0, 2, 0])
    proba = np.eye(4)[y_pred] * 0.7 + 0.1  # (8, 4): class 3 is never true
    # recalls 3/4, 1/2, 1/2; class 3 has no beats and no recall
    assert metrics.balanced_accuracy(y_true, proba) == pytest.approx((0.75 + 0.5 + 0.5) / 3)
    assert metrics.balanced_accuracy(y_true, proba) == pytest.approx(
        skm.balanced_accuracy_score(y_true, y_pred)
    )
    with pytest.raises(ValueError, match=r"proba must have shape \(n, n_classes\) = \(8, C\)"):
        metrics.balanced_accuracy(y_true, y_pred)
    with pytest.raises(ValueError, match=r"labels in 0\.\.1"):
        metrics.balanced_accuracy(y_true, proba[:, :2])


def test_balanced_accuracy_ignores_a_predicted_class_absent_from_y_true_quietly():
    """A model that calls some beats Q where the validation patients have none: no warning,
    and Q is left out of the mean (scikit-learn warns about it)."""
    y_true = np.array([0, 0, 1, 1])
    proba = np.eye(3)[[0, 2, 1, 1]]  # one N beat called class 2, absent from y_true
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        score = metrics.balanced_accuracy(y_true, proba)
        summary = metrics.classification_summary(y_true, proba.argmax(axis=1), ["N", "S", "Q"])
    assert score == pytest.approx((0.5 + 1.0) / 2)
    assert summary["balanced_accuracy"] == score


def test_aami_table_and_published_row_by_hand():
    y_true = np.array([0, 0, 0, 0, 1, 1, 2, 2, 3])
    y_pred = np.array([0, 0, 0, 1, 1, 0, 2, 1, 2])  # class F (3) is never predicted
    table = aami.aami_table(y_true, y_pred)
    assert list(table.index) == ["N", "S", "V", "F"]
    assert table["Se"].tolist() == pytest.approx([3 / 4, 1 / 2, 1 / 2, 0.0])
    assert table["+P"][:3].tolist() == pytest.approx([3 / 4, 1 / 3, 1 / 2])
    assert np.isnan(table.loc["F", "+P"])
    assert table["beats"].tolist() == [4, 2, 2, 1]
    row = aami.published_row(table)
    assert list(row) == list(aami.PUBLISHED.columns)  # the published layout, in its order
    assert row == pytest.approx(
        {"Se N": 3 / 4, "Se S": 1 / 2, "Se V": 1 / 2, "+P S": 1 / 3, "+P V": 1 / 2}
    )
    with pytest.raises(ValueError, match=r"no '\+P' of class 'S'"):
        aami.published_row(table[["Se"]])
    with pytest.raises(ValueError, match=r"no 'Se' of class 'N'"):
        aami.published_row(table.drop(index="N"))


def test_per_class_table_is_one_vs_rest():
    y_true = np.array([0, 0, 0, 1, 1, 2])
    proba = np.array(
        [
            [0.8, 0.1, 0.1],
            [0.6, 0.3, 0.1],
            [0.2, 0.7, 0.1],
            [0.1, 0.8, 0.1],
            [0.5, 0.4, 0.1],
            [0.1, 0.1, 0.8],
        ]
    )
    table = metrics.per_class_table(y_true, proba, ["N", "S", "V"])
    # class S: predicted S for rows 2 and 3; truly S rows 3 and 4
    assert table.loc["S", "precision"] == pytest.approx(1 / 2)
    assert table.loc["S", "recall"] == pytest.approx(1 / 2)
    assert table.loc["S", "accuracy"] == pytest.approx(4 / 6)
    assert table.loc["V", "roc_auc"] == pytest.approx(1.0)
    assert table.loc["N", "support"] == 3


def test_roc_auc_binary_and_multiclass():
    y = np.array([0, 0, 1, 1])
    assert metrics.roc_auc(y, np.array([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [0.2, 0.8]])) == 1.0
    assert metrics.roc_auc(y, np.array([[0.1, 0.9], [0.4, 0.6], [0.7, 0.3], [0.8, 0.2]])) == 0.0
    with pytest.raises(ValueError, match=r"proba must have shape \(n, n_classes\) = \(4, C\)"):
        metrics.roc_auc(y, np.zeros(4))
    with pytest.raises(ValueError, match=r"labels in 0\.\.1"):
        metrics.roc_auc(np.array([0, 2, 1, 1]), np.full((4, 2), 0.5))


class LastSample(nn.Module):
    """A 'model' whose abnormal score is the last sample it sees."""

    def __init__(self):
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        last = x.reshape(len(x), -1)[:, -1:]
        return torch.cat([torch.zeros_like(last), last], dim=1) + 0 * self.dummy


def test_early_auc_feeds_prefixes():
    # beats whose class shows only in the second half: AUC 0.5 early, 1.0 late
    X = np.zeros((40, 10), dtype=np.float32)
    y = np.arange(40) % 2
    X[:, 6:] = y[:, None] * 2 - 1
    curve = metrics.early_auc(LastSample(), X, y, fractions=(0.1, 0.5, 0.7, 1.0))
    assert curve["samples"].tolist() == [1, 5, 7, 10]
    assert curve["roc_auc"].tolist() == [0.5, 0.5, 1.0, 1.0]
    with pytest.raises(ValueError, match=r"fractions must lie in \(0, 1\]"):
        metrics.early_auc(LastSample(), X, y, fractions=(0.0, 1.0))


def test_plots_are_labelled():
    rng = np.random.default_rng(0)
    y = np.arange(60) % 3
    proba = rng.dirichlet(np.ones(3), size=60)
    names = ["N", "S", "V"]
    history = History(train_loss=[1.0, 0.5], val_loss=[1.1, 0.7], best_epoch=1)
    axes = [
        plots.loss_curves(history),
        plots.example_beats(rng.normal(size=(60, 20)), y, names),
        plots.confusion_matrix(y, proba.argmax(1), names),
        plots.roc_curves(y, proba, names),
        plots.early_auc_curve(
            {
                "model": metrics.early_auc(
                    LastSample(),
                    rng.normal(size=(60, 10)).astype(np.float32),
                    y % 2,
                    fractions=(0.5, 1.0),
                )
            }
        ),
        plots.embedding(rng.normal(size=(60, 2)), y, names),
    ]
    for ax in axes:
        assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
        if not isinstance(ax.get_legend(), type(None)):
            assert len(ax.get_legend().get_texts()) >= 2
    assert len(axes[0].get_lines()) == 3  # training, validation, kept epoch
    assert len(axes[3].get_lines()) == 4  # three one-vs-rest curves and chance
    plt.close("all")
