"""The Colab install cell's logic, fast: which versions it pins, what it leaves out, how it
runs pip and stops when pip fails (issue 24, item 13). ``tests/test_colab.py`` runs the
cell for real on a copy of Colab's runtime (slow: it builds a virtual environment)."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import types
from importlib import metadata
from pathlib import Path

import nbformat
import pytest

from ecg_course import colab

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "solutions").glob("*.ipynb"))


def _dist(folder: Path, name: str, version: str, requires: tuple[str, ...] = ()) -> Path:
    """A minimal installed distribution ``name`` ``version`` in ``folder``."""
    info = folder / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    lines += [f"Requires-Dist: {r}" for r in requires]
    (info / "METADATA").write_text("\n".join(lines) + "\n")
    return folder


@pytest.fixture
def shadowed(tmp_path, monkeypatch) -> str:
    """As in Colab: pip's newer copy first on sys.path, apt's older copy last
    (/usr/lib/python3/dist-packages); returns the distribution's name."""
    pip_copy = _dist(tmp_path / "site-packages", "Shadowed_Pkg", "1.17.0")
    apt_copy = _dist(tmp_path / "dist-packages", "shadowed-pkg", "1.16.0")
    monkeypatch.setattr(sys, "path", [str(pip_copy), *sys.path, str(apt_copy)])
    importlib.invalidate_caches()
    return "shadowed-pkg"


def test_installed_takes_the_copy_python_imports_not_the_shadowed_one(shadowed):
    """Pinning apt's shadowed 1.16.0 would make pip downgrade the 1.17.0 in use."""
    assert metadata.version(shadowed) == "1.17.0"
    assert colab.installed()[shadowed] == "1.17.0"
    assert "shadowed-pkg==1.17.0\n" in colab.constraints(colab.installed())


def test_constraints_leave_out_the_course_package_and_quote_odd_versions():
    versions = {"ecg_course": "0.1.0", "numpy": "2.1.3", "Typing_Extensions": "4.12.2",
                "distro-info": "1.1build1", "torch": "2.11.0+cu126"}  # fmt: skip
    assert colab.constraints(versions) == (
        "distro-info===1.1build1\nnumpy==2.1.3\ntorch==2.11.0+cu126\ntyping-extensions==4.12.2\n"
    )
    assert "ecg" not in colab.constraints({"ECG-Course": "0.0.9"})


def test_pip_accepts_the_constraints_file(tmp_path):
    """An "==" with a Debian version ("1.1build1") makes pip refuse the whole file."""
    pins = tmp_path / "constraints.txt"
    pins.write_text(colab.constraints({"distro-info": "1.1build1", "pip": metadata.version("pip")}))
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--no-index", "-c", pins, "pip"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_requirements_are_the_dependencies_without_extras(tmp_path, monkeypatch):
    needs = ("numpy>=1.24", 'pytest; extra == "dev"', 'tomli; python_version < "3.11"')
    folder = _dist(tmp_path, "fake-course", "0.2.0", needs)
    monkeypatch.syspath_prepend(str(folder))
    importlib.invalidate_caches()
    assert colab.requirements("fake-course") == ["numpy>=1.24", 'tomli; python_version < "3.11"']


def test_run_pip_stops_with_pips_own_message(tmp_path, capsys):
    """A pip that fails raises (``%pip`` did not: the notebook went on to a
    ModuleNotFoundError cells later), with pip's error in the message."""
    with pytest.raises(colab.PipError) as raised:
        colab.run_pip("install", "--no-index", "--find-links", str(tmp_path),
                      "ecg-course-no-such-package")  # fmt: skip
    message = str(raised.value)
    assert "pip install failed (exit status 1)" in message
    assert "No matching distribution found for ecg-course-no-such-package" in message
    assert "ERROR" in capsys.readouterr().out  # pip's output was shown as it came


FAKE_PIP = """
import json, pathlib, sys
args = sys.argv[1:]
pins = pathlib.Path(args[args.index("-c") + 1]).read_text() if "-c" in args else None
pathlib.Path({record!r}).write_text(json.dumps({{"args": args, "constraints": pins}}))
print("Collecting numpy>=1.24")
if {fail!r}:
    error = "ERROR: Could not find a version that satisfies the requirement wfdb>=4.2"
    print(error, file=sys.stderr)
    print("ERROR: No matching distribution found for wfdb>=4.2", file=sys.stderr)
    sys.exit(1)
"""


@pytest.fixture
def fake_pip(tmp_path, monkeypatch):
    """``colab.PIP`` replaced by a script that records its arguments and the constraints
    it was given; ``fake_pip(fail=True)`` makes it fail as pip does offline."""
    record = tmp_path / "pip-call.json"

    def make(fail: bool = False) -> Path:
        script = tmp_path / "fake_pip.py"
        script.write_text(FAKE_PIP.format(record=str(record), fail=fail))
        monkeypatch.setattr(colab, "PIP", (sys.executable, str(script)))
        return record

    return make


@pytest.fixture
def course(tmp_path, monkeypatch) -> str:
    """An installed course package, as the cell's ``pip install --no-deps`` leaves it."""
    folder = _dist(tmp_path / "course", "fake-course", "0.2.0", ("numpy>=1.24", "wfdb>=4.2"))
    monkeypatch.syspath_prepend(str(folder))
    importlib.invalidate_caches()
    return "fake-course"


def test_install_pins_the_active_versions_but_not_the_course_package(
    fake_pip, course, shadowed, capsys
):
    record = fake_pip()
    change = colab.install(course)
    call = json.loads(record.read_text())
    assert call["args"][0] == "install" and call["args"][-2:] == ["numpy>=1.24", "wfdb>=4.2"]
    pins = call["constraints"].splitlines()
    assert "shadowed-pkg==1.17.0" in pins and "shadowed-pkg==1.16.0" not in pins
    assert not [line for line in pins if line.startswith("fake-course")], pins
    assert f"pip=={metadata.version('pip')}" in pins
    out = capsys.readouterr().out
    assert "Collecting numpy>=1.24" in out  # pip's output, shown
    assert "Installed: fake-course 0.2.0." in out and "no restart needed" in out
    assert not change.restart_needed


def test_install_stops_when_pip_fails_and_reports_nothing(fake_pip, course, capsys):
    fake_pip(fail=True)
    with pytest.raises(colab.PipError, match="No matching distribution found for wfdb>=4.2"):
        colab.install(course)
    assert "Installed:" not in capsys.readouterr().out


def test_report_lists_the_course_package_installed_just_before(monkeypatch, capsys):
    before = {"numpy": "2.1.3", "ecg-course": "0.2.0"}
    after = {"numpy": "2.1.3", "ecg-course": "0.2.0", "wfdb": "4.3.1"}
    monkeypatch.setattr(colab, "installed", lambda: after)
    assert not colab.report_install(before, also=("ecg_course",)).restart_needed
    out, err = capsys.readouterr()
    assert "Installed: ecg-course 0.2.0, wfdb 4.3.1." in out and "no restart needed" in out
    assert not err


# --- The install cell of the solution notebooks (the exercises copy it) ---


def _install_cell(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    return next(c.source for c in nb.cells if c.cell_type == "code")


def _run_cell(source: str, monkeypatch, returncode: int, output: str = "") -> list:
    """Run the install cell as Colab would, with pip and ``colab.install`` stubbed out;
    return the commands it ran."""
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    commands, installs = [], []

    def run(command, **kwargs):
        commands.append([str(c) for c in command])
        return subprocess.CompletedProcess(command, returncode, output, "")

    monkeypatch.setattr(subprocess, "run", run)
    monkeypatch.setattr(colab, "install", lambda *a, **k: installs.append(a))
    exec(compile(source, "install cell", "exec"), {"__name__": "__main__"})
    return commands, installs


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_install_cell_installs_the_course_alone_then_its_dependencies(path, monkeypatch):
    """Plain Python (no ``%pip``, which does not raise when pip fails): pip installs
    ecg_course alone, without constraints, then ``colab.install`` its dependencies."""
    commands, installs = _run_cell(_install_cell(path), monkeypatch, returncode=0)
    assert len(commands) == 1 and commands[0][:4] == [sys.executable, "-m", "pip", "install"]
    assert "--no-deps" in commands[0] and "-c" not in commands[0]
    assert commands[0][-1].startswith("ecg_course @ git+https://github.com/")
    assert installs == [()]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_install_cell_stops_with_pips_message_when_pip_fails(path, monkeypatch):
    offline = "ERROR: Could not find a version that satisfies the requirement ecg_course"
    with pytest.raises(RuntimeError, match=offline):
        _run_cell(_install_cell(path), monkeypatch, returncode=1, output=offline)
