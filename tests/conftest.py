"""Settings every test tier shares: no real AWS credentials or endpoints are ever used."""

from __future__ import annotations

import importlib.util
import os

import pytest

from local.lambda_context import LocalLambdaContext

# The Flink tier needs PyFlink, which runs on Python 3.11 only: `make test-flink` runs it in .venv-flink.
collect_ignore = [] if importlib.util.find_spec("pyflink") else ["flink"]

# Fixed before any boto3 client is created: tests never reach AWS.
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_REGION", "us-east-1")
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
os.environ.pop("AWS_PROFILE", None)
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "tests")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "StreamingDataSolutionTests")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")


@pytest.fixture(autouse=True)
def _fresh_cached_clients() -> None:
    """Each test gets new boto3 clients and settings, as a new Lambda container would."""
    from streaming_common.aws_clients import client
    from streaming_common.settings import load_settings

    client.cache_clear()
    load_settings.cache_clear()


class FakeLambdaContext(LocalLambdaContext):
    """The local runtime's context with a fixed request ID and the given time left."""

    def __init__(self, remaining_ms: int = 300_000) -> None:
        super().__init__("test-function", timeout_ms=remaining_ms)
        self.aws_request_id = "00000000-0000-0000-0000-000000000000"


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()
