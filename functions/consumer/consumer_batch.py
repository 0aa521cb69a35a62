"""One MSK batch through Powertools' BatchProcessor: decode each record, call process_record, report the
failed ones (partial batch response) and emit the batch's metrics.

Each record exists in one form: BatchProcessor hands the handler Powertools' view of the record (a wrapper
of the event's dict, which also names the record in batchItemFailures); the handler decodes it once into
the layer's KafkaRecord, and the value, process_record and the metrics read only that.
"""

from __future__ import annotations

import base64
import importlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.kafka_event import KafkaEventRecord
from aws_lambda_powertools.utilities.kafka.deserializer.deserializer import get_deserializer
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
ValueDecoder = Callable[[bytes], Any]


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


def _json_value(value: bytes) -> Any:
    return _JSON.decode(value.decode("utf-8"))  # Kafka JSON is UTF-8 (RFC 8259)


@cache
def value_decoder(settings: ConsumerSettings) -> ValueDecoder:
    """How this container decodes a record's value bytes, built once: strict UTF-8 JSON, or Powertools'
    Avro or Protobuf deserializer for the configured schema (SchemaConfig checks the configuration)."""
    if settings.value_format == "JSON":
        return _json_value
    config = SchemaConfig(
        value_schema_type=settings.value_format,
        value_schema=_schema(settings),
        value_schema_wire_format=settings.value_schema_wire_format,
    )
    deserializer = get_deserializer(
        schema_type=config.value_schema_type,
        schema_value=config.value_schema,
        field_metadata=None,
        wire_format=config.value_schema_wire_format,
    )

    def binary_value(value: bytes) -> Any:
        # Powertools' deserializers read the base64 text Lambda sends, so they get the bytes in that form.
        return deserializer.deserialize(base64.b64encode(value))  # type: ignore[arg-type]

    return binary_value


def decode_value(record: KafkaRecord, decode: ValueDecoder, value_format: str) -> Any:
    """The record's value in the configured format (`value_format` names it in errors); None for a
    tombstone."""
    if record.value is None:
        return None
    try:
        return decode(record.value)
    except Exception as error:
        raise RecordValueError(
            f"{record.partition_id}@{record.offset}: value is not {value_format}: {error}"
        ) from error


@dataclass(slots=True)
class BatchTally:
    """What the batch's metrics count, gathered from each record as it is processed."""

    now_ms: int
    records: int = 0
    value_bytes: int = 0
    oldest_timestamp: int | None = None

    def add(self, record: KafkaRecord) -> None:
        """Count a decoded record: its value bytes and its timestamp."""
        if record.value is not None:
            self.value_bytes += len(record.value)
        if self.oldest_timestamp is None or record.timestamp < self.oldest_timestamp:
            self.oldest_timestamp = record.timestamp

    def emit(self, failed: int) -> None:
        """Records, failures, value bytes and the oldest record's end-to-end lag, once per batch."""
        oldest = self.now_ms if self.oldest_timestamp is None else self.oldest_timestamp
        metrics.add_metric(name="RecordsProcessed", unit=MetricUnit.Count, value=self.records - failed)
        metrics.add_metric(name="RecordsFailed", unit=MetricUnit.Count, value=failed)
        metrics.add_metric(name="ValueBytes", unit=MetricUnit.Bytes, value=self.value_bytes)
        metrics.add_metric(
            name="EndToEndLag", unit=MetricUnit.Milliseconds, value=max(0, self.now_ms - oldest)
        )


def handle_batch(
    event: dict[str, Any], context: Any, processor: BatchProcessor, settings: ConsumerSettings
) -> dict[str, Any]:
    """Process every record of the event; return Lambda's partial batch response.

    A configuration error raises before any record is touched: the invocation fails and Lambda retries
    the batch, instead of every record being reported failed and sent to the on-failure destination.
    """
    decode = value_decoder(settings)
    value_format = settings.value_format
    tally = BatchTally(now_ms=int(time.time() * 1000))

    def handle_record(record: KafkaEventRecord) -> None:  # BatchProcessor passes it as `record=`
        tally.records += 1
        try:
            decoded = decode_event_record(record.raw_event)
            tally.add(decoded)
            process_record(decoded, decode_value(decoded, decode, value_format))
        except Exception as error:
            logger.warning(  # under the position Powertools reports the failure with
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
    tally.emit(failed=len(response.get("batchItemFailures", [])))
    return settle(dict(response), partial_batch_responses=settings.partial_batch_responses)


def new_processor() -> BatchProcessor:
    """The batch processor of this container. A batch whose records all fail is answered with all of them
    in batchItemFailures (not an exception), so its metrics are still emitted."""
    return BatchProcessor(event_type=EventType.Kafka, raise_on_entire_batch_failure=False)
