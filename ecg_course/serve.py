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

Stop it with Ctrl+C or SIGTERM: uvicorn finishes the requests in flight, then exits.
From a notebook, :func:`ecg_course.endpoint.start_endpoint` runs this command in a
subprocess and stops it again.

FastAPI and uvicorn are maintained, preinstalled in Colab, and enough for one model
behind one route. The event loop reads and checks requests; the model runs on one
dedicated thread, so one batch at a time uses every core, concurrent clients simply
queue, and PyTorch's pool of compute threads stays the same one from request to
request (a pool of request threads would each start their own).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
import threading
import time
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path

import numpy as np
import torch
import uvicorn
from fastapi import FastAPI, HTTPException, Request, Response

from ecg_course import payload
from ecg_course.artifact import ArtifactError, SavedModel, load_model
from ecg_course.precision import PRECISIONS, resolve_precision
from ecg_course.training import get_device, predict_proba

__all__ = ["create_app", "main", "read_server_timing", "server_timing"]

READY_PREFIX = "Serving on "
"""Start of the line the command prints once its socket is bound: ``Serving on http://...``."""
SHUTDOWN_GRACE_S = 10
"""Seconds uvicorn waits for requests in flight when asked to stop."""


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
    """
    _check_servable(saved)
    predictor = _Predictor(saved, get_device(device), precision)

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
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
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


def main(argv: Sequence[str] | None = None) -> int:
    """Serve a saved model until stopped; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m ecg_course.serve", description="Serve a saved LSTM-FCN over HTTP."
    )
    parser.add_argument("--model", required=True, type=Path, help="file written by save_model")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0: a free one)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda if present)")
    parser.add_argument("--precision", choices=PRECISIONS, default="auto")
    parser.add_argument("--log-level", default="info", help="uvicorn's log level")
    parser.add_argument(
        "--stop-on-stdin-eof",
        action="store_true",
        help="exit when standard input closes (for a parent process such as a notebook)",
    )
    args = parser.parse_args(argv)
    try:
        saved = load_model(args.model)
    except (FileNotFoundError, ArtifactError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
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
    config = uvicorn.Config(
        app, log_level=args.log_level, timeout_graceful_shutdown=SHUTDOWN_GRACE_S
    )
    server = uvicorn.Server(config)
    if args.stop_on_stdin_eof:
        _stop_on_stdin_eof(server)
    url_host = f"[{host}]" if ":" in host else host
    print(f"{READY_PREFIX}http://{url_host}:{port} (model {args.model}, pid {os.getpid()})",
          flush=True)  # fmt: skip
    server.run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
