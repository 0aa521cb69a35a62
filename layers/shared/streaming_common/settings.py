"""Typed settings read once per container from the function's environment, by the handler (app.py)."""

from __future__ import annotations

from enum import StrEnum
from functools import cache

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class KafkaAuth(StrEnum):
    """How a client authenticates to the brokers."""

    IAM = "IAM"
    SCRAM = "SCRAM"
    PLAINTEXT = "PLAINTEXT"  # local runs only: the templates never allow it


class FunctionSettings(BaseSettings):
    """Base class of every function's settings: environment variables, case-insensitive, read once."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", case_sensitive=False)

    aws_region: str = Field(default="us-east-1", validation_alias="AWS_REGION")


class KafkaEventSourceSettings(FunctionSettings):
    """Settings of a function on a Kafka event source mapping.

    PARTIAL_BATCH_RESPONSES: whether the mapping reports batch item failures (ReportBatchItemFailures,
    which Kafka mappings offer in provisioned poller mode).
    """

    partial_batch_responses: bool = True


class KafkaSettings(FunctionSettings):
    """Where the brokers are and how to authenticate to them."""

    kafka_bootstrap_servers: str | None = None
    cluster_arn: str | None = None
    kafka_auth: KafkaAuth = KafkaAuth.IAM
    kafka_scram_secret_arn: str | None = None

    @model_validator(mode="after")
    def _check_connection(self) -> KafkaSettings:
        if not self.kafka_bootstrap_servers and not self.cluster_arn:
            raise ValueError("set KAFKA_BOOTSTRAP_SERVERS or CLUSTER_ARN")
        if self.kafka_auth is KafkaAuth.SCRAM and not self.kafka_scram_secret_arn:
            raise ValueError("KAFKA_AUTH=SCRAM needs KAFKA_SCRAM_SECRET_ARN")
        return self


@cache
def load_settings[S: FunctionSettings](settings_class: type[S]) -> S:
    """Read `settings_class` from the environment once per container and cache it.

    Only handlers (app.py) call it, at their entry; they pass the settings down to the logic modules.
    """
    return settings_class()
