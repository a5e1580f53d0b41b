"""MIT-BIH Arrhythmia Database -> 187-sample heartbeats in the five AAMI classes.

The beats are built from the 48 PhysioNet records (``.hea``, ``.dat``, ``.atr``,
fetched and SHA-256-checked by :mod:`ecg_course.sources`) the way Kachuee et al.
(2018) describe it, so that they match the popular Kaggle ``mitbih_train.csv`` /
``mitbih_test.csv`` files:

1. take the MLII lead (the first lead in the few records that have no MLII:
   102 and 104) and resample it from 360 Hz to 125 Hz (polyphase filter,
   :func:`scipy.signal.resample_poly`);
2. cut the record into consecutive 10 s windows (1,250 samples); in each window
   the nominal beat period ``T`` is the median R-R interval of the annotated
   beats in that window (the record's median when a window holds fewer than
   two beats);
3. for every reference beat annotation (the R peak), take the ``1.2 * T``
   samples that start at the R peak, scale them to [0, 1] with the minimum and
   maximum of their 10 s window (the window is stretched to cover the whole beat
   when the beat runs past its end, so every value stays in [0, 1]), and
   zero-pad (or cut) them to 187 samples;
4. label the beat by its annotation symbol, grouped into the AAMI classes
   ``N`` (N L R e j), ``S`` (A a J S), ``V`` (V E), ``F`` (F) and ``Q`` (/ f Q);
   other symbols (rhythm changes, noise, ``|``, ``~``, ``+`` ...) are not beats
   and are skipped.

Kachuee et al. use detected R peaks; the reference annotations are used here
instead, which is what makes the class labels exact.

Counts. The 48 records hold 109,494 annotated beats of these symbols
(N 90,631, S 2,781, V 7,236, F 803, Q 8,043). The Kaggle files hold 109,446
(N 90,589, S 2,779, V 7,236, F 803, Q 8,039): exactly one beat fewer per
record, and the class of the missing beats is exactly that of each record's
last beat (its window runs into the end of the recording). So the
``"kachuee"`` split drops the last beat of every record and reproduces the
Kaggle class totals exactly. The ``"inter-patient"`` split (de Chazal et al.
2004) keeps every annotated beat, which reproduces de Chazal's published
DS1/DS2 class counts exactly.

References:
    Kachuee, Fazeli, Sarrafzadeh, "ECG Heartbeat Classification: A Deep
    Transferable Representation", IEEE ICHI 2018, arXiv:1805.00794.
    de Chazal, O'Dwyer, Reilly, "Automatic classification of heartbeats using
    ECG morphology and heartbeat interval features", IEEE Trans. Biomed. Eng.
    51(7):1196-1206, 2004.
    Moody & Mark, "The impact of the MIT-BIH Arrhythmia Database", IEEE Eng.
    Med. Biol. 20(3):45-50, 2001.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
from scipy.signal import resample_poly
from tqdm.auto import tqdm

from ecg_course import cache, sources
from ecg_course.physionet import quiet_wfdb, wfdb

RECORDS: tuple[str, ...] = (
    "100", "101", "102", "103", "104", "105", "106", "107", "108", "109",
    "111", "112", "113", "114", "115", "116", "117", "118", "119", "121",
    "122", "123", "124", "200", "201", "202", "203", "205", "207", "208",
    "209", "210", "212", "213", "214", "215", "217", "219", "220", "221",
    "222", "223", "228", "230", "231", "232", "233", "234",
)  # fmt: skip
"""The 48 records of the MIT-BIH Arrhythmia Database (PhysioNet's ``RECORDS``)."""

DS1: tuple[str, ...] = (
    "101", "106", "108", "109", "112", "114", "115", "116", "118", "119", "122",
    "124", "201", "203", "205", "207", "208", "209", "215", "220", "223", "230",
)  # fmt: skip
"""de Chazal et al. (2004) training records (inter-patient paradigm)."""

DS2: tuple[str, ...] = (
    "100", "103", "105", "111", "113", "117", "121", "123", "200", "202", "210",
    "212", "213", "214", "219", "221", "222", "228", "231", "232", "233", "234",
)  # fmt: skip
"""de Chazal et al. (2004) test records (inter-patient paradigm)."""

PACED: tuple[str, ...] = ("102", "104", "107", "217")
"""Records with paced beats, left out of the inter-patient paradigm (AAMI EC57)."""

CLASSES: tuple[str, ...] = ("N", "S", "V", "F", "Q")
"""AAMI class names; the integer label of a beat is its index here."""

CLASS_DESCRIPTIONS: dict[str, str] = {
    "N": "normal, BBB",
    "S": "supraventricular",
    "V": "ventricular",
    "F": "fusion",
    "Q": "paced, unknown",
}
"""What each AAMI class holds, in two words (figure titles; BBB: bundle branch block)."""

AAMI_SYMBOLS: dict[str, str] = {
    "N": "NLRej",
    "S": "AaJS",
    "V": "VE",
    "F": "F",
    "Q": "/fQ",
}
"""Annotation symbols of each AAMI class (every symbol is one character)."""

SYMBOL_TO_LABEL: dict[str, int] = {
    symbol: CLASSES.index(name) for name, symbols in AAMI_SYMBOLS.items() for symbol in symbols
}

SOURCE_FS = 360
"""Sampling rate of the MIT-BIH records (Hz)."""
TARGET_FS = 125
"""Sampling rate of the beats (Hz), as in Kachuee et al."""
WINDOW_SECONDS = 10.0
"""Length of the windows that set the normalization and the beat period (s)."""
WINDOW_FACTOR = 1.2
"""A beat spans ``WINDOW_FACTOR`` times the window's median R-R interval."""
BEAT_LENGTH = 187
"""Samples per beat after zero-padding (1.496 s at 125 Hz)."""
LEAD = "MLII"
"""Preferred lead; records without it use their first lead."""
CODE_VERSION = 1
"""Version of the beat extraction: bump it when the algorithm changes in a way its
parameters below do not show. It is part of the cache key (old caches are rebuilt) and
of every saved model (:mod:`ecg_course.artifact` refuses models of another version)."""

RR_FEATURES: tuple[str, ...] = (
    "pre_rr", "post_rr", "local_rr", "record_rr",
    "pre_rr_ratio", "post_rr_ratio", "local_rr_ratio", "pre_post_ratio",
)  # fmt: skip
"""Names of the columns of :func:`rr_features`, in order (intervals in seconds)."""
LOCAL_RR_BEATS = 10
"""The local average RR is the mean pre-RR of a beat and the beats before it, this many."""

SPLITS: tuple[str, ...] = ("kachuee", "inter-patient")
"""Valid values of ``split`` in :func:`load_beat_sets` and :func:`load_mitbih`."""
KACHUEE_TEST_FRACTION = 0.2
"""Share of the beats held out by the ``"kachuee"`` (intra-patient) split."""

_CACHE_ARRAYS = ("X", "y", "record_ids", "rr")


def _checked_rows(rows: np.ndarray | Sequence[int] | Sequence[bool], n: int) -> np.ndarray:
    """``rows`` as a boolean mask ``(n,)`` or int64 row indices ``(k,)`` of ``n`` beats.

    Raises:
        ValueError: not 1-D, a mask of another length, an index outside ``-n..n-1``,
            or neither booleans nor integers.
    """
    rows = np.asarray(rows)
    if rows.ndim != 1:
        raise ValueError(f"rows must be 1-D (a mask or row indices); got shape {rows.shape}.")
    if rows.dtype == bool:
        if len(rows) != n:
            raise ValueError(f"the mask has {len(rows)} values for {n} beats.")
        return rows
    if not (np.issubdtype(rows.dtype, np.integer) or len(rows) == 0):  # [] is float64
        raise ValueError(
            f"rows must be a boolean mask or integer row indices; got dtype {rows.dtype}."
        )
    rows = rows.astype(np.int64)
    if len(rows) and (rows.min() < -n or rows.max() >= n):
        raise ValueError(
            f"row indices must lie in {-n}..{n - 1}; got values from {rows.min()} to {rows.max()}."
        )
    return rows


@dataclass(frozen=True)
class BeatSet:
    """The beats of one side of a split, with everything known about each beat.

    Row ``i`` of every array describes the same beat. :func:`load_beat_sets` returns
    one for training and one for testing.

    Attributes:
        beats: the beats, float32 ``(n, BEAT_LENGTH)`` in [0, 1], zero-padded.
        labels: AAMI labels, int64 ``(n,)``: 0..4 = N, S, V, F, Q (:data:`CLASSES`).
        records: the record (patient) of each beat, int64 ``(n,)``, e.g. ``201``.
        rr: the rhythm of each beat, float32 ``(n, 8)``, columns :data:`RR_FEATURES`
            (:func:`rr_features`, computed within each whole record).
    """

    beats: np.ndarray
    labels: np.ndarray
    records: np.ndarray
    rr: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.labels)
        if self.labels.shape != (n,) or self.records.shape != (n,):
            raise ValueError(
                f"labels and records must be 1-D of one length; "
                f"got {self.labels.shape} and {self.records.shape}."
            )
        if self.beats.ndim != 2 or len(self.beats) != n or self.rr.ndim != 2 or len(self.rr) != n:
            raise ValueError(
                f"beats and rr must be 2-D with one row per label ({n}); "
                f"got {self.beats.shape} and {self.rr.shape}."
            )

    def __len__(self) -> int:
        """The number of beats ``n``."""
        return len(self.labels)

    def where(self, rows: np.ndarray | Sequence[int] | Sequence[bool]) -> BeatSet:
        """The beats picked by ``rows``, every array filtered the same way.

        Args:
            rows: a boolean mask ``(n,)`` (True: keep the beat), e.g.
                ``beat_set.labels < 4``, or integer row indices ``(k,)``.

        Returns:
            A new :class:`BeatSet` of the picked beats, in the order of ``rows``.

        Raises:
            ValueError: a mask whose length is not ``n``, an index outside
                ``-n..n-1``, or ``rows`` neither booleans nor integers, or not 1-D.
        """
        rows = _checked_rows(rows, len(self))
        return BeatSet(self.beats[rows], self.labels[rows], self.records[rows], self.rr[rows])


class RecordBeats(NamedTuple):
    """Everything :func:`record_beats` computes for one record.

    Attributes:
        signal: the chosen lead resampled to ``fs`` Hz, in mV, shape ``(n_samples,)``.
        fs: sampling rate of ``signal`` (Hz).
        lead: name of the chosen lead (``"MLII"``, or the first lead).
        r_peaks: R-peak sample indices in ``signal`` of the labelled beats, ``(n_beats,)``.
        labels: AAMI labels 0..4 of those beats, int64 ``(n_beats,)``.
        symbols: their annotation symbols, ``(n_beats,)`` strings.
        lengths: samples taken from the signal for each beat (``1.2 * T``, at
            most ``BEAT_LENGTH``, fewer at the record's end), ``(n_beats,)``.
        beats: the normalized, zero-padded beats, float32 ``(n_beats, BEAT_LENGTH)``.
        rr: the rhythm of each beat (:func:`rr_features`), float32 ``(n_beats, 8)``.
    """

    signal: np.ndarray
    fs: int
    lead: str
    r_peaks: np.ndarray
    labels: np.ndarray
    symbols: np.ndarray
    lengths: np.ndarray
    beats: np.ndarray
    rr: np.ndarray


def _fetch_record(record: str, progress: bool = False) -> Path:
    """Fetch (and verify) the three files of ``record``; return the record's path stem."""

    def fetch_all() -> list[Path]:
        return [
            sources.fetch(
                f"mitdb/{record}.{ext}", sources.PHYSIONET_MITDB_URL + f"{record}.{ext}", progress
            )
            for ext in ("hea", "dat", "atr")
        ]

    paths = fetch_all()
    if len({path.parent for path in paths}) > 1 and sources.local_data_dir() is None:
        # The cache could not take one of them, which went to a temporary folder: now
        # that folder serves all three (sources.retrieve copies the others there).
        paths = fetch_all()
    stems = {path.with_suffix("") for path in paths}
    if len(stems) != 1:  # e.g. a partly filled local folder: copy to one place
        raise FileNotFoundError(f"The files of record {record} are not in one folder: {paths}")
    return stems.pop()


def _check_record(record: str) -> str:
    record = str(record)
    if record not in RECORDS:
        raise ValueError(f"Unknown MIT-BIH record {record!r}; valid records: {', '.join(RECORDS)}.")
    return record


def read_record(
    record_name: str | int, progress: bool = False
) -> tuple[wfdb.Record, wfdb.Annotation]:
    """One record as PhysioNet publishes it: every lead at 360 Hz and the reference annotations.

    Args:
        record_name: a MIT-BIH record, e.g. ``"100"`` or ``100``.
        progress: show download progress bars (when the files are downloaded).

    Returns:
        ``(record, annotation)`` as read by wfdb: ``record.p_signal`` float64
        ``(n_samples, n_leads)`` in mV, named by ``record.sig_name``;
        ``annotation.sample`` (sample indices) and ``annotation.symbol``.

    Raises:
        ValueError: unknown record, a file's SHA-256 does not match, or the record is
            not sampled at :data:`SOURCE_FS`.
    """
    record = _check_record(str(record_name))
    stem = _fetch_record(record, progress)
    raw = wfdb.rdrecord(str(stem))
    if raw.fs != SOURCE_FS:
        raise ValueError(f"Record {record} is sampled at {raw.fs} Hz, expected {SOURCE_FS} Hz.")
    with quiet_wfdb():
        annotation = wfdb.rdann(str(stem), "atr")
    return raw, annotation


def lead_signal(raw: wfdb.Record) -> tuple[np.ndarray, str]:
    """The lead the course uses: :data:`LEAD` (MLII), or the first lead where there is none.

    Args:
        raw: a record from :func:`read_record`.

    Returns:
        ``(signal, lead)``: that lead at the record's rate (360 Hz), float64
        ``(n_samples,)`` in mV, and its name (e.g. ``"MLII"``, ``"V5"`` in record 102).
    """
    lead = LEAD if LEAD in raw.sig_name else raw.sig_name[0]
    return raw.p_signal[:, raw.sig_name.index(lead)], lead


def rr_features(r_peaks: np.ndarray, fs: float) -> np.ndarray:
    """The rhythm around each beat of ONE record: RR intervals and their ratios.

    For beat ``i`` at time ``t[i] = r_peaks[i] / fs`` (columns as in :data:`RR_FEATURES`):

    - ``pre_rr = t[i] - t[i-1]`` and ``post_rr = t[i+1] - t[i]`` (s); the first beat
      has no pre-RR and takes its post-RR, the last beat takes its pre-RR;
    - ``local_rr``: the mean ``pre_rr`` of beat ``i`` and the beats before it, at most
      :data:`LOCAL_RR_BEATS` of them (fewer at the start of the record);
    - ``record_rr``: the mean RR interval of the record, ``(t[-1] - t[0]) / (n - 1)``;
    - ``pre_rr / record_rr``, ``post_rr / record_rr``, ``local_rr / record_rr``: the
      same intervals in units of the patient's own heart period, so that a fast and
      a slow heart compare (Mondejar-Guerra et al. 2019; Lin & Yang 2014);
    - ``pre_rr / post_rr``: a premature beat followed by a pause gives a small value.

    Args:
        r_peaks: R-peak sample indices of every beat of one record, increasing, ``(n,)``.
        fs: their sampling rate (Hz).

    Returns:
        float32 ``(n, 8)``.

    Raises:
        ValueError: fewer than two peaks, peaks not 1-D or not strictly increasing,
            or ``fs`` not positive.
    """
    peaks = np.asarray(r_peaks)
    if peaks.ndim != 1 or len(peaks) < 2:
        raise ValueError(
            f"r_peaks must be a 1-D array of at least two R peaks of one record; "
            f"got shape {peaks.shape}."
        )
    if not np.all(np.isfinite(peaks)) or np.any(np.diff(peaks) <= 0):
        raise ValueError(
            "r_peaks must be finite and strictly increasing (one record, in time order)."
        )
    if not fs > 0:
        raise ValueError(f"fs must be a positive sampling rate in Hz; got {fs!r}.")
    rr = np.diff(peaks.astype(np.float64)) / fs  # (n - 1,) seconds
    pre = np.concatenate([rr[:1], rr])
    post = np.concatenate([rr, rr[-1:]])
    sums = np.cumsum(np.concatenate([[0.0], pre]))
    first = np.maximum(np.arange(len(pre)) - LOCAL_RR_BEATS + 1, 0)
    local = (sums[1:] - sums[first]) / (np.arange(len(pre)) - first + 1)
    record = np.full_like(pre, rr.mean())
    columns = (pre, post, local, record, pre / record, post / record, local / record, pre / post)
    return np.stack(columns, axis=1).astype(np.float32)


def relative_to_record(beats: np.ndarray, record_ids: np.ndarray) -> np.ndarray:
    """Each beat minus its record's median beat: how it differs from the patient's usual beat.

    The median over all of a record's beats (most of them normal for nearly every
    patient) is that patient's typical beat; subtracting it removes what is peculiar to
    the patient (electrode placement, a bundle branch block, the height of the T wave) and
    keeps what is peculiar to the beat. It needs no labels, only the patient's other
    beats: fine for a recording analysed after the fact; a monitor working in real time
    would use the beats seen so far.

    Args:
        beats: ``(n, T)`` beats, e.g. :attr:`BeatSet.beats`.
        record_ids: ``(n,)`` the record of each beat.

    Returns:
        float32 ``(n, T)``, values in [-1, 1] for beats in [0, 1].
    """
    beats = np.asarray(beats, dtype=np.float32)
    record_ids = np.asarray(record_ids)
    if beats.ndim != 2 or record_ids.shape != (len(beats),):
        raise ValueError(
            f"expected beats (n, T) and record_ids (n,); got {beats.shape} and {record_ids.shape}."
        )
    out = np.empty_like(beats)
    for record in np.unique(record_ids):
        rows = record_ids == record
        out[rows] = beats[rows] - np.median(beats[rows], axis=0)
    return out


def beats_at(signal: np.ndarray, r_peaks: np.ndarray, fs: int = SOURCE_FS) -> RecordBeats:
    """Cut a raw lead into beats at the given R peaks, with each beat's rhythm.

    The same pipeline serves the cardiologists' annotations (:func:`record_beats`)
    and a detector's peaks (chapter 3), so that a model sees the same kind of beat
    whichever found the peaks.

    Args:
        signal: one lead in mV at ``fs`` Hz, float ``(n_samples,)``.
        r_peaks: R-peak sample indices in ``signal``, increasing, ``(n_beats,)``.
        fs: the rate of ``signal`` and ``r_peaks`` (Hz); the MIT-BIH rate by default.

    Returns:
        A :class:`RecordBeats` (``signal`` and ``r_peaks`` at :data:`TARGET_FS`) whose
        ``labels`` are -1 and ``symbols`` empty strings: nobody has labelled these beats.
    """
    signal = np.asarray(signal, dtype=np.float64)
    peaks = np.asarray(r_peaks, dtype=np.int64)
    if signal.ndim != 1 or not np.isfinite(signal).all():
        raise ValueError(f"signal must be one lead, 1-D and finite; got shape {signal.shape}.")
    if peaks.ndim != 1 or len(peaks) and (peaks.min() < 0 or peaks.max() >= len(signal)):
        raise ValueError(f"r_peaks must be sample indices in 0..{len(signal) - 1} of signal.")
    resampled = resample_poly(signal, TARGET_FS, fs)
    at_target = np.clip(np.rint(peaks * (TARGET_FS / fs)).astype(np.int64), 0, len(resampled) - 1)
    lengths, beats = _extract(resampled, at_target)
    n = len(peaks)
    return RecordBeats(
        signal=resampled,
        fs=TARGET_FS,
        lead="",
        r_peaks=at_target,
        labels=np.full(n, -1, dtype=np.int64),
        symbols=np.full(n, "", dtype="<U1"),
        lengths=lengths,
        beats=beats,
        rr=rr_features(peaks, fs),
    )


def record_beats(record_name: str | int, progress: bool = False) -> RecordBeats:
    """Resample one record and cut it into labelled, normalized beats.

    This is the whole pipeline for one record (see the module docstring), kept
    separate so that the notebook can plot each step.

    Args:
        record_name: a MIT-BIH record, e.g. ``"100"`` or ``100``.
        progress: show download progress bars (when the files are downloaded).

    Returns:
        A :class:`RecordBeats` with the resampled signal, the R peaks and labels
        of every annotated beat (the record's last beat included), the beats and
        their RR features (computed from the annotations at 360 Hz).

    Raises:
        ValueError: unknown record, or a file's SHA-256 does not match.
    """
    raw, annotation = read_record(record_name, progress)
    signal, lead = lead_signal(raw)
    symbols = np.asarray(annotation.symbol)
    keep = np.isin(symbols, list(SYMBOL_TO_LABEL))
    result = beats_at(signal, annotation.sample[keep], raw.fs)
    labels = np.array([SYMBOL_TO_LABEL[s] for s in symbols[keep]], dtype=np.int64)
    return result._replace(lead=lead, labels=labels, symbols=symbols[keep])


def _extract(signal: np.ndarray, r_peaks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cut, normalize and zero-pad the beats that start at ``r_peaks`` (see module docstring)."""
    n = len(signal)
    window = round(WINDOW_SECONDS * TARGET_FS)
    record_rr = float(np.median(np.diff(r_peaks))) if len(r_peaks) > 1 else float(BEAT_LENGTH)
    beat_window = r_peaks // window
    lengths = np.zeros(len(r_peaks), dtype=np.int64)
    beats = np.zeros((len(r_peaks), BEAT_LENGTH), dtype=np.float32)
    for w in np.unique(beat_window):
        members = np.flatnonzero(beat_window == w)
        period = float(np.median(np.diff(r_peaks[members]))) if len(members) > 1 else record_rr
        span = min(round(WINDOW_FACTOR * period), BEAT_LENGTH)
        start = int(w) * window
        stop = min(start + window, n)
        lo, hi = signal[start:stop].min(), signal[start:stop].max()
        for i in members:
            r = int(r_peaks[i])
            end = min(r + span, n)
            segment = signal[r:end]
            seg_lo = min(lo, segment.min()) if end > stop else lo
            seg_hi = max(hi, segment.max()) if end > stop else hi
            scale = seg_hi - seg_lo
            beats[i, : end - r] = (segment - seg_lo) / scale if scale > 0 else 0.0
            lengths[i] = end - r
    np.clip(beats, 0.0, 1.0, out=beats)  # rounding only: values are already in [0, 1]
    return lengths, beats


def _cache_key(records: Sequence[str]) -> str:
    params = {
        "records": list(records),
        "source_fs": SOURCE_FS,
        "target_fs": TARGET_FS,
        "window_seconds": WINDOW_SECONDS,
        "window_factor": WINDOW_FACTOR,
        "beat_length": BEAT_LENGTH,
        "lead": LEAD,
        "symbols": AAMI_SYMBOLS,
        "code_version": CODE_VERSION,
        "rr_features": list(RR_FEATURES),
        "local_rr_beats": LOCAL_RR_BEATS,
    }
    return cache.cache_key("mitbih_beats", params)


def cache_path(records: Sequence[str | int] = RECORDS) -> Path:
    """Where :func:`build_beats` caches the beats of ``records`` (see :mod:`ecg_course.cache`)."""
    records = tuple(_check_record(str(r)) for r in records)
    return cache.cache_path("mitbih_beats", _cache_key(records))


_Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _load_cache(path: Path, key: str) -> _Arrays | None:
    """The cached arrays, or None when the file is missing, unreadable, stale or malformed."""
    arrays = cache.read_arrays(path, key, _CACHE_ARRAYS)
    if arrays is None:
        return None
    X, y, ids, rr = (arrays[name] for name in _CACHE_ARRAYS)
    n = len(y)
    ok = (
        X.dtype == np.float32
        and X.shape == (n, BEAT_LENGTH)
        and y.dtype == np.int64
        and y.shape == (n,)
        and ids.shape == (n,)
        and np.issubdtype(ids.dtype, np.integer)
        and rr.dtype == np.float32
        and rr.shape == (n, len(RR_FEATURES))
        and n > 0
        and np.isfinite(X).all()
        and np.isfinite(rr).all()
        and X.min() >= 0.0
        and X.max() <= 1.0
        and y.min() >= 0
        and y.max() < len(CLASSES)
    )
    return (X, y, ids, rr) if ok else None


def _build(records: Sequence[str], progress: bool) -> _Arrays:
    """Build the beats and RR features of ``records`` from the raw files (no cache)."""
    X, y, ids, rr = [], [], [], []
    for record in tqdm(records, desc="MIT-BIH records", unit="record", disable=not progress):
        result = record_beats(record)
        X.append(result.beats)
        y.append(result.labels)
        ids.append(np.full(len(result.labels), int(record), dtype=np.int64))
        rr.append(result.rr)
    return np.concatenate(X), np.concatenate(y), np.concatenate(ids), np.concatenate(rr)


def _build_cached(records: Sequence[str | int], progress: bool) -> _Arrays:
    """``(X, y, record_ids, rr)`` of ``records``, built once, then read from the cache."""
    records = tuple(_check_record(str(r)) for r in records)
    if not records:
        raise ValueError("records is empty; pass at least one MIT-BIH record.")
    key = _cache_key(records)
    path = cache_path(records)
    cached = _load_cache(path, key)
    if cached is not None:
        return cached
    X, y, ids, rr = _build(records, progress)
    # A cache that cannot be written only warns (CacheWarning): the beats are returned.
    cache.store_arrays(path, key, {"X": X, "y": y, "record_ids": ids, "rr": rr})
    return X, y, ids, rr


def build_beats(
    records: Sequence[str | int] = RECORDS, progress: bool = True, return_rr: bool = False
) -> tuple[np.ndarray, ...]:
    """All annotated beats of ``records``, built once and then read from the cache.

    The cache is a compressed ``.npz`` in ``sources.cache_dir() / "processed"``,
    named and keyed by a hash of the records and of every extraction parameter
    (and :data:`ecg_course.cache.VERSION`), written atomically. A cache that cannot
    be read, lacks an array, has wrong shapes or dtypes, or stores another key is
    rebuilt, never trusted.

    Args:
        records: MIT-BIH record names (default: all 48).
        progress: show a progress bar over the records while building.
        return_rr: also return the RR features of every beat (:func:`rr_features`,
            computed record by record from the reference annotations).

    Returns:
        ``(X, y, record_ids)``: beats float32 ``(n, 187)`` in [0, 1], AAMI labels
        int64 ``(n,)`` (0..4 = N, S, V, F, Q) and the record of each beat, int64
        ``(n,)`` (e.g. ``100``); with ``return_rr``, then ``rr``: float32 ``(n, 8)``.
        Beats are in record order, then time order; the last beat of each record is
        included (see :func:`load_beat_sets`).
    """
    X, y, ids, rr = _build_cached(records, progress)
    return (X, y, ids, rr) if return_rr else (X, y, ids)


def _last_beat_mask(record_ids: np.ndarray) -> np.ndarray:
    """True for the last beat of each record (beats grouped by record, in time order)."""
    last = np.ones(len(record_ids), dtype=bool)
    last[:-1] = record_ids[1:] != record_ids[:-1]
    return last


def _kachuee_rows(every: BeatSet, random_state: int) -> tuple[np.ndarray, np.ndarray]:
    """Row indices ``(train, test)`` of the ``"kachuee"`` split of all 48 records' beats.

    Each record's last beat is left out (as in the Kaggle files); the others are split
    80/20 at random, stratified by class.
    """
    from sklearn.model_selection import train_test_split

    kept = np.flatnonzero(~_last_beat_mask(every.records))
    train, test = train_test_split(
        kept,
        test_size=KACHUEE_TEST_FRACTION,
        stratify=every.labels[kept],
        random_state=random_state,
    )
    return train, test


def load_beat_sets(
    split: str = "kachuee", random_state: int = 42, progress: bool = True
) -> tuple[BeatSet, BeatSet]:
    """MIT-BIH heartbeats split for training and testing, as two :class:`BeatSet`.

    ``train, test = load_beat_sets("inter-patient")``; then e.g. ``train.beats``,
    ``train.labels``, ``train.records``, ``train.rr``, and ``train.where(mask)`` to keep
    some of the beats (every array alike).

    Args:
        split: ``"kachuee"``: intra-patient, as the Kaggle files: every beat of
            the 48 records except each record's last one (109,446 beats), split
            80/20 at random, stratified by class. ``"inter-patient"``: de Chazal
            et al. (2004): every beat of the DS1 records for training and of the
            DS2 records for testing (the paced records 102, 104, 107, 217 are in
            neither), in record and time order.
        random_state: seed of the ``"kachuee"`` split (unused by ``"inter-patient"``).
        progress: show a progress bar while the beats are built the first time.

    Returns:
        ``(train, test)``: a :class:`BeatSet` each (beats float32 ``(n, 187)``,
        labels int64 ``(n,)``, records int64 ``(n,)``, rr float32 ``(n, 8)``).

    Raises:
        ValueError: unknown ``split``.
    """
    if split not in SPLITS:
        raise ValueError(f"Unknown split {split!r}; valid splits: {', '.join(map(repr, SPLITS))}.")
    every = BeatSet(*_build_cached(RECORDS, progress=progress))
    if split == "kachuee":
        train, test = _kachuee_rows(every, random_state)
    else:
        train = np.isin(every.records, [int(r) for r in DS1])
        test = np.isin(every.records, [int(r) for r in DS2])
    return every.where(train), every.where(test)


def load_mitbih(
    split: str = "kachuee",
    random_state: int = 42,
    progress: bool = True,
    return_records: bool = False,
    return_rr: bool = False,
) -> tuple[np.ndarray, ...]:
    """MIT-BIH heartbeats split for training and testing, as a tuple of arrays.

    The same split as :func:`load_beat_sets` (see it for ``split``, ``random_state``
    and ``progress``), whose :class:`BeatSet` results are easier to filter and need no
    flags: ``X_train, y_train, X_test, y_test = load_mitbih(split="kachuee")``.

    Args:
        return_records: also return the record of every beat, to split by patient
            (e.g. validation records held out of the training ones).
        return_rr: also return the RR features of every beat (:data:`RR_FEATURES`;
            see :func:`rr_features`), computed within each whole record.

    Returns:
        ``X_train, y_train, X_test, y_test``: X float32 ``(n, 187)`` in [0, 1],
        zero-padded; y int64 in 0..4 = N, S, V, F, Q. With ``return_records``,
        then ``records_train, records_test``: int64 ``(n,)``, e.g. ``201``, aligned
        with the rows of X and y. With ``return_rr``, then ``rr_train, rr_test``:
        float32 ``(n, 8)``, aligned the same way.

    Raises:
        ValueError: unknown ``split``.
    """
    train, test = load_beat_sets(split, random_state, progress)
    arrays = [train.beats, train.labels, test.beats, test.labels]
    if return_records:
        arrays += [train.records, test.records]
    if return_rr:
        arrays += [train.rr, test.rr]
    return tuple(arrays)


def load_mitbih_csv(
    train_path: str | os.PathLike, test_path: str | os.PathLike
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Load the Kaggle ``mitbih_train.csv`` / ``mitbih_test.csv`` files.

    Each row is 187 samples then the label (0..4 = N, S, V, F, Q), comma-separated,
    without a header.

    Returns:
        ``X_train, y_train, X_test, y_test``: X float32 ``(n, 187)``, y int64.

    Raises:
        FileNotFoundError: a path does not name a file.
        ValueError: a row does not have 188 columns, a value is not a number or
            is NaN, or a label is not an integer in 0..4.
    """
    X_train, y_train = _read_kaggle_csv(Path(train_path))
    X_test, y_test = _read_kaggle_csv(Path(test_path))
    return X_train, y_train, X_test, y_test


def _read_kaggle_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    expected = BEAT_LENGTH + 1
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: expected a Kaggle MIT-BIH CSV "
            "(mitbih_train.csv or mitbih_test.csv)."
        )
    try:
        with warnings.catch_warnings():  # an empty file is reported below, not warned about
            warnings.filterwarnings("ignore", message=".*input contained no data.*")
            table = np.loadtxt(path, delimiter=",", dtype=np.float64, ndmin=2)
    except ValueError as error:
        raise ValueError(
            f"{path} is not a Kaggle MIT-BIH CSV: every row must hold {expected} comma-separated "
            f"numbers ({BEAT_LENGTH} samples then the label). ({error})"
        ) from error
    if table.shape[0] == 0:
        raise ValueError(f"{path} holds no rows; expected rows of {expected} columns.")
    if table.shape[1] != expected:
        raise ValueError(
            f"{path} has {table.shape[1]} columns, expected {expected} "
            f"({BEAT_LENGTH} samples then the label)."
        )
    if np.isnan(table).any():
        rows = np.flatnonzero(np.isnan(table).any(axis=1))
        raise ValueError(f"{path} holds NaN values (first in row {rows[0] + 1}).")
    labels = table[:, -1]
    bad = (labels != np.round(labels)) | (labels < 0) | (labels >= len(CLASSES))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{path}: label {labels[row]!r} in row {row + 1} is not one of 0..{len(CLASSES) - 1} "
            f"({', '.join(CLASSES)})."
        )
    return table[:, :-1].astype(np.float32), labels.astype(np.int64)
