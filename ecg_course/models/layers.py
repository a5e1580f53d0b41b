"""Building blocks of the course's convolutional models.

:class:`ConvBlock` is one block of the LSTM-FCN's convolutional branch, as drawn in
Karim et al. (2018) and written in tsai's ``ConvBlock``: a temporal convolution with
"same" padding, batch normalization, ReLU. It reads and writes ``(B, C, T)`` maps.

Its ``channels_last`` option runs the same computation, with the same parameters, in
another memory layout: PyTorch computes every ``Conv1d`` as a 2-D convolution of
height 1, and on a CPU oneDNN's kernels can be faster when the channels are the
innermost axis (``torch.channels_last``). The block then views its input as
``(B, C, 1, T)`` stored channels-last, convolves it with :class:`ChannelsLastConv1d`
and normalizes it with ``nn.BatchNorm2d``, which over a height of 1 computes exactly
what ``nn.BatchNorm1d`` computes over ``(B, C, T)``. Its output is again ``(B, C, T)``,
with the channels innermost in memory, so that the next block reads it without a copy.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class ChannelsLastConv1d(nn.Conv1d):
    """An ``nn.Conv1d`` that reads and writes ``(B, C, 1, T)`` maps stored channels-last.

    Same weights ``(C_out, C_in, k)`` and arguments, same result as ``nn.Conv1d``;
    only the memory layout differs. PyTorch runs every ``Conv1d`` as a 2-D
    convolution of height 1; on a CPU, oneDNN's kernels are faster when the
    channels are the innermost axis (``channels_last``), and batch norm and ReLU
    then stay in that layout too (``python -m benchmarks.bench_ch2 --skip-notebook``
    times the LSTM-FCN in both layouts).

    Shapes:
        input: ``(B, C_in, 1, T)``; output: ``(B, C_out, 1, T_out)``, ``T_out`` as
        for ``nn.Conv1d`` with the same stride, padding and dilation.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.padding_mode != "zeros":
            raise ValueError(
                f"ChannelsLastConv1d pads with zeros only; got padding_mode={self.padding_mode!r}."
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[2] != 1:
            raise ValueError(
                f"ChannelsLastConv1d expects maps of shape (B, C, 1, T); got {tuple(x.shape)}."
            )
        padding = self.padding if isinstance(self.padding, str) else (0, self.padding[0])
        return F.conv2d(
            x,
            self.weight.unsqueeze(2),  # (C_out, C_in / groups, 1, k)
            self.bias,
            stride=(1, self.stride[0]),
            padding=padding,
            dilation=(1, self.dilation[0]),
            groups=self.groups,
        )


def same_padding(kernel_size: int) -> tuple[int, int]:
    """Zeros to add ``(left, right)`` of a series so that a convolution keeps its length.

    As Keras's ``padding="same"``: ``kernel_size - 1`` zeros in all, the extra one on
    the right for an even kernel (8 -> (3, 4); 5 -> (2, 2)).
    """
    return (kernel_size - 1) // 2, kernel_size // 2


class ConvBlock(nn.Sequential):
    """Conv1d with "same" padding -> BatchNorm1d -> ReLU: ``(B, C_in, T) -> (B, C_out, T)``.

    The layers, in order: ``(0)`` the "same" zero padding (:func:`same_padding`), ``(1)``
    the convolution ``(C_out, C_in, kernel_size)`` with a bias, ``(2)`` batch
    normalization of each channel over the batch and time, ``(3)`` ReLU. The padding
    is a layer of its own, rather than ``nn.Conv1d(padding="same")``, because for an
    even kernel PyTorch warns that it must copy the input to pad it unevenly.

    Args:
        in_channels: channels ``C_in`` of the input maps.
        out_channels: channels ``C_out`` (filters) of the output maps.
        kernel_size: width ``k`` of the convolution, in samples.
        channels_last: run the same computation on ``(B, C, 1, T)`` maps stored
            channels-last (:class:`ChannelsLastConv1d` and ``nn.BatchNorm2d``; on a
            CPU sometimes faster). The parameters and their state-dict names and
            shapes are the same in both layouts, so weights load from one into the other.

    Shapes:
        input: ``(B, C_in, T)``; output: ``(B, C_out, T)``.
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, channels_last: bool = False
    ) -> None:
        conv = ChannelsLastConv1d if channels_last else nn.Conv1d
        norm = nn.BatchNorm2d if channels_last else nn.BatchNorm1d
        super().__init__(
            nn.ConstantPad1d(same_padding(kernel_size), 0.0),  # pads the last axis, T
            conv(in_channels, out_channels, kernel_size),
            norm(out_channels),
            nn.ReLU(),
        )
        self.channels_last = channels_last

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Feature maps ``(B, C_out, T)`` of maps ``x`` ``(B, C_in, T)``."""
        if x.dim() != 3:
            raise ValueError(f"ConvBlock expects maps of shape (B, C, T); got {tuple(x.shape)}.")
        if not self.channels_last:
            return super().forward(x)
        maps = x.unsqueeze(2).contiguous(memory_format=torch.channels_last)  # (B, C_in, 1, T)
        return super().forward(maps).squeeze(2)
