"""The route that takes bodies msgspec accepts answers byte for byte as request_models' validating resolver
(Powertools' validation with the pydantic model) answers the same request, and refused requests reach that
resolver."""

from __future__ import annotations

import json
from typing import Any

import pytest
from confluent_kafka import KafkaError

from scripts.make_sample_events import api_event
from tests.conftest import FakeLambdaContext
from tests.functional.producer.conftest import ScriptedProducer, use_producer

VALID = {"records": [{"key": "k", "value": {"a": [1, 2.5, None]}, "headers": {"h": "v"}}, {"value": "x"}]}


def _event(body: str, topic: str = "streaming-events", content_type: str | None = None) -> dict[str, Any]:
    event = api_event(body, topic)
    if content_type is not None:
        event["headers"] = {**(event.get("headers") or {}), "Content-Type": content_type}
        event["multiValueHeaders"] = {
            **(event.get("multiValueHeaders") or {}),
            "Content-Type": [content_type],
        }
    return event


# Requests the fast route answers: each kind of answer it gives.
FAST = {
    "written": (_event(json.dumps(VALID)), 200),
    "json-content-type": (_event(json.dumps(VALID), content_type="application/json; charset=utf-8"), 200),
    "topic-not-allowed": (_event(json.dumps(VALID), topic="elsewhere"), 403),
    "topic-name-not-kafkas": (_event(json.dumps(VALID), topic="a$b"), 400),
    "topic-name-too-long": (_event(json.dumps(VALID), topic="t" * 250), 400),
    "nul-in-header-name": (_event(json.dumps({"records": [{"value": 1, "headers": {"a\x00b": "v"}}]})), 400),
    "overflow-to-infinity": (_event('{"records": [{"value": 1e999}]}'), 400),
    "record-too-large": (_event(json.dumps({"records": [{"value": "x" * (1024 * 1024)}]})), 413),
}
# Requests the validating resolver answers, with their status (415: Powertools' own answer).
REFUSED = {
    "extra-field": (_event('{"records": [{"value": 1, "colour": "red"}]}'), 400),
    "no-records": (_event('{"records": []}'), 400),
    "not-json": (_event("{"), 400),
    "nan": (_event('{"records": [{"value": NaN}]}'), 400),
    "no-body": (_event(""), 400),
    "form-content-type": (_event("records=1", content_type="application/x-www-form-urlencoded"), 400),
    "text-content-type": (_event(json.dumps(VALID), content_type="text/plain"), 415),
    "bad-topic-and-body": (_event('{"records": []}', topic="a$b"), 400),
}


def _validating(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Count the requests request_models' resolver answers."""
    import request_models

    answered: list[dict[str, Any]] = []
    resolve = request_models.resolver.resolve

    def counted(event: dict[str, Any], context: Any) -> dict[str, Any]:
        answered.append(event)
        return resolve(event, context)

    monkeypatch.setattr(request_models.resolver, "resolve", counted)
    return answered


def _brokers_down(index: int) -> KafkaError:
    return KafkaError(KafkaError._ALL_BROKERS_DOWN)


def _odd_records_time_out(index: int) -> KafkaError | None:
    return KafkaError(KafkaError._MSG_TIMED_OUT) if index % 2 else None


# How the brokers answer, and the status of a request whose records all reach them
KAFKA = {
    "all-written": (lambda index: None, 200),
    "odd-records-time-out": (_odd_records_time_out, 207),
    "brokers-down": (_brokers_down, 503),
}


@pytest.mark.parametrize("name", sorted(FAST))
@pytest.mark.parametrize("brokers", sorted(KAFKA))
def test_the_fast_route_answers_as_the_validating_resolver(
    handler: Any, lambda_context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch, name: str, brokers: str
) -> None:
    import ingest_routes

    event, status = FAST[name]
    kafka, written_status = KAFKA[brokers]
    fake = use_producer(monkeypatch, ScriptedProducer(kafka))
    validating = _validating(monkeypatch)
    fast_answer = handler.lambda_handler(event, lambda_context)
    assert validating == [], "the fast route did not take the request"
    fast_produced = list(fake.produced)
    fake.produced.clear()

    monkeypatch.setattr(ingest_routes, "_accepted_batch", lambda event: None)
    validated_answer = handler.lambda_handler(event, lambda_context)
    assert validating == [event]

    assert fast_answer["statusCode"] == (written_status if status == 200 else status)
    assert fast_answer == validated_answer
    assert fast_produced == fake.produced
    if fast_answer["statusCode"] == 503:
        assert fast_answer["multiValueHeaders"]["Retry-After"] == [
            "5"
        ]  # ProducerSettings.retry_after_seconds


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_what_msgspec_refuses_goes_to_the_validating_resolver(
    handler: Any, lambda_context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    event, status = REFUSED[name]
    fake = use_producer(monkeypatch, ScriptedProducer(lambda index: None))
    validating = _validating(monkeypatch)
    answer = handler.lambda_handler(event, lambda_context)
    assert validating == [event]
    assert answer["statusCode"] == status
    if status == 400:
        assert json.loads(answer["body"])["message"] == "invalid request body: nothing was produced"
    assert fake.produced == []
