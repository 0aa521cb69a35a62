"""FlinkS3 in the local runtime: the real job reads the topic through its Kafka table; results go to S3."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from local import flink_runner
from local.flink_runner import FlinkJobError, connector_name, job_properties, run_flink_option, run_job
from local.topic_end import TopicEnd, topic_end

PARTITIONS = 3
START_MS = 1_764_000_000_000  # 2025-11-24T16:00:00Z


@pytest.fixture
def topic(new_topic: Callable[[str, int], str]) -> str:
    return new_topic("flink", PARTITIONS)


def _produce(bootstrap: str, topic: str, records: list[tuple[int, bytes | None, bytes | None, int]]) -> None:
    """(partition, key, value, timestamp ms) each, produced idempotently in batches, as the producer does."""
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 20})
    for partition, key, value, timestamp in records:
        producer.produce(topic, key=key, value=value, partition=partition, timestamp=timestamp)
    assert producer.flush(10) == 0


def test_the_run_ends_where_the_fetches_end_as_tansu_lists_offsets_wrongly(
    kafka_bootstrap: str, topic: str
) -> None:
    # Given batches in two partitions (the third stays empty), a tombstone and bytes that are not UTF-8
    records = [
        (i % 2, f"k{i}".encode(), json.dumps({"type": "a"}).encode(), START_MS + i) for i in range(400)
    ]
    records += [(0, b"gone", None, START_MS + 1000), (1, None, b"\xff\xfe not utf-8", START_MS + 1001)]
    _produce(kafka_bootstrap, topic, records)

    # When the end is read for a bounded run
    end = topic_end(kafka_bootstrap, topic)

    # Then it is after each partition's last record, and every record is counted
    assert end == TopicEnd(topic, {0: 201, 1: 201, 2: 0}, records=402)
    assert end.flink_offsets() == "partition:0,offset:201;partition:1,offset:201;partition:2,offset:0"
    # And the broker's ListOffsets (what `scan.bounded.mode` = `latest-offset` asks) ends the batched
    # partitions early: Tansu 0.6 answers the last batch's base offset plus one. If this fails, Tansu is
    # fixed and the local run can use latest-offset (local/topic_end.py)
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    asked = {TopicPartition(topic, p): OffsetSpec.latest() for p in range(PARTITIONS)}
    listed = {tp.partition: future.result().offset for tp, future in admin.list_offsets(asked).items()}
    assert listed[0] < end.offsets[0]
    assert listed[1] < end.offsets[1]


def test_the_job_reads_the_topic_through_kafka_and_its_results_land_in_s3(
    kafka_bootstrap: str, topic: str, moto_s3: Any, tmp_path: Path
) -> None:
    kinds = ["reading", "alert"]
    records = [
        (
            i % PARTITIONS,
            f"device-{i % 4}".encode(),
            json.dumps({"type": kinds[i % 2]}).encode(),
            START_MS + i * 100,
        )
        for i in range(300)
    ]
    records += [
        (0, b"device-0", None, START_MS + 30_000),
        (1, b"legacy", b"\x00 not json", START_MS + 30_001),
    ]
    _produce(kafka_bootstrap, topic, records)

    run = run_flink_option(kafka_bootstrap, topic, moto_s3, tmp_path)

    assert run.source.records == 302
    assert run.records_counted == 302
    assert {(row["event_type"], row["record_count"]) for row in run.rows} == {
        ("reading", 150),
        ("alert", 150),
        ("(tombstone)", 1),
        ("(not json)", 1),
    }
    assert run.source_line() == (
        f"kafka topic {topic} (3 partitions, 302 records) via flink-connector-kafka 3.4.0-1.20, "
        "PLAINTEXT (MSK IAM when deployed)"
    )
    assert f"{flink_runner.RESULTS_PREFIX}dt=2025-11-24/hr=16/_SUCCESS" in run.keys
    listed = moto_s3.list_objects_v2(Bucket=flink_runner.RESULTS_BUCKET)["Contents"]
    assert sorted(item["Key"] for item in listed) == sorted(run.keys)
    assert not any("/." in key for key in run.keys), "in-progress files must not be uploaded"


def test_the_connector_is_named_from_the_jar_s_pom() -> None:
    assert connector_name() == "flink-connector-kafka 3.4.0-1.20"


def test_a_job_that_cannot_start_says_why(tmp_path: Path) -> None:
    # An invalid topic name in the properties: the job's own check fails and its message reaches the caller
    end = TopicEnd("bad topic", {0: 1}, 1)
    with pytest.raises(FlinkJobError, match=r"Source\.topic 'bad topic' is not a valid Kafka topic name"):
        run_job(job_properties("127.0.0.1:9", end, tmp_path / "out"), tmp_path)


@pytest.mark.parametrize(
    ("name", "message"), [("FLINK_PYTHON", r"make \.venv-flink/\.installed"), ("FLINK_JAR", "make flink-jar")]
)
def test_a_missing_flink_environment_or_jar_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, message: str
) -> None:
    monkeypatch.setattr(flink_runner, name, tmp_path / "missing")
    with pytest.raises(FlinkJobError, match=message):
        run_job(job_properties("127.0.0.1:9", TopicEnd("t", {0: 1}, 1), tmp_path / "out"), tmp_path)
