"""Kafka records as Lambda's MSK event carries them, and as the S3 archive stores them (one NDJSON line each).

Event record (Lambda): base64 `key` and `value` (either may be absent or null), `headers` as a list of
one-entry objects `{name: [byte, ...]}` whose bytes may be signed, records grouped by "<topic>-<partition>".

Archive line (fixed, docs/archive-format.md):
`{"topic", "partition", "offset", "timestamp", "timestampType", "key", "headers", "value"}` where
- `value` is the value's own JSON text, verbatim (then `"valueExact": true` precedes it), `null` for a
  tombstone, and otherwise the field is `valueBase64` with the original bytes;
- `key` is the UTF-8 text (or `null`); a key that is not UTF-8 becomes `keyBase64`;
- `headers` is `[{"key", "value"}]` in record order (names may repeat); a header value that is not UTF-8
  becomes `valueBase64`, a null header value stays `null`.

A JSON value is embedded verbatim only when the line stays one line that every JSON reader (Athena's
included) reads as the same JSON: no line break, no blank at either end (msgspec.Raw does not keep it), not
the literal `null` (a tombstone), no repeated object key, no number a double cannot hold exactly, no
NaN/Infinity, no lone surrogate. Any other value is archived as `valueBase64`. Lines written before
`valueExact` existed carry the value parsed and re-serialised: they read back as canonical JSON only.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any, NamedTuple

import msgspec
from aws_lambda_powertools.shared.functions import decode_header_bytes

Header = tuple[str, bytes | None]


class RecordDecodeError(ValueError):
    """A record in a Kafka event or an archive line is malformed; the message names the field."""


class KafkaRecord(NamedTuple):
    """One Kafka record with its key, value and header values as the original bytes.

    A NamedTuple rather than a frozen dataclass: it is built once per record on the hot path, and a tuple
    is several times cheaper to create.
    """

    topic: str
    partition: int
    offset: int
    timestamp: int
    timestamp_type: str = "CREATE_TIME"
    key: bytes | None = None
    value: bytes | None = None
    headers: Sequence[Header] = ()  # a tuple, or EventHeaders that decodes Lambda's arrays on first use

    @property
    def partition_id(self) -> str:
        """The "<topic>-<partition>" string Lambda groups records by and reports failures with."""
        return f"{self.topic}-{self.partition}"


# ---------------------------------------------------------------- Lambda MSK event -> KafkaRecord


def _b64decode(text: str | None, field_name: str) -> bytes | None:
    if text is None:
        return None
    try:
        return binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, TypeError, ValueError) as error:
        raise RecordDecodeError(f"{field_name} is not valid base64: {error}") from None


def _decode_headers_carefully(raw_headers: Any) -> tuple[Header, ...]:
    """Slow path: signed bytes, null values, and errors that name the bad header."""
    if not isinstance(raw_headers, list):
        raise RecordDecodeError("headers must be a list of {name: [byte, ...]} objects")
    headers: list[Header] = []
    for index, chunk in enumerate(raw_headers):
        if not isinstance(chunk, Mapping):
            raise RecordDecodeError(f"headers[{index}] must be an object")
        for name, byte_values in chunk.items():
            if byte_values is None:
                headers.append((name, None))
                continue
            try:
                headers.append((name, bytes(decode_header_bytes(byte_values))))  # type: ignore[no-untyped-call]
            except (TypeError, ValueError) as error:
                raise RecordDecodeError(f"headers[{index}].{name} is not a byte array: {error}") from None
    return tuple(headers)


def _decode_headers(raw_headers: Any) -> tuple[Header, ...]:
    if not raw_headers:
        return ()
    try:  # fast path: unsigned byte arrays, as most producers send
        return tuple([(name, bytes(values)) for chunk in raw_headers for name, values in chunk.items()])
    except (AttributeError, TypeError, ValueError):
        return _decode_headers_carefully(raw_headers)


class EventHeaders(Sequence[Header]):
    """A record's headers as Lambda's event carries them, decoded into (name, bytes) pairs on first use and
    then kept; equal to the tuple of those pairs. Malformed headers raise RecordDecodeError on first use."""

    __slots__ = ("_pairs", "_raw")

    def __init__(self, raw_headers: Any) -> None:
        self._raw = raw_headers
        self._pairs: tuple[Header, ...] | None = None

    def _decoded(self) -> tuple[Header, ...]:
        if self._pairs is None:
            self._pairs = _decode_headers(self._raw)
        return self._pairs

    def __getitem__(self, index: Any) -> Any:
        return self._decoded()[index]

    def __len__(self) -> int:
        return len(self._decoded())

    def __iter__(self) -> Iterator[Header]:
        return iter(self._decoded())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, EventHeaders):
            other = other._decoded()
        return self._decoded() == other

    def __hash__(self) -> int:
        return hash(self._decoded())

    def __repr__(self) -> str:
        return repr(self._decoded())


# The record of every field at once, without the NamedTuple's generated __new__ (a Python function that
# only fills in defaults): half the cost of building a record, on the consumer's hot path.
_new_tuple = tuple.__new__


def decode_event_record(raw: Mapping[str, Any], *, headers_on_use: bool = False) -> KafkaRecord:
    """Decode one record of a Lambda MSK or self-managed Kafka event. With `headers_on_use`, the headers
    are EventHeaders, decoded when first read (a hot path that may never read them)."""
    key, value, raw_headers = raw.get("key"), raw.get("value"), raw.get("headers")
    try:
        return _new_tuple(  # KafkaRecord's eight fields; Lambda sends the numbers as JSON integers
            KafkaRecord,
            (
                raw["topic"],
                raw["partition"],
                raw["offset"],
                raw["timestamp"],
                raw.get("timestampType", "CREATE_TIME"),
                None if key is None else binascii.a2b_base64(key, strict_mode=True),
                None if value is None else binascii.a2b_base64(value, strict_mode=True),
                EventHeaders(raw_headers) if headers_on_use and raw_headers else _decode_headers(raw_headers),
            ),
        )
    except KeyError as missing:
        raise RecordDecodeError(f"record has no {missing.args[0]!r} field") from None
    except (binascii.Error, TypeError, ValueError):
        _b64decode(key, "key")  # raise an error that names the field
        _b64decode(value, "value")
        raise


# ---------------------------------------------------------------- KafkaRecord <-> archive line


class _LossyJsonError(ValueError):
    """Parsing this JSON would change it: keep the bytes instead."""


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _LossyJsonError("repeated object key")
    return result


def _exact_float(text: str) -> float:
    number = float(text)
    # Equal as decimals means the double's shortest form reads back as the same number (1e5 == 100000.0).
    if Decimal(text) != Decimal(repr(number)):
        raise _LossyJsonError("number needs more precision or range than a double")
    return number


def _reject_constant(name: str) -> Any:
    raise _LossyJsonError(f"{name} is not JSON")


_STRICT_DECODER = json.JSONDecoder(
    object_pairs_hook=_reject_duplicate_keys,
    parse_float=_exact_float,
    parse_constant=_reject_constant,
)

# JSON's blanks other than line breaks: msgspec.Raw drops them around a value, so they cannot round trip.
_JSON_BLANKS = b" \t"


def _embeddable_json(value: bytes) -> bool:
    """True when `value` can sit verbatim in the line: it keeps the line one line (Hadoop's line reader,
    Athena's, ends a line at CR as well as LF), reads back byte for byte through msgspec.Raw, and means the
    same JSON to every reader."""
    if not value or value[0] in _JSON_BLANKS or value[-1] in _JSON_BLANKS or b"\n" in value or b"\r" in value:
        return False
    try:
        msgspec.json.decode(value, type=msgspec.Raw)  # what read_archive_line does; refuses lone surrogates
        parsed = _STRICT_DECODER.decode(value.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # msgspec.DecodeError is a ValueError
        return False
    return parsed is not None  # the literal `null` would read back as a tombstone


def _text_or_base64(data: bytes, text_field: str, base64_field: str) -> dict[str, str]:
    try:
        return {text_field: data.decode("utf-8")}
    except UnicodeDecodeError:
        return {base64_field: base64.b64encode(data).decode("ascii")}


def readable_key_and_headers(record: KafkaRecord) -> dict[str, Any]:
    """The record's `key` and `headers` as the archive line writes them: UTF-8 text, or `keyBase64` /
    a header's `valueBase64` when the bytes are not UTF-8 (also what the default consumer logs)."""
    fields: dict[str, Any] = (
        {"key": None} if record.key is None else _text_or_base64(record.key, "key", "keyBase64")
    )
    fields["headers"] = [
        {"key": name, "value": None}
        if value is None
        else {"key": name, **_text_or_base64(value, "value", "valueBase64")}
        for name, value in record.headers
    ]
    return fields


def archive_document(record: KafkaRecord) -> dict[str, Any]:
    """The archive line of `record` as a dict, before serialisation; a verbatim JSON value is a
    `msgspec.Raw` of the original bytes."""
    document: dict[str, Any] = {
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "timestamp": record.timestamp,
        "timestampType": record.timestamp_type,
        **readable_key_and_headers(record),
    }
    if record.value is None:
        document["value"] = None
    elif _embeddable_json(record.value):
        document["valueExact"] = True
        document["value"] = msgspec.Raw(record.value)
    else:
        document["valueBase64"] = base64.b64encode(record.value).decode("ascii")
    return document


_LINE_ENCODER = msgspec.json.Encoder()


def to_archive_line(record: KafkaRecord) -> bytes:
    """The record's archive line: compact UTF-8 JSON, the value's own text verbatim, ending in a newline."""
    return _LINE_ENCODER.encode(archive_document(record)) + b"\n"


class _ArchivedHeader(msgspec.Struct, rename="camel"):
    key: str
    value: str | None = None
    value_base64: str | None = None


class _ArchiveLine(msgspec.Struct, rename="camel"):
    topic: str
    partition: int
    offset: int
    timestamp: int
    timestamp_type: str
    key: str | None = None
    key_base64: str | None = None
    headers: list[_ArchivedHeader] | None = None
    value_exact: bool = False
    value: msgspec.Raw = msgspec.Raw()  # empty when the line has no `value` field; b"null" for a tombstone
    value_base64: str | None = None


_LINE_DECODER = msgspec.json.Decoder(_ArchiveLine)


class ArchivedRecord(NamedTuple):
    """A record read back from an archive line. `value_exact` is False only for a JSON value archived before
    values were kept verbatim (a line without `valueExact`): its bytes are the value's canonical JSON, which
    parses to the same JSON as the original but may differ from it in whitespace or number formatting."""

    record: KafkaRecord
    value_exact: bool


def _text_or_base64_bytes(text: str | None, base64_text: str | None, where: str) -> bytes | None:
    if base64_text is not None:
        return _b64decode(base64_text, where)
    return None if text is None else text.encode("utf-8")


def _canonical_json(raw: bytes) -> bytes:
    """The value of a line written before `valueExact`, as the old forwarder re-serialised it."""
    return json.dumps(json.loads(raw), ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def read_archive_line(line: bytes | str) -> ArchivedRecord:
    """Read an archive line back into its record: topic, partition, offset, timestamp and its type, and
    the key, value and header bytes (headers in order, names may repeat), byte for byte; and whether the
    value is exact (False only for a JSON value of a line written before verbatim values)."""
    try:
        fields = _LINE_DECODER.decode(line)
    except msgspec.ValidationError as error:
        raise RecordDecodeError(f"archive line does not fit the format: {error}") from None
    except msgspec.DecodeError as error:
        raise RecordDecodeError(f"archive line is not JSON: {error}") from None
    value_exact = True
    value: bytes | None
    if fields.value_base64 is not None:
        value = _b64decode(fields.value_base64, "valueBase64")
    elif not fields.value:
        raise RecordDecodeError("archive line has no 'value' field")
    else:
        raw = bytes(fields.value)
        if raw == b"null":
            value = None
        elif fields.value_exact:
            value = raw
        else:
            value, value_exact = _canonical_json(raw), False
    record = KafkaRecord(
        fields.topic,
        fields.partition,
        fields.offset,
        fields.timestamp,
        fields.timestamp_type,
        _text_or_base64_bytes(fields.key, fields.key_base64, "keyBase64"),
        value,
        tuple(
            (
                header.key,
                _text_or_base64_bytes(header.value, header.value_base64, f"headers[{index}].valueBase64"),
            )
            for index, header in enumerate(fields.headers or ())
        ),
    )
    return ArchivedRecord(record, value_exact)


def from_archive_line(line: bytes | str) -> KafkaRecord:
    """Read an archive line back into a record (read_archive_line without the exactness flag)."""
    return read_archive_line(line).record
