"""The chapter 1 checkers (ecg_course/checks/chapter1.py: run_epoch, the loss plot, the
test metrics, the early ROC-AUC) accept right answers and name the mistake in wrong ones.
The library's layout: tests/answer_library.py."""

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
from answer_library import has_enough_answers, params, says_what_differs, valid  # noqa: E402
from sklearn import metrics as skm  # noqa: E402
from torch import nn  # noqa: E402

from ecg_course import checks, metrics  # noqa: E402
from ecg_course.models import LSTMClassifier  # noqa: E402
from ecg_course.training import predict_proba, run_epoch  # noqa: E402

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


@pytest.mark.parametrize(("answer", "message"), params(WRONG_RUN_EPOCH))
def test_run_epoch_wrong_answers(answer, message):
    with pytest.raises(checks.ExerciseError, match=message):
        checks.check_run_epoch(answer)


@pytest.mark.parametrize("answer", valid(VALID_RUN_EPOCH))
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


@pytest.mark.parametrize(("answer", "message"), params(WRONG_LOSS_PLOT))
def test_loss_plot_wrong_answers(answer, message):
    try:
        with pytest.raises(checks.ExerciseError, match=message):
            checks.check_loss_plot(answer(), TRAIN_LOSSES, VAL_LOSSES)
    finally:
        plt.close("all")


@pytest.mark.parametrize("answer", valid(VALID_LOSS_PLOT))
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


@pytest.mark.parametrize(("answer", "message"), params(WRONG_METRICS))
def test_metrics_wrong_answers(binary_task, answer, message):
    model, X_val, X_test, y_test = binary_task
    proba, accuracy, auc = answer(model, X_val, X_test, y_test)
    with pytest.raises(checks.ExerciseError, match=message):
        checks.check_test_metrics(y_test, proba, accuracy, auc, model, X_test)


@pytest.mark.parametrize("answer", valid(VALID_METRICS))
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
    "full beats every time": (
        _early_with(prefix=lambda X, k: X),
        r"that of the whole beat.*X\[:, :2\]",
    ),
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


@pytest.mark.parametrize(("answer", "message"), params(WRONG_EARLY))
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


@pytest.mark.parametrize(("answer", "message"), params(WRONG_EARLY_140))
def test_early_auc_wrong_answers_at_140_samples(early_task_140, answer, message):
    with pytest.raises(checks.ExerciseError, match=message):
        checks.check_early_auc(answer, *early_task_140)


@pytest.mark.parametrize("answer", valid(VALID_EARLY))
def test_early_auc_valid_answers_at_140_samples(early_task_140, answer, capsys):
    checks.check_early_auc(answer, *early_task_140)
    assert capsys.readouterr().out.startswith("Correct")


@pytest.mark.parametrize("answer", valid(VALID_EARLY))
def test_early_auc_valid_answers(early_task, answer, capsys):
    checks.check_early_auc(answer, *early_task)
    assert capsys.readouterr().out.startswith("Correct")


@pytest.mark.parametrize(
    ("wrong", "valid_answers"),
    [
        pytest.param(WRONG_RUN_EPOCH, VALID_RUN_EPOCH, id="run_epoch"),
        pytest.param(WRONG_LOSS_PLOT, VALID_LOSS_PLOT, id="loss plot"),
        pytest.param(WRONG_METRICS, VALID_METRICS, id="test metrics"),
        pytest.param(WRONG_EARLY, VALID_EARLY, id="early ROC-AUC"),
    ],
)
def test_every_exercise_has_enough_answers(wrong, valid_answers):
    assert has_enough_answers(wrong, valid_answers)


# --- hand-made cases ------------------------------------------------------------------------


def test_check_loss_plot():
    """One Axes, completed step by step: each step fixes what the message asked for."""
    train, val = [3, 2, 1], [3, 2.5, 2]
    fig, ax = plt.subplots()
    ax.plot([1, 2, 3], train, label="training")
    with pytest.raises(checks.ExerciseError, match="no curve holds val_losses"):
        checks.check_loss_plot(ax, train, val)
    ax.plot([1, 2, 3], val, label="validation")
    with pytest.raises(checks.ExerciseError, match="label the x axis"):
        checks.check_loss_plot(ax, train, val)
    ax.set(xlabel="epoch", ylabel="loss", title="Loss")
    with pytest.raises(checks.ExerciseError, match="legend"):
        checks.check_loss_plot(ax, train, val)
    ax.legend()
    checks.check_loss_plot(ax, train, val)
    with pytest.raises(checks.ExerciseError, match=r"curves of ax hold \[3\.0, 2\.0, 1\.0"):
        checks.check_loss_plot(ax, [5, 4, 3], [6, 5, 4])  # losses of another run
    plt.close(fig)


def test_check_test_metrics():
    torch.manual_seed(0)
    model = LSTMClassifier(hidden_size=4, num_classes=2)
    X = np.random.default_rng(0).normal(size=(30, 12)).astype(np.float32)
    y = np.arange(30) % 2
    proba = predict_proba(model, X)
    accuracy = float((proba.argmax(1) == y).mean())
    auc = metrics.roc_auc(y, proba)
    checks.check_test_metrics(y, proba, accuracy, auc, model, X)
    with pytest.raises(checks.ExerciseError, match=r"test_accuracy is 2\.0000"):
        checks.check_test_metrics(y, proba, 2.0, auc, model, X)
    with pytest.raises(checks.ExerciseError, match="sum to 1"):
        checks.check_test_metrics(y, proba * 3, accuracy, auc, model, X)
    with pytest.raises(checks.ExerciseError, match="not the model's probabilities"):
        checks.check_test_metrics(y, proba[::-1], accuracy, auc, model, X)


# --- the fallback: an answer that is no listed mistake --------------------------------------

FALLBACK = {
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
}


@pytest.mark.parametrize(("fixture", "run", "message"), params(FALLBACK))
def test_fallback_says_what_differs(request, fixture, run, message):
    says_what_differs(request, fixture, run, message)
