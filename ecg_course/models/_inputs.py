"""Input checks shared by the course's models."""

from __future__ import annotations

import torch


def as_sequence_batch(x: torch.Tensor, input_size: int = 1) -> torch.Tensor:
    """Return ``x`` as a float (B, T, input_size) batch, or raise a ValueError.

    Accepts (B, T) when ``input_size`` is 1, and (B, T, input_size).
    """
    if not isinstance(x, torch.Tensor):
        raise ValueError(
            f"expected a torch.Tensor of shape (B, T) or (B, T, {input_size}); "
            f"got {type(x).__name__}."
        )
    if not torch.is_floating_point(x):
        raise ValueError(
            f"expected a floating-point tensor; got dtype {x.dtype}. Convert with x.float()."
        )
    if x.ndim == 2 and input_size == 1:
        x = x.unsqueeze(-1)
    if x.ndim != 3 or x.shape[-1] != input_size or x.shape[1] == 0:
        raise ValueError(
            f"expected a batch of shape (B, T) or (B, T, {input_size}) with T >= 1; "
            f"got {tuple(x.shape)}."
        )
    return x
