"""Training budgets of the notebooks, as named presets picked from the hardware.

A notebook's ``parameters`` cell holds ``PRESET = "auto"``; :func:`chapter2` (or
:func:`chapter1`) turns it into a budget and prints which preset runs, why, and
what the other presets give. ``"auto"`` picks from what the hardware computes in
natively (see :mod:`ecg_course.precision`):

* ``"cpu-fp32"``: a CPU without native bfloat16 (an older laptop, likely Colab's
  CPU runtime): the smaller budget, so chapters 2 and 3 end in about 12 and 17 minutes;
* ``"cpu-bf16"``: a CPU with AMX or AVX512-BF16, where mixed precision trains the
  LSTM-FCN about three times faster: the full CPU budget (what the committed outputs
  show);
* ``"gpu"``: a CUDA GPU (Colab's GPU runtime): the long budget.

An environment variable, ``ECG_COURSE_PRESET``, sets the preset from outside: when
it is set, ``"auto"`` means that preset (a grader or a test runs a notebook at another
budget without editing it; an explicit ``PRESET = "gpu"`` in the notebook still wins).

``"smoke"`` is for tests and grading only: a few batches per run, so that a notebook can be
executed end to end in seconds; its numbers mean nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from ecg_course.precision import resolve_precision

__all__ = [
    "CHAPTER1",
    "CHAPTER2",
    "CHAPTER3",
    "PRESET_ENV",
    "Chapter1Budget",
    "Chapter2Budget",
    "Chapter3Budget",
    "chapter1",
    "chapter2",
    "chapter3",
    "pick_preset",
]


@dataclass(frozen=True)
class Chapter1Budget:
    """Epochs of chapter 1's training runs."""

    name: str

    epochs: int
    """Epochs of the binary LSTM trained with the reader's own ``run_epoch``."""
    epochs_chunked: int
    """Epochs of each of the two early-classification LSTMs."""
    epochs_five_class: int
    """Epochs of each of the two five-class LSTMs (UCR's 500 training beats)."""
    about: str
    """Where this preset is meant to run, and how long the notebook takes there."""


@dataclass(frozen=True)
class Chapter2Budget:
    """Epochs and beats of chapter 2's training runs, and what they were measured to give.

    The three ``min_*`` numbers are the claims the notebook asserts every time it runs
    with this preset (on the Kachuee test split), set at or below what the preset was
    measured to give (``python -m benchmarks.bench_ch2``; the measurements, dated, are in
    ``benchmarks/MEASURED.md``).
    """

    name: str

    epochs_seed: int
    """Epochs of the seed recipe (undersampled, batch 256)."""
    epochs_inter: int
    """Epochs of the inter-patient run (the seed recipe on DS1)."""
    epochs_better: int
    """Epochs of the better recipe, each of ``beats_per_epoch`` beats drawn by the sampler."""
    beats_per_epoch: int
    about: str
    """Where this preset is meant to run, and how long the notebook takes there."""
    min_seed_one_vs_rest: float
    """Lowest one-vs-rest accuracy over the five classes, seed recipe."""
    min_better_accuracy: float
    """Accuracy of the better recipe."""
    min_better_macro_f1: float
    """Macro-F1 of the better recipe."""


@dataclass(frozen=True)
class Chapter3Budget:
    """Chapter 3's training run (the LSTM-FCN with RR features), and what it gives on DS2.

    The ``min_*`` numbers are the claims the notebook asserts every time it runs with
    this preset, on the DS2 patients: set at or below the lowest of three seeds measured
    by ``python -m benchmarks.bench_ch3 --seeds 1 2 3`` and by the notebook's own seed 42
    (the measurements, dated, are in ``benchmarks/MEASURED.md``). The three real presets
    run the same recipe (only the number format differs), so they assert the same claims.
    """

    name: str

    epochs: int
    """Epochs, each of ``beats_per_epoch`` beats drawn by the weighted sampler."""
    beats_per_epoch: int
    alpha: float
    """Exponent of the weighted sampler (:func:`ecg_course.data.make_weighted_loader`)."""
    lr: float
    """Peak learning rate of the one-cycle schedule."""
    members: int
    """Networks of each input (the relative beat; the beat and its relative beat), trained
    from different seeds: the notebook averages the probabilities of ``2 * members``."""
    about: str
    """Where this preset is meant to run, and how long the notebook takes there."""
    min_se_s: float
    min_se_v: float
    min_ppv_s: float
    min_ppv_v: float
    min_balanced_accuracy: float
    """Mean Se over N, S, V and F."""


PRESET_ENV = "ECG_COURSE_PRESET"
"""Environment variable that sets the preset ``"auto"`` stands for (see the module)."""

_SMOKE_ABOUT = "tests only: seconds, numbers meaningless"
"""What the ``"smoke"`` presets are for (never offered to readers)."""

CHAPTER1: dict[str, Chapter1Budget] = {
    budget.name: budget
    for budget in (
        Chapter1Budget(
            name="cpu",
            epochs=20,
            epochs_chunked=12,
            epochs_five_class=80,
            about="any CPU: about 3 minutes on 2 cores",
        ),
        Chapter1Budget(
            name="smoke", epochs=2, epochs_chunked=1, epochs_five_class=1, about=_SMOKE_ABOUT
        ),
    )
}

_CHAPTER2_CLAIMS = {  # cpu-bf16's measured claims; the gpu preset asserts the same
    "min_seed_one_vs_rest": 0.90,
    "min_better_accuracy": 0.975,
    "min_better_macro_f1": 0.87,
}

CHAPTER2: dict[str, Chapter2Budget] = {
    budget.name: budget
    for budget in (
        Chapter2Budget(
            name="cpu-fp32",
            epochs_seed=20,
            epochs_inter=20,
            epochs_better=16,
            beats_per_epoch=5_120,
            about="a CPU without native bf16: about 12 minutes on 2 cores",
            min_seed_one_vs_rest=0.6,
            min_better_accuracy=0.95,
            min_better_macro_f1=0.80,
        ),
        Chapter2Budget(
            name="cpu-bf16",
            epochs_seed=50,
            epochs_inter=20,
            epochs_better=24,
            beats_per_epoch=25_600,
            about="a CPU with AMX or AVX512-BF16: about 11 minutes on 2 cores",
            **_CHAPTER2_CLAIMS,
        ),
        Chapter2Budget(
            name="gpu",
            epochs_seed=100,
            epochs_inter=50,
            epochs_better=40,
            beats_per_epoch=51_200,
            about="a CUDA GPU: the seed's 100 epochs and 2 million beats for the better recipe",
            **_CHAPTER2_CLAIMS,
        ),
        Chapter2Budget(
            name="smoke",
            epochs_seed=1,
            epochs_inter=1,
            epochs_better=1,
            beats_per_epoch=256,
            about=_SMOKE_ABOUT,
            min_seed_one_vs_rest=0,
            min_better_accuracy=0,
            min_better_macro_f1=0,
        ),
    )
}

_CHAPTER3_RECIPE = {"epochs": 20, "beats_per_epoch": 5_120, "alpha": 0.1, "lr": 3e-3, "members": 5}
_CHAPTER3_CLAIMS = {  # cpu-bf16's measured claims; the same recipe in another format
    "min_se_s": 0.76,
    "min_se_v": 0.84,
    "min_ppv_s": 0.44,
    "min_ppv_v": 0.86,
    "min_balanced_accuracy": 0.77,
}

CHAPTER3: dict[str, Chapter3Budget] = {
    budget.name: budget
    for budget in (
        Chapter3Budget(
            name="cpu-fp32",
            about="a CPU without native bf16: about 17 minutes on 2 cores (training is about "
            "three times slower than in bf16)",
            **_CHAPTER3_RECIPE,
            **_CHAPTER3_CLAIMS,
        ),
        Chapter3Budget(
            name="cpu-bf16",
            about="a CPU with AMX or AVX512-BF16: about 6 minutes on 2 cores",
            **_CHAPTER3_RECIPE,
            **_CHAPTER3_CLAIMS,
        ),
        Chapter3Budget(
            name="gpu",
            about="a CUDA GPU: the CPU recipe, in about a minute",
            **_CHAPTER3_RECIPE,
            **_CHAPTER3_CLAIMS,
        ),
        Chapter3Budget(
            name="smoke",
            epochs=1,
            beats_per_epoch=256,
            alpha=0.1,
            lr=3e-3,
            members=1,
            about=_SMOKE_ABOUT,
            min_se_s=0,
            min_se_v=0,
            min_ppv_s=0,
            min_ppv_v=0,
            min_balanced_accuracy=0,
        ),
    )
}


def pick_preset(device: torch.device | str) -> tuple[str, str]:
    """The preset ``"auto"`` picks on ``device`` for chapters 2 and 3 (``"gpu"``,
    ``"cpu-bf16"`` or ``"cpu-fp32"``), and why."""
    if torch.device(device).type == "cuda":
        return "gpu", "CUDA GPU"
    chosen = resolve_precision("auto", "cpu")
    if chosen.name == "bf16":
        return "cpu-bf16", chosen.reason
    return "cpu-fp32", chosen.reason


def _show(presets: dict, name: str, why: str) -> None:
    print(f"budget preset {name!r} ({why}): {presets[name].about}")
    for other, budget in presets.items():
        if other not in (name, "smoke"):
            print(f"  other preset {other!r}: {budget.about}")


def _choose(presets: dict, preset: str, auto: tuple[str, str]) -> str:
    """The preset's name (``auto`` names the pick and why when ``preset == "auto"``), shown."""
    if preset == "auto" and os.environ.get(PRESET_ENV):
        preset, why = os.environ[PRESET_ENV], f"set by {PRESET_ENV}"
        if preset not in presets:
            raise ValueError(
                f"{PRESET_ENV} must be one of {sorted(presets)}; got {preset!r}."
            )
    elif preset == "auto":
        preset, why = auto
    elif preset in presets:
        why = "asked for"
    else:
        raise ValueError(f"preset must be 'auto' or one of {sorted(presets)}; got {preset!r}.")
    _show(presets, preset, why)
    return preset


def chapter2(preset: str = "auto", device: torch.device | str = "cpu") -> Chapter2Budget:
    """The budget of chapter 2 for ``preset`` (``"auto"``: picked from ``device``)."""
    auto = pick_preset(device) if preset == "auto" else ("", "")
    return CHAPTER2[_choose(CHAPTER2, preset, auto)]


def chapter3(preset: str = "auto", device: torch.device | str = "cpu") -> Chapter3Budget:
    """The budget of chapter 3 for ``preset`` (``"auto"``: picked from ``device``)."""
    auto = pick_preset(device) if preset == "auto" else ("", "")
    return CHAPTER3[_choose(CHAPTER3, preset, auto)]


def chapter1(preset: str = "auto") -> Chapter1Budget:
    """The budget of chapter 1 for ``preset`` (``"auto"``: ``"cpu"``, which fits any machine)."""
    return CHAPTER1[_choose(CHAPTER1, preset, ("cpu", "one budget fits every machine"))]
