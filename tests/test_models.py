"""The chapter 1 LSTMs: the from-scratch loop and nn.LSTM agree; inputs are checked."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ecg_course.models import LSTMClassifier, LSTMFromScratch, copy_lstm_weights


def _pair(hidden: int = 16, classes: int = 3, seed: int = 0):
    torch.manual_seed(seed)
    scratch = LSTMFromScratch(input_size=1, hidden_size=hidden, num_classes=classes)
    fused = copy_lstm_weights(scratch, LSTMClassifier(1, hidden, classes))
    return scratch, fused


def test_same_weights_give_same_logits_and_gradients():
    scratch, fused = _pair(hidden=64, classes=2)
    x = torch.randn(8, 140)
    y = torch.tensor([0, 1] * 4)
    criterion = nn.CrossEntropyLoss()
    logits_scratch, logits_fused = scratch(x), fused(x)
    torch.testing.assert_close(logits_scratch, logits_fused, atol=1e-5, rtol=0)
    criterion(logits_scratch, y).backward()
    criterion(logits_fused, y).backward()
    pairs = [
        (scratch.weight_ih.grad, fused.lstm.weight_ih_l0.grad),
        (scratch.weight_hh.grad, fused.lstm.weight_hh_l0.grad),
        (scratch.bias_ih.grad, fused.lstm.bias_ih_l0.grad),
        (scratch.bias_hh.grad, fused.lstm.bias_hh_l0.grad),
        (scratch.head.weight.grad, fused.head.weight.grad),
    ]
    for grad_scratch, grad_fused in pairs:
        assert grad_scratch.abs().max() > 0
        torch.testing.assert_close(grad_scratch, grad_fused, atol=1e-5, rtol=0)


def test_gate_equations_by_hand_for_one_step():
    scratch, _ = _pair(hidden=4, classes=2)
    x = torch.tensor([[0.7]])  # one beat, one sample
    gates = scratch.weight_ih @ x[0] + scratch.bias_ih + scratch.bias_hh  # h0 = 0
    i, f, g, o = gates.chunk(4)
    c = torch.sigmoid(i) * torch.tanh(g)  # c0 = 0, so the forget gate drops out
    h = torch.sigmoid(o) * torch.tanh(c)
    torch.testing.assert_close(scratch.hidden_state(x)[0], h)


def test_two_and_three_dimensional_inputs_agree():
    scratch, fused = _pair()
    x = torch.randn(5, 30)
    for model in (scratch, fused):
        out = model(x)
        assert out.shape == (5, 3)
        torch.testing.assert_close(out, model(x.unsqueeze(-1)))
        assert model.hidden_state(x).shape == (5, 16)


@pytest.mark.parametrize(
    ("x", "message"),
    [
        (torch.randn(4, 10, 2), r"\(B, T\) or \(B, T, 1\).*got \(4, 10, 2\)"),
        (torch.randn(10), r"got \(10,\)"),
        (torch.zeros(4, 10, dtype=torch.long), "floating-point tensor; got dtype torch.int64"),
        ([[0.0] * 10], "expected a torch.Tensor"),
        (torch.randn(4, 0), r"T >= 1"),
    ],
)
def test_bad_inputs_name_what_was_expected(x, message):
    scratch, fused = _pair()
    for model in (scratch, fused):
        with pytest.raises(ValueError, match=message):
            model(x)


@pytest.mark.parametrize(("value", "kind"), [(float("nan"), "NaN"), (float("inf"), "inf")])
def test_beats_with_nan_or_inf_are_refused_naming_the_row(value, kind):
    """NaN logits would argmax to class 0 (normal): the forward pass refuses such beats."""
    x = torch.randn(4, 10)
    x[2, 5] = value
    for model in _pair():
        with pytest.raises(ValueError, match=rf"x\[2\] contains {kind}"):
            model(x)


def test_copy_refuses_mismatched_models():
    scratch = LSTMFromScratch(hidden_size=8, num_classes=2)
    with pytest.raises(ValueError, match="models differ in size"):
        copy_lstm_weights(scratch, LSTMClassifier(hidden_size=16, num_classes=2))
    with pytest.raises(ValueError, match="one LSTM layer"):
        copy_lstm_weights(scratch, LSTMClassifier(hidden_size=8, num_classes=2, num_layers=2))


def test_stacked_classifier_with_dropout():
    model = LSTMClassifier(input_size=1, hidden_size=8, num_classes=5, num_layers=2, dropout=0.3)
    assert model.lstm.num_layers == 2 and model.lstm.dropout == 0.3
    assert model(torch.randn(3, 20)).shape == (3, 5)


def test_samples_per_step_reads_chunks_of_the_beat():
    torch.manual_seed(0)
    chunked = LSTMClassifier(hidden_size=8, num_classes=5, samples_per_step=4)
    assert chunked.lstm.input_size == 4
    x = torch.randn(3, 140)
    assert chunked(x).shape == (3, 5)
    # the same as an nn.LSTM fed the beat reshaped to (B, 35, 4)
    _, (h_n, _) = chunked.lstm(x.reshape(3, 35, 4))
    torch.testing.assert_close(chunked.hidden_state(x), h_n[-1])
    with pytest.raises(ValueError, match="not a multiple of samples_per_step=4"):
        chunked(torch.randn(3, 141))
    with pytest.raises(ValueError, match="samples_per_step must be at least 1"):
        LSTMClassifier(samples_per_step=0)


def test_empty_batch_is_refused():
    scratch, fused = _pair()
    for model in (scratch, fused):
        with pytest.raises(ValueError, match="Empty batch"):
            model(torch.zeros(0, 10))
