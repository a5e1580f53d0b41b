"""Fixtures shared by the test modules: the real data folder and a local HTTP server."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import book_site
import matplotlib
import pytest

from ecg_course import sources

matplotlib.use("Agg")


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The folder named by ECG_COURSE_DATA (skips the test when it is unset)."""
    path = os.environ.get(sources.DATA_ENV)
    if not path:
        pytest.skip(
            f"{sources.DATA_ENV} is not set: this test reads the real data; set it to a "
            "folder laid out like ../shared/data (ecg5000/, mitdb/)."
        )
    return Path(path)


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch) -> None:
    """Every test gets an empty cache unless it sets ECG_COURSE_CACHE itself."""
    monkeypatch.setenv(sources.CACHE_ENV, str(tmp_path_factory.mktemp("cache")))


@pytest.fixture
def serve() -> Iterator[Callable[[Path], str]]:
    """Start HTTP servers on 127.0.0.1; ``serve(folder)`` returns the base URL."""
    with contextlib.ExitStack() as servers:
        yield lambda folder: servers.enter_context(book_site.serve(folder))
