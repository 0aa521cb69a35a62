"""boto3 clients created lazily, once per container, with botocore's standard retry mode.

Endpoints follow boto3's own AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_<SERVICE> variables, which is how the
local runtime and the tests point them at moto.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config


@cache
def client(
    service_name: str, *, max_attempts: int = 5, connect_timeout: float = 5, read_timeout: float = 30
) -> Any:
    """The shared boto3 client for `service_name` (for example "firehose" or "kafka").

    `max_attempts=1` turns botocore's retries off, for callers that retry themselves against a deadline.
    """
    config = Config(
        retries={"mode": "standard", "max_attempts": max_attempts},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
    )
    return boto3.session.Session().client(service_name, config=config)  # type: ignore[call-overload]
