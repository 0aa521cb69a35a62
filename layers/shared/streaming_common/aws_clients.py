"""boto3 clients created lazily, once per container, with botocore's standard retry mode.

Endpoints follow boto3's own AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_<SERVICE> variables, which is how the
local runtime and the tests point them at moto.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

_CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=5,
    read_timeout=30,
)


@cache
def client(service_name: str) -> Any:
    """The shared boto3 client for `service_name` (for example "firehose" or "kafka")."""
    return boto3.session.Session().client(service_name, config=_CLIENT_CONFIG)  # type: ignore[call-overload]
