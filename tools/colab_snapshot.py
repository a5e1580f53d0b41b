"""Write colab/snapshot.txt: Colab's preinstalled versions of the packages the course uses.

Google publishes the Python packages of Colab's runtime as ``pip-freeze.txt`` and its
Python version in ``os-info.txt`` in the public repository googlecolab/backend-info.
This script keeps, from that freeze, the packages listed in :data:`COURSE_PACKAGES`
(plus every dependency of ``ecg_course`` in ``pyproject.toml``) and writes them, with
the upstream commit, its date and Colab's Python, to ``colab/snapshot.txt``.
``tests/test_colab.py`` installs those pins in a fresh virtual environment, installs
``ecg_course`` on top the way the notebooks' first cell does, and fails if that
changes any of them.

Refresh from the upstream repository's newest commit (needs access to GitHub)::

    python3 -m tools.colab_snapshot

or from copies of the two files already on disk (the commit and its date given by hand)::

    python3 -m tools.colab_snapshot --from ../shared/colab --commit SHA --date YYYY-MM-DD
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import tomllib

from ecg_course.colab import canonical  # standard library only: runs without the venv

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT = ROOT / "colab" / "snapshot.txt"
UPSTREAM = "googlecolab/backend-info"

# What is taken from Colab's freeze besides ecg_course's own dependencies (read from
# pyproject.toml): the direct dependencies of those that Colab preinstalls, the
# packages that run a notebook and its checks (the test executes chapter 1 with
# them), and the local model endpoint's web stack (fastapi, uvicorn and theirs).
# A package that the install of ecg_course adds while Colab has it makes
# tests/test_colab.py fail and name it: add it here and refresh.
COURSE_PACKAGES = {
    "the installer that runs the notebooks' install cell": "pip",
    "numerics and their direct dependencies": "numpy scipy pandas python-dateutil pytz "
    "tzdata six scikit-learn joblib threadpoolctl imbalanced-learn sklearn-compat umap-learn "
    "numba llvmlite pynndescent",
    "plots and progress bars": "matplotlib contourpy cycler fonttools kiwisolver pillow "
    "pyparsing packaging tqdm",
    "downloads (pooch, wfdb) and reading records (wfdb)": "pooch platformdirs requests "
    "certifi charset-normalizer idna urllib3 aiohttp fsspec soundfile",
    "notebooks: kernel, execution, widgets (tqdm.auto), jupytext, tests": "ipykernel "
    "ipython jupyter-client jupyter-core traitlets tornado pyzmq nbclient nbformat ipywidgets "
    "widgetsnbextension jupyterlab-widgets jupytext pytest",
    "the local model endpoint": "fastapi starlette uvicorn click h11 httpx httpcore anyio "
    "sniffio pydantic pydantic-core annotated-types typing-inspection typing-extensions",
}


def _requirement_name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    if not match:
        raise ValueError(f"pyproject.toml: cannot read a package name in {requirement!r}")
    return match.group(1)


def course_packages() -> list[str]:
    """The canonical names chosen: COURSE_PACKAGES and ecg_course's dependencies."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {canonical(n) for group in COURSE_PACKAGES.values() for n in group.split()}
    names |= {canonical(_requirement_name(r)) for r in project["dependencies"]}
    return sorted(names)


@dataclass(frozen=True)
class Snapshot:
    commit: str
    date: str
    python: str
    pins: dict[str, str]  # canonical name -> Colab's version
    not_preinstalled: list[str]  # chosen packages that Colab does not have

    def requirement_lines(self) -> list[str]:
        return [f"{name}=={version}" for name, version in sorted(self.pins.items())]


def parse_freeze(text: str) -> dict[str, str]:
    """Versions in a pip freeze: ``name==version`` lines, and ``name @ URL`` lines whose
    URL names a wheel (Colab's torch: ``torch @ .../torch-2.11.0%2Bcpu-cp313-...whl``)."""
    pins = {}
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#"):
            continue
        if "==" in line:
            name, version = line.split("==", 1)
            pins[canonical(name)] = version.strip()
        elif wheel := re.match(r"([A-Za-z0-9._-]+) @ \S*/([^/]+)\.whl$", line):
            version = urllib.parse.unquote(wheel.group(2)).split("-")[1]
            pins[canonical(wheel.group(1))] = version
    return pins


def parse_python(os_info: str) -> str:
    match = re.search(r"^Python (\d+\.\d+\.\d+)", os_info, re.MULTILINE)
    if not match:
        raise ValueError(f"os-info.txt: expected a line 'Python X.Y.Z', got:\n{os_info}")
    return match.group(1)


def make(freeze: str, os_info: str, commit: str, date: str) -> Snapshot:
    colab = parse_freeze(freeze)
    chosen = course_packages()
    pins = {name: colab[name] for name in chosen if name in colab}
    missing = [name for name in chosen if name not in colab]
    return Snapshot(commit, date, parse_python(os_info), pins, missing)


def render(snapshot: Snapshot) -> str:
    header = [
        "# Colab's preinstalled versions of the packages that matter to the course.",
        "# Generated by tools/colab_snapshot.py (its docstring says how to refresh); do not edit.",
        f"# Source: https://github.com/{UPSTREAM} pip-freeze.txt and os-info.txt",
        "# Chosen: ecg_course's dependencies, their direct dependencies that Colab",
        "# preinstalls, the notebook and test runners, the model endpoint's web stack",
        "# (tools/colab_snapshot.py, COURSE_PACKAGES).",
        f"# commit: {snapshot.commit}",
        f"# date: {snapshot.date}",
        f"# python: {snapshot.python}",
        f"# not-preinstalled: {' '.join(snapshot.not_preinstalled) or '-'}",
    ]
    return "\n".join(header + snapshot.requirement_lines()) + "\n"


def read(path: Path = SNAPSHOT) -> Snapshot:
    """Read a snapshot file written by :func:`render`."""
    text = path.read_text()
    fields = dict(re.findall(r"^# ([a-z-]+): (.*)$", text, re.MULTILINE))
    for key in ("commit", "date", "python", "not-preinstalled"):
        if key not in fields:
            raise ValueError(
                f"{path}: expected a '# {key}: ...' line; regenerate it with "
                "tools/colab_snapshot.py"
            )
    not_preinstalled = (
        [] if fields["not-preinstalled"] == "-" else fields["not-preinstalled"].split()
    )
    return Snapshot(fields["commit"], fields["date"], fields["python"], parse_freeze(text),
                    not_preinstalled)  # fmt: skip


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as response:
        return response.read()


def from_upstream(ref: str) -> tuple[str, str, str, str]:
    """(pip-freeze.txt, os-info.txt, commit, date) of ``ref`` in the upstream repository."""
    info = json.loads(_get(f"https://api.github.com/repos/{UPSTREAM}/commits/{ref}"))
    commit, date = info["sha"], info["commit"]["committer"]["date"][:10]
    raw = f"https://raw.githubusercontent.com/{UPSTREAM}/{commit}"
    return (_get(f"{raw}/pip-freeze.txt").decode(), _get(f"{raw}/os-info.txt").decode(),
            commit, date)  # fmt: skip


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ref", default="main", help="upstream branch or commit (default main)")
    parser.add_argument(
        "--from",
        dest="folder",
        type=Path,
        help="read pip-freeze.txt and os-info.txt from this folder instead",
    )
    parser.add_argument("--commit", help="with --from: the upstream commit of those files")
    parser.add_argument("--date", help="with --from: that commit's date, YYYY-MM-DD")
    args = parser.parse_args(argv)
    if args.folder:
        if not (args.commit and args.date):
            parser.error("--from needs --commit and --date (the copies do not say them)")
        freeze = (args.folder / "pip-freeze.txt").read_text()
        os_info = (args.folder / "os-info.txt").read_text()
        commit, date = args.commit, args.date
    else:
        freeze, os_info, commit, date = from_upstream(args.ref)
    snapshot = make(freeze, os_info, commit, date)
    SNAPSHOT.parent.mkdir(exist_ok=True)
    SNAPSHOT.write_text(render(snapshot))
    print(
        f"Wrote {SNAPSHOT.relative_to(ROOT)}: {len(snapshot.pins)} pins from {UPSTREAM} "
        f"{commit[:12]} ({date}, Python {snapshot.python}); not preinstalled: "
        f"{', '.join(snapshot.not_preinstalled) or 'none'}"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
