"""The business logic of the LambdaConsumer option: replace `process_record` with your own.

It is called once per Kafka record with the record (key, headers, original bytes, position) and its decoded
value (parsed JSON by default; a dict for Avro or Protobuf). Raise an exception to mark the record failed:
Lambda retries failed records and, once retries run out, sends them to the on-failure destination.
Delivery is at least once: a record may come twice, so make the effect idempotent (key it on
topic/partition/offset).
"""

from __future__ import annotations

import logging
from typing import Any

from streaming_common.kafka_codec import KafkaRecord, readable_key_and_headers
from streaming_common.observability import logger


def process_record(record: KafkaRecord, value: Any) -> None:
    """Default: log the record, its key and headers as text (`keyBase64`, or a header's `valueBase64`, when
    the bytes are not UTF-8, as in the archive). Replace with what your application does with each event."""
    if logger.log_level <= logging.INFO:  # skip building the log entry when INFO is off
        logger.info(
            "record",
            extra={
                "partition": record.partition_id,
                "offset": record.offset,
                **readable_key_and_headers(record),
                "value": value,
            },
        )
