"""The Glue tables Athena queries: the archive's (nested/firehose-delivery.yaml) reads the lines the codec
writes where Firehose writes them; the results' (nested/flink-analytics.yaml) reads what the Flink job's sink
table writes where the job writes it."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from analytics_sql import insert_results, results_table
from job_settings import job_settings_from_groups
from local.cfn import (
    PSEUDO_PARAMETERS,
    enabled_resources,
    evaluate_conditions,
    parameter_values,
    resolve_tree,
)
from streaming_common.kafka_codec import KafkaRecord, to_archive_line
from tests.templates.sam_offline import REPO, load_template
from tests.templates.scenarios import WIRED

OPENX_JSON_SERDE = "org.openx.data.jsonserde.JsonSerDe"
# The one field of an archive line that holds JSON of any shape (docs/archive-format.md): a string column
# read as its JSON text. Any other string column must get text.
JSON_TEXT_FIELDS = {"line.value"}
INT32 = 2**31
INT64 = 2**63
# Firehose's !{timestamp:...} formats (Java DateTimeFormatter) as strftime, and the values each can take.
TIMESTAMP_FORMATS = {"yyyy": "%Y", "MM": "%m", "dd": "%d", "HH": "%H"}
# The resources these tests read: the tables and where their data comes from.
RESOLVED_TYPES = {
    "AWS::Glue::Database",
    "AWS::Glue::Table",
    "AWS::KinesisFirehose::DeliveryStream",
    "AWS::KinesisAnalyticsV2::Application",
}
# Bucket names the resources get once created.
CREATED = {"ArchiveBucket": "streaming-archive-bucket", "ResultsBucket": "streaming-results-bucket"}

# -------------------------------------------------------------------------------- Hive column types


def hive_type(text: str) -> Any:
    """A Hive type as Glue declares it: "string", ("array", element) or ("struct", {field: type})."""
    parsed, rest = _hive_type(text.replace(" ", ""))
    assert not rest, f"unparsed {rest!r} in {text!r}"
    return parsed


def _hive_type(text: str) -> tuple[Any, str]:
    name = re.match(r"[a-z]+", text)
    assert name, f"no type at {text!r}"
    kind, rest = name.group(0), text[name.end() :]
    if kind == "array":
        element, rest = _hive_type(rest.removeprefix("<"))
        return ("array", element), rest.removeprefix(">")
    if kind == "struct":
        fields: dict[str, Any] = {}
        rest = rest.removeprefix("<")
        while not rest.startswith(">"):
            field, rest = rest.split(":", 1)
            fields[field], rest = _hive_type(rest)
            rest = rest.removeprefix(",")
        return ("struct", fields), rest[1:]
    return kind, rest


def type_problems(value: Any, declared: Any, serde: str, where: str) -> list[str]:
    """Why the SerDe cannot read JSON `value` as the declared type (empty when it can). A JSON key names a
    struct field whatever its case (the SerDe's case.insensitive)."""
    if value is None:
        return []
    if isinstance(declared, str):
        return _scalar_problems(value, declared, serde, where)
    kind, inner = declared
    if kind == "array" and isinstance(value, list):
        return [p for i, item in enumerate(value) for p in type_problems(item, inner, serde, f"{where}[{i}]")]
    if kind == "struct" and isinstance(value, dict):
        problems = [f"{where}.{key}: no such field" for key in value if key.lower() not in inner]
        return problems + [
            p
            for key, item in value.items()
            if key.lower() in inner
            for p in type_problems(item, inner[key.lower()], serde, f"{where}.{key}")
        ]
    return [f"{where}: {value!r} is not a JSON {'array' if kind == 'array' else 'object'}"]


def _scalar_problems(value: Any, declared: str, serde: str, where: str) -> list[str]:
    if declared == "string":
        # The OpenX SerDe reads any JSON as text (an object or array as its JSON); Hive's needs a scalar.
        readable = isinstance(value, str) or (where in JSON_TEXT_FIELDS and serde == OPENX_JSON_SERDE)
        return [] if readable else [f"{where}: {value!r} is not text for {serde}"]
    if declared == "boolean":
        return [] if isinstance(value, bool) else [f"{where}: {value!r} is not a boolean"]
    bound = {"int": INT32, "bigint": INT64}.get(declared)
    assert bound, f"{where}: type {declared} is not one the tables use"
    fits = isinstance(value, int) and not isinstance(value, bool) and -bound <= value < bound
    return [] if fits else [f"{where}: {value!r} is not an {declared}"]


def test_hive_types_parse_as_glue_declares_them() -> None:
    assert hive_type("array<struct<key:string,value:string>>") == (
        "array",
        ("struct", {"key": "string", "value": "string"}),
    )
    assert type_problems({"Key": 1}, hive_type("struct<key:int>"), OPENX_JSON_SERDE, "x") == []
    assert type_problems({"other": 1}, hive_type("struct<key:int>"), OPENX_JSON_SERDE, "x") == [
        "x.other: no such field"
    ]
    assert type_problems(2**31, "int", OPENX_JSON_SERDE, "x") == ["x: 2147483648 is not an int"]
    assert type_problems(1, "boolean", OPENX_JSON_SERDE, "x") == ["x: 1 is not a boolean"]
    assert type_problems(True, "boolean", OPENX_JSON_SERDE, "x") == []
    assert type_problems({"a": 1}, "string", "org.apache.hive.hcatalog.data.JsonSerDe", "line.value")
    assert type_problems({"a": 1}, "string", OPENX_JSON_SERDE, "line.value") == []
    assert type_problems(3, "string", OPENX_JSON_SERDE, "line.partition") == [
        "line.partition: 3 is not text for " + OPENX_JSON_SERDE
    ]


# -------------------------------------------------------------------------------- helpers


def _resources(path: str, overrides: dict[str, str], stack_id: str = "") -> dict[str, Any]:
    """The template's enabled resources of RESOLVED_TYPES, their properties resolved (bucket names as in
    CREATED, other resources' names as markers "<LogicalId>")."""
    template = load_template(REPO / path)
    wired = {k: v for k, v in WIRED.items() if k in template["Parameters"]} | overrides
    params = parameter_values(template, wired)
    conditions = evaluate_conditions(template, params)
    markers = {name: f"<{name}>" for name in template["Resources"]}
    names = PSEUDO_PARAMETERS | {"AWS::StackId": stack_id or STACK_ID} | params | markers | CREATED
    return {
        name: resolve_tree(template["Resources"][name].get("Properties", {}), names, conditions)
        for name, kind in enabled_resources(template, params).items()
        if kind in RESOLVED_TYPES
    }


def _glue_tables(resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The TableInput of each Glue table, by table name."""
    return {r["TableInput"]["Name"]: r["TableInput"] for r in resources.values() if "TableInput" in r}


def _columns(table: dict[str, Any]) -> dict[str, Any]:
    return {c["Name"]: hive_type(c["Type"]) for c in table["StorageDescriptor"]["Columns"]}


def _projected_values(table: dict[str, Any], column: str) -> set[str] | None:
    """The values partition projection gives a partition column; None when any value is accepted."""
    parameters = table["Parameters"]
    kind = parameters[f"projection.{column}.type"]
    if kind == "injected":
        return None
    assert kind == "integer", f"{column}: projection type {kind}"
    low, high = (int(bound) for bound in parameters[f"projection.{column}.range"].split(","))
    step = int(parameters.get(f"projection.{column}.interval", "1"))
    digits = int(parameters.get(f"projection.{column}.digits", "1"))
    return {str(value).zfill(digits) for value in range(low, high + 1, step)}


# -------------------------------------------------------------------------------- the archive


@pytest.fixture(scope="module")
def archive() -> dict[str, Any]:
    resources = _resources("nested/firehose-delivery.yaml", {})
    return {"table": _glue_tables(resources)["records"], "stream": resources["DeliveryStream"]}


ARCHIVE_RECORDS = {
    "key, headers and a JSON object": KafkaRecord(
        topic="streaming-events",
        partition=3,
        offset=2**40,
        timestamp=1_795_000_003_000,
        key=b"customer-4",
        value=b'{"orderId": "o-1", "amount": 12.5, "items": [1, 2]}',
        headers=(("source", b"web"), ("source", None)),
    ),
    "bytes that are not UTF-8": KafkaRecord(
        topic="streaming-events",
        partition=0,
        offset=7,
        timestamp=1_795_000_004_000,
        timestamp_type="LOG_APPEND_TIME",
        key=b"\xff\xfe",
        value=b"\x00\x9f\x92\x96",
        headers=(("trace", b"\x80\x81"),),
    ),
    "a tombstone": KafkaRecord(topic="streaming-events", partition=1, offset=8, timestamp=0, key=b"k"),
    "a JSON array and no key": KafkaRecord(
        topic="streaming-events", partition=1, offset=9, timestamp=1, value=b'[{"a": null}, "b"]'
    ),
}


def _archive_line(record: KafkaRecord) -> dict[str, Any]:
    document = json.loads(to_archive_line(record))
    assert isinstance(document, dict)
    return document


@pytest.mark.parametrize("record", ARCHIVE_RECORDS.values(), ids=ARCHIVE_RECORDS.keys())
def test_an_archive_line_has_only_columns_the_table_declares_with_their_types(
    archive: dict[str, Any], record: KafkaRecord
) -> None:
    # Given the line the codec archives for the record
    table = archive["table"]
    serde = table["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"]
    # Then each of its keys is a column (whatever its case) whose type the SerDe reads the value as
    line = _archive_line(record)
    row_type = ("struct", _columns(table))
    assert type_problems(line, row_type, serde, "line") == []


def test_every_column_of_the_archive_table_is_a_field_the_codec_writes(archive: dict[str, Any]) -> None:
    # Given the lines of records that use every field of the format (docs/archive-format.md)
    lines = [_archive_line(record) for record in ARCHIVE_RECORDS.values()]
    written = {key.lower() for line in lines for key in line}
    header_fields = {key.lower() for line in lines for header in line["headers"] for key in header}
    # Then the table declares exactly those columns, and the headers' struct exactly those fields
    columns = _columns(archive["table"])
    assert set(columns) == written
    assert columns["headers"] == ("array", ("struct", dict.fromkeys(sorted(header_fields), "string")))
    # And the JSON value, whatever its shape, is read as its JSON text: the OpenX SerDe does that
    assert columns["value"] == "string"
    serde = archive["table"]["StorageDescriptor"]["SerdeInfo"]
    assert serde["SerializationLibrary"] == OPENX_JSON_SERDE
    assert serde["Parameters"]["case.insensitive"] == "TRUE"


def test_the_archive_partitions_are_projected_where_firehose_writes(archive: dict[str, Any]) -> None:
    # Given the delivery stream's prefix (data/year=!{timestamp:yyyy}/...) and the table's projection
    table = archive["table"]
    destination = archive["stream"]["ExtendedS3DestinationConfiguration"]
    assert destination["BucketARN"] == "<ArchiveBucket.Arn>"
    bucket = CREATED["ArchiveBucket"]
    prefix = destination["Prefix"]
    segments = re.findall(r"([a-z]+)=!\{timestamp:(\w+)\}/", prefix)
    assert [name for name, _ in segments] == [key["Name"] for key in table["PartitionKeys"]]
    assert table["Parameters"]["projection.enabled"] == "true"
    assert table["StorageDescriptor"]["Location"] == f"s3://{bucket}/{prefix.split('/')[0]}/"
    template = table["Parameters"]["storage.location.template"]
    # When Firehose writes at any hour of a leap year (UTC)
    start = datetime(2028, 1, 1, tzinfo=UTC)
    for hour in range(366 * 24):
        moment = start + timedelta(hours=hour)
        values = {name: moment.strftime(TIMESTAMP_FORMATS[java]) for name, java in segments}
        written = f"s3://{bucket}/{_firehose_key_prefix(prefix, moment)}"
        # Then the projection gives that partition, and its location is where Firehose wrote
        for name, value in values.items():
            projected = _projected_values(table, name)
            assert projected is None or value in projected, f"{name}={value} is not projected"
        assert _filled(template, values) == written


def _firehose_key_prefix(prefix: str, moment: datetime) -> str:
    """The key prefix Firehose writes an object under at `moment` (its !{timestamp:...} expressions)."""
    return re.sub(r"!\{timestamp:(\w+)\}", lambda m: moment.strftime(TIMESTAMP_FORMATS[m.group(1)]), prefix)


def _filled(template: str, values: dict[str, str]) -> str:
    """storage.location.template with each ${column} replaced by the partition's value."""
    return re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)], template)


def test_the_archive_year_must_be_named_and_the_other_partitions_cover_every_hour(
    archive: dict[str, Any],
) -> None:
    table = archive["table"]
    assert _projected_values(table, "year") is None  # injected: each query names its year(s)
    assert _projected_values(table, "month") == {f"{m:02d}" for m in range(1, 13)}
    assert _projected_values(table, "day") == {f"{d:02d}" for d in range(1, 32)}
    assert _projected_values(table, "hour") == {f"{h:02d}" for h in range(24)}


# -------------------------------------------------------------------------------- the Flink results


@pytest.fixture(scope="module")
def results() -> dict[str, Any]:
    resources = _resources("nested/flink-analytics.yaml", {"BootstrapServers": "b-1.example.com:9098"})
    groups = resources["Application"]["ApplicationConfiguration"]["EnvironmentProperties"]["PropertyGroups"]
    settings = job_settings_from_groups(groups)
    return {"table": _glue_tables(resources)["window_results"], "settings": settings}


def _sink(sql: str) -> tuple[dict[str, str], list[str], dict[str, str]]:
    """(columns -> Flink type, partition columns, WITH options) of the job's CREATE TABLE statement."""
    body = re.search(r"CREATE TABLE \w+ \((.*)\) PARTITIONED BY \((.*?)\) WITH \((.*)\)", sql, re.DOTALL)
    assert body, sql
    columns = dict(re.findall(r"`(\w+)` ([A-Z_]+(?:\(\d+\))?)", body.group(1)))
    partitions = re.findall(r"`(\w+)`", body.group(2))
    options = dict(re.findall(r"'([^']*)' = '([^']*)'", body.group(3)))
    return columns, partitions, options


# How Flink's JSON format (json.timestamp-format.standard ISO-8601) writes each type, as Glue declares it.
FLINK_TO_GLUE = {
    "STRING": "string",
    "BIGINT": "bigint",
    "TIMESTAMP(3)": "string",
    "TIMESTAMP_LTZ(3)": "string",
}


def test_the_results_table_declares_the_columns_the_job_writes(results: dict[str, Any]) -> None:
    # Given the job's sink table, built from the application's own runtime properties
    columns, partitions, options = _sink(results_table(results["settings"].results))
    assert options["format"] == "json"
    assert options["json.timestamp-format.standard"] == "ISO-8601"
    table = results["table"]
    # Then the Glue table has its columns, in order, as the JSON lines hold them (partitions are in the path)
    declared = [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]]
    assert declared == [
        (name, FLINK_TO_GLUE[kind]) for name, kind in columns.items() if name not in partitions
    ]
    assert [(k["Name"], k["Type"]) for k in table["PartitionKeys"]] == [(p, "string") for p in partitions]


def test_the_results_partitions_are_projected_where_the_job_writes(results: dict[str, Any]) -> None:
    # Given where the job writes (s3a:// for Flink) and how it names each partition (DATE_FORMAT patterns)
    settings = results["settings"].results
    formats = dict(
        re.findall(r"DATE_FORMAT\(`window_start`, '([^']+)'\) AS `(\w+)`", insert_results(settings))
    )
    formats = {column: pattern for pattern, column in formats.items()}
    table = results["table"]
    parameters = table["Parameters"]
    location = settings.path.replace("s3a://", "s3://", 1)
    # Then the table reads that location, dt as the same date pattern and hr as two digits
    assert table["StorageDescriptor"]["Location"] == location
    assert parameters["storage.location.template"] == location + "dt=${dt}/hr=${hr}/"
    assert parameters["projection.enabled"] == "true"
    assert (parameters["projection.dt.type"], parameters["projection.dt.format"]) == ("date", formats["dt"])
    assert parameters["projection.dt.interval.unit"] == "DAYS"
    first, last = parameters["projection.dt.range"].split(",")
    assert datetime.strptime(first, "%Y-%m-%d") <= datetime(2025, 11, 24)  # the first results documented
    assert last == "NOW"
    assert formats["hr"] == "HH"
    assert _projected_values(table, "hr") == {f"{h:02d}" for h in range(24)}


# -------------------------------------------------------------------------------- database and table names

STACK_ID = (
    "arn:aws:cloudformation:us-east-1:123456789012:stack/My-Stack-1A2B/"
    + "1c2fa620-982a-11e3-aff7-50e2416294e0"
)


@pytest.mark.parametrize(
    ("path", "overrides", "database"),
    [
        ("nested/firehose-delivery.yaml", {}, "msk_archive_1c2fa620"),
        (
            "nested/flink-analytics.yaml",
            {"BootstrapServers": "b-1.example.com:9098"},
            "msk_analytics_1c2fa620",
        ),
    ],
)
def test_each_component_names_its_database_in_lower_case_from_its_stack_id(
    path: str, overrides: dict[str, str], database: str
) -> None:
    # Given a stack whose name has upper case (Glue refuses it in a database name)
    resources = _resources(path, overrides, stack_id=STACK_ID)
    # Then its database is named from its stack's ID, and its table names read in Athena without quotes
    (name,) = [r["DatabaseInput"]["Name"] for r in resources.values() if "DatabaseInput" in r]
    assert name == database
    assert all(re.fullmatch(r"[a-z0-9_]+", name) for name in _glue_tables(resources))
    # And a name given instead is used as it is
    named = _resources(path, overrides | {"AthenaDatabaseName": "analytics_db"}, stack_id=STACK_ID)
    assert [r["DatabaseInput"]["Name"] for r in named.values() if "DatabaseInput" in r] == ["analytics_db"]


@pytest.mark.parametrize(
    ("application", "output"),
    [("FirehoseArchive", "ArchiveTableName"), ("FlinkAnalytics", "ResultsTableName")],
)
def test_the_root_outputs_each_table_exactly_when_its_component_is_deployed(
    application: str, output: str
) -> None:
    root = load_template(REPO / "template.yaml")
    outputs = root["Outputs"]
    assert outputs[output]["Condition"] == root["Resources"][application]["Condition"]
    assert outputs[output]["Value"] == {"Fn::GetAtt": [application, f"Outputs.{output}"]}
    nested = load_template(REPO / root["Resources"][application]["Properties"]["Location"])
    assert re.fullmatch(r"\$\{\w+Database\}\.\$\{\w+Table\}", nested["Outputs"][output]["Value"]["Fn::Sub"])
