"""Bad input against a real broker (Tansu) and the real confluent-kafka: the fuzzing report's reproductions
get their 400 in a handler process that survives (a lone surrogate in a header name used to kill it inside
librdkafka), nothing invalid reaches the topic, and whatever is accepted reads back as the JSON sent."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from hypothesis import HealthCheck, event, given, settings

from local.functions import REPO, load_handler
from scripts.make_sample_events import api_event
from tests.conftest import FakeLambdaContext
from tests.functional.producer.request_bodies import (
    REPRODUCTIONS,
    assert_stored_as_sent,
    body_text,
    faulty_fields,
    request_records,
)

PARTITIONS = 3
# The handler in a process of its own, as in a Lambda container: one request per line of stdin, one
# answer per line of the file named by argv[2].
HANDLER_PROCESS = """
import json, sys
from local.functions import load_handler
from local.lambda_context import LocalLambdaContext
from scripts.make_sample_events import api_event

handler = load_handler("producer")
with open(sys.argv[2], "w") as answers:
    for line in sys.stdin:
        event = api_event(json.loads(line), topic=sys.argv[1])
        response = handler.lambda_handler(event, LocalLambdaContext("ProducerFunction", 30_000))
        answers.write(json.dumps({"status": response["statusCode"], "body": response["body"]}) + "\\n")
        answers.flush()
"""


@pytest.fixture
def topic(kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    name = f"bad-input-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    for future in admin.create_topics([NewTopic(name, PARTITIONS, -1)]).values():
        future.result(10)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
    monkeypatch.setenv("KAFKA_AUTH", "PLAINTEXT")
    monkeypatch.setenv("ALLOWED_TOPICS", name)
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "WARNING")
    yield name
    import record_producer

    record_producer.producer.cache_clear()


def _run_in_process(script: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    environment = os.environ | {"PYTHONPATH": os.pathsep.join(["layers/shared", "functions/producer", "."])}
    return subprocess.run(
        [sys.executable, "-X", "faulthandler", "-c", script, *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=REPO,
        env=environment,
        timeout=120,
        check=False,
    )


def _high_watermarks(bootstrap: str, topic: str) -> list[int]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"watermarks-{uuid.uuid4().hex}"})
    try:
        return [
            consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)[1]
            for partition in range(PARTITIONS)
        ]
    finally:
        consumer.close()


def test_the_reproductions_get_400_in_a_process_that_survives_and_nothing_reaches_the_topic(
    kafka_bootstrap: str, topic: str, tmp_path: Path
) -> None:
    bodies = [body for body, _ in REPRODUCTIONS.values()] + ['{"records":[{"key":"k","value":{"ok":true}}]}']
    answers_file = tmp_path / "answers.ndjson"
    # When every reproduction, then a valid request, goes to one handler process
    finished = _run_in_process(
        HANDLER_PROCESS, topic, str(answers_file), stdin="".join(json.dumps(b) + "\n" for b in bodies)
    )
    # Then the process ends normally (no SIGSEGV, no exception) after answering every request
    assert finished.returncode == 0, finished.stderr[-3000:]
    answers = [json.loads(line) for line in answers_file.read_text().splitlines()]
    assert len(answers) == len(bodies)
    for (name, (_, fields)), answer in zip(REPRODUCTIONS.items(), answers, strict=False):
        assert answer["status"] == 400, (name, answer)
        assert [error["field"] for error in json.loads(answer["body"])["errors"]] == fields, name
    assert answers[-1]["status"] == 200, answers[-1]
    # And only the valid record is in the topic
    assert sum(_high_watermarks(kafka_bootstrap, topic)) == 1


def test_without_the_check_the_header_name_kills_the_process(topic: str) -> None:
    # The same record handed straight to the producer, past the request checks: this is the crash the
    # checks prevent, and the proof that the process test above would see one.
    script = (
        "import record_producer\n"
        "from record_producer import OutgoingRecord, ProducerSettings\n"
        f"record_producer.produce(record_producer.producer(ProducerSettings()), {topic!r}, "
        '[OutgoingRecord(None, b"1", [("\\ud800", b"x")])], 5)\n'
    )
    finished = _run_in_process(script)
    assert finished.returncode != 0, "confluent-kafka took the header name: revisit the D1 check"
    if finished.returncode == -signal.SIGSEGV:
        assert "Segmentation fault" in finished.stderr


def _read_at(consumer: Consumer, topic: str, partition: int, offset: int) -> Any:
    consumer.assign([TopicPartition(topic, partition, offset)])
    for _ in range(40):
        message = consumer.poll(0.5)
        if message is not None and not message.error() and message.offset() == offset:
            return message
    raise AssertionError(f"no record at {topic}/{partition}@{offset}")


@pytest.fixture
def reader(kafka_bootstrap: str) -> Iterator[Consumer]:
    consumer = Consumer(
        {
            "bootstrap.servers": kafka_bootstrap,
            "group.id": f"read-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
        }
    )
    yield consumer
    consumer.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=request_records)
def test_generated_bodies_are_refused_or_read_back_from_kafka_as_sent(
    kafka_bootstrap: str, topic: str, reader: Consumer, records: list[dict[str, Any]]
) -> None:
    handler = load_handler("producer")
    faults = faulty_fields(records)
    event("refused" if faults else "read back")
    before = _high_watermarks(kafka_bootstrap, topic) if faults else []
    response = handler.lambda_handler(api_event(body_text(records), topic=topic), FakeLambdaContext())
    answer = json.loads(response["body"])
    if faults:
        assert response["statusCode"] == 400, answer
        assert {error["field"] for error in answer["errors"]} <= faults
        assert _high_watermarks(kafka_bootstrap, topic) == before
        return
    assert response["statusCode"] == 200, answer
    for record, stored in zip(records, answer["records"], strict=True):
        message = _read_at(reader, topic, stored["partition"], stored["offset"])
        assert_stored_as_sent(record, message.key(), message.value(), message.headers())
