"""The processed-array cache: several processes loading at once, unique temporary files."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import numpy as np
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
