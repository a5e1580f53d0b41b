"""The tuning script: its split (tuning beats never overlap training draws or validation),
its copy of the notebook's recipe, and the levers it measures."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import torch
from imblearn.under_sampling import RandomUnderSampler

from benchmarks import tune_ch2


def test_split_rows_are_disjoint_and_cover_the_training_split():
    y = np.repeat(np.arange(5), [8000, 500, 400, 300, 600])
    np.random.default_rng(0).shuffle(y)
    pool, val_rows, tune_rows = tune_ch2.split_rows(y)

    assert len(val_rows) == tune_ch2.VAL_SIZE and len(tune_rows) == tune_ch2.TUNE_SIZE
    assert not np.intersect1d(pool, tune_rows).size
    assert not np.intersect1d(pool, val_rows).size
    assert not np.intersect1d(val_rows, tune_rows).size
    assert np.array_equal(np.sort(np.concatenate([pool, val_rows, tune_rows])), np.arange(len(y)))


def test_validation_rows_are_the_notebooks():
    """Drawn as the notebook draws them: outside the undersampled beats, seed 42."""
    y = np.repeat(np.arange(5), [8000, 500, 400, 300, 600])
    np.random.default_rng(1).shuffle(y)
    X = np.random.default_rng(2).random((len(y), 187))
    sampler = RandomUnderSampler(random_state=42)
    sampler.fit_resample(X, y)
    rest = np.setdiff1d(np.arange(len(y)), sampler.sample_indices_)
    expected = np.random.default_rng(42).choice(rest, size=1000, replace=False)

    _, val_rows, _ = tune_ch2.split_rows(y)
    assert np.array_equal(val_rows, expected)


def test_recipe_matches_the_notebook():
    """The script restates the notebook's better recipe; a change to one must reach the other."""
    notebook = Path(__file__).resolve().parents[1] / "solutions" / "02_mitbih_lstm_fcn.ipynb"
    code = "\n".join(
        "".join(cell["source"])
        for cell in json.loads(notebook.read_text())["cells"]
        if cell["cell_type"] == "code"
    )

    def value(pattern: str) -> float:
        match = re.search(pattern, code, flags=re.MULTILINE | re.DOTALL)
        assert match, f"the notebook no longer matches {pattern!r}: update tune_ch2.py"
        return float(match.group(1).replace("_", ""))

    assert value(r"^VAL_SIZE = (\d+)") == tune_ch2.VAL_SIZE
    assert value(r"^ALPHA = ([\d.]+)") == tune_ch2.ALPHA
    assert value(r"make_weighted_loader\([^)]*batch_size=(\d+)") == tune_ch2.BATCH_SIZE
    assert value(r"torch\.optim\.Adam\(better\.parameters\(\), lr=([\d.e-]+)\)") == tune_ch2.LR
    assert value(r"OneCycleLR\(.*?pct_start=([\d.]+)\)") == tune_ch2.PCT_START
    assert value(r"^SEED = (\d+)") == tune_ch2.SEED


def test_prior_correction_restores_the_natural_mix():
    """alpha = 1 is the natural mix already; alpha = 0 (balanced) weights by the counts."""
    proba = np.array([[0.4, 0.6], [0.7, 0.3]])
    counts = np.array([900, 100])
    assert np.array_equal(tune_ch2.prior_corrected(proba, counts, 1.0), proba)
    corrected = tune_ch2.prior_corrected(proba, counts, 0.0)
    assert np.allclose(corrected, proba * counts)
    assert corrected.argmax(axis=1).tolist() == [0, 0]  # the rare class needs more evidence


def test_augmentation_only_in_training_mode():
    seen = []
    inner = torch.nn.Module()
    inner.forward = lambda x: seen.append(x) or x.sum(dim=1)
    augmented = tune_ch2.Augmented(inner, seed=0)
    beats = torch.rand(16, 187)

    augmented.eval()
    augmented(beats)
    assert torch.equal(seen[-1], beats)

    augmented.train()
    augmented(beats)
    changed = seen[-1]
    assert changed.shape == beats.shape and not torch.equal(changed, beats)
    ratio = (changed / beats).median(dim=1).values  # about the scale factor of each beat
    assert ((ratio > 0.85) & (ratio < 1.15)).all()
    assert (changed - beats * ratio[:, None]).std() < 0.02  # the noise is small
