"""Toy beats and a small LSTM-FCN for the tests of training and mixed precision."""

from __future__ import annotations

import numpy as np
import pytest

from ecg_course.models import LSTMFCN
from ecg_course.precision import lstm_runs_in, resolve_precision

# Tests that run an LSTM in bfloat16 on the CPU: oneDNN has no such kernel on CPUs
# without AVX-512 (an AMD Zen 3, for one), where those tests are skipped, saying why.
needs_cpu_bf16_lstm = pytest.mark.skipif(
    not lstm_runs_in(resolve_precision("bf16", "cpu")),
    reason="this CPU has no bfloat16 LSTM kernel (oneDNN needs AVX-512 for it)",
)

# bf16 keeps 7 mantissa bits (relative error ~0.4% per operation): on a trained model
# the probabilities of the two paths differ by a few hundredths at most, and the
# predicted class flips only for beats on a decision boundary.
PROBA_TOLERANCE = 0.05
AGREEMENT = 0.98


def toy_beats(n: int = 256, length: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three classes of toy beats ``(n, length)`` float32: a bump early, in the middle or
    late, plus noise; and their labels ``(n,)``."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    X = rng.normal(0, 0.1, size=(n, length)).astype(np.float32)
    for c in range(3):
        X[y == c, 4 + 10 * c : 8 + 10 * c] += 1.0
    return X, y


def small_lstm_fcn(length: int = 32) -> LSTMFCN:
    """A three-class LSTM-FCN a few thousand parameters big, for beats of ``length``."""
    return LSTMFCN(num_classes=3, seq_len=length, hidden_size=8, filters_1=8, filters_2=16,
                   filters_3=8, dropout=0.2)  # fmt: skip
