"""The bad requests every endpoint test and ``benchmarks.bench_serve`` send: each must be
answered with its 4xx status and a message that names what was wrong."""

from __future__ import annotations

import json
import math
from typing import NamedTuple

from ecg_course.payload import CSV, JSON, MAX_BODY_BYTES


class BadRequest(NamedTuple):
    """A request the endpoint must refuse: its body, the 4xx expected, what the answer says."""

    name: str
    content_type: str | None
    body: bytes
    status: int
    says: str
    """A part of the expected error message."""


def bad_requests(length: int = 187) -> list[BadRequest]:
    """The bad inputs for beats of ``length`` samples, one of each kind the endpoint refuses."""
    beat = ",".join(["0.5"] * length)
    text_beat = beat.replace("0.5", "abc", 1)
    json_beat = [0.5] * length
    too_large = (beat + "\n") * (MAX_BODY_BYTES // (len(beat) + 1) + 1)

    def as_json(document: object) -> bytes:
        return json.dumps(document).encode()

    # fmt: off
    return [
        BadRequest("too few columns", CSV, beat[4:].encode(), 400,
                   f"row 1 has {length - 1} values, expected {length}"),
        BadRequest("too many columns", CSV, f"{beat}\n{beat},0.5".encode(), 400,
                   f"row 2 has {length + 1} values, expected {length}"),
        BadRequest("a header line", CSV, (",".join(["x"] * length) + "\n" + beat).encode(), 400,
                   "row 1, value 1: 'x' is not a number"),
        BadRequest("text in a row", CSV, f"{beat}\n{text_beat}".encode(), 400,
                   "row 2, value 1: 'abc' is not a number"),
        BadRequest("NaN", CSV, (beat[:-3] + "nan").encode(), 400,
                   f"row 1, value {length} is nan"),
        BadRequest("inf", CSV, f"{beat}\n-inf{beat[3:]}".encode(), 400, "row 2, value 1 is -inf"),
        BadRequest("empty body", CSV, b"", 400, "empty body"),
        BadRequest("blank row between beats", CSV, f"{beat}\n\n{beat}".encode(), 400,
                   "row 2 is empty"),
        BadRequest("not UTF-8", CSV, beat.encode() + b"\xff", 400, "not UTF-8"),
        BadRequest("no Content-Type", None, beat.encode(), 415, "no Content-Type header"),
        BadRequest("another Content-Type", "text/plain", beat.encode(), 415,
                   "Content-Type 'text/plain' is not supported"),
        BadRequest("body over MAX_BODY_BYTES", CSV, too_large.encode(), 413,
                   f"over the limit of {MAX_BODY_BYTES:,} bytes"),
        BadRequest("malformed JSON", JSON, b'{"instances": [[0.5, 0.5', 400,
                   "not valid JSON"),
        BadRequest("JSON without instances", JSON, as_json({"beats": [json_beat]}), 400,
                   "with keys ['beats']"),
        BadRequest("JSON text value", JSON, as_json({"instances": [["0.5"] * length]}), 400,
                   "row 1, value 1: '0.5' is not a number"),
        BadRequest("JSON NaN", JSON, as_json({"instances": [json_beat[:-1] + [math.nan]]}), 400,
                   f"row 1, value {length} is nan"),
        BadRequest("JSON wrong length", JSON, as_json({"instances": [json_beat[:-2]]}), 400,
                   f"row 1 has {length - 2} values"),
        BadRequest("JSON nested too deeply", JSON, b"[" * 100_000, 400, "nested too deeply"),
        BadRequest("JSON integer of 400 digits", JSON,
                   as_json({"instances": [[10**400] + json_beat[1:]]}), 400,
                   "row 1, value 1 is inf"),
        BadRequest("JSON integer of 5,000 digits", JSON,
                   b'{"instances": [[' + b"9" * 5000 + b"]]}", 400, "row 1 has 1 values"),
        BadRequest("beyond float32's range", CSV, ("1e39" + beat[3:]).encode(), 400,
                   "row 1, value 1 is 1e+39"),
    ]
    # fmt: on
