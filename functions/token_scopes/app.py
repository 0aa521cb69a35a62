"""Cognito pre token generation trigger (V2): adds records/write to the access tokens of producers."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes import event_source
from aws_lambda_powertools.utilities.data_classes.cognito_user_pool_event import (
    PreTokenGenerationV2TriggerEvent,
)

import scope_grants
from streaming_common.observability import logger


@logger.inject_lambda_context
@event_source(data_class=PreTokenGenerationV2TriggerEvent)
def lambda_handler(event: PreTokenGenerationV2TriggerEvent, context: Any) -> dict[str, Any]:
    groups = event.request.group_configuration.groups_to_override
    scopes = scope_grants.scopes_for(groups)
    if scopes:
        event.response.claims_scope_override_details.access_token_generation.scopes_to_add = scopes
    return event.raw_event
