"""The job as Flink SQL: a Kafka table of the topic's records, a results table in S3, and the windowed query.

`source_events` has the columns `topic`, `event_time` (the Kafka record timestamp, with a watermark per
partition), `record_key` and `payload` (key and value as UTF-8 text, Flink's `raw` format). The query counts
the records of each event type per tumbling window; the event type is read from the value with JSON_VALUE.
Results are JSON lines under `<path>/dt=YYYY-MM-DD/hr=HH/`, with a `_SUCCESS` file once a partition is done.
"""

from __future__ import annotations

from job_settings import JobSettings, ResultsSettings, SourceSettings

TIME_ZONE = "UTC"
# Values written for records the event type cannot be read from.
NOT_JSON = "(not json)"
NO_EVENT_TYPE = "(none)"
TOMBSTONE = "(tombstone)"

# The Kafka client settings for MSK IAM authentication (aws-msk-iam-auth's classes are in the job's uber-jar).
MSK_IAM_PROPERTIES = {
    "properties.security.protocol": "SASL_SSL",
    "properties.sasl.mechanism": "AWS_MSK_IAM",
    "properties.sasl.jaas.config": "software.amazon.msk.auth.iam.IAMLoginModule required;",
    "properties.sasl.client.callback.handler.class": "software.amazon.msk.auth.iam.IAMClientCallbackHandler",
}


def literal(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def interval(seconds: int) -> str:
    """A SQL interval of whole seconds (`INTERVAL '120' SECOND` is over SECOND's default precision of 2)."""
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, rest = divmod(rest, 60)
    return f"INTERVAL '{days} {hours:02d}:{minutes:02d}:{rest:02d}' DAY TO SECOND"


def _with_clause(options: dict[str, str]) -> str:
    return ",\n  ".join(f"{literal(key)} = {literal(value)}" for key, value in options.items())


def table_config(settings: JobSettings) -> dict[str, str]:
    """Table configuration the job sets before its statements run."""
    return {
        "table.local-time-zone": TIME_ZONE,
        # A partition with no traffic must not hold back the windows of the others.
        "table.exec.source.idle-timeout": f"{settings.results.idle_timeout_seconds} s",
    }


def kafka_source_options(source: SourceSettings) -> dict[str, str]:
    """The Kafka table's options: topic, group, where to start and stop, formats, and how to authenticate."""
    options = {
        "connector": "kafka",
        "topic": source.topic,
        "properties.bootstrap.servers": source.bootstrap_servers,
        "properties.group.id": source.group_id,
        "scan.startup.mode": source.startup_mode,
        # With group-offsets and no committed offset yet, start from the beginning: nothing is skipped.
        "properties.auto.offset.reset": "earliest",
        "key.format": "raw",
        "key.fields": "record_key",
        "value.format": "raw",
        "value.fields-include": "EXCEPT_KEY",
    }
    if source.bounded_mode != "unbounded":
        options["scan.bounded.mode"] = source.bounded_mode
    if source.bounded_mode == "specific-offsets":
        options["scan.bounded.specific-offsets"] = source.bounded_offsets
    if source.auth == "IAM":
        options |= MSK_IAM_PROPERTIES
    else:
        options["properties.security.protocol"] = "PLAINTEXT"
    return options


def source_table(source: SourceSettings, watermark_delay_seconds: int) -> str:
    """CREATE TABLE source_events: the topic's records through Flink's Kafka connector."""
    return (
        "CREATE TABLE source_events (\n"
        "  `topic` STRING METADATA VIRTUAL,\n"
        "  `event_time` TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL,\n"
        "  `record_key` STRING,\n  `payload` STRING,\n"
        f"  WATERMARK FOR `event_time` AS `event_time` - {interval(watermark_delay_seconds)}\n"
        ") WITH (\n  " + _with_clause(kafka_source_options(source)) + "\n)"
    )


def classified_view(results: ResultsSettings) -> str:
    """A view giving every record its event type: the JSON path's value, or a marker saying why not."""
    path = literal(results.event_type_json_path)
    return (
        "CREATE TEMPORARY VIEW classified_events AS\n"
        "SELECT `topic`, `event_time`, `record_key`,\n"
        f"  CASE WHEN `payload` IS NULL THEN {literal(TOMBSTONE)}\n"
        f"       WHEN `payload` IS NOT JSON THEN {literal(NOT_JSON)}\n"
        f"       ELSE COALESCE(JSON_VALUE(`payload`, {path}), {literal(NO_EVENT_TYPE)}) END AS `event_type`\n"
        "FROM source_events"
    )


def results_table(results: ResultsSettings) -> str:
    """CREATE TABLE window_results: JSON lines, partitioned by the window's UTC day and hour.

    A JSON part file is closed only by the rolling policy (row formats do not roll on checkpoints): it is
    rolled once it has been open `rollover.seconds`, or written to for none of them, and committed (made
    visible) by the checkpoint after that.
    """
    rollover = f"{results.rollover_seconds} s"
    options = {
        "connector": "filesystem",
        "path": results.path,
        "format": "json",
        "json.timestamp-format.standard": "ISO-8601",
        "sink.rolling-policy.rollover-interval": rollover,
        "sink.rolling-policy.inactivity-interval": rollover,
        "sink.rolling-policy.check-interval": f"{min(results.rollover_seconds, 60)} s",
        "sink.partition-commit.trigger": "partition-time",
        "partition.time-extractor.timestamp-pattern": "$dt $hr:00:00",
        "sink.partition-commit.delay": "1 h",
        "sink.partition-commit.watermark-time-zone": TIME_ZONE,
        "sink.partition-commit.policy.kind": "success-file",
    }
    return (
        "CREATE TABLE window_results (\n"
        "  `window_start` TIMESTAMP(3),\n  `window_end` TIMESTAMP(3),\n  `topic` STRING,\n"
        "  `event_type` STRING,\n  `record_count` BIGINT,\n  `key_count` BIGINT,\n"
        "  `first_event_time` TIMESTAMP_LTZ(3),\n  `last_event_time` TIMESTAMP_LTZ(3),\n"
        "  `dt` STRING,\n  `hr` STRING\n"
        ") PARTITIONED BY (`dt`, `hr`) WITH (\n  " + _with_clause(options) + "\n)"
    )


def insert_results(results: ResultsSettings) -> str:
    """The job itself: count records per event type in tumbling event-time windows."""
    return (
        "INSERT INTO window_results\n"
        "SELECT `window_start`, `window_end`, `topic`, `event_type`,\n"
        "  COUNT(*) AS `record_count`,\n"
        "  COUNT(DISTINCT `record_key`) AS `key_count`,\n"
        "  MIN(`event_time`) AS `first_event_time`,\n"
        "  MAX(`event_time`) AS `last_event_time`,\n"
        "  DATE_FORMAT(`window_start`, 'yyyy-MM-dd') AS `dt`,\n"
        "  DATE_FORMAT(`window_start`, 'HH') AS `hr`\n"
        "FROM TABLE(TUMBLE(TABLE classified_events, DESCRIPTOR(`event_time`),"
        f" {interval(results.window_seconds)}))\n"
        "GROUP BY `window_start`, `window_end`, `topic`, `event_type`"
    )


def statements(settings: JobSettings) -> list[str]:
    """Every statement, in order; the last one is the INSERT that starts the job."""
    return [
        source_table(settings.source, settings.results.watermark_delay_seconds),
        classified_view(settings.results),
        results_table(settings.results),
        insert_results(settings.results),
    ]
