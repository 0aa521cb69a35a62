"""The job on a topic of the local broker, read through its Kafka table: what it counts, where it writes,
what it does not count, and what a restart from a checkpoint does."""

from __future__ import annotations

import json
from pathlib import Path

import main
from pyflink.table import EnvironmentSettings, TableEnvironment

import analytics_sql
from job_settings import job_settings_from_groups
from tests.flink.conftest import MINUTE_MS, PARTITIONS, START_MS, MakeTopic, Record, RunJob, StartJob, typed
from tests.flink.jar_classes import build_kafka_consumer, jar_class_loader, load_class

KINDS = ("reading", "alert", "heartbeat")
W0, W1, W2 = "2025-11-24T16:00:00", "2025-11-24T16:01:00", "2025-11-24T16:02:00"


def test_records_are_counted_per_event_type_and_minute_across_partitions(
    new_topic: MakeTopic, run_job: RunJob
) -> None:
    # Given 600 records over two minutes, three event types, five keys, spread over six partitions
    topic = new_topic()
    topic.produce(
        Record((i // 3) % PARTITIONS, START_MS + i * 200, typed(KINDS[i % 3], i), key=f"device-{i % 5}")
        for i in range(600)
    )
    end = topic.end()
    assert end.records == 600
    assert len(end.offsets) == PARTITIONS
    assert min(end.offsets.values()) >= 99

    # When the job reads the topic to that end
    run = run_job(topic)

    # Then every record is counted once, per one-minute window and event type, whatever its partition
    assert run.total() == 600
    assert run.counts() == {(window, kind): 100 for window in (W0, W1) for kind in KINDS}
    assert {row["key_count"] for row in run.rows} == {5}
    assert {row["topic"] for row in run.rows} == {topic.name}
    first = next(r for r in run.rows if r["window_start"] == W0 and r["event_type"] == "reading")
    assert first["window_end"] == W1
    assert first["first_event_time"] == "2025-11-24T16:00:00Z"
    assert first["last_event_time"] == "2025-11-24T16:00:59.4Z"
    # And the results are JSON lines in an hourly partition, committed with a _SUCCESS file
    assert "dt=2025-11-24/hr=16/_SUCCESS" in run.files()
    assert all(name.startswith("dt=2025-11-24/hr=16/") for name in run.files())


def test_tombstones_and_malformed_records_are_counted_under_a_marker(
    new_topic: MakeTopic, run_job: RunJob
) -> None:
    topic = new_topic(2)
    topic.produce(
        [
            Record(0, START_MS, typed("reading", 0)),
            Record(1, START_MS + 1, None, key="deleted-device"),
            Record(0, START_MS + 2, b"\x00\x01 not json \xff\xfe"),
            Record(1, START_MS + 3, json.dumps({"seq": 3})),
            Record(0, START_MS + 4, json.dumps([1, 2])),
            Record(1, START_MS + 5, json.dumps({"type": 7}), key=None),
            Record(0, START_MS + 6, b'{"type": "half', key=b"\xff not utf-8"),
        ]
    )
    run = run_job(topic)
    assert run.counts() == {
        (W0, "reading"): 1,
        (W0, analytics_sql.TOMBSTONE): 1,
        (W0, analytics_sql.NOT_JSON): 2,
        (W0, analytics_sql.NO_EVENT_TYPE): 2,
        (W0, "7"): 1,
    }
    # The record without a key is not a distinct key; the one with bytes that are not UTF-8 is
    assert {row["event_type"]: row["key_count"] for row in run.rows}[analytics_sql.NOT_JSON] == 2


def test_window_and_json_path_come_from_the_properties(new_topic: MakeTopic, run_job: RunJob) -> None:
    topic = new_topic(3)
    topic.produce(
        Record(i % 3, START_MS + i * 1000, json.dumps({"event": {"kind": "click" if i % 2 else "view"}}))
        for i in range(30)
    )
    run = run_job(topic, **{"window.seconds": "10", "event.type.json.path": "$.event.kind"})
    assert run.counts() == {
        (f"2025-11-24T16:00:{second:02d}", kind): 5 for second in (0, 10, 20) for kind in ("click", "view")
    }


def test_a_day_long_window_puts_the_day_in_one_row(new_topic: MakeTopic, run_job: RunJob) -> None:
    topic = new_topic(2)
    topic.produce(Record(i % 2, START_MS + i * 3_600_000, typed("a", i)) for i in range(3))
    run = run_job(topic, **{"window.seconds": "86400"})
    assert run.counts() == {("2025-11-24T00:00:00", "a"): 3}
    assert "dt=2025-11-24/hr=00/_SUCCESS" in run.files()


def _every_partition(timestamp: int, kind: str) -> list[Record]:
    return [Record(p, timestamp, typed(kind, p)) for p in range(PARTITIONS)]


def test_a_record_later_than_the_watermark_delay_is_not_counted(
    new_topic: MakeTopic, start_job: StartJob, tmp_path: Path
) -> None:
    # Given the job running (unbounded, as deployed) with a 10 s watermark delay, and records up to 16:01:30
    # in every partition: the watermark (the partitions' smallest) passes 16:01:20, so the 16:00 window fires
    topic = new_topic()
    # (no partition turns idle while the test waits: an idle one would stop holding the watermark back)
    job = start_job(
        topic,
        tmp_path / "results",
        **{"watermark.delay.seconds": "10", "idle.timeout.seconds": "600", "rollover.seconds": "1"},
    )
    topic.produce(_every_partition(START_MS + 5_000, "a") + _every_partition(START_MS + 90_000, "a"))
    job.run.wait_for((W0, "a"))

    # When partition 0 then gets a record of 16:00:30 (its window has fired) and one of 16:01:25 (later than
    # others in the partition, but within the delay), then every partition moves to 16:03:30
    topic.produce(
        [Record(0, START_MS + 30_000, typed("late", 0)), Record(0, START_MS + 85_000, typed("tolerated", 0))]
    )
    topic.produce(_every_partition(START_MS + 210_000, "a"))
    # (the 16:01 window fires once all of that is read: partition 0 read the late record before it)
    job.run.wait_for((W1, "a"), (W1, "tolerated"))
    job.cancel()

    # Then the late record is in no result (Flink drops it; the topic keeps it), the tolerated one is counted
    assert job.run.counts() == {(W0, "a"): PARTITIONS, (W1, "a"): PARTITIONS, (W1, "tolerated"): 1}


def _latest_checkpoint(checkpoints: Path) -> Path:
    completed = [metadata.parent for metadata in checkpoints.glob("*/chk-*/_metadata")]
    assert completed, f"no completed checkpoint under {checkpoints}"
    return max(completed, key=lambda path: int(path.name.removeprefix("chk-")))


def test_a_restart_from_a_checkpoint_counts_no_record_twice(
    new_topic: MakeTopic, start_job: StartJob, tmp_path: Path
) -> None:
    # Given the job running with retained checkpoints, having counted the 16:00 window and part of 16:01's
    topic, output, checkpoints = new_topic(), tmp_path / "results", tmp_path / "checkpoints"
    retained = {
        "execution.checkpointing.dir": checkpoints.as_uri(),
        "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
    }
    first = start_job(topic, output, retained, **{"rollover.seconds": "1"})
    topic.produce(
        Record(i % PARTITIONS, START_MS + i * 500, typed(KINDS[i % 3], i)) for i in range(180)
    )  # 16:00:00 to 16:01:29.5: 120 records in the first window, 60 in the second
    first.run.wait_for(*((W0, kind) for kind in KINDS))
    # When it stops (cancelled, as a failure would end it) and more records come meanwhile
    first.cancel()
    checkpoint = _latest_checkpoint(checkpoints)
    topic.produce(
        Record(i % PARTITIONS, START_MS + i * 500, typed(KINDS[i % 3], i)) for i in range(180, 300)
    )  # to 16:02:29.5
    topic.produce(_every_partition(START_MS + 4 * MINUTE_MS, "end"))  # moves every partition to 16:04
    # And the job starts again from the checkpoint, writing to the same results
    second = start_job(
        topic,
        output,
        retained | {"execution.state-recovery.path": checkpoint.as_uri()},
        **{"rollover.seconds": "1"},
    )
    second.run.wait_for(*((window, kind) for window in (W1, W2) for kind in KINDS))
    second.cancel()

    # Then every window is written once, with every record counted once: the second run resumed the first's
    # offsets and window state (the 16:01 window spans both runs), and what the first run wrote after its
    # last checkpoint was never committed
    assert second.run.counts() == {(W0, kind): 40 for kind in KINDS} | {(W1, kind): 40 for kind in KINDS} | {
        (W2, kind): 20 for kind in KINDS
    }


def test_deployed_the_kafka_table_authenticates_with_msk_iam(tmp_path: Path) -> None:
    # Given the deployed settings (IAM is the default)
    settings = job_settings_from_groups(
        [
            {
                "PropertyGroupId": "Source",
                "PropertyMap": {"topic": "streaming-events", "bootstrap.servers": "b-1.example:9098"},
            },
            {"PropertyGroupId": "Results", "PropertyMap": {"path": "s3a://results-bucket/results/"}},
        ]
    )
    # Then the Kafka table's DDL has the MSK IAM client settings
    ddl = analytics_sql.source_table(settings.source, settings.results.watermark_delay_seconds)
    for key, value in analytics_sql.MSK_IAM_PROPERTIES.items():
        assert f"'{key}' = '{value}'" in ddl
    assert "'properties.security.protocol' = 'SASL_SSL'" in ddl
    assert "scan.bounded.mode" not in ddl
    # And with the uber-jar, Flink's Kafka connector accepts the whole job: the planner builds its source
    table_env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    table_env.get_config().set("pipeline.jars", main.local_configuration()["pipeline.jars"])
    *definitions, insert = analytics_sql.statements(settings)
    for statement in definitions:
        table_env.execute_sql(statement)
    plan = table_env.explain_sql(insert)
    assert "TableSourceScan(table=[[default_catalog, default_database, source_events" in plan
    # And the uber-jar holds the callback handler and the login module those settings name
    loader = jar_class_loader(main.LOCAL_JAR)
    handler = load_class(
        loader, analytics_sql.MSK_IAM_PROPERTIES["properties.sasl.client.callback.handler.class"]
    )
    assert handler.getName() == "software.amazon.msk.auth.iam.IAMClientCallbackHandler"
    callback_handler_type = "org.apache.kafka.common.security.auth.AuthenticateCallbackHandler"
    assert load_class(loader, callback_handler_type).isAssignableFrom(handler)
    login_module_name = analytics_sql.MSK_IAM_PROPERTIES["properties.sasl.jaas.config"].split()[0]
    login_module = load_class(loader, login_module_name)
    assert load_class(loader, "javax.security.auth.spi.LoginModule").isAssignableFrom(login_module)
    # And a Kafka client of the uber-jar takes the job's client settings: building it instantiates the
    # callback handler and logs in with the login module (it connects to nothing until used)
    client_settings = {
        key.removeprefix("properties."): value
        for key, value in analytics_sql.kafka_source_options(settings.source).items()
        if key.startswith("properties.")
    }
    build_kafka_consumer(main.LOCAL_JAR, client_settings | {"bootstrap.servers": "127.0.0.1:9098"})
