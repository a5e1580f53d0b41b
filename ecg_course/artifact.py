"""A trained LSTM-FCN in one file: weights, hyperparameters, classes, input length.

:func:`save_model` writes everything needed to rebuild and use the model on new
beats; :func:`load_model` reads it back safely (``torch.load(weights_only=True)``:
tensors and plain Python values only, never arbitrary pickled code) and refuses a
file whose beats were cut by another version of the MIT-BIH beat preprocessing
(:data:`ecg_course.mitbih.CODE_VERSION`): a model only understands beats made the
way its training beats were.

The file is a ``torch.save`` dictionary::

    {"format": "ecg_course.model", "format_version": 2, "architecture": "LSTMFCN",
     "hparams": {...constructor arguments...}, "state_dict": {...tensors...},
     "weights_sha256": "<64 hex digits>",
     "class_names": ["N", "S", "V", "F", "Q"], "input_length": 187,
     "preprocessing_version": 1}

``hparams`` holds LSTMFCN's constructor arguments, by the names of
:data:`ecg_course.models.lstm_fcn.HPARAM_NAMES` (a file saved before an argument was
added lacks it: the model is built with its default).

``weights_sha256`` (:func:`weights_sha256`) is checked on load: ``torch.load`` does
not notice bytes changed inside a tensor, and a model with a few damaged weights
still runs, answering slightly different probabilities. Every other entry is
checked too (types, hyperparameters the constructor knows, one class name per
output, the input length the network reads), so a damaged or hand-edited file is
refused with an :class:`ArtifactError` that says what is wrong, before it is served.
Files of ``format_version`` 1 (before the checksum) are read with an
:class:`ArtifactWarning`.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from ecg_course import mitbih
from ecg_course.models import LSTMFCN
from ecg_course.models.lstm_fcn import HPARAM_NAMES

__all__ = [
    "ArtifactError",
    "ArtifactWarning",
    "SavedModel",
    "load_model",
    "save_model",
    "weights_sha256",
]

FORMAT = "ecg_course.model"
"""Marker of a model file written by :func:`save_model`."""
FORMAT_VERSION = 2
"""Layout of the file's dictionary; bump when its keys change. Version 2 added
``weights_sha256``; version 1 files are still read, with an :class:`ArtifactWarning`."""
_READABLE_VERSIONS = (1, FORMAT_VERSION)
_REQUIRED = ("architecture", "hparams", "state_dict", "class_names", "input_length",
             "preprocessing_version")  # fmt: skip
"""Entries of every readable file besides the format marker and version."""


class ArtifactError(ValueError):
    """A model file cannot be used; the message says why and what to do."""


class ArtifactWarning(UserWarning):
    """A model file is used, but something about it deserves attention (the message says)."""


def weights_sha256(state_dict: Mapping[str, torch.Tensor]) -> str:
    """SHA-256 (hex) of a state dict: every tensor's name, dtype, shape and bytes, by name.

    Independent of the device the tensors are on and of the order of the keys.
    """
    digest = hashlib.sha256()
    for key in sorted(state_dict):
        tensor = state_dict[key].detach().cpu().contiguous()
        digest.update(f"{key}\0{tensor.dtype}\0{tuple(tensor.shape)}\0".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy())
    return digest.hexdigest()


@dataclass(frozen=True)
class SavedModel:
    """What :func:`load_model` reads back.

    Attributes:
        model: the LSTM-FCN with its trained weights, on the CPU, in eval mode.
        class_names: one name per output, in the order of the logits.
        input_length: samples per beat ``T`` the model reads, shape ``(B, T)``.
        preprocessing_version: the beat preprocessing its training beats came from.
        hparams: the constructor's keyword arguments.
    """

    model: LSTMFCN
    class_names: tuple[str, ...]
    input_length: int
    preprocessing_version: int
    hparams: dict


def save_model(
    model: LSTMFCN,
    path: str | os.PathLike,
    class_names: tuple[str, ...] | list[str] = mitbih.CLASSES,
) -> Path:
    """Write ``model`` and what it needs to be used again into the one file ``path``.

    Args:
        model: a trained :class:`~ecg_course.models.LSTMFCN` (on any device).
        path: the file to write (its folder must exist), e.g. ``"lstm_fcn.pt"``.
        class_names: the name of each output, ``model.num_classes`` of them.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    if not isinstance(model, LSTMFCN):
        raise TypeError(f"save_model saves an LSTMFCN; got a {type(model).__name__}.")
    class_names = tuple(str(name) for name in class_names)
    if len(class_names) != model.num_classes:
        raise ValueError(
            f"{len(class_names)} class names for a model with {model.num_classes} outputs; "
            "give one name per output, in the order of the logits."
        )
    state_dict = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "architecture": type(model).__name__,
        "hparams": dict(model.hparams),
        "state_dict": state_dict,
        "weights_sha256": weights_sha256(state_dict),
        "class_names": list(class_names),
        "input_length": model.seq_len,
        "preprocessing_version": mitbih.CODE_VERSION,
    }
    path = Path(path)
    torch.save(payload, path)
    return path


def load_model(path: str | os.PathLike) -> SavedModel:
    """Read a file written by :func:`save_model`; the model comes back on the CPU, in eval mode.

    Raises:
        FileNotFoundError: no file at ``path``.
        ArtifactError: not a model file of this package, another file layout, beats
            of another preprocessing version than this package's
            (:data:`ecg_course.mitbih.CODE_VERSION`), weights that do not match their
            checksum, or an entry that is missing, of the wrong type or inconsistent
            with the others (the message names it).

    Warns:
        ArtifactWarning: a file of format version 1, which has no checksum of its weights.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No model file at {path}; write one with save_model(model, path).")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a damaged file fails in many ways (zip, pickle, storage)
        raise ArtifactError(
            f"{path} is not a model file written by ecg_course.artifact.save_model "
            f"(torch.load with weights_only=True failed: {error})."
        ) from error
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ArtifactError(
            f"{path} is not a model file written by ecg_course.artifact.save_model "
            f"(no format marker {FORMAT!r})."
        )
    format_version = payload.get("format_version")
    if type(format_version) is not int or format_version not in _READABLE_VERSIONS:
        raise ArtifactError(
            f"{path} has file layout version {format_version!r}; this ecg_course "
            f"reads versions {', '.join(map(str, _READABLE_VERSIONS))}. Save the model again "
            "with this version."
        )
    required = _REQUIRED + (("weights_sha256",) if format_version >= 2 else ())
    missing = [key for key in required if key not in payload]
    if missing:
        raise ArtifactError(
            f"{path} lacks {', '.join(missing)}: it is damaged or was not written by "
            "save_model. Save the model again with save_model."
        )
    version = payload["preprocessing_version"]
    if type(version) is not int:
        raise ArtifactError(f"{path}: preprocessing_version must be an integer, got {version!r}.")
    if version != mitbih.CODE_VERSION:
        raise ArtifactError(
            f"{path} was trained on beats of preprocessing version {version}, but this "
            f"ecg_course cuts beats with version {mitbih.CODE_VERSION} "
            "(ecg_course.mitbih.CODE_VERSION): the model would be fed beats unlike its "
            "training beats. Retrain and save it with this version, or use the ecg_course "
            "that saved it."
        )
    if payload["architecture"] != LSTMFCN.__name__:
        raise ArtifactError(
            f"{path} holds a {payload['architecture']!r}; load_model rebuilds LSTMFCN only."
        )
    state_dict = _checked_state_dict(path, payload, format_version)
    model = _rebuilt_model(path, payload["hparams"], state_dict)
    class_names = payload["class_names"]
    if not (
        isinstance(class_names, (list, tuple))
        and all(isinstance(name, str) for name in class_names)
        and len(class_names) == model.num_classes
    ):
        raise ArtifactError(
            f"{path}: class_names must be a list of {model.num_classes} strings, one per "
            f"output of the model, in the order of the logits; got {class_names!r}."
        )
    input_length = payload["input_length"]
    if type(input_length) is not int or input_length != model.seq_len:
        raise ArtifactError(
            f"{path}: input_length is {input_length!r}, but the model reads beats of "
            f"{model.seq_len} samples (seq_len={model.seq_len}); they must be equal."
        )
    return SavedModel(
        model=model,
        class_names=tuple(class_names),
        input_length=input_length,
        preprocessing_version=version,
        hparams=dict(model.hparams),
    )


def _checked_state_dict(path: Path, payload: dict, format_version: int) -> dict:
    """The file's weights, after checking their types and their checksum."""
    state_dict = payload["state_dict"]
    if not isinstance(state_dict, dict) or not all(
        isinstance(key, str) and isinstance(value, torch.Tensor)
        for key, value in state_dict.items()
    ):
        raise ArtifactError(
            f"{path}: state_dict must map parameter names to tensors; it is damaged. "
            "Save the model again with save_model."
        )
    if format_version < 2:
        warnings.warn(
            f"{path} was saved by an older ecg_course, without a checksum of its weights: "
            "damage to them cannot be detected. Save it again to add one: "
            "saved = load_model(path); save_model(saved.model, path, saved.class_names).",
            ArtifactWarning,
            stacklevel=3,
        )
        return state_dict
    stored = payload["weights_sha256"]
    if stored != weights_sha256(state_dict):
        raise ArtifactError(
            f"{path}: its weights do not match the SHA-256 checksum stored when it was "
            "saved: the file is damaged (or was altered). Use an intact copy, or save "
            "the model again."
        )
    return state_dict


def _rebuilt_model(path: Path, hparams: object, state_dict: dict) -> LSTMFCN:
    """An LSTMFCN built from ``hparams``, with the weights ``state_dict``, in eval mode."""
    known = HPARAM_NAMES
    if not isinstance(hparams, dict):
        raise ArtifactError(
            f"{path}: hparams must be a dict of LSTMFCN's constructor arguments, "
            f"got a {type(hparams).__name__}."
        )
    unknown = sorted(map(str, set(hparams) - set(known)))
    if unknown:
        raise ArtifactError(
            f"{path}: hparams holds {', '.join(unknown)}, which LSTMFCN does not take "
            f"(it takes {', '.join(known)})."
        )
    try:
        model = LSTMFCN(**hparams)
    except (TypeError, ValueError) as error:
        raise ArtifactError(f"{path}: its hparams do not build an LSTMFCN: {error}") from error
    try:
        model.load_state_dict(state_dict)
    except RuntimeError as error:
        raise ArtifactError(
            f"{path}: its weights do not fit the LSTMFCN its hparams describe ({error}). "
            "The file is damaged or was edited; save the model again."
        ) from error
    return model.eval()
