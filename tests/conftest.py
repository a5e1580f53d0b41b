"""Fixtures shared by the test modules: the real data folder and a local HTTP server."""

from __future__ import annotations

import functools
import http.server
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

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
    servers = []

    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    def start(folder: Path) -> str:
        handler = functools.partial(QuietHandler, directory=str(folder))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append((server, thread))
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield start
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join()
