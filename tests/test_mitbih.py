"""Tests of the MIT-BIH beat pipeline (ecg_course.mitbih).

The tests that read records need ``ECG_COURSE_DATA`` pointing at a folder with
``mitdb/`` (e.g. ``../shared/data``); they are skipped when it is unset. The
full 48-record build runs once per session, into a temporary cache.
"""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from ecg_course import cache, mitbih, sources

KAGGLE_TOTALS = {"N": 90_589, "S": 2_779, "V": 7_236, "F": 803, "Q": 8_039}  # 109,446 beats
KAGGLE_SPLIT = (87_554, 21_892)
DE_CHAZAL_DS1 = {"N": 45_866, "S": 944, "V": 3_788, "F": 415, "Q": 8}
DE_CHAZAL_DS2 = {"N": 44_259, "S": 1_837, "V": 3_221, "F": 388, "Q": 7}
# Beat annotation counts over the 48 records (data README), symbol: count.
README_SYMBOL_COUNTS = {
    "N": 75052, "L": 8075, "R": 7259, "V": 7130, "/": 7028, "A": 2546, "f": 982, "F": 803,
    "j": 229, "a": 150, "E": 106, "J": 83, "Q": 33, "e": 16, "S": 2,
}  # fmt: skip


def _counts(y: np.ndarray) -> dict[str, int]:
    return dict(zip(mitbih.CLASSES, np.bincount(y, minlength=5).tolist(), strict=True))


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory) -> Path:
    """The cache folder of the session-wide full build."""
    return tmp_path_factory.mktemp("session_cache")


@pytest.fixture(scope="session")
def built(data_root, session_cache):
    """The full build (all 48 records), made once per session in a temporary cache."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(sources.CACHE_ENV, str(session_cache))
        mp.delenv(sources.MIRROR_ENV, raising=False)
        X, y, ids = mitbih.build_beats(progress=False)
        yield X, y, ids


def test_readme_symbol_counts_give_kaggle_totals_with_aami_grouping():
    grouped = {
        name: sum(README_SYMBOL_COUNTS.get(s, 0) for s in symbols)
        for name, symbols in mitbih.AAMI_SYMBOLS.items()
    }
    # every README symbol is in exactly one AAMI class
    assert sum(grouped.values()) == sum(README_SYMBOL_COUNTS.values()) == 109_494
    assert grouped == {"N": 90_631, "S": 2_781, "V": 7_236, "F": 803, "Q": 8_043}
    # Kaggle has 48 beats fewer: one per record (its last beat)
    assert sum(grouped.values()) - sum(KAGGLE_TOTALS.values()) == len(mitbih.RECORDS) == 48
    for name in mitbih.CLASSES:
        assert abs(grouped[name] - KAGGLE_TOTALS[name]) <= 0.005 * KAGGLE_TOTALS[name]


def test_record_lists():
    assert len(mitbih.RECORDS) == len(set(mitbih.RECORDS)) == 48
    assert len(mitbih.DS1) == len(mitbih.DS2) == 22
    assert set(mitbih.DS1) | set(mitbih.DS2) | set(mitbih.PACED) == set(mitbih.RECORDS)
    assert not set(mitbih.DS1) & set(mitbih.DS2)


def test_records_constant_matches_physionet_records_file(data_root):
    assert tuple((data_root / "mitdb" / "RECORDS").read_text().split()) == mitbih.RECORDS


def test_full_build_shapes_dtypes_and_range(built):
    X, y, ids = built
    assert X.dtype == np.float32 and X.shape == (109_494, 187)
    assert y.dtype == np.int64 and y.shape == (109_494,)
    assert np.issubdtype(ids.dtype, np.integer) and ids.shape == (109_494,)
    assert np.isfinite(X).all()
    assert X.min() == 0.0 and X.max() == 1.0
    assert set(np.unique(y)) == {0, 1, 2, 3, 4}
    assert [str(r) for r in dict.fromkeys(ids.tolist())] == list(mitbih.RECORDS)  # record order
    assert _counts(y) == {"N": 90_631, "S": 2_781, "V": 7_236, "F": 803, "Q": 8_043}
    # every beat starts at its R peak and ends in zero padding (1.2 x RR < 187 samples)
    assert (X[:, -1] == 0).mean() > 0.95


def test_kachuee_split_counts_and_sizes(built):
    X_train, y_train, X_test, y_test = mitbih.load_mitbih("kachuee", progress=False)
    total = _counts(np.concatenate([y_train, y_test]))
    assert total == KAGGLE_TOTALS  # exact; the target is "within 0.5%"
    for name in mitbih.CLASSES:
        assert abs(total[name] - KAGGLE_TOTALS[name]) <= 0.005 * KAGGLE_TOTALS[name]
    assert len(y_train) + len(y_test) == 109_446
    assert (len(y_train), len(y_test)) == (87_556, 21_890)  # sklearn's 80/20
    assert abs(len(y_train) - KAGGLE_SPLIT[0]) <= 2 and abs(len(y_test) - KAGGLE_SPLIT[1]) <= 2
    assert X_train.shape == (87_556, 187) and X_test.shape == (21_890, 187)
    assert X_train.dtype == X_test.dtype == np.float32
    assert y_train.dtype == y_test.dtype == np.int64
    assert X_train.min() >= 0.0 and X_train.max() <= 1.0
    # stratified: every class is 20% of the test set, to rounding
    test_counts = _counts(y_test)
    for name in mitbih.CLASSES:
        assert abs(test_counts[name] - 0.2 * KAGGLE_TOTALS[name]) <= 1
    # fixed seed: same split again, another seed: another split
    again = mitbih.load_mitbih("kachuee", progress=False)
    np.testing.assert_array_equal(again[0], X_train)
    np.testing.assert_array_equal(again[3], y_test)
    other = mitbih.load_mitbih("kachuee", random_state=0, progress=False)
    assert not np.array_equal(other[1], y_train)


def test_inter_patient_split_counts(built):
    X_train, y_train, X_test, y_test = mitbih.load_mitbih("inter-patient", progress=False)
    train, test = _counts(y_train), _counts(y_test)
    assert train == DE_CHAZAL_DS1  # exact; the target is "within ~1%"
    assert test == DE_CHAZAL_DS2
    assert X_train.shape == (51_021, 187) and X_test.shape == (49_712, 187)
    assert X_train.dtype == np.float32 and y_train.dtype == np.int64
    # the records behind each side: DS1 / DS2, no paced record
    _, _, ids = built
    ds1 = np.isin(ids, [int(r) for r in mitbih.DS1])
    ds2 = np.isin(ids, [int(r) for r in mitbih.DS2])
    np.testing.assert_array_equal(X_train, built[0][ds1])
    np.testing.assert_array_equal(X_test, built[0][ds2])
    assert not np.isin(ids[ds1 | ds2], [int(r) for r in mitbih.PACED]).any()


@pytest.mark.parametrize("split", mitbih.SPLITS)
def test_records_align_with_the_beats(built, split):
    *arrays, records_train, records_test = mitbih.load_mitbih(
        split, progress=False, return_records=True
    )
    # the same four arrays as without records, and a record for every beat
    for with_records, plain in zip(arrays, mitbih.load_mitbih(split, progress=False), strict=True):
        np.testing.assert_array_equal(with_records, plain)
    X_all, _, ids_all = built
    for X, records in ((arrays[0], records_train), (arrays[2], records_test)):
        assert records.shape == (len(X),) and records.dtype == np.int64
        # each beat is the one its record holds: look it up among that record's beats
        for row in np.random.default_rng(0).choice(len(X), size=200, replace=False):
            of_record = X_all[ids_all == records[row]]
            assert (of_record == X[row]).all(axis=1).any()
    if split == "inter-patient":
        assert set(records_train.tolist()) == {int(r) for r in mitbih.DS1}
        assert set(records_test.tolist()) == {int(r) for r in mitbih.DS2}
    else:  # intra-patient: the same patients on both sides
        assert set(records_train.tolist()) == set(records_test.tolist())


def test_unknown_split_lists_valid_ones():
    with pytest.raises(ValueError, match=r"kachuee.*inter-patient"):
        mitbih.load_mitbih("random")
    with pytest.raises(ValueError, match=r"kachuee.*inter-patient"):
        mitbih.load_beat_sets("random")


@pytest.mark.parametrize("split", mitbih.SPLITS)
def test_beat_sets_hold_the_arrays_of_the_tuple_form(built, split):
    """load_beat_sets gives, field by field, what load_mitbih gives with both flags."""
    train, test = mitbih.load_beat_sets(split, progress=False)
    X_train, y_train, X_test, y_test, rec_train, rec_test, rr_train, rr_test = mitbih.load_mitbih(
        split, progress=False, return_records=True, return_rr=True
    )
    sides = (
        (train, X_train, y_train, rec_train, rr_train),
        (test, X_test, y_test, rec_test, rr_test),
    )
    for beat_set, X, y, records, rr in sides:
        assert len(beat_set) == len(y)
        for got, want in zip(
            (beat_set.beats, beat_set.labels, beat_set.records, beat_set.rr),
            (X, y, records, rr),
            strict=True,
        ):
            assert got.dtype == want.dtype
            np.testing.assert_array_equal(got, want)
    assert train.beats.dtype == train.rr.dtype == np.float32
    assert train.labels.dtype == train.records.dtype == np.int64
    assert train.rr.shape == (len(train), len(mitbih.RR_FEATURES))


def _small_beat_set(n: int = 5) -> mitbih.BeatSet:
    """n beats whose every field holds the beat's row number, to see which rows survive."""
    rows = np.arange(n)
    return mitbih.BeatSet(
        beats=np.repeat(rows[:, None], mitbih.BEAT_LENGTH, axis=1).astype(np.float32),
        labels=rows % len(mitbih.CLASSES),
        records=100 + rows,
        rr=np.repeat(rows[:, None], len(mitbih.RR_FEATURES), axis=1).astype(np.float32),
    )


def _rows_of(beat_set: mitbih.BeatSet) -> list[int]:
    """The original rows of a filtered _small_beat_set, checked alike in every field."""
    rows = beat_set.records - 100
    np.testing.assert_array_equal(beat_set.beats[:, 0], rows)
    np.testing.assert_array_equal(beat_set.rr[:, -1], rows)
    np.testing.assert_array_equal(beat_set.labels, rows % len(mitbih.CLASSES))
    return rows.tolist()


def test_beat_set_where_filters_every_field_alike():
    beat_set = _small_beat_set()
    assert len(beat_set) == 5
    assert _rows_of(beat_set.where(beat_set.labels != 2)) == [0, 1, 3, 4]
    assert _rows_of(beat_set.where([True, False, False, False, True])) == [0, 4]
    assert _rows_of(beat_set.where(np.array([3, 0, -1]))) == [3, 0, 4]  # in the order given
    assert _rows_of(beat_set.where(np.zeros(5, dtype=bool))) == []
    assert _rows_of(beat_set.where([])) == []
    picked = beat_set.where([1])
    assert picked.beats.shape == (1, mitbih.BEAT_LENGTH) and picked.rr.shape == (1, 8)
    assert _rows_of(beat_set) == [0, 1, 2, 3, 4]  # the original is left as it was


@pytest.mark.parametrize(
    "rows, match",
    [
        (np.ones(4, dtype=bool), "the mask has 4 values for 5 beats"),
        (np.ones(6, dtype=bool), "the mask has 6 values for 5 beats"),
        (np.ones((5, 1), dtype=bool), r"rows must be 1-D.*\(5, 1\)"),
        (np.array([0, 5]), r"row indices must lie in -5\.\.4"),
        (np.array([-6]), r"row indices must lie in -5\.\.4"),
        (np.array([0.0, 1.0]), "boolean mask or integer row indices; got dtype float64"),
    ],
)
def test_beat_set_where_refuses_a_bad_mask(rows, match):
    with pytest.raises(ValueError, match=match):
        _small_beat_set().where(rows)


def test_beat_set_fields_must_align():
    good = _small_beat_set()
    with pytest.raises(ValueError, match=r"labels and records must be 1-D of one length"):
        mitbih.BeatSet(good.beats, good.labels, good.records[:4], good.rr)
    with pytest.raises(ValueError, match=r"beats and rr must be 2-D with one row per label \(5\)"):
        mitbih.BeatSet(good.beats, good.labels, good.records, good.rr[:4])
    with pytest.raises(ValueError, match=r"beats and rr must be 2-D"):
        mitbih.BeatSet(good.beats[:, 0], good.labels, good.records, good.rr)


def test_unknown_record_is_rejected():
    with pytest.raises(ValueError, match="Unknown MIT-BIH record"):
        mitbih.build_beats(records=["999"])
    with pytest.raises(ValueError, match="Unknown MIT-BIH record"):
        mitbih.record_beats("110")


def test_second_call_reads_the_cache(built, session_cache, monkeypatch):
    monkeypatch.setenv(sources.CACHE_ENV, str(session_cache))

    def fail(*args, **kwargs):
        raise AssertionError("the beats were rebuilt instead of read from the cache")

    monkeypatch.setattr(mitbih, "_build", fail)
    X, y, ids = mitbih.build_beats(progress=False)
    np.testing.assert_array_equal(X, built[0])
    np.testing.assert_array_equal(y, built[1])
    np.testing.assert_array_equal(ids, built[2])
    assert mitbih.cache_path().parent == sources.cache_dir() / "processed"


def test_cache_key_depends_on_parameters(monkeypatch):
    full = mitbih.cache_path()
    assert mitbih.cache_path(["100"]) != full
    assert mitbih.cache_path([100]) == mitbih.cache_path(["100"])
    monkeypatch.setattr(cache, "VERSION", cache.VERSION + 1)
    assert mitbih.cache_path() != full


@pytest.fixture
def small_cache(data_root, tmp_path, monkeypatch):
    """A fresh cache holding the build of record 100; counts the rebuilds."""
    monkeypatch.setenv(sources.CACHE_ENV, str(tmp_path / "cache"))
    calls = []
    real_build = mitbih._build

    def counting_build(records, progress):
        calls.append(tuple(records))
        return real_build(records, progress)

    monkeypatch.setattr(mitbih, "_build", counting_build)
    reference = mitbih.build_beats(records=["100"], progress=False)
    assert len(calls) == 1
    mitbih.build_beats(records=["100"], progress=False)
    assert len(calls) == 1  # read from the cache
    return mitbih.cache_path(["100"]), reference, calls


def _write_npz(path: Path, **arrays) -> None:
    with open(path, "wb") as handle:
        np.savez_compressed(handle, **arrays)


@pytest.mark.parametrize(
    "corruption",
    [
        "garbage",
        "truncated",
        "empty",
        "missing_array",
        "wrong_key",
        "wrong_shape",
        "wrong_dtype",
        "out_of_range",
    ],
)
def test_corrupt_or_stale_cache_is_rebuilt(small_cache, corruption):
    path, (X, y, ids), calls = small_cache
    good = dict(np.load(path))
    if corruption == "garbage":
        path.write_bytes(b"this is not a zip file")
    elif corruption == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif corruption == "empty":
        path.write_bytes(b"")
    elif corruption == "missing_array":
        _write_npz(path, X=good["X"], y=good["y"], key=good["key"])
    elif corruption == "wrong_key":
        _write_npz(path, **{**good, "key": np.array("0" * 64)})
    elif corruption == "wrong_shape":
        _write_npz(path, **{**good, "X": good["X"][:, :100]})
    elif corruption == "wrong_dtype":
        _write_npz(path, **{**good, "X": good["X"].astype(np.float64)})
    elif corruption == "out_of_range":
        _write_npz(path, **{**good, "X": good["X"] * 2})
    X2, y2, ids2 = mitbih.build_beats(records=["100"], progress=False)
    assert len(calls) == 2  # rebuilt, not trusted
    np.testing.assert_array_equal(X2, X)
    np.testing.assert_array_equal(y2, y)
    np.testing.assert_array_equal(ids2, ids)
    # and the rebuilt cache is good again
    mitbih.build_beats(records=["100"], progress=False)
    assert len(calls) == 2
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary files left


def test_record_beats_pipeline(built):
    result = mitbih.record_beats("100")
    assert result.fs == 125 and result.lead == "MLII"
    assert result.signal.shape == (225_695,)  # 650,000 samples * 125 / 360
    n = len(result.labels)
    assert n == 2_273  # annotated beats of record 100 (2,239 N, 33 A, 1 V)
    assert Counter(result.symbols.tolist()) == {"N": 2_239, "A": 33, "V": 1}
    assert result.r_peaks.shape == result.lengths.shape == (n,)
    assert np.all(np.diff(result.r_peaks) > 0)
    assert result.beats.shape == (n, 187) and result.beats.dtype == np.float32
    assert np.all((result.lengths > 0) & (result.lengths <= 187))
    # zero padding after each beat's length; the beats are those of the full build
    columns = np.arange(187)
    assert np.all(result.beats[columns[None, :] >= result.lengths[:, None]] == 0)
    X, y, ids = built
    np.testing.assert_array_equal(result.beats, X[ids == 100])
    np.testing.assert_array_equal(result.labels, y[ids == 100])
    # a beat starts at the R peak, i.e. near the top of its [0, 1] range
    assert np.median(result.beats[result.labels == 0, 0]) > 0.7


def test_lead_choice(data_root):
    # 114 has MLII as its second lead; 102 has no MLII (V5, V2): its first lead is used
    assert mitbih.record_beats("114").lead == "MLII"
    assert mitbih.record_beats("102").lead == "V5"
    raw, _ = mitbih.read_record("114")
    signal, lead = mitbih.lead_signal(raw)
    assert lead == "MLII" and raw.sig_name.index("MLII") == 1
    assert np.array_equal(signal, raw.p_signal[:, 1])


def _copy_record(source: Path, target: Path, record: str) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for ext in ("hea", "dat", "atr"):
        shutil.copy(source / "mitdb" / f"{record}.{ext}", target / f"{record}.{ext}")


def _flip_byte(path: Path, offset: int = 1000) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def test_local_checksum_mismatch_is_a_clear_error(data_root, tmp_path, monkeypatch):
    local = tmp_path / "data"
    _copy_record(data_root, local / "mitdb", "100")
    _flip_byte(local / "mitdb" / "100.dat")
    monkeypatch.setenv(sources.DATA_ENV, str(local))
    monkeypatch.setenv(sources.CACHE_ENV, str(tmp_path / "cache"))
    with pytest.raises(ValueError, match=r"Checksum mismatch.*100\.dat"):
        mitbih.record_beats("100")
    with pytest.raises(ValueError, match="Checksum mismatch"):
        mitbih.build_beats(records=["100"], progress=False)
    assert not mitbih.cache_path(["100"]).exists()  # nothing cached from bad data


@pytest.fixture
def mirror(data_root, tmp_path, serve):
    """An HTTP server on 127.0.0.1 serving record 100 intact and record 101 with a bad .dat."""
    served = tmp_path / "served"
    _copy_record(data_root, served / "mitdb", "100")
    _copy_record(data_root, served / "mitdb", "101")
    _flip_byte(served / "mitdb" / "101.dat")
    return serve(served)


def test_download_from_mirror(data_root, mirror, tmp_path, monkeypatch):
    reference = mitbih.record_beats("100")  # from the local folder
    cache = tmp_path / "download_cache"
    monkeypatch.delenv(sources.DATA_ENV)
    monkeypatch.setenv(sources.MIRROR_ENV, mirror)
    monkeypatch.setenv(sources.CACHE_ENV, str(cache))

    downloaded = mitbih.record_beats("100")
    raw = cache / "raw" / "mitdb"
    assert sorted(p.name for p in raw.iterdir()) == ["100.atr", "100.dat", "100.hea"]
    np.testing.assert_array_equal(downloaded.beats, reference.beats)
    np.testing.assert_array_equal(downloaded.labels, reference.labels)

    # the served 101.dat is corrupted: a checksum error, and no 101.dat in the cache
    with pytest.raises(ValueError, match=r"Checksum mismatch for mitdb/101\.dat"):
        mitbih.record_beats("101")
    assert not (raw / "101.dat").exists()
    assert sorted(p.name for p in raw.iterdir()) == ["100.atr", "100.dat", "100.hea", "101.hea"]

    # building through the mirror caches the beats; a second call downloads nothing
    X, _, _ = mitbih.build_beats(records=["100"], progress=False)
    np.testing.assert_array_equal(X, reference.beats)
    monkeypatch.setenv(sources.MIRROR_ENV, "http://127.0.0.1:9/")  # nothing listens there
    X_again, _, _ = mitbih.build_beats(records=["100"], progress=False)
    np.testing.assert_array_equal(X_again, X)


# --- Kaggle CSV loader ------------------------------------------------------------------


def _write_csv(path: Path, rows: list[list[float]]) -> Path:
    path.write_text("\n".join(",".join(repr(float(v)) for v in row) for row in rows) + "\n")
    return path


def _rows(labels, length=187):
    rng = np.random.default_rng(0)
    return [[*rng.random(length).tolist(), label] for label in labels]


def test_csv_loader_reads_kaggle_layout(tmp_path):
    train = _write_csv(tmp_path / "train.csv", _rows([0, 1, 2, 3, 4]))
    test = _write_csv(tmp_path / "test.csv", _rows([4, 0]))
    X_train, y_train, X_test, y_test = mitbih.load_mitbih_csv(train, test)
    assert X_train.shape == (5, 187) and X_train.dtype == np.float32
    assert y_train.tolist() == [0, 1, 2, 3, 4] and y_train.dtype == np.int64
    assert X_test.shape == (2, 187) and y_test.tolist() == [4, 0]
    np.testing.assert_allclose(X_test[1], np.float32(_rows([4, 0])[1][:187]))


def test_csv_loader_missing_file(tmp_path):
    good = _write_csv(tmp_path / "train.csv", _rows([0]))
    with pytest.raises(FileNotFoundError, match=r"nope\.csv"):
        mitbih.load_mitbih_csv(good, tmp_path / "nope.csv")
    with pytest.raises(FileNotFoundError):
        mitbih.load_mitbih_csv(tmp_path / "nope.csv", good)


@pytest.mark.parametrize(
    "rows, message",
    [
        (_rows([0, 1], length=140), "188"),  # ECG5000-like rows: 141 columns
        (_rows([0, 1], length=187)[:1] + _rows([1], length=186), "188"),  # ragged
        (_rows([5]), "label"),
        (_rows([-1]), "label"),
        (_rows([1.5]), "label"),
        (_rows([float("nan")]), "NaN"),
        ([[float("nan"), *_rows([0])[0][1:]]], "NaN"),
    ],
)
def test_csv_loader_rejects_bad_files(tmp_path, rows, message):
    good = _write_csv(tmp_path / "good.csv", _rows([0]))
    bad = _write_csv(tmp_path / "bad.csv", rows)
    with pytest.raises(ValueError, match=message):
        mitbih.load_mitbih_csv(good, bad)


def test_csv_loader_rejects_text_and_empty_files(tmp_path):
    good = _write_csv(tmp_path / "good.csv", _rows([0]))
    text = tmp_path / "text.csv"
    text.write_text("a,b,c\n")
    with pytest.raises(ValueError, match="188"):
        mitbih.load_mitbih_csv(good, text)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ValueError, match="no rows"):
        mitbih.load_mitbih_csv(good, empty)


def test_rr_features_by_hand_on_record_100(data_root):
    """The first nine beats of record 100, annotated at 77, 370, ... (360 Hz); beat 8 is an A."""
    result = mitbih.record_beats("100")
    assert result.rr.shape == (2_273, len(mitbih.RR_FEATURES)) and result.rr.dtype == np.float32
    samples = [77, 370, 662, 946, 1231, 1515, 1809, 2044, 2402]  # from 100.atr, beat symbols only
    assert result.symbols[7] == "A"
    record_rr = 0.794593603  # (last beat - first beat) / (2,273 - 1) / 360 s
    # The A beat comes early and is followed by a pause.
    pre, post = (2044 - 1809) / 360, (2402 - 2044) / 360
    local = np.mean([293, 293, 292, 284, 285, 284, 294, 235]) / 360  # 8 beats so far (< 10)
    expected_a = [pre, post, local, record_rr, pre / record_rr, post / record_rr,
                  local / record_rr, pre / post]  # fmt: skip
    np.testing.assert_allclose(result.rr[7], expected_a, rtol=1e-6)
    # The first beat has no pre-RR: it takes its post-RR.
    first = (370 - 77) / 360
    expected_first = [first, first, first, record_rr, first / record_rr, first / record_rr,
                      first / record_rr, 1.0]  # fmt: skip
    np.testing.assert_allclose(result.rr[0], expected_first, rtol=1e-6)
    # A loop, written the slow way, over the first nine beats.
    for i in range(1, 8):
        pre_i = (samples[i] - samples[i - 1]) / 360
        post_i = (samples[i + 1] - samples[i]) / 360
        pres = [(samples[max(k, 1)] - samples[max(k, 1) - 1]) / 360 for k in range(i + 1)]
        np.testing.assert_allclose(result.rr[i, :3], [pre_i, post_i, np.mean(pres)], rtol=1e-6)


def test_rr_features_local_average_covers_ten_beats():
    peaks = np.cumsum(np.arange(1, 16)) * 100  # RR grows by 100 samples each beat
    rr = mitbih.rr_features(peaks, fs=100)
    pre = np.concatenate([[2.0], np.arange(2, 16)])  # seconds; the first beat takes its post-RR
    np.testing.assert_allclose(rr[:, 0], pre)
    np.testing.assert_allclose(rr[14, 2], np.mean(pre[5:15]))  # the last ten beats only
    np.testing.assert_allclose(rr[:, 3], (peaks[-1] - peaks[0]) / 14 / 100)


@pytest.mark.parametrize(
    ("peaks", "fs", "match"),
    [
        (np.array([10]), 360, "at least two"),
        (np.array([[10, 20]]), 360, "1-D"),
        (np.array([10, 30, 20]), 360, "strictly increasing"),
        (np.array([10, 10, 20]), 360, "strictly increasing"),
        (np.array([10.0, np.nan]), 360, "finite"),
        (np.array([10, 20]), 0, "positive sampling rate"),
    ],
)
def test_rr_features_bad_input(peaks, fs, match):
    with pytest.raises(ValueError, match=match):
        mitbih.rr_features(peaks, fs)


@pytest.mark.parametrize("split", mitbih.SPLITS)
def test_rr_features_align_with_the_beats(built, split):
    """load_mitbih(return_rr=True) adds the RR features without changing the other arrays."""
    *arrays, records_train, records_test, rr_train, rr_test = mitbih.load_mitbih(
        split, progress=False, return_records=True, return_rr=True
    )
    plain = mitbih.load_mitbih(split, progress=False, return_records=True)
    for got, want in zip(arrays + [records_train, records_test], plain, strict=True):
        np.testing.assert_array_equal(got, want)
    assert rr_train.shape == (len(arrays[1]), 8) and rr_test.shape == (len(arrays[3]), 8)
    # every row is the RR of that very beat: check one record's beats against record_beats
    record_100 = mitbih.record_beats("100")
    sides = ((arrays[0], records_train, rr_train), (arrays[2], records_test, rr_test))
    for X, records, rr in sides:
        rows = np.flatnonzero(records == 100)
        for row in rows[:50]:
            index = np.flatnonzero((record_100.beats == X[row]).all(axis=1))
            assert len(index) >= 1
            assert any(np.array_equal(record_100.rr[i], rr[row]) for i in index)


def test_beats_at_detected_peaks_match_the_annotated_pipeline(data_root):
    """beats_at is the one pipeline: at the annotated peaks it gives record_beats' beats."""
    raw, annotation = mitbih.read_record("100")
    signal, lead = mitbih.lead_signal(raw)
    assert lead == "MLII"
    keep = np.isin(annotation.symbol, list(mitbih.SYMBOL_TO_LABEL))
    at = mitbih.beats_at(signal, annotation.sample[keep])
    reference = mitbih.record_beats("100")
    np.testing.assert_array_equal(at.beats, reference.beats)
    np.testing.assert_array_equal(at.rr, reference.rr)
    assert (at.labels == -1).all()  # nobody labelled these beats
    with pytest.raises(ValueError, match="sample indices"):
        mitbih.beats_at(signal, np.array([5, len(signal)]))


def test_relative_to_record_subtracts_each_records_median_beat():
    beats = np.array([[0.0, 1.0], [0.2, 0.8], [0.4, 0.6], [1.0, 1.0], [0.0, 0.0]], np.float32)
    records = np.array([7, 7, 7, 9, 9])
    out = mitbih.relative_to_record(beats, records)
    # record 7: median beat (0.2, 0.8); record 9: median beat (0.5, 0.5)
    expected = [[-0.2, 0.2], [0.0, 0.0], [0.2, -0.2], [0.5, 0.5], [-0.5, -0.5]]
    np.testing.assert_allclose(out, expected, atol=1e-7)
    assert out.dtype == np.float32
    with pytest.raises(ValueError, match="record_ids"):
        mitbih.relative_to_record(beats, records[:3])
