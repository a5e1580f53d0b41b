"""LSTM-FCN of Karim et al. (2018) for univariate time-series classification.

The paper's figure, as this module builds it::

    beat (B, T, C) -+- dimension shuffle (B, C, T) -> LSTM -> Dropout -------------+
                    |                                                              |
                    +- (B, C, T) -> ConvBlock -> ConvBlock -> ConvBlock -> GAP ----+
                                                                                   |
                           concat(LSTM features, pooled conv features) -> Linear -> logits

* **LSTM block**, on the *dimension-shuffled* input. Karim et al. transpose the
  series before the LSTM: a series of ``T`` samples with one channel becomes ONE
  time step with ``T`` features, so the LSTM sees the whole beat at once (its
  recurrence runs over a single step; with ``C`` channels, ``C`` steps). The
  authors found this faster and more accurate than feeding ``T`` steps of one
  value. The LSTM output is followed by a heavy dropout (0.8 in the paper).
* **FCN block**: three conv blocks (:class:`~ecg_course.models.layers.ConvBlock`),
  each a temporal convolution with "same" padding (128, 256, 128 filters of size
  8, 5, 3), batch normalization and ReLU, as in tsai's ``RNN_FCN``; then global
  average pooling (GAP) over time.

The softmax is left to the loss (``nn.CrossEntropyLoss``).

**Memory layout.** The blocks read and write plain ``(B, C, T)`` maps.
``channels_last=True`` runs them on ``(B, C, 1, T)`` maps stored channels-last
instead (see :mod:`ecg_course.models.layers`): the same computation with the same
parameters under the same state-dict names, so weights load from one layout into the
other. It is not the default because it hardly pays: on a 2-core AMD EPYC with
AVX512-BF16 (torch 2.13, two threads) a training step was 1.10 times faster
channels-last in float32 and 0.98 times as fast under bfloat16 autocast (best over
batches of 64 and 256; ``python -m benchmarks.bench_ch2 --skip-notebook`` times both).

**Side features** (chapter 3). A beat's shape does not say when it came: a
premature supraventricular beat looks normal, and its timing gives it away. With
``side_features=F`` the model also reads ``F`` numbers per beat (its RR
intervals): they are standardised by a batch norm, pass through one small layer
(``Linear(F, side_hidden)`` + ReLU) and are joined to the two branches' features
before the final linear layer.

Because the conv branch ends in global average pooling followed by a linear
layer, it supports class activation maps (Zhou et al. 2016): see
:meth:`LSTMFCN.class_activation_map`.

Differences from the authors' Keras code, for the record: PyTorch's LSTM has
two bias vectors per gate (Keras has one), and weights use PyTorch's default
initialization (Keras: He-uniform for the convolutions).

References:
    Karim, Majumdar, Darabi, Chen, "LSTM Fully Convolutional Networks for Time
    Series Classification", IEEE Access 6:1662-1669, 2018, arXiv:1709.05206.
    tsai, ``tsai/models/RNN_FCN.py`` (https://github.com/timeseriesAI/tsai).
    Zhou et al., "Learning Deep Features for Discriminative Localization", CVPR 2016.
"""

from __future__ import annotations

import inspect

import torch
from torch import nn

from ecg_course.models._inputs import as_sequence_batch, require_finite_batch
from ecg_course.models.layers import ChannelsLastConv1d, ConvBlock

__all__ = ["HPARAM_NAMES", "LSTMFCN", "ChannelsLastConv1d", "ConvBlock"]


class LSTMFCN(nn.Module):
    """LSTM-FCN classifier: logits ``(B, num_classes)`` from series ``(B, T)`` or ``(B, T, C)``.

    Args:
        num_classes: number of output classes.
        seq_len: length ``T`` of the input series (187 for the MIT-BIH beats).
            With the dimension shuffle it is the LSTM's input size, so every
            batch must have exactly this length.
        in_channels: channels ``C`` per time step (1 for a single ECG lead).
        num_layers: stacked LSTM layers.
        hidden_size: LSTM hidden units.
        dropout: dropout probability after the LSTM block (0.8 in the paper).
        filters_1, filters_2, filters_3: output channels of the three convolutions.
        kernel_size_1, kernel_size_2, kernel_size_3: their kernel sizes.
        shuffle: apply the dimension shuffle (Karim et al.). ``False`` feeds the
            LSTM ``T`` steps of ``C`` values instead (the "LSTM-FCN without
            shuffle" ablation); then any length works.
        side_features: number ``F`` of features per beat besides its samples (0: none).
        side_hidden: units of the layer that reads them.
        channels_last: run the conv blocks in the channels-last layout (same
            parameters, same state-dict names, same function; on a CPU up to about 1.1
            times faster in float32, no faster under bfloat16).

    Shapes:
        input: ``x`` ``(B, T)`` (single channel) or ``(B, T, C)``, floating point;
        with ``side_features``, also ``side`` ``(B, F)``.
        output: ``(B, num_classes)`` logits.
    """

    def __init__(
        self,
        num_classes: int = 5,
        seq_len: int = 187,
        in_channels: int = 1,
        num_layers: int = 1,
        hidden_size: int = 128,
        dropout: float = 0.8,
        filters_1: int = 128,
        filters_2: int = 256,
        filters_3: int = 128,
        kernel_size_1: int = 8,
        kernel_size_2: int = 5,
        kernel_size_3: int = 3,
        shuffle: bool = True,
        side_features: int = 0,
        side_hidden: int = 32,
        channels_last: bool = False,
    ) -> None:
        # The constructor's arguments, by the names of its signature (HPARAM_NAMES).
        arguments = locals()
        super().__init__()
        self.hparams: dict = {name: arguments[name] for name in HPARAM_NAMES}
        """The constructor's arguments: ``LSTMFCN(**model.hparams)`` builds the same network."""
        _check_hparams(self.hparams)
        self.num_classes = num_classes
        self.seq_len = seq_len
        self.in_channels = in_channels
        self.shuffle = shuffle

        # LSTM block: (B, C, T) after the shuffle -> last hidden state (B, hidden_size)
        lstm_input = seq_len if shuffle else in_channels
        self.lstm = nn.LSTM(lstm_input, hidden_size, num_layers=num_layers, batch_first=True)
        self.lstm_dropout = nn.Dropout(dropout)

        # FCN block: (B, C, T) -> (B, filters_3, T), then GAP over T -> (B, filters_3)
        self.conv1 = ConvBlock(in_channels, filters_1, kernel_size_1, channels_last)
        self.conv2 = ConvBlock(filters_1, filters_2, kernel_size_2, channels_last)
        self.conv3 = ConvBlock(filters_2, filters_3, kernel_size_3, channels_last)

        # Side block: (B, F) -> (B, side_hidden), when the beats come with side features
        self.side_features = side_features
        self.side = None
        side_width = 0
        if side_features:
            self.side = nn.Sequential(
                nn.BatchNorm1d(side_features), nn.Linear(side_features, side_hidden), nn.ReLU()
            )
            side_width = side_hidden

        self.fc = nn.Linear(hidden_size + filters_3 + side_width, num_classes)

    def _as_batch(self, x: torch.Tensor) -> torch.Tensor:
        """Validate ``x`` (shape, dtype, finite values) and return it as ``(B, T, C)``."""
        x = require_finite_batch(as_sequence_batch(x, self.in_channels))
        if self.shuffle and x.shape[1] != self.seq_len:
            raise ValueError(
                f"Expected series of length T={self.seq_len} (the model's seq_len), "
                f"got {x.shape[1]}; the dimension-shuffled LSTM needs a fixed length."
            )
        return x

    def _conv_features(self, x: torch.Tensor) -> torch.Tensor:
        """Last conv feature maps ``(B, filters_3, T)`` of a ``(B, T, C)`` batch."""
        maps = x.transpose(1, 2)  # (B, C, T)
        return self.conv3(self.conv2(self.conv1(maps)))

    def _side_batch(self, side: torch.Tensor | None, batch_size: int) -> list[torch.Tensor]:
        """``[side]`` validated as ``(B, F)``, or ``[]`` for a model without side features."""
        if self.side is None:
            if side is not None:
                raise ValueError(
                    "This model reads no side features (side_features=0); call model(x)."
                )
            return []
        if side is None:
            raise ValueError(
                f"This model reads {self.side_features} side features per beat: "
                "call model(x, side) with side of shape (B, side_features)."
            )
        if side.dim() != 2 or side.shape != (batch_size, self.side_features):
            raise ValueError(
                f"Expected side features of shape (B, {self.side_features}) with B = "
                f"{batch_size}; got {tuple(side.shape)}."
            )
        return [self.side(require_finite_batch(side, "side"))]

    def forward(self, x: torch.Tensor, side: torch.Tensor | None = None) -> torch.Tensor:
        """Logits ``(B, num_classes)`` for a batch ``(B, T)`` or ``(B, T, C)``.

        ``side`` ``(B, F)``: the beats' side features, for a model built with them.

        Raises a ValueError naming the first row of ``x`` or ``side`` that holds NaN or
        inf: such a beat would get NaN logits, whose argmax is class 0 (normal).
        """
        x = self._as_batch(x)  # (B, T, C)
        side_features = self._side_batch(side, x.shape[0])
        # Dimension shuffle: (B, T, C) -> (B, C, T): C time steps (one for a single
        # lead) of T features each, as in Karim et al. and tsai's RNN_FCN.
        seq = x.transpose(1, 2) if self.shuffle else x
        _, (h_n, _) = self.lstm(seq)  # h_n: (num_layers, B, hidden_size)
        lstm_features = self.lstm_dropout(h_n[-1])  # (B, hidden_size)
        conv_features = self._conv_features(x).mean(dim=-1)  # GAP: (B, filters_3)
        return self.fc(torch.cat([lstm_features, conv_features, *side_features], dim=1))

    @torch.no_grad()
    def class_activation_map(self, x: torch.Tensor) -> torch.Tensor:
        """Class activation maps of the conv branch, ``(B, num_classes, T)``.

        ``cam[b, c, t] = sum_k W[c, H + k] * F[b, k, t]`` where ``F`` are the last
        conv feature maps ``(B, filters_3, T)`` and ``W[:, H:]`` the columns of the
        final linear layer that read the pooled conv features (``H`` =
        ``hidden_size``). Averaged over ``t``, the map is the conv branch's
        contribution to the logit of class ``c``: large values mark the samples
        that push the beat towards that class. The LSTM branch has no temporal
        map and is left out. Runs without gradients, in the model's current mode
        (call ``model.eval()`` first for batch-norm running statistics).

        Args:
            x: batch ``(B, T)`` or ``(B, T, C)``.

        Returns:
            Tensor ``(B, num_classes, T)``.
        """
        x = self._as_batch(x)
        features = self._conv_features(x)  # (B, K, T)
        hidden = self.lstm.hidden_size
        weights = self.fc.weight[:, hidden : hidden + features.shape[1]]  # (num_classes, K)
        return torch.einsum("ck,bkt->bct", weights, features)


HPARAM_NAMES: tuple[str, ...] = tuple(inspect.signature(LSTMFCN).parameters)
"""The names of LSTMFCN's hyperparameters, in the order of its constructor's arguments:
the keys of ``model.hparams`` and of the ``hparams`` that :mod:`ecg_course.artifact` saves."""


def _check_hparams(hparams: dict) -> None:
    """Raise a ValueError naming the first hyperparameter outside its range.

    ``dropout`` must lie in [0, 1), ``side_features`` be an integer >= 0, ``shuffle``
    and ``channels_last`` are switches; every other one is a positive integer.
    """
    for name, value in hparams.items():
        if name in ("shuffle", "channels_last"):
            continue
        if name == "dropout":
            if not 0.0 <= value < 1.0:
                raise ValueError(f"dropout must be in [0, 1), got {value!r}.")
        elif name == "side_features":
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"side_features must be an integer >= 0, got {value!r}.")
        elif not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}.")
