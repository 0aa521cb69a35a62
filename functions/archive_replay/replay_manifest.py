"""A source partition's manifest (runs/<id>/manifests/<partition>.msgpack): its planned records in offset
order, in the form the writer produces them, so that the writer decodes a block of records with one msgspec
call (no JSON, no base64, no line splitting).

The file is a sequence of frames: a 4-byte big-endian length, then a MessagePack array of up to
FRAME_RECORDS records (fewer when they pass FRAME_BYTES), each an array `[partition, offset, timestamp, key,
value, headers, valueExact, size]` with key, value and header values as raw bytes (nil for None) and headers
as `[[name, value], ...]` in record order. The bytes are the archive record's bytes (merge decoded them from
the archive line); `valueExact` is False only for a value an old archive line kept as canonical JSON; `size`
is the record's key, value and header bytes (names UTF-8), as Kafka counts a message's size.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterable, Iterator

import msgspec

import run_storage
from streaming_common.kafka_codec import ArchivedRecord

FRAME_RECORDS = 1000
FRAME_BYTES = 1 << 20
_LENGTH_BYTES = 4


class ManifestError(ValueError):
    """A manifest file is truncated or does not hold planned records; the message names the file."""


class PlannedRecord(msgspec.Struct, array_like=True, gc=False):
    """One planned record: where it comes from (source partition and offset) and what the writer produces."""

    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes | None]]  # a list: what the producer takes as it is
    value_exact: bool
    size: int


def planned_record(archived: ArchivedRecord) -> PlannedRecord:
    """The planned form of a record read from its archive line."""
    record = archived.record
    headers = [(name, value) for name, value in record.headers]
    size = len(record.key or b"") + len(record.value or b"")
    for name, value in headers:
        size += len(name.encode("utf-8")) + len(value or b"")
    return PlannedRecord(
        record.partition,
        record.offset,
        record.timestamp,
        record.key,
        record.value,
        headers,
        archived.value_exact,
        size,
    )


_ENCODER = msgspec.msgpack.Encoder()
_FRAME_DECODER = msgspec.msgpack.Decoder(list[PlannedRecord])


class ManifestUpload:
    """Planned records framed and uploaded to `key` as they come (run_storage.StreamingUpload: memory holds
    one part, nothing goes to /tmp); finish() stores the manifest, close() without it aborts."""

    def __init__(self, bucket: str, key: str) -> None:
        self._upload = run_storage.StreamingUpload(bucket, key)
        self._frame: list[PlannedRecord] = []
        self._frame_bytes = 0
        self.records = 0

    def write(self, record: PlannedRecord) -> None:
        """Append one record."""
        self._frame.append(record)
        self._frame_bytes += record.size
        self.records += 1
        if len(self._frame) >= FRAME_RECORDS or self._frame_bytes >= FRAME_BYTES:
            self._flush_frame()

    def _flush_frame(self) -> None:
        if self._frame:
            body = _ENCODER.encode(self._frame)
            self._upload.write(len(body).to_bytes(_LENGTH_BYTES) + body)
            self._frame.clear()
            self._frame_bytes = 0

    def finish(self) -> None:
        """Store the manifest."""
        self._flush_frame()
        self._upload.finish()

    def close(self) -> None:
        """Abort the upload unless it finished."""
        self._upload.close()


def write_manifest(bucket: str, key: str, records: Iterable[PlannedRecord]) -> int:
    """Store `records` as a manifest at `key`; the number of records."""
    upload = ManifestUpload(bucket, key)
    try:
        for record in records:
            upload.write(record)
        upload.finish()
    finally:
        upload.close()
    return upload.records


def _frames(stream: io.BufferedIOBase, where: str) -> Iterator[list[PlannedRecord]]:
    while header := stream.read(_LENGTH_BYTES):
        length = int.from_bytes(header) if len(header) == _LENGTH_BYTES else -1
        body = stream.read(length) if length >= 0 else b""
        if length < 0 or len(body) != length:
            raise ManifestError(f"{where} is truncated: a frame ends before its announced length")
        try:
            yield _FRAME_DECODER.decode(body)
        except msgspec.DecodeError as error:  # ValidationError included
            raise ManifestError(f"{where} does not hold planned records: {error}") from None


def read_frames(bucket: str, key: str) -> Iterator[list[PlannedRecord]]:
    """The manifest's frames (lists of records, in order), streamed."""
    with run_storage.open_object(bucket, key, gunzip=False) as stream:
        yield from _frames(stream, f"s3://{bucket}/{key}")


def read_manifest(bucket: str, key: str) -> Iterator[PlannedRecord]:
    """The manifest's records, in order, streamed."""
    return itertools.chain.from_iterable(read_frames(bucket, key))
