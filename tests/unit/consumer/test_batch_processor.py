"""KafkaBatchProcessor keeps Powertools' BatchProcessor(EventType.Kafka) contract: the same response,
outcomes, failure handling and whole-batch rule, on the same records."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.kafka_event import KafkaEventRecord

from consumer_batch import KafkaBatchProcessor
from tests.conftest import FakeLambdaContext

EVENTS = Path(__file__).resolve().parents[3] / "events" / "consumer"


class DownstreamRefusedError(RuntimeError):
    """What the record handlers below raise for odd offsets."""


class ModelNamedError(ValueError):
    """An exception with a `model` attribute, which Powertools' loop inspects for pydantic models."""

    model = "SomeModel"


def _fail_odd_offsets(raw: dict[str, Any]) -> str:
    if raw["offset"] % 2:
        raise DownstreamRefusedError(f"refused {raw['offset']}")
    if raw["offset"] % 3 == 0:
        raise ModelNamedError("not a model of this processor")
    return f"done {raw['offset']}"


def _run(processor: BatchProcessor, event: dict[str, Any], handler: Any) -> dict[str, Any]:
    context = FakeLambdaContext()
    response = process_partial_response(
        event=event, record_handler=handler, processor=processor, context=context
    )
    return {
        "response": response,
        "success_messages": list(processor.success_messages),
        "fail_messages": [(type(m), m.topic, m.partition, m.offset) for m in processor.fail_messages],
        "exceptions": [(e[0], str(e[1])) for e in processor.exceptions],
    }


def _powertools() -> BatchProcessor:
    return BatchProcessor(event_type=EventType.Kafka, raise_on_entire_batch_failure=False)


@pytest.mark.parametrize(
    "name", ["json-records.json", "rejected-records.json", "powertools-kafka-event-msk.json"]
)
def test_same_response_messages_and_exceptions_as_powertools(name: str) -> None:
    event = json.loads((EVENTS / name).read_text())
    ours = _run(KafkaBatchProcessor(), event, _fail_odd_offsets)
    theirs = _run(_powertools(), event, lambda record: _fail_odd_offsets(record.raw_event))
    assert ours == theirs
    assert ours["fail_messages"], "the event has failing records"
    assert all(kind is KafkaEventRecord for kind, *_ in ours["fail_messages"])


def test_same_outcome_tuples_as_powertools() -> None:
    event = json.loads((EVENTS / "json-records.json").read_text())
    records = [raw for partition in event["records"].values() for raw in partition]

    def outcomes(processor: BatchProcessor, handler: Any) -> list[tuple[str, Any, Any]]:
        with processor(records, handler):
            return [
                (kind, result, item.raw_event if isinstance(item, KafkaEventRecord) else item)
                for kind, result, item in processor.process()
            ]

    ours = outcomes(KafkaBatchProcessor(), _fail_odd_offsets)
    theirs = outcomes(_powertools(), lambda record: _fail_odd_offsets(record.raw_event))
    assert ours == theirs
    assert {kind for kind, _, _ in ours} == {"success", "fail"}


def test_a_batch_whose_records_all_fail_is_answered_with_all_of_them() -> None:
    event = json.loads((EVENTS / "json-records.json").read_text())

    def refuse(raw: dict[str, Any]) -> None:
        raise DownstreamRefusedError("down")

    ours = _run(KafkaBatchProcessor(), event, refuse)
    theirs = _run(_powertools(), event, lambda record: refuse(record.raw_event))
    assert ours == theirs
    assert len(ours["response"]["batchItemFailures"]) == 12


def test_the_lambda_context_is_passed_to_a_handler_that_asks_for_it() -> None:
    event = json.loads((EVENTS / "json-records.json").read_text())
    seen: list[str] = []

    def handler(record: dict[str, Any], lambda_context: Any) -> None:
        seen.append(lambda_context.aws_request_id)

    assert _run(KafkaBatchProcessor(), event, handler)["response"] == {"batchItemFailures": []}
    assert seen == [FakeLambdaContext().aws_request_id] * 12


def test_a_new_batch_starts_clean() -> None:
    processor = KafkaBatchProcessor()
    rejected = json.loads((EVENTS / "rejected-records.json").read_text())
    assert _run(processor, rejected, _fail_odd_offsets)["response"]["batchItemFailures"]
    accepted = _run(processor, json.loads((EVENTS / "json-records.json").read_text()), lambda raw: None)
    assert accepted["response"] == {"batchItemFailures": []}
    assert accepted["exceptions"] == []
    assert len(accepted["success_messages"]) == 12


@pytest.fixture
def unflushed_metrics_cleared() -> Iterator[None]:
    """handle_batch called without the handler's decorators adds metrics nobody flushes: clear them."""
    from streaming_common.observability import metrics

    yield
    metrics.clear_metrics()


@pytest.mark.usefixtures("unflushed_metrics_cleared")
def test_malformed_headers_fail_their_record_when_process_record_reads_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import consumer_batch
    from consumer_batch import ConsumerSettings, handle_batch

    event = json.loads((EVENTS / "json-records.json").read_text())
    first = event["records"]["streaming-events-0"][0]
    first["headers"] = [{"source": ["not a byte"]}]
    read_headers: list[int] = []

    def reads_headers(record: Any, value: Any) -> None:
        read_headers.append(len(record.headers))

    monkeypatch.setattr(consumer_batch, "process_record", reads_headers)
    response = handle_batch(event, FakeLambdaContext(), KafkaBatchProcessor(), ConsumerSettings())
    assert response == {
        "batchItemFailures": [
            {"itemIdentifier": {"partition": "streaming-events-0", "offset": first["offset"]}}
        ]
    }
    assert len(read_headers) == 11

    monkeypatch.setattr(consumer_batch, "process_record", lambda record, value: None)
    untouched = handle_batch(event, FakeLambdaContext(), KafkaBatchProcessor(), ConsumerSettings())
    assert untouched == {"batchItemFailures": []}  # headers never read: never decoded
