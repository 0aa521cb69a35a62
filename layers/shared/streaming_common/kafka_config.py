"""librdkafka (confluent-kafka) client configuration for MSK: bootstrap brokers and authentication."""

from __future__ import annotations

import json
from typing import Any

from streaming_common.settings import KafkaAuth, KafkaSettings

# GetBootstrapBrokers answer field per authentication mode (provisioned and serverless clusters alike).
_BOOTSTRAP_FIELD = {
    KafkaAuth.IAM: "BootstrapBrokerStringSaslIam",
    KafkaAuth.SCRAM: "BootstrapBrokerStringSaslScram",
    KafkaAuth.PLAINTEXT: "BootstrapBrokerString",
}


class KafkaConfigError(RuntimeError):
    """The brokers cannot be found or the credentials cannot be read."""


def lookup_bootstrap_brokers(cluster_arn: str, auth: KafkaAuth) -> str:
    """The bootstrap brokers MSK reports for the cluster's listener of `auth` (kafka:GetBootstrapBrokers)."""
    from streaming_common.aws_clients import client  # noqa: PLC0415 - boto3 only when the brokers are looked up

    answer = client("kafka").get_bootstrap_brokers(ClusterArn=cluster_arn)
    brokers = answer.get(_BOOTSTRAP_FIELD[auth])
    if not brokers:
        raise KafkaConfigError(
            f"cluster {cluster_arn} has no {auth.value} listener "
            f"({_BOOTSTRAP_FIELD[auth]} is empty): check the cluster's client authentication"
        )
    return str(brokers)


def bootstrap_servers(settings: KafkaSettings) -> str:
    """KAFKA_BOOTSTRAP_SERVERS as it is, or the brokers MSK reports for CLUSTER_ARN and the auth mode."""
    if settings.kafka_bootstrap_servers:
        return settings.kafka_bootstrap_servers
    return lookup_bootstrap_brokers(str(settings.cluster_arn), settings.kafka_auth)


def _iam_oauth_token(region: str) -> Any:
    from aws_msk_iam_sasl_signer import MSKAuthTokenProvider  # noqa: PLC0415 - only IAM clients need it

    def refresh(_oauthbearer_config: str) -> tuple[str, float]:
        token, expiry_ms = MSKAuthTokenProvider.generate_auth_token(region)
        return token, expiry_ms / 1000

    return refresh


def _scram_credentials(secret_arn: str) -> dict[str, str]:
    from streaming_common.aws_clients import client  # noqa: PLC0415 - boto3 only for SCRAM's secret

    secret = client("secretsmanager").get_secret_value(SecretId=secret_arn)
    try:
        values = json.loads(secret["SecretString"])
        return {"sasl.username": values["username"], "sasl.password": values["password"]}
    except (KeyError, ValueError) as error:
        raise KafkaConfigError(
            f"secret {secret_arn} must be JSON with 'username' and 'password' ({error})"
        ) from None


def client_config(settings: KafkaSettings, **overrides: Any) -> dict[str, Any]:
    """Configuration for a confluent-kafka Producer, Consumer or AdminClient, plus `overrides`."""
    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap_servers(settings),
        "client.id": "streaming-data-solution",
    }
    if settings.kafka_auth is KafkaAuth.IAM:
        config |= {
            "security.protocol": "SASL_SSL",
            "sasl.mechanisms": "OAUTHBEARER",
            "oauth_cb": _iam_oauth_token(settings.aws_region),
        }
    elif settings.kafka_auth is KafkaAuth.SCRAM:
        config |= {"security.protocol": "SASL_SSL", "sasl.mechanisms": "SCRAM-SHA-512"}
        config |= _scram_credentials(settings.kafka_scram_secret_arn or "")  # KafkaSettings requires it
    else:
        config["security.protocol"] = "PLAINTEXT"
    return config | overrides
