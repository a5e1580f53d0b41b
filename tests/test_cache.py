"""The processed-array cache: several processes loading at once, unique temporary files."""

from __future__ import annotations

import errno
import multiprocessing
import os
import re
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pooch
import pytest

from ecg_course import cache, ecg5000, mitbih, sources

N_PROCESSES = 4


def _load_after_barrier(barrier, errors) -> None:
    barrier.wait(timeout=60)
    try:
        ecg5000.load_ecg5000()
    except Exception as error:  # reported to the parent, which fails the test
        errors.put(f"{type(error).__name__}: {error}")


def test_processes_loading_ecg5000_at_once_into_an_empty_cache(data_root, monkeypatch, tmp_path):
    """Four processes start together on an empty cache; every one must get the data.

    With one fixed temporary name (``processed/ecg5000.tmp.npz``) the first process to
    move it into place took it from under the others (FileNotFoundError).
    """
    monkeypatch.setenv(sources.DATA_ENV, str(data_root))
    context = multiprocessing.get_context("fork")
    for trial in range(3):  # the race is a matter of timing: give it several chances
        monkeypatch.setenv(sources.CACHE_ENV, str(tmp_path / f"cache{trial}"))
        barrier, errors = context.Barrier(N_PROCESSES), context.Queue()
        workers = [
            context.Process(target=_load_after_barrier, args=(barrier, errors))
            for _ in range(N_PROCESSES)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=120)
        assert [w.exitcode for w in workers] == [0] * N_PROCESSES
        failures = [errors.get(timeout=5) for _ in range(errors.qsize())]
        assert not failures, f"trial {trial}: {failures}"
        processed = tmp_path / f"cache{trial}" / "processed"
        assert [p.name for p in processed.iterdir()] == [ecg5000.cache_path().name]


@pytest.fixture
def replaced(monkeypatch) -> list[tuple[str, str]]:
    """Every (source, target) that os.replace is asked to move, in order."""
    calls: list[tuple[str, str]] = []
    real = os.replace

    def recording(src, dst, **kwargs):
        calls.append((os.fspath(src), os.fspath(dst)))
        return real(src, dst, **kwargs)

    monkeypatch.setattr(os, "replace", recording)
    return calls


def test_ecg5000_writes_through_a_unique_temporary_file(data_root, monkeypatch, tmp_path, replaced):
    """Two first loads write through two different temporary files, next to the cache."""
    monkeypatch.setenv(sources.DATA_ENV, str(data_root))
    for name in ("a", "b"):
        monkeypatch.setenv(sources.CACHE_ENV, str(tmp_path / name))
        ecg5000.load_ecg5000()
    assert len(replaced) == 2
    (tmp_a, cached_a), (tmp_b, cached_b) = replaced
    assert Path(tmp_a).name != Path(tmp_b).name, "a fixed temporary name races between processes"
    assert Path(tmp_a).parent == Path(cached_a).parent  # same folder: os.replace is atomic
    assert not Path(tmp_a).exists() and Path(cached_a).is_file()


def test_writer_uses_a_new_temporary_file_every_time(tmp_path, replaced):
    target = tmp_path / "processed" / "x_0123.npz"
    for value in (1.0, 2.0):
        cache.write_arrays(target, "k", {"X": np.full(3, value)})
    assert len({src for src, _ in replaced}) == 2
    assert {dst for _, dst in replaced} == {str(target)}
    assert cache.read_arrays(target, "k", ("X",))["X"].tolist() == [2.0, 2.0, 2.0]
    assert cache.read_arrays(target, "other key", ("X",)) is None
    assert cache.read_arrays(target, "k", ("X", "y")) is None
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no temporary left


def test_failed_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    def disk_full(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(np, "savez_compressed", disk_full)
    target = tmp_path / "x_0123.npz"
    with pytest.raises(OSError, match="No space left"):
        cache.write_arrays(target, "k", {"X": np.zeros(3)})
    assert list(tmp_path.iterdir()) == []


def test_one_key_scheme_for_both_datasets(monkeypatch):
    """Both datasets name and key their files with cache.cache_key / cache.cache_path."""
    old = ecg5000.cache_path(), mitbih.cache_path()
    assert all(path.parent == sources.cache_dir() / "processed" for path in old)
    monkeypatch.setattr(cache, "VERSION", cache.VERSION + 1)
    new = ecg5000.cache_path(), mitbih.cache_path()
    assert old[0] != new[0] and old[1] != new[1]


def test_cache_folder_from_the_environment_has_its_tilde_expanded(monkeypatch, tmp_path):
    """ECG_COURSE_CACHE="~/x" is the folder x in the home folder, not ./~/x (as
    ECG_COURSE_DATA already was)."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv(sources.CACHE_ENV, "~/x")
    assert sources.cache_dir() == tmp_path / "x"
    assert ecg5000.cache_path().is_relative_to(tmp_path / "x")


# --- A cache that cannot be written never fails a load (issue 24, item 11) ---


def _cannot_create(*args, **kwargs):
    raise PermissionError(errno.EACCES, "Permission denied", str(args[0]) if args else "")


def _read_only_fs(*args, **kwargs):
    raise OSError(errno.EROFS, "Read-only file system")


def _disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")  # as numpy says it: no path


@pytest.mark.parametrize(
    ("target", "error", "says"),
    [
        ("mkstemp", _cannot_create, "Permission denied"),
        ("mkstemp", _read_only_fs, "Read-only file system"),
        ("savez_compressed", _disk_full, "No space left on device"),
    ],
)
def test_unwritable_processed_cache_warns_naming_the_file_and_returns_the_data(
    data_root, monkeypatch, target, error, says
):
    monkeypatch.setenv(sources.DATA_ENV, str(data_root))
    monkeypatch.setattr(tempfile if target == "mkstemp" else np, target, error)
    with pytest.warns(cache.CacheWarning, match=says) as caught:
        X_train, y_train, X_test, y_test = ecg5000.load_ecg5000()
    assert X_train.shape == (500, 140) and len(y_test) == 4500
    assert str(ecg5000.cache_path()) in str(caught[0].message)
    assert sources.CACHE_ENV in str(caught[0].message)
    assert not ecg5000.cache_path().parent.exists() or not any(
        ecg5000.cache_path().parent.iterdir()
    )  # nothing half-written left


def _cache_under_a_file(monkeypatch, tmp_path) -> Path:
    """A cache folder that cannot exist: its parent is a regular file (this works as root,
    where a read-only chmod does not stop writes)."""
    (tmp_path / "a_file").write_text("not a folder")
    folder = tmp_path / "a_file" / "cache"
    monkeypatch.setenv(sources.CACHE_ENV, str(folder))
    return folder


def test_processed_arrays_load_when_the_cache_folder_cannot_be_created(
    data_root, monkeypatch, tmp_path
):
    monkeypatch.setenv(sources.DATA_ENV, str(data_root))
    folder = _cache_under_a_file(monkeypatch, tmp_path)
    with pytest.warns(cache.CacheWarning, match="Could not write the cache file") as caught:
        X_train, *_ = ecg5000.load_ecg5000()
    assert X_train.shape == (500, 140) and str(folder) in str(caught[0].message)
    with pytest.warns(cache.CacheWarning, match=str(mitbih.cache_path(["100"]))):
        X, y, ids = mitbih.build_beats(["100"], progress=False)
    assert len(X) == len(y) == len(ids) > 2000
    assert (tmp_path / "a_file").read_text() == "not a folder"


def _serve_files(data_root: Path, folder: Path, names: list[str]) -> Path:
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(data_root / name, folder / name)
    return folder


ECG5000_NAMES = ["ecg5000/ECG5000_TRAIN.tsv", "ecg5000/ECG5000_TEST.tsv"]


def test_downloads_go_to_a_temporary_folder_when_the_cache_cannot_be_written(
    data_root, monkeypatch, tmp_path, serve
):
    served = _serve_files(data_root, tmp_path / "served", ECG5000_NAMES)
    monkeypatch.delenv(sources.DATA_ENV, raising=False)
    monkeypatch.setenv(sources.MIRROR_ENV, serve(served))
    folder = _cache_under_a_file(monkeypatch, tmp_path)
    with pytest.warns(sources.CacheWarning) as caught:
        X_train, y_train, X_test, y_test = ecg5000.load_ecg5000()
    assert X_train.shape == (500, 140) and X_test.shape == (4500, 140)
    messages = [str(w.message) for w in caught]
    # one warning for the downloads' folder (not one per file), one for the processed file
    assert sum(str(folder / "raw" / "ecg5000") in m for m in messages) == 1, messages
    assert sum(str(ecg5000.cache_path()) in m for m in messages) == 1, messages
    path = sources.fetch(ECG5000_NAMES[0])
    assert path.read_bytes() == (data_root / ECG5000_NAMES[0]).read_bytes()
    assert not path.is_relative_to(tmp_path)


def _refuse_writes_under(folder: Path, monkeypatch, error=None) -> None:
    """pooch can read ``folder`` but not write there (what a read-only folder does; as
    root a chmod would not stop the writes): pooch checks before every write."""
    real = pooch.core.make_local_storage

    def checked(path, env=None):
        if error is not None or Path(path).is_relative_to(folder):
            raise error or PermissionError(f"Pooch could not write to data cache folder '{path}'.")
        return real(path, env)

    monkeypatch.setattr(pooch.core, "make_local_storage", checked)


def test_a_read_only_cache_is_read_in_place_and_a_record_stays_in_one_folder(
    data_root, monkeypatch, tmp_path, serve
):
    """Files already in a read-only cache are read there; a record whose files are
    partly there is served whole from the temporary folder (the others are copied
    there, nothing is removed), so that wfdb finds its three files together."""
    names = [f"mitdb/100.{ext}" for ext in ("hea", "dat", "atr")]
    served = _serve_files(data_root, tmp_path / "served", names)
    monkeypatch.delenv(sources.DATA_ENV, raising=False)
    monkeypatch.setenv(sources.MIRROR_ENV, serve(served))
    header = sources.fetch("mitdb/100.hea")  # the cache, still writable, holds the header
    assert header.is_relative_to(sources.cache_dir())
    _refuse_writes_under(sources.cache_dir(), monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert sources.fetch("mitdb/100.hea") == header  # read in place, no warning
    with pytest.warns(sources.CacheWarning, match=re.escape(str(header.parent))):
        record, annotation = mitbih.read_record("100")
    assert record.p_signal.shape == (650_000, 2) and len(annotation.sample) > 2000
    assert sorted(p.name for p in header.parent.iterdir()) == ["100.hea"]  # left as it was


def test_a_download_that_fits_nowhere_names_both_folders(data_root, monkeypatch, tmp_path, serve):
    """A full disk under the cache and the temporary folder: an OSError naming both, not
    "Could not download ... Offline?"."""
    served = _serve_files(data_root, tmp_path / "served", ECG5000_NAMES)
    monkeypatch.delenv(sources.DATA_ENV, raising=False)
    monkeypatch.setenv(sources.MIRROR_ENV, serve(served))
    _refuse_writes_under(tmp_path, monkeypatch, OSError(errno.ENOSPC, "No space left on device"))
    with pytest.warns(sources.CacheWarning), pytest.raises(OSError) as raised:
        sources.fetch(ECG5000_NAMES[0])
    assert not isinstance(raised.value, ConnectionError) and raised.value.errno == errno.ENOSPC
    message = str(raised.value)
    assert "No space left on device" in message and sources.CACHE_ENV in message
    assert str(sources.cache_dir() / "raw" / "ecg5000") in message
    assert str(sources._fallback_root()) in message
