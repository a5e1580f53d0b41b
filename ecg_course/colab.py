"""The notebooks' install cell in Colab: install ecg_course's dependencies without changing
any package Colab has, say what pip installed, and warn when a restart is needed.

The cell first installs ``ecg_course`` alone (``pip install --no-deps``, which changes no
other package), then calls :func:`install`, which

1. notes the version of every installed distribution as Python imports it
   (:func:`installed`: the first copy on ``sys.path``, which is what
   :func:`importlib.metadata.version` resolves; Colab has apt's older ``six`` and
   ``pyparsing`` behind pip's newer ones, and pinning the shadowed copy would make pip
   downgrade the one in use);
2. hands those versions to pip as constraints (:func:`constraints`), leaving out
   ``ecg_course`` itself (an older course package must not pin the newer one the cell
   installs), and installs ``ecg_course``'s dependencies with them (:func:`run_pip`: a
   pip that fails stops the cell with pip's own message, where ``%pip`` would let the
   notebook go on to a ``ModuleNotFoundError`` cells later);
3. prints what was installed and warns, naming them, if packages that were already
   there changed (:func:`report_install`).

This module imports nothing but the standard library, so it works even when the install
broke a preinstalled package (which is what it warns about).
``tests/test_colab.py`` runs the cell on a copy of Colab's runtime.
"""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

RESTART = "Runtime > Restart session"

COURSE = "ecg_course"
"""The distribution the cell installs: never pinned by the constraints."""

PIP: tuple[str, ...] = (sys.executable, "-m", "pip")
"""How pip is run: the pip of the Python that runs the notebook."""

# PEP 440's version grammar (as packaging.version.VERSION_PATTERN), to tell the versions
# pip accepts after "==" from others (Debian's "1.1build1"), which need "===".
_PEP440 = re.compile(
    r"v?(?:[0-9]+!)?[0-9]+(?:\.[0-9]+)*"
    r"(?:[-_.]?(?:alpha|a|beta|b|preview|pre|c|rc)[-_.]?[0-9]*)?"
    r"(?:-[0-9]+|[-_.]?(?:post|rev|r)[-_.]?[0-9]*)?"
    r"(?:[-_.]?dev[-_.]?[0-9]*)?"
    r"(?:\+[a-z0-9]+(?:[-_.][a-z0-9]+)*)?",
    re.IGNORECASE,
)


def canonical(name: str) -> str:
    """A distribution name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def installed() -> dict[str, str]:
    """Every installed distribution (canonical name) and the version Python uses.

    Where two copies of a distribution are on ``sys.path`` (Colab: apt's ``six`` in
    ``/usr/lib/python3/dist-packages`` behind pip's newer one), the first one is kept:
    the one that is imported and that :func:`importlib.metadata.version` returns.
    Distributions without a name (a broken ``.dist-info``) are skipped.
    """
    versions: dict[str, str] = {}
    for dist in metadata.distributions():  # in sys.path order
        name = dist.metadata["Name"]
        if name and dist.version:
            versions.setdefault(canonical(name), dist.version)
    return versions


def constraints(versions: Mapping[str, str], leave_out: Iterable[str] = (COURSE,)) -> str:
    """A pip constraints file that keeps every distribution at its version in ``versions``.

    ``leave_out`` (by default ``ecg_course`` itself) is not constrained, so that a new
    version of it can replace an old one. A version outside PEP 440 is pinned with
    ``===`` (pip refuses the whole file over one ``name==1.1build1``).
    """
    skip = {canonical(name) for name in leave_out}
    lines = []
    for name, version in sorted((canonical(n), v.strip()) for n, v in versions.items()):
        if name not in skip:
            lines.append(f"{name}{'==' if _PEP440.fullmatch(version) else '==='}{version}\n")
    return "".join(lines)


def requirements(dist: str = COURSE) -> list[str]:
    """The requirements of the installed ``dist`` (its ``Requires-Dist``), without those
    of its extras; pip evaluates their environment markers itself."""
    return [
        requirement
        for requirement in metadata.requires(dist) or []
        if not re.search(r";.*\bextra\s*==", requirement)
    ]


def install_args(constraints_file: Path, needed: Iterable[str]) -> list[str]:
    """pip's arguments to install ``needed`` within the versions of ``constraints_file``."""
    return ["install", "-c", str(constraints_file), *needed]


class PipError(RuntimeError):
    """pip exited with an error; the message ends with what pip said."""


def run_pip(*args: str) -> str:
    """Run ``pip *args``, showing its output as it comes; return that output.

    Raises:
        PipError: pip exited with an error. The message holds pip's own error lines
            (from its first ``ERROR:`` line on, else its last lines), so the cell stops
            there and says why, e.g. that a package could not be downloaded.
    """
    process = subprocess.Popen(
        [*PIP, *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    lines = []
    assert process.stdout is not None
    with process.stdout:
        for line in process.stdout:
            print(line, end="", flush=True)
            lines.append(line)
    status = process.wait()
    if status:
        first_error = next((i for i, x in enumerate(lines) if x.startswith("ERROR")), None)
        said = lines[first_error:] if first_error is not None else lines[-20:]
        raise PipError(
            f"pip {' '.join(args[:1])} failed (exit status {status}); nothing after this cell "
            "will work until it succeeds. pip said:\n" + "".join(said).rstrip()
        )
    return "".join(lines)


def install(dist: str = COURSE) -> InstallChange:
    """Install the dependencies of the installed ``dist`` without changing Colab's packages,
    then report (see the module's docstring).

    Raises:
        PipError: pip failed (the message is pip's); nothing is reported as installed.
    """
    before = installed()
    with tempfile.TemporaryDirectory(prefix="ecg_course-") as folder:
        pins = Path(folder) / "colab-constraints.txt"
        pins.write_text(constraints(before, leave_out=(dist,)))
        needed = requirements(dist)
        if needed:
            run_pip(*install_args(pins, needed))
    importlib.invalidate_caches()  # the notebook imports what pip just installed
    return report_install(before, also=(dist,))


@dataclass
class InstallChange:
    added: dict[str, str] = field(default_factory=dict)  # name -> version
    changed: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (old, new)
    removed: dict[str, str] = field(default_factory=dict)  # name -> old version

    @property
    def restart_needed(self) -> bool:
        """True when a package that was there before the install is not the same any more."""
        return bool(self.changed or self.removed)


def compare(before: dict[str, str], after: dict[str, str]) -> InstallChange:
    """What an install did, from the versions before and after it (names in any spelling)."""
    before = {canonical(k): v for k, v in before.items()}
    after = {canonical(k): v for k, v in after.items()}
    return InstallChange(
        added={n: v for n, v in sorted(after.items()) if n not in before},
        changed={
            n: (v, after[n]) for n, v in sorted(before.items()) if n in after and after[n] != v
        },  # fmt: skip
        removed={n: v for n, v in sorted(before.items()) if n not in after},
    )


def report_install(before: dict[str, str], also: Iterable[str] = ()) -> InstallChange:
    """Print what the install added; warn, naming them, when it changed packages that were
    already installed (the running session may hold their old versions: restart it).

    ``also``: distributions installed just before ``before`` was taken (the cell's
    ``ecg_course``), listed as installed too, and not compared.
    """
    after = installed()
    also = {canonical(name) for name in also}
    change = compare(
        {n: v for n, v in before.items() if canonical(n) not in also},
        {n: v for n, v in after.items() if canonical(n) not in also},
    )
    listed = {**{n: after[n] for n in also if n in after}, **change.added}
    added = ", ".join(f"{n} {v}" for n, v in sorted(listed.items())) or "nothing new"
    print(f"Installed: {added}.")
    if not change.restart_needed:
        print("Packages that were already installed are unchanged: no restart needed.")
        return change
    lines = [f"  {n} {old} -> {new}" for n, (old, new) in change.changed.items()]
    lines += [f"  {n} {old} removed" for n, old in change.removed.items()]
    print(
        "WARNING: the install changed packages that were already installed:\n"
        + "\n".join(lines)
        + f"\nRestart the session ({RESTART}) and run the notebook again from the top;"
        " until then imports may fail or mix old and new versions.",
        file=sys.stderr,
    )
    return change
