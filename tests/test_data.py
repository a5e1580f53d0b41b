"""ECG5000 loading (local copy, mirror download, upstream zip); splitting and batching arrays."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from ecg_course import cache, data, ecg5000, sources

ECG5000_FILES = ("ECG5000_TRAIN.tsv", "ECG5000_TEST.tsv")


def _copy_ecg5000(data_root: Path, target: Path) -> Path:
    (target / "ecg5000").mkdir(parents=True)
    for name in ECG5000_FILES:
        shutil.copy(data_root / "ecg5000" / name, target / "ecg5000" / name)
    return target


def _corrupt(path: Path) -> None:
    text = path.read_text()
    path.write_text(text.replace("-0.11252183", "-0.11252184", 1))


def test_local_copy_gives_the_ucr_split(data_root, monkeypatch):
    monkeypatch.setenv(sources.DATA_ENV, str(data_root))
    X_train, y_train, X_test, y_test = ecg5000.load_ecg5000()
    assert X_train.shape == (500, 140) and X_test.shape == (4500, 140)
    assert X_train.dtype == np.float32 and y_train.dtype == np.int64
    assert np.bincount(y_train).tolist() == [292, 177, 10, 19, 2]
    assert np.bincount(y_test).tolist() == [2627, 1590, 86, 175, 22]
    # UCR labels 1..5 became 0..4; the first training beat is a normal beat (label 1)
    assert y_train[0] == 0
    np.testing.assert_allclose(X_train[0, :3], [-0.11252183, -2.8272038, -3.7738969], rtol=1e-6)
    # beats are z-normalised one by one
    np.testing.assert_allclose(X_test.mean(axis=1), 0, atol=1e-4)


def test_result_is_cached_and_a_corrupt_cache_is_rebuilt(data_root, monkeypatch, tmp_path):
    local = _copy_ecg5000(data_root, tmp_path / "data")
    monkeypatch.setenv(sources.DATA_ENV, str(local))
    first = ecg5000.load_ecg5000()
    cached = ecg5000.cache_path()
    assert cached.is_file()
    # the cache is read without touching the source files
    shutil.rmtree(local / "ecg5000")
    (local / "ecg5000").mkdir()
    second = ecg5000.load_ecg5000()
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    # a damaged cache is not trusted: with no source left, the loader must say so
    cached.write_bytes(b"not a zip file")
    with pytest.raises(FileNotFoundError, match="ECG5000_TRAIN.tsv is missing"):
        ecg5000.load_ecg5000()
    _copy_ecg5000(data_root, tmp_path / "fresh")
    monkeypatch.setenv(sources.DATA_ENV, str(tmp_path / "fresh"))
    rebuilt = ecg5000.load_ecg5000()
    np.testing.assert_array_equal(rebuilt[0], first[0])


def test_tampered_cache_values_are_rebuilt(data_root, monkeypatch):
    monkeypatch.setenv(sources.DATA_ENV, str(data_root))
    X_train, y_train, X_test, y_test = ecg5000.load_ecg5000()
    cached = ecg5000.cache_path()
    key = str(np.load(cached)[cache.KEY_ARRAY])  # the right key, values doubled
    arrays = {"X_train": X_train * 2, "y_train": y_train, "X_test": X_test, "y_test": y_test}
    cache.write_arrays(cached, key, arrays)
    again = ecg5000.load_ecg5000()
    np.testing.assert_array_equal(again[0], X_train)


def test_local_checksum_mismatch_is_a_clear_error(data_root, monkeypatch, tmp_path):
    local = _copy_ecg5000(data_root, tmp_path / "data")
    _corrupt(local / "ecg5000" / "ECG5000_TRAIN.tsv")
    monkeypatch.setenv(sources.DATA_ENV, str(local))
    with pytest.raises(ValueError, match=r"Checksum mismatch for .*ECG5000_TRAIN\.tsv: expected"):
        ecg5000.load_ecg5000()


def test_missing_local_file_and_folder(tmp_path, monkeypatch):
    (tmp_path / "ecg5000").mkdir()
    monkeypatch.setenv(sources.DATA_ENV, str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"ECG5000_TRAIN\.tsv is missing"):
        ecg5000.load_ecg5000()
    monkeypatch.setenv(sources.DATA_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        ecg5000.load_ecg5000()


def test_download_from_a_mirror(data_root, tmp_path, monkeypatch, serve):
    served = _copy_ecg5000(data_root, tmp_path / "served")
    monkeypatch.delenv(sources.DATA_ENV, raising=False)
    monkeypatch.setenv(sources.MIRROR_ENV, serve(served))
    X_train, y_train, X_test, _ = ecg5000.load_ecg5000(cache=False)
    assert X_train.shape == (500, 140) and X_test.shape == (4500, 140)
    raw = sources.cache_dir() / "raw" / "ecg5000"
    assert sorted(p.name for p in raw.iterdir()) == sorted(ECG5000_FILES)
    for name in ECG5000_FILES:
        assert (raw / name).read_bytes() == (data_root / "ecg5000" / name).read_bytes()


def test_corrupted_download_leaves_nothing_behind(data_root, tmp_path, monkeypatch, serve):
    served = _copy_ecg5000(data_root, tmp_path / "served")
    _corrupt(served / "ecg5000" / "ECG5000_TRAIN.tsv")
    monkeypatch.delenv(sources.DATA_ENV, raising=False)
    monkeypatch.setenv(sources.MIRROR_ENV, serve(served))
    with pytest.raises(ValueError, match=r"Checksum mismatch for ecg5000/ECG5000_TRAIN\.tsv"):
        ecg5000.load_ecg5000()
    raw = sources.cache_dir() / "raw" / "ecg5000"
    assert not raw.exists() or list(raw.iterdir()) == []


def _ucr_zip(data_root: Path, target: Path, corrupt: bool = False) -> Path:
    """ECG5000.zip as timeseriesclassification.com serves it: .txt files, other rounding."""
    target.mkdir(parents=True)
    with zipfile.ZipFile(target / "ECG5000.zip", "w") as archive:
        for part in ("TRAIN", "TEST"):
            rows = np.loadtxt(data_root / "ecg5000" / f"ECG5000_{part}.tsv")
            if corrupt and part == "TEST":
                rows[10, 50] += 0.5
            lines = ["  ".join(f"{v: .7e}" for v in row) for row in rows]
            archive.writestr(f"ECG5000_{part}.txt", "\n".join(lines) + "\n")
    return target


def test_upstream_zip_is_read_and_verified(data_root, tmp_path, monkeypatch, serve):
    monkeypatch.delenv(sources.DATA_ENV, raising=False)
    monkeypatch.delenv(sources.MIRROR_ENV, raising=False)
    url = serve(_ucr_zip(data_root, tmp_path / "served")) + "ECG5000.zip"
    monkeypatch.setattr(ecg5000, "ZIP_URL", url)
    X_train, y_train, X_test, y_test = ecg5000.load_ecg5000()
    monkeypatch.setenv(sources.DATA_ENV, str(data_root))
    reference = ecg5000.load_ecg5000(cache=False)
    np.testing.assert_allclose(X_test, reference[2], rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(y_test, reference[3])


def test_upstream_zip_with_wrong_values_is_rejected_and_removed(
    data_root, tmp_path, monkeypatch, serve
):
    monkeypatch.delenv(sources.DATA_ENV, raising=False)
    monkeypatch.delenv(sources.MIRROR_ENV, raising=False)
    url = serve(_ucr_zip(data_root, tmp_path / "served", corrupt=True)) + "ECG5000.zip"
    monkeypatch.setattr(ecg5000, "ZIP_URL", url)
    with pytest.raises(ValueError, match="ECG5000 TEST .* does not hold the published values"):
        ecg5000.load_ecg5000()
    assert not (sources.cache_dir() / "raw" / "ecg5000" / "ECG5000.zip").exists()
    assert not ecg5000.cache_path().exists()


def test_offline_without_local_copy_says_how_to_fix(monkeypatch):
    monkeypatch.delenv(sources.DATA_ENV, raising=False)
    monkeypatch.delenv(sources.MIRROR_ENV, raising=False)
    monkeypatch.setattr(ecg5000, "ZIP_URL", "http://127.0.0.1:9/ECG5000.zip")
    with pytest.raises(ConnectionError, match="Offline\\? Set ECG_COURSE_DATA"):
        ecg5000.load_ecg5000()
    raw = sources.cache_dir() / "raw" / "ecg5000"
    assert not raw.exists() or list(raw.iterdir()) == []


def test_unknown_file_is_refused():
    with pytest.raises(KeyError, match="not a known data file"):
        sources.fetch("ecg5000/ECG5000_VALID.tsv")


# --- splitting and batching --------------------------------------------------------------


def _toy(n: int = 100, length: int = 12, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, length)).astype(np.float32)
    y = np.array([0] * (n * 7 // 10) + [1] * (n - n * 7 // 10))
    return X, y


def test_stratified_split_sizes_proportions_and_disjointness():
    X, y = _toy(500)
    X_train, X_val, X_test, y_train, y_val, y_test = data.stratified_split(X, y)
    assert (len(X_train), len(X_val), len(X_test)) == (300, 100, 100)
    for part in (y_train, y_val, y_test):
        assert part.mean() == pytest.approx(0.3, abs=0.01)
    rows = [{r.tobytes() for r in part} for part in (X_train, X_val, X_test)]
    assert not (rows[0] & rows[1]) and not (rows[0] & rows[2]) and not (rows[1] & rows[2])
    assert len(rows[0] | rows[1] | rows[2]) == 500
    again = data.stratified_split(X, y)
    np.testing.assert_array_equal(again[2], X_test)


@pytest.mark.parametrize(
    ("X", "y", "message"),
    [
        (np.zeros((10, 5, 1)), np.zeros(10, dtype=int), r"2-D array \(n_beats, n_samples\)"),
        (np.full((10, 5), np.nan), np.zeros(10, dtype=int), r"X\[0\] contains NaN \(and 10 row"),
        (np.zeros((10, 5)), np.zeros(9, dtype=int), r"y must have shape \(10,\)"),
        (np.zeros((10, 5)), np.zeros(10), "integer class labels"),
        (np.array([["a"] * 5] * 10), np.zeros(10, dtype=int), "must hold numbers"),
    ],
)
def test_bad_beats_are_refused_with_what_was_expected(X, y, message):
    with pytest.raises(ValueError, match=message):
        data.stratified_split(X, y)


def test_labels_out_of_range_are_refused():
    X, _ = _toy(10)
    with pytest.raises(ValueError, match=r"labels in 0\.\.4; got values from 0 to 7"):
        data.validate_beats(X, np.array([0] * 9 + [7]), num_classes=5)


@pytest.mark.parametrize("weighted", [False, True])
def test_loaders_refuse_a_label_the_model_has_no_output_for(weighted):
    """Label 9 with 5 classes is refused when the loader is built, naming the beat,
    instead of failing inside the loss (or as a device-side assert on a GPU)."""
    X, _ = _toy(10)
    y = np.array([0, 1, 2, 3, 4, 9, 0, 1, 2, 3])
    make = data.make_weighted_loader if weighted else data.make_loader
    with pytest.raises(ValueError, match=r"0\.\.4.*y\[5\] = 9 is not a class of num_classes=5"):
        make(X, y, num_classes=5)
    with pytest.raises(ValueError, match=r"y\[2\] = -1.*no output -1"):
        make(X, np.array([0, 1, -1, 3, 4, 0, 0, 1, 2, 3]))
    with pytest.raises(ValueError, match="num_classes must be a positive integer"):
        make(X, y, num_classes=0)
    assert len(make(X, np.minimum(y, 4), num_classes=5).dataset) == 10


def test_split_fractions_must_make_sense():
    X, y = _toy()
    with pytest.raises(ValueError, match="summing to 1"):
        data.stratified_split(X, y, fractions=(0.6, 0.3, 0.3))


def test_beat_dataset_and_loader_shapes():
    X, y = _toy(70)
    dataset = data.BeatDataset(X, y)
    x0, y0 = dataset[0]
    assert x0.shape == (12, 1) and x0.dtype == torch.float32 and y0.dtype == torch.int64
    batches = list(data.make_loader(X, y, batch_size=32))
    assert [len(b[1]) for b in batches] == [32, 32, 6]
    assert batches[0][0].shape == (32, 12, 1)
    torch.testing.assert_close(batches[0][0][:, :, 0], torch.as_tensor(X[:32]))


def test_seeded_shuffle_repeats():
    X, y = _toy(70)
    first = [b[1] for b in data.make_loader(X, y, batch_size=16, shuffle=True, seed=3)]
    second = [b[1] for b in data.make_loader(X, y, batch_size=16, shuffle=True, seed=3)]
    for a, b in zip(first, second, strict=True):
        torch.testing.assert_close(a, b)


def test_random_prefix_batches_keep_the_start_of_each_beat():
    X, y = _toy(64, length=40)
    lengths = set()
    for x, _ in data.make_loader(X, y, batch_size=8, random_prefix=0.25, seed=1):
        length = x.shape[1]
        lengths.add(length)
        assert 10 <= length <= 40
    assert len(lengths) > 2  # lengths vary from batch to batch
    x, _ = next(iter(data.make_loader(X, y, batch_size=8, random_prefix=0.25, seed=1)))
    torch.testing.assert_close(x[:, :, 0], torch.as_tensor(X[:8, : x.shape[1]]))
    with pytest.raises(ValueError, match=r"min_fraction must be in \(0, 1\]"):
        data.make_loader(X, y, random_prefix=1.5)


def test_random_prefixes_in_whole_steps():
    X, y = _toy(64, length=140)
    loader = data.make_loader(X, y, batch_size=4, random_prefix=0.05, prefix_multiple=7)
    lengths = {x.shape[1] for x, _ in loader}
    assert all(length % 7 == 0 and 7 <= length <= 140 for length in lengths)
    assert len(lengths) > 5


def test_weighted_loader_draws_classes_in_proportion_to_n_c_to_the_alpha():
    X = np.arange(1100, dtype=np.float32).reshape(-1, 1).repeat(3, axis=1)
    y = np.array([0] * 900 + [1] * 100 + [2] * 100)  # classes 3 and 4 have no beats
    drawn = {}
    for alpha in (0.0, 0.5, 1.0):
        loader = data.make_weighted_loader(X, y, alpha=alpha, batch_size=500, num_samples=20_000)
        labels = torch.cat([b[1] for b in loader]).numpy()
        assert len(labels) == 20_000
        drawn[alpha] = np.bincount(labels, minlength=5) / len(labels)
    expected_half = np.array([30, 10, 10, 0, 0]) / 50  # n_c ** 0.5 = 30, 10, 10
    np.testing.assert_allclose(drawn[0.0], [1 / 3, 1 / 3, 1 / 3, 0, 0], atol=0.02)
    np.testing.assert_allclose(drawn[0.5], expected_half, atol=0.02)
    np.testing.assert_allclose(drawn[1.0], [9 / 11, 1 / 11, 1 / 11, 0, 0], atol=0.02)


def test_weighted_loader_batches_are_real_beats_and_repeat_with_the_seed():
    X, y = _toy(70)
    first = list(data.make_weighted_loader(X, y, batch_size=16, seed=5))
    second = list(data.make_weighted_loader(X, y, batch_size=16, seed=5))
    assert sum(len(b[1]) for b in first) == 70  # one "epoch" draws len(y) beats by default
    for (xa, ya), (xb, yb) in zip(first, second, strict=True):
        torch.testing.assert_close(ya, yb)
        torch.testing.assert_close(xa, xb)
    x, labels = first[0]
    assert x.shape == (16, 12, 1) and x.dtype == torch.float32
    rows = {tuple(row) for row in X.astype(np.float32)}
    assert all(tuple(beat[:, 0].numpy()) in rows for beat in x)
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match=r"alpha must be in \[0, 1\]"):
            data.make_weighted_loader(X, y, alpha=bad)
    with pytest.raises(ValueError, match="num_samples must be a positive"):
        data.make_weighted_loader(X, y, num_samples=0)
