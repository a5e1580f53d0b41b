"""Mixed precision (ecg_course.precision) and its use by run_epoch, fit and predict_proba."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from toy_beats import (
    AGREEMENT,
    PROBA_TOLERANCE,
    needs_cpu_bf16_lstm,
    small_lstm_fcn,
    toy_beats,
)

from ecg_course import precision as precision_module
from ecg_course import training
from ecg_course.data import make_loader
from ecg_course.models import LSTMFCN
from ecg_course.precision import lstm_runs_in, resolve_precision
from ecg_course.training import evaluate, fit, predict_proba, run_epoch, seed_everything


class ConvNet(nn.Module):
    """A conv-only classifier: PyTorch has no float16 LSTM on the CPU (oneDNN refuses it),
    so the float16 path is exercised on CPU with convolutions and a linear layer."""

    def __init__(self, length: int = 32, classes: int = 3) -> None:
        super().__init__()
        self.conv = nn.Conv1d(1, 4, 5, padding=2)
        self.head = nn.Linear(4 * length, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, T, 1) -> logits (B, classes)
        return self.head(torch.relu(self.conv(x.transpose(1, 2))).flatten(1))


def test_auto_follows_the_hardware(monkeypatch):
    monkeypatch.setattr(precision_module, "cpu_bf16_support", lambda: None)
    chosen = resolve_precision("auto", "cpu")
    assert chosen.name == "fp32" and "without native bf16" in chosen.reason
    monkeypatch.setattr(precision_module, "cpu_bf16_support", lambda: "AMX")
    chosen = resolve_precision("auto", "cpu")
    assert (chosen.name, chosen.reason) == ("bf16", "CPU has AMX")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert resolve_precision("auto", "cuda").name == "fp16"  # Colab's T4
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert resolve_precision("auto", "cuda").name == "bf16"
    assert resolve_precision("auto", "mps").name == "fp32"


def test_an_explicit_choice_is_honoured_and_a_wrong_one_explained():
    assert resolve_precision("fp16", "cpu").name == "fp16"
    with pytest.raises(ValueError, match="precision must be one of"):
        resolve_precision("half", "cpu")
    with pytest.raises(ValueError, match='use precision="fp32"'):
        resolve_precision("bf16", "mps")


@needs_cpu_bf16_lstm
def test_the_choice_is_announced_once(capsys, monkeypatch):
    monkeypatch.setattr(precision_module, "_announced", set())
    monkeypatch.setattr(precision_module, "cpu_bf16_support", lambda: "AMX")
    X, y = toy_beats(n=30)
    for _ in range(2):
        fit(small_lstm_fcn(), make_loader(X, y, 16), None, epochs=1, device="cpu")
    assert capsys.readouterr().out.count("mixed precision: bf16 (CPU has AMX)") == 1


@pytest.fixture(scope="module")
def trained() -> tuple[LSTMFCN, np.ndarray, np.ndarray]:
    """A small LSTM-FCN trained in float32 on the toy beats, and held-out beats."""
    seed_everything(0)
    X, y = toy_beats(n=512)
    model = small_lstm_fcn()
    fit(model, make_loader(X[:384], y[:384], 32, shuffle=True), None, epochs=8, lr=3e-3,
        device="cpu", progress=False, precision="fp32")  # fmt: skip
    return model, X[384:], y[384:]


@needs_cpu_bf16_lstm
def test_bf16_and_fp32_predictions_agree_on_a_trained_model(trained):
    model, X, y = trained
    fp32 = predict_proba(model, X, precision="fp32")
    bf16 = predict_proba(model, X, precision="bf16")
    assert fp32.dtype == bf16.dtype == np.float32  # the softmax stays float32
    assert (fp32.argmax(1) == y).mean() > 0.9  # the model did learn
    assert np.abs(fp32 - bf16).max() < PROBA_TOLERANCE
    assert (fp32.argmax(1) == bf16.argmax(1)).mean() >= AGREEMENT
    np.testing.assert_allclose(bf16.sum(1), 1, atol=1e-5)


@pytest.mark.parametrize(
    ("name", "make_model"),
    [pytest.param("bf16", small_lstm_fcn, marks=needs_cpu_bf16_lstm), ("fp16", ConvNet)],
)
def test_a_short_mixed_precision_training_lowers_the_loss(name, make_model):
    seed_everything(1)
    X, y = toy_beats(n=192)
    model = make_model()
    loader = make_loader(X, y, 32, shuffle=True, seed=1)
    criterion = nn.CrossEntropyLoss()
    before = evaluate(model, loader, criterion, precision="fp32").loss
    history = fit(model, loader, None, epochs=10, lr=1e-2, device="cpu", progress=False,
                  precision=name)  # fmt: skip
    after = evaluate(model, loader, criterion, precision="fp32").loss
    assert history.train_loss[-1] < history.train_loss[0]
    assert after < 0.7 * before
    # autocast leaves the weights (the optimizer's master copy) in float32
    assert all(p.dtype == torch.float32 for p in model.parameters())


def test_fp16_scales_the_loss(monkeypatch):
    """The float16 path goes through a GradScaler (scale, step, update) on every batch."""
    calls = []
    original = torch.amp.GradScaler.scale

    def spy(self, loss):
        calls.append((self.is_enabled(), loss.dtype))
        return original(self, loss)

    monkeypatch.setattr(torch.amp.GradScaler, "scale", spy)
    X, y = toy_beats(n=64)
    model = ConvNet()
    run_epoch(model, make_loader(X, y, 16), nn.CrossEntropyLoss(),
              torch.optim.Adam(model.parameters()), precision="fp16")  # fmt: skip
    assert calls == [(True, torch.float32)] * 4  # the loss itself stays float32
    calls.clear()
    run_epoch(model, make_loader(X, y, 16), nn.CrossEntropyLoss(),
              torch.optim.Adam(model.parameters()), precision="bf16")  # fmt: skip
    assert calls and not any(enabled for enabled, _ in calls)  # bf16 needs no scaling


def test_an_lstm_in_a_format_the_device_cannot_run_is_refused_by_name(monkeypatch):
    """Where oneDNN has no kernel (fp16 LSTM on any CPU; bf16 without AVX-512), the
    training loop and predict_proba say which format and what to use, before the model
    runs, instead of oneDNN's "could not create a primitive descriptor"."""
    assert not lstm_runs_in(resolve_precision("fp16", "cpu"))
    assert lstm_runs_in(resolve_precision("fp32", "cpu"))
    X, y = toy_beats(n=32)
    model = small_lstm_fcn()
    message = r"precision=.fp16. cannot run an LSTM on this cpu .*precision=\"auto\""
    with pytest.raises(ValueError, match=message):
        predict_proba(model, X, precision="fp16")
    with pytest.raises(ValueError, match=message):
        fit(model, make_loader(X, y, 16), None, epochs=1, device="cpu", progress=False,
            precision="fp16")  # fmt: skip
    assert predict_proba(ConvNet(), X, precision="fp16").shape == (32, 3)  # no LSTM: runs


def test_evaluate_gives_the_loss_probabilities_and_labels_in_one_pass(trained):
    model, X, y = trained
    loader = make_loader(X, y, 50)
    result = evaluate(model, loader, precision="fp32")
    assert result.proba.shape == (len(y), 3) and result.labels.tolist() == y.tolist()
    np.testing.assert_allclose(result.proba, predict_proba(model, X, precision="fp32"),
                               atol=1e-6)  # fmt: skip
    expected = run_epoch(model, loader, nn.CrossEntropyLoss(), precision="fp32")
    assert result.loss == pytest.approx(expected, abs=1e-6)


def test_fit_without_validation_keeps_the_last_epoch_without_copying_weights(monkeypatch):
    copies = []
    monkeypatch.setattr(training.copy, "deepcopy", lambda obj: copies.append(obj) or obj)
    X, y = toy_beats(n=64)
    history = fit(small_lstm_fcn(), make_loader(X, y, 16), None, epochs=3, progress=False)
    assert history.best_epoch == 2 and copies == []


@pytest.mark.parametrize(
    ("row", "value", "kind"), [(1, np.nan, "NaN"), (2, np.inf, "inf"), (0, -np.inf, "inf")]
)
def test_predict_proba_refuses_non_finite_beats(row, value, kind):
    X = np.random.default_rng(0).random((3, 187)).astype("float32")
    X[row, 5] = value
    with pytest.raises(ValueError, match=rf"X\[{row}\] contains {kind}"):
        predict_proba(LSTMFCN().eval(), X)


def test_predict_proba_names_the_first_bad_row_of_several():
    X = np.random.default_rng(0).random((4, 187)).astype("float32")
    X[1, 5], X[3, :] = np.nan, np.inf
    with pytest.raises(ValueError, match=r"X\[1\] contains NaN \(and 2 row"):
        predict_proba(LSTMFCN().eval(), X)


@pytest.mark.parametrize("name", ["bf16", "fp16"])
def test_the_lstm_probe_gives_the_same_verdict_inside_no_grad(name):
    """The probe is often first asked for inside ``torch.no_grad()`` (predict_proba, the
    endpoint's start-up run): its backward pass must not fail there for that reason alone,
    or a format that runs is refused (it refused bf16 on an AVX512-BF16 CPU)."""
    precision_module._lstm_probe.cache_clear()
    with torch.no_grad():
        inside = precision_module._lstm_probe(name, "cpu")
    precision_module._lstm_probe.cache_clear()
    outside = precision_module._lstm_probe(name, "cpu")
    assert inside == outside
    assert inside is None or "grad" not in inside, inside
