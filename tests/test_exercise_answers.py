"""A library of student answers, wrong and right, for every exercise checker.

Each exercise has realistic wrong answers (the checker must raise, and its message must
name the mistake that was made) and valid answers written differently from the official
solution (the checker must accept them). Everything runs on small arrays and models.
To add a mistake students make: add one entry to the exercise's ``WRONG`` dict.
"""

from __future__ import annotations

import contextlib
import functools
import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from imblearn.under_sampling import NearMiss, RandomUnderSampler  # noqa: E402
from scipy.special import softmax  # noqa: E402
from sklearn import metrics as skm  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.preprocessing import label_binarize  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

from ecg_course import checks, metrics  # noqa: E402
from ecg_course.models import LSTMFCN, LSTMClassifier  # noqa: E402
from ecg_course.training import predict_proba, run_epoch  # noqa: E402

SEED = 42


def _params(table: dict) -> list:
    return [pytest.param(*value, id=name) for name, value in table.items()]


def _valid(table: dict) -> list:
    return [pytest.param(value, id=name) for name, value in table.items()]


# --- exercise ex1-split ---------------------------------------------------------------------

_rng = np.random.default_rng(0)
SPLIT_X = _rng.normal(size=(1000, 6)).astype(np.float32)
SPLIT_Y5 = _rng.choice(5, size=1000, p=[0.55, 0.25, 0.1, 0.06, 0.04])
SPLIT_YB = (SPLIT_Y5 != 0).astype(np.int64)


def _split_official(X, y, y5):
    X_rest, X_test, y_rest, y_test = train_test_split(
        X, y, test_size=0.2, stratify=y, random_state=SEED
    )
    X_train, X_val, y_train, y_val = train_test_split(
        X_rest, y_rest, test_size=0.25, stratify=y_rest, random_state=SEED
    )
    return X_train, X_val, X_test, y_train, y_val, y_test


def _split_indices(X, y, y5):
    """NumPy style: split the row numbers, then index."""
    rows = np.arange(len(y))
    rest, test = train_test_split(rows, test_size=0.2, stratify=y, random_state=SEED)
    train, val = train_test_split(rest, test_size=0.25, stratify=y[rest], random_state=SEED)
    return X[train], X[val], X[test], y[train], y[val], y[test]


def _split_pandas(X, y, y5):
    """pandas inputs, train_size and an integer validation size."""
    frame, labels = pd.DataFrame(X), pd.Series(y, name="abnormal")
    f_rest, f_test, l_rest, l_test = train_test_split(
        frame, labels, train_size=0.8, random_state=SEED, stratify=labels
    )
    f_train, f_val, l_train, l_val = train_test_split(
        f_rest, l_rest, test_size=len(f_rest) // 4, random_state=SEED, stratify=l_rest
    )
    return tuple(p.to_numpy() for p in (f_train, f_val, f_test, l_train, l_val, l_test))


def _split(X, y, test_kw, val_kw):
    X_rest, X_test, y_rest, y_test = train_test_split(X, y, test_size=0.2, **test_kw)
    X_train, X_val, y_train, y_val = train_test_split(X_rest, y_rest, test_size=0.25, **val_kw)
    return X_train, X_val, X_test, y_train, y_val, y_test


def _second_without_seed(X, y, y5):
    X_rest, X_test, y_rest, y_test = train_test_split(
        X, y, test_size=0.2, stratify=y, random_state=SEED
    )
    X_train, X_val, y_train, y_val = train_test_split(
        X_rest, y_rest, test_size=0.25, stratify=y_rest, random_state=7
    )  # no random_state: a fresh draw every run, here seed 7
    return X_train, X_val, X_test, y_train, y_val, y_test


def _val_first(X, y, y5):
    X_rest, X_val, y_rest, y_val = train_test_split(
        X, y, test_size=0.2, stratify=y, random_state=SEED
    )
    X_train, X_test, y_train, y_test = train_test_split(
        X_rest, y_rest, test_size=0.25, stratify=y_rest, random_state=SEED
    )
    return X_train, X_val, X_test, y_train, y_val, y_test


def _leaky(X, y, y5):
    X_rest, X_test, y_rest, y_test = train_test_split(
        X, y, test_size=0.2, stratify=y, random_state=SEED
    )
    X_train, X_val, y_train, y_val = train_test_split(
        X, y, test_size=0.2, stratify=y, random_state=SEED
    )  # the second split from all beats
    X_train, y_train = X_train[:600], y_train[:600]
    return X_train, X_val, X_test, y_train, y_val, y_test


def _wrong_order_of_outputs(X, y, y5):
    X_rest, y_rest, X_test, y_test = train_test_split(  # outputs in the wrong order
        X, y, test_size=0.2, stratify=y, random_state=SEED
    )
    return X_rest[:600], X_rest[600:], X_test, y_rest[:600], y_rest[600:], y_test


def _misaligned_labels(X, y, y5):
    X_train, X_val, X_test, y_train, y_val, y_test = _split_official(X, y, y5)
    return X_train, X_val, X_test, np.sort(y_train), y_val, y_test


def _split_strata(X, y, y5):
    rows = np.arange(len(y))
    rest, test = train_test_split(rows, test_size=0.2, stratify=y5, random_state=SEED)
    train, val = train_test_split(rest, test_size=0.25, stratify=y5[rest], random_state=SEED)
    return X[train], X[val], X[test], y[train], y[val], y[test]


def _split_stratified_seed(X, y, seed):
    X_rest, X_test, y_rest, y_test = train_test_split(
        X, y, test_size=0.2, stratify=y, random_state=seed
    )
    X_train, X_val, y_train, y_val = train_test_split(
        X_rest, y_rest, test_size=0.25, stratify=y_rest, random_state=seed
    )
    return X_train, X_val, X_test, y_train, y_val, y_test


def _split_sizes(X, y, test_size, val_size):
    X_rest, X_test, y_rest, y_test = train_test_split(
        X, y, test_size=test_size, stratify=y, random_state=SEED
    )
    X_train, X_val, y_train, y_val = train_test_split(
        X_rest, y_rest, test_size=val_size, stratify=y_rest, random_state=SEED
    )
    return X_train, X_val, X_test, y_train, y_val, y_test


def _split_official_on_y5(X, y, y5):
    return _split_official(X, y5, y5)


def _reshuffled(X, y, y5):
    X_train, X_val, X_test, y_train, y_val, y_test = _split_official(X, y, y5)
    order = np.random.default_rng(0).permutation(len(y_train))
    return X_train[order], X_val, X_test, y_train[order], y_val, y_test


def _split_strata_second(X, y, y5):
    rows = np.arange(len(y))
    rest, test = train_test_split(rows, test_size=0.2, stratify=y, random_state=SEED)
    train, val = train_test_split(rest, test_size=0.25, stratify=y5[rest], random_state=SEED)
    return X[train], X[val], X[test], y[train], y[val], y[test]


WRONG_SPLIT = {
    "second split without random_state": (_second_without_seed, "second train_test_split"),
    "second split not stratified": (
        lambda X, y, y5: _split(X, y, dict(stratify=y, random_state=SEED), dict(random_state=SEED)),
        "second train_test_split call is not stratified",
    ),
    "no split stratified": (
        lambda X, y, y5: _split(X, y, dict(random_state=SEED), dict(random_state=SEED)),
        "neither train_test_split call is stratified",
    ),
    "stratified on the five classes": (_split_strata, "five-class labels"),
    "second split stratified on the five classes": (
        _split_strata_second,
        "second call is stratified on the five-class labels",
    ),
    "validation set split off first": (_val_first, "swapped"),
    "random_state=0": (
        lambda X, y, y5: _split_stratified_seed(X, y, 0),
        "random_state=42 gives",
    ),
    "second split takes 20% of the rest": (
        lambda X, y, y5: _split_sizes(X, y, 0.2, 0.2),
        "training set has 640 rows, expected 600",
    ),
    "five-class labels split": (_split_official_on_y5, "not the five classes"),
    "second split from all beats": (_leaky, "in both the .* and the test set"),
    "outputs unpacked in the wrong order": (_wrong_order_of_outputs, "in that order"),
    "labels sorted apart from the beats": (_misaligned_labels, "do not belong to its beats"),
    "training set reshuffled": (_reshuffled, "in another order"),
    "not shuffled": (
        lambda X, y, y5: _split(X, y, dict(shuffle=False), dict(shuffle=False)),
        "not shuffled",
    ),
    "a channel axis added to the beats": (
        lambda X, y, y5: tuple(
            a[..., None] if a.ndim == 2 else a for a in _split_official(X, y, y5)
        ),  # fmt: skip
        r"^(?!.*in that order).*X_train has shape \(600, 6, 1\), expected \(600, 6\)",
    ),
}


VALID_SPLIT = {
    "official": _split_official,
    "row numbers (NumPy)": _split_indices,
    "pandas, train_size, integer size": _split_pandas,
}


@pytest.mark.parametrize(("answer", "message"), _params(WRONG_SPLIT))
def test_split_wrong_answers(answer, message):
    parts = answer(SPLIT_X, SPLIT_YB, SPLIT_Y5)
    with pytest.raises(checks.ExerciseError, match=message):
        checks.check_split(*parts, SPLIT_X, SPLIT_YB, random_state=SEED, other_labels=SPLIT_Y5)


@pytest.mark.parametrize("answer", _valid(VALID_SPLIT))
def test_split_valid_answers(answer, capsys):
    parts = answer(SPLIT_X, SPLIT_YB, SPLIT_Y5)
    checks.check_split(*parts, SPLIT_X, SPLIT_YB, random_state=SEED, other_labels=SPLIT_Y5)
    assert capsys.readouterr().out.startswith("Correct")


def test_split_without_stratification_fails_for_every_seed():
    """An unstratified split must never pass, whatever seed it happened to use."""
    for seed in range(20):
        parts = _split(SPLIT_X, SPLIT_YB, dict(random_state=seed), dict(random_state=seed))
        with pytest.raises(checks.ExerciseError):
            checks.check_split(*parts, SPLIT_X, SPLIT_YB, random_state=SEED)


# --- exercise ex1-run-epoch -----------------------------------------------------------------


def _epoch_no_zero_grad(model, loader, criterion, optimizer=None, device="cpu"):
    model.train(optimizer is not None)
    total, n = 0.0, 0
    with torch.set_grad_enabled(optimizer is not None):
        for x, y in loader:
            loss = criterion(model(x), y)
            if optimizer is not None:
                loss.backward()
                optimizer.step()
            total, n = total + loss.item() * len(y), n + len(y)
    return total / n


def _epoch_never_eval(model, loader, criterion, optimizer=None, device="cpu"):
    if optimizer is not None:
        model.train()
    total, n = 0.0, 0
    with torch.set_grad_enabled(optimizer is not None):
        for x, y in loader:
            loss = criterion(model(x), y)
            if optimizer is not None:
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            total, n = total + loss.item() * len(y), n + len(y)
    return total / n


def _epoch_never_train(model, loader, criterion, optimizer=None, device="cpu"):
    if optimizer is None:
        model.eval()
    total, n = 0.0, 0
    with torch.set_grad_enabled(optimizer is not None):
        for x, y in loader:
            loss = criterion(model(x), y)
            if optimizer is not None:
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            total, n = total + loss.item() * len(y), n + len(y)
    return total / n


def _epoch_returns_tensor(model, loader, criterion, optimizer=None, device="cpu"):
    model.train(optimizer is not None)
    total, n = 0.0, 0
    with torch.set_grad_enabled(optimizer is not None):
        for x, y in loader:
            loss = criterion(model(x), y)
            if optimizer is not None:
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            total, n = total + loss * len(y), n + len(y)  # the tensor, not loss.item()
    return total / n


def _epoch_mean_of_batches(model, loader, criterion, optimizer=None, device="cpu",
                           reduce=np.mean):  # fmt: skip
    """Averages the batch losses (``reduce``) instead of weighting them by batch size."""
    model.train(optimizer is not None)
    losses = []
    with torch.set_grad_enabled(optimizer is not None):
        for x, y in loader:
            loss = criterion(model(x), y)
            if optimizer is not None:
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            losses.append(loss.item())
    return float(reduce(losses))


def _epoch_no_no_grad(model, loader, criterion, optimizer=None, device="cpu"):
    model.train(optimizer is not None)
    total, n = 0.0, 0
    for x, y in loader:
        loss = criterion(model(x), y)
        if optimizer is not None:
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        total, n = total + loss.item() * len(y), n + len(y)
    return total / n


def _epoch_zero_grad_late(model, loader, criterion, optimizer=None, device="cpu"):
    model.train(optimizer is not None)
    total, n = 0.0, 0
    with torch.set_grad_enabled(optimizer is not None):
        for x, y in loader:
            loss = criterion(model(x), y)
            if optimizer is not None:
                loss.backward()
                optimizer.zero_grad()  # wipes the gradients before the step
                optimizer.step()
            total, n = total + loss.item() * len(y), n + len(y)
    return total / n


def _epoch_per_batch_count(model, loader, criterion, optimizer=None, device="cpu"):
    model.train(optimizer is not None)
    total = 0.0
    with torch.set_grad_enabled(optimizer is not None):
        for x, y in loader:
            loss = criterion(model(x), y)
            if optimizer is not None:
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            total += loss.item() * len(y)
    return total / len(loader)


def _epoch_sum(model, loader, criterion, optimizer=None, device="cpu"):
    model.train(optimizer is not None)
    total = 0.0
    with torch.set_grad_enabled(optimizer is not None):
        for x, y in loader:
            loss = criterion(model(x), y)
            if optimizer is not None:
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            total += loss.item() * len(y)
    return total


def _epoch_zero_grad_once(model, loader, criterion, optimizer=None, device="cpu"):
    model.train(optimizer is not None)
    if optimizer is not None:
        optimizer.zero_grad()  # once, before the loop
    total, n = 0.0, 0
    with torch.set_grad_enabled(optimizer is not None):
        for x, y in loader:
            loss = criterion(model(x), y)
            if optimizer is not None:
                loss.backward()
                optimizer.step()
            total, n = total + loss.item() * len(y), n + len(y)
    return total / n


def _epoch_always_steps(model, loader, criterion, optimizer=None, device="cpu"):
    model.train()
    total, n = 0.0, 0
    for x, y in loader:
        loss = criterion(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total, n = total + loss.item() * len(y), n + len(y)
    return total / n


def _epoch_full_batches(model, loader, criterion, optimizer=None, device="cpu"):
    model.train(optimizer is not None)
    total = 0.0
    with torch.set_grad_enabled(optimizer is not None):
        for x, y in loader:
            loss = criterion(model(x), y)
            if optimizer is not None:
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            total += loss.item() * len(y)
    return total / (loader.batch_size * len(loader))


def _epoch_own_criterion(model, loader, criterion, optimizer=None, device="cpu"):
    criterion = nn.CrossEntropyLoss()  # its own loss function, whatever it is given
    model.train(optimizer is not None)
    total, n = 0.0, 0
    with torch.set_grad_enabled(optimizer is not None):
        for x, y in loader:
            loss = criterion(model(x), y)
            if optimizer is not None:
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            total, n = total + loss.item() * len(y), n + len(y)
    return total / n


# the median of the batch losses: no listed mistake, the message says what differs
_epoch_median = functools.partial(_epoch_mean_of_batches, reduce=np.median)


WRONG_RUN_EPOCH = {
    "no zero_grad": (_epoch_no_zero_grad, r"earlier batches were still there.*zero_grad"),
    "never switches to eval mode": (_epoch_never_eval, r"train mode: call model\.eval\(\)"),
    "never switches to train mode": (_epoch_never_train, r"eval mode: call model\.train\(\)"),
    "returns the loss tensor": (_epoch_returns_tensor, r"returned a torch\.Tensor.*loss\.item\(\)"),
    "mean of the batch losses": (_epoch_mean_of_batches, "mean of the batch losses"),
    "evaluation without no_grad": (_epoch_no_no_grad, r"kept gradients.*no_grad"),
    "zero_grad between backward and step": (_epoch_zero_grad_late, "there were no gradients"),
    "divides by the number of batches": (_epoch_per_batch_count, "number of batches"),
    "returns the sum": (_epoch_sum, "sum of loss \\* batch size"),
    "divides by batch_size * batches": (_epoch_full_batches, "last batch is smaller"),
    "zero_grad once before the loop": (_epoch_zero_grad_once, "earlier batches"),
    "always trains": (_epoch_always_steps, "raised AttributeError"),
    "ignores its criterion": (_epoch_own_criterion, r"called criterion 0 times.*criterion\(model"),
    "median of the batch losses": (
        _epoch_median,
        r"returned \d\.\d{4}, expected the mean loss per sample \d\.\d{4}\.$",
    ),
}


def _epoch_manual(model, loader, criterion, optimizer=None, device="cpu"):
    """Two branches, inference_mode, model.zero_grad, x.size(0)."""
    losses, sizes = [], []
    if optimizer is None:
        model.eval()
        with torch.inference_mode():
            for x, y in loader:
                losses.append(criterion(model(x.to(device)), y.to(device)).item())
                sizes.append(x.size(0))
    else:
        model.train()
        for x, y in loader:
            model.zero_grad()
            loss = criterion(model(x.to(device)), y.to(device))
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            sizes.append(x.size(0))
    return float(np.average(losses, weights=sizes))


def _epoch_zero_grad_after_step(model, loader, criterion, optimizer=None, device="cpu"):
    """zero_grad at the end of the batch, a nullcontext, len(loader.dataset)."""
    training = optimizer is not None
    model.train() if training else model.eval()
    context = contextlib.nullcontext() if training else torch.no_grad()
    running = 0.0
    with context:
        for batch in loader:
            x, y = (t.to(device) for t in batch)
            loss = criterion(model(x), y)
            if training:
                loss.backward()
                optimizer.step()
                optimizer.zero_grad(set_to_none=False)
            running += float(loss.detach()) * y.shape[0]
    return running / len(loader.dataset)


VALID_RUN_EPOCH = {
    "package (float32)": functools.partial(run_epoch, precision="fp32"),
    "two branches, inference_mode": _epoch_manual,
    "zero_grad after step": _epoch_zero_grad_after_step,
}


@pytest.mark.parametrize(("answer", "message"), _params(WRONG_RUN_EPOCH))
def test_run_epoch_wrong_answers(answer, message):
    with pytest.raises(checks.ExerciseError, match=message):
        checks.check_run_epoch(answer)


@pytest.mark.parametrize("answer", _valid(VALID_RUN_EPOCH))
def test_run_epoch_valid_answers(answer, capsys):
    checks.check_run_epoch(answer)
    assert capsys.readouterr().out.startswith("Correct")


# --- exercise ex1-loss-plot -----------------------------------------------------------------

TRAIN_LOSSES = [0.69, 0.41, 0.30, 0.26, 0.24]
VAL_LOSSES = [0.60, 0.38, 0.31, 0.29, 0.30]
EPOCHS = np.arange(1, 6)


def _plot_official():
    fig, ax = plt.subplots()
    ax.plot(EPOCHS, TRAIN_LOSSES, marker="o", label="training")
    ax.plot(EPOCHS, VAL_LOSSES, marker="o", label="validation")
    ax.axvline(4, color="gray", linestyle="--", label="kept epoch")
    ax.set(xlabel="epoch", ylabel="loss", title="Loss per epoch")
    ax.legend()
    return ax


def _plot_pyplot():
    plt.figure()
    plt.plot(range(1, len(TRAIN_LOSSES) + 1), TRAIN_LOSSES, label="Train")
    plt.plot(range(1, len(VAL_LOSSES) + 1), VAL_LOSSES, label="Val")
    plt.xlabel("Epoch")
    plt.ylabel("Cross-entropy")
    plt.title("Learning curves")
    plt.legend()
    return plt.gca()


def _plot_pandas():
    losses = pd.DataFrame(
        {"training loss": TRAIN_LOSSES, "validation loss": VAL_LOSSES}, index=EPOCHS
    )
    ax = losses.plot(title="Loss", logy=True)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    return ax


def _plot_legend_labels_only():
    fig, ax = plt.subplots()
    ax.plot(EPOCHS, TRAIN_LOSSES, "b-")
    ax.plot(EPOCHS, VAL_LOSSES, "r--")
    ax.legend(["train", "validation"])
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title("Loss")
    return ax


def _stale_axes():
    _, ax = plt.subplots()  # an earlier figure, as in the notebook
    ax.plot(np.sin(np.linspace(0, 6, 140)), label="beat")
    ax.plot(np.cos(np.linspace(0, 6, 140)), label="beat 2")
    ax.set(xlabel="time", ylabel="amplitude", title="beats")
    ax.legend()
    plt.figure()
    plt.plot(EPOCHS, TRAIN_LOSSES, label="training")
    plt.plot(EPOCHS, VAL_LOSSES, label="validation")
    plt.xlabel("epoch")
    plt.ylabel("loss")
    plt.title("Loss")
    plt.legend()
    return ax


def _plot_with(train=TRAIN_LOSSES, val=VAL_LOSSES, x=EPOCHS, labels=("training", "validation"),
               legend=True, title="Loss", xlabel="epoch"):  # fmt: skip
    fig, ax = plt.subplots()
    if x is None:
        ax.plot(train, label=labels[0])
        ax.plot(val, label=labels[1])
    else:
        ax.plot(x, train, label=labels[0])
        ax.plot(x, val, label=labels[1])
    ax.set(xlabel=xlabel, ylabel="loss", title=title)
    if legend:
        ax.legend()
    return ax


def _plot_figure_legend():
    fig, ax = plt.subplots()
    ax.plot(EPOCHS, VAL_LOSSES, "o-", label="validation")
    ax.plot(EPOCHS, TRAIN_LOSSES, "s-", label="training")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    fig.suptitle("Loss per epoch")
    fig.legend()
    return ax


WRONG_LOSS_PLOT = {
    "pyplot without ax (stale axes)": (_stale_axes, "drawn on another Axes than ax"),
    "log of the losses": (
        lambda: _plot_with(train=np.log(TRAIN_LOSSES), val=np.log(VAL_LOSSES)),
        "logarithm of the losses",
    ),
    "train_losses twice": (lambda: _plot_with(val=TRAIN_LOSSES), "no curve holds val_losses"),
    "val_losses only": (lambda: _plot_with(train=VAL_LOSSES), "no curve holds train_losses"),
    "epochs from 0": (lambda: _plot_with(x=None), "expected the epochs 1 to 5"),
    "labels swapped": (
        lambda: _plot_with(labels=("validation", "training")),
        "label each with its own set",
    ),
    "validation labelled test": (
        lambda: _plot_with(labels=("train", "test")),
        "labelled 'test': it is the validation loss",
    ),
    "no legend": (lambda: _plot_with(legend=False), "add a legend"),
    "no title": (lambda: _plot_with(title=""), "title"),
    "no x label": (lambda: _plot_with(xlabel=""), "label the x axis"),
    "the figure instead of the Axes": (lambda: _plot_official().figure, "pass the matplotlib Axes"),
    "losses divided by the number of batches": (
        lambda: _plot_with(train=np.divide(TRAIN_LOSSES, 8), val=np.divide(VAL_LOSSES, 8)),
        r"^(?!.*log).*curves of ax hold \[0\.0862, 0\.0512.*train_losses is \[0\.69, 0\.41",
    ),
}

VALID_LOSS_PLOT = {
    "official": _plot_official,
    "figure legend and suptitle": _plot_figure_legend,
    "pyplot and plt.gca()": _plot_pyplot,
    "pandas DataFrame.plot": _plot_pandas,
    "legend from a list of labels": _plot_legend_labels_only,
}


@pytest.mark.parametrize(("answer", "message"), _params(WRONG_LOSS_PLOT))
def test_loss_plot_wrong_answers(answer, message):
    try:
        with pytest.raises(checks.ExerciseError, match=message):
            checks.check_loss_plot(answer(), TRAIN_LOSSES, VAL_LOSSES)
    finally:
        plt.close("all")


@pytest.mark.parametrize("answer", _valid(VALID_LOSS_PLOT))
def test_loss_plot_valid_answers(answer, capsys):
    try:
        checks.check_loss_plot(answer(), TRAIN_LOSSES, VAL_LOSSES)
    finally:
        plt.close("all")
    assert capsys.readouterr().out.startswith("Correct")


# --- exercise ex1-metrics -------------------------------------------------------------------


@pytest.fixture(scope="module")
def binary_task():
    torch.manual_seed(0)
    model = LSTMClassifier(hidden_size=4, num_classes=2)
    rng = np.random.default_rng(1)
    X_val = rng.normal(size=(60, 23)).astype(np.float32)
    X_test = rng.normal(size=(60, 23)).astype(np.float32)
    y_test = (predict_proba(model, X_test)[:, 1] + rng.normal(0, 0.02, 60) > 0.5).astype(int)
    y_test[:6] = 1 - y_test[:6]  # not a perfect model
    return model, X_val, X_test, y_test


def _metrics_official(model, X_val, X_test, y_test):
    proba = predict_proba(model, X_test)
    return (
        proba,
        skm.accuracy_score(y_test, proba.argmax(axis=1)),
        skm.roc_auc_score(y_test, proba[:, 1]),
    )


def _metrics_numpy(model, X_val, X_test, y_test):
    """Softmax by hand under inference_mode, accuracy with NumPy."""
    model.eval()
    with torch.inference_mode():
        logits = model(torch.from_numpy(X_test))
    proba = torch.softmax(logits, dim=-1).numpy()
    return proba, float(np.mean(proba.argmax(1) == y_test)), metrics.roc_auc(y_test, proba)


def _metrics_pandas(model, X_val, X_test, y_test):
    proba = predict_proba(model, X_test, batch_size=7)
    frame = pd.DataFrame({"truth": y_test, "pred": proba.argmax(axis=1), "p": proba[:, 1]})
    accuracy = (frame["truth"] == frame["pred"]).mean()
    return proba, accuracy, skm.roc_auc_score(frame["truth"], frame["p"])


def _metrics_with(proba_of=None, accuracy_of=None, auc_of=None):
    def answer(model, X_val, X_test, y_test):
        proba = proba_of(model, X_val, X_test) if proba_of else predict_proba(model, X_test)
        p = np.asarray(proba.detach() if isinstance(proba, torch.Tensor) else proba)
        accuracy = (
            accuracy_of(y_test, p) if accuracy_of else skm.accuracy_score(y_test, p.argmax(axis=1))
        )
        auc = auc_of(y_test, p) if auc_of else skm.roc_auc_score(y_test, p[:, 1])
        return proba, accuracy, auc

    return answer


def _logits(model, X_val, X_test):
    model.eval()
    with torch.no_grad():
        return model(torch.from_numpy(X_test)).numpy()


WRONG_METRICS = {
    "validation beats with the test labels": (
        _metrics_with(proba_of=lambda m, Xv, Xt: predict_proba(m, Xv)),
        r"not the model's probabilities for X_test.*predict_proba\(model, X_test\)",
    ),
    "ROC-AUC of the normal class": (
        _metrics_with(auc_of=lambda y, p: skm.roc_auc_score(y, p[:, 0])),
        r"normal class's probability.*proba\[:, 1\]",
    ),
    "ROC-AUC of argmax labels": (
        _metrics_with(auc_of=lambda y, p: skm.roc_auc_score(y, p.argmax(1))),
        "from predicted labels",
    ),
    "accuracy as a count": (
        _metrics_with(accuracy_of=lambda y, p: (p.argmax(1) == y).sum()),
        "number of right answers",
    ),
    "accuracy as a percentage": (
        _metrics_with(accuracy_of=lambda y, p: 100 * skm.accuracy_score(y, p.argmax(1))),
        "a percentage",
    ),
    "accuracy rounded": (
        _metrics_with(accuracy_of=lambda y, p: round(skm.accuracy_score(y, p.argmax(1)), 2)),
        "rounded: keep the full value",
    ),
    "error rate": (
        _metrics_with(accuracy_of=lambda y, p: float((p.argmax(1) != y).mean())),
        "error rate",
    ),
    "logits instead of probabilities": (
        _metrics_with(proba_of=_logits, auc_of=lambda y, p: 0.5, accuracy_of=lambda y, p: 0.5),
        "apply the softmax",
    ),
    "proba left a tensor": (
        _metrics_with(proba_of=lambda m, Xv, Xt: torch.as_tensor(predict_proba(m, Xt))),
        r"torch\.Tensor.*numpy",
    ),
    "accuracy as a tensor": (
        _metrics_with(
            accuracy_of=lambda y, p: torch.tensor(p.argmax(1) == y, dtype=torch.float).mean()
        ),
        "test_accuracy is a Tensor",
    ),
    "probabilities as percentages": (
        _metrics_with(proba_of=lambda m, Xv, Xt: 100 * predict_proba(m, Xt)),
        r"^(?!.*softmax).*percentages",
    ),
    "probabilities of another model": (
        _metrics_with(
            proba_of=lambda m, Xv, Xt: predict_proba(
                LSTMClassifier(hidden_size=4, num_classes=2), Xt, precision="fp32"
            )
        ),
        r"^(?!.*X_val).*not the model's probabilities for X_test: row \d+ is \[",
    ),
    "balanced accuracy": (
        _metrics_with(accuracy_of=lambda y, p: skm.balanced_accuracy_score(y, p.argmax(1))),
        r"test_accuracy is \d\.\d{4}, expected \d\.\d{4}: compare",
    ),
}

VALID_METRICS = {
    "official": _metrics_official,
    "inference_mode and NumPy": _metrics_numpy,
    "pandas, other batch size": _metrics_pandas,
}


@pytest.mark.parametrize(("answer", "message"), _params(WRONG_METRICS))
def test_metrics_wrong_answers(binary_task, answer, message):
    model, X_val, X_test, y_test = binary_task
    proba, accuracy, auc = answer(model, X_val, X_test, y_test)
    with pytest.raises(checks.ExerciseError, match=message):
        checks.check_test_metrics(y_test, proba, accuracy, auc, model, X_test)


@pytest.mark.parametrize("answer", _valid(VALID_METRICS))
def test_metrics_valid_answers(binary_task, answer, capsys):
    model, X_val, X_test, y_test = binary_task
    checks.check_test_metrics(y_test, *answer(model, X_val, X_test, y_test), model, X_test)
    assert capsys.readouterr().out.startswith("Correct")


# --- exercise ex1-early-auc -----------------------------------------------------------------


def _early_official(model, X, y, fractions):
    rows = []
    for f in fractions:
        k = max(1, int(round(f * X.shape[1])))
        proba = predict_proba(model, X[:, :k])
        rows.append({"fraction": f, "samples": k, "roc_auc": skm.roc_auc_score(y, proba[:, 1])})
    return pd.DataFrame(rows)


def _early_numpy(model, X, y, fractions):
    """np.rint, the package's roc_auc, a DataFrame from columns."""
    ks = [max(1, int(np.rint(f * X.shape[1]))) for f in fractions]
    aucs = [metrics.roc_auc(y, predict_proba(model, X[:, :k], batch_size=16)) for k in ks]
    return pd.DataFrame({"fraction": list(fractions), "samples": ks, "roc_auc": aucs})


def _early_manual(model, X, y, fractions):
    """Softmax by hand under inference_mode, records."""
    model.eval()
    records = []
    for f in fractions:
        k = max(1, round(f * X.shape[1]))
        with torch.inference_mode():
            p = torch.softmax(model(torch.tensor(X[:, :k], dtype=torch.float32)), dim=1)
        records.append((f, k, skm.roc_auc_score(y, p[:, 1].numpy())))
    return pd.DataFrame.from_records(records, columns=["fraction", "samples", "roc_auc"])


def _early_with(score=None, prefix=None, k_of=None, columns=("fraction", "samples", "roc_auc")):
    def answer(model, X, y, fractions):
        rows = []
        for f in fractions:
            k = k_of(f, X.shape[1]) if k_of else max(1, int(round(f * X.shape[1])))
            beats = prefix(X, k) if prefix else X[:, :k]
            model.eval()
            with torch.no_grad():
                logits = model(torch.as_tensor(np.ascontiguousarray(beats)))
            proba = torch.softmax(logits, 1).numpy()
            value = score(y, proba, logits.numpy()) if score else skm.roc_auc_score(y, proba[:, 1])
            rows.append(dict(zip(columns, (f, k, value), strict=True)))
        return pd.DataFrame(rows)

    return answer


def _early_first_beats(model, X, y, fractions):
    rows = []
    for f in fractions:
        k = max(1, round(f * X.shape[1]))
        proba = predict_proba(model, X[:k])  # the first k beats, whole
        auc = skm.roc_auc_score(y[:k], proba[:, 1]) if 0 < y[:k].sum() < k else np.nan
        rows.append({"fraction": f, "samples": k, "roc_auc": auc})
    return pd.DataFrame(rows)


WRONG_EARLY = {
    "wrong class column": (
        _early_with(score=lambda y, p, lg: skm.roc_auc_score(y, p[:, 0])),
        r"class 0 \(normal\)",
    ),
    "argmax labels": (
        _early_with(score=lambda y, p, lg: skm.roc_auc_score(y, p.argmax(1))),
        "predicted labels",
    ),
    "raw logits": (
        _early_with(score=lambda y, p, lg: skm.roc_auc_score(y, lg[:, 1])),
        "raw logit",
    ),
    "full beats every time": (_early_with(prefix=lambda X, k: X), "that of the whole beat"),
    "the last k samples": (_early_with(prefix=lambda X, k: X[:, -k:]), "last .* samples"),
    "the first k beats": (_early_first_beats, r"X\[:\d+\] (would take|takes) the first \d+ beats"),
    "no max(1, ...)": (_early_with(k_of=lambda f, T: int(round(f * T))), r"max\(1, round"),
    "rounding down": (_early_with(k_of=lambda f, T: max(1, int(f * T))), "samples column says"),
    "a list instead of a DataFrame": (
        lambda m, X, y, f: [0.5] * len(f),
        "expected a pandas DataFrame",
    ),
    "no samples column": (
        _early_with(columns=("fraction", "k", "roc_auc")),
        "no 'samples' column",
    ),
    "fractions as percentages": (
        lambda m, X, y, f: _early_official(m, X, y, f).assign(fraction=lambda d: 100 * d.fraction),
        "fraction column",
    ),
}

VALID_EARLY = {
    "official": _early_official,
    "NumPy rint, package roc_auc": _early_numpy,
    "inference_mode, records": _early_manual,
}


@pytest.fixture(scope="module")
def early_task(binary_task):
    model, _, X_test, y_test = binary_task
    return model, X_test, y_test  # 23 samples per beat: round and floor differ at 50%


@pytest.mark.parametrize(("answer", "message"), _params(WRONG_EARLY))
def test_early_auc_wrong_answers(early_task, answer, message):
    with pytest.raises(checks.ExerciseError, match=message):
        checks.check_early_auc(answer, *early_task)


@pytest.fixture(scope="module")
def early_task_140(binary_task):
    """Beats of 140 samples, as ECG5000's: 10%, 50% and 100% of them are whole numbers."""
    model = binary_task[0]
    rng = np.random.default_rng(7)
    X = rng.normal(size=(40, 140)).astype(np.float32)
    y = np.arange(40) % 2
    return model, X, y


def _early_reversed(model, X, y, fractions):
    """The first k samples fed backwards in time: no listed mistake."""
    rows = []
    for f in fractions:
        k = max(1, int(round(f * X.shape[1])))
        proba = predict_proba(model, np.ascontiguousarray(X[:, :k][:, ::-1]))
        rows.append({"fraction": f, "samples": k, "roc_auc": skm.roc_auc_score(y, proba[:, 1])})
    return pd.DataFrame(rows)


# At 140 samples the checked fractions 0.1, 0.5 and 1.0 give whole numbers of samples:
# how the prefix is rounded shows only at other fractions.
WRONG_EARLY_140 = {
    "prefix rounded up": (
        _early_with(k_of=lambda f, T: max(1, math.ceil(f * T))),
        r"samples column says 2, expected k = max\(1, round\(0\.01 \* 140\)\) = 1: "
        r"rounded up",
    ),
    "prefix rounded down": (
        _early_with(k_of=lambda f, T: max(1, int(f * T))),
        r"samples column says 5, expected k = max\(1, round\(0\.04 \* 140\)\) = 6: "
        r"rounded down",
    ),
    "prefix fed backwards": (
        _early_reversed,
        r"at 10% of the beat \(14 samples\) the ROC-AUC is \d\.\d{4}, expected \d\.\d{4}",
    ),
}


@pytest.mark.parametrize(("answer", "message"), _params(WRONG_EARLY_140))
def test_early_auc_wrong_answers_at_140_samples(early_task_140, answer, message):
    with pytest.raises(checks.ExerciseError, match=message):
        checks.check_early_auc(answer, *early_task_140)


@pytest.mark.parametrize("answer", _valid(VALID_EARLY))
def test_early_auc_valid_answers_at_140_samples(early_task_140, answer, capsys):
    checks.check_early_auc(answer, *early_task_140)
    assert capsys.readouterr().out.startswith("Correct")


@pytest.mark.parametrize("answer", _valid(VALID_EARLY))
def test_early_auc_valid_answers(early_task, answer, capsys):
    checks.check_early_auc(answer, *early_task)
    assert capsys.readouterr().out.startswith("Correct")


# --- exercise ex2-undersample ---------------------------------------------------------------

_rng = np.random.default_rng(2)
US_X = _rng.normal(size=(400, 7)).astype(np.float32)
US_Y = np.repeat(np.arange(5), [250, 60, 50, 12, 28])
US_X_TEST = _rng.normal(size=(100, 7)).astype(np.float32)
US_Y_TEST = np.repeat(np.arange(5), [60, 15, 12, 5, 8])


def _us_official(X, y, X_test, y_test):
    sampler = RandomUnderSampler(random_state=SEED)
    X_bal, y_bal = sampler.fit_resample(X, y)
    return sampler, X_bal, y_bal


def _us_pandas(X, y, X_test, y_test):
    sampler = RandomUnderSampler(sampling_strategy="auto", random_state=SEED)
    frame, labels = sampler.fit_resample(pd.DataFrame(X), pd.Series(y))
    return sampler, frame.to_numpy(), labels.to_numpy()


def _us_indices(X, y, X_test, y_test):
    sampler = RandomUnderSampler(sampling_strategy="not minority", random_state=SEED)
    sampler.fit_resample(X, y)
    keep = sampler.sample_indices_
    return sampler, X[keep], y[keep]


def _us_seed(seed):
    def answer(X, y, X_test, y_test):
        sampler = RandomUnderSampler(random_state=seed)
        X_bal, y_bal = sampler.fit_resample(X, y)
        return sampler, X_bal, y_bal

    return answer


def _us_swapped(X, y, X_test, y_test):
    sampler = RandomUnderSampler(random_state=SEED)
    y_bal, X_bal = sampler.fit_resample(X, y)
    return sampler, X_bal, y_bal


def _us_unfitted_sampler(X, y, X_test, y_test):
    X_bal, y_bal = RandomUnderSampler(random_state=SEED).fit_resample(X, y)
    return RandomUnderSampler(random_state=SEED), X_bal, y_bal


def _us_other_sampler(X, y, X_test, y_test):
    sampler = RandomUnderSampler(random_state=SEED)
    X_bal, y_bal = sampler.fit_resample(X, y)
    sampler = RandomUnderSampler(random_state=SEED, replacement=True)
    sampler.fit_resample(X, y)  # kept another draw
    return sampler, X_bal, y_bal


def _us_majority(X, y, X_test, y_test):
    sampler = RandomUnderSampler(sampling_strategy="majority", random_state=SEED)
    X_bal, y_bal = sampler.fit_resample(X, y)
    return sampler, X_bal, y_bal


def _us_test_set(X, y, X_test, y_test):
    sampler = RandomUnderSampler(random_state=SEED)
    X_bal, y_bal = sampler.fit_resample(X_test, y_test)
    return sampler, X_bal, y_bal


def _us_dataframe(X, y, X_test, y_test):
    sampler = RandomUnderSampler(random_state=SEED)
    X_bal, y_bal = sampler.fit_resample(pd.DataFrame(X), pd.Series(y))
    return sampler, X_bal, y_bal


def _us_replacement(X, y, X_test, y_test):
    sampler = RandomUnderSampler(random_state=SEED, replacement=True)
    X_bal, y_bal = sampler.fit_resample(X, y)
    return sampler, X_bal, y_bal


def _us_reshuffled(X, y, X_test, y_test):
    sampler, X_bal, y_bal = _us_official(X, y, X_test, y_test)
    order = np.random.default_rng(SEED).permutation(len(y_bal))
    return sampler, X_bal[order], y_bal[order]


def _us_near_miss(X, y, X_test, y_test):
    sampler = NearMiss()  # another undersampler: keeps the beats nearest to the rare classes
    X_bal, y_bal = sampler.fit_resample(X, y)
    return sampler, X_bal, y_bal


def _us_ten_per_class(X, y, X_test, y_test):
    sampler = RandomUnderSampler(sampling_strategy={c: 10 for c in range(5)}, random_state=SEED)
    X_bal, y_bal = sampler.fit_resample(X, y)
    return sampler, X_bal, y_bal


WRONG_UNDERSAMPLING = {
    "random_state=0": (_us_seed(0), r"random_state=0, expected SEED \(42\)"),
    "no random_state": (_us_seed(None), "without random_state"),
    "outputs swapped": (_us_swapped, "X_bal holds labels.*in that order"),
    "sampler kept unfitted": (_us_unfitted_sampler, "no sample_indices_"),
    "another sampler kept": (_us_other_sampler, r"X_bal is not X_train\[sampler.sample_indices_\]"),
    "only the majority class reduced": (_us_majority, "expected all equal"),
    "the test set resampled": (_us_test_set, "rarest class's count in y_train"),
    "pandas output kept": (_us_dataframe, "pandas DataFrame.*to_numpy"),
    "replacement=True": (_us_replacement, "replacement=True"),
    "resampled set reshuffled": (_us_reshuffled, "right beats in another order"),
    "NearMiss": (
        _us_near_miss,
        r"^(?!.*without random_state).*sampler is a NearMiss.*RandomUnderSampler",
    ),
    "ten beats per class": (
        _us_ten_per_class,
        r"^(?!.*resample X_train).*each class has 10 beats, expected 12",
    ),
}

VALID_UNDERSAMPLING = {
    "official": _us_official,
    "pandas in, NumPy out": _us_pandas,
    "indexing with sample_indices_": _us_indices,
}


@pytest.mark.parametrize(("answer", "message"), _params(WRONG_UNDERSAMPLING))
def test_undersampling_wrong_answers(answer, message):
    sampler, X_bal, y_bal = answer(US_X, US_Y, US_X_TEST, US_Y_TEST)
    with pytest.raises(checks.ExerciseError, match=message):
        checks.check_undersampling(X_bal, y_bal, sampler, US_X, US_Y, random_state=SEED)


@pytest.mark.parametrize("answer", _valid(VALID_UNDERSAMPLING))
def test_undersampling_valid_answers(answer, capsys):
    sampler, X_bal, y_bal = answer(US_X, US_Y, US_X_TEST, US_Y_TEST)
    checks.check_undersampling(X_bal, y_bal, sampler, US_X, US_Y, random_state=SEED)
    assert capsys.readouterr().out.startswith("Correct")


# --- exercises ex2-forward and ex2-batched --------------------------------------------------

SMALL_FCN = dict(hidden_size=8, filters_1=8, filters_2=8, filters_3=8, kernel_size_1=5,
                 kernel_size_2=3, kernel_size_3=3)  # fmt: skip


@pytest.fixture(scope="module")
def fcn_task():
    torch.manual_seed(0)
    model = LSTMFCN(num_classes=5, seq_len=40, **SMALL_FCN)
    model.eval()  # a few steps of "training" so that batch norm has running statistics
    rng = np.random.default_rng(3)
    X_bal = rng.normal(size=(30, 40)).astype(np.float32)
    X_train = rng.normal(size=(30, 40)).astype(np.float32)
    X_test = rng.normal(size=(250, 40)).astype(np.float32)
    with torch.no_grad():
        model.train()
        model(torch.from_numpy(X_test))  # batch norm running statistics move off their start
    return model, X_bal, X_train, X_test


WRONG_FORWARD = {
    "beats of X_train": (
        lambda m, Xb, Xt: (torch.tensor(Xt[:8]), m(torch.tensor(Xt[:8]))),
        r"x is not X_bal\[:8\]",
    ),
    "softmax applied": (
        lambda m, Xb, Xt: (x := torch.tensor(Xb[:8]), torch.softmax(m(x), dim=1)),
        "probabilities",
    ),
    "log_softmax applied": (
        lambda m, Xb, Xt: (x := torch.tensor(Xb[:8]), torch.log_softmax(m(x), dim=1)),
        "log-probabilities",
    ),
    "argmax": (
        lambda m, Xb, Xt: (x := torch.tensor(Xb[:8]), m(x).argmax(dim=1)),
        r"logits have shape \(8,\)",
    ),
    "ten beats": (
        lambda m, Xb, Xt: (x := torch.tensor(Xb[:10]), m(x)),
        r"x has shape \(10, 40\)",
    ),
    "logits as NumPy": (
        lambda m, Xb, Xt: (x := torch.tensor(Xb[:8]), m(x).detach().numpy()),
        "expected a tensor, got ndarray",
    ),
    "x left a NumPy array": (
        lambda m, Xb, Xt: (Xb[:8], m(torch.tensor(Xb[:8]))),
        "x is a ndarray",
    ),
    "sigmoid applied": (
        lambda m, Xb, Xt: (x := torch.tensor(Xb[:8]), torch.sigmoid(m(x))),
        "sigmoid",
    ),
}


def _forward_no_grad(model, X_bal):
    x = torch.from_numpy(X_bal[:8]).float()
    with torch.no_grad():
        return x, model(x)


VALID_FORWARD = {
    "official": lambda m, Xb, Xt: (x := torch.tensor(Xb[:8], dtype=torch.float32), m(x)),
    "from_numpy, no_grad": lambda m, Xb, Xt: _forward_no_grad(m, Xb),
    "as_tensor, eval mode": lambda m, Xb, Xt: (
        x := torch.as_tensor(Xb[0:8, :]),
        m.eval()(x),
    ),
}


@pytest.mark.parametrize(("answer", "message"), _params(WRONG_FORWARD))
def test_forward_wrong_answers(fcn_task, answer, message):
    model, X_bal, X_train, _ = fcn_task
    x, logits = answer(model, X_bal, X_train)
    with pytest.raises(checks.ExerciseError, match=message):
        checks.check_lstm_fcn_output(logits, batch_size=8, x=x, source=X_bal)


@pytest.mark.parametrize("answer", _valid(VALID_FORWARD))
def test_forward_valid_answers(fcn_task, answer, capsys):
    model, X_bal, X_train, _ = fcn_task
    with torch.enable_grad():
        x, logits = answer(model, X_bal, X_train)
    checks.check_lstm_fcn_output(logits, batch_size=8, x=x, source=X_bal)
    assert capsys.readouterr().out.startswith("Correct")


def _batched(X, model, softmax_dim=1, log=False, stop=None, step=100, order=None, eval_=True,
             join=True, numpy=True, start=0, other=None):  # fmt: skip
    if eval_:
        model.eval()
    if other is not None:  # the model to check: put in eval mode, then another one scores
        other.eval()
    chunks = []
    starts = list(range(start, stop if stop is not None else len(X), step))
    with torch.no_grad():
        for i in starts if order is None else order(starts):
            logits = model(torch.tensor(X[i : i + step]))
            f = torch.log_softmax if log else torch.softmax
            chunks.append(f(logits, dim=softmax_dim))
    if not join:
        return chunks
    proba = torch.cat(chunks)
    return proba.numpy() if numpy else proba


def _batched_eval_late(model, X):
    proba = _batched(X, model, eval_=False)
    model.eval()
    return proba


WRONG_BATCHED = {
    "no model.eval()": (lambda m, X: _batched(X, m, eval_=False), r"train mode.*model\.eval\(\)"),
    "last batch lost": (
        lambda m, X: _batched(X, m, stop=len(X) - len(X) % 100),
        "last, smaller batch",
    ),
    "softmax over the beats": (lambda m, X: _batched(X, m, softmax_dim=0), "dim=0"),
    "log_softmax": (lambda m, X: _batched(X, m, log=True), "log-probabilities"),
    "logits": (
        lambda m, X: torch.cat(
            [m.eval()(torch.tensor(X[i : i + 100])).detach() for i in range(0, len(X), 100)]
        ).numpy(),
        "rows must sum to 1",
    ),  # fmt: skip
    "left a tensor": (lambda m, X: _batched(X, m, numpy=False), r"torch\.Tensor"),
    "batches never joined": (lambda m, X: _batched(X, m, join=False), "is a list"),
    "batches in reverse order": (
        lambda m, X: _batched(X, m, order=lambda s: s[::-1]),
        "wrong order",
    ),
    "model.eval() after the loop": (_batched_eval_late, r"model\.eval\(\) before the loop"),
    "predicted classes only": (
        lambda m, X: _batched(X, m).argmax(axis=1),
        "probability of every class",
    ),
    "batches from beat 1": (
        lambda m, X: _batched(X, m, start=1),
        r"^(?!.*last, smaller).*249 rows, expected 250",
    ),
    "a list of rows": (
        lambda m, X: _batched(X, m).tolist(),
        r"^(?!.*of batches).*proba_seed is a list.*NumPy array",
    ),
    "another model": (
        lambda m, X: _batched(X, LSTMFCN(num_classes=5, seq_len=40, **SMALL_FCN), other=m),
        r"probabilities differ from the model's in eval mode for X_test: beat \d+ has \[",
    ),
}


def _batched_loader(model, X):
    """A DataLoader, inference_mode, NumPy chunks."""
    model.eval()
    loader = DataLoader(TensorDataset(torch.from_numpy(X)), batch_size=100, shuffle=False)
    parts = []
    with torch.inference_mode():
        for (xb,) in loader:
            parts.append(torch.softmax(model(xb), dim=-1).numpy())
    return np.concatenate(parts)


def _batched_scipy(model, X):
    """np.array_split and SciPy's softmax."""
    model.eval()
    parts = []
    for chunk in np.array_split(X, np.arange(100, len(X), 100)):
        with torch.no_grad():
            parts.append(softmax(model(torch.as_tensor(chunk)).numpy(), axis=1))
    return np.vstack(parts)


def _batched_autocast(model, X):
    """Mixed precision, as chapter 2's precision section shows."""
    model.eval()
    parts = []
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        for i in range(0, len(X), 100):
            parts.append(torch.softmax(model(torch.from_numpy(X[i : i + 100])).float(), 1))
    return torch.cat(parts).numpy()


VALID_BATCHED = {
    "official": lambda m, X: _batched(X, m),
    "DataLoader and inference_mode": _batched_loader,
    "array_split and SciPy softmax": _batched_scipy,
    "bfloat16 autocast": _batched_autocast,
}


@pytest.mark.parametrize(("answer", "message"), _params(WRONG_BATCHED))
def test_batched_wrong_answers(fcn_task, answer, message):
    model, _, _, X_test = fcn_task
    model.train()  # as the notebook leaves it before the exercise
    proba = answer(model, X_test)
    with pytest.raises(checks.ExerciseError, match=message):
        checks.check_batched_inference(proba, model, X_test)


def _cpu_runs_bf16_lstm() -> bool:
    """oneDNN has no bfloat16 LSTM on CPUs without bfloat16 instructions."""
    try:
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            nn.LSTM(1, 2, batch_first=True)(torch.zeros(1, 3, 1))
    except RuntimeError:
        return False
    return True


@pytest.mark.parametrize("answer", _valid(VALID_BATCHED))
def test_batched_valid_answers(fcn_task, answer, capsys):
    if answer is _batched_autocast and not _cpu_runs_bf16_lstm():
        pytest.skip("this CPU cannot run an LSTM in bfloat16: no student computes in it here")
    model, _, _, X_test = fcn_task
    model.train()
    checks.check_batched_inference(answer(model, X_test), model, X_test)
    assert capsys.readouterr().out.startswith("Correct")


# --- exercise ex2-table ---------------------------------------------------------------------

CLASSES = list("NSVFQ")
_rng = np.random.default_rng(4)
TABLE_Y = np.repeat(np.arange(5), [40, 15, 15, 10, 10])
TABLE_PROBA = softmax(_rng.normal(size=(90, 5)) + 1.5 * np.eye(5)[TABLE_Y], axis=1)
# a model that never predicts Q: its precision is 0 / 0, NaN in NumPy, 0 in sklearn
TABLE_PROBA_NO_Q = TABLE_PROBA * [1, 1, 1, 1, 0.01]
TABLE_PROBA_NO_Q /= TABLE_PROBA_NO_Q.sum(axis=1, keepdims=True)
assert not (TABLE_PROBA_NO_Q.argmax(axis=1) == 4).any()


def _table_official(y, proba):
    pred = proba.argmax(axis=1)
    rows = {}
    for c, name in enumerate(CLASSES):
        truth, predicted = y == c, pred == c
        rows[name] = {
            "accuracy": skm.accuracy_score(truth, predicted),
            "roc_auc": skm.roc_auc_score(truth, proba[:, c]),
            "precision": skm.precision_score(truth, predicted, zero_division=0),
            "recall": skm.recall_score(truth, predicted),
            "f1": skm.f1_score(truth, predicted),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def _table_average_none(y, proba):
    pred = proba.argmax(axis=1)
    labels = np.arange(5)
    precision, recall, f1, _ = skm.precision_recall_fscore_support(
        y, pred, labels=labels, average=None, zero_division=0
    )
    truth = label_binarize(y, classes=labels)
    return pd.DataFrame(
        {
            "accuracy": (truth == label_binarize(pred, classes=labels)).mean(axis=0),
            "roc_auc": skm.roc_auc_score(truth, proba, average=None),
            "precision": precision,
            "recall": recall,
            "f1": f1,
        },
        index=CLASSES,
    )


def _table_numpy(y, proba):
    """Counts from the confusion matrix, NumPy only."""
    cm = skm.confusion_matrix(y, proba.argmax(1), labels=range(5))
    tp = np.diag(cm)
    fp, fn = cm.sum(0) - tp, cm.sum(1) - tp
    tn = cm.sum() - tp - fp - fn
    with np.errstate(invalid="ignore"):  # 0 / 0 for a class never predicted: NaN, allowed
        precision, recall = tp / (tp + fp), tp / (tp + fn)
        f1 = 2 * precision * recall / (precision + recall)
    aucs = [skm.roc_auc_score(y == c, proba[:, c]) for c in range(5)]
    table = pd.DataFrame(
        np.column_stack([(tp + tn) / cm.sum(), aucs, precision, recall, f1]),
        columns=["accuracy", "roc_auc", "precision", "recall", "f1"],
    )  # fmt: skip
    table.index = CLASSES
    return table


def _table_modified(change):
    def answer(y, proba):
        return change(_table_official(y, proba), y, proba)

    return answer


def _overall_accuracy(t, y, p):
    return t.assign(accuracy=skm.accuracy_score(y, p.argmax(1)))


def _auc_of_labels(t, y, p):
    return t.assign(roc_auc=[skm.roc_auc_score(y == c, p.argmax(1) == c) for c in range(5)])


def _swapped(t, y, p):
    return t.rename(columns={"precision": "recall", "recall": "precision"})


def _shifted(t, y, p):
    shifted = t.copy()
    shifted.iloc[:, :] = np.roll(t.to_numpy(), 1, axis=0)  # enumerate(CLASSES, start=1)
    return shifted


def _macro_precision(t, y, p):
    return t.assign(precision=skm.precision_score(y, p.argmax(1), average="macro"))


WRONG_TABLE = {
    "overall accuracy in every row": (_table_modified(_overall_accuracy), "overall accuracy"),
    "ROC-AUC of predicted labels": (_table_modified(_auc_of_labels), "from predicted labels"),
    "precision and recall swapped": (_table_modified(_swapped), "swapped"),
    "rows shifted by one class": (_table_modified(_shifted), "holds the values of class"),
    "transposed": (_table_modified(lambda t, y, p: t.T), r"columns.*\.T"),
    "integer index": (
        _table_modified(lambda t, y, p: t.reset_index(drop=True)),
        r"rows are \[0, 1",
    ),
    "f1 column named f1_score": (
        _table_modified(lambda t, y, p: t.rename(columns={"f1": "f1_score"})),
        "no 'f1' column",
    ),
    "macro precision in every row": (_table_modified(_macro_precision), "same value in every row"),
    "a dict, not a DataFrame": (
        _table_modified(lambda t, y, p: t.to_dict()),
        "expected a DataFrame, got dict",
    ),
    "rounded to 3 decimals": (_table_modified(lambda t, y, p: t.round(3)), "rounded to 3 decimals"),
    "precision computed as recall": (
        _table_modified(lambda t, y, p: t.assign(precision=t["recall"])),
        r"^(?!.*swapped).*precision of class N is 0\.\d{4}, expected 0\.\d{4}: that is its recall",
    ),
    "f1 as the mean of precision and recall": (
        _table_modified(lambda t, y, p: t.assign(f1=(t["precision"] + t["recall"]) / 2)),
        r"f1 of class N is 0\.\d{4}, expected 0\.\d{4}: one-vs-rest",
    ),
}

VALID_TABLE = {
    "official": _table_official,
    "average=None": _table_average_none,
    "NumPy counts": _table_numpy,
}


@pytest.mark.parametrize(("answer", "message"), _params(WRONG_TABLE))
def test_table_wrong_answers(answer, message):
    with pytest.raises(checks.ExerciseError, match=message):
        checks.check_per_class_table(answer(TABLE_Y, TABLE_PROBA), TABLE_Y, TABLE_PROBA, CLASSES)


@pytest.mark.parametrize("proba", [TABLE_PROBA, TABLE_PROBA_NO_Q], ids=["all", "Q never predicted"])
@pytest.mark.parametrize("answer", _valid(VALID_TABLE))
def test_table_valid_answers(answer, proba, capsys):
    checks.check_per_class_table(answer(TABLE_Y, proba), TABLE_Y, proba, CLASSES)
    assert capsys.readouterr().out.startswith("Correct")


# --- exercise ex3-rr-features ---------------------------------------------------------------


def _rr_official(r_peaks, fs):
    t = np.asarray(r_peaks, dtype=np.float64) / fs
    rr = np.diff(t)
    pre, post = np.concatenate([rr[:1], rr]), np.concatenate([rr, rr[-1:]])
    sums = np.concatenate([[0.0], np.cumsum(pre)])
    i = np.arange(len(pre))
    start = np.maximum(i - 9, 0)
    local = (sums[i + 1] - sums[start]) / (i + 1 - start)
    record = np.full(len(t), (t[-1] - t[0]) / (len(t) - 1))
    return np.column_stack([pre, post, local, record, pre / record, post / record,
                            local / record, pre / post]).astype(np.float32)  # fmt: skip


def _rr_loops(r_peaks, fs):
    """Plain Python: one list per feature, then a float64 array."""
    times = [p / fs for p in r_peaks]
    n = len(times)
    pre, post = [], []
    for i in range(n):
        pre.append(times[i] - times[i - 1] if i > 0 else times[1] - times[0])
        post.append(times[i + 1] - times[i] if i < n - 1 else times[-1] - times[-2])
    local = []
    for i in range(n):
        window = pre[max(0, i - 9) : i + 1]
        local.append(sum(window) / len(window))
    record = (times[-1] - times[0]) / (n - 1)
    rows = [[pre[i], post[i], local[i], record, pre[i] / record, post[i] / record,
             local[i] / record, pre[i] / post[i]] for i in range(n)]  # fmt: skip
    return np.array(rows)


def _rr_pandas(r_peaks, fs):
    """A DataFrame with named columns, the local mean by rolling()."""
    t = pd.Series(r_peaks, dtype="float64") / fs
    pre = t.diff().bfill()
    post = t.diff(-1).abs().ffill()
    features = pd.DataFrame({"pre_rr": pre, "post_rr": post})
    features["local_rr"] = pre.rolling(10, min_periods=1).mean()
    features["record_rr"] = np.diff(t).mean()
    for name in ("pre_rr", "post_rr", "local_rr"):
        features[f"{name}_ratio"] = features[name] / features["record_rr"]
    features["pre_post_ratio"] = pre / post
    return features


def _rr_student(r_peaks, fs, seconds=True, window=10, own_beat=True, ahead=False,
                record="mean", invert_ratios=False, invert_pre_post=False, swap=False,
                order=None, unit=1, percent=False):  # fmt: skip
    """A whole answer; each keyword is one mistake a student makes."""
    t = unit * np.asarray(r_peaks, dtype=float) / (fs if seconds else 1)
    rr = np.diff(t)
    pre, post = np.r_[rr[0], rr], np.r_[rr, rr[-1]]
    if swap:  # "pre" taken as the interval to the next beat
        pre, post = post, pre
    series = pd.Series(pre).shift(1) if not own_beat else pd.Series(pre)
    if ahead:
        local = series[::-1].rolling(window, min_periods=1).mean()[::-1].to_numpy()
    else:
        local = series.rolling(window, min_periods=1).mean().to_numpy()
    rec = {"mean": rr.mean(), "median": np.median(rr), "pre column": pre.mean()}[record]
    ratios = [rec / x if invert_ratios else x / rec for x in (pre, post, local)]
    ratios = [100 * r for r in ratios] if percent else ratios
    columns = [pre, post, local, np.full(len(t), rec), *ratios,
               post / pre if invert_pre_post else pre / post]  # fmt: skip
    return np.column_stack([columns[k] for k in order or range(8)])


def _rr_first_dropped(r_peaks, fs):
    rr = np.diff(r_peaks) / fs  # one interval per beat after the first
    post = np.r_[rr[1:], rr[-1]]
    local = pd.Series(rr).rolling(10, min_periods=1).mean().to_numpy()
    record = rr.mean()
    return np.column_stack([rr, post, local, np.full(len(rr), record), rr / record,
                            post / record, local / record, rr / post])  # fmt: skip


def _rr_first_nan(r_peaks, fs):
    t = pd.Series(r_peaks) / fs
    pre, post = t.diff(), -t.diff(-1)  # NaN for the first pre and the last post
    local = pre.rolling(10, min_periods=1).mean()
    record = pre.mean()
    return pd.concat([pre, post, local, pre * 0 + record, pre / record, post / record,
                      local / record, pre / post], axis=1)  # fmt: skip


def _rr_first_zero(r_peaks, fs):
    t = np.asarray(r_peaks) / fs
    pre = np.diff(t, prepend=t[0])  # 0 for the first beat
    post = np.diff(t, append=t[-1] + (t[-1] - t[-2]))
    local = pd.Series(pre).rolling(10, min_periods=1).mean().to_numpy()
    record = (t[-1] - t[0]) / (len(t) - 1)
    with np.errstate(divide="ignore"):
        return np.column_stack([pre, post, local, np.full(len(t), record), pre / record,
                                post / record, local / record, pre / post])  # fmt: skip


def _rr_divided_by_ten(r_peaks, fs):
    t = np.asarray(r_peaks) / fs
    rr = np.diff(t)
    pre, post = np.r_[rr[0], rr], np.r_[rr, rr[-1]]
    local = np.convolve(pre, np.ones(10), mode="full")[: len(pre)] / 10
    record = rr.mean()
    return np.column_stack([pre, post, local, np.full(len(t), record), pre / record,
                            post / record, local / record, pre / post])  # fmt: skip


def _rr_no_return(r_peaks, fs):
    features = _rr_student(r_peaks, fs)  # computed, then never returned
    features = features.astype(np.float32)


def _rr_series_method(r_peaks, fs):
    rr = r_peaks.diff() / fs  # r_peaks is a NumPy array, not a pandas Series
    return rr


def _rr_transposed(r_peaks, fs):
    return _rr_student(r_peaks, fs).T  # np.array([pre, post, ...]): features as rows


def _rr_seven_columns(r_peaks, fs):
    return _rr_student(r_peaks, fs)[:, :7]  # pre_post_ratio forgotten


def _rr_with_times(r_peaks, fs):
    times = np.asarray(r_peaks) / fs  # the beat times kept as a first column
    return np.column_stack([times, _rr_student(r_peaks, fs)])


_rr = functools.partial

WRONG_RR = {
    "first beat dropped": (_rr_first_dropped, "the first beat is dropped"),
    "NaN pre-RR for the first beat": (_rr_first_nan, "first beat has pre_rr = nan"),
    "0 pre-RR for the first beat": (_rr_first_zero, r"first beat has pre_rr = 0\.0"),
    "intervals in samples": (_rr(_rr_student, seconds=False), "in samples: divide"),
    "local mean without the beat itself": (
        _rr(_rr_student, own_beat=False),
        "without the beat itself",
    ),
    "local mean over 9 beats": (_rr(_rr_student, window=9), "a window of 9 beats"),
    "local mean over 11 beats": (_rr(_rr_student, window=11), "a window of 11 beats"),
    "local mean over the following beats": (_rr(_rr_student, ahead=True), "FOLLOWING beats"),
    "local mean divided by 10 at the start": (_rr_divided_by_ten, "divided by 10"),
    "record RR a median": (_rr(_rr_student, record="median"), "the median RR interval"),
    "record RR the mean of the pre_rr column": (
        _rr(_rr_student, record="pre column"),
        "mean of the pre_rr column",
    ),
    "ratios inverted": (_rr(_rr_student, invert_ratios=True), r"inverted \(record_rr / pre_rr"),
    "pre/post inverted": (
        _rr(_rr_student, invert_pre_post=True),
        r"pre_post_ratio.*inverted \(post_rr / pre_rr\)",
    ),
    "pre and post swapped": (_rr(_rr_student, swap=True), "pre and post are swapped"),
    "local and record columns exchanged": (
        _rr(_rr_student, order=[0, 1, 3, 2, 4, 5, 6, 7]),
        r"another order \(column 2 holds record_rr, column 3 holds local_rr\)",
    ),
    "no return": (_rr_no_return, "returned None"),
    "a pandas method on a NumPy array": (_rr_series_method, "raised AttributeError: 'numpy"),
    "transposed": (_rr_transposed, "the eight features are the rows"),
    "seven columns": (_rr_seven_columns, "1 column.*missing.*Not found: pre_post_ratio"),
    "nine columns": (_rr_with_times, r"1 column\(s\) too many.*Column\(s\) \[0\] are none"),
    "intervals in milliseconds": (_rr(_rr_student, unit=1000), r"pre_rr.*in milliseconds"),
    "local mean over 5 beats": (
        _rr(_rr_student, window=5),
        r"column 2 \(local_rr\) .*: beat 5 has local_rr = 0\.\d+, expected 0\.\d+\. local_rr is",
    ),
    "ratios as percentages": (
        _rr(_rr_student, percent=True),
        r"column 4 \(pre_rr_ratio\) .*: beat 0 has pre_rr_ratio = \d+\.?\d*, expected",
    ),
}

VALID_RR = {
    "official": _rr_official,
    "Python loops": _rr_loops,
    "pandas DataFrame": _rr_pandas,
    "float64, pandas rolling": _rr_student,
}


@pytest.mark.parametrize(("answer", "message"), _params(WRONG_RR))
def test_rr_features_wrong_answers(answer, message):
    with pytest.raises(checks.ExerciseError, match=message):
        checks.check_rr_features(answer)


@pytest.mark.parametrize("answer", _valid(VALID_RR))
def test_rr_features_valid_answers(answer, capsys):
    checks.check_rr_features(answer)
    assert capsys.readouterr().out.startswith("Correct")


# --- exercise ex3-match-beats ---------------------------------------------------------------


def _match_official(reference, detected, tolerance):
    from wfdb.processing import compare_annotations

    return compare_annotations(reference, detected, tolerance).matching_sample_nums


def _match_two_pointer(reference, detected, tolerance):
    """A loop: detections before the window are skipped once; each detection goes to its
    nearest annotated beat, each beat keeps its nearest detection."""
    matches = np.full(len(reference), -1)
    start = 0
    for i, r in enumerate(reference):
        while start < len(detected) and detected[start] <= r - tolerance:
            start += 1
        j = start
        while j < len(detected) and detected[j] < r + tolerance:
            d = detected[j]
            nearer_before = i > 0 and abs(d - reference[i - 1]) <= abs(d - r)
            nearer_after = i + 1 < len(reference) and abs(reference[i + 1] - d) < abs(d - r)
            if not (nearer_before or nearer_after) and (
                matches[i] < 0 or abs(d - r) < abs(detected[matches[i]] - r)
            ):
                matches[i] = j
            j += 1
    return matches


def _match_searchsorted(reference, detected, tolerance):
    """Vectorised: every detection's nearest beat, then every beat's nearest claimant."""
    reference, detected = np.asarray(reference), np.asarray(detected)
    matches = np.full(len(reference), -1, dtype=np.int64)
    right = np.clip(np.searchsorted(reference, detected), 0, len(reference) - 1)
    left = np.clip(right - 1, 0, len(reference) - 1)
    closer_left = np.abs(detected - reference[left]) <= np.abs(reference[right] - detected)
    beat = np.where(closer_left, left, right)
    distance = np.abs(detected - reference[beat])
    close = np.flatnonzero(distance < tolerance)
    order = close[np.lexsort((close, distance[close], beat[close]))]
    _, first = np.unique(beat[order], return_index=True)
    matches[beat[order[first]]] = order[first]
    return matches


def _match_closest_pairs_first(reference, detected, tolerance):
    """All pairs within the tolerance, the closest first; each side used once."""
    pairs = []
    for i, r in enumerate(reference):
        lo = np.searchsorted(detected, r - tolerance, side="right")
        hi = np.searchsorted(detected, r + tolerance, side="left")
        pairs += [(abs(int(detected[j]) - int(r)), j, i) for j in range(lo, hi)]
    matches, taken = [-1] * len(reference), set()
    for _, j, i in sorted(pairs):
        if matches[i] == -1 and j not in taken:
            matches[i] = j
            taken.add(j)
    return np.array(matches)


def _match_loop(reference, detected, tolerance, within=lambda d, t: d < t, mark=-1,
                nearest=True, once=True, output="per beat", dtype=None):  # fmt: skip
    """For each beat in order, a free detection within the tolerance, the nearest or the
    first; each keyword is one mistake a student makes."""
    matches, taken = [], set()
    for r in reference:
        best = mark
        for j, d in enumerate(detected):
            distance = abs(int(d) - int(r))
            if not within(distance, tolerance) or (once and j in taken):
                continue
            if best is mark or (nearest and distance < abs(int(detected[best]) - int(r))):
                best = j
        matches.append(best)
        if best is not mark:
            taken.add(best)
    if output == "matched":
        return np.array([j for j in matches if j is not mark])
    if output == "samples":
        return np.array([detected[j] if j is not mark else -1 for j in matches])
    if output == "mask":
        return np.array([j is not mark for j in matches])
    return matches if dtype is None else np.array(matches, dtype=dtype)


def _match_detection_first(reference, detected, tolerance):
    """Each detection in turn to its nearest beat, if that beat is still free: the first
    detection near a beat wins, not the nearest one."""
    matches = np.full(len(reference), -1)
    for j, d in enumerate(detected):
        i = int(np.argmin(np.abs(np.asarray(reference) - d)))
        if abs(reference[i] - d) < tolerance and matches[i] == -1:
            matches[i] = j
    return matches


def _match_per_detection(reference, detected, tolerance):
    """For each detection the beat it matches: the mapping the other way round."""
    beats = np.full(len(detected), -1)
    for j, d in enumerate(detected):
        i = int(np.argmin(np.abs(np.asarray(reference) - d)))
        if abs(reference[i] - d) < tolerance:
            beats[j] = i
    return beats


def _match_mutual(reference, detected, tolerance):
    """Mutual nearest neighbours: a beat and a detection that are each other's nearest."""
    reference, detected = np.asarray(reference), np.asarray(detected)
    matches = np.full(len(reference), -1)
    for i, r in enumerate(reference):
        j = int(np.argmin(np.abs(detected - r)))
        nearest_beat = int(np.argmin(np.abs(reference - detected[j])))
        if abs(int(detected[j]) - int(r)) < tolerance and nearest_beat == i:
            matches[i] = j
    return matches


def _match_last_claimant(reference, detected, tolerance):
    """Each detection to its nearest beat, overwriting the one it had: the last one wins."""
    reference = np.asarray(reference)
    matches = np.full(len(reference), -1)
    for j, d in enumerate(detected):
        i = int(np.argmin(np.abs(reference - d)))
        if abs(int(reference[i]) - int(d)) < tolerance:
            matches[i] = j
    return matches


_m = functools.partial

WRONG_MATCHING = {
    "a detection matched twice": (_m(_match_loop, once=False), "matched to the annotated beats"),
    "tolerance inclusive": (
        _m(_match_loop, within=lambda d, t: d <= t),
        "exactly 55 samples away.*strict",
    ),
    "tolerance taken for seconds (times fs)": (
        lambda r, d, t: _match_searchsorted(r, d, t * 360),
        "tolerance of 19,800 samples, the tolerance multiplied by fs.*do not convert it with fs",
    ),
    "tolerance times fs, first free detection": (
        _m(_match_loop, within=lambda d, t: d < t * 360),
        r"^(?!.*with fs).*samples away, beyond the tolerance of 55 samples",
    ),
    "tolerance halved": (
        lambda r, d, t: _match_searchsorted(r, d, t / 2),
        r"^(?!.*with fs).*beat 0 \(at 1000\) has no match, but detection 0 \(at 1054\) is 54 "
        "samples away",
    ),
    "tolerance doubled": (
        lambda r, d, t: _match_searchsorted(r, d, 2 * t),
        r"^(?!.*with fs).*56 samples away, beyond the tolerance of 55 samples",
    ),
    "tolerance taken for seconds (divided by fs)": (
        _m(_match_loop, within=lambda d, t: d < t / 360),
        r"tolerance of 0\.152778 samples, the tolerance divided by fs.*do not convert it with fs",
    ),
    "the matched detections only": (_m(_match_loop, output="matched"), "per matched detection"),
    "one entry per detection": (_match_per_detection, "one entry per detection"),
    "sample positions": (_m(_match_loop, output="samples"), "sample positions"),
    "True/False per beat": (_m(_match_loop, output="mask"), "True/False"),
    "float array": (_m(_match_loop, dtype=float), "dtype float64"),
    "NaN for a missed beat": (_m(_match_loop, mark=np.nan, dtype=float), "NaN"),
    "None for a missed beat": (_m(_match_loop, mark=None), "None for some beats"),
    "a detection to an earlier beat": (_match_loop, "nearer to annotated beat 2"),
    "the first detection near a beat": (_match_detection_first, "detection 2 .* is nearer"),
    "mutual nearest neighbours": (
        _match_mutual,
        r"beat 0 \(at 1000\) has no match, but detection 0 \(at 960\) is 40 samples away",
    ),
    "the last claimant wins": (
        _match_last_claimant,
        r"^(?!.*first one).*beat 0 \(at 500\) is matched to detection 1 .*detection 0 "
        r"\(at 495\) is nearer",
    ),
    "a list": (
        lambda r, d, t: _match_official(r, d, t).tolist(),
        r"returned a list.*NumPy array",
    ),
}

VALID_MATCHING = {
    "official (wfdb)": _match_official,
    "two pointers": _match_two_pointer,
    "searchsorted": _match_searchsorted,
    "closest pairs first": _match_closest_pairs_first,
}


@pytest.mark.parametrize(("answer", "message"), _params(WRONG_MATCHING))
def test_beat_matching_wrong_answers(answer, message):
    with pytest.raises(checks.ExerciseError, match=message):
        checks.check_beat_matching(answer)


@pytest.mark.parametrize("answer", _valid(VALID_MATCHING))
def test_beat_matching_valid_answers(answer, capsys):
    checks.check_beat_matching(answer)
    assert capsys.readouterr().out.startswith("Correct")


# --- exercise ex3-aami ----------------------------------------------------------------------

AAMI_CLASSES = list("NSVF")
_rng = np.random.default_rng(6)
AAMI_Y = np.repeat(np.arange(4), [300, 40, 50, 10])
# a rhythm model: S and V partly found, F never predicted (as on DS2)
_confusion = np.array([[0.9, 0.05, 0.05, 0.0], [0.5, 0.4, 0.1, 0.0], [0.2, 0.1, 0.7, 0.0],
                       [0.3, 0.1, 0.6, 0.0]])  # fmt: skip
AAMI_PRED = np.array([_rng.choice(4, p=_confusion[c]) for c in AAMI_Y])
AAMI_PRED_ALL = np.where(np.arange(400) % 97 == 0, 3, AAMI_PRED)  # F predicted a few times


def _aami_official(y, pred):
    precision, recall, _, _ = skm.precision_recall_fscore_support(
        y, pred, labels=range(4), zero_division=0
    )
    return pd.DataFrame({"Se": recall, "+P": precision}, index=AAMI_CLASSES)


def _aami_confusion(y, pred):
    """NumPy from the confusion matrix: NaN for a class never predicted."""
    cm = skm.confusion_matrix(y, pred, labels=range(4))
    tp = np.diag(cm)
    with np.errstate(invalid="ignore"):
        return pd.DataFrame({"Se": tp / cm.sum(1), "+P": tp / cm.sum(0)}, index=AAMI_CLASSES)


def _aami_crosstab(y, pred):
    """pandas crosstab of class names, with Se, +P and support columns."""
    names = np.array(AAMI_CLASSES)
    counts = pd.crosstab(pd.Series(names[y], name="true"), pd.Series(names[pred], name="pred"))
    counts = counts.reindex(index=AAMI_CLASSES, columns=AAMI_CLASSES, fill_value=0)
    tp = pd.Series(np.diag(counts), index=AAMI_CLASSES)
    return pd.DataFrame(
        {"Se": tp / counts.sum(axis=1), "+P": tp / counts.sum(axis=0), "n": counts.sum(axis=1)}
    )


def _aami_report(y, pred):
    """classification_report as a dict, its class rows renamed."""
    report = skm.classification_report(
        y, pred, labels=range(4), target_names=AAMI_CLASSES, output_dict=True, zero_division=0
    )
    frame = pd.DataFrame(report).T.loc[AAMI_CLASSES, ["recall", "precision"]]
    return frame.rename(columns={"recall": "Se", "precision": "+P"})


def _aami_modified(change):
    def answer(y, pred):
        return change(_aami_official(y, pred), y, pred)

    return answer


def _aami_one_vs_rest(rate):
    def answer(y, pred):
        rows = {}
        for c, name in enumerate(AAMI_CLASSES):
            tn, fp, fn, tp = skm.confusion_matrix(y == c, pred == c, labels=[False, True]).ravel()
            se = {"accuracy": (tp + tn) / (tp + tn + fp + fn), "specificity": tn / (tn + fp)}
            rows[name] = {"Se": se[rate], "+P": tp / (tp + fp) if tp + fp else 0.0}
        return pd.DataFrame.from_dict(rows, orient="index")

    return answer


def _aami_arguments_swapped(y, pred):
    return pd.DataFrame(
        {
            "Se": skm.recall_score(pred, y, labels=range(4), average=None, zero_division=0),
            "+P": skm.precision_score(pred, y, labels=range(4), average=None, zero_division=0),
        },
        index=AAMI_CLASSES,
    )


def _aami_predicted_labels_only(y, pred):
    labels = np.unique(pred)  # F is never predicted: no row for it
    precision, recall, _, _ = skm.precision_recall_fscore_support(y, pred, labels=labels)
    return pd.DataFrame({"Se": recall, "+P": precision}, index=[AAMI_CLASSES[c] for c in labels])


def _aami_shifted(t, y, p):
    shifted = t.copy()
    shifted.iloc[:, :] = np.roll(t.to_numpy(), 1, axis=0)
    return shifted


def _aami_plus_p_over_the_class(y, pred):
    """+P as TP / (TP + FN): the class's own beats in the denominator (that is Se)."""
    rows = {}
    for c, name in enumerate(AAMI_CLASSES):
        tp = np.sum((y == c) & (pred == c))
        rows[name] = {"Se": tp / np.sum(y == c), "+P": tp / (tp + np.sum((y == c) & (pred != c)))}
    return pd.DataFrame(rows).T


def _aami_jaccard(y, pred):
    """+P as TP / (TP + FN + FP): no listed mistake."""
    rows = {}
    for c, name in enumerate(AAMI_CLASSES):
        tp = np.sum((y == c) & (pred == c))
        wrong = np.sum((y == c) != (pred == c))
        rows[name] = {"Se": tp / np.sum(y == c), "+P": tp / (tp + wrong)}
    return pd.DataFrame(rows).T


WRONG_AAMI = {
    "Se and +P swapped": (
        _aami_modified(lambda t, y, p: t.rename(columns={"Se": "+P", "+P": "Se"})),
        "Se and \\+P are swapped",
    ),
    "y_true and y_pred swapped": (_aami_arguments_swapped, "wrong order"),
    "percentages": (_aami_modified(lambda t, y, p: 100 * t), "percentages"),
    "one-vs-rest accuracy as Se": (_aami_one_vs_rest("accuracy"), "one-vs-rest accuracy"),
    "specificity as Se": (_aami_one_vs_rest("specificity"), "specificity"),
    "transposed": (_aami_modified(lambda t, y, p: t.T), r"classes are the columns.*\.T"),
    "+P named PPV": (
        _aami_modified(lambda t, y, p: t.rename(columns={"+P": "PPV"})),
        "no '\\+P' column",
    ),
    "no row for a class never predicted": (_aami_predicted_labels_only, "no row for class F"),
    "integer index": (_aami_modified(lambda t, y, p: t.reset_index(drop=True)), r"rows are \[0"),
    "rows shifted by one class": (_aami_modified(_aami_shifted), "holds the values of class"),
    "rounded": (_aami_modified(lambda t, y, p: t.round(2)), "rounded to 2 decimals"),
    "macro Se in every row": (
        _aami_modified(lambda t, y, p: t.assign(Se=skm.recall_score(y, p, average="macro"))),
        "in every row",
    ),
    "text": (_aami_modified(lambda t, y, p: t.map("{:.1%}".format)), "numbers, not text"),
    "+P over the class's own beats": (
        _aami_plus_p_over_the_class,
        r"^(?!.*swapped).*\+P of class N is 0\.\d{4}, expected 0\.\d{4}: that is its Se",
    ),
    "+P over TP + FN + FP": (
        _aami_jaccard,
        r"\+P of class N is 0\.\d{4}, expected 0\.\d{4}: \+P = TP / \(TP \+ FP\)",
    ),
}

VALID_AAMI = {
    "official": _aami_official,
    "confusion matrix (NaN)": _aami_confusion,
    "pandas crosstab": _aami_crosstab,
    "classification_report": _aami_report,
    "rows sorted by name": _aami_modified(lambda t, y, p: t.sort_index()),
}


@pytest.mark.parametrize(("answer", "message"), _params(WRONG_AAMI))
def test_aami_table_wrong_answers(answer, message):
    with pytest.raises(checks.ExerciseError, match=message):
        checks.check_aami_table(answer(AAMI_Y, AAMI_PRED), AAMI_Y, AAMI_PRED, AAMI_CLASSES)


@pytest.mark.parametrize("pred", [AAMI_PRED, AAMI_PRED_ALL], ids=["F never predicted", "all"])
@pytest.mark.parametrize("answer", _valid(VALID_AAMI))
def test_aami_table_valid_answers(answer, pred, capsys):
    checks.check_aami_table(answer(AAMI_Y, pred), AAMI_Y, pred, AAMI_CLASSES)
    assert capsys.readouterr().out.startswith("Correct")


# --- every checker's fallback: an answer that is no listed mistake -------------------------
# The checker raises ExerciseError saying what differs, never crashes (IndexError...) and
# never names a mistake the answer does not show. One entry per checker in checks.__all__.


def _fallback_table(y, proba):
    return _table_modified(lambda t, y, p: t.assign(f1=(t["precision"] + t["recall"]) / 2))(
        y, proba
    )


FALLBACK = {
    "check_split": (
        None,
        lambda: checks.check_split(
            *_split_stratified_seed(SPLIT_X, SPLIT_YB, 7), SPLIT_X, SPLIT_YB, random_state=SEED
        ),
        "sizes and proportions are right, but the test set is not the one random_state=42",
    ),
    "check_run_epoch": (
        None,
        lambda: checks.check_run_epoch(_epoch_median),
        "expected the mean loss per sample",
    ),
    "check_loss_plot": (
        None,
        lambda: checks.check_loss_plot(
            _plot_with(train=np.divide(TRAIN_LOSSES, 8), val=np.divide(VAL_LOSSES, 8)),
            TRAIN_LOSSES,
            VAL_LOSSES,
        ),
        r"^(?!.*log).*curves of ax hold",
    ),
    "check_test_metrics": (
        "binary_task",
        lambda model, X_val, X_test, y_test: checks.check_test_metrics(
            y_test,
            *WRONG_METRICS["balanced accuracy"][0](model, X_val, X_test, y_test),
            model,
            X_test,
        ),
        r"test_accuracy is \d\.\d{4}, expected \d\.\d{4}: compare",
    ),
    "check_early_auc": (
        "early_task_140",
        lambda model, X, y: checks.check_early_auc(_early_reversed, model, X, y),
        r"the ROC-AUC is \d\.\d{4}, expected \d\.\d{4}",
    ),
    "check_undersampling": (
        None,
        lambda: checks.check_undersampling(
            *_us_ten_per_class(US_X, US_Y, US_X_TEST, US_Y_TEST)[1:],
            _us_ten_per_class(US_X, US_Y, US_X_TEST, US_Y_TEST)[0],
            US_X,
            US_Y,
            random_state=SEED,
        ),
        r"^(?!.*resample X_train).*each class has 10 beats, expected 12",
    ),
    "check_lstm_fcn_output": (
        "fcn_task",
        lambda model, X_bal, X_train, X_test: checks.check_lstm_fcn_output(
            model(torch.tensor(X_bal[:8]))[:4],
            batch_size=8,
            x=torch.tensor(X_bal[:8]),
            source=X_bal,
        ),
        r"logits have shape \(4, 5\), expected \(8, 5\)",
    ),
    "check_batched_inference": (
        "fcn_task",
        lambda model, X_bal, X_train, X_test: checks.check_batched_inference(
            WRONG_BATCHED["another model"][0](model, X_test), model.eval(), X_test
        ),
        r"probabilities differ from the model's in eval mode.*beat 0 has \[",
    ),
    "check_per_class_table": (
        None,
        lambda: checks.check_per_class_table(
            _fallback_table(TABLE_Y, TABLE_PROBA), TABLE_Y, TABLE_PROBA, CLASSES
        ),
        r"f1 of class N is 0\.\d{4}, expected 0\.\d{4}: one-vs-rest",
    ),
    "check_endpoint_client": (
        "fcn_task",
        lambda model, X_bal, X_train, X_test: checks.check_endpoint_client(
            _endpoint_answers(model.eval(), X_test * 2), [0.05] * 3, model, X_test
        ),
        r"^(?!.*digits).*p_ of beat 0 is \[",
    ),
    "check_rr_features": (
        None,
        lambda: checks.check_rr_features(_rr(_rr_student, window=5)),
        r"beat 5 has local_rr = 0\.\d+, expected 0\.\d+",
    ),
    "check_beat_matching": (
        None,
        lambda: checks.check_beat_matching(_match_mutual),
        "has no match, but detection 0",
    ),
    "check_aami_table": (
        None,
        lambda: checks.check_aami_table(
            _aami_jaccard(AAMI_Y, AAMI_PRED), AAMI_Y, AAMI_PRED, AAMI_CLASSES
        ),
        r"\+P of class N is 0\.\d{4}, expected 0\.\d{4}: \+P = TP / \(TP \+ FP\)",
    ),
}


def _endpoint_answers(model, X_sent):
    """What the endpoint answers for X_sent, in batches of 100, read back as a client does."""
    proba = np.concatenate(
        [predict_proba(model, X_sent[i : i + 100], precision="fp32") for i in range(0, 250, 100)]
    )
    answers = pd.DataFrame(proba, columns=[f"p_{c}" for c in range(1, 6)])
    for c in range(1, 6):
        answers[f"y_{c}"] = (proba.argmax(axis=1) == c - 1).astype(int)
    return answers


def test_every_checker_has_a_fallback_case():
    assert sorted(FALLBACK) == sorted(n for n in checks.__all__ if n.startswith("check_"))


@pytest.mark.parametrize(("fixture", "run", "message"), _params(FALLBACK))
def test_fallback_says_what_differs(request, fixture, run, message):
    """Not an IndexError or any other crash inside checks.py: an ExerciseError."""
    task = request.getfixturevalue(fixture) if fixture else ()
    try:
        with pytest.raises(checks.ExerciseError, match=message):
            run(*task)
    finally:
        plt.close("all")


# --- the library's size ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wrong", "valid"),
    [
        (WRONG_SPLIT, VALID_SPLIT),
        (WRONG_RUN_EPOCH, VALID_RUN_EPOCH),
        (WRONG_LOSS_PLOT, VALID_LOSS_PLOT),
        (WRONG_METRICS, VALID_METRICS),
        (WRONG_EARLY, VALID_EARLY),
        (WRONG_UNDERSAMPLING, VALID_UNDERSAMPLING),
        (WRONG_FORWARD, VALID_FORWARD),
        (WRONG_BATCHED, VALID_BATCHED),
        (WRONG_TABLE, VALID_TABLE),
        (WRONG_RR, VALID_RR),
        (WRONG_MATCHING, VALID_MATCHING),
        (WRONG_AAMI, VALID_AAMI),
    ],
)
def test_every_exercise_has_enough_answers(wrong, valid):
    assert len(wrong) >= 5 and len(valid) >= 2 + 1  # the official one and two others


# --- exercise ex2-endpoint-client (its full library is tests/test_check_endpoint_client.py) --


def test_endpoint_client_latencies_in_milliseconds():
    torch.manual_seed(0)
    model = LSTMFCN(num_classes=5, seq_len=40, **SMALL_FCN).eval()
    X = np.random.default_rng(5).random((150, 40), dtype=np.float32)
    answers = pd.DataFrame(
        predict_proba(model, X, precision="fp32"), columns=[f"p_{c}" for c in range(1, 6)]
    )
    for c in range(1, 6):
        answers[f"y_{c}"] = (answers.filter(like="p_").to_numpy().argmax(1) == c - 1).astype(int)
    checks.check_endpoint_client(answers, [0.04, 0.03], model, X)
    with pytest.raises(checks.ExerciseError, match="milliseconds, not seconds"):
        checks.check_endpoint_client(answers, [150.0, 120.0], model, X)  # ms
