"""LambdaConsumer: records from the MSK event source mapping, with per-record failure reporting."""

from __future__ import annotations

from typing import Any

import consumer_batch
from consumer_batch import ConsumerSettings
from streaming_common.observability import logger, metrics, tracer
from streaming_common.settings import load_settings

processor = consumer_batch.new_processor()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return consumer_batch.handle_batch(event, context, processor, load_settings(ConsumerSettings))
