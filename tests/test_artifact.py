"""A saved model reads back identical, safely, and only with beats of its preprocessing version."""

from __future__ import annotations

import warnings

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


def _raw(path) -> dict:
    return torch.load(path, weights_only=True)


def _resave(raw: dict, path, checksum: bool = True):
    """Write ``raw`` back, with the checksum of its (possibly edited) weights if asked."""
    weights = raw.get("state_dict", {}).values()
    if checksum and "state_dict" in raw and all(isinstance(t, torch.Tensor) for t in weights):
        raw["weights_sha256"] = artifact.weights_sha256(raw["state_dict"])
    torch.save(raw, path)
    return path


def _edit_state_dict(change):
    def damage(raw):
        change(raw["state_dict"])

    return damage


def _set(key, value):
    def damage(raw):
        raw[key] = value

    return damage


def _drop(key):
    def damage(raw):
        del raw[key]

    return damage


def _hparams(**changes):
    def damage(raw):
        raw["hparams"].update(changes)

    return damage


DAMAGES = {
    "an extra weight": (
        _edit_state_dict(lambda sd: sd.update(extra=torch.zeros(3))),
        r"do not fit the LSTMFCN(.|\n)*Unexpected key\(s\) in state_dict: \"extra\"",
    ),
    "a missing weight": (
        _edit_state_dict(lambda sd: sd.pop("fc.bias")),
        r"Missing key\(s\) in state_dict: \"fc.bias\"",
    ),
    "a weight of another shape": (
        _edit_state_dict(lambda sd: sd.update({"fc.bias": torch.zeros(4)})),
        r"size mismatch for fc.bias",
    ),
    "a weight that is not a tensor": (
        _edit_state_dict(lambda sd: sd.update({"fc.bias": [0.0] * 5})),
        "state_dict must map parameter names to tensors",
    ),
    "no architecture": (_drop("architecture"), "lacks architecture: it is damaged"),
    "no preprocessing version": (_drop("preprocessing_version"), "lacks preprocessing_version"),
    "a text preprocessing version": (
        _set("preprocessing_version", "1"),
        "preprocessing_version must be an integer, got '1'",
    ),
    "no state_dict": (_drop("state_dict"), "lacks state_dict"),
    "unknown hparams": (_hparams(depth=3), "hparams holds depth, which LSTMFCN does not take"),
    "hparams not a dict": (_set("hparams", [8, 8]), "hparams must be a dict .* got a list"),
    "hparams the constructor refuses": (
        _hparams(hidden_size=-1),
        "hparams do not build an LSTMFCN: hidden_size must be a positive integer",
    ),
    "input_length as text": (_set("input_length", "abc"), "input_length is 'abc', but the model"),
    "input_length 100 on a 187-sample model": (
        _set("input_length", 100),
        r"input_length is 100, but the model reads beats of 187 samples \(seq_len=187\)",
    ),
    "3 class names for 5 outputs": (
        _set("class_names", ["N", "S", "V"]),
        "class_names must be a list of 5 strings",
    ),
    "class names that are not text": (
        _set("class_names", [0, 1, 2, 3, 4]),
        "class_names must be a list of 5 strings",
    ),
    "another architecture": (_set("architecture", "ResNet"), "holds a 'ResNet'"),
    "a format version of text": (_set("format_version", "2"), "file layout version '2'"),
}


@pytest.mark.parametrize("damage", list(DAMAGES), ids=str)
def test_a_damaged_or_inconsistent_file_is_refused_with_its_reason(tmp_path, damage):
    """Each one used to crash load_model with a KeyError, TypeError or RuntimeError (or,
    for input_length and class_names, load and then fail every request)."""
    change, says = DAMAGES[damage]
    raw = _raw(artifact.save_model(LSTMFCN(**TINY), tmp_path / "model.pt"))
    change(raw)
    path = _resave(raw, tmp_path / "damaged.pt")
    with pytest.raises(artifact.ArtifactError, match=says):
        artifact.load_model(path)


def _tensor_offset(data: bytes, tensor: torch.Tensor) -> int:
    """Where the bytes of ``tensor`` lie in a saved file (uncompressed in torch's zip)."""
    offset = data.find(tensor.numpy().tobytes())
    assert offset > 0
    return offset


def test_flipped_bytes_in_a_weight_are_refused_by_the_checksum(tmp_path):
    torch.manual_seed(0)
    model = LSTMFCN(**TINY)
    path = artifact.save_model(model, tmp_path / "model.pt")
    data = bytearray(path.read_bytes())
    start = _tensor_offset(data, model.state_dict()["lstm.weight_ih_l0"].detach()) + 128
    data[start : start + 64] = bytes(b ^ 0x01 for b in data[start : start + 64])  # low bits
    path.write_bytes(data)
    # the damage goes unnoticed by torch.load: the weights load, slightly different
    raw = _raw(path)
    assert not torch.equal(raw["state_dict"]["lstm.weight_ih_l0"], model.lstm.weight_ih_l0)
    with pytest.raises(artifact.ArtifactError, match="do not match the SHA-256 checksum"):
        artifact.load_model(path)


def test_the_checksum_covers_names_shapes_and_values_in_a_fixed_order():
    torch.manual_seed(0)
    state = {k: v.clone() for k, v in LSTMFCN(**TINY).state_dict().items()}
    digest = artifact.weights_sha256(state)
    assert len(digest) == 64
    assert artifact.weights_sha256(dict(reversed(list(state.items())))) == digest
    renamed = {("head." + k if k == "fc.bias" else k): v for k, v in state.items()}
    reshaped = {**state, "fc.bias": state["fc.bias"].reshape(1, -1)}
    changed = {**state, "fc.bias": state["fc.bias"] + 1e-7}
    for other in (renamed, reshaped, changed):
        assert artifact.weights_sha256(other) != digest


def test_a_file_of_format_version_1_loads_with_a_warning_to_save_it_again(tmp_path):
    torch.manual_seed(0)
    model = LSTMFCN(**TINY)
    raw = _raw(artifact.save_model(model, tmp_path / "model.pt"))
    raw["format_version"] = 1
    del raw["weights_sha256"]
    path = _resave(raw, tmp_path / "old.pt", checksum=False)
    with pytest.warns(artifact.ArtifactWarning, match="without a checksum.*Save it again"):
        saved = artifact.load_model(path)
    X = np.random.default_rng(0).random((5, 187), dtype=np.float32)
    np.testing.assert_array_equal(predict_proba(saved.model, X), predict_proba(model, X))
    artifact.save_model(saved.model, path, saved.class_names)  # what the warning says to do
    assert _raw(path)["format_version"] == artifact.FORMAT_VERSION
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        artifact.load_model(path)  # no warning now


def test_a_file_saved_before_the_channels_last_option_loads_in_the_default_layout(tmp_path):
    """Files written before ``channels_last`` was a hyperparameter lack it in ``hparams``."""
    torch.manual_seed(0)
    model = LSTMFCN(**TINY)
    raw = _raw(artifact.save_model(model, tmp_path / "model.pt"))
    del raw["hparams"]["channels_last"]
    saved = artifact.load_model(_resave(raw, tmp_path / "before.pt"))
    assert saved.hparams == model.hparams  # the default filled in
    X = np.random.default_rng(0).random((5, 187), dtype=np.float32)
    np.testing.assert_array_equal(predict_proba(saved.model, X), predict_proba(model, X))


def test_a_model_trained_in_one_memory_layout_is_served_in_the_other(tmp_path):
    """The layouts share their weights' names and shapes: only ``hparams`` says which ran."""
    torch.manual_seed(0)
    plain = LSTMFCN(**TINY, channels_last=False)
    raw = _raw(artifact.save_model(plain, tmp_path / "plain.pt"))
    assert raw["hparams"]["channels_last"] is False
    raw["hparams"]["channels_last"] = True
    saved = artifact.load_model(_resave(raw, tmp_path / "channels_last.pt"))
    assert isinstance(saved.model.conv1[2], torch.nn.BatchNorm2d)
    X = np.random.default_rng(0).random((20, 187), dtype=np.float32)
    np.testing.assert_allclose(
        predict_proba(saved.model, X), predict_proba(plain, X), rtol=1e-5, atol=1e-6
    )
