"""Installing ecg_course on a copy of Colab's runtime changes none of Colab's packages.

A virtual environment gets Colab's versions of the packages that matter to the course
(``colab/snapshot.txt``, taken from Colab's published pip freeze by
``tools/colab_snapshot.py``). Then the notebooks' install cell runs there as it is,
in IPython, with one change: the requirement points at this checkout instead of
GitHub. The test compares every installed version before and after, then runs the
package's unit tests and chapter 1's solution notebook in that environment.
``tests/test_colab_cell.py`` tests the cell's logic (``ecg_course/colab.py``) quickly.

Where this differs from Colab, on purpose:

* Python is the one running these tests (CI's 3.11), not Colab's (the snapshot's
  ``# python:`` line, 3.13): Python 3.13 itself is not covered here.
* torch is requirements.txt's CPU build (2.13.0, a file on local disk), not Colab's
  (2.11.0): Colab's wheels are gigabytes. Instead the test checks that pyproject's
  torch range admits Colab's version, so the install keeps it.
* Packages outside the snapshot that its pins pull in get pip's newest versions.

The environment is kept in ``~/.cache/ecg_course-colab-venv`` (``ECG_COURSE_COLAB_VENV``
to choose another place), outside the clone so that fresh clones reuse it, and rebuilt
whenever the snapshot, the torch pin or Python change, or when what is installed there
differs from what was recorded when it was built.
Outside CI the test is skipped, saying so, when pip cannot reach the package registry.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import nbformat
import pytest
import tomllib
from packaging.requirements import Requirement

from ecg_course import colab
from ecg_course.colab import InstallChange, canonical, compare

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT = ROOT / "colab" / "snapshot.txt"
# Outside the clone, so that CI's fresh clones reuse it; its stamp says when to rebuild.
VENV = Path(
    os.environ.get("ECG_COURSE_COLAB_VENV", Path.home() / ".cache" / "ecg_course-colab-venv")
)
PYTHON = VENV / "bin" / "python"
STAMP = VENV / "colab-base.json"
NOTEBOOKS = sorted((ROOT / "solutions").glob("*.ipynb"))
CHAPTER_1 = ROOT / "solutions" / "01_ecg5000_lstm.ipynb"
# The unit tests of the package (the others test the book, the notebooks' files and the
# tools, which Colab does not run).
PACKAGE_TESTS = ["test_checks.py", "test_checks_beat_matching.py", "test_checks_chapter1.py",
                 "test_checks_chapter2.py", "test_checks_chapter3.py", "test_checks_common.py",
                 "test_checks_split.py", "test_data.py", "test_lstm_fcn.py",
                 "test_metrics_plots.py", "test_mitbih.py", "test_models.py",
                 "test_training.py"]  # fmt: skip
REQUIREMENT = re.compile(r'"ecg_course @ ([^"]+)"')

from tools import colab_snapshot  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _run(*args: str | Path, **kwargs) -> subprocess.CompletedProcess:
    """Run a command; on failure, fail the test with its output."""
    command = [str(a) for a in args]
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        pytest.fail(f"`{' '.join(command)}` exited {result.returncode}:\n"
                    f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}")  # fmt: skip
    return result


def _installed() -> dict[str, str]:
    """Every distribution in the Colab venv and its version, read by the venv's Python."""
    code = ("import json; from importlib.metadata import distributions as d; "
            "print(json.dumps({x.metadata['Name']: x.version for x in d()}))")  # fmt: skip
    # -P: not the working directory, where a checkout's ecg_course.egg-info would be found
    return {canonical(k): v for k, v in json.loads(_run(PYTHON, "-P", "-c", code).stdout).items()}


def _torch_pin() -> str:
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return next(line for line in lines if line.startswith("torch=="))


def _key(snapshot: colab_snapshot.Snapshot) -> str:
    digest = hashlib.sha256(SNAPSHOT.read_bytes())
    digest.update(f"{_torch_pin()} {sys.version}".encode())
    return digest.hexdigest()


def _registry_reachable() -> bool:
    probe = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--no-cache-dir", "--quiet",
         "--dest", str(ROOT / ".cache" / "colab-probe"), "six==1.17.0"],
        capture_output=True, text=True,
    )  # fmt: skip
    shutil.rmtree(ROOT / ".cache" / "colab-probe", ignore_errors=True)
    return probe.returncode == 0


def _build(snapshot: colab_snapshot.Snapshot, key: str) -> None:
    """A fresh venv: Colab's pip, the local CPU torch, then Colab's pins."""
    shutil.rmtree(VENV, ignore_errors=True)
    venv.create(VENV, with_pip=True)
    pins = dict(snapshot.pins)
    pins.pop("torch")  # stands in: requirements.txt's CPU build, installed first
    _run(PYTHON, "-m", "pip", "install", "--quiet", f"pip=={pins.pop('pip')}")
    _run(PYTHON, "-m", "pip", "install", "--quiet", _torch_pin())
    requirements = VENV / "colab-pins.txt"
    requirements.write_text("".join(f"{n}=={v}\n" for n, v in sorted(pins.items())))
    _run(PYTHON, "-m", "pip", "install", "--quiet", "-r", requirements)
    STAMP.write_text(json.dumps({"key": key, "installed": _installed()}, indent=1))


@pytest.fixture(scope="module")
def snapshot() -> colab_snapshot.Snapshot:
    return colab_snapshot.read(SNAPSHOT)


@pytest.fixture(scope="module")
def colab_venv(snapshot) -> dict[str, str]:
    """The Colab venv, as recorded when built (leftovers of a previous run removed)."""
    if os.environ.get("CI") != "true" and not _registry_reachable():
        pytest.skip(
            "pip cannot reach the package registry, which building the Colab "
            "environment needs (in CI, with CI=true, this test runs and fails instead)"
        )
    key = _key(snapshot)
    base = json.loads(STAMP.read_text()) if STAMP.exists() else {}
    if base.get("key") == key and PYTHON.exists():
        leftovers = sorted(set(_installed()) - set(base["installed"]))
        if leftovers:  # what an earlier run's install of ecg_course added
            _run(PYTHON, "-m", "pip", "uninstall", "--quiet", "--yes", *leftovers)
        if _installed() != base["installed"]:
            base = {}
    if base.get("key") != key or not PYTHON.exists() or not base:
        _build(snapshot, key)
        base = json.loads(STAMP.read_text())
    return base["installed"]


def _install_cell(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    return next(c.source for c in nb.cells if c.cell_type == "code")


def test_notebooks_share_one_install_cell():
    cells = {path.name: _install_cell(path) for path in NOTEBOOKS}
    assert len(set(cells.values())) == 1, f"the install cells differ: {cells}"
    cell = cells[NOTEBOOKS[0].name]
    assert REQUIREMENT.search(cell), f"expected the install cell to install {REQUIREMENT.pattern}"
    # %pip does not raise when pip fails: the cell runs pip itself and stops on a failure
    assert "%pip" not in cell and "subprocess.run(" in cell and "install()" in cell, cell


def test_snapshot_is_colabs_and_admitted_by_pyproject(snapshot):
    """Every dependency range in pyproject.toml admits Colab's version of it (torch
    included, which the Colab venv below cannot hold)."""
    assert re.fullmatch(r"[0-9a-f]{40}", snapshot.commit), snapshot.commit
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    refused = []
    for line in dependencies:
        requirement = Requirement(line)
        version = snapshot.pins.get(canonical(requirement.name))
        if version is not None and not requirement.specifier.contains(version, prereleases=True):
            refused.append(f"{line} refuses Colab's {requirement.name} {version}")
    assert not refused, "pyproject.toml would make pip change Colab's packages:\n" + "\n".join(
        refused
    )


# Colab's pandas a year before the snapshot; every wfdb release that reads MIT-BIH under
# numpy 2 (4.2+) needs pandas>=2.2.3, and pyproject.toml asks for wfdb>=4.2.
YEAR_OLD_PANDAS = "2.2.2"


def test_year_old_runtime_stops_with_pips_conflict_instead_of_upgrading(colab_venv, tmp_path):
    """On a runtime with pandas 2.2.2 the cell's install must not upgrade pandas: pip,
    given ecg_course's dependencies within the runtime's versions as ``colab.install``
    gives them, refuses and names the conflict (a dry run)."""
    versions = {**colab_venv, "pandas": YEAR_OLD_PANDAS}
    constraints = tmp_path / "colab.txt"
    constraints.write_text(colab.constraints(versions))
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    command, *args = colab.install_args(constraints, project["dependencies"])
    dry = subprocess.run(
        [str(PYTHON), "-m", "pip", command, "--dry-run", *args],
        capture_output=True,
        text=True,
    )
    output = dry.stdout + dry.stderr
    assert dry.returncode != 0, f"expected pip to refuse, it would install:\n{output}"
    assert f"(constraint) pandas=={YEAR_OLD_PANDAS}" in output and "wfdb" in output, output


def test_install_cell_keeps_colab_packages_then_course_runs(snapshot, colab_venv, tmp_path):
    """The install cell, run in IPython as Colab would, changes no package Colab has;
    then the unit tests and chapter 1 run there, on the package it installed."""
    pins = {n: v for n, v in snapshot.pins.items() if n != "torch"}
    wrong = {n: (v, colab_venv.get(n)) for n, v in pins.items() if colab_venv.get(n) != v}
    assert not wrong, f"the Colab venv does not hold Colab's versions (wanted, got): {wrong}"

    cell = _install_cell(CHAPTER_1)
    local = REQUIREMENT.sub(f'"ecg_course @ {ROOT.as_uri()}"', cell)
    driver = tmp_path / "run_cell.py"
    driver.write_text(
        "import sys, types\n"
        "sys.modules['google.colab'] = types.ModuleType('google.colab')  # what the cell tests\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "result = InteractiveShell.instance().run_cell(open(sys.argv[1]).read())\n"
        "sys.exit(0 if result.success else 1)\n"
    )
    (tmp_path / "cell.py").write_text(local)
    env = {**os.environ, "PATH": f"{VENV / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    ran = _run(PYTHON, "-P", driver, tmp_path / "cell.py", cwd=tmp_path, env=env)
    change: InstallChange = compare(colab_venv, _installed())
    assert not change.restart_needed, (
        f"installing ecg_course changed Colab's packages: changed {change.changed}, "
        f"removed {change.removed}\n{ran.stdout}\n{ran.stderr}"
    )
    expected = {"ecg-course", *snapshot.not_preinstalled}
    unexpected = sorted(set(change.added) - expected)
    assert not unexpected, (
        f"the install added {unexpected}, which colab/snapshot.txt neither pins nor lists "
        "as not preinstalled: if Colab has them, add them to COURSE_PACKAGES in "
        "tools/colab_snapshot.py and refresh the snapshot"
    )
    assert "ecg-course" in change.added, f"ecg_course was not installed:\n{ran.stdout}"
    assert "no restart needed" in ran.stdout, ran.stdout + ran.stderr

    where = _run(PYTHON, "-P", "-c", "import ecg_course; print(ecg_course.__file__)", cwd=ROOT)
    assert where.stdout.strip().startswith(str(VENV)), (
        f"expected ecg_course from the Colab venv, got {where.stdout}"
    )
    tests = [ROOT / "tests" / name for name in PACKAGE_TESTS]
    # pythonpath= keeps the checkout off sys.path: the tests import the installed package.
    _run(PYTHON, "-P", "-m", "pytest", "-q", "-o", "addopts=", "-o", "pythonpath=",
         "-p", "no:cacheprovider", "-W", "ignore::DeprecationWarning", *tests,
         cwd=ROOT)  # fmt: skip
    # Chapter 1 end to end with the smoke budget and without its accuracy claims: this
    # checks that the notebook runs on Colab's versions; nbval checks its numbers.
    execute = ("from pathlib import Path; from tools.execute_solutions import execute; "
               f"execute(Path({str(CHAPTER_1)!r}), save=False, "
               "overrides={'PRESET': 'smoke'}, skip_tags={'claim'})")  # fmt: skip
    _run(PYTHON, "-c", execute, cwd=ROOT)


def test_parse_freeze_reads_pins_and_wheel_urls():
    freeze = (
        "# a comment\n"
        "pandas==2.2.3\n"
        "Typing_Extensions==4.16.0\n"
        "torch @ https://download.pytorch.org/whl/cpu/torch-2.11.0%2Bcpu-cp313-cp313-"
        "manylinux_2_28_x86_64.whl\n"
        "google-colab @ file:///colabtools/dist/google_colab-1.0.0.tar.gz\n"
    )
    assert colab_snapshot.parse_freeze(freeze) == {
        "pandas": "2.2.3",
        "typing-extensions": "4.16.0",
        "torch": "2.11.0+cpu",
    }


def test_snapshot_round_trip_names_what_colab_lacks(tmp_path):
    made = colab_snapshot.make(
        "numpy==2.1.3\npandas==2.2.3\n", "Ubuntu 22.04.5 LTS\nPython 3.13.15\n", "a" * 40,
        "2026-08-19",
    )  # fmt: skip
    assert made.pins["numpy"] == "2.1.3" and made.python == "3.13.15"
    assert "wfdb" in made.not_preinstalled  # a dependency in pyproject.toml Colab lacks
    path = tmp_path / "snapshot.txt"
    path.write_text(colab_snapshot.render(made))
    assert colab_snapshot.read(path) == made
    path.write_text("numpy==2.1.3\n")
    with pytest.raises(ValueError, match="# commit: "):
        colab_snapshot.read(path)


def test_report_install_warns_when_a_preinstalled_package_changed(monkeypatch, capsys):
    before = {"pandas": "2.2.2", "numpy": "2.1.3", "Old_Pkg": "1.0"}
    after = {"pandas": "3.1.1", "numpy": "2.1.3", "wfdb": "4.3.1", "ecg-course": "0.1.0"}
    monkeypatch.setattr(colab, "installed", lambda: after)
    change = colab.report_install(before)
    assert change.changed == {"pandas": ("2.2.2", "3.1.1")}
    assert change.removed == {"old-pkg": "1.0"} and change.restart_needed
    out, err = capsys.readouterr()
    assert "Installed: ecg-course 0.1.0, wfdb 4.3.1." in out
    assert "pandas 2.2.2 -> 3.1.1" in err and colab.RESTART in err


def test_report_install_says_no_restart_when_nothing_changed(monkeypatch, capsys):
    monkeypatch.setattr(colab, "installed", lambda: {"numpy": "2.1.3", "wfdb": "4.1.2"})
    assert not colab.report_install({"numpy": "2.1.3"}).restart_needed
    out, err = capsys.readouterr()
    assert "Installed: wfdb 4.1.2." in out and "no restart needed" in out and not err


@pytest.mark.parametrize("doc", ["README.md", "book/intro.md"])
def test_docs_name_the_runtime_last_checked(snapshot, doc):
    """README and the book's "How to work" say which runtime colab/snapshot.txt holds."""
    text = " ".join((ROOT / doc).read_text().split())
    python = ".".join(snapshot.python.split(".")[:2])
    for fact in (snapshot.commit[:7], snapshot.date, f"Python {python}"):
        assert fact in text, (
            f"{doc}: expected it to name the Colab runtime of colab/snapshot.txt "
            f"({snapshot.commit[:7]}, {snapshot.date}, Python {python}); missing {fact!r}"
        )
