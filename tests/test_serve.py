"""The model endpoint, tested against real servers on 127.0.0.1 (``python -m ecg_course.serve``)."""

from __future__ import annotations

import contextlib
import copy
import io
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest
import requests
import torch
import uvicorn
from bad_requests import bad_requests

from ecg_course import artifact, mitbih, payload
from ecg_course.endpoint import EndpointError, start_endpoint
from ecg_course.models import LSTMFCN
from ecg_course.precision import lstm_runs_in, resolve_precision
from ecg_course.serve import read_server_timing, server_timing
from ecg_course.training import get_device, predict_proba

TINY = dict(hidden_size=8, filters_1=8, filters_2=16, filters_3=8)
COLUMNS = payload.answer_columns(5)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A small untrained LSTM-FCN and its saved file."""
    torch.manual_seed(0)
    model = LSTMFCN(**TINY).eval()
    path = artifact.save_model(model, tmp_path_factory.mktemp("model") / "tiny.pt")
    return model, path


@pytest.fixture(scope="module")
def endpoint(tiny_model):
    with start_endpoint(tiny_model[1]) as running:
        yield running


@pytest.fixture(scope="module")
def beats():
    return np.random.default_rng(0).random((300, 187), dtype=np.float32)


def _csv(X: np.ndarray) -> str:
    buffer = io.StringIO()
    np.savetxt(buffer, X, delimiter=",", fmt="%.9g")
    return buffer.getvalue()


def _invoke_csv(url: str, X: np.ndarray, session=requests) -> pd.DataFrame:
    response = session.post(
        f"{url}/invocations", data=_csv(X), headers={"Content-Type": "text/csv"}, timeout=60
    )
    assert response.status_code == 200, response.text
    return pd.read_csv(io.StringIO(response.text))


def _assert_answers(answers: pd.DataFrame, model, X: np.ndarray) -> None:
    device = get_device()  # the server's device and precision: CUDA when present, "auto"
    served = copy.deepcopy(model).to(device)
    expected = predict_proba(served, X, batch_size=len(X))
    assert list(answers.columns) == COLUMNS
    proba = answers[COLUMNS[5:]].to_numpy(dtype=np.float32)
    if device.type == "cpu":
        np.testing.assert_array_equal(proba, expected)  # 9 digits give the float32 values back
    else:  # GPU kernels need not give the same bits in two processes
        np.testing.assert_allclose(proba, expected, atol=1e-5)
    one_hot = answers[COLUMNS[:5]].to_numpy()
    np.testing.assert_array_equal(one_hot, np.eye(5, dtype=int)[expected.argmax(axis=1)])


def test_health_describes_the_model(endpoint):
    health = endpoint.health()
    assert health["status"] == "ok"
    assert health["classes"] == list(mitbih.CLASSES)
    assert health["input_length"] == 187
    assert health["preprocessing_version"] == mitbih.CODE_VERSION
    assert health["max_body_bytes"] == payload.MAX_BODY_BYTES


def test_csv_round_trip_equals_predict_proba(endpoint, tiny_model, beats):
    _assert_answers(_invoke_csv(endpoint.url, beats[:100]), tiny_model[0], beats[:100])


def test_answers_say_where_the_server_spent_its_time(endpoint, beats):
    body = payload.format_beats(beats[:50])
    started = time.perf_counter()
    response = requests.post(f"{endpoint.url}/invocations", data=body,
                             headers={"Content-Type": payload.CSV}, timeout=60)  # fmt: skip
    waited = time.perf_counter() - started
    steps = read_server_timing(response.headers["Server-Timing"])
    assert list(steps) == ["parse", "predict", "format"]
    assert steps["predict"] > 0 and min(steps.values()) >= 0
    assert sum(steps.values()) < waited  # the client waited for all of it, and for HTTP


def test_server_timing_header_round_trip():
    seconds = {"parse": 0.00085, "predict": 0.0119, "format": 0.00016}
    assert server_timing(seconds) == "parse;dur=0.85, predict;dur=11.90, format;dur=0.16"
    assert read_server_timing(server_timing(seconds)) == pytest.approx(seconds)


def test_json_round_trip_and_accept_header(endpoint, tiny_model, beats):
    url = f"{endpoint.url}/invocations"
    response = requests.post(url, json={"instances": beats[:7].tolist()}, timeout=60)
    assert response.status_code == 200 and response.headers["content-type"] == payload.JSON
    _assert_answers(pd.DataFrame(response.json()["predictions"]), tiny_model[0], beats[:7])
    response = requests.post(
        url, data=_csv(beats[:7]), headers={"Content-Type": payload.CSV, "Accept": payload.JSON}
    )
    assert response.headers["content-type"] == payload.JSON
    _assert_answers(pd.DataFrame(response.json()["predictions"]), tiny_model[0], beats[:7])


@pytest.mark.parametrize("case", bad_requests(), ids=lambda case: case.name)
def test_bad_input_gets_its_4xx_and_the_server_keeps_serving(endpoint, tiny_model, beats, case):
    headers = {} if case.content_type is None else {"Content-Type": case.content_type}
    response = requests.post(
        f"{endpoint.url}/invocations", data=case.body, headers=headers, timeout=60
    )
    assert response.status_code == case.status, response.text
    assert case.says in response.json()["detail"]
    assert endpoint.health()["status"] == "ok"
    _assert_answers(_invoke_csv(endpoint.url, beats[:3]), tiny_model[0], beats[:3])


@pytest.mark.parametrize("case", bad_requests(), ids=lambda case: case.name)
def test_every_bad_request_is_a_payload_error(case):
    """Never another exception (such as RecursionError or OverflowError): that was a 500."""
    with pytest.raises(payload.PayloadError) as error:
        payload.parse_beats(case.body, case.content_type, 187)
    assert error.value.status == case.status and case.says in str(error.value)


def _by_line(text: str, length: int = 187) -> np.ndarray:
    """The beats as the row-by-row reader (the reference for the fast path) reads them."""
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    rows = payload._csv_rows_by_line(lines, length)
    return np.asarray(rows, dtype=np.float32).reshape(len(rows), length)


@pytest.mark.parametrize(
    "layout",
    ["one row", "no final newline", "final newline", "blank lines after", "CRLF", "CR",
     "spaces around values", "scientific notation", "signs and bare points"],
)  # fmt: skip
def test_the_fast_csv_path_reads_what_the_row_by_row_reader_reads(beats, layout, monkeypatch):
    X = beats[:1] if layout == "one row" else beats[:4]
    rows = [[f"{v:.9g}" for v in row] for row in X.tolist()]
    if layout == "scientific notation":
        rows = [[f"{v:.8e}" for v in row] for row in X.tolist()]
    if layout == "signs and bare points":
        rows = [["+.5", "-0", "5.", "1E-3", *row[4:]] for row in rows]
    separator = {"spaces around values": " , ", "CRLF": ","}.get(layout, ",")
    newline = {"CRLF": "\r\n", "CR": "\r"}.get(layout, "\n")
    text = newline.join(separator.join(row) for row in rows)
    text += {"final newline": "\n", "blank lines after": "\n \n\n", "CRLF": "\r\n"}.get(layout, "")
    fast = []
    monkeypatch.setattr(payload, "_csv_rows_by_line", lambda *args: fast.append(False))
    got = payload.parse_beats(text.encode(), payload.CSV, 187)
    assert fast == []  # well-formed beats, however laid out, never need the slow reader
    monkeypatch.undo()
    np.testing.assert_array_equal(got, _by_line(text))
    if layout not in ("scientific notation", "signs and bare points"):
        np.testing.assert_array_equal(got, X)  # 9 digits give every float32 back


@pytest.mark.parametrize("value", ["1_000", "\uff11"])  # Python's float() reads both, loadtxt not
def test_numbers_only_python_reads_still_go_through_the_row_by_row_reader(value):
    text = ",".join([value] + ["0.5"] * 186) + "\n"
    np.testing.assert_array_equal(payload.parse_beats(text.encode(), payload.CSV, 187),
                                  _by_line(text))  # fmt: skip


def test_every_bad_csv_request_is_refused_by_the_row_by_row_reader(monkeypatch):
    """The fast path never answers a bad body: each message comes from the reference reader."""
    calls = []
    by_line = payload._csv_rows_by_line
    monkeypatch.setattr(
        payload, "_csv_rows_by_line", lambda *args: calls.append(1) or by_line(*args)
    )
    for case in bad_requests():
        if (
            case.content_type != payload.CSV
            or case.status != 400
            or case.says.startswith(("empty body", "not UTF-8"))
        ):
            continue
        calls.clear()
        with pytest.raises(payload.PayloadError, match=re.escape(case.says)) as error:
            payload.parse_beats(case.body, case.content_type, 187)
        assert error.value.status == case.status
        assert calls or re.search(r"value \d+ is ", case.says), case.name  # a number, unusable


def test_format_answers_csv_writes_every_float32_exactly():
    proba = np.array(
        [[1.0, 0.0, 1e-45, 3.4028235e38, 1.1754944e-38], [0.1, 0.2, 0.3, 0.25, 0.15]],
        dtype=np.float32,
    )
    text = payload.format_answers(proba, payload.CSV)
    assert text.splitlines()[0] == ",".join(COLUMNS)
    assert text.splitlines()[1] == "0,0,0,1,0,1,0,1.40129846e-45,3.40282347e+38,1.17549435e-38"
    assert text.endswith("\n") and len(text.splitlines()) == 3
    answers = pd.read_csv(io.StringIO(text))
    np.testing.assert_array_equal(answers[COLUMNS[5:]].to_numpy(dtype=np.float32), proba)
    assert payload.format_answers(proba[:0], payload.CSV) == ",".join(COLUMNS) + "\n"


def _read_back(text: str, shape: tuple[int, int]) -> np.ndarray:
    """The float32 samples a CSV body holds, read as the endpoint reads them."""
    return payload.parse_beats(text.encode(), payload.CSV, shape[1]).reshape(shape)


def test_format_beats_gives_back_every_float32_exactly(beats):
    rng = np.random.default_rng(1)
    # every finite non-negative float32 is a bit pattern below the one of +inf
    anything = rng.integers(0, 0x7F800000, 187_000, dtype=np.uint32).view(np.float32)
    powers = np.float32(10) ** np.arange(-45, 39, dtype=np.float32)
    powers = powers[np.isfinite(powers) & (powers > 0)]
    edges = np.concatenate([powers, np.nextafter(powers, np.float32(0)),
                            np.nextafter(powers, np.float32(np.inf)), [0, 1]])  # fmt: skip
    edges = np.resize(edges, 187 * (len(edges) // 187 + 1)).astype(np.float32)
    for X in (beats[:100], anything.reshape(-1, 187), edges.reshape(-1, 187)):
        back = _read_back(payload.format_beats(X), X.shape)
        np.testing.assert_array_equal(back.view(np.uint32), X.view(np.uint32))  # same bits


def test_format_beats_layout(beats):
    text = payload.format_beats(beats[:3])
    lines = text.split("\n")
    assert len(lines) == 4 and lines[-1] == ""  # one beat per line, a final newline
    assert all(len(line.split(",")) == 187 for line in lines[:3])
    assert text == _csv(beats[:3])  # what np.savetxt(fmt="%.9g") writes
    assert payload.format_beats(beats[0]) == lines[0] + "\n"  # one beat: one line
    assert payload.format_beats(beats[:0]) == ""
    with pytest.raises(ValueError, match=r"beats must be \(n, T\)"):
        payload.format_beats(np.zeros((2, 3, 4), dtype=np.float32))


def test_format_beats_writes_negative_and_non_finite_samples_as_savetxt_does(beats):
    signed = beats[:2] - 0.5
    signed[0, 0] = -0.0
    odd = beats[:2].copy()
    odd[0, 3], odd[1, 7] = np.nan, -np.inf
    for X in (signed, odd):
        assert payload.format_beats(X) == _csv(X)
    back = _read_back(payload.format_beats(signed), signed.shape)
    np.testing.assert_array_equal(back.view(np.uint32), signed.view(np.uint32))  # -0.0 too
    with pytest.raises(payload.PayloadError, match="row 1, value 4 is nan"):
        _read_back(payload.format_beats(odd), odd.shape)


def test_eight_concurrent_clients_get_the_serial_answers(endpoint, beats):
    batches = [beats[i : i + 30] for i in range(0, 240, 30)]  # 8 batches
    with requests.Session() as session:
        serial = [_invoke_csv(endpoint.url, batch, session) for batch in batches]

    def client(batch):
        with requests.Session() as session:
            return [_invoke_csv(endpoint.url, batch, session) for _ in range(3)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        concurrent = list(pool.map(client, batches))
    for answers, repeats in zip(serial, concurrent, strict=True):
        for repeat in repeats:
            pd.testing.assert_frame_equal(repeat, answers)


def test_a_file_from_another_preprocessing_version_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(mitbih, "CODE_VERSION", mitbih.CODE_VERSION + 1)
    path = artifact.save_model(LSTMFCN(**TINY), tmp_path / "future.pt")
    with pytest.raises(EndpointError, match="exited with status 2(.|\n)*preprocessing version 2"):
        start_endpoint(path)


@pytest.mark.parametrize(
    ("hparams", "says"),
    [({"side_features": 7}, "side_features=7"), ({"in_channels": 2}, "in_channels=2")],
)
def test_a_model_that_reads_more_than_beats_is_refused(tmp_path, hparams, says):
    path = artifact.save_model(LSTMFCN(**TINY, **hparams), tmp_path / "rhythm.pt")
    with pytest.raises(EndpointError, match=f"exited with status 2(.|\n)*{says}"):
        start_endpoint(path)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_graceful_shutdown_finishes_the_request_and_leaves_nothing(tmp_path):
    torch.manual_seed(0)
    path = artifact.save_model(LSTMFCN(), tmp_path / "seed_size.pt")  # slow enough to be caught
    port = _free_port()
    endpoint = start_endpoint(path, port=port, device="cpu")
    assert endpoint.url == f"http://127.0.0.1:{port}"
    X = np.random.default_rng(1).random((1500, 187), dtype=np.float32)  # seconds on 2 cores
    result: dict = {}

    def request() -> None:
        result["answers"] = _invoke_csv(endpoint.url, X)
        result["done"] = time.monotonic()

    client = threading.Thread(target=request)
    client.start()
    time.sleep(0.3)
    stop_called = time.monotonic()
    endpoint.stop()
    client.join()
    assert result["done"] > stop_called, "the request ended before stop(): nothing was tested"
    assert len(result["answers"]) == len(X)
    _assert_no_trace(endpoint, port)


def test_server_exits_when_its_parent_goes(tiny_model):
    endpoint = start_endpoint(tiny_model[1])
    port = int(endpoint.url.rsplit(":", 1)[1])
    endpoint.process.stdin.close()  # what a dead notebook kernel does to its child
    endpoint.process.wait(timeout=30)
    endpoint.stop()
    _assert_no_trace(endpoint, port)


def _assert_no_trace(endpoint, port: int) -> None:
    assert endpoint.process.poll() is not None
    with pytest.raises(ProcessLookupError):
        os.kill(endpoint.process.pid, 0)  # exited and reaped: no zombie either
    assert not endpoint._reader.is_alive()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/health", timeout=5)


def test_the_listening_socket_lets_asyncio_turn_nagle_off():
    """asyncio sets TCP_NODELAY only on connections of a socket made with IPPROTO_TCP;
    without it every answer waits ~40 ms for the client's delayed ACK."""
    from ecg_course.serve import listening_socket

    with listening_socket("127.0.0.1", 0) as sock:
        assert sock.proto == socket.IPPROTO_TCP
        assert sock.getsockname()[1] > 0


# --- The command's mistakes: "error: ..." and status 2, never a traceback -----------------


def _main_status(argv: list[str], capsys) -> tuple[int, str]:
    """``python -m ecg_course.serve ARGV`` in this process: its status and its stderr.
    An exception (a traceback in a terminal) fails the test, and so does serving."""
    from ecg_course import serve

    def run(self, sockets=None):
        raise AssertionError(f"the command started serving; it printed {capsys.readouterr()}")

    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(uvicorn.Server, "run", run)
            status = serve.main(argv)
    except SystemExit as exit_:  # argparse's errors
        status = exit_.code
    return status, capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--port", "70000"], "argument --port: '70000' is not a port: give 0 to 65535"),
        (["--port", "-1"], "argument --port: '-1' is not a port"),
        (["--device", "bogus"], "argument --device: 'bogus' is not a device"),
        (["--device", "meta"], "argument --device: 'meta': the endpoint runs on cpu, cuda or mps"),
        (["--log-level", "bogus"], "argument --log-level: invalid choice: 'bogus'"),
        (["--read-timeout", "0"], "argument --read-timeout: '0' is not a number of seconds"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else None,
)
def test_a_wrong_option_is_an_error_line_and_status_2(tiny_model, capsys, args, says):
    status, err = _main_status(["--model", str(tiny_model[1]), *args], capsys)
    assert status == 2 and "error: " + says in err, err


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_on_a_machine_without_it_is_an_error_line(tiny_model, capsys):
    status, err = _main_status(["--model", str(tiny_model[1]), "--device", "cuda"], capsys)
    assert status == 2 and "error: argument --device: 'cuda': this machine has no CUDA GPU" in err


def test_a_precision_the_model_cannot_run_in_is_refused_at_start(tiny_model, capsys):
    """fp16 on a CPU used to start, report healthy, and answer 500 to every request."""
    if lstm_runs_in(resolve_precision("fp16", "cpu")):
        pytest.skip("this PyTorch runs the LSTM in float16 on a CPU")
    argv = ["--model", str(tiny_model[1]), "--device", "cpu", "--precision", "fp16"]
    status, err = _main_status(argv, capsys)
    assert status == 2, err
    assert "error: " in err and "does not run in fp16 on cpu" in err and "cannot run an LSTM" in err
    assert "--precision fp32" in err


def test_a_model_that_fails_on_its_first_beat_is_refused_at_start(tiny_model, monkeypatch):
    from ecg_course import serve

    def fail(*args, **kwargs):
        raise RuntimeError("no kernel for this\nmore detail")

    monkeypatch.setattr(serve, "predict_proba", fail)
    with pytest.raises(ValueError, match=r"does not run in fp32 on cpu \(no kernel for this\)"):
        serve.create_app(artifact.load_model(tiny_model[1]), device="cpu", precision="fp32")


def _damaged(path, tmp_path, change) -> str:
    raw = torch.load(path, weights_only=True)
    change(raw)
    torch.save(raw, tmp_path / "damaged.pt")
    return str(tmp_path / "damaged.pt")


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (lambda raw: raw["state_dict"].pop("fc.bias"), "do not match the SHA-256 checksum"),
        (lambda raw: raw.pop("architecture"), "lacks architecture"),
        (lambda raw: raw["hparams"].update(depth=3), "hparams holds depth"),
        (lambda raw: raw.update(hparams=[1, 2]), "hparams must be a dict"),
        (lambda raw: raw.update(input_length="abc"), "input_length is 'abc'"),
        (lambda raw: raw.update(input_length=100), "input_length is 100, but the model reads"),
        (lambda raw: raw.update(class_names=["N", "S", "V"]), "class_names must be a list of 5"),
    ],
    ids=["weights", "architecture", "hparams key", "hparams list", "input_length text",
         "input_length 100", "3 class names"],
)  # fmt: skip
def test_a_damaged_model_file_is_an_error_line_and_status_2(tiny_model, tmp_path, capsys,
                                                            change, says):  # fmt: skip
    status, err = _main_status(["--model", _damaged(tiny_model[1], tmp_path, change)], capsys)
    assert status == 2 and says in err and err.startswith("error: "), err


def test_the_real_command_answers_a_damaged_file_without_a_traceback(tiny_model, tmp_path):
    path = _damaged(tiny_model[1], tmp_path, lambda raw: raw["hparams"].update(depth=3))
    with pytest.raises(EndpointError, match="exited with status 2") as error:
        start_endpoint(path)
    assert "error: " in str(error.value) and "Traceback" not in str(error.value)


def test_a_file_without_checksum_is_served_with_a_warning(tiny_model, tmp_path):
    def version_1(raw):
        raw["format_version"] = 1
        del raw["weights_sha256"]

    with start_endpoint(_damaged(tiny_model[1], tmp_path, version_1)) as running:
        assert running.health()["status"] == "ok"
        assert "warning: " in running.log and "without a checksum of its weights" in running.log


def test_listening_beyond_the_loopback_warns_that_there_is_no_authentication(
    tiny_model, capsys, monkeypatch
):
    from ecg_course import serve

    assert serve.exposure_warning("127.0.0.1") is None and serve.exposure_warning("::1") is None
    for host in ("0.0.0.0", "::", "192.168.1.20"):
        assert "no authentication" in serve.exposure_warning(host)

    class AllInterfaces(socket.socket):  # what --host 0.0.0.0 binds, without exposing this one
        def getsockname(self):
            return ("0.0.0.0", 8080)

    monkeypatch.setattr(serve, "listening_socket", lambda host, port: AllInterfaces())
    monkeypatch.setattr(serve._Server, "run", lambda self, sockets: None)
    status, err = _main_status(["--model", str(tiny_model[1]), "--host", "0.0.0.0"], capsys)
    assert status == 0 and "warning: listening on 0.0.0.0" in err and "no authentication" in err


# --- Start and stop ---------------------------------------------------------------------


def _serve_process(path, *args) -> tuple[subprocess.Popen, str]:
    """The command in a subprocess, with Ctrl+C's default action (a shell's background
    jobs ignore SIGINT, and Python keeps that); returns it and its first line."""
    process = subprocess.Popen(
        [sys.executable, "-m", "ecg_course.serve", "--model", str(path), "--log-level",
         "warning", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    line = process.stdout.readline()
    if not line.startswith("Serving on "):
        process.kill()
        pytest.fail(f"no address: {line!r} {process.communicate()}")
    return process, line


def test_the_address_is_printed_once_the_socket_accepts(tiny_model):
    """It was printed before uvicorn listened: a client that connected on it was refused."""
    process, line = _serve_process(tiny_model[1])
    try:
        host, port = line.split()[2].removeprefix("http://").rsplit(":", 1)
        socket.create_connection((host, int(port)), timeout=5).close()  # at once: accepted
    finally:
        process.terminate()
        process.communicate(timeout=30)


def test_ctrl_c_stops_the_server_with_status_0_and_no_traceback(tiny_model, beats):
    process, line = _serve_process(tiny_model[1])
    url = line.split()[2]
    for _ in range(100):  # (the address came before the socket listened: issue 24)
        with contextlib.suppress(requests.ConnectionError):
            requests.get(f"{url}/health", timeout=5)
            break
        time.sleep(0.05)
    assert len(_invoke_csv(url, beats[:3])) == 3
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/health", timeout=5)


# --- Clients that hold a connection -----------------------------------------------------

READ_TIMEOUT = 1.0


@pytest.fixture(scope="module")
def strict_endpoint(tiny_model):
    with start_endpoint(tiny_model[1], read_timeout=READ_TIMEOUT) as running:
        yield running


def _connect(endpoint) -> socket.socket:
    host, port = endpoint.url.removeprefix("http://").rsplit(":", 1)
    return socket.create_connection((host, int(port)), timeout=READ_TIMEOUT + 5)


def _read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (a socket timeout fails the test)."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def _head(beat_count: int = 1, declared: int | None = None) -> tuple[bytes, bytes]:
    body = payload.format_beats(np.full((beat_count, 187), 0.5, np.float32)).encode()
    length = len(body) if declared is None else declared
    head = (f"POST /invocations HTTP/1.1\r\nHost: test\r\nContent-Type: text/csv\r\n"
            f"Content-Length: {length}\r\n\r\n").encode()  # fmt: skip
    return head, body


def test_headers_sent_a_byte_at_a_time_are_cut_off_by_the_read_timeout(strict_endpoint):
    head, _ = _head()
    with _connect(strict_endpoint) as sock:
        started = time.monotonic()
        with contextlib.suppress(OSError):  # the server closes while we still send
            for byte in head:
                sock.send(bytes([byte]))
                time.sleep(0.2)  # the whole head would take 20 s
        answer = _read_all(sock)
        waited = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408 ") and b"did not arrive whole within 1 s" in answer
    assert READ_TIMEOUT - 0.1 < waited < READ_TIMEOUT + 2
    assert strict_endpoint.health()["status"] == "ok"


@pytest.mark.parametrize("sent", ["nothing", "a body shorter than its Content-Length"])
def test_a_request_that_never_arrives_whole_is_cut_off(strict_endpoint, sent):
    head, body = _head(declared=10_000)
    with _connect(strict_endpoint) as sock:
        started = time.monotonic()
        if sent != "nothing":
            sock.sendall(head + body[:100])
        answer = _read_all(sock)
        waited = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408 ") and READ_TIMEOUT - 0.1 < waited < READ_TIMEOUT + 2
    assert strict_endpoint.health()["status"] == "ok"
    assert "Traceback" not in strict_endpoint.log  # the route waiting for the body ends quietly


def test_the_read_timeout_counts_each_request_from_its_first_byte(strict_endpoint):
    """Keep-alive idle time and the time the model takes are not the request's arrival."""
    head, body = _head()
    with _connect(strict_endpoint) as sock:
        for _ in range(2):
            for part in (head, body[:1000], body[1000:]):  # a slow but whole request
                sock.sendall(part)
                time.sleep(READ_TIMEOUT / 4)
            answer = sock.recv(65536)
            assert answer.startswith(b"HTTP/1.1 200 "), answer
            time.sleep(READ_TIMEOUT * 1.5)  # idle, within uvicorn's keep-alive


def test_headers_over_the_limit_get_431(strict_endpoint):
    from ecg_course.serve import MAX_HEADER_BYTES

    head, body = _head()

    def padded(size: int) -> bytes:
        return head.replace(b"Host: test\r\n", b"Host: test\r\nX-Pad: " + b"a" * size + b"\r\n")

    with _connect(strict_endpoint) as sock:
        sock.sendall(padded(MAX_HEADER_BYTES) + body)  # h11 alone bounds incomplete heads only
        answer = _read_all(sock)
    assert answer.startswith(b"HTTP/1.1 431 ") and b"headers are over 16,384 bytes" in answer
    with _connect(strict_endpoint) as sock:
        sock.sendall(padded(15_000) + body)
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")  # under the limit: served


def test_a_64_mib_header_is_not_read(strict_endpoint):
    started, sent = time.monotonic(), 0
    with _connect(strict_endpoint) as sock, contextlib.suppress(OSError):  # reset by the server
        sock.sendall(b"GET /health HTTP/1.1\r\nX-Pad: ")
        while sent < 64 * 2**20:
            sock.sendall(b"a" * 2**20)
            sent += 2**20
    assert sent < 64 * 2**20 and time.monotonic() - started < 10
    assert strict_endpoint.health()["status"] == "ok"
