"""FlinkS3 in the local runtime: the topic read to its end, the real job run on it, its results in S3."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer

from local import flink_runner
from local.flink_runner import FlinkJobError, export_topic, run_flink_option, run_job

PARTITIONS = 3


@pytest.fixture
def topic(new_topic: Callable[[str, int], str]) -> str:
    return new_topic("flink", PARTITIONS)


def _produce(bootstrap: str, topic: str, records: list[tuple[int, bytes | None, bytes | None, int]]) -> None:
    """(partition, key, value, timestamp ms) each, produced idempotently in batches, as the producer does."""
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 20})
    for partition, key, value, timestamp in records:
        producer.produce(topic, key=key, value=value, partition=partition, timestamp=timestamp)
    assert producer.flush(10) == 0


def test_the_topic_is_exported_whole_in_time_order(kafka_bootstrap: str, topic: str, tmp_path: Path) -> None:
    # Given batches in two partitions (the third stays empty), a tombstone and bytes that are not UTF-8
    start = 1_764_000_000_000
    records = [(i % 2, f"k{i}".encode(), json.dumps({"type": "a"}).encode(), start + i) for i in range(400)]
    records += [(0, b"gone", None, start + 1000), (1, None, b"\xff\xfe not utf-8", start + 1001)]
    _produce(kafka_bootstrap, topic, records)

    # When the topic is exported for the job
    path = tmp_path / "records.json"
    count = export_topic(kafka_bootstrap, topic, path)

    # Then every record is in the file once, in timestamp order, key and value as the raw format gives them
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert count == len(lines) == 402
    assert len({(line["partition"], line["offset"]) for line in lines}) == 402
    assert [line["timestamp"] for line in lines] == sorted(line["timestamp"] for line in lines)
    assert lines[-2] == {
        "topic": topic,
        "partition": 0,
        "offset": 200,
        "timestamp": start + 1000,
        "record_key": "gone",
        "payload": None,
    }
    assert lines[-1]["record_key"] is None
    assert lines[-1]["payload"] == "\ufffd\ufffd not utf-8"


def test_the_job_runs_on_the_topic_and_its_results_land_in_s3(
    kafka_bootstrap: str, topic: str, moto_s3: Any, tmp_path: Path
) -> None:
    start = 1_764_000_000_000
    kinds = ["reading", "alert"]
    records = [
        (
            i % PARTITIONS,
            f"device-{i % 4}".encode(),
            json.dumps({"type": kinds[i % 2]}).encode(),
            start + i * 100,
        )
        for i in range(300)
    ]
    records += [(0, b"device-0", None, start + 30_000), (1, b"legacy", b"\x00 not json", start + 30_001)]
    _produce(kafka_bootstrap, topic, records)

    run = run_flink_option(kafka_bootstrap, topic, moto_s3, tmp_path)

    assert run.records_read == 302
    assert run.records_counted == 302
    assert {(row["event_type"], row["record_count"]) for row in run.rows} == {
        ("reading", 150),
        ("alert", 150),
        ("(tombstone)", 1),
        ("(not json)", 1),
    }
    assert f"{flink_runner.RESULTS_PREFIX}dt=2025-11-24/hr=16/_SUCCESS" in run.keys
    listed = moto_s3.list_objects_v2(Bucket=flink_runner.RESULTS_BUCKET)["Contents"]
    assert sorted(item["Key"] for item in listed) == sorted(run.keys)
    assert not any("/." in key for key in run.keys), "in-progress files must not be uploaded"


def test_a_job_that_cannot_start_says_why(tmp_path: Path) -> None:
    # An invalid topic name in the properties: the job's own check fails and its message reaches the caller
    with pytest.raises(FlinkJobError, match=r"Source\.topic 'bad topic' is not a valid Kafka topic name"):
        run_job("bad topic", tmp_path, tmp_path / "out", tmp_path)


def test_a_missing_flink_environment_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(flink_runner, "FLINK_PYTHON", tmp_path / "no-python")
    with pytest.raises(FlinkJobError, match=r"make \.venv-flink/\.installed"):
        run_job("streaming-events", tmp_path, tmp_path / "out", tmp_path)
