"""Read the custom resource's request; look the brokers up with kafka:GetBootstrapBrokers, and the VPC of the
clients' subnets with ec2:DescribeSubnets (a component that creates its own security group needs it)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from streaming_common.aws_clients import client
from streaming_common.kafka_config import lookup_bootstrap_brokers
from streaming_common.settings import KafkaAuth


class BootstrapRequestError(ValueError):
    """The custom resource's properties are not a cluster ARN and an authentication mode."""


@dataclass(frozen=True, slots=True)
class BootstrapRequest:
    """Which cluster, and which of its listeners (IAM or SCRAM)."""

    cluster_arn: str
    auth: KafkaAuth
    subnet_ids: tuple[str, ...] = ()

    @classmethod
    def from_properties(cls, properties: Mapping[str, Any]) -> BootstrapRequest:
        """Read and check ClusterArn, ClientAuthentication and the optional comma-separated SubnetIds."""
        cluster_arn = properties.get("ClusterArn")
        if not isinstance(cluster_arn, str) or ":kafka:" not in cluster_arn:
            raise BootstrapRequestError(f"ClusterArn must be an MSK cluster ARN, got {cluster_arn!r}")
        auth = properties.get("ClientAuthentication")
        if auth not in (KafkaAuth.IAM, KafkaAuth.SCRAM):
            raise BootstrapRequestError(f"ClientAuthentication must be IAM or SCRAM, got {auth!r}")
        subnets = properties.get("SubnetIds", "")
        if not isinstance(subnets, str):
            raise BootstrapRequestError(f"SubnetIds must be comma-separated subnet IDs, got {subnets!r}")
        return cls(cluster_arn, KafkaAuth(auth), tuple(s for s in subnets.split(",") if s))

    @property
    def physical_id(self) -> str:
        """Stable per cluster and listener: a new one replaces the resource."""
        return f"{self.cluster_arn}#{self.auth.value}"


def bootstrap_brokers(request: BootstrapRequest) -> str:
    """The comma-separated host:port list of the cluster's private listener for `request.auth`."""
    return lookup_bootstrap_brokers(request.cluster_arn, request.auth)


def vpc_of(subnet_ids: tuple[str, ...]) -> str:
    """The VPC the subnets are in ("" for none); they must all be in one."""
    if not subnet_ids:
        return ""
    subnets = client("ec2").describe_subnets(SubnetIds=list(subnet_ids))["Subnets"]
    vpcs = sorted({subnet["VpcId"] for subnet in subnets})
    if len(vpcs) != 1:
        raise BootstrapRequestError(f"the subnets {', '.join(subnet_ids)} are in {len(vpcs)} VPCs: {vpcs}")
    return str(vpcs[0])
