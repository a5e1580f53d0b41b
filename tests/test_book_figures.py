"""The book's figures are drawn from the package's beats, not from a copy of its pipeline."""

from __future__ import annotations

import numpy as np
import pytest

from ecg_course import mitbih
from tools import make_book_figures

N_BEATS = 60


def _fake_record_beats(calls: list[str]):
    """A stand-in for mitbih.record_beats: synthetic beats of every class, calls recorded."""

    def record_beats(record_name, progress=False):
        calls.append(str(record_name))
        fs = mitbih.TARGET_FS
        signal = np.sin(np.arange(40 * fs) / 7.0)
        r_peaks = np.arange(N_BEATS) * (len(signal) // N_BEATS) + 5
        labels = np.arange(N_BEATS) % len(mitbih.CLASSES)
        beats = np.tile(np.linspace(0, 1, mitbih.BEAT_LENGTH, dtype=np.float32), (N_BEATS, 1))
        return mitbih.RecordBeats(
            signal=signal,
            fs=fs,
            lead=mitbih.LEAD,
            r_peaks=r_peaks,
            labels=labels,
            symbols=np.array(["N"] * N_BEATS),
            lengths=np.full(N_BEATS, 100),
            beats=beats * (labels[:, None] + 1) / len(mitbih.CLASSES),
            rr=np.ones((N_BEATS, len(mitbih.RR_FEATURES)), dtype=np.float32),
        )

    return record_beats


@pytest.mark.parametrize(
    ("draw", "png"),
    [
        (make_book_figures.fig_segmentation, "beat_segmentation.png"),
        (make_book_figures.fig_aami, "aami_classes.png"),
    ],
)
def test_beat_figures_use_the_package_extraction(draw, png, monkeypatch, tmp_path):
    """Replacing mitbih.record_beats changes what the figure script draws from."""
    calls: list[str] = []
    monkeypatch.setattr(mitbih, "record_beats", _fake_record_beats(calls))
    draw(tmp_path)
    assert calls, f"{draw.__name__} did not call ecg_course.mitbih.record_beats"
    assert (tmp_path / png).stat().st_size > 0


def test_aami_figure_shows_the_beats_record_beats_returns(monkeypatch):
    """Each class's panel holds beats of that class only, as the package labelled them."""
    monkeypatch.setattr(mitbih, "record_beats", _fake_record_beats([]))
    chosen = make_book_figures.beats_by_class(["100", "101"], per_class=5)
    assert list(chosen) == list(mitbih.CLASSES)
    for label, name in enumerate(mitbih.CLASSES):
        expected = (label + 1) / len(mitbih.CLASSES)  # the fake scales class c's beats by c + 1
        assert chosen[name].shape == (5, mitbih.BEAT_LENGTH)
        np.testing.assert_allclose(chosen[name][:, -1], expected, rtol=1e-6)


def test_the_script_restates_no_dataset_fact():
    """No copy of the pipeline or of its constants: they come from ecg_course."""
    for name in ("kachuee_beats", "AAMI", "DS1", "DS2", "PACED", "FS_IN", "FS_OUT", "BEAT_LEN"):
        assert not hasattr(make_book_figures, name), f"tools/make_book_figures.py defines {name}"
