"""What travels over HTTP to and from the endpoint: beats in, the seed's answer table out.

Requests (``POST /invocations``), one beat of ``T`` samples per row:

* ``Content-Type: text/csv``: one beat per line, ``T`` numbers separated by commas,
  no header, no label (as the seed sent the test split to its endpoint);
* ``Content-Type: application/json``: ``{"instances": [[T numbers], ...]}``.

Answers, one row per beat in the order sent, with the seed endpoint's columns:
``y_1 .. y_C``, the predicted class one-hot (1 for the most probable class, 0
elsewhere), then ``p_1 .. p_C``, the class probabilities. As CSV they come with a
header line; as JSON, ``{"predictions": [{"y_1": 0, ..., "p_C": 0.01}, ...]}``.
Probabilities are written with 9 significant digits, which gives back the
model's float32 values exactly.

Everything here is plain Python and NumPy (no web framework), so the rules can
be tested, and reused by clients, without a server.
"""

from __future__ import annotations

import json
import warnings

import numpy as np

__all__ = [
    "CSV",
    "JSON",
    "MAX_BODY_BYTES",
    "PayloadError",
    "answer_columns",
    "format_answers",
    "format_beats",
    "parse_beats",
]

CSV = "text/csv"
JSON = "application/json"
MAX_BODY_BYTES = 6 * 1024 * 1024
"""Largest request body the endpoint reads (6 MiB, about 3,000 beats as CSV); larger
bodies are answered 413. The seed's cloud endpoint capped a request the same way."""


class PayloadError(ValueError):
    """A request the endpoint cannot use; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def answer_columns(n_classes: int) -> list[str]:
    """``["y_1", ..., "y_C", "p_1", ..., "p_C"]``: the columns of an answer, in order."""
    return [f"y_{c}" for c in range(1, n_classes + 1)] + [f"p_{c}" for c in range(1, n_classes + 1)]


def media_type(header: str | None) -> str:
    """The media type of a Content-Type header, lowercase, without parameters (``charset``)."""
    return (header or "").split(";")[0].strip().lower()


def parse_beats(body: bytes, content_type: str | None, length: int) -> np.ndarray:
    """Beats ``(n, length)`` float32 from a request body, or a :class:`PayloadError`.

    Args:
        body: the raw request body.
        content_type: the request's Content-Type header (``text/csv`` or
            ``application/json``, parameters such as ``charset`` allowed).
        length: samples per beat ``T`` the model reads (187 for MIT-BIH).

    Raises:
        PayloadError: 413 for a body over :data:`MAX_BODY_BYTES`; 415 for another
            content type; 400 for an empty body, text that is not UTF-8, malformed
            or too deeply nested JSON, a row with another number of values than
            ``length``, a value that is not a number, NaN, inf, or a number beyond
            float32's range. The message names the row and value.
    """
    if len(body) > MAX_BODY_BYTES:
        raise PayloadError(
            f"body of {len(body):,} bytes is over the limit of {MAX_BODY_BYTES:,} bytes: "
            "send fewer beats per request.",
            status=413,
        )
    kind = media_type(content_type)
    if kind not in (CSV, JSON):
        what = (
            "no Content-Type header"
            if not kind
            else f"Content-Type {content_type!r} is not supported"
        )
        raise PayloadError(
            f"{what}: send the beats as {CSV} "
            f'(one beat per line) or {JSON} ({{"instances": [[...], ...]}}).',
            status=415,
        )
    if not body.strip():
        raise PayloadError(
            f"empty body: send at least one beat of {length} values "
            + ("(one beat per line)." if kind == CSV else '({"instances": [[...]]}).')
        )
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise PayloadError(f"body is not UTF-8 text ({error}).") from error
    rows = _csv_rows(text, length) if kind == CSV else _json_rows(text, length)
    values = np.asarray(rows, dtype=np.float64).reshape(len(rows), length)
    with np.errstate(over="ignore"):  # a number beyond float32's range becomes inf: refused
        beats = values.astype(np.float32)
    finite = np.isfinite(beats)
    if not finite.all():
        row, column = np.argwhere(~finite)[0]
        raise PayloadError(
            f"row {row + 1}, value {column + 1} is {values[row, column]:.9g}: beats must hold "
            "finite numbers within float32's range (about +-3.4e38): no NaN, inf or larger."
        )
    return beats


def _csv_rows(text: str, length: int) -> np.ndarray | list[np.ndarray]:
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()  # a final newline is fine
    table = _csv_table(lines, length)
    return table if table is not None else _csv_rows_by_line(lines, length)


def _csv_table(lines: list[str], length: int) -> np.ndarray | None:
    """Every row at once with NumPy's reader (in C), or ``None`` if that fails.

    The fast path for well-formed beats: it reads a batch of 100 in about half the
    time of :func:`_csv_rows_by_line`. It accepts a subset of what that function
    accepts, with the same values (both parse to float64 with correct rounding), so
    for any body it fails on (a wrong number of values, an empty row, text, or a
    number only Python reads, such as ``1_000``) the row-by-row reading decides:
    it returns the rows, or raises the message naming the row and value.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # e.g. "input contained no data"
            table = np.loadtxt(lines, delimiter=",", comments=None, dtype=np.float64, ndmin=2)
    except (ValueError, Warning):
        return None
    return table if table.shape == (len(lines), length) else None  # loadtxt skips blank lines


def _csv_rows_by_line(lines: list[str], length: int) -> list[np.ndarray]:
    rows = []
    for i, line in enumerate(lines, start=1):
        fields = line.split(",")
        if len(fields) != length:
            what = "is empty" if not line.strip() else f"has {len(fields)} values"
            raise PayloadError(
                f"row {i} {what}, expected {length}: one beat of {length} comma-separated "
                "samples per line, without a header or a label column."
            )
        try:
            rows.append(np.array(fields, dtype=np.float64))
        except ValueError:
            column, value = next((j, f) for j, f in enumerate(fields, start=1) if not _is_number(f))
            raise PayloadError(
                f"row {i}, value {column}: {value.strip()!r} is not a number "
                "(send the beats only: no header line, no text)."
            ) from None
    return rows


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _json_rows(text: str, length: int) -> list[list[float]]:
    try:
        # Integers are read as floats: Python's own int would refuse 4,300 digits or more
        # (ValueError), and one of 310 digits could not become a float (OverflowError).
        document = json.loads(text, parse_int=float)
    except json.JSONDecodeError as error:
        raise PayloadError(f"body is not valid JSON: {error}.") from error
    except RecursionError:  # e.g. 100,000 "[": the reader recurses once per level
        raise PayloadError(
            "body is JSON nested too deeply to read: expected "
            f'{{"instances": [[{length} numbers], ...]}}, two levels of lists.'
        ) from None
    if not isinstance(document, dict) or "instances" not in document:
        raise PayloadError(
            f'expected a JSON object {{"instances": [[{length} numbers], ...]}}, '
            f"got a {type(document).__name__}"
            + (f" with keys {sorted(document)}." if isinstance(document, dict) else ".")
        )
    rows = document["instances"]
    if not isinstance(rows, list) or not rows:
        raise PayloadError('"instances" must be a non-empty list of beats.')
    for i, row in enumerate(rows, start=1):
        if not isinstance(row, list) or len(row) != length:
            got = f"{len(row)} values" if isinstance(row, list) else f"a {type(row).__name__}"
            raise PayloadError(f"row {i} has {got}, expected a list of {length} numbers.")
        for j, value in enumerate(row, start=1):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise PayloadError(f"row {i}, value {j}: {value!r} is not a number.")
    return rows


def format_beats(beats: np.ndarray) -> str:
    """The CSV body of a request: one beat per line, each sample with 9 significant digits.

    Nine significant digits give every float32 sample back exactly. The text is what
    ``np.savetxt(buffer, beats, delimiter=",", fmt="%.9g")`` writes (NaN and inf as
    ``nan`` and ``inf``, which the endpoint refuses with a message naming them), made
    by one %-format of the whole batch, as :func:`format_answers` writes its table.

    Args:
        beats: ``(n, T)`` samples (float32, as the model reads them); one beat ``(T,)``
            is one line.
    """
    beats = np.atleast_2d(np.asarray(beats))
    if beats.ndim != 2 or beats.shape[1] == 0:
        raise ValueError(f"beats must be (n, T) or (T,) with T > 0; got shape {beats.shape}.")
    n, length = beats.shape
    samples = beats.astype(np.float32).astype(np.float64)  # float32 values, printed exactly
    return _percent_format(samples, ["%.9g"] * length)


def _percent_format(table: np.ndarray, formats: list[str]) -> str:
    """Rows of ``table`` (n, k) as CSV lines, column j written with ``formats[j]``: one
    Python %-format of the whole table (a row at a time took 5 times longer)."""
    line = ",".join(formats) + "\n"
    return (line * len(table)) % tuple(table.ravel().tolist())


def format_answers(proba: np.ndarray, kind: str) -> str:
    """The answer table of probabilities ``(n, C)``, as CSV (with header) or JSON text.

    ``y_c`` is 1 for the most probable class of each row and 0 elsewhere; ``p_c``
    is ``proba[:, c - 1]``.
    """
    proba = np.asarray(proba, dtype=np.float32)
    n, n_classes = proba.shape
    one_hot = np.zeros((n, n_classes), dtype=np.int64)
    one_hot[np.arange(n), proba.argmax(axis=1)] = 1
    columns = answer_columns(n_classes)
    if kind == CSV:  # %d writes the one-hot 0 and 1, %.9g the float32 probabilities exactly
        values = np.hstack([one_hot, proba.astype(np.float64)])
        return (
            ",".join(columns)
            + "\n"
            + _percent_format(values, ["%d"] * n_classes + ["%.9g"] * n_classes)
        )
    if kind == JSON:
        records = [
            dict(zip(columns, [*y_row, *p_row], strict=True))
            for y_row, p_row in zip(one_hot.tolist(), proba.tolist(), strict=True)
        ]
        return json.dumps({"predictions": records})
    raise ValueError(f"kind must be {CSV!r} or {JSON!r}; got {kind!r}.")
