"""Mixed precision: which number format to compute in, chosen from what the hardware runs.

``torch.autocast`` runs the matrix multiplies and convolutions of a forward pass in a
16-bit format and keeps everything else in float32: the weights (so the optimizer
updates full-precision "master" weights), the optimizer state, reductions such as
the loss, and the softmax. Two 16-bit formats exist:

* **bfloat16** keeps float32's 8 exponent bits (same range, about 1e-38 to 3e38)
  and keeps 7 mantissa bits (about 2-3 significant digits). Gradients cannot
  overflow or vanish any more than in float32, so no loss scaling is needed.
* **float16** has 10 mantissa bits but only 5 exponent bits (range about 6e-8 to
  65504): small gradients underflow to zero, so the loss is multiplied by a large
  factor before ``backward`` and the gradients divided by it before the step
  (``torch.amp.GradScaler``).

A 16-bit format only pays where the hardware computes in it natively: CPUs with
AMX or AVX512-BF16 (recent Intel Xeon, AMD Zen 4 and newer) and CUDA GPUs. On
other CPUs bfloat16 is emulated and slower than float32, so ``"auto"`` checks.
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass
from typing import Literal

import torch

__all__ = [
    "PRECISIONS",
    "Precision",
    "cpu_bf16_support",
    "lstm_runs_in",
    "require_lstm_support",
    "resolve_precision",
]

PrecisionName = Literal["auto", "bf16", "fp16", "fp32"]
PRECISIONS: tuple[str, ...] = ("auto", "bf16", "fp16", "fp32")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
_announced: set[str] = set()


@dataclass(frozen=True)
class Precision:
    """A resolved choice: the format (``"bf16"``, ``"fp16"`` or ``"fp32"``) on a device.

    Attributes:
        name: the 16- or 32-bit format the forward pass computes in.
        device_type: ``"cpu"`` or ``"cuda"`` (what ``torch.autocast`` takes).
        reason: why this format was chosen, in words (printed once).
    """

    name: Literal["bf16", "fp16", "fp32"]
    device_type: str
    reason: str

    @property
    def dtype(self) -> torch.dtype:
        return _DTYPES[self.name]

    def autocast(self) -> contextlib.AbstractContextManager:
        """The context to run a forward pass and loss in (a no-op for float32)."""
        if self.name == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)

    def grad_scaler(self) -> torch.amp.GradScaler:
        """A gradient scaler: active for float16 only (bfloat16 and float32 need none)."""
        return torch.amp.GradScaler(self.device_type, enabled=self.name == "fp16")

    def __str__(self) -> str:
        return f"{self.name} ({self.reason})"


def cpu_bf16_support() -> str | None:
    """The CPU feature that computes bfloat16 natively (``"AMX"`` or ``"AVX512-BF16"``),
    or ``None`` when bfloat16 would be emulated (slower than float32)."""
    cpu = torch.cpu
    if getattr(cpu, "_is_amx_tile_supported", lambda: False)():
        return "AMX"
    if getattr(cpu, "_is_avx512_bf16_supported", lambda: False)():
        return "AVX512-BF16"
    return None


@functools.cache
def _lstm_probe(name: str, device_type: str) -> str | None:
    """Run a tiny LSTM forward and backward under autocast; the error, or None if it ran.

    Gradients are switched on for the probe: it is often first asked for inside
    ``torch.no_grad()`` (``predict_proba``, the endpoint's start-up run), where the
    backward pass would fail for that reason alone."""
    lstm = torch.nn.LSTM(1, 4, batch_first=True).to(device_type)
    x = torch.rand(2, 3, 1, device=device_type)
    try:
        with torch.enable_grad():
            with Precision(name, device_type, "probe").autocast():  # type: ignore[arg-type]
                output, _ = lstm(x)
            output.float().sum().backward()
    except RuntimeError as error:
        return str(error).split(". ")[0]  # oneDNN appends advice on its verbose mode
    return None


def lstm_runs_in(precision: Precision) -> bool:
    """Whether this device's kernels run an ``nn.LSTM`` in ``precision``'s format.

    Not every 16-bit format that autocast accepts has an LSTM kernel: on a CPU, oneDNN
    has no float16 LSTM, and no bfloat16 LSTM on CPUs without AVX-512 (bfloat16
    convolutions still run there, emulated). Measured once per format and device by
    running a tiny LSTM, since the CPU's feature flags do not say it.
    """
    if precision.name == "fp32":
        return True
    return _lstm_probe(precision.name, precision.device_type) is None


def require_lstm_support(precision: Precision) -> None:
    """Raise ``ValueError`` naming the format and what to use instead, when a model
    with an LSTM cannot run in ``precision`` here (instead of oneDNN's own error,
    "could not create a primitive descriptor", in the middle of a forward pass)."""
    if not lstm_runs_in(precision):
        cause = _lstm_probe(precision.name, precision.device_type)
        raise ValueError(
            f"precision={precision.name!r} cannot run an LSTM on this {precision.device_type}"
            f' (PyTorch says: {cause}). Use precision="auto" (it picks a format this'
            ' hardware runs) or "fp32".'
        )


def resolve_precision(
    precision: PrecisionName | Precision = "auto",
    device: torch.device | str = "cpu",
    announce: bool = False,
) -> Precision:
    """Turn ``"auto" | "bf16" | "fp16" | "fp32"`` into a :class:`Precision` for ``device``.

    ``"auto"`` picks bfloat16 on a CPU with AMX or AVX512-BF16 and on a CUDA GPU
    that supports it; float16 with a gradient scaler on an older CUDA GPU (such as
    Colab's T4); float32 everywhere else. An explicit name is honoured as asked.

    Args:
        announce: print the choice and its reason, once per distinct choice
            (``mixed precision: bf16 (CPU has AMX)``).
    """
    if isinstance(precision, Precision):
        return precision
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}; got {precision!r}.")
    device_type = torch.device(device).type
    if device_type not in ("cpu", "cuda"):
        if precision not in ("auto", "fp32"):
            raise ValueError(
                f"mixed precision runs on 'cpu' or 'cuda'; got device {device_type!r}: "
                'use precision="fp32".'
            )
        chosen = Precision("fp32", device_type, f"no mixed precision on {device_type}")
    elif precision != "auto":
        chosen = Precision(precision, device_type, "asked for")
    elif device_type == "cuda":
        if torch.cuda.is_bf16_supported():
            chosen = Precision("bf16", "cuda", "GPU supports bf16")
        else:
            chosen = Precision("fp16", "cuda", "GPU without bf16: fp16 with loss scaling")
    else:
        feature = cpu_bf16_support()
        if feature is not None:
            chosen = Precision("bf16", "cpu", f"CPU has {feature}")
        else:
            chosen = Precision("fp32", "cpu", "CPU without native bf16: it would be slower")
    message = f"mixed precision: {chosen}"
    if announce and message not in _announced:
        _announced.add(message)
        print(message)
    return chosen
