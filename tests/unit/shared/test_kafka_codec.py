"""The Kafka record codec: Lambda MSK event records and archive lines (docs/archive-format.md)."""

from __future__ import annotations

import base64
import json

import pytest

from local.kafka_events import build_event, iter_event_records
from streaming_common.kafka_codec import (
    KafkaRecord,
    RecordDecodeError,
    archive_document,
    decode_event_record,
    from_archive_line,
    read_archive_line,
    to_archive_line,
)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _record(**fields: object) -> KafkaRecord:
    base: dict[str, object] = {
        "topic": "orders",
        "partition": 2,
        "offset": 41,
        "timestamp": 1_700_000_000_000,
    }
    return KafkaRecord(**(base | fields))  # type: ignore[arg-type]


class TestEventRecords:
    def test_decodes_lambda_record_with_signed_header_bytes(self) -> None:
        # Given a record as Lambda delivers it, with a header whose bytes Java sent signed
        raw = {
            "topic": "orders",
            "partition": 0,
            "offset": 15,
            "timestamp": 1545084650987,
            "timestampType": "CREATE_TIME",
            "key": _b64(b"customer-1"),
            "value": _b64(b'{"total": 12}'),
            "headers": [{"trace": [104, 105]}, {"raw": [-1, 0, 127]}],
        }
        # When it is decoded
        record = decode_event_record(raw)
        # Then every byte is the original one
        assert record == KafkaRecord(
            "orders",
            0,
            15,
            1545084650987,
            "CREATE_TIME",
            b"customer-1",
            b'{"total": 12}',
            (("trace", b"hi"), ("raw", b"\xff\x00\x7f")),
        )
        assert record.partition_id == "orders-0"

    def test_absent_key_and_null_value_are_none(self) -> None:
        raw = {"topic": "t", "partition": 1, "offset": 0, "timestamp": 0, "value": None, "headers": []}
        record = decode_event_record(raw)
        assert record.key is None
        assert record.value is None
        assert record.timestamp_type == "CREATE_TIME"

    @pytest.mark.parametrize(
        ("raw", "message"),
        [
            ({"partition": 0, "offset": 0, "timestamp": 0}, "no 'topic' field"),
            (
                {"topic": "t", "partition": 0, "offset": 0, "timestamp": 0, "value": "%%%"},
                "value is not valid base64",
            ),
            (
                {"topic": "t", "partition": 0, "offset": 0, "timestamp": 0, "key": "a"},
                "key is not valid base64",
            ),
            (
                {"topic": "t", "partition": 0, "offset": 0, "timestamp": 0, "headers": {"a": [1]}},
                "headers must be",
            ),
            (
                {"topic": "t", "partition": 0, "offset": 0, "timestamp": 0, "headers": [{"a": ["x"]}]},
                "headers[0].a",
            ),
        ],
    )
    def test_malformed_records_name_the_field(self, raw: dict[str, object], message: str) -> None:
        with pytest.raises(RecordDecodeError, match=message.replace("[", r"\[").replace("]", r"\]")):
            decode_event_record(raw)

    def test_build_event_groups_by_topic_partition_in_order(self) -> None:
        records = [_record(partition=p, offset=o) for p, o in [(0, 1), (1, 7), (0, 2), (1, 8)]]
        event = build_event(
            records, event_source_arn="arn:aws:kafka:::cluster/c/1", bootstrap_servers="b:9098"
        )
        assert list(event["records"]) == ["orders-0", "orders-1"]
        assert [r["offset"] for r in event["records"]["orders-0"]] == [1, 2]
        assert event["eventSource"] == "aws:kafka"
        assert [r.offset for r in iter_event_records(event)] == [1, 2, 7, 8]


class TestArchiveLine:
    def test_json_value_is_embedded_verbatim_and_fields_are_in_contract_order(self) -> None:
        record = _record(key=b"k1", value=b'{"id": 7, "tags": ["a", "b"]}', headers=(("source", b"web"),))
        line = to_archive_line(record)
        assert b',"valueExact":true,"value":{"id": 7, "tags": ["a", "b"]}}' in line
        assert read_archive_line(line) == (record, True)
        assert line.endswith(b"\n")
        assert line.count(b"\n") == 1
        document = json.loads(line)
        assert list(document) == [
            "topic",
            "partition",
            "offset",
            "timestamp",
            "timestampType",
            "key",
            "headers",
            "valueExact",
            "value",
        ]
        assert document["value"] == {"id": 7, "tags": ["a", "b"]}
        assert document["key"] == "k1"
        assert document["headers"] == [{"key": "source", "value": "web"}]

    def test_tombstone_value_and_null_key_are_null(self) -> None:
        document = archive_document(_record(key=None, value=None))
        assert document["key"] is None
        assert document["value"] is None
        assert "valueBase64" not in document

    @pytest.mark.parametrize(
        ("value", "why"),
        [
            (b"\xff\xfe binary", "not UTF-8"),
            (b"plain text", "not JSON"),
            (b"", "empty"),
            (b"null", "would read as a tombstone"),
            (b'{"a": 1, "a": 2}', "repeated key"),
            (b"0.10000000000000001", "more precision than a double"),
            (b"1e400", "out of a double's range"),
            (b"[NaN]", "NaN is not JSON"),
            (b'"\\ud800"', "lone surrogate"),
            (b'{"a": 1}\n', "a line break would split the line"),
            (b'{"a":\r1}', "Athena's line reader ends a line at CR too"),
            (b' {"a": 1}', "msgspec.Raw drops a leading blank"),
            (b"[1]\t", "msgspec.Raw drops a trailing blank"),
        ],
    )
    def test_values_that_json_would_change_are_kept_as_base64(self, value: bytes, why: str) -> None:
        document = json.loads(to_archive_line(_record(value=value)))
        assert "value" not in document, why
        assert base64.b64decode(document["valueBase64"]) == value

    def test_non_utf8_key_and_header_use_base64_fields(self) -> None:
        record = _record(
            key=b"\x80key", value=b"1", headers=(("h", b"\xc3\x28"), ("h", b"ok"), ("none", None))
        )
        document = json.loads(to_archive_line(record))
        assert document["keyBase64"] == _b64(b"\x80key")
        assert "key" not in document
        assert document["headers"] == [
            {"key": "h", "valueBase64": _b64(b"\xc3\x28")},
            {"key": "h", "value": "ok"},
            {"key": "none", "value": None},
        ]

    def test_non_ascii_text_stays_readable(self) -> None:
        line = to_archive_line(_record(key="clé".encode(), value='{"città": "Zürich"}'.encode()))
        assert "Zürich".encode() in line
        assert from_archive_line(line).key == "clé".encode()

    def test_reads_back_base64_fields_byte_for_byte(self) -> None:
        record = _record(key=b"\x00\xff", value=b"\x01\x02", headers=(("h", b"\xfe"),))
        assert from_archive_line(to_archive_line(record)) == record

    @pytest.mark.parametrize(
        ("line", "message"),
        [
            (b"not json", "not JSON"),
            (b"[1]", "does not fit the format: Expected `object`, got `array`"),
            (b'{"topic": "t"}', "missing required field `partition`"),
            (b'{"topic":"t","partition":"0","offset":0,"timestamp":0,"timestampType":"x"}', r"\$\.partition"),
            (b'{"topic":"t","partition":0,"offset":0,"timestamp":0,"timestampType":"x"}', "no 'value' field"),
            (
                b'{"topic":"t","partition":0,"offset":0,"timestamp":0,"timestampType":"x","valueBase64":"%"}',
                "valueBase64",
            ),
            (
                b'{"topic":"t","partition":0,"offset":0,"timestamp":0,"timestampType":"x","value":null,'
                b'"headers":[{"key":"h","valueBase64":"%"}]}',
                r"headers\[0\]\.valueBase64",
            ),
        ],
    )
    def test_malformed_archive_lines_are_reported(self, line: bytes, message: str) -> None:
        with pytest.raises(RecordDecodeError, match=message):
            from_archive_line(line)


class TestLinesWrittenBeforeVerbatimValues:
    """Lines the forwarder wrote before `valueExact`: the JSON value parsed and re-serialised compactly."""

    OLD_JSON_LINE = (
        '{"topic":"orders","partition":2,"offset":41,"timestamp":1700000000000,"timestampType":"CREATE_TIME",'
        '"key":"k","headers":[{"key":"h","value":"v"},{"key":"h","valueBase64":"/w=="}],'
        '"value":{"città":"Zürich","n":[1,2.5]}}\n'
    ).encode()

    def test_a_json_value_reads_back_as_canonical_json_only(self) -> None:
        record, value_exact = read_archive_line(self.OLD_JSON_LINE)
        assert value_exact is False
        assert record.value == '{"città":"Zürich","n":[1,2.5]}'.encode()
        assert record.key == b"k"
        assert record.headers == (("h", b"v"), ("h", b"\xff"))

    def test_spaced_json_of_an_old_line_is_canonicalised_as_the_old_reader_did(self) -> None:
        line = b'{"topic":"t","partition":0,"offset":0,"timestamp":0,"timestampType":"x",'
        line += b'"value": {"a" : [1, 2]}}'
        assert read_archive_line(line) == (KafkaRecord("t", 0, 0, 0, "x", value=b'{"a":[1,2]}'), False)

    @pytest.mark.parametrize(
        ("value_field", "value"),
        [('"value":null', None), ('"valueBase64":"AP8="', b"\x00\xff")],
        ids=["tombstone", "base64"],
    )
    def test_tombstones_and_base64_values_were_already_exact(
        self, value_field: str, value: bytes | None
    ) -> None:
        line = '{"topic":"t","partition":0,"offset":0,"timestamp":0,"timestampType":"x","key":null,'
        record, value_exact = read_archive_line(line + value_field + "}")
        assert value_exact is True
        assert (record.key, record.value) == (None, value)
