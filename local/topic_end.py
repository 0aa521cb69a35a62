"""Where a topic ends right now, partition by partition: the bound of a local run of the Flink job.

The local Flink job reads the topic through its Kafka table up to these offsets (`scan.bounded.mode` =
`specific-offsets`), so it ends once it has read what the topic held. `latest-offset` would ask the broker
with ListOffsets, which Tansu 0.6 answers with the base offset of the partition's last batch plus one (not its
last offset plus one): the job would stop after the first record of that batch. The end is therefore read
from the fetch responses (partition EOF), which Tansu gets right.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Message, TopicPartition
from confluent_kafka.admin import AdminClient


class TopicEndError(RuntimeError):
    """The topic could not be read to its end."""


@dataclass(frozen=True)
class TopicEnd:
    """The offset after each partition's last record, and how many records the topic holds."""

    topic: str
    offsets: dict[int, int]
    records: int

    @property
    def partitions(self) -> int:
        return len(self.offsets)

    def flink_offsets(self) -> str:
        """The offsets as Flink's `scan.bounded.specific-offsets` takes them."""
        return ";".join(f"partition:{p},offset:{offset}" for p, offset in sorted(self.offsets.items()))


def read_to_end(bootstrap: str, topic: str, timeout: float = 60) -> Iterator[Message]:
    """Every record of `topic`, partition by partition in offset order (partitions interleaved), until each
    partition's end; TopicEndError if that takes over `timeout` s."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "local-topic-end",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    try:
        metadata = consumer.list_topics(topic, timeout=10).topics[topic]
        if metadata.error is not None:
            raise TopicEndError(f"topic {topic}: {metadata.error}")
        unread = set(metadata.partitions)
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in unread])
        deadline = time.monotonic() + timeout
        while unread:
            if time.monotonic() > deadline:
                raise TopicEndError(
                    f"partitions {sorted(unread)} of {topic} not read to the end in {timeout} s"
                )
            for message in consumer.consume(1000, timeout=1):
                error = message.error()
                if error is not None and error.code() == KafkaError._PARTITION_EOF:
                    unread.discard(message.partition())
                elif error is not None:
                    raise TopicEndError(f"reading {topic}: {error}")
                elif message.partition() is None or message.offset() is None:
                    raise TopicEndError(f"reading {topic}: a record without partition or offset")
                else:
                    yield message
    finally:
        consumer.close()


def partition_count(bootstrap: str, topic: str) -> int:
    """How many partitions `topic` has; TopicEndError if it does not exist."""
    # All topics' metadata: asking for one topic by name makes a broker that auto-creates topics create it.
    metadata = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10).topics.get(topic)
    if metadata is None:
        raise TopicEndError(f"topic {topic} does not exist")
    if metadata.error is not None:
        raise TopicEndError(f"topic {topic}: {metadata.error}")
    return len(metadata.partitions)


def topic_end(bootstrap: str, topic: str, timeout: float = 60) -> TopicEnd:
    """Read every partition of `topic` to its end; raise TopicEndError if that takes over `timeout` s."""
    offsets = dict.fromkeys(range(partition_count(bootstrap, topic)), 0)
    records = 0
    for message in read_to_end(bootstrap, topic, timeout):
        offsets[int(message.partition() or 0)] = int(message.offset() or 0) + 1
        records += 1
    return TopicEnd(topic, offsets, records)
