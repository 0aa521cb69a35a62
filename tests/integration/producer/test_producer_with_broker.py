"""The producer handler against a real Kafka broker (Tansu): what it writes is read back with a consumer."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from local.broker import free_port
from local.functions import load_handler
from scripts.make_sample_events import api_event
from tests.conftest import FakeLambdaContext


def _handler(monkeypatch: pytest.MonkeyPatch, bootstrap: str, topic: str, timeout_ms: int = 10_000) -> Any:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", bootstrap)
    monkeypatch.setenv("KAFKA_AUTH", "PLAINTEXT")
    monkeypatch.setenv("ALLOWED_TOPICS", topic)
    monkeypatch.setenv("PRODUCE_TIMEOUT_MS", str(timeout_ms))
    module = load_handler("producer")
    import record_producer

    record_producer.producer.cache_clear()
    return module


@pytest.fixture
def topic(kafka_bootstrap: str) -> Iterator[str]:
    name = f"ingest-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})  # kept alive until the futures resolve
    for future in admin.create_topics([NewTopic(name, 3, -1)]).values():
        future.result(10)
    yield name
    import record_producer

    record_producer.producer.cache_clear()


def _read_back(bootstrap: str, topic: str, expected: int) -> list[Any]:
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"check-{uuid.uuid4().hex}", "enable.auto.commit": False}
    )
    consumer.assign([TopicPartition(topic, partition, 0) for partition in range(3)])
    messages: list[Any] = []
    deadline = time.monotonic() + 20
    while len(messages) < expected and time.monotonic() < deadline:
        messages.extend(m for m in consumer.consume(100, timeout=0.5) if not m.error())
    consumer.close()
    return messages


def _post(handler: Any, topic: str, records: list[dict[str, Any]]) -> tuple[int, dict[str, Any]]:
    response = handler.lambda_handler(
        api_event(json.dumps({"records": records}), topic=topic), FakeLambdaContext()
    )
    return response["statusCode"], json.loads(response["body"])


def test_records_are_written_exactly_as_sent(
    kafka_bootstrap: str, topic: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler = _handler(monkeypatch, kafka_bootstrap, topic)
    records = [
        {"key": "device-1", "value": {"t": 21.5, "ok": True}, "headers": {"source": "sensor", "trace": "é"}},
        {"key": None, "value": [1, "two", None]},
        {"key": "device-2", "value": None},
        {"key": "device-1", "value": "ünïcode"},
    ]
    # When the records are posted
    status, body = _post(handler, topic, records)
    # Then each is answered with where it was stored, and reads back with the same key, value and headers
    assert status == 200
    assert body["failedRecordCount"] == 0
    stored = {(m.partition(), m.offset()): m for m in _read_back(kafka_bootstrap, topic, len(records))}
    for sent, answer in zip(records, body["records"], strict=True):
        message = stored[(answer["partition"], answer["offset"])]
        assert message.key() == (None if sent["key"] is None else sent["key"].encode())
        assert message.value() == (
            None
            if sent["value"] is None
            else json.dumps(sent["value"], ensure_ascii=False, separators=(",", ":")).encode()
        )
        assert dict(message.headers() or []) == {k: v.encode() for k, v in sent.get("headers", {}).items()}


def test_order_is_kept_within_a_key(
    kafka_bootstrap: str, topic: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler = _handler(monkeypatch, kafka_bootstrap, topic)
    records = [{"key": f"device-{i % 4}", "value": {"seq": i}} for i in range(200)]
    status, body = _post(handler, topic, records)
    assert status == 200
    partition_of_key: dict[str, int] = {}
    for sent, answer in zip(records, body["records"], strict=True):
        assert partition_of_key.setdefault(sent["key"], answer["partition"]) == answer["partition"]
    messages = _read_back(kafka_bootstrap, topic, len(records))
    for key in {r["key"] for r in records}:
        sequence = [json.loads(m.value())["seq"] for m in messages if m.key() == key.encode()]
        assert sequence == sorted(sequence)
        assert len(sequence) == 50


def test_broker_down_gives_503_within_a_bounded_time(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a producer whose brokers do not answer (nothing listens on the port)
    handler = _handler(monkeypatch, f"127.0.0.1:{free_port()}", "streaming-events", timeout_ms=2_000)
    started = time.monotonic()
    status, body = _post(handler, "streaming-events", [{"key": "k", "value": 1}, {"value": 2}])
    elapsed = time.monotonic() - started
    import record_producer

    record_producer.producer.cache_clear()  # no reconnecting to the dead port for the rest of the session
    # Then the request is answered 503 within the produce timeout plus a margin, never hanging
    assert status == 503
    assert elapsed < 6, f"took {elapsed:.1f} s"
    assert "brokers are unavailable" in body["message"]
