"""What every checker shares (ecg_course/checks/_common.py): the model's reference
probabilities leave out the 16-bit formats the device cannot run an LSTM in."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from ecg_course import checks, metrics, precision
from ecg_course.checks import _common
from ecg_course.models import LSTMClassifier
from ecg_course.training import predict_proba


def _whole_beats(m, X, y, fractions):
    """An early-AUC answer that scores the whole beat at every fraction."""
    auc = metrics.roc_auc(y, predict_proba(m, X, precision="fp32"))
    samples = [max(1, round(f * X.shape[1])) for f in fractions]
    return pd.DataFrame({"fraction": fractions, "samples": samples, "roc_auc": auc})


def test_a_16_bit_format_the_device_cannot_run_is_left_out(monkeypatch):
    """oneDNN has no bfloat16 LSTM on CPUs without bfloat16 instructions, and predict_proba
    refuses that precision there (ValueError): the references leave it out
    (precision.lstm_runs_in), and a wrong answer still gets an ExerciseError, not a crash."""

    def no_16_bit_lstm(name, device_type):
        return "could not create a primitive descriptor for the LSTM"

    monkeypatch.setattr(precision, "_lstm_probe", no_16_bit_lstm)
    torch.manual_seed(0)
    model = LSTMClassifier(hidden_size=4, num_classes=2)
    X = np.random.default_rng(0).normal(size=(30, 12)).astype(np.float32)
    y = np.arange(30) % 2
    assert _common._sixteen_bit(model) == []
    with pytest.raises(ValueError, match="cannot run an LSTM"):
        predict_proba(model, X, precision="bf16")
    proba = predict_proba(model, X, precision="fp32")
    with pytest.raises(checks.ExerciseError, match="not the model's probabilities"):
        checks.check_test_metrics(y, proba[::-1], 0.5, 0.5, model, X)

    with pytest.raises(checks.ExerciseError, match="that of the whole beat"):
        checks.check_early_auc(_whole_beats, model, X, y)
