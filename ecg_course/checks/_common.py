"""What every checker shares: the error it raises, the message helpers, the call of a
student's function, and the model's reference probabilities."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import torch
from torch import nn

from ecg_course.precision import Precision, lstm_runs_in, resolve_precision
from ecg_course.training import predict_proba


class ExerciseError(AssertionError):
    """An exercise answer is not right yet; the message says why."""


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise ExerciseError(message)


def _name_mistake(same: Callable[[object], bool], mistakes) -> None:
    """Raise the message of the first mistake whose result the answer equals.

    The one way a checker names a mistake: only when the answer is what that mistake
    gives. ``mistakes``: pairs (what that mistake gives, or a function of no arguments
    that computes it, the message that names it); ``same(result)``: whether the answer
    equals that result. A result of ``None`` (the mistake cannot be made here) is skipped;
    a function is called only when the mistakes before it did not match."""
    for gives, message in mistakes:
        result = gives() if callable(gives) else gives
        if result is not None and same(result):
            raise ExerciseError(message)


def _returned(result, name: str, expected: str):
    """The student's return value, a tensor made NumPy; ``None`` is an ExerciseError
    saying to return ``expected``."""
    _expect(
        result is not None,
        f"{name} returned None: end the function with `return` and {expected}.",
    )
    if isinstance(result, torch.Tensor):
        return result.detach().cpu().numpy()
    return result


def _call_answer(function: Callable, call: str, where: str, *args, hint: str = ""):
    """``function(*args)``; a student's crash becomes an ExerciseError saying where it came
    from (``call``: how it was called, ``where``: on what), and ``hint``, what to change."""
    try:
        return function(*args)
    except NotImplementedError:
        raise
    except Exception as error:
        name = call.split("(")[0]
        raise ExerciseError(
            f"{name} raised {type(error).__name__}: {error} (called as {call} {where})"
            + (f": {hint}." if hint else ".")
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


# --- the model's own answer: every format a right answer may be computed in ----------------


def _model_proba(model: nn.Module, X, precision: str = "fp32") -> np.ndarray:
    """Probabilities (n, C) of beats X, as ``predict_proba`` gives them (eval mode, no
    gradients, float32 unless ``precision`` says otherwise)."""
    return predict_proba(model, np.ascontiguousarray(X, dtype=np.float32), precision=precision)


def _sixteen_bit(model: nn.Module) -> list[Precision]:
    """The 16-bit formats a student may compute in on the model's device, less those in
    which its kernels cannot run an LSTM (oneDNN has no bfloat16 LSTM on a CPU without
    bfloat16 instructions, and no float16 one): no answer was computed in them."""
    device = next(model.parameters()).device
    names = ("bf16", "fp16") if device.type == "cuda" else ("bf16",)
    formats = [resolve_precision(name, device) for name in names]
    return [p for p in formats if lstm_runs_in(p)]


def _references(model: nn.Module, X) -> tuple[list[np.ndarray], float]:
    """The model's probabilities in float32 (first) and in each 16-bit format of
    :func:`_sixteen_bit` (all correct answers), and a tolerance that covers their gap: a
    correct answer computed in 16 bits differs from float32 by that much, a mistake (train
    mode, another set, another order) by far more."""
    exact = _model_proba(model, X)
    others = [_model_proba(model, X, precision) for precision in _sixteen_bit(model)]
    gap = max((float(np.abs(exact - o).max()) for o in others), default=0.0)
    return [exact, *others], max(1e-4, 2 * gap)


def _matches_model(proba: np.ndarray, model: nn.Module, X) -> bool:
    if np.allclose(proba, _model_proba(model, X), atol=1e-4):
        return True  # float32: no need to compute the 16-bit references
    references, tol = _references(model, X)
    return any(np.allclose(proba, r, atol=tol) for r in references)
