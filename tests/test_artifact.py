"""A saved model reads back identical, safely, and only with beats of its preprocessing version."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ecg_course import artifact, mitbih
from ecg_course.models import LSTMFCN
from ecg_course.training import predict_proba

TINY = dict(hidden_size=8, filters_1=8, filters_2=16, filters_3=8, dropout=0.5)


def test_round_trip_keeps_weights_hparams_and_classes(tmp_path):
    torch.manual_seed(0)
    model = LSTMFCN(**TINY)
    path = artifact.save_model(model, tmp_path / "model.pt")
    saved = artifact.load_model(path)
    assert saved.hparams == model.hparams and saved.hparams["dropout"] == 0.5
    assert saved.class_names == mitbih.CLASSES
    assert saved.input_length == 187
    assert saved.preprocessing_version == mitbih.CODE_VERSION
    assert not saved.model.training
    X = np.random.default_rng(0).random((20, 187), dtype=np.float32)
    np.testing.assert_array_equal(predict_proba(saved.model, X), predict_proba(model, X))


def test_a_file_from_another_preprocessing_version_is_refused(tmp_path, monkeypatch):
    path = artifact.save_model(LSTMFCN(**TINY), tmp_path / "model.pt")
    monkeypatch.setattr(mitbih, "CODE_VERSION", mitbih.CODE_VERSION + 1)
    with pytest.raises(artifact.ArtifactError, match="preprocessing version 1, but .* version 2"):
        artifact.load_model(path)


def test_loading_is_safe_and_names_a_foreign_file(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("code ran",))

    torch.save({"format": artifact.FORMAT, "x": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(artifact.ArtifactError, match="weights_only=True failed"):
        artifact.load_model(tmp_path / "evil.pt")
    torch.save(LSTMFCN(**TINY).state_dict(), tmp_path / "weights.pt")
    with pytest.raises(artifact.ArtifactError, match="no format marker"):
        artifact.load_model(tmp_path / "weights.pt")
    with pytest.raises(FileNotFoundError, match="save_model"):
        artifact.load_model(tmp_path / "missing.pt")


def test_save_model_checks_its_arguments(tmp_path):
    with pytest.raises(ValueError, match="4 class names for a model with 5 outputs"):
        artifact.save_model(LSTMFCN(**TINY), tmp_path / "m.pt", class_names=("N", "S", "V", "F"))
    with pytest.raises(TypeError, match="saves an LSTMFCN"):
        artifact.save_model(torch.nn.Linear(2, 2), tmp_path / "m.pt")
