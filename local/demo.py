"""`make demo`: what runs end to end today, on one machine, with no AWS account and no Docker.

Starts a Kafka broker (Tansu), creates the topic with the topic provisioner's own logic, produces sample
JSON records with an idempotent acks=all producer, reads them back as Lambda MSK events built by the
shared codec, writes one archive line per record, and reports. Exits 1 if any record is unaccounted for.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from local.broker import running_broker
from streaming_common.kafka_codec import KafkaRecord, build_event, iter_event_records, to_archive_line
from topic_admin import TopicSpec, ensure_topic

TOPIC = "streaming-events"
PARTITIONS = 3
RECORDS = 2000


def _produce(bootstrap: str) -> int:
    producer = Producer(
        {"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all", "linger.ms": 5}
    )
    failures: list[str] = []

    def on_delivery(error: object, _message: object) -> None:
        if error is not None:
            failures.append(str(error))

    for index in range(RECORDS):
        value = json.dumps({"deviceId": f"device-{index % 50}", "reading": index * 0.5, "seq": index})
        producer.produce(
            TOPIC,
            key=f"device-{index % 50}",
            value=value,
            headers={"source": b"demo"},
            on_delivery=on_delivery,
        )
        producer.poll(0)
    producer.flush(30)
    if failures:
        raise RuntimeError(f"{len(failures)} records were not delivered: {failures[:3]}")
    return RECORDS


def _consume(bootstrap: str) -> list[KafkaRecord]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "demo", "enable.auto.commit": False})
    consumer.assign([TopicPartition(TOPIC, p, 0) for p in range(PARTITIONS)])
    records: list[KafkaRecord] = []
    deadline = time.monotonic() + 30
    while len(records) < RECORDS and time.monotonic() < deadline:
        for message in consumer.consume(500, timeout=1):
            topic, partition, offset = message.topic(), message.partition(), message.offset()
            if message.error() or topic is None or partition is None or offset is None:
                continue
            kind, timestamp = message.timestamp()
            raw_headers = message.headers() or []
            pairs = raw_headers.items() if isinstance(raw_headers, dict) else raw_headers
            headers = tuple(
                (name, value.encode() if isinstance(value, str) else value) for name, value in pairs
            )
            records.append(
                KafkaRecord(
                    topic,
                    partition,
                    offset,
                    timestamp,
                    "LOG_APPEND_TIME" if kind == 2 else "CREATE_TIME",
                    message.key(),
                    message.value(),
                    headers,
                )
            )
    consumer.close()
    return records


def main() -> int:
    started = time.monotonic()
    with running_broker() as bootstrap:
        ensure_topic(AdminClient({"bootstrap.servers": bootstrap}), TopicSpec(TOPIC, PARTITIONS))
        produced = _produce(bootstrap)
        consumed = _consume(bootstrap)
    event = build_event(
        consumed,
        event_source_arn="arn:aws:kafka:local:000000000000:cluster/demo/local",
        bootstrap_servers=bootstrap,
    )
    archive = Path(tempfile.mkdtemp(prefix="msk-demo-")) / "archive.ndjson"
    with archive.open("wb") as out:
        archived = sum(out.write(to_archive_line(record)) > 0 for record in iter_event_records(event))
    unaccounted = produced - archived
    print(f"broker            Tansu at {bootstrap} (stopped)")
    print(f"topic             {TOPIC}, {PARTITIONS} partitions")
    print(f"produced          {produced} records (idempotent, acks=all)")
    print(
        f"consumed          {len(consumed)} records in {len(event['records'])} partitions,"
        " as one Lambda MSK event"
    )
    print(f"archived          {archived} lines -> {archive}")
    print(f"unaccounted       {unaccounted}")
    print(f"took              {time.monotonic() - started:.1f} s")
    print("first line        " + archive.read_text().splitlines()[0])
    return 0 if unaccounted == 0 and len(consumed) == produced else 1


if __name__ == "__main__":
    sys.exit(main())
