"""The CUDA paths of training and inference, as Colab's GPU runtime runs them.

Skipped where no CUDA GPU is present (CI has none). Run on a GPU machine with
``pytest tests/test_cuda.py``: every precision trains on the GPU (fp16 with its
GradScaler, as on Colab's T4, is forced even on a GPU that has bf16), the weights
stay float32, and what the GPU predicts agrees with the CPU's float32 answer. The
endpoint's tests (``tests/test_serve.py``) serve on the GPU there by themselves.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from toy_beats import AGREEMENT, PROBA_TOLERANCE, small_lstm_fcn, toy_beats

from ecg_course.data import make_loader
from ecg_course.precision import resolve_precision
from ecg_course.training import evaluate, fit, get_device, predict_proba, seed_everything

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def test_auto_picks_the_gpu_and_a_mixed_precision_it_runs():
    assert get_device().type == "cuda"
    chosen = resolve_precision("auto", "cuda")
    expected = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    assert chosen.name == expected, chosen.reason


@pytest.mark.parametrize("name", ["fp32", "bf16", "fp16"])
def test_training_on_the_gpu_lowers_the_loss_and_keeps_float32_weights(name):
    if name == "bf16" and not torch.cuda.is_bf16_supported():
        pytest.skip("this GPU has no bf16")
    seed_everything(1)
    X, y = toy_beats(n=192)
    model = small_lstm_fcn()
    loader = make_loader(X, y, 32, shuffle=True, seed=1)
    before = evaluate(model.to("cuda"), loader, nn.CrossEntropyLoss(), "cuda", "fp32").loss
    history = fit(model, loader, None, epochs=10, lr=1e-2, device="cuda", progress=False,
                  precision=name)  # fmt: skip
    after = evaluate(model, loader, nn.CrossEntropyLoss(), "cuda", "fp32").loss
    assert history.train_loss[-1] < history.train_loss[0]
    assert after < 0.7 * before
    assert all(p.device.type == "cuda" and p.dtype == torch.float32 for p in model.parameters())


def test_the_gpu_predicts_what_the_cpu_predicts():
    seed_everything(0)
    X, y = toy_beats(n=512)
    model = small_lstm_fcn()
    fit(model, make_loader(X[:384], y[:384], 32, shuffle=True), None, epochs=8, lr=3e-3,
        device="cuda", progress=False)  # fmt: skip
    on_gpu = predict_proba(model, X[384:])  # the model's device: CUDA
    on_cpu = predict_proba(model.to("cpu"), X[384:], precision="fp32")
    assert on_gpu.dtype == on_cpu.dtype == np.float32
    assert (on_cpu.argmax(1) == y[384:]).mean() > 0.9  # the model did learn
    assert np.abs(on_gpu - on_cpu).max() < PROBA_TOLERANCE
    assert (on_gpu.argmax(1) == on_cpu.argmax(1)).mean() >= AGREEMENT
