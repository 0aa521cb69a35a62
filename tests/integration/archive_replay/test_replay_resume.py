"""A writer that dies mid-partition resumes with no duplicate and no gap; a writer short of time stops and
goes on; the same run id twice produces nothing; a dry run counts and produces nothing."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from confluent_kafka import Producer

import run_storage
import verification
import writing
from replay_manifest import planned_record, write_manifest
from streaming_common.kafka_codec import ArchivedRecord, KafkaRecord
from tests.functional.archive_replay.conftest import REPLAY_BUCKET
from tests.integration.archive_replay.conftest import KafkaReplay, content, hours_ago


def _records(topic: str, count: int) -> list[KafkaRecord]:
    base = hours_ago(2)
    return [
        KafkaRecord(
            topic, 0, index, base + index, "CREATE_TIME", f"key-{index % 7}".encode(), f"v{index}".encode()
        )
        for index in range(count)
    ]


def _settled_count(kafka_replay: KafkaReplay, topic: str) -> int:
    """The records in partition 0 once a dead writer's producer has delivered what it had queued."""
    counts = [len(kafka_replay.read(topic, 0))]
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        time.sleep(0.5)
        counts.append(len(kafka_replay.read(topic, 0)))
        if counts[-1] == counts[-2]:
            break
    return counts[-1]


def _preflown(
    kafka_replay: KafkaReplay, run_id: str, count: int
) -> tuple[list[KafkaRecord], str, dict[str, Any]]:
    """`count` records of source partition 0 archived, planned and preflown into a new 1-partition topic."""
    source, target = f"orders-{hours_ago(0)}", kafka_replay.topic(run_id, 1)
    records = _records(source, count)
    kafka_replay.world.archive(records)
    request = kafka_replay.request(run_id, source, target)
    kafka_replay.world.plan(request)
    run = {"runId": run_id, "request": request}
    assert kafka_replay.step("preflight", **run)["targetPartitions"] == [0]
    return records, target, run


class ShrinkingContext:
    """A Lambda context whose remaining time is read from a list, one entry per call (then the last)."""

    def __init__(self, remaining_ms: list[int]) -> None:
        self.remaining = remaining_ms
        self.function_name = "archive-replay"
        self.memory_limit_in_mb = 1024
        self.invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:archive-replay"
        self.aws_request_id = "00000000-0000-0000-0000-000000000001"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining.pop(0) if len(self.remaining) > 1 else self.remaining[0]


def test_failure_mid_partition_then_resume(
    kafka_replay: KafkaReplay, monkeypatch: pytest.MonkeyPatch
) -> None:
    records, target, run = _preflown(kafka_replay, "resume", 2_500)
    monkeypatch.setattr(writing, "CHUNK_RECORDS", 500)
    real_store = writing.store_checkpoint
    calls: list[int] = []

    def dies_after_second_chunk(bucket: str, run_id: str, partition: int, checkpoint: Any) -> None:
        calls.append(checkpoint.next_index)
        if checkpoint.next_index == 1_000 and calls.count(1_000) == 1:
            raise RuntimeError("the process died before its checkpoint")
        real_store(bucket, run_id, partition, checkpoint)

    monkeypatch.setattr(writing, "store_checkpoint", dies_after_second_chunk)
    with pytest.raises(RuntimeError, match="died before its checkpoint"):
        kafka_replay.step("write", targetPartition=0, **run)
    assert kafka_replay.run_file("resume", "checkpoints/0.json")["nextIndex"] == 500
    # The second chunk got in, its checkpoint did not; the third may be in too (chunks are pipelined).
    written = _settled_count(kafka_replay, target)
    assert written in {1_000, 1_500}
    foreign = Producer({"bootstrap.servers": kafka_replay.bootstrap})
    foreign.produce(target, b"someone else", b"foreign", partition=0)  # value, key
    foreign.flush(10)

    answer = kafka_replay.step("write", targetPartition=0, **run)

    assert answer == {"targetPartition": 0, "done": True, "produced": 2_500, "nextIndex": 2_500}
    stored = kafka_replay.read(target, 0)
    replayed = [record for record in stored if record.key != b"foreign"]
    assert [content(record) for record in replayed] == [content(record) for record in records]
    assert [record.offset for record in stored if record.key == b"foreign"] == [written]
    checkpoint = kafka_replay.run_file("resume", "checkpoints/0.json")
    assert checkpoint["foreignRecords"] == 1
    assert checkpoint["targetNextOffset"] == 2_501
    verify = kafka_replay.step("verify", dryRun=False, **run)
    assert verify["line"] == f"replayed 2500 of 2500 records to {target}, identical 2500"
    offset_map = kafka_replay.run_file("resume", "offset-map/0.json")
    assert offset_map == {"segments": [[0, 0, 0, written], [0, written, written + 1, 2_500 - written]]}


def test_short_of_time_stops_and_goes_on(
    kafka_replay: KafkaReplay, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    records, target, run = _preflown(kafka_replay, "loop", 1_200)
    monkeypatch.setattr(writing, "CHUNK_RECORDS", 500)

    first = kafka_replay.step("write", ShrinkingContext([120_000, 59_999]), targetPartition=0, **run)
    second = kafka_replay.step("write", ShrinkingContext([59_999]), targetPartition=0, **run)
    third = kafka_replay.step("write", ShrinkingContext([120_000]), targetPartition=0, **run)

    assert (first["done"], first["produced"]) == (False, 500)
    assert (second["done"], second["produced"]) == (False, 500)
    assert (third["done"], third["produced"]) == (True, 1_200)
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "RecordsReplayed" in line]
    sizes = [len(record.key or b"") + len(record.value or b"") for record in records]
    assert [(m["RecordsReplayed"], m["BytesReplayed"]) for m in emitted] == [
        ([500.0], [float(sum(sizes[:500]))]),
        ([0.0], [0.0]),
        ([700.0], [float(sum(sizes[500:]))]),
    ]
    assert [content(record) for record in kafka_replay.read(target, 0)] == [content(r) for r in records]


def test_verify_short_of_time_stops_and_goes_on_from_its_partition_results(
    kafka_replay: KafkaReplay, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, target = f"orders-{hours_ago(0)}", kafka_replay.topic("verify-loop", 2)
    records = [record._replace(partition=record.offset % 2) for record in _records(source, 20)]
    kafka_replay.world.archive(records)
    request = kafka_replay.request("verify-loop", source, target)
    kafka_replay.world.plan(request)
    run = {"runId": "verify-loop", "request": request}
    assert kafka_replay.step("preflight", **run)["targetPartitions"] == [0, 1]
    kafka_replay.write_all(request, [0, 1])
    verified: list[int] = []
    real_verify = verification._verify_partition

    def counted(*args: Any) -> dict[str, Any]:
        verified.append(args[2])
        return real_verify(*args)

    monkeypatch.setattr(verification, "_verify_partition", counted)

    first = kafka_replay.step("verify", ShrinkingContext([120_000, 59_999]), **run)

    assert first == {"runId": "verify-loop", "dryRun": False, "done": False}
    assert verified == [0]
    assert not kafka_replay.world.keys("runs/verify-loop/report", bucket=REPLAY_BUCKET)
    second = kafka_replay.step("verify", ShrinkingContext([120_000]), **run)
    assert second["done"] is True
    assert second["line"] == f"replayed 20 of 20 records to {target}, identical 20"
    assert verified == [0, 1]  # partition 0's result reused
    assert kafka_replay.run_file("verify-loop", "report.json")["complete"] is True

    checkpoint_key = run_storage.checkpoint_key("verify-loop", 1)
    checkpoint = kafka_replay.run_file("verify-loop", "checkpoints/1.json") | {"foreignRecords": 1}
    run_storage.put_json(REPLAY_BUCKET, checkpoint_key, checkpoint)  # a changed basis: verified again
    assert kafka_replay.step("verify", **run)["done"] is True
    assert verified == [0, 1, 1]


def test_same_run_id_twice_produces_nothing(kafka_replay: KafkaReplay) -> None:
    source, target = f"orders-{hours_ago(0)}", kafka_replay.topic("twice", 1)
    kafka_replay.world.archive(_records(source, 30))
    request = kafka_replay.request("twice", source, target)
    first = kafka_replay.replay(request)
    assert first["verify"]["identical"] == 30

    assert kafka_replay.step("scope", request=request)["alreadyComplete"] is True
    again = kafka_replay.step("write", runId="twice", request=request, targetPartition=0)

    assert again == {"targetPartition": 0, "done": True, "produced": 30, "nextIndex": 30}
    assert len(kafka_replay.read(target, 0)) == 30


def test_dry_run_counts_and_produces_nothing(kafka_replay: KafkaReplay) -> None:
    source, target = f"orders-{hours_ago(0)}", kafka_replay.topic("dry", 2)
    records = _records(source, 40) + [
        KafkaRecord(source, 1, offset, hours_ago(1), "CREATE_TIME", None, b"x") for offset in range(3)
    ]
    kafka_replay.world.archive(records)
    request = kafka_replay.request("dry", source, target, dryRun=True)

    outputs = kafka_replay.replay(request)

    assert outputs["verify"]["line"] == f"dry run: would replay 43 records to {target}"
    report = kafka_replay.run_file("dry", "report.json")
    assert {row["targetPartition"]: row["planned"] for row in report["partitions"]} == {0: 40, 1: 3}
    assert "produced" not in report["partitions"][0]
    assert report["complete"] is False
    assert kafka_replay.read(target, 0) == []
    assert kafka_replay.read(target, 1) == []
    assert not kafka_replay.world.keys("runs/dry/checkpoints/", bucket="local-replaybucket")


def test_verify_reports_a_planned_record_missing_from_the_target(kafka_replay: KafkaReplay) -> None:
    records, _target, run = _preflown(kafka_replay, "gap", 5)
    kafka_replay.step("write", targetPartition=0, **run)
    missing = records[-1]._replace(offset=99, value=b"never written")
    planned = [*kafka_replay.world.manifest("gap", 0), planned_record(ArchivedRecord(missing, True))]
    write_manifest(REPLAY_BUCKET, run_storage.manifest_key("gap", 0), planned)

    with pytest.raises(verification.ReplayIncomplete, match="replayed 5 of 6 records"):
        kafka_replay.step("verify", dryRun=False, **run)

    report = kafka_replay.run_file("gap", "report.json")
    assert report["complete"] is False
    (row,) = report["partitions"]
    assert (row["planned"], row["produced"], row["identical"], row["readBack"]) == (6, 5, 5, 5)
    assert row["planHash"] != row["readBackHash"]
    assert row["writerHash"] == row["readBackHash"]  # the chain of the 5 planned records it acknowledged
