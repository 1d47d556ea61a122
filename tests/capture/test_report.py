"""The server's checks of client reports and the digest definition."""

from __future__ import annotations

import hashlib
import json
import time

import numpy as np
import pytest
from flwr.app import Array, ArrayRecord, ConfigRecord, RecordDict

from fedprov.capture import arrays_sha256
from fedprov.capture.report import MAX_REPORT_BYTES, encode_report, read_report
from fedprov.capture.values import attribute_value, canonical_json, is_valid_name

GOOD = {
    "node_id": "18446744073709551615",
    "partition_id": 3,
    "round": 2,
    "received_sha256": "a" * 64,
    "started_at": time.time() - 2,
    "ended_at": time.time() - 1,
}


def _content(text: str) -> RecordDict:
    return RecordDict({"prov": ConfigRecord({"json": text})})


def test_report_roundtrip() -> None:
    report = read_report(RecordDict({"prov": encode_report(GOOD)}))
    assert report is not None
    assert report.problems == ()
    assert report.node_id == 2**64 - 1
    assert report.partition_id == 3
    assert report.server_round == 2


def test_report_missing_is_none() -> None:
    assert read_report(RecordDict({})) is None


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        pytest.param(
            {"v": 1, "node_id": "DROP"}, "node_id is not an integer", id="node"
        ),
        pytest.param(
            {"v": 1, "partition_id": -1}, "partition_id is out of range", id="neg"
        ),
        pytest.param({"v": 1, "round": True}, "round is not an integer", id="bool"),
        pytest.param({"v": 1, "update_sha256": "MATCH (n)"}, "lowercase hex", id="sha"),
        pytest.param({"v": 1, "started_at": 1e20}, "plausible time", id="time"),
        pytest.param(
            {"v": 1, "message_type": "x" * 5000}, "longer than 4096", id="long"
        ),
        pytest.param({"v": 1, "evil": 1}, "1 unknown fields", id="unknown"),
        pytest.param({"v": 9}, "unsupported report version", id="version"),
    ],
)
def test_report_rejects_field(body: dict[str, object], problem: str) -> None:
    report = read_report(_content(json.dumps(body)))
    assert report is not None
    assert any(problem in p for p in report.problems), report.problems


def test_report_too_large_rejected() -> None:
    report = read_report(_content(json.dumps({"v": 1, "pad": "x" * MAX_REPORT_BYTES})))
    assert report is not None
    assert report.node_id is None
    assert "more than 65536" in report.problems[0]


def test_report_not_json_rejected() -> None:
    report = read_report(_content("{not json"))
    assert report is not None
    assert report.problems == ("report is not valid JSON",)


def test_values_name_pattern() -> None:
    assert is_valid_name("batch-size")
    assert is_valid_name("val.accuracy")
    assert not is_valid_name("x`}) DETACH DELETE n //")
    assert not is_valid_name("a" * 65)
    assert not is_valid_name("1abc")


def test_values_canonical_json() -> None:
    assert (
        canonical_json({"b": float("nan"), "a": b"\x00"})
        == '{"a":"base64:AA==","b":"NaN"}'
    )
    assert attribute_value([1, 2, 2]) == "[1,2,2]"


def test_digest_definition() -> None:
    w = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.array([1, 2], dtype=">i8")
    record = ArrayRecord({"w": Array(w), "b": Array(b)})
    expected = hashlib.sha256()
    for key, array in (("b", b.astype("<i8")), ("w", w)):
        expected.update(key.encode() + b"\0" + array.dtype.name.encode() + b"\0")
        expected.update(",".join(map(str, array.shape)).encode() + b"\0")
        expected.update(array.tobytes())
    assert arrays_sha256(record) == expected.hexdigest()


def test_digest_ignores_key_insertion_order() -> None:
    w = np.ones(3)
    first = ArrayRecord({"a": Array(w), "b": Array(2 * w)})
    second = ArrayRecord({"b": Array(2 * w), "a": Array(w)})
    assert arrays_sha256(first) == arrays_sha256(second)
    assert arrays_sha256(first) != arrays_sha256(
        ArrayRecord({"a": Array(2 * w), "b": Array(w)})
    )


def test_digest_scalar_shape_differs() -> None:
    scalar = ArrayRecord({"n": Array(np.array(7, dtype=np.int64))})
    vector = ArrayRecord({"n": Array(np.array([7], dtype=np.int64))})
    expected = hashlib.sha256(b"n\0int64\0\0" + np.int64(7).tobytes())
    assert arrays_sha256(scalar) == expected.hexdigest()
    assert arrays_sha256(scalar) != arrays_sha256(vector)
