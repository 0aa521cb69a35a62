"""The order-sensitive hash chain over replayed records (key, value, headers, timestamp).

chain_hash(previous, record) = sha256(previous digest bytes + the record's encoding), where the encoding is
key and value each as a 4-byte big-endian length (0xFFFFFFFF for None) then the bytes; the header count
(4 bytes) then each header's name (UTF-8) and value the same way; the timestamp as an 8-byte signed
big-endian integer. A chain starts from 32 zero bytes (START). The writer chains what it produces, verify
chains the plan and what it reads back from the target: equal chains mean the same records in the same order.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable

from streaming_common.kafka_codec import KafkaRecord

START = "00" * 32
_NONE_LENGTH = b"\xff\xff\xff\xff"
_LENGTH = struct.Struct(">I").pack
_TIMESTAMP = struct.Struct(">q").pack


def _field(data: bytes | None) -> bytes:
    return _NONE_LENGTH if data is None else _LENGTH(len(data)) + data


def record_encoding(record: KafkaRecord) -> bytes:
    """The bytes of `record` that the chain hashes (key, value, headers in order, timestamp)."""
    parts = [_field(record.key), _field(record.value), _LENGTH(len(record.headers))]
    for name, value in record.headers:
        parts.append(_field(name.encode("utf-8")))
        parts.append(_field(value))
    parts.append(_TIMESTAMP(record.timestamp))
    return b"".join(parts)


def chain_hash(previous_hex: str, record: KafkaRecord) -> str:
    """The chain's next digest (hex) after `record`, from the previous digest (hex; START to begin)."""
    return hashlib.sha256(bytes.fromhex(previous_hex) + record_encoding(record)).hexdigest()


def chain_of(records: Iterable[KafkaRecord], previous_hex: str = START) -> str:
    """The chain's digest (hex) after every record of `records`, in order, from `previous_hex`."""
    digest = bytes.fromhex(previous_hex)
    for record in records:
        digest = hashlib.sha256(digest + record_encoding(record)).digest()
    return digest.hex()
