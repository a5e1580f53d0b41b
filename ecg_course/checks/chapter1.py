"""Chapter 1 (ECG5000 with an LSTM): run_epoch, the loss plot, the test metrics and early
classification (the split is in split.py)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd
import torch
from matplotlib import pyplot as plt
from matplotlib.axes import Axes
from sklearn import metrics as skm
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from ecg_course.checks._common import (
    ExerciseError,
    _call_answer,
    _expect,
    _matches_model,
    _model_proba,
    _name_mistake,
    _numpy_answer,
    _passed,
    _references,
    _shown,
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


def _run_epoch(run_epoch: Callable, model, loader, criterion, optimizer) -> object:
    return _call_answer(
        run_epoch,
        "run_epoch(model, loader, criterion, optimizer, device)",
        "with a loader of (x, y) batches",
        model,
        loader,
        criterion,
        optimizer,
        "cpu",
    )


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
    head = f"{when} run_epoch returned {loss:.4f}"
    _name_mistake(
        lambda value: np.isclose(loss, value, rtol=1e-5, atol=1e-6),
        [
            (value, f"{head}, {what}; expected {expected:.4f}.")
            for value, what in (
                (
                    float(np.mean(batch_losses)),
                    "the mean of the batch losses; weight each batch's "
                    "loss by its size (the last batch is smaller)",
                ),
                (
                    total,
                    "the sum of loss * batch size; divide by the number of samples",
                ),
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
                    "divided by batch_size * the number of batches; the last batch is "
                    "smaller: count the samples, len(y) per batch",
                ),
                (
                    batch_losses[-1],
                    "the loss of the last batch only; add up every batch",
                ),
            )
        ],
    )
    raise ExerciseError(f"{head}, expected the mean loss per sample {expected:.4f}.")


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
        _run_epoch(run_epoch, model, loader, criterion, None), "without an optimizer"
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
        _run_epoch(run_epoch, model, loader, criterion, optimizer), "with an optimizer"
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
        isinstance(ax, Axes),
        f"pass the matplotlib Axes of your plot, got {type(ax).__name__}.",
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
        bool(ax.get_title()) or bool(suptitle and suptitle.get_text()),
        "give the plot a title.",
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


def _metric(
    name: str,
    value: float,
    expected: float,
    mistakes: list[tuple[float, str]],
    hint: str,
) -> None:
    """Raise unless ``value`` equals ``expected``, naming the mistake it equals
    (``mistakes``: the value that mistake gives, and what to say; rounding is one), else
    saying what to compute (``hint``)."""
    if np.isclose(value, expected, atol=1e-6):
        return
    rounded = (
        f"{name} is {value}, rounded: keep the full value ({expected}) and round only when "
        "printing."
    )
    _name_mistake(
        lambda wrong: np.isclose(value, wrong, atol=1e-6),
        [
            (wrong, f"{name} is {value:.4f}, {what}: expected {expected:.4f}.")
            for wrong, what in mistakes
        ]
        + [(round(expected, d), rounded) for d in range(1, 5)],
    )
    raise ExerciseError(f"{name} is {value:.4f}, expected {expected:.4f}: {hint}")


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
    _metric(
        "test_accuracy",
        accuracy,
        expected_accuracy,
        [
            (
                float((pred == y_true).sum()),
                "the number of right answers; divide by the number of beats (accuracy_score does)",
            ),
            (100 * expected_accuracy, "a percentage; give the fraction"),
            (
                1 - expected_accuracy,
                "the error rate; accuracy is the share of right answers",
            ),
            (
                float((proba.argmax(axis=1) == 0).mean()),
                "the share of beats predicted normal",
            ),
        ],
        "compare proba.argmax(axis=1) with y_test.",
    )
    _metric(
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


def _auc(y, scores) -> float:
    return float(skm.roc_auc_score(y, scores))


def _logits(model: nn.Module, X: np.ndarray) -> np.ndarray:
    """The model's raw scores (n, C) of beats X in eval mode: what an answer without the
    softmax scores (a mistake; the references are :func:`_common._references`)."""
    model.eval()
    beats = torch.as_tensor(np.ascontiguousarray(X), dtype=torch.float32)
    with torch.no_grad():
        return model(beats.to(next(model.parameters()).device)).float().cpu().numpy()


def _early_references(model: nn.Module, X: np.ndarray, y, k: int) -> tuple[list[float], float]:
    """The ROC-AUCs of the first k samples of every beat in each format a right answer may
    be computed in (float32 first), and a tolerance that covers their gap."""
    rights = [_auc(y, p[:, 1]) for p in _references(model, X[:, :k])[0]]
    return rights, max(1e-4, 2 * max(abs(r - rights[0]) for r in rights))  # 16 bits' noise


def _early_mistakes(model: nn.Module, X: np.ndarray, y, k: int, head: str) -> list:
    """What the usual mistakes give for a prefix of k samples, and the message naming each
    (``head``: the start of the message)."""
    T = X.shape[1]
    proba = _model_proba(model, X[:, :k])
    mistakes = [
        (
            _auc(y, proba[:, 0]),
            "the probability of class 0 (normal); score the abnormal class, proba[:, 1]",
        ),
        (
            _auc(y, proba.argmax(axis=1)),
            "predicted labels (argmax); pass the probability proba[:, 1]",
        ),
        (
            lambda: _auc(y, _logits(model, X[:, :k])[:, 1]),
            "the raw logit of class 1; apply the softmax first (predict_proba does)",
        ),
    ]
    if k < T:
        mistakes += [
            (
                lambda: _auc(y, _model_proba(model, X)[:, 1]),
                f"the whole beat: feed only the first k samples, X[:, :{k}]",
            ),
            (
                lambda: (
                    _auc(y[:k], _model_proba(model, X[:k])[:, 1]) if 0 < y[:k].sum() < k else None
                ),
                f"the first {k} beats: X[:{k}] takes the first {k} beats, X[:, :{k}] the first "
                f"{k} samples of every beat",
            ),
            (
                lambda: _auc(y, _model_proba(model, X[:, T - k :])[:, 1]),
                f"the last {k} samples: feed the first k samples, X[:, :{k}]",
            ),
        ]
    return [(gives, f"{head}, that of {what}.") for gives, what in mistakes]


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
            (
                max(1, math.ceil(f * T)),
                f"{head}: rounded up (math.ceil); round to the nearest.",
            ),
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
    call = "early_auc(model, X, y, fractions)"
    result = _call_answer(
        early_auc, call, f"with fractions={list(fractions)}", model, X, y, fractions
    )
    result = _early_table(result, fractions, f"early_auc(model, X, y, {list(fractions)})")
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
        right = _auc(y, _model_proba(model, X[:, :k])[:, 1])
        if np.isclose(got, right, atol=1e-4):
            continue  # float32: no need to compute the 16-bit references
        rights, tol = _early_references(model, X, y, k)
        if min(abs(got - r) for r in rights) <= tol:
            continue
        head = f"at {f:.0%} of the beat the ROC-AUC is {got:.4f}"
        _name_mistake(
            lambda value, got=got, tol=tol: np.isclose(got, value, atol=tol),
            _early_mistakes(model, X, y, k, head),
        )
        raise ExerciseError(
            f"at {f:.0%} of the beat ({k} samples) the ROC-AUC is {got:.4f}, expected "
            f"{right:.4f}: feed X[:, :k] with k = max(1, round(fraction * T)) "
            "and score proba[:, 1]."
        )
    tiny = 0.4 / T  # round(tiny * T) == 0: the prefix must still hold one sample
    small = _call_answer(
        early_auc,
        call,
        f"with fractions=[{tiny:.4f}]",
        model,
        X,
        y,
        [tiny],
        hint=f"round({tiny:.4f} * {T}) is 0; use k = max(1, round(f * T))",
    )
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
            call,
            f"with fractions={rounding}",
            model,
            X,
            y,
            rounding,
        )
        again = _early_table(again, rounding, f"early_auc(model, X, y, {rounding})")
        for f, got_k in zip(rounding, again["samples"], strict=True):
            _early_samples(f, got_k, T)
    _passed(f"ROC-AUC at {', '.join(f'{f:.0%}' for f in fractions)} of the beat.")
