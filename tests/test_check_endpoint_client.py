"""checks.check_endpoint_client accepts right client loops and names the mistake in wrong ones.

The answers are built the way the endpoint writes them (payload.format_answers) and read
back the way a client reads them, without a server: the checker only sees the table.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
import torch

from ecg_course import checks, payload
from ecg_course.models import LSTMFCN
from ecg_course.training import predict_proba

N, BATCH = 350, 100  # three full batches and a last one of 50


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    model = LSTMFCN(hidden_size=8, filters_1=8, filters_2=16, filters_3=8).eval()
    X = np.random.default_rng(0).random((N, 187), dtype=np.float32)
    return model, X


def _answer_csv(model, batch: np.ndarray, **read_csv) -> pd.DataFrame:
    """The endpoint's CSV answer for one request, scored in float32 (the checker's default
    precision), read back as a client reads it."""
    text = payload.format_answers(predict_proba(model, batch, precision="fp32"), payload.CSV)
    return pd.read_csv(io.StringIO(text), **read_csv)


def _client(model, X, starts=None, step=BATCH, size=BATCH, **read_csv):
    """What a client loop collects: the answer of every batch, and one time per request."""
    starts = range(0, len(X), step) if starts is None else starts
    chunks = [_answer_csv(model, X[i : i + size], **read_csv) for i in starts]
    return chunks, [0.05] * len(chunks)


def test_accepts_the_reference_loop(setup, capsys):
    model, X = setup
    chunks, latencies = _client(model, X)
    checks.check_endpoint_client(pd.concat(chunks, ignore_index=True), latencies, model, X)
    out = capsys.readouterr().out
    assert out.startswith("Correct: 350 beats in 4 requests") and "median latency 50 ms" in out


def test_accepts_json_answers_with_columns_in_another_order(setup, capsys):
    model, X = setup
    chunks = []
    for i in range(0, N, BATCH):
        proba = predict_proba(model, X[i : i + BATCH], precision="fp32")
        text = payload.format_answers(proba, payload.JSON)
        chunks.append(pd.DataFrame(json.loads(text)["predictions"]))
    answers = pd.concat(chunks, ignore_index=True)
    answers = answers[payload.answer_columns(5)[5:] + payload.answer_columns(5)[:5]]
    checks.check_endpoint_client(answers, np.full(4, 0.02), model, X)
    assert capsys.readouterr().out.startswith("Correct")


def test_accepts_concurrent_answers_put_back_in_order(setup, capsys):
    model, X = setup
    starts = [300, 100, 0, 200]  # the order in which they came back
    chunks, latencies = _client(model, X, starts=starts)
    by_start = dict(zip(starts, chunks, strict=True))
    answers = pd.concat([by_start[i] for i in sorted(by_start)], ignore_index=True)
    checks.check_endpoint_client(answers, latencies, model, X)
    assert capsys.readouterr().out.startswith("Correct")


def test_names_the_missing_last_batch(setup):
    model, X = setup
    chunks, latencies = _client(model, X, starts=range(0, N - BATCH, BATCH))
    with pytest.raises(checks.ExerciseError, match="the last, shorter batch \\(50 beats\\)"):
        checks.check_endpoint_client(pd.concat(chunks, ignore_index=True), latencies, model, X)


def test_names_a_missing_full_batch(setup):
    model, X = setup
    chunks, latencies = _client(model, X, starts=[0, 200, 300])
    with pytest.raises(checks.ExerciseError, match="250 rows, expected 350: 100 missing"):
        checks.check_endpoint_client(pd.concat(chunks, ignore_index=True), latencies, model, X)


def test_names_batches_out_of_order(setup):
    model, X = setup
    chunks, latencies = _client(model, X, starts=[100, 0, 200, 300])  # appended as they came
    with pytest.raises(checks.ExerciseError, match="batches are out of order"):
        checks.check_endpoint_client(pd.concat(chunks, ignore_index=True), latencies, model, X)


def test_names_overlapping_batches(setup):
    model, X = setup
    chunks, latencies = _client(model, X, size=BATCH + 1)  # X[i:i + 101]
    with pytest.raises(checks.ExerciseError, match="3 too many: the batches overlap by 1 beat"):
        checks.check_endpoint_client(pd.concat(chunks, ignore_index=True), latencies, model, X)


def test_names_a_header_line_sent_as_a_beat(setup):
    """pd.DataFrame(batch).to_csv(index=False) writes the column names 0,1,...,186 first: the
    endpoint reads that line as one more beat, and answers it."""
    model, X = setup
    chunks = [
        _answer_csv(model, np.vstack([np.arange(X.shape[1]), X[i : i + BATCH]]))
        for i in range(0, N, BATCH)
    ]
    with pytest.raises(checks.ExerciseError, match=r"^(?!.*overlap).*4 too many.*header line"):
        checks.check_endpoint_client(pd.concat(chunks, ignore_index=True), [0.05] * 4, model, X)


def test_says_what_differs_for_beats_changed_before_sending(setup):
    """Beats standardised before sending: no listed mistake, so no guessed cause."""
    model, X = setup
    scaled = (X - X.mean(axis=1, keepdims=True)) / X.std(axis=1, keepdims=True)
    chunks, latencies = _client(model, scaled)
    with pytest.raises(
        checks.ExerciseError,
        match=r"^(?!.*digits).*p_ of beat 0 is \[.*\], the model says \[.*\] for X\[0\]",
    ):
        checks.check_endpoint_client(pd.concat(chunks, ignore_index=True), latencies, model, X)


def test_names_the_header_read_as_a_row(setup):
    model, X = setup
    chunks, latencies = _client(model, X, header=None)
    with pytest.raises(checks.ExerciseError, match="not with header=None"):
        checks.check_endpoint_client(pd.concat(chunks, ignore_index=True), latencies, model, X)


def test_names_the_repeated_index(setup):
    model, X = setup
    chunks, latencies = _client(model, X)
    with pytest.raises(checks.ExerciseError, match="ignore_index=True"):
        checks.check_endpoint_client(pd.concat(chunks), latencies, model, X)


def test_says_what_the_index_is_without_guessing_why(setup):
    model, X = setup
    chunks, latencies = _client(model, X)
    answers = pd.concat(chunks, ignore_index=True)
    answers.index = answers.index + 1  # numbered from 1: not a pd.concat without ignore_index
    with pytest.raises(
        checks.ExerciseError, match=r"^(?!.*repeats).*index is not 0\.\.349 \(it starts \[1, 2, 3\]"
    ):
        checks.check_endpoint_client(answers, latencies, model, X)


def test_names_swapped_one_hot_and_probabilities(setup):
    model, X = setup
    chunks, latencies = _client(model, X)
    answers = pd.concat(chunks, ignore_index=True)
    y_cols, p_cols = payload.answer_columns(5)[:5], payload.answer_columns(5)[5:]
    swapped = answers.rename(columns=dict(zip(y_cols + p_cols, p_cols + y_cols, strict=True)))
    with pytest.raises(checks.ExerciseError, match="y_ and p_ are swapped"):
        checks.check_endpoint_client(swapped, latencies, model, X)


def test_names_beats_sent_with_too_few_digits(setup):
    model, X = setup
    rounded = np.round(X, 1)  # e.g. fmt="%.1f"
    chunks, latencies = _client(model, rounded)
    with pytest.raises(checks.ExerciseError, match=r"rounded to 1 decimal.*9 significant"):
        checks.check_endpoint_client(pd.concat(chunks, ignore_index=True), latencies, model, X)


def test_names_one_latency_per_beat(setup):
    model, X = setup
    chunks, _ = _client(model, X)
    with pytest.raises(checks.ExerciseError, match="latencies has 350 entries, expected 4"):
        checks.check_endpoint_client(pd.concat(chunks, ignore_index=True), [0.01] * N, model, X)
