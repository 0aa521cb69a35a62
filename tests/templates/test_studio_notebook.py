"""The Studio notebook of nested/flink-analytics.yaml: optional, in the job's network, with the topic in its
Glue catalog as the job's own Kafka table (source_events), stored as Flink's Hive catalog stores a Flink
table."""

from __future__ import annotations

import dataclasses
import fnmatch
import re
from typing import Any

import pytest

from analytics_sql import kafka_source_options, source_table
from job_settings import job_settings_from_groups
from local.cfn import (
    PSEUDO_PARAMETERS,
    enabled_resources,
    evaluate_conditions,
    nested_parameters,
    parameter_values,
    resolve_tree,
)
from tests.templates.sam_offline import REPO, load_template
from tests.templates.scenarios import WIRED

TEMPLATE = "nested/flink-analytics.yaml"
STUDIO = {
    "StudioTopicTable",
    "StudioLogGroup",
    "StudioLogStream",
    "StudioRole",
    "StudioNotebookApplication",
    "StudioLogging",
}
FLINK_PREFIX = "flink."
# How Flink's catalog writes the job's column types (LogicalType.asSerializableString, Flink 1.15 to 1.20).
SERIALIZED_TYPES = {
    "STRING": "VARCHAR(2147483647)",
    "TIMESTAMP_LTZ(3)": "TIMESTAMP(3) WITH LOCAL TIME ZONE",
    "INT": "INT",
    "BIGINT": "BIGINT",
}
# The Studio runtime and the Flink version it runs (Managed Flink's Studio runtimes).
STUDIO_RUNTIME = "ZEPPELIN-FLINK-3_0"
STUDIO_FLINK = "1.15."


def _resolved(overrides: dict[str, str] | None = None) -> dict[str, Any]:
    """The enabled resources' properties, other resources' names as "<LogicalId>" markers."""
    template = load_template(REPO / TEMPLATE)
    wired = {k: v for k, v in WIRED.items() if k in template["Parameters"]}
    params = parameter_values(
        template, wired | {"BootstrapServers": "b-1.example.com:9098"} | (overrides or {})
    )
    conditions = evaluate_conditions(template, params)
    markers = {name: f"<{name}>" for name in template["Resources"]}
    names = PSEUDO_PARAMETERS | params | markers
    return {
        name: resolve_tree(template["Resources"][name].get("Properties", {}), names, conditions)
        for name in enabled_resources(template, params)
        if name in STUDIO | {"Application", "ApplicationRole", "RunOnTheTopicPolicy"}
    }


@pytest.fixture(scope="module")
def deployed() -> dict[str, Any]:
    return _resolved()


def _flink_table(table_input: dict[str, Any]) -> dict[str, str]:
    """The Flink table's properties as Flink's catalog reads them back (the flink. prefix taken off)."""
    parameters = table_input["Parameters"]
    assert parameters[FLINK_PREFIX + "connector"], "flink.connector marks a Flink table in a Hive catalog"
    return {k.removeprefix(FLINK_PREFIX): v for k, v in parameters.items() if k.startswith(FLINK_PREFIX)}


def _columns(flink: dict[str, str]) -> dict[str, tuple[str, str | None]]:
    """name -> (serialized type, metadata key or None) of the schema.<i>.* properties, in order."""
    count = len({k.split(".")[1] for k in flink if re.fullmatch(r"schema\.\d+\.name", k)})
    return {
        flink[f"schema.{i}.name"]: (flink[f"schema.{i}.data-type"], flink.get(f"schema.{i}.metadata"))
        for i in range(count)
    }


def _job_columns(ddl: str) -> dict[str, tuple[str, str | None]]:
    """name -> (serialized type, metadata key or None) of the job's CREATE TABLE source_events."""
    columns = {}
    for name, kind, metadata in re.findall(
        r"^\s*`(\w+)` ([A-Z_]+(?:\(\d+\))?)( METADATA(?: FROM '\w+')?)?", ddl, re.MULTILINE
    ):
        key = re.search(r"FROM '(\w+)'", metadata)
        columns[name] = (SERIALIZED_TYPES[kind], (key.group(1) if key else name) if metadata else None)
    return columns


def test_the_notebook_is_optional_and_on_by_default() -> None:
    template = load_template(REPO / TEMPLATE)
    wired = {k: v for k, v in WIRED.items() if k in template["Parameters"]}
    for value, expected in (("true", STUDIO), ("false", set())):
        params = parameter_values(template, wired | {"StudioNotebook": value})
        assert set(enabled_resources(template, params)) & STUDIO == expected
    assert template["Parameters"]["StudioNotebook"]["Default"] == "true"
    # The root passes its own parameter and outputs the notebook only when there is one
    root = load_template(REPO / "template.yaml")
    for option, studio, expected in (
        ("FlinkS3", "true", True),
        ("FlinkS3", "false", False),
        ("All", "true", True),
    ):
        root_params = parameter_values(root, {"DeploymentOption": option, "FlinkStudioNotebook": studio})
        assert nested_parameters(root, "FlinkAnalytics", root_params)["StudioNotebook"] == studio
        # The notebook's catalog is AWS Glue: the network's endpoints include a Glue one when it is deployed
        assert nested_parameters(root, "Network", root_params)["GlueEndpoint"] == str(expected).lower()
        assert (
            evaluate_conditions(root, root_params)[root["Outputs"]["StudioNotebookName"]["Condition"]]
            == expected
        )
    lambda_only = parameter_values(
        root, {"DeploymentOption": "LambdaConsumer", "FlinkStudioNotebook": "true"}
    )
    assert not evaluate_conditions(root, lambda_only)["DeployStudio"]
    assert nested_parameters(root, "Network", lambda_only)["GlueEndpoint"] == "false"


def test_the_notebook_runs_studio_on_flink_1_15_in_the_jobs_network(deployed: dict[str, Any]) -> None:
    studio, job = deployed["StudioNotebookApplication"], deployed["Application"]
    assert (studio["RuntimeEnvironment"], studio["ApplicationMode"]) == (STUDIO_RUNTIME, "INTERACTIVE")
    assert studio["ServiceExecutionRole"] == "<StudioRole.Arn>"
    configuration = studio["ApplicationConfiguration"]
    # Same subnets and security groups as the job: it reaches the brokers the same way
    assert configuration["VpcConfigurations"] == job["ApplicationConfiguration"]["VpcConfigurations"]
    zeppelin = configuration["ZeppelinApplicationConfiguration"]
    catalog = zeppelin["CatalogConfiguration"]["GlueDataCatalogConfiguration"]["DatabaseARN"]
    assert catalog == "arn:aws:glue:us-east-1:123456789012:database/<AnalyticsDatabase>"
    artifacts = {
        (a["MavenReference"]["GroupId"], a["MavenReference"]["ArtifactId"]): a["MavenReference"]["Version"]
        for a in zeppelin["CustomArtifactsConfiguration"]
    }
    assert artifacts[("org.apache.flink", "flink-connector-kafka")].startswith(STUDIO_FLINK)
    assert ("software.amazon.msk", "aws-msk-iam-auth") in artifacts


def test_the_topic_table_is_the_jobs_source_table_in_the_notebooks_catalog(deployed: dict[str, Any]) -> None:
    # Given the job's Kafka table, built from the application's own runtime properties for the notebook's
    # consumer group and starting point
    groups = deployed["Application"]["ApplicationConfiguration"]["EnvironmentProperties"]["PropertyGroups"]
    job = job_settings_from_groups(groups)
    table = deployed["StudioTopicTable"]
    assert table["DatabaseName"] == "<AnalyticsDatabase>"
    flink = _flink_table(table["TableInput"])
    notebook_source = dataclasses.replace(
        job.source, group_id=flink["properties.group.id"], startup_mode=flink["scan.startup.mode"]
    )
    # Then its connector options are the job's (MSK IAM included), but for the reset policy of group offsets
    options = {k: v for k, v in flink.items() if not k.startswith("schema.") and k != "comment"}
    expected = kafka_source_options(notebook_source)
    if notebook_source.startup_mode != "group-offsets":
        expected.pop("properties.auto.offset.reset")
    assert options == expected
    # And its columns are the job's as Flink's catalog serialises them, and the record's partition and offset
    columns = _columns(flink)
    job_columns = _job_columns(source_table(notebook_source, job.results.watermark_delay_seconds))
    assert {name: columns[name] for name in job_columns} == job_columns
    assert {name: columns[name] for name in set(columns) - set(job_columns)} == {
        "record_partition": ("INT", "partition"),
        "record_offset": ("BIGINT", "offset"),
    }
    assert all(flink[f"schema.{i}.virtual"] == "true" for i, c in enumerate(columns.values()) if c[1])
    # And the watermark is the job's lateness on the same event time
    assert flink["schema.watermark.0.rowtime"] == "event_time"
    delay = job.results.watermark_delay_seconds
    assert flink["schema.watermark.0.strategy.expr"] == f"`event_time` - INTERVAL '1' SECOND * {delay}"


def test_the_notebooks_role_reads_the_topic_with_the_tables_group_and_writes_only_studio(
    deployed: dict[str, Any],
) -> None:
    flink = _flink_table(deployed["StudioTopicTable"]["TableInput"])
    role = deployed["StudioRole"]
    # The role's own policy, and the one it shares with the application (reading the topic from the VPC)
    documents = [p["PolicyDocument"] for p in role["Policies"]]
    shared = deployed["RunOnTheTopicPolicy"]
    assert role["ManagedPolicyArns"] == ["<RunOnTheTopicPolicy>"]
    documents.append(shared["PolicyDocument"])
    statements = {s["Sid"]: s for document in documents for s in document["Statement"]}
    group_arn = (
        f"arn:aws:kafka:us-east-1:123456789012:group/streaming-1a2b3c4d/x/{flink['properties.group.id']}"
    )
    group_pattern = statements["UseTheNotebookGroups"]["Resource"]
    assert fnmatch.fnmatchcase(
        group_arn.replace("/x/", "/1a2b3c4d-0000-1111-2222-333344445555-3/"), group_pattern
    )
    topic = statements["ReadTheTopicRecords"]["Resource"]
    assert topic.endswith(f"/{flink['topic']}")
    written = [s["Resource"] for s in statements.values() if "s3:PutObject" in s.get("Action", [])]
    assert written == ["${ResultsBucket.Arn}/studio/*"]
