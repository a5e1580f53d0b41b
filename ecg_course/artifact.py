"""A trained LSTM-FCN in one file: weights, hyperparameters, classes, input length.

:func:`save_model` writes everything needed to rebuild and use the model on new
beats; :func:`load_model` reads it back safely (``torch.load(weights_only=True)``:
tensors and plain Python values only, never arbitrary pickled code) and refuses a
file whose beats were cut by another version of the MIT-BIH beat preprocessing
(:data:`ecg_course.mitbih.CODE_VERSION`): a model only understands beats made the
way its training beats were.

The file is a ``torch.save`` dictionary::

    {"format": "ecg_course.model", "format_version": 1, "architecture": "LSTMFCN",
     "hparams": {...constructor arguments...}, "state_dict": {...tensors...},
     "class_names": ["N", "S", "V", "F", "Q"], "input_length": 187,
     "preprocessing_version": 1}
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import torch

from ecg_course import mitbih
from ecg_course.models import LSTMFCN

__all__ = ["ArtifactError", "SavedModel", "load_model", "save_model"]

FORMAT = "ecg_course.model"
"""Marker of a model file written by :func:`save_model`."""
FORMAT_VERSION = 1
"""Layout of the file's dictionary; bump when its keys change."""


class ArtifactError(ValueError):
    """A model file cannot be used; the message says why and what to do."""


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
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "architecture": type(model).__name__,
        "hparams": dict(model.hparams),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
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
        ArtifactError: not a model file of this package, another file layout, or
            beats of another preprocessing version than this package's
            (:data:`ecg_course.mitbih.CODE_VERSION`).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No model file at {path}; write one with save_model(model, path).")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError) as error:
        raise ArtifactError(
            f"{path} is not a model file written by ecg_course.artifact.save_model "
            f"(torch.load with weights_only=True failed: {error})."
        ) from error
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ArtifactError(
            f"{path} is not a model file written by ecg_course.artifact.save_model "
            f"(no format marker {FORMAT!r})."
        )
    if payload.get("format_version") != FORMAT_VERSION:
        raise ArtifactError(
            f"{path} has file layout version {payload.get('format_version')!r}; this ecg_course "
            f"reads version {FORMAT_VERSION}. Save the model again with this version."
        )
    version = payload["preprocessing_version"]
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
            f"{path} holds a {payload['architecture']}; load_model rebuilds LSTMFCN only."
        )
    model = LSTMFCN(**payload["hparams"])
    model.load_state_dict(payload["state_dict"])
    model.eval()
    return SavedModel(
        model=model,
        class_names=tuple(payload["class_names"]),
        input_length=int(payload["input_length"]),
        preprocessing_version=int(version),
        hparams=dict(payload["hparams"]),
    )
