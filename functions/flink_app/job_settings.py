"""The Flink job's settings, read once from Managed Flink's runtime properties.

Managed Service for Apache Flink writes the application's property groups to
`/etc/flink/application_properties.json` as `[{"PropertyGroupId": ..., "PropertyMap": {...}}]`; every value is
a string. Locally, `FLINK_APPLICATION_PROPERTIES` names a file of the same shape.

Group `Source`:  `connector` (`kafka`, the only one), `topic`, `bootstrap.servers`, `group.id`,
                 `auth` (`IAM` | `PLAINTEXT`), `startup.mode` (`group-offsets` | `earliest-offset` |
                 `latest-offset`), `bounded.mode` (`unbounded` | `latest-offset` | `specific-offsets`) and
                 `bounded.offsets` (`partition:0,offset:42;partition:1,offset:7`, with `specific-offsets`).
Group `Results`: `path` (where the results go, e.g. `s3a://bucket/results/`), `window.seconds`,
                 `watermark.delay.seconds`, `idle.timeout.seconds`, `event.type.json.path`,
                 `rollover.seconds`.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MANAGED_FLINK_PROPERTIES = Path("/etc/flink/application_properties.json")
PROPERTIES_FILE_VARIABLE = "FLINK_APPLICATION_PROPERTIES"
# Set for a local run (tests, `make demo`): main() checkpoints often and waits for a bounded source's end.
LOCAL_RUN_VARIABLE = "FLINK_LOCAL_RUN"

CONNECTORS = ("kafka",)
AUTH_MODES = ("IAM", "PLAINTEXT")
STARTUP_MODES = ("group-offsets", "earliest-offset", "latest-offset")
# Where a bounded run stops (Flink's scan.bounded.mode); deployed, the job is unbounded.
BOUNDED_MODES = ("unbounded", "latest-offset", "specific-offsets")
PARTITION_OFFSETS = re.compile(r"^partition:\d+,offset:\d+(;partition:\d+,offset:\d+)*$")
# A JSON path into the record's value, as JSON_VALUE takes it: `$.type`, `$.event.kind`, `$['event-type']`.
JSON_PATH = re.compile(r"^\$(\.[A-Za-z_][A-Za-z0-9_]*|\['[^'\\]+'\])+$")
TOPIC_NAME = re.compile(r"^[A-Za-z0-9._-]{1,249}$")


class JobPropertiesError(ValueError):
    """A runtime property is missing or has a value the job cannot use."""


@dataclass(frozen=True)
class SourceSettings:
    """Where the job reads Kafka records from."""

    connector: str
    topic: str
    bootstrap_servers: str
    group_id: str
    auth: str
    startup_mode: str
    bounded_mode: str
    bounded_offsets: str


@dataclass(frozen=True)
class ResultsSettings:
    """What the job computes and where it writes it."""

    path: str
    window_seconds: int
    watermark_delay_seconds: int
    idle_timeout_seconds: int
    event_type_json_path: str
    rollover_seconds: int


@dataclass(frozen=True)
class JobSettings:
    source: SourceSettings
    results: ResultsSettings


def properties_file() -> Path:
    """The runtime properties file: FLINK_APPLICATION_PROPERTIES when set, else Managed Flink's."""
    override = os.environ.get(PROPERTIES_FILE_VARIABLE)
    return Path(override) if override else MANAGED_FLINK_PROPERTIES


def load_job_settings(path: Path | None = None) -> JobSettings:
    """Read and check the property groups; raise JobPropertiesError naming the group and key."""
    source_file = path or properties_file()
    try:
        document = json.loads(source_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise JobPropertiesError(f"runtime properties file {source_file} does not exist") from None
    except json.JSONDecodeError as error:
        raise JobPropertiesError(f"runtime properties file {source_file} is not JSON: {error}") from None
    return job_settings_from_groups(document)


def job_settings_from_groups(document: Any) -> JobSettings:
    """Build the settings from Managed Flink's property-group list."""
    if not isinstance(document, list):
        raise JobPropertiesError("runtime properties must be a list of {PropertyGroupId, PropertyMap}")
    groups: dict[str, dict[str, str]] = {}
    for group in document:
        if not isinstance(group, dict) or not isinstance(group.get("PropertyMap"), dict):
            raise JobPropertiesError(f"property group {group!r} has no PropertyMap object")
        groups[str(group.get("PropertyGroupId"))] = {str(k): str(v) for k, v in group["PropertyMap"].items()}
    return JobSettings(source=_source(groups.get("Source", {})), results=_results(groups.get("Results", {})))


def _source(properties: dict[str, str]) -> SourceSettings:
    reader = _GroupReader("Source", properties)
    topic = reader.required("topic")
    if not TOPIC_NAME.match(topic):
        raise JobPropertiesError(f"Source.topic {topic!r} is not a valid Kafka topic name")
    bounded_mode = reader.choice("bounded.mode", BOUNDED_MODES, "unbounded")
    bounded_offsets = reader.required("bounded.offsets") if bounded_mode == "specific-offsets" else ""
    if bounded_offsets and not PARTITION_OFFSETS.match(bounded_offsets):
        raise JobPropertiesError(
            f"Source.bounded.offsets {bounded_offsets!r} must read partition:0,offset:42;partition:1,offset:7"
        )
    return SourceSettings(
        connector=reader.choice("connector", CONNECTORS, "kafka"),
        topic=topic,
        bootstrap_servers=reader.required("bootstrap.servers"),
        group_id=reader.text("group.id", "flink-analytics"),
        auth=reader.choice("auth", AUTH_MODES, "IAM"),
        startup_mode=reader.choice("startup.mode", STARTUP_MODES, "group-offsets"),
        bounded_mode=bounded_mode,
        bounded_offsets=bounded_offsets,
    )


def _results(properties: dict[str, str]) -> ResultsSettings:
    reader = _GroupReader("Results", properties)
    json_path = reader.text("event.type.json.path", "$.type")
    if not JSON_PATH.match(json_path):
        raise JobPropertiesError(
            f"Results.event.type.json.path {json_path!r} must be a JSON path such as $.type or $.event.kind"
        )
    return ResultsSettings(
        path=reader.required("path"),
        window_seconds=reader.integer("window.seconds", 60, 1, 86_400),
        watermark_delay_seconds=reader.integer("watermark.delay.seconds", 10, 0, 3_600),
        idle_timeout_seconds=reader.integer("idle.timeout.seconds", 30, 1, 3_600),
        event_type_json_path=json_path,
        rollover_seconds=reader.integer("rollover.seconds", 300, 1, 86_400),
    )


class _GroupReader:
    """Typed access to one property group, with errors that name the group and the key."""

    def __init__(self, group: str, properties: dict[str, str]) -> None:
        self.group = group
        self.properties = properties

    def text(self, key: str, default: str) -> str:
        return self.properties.get(key, "").strip() or default

    def required(self, key: str) -> str:
        value = self.properties.get(key, "").strip()
        if not value:
            raise JobPropertiesError(f"{self.group}.{key} is required")
        return value

    def choice(self, key: str, allowed: tuple[str, ...], default: str) -> str:
        value = self.text(key, default)
        if value not in allowed:
            raise JobPropertiesError(f"{self.group}.{key} is {value!r}; expected one of {', '.join(allowed)}")
        return value

    def integer(self, key: str, default: int, minimum: int, maximum: int) -> int:
        raw = self.text(key, str(default))
        try:
            value = int(raw)
        except ValueError:
            raise JobPropertiesError(f"{self.group}.{key} is {raw!r}; expected a whole number") from None
        if not minimum <= value <= maximum:
            raise JobPropertiesError(f"{self.group}.{key} is {value}; expected {minimum} to {maximum}")
        return value
