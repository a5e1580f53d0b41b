"""Checkers for the exercises: each says what is right, or what is wrong in plain words.

A checker prints one line starting with "Correct" when the answer passes, and
raises :class:`ExerciseError` (an ``AssertionError``) naming the first problem
otherwise, e.g. "validation set has 800 rows, expected 1,000".

Where a checker can recompute the right answer it does, and compares the whole
answer with it; when they differ it recomputes the answers that the usual
mistakes give (another class column, argmax labels, a split without
``random_state``...) so that the message names the mistake that was made. A
message names a mistake only when the answer equals what that mistake gives
(:func:`_name_mistake`); otherwise it says what differs (which rows, which values)
without guessing a cause, and a wrong answer never crashes a checker.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd
import torch
from matplotlib import pyplot as plt
from matplotlib.axes import Axes
from sklearn import metrics as skm
from sklearn.model_selection import train_test_split
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from ecg_course import aami, metrics, mitbih
from ecg_course.data import stratified_split
from ecg_course.training import predict_proba

__all__ = [
    "ExerciseError",
    "check_aami_table",
    "check_batched_inference",
    "check_beat_matching",
    "check_early_auc",
    "check_endpoint_client",
    "check_loss_plot",
    "check_lstm_fcn_output",
    "check_per_class_table",
    "check_rr_features",
    "check_run_epoch",
    "check_split",
    "check_test_metrics",
    "check_undersampling",
]


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


# --- chapter 1: the split ---------------------------------------------------------------


def _split(X, y, fractions, random_state, strata_test="y", strata_val="y", strata=None):
    """A train/val/test split as train_test_split makes it, with chosen stratification."""
    _, val_f, test_f = fractions
    idx = np.arange(len(y))
    by = {"y": y, None: None, "strata": strata}
    rest, test = train_test_split(
        idx, test_size=test_f, stratify=by[strata_test], random_state=random_state
    )
    s_val = {"y": y[rest], None: None, "strata": None if strata is None else strata[rest]}
    train, val = train_test_split(
        rest,
        test_size=val_f / (fractions[0] + val_f),
        stratify=s_val[strata_val],
        random_state=random_state,
    )
    return train, val, test


def check_split(
    X_train,
    X_val,
    X_test,
    y_train,
    y_val,
    y_test,
    X,
    y,
    fractions=(0.6, 0.2, 0.2),
    random_state: int = 42,
    other_labels=None,
) -> None:
    """Check a stratified train/validation/test split of (X, y).

    All six arrays are compared with the split that ``random_state`` gives.
    ``other_labels``: labels a student might stratify on by mistake (the 5 classes
    when ``y`` is binary); named in the message when they were used.
    """
    X, y = np.asarray(X), np.asarray(y)
    n = len(X)
    names = ("training", "validation", "test")
    parts = {
        name: (_numpy_answer(Xp, f"X_{short}"), _numpy_answer(yp, f"y_{short}"))
        for name, short, Xp, yp in zip(
            names,
            ("train", "val", "test"),
            (X_train, X_val, X_test),
            (y_train, y_val, y_test),
            strict=True,
        )
    }
    expected = stratified_split(X, y, fractions, random_state)
    expected_parts = dict(zip(names, zip(expected[:3], expected[3:], strict=True), strict=True))
    labels = set(np.unique(y).tolist())
    order = "train_test_split returns X_rest, X_test, y_rest, y_test in that order"
    for (name, (Xp, yp)), f in zip(parts.items(), fractions, strict=True):
        short = {"training": "train", "validation": "val", "test": "test"}[name]
        want = len(expected_parts[name][0])
        # unpacked in the wrong order, X_ gets labels (1-D) and y_ gets beats
        _expect(
            not (Xp.ndim == 1 and set(np.unique(Xp).tolist()) <= labels),
            f"X_{short} holds labels (shape {Xp.shape}), not beats: {order}.",
        )
        _expect(
            not (yp.ndim == 2 and yp.shape[1:] == X.shape[1:]),
            f"y_{short} holds beats (shape {yp.shape}), not labels: {order}.",
        )
        _expect(
            Xp.ndim == 2 and Xp.shape[1:] == X.shape[1:],
            f"X_{short} has shape {Xp.shape}, expected ({want}, {X.shape[1]}): one beat of "
            f"{X.shape[1]} samples per row, as in X.",
        )
        _expect(
            yp.ndim == 1,
            f"y_{short} has shape {yp.shape}, expected ({want},): one label per beat.",
        )
        _expect(len(Xp) == len(yp), f"the {name} set has {len(Xp):,} beats but {len(yp):,} labels.")
        _expect(
            set(np.unique(yp)) <= set(np.unique(y)),
            f"y_{short} holds the labels {sorted(np.unique(yp).tolist())}, but the labels to "
            f"split are {sorted(np.unique(y).tolist())}: split those labels"
            + (", not the five classes." if other_labels is not None else "."),
        )
        _expect(
            len(Xp) == want,
            f"the {name} set has {len(Xp):,} rows, expected {want:,} ({f:.0%} of {n:,}): "
            f"the test set is {fractions[2]:.0%} of all beats, the validation set "
            f"{fractions[1] / (fractions[0] + fractions[1]):.0%} of the rest.",
        )
    keys = {name: _row_keys(Xp) for name, (Xp, _) in parts.items()}
    sets = {name: set(k) for name, k in keys.items()}
    for a, b in (("training", "test"), ("training", "validation"), ("validation", "test")):
        shared = len(sets[a] & sets[b])
        _expect(
            not shared,
            f"{shared} beats are in both the {a} and the {b} set: split the test set off "
            "first, then split only what is left (X_rest).",
        )
    label_of: dict[bytes, set] = {}
    for key, label in zip(_row_keys(X), y.tolist(), strict=True):
        label_of.setdefault(key, set()).add(label)
    all_keys = set(label_of)
    for name, (_, yp) in parts.items():
        _expect(
            sets[name] <= all_keys,
            f"the {name} set holds beats that are not rows of X: split X itself.",
        )
        wrong = sum(lab not in label_of[k] for k, lab in zip(keys[name], yp.tolist(), strict=True))
        _expect(
            not wrong,
            f"{wrong:,} labels of the {name} set do not belong to its beats: pass X and "
            "y_binary to the same train_test_split call, and the X_rest, y_rest it returned "
            "to the second.",
        )
    if all(_same_rows(parts[m][0], expected_parts[m][0]) for m in names):
        _passed(
            f"{len(parts['training'][0]):,} / {len(parts['validation'][0]):,} / "
            f"{len(parts['test'][0]):,} beats, stratified, no beat in two sets."
        )
        return
    _expect(
        not all(sets[m] == set(_row_keys(expected_parts[m][0])) for m in names),
        "the three sets hold the right beats but in another order: keep the arrays in the "
        "order train_test_split returns them.",
    )
    # Wrong, but how? Recompute the splits that the usual mistakes give.
    Xf = np.ascontiguousarray(X, dtype=np.float32)

    def matches(idx_parts) -> bool:
        return all(_same_rows(parts[m][0], Xf[i]) for m, i in zip(names, idx_parts, strict=True))

    candidates = [
        (
            (None, None),
            "neither train_test_split call is stratified: pass stratify=y_binary to "
            "the first and stratify=y_rest to the second.",
        ),
        (("y", None), "the second train_test_split call is not stratified: pass stratify=y_rest."),
        ((None, "y"), "the first train_test_split call is not stratified: pass stratify=y_binary."),
    ]
    if other_labels is not None:
        other_labels = np.asarray(other_labels)
        candidates += [
            (
                ("strata", "strata"),
                "you stratified on the five-class labels y; stratify on the "
                "labels you split, y_binary (and y_rest in the second call).",
            ),
            (
                ("strata", "y"),
                "the first call is stratified on the five-class labels y; stratify on y_binary.",
            ),
            (
                ("y", "strata"),
                "the second call is stratified on the five-class labels of the rest; "
                "stratify on y_rest.",
            ),
        ]
    for (s_test, s_val), message in candidates:
        try:
            idx_parts = _split(X, y, fractions, random_state, s_test, s_val, other_labels)
        except ValueError:
            continue
        if matches(idx_parts):
            raise ExerciseError(message)
    ref_idx = _split(X, y, fractions, random_state)
    if matches((ref_idx[0], ref_idx[2], ref_idx[1])):
        raise ExerciseError(
            "the validation and test sets are swapped: the first call sets the test set "
            "aside (X_rest, X_test = ...), the second takes the validation set from the rest."
        )
    n_test = len(ref_idx[2])
    if _same_rows(parts["test"][0], Xf[n - n_test :]) or _same_rows(parts["test"][0], Xf[:n_test]):
        raise ExerciseError(
            "the test set is a block of consecutive beats of X: the split was not shuffled "
            "(shuffle=False?); use the default shuffle with stratify=y_binary."
        )
    overall = np.bincount(y) / n
    for name, (_, yp) in parts.items():
        want = np.bincount(expected_parts[name][1], minlength=len(overall))
        got = np.bincount(yp, minlength=len(overall))
        worst = int(np.argmax(np.abs(got - want)))
        _expect(
            abs(int(got[worst]) - int(want[worst])) <= 1,
            f"the {name} set holds {got[worst]:,} beats of class {worst}, a stratified split "
            f"{want[worst]:,} ({overall[worst]:.1%} of all beats): pass stratify= to both "
            "train_test_split calls.",
        )
    if _same_rows(parts["test"][0], expected_parts["test"][0]):
        raise ExerciseError(
            "the test set is right, but the training and validation sets are not the ones "
            f"random_state={random_state} gives: pass random_state=SEED to the second "
            "train_test_split call too."
        )
    raise ExerciseError(
        f"sizes and proportions are right, but the test set is not the one "
        f"random_state={random_state} gives: pass random_state=SEED to both "
        "train_test_split calls, test set first, then the validation set from the rest."
    )


# --- chapter 1: run_epoch -----------------------------------------------------------------


class _Recorder(nn.Module):
    """Passes x through; records the train flag and whether gradients are on."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[bool, bool]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append((self.training, torch.is_grad_enabled()))
        return x


class _RecordingSGD(torch.optim.SGD):
    """SGD that records the gradients it finds at every step."""

    def __init__(self, params, lr: float) -> None:
        super().__init__(params, lr=lr)
        self.seen: list[list[torch.Tensor | None]] = []

    def step(self, closure=None):  # noqa: D102
        self.seen.append(
            [
                None if p.grad is None else p.grad.detach().clone()
                for group in self.param_groups
                for p in group["params"]
            ]
        )
        return super().step(closure)


class _CountingLoss(nn.CrossEntropyLoss):
    """Cross-entropy with label smoothing, which counts its calls: not the default loss, so
    that an answer computing a loss of its own instead of ``criterion`` shows."""

    def __init__(self) -> None:
        super().__init__(label_smoothing=0.1)
        self.calls = 0

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return super().forward(logits, target)


def _used_criterion(criterion: _CountingLoss, n_batches: int, when: str) -> None:
    _expect(
        criterion.calls >= n_batches,
        f"{when} run_epoch called criterion {criterion.calls} times in an epoch of {n_batches} "
        "batches: compute each batch's loss with the criterion it is given, "
        "criterion(model(x), y).",
    )


def _tiny_model() -> tuple[nn.Module, _Recorder]:
    recorder = _Recorder()
    with torch.random.fork_rng():  # leave the notebook's random state alone
        torch.manual_seed(0)
        return nn.Sequential(nn.Flatten(), recorder, nn.Linear(6, 2)), recorder


def _call_run_epoch(run_epoch: Callable, *args) -> object:
    try:
        return run_epoch(*args)
    except NotImplementedError:
        raise
    except Exception as error:  # a student's crash: say where it came from
        raise ExerciseError(
            f"run_epoch raised {type(error).__name__}: {error} (called as run_epoch(model, "
            "loader, criterion, optimizer, device) with a loader of (x, y) batches)."
        ) from error


def _check_float(loss, when: str) -> float:
    if isinstance(loss, torch.Tensor):
        holds = " that still holds the graph of its gradients" if loss.requires_grad else ""
        raise ExerciseError(
            f"run_epoch returned a torch.Tensor{holds} {when}, expected a Python float: add "
            "up loss.item() * len(y), not the loss tensor."
        )
    _expect(
        isinstance(loss, float | int) and not isinstance(loss, bool),
        f"run_epoch returned {type(loss).__name__} {when}, expected a float (the mean loss "
        "per sample).",
    )
    return float(loss)


def _loss_message(loss: float, batch_losses: list[float], sizes: list[int], when: str) -> None:
    """Raise naming the averaging mistake when ``loss`` is not the mean per sample."""
    total = sum(b * s for b, s in zip(batch_losses, sizes, strict=True))
    expected = total / sum(sizes)
    if np.isclose(loss, expected, rtol=1e-5, atol=1e-6):
        return
    wrong = [
        (
            float(np.mean(batch_losses)),
            "the mean of the batch losses; weight each batch's "
            "loss by its size (the last batch is smaller)",
        ),
        (total, "the sum of loss * batch size; divide by the number of samples"),
        (
            float(sum(batch_losses)),
            "the sum of the batch losses; weight each by the batch "
            "size and divide by the number of samples",
        ),
        (
            total / len(sizes),
            "divided by the number of batches; divide by the number of "
            "samples (len(loader.dataset))",
        ),
        (
            total / (len(sizes) * max(sizes)),
            "divided by batch_size * the number of batches; the last batch is smaller: "
            "count the samples, len(y) per batch",
        ),
        (batch_losses[-1], "the loss of the last batch only; add up every batch"),
    ]
    for value, what in wrong:
        if np.isclose(loss, value, rtol=1e-5, atol=1e-6):
            raise ExerciseError(
                f"{when} run_epoch returned {loss:.4f}, {what}; expected {expected:.4f}."
            )
    raise ExerciseError(
        f"{when} run_epoch returned {loss:.4f}, expected the mean loss per sample {expected:.4f}."
    )


def check_run_epoch(run_epoch: Callable) -> None:
    """Check a student's ``run_epoch(model, loader, criterion, optimizer=None, device)``.

    A tiny model records the mode and the gradient switch of every forward pass, an SGD
    with learning rate 0 records the gradients it finds at every step, and the criterion
    (cross-entropy with label smoothing, not the default loss) counts its calls, so each
    of train mode, eval mode, ``no_grad``, ``zero_grad``, ``backward``, ``step``, the
    loss of ``criterion`` and the mean per sample is tested on its own.
    """
    x, y = (
        torch.randn(10, 6, 1, generator=torch.Generator().manual_seed(0)),
        torch.tensor([0, 1] * 5),
    )
    loader = DataLoader(TensorDataset(x, y), batch_size=4)  # batches of 4, 4 and 2
    sizes = [4, 4, 2]
    criterion = _CountingLoss()

    # Evaluation: the model starts in train mode, as it is after a training epoch.
    model, recorder = _tiny_model()
    with torch.no_grad():
        batch_losses = [criterion(model(xb), yb).item() for xb, yb in loader]
    recorder.calls.clear()
    before = [p.detach().clone() for p in model.parameters()]
    model.train()
    criterion.calls = 0
    loss = _check_float(
        _call_run_epoch(run_epoch, model, loader, criterion, None, "cpu"), "without an optimizer"
    )
    _expect(bool(recorder.calls), "run_epoch never ran the model on the loader's batches.")
    _used_criterion(criterion, len(sizes), "without an optimizer")
    _expect(
        not any(training for training, _ in recorder.calls),
        "without an optimizer the model ran in train mode: call model.eval() when evaluating "
        "(dropout must be off).",
    )
    _expect(
        not any(grad for _, grad in recorder.calls),
        "without an optimizer the forward pass kept gradients: evaluate under torch.no_grad().",
    )
    _expect(
        all(torch.equal(b, p) for b, p in zip(before, model.parameters(), strict=True)),
        "the weights changed although no optimizer was given.",
    )
    _expect(
        len(recorder.calls) == len(sizes),
        f"without an optimizer the model ran {len(recorder.calls)} times, expected once per "
        f"batch ({len(sizes)}).",
    )
    _loss_message(loss, batch_losses, sizes, "Without an optimizer")

    # Training: the model starts in eval mode; SGD with lr=0 keeps the weights, so the
    # gradient of every batch is known in advance.
    model, recorder = _tiny_model()
    grads, batch_losses = [], []
    for xb, yb in loader:
        model.zero_grad()
        batch_loss = criterion(model(xb), yb)
        batch_loss.backward()
        grads.append([p.grad.detach().clone() for p in model.parameters()])
        batch_losses.append(batch_loss.item())
    model.zero_grad(set_to_none=True)
    recorder.calls.clear()
    model.eval()
    optimizer = _RecordingSGD(model.parameters(), lr=0.0)
    criterion.calls = 0
    loss = _check_float(
        _call_run_epoch(run_epoch, model, loader, criterion, optimizer, "cpu"), "with an optimizer"
    )
    _used_criterion(criterion, len(sizes), "with an optimizer")
    _expect(
        recorder.calls and all(training for training, _ in recorder.calls),
        "with an optimizer the model ran in eval mode: call model.train() when training.",
    )
    _expect(
        all(grad for _, grad in recorder.calls),
        "with an optimizer the forward pass ran without gradients: only evaluation goes "
        "under torch.no_grad().",
    )
    _expect(
        len(optimizer.seen) == len(sizes),
        f"optimizer.step() was called {len(optimizer.seen)} times in an epoch of "
        f"{len(sizes)} batches, expected once per batch.",
    )
    for k, seen in enumerate(optimizer.seen):
        _expect(
            all(g is not None and bool(g.abs().sum() > 0) for g in seen),
            f"at optimizer.step() of batch {k + 1} there were no gradients: call "
            "optimizer.zero_grad() before loss.backward(), and loss.backward() before "
            "optimizer.step().",
        )
        if all(torch.allclose(g, w, atol=1e-6) for g, w in zip(seen, grads[k], strict=True)):
            continue
        summed = [sum(gs[i] for gs in grads[: k + 1]) for i in range(len(seen))]
        _expect(
            not all(torch.allclose(g, s, atol=1e-6) for g, s in zip(seen, summed, strict=True)),
            f"at optimizer.step() of batch {k + 1} the gradients of the earlier batches were "
            "still there: call optimizer.zero_grad() before loss.backward() in every batch.",
        )
        raise ExerciseError(
            f"at optimizer.step() of batch {k + 1} the gradients are not those of that "
            "batch's loss: per batch, zero_grad(), forward, loss.backward(), step()."
        )
    _loss_message(loss, batch_losses, sizes, "With an optimizer")
    _passed("mean loss per sample; eval mode without gradients; train mode updates the weights.")


# --- chapter 1: the loss plot -------------------------------------------------------------


def _legend_label(legend, line) -> str:
    """The legend text of ``line``: its own label, or the entry drawn in its colour."""
    if not line.get_label().startswith("_"):
        return line.get_label()
    for handle, text in zip(legend.legend_handles, legend.get_texts(), strict=False):
        color = getattr(handle, "get_color", lambda: None)()
        if color is not None and color == line.get_color():
            return text.get_text()
    return ""


def check_loss_plot(ax: Axes, train_losses, val_losses) -> None:
    """Check that ``ax`` shows ``train_losses`` and ``val_losses`` against epochs 1..n."""
    _expect(
        isinstance(ax, Axes), f"pass the matplotlib Axes of your plot, got {type(ax).__name__}."
    )
    train_losses = np.asarray(train_losses, dtype=float)
    val_losses = np.asarray(val_losses, dtype=float)
    n = len(train_losses)

    def holds(values, axes=ax):
        return [
            line
            for line in axes.get_lines()
            if len(line.get_ydata()) == len(values)
            and np.allclose(np.asarray(line.get_ydata(), dtype=float), values)
        ]

    train_lines, val_lines = holds(train_losses), holds(val_losses)
    if not (train_lines or val_lines):
        elsewhere = [
            other
            for number in plt.get_fignums()
            for other in plt.figure(number).axes
            if other is not ax and (holds(train_losses, other) or holds(val_losses, other))
        ]
        _expect(
            not elsewhere,
            "the losses are drawn on another Axes than ax: ax is left over from an earlier "
            "figure (plt.plot draws on the current one). Make it with "
            "fig, ax = plt.subplots() and draw with ax.plot(...).",
        )
        _expect(
            any(len(line.get_ydata()) == n for line in ax.get_lines()),
            f"no curve of ax has {n} points, one per epoch: plot train_losses and val_losses "
            "on ax (fig, ax = plt.subplots(); ax.plot(...)).",
        )
        shown = [
            np.asarray(line.get_ydata(), dtype=float)
            for line in ax.get_lines()
            if len(line.get_ydata()) == n
        ]
        with np.errstate(divide="ignore", invalid="ignore"):
            _name_mistake(
                lambda logs: any(np.allclose(v, lg) for v in shown for lg in logs),
                [
                    (
                        [log(train_losses), log(val_losses)],
                        "the curves of ax hold the logarithm of the losses: plot the losses "
                        "themselves and set a log scale with ax.set_yscale('log').",
                    )
                    for log in (np.log, np.log10)
                ],
            )

        def head(values) -> str:
            return f"{_shown(values[:3])}"[:-1] + ", ...]"

        raise ExerciseError(
            f"the curves of ax hold {' and '.join(head(v) for v in shown)}; train_losses is "
            f"{head(train_losses)} and val_losses {head(val_losses)}: plot the lists "
            "themselves, one curve each."
        )
    _expect(
        bool(val_lines),
        "no curve holds val_losses: plot train_losses and val_losses (one each).",
    )
    _expect(
        bool(train_lines),
        "no curve holds train_losses: plot train_losses and val_losses (one each).",
    )
    _expect(
        not (len(train_lines) == 1 and train_lines == val_lines),
        "one curve cannot be both training and validation: plot each list once.",
    )
    epochs = np.arange(1, n + 1)
    for name, lines in (("train_losses", train_lines), ("val_losses", val_lines)):
        x = np.asarray(lines[0].get_xdata(), dtype=float)
        _expect(
            np.allclose(x, epochs),
            f"{name} is drawn at x = {x[:3].tolist()}..., expected the epochs 1 to {n}: "
            f"ax.plot(range(1, {n} + 1), {name}).",
        )
    _expect(bool(ax.get_xlabel()), "label the x axis (epoch).")
    _expect(bool(ax.get_ylabel()), "label the y axis (loss).")
    suptitle = getattr(ax.figure, "_suptitle", None)
    _expect(
        bool(ax.get_title()) or bool(suptitle and suptitle.get_text()), "give the plot a title."
    )
    legend = ax.get_legend() or (ax.figure.legends[0] if ax.figure.legends else None)
    _expect(
        legend is not None and len(legend.get_texts()) >= 2,
        "add a legend that says which curve is training and which validation (ax.legend()).",
    )
    train_label, val_label = (
        _legend_label(legend, train_lines[0]),
        _legend_label(legend, val_lines[0]),
    )
    _expect(
        "train" in train_label.lower() and "train" not in val_label.lower(),
        f"the curve of train_losses is labelled {train_label!r} and that of val_losses "
        f"{val_label!r}: label each with its own set (training, validation).",
    )
    _expect(
        "val" in val_label.lower(),
        f"the curve of val_losses is labelled {val_label!r}: it is the validation loss "
        "(the test set is not touched until the end).",
    )
    _passed("two curves with a legend, axis labels and a title.")


# --- chapter 1: test metrics --------------------------------------------------------------


def check_test_metrics(y_true, proba, accuracy, auc, model: nn.Module, X) -> None:
    """Check ``proba = predict_proba(model, X)``, its accuracy and ROC-AUC (n, 2)."""
    proba = _numpy_answer(proba, "proba")
    y_true = np.asarray(y_true)
    _expect(
        proba.ndim == 2 and proba.shape == (len(X), 2),
        f"proba has shape {proba.shape}, expected ({len(X)}, 2): one row of two class "
        "probabilities per test beat.",
    )
    sums = proba.sum(axis=1)
    if not (bool(np.all(proba >= 0)) and np.allclose(sums, 1, atol=1e-4)):
        rows = "rows of proba must be probabilities between 0 and 1 that sum to 1"
        _name_mistake(
            lambda p: _matches_model(p, model, X),
            [
                (
                    proba / 100,
                    f"{rows}: these are percentages; keep the fractions predict_proba gives.",
                ),  # fmt: skip
                (
                    lambda: torch.softmax(torch.as_tensor(proba, dtype=torch.float32), 1).numpy(),
                    f"{rows}: these are the logits; apply the softmax (predict_proba does).",
                ),
            ],
        )
        i = int(np.argmax(np.abs(sums - 1)))
        raise ExerciseError(f"{rows}: row {i} is {_shown(proba[i])}, which sums to {sums[i]:.4g}.")
    if not _matches_model(proba, model, X):
        exact = _model_proba(model, X)
        i = int(np.argmax(np.abs(proba - exact).max(axis=1)))
        raise ExerciseError(
            f"proba is not the model's probabilities for X_test: row {i} is {_shown(proba[i])}, "
            f"the model gives {_shown(exact[i])} for X_test[{i}]. Score the test beats with "
            "this model, predict_proba(model, X_test)."
        )
    for name, value in (("test_accuracy", accuracy), ("test_auc", auc)):
        _expect(
            isinstance(value, float | int | np.number) and not isinstance(value, bool),
            f"{name} is a {type(value).__name__}, expected a number (float).",
        )
    accuracy, auc = float(accuracy), float(auc)
    pred = proba.argmax(axis=1)
    expected_accuracy = float((pred == y_true).mean())
    _expect_metric(
        "test_accuracy",
        accuracy,
        expected_accuracy,
        [
            (
                float((pred == y_true).sum()),
                "the number of right answers; divide by the number of beats (accuracy_score does)",
            ),
            (100 * expected_accuracy, "a percentage; give the fraction"),
            (1 - expected_accuracy, "the error rate; accuracy is the share of right answers"),
            (float((proba.argmax(axis=1) == 0).mean()), "the share of beats predicted normal"),
        ],
        "compare proba.argmax(axis=1) with y_test.",
    )
    _expect_metric(
        "test_auc",
        auc,
        float(skm.roc_auc_score(y_true, proba[:, 1])),
        [
            (
                float(skm.roc_auc_score(y_true, proba[:, 0])),
                "the ROC-AUC of the normal "
                "class's probability; score the abnormal class, proba[:, 1]",
            ),
            (
                float(skm.roc_auc_score(y_true, pred)),
                "computed from predicted labels; pass "
                "the probabilities proba[:, 1] to roc_auc_score",
            ),
        ],
        "roc_auc_score(y_test, proba[:, 1]).",
    )
    _passed(f"accuracy {accuracy:.3f}, ROC-AUC {auc:.3f}.")


# --- chapter 1: early classification ------------------------------------------------------


def _early_candidates(model: nn.Module, X: np.ndarray, y, k: int) -> dict[str, float]:
    """ROC-AUCs that the right answer and the usual mistakes give for a prefix of k."""
    model.eval()
    device = next(model.parameters()).device
    with torch.no_grad():
        beats = torch.as_tensor(np.ascontiguousarray(X[:, :k]), dtype=torch.float32)
        logits = model(beats.to(device)).cpu().numpy()
    proba = torch.softmax(torch.as_tensor(logits), dim=1).numpy()
    return {
        "right": float(skm.roc_auc_score(y, proba[:, 1])),
        "the probability of class 0 (normal); score the abnormal class, proba[:, 1]": float(
            skm.roc_auc_score(y, proba[:, 0])
        ),
        "predicted labels (argmax); pass the probability proba[:, 1]": float(
            skm.roc_auc_score(y, proba.argmax(axis=1))
        ),
        "the raw logit of class 1; apply the softmax first (predict_proba does)": float(
            skm.roc_auc_score(y, logits[:, 1])
        ),
    }


def _early_samples(f: float, got_k, T: int) -> int:
    """k = max(1, round(f * T)) for fraction f; raise unless the samples column says it."""
    k = max(1, int(round(f * T)))
    if int(got_k) == k:
        return k
    head = (
        f"at fraction {f} the samples column says {got_k}, expected k = max(1, "
        f"round({f} * {T})) = {k}"
    )
    _name_mistake(
        lambda wrong: int(got_k) == wrong,
        [
            (max(1, math.ceil(f * T)), f"{head}: rounded up (math.ceil); round to the nearest."),
            (
                max(1, math.floor(f * T)),
                f"{head}: rounded down (int() cuts the decimals off); round to the nearest.",
            ),
        ],
    )
    raise ExerciseError(f"{head}.")


def _rounding_fractions(T: int) -> list[float]:
    """Two fractions of 0.01 to 0.99 at which round(f * T) >= 1 differs from math.ceil (f * T
    ends in .2 to .45) and from int() (it ends in .55 to .8): at T = 140 the fractions 0.1,
    0.5 and 1.0 give whole numbers, where the three agree."""
    grid = [round(j / 100, 2) for j in range(1, 100)]
    low = next((f for f in grid if f * T >= 1 and 0.2 <= (f * T) % 1 <= 0.45), None)
    high = next((f for f in grid if f * T >= 1 and 0.55 <= (f * T) % 1 <= 0.8), None)
    return [f for f in (low, high) if f is not None]


def _early_table(result, fractions, call: str) -> pd.DataFrame:
    """``result`` of early_auc(..., fractions): a DataFrame with one row per fraction."""
    _expect(
        isinstance(result, pd.DataFrame),
        f"early_auc returned {type(result).__name__}, expected a pandas DataFrame.",
    )
    for column in ("fraction", "samples", "roc_auc"):
        _expect(
            column in result.columns,
            f"the DataFrame has no '{column}' column (it has {list(result.columns)}).",
        )
    _expect(
        len(result) == len(fractions),
        f"the DataFrame of {call} has {len(result)} rows, expected one per fraction "
        f"({len(fractions)}).",
    )
    return result


def check_early_auc(early_auc: Callable, model: nn.Module, X, y, fractions=(0.1, 0.5, 1.0)) -> None:
    """Check a student's ``early_auc(model, X, y, fractions) -> DataFrame``."""
    X, y = np.asarray(X), np.asarray(y)
    T = X.shape[1]
    result = _early_table(
        early_auc(model, X, y, fractions), fractions, f"early_auc(model, X, y, {list(fractions)})"
    )
    _expect(
        np.allclose(result["fraction"].to_numpy(dtype=float), fractions),
        f"the fraction column is {result['fraction'].tolist()}, expected {list(fractions)}.",
    )
    for f, got_k, got in zip(fractions, result["samples"], result["roc_auc"], strict=True):
        k = _early_samples(f, got_k, T)
        _expect(
            bool(np.isfinite(got)),
            f"at {f:.0%} of the beat the ROC-AUC is {got}: the labels scored hold one class "
            f"only. Score every beat with its label y; X[:{k}] would take the first {k} beats, "
            f"X[:, :{k}] takes the first {k} samples of every beat.",
        )
        candidates = _early_candidates(model, X, y, k)
        if np.isclose(got, candidates["right"], atol=1e-4):
            continue  # float32: no need to compute the 16-bit references
        sixteen = _sixteen_bit_probas(model, X[:, :k])
        rights = [candidates["right"]] + [
            float(skm.roc_auc_score(y, p[:, 1])) for p in [predict_proba(model, X[:, :k]), *sixteen]
        ]
        tol = max(1e-4, 2 * max(abs(r - rights[0]) for r in rights))  # mixed precision's noise
        if min(abs(got - r) for r in rights) <= tol:
            continue
        for what, value in candidates.items():
            _expect(
                what == "right" or not np.isclose(got, value, atol=tol),
                f"at {f:.0%} of the beat the ROC-AUC is {got:.4f}, that of {what}.",
            )
        if k < T:
            whole = _early_candidates(model, X, y, T)["right"]
            _expect(
                not np.isclose(got, whole, atol=tol),
                f"at {f:.0%} of the beat the ROC-AUC is {got:.4f}, that of the whole beat: "
                f"feed only the first k samples, X[:, :{k}].",
            )
            first_beats = (
                _early_candidates(model, X[:k], y[:k], T)["right"]
                if (0 < y[:k].sum() < k)
                else np.nan
            )
            _expect(
                not np.isclose(got, first_beats, atol=tol),
                f"at {f:.0%} of the beat the ROC-AUC is {got:.4f}, that of the first {k} "
                f"beats: X[:{k}] takes the first {k} beats, X[:, :{k}] the first {k} samples of "
                "every beat.",
            )
            last = _early_candidates(model, X[:, T - k :], y, k)["right"]
            _expect(
                not np.isclose(got, last, atol=tol),
                f"at {f:.0%} of the beat the ROC-AUC is {got:.4f}, that of the last {k} "
                f"samples: feed the first k samples, X[:, :{k}].",
            )
        raise ExerciseError(
            f"at {f:.0%} of the beat ({k} samples) the ROC-AUC is {got:.4f}, expected "
            f"{candidates['right']:.4f}: feed X[:, :k] with k = max(1, round(fraction * T)) "
            "and score proba[:, 1]."
        )
    tiny = 0.4 / T  # round(tiny * T) == 0: the prefix must still hold one sample
    try:
        small = early_auc(model, X, y, [tiny])
    except Exception as error:
        raise ExerciseError(
            f"early_auc failed at fraction {tiny:.4f} ({type(error).__name__}: {error}): "
            f"round({tiny:.4f} * {T}) is 0; use k = max(1, round(f * T))."
        ) from error
    small = _early_table(small, [tiny], f"early_auc(model, X, y, [{tiny:.4f}])")
    got_k = np.asarray(small["samples"])[0]
    _expect(
        int(got_k) == 1,
        f"at fraction {tiny:.4f} samples is {got_k}, expected k = max(1, round(f * T)) = 1.",
    )
    rounding = _rounding_fractions(T)
    if rounding:
        again = _call_answer(
            early_auc,
            "early_auc(model, X, y, fractions)",
            f"fractions={rounding}",
            model,
            X,
            y,
            rounding,
        )
        again = _early_table(again, rounding, f"early_auc(model, X, y, {rounding})")
        for f, got_k in zip(rounding, again["samples"], strict=True):
            _early_samples(f, got_k, T)
    _passed(f"ROC-AUC at {', '.join(f'{f:.0%}' for f in fractions)} of the beat.")


# --- chapter 2 ------------------------------------------------------------------------------


def check_undersampling(X_res, y_res, sampler, X_train, y_train, random_state: int = 42) -> None:
    """Check ``X_res, y_res = sampler.fit_resample(X_train, y_train)`` with ``random_state``."""
    X_res, y_res = _numpy_answer(X_res, "X_bal"), _numpy_answer(y_res, "y_bal")
    X_train, y_train = np.asarray(X_train), np.asarray(y_train)
    _expect(len(X_res) == len(y_res), f"{len(X_res):,} beats but {len(y_res):,} labels.")
    _expect(
        not (
            X_res.ndim == 1 and set(np.unique(X_res).tolist()) <= set(np.unique(y_train).tolist())
        ),
        f"X_bal holds labels (shape {X_res.shape}), not beats: fit_resample returns X_bal, "
        "y_bal in that order.",
    )
    _expect(
        X_res.ndim == 2 and X_res.shape[1:] == X_train.shape[1:],
        f"X_bal has shape {X_res.shape}, expected (n, {X_train.shape[1]}): one beat of "
        f"{X_train.shape[1]} samples per row, as in X_train.",
    )
    n_classes = int(y_train.max()) + 1
    counts = np.bincount(y_res.astype(np.int64), minlength=n_classes)
    rarest = int(np.bincount(y_train, minlength=n_classes).min())
    _expect(
        len(set(counts)) == 1,
        f"class counts are {counts.tolist()}, expected all equal "
        "(RandomUnderSampler's default sampling_strategy).",
    )
    _expect(
        counts[0] == rarest,
        f"each class has {counts[0]:,} beats, expected {rarest:,}: the rarest class's count "
        "in y_train, which RandomUnderSampler's default sampling_strategy keeps of every class.",
    )
    from imblearn.under_sampling import RandomUnderSampler

    _expect(
        isinstance(sampler, RandomUnderSampler),
        f"sampler is a {type(sampler).__name__}, expected a RandomUnderSampler: the exercise "
        f"keeps beats of every class at random, RandomUnderSampler(random_state=SEED).",
    )
    indices = getattr(sampler, "sample_indices_", None)
    _expect(
        indices is not None,
        "sampler has no sample_indices_: keep the RandomUnderSampler you called fit_resample "
        "on in the variable sampler.",
    )
    seed = getattr(sampler, "random_state", None)
    indices = np.asarray(indices)
    _expect(
        not (
            len(indices) == len(X_res)
            and not _same_rows(X_train[indices], X_res)
            and sorted(_row_keys(X_train[indices])) == sorted(_row_keys(X_res))
        ),
        "X_bal holds the right beats in another order: keep the order fit_resample returns.",
    )
    _expect(
        len(indices) == len(X_res) and _same_rows(X_train[indices], X_res),
        "X_bal is not X_train[sampler.sample_indices_]: resample X_train, y_train with the "
        "sampler you keep.",
    )
    _expect(
        np.array_equal(y_train[indices], y_res),
        "y_bal does not hold the labels of the beats in X_bal: take both from one "
        "fit_resample call.",
    )
    expected = RandomUnderSampler(random_state=random_state)
    expected.fit_resample(X_train, y_train)
    if not np.array_equal(np.sort(indices), np.sort(expected.sample_indices_)):
        _expect(
            seed is not None,
            "RandomUnderSampler() without random_state draws other beats every run: pass "
            f"random_state=SEED ({random_state}).",
        )
        _expect(
            seed == random_state,
            f"the sampler has random_state={seed!r}, expected SEED ({random_state}).",
        )
        _expect(
            not getattr(sampler, "replacement", False),
            "replacement=True draws some beats twice: keep the default replacement=False.",
        )
        raise ExerciseError(
            f"these are not the beats RandomUnderSampler(random_state={random_state}) keeps: "
            "resample X_train, y_train with the default sampling_strategy."
        )
    _passed(f"{counts[0]:,} beats in each of {n_classes} classes.")


def check_lstm_fcn_output(logits, batch_size: int, n_classes: int = 5, x=None, source=None) -> None:
    """Check the logits of an LSTM-FCN forward pass (and ``x``, the first beats of ``source``)."""
    if x is not None:
        _expect(isinstance(x, torch.Tensor), f"x is a {type(x).__name__}, expected a torch.Tensor.")
        _expect(
            x.dtype == torch.float32,
            f"x has dtype {x.dtype}, expected torch.float32 (dtype=torch.float32).",
        )
        _expect(
            tuple(x.shape) == (batch_size, np.asarray(source).shape[1])
            if source is not None
            else x.shape[0] == batch_size,
            f"x has shape {tuple(x.shape)}, expected ({batch_size}, beat length): the first "
            f"{batch_size} beats, X_bal[:{batch_size}].",
        )
        if source is not None:
            _expect(
                np.allclose(x.detach().cpu().numpy(), np.asarray(source)[:batch_size]),
                f"x is not X_bal[:{batch_size}]: take the first {batch_size} beats of the "
                "balanced training set.",
            )
    _expect(isinstance(logits, torch.Tensor), f"expected a tensor, got {type(logits).__name__}.")
    _expect(
        tuple(logits.shape) == (batch_size, n_classes),
        f"logits have shape {tuple(logits.shape)}, expected ({batch_size}, {n_classes}): "
        "one score per class for every beat.",
    )
    _expect(bool(torch.isfinite(logits).all()), "logits contain NaN or inf.")
    detached = logits.detach().float()
    _expect(
        not (
            bool((detached >= 0).all())
            and torch.allclose(detached.sum(1), torch.ones(1), atol=1e-4)
        ),
        "these rows sum to 1: they are probabilities. The logits are what the model "
        "returns, before any softmax.",
    )
    _expect(
        not torch.allclose(detached.exp().sum(1), torch.ones(1), atol=1e-4),
        "these are log-probabilities (log_softmax): the logits are what the model returns.",
    )
    _expect(
        not bool(((detached > 0) & (detached < 1)).all()),
        "every value lies between 0 and 1, as torch.sigmoid gives: the logits are what the "
        "model returns, any real numbers, before any sigmoid or softmax.",
    )
    _passed(f"logits of shape ({batch_size}, {n_classes}).")


def check_batched_inference(
    proba, model: nn.Module, X, n_check: int = 200, batch_size: int = 100
) -> None:
    """Check probabilities (n, C) of every beat in X against the model in eval mode
    (``batch_size``: the beats per batch the exercise asks for)."""
    was_training = model.training  # the references below put the model in eval mode
    X = np.asarray(X)
    n = len(X)
    if isinstance(proba, list | tuple):
        kind = type(proba).__name__
        _expect(
            not (proba and all(getattr(c, "ndim", 0) == 2 for c in proba)),
            f"proba_seed is a {kind} of {len(proba)} arrays of rows, "
            f"{sum(len(c) for c in proba):,} rows in all: join them into one array with "
            "torch.cat(chunks).numpy() (or np.concatenate).",
        )
        raise ExerciseError(
            f"proba_seed is a {kind} of {len(proba):,} items; later cells need a NumPy array "
            "of shape (beats, classes): np.asarray(...), or the array torch.cat(chunks).numpy() "
            "gives."
        )
    proba = _numpy_answer(proba, "proba_seed")
    if proba.ndim != 2:
        n_classes = _model_proba(model, X[:1]).shape[1]
        _expect(
            not (
                proba.ndim == 1
                and np.array_equal(proba, np.round(proba))
                and ((proba >= 0) & (proba < n_classes)).all()
            ),
            f"proba_seed has shape {proba.shape}: one predicted class per beat. Keep the "
            f"probability of every class, shape ({n:,}, {n_classes}).",
        )
        raise ExerciseError(
            f"proba_seed has shape {proba.shape}, expected ({n:,}, {n_classes}): one row of "
            "class probabilities per beat."
        )
    if len(proba) != n:
        head = f"proba_seed has {len(proba):,} rows, expected {n:,}"
        kept = np.unique(np.linspace(0, len(proba) - 1, min(n_check, len(proba))).astype(int))
        _name_mistake(
            lambda rows: len(proba) == rows and _matches_model(proba[kept], model, X[kept]),
            [
                (
                    n - n % batch_size if n % batch_size and len(proba) else None,
                    f"{head}: the last, smaller batch of {n % batch_size} beats is missing. "
                    f"range(0, len(X_test), {batch_size}) ends with it, and "
                    f"X_test[i:i + {batch_size}] takes it whole.",
                )
            ],
        )
        raise ExerciseError(f"{head}: one row per test beat, in order.")
    rows = np.linspace(0, n - 1, min(n_check, n)).astype(int)
    if not np.allclose(proba.sum(axis=1), 1, atol=1e-4):
        _expect(
            not np.allclose(np.exp(proba).sum(axis=1), 1, atol=1e-4),
            "these are log-probabilities (log_softmax): apply torch.softmax(logits, dim=1).",
        )
        columns = proba.sum(axis=0)  # a softmax over each batch's beats: whole numbers
        _expect(
            not (
                np.allclose(columns, columns[0], atol=1e-3)
                and abs(columns[0] - round(columns[0])) < 1e-3
            ),
            "the softmax ran over the beats (dim=0): apply it over the class dimension, dim=1.",
        )
        softmax = torch.softmax(torch.as_tensor(proba[rows], dtype=torch.float32), 1).numpy()
        _expect(
            not _matches_model(softmax, model, X[rows]),
            "rows must sum to 1: these are the logits; apply the softmax over the class "
            "dimension, torch.softmax(logits, dim=1).",
        )
        i = int(np.argmax(np.abs(proba.sum(axis=1) - 1)))
        raise ExerciseError(
            f"rows must sum to 1: row {i} sums to {proba[i].sum():.4g}; apply the softmax over "
            "the class dimension, torch.softmax(logits, dim=1)."
        )
    references, tol = _references(model, X[rows])
    expected = references[0]
    if any(np.allclose(proba[rows], r, atol=tol) for r in references):
        _expect(
            not was_training,
            "the probabilities are right but the model is left in train mode: call "
            "model.eval() first.",
        )
        _passed(f"{len(proba):,} beats scored, in order, in eval mode.")
        return
    _expect(
        not was_training,
        "the model was in train mode (dropout on, batch norm on batch statistics): call "
        "model.eval() before scoring.",
    )
    found = [
        np.abs(proba - e).max(axis=1).min() < tol for e in expected[:: max(1, len(rows) // 20)]
    ]
    _expect(
        not all(found),
        "these are the right probabilities in the wrong order: keep the beats in their "
        f"order (no shuffling; batch i covers X_test[i:i + {batch_size}]).",
    )
    first = int(np.flatnonzero(~np.isclose(proba[rows], expected, atol=tol).all(axis=1))[0])
    raise ExerciseError(
        f"probabilities differ from the model's in eval mode for X_test: beat {rows[first]:,} "
        f"has {_shown(proba[rows[first]])}, the model gives "
        f"{_shown(expected[first])}. Score X_test with this model in eval mode "
        "(model.eval() before the loop), one softmax per beat over dim=1."
    )


def _undefined_rates(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> dict:
    """Per class, where a rate is 0 / 0: precision (+P) of a class never predicted, recall
    (Se) of a class absent from ``y_true``, and F1 where TP = 0 (2PR / (P + R) is then
    0 / 0). NumPy gives NaN there, sklearn 0 (``zero_division=0``): both are accepted, in
    chapter 2's table as in chapter 3's (:func:`_same_rates`)."""
    tp = np.array([np.sum((y_true == c) & (y_pred == c)) for c in range(n_classes)])
    predicted = np.array([np.sum(y_pred == c) for c in range(n_classes)])
    actual = np.array([np.sum(y_true == c) for c in range(n_classes)])
    return {"precision": predicted == 0, "recall": actual == 0, "f1": tp == 0}


def check_per_class_table(table: pd.DataFrame, y_true, proba, class_names) -> None:
    """Check the one-vs-rest per-class table (accuracy, roc_auc, precision, recall, f1).

    Where a rate is 0 / 0 (the precision of a class the model never predicts), NaN and 0
    are both accepted, as in :func:`check_aami_table`."""
    expected = metrics.per_class_table(y_true, proba, class_names)
    _expect(isinstance(table, pd.DataFrame), f"expected a DataFrame, got {type(table).__name__}.")
    if list(table.columns) == list(class_names):
        raise ExerciseError("the classes are the columns: one row per class (transpose: .T).")
    _expect(
        list(table.index) == list(class_names),
        f"rows are {list(table.index)}, expected one per class, index={list(class_names)}.",
    )
    columns = ("accuracy", "roc_auc", "precision", "recall", "f1")
    for column in columns:
        _expect(
            column in table.columns,
            f"the table has no '{column}' column (it has {list(table.columns)}).",
        )
    try:
        got = {c: table[c].to_numpy(dtype=np.float64) for c in columns}
    except (TypeError, ValueError) as error:
        raise ExerciseError(
            f"the table must hold numbers, not text ({error}): keep the values and format "
            "them only when printing."
        ) from error
    y_true, proba = np.asarray(y_true), np.asarray(proba)
    pred = proba.argmax(axis=1)
    names = list(class_names)
    undefined = _undefined_rates(y_true, pred, len(names))
    want = {
        c: np.where(undefined[c], np.nan, expected[c].to_numpy(dtype=np.float64))
        if c in undefined
        else expected[c].to_numpy(dtype=np.float64)
        for c in columns
    }

    def same(g: np.ndarray, w: np.ndarray, atol: float = 1e-4) -> np.ndarray:
        return _same_rates(g, w, atol=atol)  # NaN or 0 where w is undefined (NaN)

    ok = {c: same(got[c], want[c]) for c in columns}
    if all(v.all() for v in ok.values()):
        never = [n for n, u in zip(names, undefined["precision"], strict=True) if u]
        _passed(
            "accuracy, ROC-AUC, precision, recall and F1 for every class, one-vs-rest"
            + (
                f" (the precision of {', '.join(never)} is 0 / 0: never predicted)."
                if never
                else "."
            )  # fmt: skip
        )
        return
    for decimals in range(1, 4):
        _expect(
            not all(same(got[c], np.round(want[c], decimals), atol=1e-9).all() for c in columns),
            f"the values are rounded to {decimals} decimals: keep the full values and round "
            "only when printing (table_seed.round(3)).",
        )
    _expect(
        not (
            same(got["precision"], want["recall"]).all()
            and same(got["recall"], want["precision"]).all()
        ),
        "precision and recall are swapped: precision = TP / (TP + FP), recall = TP / (TP + FN).",
    )
    rows = {n: np.array([got[c][k] for c in columns]) for k, n in enumerate(names)}
    rows_want = {n: np.array([want[c][k] for c in columns]) for k, n in enumerate(names)}
    truth = [y_true == c for c in range(len(names))]
    column_mistakes = {
        "accuracy": [
            (
                np.full(len(names), (pred == y_true).mean()),
                "the overall accuracy of all classes, in every row; one-vs-rest accuracy is "
                "accuracy_score(y_test == c, pred_seed == c)",
            )
        ],
        "roc_auc": [
            (
                np.array(
                    [
                        skm.roc_auc_score(t, pred == c) if 0 < t.sum() < len(t) else np.nan
                        for c, t in enumerate(truth)
                    ]
                ),
                "computed from predicted labels, in every row; score the probability "
                "proba_seed[:, c]",
            )
        ],
    }
    for column in columns:
        for c, name in enumerate(names):
            if ok[column][c]:
                continue
            head = (
                f"{column} of class {name} is {got[column][c]:.4f}, expected {want[column][c]:.4f}"
            )
            _name_mistake(
                lambda wrong, column=column: same(got[column], wrong).all(),
                [(wrong, f"{head}: {what}.") for wrong, what in column_mistakes.get(column, [])],
            )
            other = {"precision": "recall", "recall": "precision"}.get(column)
            formula = {"precision": "TP / (TP + FP)", "recall": "TP / (TP + FN)"}
            _expect(
                not (other and same(got[column][c : c + 1], want[other][c : c + 1])[0]),
                f"{head}: that is its {other}, {formula.get(other)}; {column} is "
                f"{formula.get(column)}.",
            )
            others = [o for o in names if o != name and same(rows[name], rows_want[o]).all()]
            _expect(
                not others,
                f"{head}: row {name} holds the values of class {others[0] if others else ''}; "
                f"it must hold class {c} (y_test == {c}).",
            )
            _expect(
                not (len(names) > 1 and np.allclose(got[column], got[column][0], equal_nan=True)),
                f"{head}: the same value in every row; compute it for each class on its own, "
                "one-vs-rest (y_test == c against pred_seed == c).",
            )
            raise ExerciseError(f"{head}: one-vs-rest, class {name} against all others.")
    raise ExerciseError("the table differs from the one-vs-rest metrics.")  # unreachable


def check_endpoint_client(
    answers: pd.DataFrame,
    latencies,
    model: nn.Module,
    X,
    batch_size: int = 100,
    n_check: int = 5,
    precision: str = "fp32",
) -> None:
    """Check chapter 2's endpoint client: every batch sent, the answers put back in order.

    Args:
        answers: one row per beat of ``X`` (index ``0..n-1``), columns ``y_1..y_C`` (the
            one-hot predicted class) and ``p_1..p_C`` (the probabilities), in any order.
        latencies: seconds per request, one per batch: ``ceil(n / batch_size)`` of them.
        model: the model behind the endpoint, to recompute ``n_check`` rows in-process.
        X: the beats sent, ``(n, T)``.
        batch_size: beats per request.
        n_check: how many batches (evenly spread, the last one included) are recomputed.
        precision: the endpoint's precision (``/health`` says it): the batches are
            recomputed in-process with it, batch by batch as the endpoint scored them.
    """
    from ecg_course.payload import answer_columns  # here, to leave the imports above untouched

    X = np.asarray(X)
    n, n_batches = len(X), -(-len(X) // batch_size)
    _expect(
        isinstance(answers, pd.DataFrame),
        f"answers is a {type(answers).__name__}, expected a pandas DataFrame: read each answer "
        "with pd.read_csv(io.StringIO(response.text)) and join them with pd.concat.",
    )
    checked = np.unique(np.linspace(0, n_batches - 1, min(n_check, n_batches)).astype(int))
    batches = [X[b * batch_size : (b + 1) * batch_size] for b in checked]
    rows = np.concatenate(
        [b * batch_size + np.arange(len(x)) for b, x in zip(checked, batches, strict=True)]
    )
    expected = np.concatenate(
        [predict_proba(model, x, batch_size=batch_size, precision=precision) for x in batches]
    )
    n_classes = expected.shape[1]
    columns = answer_columns(n_classes)
    y_cols, p_cols = columns[:n_classes], columns[n_classes:]
    _expect(
        set(columns) <= set(answers.columns),
        f"columns are {list(answers.columns)}, expected {columns}. "
        + (
            "The first line of every answer is the header y_1,...,p_5: read it as the header, "
            "pd.read_csv(io.StringIO(response.text)), not with header=None."
            if all(isinstance(c, int) for c in answers.columns)
            else f"Missing: {[c for c in columns if c not in answers.columns]}."
        ),
    )
    if len(answers) != n:
        _endpoint_rows(answers, p_cols, model, X, batch_size, precision)
    sizes = [len(X[i : i + batch_size]) for i in range(0, n, batch_size)]
    _expect(
        not answers.index.equals(pd.Index(np.concatenate([np.arange(k) for k in sizes]))),
        f"the index is not 0..{n - 1}: it starts {list(answers.index[:3])} and starts over "
        "at 0 for every batch. Join the answers with pd.concat(..., ignore_index=True) so "
        "that row i is beat i.",
    )
    _expect(
        answers.index.equals(pd.RangeIndex(n)),
        f"the index is not 0..{n - 1} (it starts {list(answers.index[:3])}): row i must be "
        "beat i (pd.concat(..., ignore_index=True), or .reset_index(drop=True)).",
    )
    for column in columns:
        _expect(
            pd.api.types.is_numeric_dtype(answers[column]),
            f"column {column} holds {answers[column].dtype} values, expected numbers: parse each "
            "answer with pd.read_csv instead of keeping the text.",
        )
    y, p = answers[y_cols].to_numpy(dtype=float), answers[p_cols].to_numpy(dtype=float)
    p_is_one_hot = np.isin(p, (0.0, 1.0)).all()
    _expect(
        not (p_is_one_hot and not np.isin(y, (0.0, 1.0)).all()),
        "y_ and p_ are swapped: y_1..y_C are the one-hot predicted class (0 or 1), "
        "p_1..p_C the probabilities.",
    )
    _expect(
        np.allclose(p.sum(axis=1), 1, atol=1e-4) and not p_is_one_hot,
        "every row of p_1..p_C must hold probabilities that sum to 1 (the p_ columns of the "
        "answer, not the y_ ones).",
    )
    _expect(
        np.isin(y, (0.0, 1.0)).all() and (y.sum(axis=1) == 1).all(),
        "every row of y_1..y_C must be one-hot: a single 1 for the predicted class.",
    )
    got = p[rows]
    if not np.allclose(got, expected, atol=1e-4):
        bad = np.flatnonzero(~np.isclose(got, expected, atol=1e-4).all(axis=1))[:20]
        distances = np.abs(p[None, :, :] - expected[bad, None, :]).max(axis=2)  # (bad, n)
        found = distances.min(axis=1) <= 1e-4
        where = distances.argmin(axis=1)
        if found.all():
            same_offset = (where - rows[bad]) % batch_size == 0
            _expect(
                not same_offset.all(),
                f"the batches are out of order: the answer for beats {rows[bad[0]]:,}... sits "
                f"at row {where[0]:,}. Keep each answer at its batch's place (append in the "
                "order sent; if sent concurrently, order them by their start index).",
            )
            _expect(
                False,
                "the rows hold the right answers but in another order: keep the "
                "beats of a batch in order and put the answers back in the order sent.",
            )
        i = int(rows[bad[0]])
        b = i // batch_size
        sent = X[b * batch_size : (b + 1) * batch_size]
        head = (
            f"p_ of beat {i:,} is {_shown(got[bad[0]])}, the model says "
            f"{_shown(expected[bad[0]])} for X[{i}]"
        )
        fix = "send each beat whole and unchanged, as format_beats writes it (9 significant digits)"
        _name_mistake(
            lambda beats: np.allclose(
                predict_proba(model, beats, batch_size=batch_size, precision=precision),
                p[b * batch_size : b * batch_size + len(sent)],
                atol=1e-4,
            ),
            [
                (
                    lambda d=d: np.round(sent, d),
                    f"{head}: these are the answers for the beats rounded to {d} decimal"
                    f"{'s' if d != 1 else ''}; {fix}.",
                )
                for d in range(0, 7)
            ]
            + [
                (
                    lambda d=d: np.char.mod(f"%.{d}g", sent).astype(np.float64),
                    f"{head}: these are the answers for the beats written with {d} "
                    f"significant digit{'s' if d != 1 else ''}; {fix}.",
                )
                for d in range(1, 9)
            ],
        )
        _expect(False, f"{head}: send each beat as it is in X, and keep each answer at its place.")
    _expect(
        (y.argmax(axis=1) == p.argmax(axis=1)).all(),
        "y_ columns disagree with the most probable p_ column: keep each row's y_ and p_ together.",
    )
    latencies = np.asarray(latencies, dtype=float).ravel()
    _expect(
        len(latencies) == n_batches,
        f"latencies has {len(latencies):,} entries, expected {n_batches:,}: one time per "
        f"request of {batch_size} beats (time.perf_counter() around each post).",
    )
    _expect(
        bool(np.isfinite(latencies).all() and (latencies > 0).all()),
        "latencies must be positive numbers of seconds.",
    )
    _expect(
        float(np.median(latencies)) < 60,
        f"the median latency is {np.median(latencies):,.0f}: that is milliseconds, not "
        "seconds (a local request of 100 beats takes well under a minute). Keep "
        "time.perf_counter() differences as they are.",
    )
    _passed(
        f"{n:,} beats in {n_batches:,} requests, answers in order with {', '.join(columns)}; "
        f"median latency {np.median(latencies) * 1000:.0f} ms, 99th percentile "
        f"{np.percentile(latencies, 99) * 1000:.0f} ms per batch."
    )


def _endpoint_rows(answers, p_cols, model, X, batch_size: int, precision: str) -> None:
    """Raise for answers with another number of rows than X has beats, naming the mistake
    whose answers they are (the last batch lost, overlapping batches, a header line sent as
    one more beat in each request), else saying how many rows are missing or extra."""
    n, m = len(X), len(answers)
    head = f"answers has {m:,} rows, expected {n:,}"
    starts = list(range(0, n, batch_size))
    step = f"X[i:i + {batch_size}] for i in range(0, len(X), {batch_size})"
    try:
        p = answers[p_cols].to_numpy(dtype=np.float64)
    except (TypeError, ValueError):  # text: the checks that follow say so
        p = np.empty((0, len(p_cols)))

    def rows_hold(first: int, beats: np.ndarray) -> bool:
        """Whether rows first.. of the answers are the endpoint's answers for ``beats``
        sent as one request."""
        if len(p) < first + len(beats):
            return False
        proba = predict_proba(model, beats, batch_size=len(beats), precision=precision)
        return bool(np.allclose(p[first : first + len(beats)], proba, atol=1e-4))

    def named(mistakes) -> None:  # (a function computing rows_hold for a mistake, what to say)
        _name_mistake(bool, [(gives, f"{head}: {what}") for gives, what in mistakes])

    if m < n:
        missing = n - m
        if m > 0 and missing == n % batch_size:
            last = max(0, m - batch_size)
            named(
                [
                    (
                        lambda: rows_hold(last, X[last:m]),
                        f"the last, shorter batch ({missing} beats) is missing: range(0, len(X), "
                        f"{batch_size}) ends with it, and X[i:i + {batch_size}] takes it whole.",
                    )
                ]
            )
        raise ExerciseError(f"{head}: {missing:,} missing. Send every beat: {step}.")
    extra = m - n
    mistakes = []
    if extra == len(starts):
        header = np.arange(X.shape[1], dtype=np.float64)[None]  # to_csv()'s line 0,1,...,T-1
        mistakes.append(
            (
                lambda: rows_hold(0, np.vstack([header, X[:batch_size]])),
                f"{extra:,} too many, one per request, and each answer starts with the answer "
                f"for the beat 0, 1, ..., {X.shape[1] - 1}: the CSV sent has a header line, "
                "which the endpoint reads as one more beat. Send the beats only (format_beats, "
                "or to_csv(header=False, index=False)).",
            )
        )
    for overlap in range(1, batch_size):
        if sum(len(X[i : i + batch_size + overlap]) for i in starts) - n == extra:
            mistakes.append(
                (
                    lambda overlap=overlap: rows_hold(0, X[: batch_size + overlap]),
                    f"{extra:,} too many: the batches overlap by {overlap} beat"
                    f"{'s' if overlap > 1 else ''}, the first holds {batch_size + overlap} beats. "
                    f"Step by {batch_size}: {step}.",
                )
            )
            break
    named(mistakes)
    raise ExerciseError(f"{head}: {extra:,} too many. Send each beat once: {step}.")


# --- chapter 3: RR features -----------------------------------------------------------------

_RR_CASES: tuple[tuple[str, int, tuple[int, ...]], ...] = (
    # (what, fs, RR intervals in samples): the checker's own records, peaks from sample 77
    (
        "14 beats at 360 Hz",
        360,
        (290, 301, 287, 310, 296, 305, 283, 299, 312, 291, 288, 303, 297),
    ),
    ("6 beats at 125 Hz (fewer than 10)", 125, (98, 105, 101, 110, 96)),
    (
        "13 beats at 360 Hz with premature beats and pauses",
        360,
        (300, 296, 304, 180, 420, 298, 302, 295, 305, 300, 190, 404),
    ),
)


def _rr_window(
    values: np.ndarray, size: int, start: int = 0, divisor: int | None = None, stat=None
):
    """For each beat i: ``stat`` (the mean) of ``values[i + start - size + 1 : i + start + 1]``
    clipped to the record, NaN where that is empty; ``divisor``: divide the sum by it instead."""
    n, out = len(values), np.full(len(values), np.nan)
    for i in range(n):
        hi = min(n, i + start + 1)
        lo = max(0, i + start - size + 1)
        if hi > lo:
            window = values[lo:hi]
            out[i] = window.sum() / divisor if divisor else (stat or np.mean)(window)
    return out


def _rr_mistakes(peaks: np.ndarray, fs: float) -> list[list[tuple[np.ndarray, str]]]:
    """Per column of ``mitbih.RR_FEATURES``: the values the usual mistakes give, and what to say."""
    K = mitbih.LOCAL_RR_BEATS
    t = peaks / fs
    rr = np.diff(t)
    n = len(t)
    pre, post = np.r_[rr[:1], rr], np.r_[rr, rr[-1:]]
    local = _rr_window(pre, K)
    record = np.full(n, rr.mean())
    in_samples = "in samples: divide the differences of r_peaks by fs to get seconds"
    in_ms = "in milliseconds: keep seconds, the differences of t = r_peaks / fs"
    swapped = (
        "that is {other}: pre and post are swapped; pre_rr = t[i] - t[i-1] is the interval "
        "BEFORE the beat, post_rr = t[i+1] - t[i] the one after it"
    )
    local_what = f"local_rr is the mean pre_rr of the beat and the {K - 1} beats before it"
    ratio = {4: ("pre_rr", pre), 5: ("post_rr", post), 6: ("local_rr", local)}
    mistakes: list[list[tuple[np.ndarray, str]]] = [
        [(pre * fs, in_samples), (pre * 1000, in_ms), (post, swapped.format(other="post_rr"))],
        [(post * fs, in_samples), (post * 1000, in_ms), (pre, swapped.format(other="pre_rr"))],
        [
            (local * fs, in_samples),
            (local * 1000, in_ms),
            (
                _rr_window(pre, K, start=-1),
                f"the mean of the {K} beats BEFORE the beat, without the beat itself: "
                f"{local_what} (pre_rr[max(0, i - {K - 1}) : i + 1])",
            ),
            (_rr_window(pre, K - 1), f"a window of {K - 1} beats: {local_what}, {K} in all"),
            (_rr_window(pre, K + 1), f"a window of {K + 1} beats: {local_what}, {K} in all"),
            (
                _rr_window(pre, K, start=K - 1),
                f"the mean over the beat and the FOLLOWING beats: {local_what} (look back)",
            ),
            (
                _rr_window(post, K, start=K - 1),
                f"the mean post_rr of the beat and the following beats: {local_what}",
            ),
            (
                pd.Series(pre).rolling(K, center=True, min_periods=1).mean().to_numpy(),
                f"a centred window (rolling(center=True)): {local_what} (look back)",
            ),
            (_rr_window(post, K), f"the mean of post_rr, not pre_rr: {local_what}"),
            (_rr_window(pre, K, stat=np.median), f"a median: {local_what}, the mean"),
            (
                _rr_window(pre, K, divisor=K),
                f"at the start of the record the sum is divided by {K}: average the beats "
                f"there are (fewer than {K} for the first {K - 1} beats; rolling(..., "
                "min_periods=1))",
            ),
        ],
        [
            (record * fs, in_samples),
            (record * 1000, in_ms),
            (
                np.full(n, np.median(rr)),
                "the median RR interval: record_rr is the mean, (t[-1] - t[0]) / (n - 1)",
            ),
            (
                np.full(n, pre.mean()),
                "the mean of the pre_rr column, which counts the first interval twice: use "
                "the n - 1 intervals, (t[-1] - t[0]) / (n - 1)",
            ),
            (
                np.full(n, post.mean()),
                "the mean of the post_rr column, which counts the last interval twice: use "
                "the n - 1 intervals, (t[-1] - t[0]) / (n - 1)",
            ),
            (
                np.full(n, local.mean()),
                "the mean of local_rr: record_rr is the mean RR interval, (t[-1] - t[0]) / (n - 1)",
            ),
            (
                np.full(n, (t[-1] - t[0]) / n),
                "divided by n: n beats have n - 1 intervals, (t[-1] - t[0]) / (n - 1)",
            ),
        ],
    ]
    for column in (4, 5, 6):
        name, values = ratio[column]
        mistakes.append(
            [
                (record / values, f"inverted (record_rr / {name}): divide {name} by record_rr"),
                (values / local, f"divided by local_rr: divide {name} by record_rr"),
                (
                    values * fs / record,
                    f"{fs:g} (fs) times too large: {name} and record_rr in different units",
                ),
                (
                    values / (record * fs),
                    f"{fs:g} (fs) times too small: {name} and record_rr in different units",
                ),
            ]
        )
    mistakes.append(
        [
            (post / pre, "inverted (post_rr / pre_rr): pre_post_ratio is pre_rr / post_rr"),
            (pre - post, "a difference: pre_post_ratio is the ratio pre_rr / post_rr"),
        ]
    )
    return mistakes


def _close_columns(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-5, atol=1e-7))


def _close_where_finite(got: np.ndarray, candidate: np.ndarray) -> bool:
    """``got`` equals ``candidate`` on the rows where both are finite: all rows, or all but
    one (a mistake that leaves the first beat without a value)."""
    both = np.isfinite(got) & np.isfinite(candidate)
    return both.sum() >= len(got) - 1 and _close_columns(got[both], candidate[both])


def _rr_shape(got: np.ndarray, want: np.ndarray, where: str) -> None:
    """Raise unless ``got`` has the shape of ``want`` (n, 8), naming what is missing or extra."""
    n = len(want)
    if got.shape == want.shape:
        return
    shape = f"rr_by_hand returned shape {got.shape} for {where}, expected ({n}, 8)"
    _expect(
        got.ndim == 2,
        f"{shape}: one row per beat, one column per feature (np.column_stack of the eight).",
    )
    _expect(
        got.shape != want.T.shape,
        f"{shape}: the eight features are the rows; stack them as columns "
        "(np.column_stack, or np.stack(..., axis=1)), one row per beat.",
    )
    if got.shape == (n - 1, 8):
        for column, part, which in ((0, want[1:], "first"), (1, want[:-1], "last")):
            _expect(
                not _close_columns(got[:, column], part[:, column]),
                f"{shape}: the {which} beat is dropped. Keep one row per beat: the first "
                "beat takes its post-RR as its pre-RR, the last its pre-RR as its post-RR.",
            )
        raise ExerciseError(
            f"{shape}: one row per beat, n rows for n R peaks (n - 1 intervals; the first "
            "beat takes its post-RR as pre-RR, the last its pre-RR as post-RR)."
        )
    _expect(len(got) == n, f"{shape}: one row per R peak.")
    found = [
        c
        for c in range(8)
        if any(_close_columns(got[:, k], want[:, c]) for k in range(got.shape[1]))
    ]
    if got.shape[1] < 8:
        missing = [mitbih.RR_FEATURES[c] for c in range(8) if c not in found]
        raise ExerciseError(
            f"{shape}: {8 - got.shape[1]} column(s) missing; the eight are "
            f"{', '.join(mitbih.RR_FEATURES)}. Not found: {', '.join(missing)}."
        )
    extra = [
        k
        for k in range(got.shape[1])
        if not any(_close_columns(got[:, k], want[:, c]) for c in found)
    ]
    raise ExerciseError(
        f"{shape}: {got.shape[1] - 8} column(s) too many; the eight are "
        f"{', '.join(mitbih.RR_FEATURES)}"
        + (f". Column(s) {extra} are none of them: drop them." if extra else ".")
    )


def _rr_column(got: np.ndarray, want: np.ndarray, column: int, mistakes, where: str) -> None:
    """Raise unless column ``column`` of ``got`` is right, naming the mistake it shows."""
    name = mitbih.RR_FEATURES[column]
    g, w = got[:, column], want[:, column].astype(np.float64)
    if _close_columns(g, w):
        return
    n = len(g)
    head = f"column {column} ({name}) of rr_by_hand for {where}"
    _name_mistake(
        lambda candidate: _close_where_finite(g, candidate),
        [(candidate, f"{head} is wrong: {what}.") for candidate, what in mistakes[column]],
    )
    bad = np.flatnonzero(~np.isclose(g, w, rtol=1e-5, atol=1e-7))
    _expect(len(bad) > 0, f"{head} differs from mitbih.rr_features. " + _RR_DEFINITIONS[column])
    first, last = bad[0], bad[-1]
    if column in (0, 4, 7):  # the first beat's pre-RR
        _expect(
            not (first == 0 and (len(bad) == 1 or not np.isfinite(g[0]) or g[0] == 0)),
            f"{head}: the first beat has {name} = {g[0]}, expected {w[0]:.6g}. The first beat "
            "has no beat before it: it takes its post-RR as its pre-RR (pre_rr[0] = "
            "post_rr[0]).",
        )
    if column in (1, 5, 7):  # the last beat's post-RR
        _expect(
            not (last == n - 1 and (len(bad) == 1 or not np.isfinite(g[-1]) or g[-1] == 0)),
            f"{head}: the last beat has {name} = {g[-1]}, expected {w[-1]:.6g}. The last beat "
            "has no beat after it: it takes its pre-RR as its post-RR (post_rr[-1] = "
            "pre_rr[-1]).",
        )
    k = mitbih.LOCAL_RR_BEATS
    if column == 2:
        _expect(
            last >= k - 1,
            f"{head}: the first {last + 1} beats have local_rr {np.round(g[: last + 1], 4)}, "
            f"expected {np.round(w[: last + 1], 4)}: at the start of the record average the "
            f"pre_rr of the beats there are (fewer than {k}: the mean of "
            "pre_rr[0 : i + 1]).",
        )
    if not np.isfinite(g).all():  # the message indexes a non-finite value: only when there is one
        raise ExerciseError(
            f"{head} holds NaN or inf at beat {np.flatnonzero(~np.isfinite(g))[0]}: every beat "
            "has a value (the first beat takes its post-RR as pre-RR, the last its pre-RR as "
            "post-RR)."
        )
    raise ExerciseError(
        f"{head}: beat {first} has {name} = {g[first]:.6g}, expected {w[first]:.6g}. "
        + _RR_DEFINITIONS[column]
    )


_RR_DEFINITIONS = (
    "pre_rr = t[i] - t[i-1] in seconds, t = r_peaks / fs.",
    "post_rr = t[i+1] - t[i] in seconds, t = r_peaks / fs.",
    f"local_rr is the mean pre_rr of the beat and the {mitbih.LOCAL_RR_BEATS - 1} beats before "
    "it (fewer at the start of the record).",
    "record_rr is the mean RR interval of the record, (t[-1] - t[0]) / (n - 1), in every row.",
    "pre_rr_ratio = pre_rr / record_rr.",
    "post_rr_ratio = post_rr / record_rr.",
    "local_rr_ratio = local_rr / record_rr.",
    "pre_post_ratio = pre_rr / post_rr.",
)


def check_rr_features(rr_features_by_hand: Callable) -> None:
    """Check a student's ``rr_by_hand(r_peaks, fs) -> (n, 8)`` against ``mitbih.rr_features``.

    The function is called on three small records that the checker builds (14 beats at
    360 Hz, 6 beats at 125 Hz, 13 beats at 360 Hz with premature beats and pauses), and
    its answer compared with :func:`ecg_course.mitbih.rr_features` column by column
    (``mitbih.RR_FEATURES``: pre_rr, post_rr, local_rr, record_rr, pre_rr_ratio, post_rr_ratio,
    local_rr_ratio, pre_post_ratio; relative tolerance 1e-5). Any array-like of shape
    ``(n, 8)`` in any float type passes (a NumPy array, a DataFrame, nested lists).

    When they differ, the message names the column and the mistake: a dropped first or
    last beat, 7 or 9 columns, a transposed answer, the columns in another order, NaN or 0
    for the first beat's pre-RR (or the last beat's post-RR), intervals in samples, a
    local average without the beat itself, over 9 or 11 beats, over the following beats,
    of post-RR or a median, a record RR that is a median or the mean of another column,
    inverted ratios, pre and post swapped; and a function that returns nothing or raises.
    """
    for where, fs, intervals in _RR_CASES:
        peaks = 77 + np.cumsum(np.r_[0, intervals]).astype(np.int64)
        where = f"{where} (r_peaks={peaks.tolist()}, fs={fs})"
        result = _call_answer(
            rr_features_by_hand, "rr_by_hand(r_peaks, fs)", where, peaks.copy(), fs
        )
        _expect(
            result is not None,
            "rr_by_hand returned None: end the function with `return` and the (n, 8) array.",
        )
        if isinstance(result, torch.Tensor):
            result = result.detach().cpu().numpy()
        try:
            got = np.asarray(result, dtype=np.float64)
        except (TypeError, ValueError) as error:
            raise ExerciseError(
                f"rr_by_hand returned a {type(result).__name__} that is not an array of "
                f"numbers ({error}): return an (n, 8) array, one row per beat."
            ) from error
        want = mitbih.rr_features(peaks, fs)
        _rr_shape(got, want, where)
        if _close_columns(got, want.astype(np.float64)):
            continue
        holds = [
            [c for c in range(8) if _close_columns(got[:, k], want[:, c].astype(np.float64))]
            for k in range(8)
        ]
        if all(len(h) == 1 for h in holds) and sorted(h[0] for h in holds) == list(range(8)):
            moved = [
                f"column {k} holds {mitbih.RR_FEATURES[h[0]]}"
                for k, h in enumerate(holds)
                if h[0] != k
            ]
            raise ExerciseError(
                f"the eight features are right but in another order ({', '.join(moved)}): "
                f"order the columns as mitbih.RR_FEATURES, {', '.join(mitbih.RR_FEATURES)}."
            )
        mistakes = _rr_mistakes(peaks.astype(np.float64), fs)
        for column in range(8):
            _rr_column(got, want, column, mistakes, where)
    _passed(
        f"the eight RR features of {len(_RR_CASES)} records (at 360 and 125 Hz, shorter and "
        "longer than the local window, with premature beats) match mitbih.rr_features."
    )


# --- chapter 3: matching detections to annotated beats --------------------------------------

_MATCH_TOLERANCE = 54  # samples: 150 ms at 360 Hz
_MATCH_CASES: tuple[tuple[str, tuple[int, ...], tuple[int, ...]], ...] = (
    # (what, reference, detected): small cases where the right answer leaves no choice
    (
        "detections just inside and just outside the tolerance, a missed beat and a far one",
        (1000, 1400, 1800, 2200, 2600),
        (1053, 1454, 1745, 2200, 2750, 2900),  # 2750 and 2900: nearest to 2600, far off
    ),
    (
        "a detection between two annotated beats, nearer to the second",
        (700, 1000, 1060, 1500, 3000, 3060),
        (700, 1035, 1500, 3020),
    ),
    (
        "two detections near one beat, extra detections and a missed beat",
        (500, 900, 1300),
        (100, 470, 510, 880, 912, 1100),
    ),
    (  # mutual nearest neighbours leave beat 0 without its detection 0
        "a beat whose nearest detection is nearer to the next beat, and a tie",
        (1000, 1060, 2000),
        (960, 1035, 1990, 2010),
    ),
    (  # the first detection near beat 0 is the nearer: the last claimant does not win
        "two detections near each beat, the nearer one first, then second",
        (500, 1500),
        (495, 520, 1480, 1490),
    ),
)
_MATCH_FS = 360  # Hz: the sampling rate of the cases, to name a tolerance converted with it


def _wfdb_matches(reference: np.ndarray, detected: np.ndarray, tolerance: int) -> np.ndarray:
    """``wfdb.processing.compare_annotations(reference, detected, tolerance)``'s
    ``matching_sample_nums``: per annotated beat the index of its detection, or -1."""
    with mitbih._quiet_wfdb():
        from wfdb.processing import compare_annotations

    return compare_annotations(reference, detected, tolerance).matching_sample_nums


def _random_beats(seed: int = 3, n: int = 2000, fs: int = 360) -> tuple[np.ndarray, np.ndarray]:
    """Annotated R peaks of ``n`` beats (RR 0.5-1.2 s) and a detector's peaks: jittered,
    some far off, 2% missed, 40 false detections anywhere."""
    rng = np.random.default_rng(seed)
    reference = 200 + np.cumsum(np.r_[0, rng.integers(fs // 2, int(1.2 * fs), n - 1)])
    detected = reference + np.rint(rng.normal(0, 8, n)).astype(np.int64)
    far = rng.random(n) < 0.03
    detected[far] = reference[far] + rng.choice([-1, 1], far.sum()) * rng.integers(
        40, 70, far.sum()
    )
    detected = detected[rng.random(n) > 0.02]
    false = rng.integers(0, reference[-1] + fs // 2, 40)
    return reference.astype(np.int64), np.unique(np.r_[detected, false]).astype(np.int64)


def _as_matches(result, reference: np.ndarray, detected: np.ndarray, where: str) -> np.ndarray:
    """The student's answer as an int64 array, or a message naming what it is instead."""
    n_ref, n_det = len(reference), len(detected)
    _expect(
        result is not None,
        "match_beats returned None: end the function with `return` and the array of matches.",
    )
    if isinstance(result, torch.Tensor):
        result = result.detach().cpu().numpy()
    try:
        values = list(np.asarray(result, dtype=object).ravel())
    except ValueError:  # ragged: the message below says what it is
        values = []
    _expect(
        not any(v is None for v in values),
        f"match_beats returned None for some beats ({where}): an annotated beat without a "
        "detection gets -1, so that the answer is an integer array.",
    )
    try:
        matches = np.asarray(result)
        numbers = matches.astype(np.float64)
    except (TypeError, ValueError) as error:
        raise ExerciseError(
            f"match_beats returned a {type(result).__name__} that is not an array of indices "
            f"({error}): return one integer per annotated beat."
        ) from error
    _expect(
        matches.ndim == 1,
        f"match_beats returned shape {matches.shape} ({where}), expected ({n_ref},): one "
        "detection index (or -1) per annotated beat.",
    )
    if len(matches) != n_ref:
        expected = _wfdb_matches(reference, detected, _MATCH_TOLERANCE)
        matched = np.flatnonzero(expected >= 0)
        per_detection = np.full(n_det, -1)
        per_detection[expected[matched]] = matched
        tail = (
            f"({len(matches)} for {n_ref} annotated beats and {n_det} detections; {where}): "
            "return one entry per annotated beat, len(reference), holding the index of its "
            "detection or -1."
        )
        _name_mistake(
            lambda wrong: numbers.shape == wrong.shape and np.array_equal(numbers, wrong),
            [
                (expected[matched], f"match_beats returned one entry per matched detection {tail}"),
                (
                    per_detection,
                    "match_beats returned one entry per detection, the annotated beat it "
                    f"matches {tail}",
                ),
            ],
        )
        raise ExerciseError(f"match_beats returned {len(matches)} entries {tail}")
    _expect(
        not np.isnan(numbers).any(),
        f"match_beats returned NaN for the beats without a detection ({where}): use -1, "
        "so that the answer is an integer array.",
    )
    _expect(
        matches.dtype != bool,
        f"match_beats returned True/False per beat ({where}): return the INDEX in `detected` "
        "of the detection matched to each annotated beat, or -1.",
    )
    _expect(
        np.issubdtype(matches.dtype, np.integer),
        f"match_beats returned dtype {matches.dtype} ({where}): indices are integers; make the "
        "array with an integer dtype, e.g. np.full(len(reference), -1).",
    )
    matches = matches.astype(np.int64)
    positions = matches[matches >= 0]
    if len(positions) and positions.max() >= n_det:
        _expect(
            not np.isin(positions, detected).all(),
            f"match_beats returned sample positions (e.g. {positions.max()}) ({where}): return "
            "the INDEX j of the matched detection, not detected[j].",
        )
        raise ExerciseError(
            f"match_beats returned {positions.max()} ({where}), but `detected` has only {n_det} "
            "detections: return the index of the matched detection in `detected`, or -1."
        )
    _expect(
        (matches >= -1).all(),
        f"match_beats returned {matches.min()} ({where}): -1 marks an annotated beat without "
        "a detection; other entries are indices into `detected`.",
    )
    return matches


def _nearest_rule(reference: np.ndarray, detected: np.ndarray, tolerance: float) -> np.ndarray:
    """The exercise's rule at any tolerance: each detection belongs to its nearest annotated
    beat (the earlier one on a tie), and each beat keeps the nearest of its detections (the
    earlier one on a tie) closer than ``tolerance``. On the checker's cases at its tolerance
    it gives wfdb's matches (tests/test_checks.py); at another tolerance, what an answer
    with the right rule and the tolerance in other units gives."""
    matches = np.full(len(reference), -1, dtype=np.int64)
    if not len(reference) or not len(detected):
        return matches
    after = np.clip(np.searchsorted(reference, detected), 0, len(reference) - 1)
    before = np.clip(after - 1, 0, len(reference) - 1)
    to_before = np.abs(detected - reference[before]) <= np.abs(reference[after] - detected)
    beat = np.where(to_before, before, after)
    distance = np.abs(detected - reference[beat])
    for j in sorted(np.flatnonzero(distance < tolerance), key=lambda j: (-distance[j], -j)):
        matches[beat[j]] = j  # the farthest first: the nearest (the earliest on a tie) stays
    return matches


def _differs(
    matches: np.ndarray, expected: np.ndarray, reference: np.ndarray, detected: np.ndarray
) -> np.ndarray:
    """The annotated beats whose match is not the expected one; a detection as near as the
    expected one (a tie) is as good."""
    d_got = np.abs(reference - detected[np.maximum(matches, 0)])
    d_want = np.abs(reference - detected[np.maximum(expected, 0)])
    tie = (matches >= 0) & (expected >= 0) & (d_got == d_want)
    return np.flatnonzero((matches != expected) & ~tie)


def _valid_matches(
    matches: np.ndarray, reference: np.ndarray, detected: np.ndarray, tolerance: int, where: str
) -> None:
    """Raise unless no detection is used twice and every match is within the tolerance."""
    matched = np.flatnonzero(matches >= 0)
    used, counts = np.unique(matches[matched], return_counts=True)
    if (counts > 1).any():
        j = used[counts > 1][0]
        beats = np.flatnonzero(matches == j)
        raise ExerciseError(
            f"detection {j} (at sample {detected[j]}) is matched to the annotated beats "
            f"{beats.tolist()} (at {reference[beats].tolist()}) ({where}): a detection matches "
            "at most one annotated beat, the nearest one; once matched it is taken."
        )
    distance = np.abs(reference[matched] - detected[matches[matched]])
    if (distance < tolerance).all():
        return
    worst = matched[np.argmax(distance)]
    _expect(
        distance.max() > tolerance,
        f"beat {worst} (at {reference[worst]}) is matched to detection {matches[worst]} (at "
        f"{detected[matches[worst]]}), exactly {tolerance} samples away ({where}): the "
        f"tolerance is strict, a match is closer than it, |d| < tolerance (as in "
        "wfdb.processing.compare_annotations's window_width).",
    )
    raise ExerciseError(
        f"beat {worst} (at {reference[worst]}) is matched to detection {matches[worst]} (at "
        f"{detected[matches[worst]]}), {distance.max()} samples away, beyond the tolerance of "
        f"{tolerance} samples ({where}): a match needs |d| < tolerance."
    )


def _matching_differs(
    matches: np.ndarray, expected: np.ndarray, reference: np.ndarray, detected: np.ndarray, where
) -> None:
    """Raise naming the first annotated beat whose match is not the expected one."""
    i = int(_differs(matches, expected, reference, detected)[0])
    got, want = matches[i], expected[i]
    beat = f"beat {i} (at {reference[i]})"
    if want >= 0:
        d = abs(int(detected[want]) - int(reference[i]))
        _expect(
            got >= 0,
            f"{beat} has no match, but detection {want} (at {detected[want]}) is {d} samples "
            f"away, within the tolerance of {_MATCH_TOLERANCE} (|d| < tolerance), and no "
            f"annotated beat is nearer to it ({where}).",
        )
        other = abs(int(detected[got]) - int(reference[i]))
        _expect(
            other <= d,
            f"{beat} is matched to detection {got} (at {detected[got]}, {other} samples away), "
            f"but detection {want} (at {detected[want]}) is nearer, {d} samples ({where}): "
            "a beat keeps the NEAREST of its detections within the tolerance.",
        )
    else:
        g = int(detected[got])
        nearer = [
            k
            for k in (i - 1, i + 1)
            if 0 <= k < len(reference) and abs(int(reference[k]) - g) < abs(int(reference[i]) - g)
        ]
        _expect(
            not nearer,
            f"{beat} is matched to detection {got} (at {g}), but that detection is nearer to "
            f"annotated beat {nearer[0] if nearer else ''} (at "
            f"{reference[nearer[0]] if nearer else ''}) ({where}): a detection goes to the "
            "NEAREST annotated beat, even one that comes later.",
        )
    raise ExerciseError(
        f"{beat} is matched to {got}, expected {want} ({where}): match each annotated beat "
        "to the nearest detection closer than the tolerance that no nearer beat takes, "
        "as wfdb.processing.compare_annotations does."
    )


def check_beat_matching(match_beats: Callable) -> None:
    """Check a student's ``match_beats(reference, detected, tolerance) -> (len(reference),)``.

    The answer must be that of ``wfdb.processing.compare_annotations(reference, detected,
    window_width=tolerance).matching_sample_nums``, a NumPy array: for each annotated beat
    the index in ``detected`` of its detection, or -1, as integers. A match is strictly
    closer than the tolerance (``|d| < tolerance``: a detection exactly ``tolerance``
    samples away is not one); a detection belongs to its nearest annotated beat, a beat
    keeps its nearest detection.

    The checker calls ``match_beats`` on five small hand-made cases (a detection just
    inside, exactly at and just outside the tolerance; one between two annotated beats;
    two near one beat, the nearer second, and extra detections and missed beats; a beat
    whose nearest detection is nearer to the next beat; two near each beat, the nearer
    first, then second) and on a random record of 2,000 beats at 360 Hz (jitter, far-off,
    missed and false detections; tolerance 54 samples, 150 ms). On every one the whole
    answer must be wfdb's, except that a beat may keep another detection exactly as near
    (a tie), so that mutual nearest neighbours or "the last detection near a beat wins"
    are refused.

    Mistakes named: a detection matched twice, an inclusive tolerance (``<=``), a tolerance
    multiplied or divided by fs (the answer is then the rule's matches at that tolerance,
    on every case), matched detections returned instead of one entry per annotated beat,
    sample positions instead of indices, the wrong length, a float or boolean answer,
    NaN or None instead of -1, a list instead of an array; otherwise the message names
    the first beat whose match differs and what its nearest detection is; and a function
    that returns nothing or raises.
    """
    cases = [
        (what, np.array(ref, dtype=np.int64), np.array(det, dtype=np.int64))
        for what, ref, det in _MATCH_CASES
    ]
    cases.append(("a random record of 2,000 beats at 360 Hz", *_random_beats()))
    tolerance = _MATCH_TOLERANCE
    answers = []
    for k, (what, reference, detected) in enumerate(cases):
        where = (
            f"{what}: reference={reference.tolist()}, detected={detected.tolist()}, "
            f"tolerance={tolerance}"
            if k < len(_MATCH_CASES)
            else what
        )
        result = _call_answer(
            match_beats,
            "match_beats(reference, detected, tolerance)",
            where,
            reference.copy(),
            detected.copy(),
            tolerance,
        )
        matches = _as_matches(result, reference, detected, where)
        expected = _wfdb_matches(reference, detected, tolerance)
        answers.append((where, reference, detected, result, matches, expected))
    if any(len(_differs(m, e, r, d)) for _, r, d, _, m, e in answers):
        _name_mistake(
            lambda rule: all(
                not len(_differs(m, rule(r, d), r, d)) for _, r, d, _, m, _ in answers
            ),
            [
                (
                    lambda window=window: lambda r, d: _nearest_rule(r, d, window),
                    f"match_beats gives the matches of a tolerance of {window:,.6g} samples, the "
                    f"tolerance {how} fs ({tolerance} {op} {_MATCH_FS}) on every case: the "
                    "tolerance is in samples, as are reference and detected; do not convert it "
                    "with fs.",
                )
                for window, how, op in (
                    (tolerance * _MATCH_FS, "multiplied by", "*"),
                    (tolerance / _MATCH_FS, "divided by", "/"),
                )
            ],
        )
    for where, reference, detected, _result, matches, expected in answers:
        _valid_matches(matches, reference, detected, tolerance, where)
        if len(_differs(matches, expected, reference, detected)):
            _matching_differs(matches, expected, reference, detected, where)
    result = answers[0][3]
    _numpy_answer(result, "matches")  # a tensor or a pandas object: its own message
    _expect(
        isinstance(result, np.ndarray),
        f"match_beats returned a {type(result).__name__} with the right matches; later cells "
        "need a NumPy array (matched >= 0, pred[matched[found]]): return np.array(matches).",
    )
    _passed(
        "each annotated beat gets the nearest detection closer than the tolerance, each "
        "detection at most once, as wfdb.processing.compare_annotations matches them."
    )


# --- chapter 3: the AAMI table --------------------------------------------------------------


def _class_codes(y, class_names) -> np.ndarray:
    """Labels as class numbers 0..C-1, whether given as numbers or as class names."""
    y = np.asarray(y)
    if y.dtype.kind in "biu":
        return y.astype(np.int64)
    codes = {name: c for c, name in enumerate(class_names)}
    return np.array([codes.get(v, -1) for v in y.tolist()], dtype=np.int64)


def _aami_rates(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> dict[str, np.ndarray]:
    """One-vs-rest rates per class from the confusion counts; NaN where undefined."""
    tp = np.array([np.sum((y_true == c) & (y_pred == c)) for c in range(n_classes)], float)
    fn = np.array([np.sum(y_true == c) for c in range(n_classes)], float) - tp
    fp = np.array([np.sum(y_pred == c) for c in range(n_classes)], float) - tp
    tn = len(y_true) - tp - fn - fp
    table = aami.aami_table(y_true, y_pred, [str(c) for c in range(n_classes)])
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "Se": table["Se"].to_numpy(),
            "+P": table["+P"].to_numpy(),
            "accuracy": (tp + tn) / len(y_true),
            "specificity": tn / (tn + fp),
            "npv": tn / (tn + fn),
        }


def _same_rates(got: np.ndarray, want: np.ndarray, atol: float = 1e-6) -> np.ndarray:
    """Per class: ``got`` equals ``want``; where ``want`` is undefined (NaN), NaN or 0."""
    undefined = np.isnan(want)
    return np.where(
        undefined,
        np.isnan(got) | np.isclose(got, 0.0),
        np.isclose(got, want, atol=atol, rtol=0) & ~np.isnan(got),
    )


def check_aami_table(table, y_true, y_pred, class_names) -> None:
    """Check the AAMI table of a beat classifier: Se and +P of every class, one-vs-rest.

    ``table`` must be a DataFrame with one row per class (index ``class_names``, in any
    order) and the columns ``"Se"`` (sensitivity, recall: TP / (TP + FN)) and ``"+P"``
    (positive predictivity, precision: TP / (TP + FP)) as fractions between 0 and 1;
    other columns are allowed. A class that is never predicted has no +P (0 / 0): NaN
    and 0 are both accepted there (sklearn's ``zero_division=0`` gives 0, NumPy NaN), and
    likewise Se for a class absent from ``y_true``. ``y_true`` and ``y_pred`` hold class
    numbers ``0..C-1`` (or the class names themselves).

    Mistakes named, each only when the answer is what it gives: the classes as columns
    (transposed), a missing or extra row or column, percentages instead of fractions, Se
    and +P swapped in every row (or ``y_true`` and ``y_pred`` swapped, which gives the
    same numbers), a column of one-vs-rest accuracy, specificity or negative predictive
    value, a row holding another class's values, one value for every class, rounded
    values, text instead of numbers. Otherwise the message says which value differs and
    what it equals (say, the class's Se where +P is asked for).
    """
    names = list(class_names)
    _expect(
        isinstance(table, pd.DataFrame),
        f"the table is a {type(table).__name__}, expected a pandas DataFrame with one row per "
        "class and the columns 'Se' and '+P'.",
    )
    _expect(
        not set(names) <= set(table.columns),
        "the classes are the columns: one row per class, Se and +P as columns (transpose: .T).",
    )
    index = list(table.index)
    if index != names:
        _expect(
            index != list(range(len(names))),
            f"rows are {index}, expected the class names: set index={names} (CLASSES).",
        )
        missing = [c for c in names if c not in index]
        _expect(
            not missing,
            f"no row for class {', '.join(map(str, missing))} (rows are {index}): one row per "
            f"class, {names}, even for a class that is rare or never predicted.",
        )
        extra = [r for r in index if r not in names]
        _expect(
            not extra,
            f"rows {extra} are not classes: keep one row per class, {names} (drop averages "
            "and totals).",
        )
        _expect(
            len(index) == len(names),
            f"rows are {index}: one row per class, {names}, each once.",
        )
        table = table.loc[names]  # the classes in another order: as good
    for column in ("Se", "+P"):
        _expect(
            column in table.columns,
            f"the table has no {column!r} column (it has {list(table.columns)}): name the "
            "sensitivity (recall) 'Se' and the positive predictivity (precision) '+P'.",
        )
    try:
        got = {c: table[c].to_numpy(dtype=np.float64) for c in ("Se", "+P")}
    except (TypeError, ValueError) as error:
        raise ExerciseError(
            f"Se and +P must hold numbers, not text ({error}): keep the fractions and format "
            "them only when printing."
        ) from error
    y_true = _class_codes(y_true, names)
    y_pred = _class_codes(y_pred, names)
    rates = _aami_rates(y_true, y_pred, len(names))
    want = {"Se": rates["Se"], "+P": rates["+P"]}
    ok = {c: _same_rates(got[c], want[c]) for c in want}
    if all(v.all() for v in ok.values()):
        undefined = [n for n, p in zip(names, want["+P"], strict=True) if np.isnan(p)]
        _passed(
            "Se and +P of every class, one-vs-rest"
            + (
                f" (+P of {', '.join(undefined)} is undefined: never predicted)."
                if undefined
                else "."
            )
        )
        return
    values = np.concatenate([got["Se"], got["+P"]])
    if np.nanmax(np.abs(values)) > 1 + 1e-9:
        percent = {c: _same_rates(got[c] / 100, want[c], atol=5e-4) for c in want}
        _expect(
            not all(v.all() for v in percent.values()),
            "these are percentages: give fractions between 0 and 1 (0.93, not 93); format "
            "them as percentages only when printing.",
        )
        raise ExerciseError(
            f"Se and +P are fractions between 0 and 1; the table holds {np.nanmax(values):.4g}."
        )
    swapped = {"Se": "+P", "+P": "Se"}
    if all(_same_rates(got[c], want[swapped[c]]).all() for c in want):
        raise ExerciseError(
            "Se and +P are swapped (or y_true and y_pred were passed in the wrong order, "
            "which swaps them too): Se = TP / (TP + FN), the share of the class's beats "
            "found (recall); +P = TP / (TP + FP), the share of the beats predicted as the "
            "class that are right (precision)."
        )
    for decimals in range(1, 5):
        rounded = {c: np.round(want[c], decimals) for c in want}
        _expect(
            not all(_same_rates(got[c], rounded[c]).all() for c in want),
            f"the values are rounded to {decimals} decimals: keep the full values and round "
            "only when printing (table.round(3)).",
        )
    for column in ("Se", "+P"):
        g, w = got[column], want[column]
        wrong = np.flatnonzero(~ok[column])
        if not len(wrong):
            continue
        c = int(wrong[0])
        head = f"{column} of class {names[c]} is {g[c]:.4f}, expected {w[c]:.4f}"
        definition = (
            "Se = TP / (TP + FN), one-vs-rest (y_true == c against y_pred == c)"
            if column == "Se"
            else "+P = TP / (TP + FP), one-vs-rest (y_true == c against y_pred == c)"
        )
        # the whole column is what a mistake gives: name it (swapped Se and +P: above)
        _name_mistake(
            lambda candidate, g=g: _same_rates(g, candidate).all(),
            [
                (rates[rate], f"{head}: {column} is {what}, in every row. {definition}.")
                for rate, what in (
                    ("accuracy", "the one-vs-rest accuracy (TP + TN) / n"),
                    ("specificity", "the specificity TN / (TN + FP)"),
                    ("npv", "the negative predictive value TN / (TN + FN)"),
                )
            ],
        )
        other = swapped[column]
        _expect(
            not _same_rates(g[c : c + 1], want[other][c : c + 1])[0],
            f"{head}: that is its {other}, "
            + ("TP / (TP + FN)" if other == "Se" else "TP / (TP + FP)")
            + f". {definition}.",
        )
        row = np.array([got["Se"][c], got["+P"][c]])
        others = [
            names[k]
            for k in range(len(names))
            if k != c and _same_rates(row, np.array([want["Se"][k], want["+P"][k]])).all()
        ]
        _expect(
            not others,
            f"{head}: row {names[c]} holds the values of class {others[0] if others else ''}; "
            f"it must hold class {c} (y_true == {c}).",
        )
        _expect(
            not (len(g) > 1 and np.allclose(g, g[0], equal_nan=True)),
            f"{column} is {g[0]:.4f} in every row: compute it for each class on its own, "
            f"one-vs-rest, not one average for all. {definition}.",
        )
        raise ExerciseError(f"{head}: {definition}.")
    raise ExerciseError("Se and +P differ from TP / (TP + FN) and TP / (TP + FP).")  # unreachable
