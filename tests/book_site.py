"""Helpers for testing the built book: build it, serve it, find a headless browser.

``build_book()`` runs the same Jupyter Book build as ``python tasks.py book``
(``jupyter-book build . --builder html --warningiserror --nitpick --keep-going``),
with the interpreter that runs the tests, so the test suite never creates or
reinstalls a virtual environment of its own.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HTML_DIR = ROOT / "_build" / "html"
SCREENSHOT_DIR = ROOT / "_build" / "screenshots"

# Arguments of `jupyter-book` for the book build; tasks.BOOK_ARGS wins when tasks.py has it.
DEFAULT_BOOK_ARGS = [
    "build", str(ROOT), "--builder", "html", "--warningiserror", "--nitpick", "--keep-going",
]  # fmt: skip
# jupyter_book has no __main__ module (`python -m jupyter_book` fails): call its CLI entry point.
JUPYTER_BOOK_MAIN = "import sys; from jupyter_book.cli.main import main; sys.exit(main())"

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMEDRIVER_CANDIDATES = ("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver")
REQUIRE_BROWSER_ENV = "ECG_COURSE_REQUIRE_BROWSER"


def book_args() -> list[str]:
    """Arguments of ``jupyter-book`` for the build (``tasks.BOOK_ARGS`` if tasks.py has it).

    tasks.py is imported from the repository root, which pytest puts on the path
    (``pythonpath`` in pyproject.toml).
    """
    try:
        import tasks
    except ImportError:
        return list(DEFAULT_BOOK_ARGS)
    return [str(a) for a in getattr(tasks, "BOOK_ARGS", DEFAULT_BOOK_ARGS)]


def book_command(python: str | Path | None = None) -> list[str]:
    """The full build command: ``python -c <jupyter-book entry point> build ...``."""
    return [str(python or sys.executable), "-c", JUPYTER_BOOK_MAIN, *book_args()]


def build_book() -> Path:
    """Build the HTML book into ``_build/html`` with the current interpreter; return that folder.

    Raises:
        RuntimeError: the build failed (with -W, any warning fails it); carries the log tail.
    """
    command = book_command()
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0 or not (HTML_DIR / "index.html").is_file():
        log = (result.stdout + result.stderr)[-6000:]
        raise RuntimeError(f"book build failed ({' '.join(command)}):\n{log}")
    return HTML_DIR


def html_pages(html_dir: Path = HTML_DIR) -> list[str]:
    """Every HTML page of the built site, as paths relative to ``html_dir``."""
    skip = ("_static/", "_sources/", "_images/")
    pages = [p.relative_to(html_dir).as_posix() for p in html_dir.rglob("*.html")]
    return sorted(p for p in pages if not p.startswith(skip))


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@contextlib.contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve ``directory`` over HTTP on 127.0.0.1 (a free port); yield the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _first_existing(candidates: tuple[str, ...], name: str) -> str | None:
    for path in candidates:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return shutil.which(name)


def find_browser() -> tuple[str, str] | None:
    """(chromium, chromedriver) paths of the system's Chromium, or None if either is missing."""
    chromium = _first_existing(CHROMIUM_CANDIDATES, "chromium")
    driver = _first_existing(CHROMEDRIVER_CANDIDATES, "chromedriver")
    if chromium and driver:
        return chromium, driver
    return None


def browser_required() -> bool:
    """True when a missing browser must fail the tests instead of skipping them (CI)."""
    return os.environ.get(REQUIRE_BROWSER_ENV, "") not in ("", "0")
