"""Typed settings and the Kafka client configuration built from them."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws
from msgspec import ValidationError

from streaming_common import kafka_config
from streaming_common.aws_clients import client
from streaming_common.kafka_config import KafkaConfigError, bootstrap_servers, client_config
from streaming_common.settings import KafkaAuth, KafkaSettings, load_settings

CLUSTER_ARN = "arn:aws:kafka:us-east-1:123456789012:cluster/demo/0b9e2f47-1111-2222-3333-444455556666-2"


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    monkeypatch.setenv("KAFKA_AUTH", "PLAINTEXT")
    settings = load_settings(KafkaSettings)
    assert settings.kafka_auth is KafkaAuth.PLAINTEXT
    assert settings.kafka_bootstrap_servers == "127.0.0.1:9092"
    assert load_settings(KafkaSettings) is settings


def test_missing_connection_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.delenv("CLUSTER_ARN", raising=False)
    with pytest.raises(ValidationError, match="set KAFKA_BOOTSTRAP_SERVERS or CLUSTER_ARN"):
        KafkaSettings()


def test_scram_needs_its_secret() -> None:
    with pytest.raises(ValidationError, match="KAFKA_SCRAM_SECRET_ARN"):
        KafkaSettings(cluster_arn=CLUSTER_ARN, kafka_auth=KafkaAuth.SCRAM)


def test_unknown_auth_mode_is_rejected() -> None:
    with pytest.raises(ValidationError, match=r"Invalid enum value 'KERBEROS' - at `\$.KAFKA_AUTH`"):
        KafkaSettings(cluster_arn=CLUSTER_ARN, kafka_auth="KERBEROS")  # type: ignore[arg-type]


def test_plaintext_config_uses_the_given_brokers() -> None:
    settings = KafkaSettings(kafka_bootstrap_servers="b1:9092,b2:9092", kafka_auth=KafkaAuth.PLAINTEXT)
    config = client_config(settings, **{"acks": "all"})
    assert config["bootstrap.servers"] == "b1:9092,b2:9092"
    assert config["security.protocol"] == "PLAINTEXT"
    assert config["acks"] == "all"


def test_iam_config_signs_tokens_with_the_msk_signer(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = KafkaSettings(
        kafka_bootstrap_servers="b:9098", kafka_auth=KafkaAuth.IAM, aws_region="eu-west-1"
    )
    config = client_config(settings)
    assert config["security.protocol"] == "SASL_SSL"
    assert config["sasl.mechanisms"] == "OAUTHBEARER"
    # The callback really signs with the (dummy) credentials: the token is a base64url presigned URL.
    token, expiry_seconds = config["oauth_cb"]("")
    assert isinstance(token, str)
    assert len(token) > 100
    assert expiry_seconds > 0


@mock_aws
def test_scram_config_reads_the_secret() -> None:
    secret = boto3.client("secretsmanager").create_secret(
        Name="AmazonMSK_demo", SecretString=json.dumps({"username": "alice", "password": "s3cret-pass"})
    )
    settings = KafkaSettings(
        kafka_bootstrap_servers="b:9096", kafka_auth=KafkaAuth.SCRAM, kafka_scram_secret_arn=secret["ARN"]
    )
    config = client_config(settings)
    assert config["sasl.mechanisms"] == "SCRAM-SHA-512"
    assert (config["sasl.username"], config["sasl.password"]) == ("alice", "s3cret-pass")


@mock_aws
def test_scram_secret_without_credentials_is_reported() -> None:
    secret = boto3.client("secretsmanager").create_secret(Name="AmazonMSK_bad", SecretString="{}")
    settings = KafkaSettings(
        kafka_bootstrap_servers="b:9096", kafka_auth=KafkaAuth.SCRAM, kafka_scram_secret_arn=secret["ARN"]
    )
    with pytest.raises(KafkaConfigError, match="'username' and 'password'"):
        client_config(settings)


@pytest.mark.parametrize(
    ("auth", "field", "brokers"),
    [
        (KafkaAuth.IAM, "BootstrapBrokerStringSaslIam", "b-1.demo:9098,b-2.demo:9098"),
        (KafkaAuth.SCRAM, "BootstrapBrokerStringSaslScram", "b-1.demo:9096"),
    ],
)
def test_brokers_are_looked_up_from_the_cluster_arn(auth: KafkaAuth, field: str, brokers: str) -> None:
    settings = KafkaSettings(
        cluster_arn=CLUSTER_ARN,
        kafka_auth=auth,
        kafka_bootstrap_servers=None,
        kafka_scram_secret_arn="secret",
    )
    with Stubber(client("kafka")) as stub:
        stub.add_response("get_bootstrap_brokers", {field: brokers}, {"ClusterArn": CLUSTER_ARN})
        assert bootstrap_servers(settings) == brokers
        stub.assert_no_pending_responses()


def test_cluster_without_the_listener_is_a_clear_error() -> None:
    settings = KafkaSettings(
        cluster_arn=CLUSTER_ARN,
        kafka_auth=KafkaAuth.SCRAM,
        kafka_bootstrap_servers=None,
        kafka_scram_secret_arn="secret",
    )
    with Stubber(client("kafka")) as stub:
        stub.add_response("get_bootstrap_brokers", {"BootstrapBrokerStringSaslIam": "b:9098"})
        with pytest.raises(KafkaConfigError, match="no SCRAM listener"):
            kafka_config.bootstrap_servers(settings)
