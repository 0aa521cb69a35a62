"""FlinkS3: the PyFlink job that Managed Service for Apache Flink runs (`python` = `main.py`).

It reads the topic, counts records per event type in tumbling event-time windows and writes the results
to S3 (analytics_sql.py). Settings come from the runtime properties (job_settings.py).

Deployed, main() returns once the job is submitted, as Managed Flink expects. With FLINK_LOCAL_RUN set
(tests, `make demo`), it checkpoints every second, so that result files are committed, runs with one reader,
and waits for a bounded source to be read to the end.
"""

from __future__ import annotations

import os

from pyflink.table import EnvironmentSettings, TableEnvironment

import analytics_sql
from job_settings import LOCAL_RUN_VARIABLE, load_job_settings

LOCAL_CHECKPOINT_INTERVAL = "1 s"


def main() -> None:
    """Submit the job; in a local run, wait until it has finished."""
    settings = load_job_settings()
    local_run = bool(os.environ.get(LOCAL_RUN_VARIABLE))
    table_env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    config = table_env.get_config()
    for key, value in analytics_sql.table_config(settings).items():
        config.set(key, value)
    if local_run:
        # Managed Flink checkpoints by itself (every minute by default); the file sink commits on checkpoints.
        config.set("execution.checkpointing.interval", LOCAL_CHECKPOINT_INTERVAL)
        # One reader takes the local file in order, as one reader takes a Kafka partition.
        config.set("parallelism.default", "1")
    *definitions, insert = analytics_sql.statements(settings)
    for statement in definitions:
        table_env.execute_sql(statement)
    result = table_env.execute_sql(insert)
    if local_run:
        result.wait()


if __name__ == "__main__":
    main()
