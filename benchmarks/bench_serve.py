"""Endpoint benchmark: the cost of HTTP, measured side by side with in-process inference.

1. Takes real MIT-BIH beats (the first records of DS2, built by ``ecg_course.mitbih``)
   and a seed-size LSTM-FCN (untrained: the weights do not change the arithmetic),
   saved with ``save_model`` and served by ``start_endpoint`` on 127.0.0.1.
2. Scores the beats in batches of 100 four ways, in passes over all the beats that
   take turns (each way goes first in turn, so that the load of a shared machine
   falls on all of them alike): in-process ``predict_proba`` called from the main
   thread; the same from a worker thread, as the server calls it; through the
   endpoint by one client, batch after batch (CSV written with
   ``payload.format_beats``, POSTed, the answer read with pandas, as chapter 2's
   client does); and by two such clients at once, so that the server always has the
   next batch waiting, as a loaded server does. Reports beats/s of each (the
   endpoint's time includes writing and reading the CSV), the ratio endpoint /
   in-process, and the median and 99th-percentile latency per batch of one client.
   The endpoint's probabilities must equal the in-process ones exactly.

   The target ratio is taken against the serving process's own ``predict_proba``
   (each answer's ``Server-Timing`` header gives the seconds of its model call),
   and the ratio against ``predict_proba`` in this process is printed beside it.
   The two differ by a lottery that is not HTTP's: on the 2-core course machine,
   the same model call per batch of 100 took 11-12 ms in some processes and
   21-26 ms in others with identical settings (and the main thread and a worker
   thread of one process can differ alike). Over 7 runs of one evening (2026-11-30)
   the ratio across the two processes ranged from 0.61 to 0.94, while the serving
   process's ratio stayed between 0.74 and 0.80 and a request's cost beyond the
   model call between 4.1 and 4.8 ms. Run it several times and quote every ratio.

   Why passes and not batch by batch: on 2 cores, a server that sits idle while the
   client computes a batch of its own runs its next batch about a third slower
   (measured: the server's own model call took 20-24 ms per batch back to back and
   28-32 ms when each request followed an in-process batch or a 22 ms sleep). The
   target compares HTTP with in-process inference, not the cost of two processes
   taking turns on the same cores, so each way runs a whole pass at a time.
3. Sends the bad-input suite (``tests/bad_requests.py``): every case must get its
   4xx and message, and the server must still answer right afterwards.

Prints a report and writes ``benchmarks/results/serve.json``. Needs the data
(``ECG_COURSE_DATA`` or internet). Usage: ``python benchmarks/bench_serve.py [--beats N]``.
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import requests
import torch

from ecg_course import mitbih, payload
from ecg_course.artifact import save_model
from ecg_course.endpoint import start_endpoint
from ecg_course.models import LSTMFCN
from ecg_course.precision import PRECISIONS
from ecg_course.serve import read_server_timing
from ecg_course.training import predict_proba, seed_everything
from tests.bad_requests import bad_requests

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "serve.json"
BATCH = 100
TARGET_RATIO = 0.70
"""Endpoint throughput must be at least this share of in-process predict_proba's."""


def in_process(
    model: torch.nn.Module, batch: np.ndarray, precision: str
) -> tuple[np.ndarray, float, float]:
    """Probabilities of one batch and the seconds predict_proba took (twice: as the
    latency, and as the model's own time, which here are the same)."""
    start = time.perf_counter()
    proba = predict_proba(model, batch, batch_size=BATCH, precision=precision)
    took = time.perf_counter() - start
    return proba, took, took


def through_endpoint(
    session: requests.Session, url: str, batch: np.ndarray
) -> tuple[np.ndarray, float, float]:
    """Probabilities of one batch through the endpoint, the request's seconds (latency),
    and the seconds the server's model call took (its ``Server-Timing`` header)."""
    body = payload.format_beats(batch)
    sent = time.perf_counter()
    response = session.post(f"{url}/invocations", data=body, headers={"Content-Type": payload.CSV})
    latency = time.perf_counter() - sent
    response.raise_for_status()
    answers = pd.read_csv(io.StringIO(response.text))
    proba = answers[payload.answer_columns(5)[5:]].to_numpy(dtype=np.float32)
    return proba, latency, read_server_timing(response.headers["Server-Timing"])["predict"]


WAYS = ("in_process", "worker_thread", "endpoint", "endpoint_2_clients")


def one_pass(
    way: str,
    model: torch.nn.Module,
    url: str,
    batches: list[np.ndarray],
    precision: str,
    pool: ThreadPoolExecutor,
    sessions: list[requests.Session],
) -> list[tuple[np.ndarray, float, float]]:
    """Probabilities, latency and the model call's seconds of every batch, scored the
    way named."""
    if way == "in_process":
        return [in_process(model, batch, precision) for batch in batches]
    if way == "worker_thread":
        return pool.submit(one_pass, "in_process", model, url, batches, precision, pool,
                           sessions).result()  # fmt: skip
    if way == "endpoint":
        return [through_endpoint(sessions[0], url, batch) for batch in batches]
    # two clients: batch i goes out on session i % 2, so one batch waits while one is scored
    return list(pool.map(
        lambda i: through_endpoint(sessions[i % 2], url, batches[i]), range(len(batches))
    ))  # fmt: skip


def alternating_passes(
    model: torch.nn.Module, url: str, X: np.ndarray, rounds: int, precision: str
) -> dict:
    """Seconds per pass of each way, latencies per batch, and the model's seconds per
    batch (in the serving process for the endpoint); the ways take turns."""
    batches = [X[i : i + BATCH] for i in range(0, len(X), BATCH)]
    expected = [predict_proba(model, b, batch_size=BATCH, precision=precision) for b in batches]
    seconds = {way: [] for way in WAYS}
    latency = {way: [] for way in WAYS}
    model_seconds = {way: [] for way in WAYS}
    max_diff = 0.0
    sessions = [requests.Session(), requests.Session()]
    with ThreadPoolExecutor(max_workers=2) as pool:
        for round_ in range(rounds):
            turn = round_ % len(WAYS)
            for way in WAYS[turn:] + WAYS[:turn]:  # each way goes first in turn
                start = time.perf_counter()
                scored = one_pass(way, model, url, batches, precision, pool, sessions)
                seconds[way].append(time.perf_counter() - start)
                latency[way] += [took for _, took, _ in scored]
                model_seconds[way] += [model_took for _, _, model_took in scored]
                for (proba, _, _), local in zip(scored, expected, strict=True):
                    max_diff = max(max_diff, float(np.abs(proba - local).max()))
    for session in sessions:
        session.close()
    return {"seconds": seconds, "latency": latency, "model_seconds": model_seconds,
            "max_abs_diff": max_diff}  # fmt: skip


def bad_input_suite(url: str, model: torch.nn.Module, X: np.ndarray, precision: str) -> list[dict]:
    """Send every bad request; after each, the server must be healthy and still right."""
    check = X[:5]
    expected = predict_proba(model, check, batch_size=BATCH, precision=precision)
    body = payload.format_beats(check)
    rows = []
    for case in bad_requests(X.shape[1]):
        headers = {} if case.content_type is None else {"Content-Type": case.content_type}
        response = requests.post(f"{url}/invocations", data=case.body, headers=headers)
        detail = response.json().get("detail", "")
        health = requests.get(f"{url}/health").status_code
        after = requests.post(
            f"{url}/invocations", data=body, headers={"Content-Type": payload.CSV}
        )
        answers = pd.read_csv(io.StringIO(after.text)) if after.ok else None
        still_right = answers is not None and np.array_equal(
            answers[payload.answer_columns(5)[5:]].to_numpy(dtype=np.float32), expected
        )
        rows.append({
            "case": case.name, "expected": case.status, "status": response.status_code,
            "message": detail, "message_ok": case.says in detail,
            "health_after": health, "still_right": bool(still_right),
        })  # fmt: skip
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--beats", type=int, default=2000, help="beats per round")
    parser.add_argument("--rounds", type=int, default=len(WAYS) * 2,
                        help="passes over the beats per way")  # fmt: skip
    parser.add_argument("--precision", choices=PRECISIONS, default="auto",
                        help="of the endpoint and of in-process predict_proba alike")  # fmt: skip
    args, others = parser.parse_known_args()  # tasks.py bench passes every script the same
    if others:
        print(f"(bench_serve ignores {' '.join(others)})")
    X = mitbih.build_beats(mitbih.DS2[:3], progress=False)[0][: args.beats]
    seed_everything(0)
    model = LSTMFCN().eval()
    with tempfile.TemporaryDirectory() as folder:
        path = save_model(model, Path(folder) / "lstm_fcn.pt")
        start = time.perf_counter()
        endpoint = start_endpoint(path, device="cpu", precision=args.precision)
        startup = time.perf_counter() - start
        try:
            alternating_passes(model, endpoint.url, X[:300], len(WAYS), args.precision)  # warm-up
            measured = alternating_passes(model, endpoint.url, X, args.rounds, args.precision)
            suite = bad_input_suite(endpoint.url, model, X, args.precision)
        finally:
            endpoint.stop()
    n_beats = len(X) * args.rounds
    rate = {way: n_beats / sum(s) for way, s in measured["seconds"].items()}
    local_lat, remote_lat = (
        np.array(measured["latency"][way]) * 1000 for way in ("in_process", "endpoint")
    )
    max_diff = measured["max_abs_diff"]
    ratio = rate["endpoint"] / rate["in_process"]
    served_model = np.array(measured["model_seconds"]["endpoint"])
    serving_rate = n_beats / served_model.sum()  # the server's own predict_proba, one client
    serving_ratio = rate["endpoint"] / serving_rate
    http_ms = np.median(remote_lat - served_model * 1000)
    loaded_ratio = rate["endpoint_2_clients"] / rate["in_process"]
    suite_ok = all(
        row["status"] == row["expected"] and row["message_ok"] and row["health_after"] == 200
        and row["still_right"] for row in suite
    )  # fmt: skip
    results = {
        "machine": {"platform": platform.platform(), "torch_threads": torch.get_num_threads()},
        "beats": len(X), "batch": BATCH, "rounds": args.rounds,
        "startup_seconds": startup,
        "beats_per_s": rate, "ratio": ratio, "ratio_2_clients": loaded_ratio,
        "serving_process_predict_beats_per_s": serving_rate, "ratio_serving_process": serving_ratio,
        "request_minus_model_ms_median": float(http_ms),
        "target_ratio": TARGET_RATIO,
        "in_process_ms_per_batch": {"median": float(np.median(local_lat)),
                                    "p99": float(np.percentile(local_lat, 99))},
        "endpoint_ms_per_batch": {"median": float(np.median(remote_lat)),
                                  "p99": float(np.percentile(remote_lat, 99))},
        "max_abs_diff": max_diff, "bad_input_suite": suite, "bad_input_suite_ok": suite_ok,
    }  # fmt: skip
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))

    print(f"{len(X):,} real MIT-BIH beats (records {', '.join(mitbih.DS2[:3])}), batches of "
          f"{BATCH}, {args.rounds} passes per way, the ways taking turns, "
          f"{torch.get_num_threads()} torch threads, precision {args.precision}; "
          f"endpoint started in {startup:.1f} s")  # fmt: skip
    print(
        f"  in-process predict_proba:   {rate['in_process']:7.1f} beats/s, per batch median "
        f"{np.median(local_lat):.1f} ms, p99 {np.percentile(local_lat, 99):.1f} ms"
    )
    print(
        f"  in-process, worker thread:  {rate['worker_thread']:7.1f} beats/s (where the server "
        "calls the model)"
    )
    print(
        f"  through the endpoint:       {rate['endpoint']:7.1f} beats/s, per batch median "
        f"{np.median(remote_lat):.1f} ms, p99 {np.percentile(remote_lat, 99):.1f} ms"
    )
    print(
        f"  endpoint, 2 clients at once: {rate['endpoint_2_clients']:6.1f} beats/s "
        f"(endpoint / in-process: {loaded_ratio:.2f})"
    )
    print(
        f"  the server's own predict_proba:  {serving_rate:7.1f} beats/s, per batch median "
        f"{np.median(served_model) * 1000:.1f} ms (its Server-Timing header); a request took "
        f"{http_ms:.1f} ms more (median): the server reading the CSV and writing the answer, HTTP"
    )
    print(
        f"  endpoint / in-process predict_proba, one client: {ratio:.2f} here; "
        f"{serving_ratio:.2f} in the serving process (target >= {TARGET_RATIO:.2f}): "
        f"{'PASS' if serving_ratio >= TARGET_RATIO else 'FAIL'}; max |p difference| "
        f"{max_diff:.1e}"
    )
    print(
        f"  bad-input suite: {sum(r['status'] == r['expected'] for r in suite)}/{len(suite)} "
        f"answered with the expected 4xx and message, server healthy and right after each: "
        f"{'PASS' if suite_ok else 'FAIL'}"
    )
    for row in suite:
        print(
            f"    {row['case']:<26} {row['status']} (expected {row['expected']}): "
            f"{row['message'][:70]}"
        )
    print(f"Written to {RESULTS.relative_to(ROOT)}")
    return 0 if serving_ratio >= TARGET_RATIO and suite_ok and max_diff == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
