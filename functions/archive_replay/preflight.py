"""The `preflight` step: check the target topic against the plan before anything is produced, decide which
target partition each record goes to, and store the result as plan.json.

Refusals (PreflightRefused, each naming the observed and the required value): the target topic does not
exist; preserve mode and fewer target partitions than the highest planned source partition + 1;
`max.message.bytes` below the largest planned record plus its framing; `message.timestamp.type` LogAppendTime;
`retention.ms` shorter than the oldest planned record's age; a timestamp of 0 or below (librdkafka sends 0
as "now"); a `message.timestamp.before.max.ms` (or the older
`message.timestamp.difference.max.ms`) the oldest record exceeds.

A topic config the broker does not answer is read from the broker's own config, and failing that taken as
Apache Kafka's documented default; plan.json records where every value came from.
"""

from __future__ import annotations

import heapq
import struct
import time
from collections.abc import Iterator
from functools import cache
from typing import Any

from confluent_kafka.admin import (  # type: ignore[attr-defined] # imported there without an explicit re-export
    AdminClient,
    ConfigResource,
    ResourceType,
)

import run_storage
from replay_manifest import PlannedRecord, read_manifest
from replay_request import PartitionMode, ReplayRequest, parse_request
from replay_settings import ReplaySettings
from streaming_common.kafka_config import client_config
from streaming_common.observability import logger

ADMIN_TIMEOUT_SECONDS = 15.0
# A record batch's header (61 bytes) and a record's own framing (at most 36 bytes of varints and attributes)
# plus 10 bytes of lengths per header; 1 KiB covers a record with up to 90 headers.
RECORD_FRAMING_BYTES = 1024

# Apache Kafka's documented defaults (https://kafka.apache.org/documentation/#topicconfigs), used only for a
# config neither the topic nor the broker answers (Tansu answers only the configs a topic was created with).
KAFKA_DEFAULTS = {
    "max.message.bytes": "1048588",
    "message.timestamp.type": "CreateTime",
    "retention.ms": "604800000",
}
# The broker-level name of each topic config, read when the topic does not answer it.
BROKER_CONFIG_NAMES = {
    "max.message.bytes": "message.max.bytes",
    "message.timestamp.type": "log.message.timestamp.type",
    "retention.ms": "log.retention.ms",
    "message.timestamp.before.max.ms": "log.message.timestamp.before.max.ms",
    "message.timestamp.difference.max.ms": "log.message.timestamp.difference.max.ms",
}
NO_LIMIT = -1


class PreflightRefused(Exception):  # noqa: N818 - Step Functions sees the class name as the error name
    """The target cannot take the planned records as they are; the message names observed and required."""


# ---------------------------------------------------------------- Kafka's default partitioner


_MURMUR_SEED = 0x9747B28C
_MURMUR_M = 0x5BD1E995
_MASK = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 hash of `data` (the Java client's `Utils.murmur2`), as an unsigned 32-bit integer."""
    length = len(data)
    hashed = (_MURMUR_SEED ^ length) & _MASK
    whole = length // 4
    for block in struct.unpack_from(f"<{whole}I", data):
        mixed = (block * _MURMUR_M) & _MASK
        mixed ^= mixed >> 24
        hashed = ((hashed * _MURMUR_M) & _MASK) ^ ((mixed * _MURMUR_M) & _MASK)
    tail = data[whole * 4 :]
    if len(tail) == 3:
        hashed ^= tail[2] << 16
    if len(tail) >= 2:
        hashed ^= tail[1] << 8
    if tail:
        hashed = ((hashed ^ tail[0]) * _MURMUR_M) & _MASK
    hashed ^= hashed >> 13
    hashed = (hashed * _MURMUR_M) & _MASK
    return hashed ^ (hashed >> 15)


def key_hash_partition(key: bytes | None, source_partition: int, partitions: int) -> int:
    """The target partition in keyHash mode: Kafka's default partitioner, `murmur2(key) & 0x7fffffff %
    partitions` (where a Java producer puts the key); a null key keeps its source partition % partitions."""
    if key is None:
        return source_partition % partitions
    return (murmur2(key) & 0x7FFFFFFF) % partitions


# ---------------------------------------------------------------- the plan's records


def manifest_records(bucket: str, run_id: str, source_partition: int) -> Iterator[PlannedRecord]:
    """The records of a source partition's manifest, in offset order."""
    return read_manifest(bucket, run_storage.manifest_key(run_id, source_partition))


def _merge_order(record: PlannedRecord) -> tuple[int, int, int]:
    return record.timestamp, record.partition, record.offset


def merged_records(bucket: str, run_id: str, source_partitions: list[int]) -> Iterator[PlannedRecord]:
    """Every manifest's records merged by (timestamp, source partition, source offset): each partition's
    records keep their offset order, and the interleaving is the same on every pass."""
    return heapq.merge(
        *(manifest_records(bucket, run_id, partition) for partition in source_partitions), key=_merge_order
    )


def load_plan(bucket: str, run_id: str) -> dict[str, Any]:
    """The run's plan.json (written by preflight)."""
    plan: dict[str, Any] = run_storage.get_json(bucket, run_storage.plan_key(run_id))
    return plan


def source_partitions(bucket: str, run_id: str) -> list[int]:
    """The source partitions that have a plan (the ones scan found lines for), in order."""
    return sorted(int(name) for name in run_storage.list_folders(bucket, run_storage.parts_prefix(run_id)))


# ---------------------------------------------------------------- the target's topic


@cache
def admin_client(settings: ReplaySettings) -> AdminClient:
    """The container's AdminClient on the target cluster."""
    return AdminClient(client_config(settings))


def _topic_partitions(admin: AdminClient, topic: str) -> int | None:
    # Every topic's metadata: asking for the one topic lets a broker that auto-creates topics make it.
    metadata = admin.list_topics(timeout=ADMIN_TIMEOUT_SECONDS)
    described = metadata.topics.get(topic)
    if described is None or described.error is not None or not described.partitions:
        return None
    return len(described.partitions)


def _describe(admin: AdminClient, resource: ConfigResource) -> dict[str, str]:
    (future,) = admin.describe_configs([resource]).values()
    entries = future.result(ADMIN_TIMEOUT_SECONDS)
    return {name: entry.value for name, entry in entries.items() if entry.value is not None}


def topic_configs(admin: AdminClient, topic: str) -> dict[str, dict[str, str]]:
    """The target topic's configs preflight checks: {name: {"value", "source"}}, where source is "topic",
    "broker <id>" or "Kafka default" (neither answered)."""
    answered = _describe(admin, ConfigResource(ResourceType.TOPIC, topic))
    missing = [name for name in BROKER_CONFIG_NAMES if name not in answered]
    broker_answer: dict[str, str] = {}
    broker_id = ""
    if missing:
        broker_id = str(next(iter(admin.list_topics(timeout=ADMIN_TIMEOUT_SECONDS).brokers)))
        broker_answer = _describe(admin, ConfigResource(ResourceType.BROKER, broker_id))
    configs: dict[str, dict[str, str]] = {}
    for name, broker_name in BROKER_CONFIG_NAMES.items():
        if name in answered:
            configs[name] = {"value": answered[name], "source": "topic"}
        elif broker_name in broker_answer:
            configs[name] = {"value": broker_answer[broker_name], "source": f"broker {broker_id}"}
        elif name == "retention.ms" and "log.retention.hours" in broker_answer:
            hours = int(broker_answer["log.retention.hours"])
            configs[name] = {
                "value": str(hours * 3_600_000),
                "source": f"broker {broker_id} log.retention.hours",
            }
        elif name in KAFKA_DEFAULTS:
            configs[name] = {"value": KAFKA_DEFAULTS[name], "source": "Kafka default (not answered)"}
    return configs


# ---------------------------------------------------------------- checks


def _check(
    checks: list[dict[str, Any]], name: str, *, ok: bool, observed: Any, required: str, message: str
) -> None:
    checks.append({"check": name, "ok": ok, "observed": observed, "required": required, "message": message})


def _config_checks(
    configs: dict[str, dict[str, str]], topic: str, max_record_bytes: int, oldest_age_ms: int | None
) -> list[dict[str, Any]]:
    checks: list[dict[str, Any]] = []
    size = configs["max.message.bytes"]
    required_bytes = max_record_bytes + RECORD_FRAMING_BYTES
    _check(
        checks,
        "max.message.bytes",
        ok=int(size["value"]) >= required_bytes,
        observed={
            "max.message.bytes": int(size["value"]),
            "source": size["source"],
            "largestRecordBytes": max_record_bytes,
        },
        required=f">= {required_bytes}",
        message=(
            f"target topic {topic}: max.message.bytes is {size['value']} ({size['source']}), the largest "
            "planned "
            f"record is {max_record_bytes} bytes: it needs at least {required_bytes} (record plus "
            f"{RECORD_FRAMING_BYTES} bytes of batch framing)"
        ),
    )
    stamp = configs["message.timestamp.type"]
    _check(
        checks,
        "message.timestamp.type",
        ok=stamp["value"] != "LogAppendTime",
        observed={"message.timestamp.type": stamp["value"], "source": stamp["source"]},
        required="CreateTime",
        message=(
            f"target topic {topic}: message.timestamp.type is {stamp['value']} ({stamp['source']}): the "
            "broker "
            "would replace every record's timestamp; it must be CreateTime"
        ),
    )
    if oldest_age_ms is None:
        return checks
    retention = configs["retention.ms"]
    retention_ms = int(retention["value"])
    _check(
        checks,
        "retention.ms",
        ok=retention_ms == NO_LIMIT or retention_ms > oldest_age_ms,
        observed={
            "retention.ms": retention_ms,
            "source": retention["source"],
            "oldestRecordAgeMs": oldest_age_ms,
        },
        required=f"-1 or > {oldest_age_ms}",
        message=(
            f"target topic {topic}: retention.ms is {retention_ms} ({retention['source']}), the oldest "
            "planned "
            f"record is {oldest_age_ms} ms old: it would be deleted at once; retention.ms must be -1 or "
            "above "
            f"{oldest_age_ms}"
        ),
    )
    for name in ("message.timestamp.before.max.ms", "message.timestamp.difference.max.ms"):
        if name in configs:
            limit = int(configs[name]["value"])
            _check(
                checks,
                name,
                ok=limit >= oldest_age_ms,
                observed={name: limit, "source": configs[name]["source"], "oldestRecordAgeMs": oldest_age_ms},
                required=f">= {oldest_age_ms}",
                message=(
                    f"target topic {topic}: {name} is {limit} ({configs[name]['source']}), the oldest "
                    "planned "
                    f"record is {oldest_age_ms} ms old: the broker would refuse it; it must be at least "
                    f"{oldest_age_ms}"
                ),
            )
    return checks


def _assignment(
    bucket: str, request: ReplayRequest, summaries: dict[int, dict[str, Any]], partitions: int
) -> dict[int, int]:
    """Planned records per target partition."""
    with_records = [source for source, summary in summaries.items() if summary["records"]]
    if request.partition_mode is PartitionMode.PRESERVE:
        return {source: int(summaries[source]["records"]) for source in with_records}
    counts: dict[int, int] = {}
    for record in merged_records(bucket, request.run_id, with_records):
        target = key_hash_partition(record.key, record.partition, partitions)
        counts[target] = counts.get(target, 0) + 1
    return dict(sorted(counts.items()))


def _per_writer(limit: int | None, request: ReplayRequest, writers: int) -> float | None:
    if limit is None or not writers:
        return None
    return limit / min(request.max_concurrency, writers)


def run_preflight(event: dict[str, Any], context: Any, settings: ReplaySettings) -> dict[str, Any]:
    """Check the target against the plan, write plan.json, and return the target partitions to write;
    raise PreflightRefused (after writing plan.json with every check) when a check fails."""
    request = parse_request(event["request"], settings.source_topic)
    bucket, run_id, topic = settings.replay_bucket_name, request.run_id, request.destination_topic
    summaries = {
        source: run_storage.get_json(bucket, run_storage.summary_key(run_id, source))
        for source in source_partitions(bucket, run_id)
    }
    planned_records = sum(int(summary["records"]) for summary in summaries.values())
    max_record_bytes = max((int(summary["maxRecordBytes"]) for summary in summaries.values()), default=0)
    timestamps = [
        int(s["minTimestamp"]) for s in summaries.values() if s["records"] and s["minTimestamp"] is not None
    ]
    oldest = min(timestamps, default=None)
    oldest_age_ms = None if oldest is None else max(0, int(time.time() * 1000) - oldest)

    admin = admin_client(settings)
    partitions = _topic_partitions(admin, topic)
    checks: list[dict[str, Any]] = []
    _check(
        checks,
        "topic-exists",
        ok=partitions is not None,
        observed={"topic": topic, "partitions": partitions},
        required="the topic exists",
        message=(
            f"target topic {topic} does not exist on the target cluster: create it (with at least "
            f"{max(summaries, default=0) + 1} partitions to keep records in their source partitions)"
        ),
    )
    plan: dict[str, Any] = {
        "runId": run_id,
        "sourceTopic": request.topic,
        "targetTopic": topic,
        "partitionMode": request.partition_mode.value,
        "dryRun": request.dry_run,
        "targetPartitionCount": partitions,
        "sourcePartitions": sorted(summaries),
        "plannedRecords": planned_records,
        "maxRecordBytes": max_record_bytes,
        "minTimestamp": oldest,
        "checks": checks,
    }
    if partitions is not None:
        _refuse_on_failure(bucket, plan, checks, _partition_checks(request, summaries, partitions, topic))
        configs = topic_configs(admin, topic)
        plan["topicConfigs"] = configs
        _refuse_on_failure(
            bucket, plan, checks, _config_checks(configs, topic, max_record_bytes, oldest_age_ms)
        )
        _refuse_on_failure(bucket, plan, checks, _timestamp_checks(oldest))
        planned = _assignment(bucket, request, summaries, partitions)
        plan["targetPartitions"] = sorted(planned)
        plan["planned"] = {str(target): count for target, count in planned.items()}
        plan["recordsPerSecondPerWriter"] = _per_writer(
            settings.records_per_second(request.records_per_second), request, len(planned)
        )
        plan["bytesPerSecondPerWriter"] = _per_writer(
            settings.bytes_per_second(request.bytes_per_second), request, len(planned)
        )
    _refuse_on_failure(bucket, plan, checks, [])
    run_storage.put_json(bucket, run_storage.plan_key(run_id), plan)
    logger.info("preflight passed", extra={"plan": {k: v for k, v in plan.items() if k != "checks"}})
    return {
        "targetPartitions": plan["targetPartitions"],
        "targetTopic": topic,
        "partitionMode": plan["partitionMode"],
        "plannedRecords": planned_records,
        "checks": len(checks),
    }


def _partition_checks(
    request: ReplayRequest, summaries: dict[int, dict[str, Any]], partitions: int, topic: str
) -> list[dict[str, Any]]:
    if request.partition_mode is not PartitionMode.PRESERVE:
        return []
    highest = max((source for source, summary in summaries.items() if summary["records"]), default=-1)
    checks: list[dict[str, Any]] = []
    _check(
        checks,
        "partition-count",
        ok=partitions >= highest + 1,
        observed={"targetPartitions": partitions, "highestSourcePartition": highest},
        required=f">= {highest + 1}",
        message=(
            f"target topic {topic} has {partitions} partitions, the plan has records of source partition "
            f"{highest}: preserve mode needs at least {highest + 1} "
            "(add partitions, or use partitionMode keyHash)"
        ),
    )
    return checks


def _timestamp_checks(oldest: int | None) -> list[dict[str, Any]]:
    checks: list[dict[str, Any]] = []
    if oldest is not None:
        _check(
            checks,
            "timestamps",
            ok=oldest > 0,
            observed={"minTimestamp": oldest},
            required="> 0",
            message=(
                f"the oldest planned record has timestamp {oldest}: librdkafka sends a timestamp of 0 as the "
                "current time, and a negative one is no record time, so the plan's records cannot all be "
                "replayed with their own timestamps (narrow `from` to exclude them)"
            ),
        )
    return checks


def _refuse_on_failure(
    bucket: str, plan: dict[str, Any], checks: list[dict[str, Any]], new_checks: list[dict[str, Any]]
) -> None:
    checks.extend(new_checks)
    failed = [check["message"] for check in checks if not check["ok"]]
    if failed:
        plan["refused"] = failed
        run_storage.put_json(bucket, run_storage.plan_key(plan["runId"]), plan)
        raise PreflightRefused("; ".join(failed))
