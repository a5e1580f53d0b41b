"""Where a submission runs: its own process and folder, no network, a memory limit.

Each submission runs in a fresh working folder, in a process started through
``unshare`` (util-linux) with new user, mount, network and PID namespaces:

* the network namespace has only a loopback interface (the kernel talks to the
  grader, and chapter 2's client to its endpoint, on 127.0.0.1), so any other
  connection fails;
* every mount but ``/proc`` and ``/sys`` is remounted read-only, except the working
  folder (and, for the reference run only, the data cache): a cell that writes
  elsewhere gets "Read-only file system";
* the PID namespace ends with its first process, so a kernel left spinning is
  killed with the submission;
* ``RLIMIT_AS`` caps the memory of the process and everything it starts: a cell that
  allocates more gets a ``MemoryError``.

:func:`why_not_isolated` says whether this machine allows unprivileged namespaces (most
Linux machines do; some distributions switch them off). Without them a submission
still runs in its own process and folder with the memory limit, and the grader says
that the network and the file system are not closed to it.
"""

from __future__ import annotations

import functools
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

MEMORY_LIMIT_GB = 8.0
"""Address space allowed to a submission (torch, the kernel and a few copies of the data
fit in about 3 GB at the grading preset)."""

_INSIDE = r"""
set -e
ip link set lo up
work="$1"; shift
writable="$1"; shift
mounts=$(awk '{print $2}' /proc/self/mounts | grep -v -e '^/proc' -e '^/sys' -e '\\')
mount --bind "$work" "$work"
[ -n "$writable" ] && mount --bind "$writable" "$writable"
for m in $mounts; do mount -o remount,bind,ro "$m" 2>/dev/null || true; done
exec "$@"
"""
"""Run inside the namespaces: loopback up, everything read-only but the working folder."""


_NAMESPACES = ["unshare", "--user", "--map-root-user", "--mount", "--net", "--pid", "--fork"]
"""``unshare``'s new namespaces: user (root mapped to the caller), mount, network, PID."""


@functools.cache
def why_not_isolated() -> str:
    """``""`` when submissions can be isolated here, else why not (one line)."""
    if not sys.platform.startswith("linux"):
        return f"namespaces are Linux only (this is {sys.platform})"
    missing = [tool for tool in ("unshare", "ip", "mount") if shutil.which(tool) is None]
    if missing:
        return f"{', '.join(missing)} not found"
    probe = subprocess.run(
        [
            *_NAMESPACES,
            "sh",
            "-c",
            "ip link set lo up && mount --bind / /mnt 2>/dev/null; exit 0",
        ],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        return f"unprivileged namespaces are not allowed here ({probe.stderr.strip()[:120]})"
    return ""


def _limit_memory(gigabytes: float) -> None:
    limit = int(gigabytes * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def start(
    argv: list[str],
    workdir: Path,
    *,
    writable: Path | None = None,
    memory_gb: float = MEMORY_LIMIT_GB,
    env: dict[str, str] | None = None,
    pass_fds: tuple[int, ...] = (),
) -> subprocess.Popen:
    """Start ``argv`` in ``workdir``, isolated unless :func:`why_not_isolated` says why not.

    ``writable``: one more folder left writable (the reference run's data cache).
    The process starts its own session, so the caller can kill it and all it started.
    """
    command = list(argv)
    if not why_not_isolated():
        command = [
            *_NAMESPACES,
            "--kill-child",
            "sh",
            "-c",
            _INSIDE,
            "sandbox",
            str(workdir),
            str(writable or ""),
            *argv,
        ]
    return subprocess.Popen(
        command,
        cwd=workdir,
        env=env,
        pass_fds=pass_fds,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=lambda: _limit_memory(memory_gb),
    )


def child_environment(workdir: Path, threads: int, cache: Path) -> dict[str, str]:
    """The environment of a submission's process: its folder as home and temp, the data
    cache named, the grading preset, ``threads`` threads for torch."""
    from ecg_course.budgets import PRESET_ENV
    from ecg_course.grading.exercises import GRADING_PRESET

    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "IPYTHON"))}
    env.update(
        HOME=str(workdir),
        TMPDIR=str(workdir),
        MPLCONFIGDIR=str(workdir / ".matplotlib"),
        ECG_COURSE_CACHE=str(cache),
        OMP_NUM_THREADS=str(threads),
        MKL_NUM_THREADS=str(threads),
        PYTHONDONTWRITEBYTECODE="1",
    )
    env[PRESET_ENV] = GRADING_PRESET
    return env
