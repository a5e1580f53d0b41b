"""A real-time HTTP endpoint for a saved LSTM-FCN (FastAPI on uvicorn).

One command serves a model file written by :func:`ecg_course.artifact.save_model`::

    python -m ecg_course.serve --model lstm_fcn.pt --port 8080

Without ``--port`` (or with ``--port 0``) a free port is picked; the first line
printed gives the address. Routes:

* ``POST /invocations``: beats as ``text/csv`` or ``application/json``, answered
  with the columns ``y_1..y_C`` (one-hot predicted class) and ``p_1..p_C``
  (probabilities); see :mod:`ecg_course.payload`. The answer is CSV or JSON like
  the request, or as asked by the ``Accept`` header. Bad input is answered 400,
  413 or 415 with ``{"detail": "<what is wrong>"}``, and the server keeps serving.
* ``GET /health``: ``{"status": "ok", ...}`` with the model's classes and input length.

Stop it with Ctrl+C or SIGTERM: uvicorn finishes the requests in flight, then exits
(status 0 after Ctrl+C). From a notebook, :func:`ecg_course.endpoint.start_endpoint`
runs this command in a subprocess and stops it again.

Before it serves, the command checks what it is given and answers a mistake with
``error: ...`` and exit status 2, as argparse does: a model file it cannot use
(:func:`ecg_course.artifact.load_model` says why), a port outside 0-65535, a device
that does not exist here, a log level uvicorn does not know, a ``--precision`` in
which the model does not run on the device (on a CPU, PyTorch has no float16 LSTM, and
no bfloat16 one without AVX-512; the command also runs the model on one beat). The line
``Serving on http://...`` comes once the socket accepts connections. Listening on
another address than the loopback (``--host 0.0.0.0``) prints a warning: the
endpoint has no authentication.

Limits against clients that hold a connection without sending a request: the request
line and headers may take :data:`MAX_HEADER_BYTES` (more: 431), a request must arrive
whole, headers and body, within ``--read-timeout`` seconds (:data:`READ_TIMEOUT_S`)
of its first byte, or of the connection for the first request (later: 408 and the
connection is closed), and an idle keep-alive connection is closed after
:data:`KEEP_ALIVE_S` seconds.

FastAPI and uvicorn are maintained, preinstalled in Colab, and enough for one model
behind one route. The event loop reads and checks requests; the model runs on one
dedicated thread, so one batch at a time uses every core, concurrent clients simply
queue, and PyTorch's pool of compute threads stays the same one from request to
request (a pool of request threads would each start their own).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http
import ipaddress
import json
import os
import re
import socket
import sys
import threading
import time
import warnings
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path

import h11
import numpy as np
import torch
import uvicorn
from fastapi import FastAPI, HTTPException, Request, Response
from starlette.requests import ClientDisconnect
from uvicorn.config import LOG_LEVELS
from uvicorn.protocols.http.h11_impl import H11Protocol

from ecg_course import payload
from ecg_course.artifact import ArtifactError, ArtifactWarning, SavedModel, load_model
from ecg_course.precision import PRECISIONS, resolve_precision
from ecg_course.training import get_device, predict_proba

__all__ = ["create_app", "main", "read_server_timing", "server_timing"]

READY_PREFIX = "Serving on "
"""Start of the line the command prints once its socket accepts connections:
``Serving on http://...``."""
SHUTDOWN_GRACE_S = 10
"""Seconds uvicorn waits for requests in flight when asked to stop."""
MAX_HEADER_BYTES = 16 * 1024
"""Largest request line and headers read (h11's default, set explicitly); more is a 431."""
READ_TIMEOUT_S = 30.0
"""Default of ``--read-timeout``: seconds a request may take to arrive, from its first byte
(or from the connection) to the end of its body. A body of ``MAX_BODY_BYTES`` needs
200 KiB/s."""
KEEP_ALIVE_S = 5
"""Seconds an idle keep-alive connection stays open (uvicorn's ``timeout_keep_alive``)."""


class _Predictor:
    """The loaded model, run on one thread of its own, one batch at a time."""

    def __init__(self, saved: SavedModel, device: torch.device, precision: str) -> None:
        self.saved = saved
        self.device = device
        self.precision = resolve_precision(precision, device)
        self.model = saved.model.to(device).eval()
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model")

    def _predict(self, beats: np.ndarray) -> tuple[np.ndarray, float]:
        start = time.perf_counter()
        proba = predict_proba(self.model, beats, device=self.device, precision=self.precision)
        return proba, time.perf_counter() - start

    async def __call__(self, beats: np.ndarray) -> tuple[np.ndarray, float]:
        """Probabilities ``(n, C)`` float32 of beats ``(n, T)``, computed on the model's
        thread, and the seconds the model took (not counting the wait for the thread)."""
        return await asyncio.get_running_loop().run_in_executor(self._thread, self._predict, beats)

    def close(self) -> None:
        """End the model's thread (after the batch it is computing, if any)."""
        self._thread.shutdown(wait=True)


def create_app(saved: SavedModel, device: str | None = None, precision: str = "auto") -> FastAPI:
    """The FastAPI application serving ``saved`` (see the module docstring for the routes).

    Args:
        saved: a model read by :func:`ecg_course.artifact.load_model`.
        device: where to run it; CUDA when present by default.
        precision: ``"auto"``, ``"bf16"``, ``"fp16"`` or ``"fp32"``
            (:func:`ecg_course.precision.resolve_precision`; ``/health`` says which ran).

    Raises:
        ValueError: a model the endpoint cannot serve (see :func:`_check_servable`), or a
            precision in which it does not run on ``device``: the model is run once on a
            beat of zeros here, so that such a server does not start and answer every
            request with a 500.
    """
    _check_servable(saved)
    predictor = _Predictor(saved, get_device(device), precision)
    advice = "Use --precision fp32, or auto (it picks a format this hardware runs)."
    name, where = predictor.precision.name, predictor.device
    try:  # a format without an LSTM kernel here (predict_proba refuses it), or anything
        # else that would make every request fail
        predictor._predict(np.zeros((1, saved.input_length), dtype=np.float32))
    except (RuntimeError, ValueError) as error:
        predictor.close()
        first_line = (str(error).strip() or type(error).__name__).splitlines()[0]
        raise ValueError(
            f"the model does not run in {name} on {where} ({first_line}). {advice}"
        ) from error

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        predictor.close()  # on shutdown, after the requests in flight

    app = FastAPI(title="ecg_course LSTM-FCN endpoint", lifespan=lifespan)

    @app.get("/health")
    def health() -> dict:
        return {
            "status": "ok",
            "classes": list(saved.class_names),
            "input_length": saved.input_length,
            "preprocessing_version": saved.preprocessing_version,
            "device": str(predictor.device),
            "precision": predictor.precision.name,
            "max_body_bytes": payload.MAX_BODY_BYTES,
        }

    @app.post("/invocations")
    async def invocations(request: Request) -> Response:
        body = await _read_body(request)
        content_type = request.headers.get("content-type")
        start = time.perf_counter()
        try:
            beats = payload.parse_beats(body, content_type, saved.input_length)
        except payload.PayloadError as error:
            raise HTTPException(error.status, detail=str(error)) from None
        parsed = time.perf_counter()
        proba, predict_s = await predictor(beats)
        kind = _answer_kind(request.headers.get("accept"), payload.media_type(content_type))
        formatting = time.perf_counter()
        answer = payload.format_answers(proba, kind)
        seconds = {"parse": parsed - start, "predict": predict_s,
                   "format": time.perf_counter() - formatting}  # fmt: skip
        return Response(answer, media_type=kind, headers={"Server-Timing": server_timing(seconds)})

    return app


def server_timing(seconds: dict[str, float]) -> str:
    """A ``Server-Timing`` header value: ``{"predict": 0.0119}`` -> ``"predict;dur=11.90"``
    (the header's durations are in milliseconds)."""
    return ", ".join(f"{name};dur={s * 1e3:.2f}" for name, s in seconds.items())


def read_server_timing(header: str) -> dict[str, float]:
    """Seconds per step of a ``Server-Timing`` header value (the inverse of
    :func:`server_timing`): ``"predict;dur=11.90"`` -> ``{"predict": 0.0119}``."""
    steps = {}
    for part in header.split(","):
        name, _, duration = part.strip().partition(";dur=")
        steps[name] = float(duration) / 1e3
    return steps


def _check_servable(saved: SavedModel) -> None:
    """Refuse a model that reads more than the rows of samples a request carries.

    Raises:
        ValueError: the model reads RR features besides its beat (``side_features``) or
            more than one channel per sample (``in_channels``).
    """
    side, channels = saved.hparams["side_features"], saved.model.in_channels
    if side or channels != 1:
        raise ValueError(
            f"this model reads {side} feature(s) per beat besides its samples "
            f"(side_features={side}) and {channels} channel(s) per sample "
            f"(in_channels={channels}), but a request carries beats only, one row of "
            f"{saved.input_length} samples each: the endpoint serves models with "
            "side_features=0 and in_channels=1."
        )


async def _read_body(request: Request) -> bytes:
    """The request body, refused with 413 as soon as it passes ``MAX_BODY_BYTES``."""
    limit = payload.MAX_BODY_BYTES
    too_large = HTTPException(
        413, detail=f"body is over the limit of {limit:,} bytes: send fewer beats per request."
    )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_large
            chunks.append(chunk)
    except ClientDisconnect:  # e.g. closed by the read timeout: nobody to answer
        raise HTTPException(408, detail="the client went away before its body arrived.") from None
    return b"".join(chunks)


def _answer_kind(accept: str | None, request_kind: str) -> str:
    """CSV or JSON: what ``Accept`` names, else the request's own type."""
    accepted = {payload.media_type(part) for part in (accept or "").split(",")}
    if payload.CSV in accepted:
        return payload.CSV
    if payload.JSON in accepted:
        return payload.JSON
    return request_kind


def _stop_on_stdin_eof(server: uvicorn.Server) -> None:
    """Stop ``server`` when standard input closes (the process that started it is gone)."""

    def watch() -> None:
        while sys.stdin.buffer.read(4096):
            pass
        server.should_exit = True

    threading.Thread(target=watch, name="stdin-eof", daemon=True).start()


_HEAD_END = re.compile(rb"\n\r?\n")
"""The blank line that ends a request head (h11 also reads bare newlines)."""


class _H11Protocol(H11Protocol):
    """uvicorn's h11 protocol, with a deadline for each request to arrive whole.

    uvicorn closes an idle keep-alive connection (``timeout_keep_alive``) but waits
    forever for the rest of a request once its first byte came: a client sending its
    headers a byte a second, or a body shorter than its Content-Length, held a
    connection (and its memory) for good. Here a connection must deliver its request,
    headers and body, within ``read_timeout`` seconds of the connection or of the
    request's first byte; else it is answered 408 and closed. The time the model takes
    does not count: the deadline ends when the request has arrived.

    A request line and headers over ``h11_max_incomplete_event_size`` bytes get a 431.
    """

    read_timeout: float = READ_TIMEOUT_S

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._read_timer: asyncio.TimerHandle | None = None
        super().connection_made(transport)
        self._read_timer = self.loop.call_later(self.read_timeout, self._read_timed_out)

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_read_timer()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        """Parse what arrived (uvicorn's), then start or stop the request's deadline."""
        super().handle_events()
        if not self._request_arriving():
            self._stop_read_timer()
        elif self._read_timer is None and not self.transport.is_closing():
            self._read_timer = self.loop.call_later(self.read_timeout, self._read_timed_out)

    def _request_arriving(self) -> bool:
        """Whether part of a request came and the rest is awaited (its head or body)."""
        state = self.conn.their_state
        return state is h11.SEND_BODY or (state is h11.IDLE and bool(self.conn.trailing_data[0]))

    def _stop_read_timer(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _read_timed_out(self) -> None:
        self._read_timer = None
        if self.transport.is_closing():
            return
        self.logger.warning(
            "Request not received within %g s: connection closed.", self.read_timeout
        )
        self._answer_and_close(
            408, f"the request did not arrive whole within {self.read_timeout:g} s "
            "(headers and the body its Content-Length announces)."
        )  # fmt: skip

    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE and self._head_too_large(data):
            limit = self.config.h11_max_incomplete_event_size or MAX_HEADER_BYTES
            self.logger.warning("Request headers over %d bytes: connection closed.", limit)
            self._answer_and_close(431, f"the request line and headers are over {limit:,} bytes.")
            return
        super().data_received(data)

    def _head_too_large(self, data: bytes) -> bool:
        """Whether the request head being read, with ``data``, passes the header limit.

        h11's ``max_incomplete_event_size`` only bounds a head still incomplete after a
        read: a larger head that arrives whole in one read (up to 256 KiB) would pass.
        """
        limit = self.config.h11_max_incomplete_event_size or MAX_HEADER_BYTES
        head = (self.conn.trailing_data[0] + data)[: limit + 4]
        end = _HEAD_END.search(head)
        return (end.end() if end else len(head)) > limit

    def _answer_and_close(self, status: int, detail: str) -> None:
        """Answer ``status`` with ``{"detail": ...}`` outside h11's state machine, and close."""
        body = json.dumps({"detail": detail}).encode()
        head = (
            f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}\r\n"
            f"content-type: application/json\r\ncontent-length: {len(body)}\r\n"
            "connection: close\r\n\r\n"
        )
        self.transport.write(head.encode() + body)
        self.transport.close()


def _protocol(read_timeout: float) -> type[_H11Protocol]:
    """The HTTP protocol class for uvicorn, with this read timeout."""
    return type("H11ProtocolWithReadTimeout", (_H11Protocol,), {"read_timeout": read_timeout})


class _Server(uvicorn.Server):
    """uvicorn's server, printing ``ready_line`` once its socket accepts connections."""

    def __init__(self, config: uvicorn.Config, ready_line: str) -> None:
        super().__init__(config)
        self.ready_line = ready_line

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)  # binds, listens, accepts
        if self.started:
            print(self.ready_line, flush=True)


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` (port 0: a free one), for uvicorn to serve on.

    ``IPPROTO_TCP`` is named explicitly: asyncio turns Nagle's algorithm off
    (``TCP_NODELAY``) only on connections whose socket says so. With protocol 0 every
    answer waited about 40 ms for the client's delayed ACK (measured: ``GET /health``
    took 44-48 ms, 1-2 ms with it).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _port(text: str) -> int:
    """An argparse type: a TCP port, 0 to 65535."""
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port: give 0 to 65535 (0: a free one)")
    return port


def _device(text: str) -> str:
    """An argparse type: ``cpu``, or a CUDA (``cuda``, ``cuda:1``) or MPS device present here."""
    try:
        device = torch.device(text)
    except RuntimeError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a device: give cpu, cuda or cuda:N"
        ) from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise argparse.ArgumentTypeError(f"{text!r}: this machine has no CUDA GPU (use cpu)")
        if device.index is not None and device.index >= count:
            raise argparse.ArgumentTypeError(
                f"{text!r}: this machine has {count} CUDA GPU(s), cuda:0 to cuda:{count - 1}"
            )
    elif device.type == "mps":
        if not torch.backends.mps.is_available():
            raise argparse.ArgumentTypeError(f"{text!r}: MPS is not available here (use cpu)")
    elif device.type != "cpu":
        raise argparse.ArgumentTypeError(f"{text!r}: the endpoint runs on cpu, cuda or mps")
    return text


def _positive_seconds(text: str) -> float:
    """An argparse type: a number of seconds above 0."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = float("nan")
    if not seconds > 0 or seconds == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds above 0")
    return seconds


def exposure_warning(host: str) -> str | None:
    """The warning to print when the address ``host`` (as bound) is not the loopback."""
    try:
        if ipaddress.ip_address(host.split("%")[0]).is_loopback:
            return None
    except ValueError:
        pass
    return (
        f"warning: listening on {host}, reachable from other machines: the endpoint has no "
        "authentication and no encryption, so anyone who reaches this port can use the model. "
        "Use --host 127.0.0.1 (the default) unless that is intended, on a network you trust."
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Serve a saved model until stopped; returns the exit status.

    A mistake in the arguments or the model file is answered ``error: ...`` on stderr
    and status 2; Ctrl+C stops the server gracefully, with status 0.
    """
    parser = argparse.ArgumentParser(
        prog="python -m ecg_course.serve", description="Serve a saved LSTM-FCN over HTTP."
    )
    parser.add_argument("--model", required=True, type=Path, help="file written by save_model")
    parser.add_argument("--port", type=_port, default=0, help="port to listen on (0: a free one)")
    parser.add_argument(
        "--host", default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only; the endpoint has "
        "no authentication)",
    )  # fmt: skip
    parser.add_argument(
        "--device",
        type=_device,
        default=None,
        help="cpu, cuda or cuda:N (default: cuda if present)",
    )
    parser.add_argument("--precision", choices=PRECISIONS, default="auto")
    parser.add_argument("--log-level", choices=list(LOG_LEVELS), default="info",
                        help="uvicorn's log level")  # fmt: skip
    parser.add_argument(
        "--read-timeout", type=_positive_seconds, default=READ_TIMEOUT_S, metavar="SECONDS",
        help="seconds a request may take to arrive, headers and body (default: %(default)g)",
    )  # fmt: skip
    parser.add_argument(
        "--stop-on-stdin-eof",
        action="store_true",
        help="exit when standard input closes (for a parent process such as a notebook)",
    )
    args = parser.parse_args(argv)
    try:
        return _serve(args)
    except KeyboardInterrupt:  # Ctrl+C before the server ran (loading the model)
        print("interrupted", file=sys.stderr)
        return 130


def _serve(args: argparse.Namespace) -> int:
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ArtifactWarning)
            saved = load_model(args.model)
    except (FileNotFoundError, ArtifactError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for warning in caught:
        if issubclass(warning.category, ArtifactWarning):
            print(f"warning: {warning.message}", file=sys.stderr)
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename,
                                   warning.lineno)  # fmt: skip
    try:
        app = create_app(saved, device=args.device, precision=args.precision)
    except ValueError as error:
        print(f"error: {args.model}: {error}", file=sys.stderr)
        return 2
    try:
        sock = listening_socket(args.host, args.port)
    except OSError as error:
        print(f"error: cannot listen on {args.host}:{args.port} ({error}).", file=sys.stderr)
        return 2
    host, port = sock.getsockname()[:2]
    warning = exposure_warning(host)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    config = uvicorn.Config(
        app,
        log_level=args.log_level,
        http=_protocol(args.read_timeout),
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        timeout_keep_alive=KEEP_ALIVE_S,
        ws="none",  # no WebSocket route: an upgrade request is read as plain HTTP
        timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
    )
    url_host = f"[{host}]" if ":" in host else host
    server = _Server(
        config, f"{READY_PREFIX}http://{url_host}:{port} (model {args.model}, pid {os.getpid()})"
    )
    if args.stop_on_stdin_eof:
        _stop_on_stdin_eof(server)
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn stops gracefully on Ctrl+C,
        server.run(sockets=[sock])  # then raises it again: done
    return 0


if __name__ == "__main__":
    sys.exit(main())
