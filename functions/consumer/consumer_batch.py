"""One MSK batch through Powertools' BatchProcessor (KafkaBatchProcessor, its loop made tight): decode each
record, call process_record, report the failed ones (partial batch response) and emit the batch's metrics.

Each record exists in one form: the processor hands the handler the event's dict; the handler decodes it
once into the layer's KafkaRecord (headers decoded when first read), and the value, process_record and the
metrics read only that. Failed records reach Powertools' failure handling as KafkaEventRecords, which name
them in batchItemFailures.
"""

from __future__ import annotations

import base64
import importlib
import json
import sys
import time
from collections.abc import Callable
from functools import cache, partial
from pathlib import Path
from typing import Any, Literal

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.kafka_event import KafkaEventRecord

from process_record import process_record
from streaming_common.batch_response import settle
from streaming_common.kafka_codec import decode_event_record
from streaming_common.observability import logger, metrics
from streaming_common.settings import KafkaEventSourceSettings


class ConsumerSettings(KafkaEventSourceSettings, frozen=True, kw_only=True):
    """VALUE_FORMAT (JSON, AVRO or PROTOBUF) and, for the last two, VALUE_SCHEMA: the Avro schema text or
    `file:<path in the function package>`, or the Protobuf message class as `module:Class`."""

    value_format: Literal["JSON", "AVRO", "PROTOBUF"] = "JSON"
    value_schema: str | None = None
    value_schema_wire_format: Literal["CONFLUENT"] | None = None

    def __post_init__(self) -> None:
        """AVRO and PROTOBUF need their schema."""
        super().__post_init__()
        if self.value_format != "JSON" and not self.value_schema:
            raise ValueError(f"VALUE_FORMAT={self.value_format} needs VALUE_SCHEMA")


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
    # Only Avro and Protobuf need Powertools' Kafka deserializers: JSON functions skip their import.
    from aws_lambda_powertools.utilities.kafka.deserializer.deserializer import get_deserializer  # noqa: PLC0415
    from aws_lambda_powertools.utilities.kafka.schema_config import SchemaConfig  # noqa: PLC0415

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


class KafkaBatchProcessor(BatchProcessor):
    """Powertools' BatchProcessor for Kafka events with its per-record loop made tight.

    Same response and failure handling as BatchProcessor(EventType.Kafka): a record whose handler raises
    goes through `failure_handler` with its KafkaEventRecord and `sys.exc_info()`, and `_clean` builds
    batchItemFailures from those; successes are kept in `success_messages` as the event's dicts. What is
    left out is the per-record work for records that succeed: the KafkaEventRecord wrapper (`_to_batch_type`)
    and the `success_handler` call. So the record handler receives the event's dict, not a KafkaEventRecord.
    """

    def __init__(self) -> None:
        super().__init__(event_type=EventType.Kafka, raise_on_entire_batch_failure=False)

    def process(self) -> list[tuple[str, Any, Any]]:
        """Call the handler on each record's dict; the same outcome tuples as BatchProcessor.process."""
        handler = self.handler
        if self._handler_accepts_lambda_context:
            handler = partial(handler, lambda_context=self.lambda_context)
        outcomes: list[tuple[str, Any, Any]] = []
        append = outcomes.append
        for record in self.records:
            try:
                append(("success", handler(record), record))
            except Exception:
                append(self.failure_handler(KafkaEventRecord(record), sys.exc_info()))
        self.success_messages.extend([record for outcome, _, record in outcomes if outcome == "success"])
        return outcomes


def _emit_metrics(records: int, failed: int, value_bytes: int, lag_ms: int) -> None:
    """Records, failures, value bytes and the oldest record's end-to-end lag, once per batch."""
    metrics.add_metric(name="RecordsProcessed", unit=MetricUnit.Count, value=records - failed)
    metrics.add_metric(name="RecordsFailed", unit=MetricUnit.Count, value=failed)
    metrics.add_metric(name="ValueBytes", unit=MetricUnit.Bytes, value=value_bytes)
    metrics.add_metric(name="EndToEndLag", unit=MetricUnit.Milliseconds, value=max(0, lag_ms))


def handle_batch(
    event: dict[str, Any], context: Any, processor: KafkaBatchProcessor, settings: ConsumerSettings
) -> dict[str, Any]:
    """Process every record of the event; return Lambda's partial batch response.

    A configuration error raises before any record is touched: the invocation fails and Lambda retries
    the batch, instead of every record being reported failed and sent to the on-failure destination.
    """
    decode = value_decoder(settings)
    value_format = settings.value_format
    now_ms = int(time.time() * 1000)
    oldest_timestamp, value_bytes = now_ms, 0

    def handle_record(raw: dict[str, Any]) -> None:
        nonlocal oldest_timestamp, value_bytes
        try:
            record = decode_event_record(raw, headers_on_use=True)
            if record.timestamp < oldest_timestamp:  # noqa: PLR1730 - cheaper than min() per record
                oldest_timestamp = record.timestamp
            value = record.value
            if value is not None:
                value_bytes += len(value)
                try:
                    value = decode(value)
                except Exception as error:
                    raise RecordValueError(
                        f"{record.partition_id}@{record.offset}: value is not {value_format}: {error}"
                    ) from error
            process_record(record, value)
        except Exception as error:
            logger.warning(  # under the position Powertools reports the failure with
                "record failed",
                extra={
                    "partition": f"{raw.get('topic')}-{raw.get('partition')}",
                    "offset": raw.get("offset"),
                    "error": repr(error),
                },
            )
            raise

    response = process_partial_response(
        event=event, record_handler=handle_record, processor=processor, context=context
    )
    failed = len(response.get("batchItemFailures", []))
    _emit_metrics(len(processor.records), failed, value_bytes, now_ms - oldest_timestamp)
    return settle(dict(response), partial_batch_responses=settings.partial_batch_responses)


def new_processor() -> KafkaBatchProcessor:
    """The batch processor of this container. A batch whose records all fail is answered with all of them
    in batchItemFailures (not an exception), so its metrics are still emitted."""
    return KafkaBatchProcessor()
