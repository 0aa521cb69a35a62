"""Read the custom resource's request and look the brokers up with kafka:GetBootstrapBrokers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from streaming_common.kafka_config import lookup_bootstrap_brokers
from streaming_common.settings import KafkaAuth


class BootstrapRequestError(ValueError):
    """The custom resource's properties are not a cluster ARN and an authentication mode."""


@dataclass(frozen=True, slots=True)
class BootstrapRequest:
    """Which cluster, and which of its listeners (IAM or SCRAM)."""

    cluster_arn: str
    auth: KafkaAuth

    @classmethod
    def from_properties(cls, properties: Mapping[str, Any]) -> BootstrapRequest:
        """Read and check ClusterArn and ClientAuthentication."""
        cluster_arn = properties.get("ClusterArn")
        if not isinstance(cluster_arn, str) or ":kafka:" not in cluster_arn:
            raise BootstrapRequestError(f"ClusterArn must be an MSK cluster ARN, got {cluster_arn!r}")
        auth = properties.get("ClientAuthentication")
        if auth not in (KafkaAuth.IAM, KafkaAuth.SCRAM):
            raise BootstrapRequestError(f"ClientAuthentication must be IAM or SCRAM, got {auth!r}")
        return cls(cluster_arn, KafkaAuth(auth))

    @property
    def physical_id(self) -> str:
        """Stable per cluster and listener: a new one replaces the resource."""
        return f"{self.cluster_arn}#{self.auth.value}"


def bootstrap_brokers(request: BootstrapRequest) -> str:
    """The comma-separated host:port list of the cluster's private listener for `request.auth`."""
    return lookup_bootstrap_brokers(request.cluster_arn, request.auth)
