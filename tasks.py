#!/usr/bin/env python3
"""The course's commands. Needs only Python 3.10+; sets up ``.venv`` on first use.

    python tasks.py book        build the HTML book into _build/html (from committed outputs)
    python tasks.py test        run the whole test suite (unit tests, exercise sync, nbval, browser)
    python tasks.py execute     re-execute the solution notebooks, then regenerate the exercises
    python tasks.py exercises   regenerate notebooks/ and the grading tests from solutions/
    python tasks.py bench       run the benchmarks (speed and accuracy targets)
    python tasks.py lint        ruff check

The virtual environment is (re)installed from requirements.txt whenever that file
or pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".installed"
# Arguments of `jupyter-book` for the book build (tests/book_site.py builds with the same).
BOOK_ARGS = ["build", str(ROOT), "--all", "--builder", "html", "--warningiserror", "--nitpick",
             "--keep-going"]  # fmt: skip


def _run(*args: str | Path, env: dict[str, str] | None = None) -> None:
    command = [str(a) for a in args]
    print("+", " ".join(command), flush=True)
    result = subprocess.run(command, cwd=ROOT, env={**os.environ, **(env or {})})
    if result.returncode != 0:
        sys.exit(result.returncode)


def _requirements_hash() -> str:
    digest = hashlib.sha256()
    for name in ("requirements.txt", "pyproject.toml"):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def ensure_venv() -> Path:
    """Create .venv and install the pinned requirements and the package, once."""
    if not PYTHON.exists():
        print(f"Creating a virtual environment in {VENV}", flush=True)
        venv.create(VENV, with_pip=True)
    wanted = _requirements_hash()
    if not STAMP.exists() or STAMP.read_text() != wanted:
        # torch first, on its own: the pinned CPU build must be in place before any
        # package that depends on torch is resolved.
        torch_pin = next(
            line
            for line in (ROOT / "requirements.txt").read_text().splitlines()
            if line.startswith("torch==")
        )
        _run(PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
        _run(PYTHON, "-m", "pip", "install", "--quiet", torch_pin)
        _run(PYTHON, "-m", "pip", "install", "--quiet", "-r", "requirements.txt")
        _run(PYTHON, "-m", "pip", "install", "--quiet", "--no-deps", "-e", ".")
        STAMP.write_text(wanted)
    return PYTHON


def build_book() -> Path:
    """Build the HTML book from the committed notebook outputs; returns _build/html."""
    ensure_venv()
    _run(BIN / "jupyter-book", *BOOK_ARGS)
    return ROOT / "_build" / "html"


def execute_solutions() -> None:
    """Run every solution notebook top to bottom, saving tidy outputs in place."""
    _run(ensure_venv(), "-m", "tools.execute_solutions")
    make_exercises()


def make_exercises() -> None:
    """Regenerate notebooks/ and the grading tests from solutions/."""
    _run(ensure_venv(), "-m", "tools.make_exercises")
    _run(ensure_venv(), "-m", "tools.make_grading_tests")


def test(extra: list[str]) -> None:
    _run(ensure_venv(), "-m", "pytest", *extra)


def bench(extra: list[str]) -> None:
    python = ensure_venv()
    for script in sorted((ROOT / "benchmarks").glob("bench_*.py")):
        _run(python, "-m", f"benchmarks.{script.stem}", *extra)


def lint() -> None:
    _run(ensure_venv(), "-m", "ruff", "check", ".")


def main(argv: list[str]) -> None:
    commands = {
        "book": lambda extra: build_book(),
        "test": test,
        "execute": lambda extra: execute_solutions(),
        "exercises": lambda extra: make_exercises(),
        "bench": bench,
        "lint": lambda extra: lint(),
        "setup": lambda extra: ensure_venv(),
    }
    if not argv or argv[0] not in commands:
        print(__doc__)
        sys.exit(f"expected one of: {', '.join(commands)}")
    commands[argv[0]](argv[1:])


if __name__ == "__main__":
    main(sys.argv[1:])
