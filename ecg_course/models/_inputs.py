"""Input checks shared by the course's models."""

from __future__ import annotations

import numpy as np
import torch


def as_sequence_batch(x: torch.Tensor, input_size: int = 1) -> torch.Tensor:
    """Return ``x`` as a float (B, T, input_size) batch, or raise a ValueError.

    Accepts (B, T) when ``input_size`` is 1, and (B, T, input_size); B and T >= 1.
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
    expected = "(B, T) or (B, T, 1)" if input_size == 1 else f"(B, T, {input_size})"
    if x.ndim != 3 or x.shape[-1] != input_size or x.shape[1] == 0:
        raise ValueError(f"expected a batch of shape {expected} with T >= 1; got {tuple(x.shape)}.")
    if x.shape[0] == 0:
        raise ValueError("Empty batch: the input has B=0 series.")
    return x


def require_finite(x: torch.Tensor, name: str = "X") -> None:
    """Raise a ValueError naming the first row of ``x`` (n, ...) that holds NaN or inf.

    A beat with NaN or inf would come out of a model as NaN probabilities, whose
    argmax is class 0, "normal": the worst silent answer on ECG data.
    """
    finite_rows = torch.isfinite(x.reshape(len(x), -1)).all(dim=1)
    if not bool(finite_rows.all()):
        row = int((~finite_rows).nonzero()[0, 0])
        bad = x[row].reshape(-1)
        kind = "NaN" if bool(torch.isnan(bad).any()) else "inf"
        raise ValueError(
            f"{name}[{row}] contains {kind} (and {int((~finite_rows).sum())} row(s) in all "
            "are not finite); expected finite samples in every beat. Drop or repair those "
            "beats before classifying them."
        )


def require_finite_batch(x: torch.Tensor, name: str = "x") -> torch.Tensor:
    """Return ``x`` if every value is finite, else raise :func:`require_finite`'s ValueError.

    The models' ``forward`` calls it: one ``torch.isfinite(x).all()`` over the batch,
    and the row-by-row search for the message only when that fails. Measured on a
    2-core CPU, one thread, batches of 256 beats: about 0.1 ms, 1.3 % of a forward pass
    of chapter 1's fastest LSTM (7 samples per step), 0.2 % at 1 sample per step and
    0.03 % of the LSTM-FCN's.
    """
    if not bool(torch.isfinite(x).all()):
        require_finite(x, name)
    return x


def as_side_batch(side, n: int) -> torch.Tensor:
    """Side features (e.g. RR intervals) as a float32 tensor ``(n, F)``, or a ValueError.

    One row per beat of a batch of ``n`` beats; finite numbers only (the message names
    the first row with NaN or inf).
    """
    array = np.asarray(side.detach().cpu() if isinstance(side, torch.Tensor) else side)
    if array.ndim != 2 or len(array) != n:
        raise ValueError(
            f"side must be (n, F) with one row per beat (n = {n}); got shape {array.shape}."
        )
    if not np.issubdtype(array.dtype, np.number):
        raise ValueError(f"side must hold numbers; got dtype {array.dtype}.")
    tensor = torch.as_tensor(array.astype(np.float32))
    require_finite(tensor, "side")
    return tensor
