"""The `translate` step: consumer groups' committed source offsets as offsets on the target.

A committed offset o on source partition p means "the next record to read is o". Its translation is the
target partition and offset of the first replayed record of p with source offset >= o (records filtered out
of the replay are skipped over). The offset to commit on a target partition is the lowest target offset of
any replayed record the group has not read yet (a record of a partition it has no committed offset for
counts as unread); the target end offset after the replay when it has read them all. In preserve mode that
is the translation of the same partition; in keyHash mode a target partition mixes source partitions and
this choice skips nothing unread.

Groups come from `consumerGroups` (their committed offsets read from the source cluster) and
`groupOffsets` (given by hand). offsets.json holds the result; with applyGroupOffsets the offsets are
committed to the same group names on the target (Kafka refuses while the group has active members).
"""

from __future__ import annotations

from typing import Any

from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient

import preflight
import run_storage
from replay_request import ReplayRequest, parse_request
from replay_settings import ReplaySettings
from streaming_common.kafka_config import client_config

Segment = list[int]  # [sourcePartition, sourceStartOffset, targetStartOffset, count]


class OffsetTranslationError(RuntimeError):
    """A group's offsets could not be read from the source or committed on the target."""


def source_group_offsets(admin: AdminClient, group: str, topic: str, partitions: list[int]) -> dict[int, int]:
    """The group's committed offsets on these partitions of `topic` ({source partition: offset}), read from
    the source. The partitions are named explicitly: asked for all of a group's offsets, Kafka leaves out
    the topics the caller may not describe without an error; asked for these, it answers each with its
    error. A partition without a committed offset is left out."""
    request = ConsumerGroupTopicPartitions(
        group, [TopicPartition(topic, partition) for partition in partitions]
    )
    (future,) = admin.list_consumer_group_offsets([request]).values()
    try:
        answer = future.result(preflight.ADMIN_TIMEOUT_SECONDS)
    except Exception as error:
        raise OffsetTranslationError(
            f"cannot read the committed offsets of group {group}: {error}"
        ) from error
    refused = [entry for entry in answer.topic_partitions or () if entry.error is not None]
    if refused:
        raise OffsetTranslationError(
            f"cannot read the committed offsets of group {group} on {topic}[{refused[0].partition}]: "
            f"{refused[0].error} (the function needs kafka-cluster:DescribeTopic on the source topic and "
            "DescribeGroup on the group)"
        )
    return {
        entry.partition: entry.offset
        for entry in answer.topic_partitions or ()
        if entry.topic == topic and entry.offset >= 0
    }


def translate_partition(
    segments: list[Segment], source_partition: int, committed: int
) -> tuple[int, int] | None:
    """The (source offset, target offset) of the first replayed record of `source_partition` with source
    offset >= `committed` in these segments, or None."""
    best: tuple[int, int] | None = None
    for partition, source_start, target_start, count in segments:
        if partition != source_partition or source_start + count <= committed:
            continue
        source_offset = max(source_start, committed)
        candidate = (source_offset, target_start + source_offset - source_start)
        if best is None or candidate < best:
            best = candidate
    return best


def target_commit(segments: list[Segment], committed: dict[int, int], end_after: int) -> int:
    """The offset to commit on a target partition: its first record the group has not read, else its end."""
    unread = []
    for partition, source_start, target_start, count in segments:
        offset = committed.get(partition)
        if offset is None:
            unread.append(target_start)
        elif source_start + count > offset:
            unread.append(target_start + max(0, offset - source_start))
    return min(unread, default=end_after)


def _groups(
    request: ReplayRequest, settings: ReplaySettings, source_partitions: list[int]
) -> dict[str, dict[int, int]]:
    groups = {
        group: {int(partition): offset for partition, offset in offsets.items()}
        for group, offsets in (request.group_offsets or {}).items()
    }
    if request.consumer_groups:
        admin = AdminClient(client_config(settings.source_cluster()))
        for group in request.consumer_groups:
            offsets = source_group_offsets(admin, group, request.topic, source_partitions)
            groups.setdefault(group, {}).update(offsets)
    return groups


def _commit(admin: AdminClient, group: str, topic: str, offsets: dict[int, int]) -> None:
    partitions = [TopicPartition(topic, partition, offset) for partition, offset in sorted(offsets.items())]
    (future,) = admin.alter_consumer_group_offsets([ConsumerGroupTopicPartitions(group, partitions)]).values()
    try:
        future.result(preflight.ADMIN_TIMEOUT_SECONDS)
    except Exception as error:
        raise OffsetTranslationError(
            f"cannot commit the translated offsets of group {group} on {topic} (the group must have no "
            f"active members): {error}"
        ) from error


def run_translate(event: dict[str, Any], context: Any, settings: ReplaySettings) -> dict[str, Any]:
    """Translate the request's groups through the offset maps into offsets.json; commit them when
    applyGroupOffsets. A small summary."""
    request = parse_request(event["request"], settings.source_topic)
    bucket, run_id = settings.replay_bucket_name, request.run_id
    report = run_storage.get_json(bucket, run_storage.report_key(run_id))
    topic = report["targetTopic"]
    segments: dict[int, list[Segment]] = {}
    end_after: dict[int, int] = {}
    for row in report["partitions"]:
        target = int(row["targetPartition"])
        segments[target] = run_storage.get_json(bucket, run_storage.offset_map_key(run_id, target))[
            "segments"
        ]
        end_after[target] = int(row["endOffsetAfter"])
    admin = preflight.admin_client(settings)
    result: dict[str, Any] = {}
    source_partitions = sorted(
        {segment[0] for target_segments in segments.values() for segment in target_segments}
    )
    for group, committed in _groups(request, settings, source_partitions).items():
        translated: dict[str, Any] = {}
        for source_partition, offset in sorted(committed.items()):
            found = [
                (hit, target)
                for target, target_segments in segments.items()
                if (hit := translate_partition(target_segments, source_partition, offset)) is not None
            ]
            entry: dict[str, Any] = {"committed": offset}
            if found:
                (source_offset, target_offset), target = min(found)
                entry |= {
                    "sourceOffset": source_offset,
                    "targetPartition": target,
                    "targetOffset": target_offset,
                }
            elif source_partition in end_after and report["partitionMode"] == "preserve":
                entry |= {"targetPartition": source_partition, "targetOffset": end_after[source_partition]}
            translated[str(source_partition)] = entry
        commits = {
            target: target_commit(target_segments, committed, end_after[target])
            for target, target_segments in segments.items()
            if any(segment[0] in committed for segment in target_segments)
        }
        if request.apply_group_offsets and commits:
            _commit(admin, group, topic, commits)
        result[group] = {
            "sourcePartitions": translated,
            "targetOffsets": {str(target): offset for target, offset in sorted(commits.items())},
            "applied": bool(request.apply_group_offsets and commits),
            "committedOnReplayedPartitions": len(committed),
        }
    document = {"runId": run_id, "sourceTopic": request.topic, "targetTopic": topic, "groups": result}
    run_storage.put_json(bucket, run_storage.offsets_key(run_id), document)
    return {
        "runId": run_id,
        "groups": len(result),
        "applied": sum(1 for group in result.values() if group["applied"]),
        "offsetsKey": run_storage.offsets_key(run_id),
    }
