"""Runtime properties: defaults, and errors that name the property group and key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from job_settings import JobPropertiesError, job_settings_from_groups, load_job_settings


def groups(source: dict[str, str], results: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {"PropertyGroupId": "Source", "PropertyMap": source},
        {"PropertyGroupId": "Results", "PropertyMap": results},
    ]


KAFKA = {"topic": "streaming-events", "bootstrap.servers": "b-1.example:9098,b-2.example:9098"}
RESULTS = {"path": "s3a://results-bucket/results/"}


def test_defaults_read_the_topic_with_iam_from_committed_offsets() -> None:
    settings = job_settings_from_groups(groups(KAFKA, RESULTS))
    assert settings.source.connector == "kafka"
    assert settings.source.auth == "IAM"
    assert settings.source.startup_mode == "group-offsets"
    assert settings.source.bounded_mode == "unbounded"
    assert settings.source.group_id == "flink-analytics"
    assert settings.results.window_seconds == 60
    assert settings.results.watermark_delay_seconds == 10
    assert settings.results.event_type_json_path == "$.type"


@pytest.mark.parametrize(
    ("source", "results", "message"),
    [
        ({"topic": "t"}, RESULTS, "Source.bootstrap.servers is required"),
        ({**KAFKA, "topic": "bad topic!"}, RESULTS, "Source.topic 'bad topic!' is not a valid Kafka topic"),
        ({**KAFKA, "auth": "SCRAM"}, RESULTS, "Source.auth is 'SCRAM'; expected one of IAM, PLAINTEXT"),
        (
            {**KAFKA, "connector": "filesystem"},
            RESULTS,
            "Source.connector is 'filesystem'; expected one of kafka",
        ),
        (
            {**KAFKA, "bounded.mode": "end"},
            RESULTS,
            "Source.bounded.mode is 'end'; expected one of unbounded",
        ),
        ({**KAFKA, "bounded.mode": "specific-offsets"}, RESULTS, "Source.bounded.offsets is required"),
        (
            {**KAFKA, "bounded.mode": "specific-offsets", "bounded.offsets": "0:42"},
            RESULTS,
            "Source.bounded.offsets '0:42' must read partition:0,offset:42;partition:1,offset:7",
        ),
        (KAFKA, {}, "Results.path is required"),
        (
            KAFKA,
            {**RESULTS, "window.seconds": "1m"},
            "Results.window.seconds is '1m'; expected a whole number",
        ),
        (KAFKA, {**RESULTS, "window.seconds": "0"}, "Results.window.seconds is 0; expected 1 to 86400"),
        (KAFKA, {**RESULTS, "event.type.json.path": "type"}, "must be a JSON path such as $.type"),
        (KAFKA, {**RESULTS, "event.type.json.path": "$.a'); DROP"}, "must be a JSON path"),
    ],
)
def test_bad_properties_are_named(source: dict[str, str], results: dict[str, str], message: str) -> None:
    with pytest.raises(JobPropertiesError, match=message.replace("$", r"\$").replace(".", r"\.")):
        job_settings_from_groups(groups(source, results))


def test_a_bounded_run_stops_at_the_offsets_given() -> None:
    offsets = "partition:0,offset:101;partition:1,offset:0"
    source = {**KAFKA, "bounded.mode": "specific-offsets", "bounded.offsets": offsets}
    settings = job_settings_from_groups(groups(source, RESULTS))
    assert (settings.source.bounded_mode, settings.source.bounded_offsets) == ("specific-offsets", offsets)


def test_the_file_must_be_a_list_of_groups(tmp_path: Path) -> None:
    path = tmp_path / "application_properties.json"
    path.write_text(json.dumps({"Source": KAFKA}))
    with pytest.raises(JobPropertiesError, match="must be a list"):
        load_job_settings(path)
    with pytest.raises(JobPropertiesError, match="does not exist"):
        load_job_settings(tmp_path / "missing.json")
