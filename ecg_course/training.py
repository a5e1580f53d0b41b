"""Training and inference loops shared by both chapters."""

from __future__ import annotations

import copy
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from ecg_course.models._inputs import as_sequence_batch, as_side_batch, require_finite
from ecg_course.precision import (
    Precision,
    PrecisionName,
    require_lstm_support,
    resolve_precision,
)

__all__ = [
    "Evaluation",
    "History",
    "evaluate",
    "fit",
    "get_device",
    "predict_proba",
    "run_epoch",
    "seed_everything",
]


def require_known_labels(y: torch.Tensor, logits: torch.Tensor) -> None:
    """Refuse class labels ``y`` (B,) that the model has no output for in ``logits`` (B, C).

    The loss would fail on them with an index error on a CPU, and with a device-side
    assert on a GPU that names neither the label nor the number of classes. Float
    labels (class probabilities, or a 0/1 target for one output) are left alone.
    """
    if y.dtype.is_floating_point or y.numel() == 0 or logits.dim() != 2:
        return
    n_classes, low, high = logits.shape[1], int(y.min()), int(y.max())
    if low < 0 or high >= n_classes:
        raise ValueError(
            f"labels must be class numbers 0..{n_classes - 1} for a model with {n_classes} "
            f"outputs; got {high if high >= n_classes else low}. Check the labels, or the "
            "model's num_classes."
        )


def _precision_for(
    model: nn.Module,
    precision: PrecisionName | Precision,
    device: torch.device | str,
    announce: bool = False,
) -> Precision:
    """Resolve ``precision`` on ``device``; refuse, naming the format, one in which this
    device cannot run the model's ``nn.LSTM`` (see :func:`~ecg_course.precision.lstm_runs_in`)."""
    chosen = resolve_precision(precision, device, announce=announce)
    if any(isinstance(module, nn.LSTM) for module in model.modules()):
        require_lstm_support(chosen)
    return chosen


def seed_everything(seed: int = 42) -> None:
    """Seed Python, NumPy and PyTorch (CPU and CUDA) so that runs repeat."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def get_device(prefer: str | None = None) -> torch.device:
    """The device to train on: ``prefer`` if given, else CUDA when present, else CPU."""
    if prefer is not None:
        return torch.device(prefer)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def run_epoch(
    model: nn.Module,
    loader: DataLoader,
    criterion: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    device: torch.device | str = "cpu",
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    precision: PrecisionName | Precision = "auto",
    scaler: torch.amp.GradScaler | None = None,
) -> float:
    """One pass over ``loader``; returns the mean loss per sample.

    With an optimizer the model is in train mode and its weights are updated
    after every batch; without one it is in eval mode and no gradients are kept.
    ``criterion`` must average over the batch (the default ``reduction="mean"``).
    ``scheduler``, if given, is stepped after every weight update (a per-batch
    schedule such as ``OneCycleLR`` with ``total_steps=epochs * len(loader)``).
    ``precision`` (see :func:`ecg_course.precision.resolve_precision`) sets the
    format of the forward pass; weights, gradients and the loss stay float32.
    ``scaler`` scales the float16 loss (``fit`` keeps one across epochs; by default
    a fresh one is made, active for float16 only).
    """
    training = optimizer is not None
    if scheduler is not None and not training:
        raise ValueError("a scheduler needs an optimizer: it steps after each weight update.")
    precision = _precision_for(model, precision, device)
    if training and scaler is None:
        scaler = precision.grad_scaler()
    model.train(training)
    total_loss, total_samples = 0.0, 0
    with torch.set_grad_enabled(training):
        for *inputs, y in loader:  # (x, y), or (x, side, y) for a model with side features
            inputs, y = [t.to(device) for t in inputs], y.to(device)
            with precision.autocast():
                logits = model(*inputs)
                require_known_labels(y, logits)
                loss = criterion(logits, y)
            if training:
                optimizer.zero_grad()
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
                if scheduler is not None:
                    scheduler.step()
            total_loss += loss.item() * len(y)
            total_samples += len(y)
    if total_samples == 0:
        raise ValueError("loader yielded no samples; check the dataset and batch size.")
    return total_loss / total_samples


@dataclass
class Evaluation:
    """What :func:`evaluate` measured on a labelled loader."""

    loss: float
    """Mean loss per sample."""
    proba: np.ndarray
    """Class probabilities (n, C), float32, in the loader's order."""
    labels: np.ndarray
    """True labels (n,), int64, in the same order."""


@torch.no_grad()
def evaluate(
    model: nn.Module,
    loader: DataLoader,
    criterion: nn.Module | None = None,
    device: torch.device | str = "cpu",
    precision: PrecisionName | Precision = "auto",
) -> Evaluation:
    """Loss, probabilities and labels of ``model`` over ``loader`` in one pass (eval mode).

    Like torchvision's reference ``evaluate``: one pass serves both the
    validation loss and any score computed from the probabilities.
    ``criterion`` defaults to cross-entropy; the softmax is taken in float32.
    """
    criterion = criterion if criterion is not None else nn.CrossEntropyLoss()
    precision = _precision_for(model, precision, device)
    model.eval()
    total_loss, probas, labels = 0.0, [], []
    for *inputs, y in loader:
        inputs, y = [t.to(device) for t in inputs], y.to(device)
        with precision.autocast():
            logits = model(*inputs)
            require_known_labels(y, logits)
            loss = criterion(logits, y)
        total_loss += loss.item() * len(y)
        probas.append(torch.softmax(logits.float(), dim=1).cpu())
        labels.append(y.cpu())
    if not labels:
        raise ValueError("loader yielded no samples; check the dataset and batch size.")
    labels_all = torch.cat(labels).numpy()
    return Evaluation(total_loss / len(labels_all), torch.cat(probas).numpy(), labels_all)


@dataclass
class History:
    """What :func:`fit` measured, epoch by epoch (lists of equal length)."""

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_score: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    best_epoch: int = -1
    """Index (0-based) of the epoch whose weights the model holds after ``fit``."""


def fit(
    model: nn.Module,
    train_loader: DataLoader,
    val_loader: DataLoader | None,
    epochs: int = 20,
    lr: float = 1e-3,
    criterion: nn.Module | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    step_scheduler: Literal["epoch", "batch"] = "epoch",
    score: Callable[[np.ndarray, np.ndarray], float] | None = None,
    device: torch.device | str | None = None,
    progress: bool = True,
    precision: PrecisionName | Precision = "auto",
) -> History:
    """Train for ``epochs`` epochs, keeping the weights of the best validation epoch.

    Args:
        val_loader: the validation set; ``None`` trains for a fixed budget and keeps
            the last epoch (for a split with no data to spare, such as UCR's 500 beats).
        criterion: loss to minimise; cross-entropy by default.
        optimizer: Adam with learning rate ``lr`` by default.
        scheduler: a learning-rate schedule over ``optimizer``, stepped once per epoch
            (e.g. ``CosineAnnealingLR(optimizer, T_max=epochs)``) or, with
            ``step_scheduler="batch"``, after every batch (e.g. ``OneCycleLR(optimizer,
            max_lr, total_steps=epochs * len(train_loader))``).
        step_scheduler: ``"epoch"`` or ``"batch"``: when ``scheduler`` steps.
        score: optional ``score(y_true, proba) -> float`` (higher is better) on the
            validation set, e.g. macro-F1; the best epoch is chosen by it when
            given, else by the lowest validation loss.
        device: where to train; :func:`get_device` by default (CUDA when present).
        progress: show a progress bar with the losses of the last epoch.
        precision: ``"auto"``, ``"bf16"``, ``"fp16"`` or ``"fp32"``: the format of the
            forward passes (see :mod:`ecg_course.precision`); the choice is printed once.

    Returns:
        the :class:`History`; the model is left on ``device`` with the best weights.
    """
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1; got {epochs}.")
    if step_scheduler not in ("epoch", "batch"):
        raise ValueError(f'step_scheduler must be "epoch" or "batch"; got {step_scheduler!r}.')
    batch_scheduler = scheduler if step_scheduler == "batch" else None
    device = get_device() if device is None else torch.device(device)
    precision = _precision_for(model, precision, device, announce=progress)
    scaler = precision.grad_scaler()
    model.to(device)
    criterion = criterion if criterion is not None else nn.CrossEntropyLoss()
    criterion.to(device)
    optimizer = optimizer or torch.optim.Adam(model.parameters(), lr=lr)
    history = History()
    best, best_state = -float("inf"), None
    bar = tqdm(range(epochs), desc="epochs", unit="epoch", disable=not progress)
    for epoch in bar:
        start = time.perf_counter()
        history.train_loss.append(
            run_epoch(
                model,
                train_loader,
                criterion,
                optimizer=optimizer,
                device=device,
                scheduler=batch_scheduler,
                precision=precision,
                scaler=scaler,
            )
        )
        if scheduler is not None and step_scheduler == "epoch":
            scheduler.step()
        if val_loader is not None:
            result = evaluate(model, val_loader, criterion, device=device, precision=precision)
            history.val_loss.append(result.loss)
            if score is not None:
                history.val_score.append(float(score(result.labels, result.proba)))
            current = history.val_score[-1] if score is not None else -result.loss
            if current > best:
                best, history.best_epoch = current, epoch
                best_state = copy.deepcopy(model.state_dict())
        history.seconds.append(time.perf_counter() - start)
        losses = {"train_loss": history.train_loss, "val_loss": history.val_loss}
        bar.set_postfix({name: f"{v[-1]:.4f}" for name, v in losses.items() if v})
    if val_loader is None:
        history.best_epoch = epochs - 1  # no validation set: the model keeps the last epoch
    else:
        model.load_state_dict(best_state)
    return history


@torch.no_grad()
def predict_proba(
    model: nn.Module,
    X: np.ndarray | torch.Tensor,
    batch_size: int = 256,
    device: torch.device | str | None = None,
    precision: PrecisionName | Precision = "auto",
    side: np.ndarray | torch.Tensor | None = None,
) -> np.ndarray:
    """Class probabilities (n, C), float32, of beats X (n, T) or (n, T, 1), in batches.

    ``side`` (n, F) holds each beat's features besides its samples, for a model that
    reads them (``model(x, side)``, e.g. chapter 3's LSTM-FCN with RR features).

    The model is put in eval mode (dropout off, batch norm frozen); nothing is
    kept for gradients, so memory stays flat however many beats there are.
    ``precision`` sets the format of the forward pass (the softmax is float32):
    ``"auto"`` by default, as in :func:`fit` and :func:`evaluate` (on a CPU with AMX,
    bf16 scores the LSTM-FCN 2-4 times faster; ``benchmarks/MEASURED.md``). Pass
    ``"fp32"`` for predictions that are the same on every machine.

    Raises:
        ValueError: X holds NaN or inf (the message names the first such row),
            has the wrong shape or dtype, or ``batch_size < 1``.
    """
    device = next(model.parameters()).device if device is None else torch.device(device)
    X = torch.as_tensor(X)
    if X.dtype == torch.float64:
        X = X.float()
    X = as_sequence_batch(X, getattr(model, "in_channels", 1))  # (n, T, C)
    require_finite(X)
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1; got {batch_size}.")
    extra = []
    if side is not None:
        extra = [as_side_batch(side, len(X))]
    precision = _precision_for(model, precision, device)
    model.eval()
    chunks = []
    for start in range(0, len(X), batch_size):
        batch = [t[start : start + batch_size].to(device) for t in (X, *extra)]
        with precision.autocast():
            logits = model(*batch)
        chunks.append(torch.softmax(logits.float(), dim=1).cpu())
    return torch.cat(chunks).numpy()
