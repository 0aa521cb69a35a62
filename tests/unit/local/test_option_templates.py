"""For an option, the local runtime creates what the root template deploys against an existing cluster."""

from __future__ import annotations

import pytest

from local.aws import option_templates
from local.functions import REPO, discover
from local.root_stack import applications_behind, mapped_functions, state_machine_functions


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        ("ClusterWithRestApi", ["foundation.yaml", "ingest-api.yaml", "monitoring.yaml"]),
        ("LambdaConsumer", ["foundation.yaml", "kafka-function.yaml", "monitoring.yaml"]),
        (
            "LambdaFirehoseS3",
            [
                "foundation.yaml",
                "firehose-delivery.yaml",
                "kafka-function.yaml",
                "archive-replay.yaml",
                "monitoring.yaml",
            ],
        ),
        ("FlinkS3", ["foundation.yaml", "flink-analytics.yaml", "monitoring.yaml"]),
        # kafka-function.yaml is nested twice (the consumer, the archive's forwarder): its resources once.
        (
            "All",
            [
                "foundation.yaml",
                "ingest-api.yaml",
                "kafka-function.yaml",
                "firehose-delivery.yaml",
                "archive-replay.yaml",
                "flink-analytics.yaml",
                "monitoring.yaml",
            ],
        ),
    ],
)
def test_each_option_gets_its_nested_templates_and_no_cluster(option: str, expected: list[str]) -> None:
    assert option_templates(option) == [REPO / "nested" / name for name in expected]


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        ("ClusterWithRestApi", []),
        ("LambdaConsumer", ["consumer"]),
        ("LambdaFirehoseS3", ["firehose_forwarder"]),
        ("FlinkS3", []),
        ("All", ["consumer", "firehose_forwarder"]),
    ],
)
def test_each_option_runs_the_functions_its_event_source_mappings_invoke(
    option: str, expected: list[str]
) -> None:
    # nested/kafka-function.yaml holds both; the Processor the root passes picks the one each mapping invokes
    assert [spec.name for spec in mapped_functions(option)] == expected


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        ("ClusterWithRestApi", []),
        ("LambdaConsumer", []),
        ("LambdaFirehoseS3", ["archive_replay"]),
        ("FlinkS3", []),
        ("All", ["archive_replay"]),
    ],
)
def test_the_functions_a_state_machine_invokes_are_served(option: str, expected: list[str]) -> None:
    # the archive replay's state machine reads its function's ARN (DefinitionSubstitutions)
    assert [spec.name for spec in state_machine_functions(option)] == expected


def test_make_invoke_creates_what_the_root_passes_the_forwarder() -> None:
    # The forwarder's stream and bucket are nested/firehose-delivery.yaml's, passed on by the root
    behind = applications_behind(discover()["firehose_forwarder"])
    assert [application.logical_id for application in behind] == [
        "ArchiveForwarder",
        "FirehoseArchive",
        "Foundation",
    ]
    assert behind[0].parameters["Processor"] == "archive"
