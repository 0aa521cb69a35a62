"""CloudFormation custom resource: the Availability Zones of a new cluster's subnets, chosen among those MSK
supports (or the ones asked for, checked), or the checked subnets of an existing VPC. A region or account
that cannot take the request fails here, in seconds, before any cluster is built (review items D6, N8)."""

from __future__ import annotations

from typing import Any

from streaming_common.custom_resource import CustomResource
from streaming_common.observability import logger
from zone_choice import ZoneRequest, choose

helper = CustomResource()


@helper.create
@helper.update
def choose_zones(event: dict[str, Any], _context: Any) -> str:
    choice = choose(ZoneRequest.from_properties(event["ResourceProperties"]))
    helper.Data.update(choice.attributes())
    return ",".join(choice.zone_names)


@helper.delete
def delete(_event: dict[str, Any], _context: Any) -> None:
    """Nothing was created."""


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> None:
    helper(event, context)
