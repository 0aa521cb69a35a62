"""Replay writer benchmark against a real broker (Tansu) and moto's S3: records per second of one replay
worker (`writing.run_write` for one target partition: its manifest read from the replay bucket, every record
produced with the idempotent producer, flushed per chunk, a checkpoint stored after each chunk) divided by a
bare confluent-kafka producer sending the same decoded records (key, value, headers, timestamp, explicit
partition) with the same producer settings (`writing.PRODUCER_SETTINGS`) to the same broker, in the same
process, flushing once. The plan the writer reads is made by the real plan steps (scope, scan, partitions,
merge, preflight) from archive objects written with the archive codec. Target: at least 0.7.

Usage: python -m benchmarks.replay [--profile]
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

from benchmarks.harness import benchmark_environment, compare, profile
from local.lambda_context import LocalLambdaContext

TARGET = 0.7
RECORDS = (
    100_000  # one invocation's worth: its fixed costs (reader, end offset, producer) amortised as in a run
)
OBJECTS = 10  # archive objects the records are spread over (one Distributed Map item each)
VALUE_PAD = 900  # about 1 KiB per record, as the producer benchmark's


def archive_objects(topic: str, timestamp: int) -> list[bytes]:
    """The archive's gzip NDJSON objects: RECORDS records of one partition, about 1 KiB JSON values, a key
    and two headers, as the forwarder archives them."""
    from streaming_common.kafka_codec import KafkaRecord, to_archive_line  # noqa: PLC0415

    lines = [
        to_archive_line(
            KafkaRecord(
                topic,
                0,
                offset,
                timestamp + offset,
                key=f"device-{offset % 50}".encode(),
                value=json.dumps({"seq": offset, "reading": offset / 7, "pad": "x" * VALUE_PAD}).encode(),
                headers=(("source", b"benchmark"), ("trace", uuid.UUID(int=offset).bytes)),
            )
        )
        for offset in range(RECORDS)
    ]
    size = -(-len(lines) // OBJECTS)
    return [gzip.compress(b"".join(lines[start : start + size])) for start in range(0, len(lines), size)]


def bare_producer(kafka: Any, topic: str, records: list[Any]) -> Callable[[], None]:
    """The baseline: produce every decoded record to its partition with its timestamp, then flush."""

    def run() -> None:
        acknowledged: list[bool] = []  # one entry per delivery report: acknowledged or not
        for record in records:
            kafka.produce(
                topic,
                value=record.value,
                key=record.key,
                headers=list(record.headers),
                partition=0,
                timestamp=record.timestamp,
                on_delivery=lambda error, _message: acknowledged.append(error is None),
            )
            kafka.poll(0)
        kafka.flush(60)
        assert acknowledged.count(True) == len(records), (acknowledged.count(True), len(records))

    return run


def _end_offset_seconds(writing: Any, settings: Any, run_id: str, topic: str) -> float:
    """Seconds the writer takes to create its reader and find the target partition's end offset."""
    started = time.perf_counter()
    consumer = writing.reader(settings, run_id)
    try:
        writing.end_offset(consumer, topic, 0)
    finally:
        consumer.close()
    return time.perf_counter() - started


def main(argv: list[str]) -> int:  # noqa: PLR0915 - one sequence: start, plan, measure, report
    benchmark_environment()
    from confluent_kafka import Producer  # noqa: PLC0415
    from confluent_kafka.admin import (  # type: ignore[attr-defined]  # noqa: PLC0415 - exported at run time, not in the stubs
        AdminClient,
        NewTopic,
    )

    from local import aws  # noqa: PLC0415
    from local.broker import running_broker  # noqa: PLC0415

    # moto in a process of its own, as S3 is another machine for Lambda: served in this process, moto's
    # request handling would take the measured writer's CPU (and GIL) while it reads its manifest.
    with running_broker() as bootstrap, aws.moto_in_another_process() as endpoint:
        source, target = f"bench-source-{uuid.uuid4().hex[:6]}", f"bench-replay-{uuid.uuid4().hex[:6]}"
        baseline_topic = f"bench-bare-{uuid.uuid4().hex[:6]}"
        admin = AdminClient({"bootstrap.servers": bootstrap})
        for future in admin.create_topics([NewTopic(t, 1, -1) for t in (target, baseline_topic)]).values():
            future.result(10)
        s3 = aws.client("s3", endpoint)
        archive, replay = "bench-archive", "bench-replay"
        for bucket in (archive, replay):
            s3.create_bucket(Bucket=bucket)
        os.environ.update(
            aws.environment(endpoint)
            | {
                "ARCHIVE_BUCKET_NAME": archive,
                "REPLAY_BUCKET_NAME": replay,
                "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                "KAFKA_AUTH": "PLAINTEXT",
                "SOURCE_TOPIC": source,
            }
        )
        import replay_steps  # noqa: PLC0415
        import run_storage  # noqa: PLC0415
        import writing  # noqa: PLC0415
        from replay_manifest import read_manifest  # noqa: PLC0415
        from replay_settings import ReplaySettings  # noqa: PLC0415
        from streaming_common.settings import load_settings  # noqa: PLC0415

        settings = load_settings(ReplaySettings)
        now = int(time.time() * 1000)
        hour = time.strftime("year=%Y/month=%m/day=%d/hour=%H", time.gmtime(now / 1000))
        for index, body in enumerate(archive_objects(source, now - RECORDS)):
            s3.put_object(Bucket=archive, Key=f"data/{hour}/bench-{index}", Body=body)

        run_id = f"bench-{uuid.uuid4().hex[:8]}"
        request = {"runId": run_id, "from": now - RECORDS, "to": now + 1, "targetTopic": target}
        context = LocalLambdaContext("benchmark", 900_000)
        with contextlib.redirect_stdout(io.StringIO()):  # the steps' EMF metrics lines
            scoped = replay_steps.run({"step": "scope", "request": request}, context, settings)
            listed = json.loads(s3.get_object(Bucket=replay, Key=scoped["objectsKey"])["Body"].read())
            for item in listed:
                replay_steps.run(
                    {"step": "scan", "runId": run_id, "request": request, "object": item}, context, settings
                )
            found = replay_steps.run(
                {"step": "partitions", "runId": run_id, "request": request}, context, settings
            )
            for partition in found["partitions"]:
                replay_steps.run(
                    {"step": "merge", "runId": run_id, "request": request, "partition": partition},
                    context,
                    settings,
                )
            planned = replay_steps.run(
                {"step": "preflight", "runId": run_id, "request": request}, context, settings
            )
        assert planned["targetPartitions"] == [0], planned
        records = list(read_manifest(replay, run_storage.manifest_key(run_id, 0)))
        assert len(records) == RECORDS

        write_event = {"step": "write", "runId": run_id, "request": request, "targetPartition": 0}

        def one_worker() -> None:
            """A fresh writer of partition 0 (its checkpoint removed): the whole manifest, chunk by chunk."""
            s3.delete_object(Bucket=replay, Key=run_storage.checkpoint_key(run_id, 0))
            with contextlib.redirect_stdout(io.StringIO()):
                answer = writing.run_write(write_event, LocalLambdaContext("benchmark", 900_000), settings)
            assert answer["done"], answer
            assert answer["produced"] == RECORDS, answer

        bare = Producer({"bootstrap.servers": bootstrap} | writing.PRODUCER_SETTINGS)
        baseline_run = bare_producer(bare, baseline_topic, records)
        subject, baseline = compare(one_worker, baseline_run, rounds=9)
        fixed = statistics.median(_end_offset_seconds(writing, settings, run_id, target) for _ in range(3))
        report = profile(one_worker, top=25) if "--profile" in argv else ""
    size = sum(len(r.value or b"") + len(r.key or b"") for r in records) / len(records)
    print(
        f"replay: one worker writes {RECORDS} records of about {size:.0f} B (1 partition) per round, "
        f"broker {bootstrap}"
    )
    print(
        f"replay: run_write {RECORDS / subject:,.0f} records/s, "
        f"bare producer (same records, same settings, one flush) {RECORDS / baseline:,.0f} records/s"
    )
    print(f"replay: ratio {baseline / subject:.2f} (target >= {TARGET})")
    print(
        f"replay: of which fixed per invocation: the reader and the target's end offset {fixed:.2f} s "
        f"({fixed / subject:.0%} of a worker's round)"
    )
    print(report, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
