"""The firehose_forwarder handler with the sample events, against moto's S3 and Firehose."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from archive_delivery import ForwarderSettings, TimeLeft
from local.functions import load_handler
from local.kafka_events import build_event, iter_event_records
from streaming_common.kafka_codec import KafkaRecord, from_archive_line, read_archive_line, to_archive_line
from tests.conftest import FakeLambdaContext
from tests.functional.firehose_forwarder.conftest import BUCKET, STREAM, Archive

EVENTS = Path(__file__).resolve().parents[3] / "events" / "firehose_forwarder"
SETTINGS = ForwarderSettings(delivery_stream_name=STREAM, archive_bucket_name=BUCKET)


@pytest.fixture
def forwarder(archive: Archive) -> Any:
    return load_handler("firehose_forwarder")


def _expected_lines(event: dict[str, Any]) -> list[bytes]:
    return [to_archive_line(record) for record in iter_event_records(event)]


def test_every_record_is_archived_as_one_line(
    forwarder: Any, archive: Archive, lambda_context: FakeLambdaContext
) -> None:
    event = json.loads((EVENTS / "json-records.json").read_text())
    assert forwarder.lambda_handler(event, lambda_context) == {"batchItemFailures": []}
    assert sorted(archive.lines()) == sorted(_expected_lines(event))


def test_tombstones_binary_values_and_odd_keys_keep_their_bytes(
    forwarder: Any, archive: Archive, lambda_context: FakeLambdaContext
) -> None:
    event = json.loads((EVENTS / "mixed-records.json").read_text())
    assert forwarder.lambda_handler(event, lambda_context) == {"batchItemFailures": []}
    archived = {(r.partition, r.offset): r for r in map(from_archive_line, archive.lines())}
    originals = {(r.partition, r.offset): r for r in iter_event_records(event)}
    assert archived.keys() == originals.keys()
    assert archived == originals  # every key, value and header byte, JSON values too
    assert archived[(0, 201)].value is None  # the tombstone
    assert archived[(1, 200)].value == originals[(1, 200)].value  # binary, byte for byte
    assert b'"valueBase64"' in to_archive_line(originals[(2, 201)])  # the JSON literal null


def test_json_values_come_back_byte_for_byte_whatever_their_formatting(
    forwarder: Any, archive: Archive, lambda_context: FakeLambdaContext
) -> None:
    # Given JSON values spaced, tabbed, escaped and pretty-printed as producers send them
    values = [
        b'{ "orderId" : "o-1",\t"amount" : 1.50 , "tags" : [ ] }',
        b'{"name":"Z\\u00fcrich","n":1E2}',
        b'{\n  "orderId": "o-2"\n}\n',
        b'{"a":\r\n1}',
    ]
    records = [
        KafkaRecord("streaming-events", 0, offset, 0, value=value) for offset, value in enumerate(values)
    ]
    event = build_event(records, event_source_arn="arn:aws:kafka:::cluster/c/1", bootstrap_servers="b:9098")
    # When the forwarder archives them through Firehose into S3
    assert forwarder.lambda_handler(event, lambda_context) == {"batchItemFailures": []}
    # Then each is one line, read back exactly: one-line JSON verbatim, JSON with line breaks as base64
    lines = sorted(archive.lines(), key=lambda line: from_archive_line(line).offset)
    assert [read_archive_line(line) for line in lines] == [(record, True) for record in records]
    assert [b'"valueExact":true' in line for line in lines] == [True, True, False, False]


def test_a_line_over_the_firehose_limit_goes_whole_to_s3(
    forwarder: Any, archive: Archive, lambda_context: FakeLambdaContext
) -> None:
    from scripts.make_sample_events import oversize_event

    event = oversize_event()
    assert forwarder.lambda_handler(event, lambda_context) == {"batchItemFailures": []}
    big = next(r for r in iter_event_records(event) if r.offset == 401)
    stored = archive.s3.get_object(Bucket=BUCKET, Key="oversize/streaming-events/0/401.json")["Body"].read()
    assert stored == to_archive_line(big)
    assert len(stored) > 1000 * 1024
    assert [from_archive_line(line).offset for line in archive.lines()] == [400, 402]


def test_a_full_six_megabyte_batch_takes_the_fewest_calls(
    archive: Archive, lambda_context: FakeLambdaContext
) -> None:
    import archive_delivery
    from scripts.make_sample_events import near_limit_event

    event = near_limit_event()
    lines = _expected_lines(event)
    report = archive_delivery.archiver(SETTINGS).archive(
        event, TimeLeft.of_invocation(lambda_context, SETTINGS.reply_reserve_seconds)
    )
    fewest = max(math.ceil(len(lines) / 500), math.ceil(sum(map(len, lines)) / (4 * 1024 * 1024)))
    assert report.calls == fewest == 8
    assert report.undelivered == []
    assert sorted(archive.lines()) == sorted(lines)


def test_a_missing_stream_returns_every_record_without_retrying(
    forwarder: Any, archive: Archive, lambda_context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DELIVERY_STREAM_NAME", "no-such-stream")
    event = json.loads((EVENTS / "json-records.json").read_text())
    response = forwarder.lambda_handler(event, lambda_context)
    failed = {
        (f["itemIdentifier"]["partition"], f["itemIdentifier"]["offset"])
        for f in response["batchItemFailures"]
    }
    assert failed == {(r.partition_id, r.offset) for r in iter_event_records(event)}


def test_oversize_storage_failure_returns_that_record(
    forwarder: Any, archive: Archive, lambda_context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scripts.make_sample_events import oversize_event

    monkeypatch.setenv("ARCHIVE_BUCKET_NAME", "no-such-bucket")
    response = forwarder.lambda_handler(oversize_event(), lambda_context)
    assert response == {
        "batchItemFailures": [{"itemIdentifier": {"partition": "streaming-events-0", "offset": 401}}]
    }
    assert [from_archive_line(line).offset for line in archive.lines()] == [400, 402]


def test_an_unreadable_record_is_returned_not_dropped(
    forwarder: Any, archive: Archive, lambda_context: FakeLambdaContext
) -> None:
    good = KafkaRecord("t", 0, 1, 0, value=b"1")
    event = {
        "eventSource": "aws:kafka",
        "records": {
            "t-0": [
                {
                    "topic": "t",
                    "partition": 0,
                    "offset": 0,
                    "timestamp": 0,
                    "value": "not base64!",
                    "headers": [],
                },
                {"topic": "t", "partition": 0, "offset": 1, "timestamp": 0, "value": "MQ==", "headers": []},
            ]
        },
    }
    response = forwarder.lambda_handler(event, lambda_context)
    assert response == {"batchItemFailures": [{"itemIdentifier": {"partition": "t-0", "offset": 0}}]}
    assert archive.lines() == [to_archive_line(good)]


def test_without_partial_batch_responses_undelivered_records_fail_the_invocation(
    forwarder: Any, archive: Archive, lambda_context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    from streaming_common.batch_response import BatchNotSettledError

    monkeypatch.setenv("PARTIAL_BATCH_RESPONSES", "false")
    monkeypatch.setenv("DELIVERY_STREAM_NAME", "no-such-stream")
    with pytest.raises(BatchNotSettledError, match="12 records failed"):
        forwarder.lambda_handler(json.loads((EVENTS / "json-records.json").read_text()), lambda_context)


def test_out_of_time_everything_is_returned_not_attempted(archive: Archive) -> None:
    import archive_delivery
    from scripts.make_sample_events import oversize_event

    # Given an invocation with 5 seconds left: less than one call's budget
    event = oversize_event()
    report = archive_delivery.archiver(SETTINGS).archive(
        event, TimeLeft.of_invocation(FakeLambdaContext(5_000), SETTINGS.reply_reserve_seconds)
    )
    assert report.calls == 0
    assert sorted(report.undelivered) == [
        ("streaming-events-0", 400),
        ("streaming-events-0", 401),
        ("streaming-events-0", 402),
    ]
    assert archive.lines("") == []
