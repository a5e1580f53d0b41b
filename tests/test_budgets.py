"""Budget presets: picked from the hardware, printed with what the others give."""

from __future__ import annotations

import pytest

from ecg_course import budgets
from ecg_course import precision as precision_module


@pytest.mark.parametrize(("feature", "expected"), [("AMX", "cpu-bf16"), (None, "cpu-fp32")])
def test_auto_picks_the_cpu_preset_from_native_bf16(monkeypatch, capsys, feature, expected):
    monkeypatch.setattr(precision_module, "cpu_bf16_support", lambda: feature)
    budget = budgets.chapter2("auto", "cpu")
    assert budget is budgets.CHAPTER2[expected]
    out = capsys.readouterr().out
    assert out.startswith(f"budget preset {expected!r}")
    others = {"cpu-fp32", "cpu-bf16", "gpu"} - {expected}
    assert all(f"other preset {name!r}" in out for name in others)
    assert "smoke" not in out  # a test preset is not offered to readers


def test_a_gpu_gets_the_long_budget_and_an_explicit_preset_wins(capsys):
    assert budgets.chapter2("auto", "cuda").name == "gpu"
    assert budgets.chapter2("cpu-fp32", "cuda").name == "cpu-fp32"
    out = capsys.readouterr().out
    assert "budget preset 'gpu' (CUDA GPU)" in out
    assert "budget preset 'cpu-fp32' (asked for)" in out


def test_an_unknown_preset_is_refused_with_the_choices():
    with pytest.raises(ValueError, match=r"one of \['cpu-bf16', 'cpu-fp32', 'gpu', 'smoke'\]"):
        budgets.chapter2("fast")
    with pytest.raises(ValueError, match=r"one of \['cpu', 'smoke'\]"):
        budgets.chapter1("gpu")


def test_presets_grow_with_the_hardware_and_claim_no_less_than_the_smaller_one():
    small, full, long = (budgets.CHAPTER2[n] for n in ("cpu-fp32", "cpu-bf16", "gpu"))
    beats = [b.epochs_better * b.beats_per_epoch for b in (small, full, long)]
    assert beats == sorted(beats) and small.epochs_seed <= full.epochs_seed <= long.epochs_seed
    for claim in ("min_seed_one_vs_rest", "min_better_accuracy", "min_better_macro_f1"):
        assert getattr(small, claim) <= getattr(full, claim) <= getattr(long, claim)
    assert budgets.chapter1().name == "cpu"


def test_chapter3_picks_like_chapter2_and_every_real_preset_claims_something(capsys):
    assert budgets.chapter3("auto", "cuda").name == "gpu"
    assert budgets.chapter3("smoke").members == 1
    with pytest.raises(ValueError, match=r"one of \['cpu-bf16', 'cpu-fp32', 'gpu', 'smoke'\]"):
        budgets.chapter3("fast")
    claims = ("min_se_s", "min_se_v", "min_ppv_s", "min_ppv_v", "min_balanced_accuracy")
    for name, preset in budgets.CHAPTER3.items():
        assert preset.members >= 1 and 0.0 <= preset.alpha <= 1.0
        if name != "smoke":  # a real run asserts more than chapter 2's Se S of 0 on new patients
            assert all(0.3 <= getattr(preset, claim) < 1.0 for claim in claims), name
