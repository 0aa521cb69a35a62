"""The `verify` step: read back what the writers produced and compare it with the plan, record by record.

For each target partition: the plan's records and their hash chain; the writer's checkpoint (produced and
acknowledged counts, target end offset before the replay) and the chain of the plan's records it acknowledged
(`writerHash`: the writer itself does not hash); the target's end offset now; the records read
back from the target between the writer's first and last offset (assign and seek, no group), their hash
chain, and how many of them are byte-identical to their planned record (key, value, headers, timestamp),
matched in order; the source-to-target offset map (runs/<id>/offset-map/<t>.json). The report goes to
report.json and report.md, whose totals line reads `replayed N of M records to <topic>, identical K`.

A dry run reports the plan only: what would be produced, nothing read from the target.

Verify resumes like write: each target partition's result is stored (runs/<id>/verify/<t>.json) with what it
was computed from (dry run or not, the planned count, the writer's checkpoint); with less than a minute of
the invocation left before a partition, it answers done=false and the state machine calls it again, which
reuses the stored results that still hold (same basis, and every planned record found) and verifies the
rest. One partition is verified within one call: the plan and the target read back once each.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import preflight
import run_storage
import writing
from record_hash import START, next_digest
from replay_manifest import PlannedRecord
from replay_request import parse_request
from replay_settings import ReplaySettings
from streaming_common.kafka_codec import KafkaRecord
from streaming_common.observability import logger

# Totals of the merge summaries the report adds up per source partition.
SUMMARY_COUNTS = ("inexactValues", "duplicatesDropped", "rejectedLines")


class ReplayIncomplete(Exception):  # noqa: N818 - Step Functions sees the class name as the error name
    """Verify found planned records that are not on the target byte for byte (the report says which)."""


class OffsetMap:
    """Source-to-target offset runs of one target partition: [sourcePartition, sourceStart, targetStart,
    count], consecutive records merged into one run."""

    def __init__(self) -> None:
        self.segments: list[list[int]] = []

    def add(self, source_partition: int, source_offset: int, target_offset: int) -> None:
        """Record that the source record landed at `target_offset`."""
        if self.segments:
            last = self.segments[-1]
            if (
                last[0] == source_partition
                and last[1] + last[3] == source_offset
                and last[2] + last[3] == target_offset
            ):
                last[3] += 1
                return
        self.segments.append([source_partition, source_offset, target_offset, 1])


class PartitionCheck:
    """The plan of one target partition, walked once: counts, first and last source offsets, hash chain, and
    the chain after its first `acknowledged` records (what the writer's checkpoint says it got in)."""

    def __init__(self, acknowledged: int = 0) -> None:
        self.planned = 0
        self.first_source: list[int] | None = None
        self.last_source: list[int] | None = None
        self.digest = bytes.fromhex(START)
        self.acknowledged = acknowledged
        self.acknowledged_digest: bytes | None = self.digest if acknowledged == 0 else None

    def count(self, records: Iterable[PlannedRecord]) -> Iterator[PlannedRecord]:
        """Pass `records` through, counting and chaining them."""
        for record in records:
            self.planned += 1
            self.digest = next_digest(self.digest, record)
            if self.planned == self.acknowledged:
                self.acknowledged_digest = self.digest
            if self.first_source is None:
                self.first_source = [record.partition, record.offset]
            self.last_source = [record.partition, record.offset]
            yield record


def compare(
    planned: Iterator[PlannedRecord], stored: Iterable[KafkaRecord], offset_map: OffsetMap
) -> dict[str, Any]:
    """Match the target's records against the plan in order (other records are foreign and skipped);
    the counts, the read-back hash chain and the first/last target offsets of the matched records."""
    pending = next(planned, None)
    digest = bytes.fromhex(START)
    read_back = identical = foreign = 0
    first_target: int | None = None
    last_target: int | None = None
    for record in stored:
        read_back += 1
        digest = next_digest(digest, record)
        if pending is not None and writing.same_record(pending, record):
            identical += 1
            offset_map.add(pending.partition, pending.offset, record.offset)
            first_target = record.offset if first_target is None else first_target
            last_target = record.offset
            pending = next(planned, None)
        else:
            foreign += 1
    for _rest in planned:  # the plan's remaining records still count towards its totals and chain
        pass
    return {
        "readBack": read_back,
        "identical": identical,
        "foreignRecords": foreign,
        "readBackHash": digest.hex(),
        "firstTargetOffset": first_target,
        "lastTargetOffset": last_target,
    }


def _verify_partition(
    settings: ReplaySettings, plan: dict[str, Any], target: int, dry_run: bool, checkpoint: writing.Checkpoint
) -> dict[str, Any]:
    bucket, run_id, topic = settings.replay_bucket_name, plan["runId"], plan["targetTopic"]
    check = PartitionCheck(checkpoint.next_index)
    planned = check.count(writing.planned_records(bucket, plan, target))
    row: dict[str, Any] = {"targetPartition": target}
    if dry_run:
        for _record in planned:
            pass
    else:
        offset_map = OffsetMap()
        consumer = writing.reader(settings, run_id)
        try:
            end_after = writing.end_offset(consumer, topic, target)
            stored = writing.read_range(
                consumer, topic, target, checkpoint.target_start_offset, checkpoint.target_next_offset
            )
            row |= compare(planned, stored, offset_map)
        finally:
            consumer.close()
        run_storage.put_json(
            bucket, run_storage.offset_map_key(run_id, target), {"segments": offset_map.segments}
        )
        row |= {
            "produced": checkpoint.produced,
            "acknowledged": checkpoint.produced,
            "writerDone": checkpoint.done,
            "writerHash": None if check.acknowledged_digest is None else check.acknowledged_digest.hex(),
            "endOffsetBefore": checkpoint.target_start_offset,
            "endOffsetAfter": end_after,
        }
    row |= {
        "planned": check.planned,
        "firstSource": check.first_source,
        "lastSource": check.last_source,
        "planHash": check.digest.hex(),
    }
    return row


def _basis(
    plan: dict[str, Any], target: int, dry_run: bool, checkpoint: writing.Checkpoint
) -> dict[str, Any]:
    """What a partition's result was computed from: it holds while none of this changes."""
    return {
        "dryRun": dry_run,
        "planned": plan.get("planned", {}).get(str(target)),
        "checkpoint": None if dry_run else checkpoint.to_json(),
    }


def _stored_row(bucket: str, run_id: str, target: int, basis: dict[str, Any]) -> dict[str, Any] | None:
    """A partition's result stored by an earlier call of this verify, when it still holds: the same basis,
    and (for a real run) every planned record found; None otherwise (the partition is verified again)."""
    stored = run_storage.find_json(bucket, run_storage.verified_partition_key(run_id, target))
    if stored is None or stored.get("basis") != basis:
        return None
    row: dict[str, Any] = stored["row"]
    if basis["dryRun"] or row.get("identical") == row.get("planned") == row.get("produced"):
        return row
    return None


def _partition_rows(
    settings: ReplaySettings, plan: dict[str, Any], dry_run: bool, time_left_ms: Callable[[], int]
) -> list[dict[str, Any]] | None:
    """Every target partition's result (stored ones reused); None when time ran short before the last."""
    bucket, run_id = settings.replay_bucket_name, plan["runId"]
    rows = []
    for target in plan["targetPartitions"]:
        checkpoint = None if dry_run else writing.load_checkpoint(bucket, run_id, target)
        if checkpoint is None:
            checkpoint = writing.Checkpoint(0, 0, 0, 0)
        basis = _basis(plan, target, dry_run, checkpoint)
        row = _stored_row(bucket, run_id, target, basis)
        if row is None:
            if time_left_ms() < writing.STOP_WHEN_LEFT_MS:
                return None
            row = _verify_partition(settings, plan, target, dry_run, checkpoint)
            key = run_storage.verified_partition_key(run_id, target)
            run_storage.put_json(bucket, key, {"basis": basis, "row": row})
        rows.append(row)
    return rows


def _source_rows(bucket: str, plan: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for source in plan["sourcePartitions"]:
        summary = run_storage.get_json(bucket, run_storage.summary_key(plan["runId"], source))
        rows.append(
            {
                "sourcePartition": source,
                "records": summary["records"],
                "firstOffset": summary.get("firstOffset"),
                "lastOffset": summary.get("lastOffset"),
                **{name: summary.get(name, 0) for name in SUMMARY_COUNTS},
                "conflicts": summary.get("conflicts", []),
            }
        )
    return rows


def totals_line(report: dict[str, Any]) -> str:
    """The report's one-line result."""
    totals = report["totals"]
    if report["dryRun"]:
        return f"dry run: would replay {totals['planned']} records to {report['targetTopic']}"
    return (
        f"replayed {totals['produced']} of {totals['planned']} records to {report['targetTopic']}, "
        f"identical {totals['identical']}"
    )


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ":".join(str(item) for item in value)
    return str(value)


def markdown(report: dict[str, Any]) -> str:
    """The report as Markdown: the totals line, a table per target partition, and the source partitions."""
    columns = ["targetPartition", "planned"]
    if not report["dryRun"]:
        columns += [
            "produced",
            "acknowledged",
            "identical",
            "foreignRecords",
            "endOffsetBefore",
            "endOffsetAfter",
            "firstTargetOffset",
            "lastTargetOffset",
        ]
    columns += ["firstSource", "lastSource", "planHash"] + ([] if report["dryRun"] else ["readBackHash"])
    lines = [
        f"# Replay {report['runId']}",
        "",
        totals_line(report),
        "",
        f"Source topic `{report['sourceTopic']}`, target topic `{report['targetTopic']}`, partition mode "
        f"{report['partitionMode']}. Sources are `partition:offset`; hashes are the sha256 chain over key, "
        "value, headers and timestamp.",
        "",
        "| " + " | ".join(columns) + " |",
        "| " + " | ".join("---" for _ in columns) + " |",
    ]
    lines += [
        "| " + " | ".join(_cell(row.get(name)) for name in columns) + " |" for row in report["partitions"]
    ]
    source_columns = ["sourcePartition", "records", "firstOffset", "lastOffset", *SUMMARY_COUNTS]
    lines += [
        "",
        "## Source partitions",
        "",
        "| " + " | ".join(source_columns) + " | conflicts |",
        "| " + " | ".join("---" for _ in source_columns) + " | --- |",
    ]
    lines += [
        "| " + " | ".join(_cell(row.get(name)) for name in source_columns) + f" | {len(row['conflicts'])} |"
        for row in report["sources"]
    ]
    return "\n".join(lines) + "\n"


def run_verify(event: dict[str, Any], context: Any, settings: ReplaySettings) -> dict[str, Any]:
    """Verify the target partitions not verified yet; when all are, write report.json, report.md and the
    offset maps and answer a small summary with done=true. With less than a minute left before a partition,
    answer done=false (the next call goes on). Raises ReplayIncomplete (after writing the report) when a
    planned record is not on the target byte for byte."""
    request = parse_request(event["request"], settings.source_topic)
    dry_run = bool(event.get("dryRun", request.dry_run))
    bucket = settings.replay_bucket_name
    plan = preflight.load_plan(bucket, request.run_id)
    rows = _partition_rows(settings, plan, dry_run, context.get_remaining_time_in_millis)
    if rows is None:
        return {"runId": request.run_id, "dryRun": dry_run, "done": False}
    sources = _source_rows(bucket, plan)
    totals = {
        name: sum(int(row.get(name) or 0) for row in rows)
        for name in ("planned", "produced", "acknowledged", "identical", "foreignRecords", "readBack")
    }
    totals |= {name: sum(int(row[name] or 0) for row in sources) for name in SUMMARY_COUNTS}
    totals["conflicts"] = sum(len(row["conflicts"]) for row in sources)
    report: dict[str, Any] = {
        "runId": request.run_id,
        "dryRun": dry_run,
        "sourceTopic": plan["sourceTopic"],
        "targetTopic": plan["targetTopic"],
        "partitionMode": plan["partitionMode"],
        "totals": totals,
        "partitions": rows,
        "sources": sources,
        "checks": plan["checks"],
    }
    # Complete: every planned record is on the target byte for byte (never for a dry run: it wrote nothing).
    report["complete"] = not dry_run and totals["identical"] == totals["planned"] == totals["produced"]
    report["line"] = totals_line(report)
    run_storage.put_text(bucket, run_storage.report_markdown_key(request.run_id), markdown(report))
    run_storage.put_json(bucket, run_storage.report_key(request.run_id), report)
    logger.info(report["line"], extra={"totals": totals})
    if not dry_run and not report["complete"]:
        raise ReplayIncomplete(f"{report['line']}: see {run_storage.report_key(request.run_id)}")
    return {
        "runId": request.run_id,
        "dryRun": dry_run,
        "done": True,
        "line": report["line"],
        "reportKey": run_storage.report_key(request.run_id),
        **{name: totals[name] for name in ("planned", "produced", "identical")},
    }
