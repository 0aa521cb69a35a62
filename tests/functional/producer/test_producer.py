"""The producer handler with the sample API Gateway events; Kafka answered by a scripted fake producer
(the integration tier does the same against a real broker)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import KafkaError
from jsonschema import Draft202012Validator

from local.functions import REPO
from tests.conftest import FakeLambdaContext
from tests.functional.producer.conftest import ScriptedProducer, use_producer

EVENTS = Path(__file__).resolve().parents[3] / "events" / "producer"


def _check_against_contract(status: int, body: dict[str, Any]) -> None:
    """The body is what docs/openapi.json documents for the status (its schemas come from the types the
    route builds its answers with)."""
    contract = json.loads((REPO / "docs" / "openapi.json").read_text())
    response = contract["paths"]["/topics/{topic}/records"]["post"]["responses"][str(status)]
    schema = response["content"]["application/json"]["schema"] | {"components": contract["components"]}
    Draft202012Validator(schema).validate(body)


def _call(handler: Any, name: str, context: FakeLambdaContext) -> tuple[int, dict[str, Any], dict[str, str]]:
    event = json.loads((EVENTS / name).read_text())
    response = handler.lambda_handler(event, context)
    headers = dict(response.get("headers") or {})
    headers |= {name: values[-1] for name, values in (response.get("multiValueHeaders") or {}).items()}
    body = json.loads(response["body"])
    _check_against_contract(response["statusCode"], body)
    return response["statusCode"], body, headers


def test_a_valid_batch_is_written_and_answered_in_order(
    handler: Any, lambda_context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = use_producer(monkeypatch, ScriptedProducer(lambda index: None))
    status, body, _ = _call(handler, "valid-batch.json", lambda_context)
    assert status == 200
    assert body == {
        "failedRecordCount": 0,
        "records": [{"partition": i % 3, "offset": 100 + i} for i in range(4)],
    }
    # Keys, values and headers as sent (values as compact JSON; null value = tombstone)
    assert fake.produced[0] == {
        "topic": "streaming-events",
        "key": b"sensor-1",
        "value": b'{"temperature":21.5,"unit":"C"}',
        "headers": [("source", b"sensor")],
    }
    assert fake.produced[1]["key"] is None
    assert fake.produced[2]["value"] is None
    assert fake.produced[3]["headers"] == [("trace-id", b"t-1"), ("content-type", b"text/plain")]


def test_some_failures_give_207_with_a_reason_per_record(
    handler: Any, lambda_context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    def answer(index: int) -> KafkaError | None:
        if index == 1:
            return KafkaError(KafkaError.MSG_SIZE_TOO_LARGE)
        if index == 3:
            return KafkaError(KafkaError._MSG_TIMED_OUT)
        return None

    use_producer(monkeypatch, ScriptedProducer(answer))
    status, body, _ = _call(handler, "valid-batch.json", lambda_context)
    assert status == 207
    assert body["failedRecordCount"] == 2
    assert body["records"][0] == {"partition": 0, "offset": 100}
    assert body["records"][1]["errorCode"] == "MSG_SIZE_TOO_LARGE"
    assert body["records"][1]["retriable"] is False
    assert body["records"][3]["errorCode"] == "_MSG_TIMED_OUT"
    assert body["records"][3]["retriable"] is True


def test_brokers_unavailable_give_503_with_retry_after(
    handler: Any, lambda_context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_producer(monkeypatch, ScriptedProducer(lambda index: KafkaError(KafkaError._ALL_BROKERS_DOWN)))
    status, body, headers = _call(handler, "valid-batch.json", lambda_context)
    assert status == 503
    assert headers["Retry-After"] == "5"
    assert "_ALL_BROKERS_DOWN" in body["message"]


@pytest.mark.parametrize(
    ("event", "fields"),
    [
        ("invalid-not-json.json", ["body"]),
        ("invalid-no-records.json", ["records"]),
        ("invalid-empty-records.json", ["records"]),
        ("invalid-too-many-records.json", ["records"]),
        ("invalid-missing-value.json", ["records[1].value"]),
        ("invalid-key-type.json", ["records[2].key"]),
        ("invalid-header-value.json", ["records[0].headers.n"]),
        ("invalid-unknown-field.json", ["records[0].partition"]),
    ],
)
def test_invalid_bodies_give_400_naming_the_field_and_produce_nothing(
    handler: Any,
    lambda_context: FakeLambdaContext,
    monkeypatch: pytest.MonkeyPatch,
    event: str,
    fields: list[str],
) -> None:
    fake = use_producer(monkeypatch, ScriptedProducer(lambda index: None))
    status, body, _ = _call(handler, event, lambda_context)
    assert status == 400
    assert [error["field"] for error in body["errors"]] == fields
    assert all(error["message"] for error in body["errors"])
    assert fake.produced == []


def test_a_forbidden_topic_gives_403(
    handler: Any, lambda_context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = use_producer(monkeypatch, ScriptedProducer(lambda index: None))
    status, body, _ = _call(handler, "forbidden-topic.json", lambda_context)
    assert status == 403
    assert "internal-audit" in body["message"]
    assert fake.produced == []


def test_a_record_over_1_mib_gives_413_and_nothing_is_produced(
    handler: Any, lambda_context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scripts.make_sample_events import api_event

    fake = use_producer(monkeypatch, ScriptedProducer(lambda index: None))
    event = api_event(json.dumps({"records": [{"value": 1}, {"value": "z" * (1024 * 1024)}]}))
    response = handler.lambda_handler(event, lambda_context)
    assert response["statusCode"] == 413
    assert [e["field"] for e in json.loads(response["body"])["errors"]] == ["records[1]"]
    assert fake.produced == []


class FullQueueProducer(ScriptedProducer):
    """A producer whose local queue stays full whenever it is handed the value `full`."""

    def __init__(self, full: bytes) -> None:
        super().__init__(lambda index: None)
        self.full = full
        self.attempts = 0

    def produce(
        self, topic: str, value: bytes | None, key: bytes | None, headers: list[Any], on_delivery: Any
    ) -> None:
        self.attempts += 1
        if value == self.full:
            raise BufferError("Local: Queue full")
        super().produce(topic, value, key, headers, on_delivery)


def test_a_full_local_queue_fails_only_that_record_as_retriable(
    handler: Any, lambda_context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = use_producer(monkeypatch, FullQueueProducer(full=b"[1,2,3]"))  # the second record's value
    status, body, _ = _call(handler, "valid-batch.json", lambda_context)
    assert status == 207
    assert body["records"][1] == {
        "errorCode": "QueueFull",
        "errorMessage": "the producer's local queue is full",
        "retriable": True,
    }
    assert fake.attempts == 5  # four records, one of them tried twice
