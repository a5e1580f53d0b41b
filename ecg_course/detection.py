"""R-peak detection on the raw MLII signal, scored against the cardiologists' annotations.

The detector. wfdb's ``gqrs_detect`` (a port of the GQRS detector of the PhysioNet WFDB
software; wfdb calls the port unsupported, but it ships in every wfdb release the course
pins, so it adds no dependency), followed by three steps that each fix a measured fault:

1. **the R peak, not the QRS onset**: gqrs marks a point about 33 ms before the
   annotation; :func:`wfdb.processing.correct_peaks` moves every detection to the
   largest deflection (up or down, beat by beat: ``peak_dir="both"``) of the signal minus
   its 150 ms moving average, within 100 ms. The annotations sit there too, so beats cut
   at detected peaks start where the course's beats start;
2. **one detection per beat**: two detections closer than :data:`REFRACTORY_S` (200 ms)
   keep the one with the larger deflection;
3. **T waves** (Pan & Tompkins 1985): a detection less than :data:`T_WAVE_WINDOW_S` after
   the previous one whose steepest slope (5-15 Hz band-pass) is under
   :data:`T_WAVE_SLOPE_RATIO` of the previous one's is a T wave and is dropped. This
   removes most false positives of record 113 (tall T waves).

Why gqrs. Gross sensitivity (Se) / positive predictivity (+P) over the 44 non-paced
MIT-BIH records (150 ms window) and the median |detection - annotation|, measured on
this machine while choosing:

- ``XQRS`` with its defaults: Se 99.16 %, +P 99.26 %, 0 ms;
- ``XQRS`` with T-wave inspection (0.36 s) and steps 1-3: 98.77 %, 99.42 %, 3 ms;
- ``gqrs_detect`` with its defaults: 99.87 %, 99.25 %, 33 ms;
- ``gqrs_detect`` and steps 1-3 (this module): 99.83 %, 99.57 %, 2.8 ms (one sample);
- neurokit2 0.3.0, ``ecg_findpeaks`` after ``ecg_clean``: ``neurokit`` 98.78 %, 98.13 %;
  ``pantompkins1985`` 99.38 %, 99.10 % (47 ms); ``hamilton2002`` 98.13 %, 98.58 %;
  ``elgendi2010`` 98.44 %, 96.90 %; ``kalidas2017`` 97.64 %, 99.53 %; ``promac``
  99.42 %, 96.89 %.

XQRS misses runs of ventricular beats (records 208, 106, 201, 203, 210: 847 misses in
all), which steps 1-3 cannot restore; gqrs misses few beats (129) and its false
positives (T waves, noise) are what the steps remove. neurokit2 did worse with every
method tried, so it is not a dependency. ``python -m benchmarks.bench_detection`` gives
the numbers per record. The two thresholds of step 3 (400 ms rather than Pan &
Tompkins' 360 ms, ratio 0.5) were chosen on these same 44 records, so the gross numbers
are a little optimistic for new recordings.

Scoring. The reference beats are the annotation samples (360 Hz) whose symbol is a beat,
i.e. a key of :data:`ecg_course.mitbih.SYMBOL_TO_LABEL` (N L R e j A a J S V E F / f Q);
rhythm, noise and ventricular-flutter-wave (``!``) annotations are not beats, so a
detection inside a flutter episode counts as a false positive: 256 of the 430 false
positives over the 44 records lie in record 207's ventricular flutter episodes (without
them +P would be about 99.83 %). A detection matches a reference beat when they are at
most :data:`MATCH_WINDOW_S` (150 ms, AAMI EC57) apart; the matching is
:func:`wfdb.processing.compare_annotations`'s.

References:
    Pan & Tompkins, "A real-time QRS detection algorithm", IEEE Trans. Biomed. Eng.
    32(3):230-236, 1985 (507 false positives and 277 missed beats of 116,137: 99.3 %
    of beats detected right).
    ANSI/AAMI EC57, "Testing and reporting performance results of cardiac rhythm and
    ST segment measurement algorithms".
"""

from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import maximum_filter1d
from scipy.signal import butter, sosfiltfilt

from ecg_course import mitbih
from ecg_course.physionet import processing, wfdb

MATCH_WINDOW_S = 0.15
"""A detection matches a reference beat at most this far from it (s; AAMI EC57)."""
MIN_FS = 50.0
"""Lowest sampling rate accepted (Hz): gqrs is not meant for ``fs <= 50``."""
MIN_DURATION_S = 2.0
"""Shortest signal accepted (s)."""
SEARCH_RADIUS_S = 0.1
"""How far :func:`wfdb.processing.correct_peaks` may move a detection (s)."""
SMOOTH_WINDOW_S = 0.15
"""Moving average subtracted before looking for the largest deflection (s)."""
REFRACTORY_S = 0.2
"""Two detections closer than this are one beat (s)."""
T_WAVE_WINDOW_S = 0.4
"""A detection this soon after the previous one is checked for being a T wave (s)."""
T_WAVE_SLOPE_RATIO = 0.5
"""... and dropped when its steepest slope is under this share of the previous one's."""
_SLOPE_BAND_HZ = (5.0, 15.0)
_SLOPE_HALF_WINDOW_S = 0.075


@dataclass(frozen=True)
class DetectionScore:
    """Detections scored against reference beats.

    Attributes:
        tp: reference beats matched by a detection.
        fp: detections matched to no reference beat.
        fn: reference beats matched by no detection.
        sensitivity: ``tp / (tp + fn)`` in [0, 1] (NaN without reference beats).
        positive_predictivity: ``tp / (tp + fp)`` in [0, 1] (NaN without detections).
        matched: for each reference beat, the index in ``detected`` of its detection,
            or -1; int64 ``(n_reference,)``.
    """

    tp: int
    fp: int
    fn: int
    sensitivity: float
    positive_predictivity: float
    matched: np.ndarray


def _check_signal(signal: np.ndarray, fs: float) -> np.ndarray:
    fs_value = float(fs)
    if not np.isfinite(fs_value) or fs_value <= MIN_FS:
        raise ValueError(
            f"fs must be a sampling rate in Hz above {MIN_FS:g} (MIT-BIH: 360), got {fs!r}."
        )
    array = np.asarray(signal)
    if array.ndim != 1:
        raise ValueError(
            f"signal must be one lead, a 1-D array of samples in mV; got shape {array.shape}."
        )
    if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
        raise ValueError(f"signal must hold real numbers (mV), got dtype {array.dtype}.")
    array = array.astype(np.float64)
    minimum = int(np.ceil(MIN_DURATION_S * fs_value))
    if len(array) < minimum:
        raise ValueError(
            f"signal is too short: {len(array)} samples, expected at least {minimum} "
            f"({MIN_DURATION_S:g} s at {fs_value:g} Hz)."
        )
    if not np.isfinite(array).all():
        first = int(np.flatnonzero(~np.isfinite(array))[0])
        raise ValueError(f"signal must be finite; sample {first} is {array[first]}.")
    return array


def _one_per_beat(deflection: np.ndarray, peaks: np.ndarray, gap: int) -> np.ndarray:
    """Of detections closer than ``gap`` samples keep the one with the larger deflection."""
    kept: list[int] = []
    for peak in peaks.tolist():
        if kept and peak - kept[-1] < gap:
            if deflection[peak] > deflection[kept[-1]]:
                kept[-1] = peak
        else:
            kept.append(peak)
    return np.asarray(kept, dtype=np.int64)


def _drop_t_waves(signal: np.ndarray, fs: float, peaks: np.ndarray) -> np.ndarray:
    """Drop detections soon after the previous kept one and much less steep (T waves)."""
    if len(peaks) < 2:
        return peaks
    sos = butter(2, _SLOPE_BAND_HZ, btype="bandpass", fs=fs, output="sos")
    slope = np.abs(np.diff(sosfiltfilt(sos, signal), prepend=signal[0]))
    half = max(1, round(_SLOPE_HALF_WINDOW_S * fs))
    steepest = maximum_filter1d(slope, size=2 * half + 1, mode="nearest")[peaks]
    window = T_WAVE_WINDOW_S * fs
    kept = [0]
    for i in range(1, len(peaks)):
        previous = kept[-1]
        soon = peaks[i] - peaks[previous] < window
        if soon and steepest[i] < T_WAVE_SLOPE_RATIO * steepest[previous]:
            continue
        kept.append(i)
    return peaks[kept]


def detect_r_peaks(signal: np.ndarray, fs: float) -> np.ndarray:
    """R peaks of one ECG lead (see the module docstring for the method).

    Args:
        signal: one lead (MLII for MIT-BIH), float ``(n_samples,)`` in mV, finite,
            at least :data:`MIN_DURATION_S` long.
        fs: its sampling rate (Hz), above :data:`MIN_FS`.

    Returns:
        Sample indices in ``signal`` of the R peaks (the largest QRS deflection, up or
        down), int64 ``(n_peaks,)``, sorted and unique. Empty for a flat signal.

    Raises:
        ValueError: ``signal`` is not 1-D, not real, not finite or too short, or ``fs``
            is not a number above :data:`MIN_FS`.
    """
    sig = _check_signal(signal, fs)
    fs = float(fs)
    if np.ptp(sig) == 0:
        return np.zeros(0, dtype=np.int64)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        found = np.asarray(processing.gqrs_detect(sig=sig, fs=fs), dtype=np.int64)
    if len(found) == 0:
        return found
    smooth = max(1, round(SMOOTH_WINDOW_S * fs))
    radius = max(1, round(SEARCH_RADIUS_S * fs))
    peaks = processing.correct_peaks(sig, found, radius, smooth, peak_dir="both")
    peaks = np.unique(np.clip(np.asarray(peaks, dtype=np.int64), 0, len(sig) - 1))
    deflection = np.abs(sig - processing.basic.smooth(sig, smooth))
    peaks = _one_per_beat(deflection, peaks, round(REFRACTORY_S * fs))
    return _drop_t_waves(sig, fs, peaks)


def reference_peaks(annotation: wfdb.Annotation | str | int) -> np.ndarray:
    """The annotated beats of a record: samples whose symbol is a beat.

    Args:
        annotation: a ``wfdb.Annotation`` (e.g. from :func:`ecg_course.mitbih.read_record`)
            or a MIT-BIH record name (``"100"`` or ``100``), read here.

    Returns:
        Sample indices (at the annotation's rate, 360 Hz for MIT-BIH) of the annotations
        whose symbol is a key of :data:`ecg_course.mitbih.SYMBOL_TO_LABEL`, int64
        ``(n_beats,)``, in time order.
    """
    if isinstance(annotation, (str, int)):
        annotation = mitbih.read_record(annotation)[1]
    symbols = np.asarray(annotation.symbol)
    keep = np.isin(symbols, list(mitbih.SYMBOL_TO_LABEL))
    return np.asarray(annotation.sample, dtype=np.int64)[keep]


def _as_samples(name: str, values: np.ndarray) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1 or (array.size and not np.issubdtype(array.dtype, np.integer)):
        raise ValueError(
            f"{name} must be a 1-D array of integer sample indices; got "
            f"shape {array.shape}, dtype {array.dtype}."
        )
    array = array.astype(np.int64)
    if np.any(np.diff(array) <= 0):
        raise ValueError(f"{name} must be sorted and unique (increasing sample indices).")
    return array


def window_samples(fs: float, tolerance_s: float = MATCH_WINDOW_S) -> int:
    """The matching window in samples: a detection matches when it is CLOSER than this.

    :func:`wfdb.processing.compare_annotations` matches strictly (``|d| < window``), so
    the window is ``floor(tolerance_s * fs) + 1``: at 360 Hz, 150 ms is 54 samples, and a
    detection 54 samples away matches (55 samples).
    """
    return int(np.floor(tolerance_s * fs + 1e-9)) + 1


def score_detections(
    reference: np.ndarray,
    detected: np.ndarray,
    fs: float,
    tolerance_s: float = MATCH_WINDOW_S,
) -> DetectionScore:
    """Match detections to reference beats and count hits, misses and false alarms.

    Matching is :func:`wfdb.processing.compare_annotations`'s (each reference beat takes
    the closest free detection, a detection closer to the next beat is left to it). A
    pair matches when ``|detected - reference| <= tolerance_s`` (inclusive: 150 ms is
    54 samples at 360 Hz, and 54 samples apart still match).

    Args:
        reference: reference beat samples, int ``(n_reference,)``, increasing.
        detected: detected peak samples, int ``(n_detected,)``, increasing.
        fs: sampling rate of both (Hz).
        tolerance_s: the matching window's half width (s).

    Returns:
        A :class:`DetectionScore`.

    Raises:
        ValueError: an array is not 1-D integer and increasing, or ``fs`` or
            ``tolerance_s`` is not positive.
    """
    reference = _as_samples("reference", reference)
    detected = _as_samples("detected", detected)
    if not float(fs) > 0 or not float(tolerance_s) > 0:
        raise ValueError(f"fs and tolerance_s must be positive, got {fs!r} and {tolerance_s!r}.")
    matched = np.full(len(reference), -1, dtype=np.int64)
    if len(reference) and len(detected):
        # compare_annotations matches when |difference| < window_width (strictly).
        window = window_samples(fs, tolerance_s)
        comparison = processing.compare_annotations(reference, detected, window)
        matched = np.asarray(comparison.matching_sample_nums, dtype=np.int64)
    tp = int((matched >= 0).sum())
    fp = len(detected) - tp
    fn = len(reference) - tp
    return DetectionScore(
        tp=tp,
        fp=fp,
        fn=fn,
        sensitivity=tp / len(reference) if len(reference) else float("nan"),
        positive_predictivity=tp / len(detected) if len(detected) else float("nan"),
        matched=matched,
    )


def detect_record(record_name: str | int) -> tuple[np.ndarray, np.ndarray]:
    """The R peaks of one MIT-BIH record's MLII lead (the first lead where it has none).

    Args:
        record_name: a MIT-BIH record, e.g. ``"100"`` or ``100``.

    Returns:
        ``(signal, peaks)``: the lead at 360 Hz, float64 ``(n_samples,)`` in mV, and
        :func:`detect_r_peaks` of it, int64 ``(n_peaks,)`` sample indices.
    """
    raw, _ = mitbih.read_record(record_name)
    signal, _ = mitbih.lead_signal(raw)
    return signal, detect_r_peaks(signal, raw.fs)
