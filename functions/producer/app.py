"""ClusterWithRestApi: the producer behind API Gateway, writing records into the MSK topic."""

from __future__ import annotations

import gc
from typing import Any

from aws_lambda_powertools.logging import correlation_paths

import ingest_routes
from record_producer import ProducerSettings
from streaming_common.observability import logger, metrics, tracer
from streaming_common.settings import load_settings

# What the imports made lives as long as the container: out of the garbage collector's way. A request keeps
# a few thousand objects alive (the parsed body, its records as bytes, their delivery reports), so every few
# dozen requests a full collection ran, walking every object of Powertools, pydantic and botocore: 47 ms.
gc.freeze()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return ingest_routes.handle(event, context, load_settings(ProducerSettings))
