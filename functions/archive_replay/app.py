"""Archive replay: one function for every step of the replay state machine (nested/archive-replay.yaml)."""

from __future__ import annotations

from typing import Any

import replay_steps
from replay_settings import ReplaySettings
from streaming_common.observability import logger, metrics, tracer
from streaming_common.settings import load_settings


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return replay_steps.run(event, context, load_settings(ReplaySettings))
