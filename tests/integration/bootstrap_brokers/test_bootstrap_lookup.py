"""The bootstrap brokers custom resource through its real handler and a CloudFormation response endpoint.
moto has no kafka:GetBootstrapBrokers, so MSK's answers come from botocore's Stubber, which checks the
request and the answer against the MSK service model."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.stub import Stubber

from local.functions import load_handler
from streaming_common.aws_clients import client
from tests.conftest import FakeLambdaContext
from tests.integration.conftest import CloudFormationEndpoint

LOOKUP = "AWS::CloudFormation::CustomResource"
CLUSTER = (
    "arn:aws:kafka:us-east-1:123456789012:cluster/streaming-1a2b3c4d/1a2b3c4d-0000-1111-2222-333344445555-3"
)
MSK_ANSWER = {
    "BootstrapBrokerStringSaslIam": "b-1.streaming.kafka.us-east-1.amazonaws.com:9098,"
    "b-2.streaming.kafka.us-east-1.amazonaws.com:9098",
    "BootstrapBrokerStringSaslScram": "b-1.streaming.kafka.us-east-1.amazonaws.com:9096",
}


@pytest.fixture
def msk() -> Iterator[Stubber]:
    with Stubber(client("kafka")) as stub:
        yield stub


@pytest.fixture
def lookup_handler(msk: Stubber) -> Any:
    return load_handler("bootstrap_brokers")


@pytest.mark.parametrize(
    ("auth", "field"), [("IAM", "BootstrapBrokerStringSaslIam"), ("SCRAM", "BootstrapBrokerStringSaslScram")]
)
def test_returns_the_listener_of_the_authentication_mode(
    *,
    lookup_handler: Any,
    msk: Stubber,
    cloudformation_endpoint: CloudFormationEndpoint,
    lambda_context: FakeLambdaContext,
    auth: str,
    field: str,
) -> None:
    msk.add_response("get_bootstrap_brokers", MSK_ANSWER, {"ClusterArn": CLUSTER})
    answer = cloudformation_endpoint.ask(
        lookup_handler,
        lambda_context,
        "Create",
        LOOKUP,
        {"ClusterArn": CLUSTER, "ClientAuthentication": auth},
    )
    assert answer["Status"] == "SUCCESS", answer.get("Reason")
    assert answer["Data"] == {"BootstrapServers": MSK_ANSWER[field], "VpcId": ""}
    assert answer["PhysicalResourceId"] == f"{CLUSTER}#{auth}"


def test_a_cluster_without_the_listener_fails_with_the_reason(
    lookup_handler: Any,
    msk: Stubber,
    cloudformation_endpoint: CloudFormationEndpoint,
    lambda_context: FakeLambdaContext,
) -> None:
    msk.add_response(
        "get_bootstrap_brokers", {"BootstrapBrokerStringSaslIam": "b-1:9098"}, {"ClusterArn": CLUSTER}
    )
    answer = cloudformation_endpoint.ask(
        lookup_handler,
        lambda_context,
        "Create",
        LOOKUP,
        {"ClusterArn": CLUSTER, "ClientAuthentication": "SCRAM"},
    )
    assert answer["Status"] == "FAILED"
    assert "has no SCRAM listener" in answer["Reason"]


@pytest.mark.parametrize(
    ("properties", "reason"),
    [
        (
            {"ClusterArn": "not-an-arn", "ClientAuthentication": "IAM"},
            "ClusterArn must be an MSK cluster ARN",
        ),
        (
            {"ClusterArn": CLUSTER, "ClientAuthentication": "PLAINTEXT"},
            "ClientAuthentication must be IAM or SCRAM",
        ),
    ],
)
def test_bad_properties_fail_without_calling_msk(
    *,
    lookup_handler: Any,
    msk: Stubber,
    cloudformation_endpoint: CloudFormationEndpoint,
    lambda_context: FakeLambdaContext,
    properties: dict[str, str],
    reason: str,
) -> None:
    answer = cloudformation_endpoint.ask(lookup_handler, lambda_context, "Create", LOOKUP, properties)
    assert answer["Status"] == "FAILED"
    assert reason in answer["Reason"]
    msk.assert_no_pending_responses()


def test_delete_succeeds_without_calling_msk(
    lookup_handler: Any,
    msk: Stubber,
    cloudformation_endpoint: CloudFormationEndpoint,
    lambda_context: FakeLambdaContext,
) -> None:
    properties = {"ClusterArn": CLUSTER, "ClientAuthentication": "IAM"}
    event = cloudformation_endpoint.event("Delete", LOOKUP, properties, f"{CLUSTER}#IAM")
    lookup_handler.lambda_handler(event, lambda_context)
    assert cloudformation_endpoint.responses[-1]["Status"] == "SUCCESS"


def _ask_with_subnets(
    handler: Any, endpoint: CloudFormationEndpoint, context: FakeLambdaContext, vpcs: list[str]
) -> dict[str, Any]:
    """Look the cluster up with two client subnets that EC2 places in `vpcs` (one per subnet)."""
    subnets = ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"]
    with Stubber(client("ec2")) as ec2:
        ec2.add_response(
            "describe_subnets",
            {"Subnets": [{"SubnetId": s, "VpcId": v} for s, v in zip(subnets, vpcs, strict=True)]},
            {"SubnetIds": subnets},
        )
        return endpoint.ask(
            handler,
            context,
            "Create",
            LOOKUP,
            {"ClusterArn": CLUSTER, "ClientAuthentication": "IAM", "SubnetIds": ",".join(subnets)},
        )


def test_gives_the_vpc_of_the_clients_subnets(
    lookup_handler: Any,
    msk: Stubber,
    cloudformation_endpoint: CloudFormationEndpoint,
    lambda_context: FakeLambdaContext,
) -> None:
    # Given the clients' subnets (the Flink application creates its own security group in their VPC)
    msk.add_response("get_bootstrap_brokers", MSK_ANSWER, {"ClusterArn": CLUSTER})
    vpc = "vpc-0ccccccccccccccccc"
    answer = _ask_with_subnets(lookup_handler, cloudformation_endpoint, lambda_context, [vpc, vpc])
    assert answer["Status"] == "SUCCESS", answer.get("Reason")
    assert answer["Data"]["VpcId"] == vpc


def test_subnets_in_two_vpcs_fail_with_the_reason(
    lookup_handler: Any,
    msk: Stubber,
    cloudformation_endpoint: CloudFormationEndpoint,
    lambda_context: FakeLambdaContext,
) -> None:
    msk.add_response("get_bootstrap_brokers", MSK_ANSWER, {"ClusterArn": CLUSTER})
    vpcs = ["vpc-00cccccccccccccccc", "vpc-01cccccccccccccccc"]
    answer = _ask_with_subnets(lookup_handler, cloudformation_endpoint, lambda_context, vpcs)
    assert answer["Status"] == "FAILED"
    assert "are in 2 VPCs" in answer["Reason"]
