"""The LambdaConsumer handler with the sample events and each value format."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import avro.io
import avro.schema
import pytest
from aws_lambda_powertools.utilities.kafka.exceptions import KafkaConsumerAvroSchemaParserError
from google.protobuf import struct_pb2

from local.functions import load_handler
from local.kafka_events import build_event
from streaming_common.kafka_codec import KafkaRecord
from tests.conftest import FakeLambdaContext

EVENTS = Path(__file__).resolve().parents[3] / "events" / "consumer"
ORDER_SCHEMA = json.dumps(
    {
        "type": "record",
        "name": "Order",
        "fields": [{"name": "orderId", "type": "string"}, {"name": "amount", "type": "double"}],
    }
)


@pytest.fixture
def consumer(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "consumer")
    handler = load_handler("consumer")
    import consumer_batch

    consumer_batch.value_decoder.cache_clear()
    yield handler
    consumer_batch.value_decoder.cache_clear()


@pytest.fixture
def seen_values(consumer: Any, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The values process_record is called with, in order (process_record replaced by a recorder)."""
    import consumer_batch

    seen: list[Any] = []
    monkeypatch.setattr(consumer_batch, "process_record", lambda record, value: seen.append(value))
    return seen


def _metrics(stdout: str) -> dict[str, Any]:
    """The metric values of the EMF document the handler printed (single values unwrapped)."""
    for line in stdout.splitlines():
        if '"_aws"' in line:
            document = json.loads(line)
            return {k: v[0] if isinstance(v, list) and len(v) == 1 else v for k, v in document.items()}
    raise AssertionError("no EMF metrics were printed")


def _failures(response: dict[str, Any]) -> list[tuple[str, int]]:
    return [
        (f["itemIdentifier"]["partition"], f["itemIdentifier"]["offset"])
        for f in response["batchItemFailures"]
    ]


def test_json_records_all_succeed_and_are_counted(
    consumer: Any, lambda_context: FakeLambdaContext, capsys: pytest.CaptureFixture[str]
) -> None:
    event = json.loads((EVENTS / "json-records.json").read_text())
    response = consumer.lambda_handler(event, lambda_context)
    assert response == {"batchItemFailures": []}
    emf = _metrics(capsys.readouterr().out)
    assert emf["RecordsProcessed"] == 12.0
    assert emf["RecordsFailed"] == 0.0
    assert emf["ValueBytes"] > 0


def test_rejected_records_are_reported_and_the_rest_processed(
    consumer: Any,
    lambda_context: FakeLambdaContext,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    event = json.loads((EVENTS / "rejected-records.json").read_text())
    response = consumer.lambda_handler(event, lambda_context)
    # Then exactly the two undecodable records, in the Kafka partial-batch-response form
    assert _failures(response) == [("streaming-events-0", 301), ("streaming-events-1", 300)]
    assert _metrics(capsys.readouterr().out)["RecordsProcessed"] == 3.0
    warnings = [r for r in caplog.records if r.getMessage() == "record failed"]
    assert [(r.partition, r.offset) for r in warnings] == [
        ("streaming-events-0", 301),
        ("streaming-events-1", 300),
    ]  # type: ignore[attr-defined]
    assert all("value is not JSON" in r.error for r in warnings)  # type: ignore[attr-defined]


def test_every_record_failed_by_process_record_is_listed(
    consumer: Any, lambda_context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    import consumer_batch

    def reject_odd_offsets(record: KafkaRecord, value: Any) -> None:
        if record.offset % 2:
            raise RuntimeError("downstream refused")

    monkeypatch.setattr(consumer_batch, "process_record", reject_odd_offsets)
    event = json.loads((EVENTS / "json-records.json").read_text())
    response = consumer.lambda_handler(event, lambda_context)
    assert _failures(response) == [(f"streaming-events-{p}", o) for p in range(3) for o in (101, 103)]


def test_values_reach_process_record_decoded(
    consumer: Any, lambda_context: FakeLambdaContext, seen_values: list[Any]
) -> None:
    consumer.lambda_handler(json.loads((EVENTS / "json-records.json").read_text()), lambda_context)
    assert None in seen_values  # the tombstone
    assert {"orderId": "o-0-100", "amount": 125.0, "currency": "EUR"} in seen_values


@pytest.fixture
def log_stream(consumer: Any) -> Iterator[io.StringIO]:
    """What the functions' Powertools logger writes (to stdout in Lambda), for the test's duration."""
    from streaming_common.observability import logger

    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    stream = io.StringIO()
    previous = handler.setStream(stream)
    yield stream
    handler.setStream(previous)


def _logged_records(output: str) -> list[dict[str, Any]]:
    """The default consumer's "record" log entries, as CloudWatch Logs receives them (JSON lines)."""
    entries = [json.loads(line) for line in output.splitlines()]
    return [entry for entry in entries if entry["message"] == "record"]


def test_the_log_line_shows_key_and_headers_as_text_with_powertools_sample_event(
    consumer: Any, lambda_context: FakeLambdaContext, log_stream: io.StringIO
) -> None:
    # Given the records of Powertools' own MSK sample event (tests/events/kafkaEventMsk.json in
    # aws-powertools/powertools-lambda-python): key "recordKey", absent, null; header headerKey=headerValue
    event = json.loads((EVENTS / "powertools-kafka-event-msk.json").read_text())
    assert consumer.lambda_handler(event, lambda_context) == {"batchItemFailures": []}
    logged = _logged_records(log_stream.getvalue())
    header = [{"key": "headerKey", "value": "headerValue"}]
    assert [(e["partition"], e["offset"], e.get("key"), e["headers"], e["value"]) for e in logged] == [
        ("mytopic-0", 15, "recordKey", header, {"key": "value"}),
        ("mytopic-0", 15, None, header, {"key": "value"}),  # Powertools leaves out a null field
        ("mytopic-0", 15, None, header, {"key": "value"}),
    ]
    assert "key" not in logged[1]
    assert not any("keyBase64" in e for e in logged)


def test_the_log_line_shows_bytes_that_are_not_utf8_in_base64(
    consumer: Any, lambda_context: FakeLambdaContext, log_stream: io.StringIO
) -> None:
    records = [
        KafkaRecord(
            "orders",
            0,
            7,
            0,
            key=b"\xffkey",
            value=b"{}",
            headers=(("trace", b"t-1"), ("signature", b"\x00\x9f\x92\x96"), ("empty", None)),
        )
    ]
    event = build_event(records, event_source_arn="arn", bootstrap_servers="b")
    assert consumer.lambda_handler(event, lambda_context) == {"batchItemFailures": []}
    [entry] = _logged_records(log_stream.getvalue())
    assert "key" not in entry
    assert entry["keyBase64"] == "/2tleQ=="  # base64 of b"\xffkey"
    assert entry["headers"] == [
        {"key": "trace", "value": "t-1"},
        {"key": "signature", "valueBase64": "AJ+Slg=="},  # base64 of b"\x00\x9f\x92\x96"
        {"key": "empty", "value": None},
    ]


def _avro(value: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    avro.io.DatumWriter(avro.schema.parse(ORDER_SCHEMA)).write(value, avro.io.BinaryEncoder(buffer))
    return buffer.getvalue()


def test_avro_values_are_decoded_with_the_configured_schema(
    consumer: Any, lambda_context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch, seen_values: list[Any]
) -> None:
    monkeypatch.setenv("VALUE_FORMAT", "AVRO")
    monkeypatch.setenv("VALUE_SCHEMA", ORDER_SCHEMA)
    records = [
        KafkaRecord("orders", 0, 1, 0, value=_avro({"orderId": "a-1", "amount": 9.5})),
        KafkaRecord("orders", 0, 2, 0, value=b"\x02"),  # truncated Avro
    ]
    event = build_event(records, event_source_arn="arn", bootstrap_servers="b:9098")
    response = consumer.lambda_handler(event, lambda_context)
    assert seen_values == [{"orderId": "a-1", "amount": 9.5}]
    assert _failures(response) == [("orders-0", 2)]


def test_protobuf_values_are_decoded_with_the_configured_message(
    consumer: Any, lambda_context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch, seen_values: list[Any]
) -> None:
    monkeypatch.setenv("VALUE_FORMAT", "PROTOBUF")
    monkeypatch.setenv("VALUE_SCHEMA", "google.protobuf.struct_pb2:Struct")
    message = struct_pb2.Struct()
    message.update({"orderId": "p-1", "amount": 3.0})
    records = [KafkaRecord("orders", 1, 7, 0, value=message.SerializeToString())]
    response = consumer.lambda_handler(
        build_event(records, event_source_arn="arn", bootstrap_servers="b"), lambda_context
    )
    assert response == {"batchItemFailures": []}
    assert seen_values == [{"orderId": "p-1", "amount": 3.0}]


def test_binary_formats_need_a_schema(
    consumer: Any, lambda_context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VALUE_FORMAT", "AVRO")
    monkeypatch.delenv("VALUE_SCHEMA", raising=False)
    event = json.loads((EVENTS / "json-records.json").read_text())
    with pytest.raises(ValueError, match="VALUE_FORMAT=AVRO needs VALUE_SCHEMA"):
        consumer.lambda_handler(event, lambda_context)


def test_an_invalid_schema_fails_the_invocation_before_any_record(
    consumer: Any, lambda_context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch, seen_values: list[Any]
) -> None:
    # A bad schema is the configuration's fault, not the records': Lambda retries the batch, nothing goes
    # to the on-failure destination
    monkeypatch.setenv("VALUE_FORMAT", "AVRO")
    monkeypatch.setenv("VALUE_SCHEMA", '{"type": "no-such-type"}')
    event = json.loads((EVENTS / "json-records.json").read_text())
    with pytest.raises(KafkaConsumerAvroSchemaParserError, match="Invalid Avro schema"):
        consumer.lambda_handler(event, lambda_context)
    assert seen_values == []


def test_a_full_six_megabyte_event(consumer: Any, lambda_context: FakeLambdaContext) -> None:
    from scripts.make_sample_events import LAMBDA_PAYLOAD_LIMIT, near_limit_event

    event = near_limit_event()
    assert len(json.dumps(event, separators=(",", ":"))) <= LAMBDA_PAYLOAD_LIMIT
    assert consumer.lambda_handler(event, lambda_context) == {"batchItemFailures": []}


def test_value_bytes_metric_counts_decoded_bytes(
    consumer: Any, lambda_context: FakeLambdaContext, capsys: pytest.CaptureFixture[str]
) -> None:
    values = [b"", b"a", b"ab", b"abc", b"abcd", None]
    records = [KafkaRecord("t", 0, i, 0, value=v) for i, v in enumerate(values)]
    consumer.lambda_handler(
        build_event(records, event_source_arn="arn", bootstrap_servers="b"), lambda_context
    )
    assert _metrics(capsys.readouterr().out)["ValueBytes"] == 10.0


def test_without_partial_batch_responses_a_failure_fails_the_invocation(
    consumer: Any, lambda_context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On-demand poller mode: Lambda would ignore batchItemFailures and lose the failed records
    monkeypatch.setenv("PARTIAL_BATCH_RESPONSES", "false")
    from streaming_common.batch_response import BatchNotSettledError

    with pytest.raises(BatchNotSettledError, match="2 records failed"):
        consumer.lambda_handler(json.loads((EVENTS / "rejected-records.json").read_text()), lambda_context)
    assert consumer.lambda_handler(
        json.loads((EVENTS / "json-records.json").read_text()), lambda_context
    ) == {"batchItemFailures": []}
