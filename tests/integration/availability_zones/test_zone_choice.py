"""The Availability Zones custom resource through its real handler, against moto's EC2 (its zones carry the
real zone IDs: us-east-1e is use1-az3 there) and a CloudFormation response endpoint."""

from __future__ import annotations

from typing import Any

import pytest

from local import aws
from local.functions import load_handler
from tests.conftest import FakeLambdaContext
from tests.integration.conftest import CloudFormationEndpoint

ZONES = "Custom::AvailabilityZones"


@pytest.fixture
def zones_handler(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    return load_handler("availability_zones")


def _answer(
    handler: Any, endpoint: CloudFormationEndpoint, context: FakeLambdaContext, **properties: str
) -> dict[str, Any]:
    return endpoint.ask(handler, context, "Create", ZONES, properties)


def test_picks_zones_msk_supports(
    zones_handler: Any, cloudformation_endpoint: CloudFormationEndpoint, lambda_context: FakeLambdaContext
) -> None:
    answer = _answer(zones_handler, cloudformation_endpoint, lambda_context, Count="3", Zones="")
    assert answer["Status"] == "SUCCESS", answer.get("Reason")
    data = answer["Data"]
    assert [data["ZoneA"], data["ZoneB"], data["ZoneC"]] == ["us-east-1a", "us-east-1b", "us-east-1c"]
    assert "use1-az3" not in data["ZoneIds"].split(",")
    assert answer["PhysicalResourceId"] == "us-east-1a,us-east-1b,us-east-1c"


def test_two_zones_leave_the_third_empty(
    zones_handler: Any, cloudformation_endpoint: CloudFormationEndpoint, lambda_context: FakeLambdaContext
) -> None:
    answer = _answer(zones_handler, cloudformation_endpoint, lambda_context, Count="2", Zones="")
    assert answer["Status"] == "SUCCESS", answer.get("Reason")
    assert answer["Data"]["ZoneC"] == ""
    assert answer["Data"]["Zones"].count(",") == 1


def test_a_requested_zone_msk_refuses_fails_with_its_id(
    zones_handler: Any, cloudformation_endpoint: CloudFormationEndpoint, lambda_context: FakeLambdaContext
) -> None:
    answer = _answer(
        zones_handler, cloudformation_endpoint, lambda_context, Count="2", Zones="us-east-1a,us-east-1e"
    )
    assert answer["Status"] == "FAILED"
    assert "us-east-1e (use1-az3)" in answer["Reason"]


def test_requested_zones_must_match_the_count(
    zones_handler: Any, cloudformation_endpoint: CloudFormationEndpoint, lambda_context: FakeLambdaContext
) -> None:
    answer = _answer(
        zones_handler, cloudformation_endpoint, lambda_context, Count="3", Zones="us-east-1a,us-east-1b"
    )
    assert answer["Status"] == "FAILED"
    assert "AvailabilityZoneCount is 3" in answer["Reason"]


def test_a_region_with_too_few_zones_fails_early_and_says_what_to_set(
    zones_handler: Any,
    cloudformation_endpoint: CloudFormationEndpoint,
    lambda_context: FakeLambdaContext,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_REGION", "us-west-1")  # two Availability Zones
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-1")
    answer = _answer(zones_handler, cloudformation_endpoint, lambda_context, Count="3", Zones="")
    assert answer["Status"] == "FAILED"
    assert "set AvailabilityZoneCount to 2" in answer["Reason"]


def _subnets(endpoint: str, zones: list[str]) -> tuple[str, list[str]]:
    ec2 = aws.client("ec2", endpoint)
    vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    ids = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.30.{i}.0/24", AvailabilityZone=zone)["Subnet"]["SubnetId"]
        for i, zone in enumerate(zones)
    ]
    return vpc, ids


@pytest.mark.parametrize(
    ("zones", "count", "reason"),
    [
        (["us-east-1a", "us-east-1b", "us-east-1c"], "3", None),
        (["us-east-1a", "us-east-1b"], "3", "lists 2 subnets"),
        (["us-east-1a", "us-east-1a"], "2", "share Availability Zones"),
        (["us-east-1a", "us-east-1e"], "2", "us-east-1e (use1-az3)"),
    ],
)
def test_existing_subnets_are_checked(
    *,
    zones_handler: Any,
    moto_endpoint: str,
    cloudformation_endpoint: CloudFormationEndpoint,
    lambda_context: FakeLambdaContext,
    zones: list[str],
    count: str,
    reason: str | None,
) -> None:
    vpc, subnet_ids = _subnets(moto_endpoint, zones)
    answer = _answer(
        zones_handler,
        cloudformation_endpoint,
        lambda_context,
        Count=count,
        ExistingSubnetIds=",".join(subnet_ids),
        VpcId=vpc,
    )
    if reason is None:
        assert answer["Status"] == "SUCCESS", answer.get("Reason")
        assert answer["Data"]["Zones"] == ",".join(zones)
    else:
        assert answer["Status"] == "FAILED"
        assert reason in answer["Reason"]


def test_subnets_of_another_vpc_are_refused(
    zones_handler: Any,
    moto_endpoint: str,
    cloudformation_endpoint: CloudFormationEndpoint,
    lambda_context: FakeLambdaContext,
) -> None:
    _, subnet_ids = _subnets(moto_endpoint, ["us-east-1a", "us-east-1b"])
    answer = _answer(
        zones_handler,
        cloudformation_endpoint,
        lambda_context,
        Count="2",
        ExistingSubnetIds=",".join(subnet_ids),
        VpcId="vpc-0aaaaaaaaaaaaaaaa",
    )
    assert answer["Status"] == "FAILED"
    assert "are not in ExistingVpcId vpc-0aaaaaaaaaaaaaaaa" in answer["Reason"]


def test_endpoints_in_an_existing_vpc_need_its_dns_hostnames(
    zones_handler: Any,
    moto_endpoint: str,
    cloudformation_endpoint: CloudFormationEndpoint,
    lambda_context: FakeLambdaContext,
) -> None:
    vpc, subnet_ids = _subnets(moto_endpoint, ["us-east-1a", "us-east-1b"])
    properties = {
        "Count": "2",
        "ExistingSubnetIds": ",".join(subnet_ids),
        "VpcId": vpc,
        "EndpointServices": "sts,lambda,secretsmanager,sqs,logs,monitoring",
    }
    ec2 = aws.client("ec2", moto_endpoint)
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": False})
    refused = cloudformation_endpoint.ask(zones_handler, lambda_context, "Create", ZONES, properties)
    assert refused["Status"] == "FAILED"
    assert f"VPC {vpc} has enableDnsHostnames off" in refused["Reason"]
    # Once the VPC resolves private DNS names, the same request succeeds
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    accepted = cloudformation_endpoint.ask(zones_handler, lambda_context, "Create", ZONES, properties)
    assert accepted["Status"] == "SUCCESS", accepted
