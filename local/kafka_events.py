"""Lambda MSK events built from Kafka records, and read back, for the local runtime and the tests.

Only the event source mapping emulator, the sample events and the tests build events; the functions only
read them (streaming_common.kafka_codec.decode_event_record, in the shared layer). So the encoders live
here, outside the layer the functions ship with.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from streaming_common.kafka_codec import KafkaRecord, decode_event_record


def encode_event_record(record: KafkaRecord) -> dict[str, Any]:
    """The record as Lambda puts it in an MSK event (the inverse of `decode_event_record`)."""
    raw: dict[str, Any] = {
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "timestamp": record.timestamp,
        "timestampType": record.timestamp_type,
        "value": None if record.value is None else base64.b64encode(record.value).decode("ascii"),
        "headers": [{name: None if value is None else list(value)} for name, value in record.headers],
    }
    if record.key is not None:
        raw["key"] = base64.b64encode(record.key).decode("ascii")
    return raw


def build_event(
    records: Iterable[KafkaRecord],
    *,
    event_source_arn: str,
    bootstrap_servers: str,
    event_source: str = "aws:kafka",
) -> dict[str, Any]:
    """A Lambda MSK event holding `records`, grouped by "<topic>-<partition>" in arrival order."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        grouped.setdefault(record.partition_id, []).append(encode_event_record(record))
    return {
        "eventSource": event_source,
        "eventSourceArn": event_source_arn,
        "bootstrapServers": bootstrap_servers,
        "records": grouped,
    }


def iter_event_records(event: Mapping[str, Any]) -> Iterator[KafkaRecord]:
    """Every record of a Lambda Kafka event, partition by partition, in offset order within each."""
    for records in event.get("records", {}).values():
        for raw in records:
            yield decode_event_record(raw)
