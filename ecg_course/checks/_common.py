"""What every checker shares: the error it raises, the message helpers, the call of a
student's function, and the model's reference probabilities."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import torch
from torch import nn

from ecg_course.training import predict_proba


class ExerciseError(AssertionError):
    """An exercise answer is not right yet; the message says why."""


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise ExerciseError(message)


def _expect_metric(
    name: str, value: float, expected: float, mistakes: list[tuple[float, str]], hint: str
) -> None:
    """Raise unless ``value`` equals ``expected``, naming the first known mistake it equals
    (``mistakes``: the value that mistake gives, and what to say), else rounding, else ``hint``."""
    if np.isclose(value, expected, atol=1e-6):
        return
    for wrong, what in mistakes:
        _expect(
            not np.isclose(value, wrong, atol=1e-6),
            f"{name} is {value:.4f}, {what}: expected {expected:.4f}.",
        )
    _expect(
        not any(np.isclose(value, round(expected, d)) for d in range(1, 5)),
        f"{name} is {value}, rounded: keep the full value ({expected}) and round only when "
        "printing.",
    )
    raise ExerciseError(f"{name} is {value:.4f}, expected {expected:.4f}: {hint}")


def _name_mistake(same: Callable[[object], bool], mistakes) -> None:
    """Raise the message of the first mistake whose result the answer equals.

    ``mistakes``: pairs (what that mistake gives, or a function of no arguments that
    computes it, the message that names it); ``same(result)``: whether the answer equals
    that result. A result of ``None`` (the mistake cannot be made here) is skipped."""
    for gives, message in mistakes:
        result = gives() if callable(gives) else gives
        if result is not None and same(result):
            raise ExerciseError(message)


def _call_answer(function: Callable, call: str, where: str, *args):
    """``function(*args)``; a student's crash becomes an ExerciseError saying where it came from."""
    try:
        return function(*args)
    except NotImplementedError:
        raise
    except Exception as error:
        name = call.split("(")[0]
        raise ExerciseError(
            f"{name} raised {type(error).__name__}: {error} (called as {call} for {where})."
        ) from error


def _shown(values) -> list[float]:
    """``values`` as a list of floats to 4 decimals, for a message (float32 -> float64 first,
    so that 0.2748 does not print as 0.27480000257492065)."""
    return np.round(np.asarray(values, dtype=np.float64), 4).tolist()


def _passed(message: str) -> None:
    print(f"Correct: {message}")


def _row_keys(X: np.ndarray) -> list[bytes]:
    return [row.tobytes() for row in np.ascontiguousarray(X, dtype=np.float32)]


def _same_rows(A, B) -> bool:
    A, B = np.asarray(A), np.asarray(B)
    return A.shape == B.shape and np.array_equal(A.astype(np.float64), B.astype(np.float64))


def _numpy_answer(value, name: str) -> np.ndarray:
    """``value`` as an array; a tensor or a DataFrame is refused with a message."""
    if isinstance(value, torch.Tensor):
        raise ExerciseError(
            f"{name} is a torch.Tensor; later cells need a NumPy array: convert with "
            f"{name}.detach().cpu().numpy()."
        )
    if isinstance(value, pd.DataFrame | pd.Series):
        raise ExerciseError(
            f"{name} is a pandas {type(value).__name__}; later cells need a NumPy array: "
            "convert with .to_numpy()."
        )
    return np.asarray(value)


def _same_rates(got: np.ndarray, want: np.ndarray, atol: float = 1e-6) -> np.ndarray:
    """Per class: ``got`` equals ``want``; where ``want`` is undefined (NaN), NaN or 0."""
    undefined = np.isnan(want)
    return np.where(
        undefined,
        np.isnan(got) | np.isclose(got, 0.0),
        np.isclose(got, want, atol=atol, rtol=0) & ~np.isnan(got),
    )


# --- the model's own answer, in float32 and in the package's default precision --------------


def _model_proba(
    model: nn.Module, X, batch_size: int = 256, dtype: torch.dtype | None = None
) -> np.ndarray:
    """Probabilities (n, C) of beats X in eval mode, in float32 or under autocast to dtype."""
    model.eval()
    device = next(model.parameters()).device
    X = torch.as_tensor(np.ascontiguousarray(X), dtype=torch.float32)
    chunks = []
    with torch.no_grad():
        for i in range(0, len(X), batch_size):
            with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                logits = model(X[i : i + batch_size].to(device))
            chunks.append(torch.softmax(logits.float(), dim=1).cpu())
    return torch.cat(chunks).numpy()


def _sixteen_bit(model: nn.Module) -> list[torch.dtype]:
    """The 16-bit formats a student may compute in on the model's device."""
    on_cuda = next(model.parameters()).device.type == "cuda"
    return [torch.bfloat16, torch.float16] if on_cuda else [torch.bfloat16]


def _sixteen_bit_probas(model: nn.Module, X) -> list[np.ndarray]:
    """The model's probabilities for X in each 16-bit format its device runs. A format the
    device cannot run the model in is left out (oneDNN has no bfloat16 LSTM on a CPU
    without bfloat16 instructions: it raises a RuntimeError), as no answer was computed in it."""
    probas = []
    for dtype in _sixteen_bit(model):
        try:
            probas.append(_model_proba(model, X, dtype=dtype))
        except RuntimeError:
            continue
    return probas


def _references(model: nn.Module, X) -> tuple[list[np.ndarray], float]:
    """The model's probabilities in float32, as ``predict_proba`` gives them by default and
    in 16-bit mixed precision (all correct answers), and a tolerance that covers their gap:
    a correct answer computed in 16 bits differs from float32 by that much, a mistake
    (train mode, another set, another order) by far more."""
    exact = _model_proba(model, X)
    others = [predict_proba(model, np.asarray(X))]
    others += _sixteen_bit_probas(model, X)
    gap = max((float(np.abs(exact - o).max()) for o in others if len(o)), default=0.0)
    return [exact, *others], max(1e-4, 2 * gap)


def _matches_model(proba: np.ndarray, model: nn.Module, X) -> bool:
    if np.allclose(proba, _model_proba(model, X), atol=1e-4):
        return True  # float32: no need to compute the 16-bit references
    references, tol = _references(model, X)
    return any(np.allclose(proba, r, atol=tol) for r in references)
