"""`make demo`, the README's first command: every option end to end, every record accounted for."""

from __future__ import annotations

import subprocess

import pytest

from local.functions import REPO

OPTIONS = ["ClusterWithRestApi", "LambdaConsumer", "LambdaFirehoseS3", "FlinkS3", "All"]
WAY_IN = "nested/ingest-api.yaml (the demo's way in)"
RESOURCES_FROM = {
    "ClusterWithRestApi": "nested/ingest-api.yaml",
    "LambdaConsumer": f"nested/lambda-consumer.yaml, {WAY_IN}",
    "LambdaFirehoseS3": f"nested/firehose-delivery.yaml, {WAY_IN}",
    "FlinkS3": WAY_IN,
    "All": "nested/ingest-api.yaml, nested/lambda-consumer.yaml, nested/firehose-delivery.yaml",
}


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
    report = completed.stdout
    assert "unaccounted       0" in report
    assert "accepted by API   3000 of 3000 records" in report
    assert f"resources         in moto, as declared by {RESOURCES_FROM[option]}\n" in report
    assert "data              " in report
    parts = {
        "consumer          3000 processed, 1 after retries": option in ("LambdaConsumer", "All"),
        "archive           3001 lines": option in ("LambdaFirehoseS3", "All"),
        "flink job         3001 of 3001 records counted": option in ("FlinkS3", "All"),
        "in the topic      3001 records": option == "ClusterWithRestApi",
    }
    assert {line: line in report for line in parts} == parts
    if option in ("FlinkS3", "All"):
        assert "(not json) 1, alert 1000, heartbeat 1000, reading 1000" in report
        assert "the Kafka connector jar cannot be downloaded here" in report


def test_an_unknown_option_is_refused_with_the_list() -> None:
    completed = _make_demo("Everything")
    assert completed.returncode == 2
    assert "OPTION must be one of ClusterWithRestApi, LambdaConsumer, LambdaFirehoseS3, FlinkS3, All" in (
        completed.stderr
    )
