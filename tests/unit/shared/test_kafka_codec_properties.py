"""Property-based tests: no key, value or header byte is ever lost by the codec, and a line is one line of
JSON (docs/archive-format.md)."""

from __future__ import annotations

import base64
import json
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from local.kafka_events import encode_event_record
from streaming_common.kafka_codec import (
    KafkaRecord,
    decode_event_record,
    from_archive_line,
    read_archive_line,
    to_archive_line,
)

optional_bytes = st.none() | st.binary(max_size=64)
json_scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
blanks = st.text(alphabet=" \t", max_size=3)


@st.composite
def formatted_json(draw: st.DrawFn, value: Any) -> str:
    """`value` as a producer might have written it: any blanks between tokens (no line break), escaped or
    raw non-ASCII text, and numbers in any form that reads back as the same double."""
    if isinstance(value, dict):
        members = [
            f"{json.dumps(k, ensure_ascii=draw(st.booleans()))}{draw(blanks)}:{draw(blanks)}"
            f"{draw(formatted_json(v))}"
            for k, v in value.items()
        ]
        return "{" + draw(blanks) + f"{draw(blanks)},{draw(blanks)}".join(members) + draw(blanks) + "}"
    if isinstance(value, list):
        items = [draw(formatted_json(item)) for item in value]
        return "[" + draw(blanks) + f"{draw(blanks)},{draw(blanks)}".join(items) + draw(blanks) + "]"
    if isinstance(value, float):
        text = repr(value)
        return draw(
            st.sampled_from([text, text.upper(), text + "0" if "." in text and "e" not in text else text])
        )
    return json.dumps(value, ensure_ascii=draw(st.booleans()))


records = st.builds(
    KafkaRecord,
    topic=st.from_regex(r"[a-zA-Z0-9._-]{1,40}", fullmatch=True),
    partition=st.integers(0, 10_000),
    offset=st.integers(0, 2**63 - 1),
    timestamp=st.integers(-1, 2**53),
    timestamp_type=st.sampled_from(["CREATE_TIME", "LOG_APPEND_TIME"]),
    key=optional_bytes,
    value=optional_bytes
    | st.text().map(str.encode)
    | json_values.flatmap(formatted_json).map(str.encode)
    | json_values.map(lambda value: json.dumps(value, indent=1).encode()),
    headers=st.lists(st.tuples(st.text(max_size=12), optional_bytes), max_size=5).map(tuple),
)


def _assert_one_line_of_json(line: bytes) -> dict[str, Any]:
    assert line.endswith(b"\n")
    assert b"\n" not in line[:-1]
    assert b"\r" not in line  # Hadoop's line reader (Athena's) ends a line at CR too
    assert msgspec.json.decode(line) == json.loads(line)  # both readers, every string a valid one
    document = json.loads(line)
    assert isinstance(document, dict)
    return document


@given(records)
def test_lambda_event_record_round_trips(record: KafkaRecord) -> None:
    assert decode_event_record(encode_event_record(record)) == record


@given(records)
def test_archive_line_round_trips_every_byte(record: KafkaRecord) -> None:
    # When any record is archived and read back
    line = to_archive_line(record)
    # Then the line is one line of JSON, and every field and byte comes back, flagged exact
    _assert_one_line_of_json(line)
    assert read_archive_line(line) == (record, True)


@given(records)
def test_archive_line_is_a_fixed_point(record: KafkaRecord) -> None:
    line = to_archive_line(record)
    assert to_archive_line(from_archive_line(line)) == line


@settings(max_examples=300)
@given(json_values.filter(lambda value: value is not None).flatmap(formatted_json))
def test_json_with_any_blanks_and_number_forms_is_embedded_verbatim(original: str) -> None:
    # Given JSON on one line as a producer might format it, with no blank at either end
    value = original.strip(" \t").encode()
    # When it is archived
    line = to_archive_line(KafkaRecord("t", 0, 0, 0, value=value))
    # Then the line holds the very text, readable as JSON, and gives it back byte for byte
    document = _assert_one_line_of_json(line)
    assert b'"valueExact":true,"value":' + value + b"}\n" in line
    assert document["value"] == json.loads(value)
    assert from_archive_line(line).value == value


@given(
    json_values.filter(lambda value: isinstance(value, (dict, list)) and len(value) > 0),
    st.sampled_from(["\n", "\r\n", "\r"]),
)
def test_json_with_a_line_break_goes_to_base64(value: Any, line_break: str) -> None:
    # Given pretty-printed JSON, whatever its line breaks
    original = json.dumps(value, indent=2).replace("\n", line_break).encode()
    # When it is archived
    line = to_archive_line(KafkaRecord("t", 0, 0, 0, value=original))
    # Then the line stays one line: the value is base64, byte for byte
    document = _assert_one_line_of_json(line)
    assert "value" not in document
    assert base64.b64decode(document["valueBase64"]) == original
    assert read_archive_line(line) == (KafkaRecord("t", 0, 0, 0, value=original), True)


@given(records)
def test_a_line_written_before_verbatim_values_reads_as_canonical_json(record: KafkaRecord) -> None:
    # Given the line the forwarder wrote before valueExact: the value parsed and dumped compactly
    document = json.loads(to_archive_line(record))
    was_json = document.pop("valueExact", False)
    old_line = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
    # When it is read back
    restored, value_exact = read_archive_line(old_line)
    # Then keys and headers are exact, and a JSON value is flagged canonical only: the same JSON
    assert restored._replace(value=record.value) == record
    assert value_exact is not was_json
    if was_json:
        assert (
            restored.value
            == json.dumps(document["value"], ensure_ascii=False, separators=(",", ":")).encode()
        )
        assert json.loads(restored.value) == json.loads(record.value or b"")
    else:
        assert restored.value == record.value
