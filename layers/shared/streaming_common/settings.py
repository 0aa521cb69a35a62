"""Typed settings read once per container from the function's environment, by the handler (app.py).

The settings are frozen msgspec structs that read their fields from environment variables when constructed:
variable names in any case (a field's variable is its name in capitals, so `aws_region` reads AWS_REGION),
keyword arguments first, every value converted and checked by `msgspec.convert`, defaults included; a bad
value is a `msgspec.ValidationError` naming the variable (`... - at $.PRODUCE_TIMEOUT_MS`). msgspec imports
in a few milliseconds where pydantic took about 40 ms of every handler's cold start (issue 16).
"""

from __future__ import annotations

import os
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any, cast

import msgspec


class KafkaAuth(StrEnum):
    """How a client authenticates to the brokers."""

    IAM = "IAM"
    SCRAM = "SCRAM"
    PLAINTEXT = "PLAINTEXT"  # local runs only: the templates never allow it


def _decode_other_types(expected: type, value: Any) -> Any:
    """What msgspec does not convert itself: paths, from text."""
    if expected is Path and isinstance(value, str | Path):
        return Path(value)
    raise TypeError(f"expected {expected.__name__}, got {type(value).__name__}")


class _FromEnvironment(msgspec.StructMeta):
    """The settings classes' metaclass: constructing settings reads the environment and validates."""

    def __call__(cls, **values: Any) -> Any:  # noqa: N805 - a metaclass method: the argument is the class
        environment = {name.lower(): value for name, value in os.environ.items()}
        document: dict[str, Any] = {}
        for field in msgspec.structs.fields(cast("type[msgspec.Struct]", cls)):
            if field.name in values:
                document[field.encode_name] = values.pop(field.name)
            elif (text := environment.get(field.encode_name.lower())) is not None:
                document[field.encode_name] = text
            elif field.default is not msgspec.NODEFAULT:
                document[field.encode_name] = field.default
            elif field.default_factory is not msgspec.NODEFAULT:
                document[field.encode_name] = field.default_factory()
        if values:
            raise TypeError(f"{cls.__name__} has no field {', '.join(sorted(values))}")
        return msgspec.convert(document, cls, strict=False, dec_hook=_decode_other_types)


class FunctionSettings(msgspec.Struct, metaclass=_FromEnvironment, frozen=True, kw_only=True, rename="upper"):
    """Base class of every function's settings: environment variables, case-insensitive, read once.
    Keyword arguments take precedence over the environment; defaults are validated too. A subclass is
    declared `frozen=True, kw_only=True` (as mypy needs to see it) and checks its fields together in
    `__post_init__` (raising ValueError), calling its base's first."""

    aws_region: str = "us-east-1"

    def __post_init__(self) -> None:
        """Nothing to check across the base's fields."""


class KafkaEventSourceSettings(FunctionSettings, frozen=True, kw_only=True):
    """Settings of a function on a Kafka event source mapping.

    PARTIAL_BATCH_RESPONSES: whether the mapping reports batch item failures (ReportBatchItemFailures,
    which Kafka mappings offer in provisioned poller mode).
    """

    partial_batch_responses: bool = True


class KafkaSettings(FunctionSettings, frozen=True, kw_only=True):
    """Where the brokers are and how to authenticate to them."""

    kafka_bootstrap_servers: str | None = None
    cluster_arn: str | None = None
    kafka_auth: KafkaAuth = KafkaAuth.IAM
    kafka_scram_secret_arn: str | None = None

    def __post_init__(self) -> None:
        """A connection is named, and SCRAM has its secret."""
        super().__post_init__()
        if not self.kafka_bootstrap_servers and not self.cluster_arn:
            raise ValueError("set KAFKA_BOOTSTRAP_SERVERS or CLUSTER_ARN")
        if self.kafka_auth is KafkaAuth.SCRAM and not self.kafka_scram_secret_arn:
            raise ValueError("KAFKA_AUTH=SCRAM needs KAFKA_SCRAM_SECRET_ARN")


@cache
def load_settings[S: FunctionSettings](settings_class: type[S]) -> S:
    """Read `settings_class` from the environment once per container and cache it.

    Only handlers (app.py) call it, at their entry; they pass the settings down to the logic modules.
    """
    return settings_class()
