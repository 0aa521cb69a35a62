"""The job's SQL in a local PyFlink MiniCluster: what it counts, where it writes, what it does not count."""

from __future__ import annotations

import json

import pytest
from pyflink.table import EnvironmentSettings, TableEnvironment

import analytics_sql
from job_settings import job_settings_from_groups
from tests.flink.conftest import START_MS, RunJob, record

MINUTE_MS = 60_000


def typed(kind: str, seq: int) -> str:
    return json.dumps({"type": kind, "seq": seq})


def test_records_are_counted_per_event_type_and_minute(run_job: RunJob) -> None:
    # Given 600 records over two minutes, three event types, five keys
    kinds = ["reading", "alert", "heartbeat"]
    records = [
        record(i, START_MS + i * 200, typed(kinds[i % 3], i), key=f"device-{i % 5}") for i in range(600)
    ]

    # When the job runs
    run = run_job(records)

    # Then every record is counted once, per one-minute window and event type
    assert sum(row["record_count"] for row in run.rows) == 600
    assert run.counts() == {(f"2025-11-24T16:0{minute}:00", kind): 100 for minute in (0, 1) for kind in kinds}
    assert {row["key_count"] for row in run.rows} == {5}
    first = next(
        r for r in run.rows if r["window_start"] == "2025-11-24T16:00:00" and r["event_type"] == "reading"
    )
    assert first["window_end"] == "2025-11-24T16:01:00"
    assert first["first_event_time"] == "2025-11-24T16:00:00Z"
    assert first["last_event_time"] == "2025-11-24T16:00:59.4Z"
    # And the results are JSON lines in an hourly partition, committed with a _SUCCESS file
    assert "dt=2025-11-24/hr=16/_SUCCESS" in run.files()
    assert all(name.startswith("dt=2025-11-24/hr=16/") for name in run.files())


def test_records_without_an_event_type_are_counted_under_a_marker(run_job: RunJob) -> None:
    records = [
        record(0, START_MS, typed("reading", 0)),
        record(1, START_MS + 1, None, key="deleted-device"),
        record(2, START_MS + 2, "\x00\x01 not json \ufffd"),
        record(3, START_MS + 3, json.dumps({"seq": 3})),
        record(4, START_MS + 4, json.dumps([1, 2])),
        record(5, START_MS + 5, json.dumps({"type": 7}), key=None),
    ]
    run = run_job(records)
    window = "2025-11-24T16:00:00"
    assert run.counts() == {
        (window, "reading"): 1,
        (window, analytics_sql.TOMBSTONE): 1,
        (window, analytics_sql.NOT_JSON): 1,
        (window, analytics_sql.NO_EVENT_TYPE): 2,
        (window, "7"): 1,
    }


def test_window_and_json_path_come_from_the_properties(run_job: RunJob) -> None:
    records = [
        record(i, START_MS + i * 1000, json.dumps({"event": {"kind": "click" if i % 2 else "view"}}))
        for i in range(30)
    ]
    run = run_job(records, **{"window.seconds": "10", "event.type.json.path": "$.event.kind"})
    assert run.counts() == {
        (f"2025-11-24T16:00:{second:02d}", kind): 5 for second in (0, 10, 20) for kind in ("click", "view")
    }


FILLER = 200_000


@pytest.mark.parametrize(("delay_seconds", "late_counted"), [("10", 0), ("120", 1)])
def test_a_record_later_than_the_watermark_delay_is_not_counted(
    run_job: RunJob, delay_seconds: str, late_counted: int
) -> None:
    # The last record is 90 s older than the ones before it. Watermarks are emitted every 200 ms (Flink's
    # default), so enough records come first for one to be emitted whatever the machine's speed: with a
    # 10 s delay the record's window has fired already (Flink drops it from the results; the topic and the
    # archive keep it), with 120 s it has not.
    records = [record(0, START_MS, typed("a", 0)), record(1, START_MS + MINUTE_MS, typed("a", 1))]
    records += [record(2 + i, START_MS + 2 * MINUTE_MS, typed("a", 2)) for i in range(FILLER)]
    records.append(record(2 + FILLER, START_MS + 30_000, typed("late", 3)))
    run = run_job(records, **{"watermark.delay.seconds": delay_seconds})
    assert sum(row["record_count"] for row in run.rows) == 2 + FILLER + late_counted
    assert run.counts().get(("2025-11-24T16:00:00", "late"), 0) == late_counted


def test_the_kafka_source_statement_is_valid_flink_sql_and_needs_only_the_connector_jar() -> None:
    # Given the statements the deployed job runs (Kafka source with MSK IAM, results in S3)
    settings = job_settings_from_groups(
        [
            {
                "PropertyGroupId": "Source",
                "PropertyMap": {"topic": "streaming-events", "bootstrap.servers": "b-1.example:9098"},
            },
            {"PropertyGroupId": "Results", "PropertyMap": {"path": "s3a://results-bucket/results/"}},
        ]
    )
    table_env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    # When Flink parses and registers the tables, they are accepted
    table_env.execute_sql(
        analytics_sql.source_table(settings.source, settings.results.watermark_delay_seconds)
    )
    table_env.execute_sql(analytics_sql.results_table(settings.results))
    assert set(table_env.list_tables()) == {"source_events", "window_results"}
    # And the first statement that reads the source fails only for want of the Kafka connector, which Managed
    # Flink gets from the application's jar (Maven Central cannot be reached from this machine)
    with pytest.raises(Exception, match="Could not find any factory for identifier 'kafka'"):
        table_env.execute_sql(analytics_sql.classified_view(settings.results))


def test_a_day_long_window_puts_the_day_in_one_row(run_job: RunJob) -> None:
    records = [record(i, START_MS + i * 3_600_000, typed("a", i)) for i in range(3)]
    run = run_job(records, **{"window.seconds": "86400"})
    assert run.counts() == {("2025-11-24T00:00:00", "a"): 3}
    assert "dt=2025-11-24/hr=00/_SUCCESS" in run.files()
