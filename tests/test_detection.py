"""Tests of R-peak detection and its scoring (ecg_course.detection).

The scoring tests use hand-made arrays. The record test needs ``ECG_COURSE_DATA``
pointing at a folder with ``mitdb/`` (e.g. ``../shared/data``) and is skipped without it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from ecg_course import detection, mitbih

FS = 360
# Record 100 as `python -m benchmarks.bench_detection` scored it: 2,273 annotated beats,
# 2,272 detected, 0 false positives, 1 missed (Se 99.956 %, +P 100 %), median offset 2.8 ms.
RECORD_100 = {"sensitivity": 2272 / 2273, "positive_predictivity": 1.0}
MARGIN = 0.002  # 0.2 percentage points


def test_score_hits_misses_false_positives_and_the_150_ms_edge():
    reference = np.array([1000, 2000, 3000, 4000, 5000, 6000])
    detected = np.array(
        [
            1000,  # 0: a hit, on the beat
            2054,  # 1: 54 samples = 150 ms late: just inside, a hit
            3055,  # 2: 55 samples = 152.8 ms late: just outside, a false positive (3000 missed)
            3500,  # 3: between beats, a false positive (4000 missed: nothing near it)
            4947,  # 4: 53 samples early, a hit
            6010,  # 5: a hit
        ]
    )
    score = detection.score_detections(reference, detected, FS)
    assert (score.tp, score.fp, score.fn) == (4, 2, 2)
    assert score.sensitivity == pytest.approx(4 / 6)
    assert score.positive_predictivity == pytest.approx(4 / 6)
    assert score.matched.dtype == np.int64
    assert score.matched.tolist() == [0, 1, -1, -1, 4, 5]


def test_score_window_is_the_tolerance():
    reference = np.array([1000])
    assert detection.score_detections(reference, np.array([1054]), FS).tp == 1
    assert detection.score_detections(reference, np.array([1055]), FS).tp == 0
    assert detection.score_detections(reference, np.array([1055]), FS, tolerance_s=0.2).tp == 1
    assert detection.MATCH_WINDOW_S == 0.15


def test_score_without_detections_or_reference():
    empty = np.zeros(0, dtype=np.int64)
    score = detection.score_detections(np.array([10, 500]), empty, FS)
    assert (score.tp, score.fp, score.fn, score.sensitivity) == (0, 0, 2, 0.0)
    assert math.isnan(score.positive_predictivity)
    assert score.matched.tolist() == [-1, -1]
    score = detection.score_detections(empty, np.array([10]), FS)
    assert (score.tp, score.fp, score.fn, score.positive_predictivity) == (0, 1, 0, 0.0)
    assert math.isnan(score.sensitivity)


def test_score_rejects_unsorted_or_non_integer_samples():
    with pytest.raises(ValueError, match="sorted and unique"):
        detection.score_detections(np.array([5, 3]), np.array([3]), FS)
    with pytest.raises(ValueError, match="integer sample indices"):
        detection.score_detections(np.array([1.5, 3.0]), np.array([3]), FS)
    with pytest.raises(ValueError, match="positive"):
        detection.score_detections(np.array([1]), np.array([3]), 0)


@pytest.mark.parametrize(
    ("signal", "fs", "message"),
    [
        (np.zeros((2, 2000)), FS, "1-D"),
        (np.r_[np.zeros(1000), np.nan, np.zeros(1000)], FS, "finite; sample 1000"),
        (np.r_[np.zeros(1000), np.inf, np.zeros(1000)], FS, "finite"),
        (np.zeros(100), FS, "too short: 100 samples, expected at least 720"),
        (np.zeros(2000), 0, "fs must be a sampling rate"),
        (np.zeros(2000), -360, "fs must be a sampling rate"),
        (np.array(["a"] * 2000), FS, "real numbers"),
    ],
)
def test_detect_rejects_bad_input(signal, fs, message):
    with pytest.raises(ValueError, match=message):
        detection.detect_r_peaks(signal, fs)


def test_detect_flat_signal_finds_nothing():
    peaks = detection.detect_r_peaks(np.zeros(10 * FS), FS)
    assert peaks.dtype == np.int64 and peaks.shape == (0,)


def test_reference_peaks_keeps_beat_symbols_only():
    class Annotation:
        sample = np.array([5, 10, 20, 30, 40])
        symbol = ["+", "N", "~", "V", "!"]

    assert detection.reference_peaks(Annotation()).tolist() == [10, 30]


def test_record_100_matches_the_benchmark(data_root):
    signal, peaks = detection.detect_record("100")
    raw, annotation = mitbih.read_record("100")
    assert np.array_equal(signal, mitbih.lead_signal(raw)[0])
    assert peaks.dtype == np.int64 and np.all(np.diff(peaks) > 0)
    reference = detection.reference_peaks(annotation)
    assert np.array_equal(reference, detection.reference_peaks("100"))
    assert len(reference) == 2273
    score = detection.score_detections(reference, peaks, FS)
    for key, expected in RECORD_100.items():
        assert getattr(score, key) == pytest.approx(expected, abs=MARGIN), key
    hit = score.matched >= 0
    offsets_ms = np.abs(peaks[score.matched[hit]] - reference[hit]) * 1000 / FS
    assert np.median(offsets_ms) < 10  # at the R peak, not at the QRS onset (~35 ms earlier)
