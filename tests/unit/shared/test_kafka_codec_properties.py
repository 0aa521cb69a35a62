"""Property-based tests: no key, value or header byte is ever lost by the codec."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from local.kafka_events import encode_event_record
from streaming_common.kafka_codec import (
    KafkaRecord,
    decode_event_record,
    from_archive_line,
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

records = st.builds(
    KafkaRecord,
    topic=st.from_regex(r"[a-zA-Z0-9._-]{1,40}", fullmatch=True),
    partition=st.integers(0, 10_000),
    offset=st.integers(0, 2**63 - 1),
    timestamp=st.integers(-1, 2**53),
    timestamp_type=st.sampled_from(["CREATE_TIME", "LOG_APPEND_TIME"]),
    key=optional_bytes,
    value=optional_bytes | st.text().map(str.encode),
    headers=st.lists(st.tuples(st.text(max_size=12), optional_bytes), max_size=5).map(tuple),
)


@given(records)
def test_lambda_event_record_round_trips(record: KafkaRecord) -> None:
    assert decode_event_record(encode_event_record(record)) == record


@given(records)
def test_archive_line_round_trips_every_byte(record: KafkaRecord) -> None:
    line = to_archive_line(record)
    document = json.loads(line)
    restored = from_archive_line(line)

    assert line.endswith(b"\n")
    assert b"\n" not in line[:-1]
    assert restored.key == record.key
    assert restored.headers == record.headers
    assert (restored.topic, restored.partition, restored.offset) == (
        record.topic,
        record.partition,
        record.offset,
    )
    assert (restored.timestamp, restored.timestamp_type) == (record.timestamp, record.timestamp_type)
    if record.value is None or "valueBase64" in document:
        assert restored.value == record.value
    else:
        assert json.loads(restored.value or b"") == json.loads(record.value)


@given(records)
def test_archive_line_is_a_fixed_point(record: KafkaRecord) -> None:
    line = to_archive_line(record)
    assert to_archive_line(from_archive_line(line)) == line


@settings(max_examples=300)
@given(json_values.filter(lambda value: value is not None), st.sampled_from([None, 2]), st.booleans())
def test_any_json_value_is_archived_as_json_unchanged(
    value: Any, indent: int | None, ascii_only: bool
) -> None:
    # Given JSON as a producer might format it (pretty-printed or compact, escaped or not)
    original = json.dumps(value, indent=indent, ensure_ascii=ascii_only)
    record = KafkaRecord("t", 0, 0, 0, value=original.encode())
    # When it is archived
    document = json.loads(to_archive_line(record))
    # Then it is embedded as JSON, equal to what was sent (hypothesis text has no lone surrogates)
    assert "valueBase64" not in document
    assert document["value"] == value
