"""Partition count mismatch: keyHash writes every record where Kafka's default partitioner puts its key
(checked against librdkafka's Java-compatible murmur2 partitioner), null keys to source partition % n; then
consumer groups' committed offsets translate through the offset map."""

from __future__ import annotations

from confluent_kafka import ConsumerGroupTopicPartitions, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from local.topic_end import read_to_end
from streaming_common.kafka_codec import KafkaRecord
from tests.integration.archive_replay.conftest import KafkaReplay, content, hours_ago

KEYS = [b"a", b"abc", b"abcd", b"hello world", b"\xff\x00\x01", b"", b"customer-42", b"\x80" * 9]


def _records(topic: str) -> list[KafkaRecord]:
    base = hours_ago(4)
    records = [
        KafkaRecord(topic, index % 3, index // 3, base + index * 10, "CREATE_TIME", key, b"value-%d" % index)
        for index, key in enumerate(KEYS * 3)
    ]
    for partition in range(3):  # null keys stay with their source partition modulo the target's partitions
        records.append(
            KafkaRecord(topic, partition, 8, base + 5, "CREATE_TIME", None, b"null key %d" % partition)
        )
    return records


def _where_librdkafka_puts(kafka_replay: KafkaReplay, keys: list[bytes], partitions: int) -> dict[bytes, int]:
    probe = kafka_replay.topic("probe", partitions)
    producer = Producer({"bootstrap.servers": kafka_replay.bootstrap, "partitioner": "murmur2_random"})
    for key in keys:
        producer.produce(probe, b"probe", key)
    producer.flush(10)
    return {
        message.key() or b"": message.partition() or 0
        for message in read_to_end(kafka_replay.bootstrap, probe)
    }


def test_key_hash_writes_every_record_where_kafka_would(kafka_replay: KafkaReplay) -> None:
    source, target = f"orders-{hours_ago(0)}", kafka_replay.topic("rehashed", 2)
    records = _records(source)
    kafka_replay.world.archive(records)
    request = kafka_replay.request("keyhash", source, target, partitionMode="keyHash")

    outputs = kafka_replay.replay(request)

    expected = _where_librdkafka_puts(kafka_replay, KEYS, 2)
    assert len(set(expected.values())) == 2
    assert (
        outputs["verify"]["line"]
        == f"replayed {len(records)} of {len(records)} records to {target}, identical {len(records)}"
    )
    by_content = {content(record): record for record in records}
    for partition in (0, 1):
        stored = [by_content[content(record)] for record in kafka_replay.read(target, partition)]
        planned = [
            record
            for record in records
            if (record.partition % 2 if record.key is None else expected[record.key]) == partition
        ]
        assert sorted(stored) == sorted(planned)
        for source_partition in range(3):  # each source partition's records keep their order
            offsets = [record.offset for record in stored if record.partition == source_partition]
            assert offsets == sorted(offsets)


def test_translated_group_offsets(kafka_replay: KafkaReplay) -> None:
    source = kafka_replay.topic("orders", 2)
    target = kafka_replay.topic("restored", 2)
    base = hours_ago(2)
    records = [
        KafkaRecord(source, partition, offset, base + offset, "CREATE_TIME", b"k", b"v")
        for partition in (0, 1)
        for offset in range(10, 20)
        if (partition, offset) != (0, 15)  # a gap in the archive's offsets (a filtered or compacted record)
    ]
    kafka_replay.world.archive(records)
    admin = AdminClient({"bootstrap.servers": kafka_replay.bootstrap})
    committed = [TopicPartition(source, 0, 15), TopicPartition(source, 1, 25)]
    admin.alter_consumer_group_offsets([ConsumerGroupTopicPartitions("billing", committed)])[
        "billing"
    ].result(10)
    request = kafka_replay.request(
        "translate",
        source,
        target,
        consumerGroups=["billing"],
        groupOffsets={"audit": {"0": 0, "1": 12}},
        applyGroupOffsets=True,
    )
    kafka_replay.replay(request)

    answer = kafka_replay.step("translate", runId="translate", request=request)

    assert answer["groups"] == 2
    offsets = kafka_replay.run_file("translate", "offsets.json")["groups"]
    assert offsets["billing"]["sourcePartitions"] == {
        "0": {"committed": 15, "sourceOffset": 16, "targetPartition": 0, "targetOffset": 5},
        "1": {"committed": 25, "targetPartition": 1, "targetOffset": 10},
    }
    assert offsets["billing"]["targetOffsets"] == {"0": 5, "1": 10}
    assert offsets["audit"]["targetOffsets"] == {"0": 0, "1": 2}
    for group, expected in (("billing", {0: 5, 1: 10}), ("audit", {0: 0, 1: 2})):
        answer_future = admin.list_consumer_group_offsets(
            [ConsumerGroupTopicPartitions(group, [TopicPartition(target, 0), TopicPartition(target, 1)])]
        )[group]
        stored = {entry.partition: entry.offset for entry in answer_future.result(10).topic_partitions}
        assert stored == expected
