"""LambdaFirehoseS3: every record from the MSK event source mapping to the S3 archive through Firehose."""

from __future__ import annotations

from typing import Any

import archive_delivery
from archive_delivery import ForwarderSettings
from streaming_common.observability import logger, metrics, tracer
from streaming_common.settings import load_settings


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return archive_delivery.forward(event, context, load_settings(ForwarderSettings))
