"""checks.check_beat_matching (ecg_course/checks/beat_matching.py) accepts right matchings
and names the mistake in wrong ones. The library's layout: tests/answer_library.py."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from answer_library import has_enough_answers, params, says_what_differs, valid

from ecg_course import checks
from ecg_course.checks import beat_matching

# --- exercise ex3-match-beats ---------------------------------------------------------------


def _match_official(reference, detected, tolerance):
    from wfdb.processing import compare_annotations

    return compare_annotations(reference, detected, tolerance).matching_sample_nums


def _match_two_pointer(reference, detected, tolerance):
    """A loop: detections before the window are skipped once; each detection goes to its
    nearest annotated beat, each beat keeps its nearest detection."""
    matches = np.full(len(reference), -1)
    start = 0
    for i, r in enumerate(reference):
        while start < len(detected) and detected[start] <= r - tolerance:
            start += 1
        j = start
        while j < len(detected) and detected[j] < r + tolerance:
            d = detected[j]
            nearer_before = i > 0 and abs(d - reference[i - 1]) <= abs(d - r)
            nearer_after = i + 1 < len(reference) and abs(reference[i + 1] - d) < abs(d - r)
            if not (nearer_before or nearer_after) and (
                matches[i] < 0 or abs(d - r) < abs(detected[matches[i]] - r)
            ):
                matches[i] = j
            j += 1
    return matches


def _match_searchsorted(reference, detected, tolerance):
    """Vectorised: every detection's nearest beat, then every beat's nearest claimant."""
    reference, detected = np.asarray(reference), np.asarray(detected)
    matches = np.full(len(reference), -1, dtype=np.int64)
    right = np.clip(np.searchsorted(reference, detected), 0, len(reference) - 1)
    left = np.clip(right - 1, 0, len(reference) - 1)
    closer_left = np.abs(detected - reference[left]) <= np.abs(reference[right] - detected)
    beat = np.where(closer_left, left, right)
    distance = np.abs(detected - reference[beat])
    close = np.flatnonzero(distance < tolerance)
    order = close[np.lexsort((close, distance[close], beat[close]))]
    _, first = np.unique(beat[order], return_index=True)
    matches[beat[order[first]]] = order[first]
    return matches


def _match_closest_pairs_first(reference, detected, tolerance):
    """All pairs within the tolerance, the closest first; each side used once."""
    pairs = []
    for i, r in enumerate(reference):
        lo = np.searchsorted(detected, r - tolerance, side="right")
        hi = np.searchsorted(detected, r + tolerance, side="left")
        pairs += [(abs(int(detected[j]) - int(r)), j, i) for j in range(lo, hi)]
    matches, taken = [-1] * len(reference), set()
    for _, j, i in sorted(pairs):
        if matches[i] == -1 and j not in taken:
            matches[i] = j
            taken.add(j)
    return np.array(matches)


def _match_loop(reference, detected, tolerance, within=lambda d, t: d < t, mark=-1,
                nearest=True, once=True, output="per beat", dtype=None):  # fmt: skip
    """For each beat in order, a free detection within the tolerance, the nearest or the
    first; each keyword is one mistake a student makes."""
    matches, taken = [], set()
    for r in reference:
        best = mark
        for j, d in enumerate(detected):
            distance = abs(int(d) - int(r))
            if not within(distance, tolerance) or (once and j in taken):
                continue
            if best is mark or (nearest and distance < abs(int(detected[best]) - int(r))):
                best = j
        matches.append(best)
        if best is not mark:
            taken.add(best)
    if output == "matched":
        return np.array([j for j in matches if j is not mark])
    if output == "samples":
        return np.array([detected[j] if j is not mark else -1 for j in matches])
    if output == "mask":
        return np.array([j is not mark for j in matches])
    return matches if dtype is None else np.array(matches, dtype=dtype)


def _match_detection_first(reference, detected, tolerance):
    """Each detection in turn to its nearest beat, if that beat is still free: the first
    detection near a beat wins, not the nearest one."""
    matches = np.full(len(reference), -1)
    for j, d in enumerate(detected):
        i = int(np.argmin(np.abs(np.asarray(reference) - d)))
        if abs(reference[i] - d) < tolerance and matches[i] == -1:
            matches[i] = j
    return matches


def _match_per_detection(reference, detected, tolerance):
    """For each detection the beat it matches: the mapping the other way round."""
    beats = np.full(len(detected), -1)
    for j, d in enumerate(detected):
        i = int(np.argmin(np.abs(np.asarray(reference) - d)))
        if abs(reference[i] - d) < tolerance:
            beats[j] = i
    return beats


def _match_mutual(reference, detected, tolerance):
    """Mutual nearest neighbours: a beat and a detection that are each other's nearest."""
    reference, detected = np.asarray(reference), np.asarray(detected)
    matches = np.full(len(reference), -1)
    for i, r in enumerate(reference):
        j = int(np.argmin(np.abs(detected - r)))
        nearest_beat = int(np.argmin(np.abs(reference - detected[j])))
        if abs(int(detected[j]) - int(r)) < tolerance and nearest_beat == i:
            matches[i] = j
    return matches


def _match_last_claimant(reference, detected, tolerance):
    """Each detection to its nearest beat, overwriting the one it had: the last one wins."""
    reference = np.asarray(reference)
    matches = np.full(len(reference), -1)
    for j, d in enumerate(detected):
        i = int(np.argmin(np.abs(reference - d)))
        if abs(int(reference[i]) - int(d)) < tolerance:
            matches[i] = j
    return matches


_m = functools.partial

WRONG_MATCHING = {
    "a detection matched twice": (_m(_match_loop, once=False), "matched to the annotated beats"),
    "tolerance inclusive": (
        _m(_match_loop, within=lambda d, t: d <= t),
        "exactly 55 samples away.*strict",
    ),
    "tolerance taken for seconds (times fs)": (
        lambda r, d, t: _match_searchsorted(r, d, t * 360),
        "tolerance of 19,800 samples, the tolerance multiplied by fs.*do not convert it with fs",
    ),
    "tolerance times fs, first free detection": (
        _m(_match_loop, within=lambda d, t: d < t * 360),
        r"^(?!.*with fs).*samples away, beyond the tolerance of 55 samples",
    ),
    "tolerance halved": (
        lambda r, d, t: _match_searchsorted(r, d, t / 2),
        r"^(?!.*with fs).*beat 0 \(at 1000\) has no match, but detection 0 \(at 1054\) is 54 "
        "samples away",
    ),
    "tolerance doubled": (
        lambda r, d, t: _match_searchsorted(r, d, 2 * t),
        r"^(?!.*with fs).*56 samples away, beyond the tolerance of 55 samples",
    ),
    "tolerance taken for seconds (divided by fs)": (
        _m(_match_loop, within=lambda d, t: d < t / 360),
        r"tolerance of 0\.152778 samples, the tolerance divided by fs.*do not convert it with fs",
    ),
    "the matched detections only": (_m(_match_loop, output="matched"), "per matched detection"),
    "one entry per detection": (_match_per_detection, "one entry per detection"),
    "sample positions": (_m(_match_loop, output="samples"), "sample positions"),
    "True/False per beat": (_m(_match_loop, output="mask"), "True/False"),
    "float array": (_m(_match_loop, dtype=float), "dtype float64"),
    "NaN for a missed beat": (_m(_match_loop, mark=np.nan, dtype=float), "NaN"),
    "None for a missed beat": (_m(_match_loop, mark=None), "None for some beats"),
    "a detection to an earlier beat": (_match_loop, "nearer to annotated beat 2"),
    "the first detection near a beat": (_match_detection_first, "detection 2 .* is nearer"),
    "mutual nearest neighbours": (
        _match_mutual,
        r"beat 0 \(at 1000\) has no match, but detection 0 \(at 960\) is 40 samples away",
    ),
    "the last claimant wins": (
        _match_last_claimant,
        r"^(?!.*first one).*beat 0 \(at 500\) is matched to detection 1 .*detection 0 "
        r"\(at 495\) is nearer",
    ),
    "a list": (
        lambda r, d, t: _match_official(r, d, t).tolist(),
        r"returned a list.*NumPy array",
    ),
}

VALID_MATCHING = {
    "official (wfdb)": _match_official,
    "two pointers": _match_two_pointer,
    "searchsorted": _match_searchsorted,
    "closest pairs first": _match_closest_pairs_first,
}


@pytest.mark.parametrize(("answer", "message"), params(WRONG_MATCHING))
def test_beat_matching_wrong_answers(answer, message):
    with pytest.raises(checks.ExerciseError, match=message):
        checks.check_beat_matching(answer)


@pytest.mark.parametrize("answer", valid(VALID_MATCHING))
def test_beat_matching_valid_answers(answer, capsys):
    checks.check_beat_matching(answer)
    assert capsys.readouterr().out.startswith("Correct")


def test_beat_matching_has_enough_answers():
    assert has_enough_answers(WRONG_MATCHING, VALID_MATCHING)


# --- what the checker takes for granted -----------------------------------------------------


def test_beat_matching_follows_wfdb_on_the_hand_made_cases():
    """wfdb matches closer than window_width (strict), a contested detection to the nearer
    beat: the hand-made cases and their messages rely on it."""
    expected = ([0, -1, -1, 3, -1], [0, -1, 1, 2, 3, -1], [2, 4, -1], [0, 1, 2], [0, 3])
    tolerance = beat_matching._MATCH_TOLERANCE
    for (_, reference, detected), want in zip(beat_matching._MATCH_CASES, expected, strict=True):
        got = beat_matching._wfdb_matches(np.array(reference), np.array(detected), tolerance)
        assert got.tolist() == want


def test_beat_matching_random_case_leaves_no_choice():
    """No detection is within the tolerance of two beats, so every valid matching finds the
    same number of true positives: comparing the counts cannot reject a correct answer."""
    reference, detected = beat_matching._random_beats()
    tolerance = beat_matching._MATCH_TOLERANCE
    assert len(reference) == 2000 and np.diff(reference).min() >= 2 * tolerance
    assert np.all(np.diff(detected) > 0)
    near = np.abs(detected[None, :] - reference[:, None]) < tolerance
    matches = beat_matching._wfdb_matches(reference, detected, tolerance)
    assert (matches >= 0).sum() == near.any(axis=1).sum()
    assert (~near.any(axis=1)).any() and (~near.any(axis=0)).any()  # FN and FP


def test_the_matching_rule_is_wfdbs_on_the_checkers_cases():
    """The rule the checker applies at another tolerance (to name a tolerance converted
    with fs) gives wfdb's matches at the checker's tolerance, on every case."""
    tolerance = beat_matching._MATCH_TOLERANCE
    cases = [(np.array(r), np.array(d)) for _, r, d in beat_matching._MATCH_CASES]
    for reference, detected in [*cases, beat_matching._random_beats()]:
        rule = beat_matching._nearest_rule(reference, detected, tolerance)
        wfdb = beat_matching._wfdb_matches(reference, detected, tolerance)
        assert not len(beat_matching._differs(rule, wfdb, reference, detected))


# --- the fallback: an answer that is no listed mistake --------------------------------------

FALLBACK = {
    "check_beat_matching": (
        None,
        lambda: checks.check_beat_matching(_match_mutual),
        "has no match, but detection 0",
    ),
}


@pytest.mark.parametrize(("fixture", "run", "message"), params(FALLBACK))
def test_fallback_says_what_differs(request, fixture, run, message):
    says_what_differs(request, fixture, run, message)
