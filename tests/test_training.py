"""run_epoch, fit, predict_proba and seeding."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from ecg_course.data import make_loader
from ecg_course.models import LSTMFCN, LSTMClassifier
from ecg_course.training import (
    evaluate,
    fit,
    get_device,
    predict_proba,
    run_epoch,
    seed_everything,
)


def _separable(n: int = 120, length: int = 20, seed: int = 0):
    """Two classes of beats: a bump early (class 0) or late (class 1), plus noise."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    X = rng.normal(0, 0.1, size=(n, length)).astype(np.float32)
    X[y == 0, 3:6] += 1
    X[y == 1, 13:16] += 1
    return X, y


class Linear(nn.Module):
    def __init__(self, length: int = 20):
        super().__init__()
        self.dropout = nn.Dropout(0.5)
        self.layer = nn.Linear(length, 2)

    def forward(self, x):
        return self.layer(self.dropout(x.reshape(len(x), -1)))


def test_run_epoch_returns_the_mean_loss_per_sample_in_eval_mode():
    X, y = _separable(n=10)
    model = Linear()
    loader = make_loader(X, y, batch_size=4)  # batches of 4, 4, 2
    criterion = nn.CrossEntropyLoss()
    before = [p.clone() for p in model.parameters()]
    loss = run_epoch(model, loader, criterion, precision="fp32")  # exact arithmetic
    model.eval()
    with torch.no_grad():
        expected = criterion(model(torch.as_tensor(X)), torch.as_tensor(y)).item()
    assert loss == pytest.approx(expected, abs=1e-6)
    assert not model.training
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    assert all(p.grad is None for p in model.parameters())


def test_run_epoch_with_an_optimizer_trains():
    X, y = _separable()
    model = Linear()
    loader = make_loader(X, y, batch_size=16, shuffle=True)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    start = run_epoch(model, loader, criterion)
    for _ in range(10):
        run_epoch(model, loader, criterion, optimizer)
    assert model.training
    assert run_epoch(model, loader, criterion) < start / 2


def test_fit_keeps_the_best_epoch_and_reports_history():
    seed_everything(0)
    X, y = _separable()
    model = LSTMClassifier(hidden_size=8, num_classes=2)
    history = fit(
        model,
        make_loader(X[:80], y[:80], 16, shuffle=True),
        make_loader(X[80:], y[80:], 64),
        epochs=6,
        lr=1e-2,
        device="cpu",
        progress=False,
    )
    assert len(history.train_loss) == len(history.val_loss) == len(history.seconds) == 6
    assert history.best_epoch == int(np.argmin(history.val_loss))
    criterion = nn.CrossEntropyLoss()
    kept = run_epoch(model, make_loader(X[80:], y[80:], 64), criterion)
    assert kept == pytest.approx(min(history.val_loss), abs=1e-5)
    assert history.val_loss[-1] < history.val_loss[0]


def test_fit_can_select_by_a_score():
    seed_everything(0)
    X, y = _separable()
    model = LSTMClassifier(hidden_size=8, num_classes=2)
    accuracy = lambda y_true, proba: float((proba.argmax(1) == y_true).mean())  # noqa: E731
    history = fit(
        model,
        make_loader(X[:80], y[:80], 16, shuffle=True),
        make_loader(X[80:], y[80:], 64),
        epochs=4,
        lr=1e-2,
        score=accuracy,
        progress=False,
    )
    assert len(history.val_score) == 4
    assert history.best_epoch == int(np.argmax(history.val_score))
    # Any labelled loader can be scored, not only one over a BeatDataset: one pass
    # (evaluate) gives the loss and the probabilities.
    tensors = torch.utils.data.TensorDataset(torch.as_tensor(X[80:]), torch.as_tensor(y[80:]))
    plain = fit(
        model,
        make_loader(X[:80], y[:80]),
        torch.utils.data.DataLoader(tensors, 7),
        epochs=1,
        score=accuracy,
        progress=False,
    )
    assert len(plain.val_score) == len(plain.val_loss) == 1
    with pytest.raises(ValueError, match="epochs must be at least 1"):
        fit(model, make_loader(X, y), make_loader(X, y), epochs=0)


def test_predict_proba_is_batch_size_independent_and_in_eval_mode():
    X, _ = _separable(n=37)
    model = Linear()
    model.train()
    small = predict_proba(model, X, batch_size=5)
    large = predict_proba(model, X, batch_size=1000)
    assert small.shape == (37, 2)
    np.testing.assert_allclose(small, large, atol=1e-6)
    np.testing.assert_allclose(small.sum(axis=1), 1, atol=1e-6)
    assert not model.training
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        predict_proba(model, X, batch_size=0)


def test_predict_proba_accepts_float64_arrays():
    X, _ = _separable(n=6)
    proba = predict_proba(LSTMClassifier(hidden_size=4, num_classes=2), X.astype(np.float64))
    assert proba.shape == (6, 2)


def test_seed_everything_repeats_a_run():
    seed_everything(3)
    a = LSTMClassifier(hidden_size=4)(torch.randn(2, 5))
    seed_everything(3)
    b = LSTMClassifier(hidden_size=4)(torch.randn(2, 5))
    torch.testing.assert_close(a, b)


def test_device_selection():
    assert get_device("cpu").type == "cpu"
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert get_device().type == expected


def test_fit_without_validation_keeps_the_last_epoch_and_steps_the_schedule():
    seed_everything(0)
    X, y = _separable()
    model = LSTMClassifier(hidden_size=8, num_classes=2)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    history = fit(
        model,
        make_loader(X, y, 16, shuffle=True),
        None,
        epochs=3,
        optimizer=optimizer,
        scheduler=scheduler,
        progress=False,
    )
    assert history.best_epoch == 2 and history.val_loss == [] and len(history.train_loss) == 3
    assert optimizer.param_groups[0]["lr"] == pytest.approx(1e-2 / 8)


def test_fit_steps_a_batch_schedule_after_every_batch():
    seed_everything(0)
    X, y = _separable()
    model = LSTMClassifier(hidden_size=8, num_classes=2)
    loader = make_loader(X, y, 16, shuffle=True)
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 / (step + 1))
    fit(
        model,
        loader,
        None,
        epochs=2,
        optimizer=optimizer,
        scheduler=scheduler,
        step_scheduler="batch",
        progress=False,
    )
    steps = 2 * len(loader)
    assert scheduler.last_epoch == steps
    assert optimizer.param_groups[0]["lr"] == pytest.approx(1.0 / (steps + 1))


def test_bad_scheduler_settings_are_named():
    X, y = _separable()
    model = LSTMClassifier(hidden_size=8, num_classes=2)
    loader = make_loader(X, y, 16)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1)
    with pytest.raises(ValueError, match='"epoch" or "batch"'):
        fit(
            model,
            loader,
            None,
            epochs=1,
            optimizer=optimizer,
            scheduler=scheduler,
            step_scheduler="step",
            progress=False,
        )
    with pytest.raises(ValueError, match="needs an optimizer"):
        run_epoch(model, loader, nn.CrossEntropyLoss(), None, "cpu", scheduler)


class _SideOnly(nn.Module):
    """Ignores the beat: the class is in the first side feature."""

    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(2, 2)

    def forward(self, x, side):
        assert x.dim() == 3 and side.shape[1] == 2
        return self.layer(side)


def test_fit_and_predict_proba_pass_side_features_to_the_model():
    X, _ = _separable()
    y = np.arange(len(X)) % 2
    side = np.stack([y * 2.0 - 1.0, np.zeros(len(y))], axis=1).astype(np.float32)
    seed_everything(0)
    model = _SideOnly()
    loader = make_loader(X, y, batch_size=16, shuffle=True, side=side)
    x, s, labels = next(iter(loader))
    assert x.shape == (16, 20, 1) and s.shape == (16, 2) and labels.shape == (16,)
    fit(model, loader, make_loader(X, y, batch_size=32, side=side), epochs=30, lr=0.1,
        progress=False, precision="fp32")  # fmt: skip
    proba = predict_proba(model, X, side=side, batch_size=7)
    assert (proba.argmax(axis=1) == y).all()
    with pytest.raises(ValueError, match="side must be \\(n, F\\)"):
        predict_proba(model, X, side=side[:5])
    bad = side.copy()
    bad[3, 0] = np.nan
    with pytest.raises(ValueError, match="side\\[3\\] contains NaN"):
        predict_proba(model, X, side=bad)
    with pytest.raises(ValueError, match="one row per beat"):
        make_loader(X, y, side=side[:5])


@pytest.mark.parametrize("bad", [9, -1])
def test_a_label_the_model_has_no_output_for_is_refused_by_name(bad):
    """make_loader cannot know the number of classes unless told; the training loop can."""
    X = np.random.default_rng(0).random((8, 32)).astype(np.float32)
    y = np.zeros(8, dtype=np.int64)
    y[3] = bad
    model = LSTMFCN(num_classes=5, seq_len=32, hidden_size=4, filters_1=4, filters_2=4,
                    filters_3=4)  # fmt: skip
    # make_loader refuses negative labels itself: build this loader by hand
    loader = DataLoader(TensorDataset(torch.from_numpy(X), torch.from_numpy(y)), batch_size=4)
    message = rf"labels must be class numbers 0..4 for a model with 5 outputs; got {bad}"
    with pytest.raises(ValueError, match=message):
        run_epoch(model, loader, nn.CrossEntropyLoss(), torch.optim.Adam(model.parameters()))
    with pytest.raises(ValueError, match=message):
        evaluate(model, loader)


def test_training_evaluation_and_prediction_share_one_precision_default():
    """One default format for every forward pass of the package: a notebook that trains,
    validates and predicts writes no ``precision=`` to get the same format in all three."""
    defaults = {
        function.__name__: inspect.signature(function).parameters["precision"].default
        for function in (run_epoch, evaluate, fit, predict_proba)
    }
    assert set(defaults.values()) == {"auto"}, defaults
