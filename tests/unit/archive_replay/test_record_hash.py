"""The replay's hash chain: pinned digests, so that write and verify (and any later version) agree."""

from __future__ import annotations

import hashlib

import pytest

from record_hash import START, chain_hash, chain_of, record_encoding
from streaming_common.kafka_codec import KafkaRecord

HEADERS = (("h", b"1"), ("h", b"2"), ("x", None))


def _record(**fields: object) -> KafkaRecord:
    return KafkaRecord(**{"topic": "t", "partition": 0, "offset": 0, "timestamp": 1, **fields})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("record", "digest"),
    [
        (_record(key=None, value=b"v"), "28b20c38203f8eebb88eea6f3b8958db356de77878e07b3233e7bf824270383f"),
        (_record(key=b"", value=b"v"), "1918d9dfed162f5491d8d753a1afb7075ac5e9631b9e6e22ef0b6197a64f002d"),
        (_record(key=b"k", value=None), "49cf9d97a9bb45114111d259305653e8154a169b6a368da9279dcb408d6ef4ce"),
        (
            _record(timestamp=1700000000000, key=b"k", value=b'{"a": 1}', headers=HEADERS),
            "921129152ac90adcd5f77d966250e283fd4c297781371ad2afddb08a60e62c4a",
        ),
        (
            _record(
                timestamp=1700000000000,
                key=b"k",
                value=b'{"a": 1}',
                headers=(HEADERS[1], HEADERS[0], HEADERS[2]),
            ),
            "ed39be8932d02b18075f9206ca20c386b43b35b15019f6120944ddee5f24fde3",
        ),
        (
            _record(timestamp=-1, key=b"\xff\x00", value=b""),
            "216a48669ed781ef6dcc71a951b499ea91acd003da00e827dfc082b2997f94f4",
        ),
    ],
    ids=["null-key", "empty-key", "tombstone", "repeated-headers", "headers-reordered", "negative-timestamp"],
)
def test_pinned_digests(record: KafkaRecord, digest: str) -> None:
    assert chain_hash(START, record) == digest


def test_encoding_spelled_out() -> None:
    record = _record(timestamp=2, key=None, value=b"ab", headers=(("n", b""), ("n", None)))
    expected = (
        b"\xff\xff\xff\xff"  # key None
        + b"\x00\x00\x00\x02ab"  # value
        + b"\x00\x00\x00\x02"  # two headers
        + b"\x00\x00\x00\x01n\x00\x00\x00\x00"  # n = empty
        + b"\x00\x00\x00\x01n\xff\xff\xff\xff"  # n = None
        + b"\x00\x00\x00\x00\x00\x00\x00\x02"  # timestamp
    )
    assert record_encoding(record) == expected
    assert chain_hash(START, record) == hashlib.sha256(bytes(32) + expected).hexdigest()


def test_null_and_empty_differ_everywhere() -> None:
    digests = {
        chain_hash(START, _record(key=None, value=b"")),
        chain_hash(START, _record(key=b"", value=b"")),
        chain_hash(START, _record(key=b"", value=None)),
        chain_hash(START, _record(key=b"", value=b"", headers=(("h", None),))),
        chain_hash(START, _record(key=b"", value=b"", headers=(("h", b""),))),
    }
    assert len(digests) == 5


def test_chain_is_order_sensitive_and_matches_stepwise() -> None:
    first, second = _record(value=b"1"), _record(value=b"2")
    stepwise = chain_hash(chain_hash(START, first), second)
    assert chain_of([first, second]) == stepwise
    assert chain_of([second, first]) != stepwise
    assert chain_of([second], chain_hash(START, first)) == stepwise
    assert chain_of([]) == START


def test_topic_partition_and_offset_are_not_hashed() -> None:
    assert chain_hash(START, _record(value=b"v")) == chain_hash(
        START, KafkaRecord("other", 3, 99, 1, "LOG_APPEND_TIME", None, b"v")
    )
