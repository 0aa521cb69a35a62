"""Kafka records as Lambda's MSK event carries them, and as the S3 archive stores them (one NDJSON line each).

Event record (Lambda): base64 `key` and `value` (either may be absent or null), `headers` as a list of
one-entry objects `{name: [byte, ...]}` whose bytes may be signed, records grouped by "<topic>-<partition>".

Archive line (fixed, docs/archive-format.md):
`{"topic", "partition", "offset", "timestamp", "timestampType", "key", "headers", "value"}` where
- `value` is the parsed JSON when the value bytes are UTF-8 JSON, `null` for a tombstone, and otherwise the
  field is `valueBase64` with the original bytes;
- `key` is the UTF-8 text (or `null`); a key that is not UTF-8 becomes `keyBase64`;
- `headers` is `[{"key", "value"}]` in record order (names may repeat); a header value that is not UTF-8
  becomes `valueBase64`, a null header value stays `null`.

JSON values are kept only when nothing can be lost by parsing them: a value that is the JSON literal
`null` (which would read as a tombstone), an object with a repeated key, a number a double cannot hold
exactly, or NaN/Infinity is archived as `valueBase64` instead.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, NamedTuple

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
    headers: tuple[Header, ...] = ()

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


def decode_event_record(raw: Mapping[str, Any]) -> KafkaRecord:
    """Decode one record of a Lambda MSK or self-managed Kafka event."""
    key, value = raw.get("key"), raw.get("value")
    try:
        return KafkaRecord(  # Lambda sends partition, offset and timestamp as JSON integers
            raw["topic"],
            raw["partition"],
            raw["offset"],
            raw["timestamp"],
            raw.get("timestampType", "CREATE_TIME"),
            None if key is None else binascii.a2b_base64(key, strict_mode=True),
            None if value is None else binascii.a2b_base64(value, strict_mode=True),
            _decode_headers(raw.get("headers")),
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


def _parse_json_value(value: bytes) -> tuple[bool, Any]:
    """(True, parsed) when `value` is UTF-8 JSON that parses without loss, else (False, None)."""
    try:
        parsed = _STRICT_DECODER.decode(value.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False, None
    if parsed is None:
        return False, None  # the literal `null` would read back as a tombstone
    return True, parsed


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
    """The archive line of `record` as a dict, before serialisation."""
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
    else:
        is_json, parsed = _parse_json_value(record.value)
        if is_json:
            document["value"] = parsed
        else:
            document["valueBase64"] = base64.b64encode(record.value).decode("ascii")
    return document


def to_archive_line(record: KafkaRecord) -> bytes:
    """The record's archive line: compact UTF-8 JSON ending in a newline."""
    document = archive_document(record)
    try:
        return _dump_line(document)
    except UnicodeEncodeError:
        # Only a JSON value with an escaped lone surrogate ("\\ud800") gets here: keep its bytes instead.
        if record.value is None:
            raise
        document.pop("value")
        document["valueBase64"] = base64.b64encode(record.value).decode("ascii")
        return _dump_line(document)


def _dump_line(document: Mapping[str, Any]) -> bytes:
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.encode("utf-8") + b"\n"


def _field_bytes(document: Mapping[str, Any], text_field: str, base64_field: str, where: str) -> bytes | None:
    if base64_field in document:
        return _b64decode(document[base64_field], f"{where}.{base64_field}")
    text = document.get(text_field)
    if text is None:
        return None
    if not isinstance(text, str):
        raise RecordDecodeError(f"{where}.{text_field} must be a string or null")
    return text.encode("utf-8")


def from_archive_line(line: bytes | str) -> KafkaRecord:
    """Read an archive line back into a record.

    Keys, header values and `valueBase64` values come back byte for byte; a JSON `value` comes back as its
    compact serialisation, which parses to exactly the JSON that was produced.
    """
    try:
        document = json.loads(line)
    except ValueError as error:
        raise RecordDecodeError(f"archive line is not JSON: {error}") from None
    if not isinstance(document, dict):
        raise RecordDecodeError("archive line must be a JSON object")
    try:
        headers: Sequence[Mapping[str, Any]] = document.get("headers") or []
        if "valueBase64" in document:
            value = _b64decode(document["valueBase64"], "valueBase64")
        elif document["value"] is None:
            value = None
        else:
            value = json.dumps(document["value"], ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return KafkaRecord(
            topic=document["topic"],
            partition=document["partition"],
            offset=document["offset"],
            timestamp=document["timestamp"],
            timestamp_type=document["timestampType"],
            key=_field_bytes(document, "key", "keyBase64", "record"),
            value=value,
            headers=tuple(
                (header["key"], _field_bytes(header, "value", "valueBase64", f"headers[{index}]"))
                for index, header in enumerate(headers)
            ),
        )
    except KeyError as missing:
        raise RecordDecodeError(f"archive line has no {missing.args[0]!r} field") from None
