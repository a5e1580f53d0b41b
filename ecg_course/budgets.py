"""Training budgets of the notebooks, as named presets picked from the hardware.

A notebook's ``parameters`` cell holds ``PRESET = "auto"``; :func:`chapter2` (or
:func:`chapter1`) turns it into a budget and prints which preset runs, why, and
what the other presets give. ``"auto"`` picks from what the hardware computes in
natively (see :mod:`ecg_course.precision`):

* ``"cpu-fp32"``: a CPU without native bfloat16 (an older laptop, likely Colab's
  CPU runtime): the smaller budget, so the chapter still ends in about ten minutes;
* ``"cpu-bf16"``: a CPU with AMX or AVX512-BF16, where mixed precision trains the
  LSTM-FCN about three times faster: the full CPU budget (what CI runs and what the
  committed outputs show);
* ``"gpu"``: a CUDA GPU (Colab's GPU runtime): the long budget.

``"smoke"`` is for tests only: a few batches per run, so that a notebook can be
executed end to end in seconds; its numbers mean nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ecg_course.precision import resolve_precision

__all__ = [
    "CHAPTER1",
    "CHAPTER2",
    "CHAPTER3",
    "Chapter1Budget",
    "Chapter2Budget",
    "Chapter3Budget",
    "chapter1",
    "chapter2",
    "chapter3",
    "pick_chapter2",
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
    measured to give (``python -m benchmarks.bench_ch2``). ``cpu-fp32``: 20 + 16 x 5,120
    beats gave 0.858 / 0.964 / 0.837 in float32 (2026-11-22); ``cpu-bf16``: 50 + 24 x
    25,600 gave 0.942 / 0.978 / 0.900 (2026-11-30, notebook 652 s on 2 cores); ``gpu``,
    100 + 40 x 51,200, gave 0.954 / 0.9836 / 0.9176 on the 2-core CPU in bf16
    (``bench_ch2 --long``, notebook 1,572 s) and 0.956 / 0.9837 / 0.9174 on an NVIDIA
    H200 (2026-11-30, whole notebook 267 s): it asserts ``cpu-bf16``'s claims.
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
    by ``python -m benchmarks.bench_ch3 --seeds 1 2 3`` and by the notebook's own seed 42.
    ``cpu-bf16`` (2026-11-30, 2 cores; 10 networks and the timing model), seeds 1-3:
    Se S 0.827 [0.786, 0.875], Se V 0.870 [0.863, 0.881], +P S 0.485 [0.466, 0.496],
    +P V 0.893 [0.888, 0.896], balanced accuracy 0.788 [0.782, 0.796], notebook 295-305 s;
    seed 42: Se S 0.827, Se V 0.854, +P S 0.465, +P V 0.917, balanced accuracy 0.778.
    The three presets run the same recipe (only the number format differs), so
    ``cpu-fp32`` and ``gpu`` assert the same claims, not measured separately.
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


CHAPTER1: dict[str, Chapter1Budget] = {
    budget.name: budget
    for budget in (
        Chapter1Budget("cpu", 20, 12, 80, "any CPU: about 3 minutes on 2 cores"),
        Chapter1Budget("smoke", 2, 1, 1, "tests only: seconds, numbers meaningless"),
    )
}

CHAPTER2: dict[str, Chapter2Budget] = {
    budget.name: budget
    for budget in (
        Chapter2Budget("cpu-fp32", 20, 20, 16, 5_120,
                       "a CPU without native bf16: about 11 minutes on 2 cores (estimated)",
                       0.6, 0.95, 0.80),
        Chapter2Budget("cpu-bf16", 50, 20, 24, 25_600,
                       "a CPU with AMX or AVX512-BF16: about 11 minutes on 2 cores",
                       0.90, 0.975, 0.87),
        Chapter2Budget("gpu", 100, 50, 40, 51_200,
                       "a CUDA GPU: the seed's 100 epochs and 2 million beats for the better "
                       "recipe", 0.90, 0.975, 0.87),
        Chapter2Budget("smoke", 1, 1, 1, 256, "tests only: seconds, numbers meaningless", 0, 0, 0),
    )
}  # fmt: skip


CHAPTER3: dict[str, Chapter3Budget] = {
    budget.name: budget
    for budget in (
        Chapter3Budget("cpu-fp32", 20, 5_120, 0.1, 3e-3, 5,
                       "a CPU without native bf16: about 14 minutes on 2 cores (estimated: "
                       "training is about three times slower than in bf16)",
                       0.76, 0.84, 0.44, 0.86, 0.77),
        Chapter3Budget("cpu-bf16", 20, 5_120, 0.1, 3e-3, 5,
                       "a CPU with AMX or AVX512-BF16: about 6 minutes on 2 cores",
                       0.76, 0.84, 0.44, 0.86, 0.77),
        Chapter3Budget("gpu", 20, 5_120, 0.1, 3e-3, 5,
                       "a CUDA GPU: the CPU recipe, in about a minute",
                       0.76, 0.84, 0.44, 0.86, 0.77),
        Chapter3Budget("smoke", 1, 256, 0.1, 3e-3, 1, "tests only: seconds, numbers meaningless",
                       0, 0, 0, 0, 0),
    )
}  # fmt: skip


def pick_chapter2(device: torch.device | str) -> tuple[str, str]:
    """The chapter 2 preset ``"auto"`` picks on ``device``, and why."""
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
    if preset == "auto":
        preset, why = auto
    elif preset in presets:
        why = "asked for"
    else:
        raise ValueError(f"preset must be 'auto' or one of {sorted(presets)}; got {preset!r}.")
    _show(presets, preset, why)
    return preset


def chapter2(preset: str = "auto", device: torch.device | str = "cpu") -> Chapter2Budget:
    """The budget of chapter 2 for ``preset`` (``"auto"``: picked from ``device``)."""
    auto = pick_chapter2(device) if preset == "auto" else ("", "")
    return CHAPTER2[_choose(CHAPTER2, preset, auto)]


def chapter3(preset: str = "auto", device: torch.device | str = "cpu") -> Chapter3Budget:
    """The budget of chapter 3 for ``preset`` (``"auto"``: picked from ``device`` as in
    chapter 2)."""
    auto = pick_chapter2(device) if preset == "auto" else ("", "")
    return CHAPTER3[_choose(CHAPTER3, preset, auto)]


def chapter1(preset: str = "auto") -> Chapter1Budget:
    """The budget of chapter 1 for ``preset`` (``"auto"``: ``"cpu"``, which fits any machine)."""
    return CHAPTER1[_choose(CHAPTER1, preset, ("cpu", "one budget fits every machine"))]
