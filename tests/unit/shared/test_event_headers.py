"""decode_event_record(headers_on_use=True): the same record as the eager decode, with the headers decoded
on first use."""

from __future__ import annotations

from typing import Any

import pytest

from streaming_common.kafka_codec import EventHeaders, KafkaRecord, RecordDecodeError, decode_event_record

RAW: dict[str, Any] = {
    "topic": "orders",
    "partition": 2,
    "offset": 9,
    "timestamp": 5,
    "timestampType": "LOG_APPEND_TIME",
    "key": "a2V5",
    "value": "e30=",
    "headers": [{"trace": [104, 105]}, {"raw": [-1, 0, 127]}, {"trace": [50]}, {"empty": None}],
}
PAIRS = (("trace", b"hi"), ("raw", b"\xff\x00\x7f"), ("trace", b"2"), ("empty", None))


def test_the_record_equals_the_eager_one() -> None:
    lazy = decode_event_record(RAW, headers_on_use=True)
    eager = decode_event_record(RAW)
    assert isinstance(lazy.headers, EventHeaders)
    assert eager.headers == PAIRS
    assert lazy == eager
    assert eager == lazy
    assert hash(lazy) == hash(eager)
    assert lazy == KafkaRecord("orders", 2, 9, 5, "LOG_APPEND_TIME", b"key", b"{}", PAIRS)


def test_headers_read_as_a_sequence_of_pairs() -> None:
    headers = decode_event_record(RAW, headers_on_use=True).headers
    assert list(headers) == list(PAIRS)
    assert len(headers) == 4
    assert headers[1] == ("raw", b"\xff\x00\x7f")
    assert headers[-2:] == PAIRS[-2:]
    assert tuple(headers) == PAIRS
    assert repr(headers) == repr(PAIRS)
    assert headers == EventHeaders(RAW["headers"])
    assert headers != PAIRS[:1]


def test_no_headers_are_an_empty_tuple() -> None:
    for raw_headers in ([], None):
        record = decode_event_record(RAW | {"headers": raw_headers}, headers_on_use=True)
        assert record.headers == ()


def test_malformed_headers_raise_on_first_use_and_name_the_header() -> None:
    record = decode_event_record(RAW | {"headers": [{"a": ["x"]}]}, headers_on_use=True)
    with pytest.raises(RecordDecodeError, match=r"headers\[0\]\.a is not a byte array"):
        list(record.headers)
    with pytest.raises(RecordDecodeError, match="headers must be a list"):
        len(decode_event_record(RAW | {"headers": {"a": [1]}}, headers_on_use=True).headers)


def test_key_and_value_are_still_checked_at_once() -> None:
    with pytest.raises(RecordDecodeError, match="key is not valid base64"):
        decode_event_record(RAW | {"key": "a"}, headers_on_use=True)
