"""CloudFormation custom resource: an MSK cluster's bootstrap brokers, and the VPC of its clients' subnets.

It runs outside the VPC, so that nothing inside the VPC calls the MSK control plane: the functions there get
the brokers as configuration (review item D3 in docs/decisions.md).
"""

from __future__ import annotations

from typing import Any

from broker_lookup import BootstrapRequest, bootstrap_brokers, vpc_of
from streaming_common.custom_resource import CustomResource
from streaming_common.observability import logger

helper = CustomResource()


@helper.create
@helper.update
def look_up(event: dict[str, Any], _context: Any) -> str:
    request = BootstrapRequest.from_properties(event["ResourceProperties"])
    helper.Data["BootstrapServers"] = bootstrap_brokers(request)
    helper.Data["VpcId"] = vpc_of(request.subnet_ids)
    return request.physical_id


@helper.delete
def delete(_event: dict[str, Any], _context: Any) -> None:
    """Nothing was created."""


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> None:
    helper(event, context)
