"""One MSK batch through Powertools' BatchProcessor: decode each record, call process_record, report the
failed ones (partial batch response) and emit the batch's metrics."""

from __future__ import annotations

import importlib
import json
import time
from functools import cache
from pathlib import Path
from typing import Any, Literal

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.kafka_event import KafkaEventRecord
from aws_lambda_powertools.utilities.kafka.consumer_records import ConsumerRecordRecords
from aws_lambda_powertools.utilities.kafka.schema_config import SchemaConfig
from pydantic import model_validator

from process_record import process_record
from streaming_common.batch_response import settle
from streaming_common.kafka_codec import KafkaRecord, decode_event_record
from streaming_common.observability import logger, metrics
from streaming_common.settings import KafkaEventSourceSettings


class ConsumerSettings(KafkaEventSourceSettings):
    """VALUE_FORMAT (JSON, AVRO or PROTOBUF) and, for the last two, VALUE_SCHEMA: the Avro schema text or
    `file:<path in the function package>`, or the Protobuf message class as `module:Class`."""

    value_format: Literal["JSON", "AVRO", "PROTOBUF"] = "JSON"
    value_schema: str | None = None
    value_schema_wire_format: Literal["CONFLUENT"] | None = None

    @model_validator(mode="after")
    def _schema_for_binary_formats(self) -> ConsumerSettings:
        if self.value_format != "JSON" and not self.value_schema:
            raise ValueError(f"VALUE_FORMAT={self.value_format} needs VALUE_SCHEMA")
        return self


_JSON = json.JSONDecoder()


class RecordValueError(ValueError):
    """The record's value cannot be decoded in the configured format."""


def _schema(settings: ConsumerSettings) -> Any:
    text = settings.value_schema or ""
    if settings.value_format == "PROTOBUF":
        module_name, _, class_name = text.partition(":")
        return getattr(importlib.import_module(module_name), class_name)
    if text.startswith("file:"):
        return (Path(__file__).parent / text.removeprefix("file:")).read_text()
    return text


@cache
def schema_config(settings: ConsumerSettings) -> SchemaConfig | None:
    """Powertools' SchemaConfig for Avro or Protobuf values (None for JSON), built once per container."""
    if settings.value_format == "JSON":
        return None
    return SchemaConfig(
        value_schema_type=settings.value_format,
        value_schema=_schema(settings),
        value_schema_wire_format=settings.value_schema_wire_format,
    )


def decode_value(record: KafkaRecord, raw: dict[str, Any], config: SchemaConfig | None) -> Any:
    """The record's value: JSON without a schema config, else Avro or Protobuf; None for a tombstone."""
    if record.value is None:
        return None
    try:
        if config is None:
            return _JSON.decode(record.value.decode("utf-8"))  # Kafka JSON is UTF-8 (RFC 8259)
        return ConsumerRecordRecords(raw, schema_config=config).value
    except Exception as error:
        value_format = "JSON" if config is None else config.value_schema_type
        raise RecordValueError(
            f"{record.partition_id}@{record.offset}: value is not {value_format}: {error}"
        ) from error


def _emit_batch_metrics(event: dict[str, Any], failed: int, now_ms: int) -> None:
    """Records, failures, value bytes and the oldest record's end-to-end lag, once per batch."""
    raw_records = [raw for records in event.get("records", {}).values() for raw in records]
    # Decoded size from the base64 length, without decoding again.
    value_bytes = sum(
        len(value) // 4 * 3 - value.endswith("=") - value.endswith("==")
        for raw in raw_records
        if (value := raw.get("value"))
    )
    oldest = min((raw["timestamp"] for raw in raw_records), default=now_ms)
    metrics.add_metric(name="RecordsProcessed", unit=MetricUnit.Count, value=len(raw_records) - failed)
    metrics.add_metric(name="RecordsFailed", unit=MetricUnit.Count, value=failed)
    metrics.add_metric(name="ValueBytes", unit=MetricUnit.Bytes, value=value_bytes)
    metrics.add_metric(name="EndToEndLag", unit=MetricUnit.Milliseconds, value=max(0, now_ms - oldest))


def handle_batch(
    event: dict[str, Any], context: Any, processor: BatchProcessor, settings: ConsumerSettings
) -> dict[str, Any]:
    """Process every record of the event; return Lambda's partial batch response.

    A configuration error raises before any record is touched: the invocation fails and Lambda retries
    the batch, instead of every record being reported failed and sent to the on-failure destination.
    """
    config = schema_config(settings)
    now_ms = int(time.time() * 1000)

    def handle_record(record: KafkaEventRecord) -> None:
        try:
            record_data = decode_event_record(record.raw_event)
            process_record(record_data, decode_value(record_data, record.raw_event, config))
        except Exception as error:
            logger.warning(
                "record failed",
                extra={
                    "partition": f"{record.topic}-{record.partition}",
                    "offset": record.offset,
                    "error": repr(error),
                },
            )
            raise

    response = process_partial_response(
        event=event, record_handler=handle_record, processor=processor, context=context
    )
    _emit_batch_metrics(event, len(response.get("batchItemFailures", [])), now_ms)
    return settle(dict(response), partial_batch_responses=settings.partial_batch_responses)


def new_processor() -> BatchProcessor:
    """The batch processor of this container. A batch whose records all fail is answered with all of them
    in batchItemFailures (not an exception), so its metrics are still emitted."""
    return BatchProcessor(event_type=EventType.Kafka, raise_on_entire_batch_failure=False)
