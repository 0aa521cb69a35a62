"""`make demo`, the README's first command: every option end to end, every record accounted for."""

from __future__ import annotations

import re
import subprocess

import pytest

from local.functions import REPO
from tests.integration.test_monitoring_local import declared

OPTIONS = ["ClusterWithRestApi", "LambdaConsumer", "LambdaFirehoseS3", "FlinkS3", "All"]
WAY_IN = "nested/ingest-api.yaml (the demo's way in)"
MONITORING = "nested/monitoring.yaml"  # every option: the dashboard and the composite alarm
RESOURCES_FROM = {
    "ClusterWithRestApi": f"nested/foundation.yaml, nested/ingest-api.yaml, {MONITORING}",
    "LambdaConsumer": f"nested/foundation.yaml, nested/kafka-function.yaml, {MONITORING}, {WAY_IN}",
    "LambdaFirehoseS3": (
        "nested/foundation.yaml, nested/firehose-delivery.yaml, nested/kafka-function.yaml, "
        f"nested/archive-replay.yaml, {MONITORING}, {WAY_IN}"
    ),
    "FlinkS3": f"nested/foundation.yaml, nested/flink-analytics.yaml, {MONITORING}, {WAY_IN}",
    "All": (
        "nested/foundation.yaml, nested/ingest-api.yaml, nested/kafka-function.yaml, "
        "nested/firehose-delivery.yaml, nested/archive-replay.yaml, nested/flink-analytics.yaml, "
        f"{MONITORING}"
    ),
}


def _report_entries(report: str) -> dict[str, str]:
    """The demo's report as label -> text: a line is a label, two or more spaces, then its text; an indented
    line continues the entry above it."""
    entries: dict[str, str] = {}
    label = ""
    for line in report.splitlines():
        if entry := re.fullmatch(r"(\S+(?: \S+)*) {2,}(\S.*)", line):
            label, text = entry.groups()
            entries[label] = text
        elif label and line.startswith(" "):
            entries[label] += "\n" + line.strip()
    return entries


def _make_demo(option: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", "demo", f"OPTION={option}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize("option", OPTIONS)
def test_demo_accounts_for_every_record(option: str) -> None:
    completed = _make_demo(option)
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-2000:]
    report = _report_entries(completed.stdout)
    assert report["unaccounted"] == "0"
    assert report["accepted by API"].startswith("3000 of 3000 records ")
    assert report["resources"] == f"in moto, as declared by {RESOURCES_FROM[option]}"
    # Read back from moto: what the option's translated templates declare
    expected = declared(option)
    monitoring = re.fullmatch(
        r"(\d+) alarms?, 1 composite alarm, 1 dashboard \(local-(\w+): (.*)\) in moto", report["monitoring"]
    )
    assert monitoring, report["monitoring"]
    alarms, dashboard, rows = monitoring.groups()
    assert (int(alarms), dashboard, len(rows.split("; "))) == (expected.alarms, option, expected.rows)
    assert "data" in report
    shown = {
        "consumer": option in ("LambdaConsumer", "All"),
        "archive": option in ("LambdaFirehoseS3", "All"),
        "flink job": option in ("FlinkS3", "All"),
        "in the topic": option == "ClusterWithRestApi",
        "replay": option in ("LambdaFirehoseS3", "All"),
    }
    assert {label: label in report for label in shown} == shown
    counts = {
        "consumer": "3000 processed, 1 after retries ",
        "archive": "3001 lines ",
        "flink job": "3001 of 3001 records counted ",
        "in the topic": "3001 records",
        # every record of the topic replayed from the archive by the state machine, compared with the original
        "replay": "replayed 3001 of 3001 records to streaming-events-replay, identical 3001",
    }
    for label in (label for label, present in shown.items() if present):
        assert report[label].startswith(counts[label]), report[label]
    if shown["replay"]:
        assert report["replay"] == counts["replay"]
        run = report["replay run"]
        assert run.startswith("demo-replay: SUCCEEDED; states "), run
        assert run.endswith("; report s3://local-replaybucket/runs/demo-replay/report.md"), run
        entered = run.removeprefix("demo-replay: SUCCEEDED; states ").split("; ")[0].split(", ")
        steps = ["Scope", "ScanArchive", "MergeManifests", "Preflight", "WritePartitions", "Verify", "Done"]
        assert [state for state in entered if state in steps] == steps, entered
    if option in ("FlinkS3", "All"):
        assert report["flink job"].endswith(": (not json) 1, alert 1000, heartbeat 1000, reading 1000")
        source = report["flink source"]
        assert source.startswith("kafka topic streaming-events ("), source
        assert " partitions, 3001 records) via flink-connector-kafka 3.4.0-1.20, PLAINTEXT" in source


def test_an_unknown_option_is_refused_with_the_list() -> None:
    completed = _make_demo("Everything")
    assert completed.returncode == 2
    assert "OPTION must be one of ClusterWithRestApi, LambdaConsumer, LambdaFirehoseS3, FlinkS3, All" in (
        completed.stderr
    )
