"""Checks against a deployed stack, named by AWS_SAM_STACK_NAME; skipped without it (and in `make test`)."""

from __future__ import annotations

import os

import boto3
import pytest

STACK_NAME = os.environ.get("AWS_SAM_STACK_NAME")
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not STACK_NAME, reason="set AWS_SAM_STACK_NAME to the name of a deployed stack"),
]


@pytest.fixture(scope="module")
def outputs() -> dict[str, str]:
    stack = boto3.client("cloudformation").describe_stacks(StackName=STACK_NAME)["Stacks"][0]
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


def test_cluster_is_active(outputs: dict[str, str]) -> None:
    cluster = boto3.client("kafka").describe_cluster_v2(ClusterArn=outputs["ClusterArn"])["ClusterInfo"]
    assert cluster["State"] == "ACTIVE"


def test_brokers_are_reachable_only_with_authentication(outputs: dict[str, str]) -> None:
    brokers = boto3.client("kafka").get_bootstrap_brokers(ClusterArn=outputs["ClusterArn"])
    assert "BootstrapBrokerString" not in brokers, "plaintext listener must be off"
    field = {"IAM": "BootstrapBrokerStringSaslIam", "SCRAM": "BootstrapBrokerStringSaslScram"}
    assert brokers[field[outputs["ClientAuthentication"]]]
