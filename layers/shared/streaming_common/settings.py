"""Typed settings read once per container from the function's environment, by the handler (app.py).

The settings are frozen pydantic models that read their fields from environment variables themselves, as
pydantic-settings' BaseSettings does for these flat settings, without importing pydantic-settings (about a
fifth of a handler's import time, issue 16).
"""

from __future__ import annotations

import os
from enum import StrEnum
from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class KafkaAuth(StrEnum):
    """How a client authenticates to the brokers."""

    IAM = "IAM"
    SCRAM = "SCRAM"
    PLAINTEXT = "PLAINTEXT"  # local runs only: the templates never allow it


def _environment_values(settings_class: type[BaseModel]) -> dict[str, str]:
    """The environment variables of `settings_class`'s fields, by field name or validation alias (variable
    names are case-insensitive); the model validates and converts the text."""
    environment = {name.lower(): value for name, value in os.environ.items()}
    values: dict[str, str] = {}
    for name, field in settings_class.model_fields.items():
        key = field.validation_alias if isinstance(field.validation_alias, str) else name
        if (value := environment.get(key.lower())) is not None:
            values[key] = value
    return values


class FunctionSettings(BaseModel):
    """Base class of every function's settings: environment variables, case-insensitive, read once.
    Keyword arguments take precedence over the environment; defaults are validated too."""

    model_config = ConfigDict(frozen=True, extra="ignore", validate_default=True)

    aws_region: str = Field(default="us-east-1", validation_alias="AWS_REGION")

    def __init__(self, **values: Any) -> None:
        super().__init__(**(_environment_values(type(self)) | values))


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
