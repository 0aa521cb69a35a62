"""The event source mapping emulator with the real consumer function, a real broker and moto's S3."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from local.event_source_mapping import EventSourceMapping, MappingConfig, s3_destination
from local.invoke import cold_container, function_spec
from local.kafka_events import iter_event_records

PARTITIONS = 3


@pytest.fixture
def topic(new_topic: Callable[[str, int], str]) -> str:
    return new_topic("esm", PARTITIONS)


@pytest.fixture
def destination_bucket(moto_s3: Any) -> tuple[Any, str]:
    moto_s3.create_bucket(Bucket="local-failedbatchesbucket")
    return moto_s3, "local-failedbatchesbucket"


def _produce(bootstrap: str, topic: str, values: list[bytes]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all"})
    for index, value in enumerate(values):
        producer.produce(topic, key=f"k{index}".encode(), value=value, partition=index % PARTITIONS)
    assert producer.flush(10) == 0


def _committed(bootstrap: str, topic: str, group: str) -> list[int]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    offsets = consumer.committed([TopicPartition(topic, p) for p in range(PARTITIONS)], timeout=10)
    consumer.close()
    return [o.offset for o in offsets]


def test_config_comes_from_the_template() -> None:
    config = MappingConfig.from_template(function_spec("consumer"), "t")
    assert (config.batch_size, config.batching_window_seconds, config.starting_position) == (
        500,
        1.0,
        "TRIM_HORIZON",
    )
    assert config.report_batch_item_failures
    assert config.bisect_on_error
    assert (config.max_retry_attempts, config.max_record_age_seconds) == (5, 604800)


def test_a_poison_record_goes_to_the_destination_and_the_rest_continue(
    kafka_bootstrap: str, topic: str, destination_bucket: tuple[Any, str]
) -> None:
    s3, bucket = destination_bucket
    values = [json.dumps({"n": i}).encode() for i in range(30)]
    values[13] = b'{"n": 13, "broken'  # partition 1, rejected by the consumer
    _produce(kafka_bootstrap, topic, values)
    spec = function_spec("consumer")
    config = dataclasses.replace(
        MappingConfig.from_template(spec, topic), consumer_group=f"g-{uuid.uuid4().hex}"
    )

    with cold_container(
        spec, {"POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "WARNING"}
    ) as handler:
        mapping = EventSourceMapping(config, kafka_bootstrap, handler, s3_destination(s3, bucket, "consumer"))
        stats = mapping.run_until_idle()
        mapping.close()

    # The 29 good records were processed once; the poison one was retried 5 times, then kept whole in S3
    assert sorted(stats.succeeded) == sorted((f"{topic}-{i % 3}", i // 3) for i in range(30) if i != 13)
    assert stats.invocations == 1 + config.max_retry_attempts
    objects = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert len(objects) == 1
    kept = json.loads(s3.get_object(Bucket=bucket, Key=objects[0]["Key"])["Body"].read())
    assert kept["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert [(r.partition, r.offset, r.value) for r in iter_event_records(kept["payload"])] == [
        (1, 4, values[13])
    ]
    # And every partition's offset is committed past its last record, the poison one included
    assert _committed(kafka_bootstrap, topic, config.consumer_group) == [10, 10, 10]


class Crash(BaseException):
    """The process dies (not an error the mapping handles)."""


def test_a_crash_mid_batch_loses_nothing_and_repeats_only_uncommitted_records(
    kafka_bootstrap: str, topic: str
) -> None:
    values = [json.dumps({"n": i}).encode() for i in range(40)]
    _produce(kafka_bootstrap, topic, values)
    spec = function_spec("consumer")
    config = dataclasses.replace(
        MappingConfig.from_template(spec, topic),
        consumer_group=f"g-{uuid.uuid4().hex}",
        batch_size=10,
        batching_window_seconds=0.5,
    )
    processed: list[tuple[int, int]] = []
    crashed_batch: list[tuple[int, int]] = []

    with cold_container(
        spec, {"POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "WARNING"}
    ) as handler:

        def crashing(event: dict[str, Any], context: Any) -> Any:
            response = handler(event, context)
            positions = [(r.partition, r.offset) for r in iter_event_records(event)]
            processed.extend(positions)
            if (
                len(processed) > 10 and not crashed_batch
            ):  # the second batch is processed, then the process dies
                crashed_batch.extend(positions)
                raise Crash
            return response

        first = EventSourceMapping(config, kafka_bootstrap, crashing)
        with pytest.raises(Crash):
            first.run_until_idle()
        first.close()

        def recording(event: dict[str, Any], context: Any) -> Any:
            processed.extend((r.partition, r.offset) for r in iter_event_records(event))
            return handler(event, context)

        second = EventSourceMapping(config, kafka_bootstrap, recording)
        second.run_until_idle()
        second.close()

    # Record i went to partition i % 3, so partition p holds len(range(p, 40, 3)) records
    assert set(processed) == {(p, o) for p in range(PARTITIONS) for o in range(len(range(p, 40, PARTITIONS)))}
    duplicates = [position for position in set(processed) if processed.count(position) > 1]
    assert duplicates, "the crashed batch is delivered again"
    assert set(duplicates) <= set(crashed_batch), "only records of the uncommitted batch repeat"
