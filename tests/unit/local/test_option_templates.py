"""For an option, the local runtime creates what the root template deploys against an existing cluster."""

from __future__ import annotations

import pytest

from local.aws import option_templates
from local.functions import REPO


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        ("ClusterWithRestApi", ["ingest-api.yaml"]),
        ("LambdaConsumer", ["lambda-consumer.yaml"]),
        ("LambdaFirehoseS3", ["firehose-delivery.yaml"]),
        # The FlinkS3 template does not exist yet: the local runtime names the results bucket itself.
        ("FlinkS3", []),
        ("All", ["ingest-api.yaml", "lambda-consumer.yaml", "firehose-delivery.yaml"]),
    ],
)
def test_each_option_gets_its_nested_templates_and_no_cluster(option: str, expected: list[str]) -> None:
    assert option_templates(option) == [REPO / "nested" / name for name in expected]
