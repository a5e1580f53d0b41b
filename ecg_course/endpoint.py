"""Start and stop the model endpoint from Python (a notebook, a test, a benchmark).

:func:`start_endpoint` runs ``python -m ecg_course.serve`` (:mod:`ecg_course.serve`)
in a subprocess, the same command a terminal would run, and waits until it
answers ``GET /health``; :meth:`Endpoint.stop` asks it to finish (SIGTERM: uvicorn
completes the requests in flight), waits for the process to exit, and kills it
only if it does not. A subprocess, rather than a server thread in the notebook's
kernel, keeps the kernel free (a crash or a stuck request cannot take the
notebook down), serves the model exactly as it was saved to its file, and when
stopped leaves nothing behind: no thread, no open port. If the kernel dies
without stopping it, the server sees its standard input close and exits too.

    endpoint = start_endpoint("lstm_fcn.pt")   # a free port on 127.0.0.1
    endpoint.url                               # "http://127.0.0.1:40123"
    endpoint.stop()

or ``with start_endpoint("lstm_fcn.pt") as endpoint: ...``.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from ecg_course.serve import READY_PREFIX

__all__ = ["Endpoint", "EndpointError", "start_endpoint"]


class EndpointError(RuntimeError):
    """The endpoint did not start; the message ends with what the server printed."""


class Endpoint:
    """A running ``python -m ecg_course.serve`` process. Use :func:`start_endpoint`.

    Attributes:
        url: base address, e.g. ``"http://127.0.0.1:40123"``; POST beats to
            ``url + "/invocations"``.
        process: the server's :class:`subprocess.Popen`.
    """

    def __init__(self, process: subprocess.Popen, log_lines: int = 200) -> None:
        self.process = process
        self.url: str | None = None
        self._log: collections.deque[str] = collections.deque(maxlen=log_lines)
        self._ready = threading.Event()
        # Read the server's output all the time: a full pipe would block the server.
        self._reader = threading.Thread(target=self._read_output, name="endpoint-log", daemon=True)
        self._reader.start()

    def _read_output(self) -> None:
        for line in self.process.stdout:
            self._log.append(line.rstrip("\n"))
            if self.url is None and line.startswith(READY_PREFIX):
                self.url = line[len(READY_PREFIX) :].split()[0]
                self._ready.set()
        self._ready.set()  # the process ended: wake a waiting start

    @property
    def log(self) -> str:
        """The server's last printed lines."""
        return "\n".join(self._log)

    @property
    def running(self) -> bool:
        """Whether the server process is still alive."""
        return self.process.poll() is None

    def health(self, timeout: float = 5.0) -> dict:
        """The answer of ``GET /health`` as a dict (raises ``OSError`` when it does not answer)."""
        with urllib.request.urlopen(f"{self.url}/health", timeout=timeout) as response:
            return json.loads(response.read())

    def _wait_until_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        self._ready.wait(timeout)
        if self.url is None:  # the output ended before the address: the server is exiting
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(max(deadline - time.monotonic(), 1.0))
        while time.monotonic() < deadline and self.running and self.url is not None:
            try:
                self.health(timeout=1.0)
                return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.05)
        reason = (
            f"exited with status {self.process.returncode}"
            if not self.running
            else f"did not answer GET /health within {timeout:.0f} s"
        )
        self.stop()
        raise EndpointError(f"the endpoint {reason}. Its output:\n{self.log}")

    def stop(self, timeout: float = 15.0) -> int:
        """Stop the server gracefully (kill it after ``timeout`` s); returns its exit status.

        Safe to call twice. When it returns, the process has exited and been reaped,
        its port is closed and the thread reading its output has ended. After a
        graceful stop on Linux the status is ``-15``: uvicorn finishes its shutdown,
        then lets SIGTERM end the process.
        """
        if self.running:
            self.process.terminate()  # SIGTERM: uvicorn's graceful shutdown
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdin is not None and not self.process.stdin.closed:
            self.process.stdin.close()
        self._reader.join(timeout)
        atexit.unregister(self.stop)
        return self.process.returncode

    def __enter__(self) -> Endpoint:
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"Endpoint({self.url!r}, pid {self.process.pid}, {state})"


def start_endpoint(
    model_path: str | os.PathLike,
    port: int = 0,
    host: str = "127.0.0.1",
    device: str | None = None,
    precision: str = "auto",
    log_level: str = "warning",
    timeout: float = 120.0,
    read_timeout: float | None = None,
) -> Endpoint:
    """Serve the model file ``model_path`` in a subprocess; returns once it answers.

    Args:
        model_path: a file written by :func:`ecg_course.artifact.save_model`.
        port: the port; 0 (the default) lets the server pick a free one.
        host: the address to listen on; 127.0.0.1 is reachable from this machine only.
        device: ``"cpu"`` or ``"cuda"``; CUDA when present by default.
        precision: ``"auto"``, ``"bf16"``, ``"fp16"`` or ``"fp32"``.
        log_level: uvicorn's log level (``"info"`` logs every request).
        timeout: seconds to wait for the server to answer ``GET /health``.
        read_timeout: seconds a request may take to reach the server, headers and
            body (``--read-timeout``; default :data:`ecg_course.serve.READ_TIMEOUT_S`).

    Raises:
        EndpointError: the server exited (e.g. a model file it refuses) or did not
            answer in time; the message includes what it printed.
    """
    command = [
        sys.executable, "-m", "ecg_course.serve", "--model", str(Path(model_path)),
        "--port", str(port), "--host", host, "--precision", precision,
        "--log-level", log_level, "--stop-on-stdin-eof",
    ]  # fmt: skip
    if device is not None:
        command += ["--device", str(device)]
    if read_timeout is not None:
        command += ["--read-timeout", str(read_timeout)]
    process = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    endpoint = Endpoint(process)
    atexit.register(endpoint.stop)
    endpoint._wait_until_ready(timeout)
    return endpoint
