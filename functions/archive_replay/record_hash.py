"""The order-sensitive hash chain over replayed records (key, value, headers, timestamp).

chain_hash(previous, record) = sha256(previous digest bytes + the record's encoding), where the encoding is
key and value each as a 4-byte big-endian length (0xFFFFFFFF for None) then the bytes; the header count
(4 bytes) then each header's name (UTF-8) and value the same way; the timestamp as an 8-byte signed
big-endian integer. A chain starts from 32 zero bytes (START). Verify chains the plan and what it reads back
from the target: equal chains mean the same records in the same order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Protocol

START = "00" * 32
_NONE_LENGTH = b"\xff\xff\xff\xff"


class HashedRecord(Protocol):
    """What the chain hashes of a record (a KafkaRecord read from the target, a manifest's PlannedRecord)."""

    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def headers(self) -> Sequence[tuple[str, bytes | None]]: ...
    @property
    def timestamp(self) -> int: ...


def next_digest(previous: bytes, record: HashedRecord) -> bytes:
    """The chain's next digest (32 bytes) after `record`: the hot loop's form of chain_hash."""
    key, value, headers = record.key, record.value, record.headers
    digest = hashlib.sha256(previous)
    update = digest.update  # one update per field: cheaper than packing the encoding first
    for data in (key, value):
        if data is None:
            update(_NONE_LENGTH)
        else:
            update(len(data).to_bytes(4))
            update(data)
    update(len(headers).to_bytes(4))
    for name, header_value in headers:
        encoded = name.encode("utf-8")
        update(len(encoded).to_bytes(4))
        update(encoded)
        if header_value is None:
            update(_NONE_LENGTH)
        else:
            update(len(header_value).to_bytes(4))
            update(header_value)
    update(record.timestamp.to_bytes(8, signed=True))
    return digest.digest()


def record_encoding(record: HashedRecord) -> bytes:
    """The bytes of `record` that the chain hashes (key, value, headers in order, timestamp)."""
    parts = [_field(record.key), _field(record.value), len(record.headers).to_bytes(4)]
    for name, value in record.headers:
        parts.append(_field(name.encode("utf-8")))
        parts.append(_field(value))
    parts.append(record.timestamp.to_bytes(8, signed=True))
    return b"".join(parts)


def _field(data: bytes | None) -> bytes:
    return _NONE_LENGTH if data is None else len(data).to_bytes(4) + data


def chain_hash(previous_hex: str, record: HashedRecord) -> str:
    """The chain's next digest (hex) after `record`, from the previous digest (hex; START to begin)."""
    return next_digest(bytes.fromhex(previous_hex), record).hex()


def chain_of(records: Iterable[HashedRecord], previous_hex: str = START) -> str:
    """The chain's digest (hex) after every record of `records`, in order, from `previous_hex`."""
    digest = bytes.fromhex(previous_hex)
    for record in records:
        digest = next_digest(digest, record)
    return digest.hex()
