"""The chapter 1 LSTM classifier, written out by hand and on ``nn.LSTM``.

Both models read a beat one sample at a time and classify it from the last
hidden state. They hold their weights in the same layout as ``nn.LSTM``
(gates stacked in the order input, forget, cell, output), so weights copied
from one to the other give the same logits: see :func:`copy_lstm_weights`.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ecg_course.models._inputs import as_sequence_batch, require_finite_batch


class LSTMFromScratch(nn.Module):
    """A one-layer LSTM over a Python loop, then a linear layer.

    At every time step t, with input x_t (B, I) and state (h, c) (B, H)::

        i = sigmoid(W_ii x_t + b_ii + W_hi h + b_hi)     input gate
        f = sigmoid(W_if x_t + b_if + W_hf h + b_hf)     forget gate
        g = tanh(W_ig x_t + b_ig + W_hg h + b_hg)        candidate cell
        o = sigmoid(W_io x_t + b_io + W_ho h + b_ho)     output gate
        c = f * c + i * g
        h = o * tanh(c)

    Args:
        input_size: features per time step (1 for a single-lead beat).
        hidden_size: size H of h and c.
        num_classes: number of output logits.
    """

    def __init__(self, input_size: int = 1, hidden_size: int = 64, num_classes: int = 2) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        # The four gates' weights stacked, rows [i; f; g; o], as in nn.LSTM.
        self.weight_ih = nn.Parameter(torch.empty(4 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(4 * hidden_size, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(4 * hidden_size))
        self.bias_hh = nn.Parameter(torch.empty(4 * hidden_size))
        self.head = nn.Linear(hidden_size, num_classes)
        bound = 1 / math.sqrt(hidden_size)  # nn.LSTM's initialisation
        for weight in (self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh):
            nn.init.uniform_(weight, -bound, bound)

    def hidden_state(self, x: torch.Tensor) -> torch.Tensor:
        """Last hidden state h_T (B, H) of a batch x (B, T) or (B, T, I).

        Raises a ValueError naming the first beat with NaN or inf (it would give NaN
        logits), as for any badly shaped batch.
        """
        x = require_finite_batch(as_sequence_batch(x, self.input_size))
        batch = x.shape[0]
        h = x.new_zeros(batch, self.hidden_size)
        c = x.new_zeros(batch, self.hidden_size)
        # The input projection does not depend on h: compute it for all steps at once.
        x_proj = x @ self.weight_ih.T + self.bias_ih  # (B, T, 4H)
        for t in range(x.shape[1]):
            gates = x_proj[:, t] + h @ self.weight_hh.T + self.bias_hh  # (B, 4H)
            i, f, g, o = gates.chunk(4, dim=1)
            i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
            c = f * c + i * g
            h = o * torch.tanh(c)
        return h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (B, num_classes) of a batch x (B, T) or (B, T, I)."""
        return self.head(self.hidden_state(x))


class LSTMClassifier(nn.Module):
    """The same classifier on PyTorch's fused ``nn.LSTM``.

    Args:
        input_size, hidden_size, num_classes: as :class:`LSTMFromScratch`.
        num_layers: stacked LSTM layers.
        dropout: dropout between stacked layers and before the linear layer.
        samples_per_step: read the beat in chunks of this many consecutive samples,
            one chunk per LSTM step: (B, T, I) becomes (B, T / s, s * I). Fewer,
            richer steps make the recurrence shorter, so training is faster and
            gradients have fewer steps to vanish over. T must be divisible by it.
    """

    def __init__(
        self,
        input_size: int = 1,
        hidden_size: int = 64,
        num_classes: int = 2,
        num_layers: int = 1,
        dropout: float = 0.0,
        samples_per_step: int = 1,
    ) -> None:
        super().__init__()
        if samples_per_step < 1:
            raise ValueError(f"samples_per_step must be at least 1; got {samples_per_step}.")
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.samples_per_step = samples_per_step
        self.lstm = nn.LSTM(
            input_size * samples_per_step,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, num_classes)

    def hidden_state(self, x: torch.Tensor) -> torch.Tensor:
        """Last hidden state of the top layer (B, H) of a batch x (B, T) or (B, T, I).

        Raises a ValueError naming the first beat with NaN or inf, as
        :meth:`LSTMFromScratch.hidden_state` does.
        """
        x = require_finite_batch(as_sequence_batch(x, self.input_size))
        if self.samples_per_step > 1:
            batch, length, _ = x.shape
            if length % self.samples_per_step:
                raise ValueError(
                    f"sequence length {length} is not a multiple of samples_per_step="
                    f"{self.samples_per_step}."
                )
            x = x.reshape(batch, length // self.samples_per_step, -1)
        _, (h_n, _) = self.lstm(x)
        return h_n[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (B, num_classes) of a batch x (B, T) or (B, T, I)."""
        return self.head(self.dropout(self.hidden_state(x)))


@torch.no_grad()
def copy_lstm_weights(source: LSTMFromScratch, target: LSTMClassifier) -> LSTMClassifier:
    """Copy the weights of a from-scratch LSTM into a one-layer ``LSTMClassifier``.

    Raises:
        ValueError: the two models differ in size or ``target`` has several layers.
    """
    if target.lstm.num_layers != 1 or target.samples_per_step != 1:
        raise ValueError(
            "target must have one LSTM layer reading one sample per step; it has "
            f"{target.lstm.num_layers} layer(s), {target.samples_per_step} sample(s) per step."
        )
    if source.weight_hh.shape != target.lstm.weight_hh_l0.shape or (
        source.head.weight.shape != target.head.weight.shape
    ):
        raise ValueError(
            "models differ in size: source hidden/classes "
            f"{source.hidden_size}/{source.head.out_features}, target "
            f"{target.hidden_size}/{target.head.out_features}."
        )
    target.lstm.weight_ih_l0.copy_(source.weight_ih)
    target.lstm.weight_hh_l0.copy_(source.weight_hh)
    target.lstm.bias_ih_l0.copy_(source.bias_ih)
    target.lstm.bias_hh_l0.copy_(source.bias_hh)
    target.head.load_state_dict(source.head.state_dict())
    return target
