"""The `write` step: one writer per target partition produces its planned records, in order, exactly.

The idempotent producer (acks=all) sends each record to the explicit partition with its own timestamp and
its key, value and header bytes as they are (None stays None). The writer flushes once per chunk and then
stores the checkpoint (runs/<id>/checkpoints/<t>.json):
`{"nextIndex", "produced", "targetStartOffset", "targetNextOffset", "done", "foreignRecords"}` (no hash
chain: verify computes the plan's chain, the writer's acknowledged prefix of it and the read-back chain).
Before the first record it stores a checkpoint too, so that the target's end offset before the replay is
known even when the first chunk dies before its checkpoint.

Resume: the target partition is read from the checkpoint's targetNextOffset to its end, and those records
are matched in order against the plan from nextIndex (key, value, headers, timestamp): each match is a
record a dead writer got in, so it is counted and not produced again; other records are foreign and
skipped (counted). No duplicate and no gap, and no header is ever added.

With less than a minute of the invocation left, the writer stops after its chunk and returns done=false;
the state machine calls it again.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

import preflight
import run_storage
from replay_manifest import PlannedRecord
from replay_request import PartitionMode, parse_request
from replay_settings import ReplaySettings
from streaming_common.kafka_codec import KafkaRecord
from streaming_common.kafka_config import client_config
from streaming_common.observability import logger, metrics

# A chunk ends in a flush (the producer's pipeline drains) and a checkpoint: big enough that the drains cost
# little (10,000 records a chunk wrote 30% slower than 50,000 in make bench), small enough to flush well
# within STOP_WHEN_LEFT_MS on any link to the cluster (64 MiB) and to stay under librdkafka's default
# queue.buffering.max.messages (100,000).
CHUNK_RECORDS = 50_000
CHUNK_BYTES = 64 * 1024 * 1024
CHUNK_SECONDS = 10  # a rate-limited chunk holds at most this many seconds of records
STOP_WHEN_LEFT_MS = 60_000
FLUSH_TIMEOUT_SECONDS = 60.0
SETTLE_POLL_SECONDS = 0.05
KAFKA_TIMEOUT_SECONDS = 15.0
READ_BATCH = 1000
DEFAULT_MESSAGE_MAX_BYTES = 1_000_000  # librdkafka's own default

# The writer's producer settings beyond the connection (the benchmark's bare producer uses the same).
PRODUCER_SETTINGS: dict[str, Any] = {
    "enable.idempotence": True,
    "acks": "all",
    "max.in.flight.requests.per.connection": 5,
    "linger.ms": 5,
    "compression.type": "lz4",
}


class WriteError(RuntimeError):
    """The broker did not acknowledge a chunk; the checkpoint still points before it, so a retry resumes."""


# ---------------------------------------------------------------- Kafka clients


@cache
def producer(settings: ReplaySettings, message_max_bytes: int) -> Producer:
    """The container's idempotent producer on the target cluster, taking records of `message_max_bytes`."""
    kafka = Producer(client_config(settings, **PRODUCER_SETTINGS, **{"message.max.bytes": message_max_bytes}))
    kafka.poll(0)  # serve the IAM token callback before the first record
    return kafka


def message_max_bytes(max_record_bytes: int) -> int:
    """The producer's message.max.bytes for a plan whose largest record is `max_record_bytes`."""
    return max(DEFAULT_MESSAGE_MAX_BYTES, max_record_bytes + preflight.RECORD_FRAMING_BYTES)


def reader(settings: ReplaySettings, run_id: str) -> Consumer:
    """A consumer that reads target partitions by assign and seek (it never joins or commits its group)."""
    return Consumer(
        client_config(
            settings,
            **{
                "group.id": f"archive-replay-{run_id}",
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "enable.partition.eof": True,
                "fetch.wait.max.ms": 10,  # it reads what is there up to a known end: no long polls
            },
        )
    )


def _stored(consumer: Consumer, topic: str, partition: int, start: int, end: int | None) -> Iterator[Message]:
    """The partition's records from `start` until `end` (exclusive) or partition EOF (the fetch reached the
    end). Each batch asks for at most the records still expected (one at a time when `end` is unknown): a
    batch read waits for all it asked for, an EOF event included, so it never waits at the end."""
    consumer.assign([TopicPartition(topic, partition, start)])
    position = start
    try:
        while end is None or position < end:
            wanted = 1 if end is None else min(READ_BATCH, end - position)
            messages = consumer.consume(wanted, KAFKA_TIMEOUT_SECONDS)
            if not messages:
                raise WriteError(f"{topic}[{partition}]: nothing read at offset {position} in time")
            for message in messages:
                error = message.error()
                if error is not None and error.code() == KafkaError._PARTITION_EOF:
                    return
                if error is not None:
                    raise KafkaException(error)
                position = int(message.offset() or 0) + 1
                yield message
    finally:
        consumer.unassign()


def end_offset(consumer: Consumer, topic: str, partition: int) -> int:
    """The partition's end offset now: the high watermark, confirmed by reading from it to partition EOF
    (Tansu 0.6 answers ListOffsets with its last batch's base offset + 1; on Kafka: one empty fetch)."""
    _low, high = consumer.get_watermark_offsets(
        TopicPartition(topic, partition), timeout=KAFKA_TIMEOUT_SECONDS, cached=False
    )
    end = int(high)
    for message in _stored(consumer, topic, partition, end, None):
        end = int(message.offset() or 0) + 1
    return end


def as_record(message: Message) -> KafkaRecord:
    """A consumed message as a KafkaRecord (headers as a tuple, () when none)."""
    _type, timestamp = message.timestamp()
    return KafkaRecord(
        message.topic() or "",
        message.partition() or 0,
        message.offset() or 0,
        timestamp,
        "CREATE_TIME",
        message.key(),
        message.value(),
        tuple(message.headers() or ()),  # type: ignore[arg-type] # a consumer's headers are (str, bytes | None)
    )


def read_range(consumer: Consumer, topic: str, partition: int, start: int, end: int) -> Iterator[KafkaRecord]:
    """The target partition's records from offset `start` up to `end` (exclusive) or its end, in order."""
    if start < end:
        for message in _stored(consumer, topic, partition, start, end):
            yield as_record(message)


def same_record(planned: PlannedRecord, stored: KafkaRecord) -> bool:
    """Whether a record read from the target is the planned one: key, value, headers and timestamp."""
    return (
        planned.key == stored.key
        and planned.value == stored.value
        and planned.headers == list(stored.headers)
        and planned.timestamp == stored.timestamp
    )


# ---------------------------------------------------------------- the plan of one target partition


def planned_records(bucket: str, plan: dict[str, Any], target_partition: int) -> Iterator[PlannedRecord]:
    """The records the plan sends to `target_partition`, in the order they are produced: preserve mode, the
    source partition's manifest; keyHash, every manifest merged by (timestamp, source partition, offset),
    keeping the records whose key hashes to the partition."""
    run_id = plan["runId"]
    if plan["partitionMode"] == PartitionMode.PRESERVE.value:
        return preflight.manifest_records(bucket, run_id, target_partition)
    partitions = int(plan["targetPartitionCount"])
    merged = preflight.merged_records(bucket, run_id, list(plan["sourcePartitions"]))
    return (
        record
        for record in merged
        if preflight.key_hash_partition(record.key, record.partition, partitions) == target_partition
    )


# ---------------------------------------------------------------- the checkpoint


@dataclass
class Checkpoint:
    """A writer's progress: the plan index and the target offset it has reached."""

    next_index: int
    produced: int
    target_start_offset: int
    target_next_offset: int
    done: bool = False
    foreign_records: int = 0
    produced_this_call: int = field(default=0, compare=False)

    def to_json(self) -> dict[str, Any]:
        """The checkpoint file's document."""
        return {
            "nextIndex": self.next_index,
            "produced": self.produced,
            "targetStartOffset": self.target_start_offset,
            "targetNextOffset": self.target_next_offset,
            "done": self.done,
            "foreignRecords": self.foreign_records,
        }

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> Checkpoint:
        """A checkpoint read back from its file."""
        return cls(
            next_index=int(document["nextIndex"]),
            produced=int(document["produced"]),
            target_start_offset=int(document["targetStartOffset"]),
            target_next_offset=int(document["targetNextOffset"]),
            done=bool(document["done"]),
            foreign_records=int(document.get("foreignRecords", 0)),
        )


def store_checkpoint(bucket: str, run_id: str, target_partition: int, checkpoint: Checkpoint) -> None:
    """Write the checkpoint file (after every acknowledged chunk)."""
    run_storage.put_json(bucket, run_storage.checkpoint_key(run_id, target_partition), checkpoint.to_json())


def load_checkpoint(bucket: str, run_id: str, target_partition: int) -> Checkpoint | None:
    """The writer's checkpoint, or None before its first run."""
    document = run_storage.find_json(bucket, run_storage.checkpoint_key(run_id, target_partition))
    return None if document is None else Checkpoint.from_json(document)


# ---------------------------------------------------------------- pacing


class Pacer:
    """Keeps a writer under its records/s and bytes/s limits by sleeping when it is ahead."""

    def __init__(self, records_per_second: float | None, bytes_per_second: float | None) -> None:
        self.records_per_second = records_per_second
        self.bytes_per_second = bytes_per_second
        self.started = time.monotonic()
        self.records = 0
        self.bytes = 0

    def chunk_limits(self) -> tuple[int, int]:
        """Records and bytes per chunk: a rate-limited chunk holds at most CHUNK_SECONDS of records."""
        records, size = CHUNK_RECORDS, CHUNK_BYTES
        if self.records_per_second:
            records = max(1, min(records, int(self.records_per_second * CHUNK_SECONDS)))
        if self.bytes_per_second:
            size = max(1, min(size, int(self.bytes_per_second * CHUNK_SECONDS)))
        return records, size

    def wait(self, records: int, size: int) -> None:
        """Account for `records` records of `size` bytes; sleep until the limits allow them."""
        self.records += records
        self.bytes += size
        earliest = 0.0
        if self.records_per_second:
            earliest = self.records / self.records_per_second
        if self.bytes_per_second:
            earliest = max(earliest, self.bytes / self.bytes_per_second)
        delay = earliest - (time.monotonic() - self.started)
        if delay > 0:
            time.sleep(delay)


# ---------------------------------------------------------------- writing


def _resume(
    checkpoint: Checkpoint, records: Iterator[PlannedRecord], stored: Iterable[KafkaRecord]
) -> Iterator[PlannedRecord]:
    """Match the target's records after the checkpoint against the plan; return the plan from the first
    record not found on the target."""
    pending: PlannedRecord | None = next(records, None)
    for record in stored:
        if pending is not None and same_record(pending, record):
            checkpoint.next_index += 1
            checkpoint.produced += 1
            checkpoint.target_next_offset = record.offset + 1
            pending = next(records, None)
        else:
            checkpoint.foreign_records += 1
            checkpoint.target_next_offset = record.offset + 1
    return records if pending is None else itertools.chain([pending], records)


def write_partition(  # noqa: PLR0915 - one loop: produce, settle, drain
    kafka: Producer,
    topic: str,
    target_partition: int,
    records: Iterator[PlannedRecord],
    *,
    checkpoint: Checkpoint,
    pacer: Pacer,
    time_left_ms: Callable[[], int],
    save: Callable[[Checkpoint], None],
) -> Checkpoint:
    """Produce `records` (the plan from checkpoint.next_index) to `topic`[`target_partition`], chunk by
    chunk, saving the checkpoint after each acknowledged chunk; stop early when time is short.

    Chunks are pipelined: while one is produced, the one before it is being acknowledged (the idempotent
    producer reports a partition's deliveries in order), so the producer's pipeline drains only at the end.
    At most two chunks are unacknowledged at once."""
    chunk_records, chunk_bytes = pacer.chunk_limits()
    produce = kafka.produce
    acknowledged: list[int] = []  # offsets of acknowledged records no checkpoint covers yet, in order
    failures: list[KafkaError] = []
    unsettled: deque[int] = deque()  # record counts of the produced chunks no checkpoint covers yet

    def on_delivery(error: KafkaError | None, message: Message) -> None:
        if error is None:
            acknowledged.append(message.offset())  # type: ignore[arg-type]
        else:
            failures.append(error)

    def refuse(reason: str) -> WriteError:
        return WriteError(
            f"{topic}[{target_partition}]: records from plan index {checkpoint.next_index} were not "
            f"acknowledged: {reason}"
        )

    def settle(behind: int) -> None:
        """Checkpoint each acknowledged chunk in order, waiting until at most `behind` chunks are not."""
        deadline = time.monotonic() + FLUSH_TIMEOUT_SECONDS
        while True:
            kafka.poll(0)
            if failures:
                raise refuse(failures[0].str())
            while unsettled and len(acknowledged) >= unsettled[0]:
                count = unsettled.popleft()
                checkpoint.next_index += count
                checkpoint.produced += count
                checkpoint.produced_this_call += count
                checkpoint.target_next_offset = acknowledged[count - 1] + 1
                del acknowledged[:count]
                save(checkpoint)
            if len(unsettled) <= behind:
                return
            if time.monotonic() > deadline:
                raise refuse(f"{sum(unsettled) - len(acknowledged)} records not acknowledged in time")
            kafka.poll(SETTLE_POLL_SECONDS)

    exhausted = False
    while not exhausted and time_left_ms() >= STOP_WHEN_LEFT_MS:
        count = size = 0
        for record in records:
            while True:
                try:
                    produce(
                        topic,
                        record.value,
                        record.key,
                        partition=target_partition,
                        timestamp=record.timestamp,
                        # the manifest's list as it is (the stub's list of str | bytes values is invariant)
                        headers=record.headers or None,  # type: ignore[arg-type]
                        on_delivery=on_delivery,
                    )
                    break
                except BufferError:
                    kafka.poll(SETTLE_POLL_SECONDS)
            count += 1
            size += record.size  # the bytes/s limit and BytesReplayed count key, value and header bytes
            if count >= chunk_records or size >= chunk_bytes:
                break
        else:
            exhausted = True
        if count:
            unsettled.append(count)
            pacer.wait(count, size)
        settle(behind=1)
    if unsettled:
        kafka.flush(FLUSH_TIMEOUT_SECONDS)
        settle(behind=0)
    checkpoint.done = exhausted
    save(checkpoint)
    return checkpoint


def run_write(event: dict[str, Any], context: Any, settings: ReplaySettings) -> dict[str, Any]:
    """Write one target partition from its checkpoint on; {targetPartition, done, produced, nextIndex}."""
    request = parse_request(event["request"], settings.source_topic)
    target_partition = int(event["targetPartition"])
    bucket, run_id = settings.replay_bucket_name, request.run_id
    plan = preflight.load_plan(bucket, run_id)
    topic = plan["targetTopic"]
    checkpoint = load_checkpoint(bucket, run_id, target_partition)
    if checkpoint is not None and checkpoint.done:
        return _answer(target_partition, checkpoint)

    records = planned_records(bucket, plan, target_partition)
    consumer = reader(settings, run_id)
    try:
        end = end_offset(consumer, topic, target_partition)
        if checkpoint is None:
            checkpoint = Checkpoint(next_index=0, produced=0, target_start_offset=end, target_next_offset=end)
            store_checkpoint(bucket, run_id, target_partition, checkpoint)
        else:
            records = itertools.islice(records, checkpoint.next_index, None)
            before = checkpoint.produced
            stored = read_range(consumer, topic, target_partition, checkpoint.target_next_offset, end)
            records = _resume(checkpoint, records, stored)
            logger.info(
                "resumed",
                extra={"targetPartition": target_partition, "alreadyWritten": checkpoint.produced - before},
            )
    finally:
        consumer.close()

    kafka = producer(settings, message_max_bytes(int(plan["maxRecordBytes"])))
    pacer = Pacer(plan.get("recordsPerSecondPerWriter"), plan.get("bytesPerSecondPerWriter"))
    bytes_before = pacer.bytes
    try:
        write_partition(
            kafka,
            topic,
            target_partition,
            records,
            checkpoint=checkpoint,
            pacer=pacer,
            time_left_ms=context.get_remaining_time_in_millis,
            save=lambda state: store_checkpoint(bucket, run_id, target_partition, state),
        )
    except (WriteError, KafkaException):
        producer.cache_clear()  # an idempotent producer that failed may be fenced: the retry starts afresh
        raise
    finally:
        metrics.add_metric(name="RecordsReplayed", unit=MetricUnit.Count, value=checkpoint.produced_this_call)
        metrics.add_metric(name="BytesReplayed", unit=MetricUnit.Bytes, value=pacer.bytes - bytes_before)
    return _answer(target_partition, checkpoint)


def _answer(target_partition: int, checkpoint: Checkpoint) -> dict[str, Any]:
    return {
        "targetPartition": target_partition,
        "done": checkpoint.done,
        "produced": checkpoint.produced,
        "nextIndex": checkpoint.next_index,
    }
