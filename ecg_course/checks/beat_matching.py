"""Chapter 3: matching the detected R peaks to the annotated beats (check_beat_matching).

Its own module because the hand-made cases, the reference matcher (wfdb's rule) and the
messages that name each matching mistake make a topic of their own, apart from the RR
features and the AAMI table of chapter3.py."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ecg_course import detection
from ecg_course.checks._common import (
    ExerciseError,
    _call_answer,
    _expect,
    _name_mistake,
    _numpy_answer,
    _passed,
    _returned,
)
from ecg_course.physionet import processing

# --- matching detections to annotated beats --------------------------------------------------

# samples: closer than 55, up to 150 ms at 360 Hz, as chapter 3 matches its detections
_MATCH_TOLERANCE = detection.window_samples(360)
_MATCH_CASES: tuple[tuple[str, tuple[int, ...], tuple[int, ...]], ...] = (
    # (what, reference, detected): small cases where the right answer leaves no choice
    (
        "detections just inside and just outside the tolerance, a missed beat and a far one",
        (1000, 1400, 1800, 2200, 2600),
        (1054, 1455, 1744, 2200, 2750, 2900),  # 2750 and 2900: nearest to 2600, far off
    ),
    (
        "a detection between two annotated beats, nearer to the second",
        (700, 1000, 1060, 1500, 3000, 3060),
        (700, 1035, 1500, 3020),
    ),
    (
        "two detections near one beat, extra detections and a missed beat",
        (500, 900, 1300),
        (100, 470, 510, 880, 912, 1100),
    ),
    (  # mutual nearest neighbours leave beat 0 without its detection 0
        "a beat whose nearest detection is nearer to the next beat, and a tie",
        (1000, 1060, 2000),
        (960, 1035, 1990, 2010),
    ),
    (  # the first detection near beat 0 is the nearer: the last claimant does not win
        "two detections near each beat, the nearer one first, then second",
        (500, 1500),
        (495, 520, 1480, 1490),
    ),
)
_MATCH_FS = 360  # Hz: the sampling rate of the cases, to name a tolerance converted with it


def _wfdb_matches(reference: np.ndarray, detected: np.ndarray, tolerance: int) -> np.ndarray:
    """``wfdb.processing.compare_annotations(reference, detected, tolerance)``'s
    ``matching_sample_nums``: per annotated beat the index of its detection, or -1."""
    return processing.compare_annotations(reference, detected, tolerance).matching_sample_nums


def _random_beats(seed: int = 3, n: int = 2000, fs: int = 360) -> tuple[np.ndarray, np.ndarray]:
    """Annotated R peaks of ``n`` beats (RR 0.5-1.2 s) and a detector's peaks: jittered,
    some far off, 2% missed, 40 false detections anywhere."""
    rng = np.random.default_rng(seed)
    reference = 200 + np.cumsum(np.r_[0, rng.integers(fs // 2, int(1.2 * fs), n - 1)])
    detected = reference + np.rint(rng.normal(0, 8, n)).astype(np.int64)
    far = rng.random(n) < 0.03
    detected[far] = reference[far] + rng.choice([-1, 1], far.sum()) * rng.integers(
        40, 70, far.sum()
    )
    detected = detected[rng.random(n) > 0.02]
    false = rng.integers(0, reference[-1] + fs // 2, 40)
    return reference.astype(np.int64), np.unique(np.r_[detected, false]).astype(np.int64)


def _as_matches(result, reference: np.ndarray, detected: np.ndarray, where: str) -> np.ndarray:
    """The student's answer as an int64 array, or a message naming what it is instead."""
    n_ref, n_det = len(reference), len(detected)
    result = _returned(result, "match_beats", "the array of matches")
    try:
        values = list(np.asarray(result, dtype=object).ravel())
    except ValueError:  # ragged: the message below says what it is
        values = []
    _expect(
        not any(v is None for v in values),
        f"match_beats returned None for some beats ({where}): an annotated beat without a "
        "detection gets -1, so that the answer is an integer array.",
    )
    try:
        matches = np.asarray(result)
        numbers = matches.astype(np.float64)
    except (TypeError, ValueError) as error:
        raise ExerciseError(
            f"match_beats returned a {type(result).__name__} that is not an array of indices "
            f"({error}): return one integer per annotated beat."
        ) from error
    _expect(
        matches.ndim == 1,
        f"match_beats returned shape {matches.shape} ({where}), expected ({n_ref},): one "
        "detection index (or -1) per annotated beat.",
    )
    if len(matches) != n_ref:
        expected = _wfdb_matches(reference, detected, _MATCH_TOLERANCE)
        matched = np.flatnonzero(expected >= 0)
        per_detection = np.full(n_det, -1)
        per_detection[expected[matched]] = matched
        tail = (
            f"({len(matches)} for {n_ref} annotated beats and {n_det} detections; {where}): "
            "return one entry per annotated beat, len(reference), holding the index of its "
            "detection or -1."
        )
        _name_mistake(
            lambda wrong: numbers.shape == wrong.shape and np.array_equal(numbers, wrong),
            [
                (
                    expected[matched],
                    f"match_beats returned one entry per matched detection {tail}",
                ),
                (
                    per_detection,
                    "match_beats returned one entry per detection, the annotated beat it "
                    f"matches {tail}",
                ),
            ],
        )
        raise ExerciseError(f"match_beats returned {len(matches)} entries {tail}")
    _expect(
        not np.isnan(numbers).any(),
        f"match_beats returned NaN for the beats without a detection ({where}): use -1, "
        "so that the answer is an integer array.",
    )
    _expect(
        matches.dtype != bool,
        f"match_beats returned True/False per beat ({where}): return the INDEX in `detected` "
        "of the detection matched to each annotated beat, or -1.",
    )
    _expect(
        np.issubdtype(matches.dtype, np.integer),
        f"match_beats returned dtype {matches.dtype} ({where}): indices are integers; make the "
        "array with an integer dtype, e.g. np.full(len(reference), -1).",
    )
    matches = matches.astype(np.int64)
    positions = matches[matches >= 0]
    if len(positions) and positions.max() >= n_det:
        _expect(
            not np.isin(positions, detected).all(),
            f"match_beats returned sample positions (e.g. {positions.max()}) ({where}): return "
            "the INDEX j of the matched detection, not detected[j].",
        )
        raise ExerciseError(
            f"match_beats returned {positions.max()} ({where}), but `detected` has only {n_det} "
            "detections: return the index of the matched detection in `detected`, or -1."
        )
    _expect(
        (matches >= -1).all(),
        f"match_beats returned {matches.min()} ({where}): -1 marks an annotated beat without "
        "a detection; other entries are indices into `detected`.",
    )
    return matches


def _nearest_rule(reference: np.ndarray, detected: np.ndarray, tolerance: float) -> np.ndarray:
    """The exercise's rule at any tolerance: each detection belongs to its nearest annotated
    beat (the earlier one on a tie), and each beat keeps the nearest of its detections (the
    earlier one on a tie) closer than ``tolerance``. On the checker's cases at its tolerance
    it gives wfdb's matches (tests/test_checks_beat_matching.py); at another tolerance, what
    an answer with the right rule and the tolerance in other units gives."""
    matches = np.full(len(reference), -1, dtype=np.int64)
    if not len(reference) or not len(detected):
        return matches
    after = np.clip(np.searchsorted(reference, detected), 0, len(reference) - 1)
    before = np.clip(after - 1, 0, len(reference) - 1)
    to_before = np.abs(detected - reference[before]) <= np.abs(reference[after] - detected)
    beat = np.where(to_before, before, after)
    distance = np.abs(detected - reference[beat])
    for j in sorted(np.flatnonzero(distance < tolerance), key=lambda j: (-distance[j], -j)):
        matches[beat[j]] = j  # the farthest first: the nearest (the earliest on a tie) stays
    return matches


def _differs(
    matches: np.ndarray,
    expected: np.ndarray,
    reference: np.ndarray,
    detected: np.ndarray,
) -> np.ndarray:
    """The annotated beats whose match is not the expected one; a detection as near as the
    expected one (a tie) is as good."""
    d_got = np.abs(reference - detected[np.maximum(matches, 0)])
    d_want = np.abs(reference - detected[np.maximum(expected, 0)])
    tie = (matches >= 0) & (expected >= 0) & (d_got == d_want)
    return np.flatnonzero((matches != expected) & ~tie)


def _valid_matches(
    matches: np.ndarray,
    reference: np.ndarray,
    detected: np.ndarray,
    tolerance: int,
    where: str,
) -> None:
    """Raise unless no detection is used twice and every match is within the tolerance."""
    matched = np.flatnonzero(matches >= 0)
    used, counts = np.unique(matches[matched], return_counts=True)
    if (counts > 1).any():
        j = used[counts > 1][0]
        beats = np.flatnonzero(matches == j)
        raise ExerciseError(
            f"detection {j} (at sample {detected[j]}) is matched to the annotated beats "
            f"{beats.tolist()} (at {reference[beats].tolist()}) ({where}): a detection matches "
            "at most one annotated beat, the nearest one; once matched it is taken."
        )
    distance = np.abs(reference[matched] - detected[matches[matched]])
    if (distance < tolerance).all():
        return
    worst = matched[np.argmax(distance)]
    _expect(
        distance.max() > tolerance,
        f"beat {worst} (at {reference[worst]}) is matched to detection {matches[worst]} (at "
        f"{detected[matches[worst]]}), exactly {tolerance} samples away ({where}): the "
        f"tolerance is strict, a match is closer than it, |d| < tolerance (as in "
        "wfdb.processing.compare_annotations's window_width).",
    )
    raise ExerciseError(
        f"beat {worst} (at {reference[worst]}) is matched to detection {matches[worst]} (at "
        f"{detected[matches[worst]]}), {distance.max()} samples away, beyond the tolerance of "
        f"{tolerance} samples ({where}): a match needs |d| < tolerance."
    )


def _matching_differs(
    matches: np.ndarray,
    expected: np.ndarray,
    reference: np.ndarray,
    detected: np.ndarray,
    where,
) -> None:
    """Raise naming the first annotated beat whose match is not the expected one."""
    i = int(_differs(matches, expected, reference, detected)[0])
    got, want = matches[i], expected[i]
    beat = f"beat {i} (at {reference[i]})"
    if want >= 0:
        d = abs(int(detected[want]) - int(reference[i]))
        _expect(
            got >= 0,
            f"{beat} has no match, but detection {want} (at {detected[want]}) is {d} samples "
            f"away, within the tolerance of {_MATCH_TOLERANCE} (|d| < tolerance), and no "
            f"annotated beat is nearer to it ({where}).",
        )
        other = abs(int(detected[got]) - int(reference[i]))
        _expect(
            other <= d,
            f"{beat} is matched to detection {got} (at {detected[got]}, {other} samples away), "
            f"but detection {want} (at {detected[want]}) is nearer, {d} samples ({where}): "
            "a beat keeps the NEAREST of its detections within the tolerance.",
        )
    else:
        g = int(detected[got])
        nearer = [
            k
            for k in (i - 1, i + 1)
            if 0 <= k < len(reference) and abs(int(reference[k]) - g) < abs(int(reference[i]) - g)
        ]
        _expect(
            not nearer,
            f"{beat} is matched to detection {got} (at {g}), but that detection is nearer to "
            f"annotated beat {nearer[0] if nearer else ''} (at "
            f"{reference[nearer[0]] if nearer else ''}) ({where}): a detection goes to the "
            "NEAREST annotated beat, even one that comes later.",
        )
    raise ExerciseError(
        f"{beat} is matched to {got}, expected {want} ({where}): match each annotated beat "
        "to the nearest detection closer than the tolerance that no nearer beat takes, "
        "as wfdb.processing.compare_annotations does."
    )


def check_beat_matching(match_beats: Callable) -> None:
    """Check a student's ``match_beats(reference, detected, tolerance) -> (len(reference),)``.

    The answer must be that of ``wfdb.processing.compare_annotations(reference, detected,
    window_width=tolerance).matching_sample_nums``, a NumPy array: for each annotated beat
    the index in ``detected`` of its detection, or -1, as integers. A match is strictly
    closer than the tolerance (``|d| < tolerance``: a detection exactly ``tolerance``
    samples away is not one); a detection belongs to its nearest annotated beat, a beat
    keeps its nearest detection.

    The checker calls ``match_beats`` on five small hand-made cases (a detection just
    inside, exactly at and just outside the tolerance; one between two annotated beats;
    two near one beat, the nearer second, and extra detections and missed beats; a beat
    whose nearest detection is nearer to the next beat; two near each beat, the nearer
    first, then second) and on a random record of 2,000 beats at 360 Hz (jitter, far-off,
    missed and false detections; tolerance 55 samples: up to 150 ms). On every one the whole
    answer must be wfdb's, except that a beat may keep another detection exactly as near
    (a tie), so that mutual nearest neighbours or "the last detection near a beat wins"
    are refused.

    Mistakes named: a detection matched twice, an inclusive tolerance (``<=``), a tolerance
    multiplied or divided by fs (the answer is then the rule's matches at that tolerance,
    on every case), matched detections returned instead of one entry per annotated beat,
    sample positions instead of indices, the wrong length, a float or boolean answer,
    NaN or None instead of -1, a list instead of an array; otherwise the message names
    the first beat whose match differs and what its nearest detection is; and a function
    that returns nothing or raises.
    """
    cases = [
        (what, np.array(ref, dtype=np.int64), np.array(det, dtype=np.int64))
        for what, ref, det in _MATCH_CASES
    ]
    cases.append(("a random record of 2,000 beats at 360 Hz", *_random_beats()))
    tolerance = _MATCH_TOLERANCE
    answers = []
    for k, (what, reference, detected) in enumerate(cases):
        where = (
            f"{what}: reference={reference.tolist()}, detected={detected.tolist()}, "
            f"tolerance={tolerance}"
            if k < len(_MATCH_CASES)
            else what
        )
        result = _call_answer(
            match_beats,
            "match_beats(reference, detected, tolerance)",
            f"for {where}",
            reference.copy(),
            detected.copy(),
            tolerance,
        )
        matches = _as_matches(result, reference, detected, where)
        expected = _wfdb_matches(reference, detected, tolerance)
        answers.append((where, reference, detected, result, matches, expected))
    if any(len(_differs(m, e, r, d)) for _, r, d, _, m, e in answers):
        _name_mistake(
            lambda rule: all(
                not len(_differs(m, rule(r, d), r, d)) for _, r, d, _, m, _ in answers
            ),
            [
                (
                    lambda window=window: lambda r, d: _nearest_rule(r, d, window),
                    f"match_beats gives the matches of a tolerance of {window:,.6g} samples, the "
                    f"tolerance {how} fs ({tolerance} {op} {_MATCH_FS}) on every case: the "
                    "tolerance is in samples, as are reference and detected; do not convert it "
                    "with fs.",
                )
                for window, how, op in (
                    (tolerance * _MATCH_FS, "multiplied by", "*"),
                    (tolerance / _MATCH_FS, "divided by", "/"),
                )
            ],
        )
    for where, reference, detected, _result, matches, expected in answers:
        _valid_matches(matches, reference, detected, tolerance, where)
        if len(_differs(matches, expected, reference, detected)):
            _matching_differs(matches, expected, reference, detected, where)
    result = answers[0][3]
    _numpy_answer(result, "matches")  # a tensor or a pandas object: its own message
    _expect(
        isinstance(result, np.ndarray),
        f"match_beats returned a {type(result).__name__} with the right matches; later cells "
        "need a NumPy array (matched >= 0, pred[matched[found]]): return np.array(matches).",
    )
    _passed(
        "each annotated beat gets the nearest detection closer than the tolerance, each "
        "detection at most once, as wfdb.processing.compare_annotations matches them."
    )
