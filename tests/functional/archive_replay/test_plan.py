"""The replay's plan steps (scope, scan, partitions, merge) through the handler, over an archive the real
forwarder wrote through moto's Firehose: time range and arrival margin, oversize records, partition and key
filters, at-least-once duplicates and conflicts, lines that are not archive lines, plain and gzip objects,
lines written before verbatim values, a run id used twice."""

from __future__ import annotations

import base64
import gzip
import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest

import planning
from replay_manifest import PlannedRecord, planned_record
from replay_steps import UnknownStepError
from run_storage import MissingObjectError
from streaming_common.kafka_codec import KafkaRecord, read_archive_line, to_archive_line
from tests.functional.archive_replay.conftest import REPLAY_BUCKET, TOPIC, ReplayWorld

HOUR_MS = 3_600_000


@pytest.fixture
def base_ms() -> int:
    """Record timestamps start three hours before now: they arrive in the archive three hours late."""
    return int(time.time() * 1000) - 3 * HOUR_MS


def _record(partition: int, offset: int, timestamp: int, **fields: Any) -> KafkaRecord:
    defaults: dict[str, Any] = {
        "key": f"k-{offset % 3}".encode(),
        "value": b'{"order": %d,  "amount": 1.50}' % offset,
        "headers": (("source", b"web"), ("source", b"app"), ("trace", None)),
    }
    return KafkaRecord(TOPIC, partition, offset, timestamp, **(defaults | fields))


def _line(record: KafkaRecord) -> bytes:
    return to_archive_line(record).rstrip(b"\n")


def _planned(lines: list[bytes]) -> list[PlannedRecord]:
    """What a manifest holds for these archive lines: each record's bytes as the line gives them back."""
    return [planned_record(read_archive_line(line)) for line in lines]


def _request(run_id: str, base_ms: int, **fields: Any) -> dict[str, Any]:
    return {"runId": run_id, "from": base_ms - 60_000, "to": base_ms + 600_000} | fields


def _archive_hour(world: ReplayWorld) -> str:
    return world.keys("data/")[0].rsplit("/", 1)[0]


def test_a_late_record_is_found_within_the_margin_and_one_outside_the_range_is_not(
    world: ReplayWorld, base_ms: int
) -> None:
    inside = [
        _record(partition, offset, base_ms + offset * 1000) for partition in (0, 1) for offset in range(5)
    ]
    after_to = _record(0, 5, base_ms + 2 * HOUR_MS)
    before_from = _record(1, 5, base_ms - 2 * HOUR_MS)
    world.archive([*inside, after_to, before_from])

    plan = world.plan(_request("late", base_ms))

    assert plan["scope"]["objects"] == len(world.keys("data/")) >= 1
    assert plan["partitions"] == [0, 1]
    for partition in (0, 1):
        expected = [_line(r) for r in inside if r.partition == partition]
        assert world.manifest("late", partition) == _planned(expected)  # the archive's bytes, in offset order
    summary = plan["summaries"][0]
    assert summary == {
        "partition": 0,
        "records": 5,
        "firstOffset": 0,
        "lastOffset": 4,
        "minTimestamp": base_ms,
        "maxTimestamp": base_ms + 4000,
        "maxRecordBytes": 3 + len(b'{"order": 0,  "amount": 1.50}') + len(b"sourcewebsourceapptrace"),
        "inexactValues": 0,
        "duplicatesDropped": 0,
        "conflictCount": 0,
        "conflicts": [],
        "rejectedLines": 0,
    }
    stored = world.s3.get_object(Bucket=REPLAY_BUCKET, Key="runs/late/manifests/0.summary.json")["Body"]
    assert json.loads(stored.read()) == summary
    assert sum(scan["lines"] for scan in plan["scans"]) == 12
    assert sum(scan["matched"] for scan in plan["scans"]) == 10

    # Without a margin the arrival hour (now) is not listed: the margin is what finds late records.
    no_margin = world.plan(_request("no-margin", base_ms, arrivalMarginHours=0))
    assert (no_margin["scope"]["objects"], no_margin["partitions"]) == (0, [])


def test_a_record_that_arrived_before_its_timestamp_hour_is_found(world: ReplayWorld) -> None:
    """A producer clock ahead of Firehose's: the object's arrival hour is before the record's timestamp."""
    future_ms = int(time.time() * 1000) + 50 * 60_000
    world.archive([_record(0, 0, future_ms)])
    plan = world.plan({"runId": "ahead", "from": future_ms - 1000, "to": future_ms + 1000})
    assert plan["summaries"][0]["records"] == 1


def test_oversize_records_are_planned(world: ReplayWorld, base_ms: int) -> None:
    big = _record(2, 7, base_ms, value=b"\x00" + b"x" * 1_100_000)
    world.archive([big, _record(2, 8, base_ms + 1)])
    assert world.keys("oversize/") == [f"oversize/{TOPIC}/2/7.json"]

    plan = world.plan(_request("oversize", base_ms))

    assert world.manifest("oversize", 2) == _planned([_line(big), _line(_record(2, 8, base_ms + 1))])
    assert plan["summaries"][2]["maxRecordBytes"] > 1_100_000


def test_partition_and_key_filters(world: ReplayWorld, base_ms: int) -> None:
    records = [_record(partition, offset, base_ms + offset) for partition in (0, 1, 2) for offset in range(6)]
    binary = _record(1, 6, base_ms + 6, key=b"\xff\x00")
    null_key = _record(1, 7, base_ms + 7, key=None)
    world.archive([*records, binary, null_key])

    plan = world.plan(_request("filters", base_ms, partitions=[1, 2], keys=["k-1"], keysBase64=["/wA="]))

    assert plan["partitions"] == [1, 2]
    assert world.manifest("filters", 1) == _planned(
        [_line(_record(1, o, base_ms + o)) for o in (1, 4)] + [_line(binary)]
    )
    assert [record.offset for record in world.manifest("filters", 2)] == [1, 4]


def test_duplicates_are_dropped_and_conflicts_listed(world: ReplayWorld, base_ms: int) -> None:
    batch = [_record(0, offset, base_ms + offset) for offset in range(4)]
    first = world.archive(batch)
    world.archive(batch[1:3])  # Lambda sent part of the batch again: Firehose holds those lines twice
    hour = _archive_hour(world)
    different = _record(0, 3, base_ms + 3, value=b'{"order": 3, "amount": 2}')
    conflicting_key = f"{hour}/zz-later-object"
    world.put_object(conflicting_key, [_line(different)])

    plan = world.plan(_request("dups", base_ms))

    assert world.manifest("dups", 0) == _planned([_line(r) for r in batch])
    summary = plan["summaries"][0]
    assert (summary["records"], summary["duplicatesDropped"], summary["conflictCount"]) == (4, 2, 1)
    assert summary["conflicts"] == [{"offset": 3, "keptObject": first[0], "droppedObject": conflicting_key}]


def test_identical_records_in_different_bytes_are_duplicates(world: ReplayWorld, base_ms: int) -> None:
    """The same record written by two forwarder versions: the line's fields in another order."""
    record = _record(0, 0, base_ms, value=b"\x01binary")
    line = _line(record)
    document = json.loads(line)
    reordered = json.dumps(dict(reversed(list(document.items()))), separators=(",", ":")).encode()
    assert reordered != line
    world.archive([record])
    world.put_object(f"{_archive_hour(world)}/zz-other", [reordered])

    summary = world.plan(_request("same", base_ms))["summaries"][0]

    assert (summary["records"], summary["duplicatesDropped"], summary["conflictCount"]) == (1, 1, 0)


def test_lines_that_are_not_archive_lines_are_counted_and_kept(world: ReplayWorld, base_ms: int) -> None:
    world.archive([_record(0, 0, base_ms)])
    key = f"{_archive_hour(world)}/zz-damaged"
    bad_offset = b'{"topic":"orders","partition":0,"offset":"x","timestamp":1}'
    world.put_object(key, [b"not json", b"", bad_offset, _line(_record(0, 1, base_ms + 1))], compress=True)

    plan = world.plan(_request("rejects", base_ms))

    scans = {scan["object"]["Key"]: scan for scan in plan["scans"]}
    assert (scans[key]["lines"], scans[key]["matched"], scans[key]["rejected"]) == (3, 1, 2)
    assert plan["summaries"][0]["records"] == 2
    assert plan["summaries"][0]["rejectedLines"] == 1  # the line that names partition 0
    assert planning.count_rejected_lines(REPLAY_BUCKET, "rejects") == 2
    stored = world.s3.get_object(
        Bucket=REPLAY_BUCKET, Key=world.keys("runs/rejects/rejected/", REPLAY_BUCKET)[0]
    )
    rejected = [json.loads(line) for line in stored["Body"].read().splitlines()]
    assert [(r["objectKey"], r["line"], r["partition"]) for r in rejected] == [(key, 1, None), (key, 3, 0)]
    assert [base64.b64decode(r["contentBase64"]) for r in rejected] == [b"not json", bad_offset]
    assert "not JSON" in rejected[0]["error"]
    assert "offset" in rejected[1]["error"]


def test_plain_and_gzip_objects_give_the_same_plan(world: ReplayWorld, base_ms: int) -> None:
    plain = [_record(0, offset, base_ms + offset) for offset in range(0, 6, 2)]
    gzipped = [_record(0, offset, base_ms + offset) for offset in range(1, 6, 2)]
    plain_keys = world.archive(plain, compress=False)
    world.archive(gzipped)
    body = world.s3.get_object(Bucket=world.archive_bucket, Key=plain_keys[0])["Body"].read()
    assert not body.startswith(b"\x1f\x8b")

    plan = world.plan(_request("mixed", base_ms))

    assert world.manifest("mixed", 0) == _planned([_line(_record(0, o, base_ms + o)) for o in range(6)])
    assert plan["summaries"][0]["records"] == 6


def test_lines_written_before_verbatim_values_are_counted_inexact(world: ReplayWorld, base_ms: int) -> None:
    old = (
        b'{"topic":"orders","partition":0,"offset":0,"timestamp":%d,"timestampType":"CREATE_TIME",'
        b'"key":"k","headers":[],"value":{"amount":1.5}}' % base_ms
    )
    world.archive([_record(0, 1, base_ms + 1)])
    world.put_object(f"{_archive_hour(world)}/old-forwarder", [old])
    world.put_object("data/year=2001/month=01/day=01/hour=00/old", [old])  # outside the range: not listed

    plan = world.plan(_request("old", base_ms))

    assert world.manifest("old", 0) == _planned([old, _line(_record(0, 1, base_ms + 1))])
    assert [record.value_exact for record in world.manifest("old", 0)] == [False, True]
    assert plan["summaries"][0]["inexactValues"] == 1
    assert all("year=2001" not in scan["object"]["Key"] for scan in plan["scans"])


def test_an_empty_range_plans_no_partition(world: ReplayWorld, base_ms: int) -> None:
    world.archive([_record(0, 0, base_ms)])
    month_ago = base_ms - 30 * 24 * HOUR_MS
    plan = world.plan({"runId": "empty", "from": month_ago, "to": month_ago + HOUR_MS})
    assert (plan["scope"]["objects"], plan["partitions"], plan["summaries"]) == (0, [], {})


def test_a_run_id_is_one_request_and_a_reported_run_is_complete(world: ReplayWorld, base_ms: int) -> None:
    world.archive([_record(0, 0, base_ms)])
    request = _request("once", base_ms)
    first = world.plan(request)["scope"]

    iso_from = datetime.fromtimestamp(request["from"] / 1000, UTC).isoformat()
    again = world.step("scope", request=request | {"from": iso_from})  # the same request resumes
    assert again == first

    with pytest.raises(planning.RunIdConflictError, match="once"):
        world.step("scope", request=request | {"partitions": [0]})

    dry = world.step("scope", request=request | {"dryRun": True})  # a dry run first, then the real one
    assert dry["alreadyComplete"] is False

    for unfinished in ({"complete": False, "dryRun": True}, {"complete": False, "dryRun": False}):
        world.s3.put_object(Bucket=REPLAY_BUCKET, Key="runs/once/report.json", Body=json.dumps(unfinished))
        assert world.step("scope", request=request)["alreadyComplete"] is False

    world.s3.put_object(Bucket=REPLAY_BUCKET, Key="runs/once/report.json", Body=b'{"complete": true}')
    done = world.step("scope", request=request)
    assert (done["alreadyComplete"], done["objects"]) == (True, 0)
    stored = world.s3.get_object(Bucket=REPLAY_BUCKET, Key="runs/once/request.json")["Body"].read()
    assert json.loads(stored) == first["request"]


def test_scan_sorts_beyond_its_memory_budget_and_merge_fans_in(
    world: ReplayWorld, base_ms: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Out-of-order lines in one object spill sorted runs (a 1-byte budget spills every line); many parts
    merge through intermediate runs (fan-in 2)."""
    offsets = [5, 3, 9, 1, 7, 3, 0]
    hour = "data/year=2026/month=11/day=25/hour=10"
    world.put_object(f"{hour}/shuffled", [_line(_record(0, o, base_ms + o)) for o in offsets], compress=True)
    request = planning.parse_request(_request("spill", base_ms), TOPIC)
    result = planning.scan_object(world.archive_bucket, REPLAY_BUCKET, f"{hour}/shuffled", request, 1)
    assert (result.matched, result.partitions) == (7, {0: 7})
    part = world.keys("runs/spill/parts/0/", REPLAY_BUCKET)[0]
    lines = gzip.decompress(world.s3.get_object(Bucket=REPLAY_BUCKET, Key=part)["Body"].read()).splitlines()
    assert [read_archive_line(line).record.offset for line in lines] == sorted(offsets)

    more = [list(range(index, 12, 2)) for index in range(5)]
    for index, part_offsets in enumerate(more):
        key = f"{hour}/more-{index}"
        world.put_object(key, [_line(_record(0, o, base_ms + o)) for o in part_offsets])
        planning.scan_object(world.archive_bucket, REPLAY_BUCKET, key, request)
    monkeypatch.setattr(planning, "MERGE_FAN_IN", 2)
    summary = planning.merge_partition(REPLAY_BUCKET, "spill", 0)
    assert [record.offset for record in world.manifest("spill", 0)] == list(range(12))
    assert summary.records == 12
    assert summary.duplicates_dropped == len(offsets) + sum(map(len, more)) - 12  # all but one per offset


def test_scan_and_merge_emit_their_metrics(
    world: ReplayWorld, base_ms: int, capsys: pytest.CaptureFixture[str]
) -> None:
    world.archive([_record(0, 0, base_ms), _record(0, 0, base_ms)])
    capsys.readouterr()
    world.plan(_request("metrics", base_ms))
    emitted: dict[str, float] = {}
    for line in capsys.readouterr().out.splitlines():
        if line.startswith("{") and "_aws" in line:
            document = json.loads(line)
            for metric in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
                value = document[metric["Name"]]
                emitted[metric["Name"]] = emitted.get(metric["Name"], 0) + sum(
                    value if isinstance(value, list) else [value]
                )
    assert emitted == {
        "ArchiveObjectsListed": 1,
        "ArchiveObjectsScanned": 1,
        "ArchiveLinesMatched": 2,
        "ArchiveLinesRejected": 0,
        "PartitionsPlanned": 1,
        "DuplicatesDropped": 1,
    }


def test_bad_events_are_named(world: ReplayWorld, base_ms: int) -> None:
    with pytest.raises(UnknownStepError, match="step"):
        world.step("plan")
    run = {"runId": "bad", "request": _request("bad", base_ms)}
    with pytest.raises(ValueError, match="object"):
        world.step("scan", object="data/x", **run)
    with pytest.raises(MissingObjectError, match="data/gone"):
        world.step("scan", object={"Key": "data/gone"}, **run)
    with pytest.raises(ValueError, match="partition"):
        world.step("merge", partition="0", **run)
    with pytest.raises(ValueError, match="maxConcurrency"):
        world.step("scope", request=_request("bad", base_ms, maxConcurrency=99))


def test_intermediate_run_files_carry_the_lifecycle_tag(world: ReplayWorld, base_ms: int) -> None:
    """parts/, manifests/ and rejected/ expire by the bucket's lifecycle rule; the request and the object
    list stay."""
    world.archive([_record(0, 0, base_ms)])
    world.put_object(f"{_archive_hour(world)}/zz-damaged", [b"not json"])
    world.plan(_request("tags", base_ms))

    def tags(key: str) -> list[dict[str, str]]:
        return list(world.s3.get_object_tagging(Bucket=REPLAY_BUCKET, Key=key)["TagSet"])

    files = world.keys("runs/tags/", REPLAY_BUCKET)
    folders = {key.split("/")[2] for key in files}
    assert folders == {"request.json", "objects.json", "parts", "manifests", "rejected"}
    for key in files:
        intermediate = key.split("/")[2] in {"parts", "manifests", "rejected"}
        assert tags(key) == ([{"Key": "replay-file", "Value": "intermediate"}] if intermediate else []), key
