"""FlinkS3: the PyFlink job that Managed Service for Apache Flink runs (`python` = `main.py`).

It reads the topic through Flink's Kafka connector, counts records per event type in tumbling event-time
windows and writes the results to S3 (analytics_sql.py). Settings come from the runtime properties
(job_settings.py). The connector and aws-msk-iam-auth come from the application's uber-jar (the `jarfile` run
option, lib/pyflink-dependencies.jar in the zip).

Deployed, main() returns once the job is submitted, as Managed Flink expects. With FLINK_LOCAL_RUN set
(tests, `make demo`), it gives the job the uber-jar `make flink-jar` builds (target/pyflink-dependencies.jar
beside this file), checkpoints every second so that result files are committed, and waits for a bounded
source's end.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pyflink.table import EnvironmentSettings, TableEnvironment, TableResult

import analytics_sql
from job_settings import LOCAL_RUN_VARIABLE, JobSettings, load_job_settings

LOCAL_JAR = Path(__file__).resolve().parent / "target" / "pyflink-dependencies.jar"
LOCAL_CHECKPOINT_INTERVAL = "1 s"
# Two readers share the topic's partitions, as a Managed Flink application with parallelism 2 does.
LOCAL_PARALLELISM = "2"


class LocalJarMissingError(FileNotFoundError):
    """A local run needs the uber-jar that `make flink-jar` builds."""


def local_configuration(jar: Path = LOCAL_JAR) -> dict[str, str]:
    """The Flink configuration of a local run: what Managed Flink's application settings give it deployed."""
    if not jar.is_file():
        raise LocalJarMissingError(f"{jar} is missing: run `make flink-jar` (the Kafka connector's uber-jar)")
    return {
        # Managed Flink adds the `jarfile` run option's jar to the job; locally pipeline.jars does.
        "pipeline.jars": jar.as_uri(),
        # Managed Flink checkpoints by itself (every minute by default); the file sink commits on checkpoints.
        "execution.checkpointing.interval": LOCAL_CHECKPOINT_INTERVAL,
        "parallelism.default": LOCAL_PARALLELISM,
    }


def submit(settings: JobSettings, configuration: Mapping[str, str]) -> TableResult:
    """Define the tables and submit the INSERT; return its result (the job client, and wait())."""
    table_env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    config = table_env.get_config()
    for key, value in (analytics_sql.table_config(settings) | dict(configuration)).items():
        config.set(key, value)
    *definitions, insert = analytics_sql.statements(settings)
    for statement in definitions:
        table_env.execute_sql(statement)
    return table_env.execute_sql(insert)


def main() -> None:
    """Submit the job; in a local run, wait until it has finished."""
    settings = load_job_settings()
    local_run = bool(os.environ.get(LOCAL_RUN_VARIABLE))
    result = submit(settings, local_configuration() if local_run else {})
    if local_run:
        result.wait()


if __name__ == "__main__":
    main()
