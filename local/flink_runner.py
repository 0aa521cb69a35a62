"""FlinkS3, locally: the real PyFlink job (functions/flink_app) in a MiniCluster on Python 3.11 (.venv-flink).

What differs from Managed Flink, and why:
- The Flink Kafka connector jar cannot be downloaded here (Maven Central is unreachable), so the job does not
  read Kafka itself: the topic is read to its end with confluent-kafka and handed to the job as an NDJSON file
  in timestamp order, through the job's filesystem source, which has the same columns as its Kafka source.
- Flink's S3 filesystem plugin is not in the apache-flink wheel, so the job writes its results to a local
  folder, and they are then uploaded to the results bucket in moto under the same keys.
Everything in between (the SQL, windows, watermarks, partitioning, commit files) is the job as deployed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from local.functions import REPO, local_name

FLINK_APP = REPO / "functions" / "flink_app"
FLINK_PYTHON = REPO / ".venv-flink" / "bin" / "python"
# The FlinkS3 template (nested/flink-analytics.yaml) is not written yet: these are the names it is to use.
RESULTS_BUCKET = local_name("ResultsBucket")
RESULTS_PREFIX = "results/"
JOB_TIMEOUT_SECONDS = 240


class FlinkJobError(RuntimeError):
    """The local Flink job could not run or failed."""


@dataclass(frozen=True)
class FlinkRun:
    """What a local run of the job read and wrote."""

    records_read: int
    rows: list[dict[str, Any]]
    keys: list[str]
    log: Path

    @property
    def records_counted(self) -> int:
        return sum(int(row["record_count"]) for row in self.rows)


def _text(data: bytes | None) -> str | None:
    """Kafka bytes as the raw format's STRING column gives them: UTF-8, malformed bytes replaced."""
    return None if data is None else data.decode("utf-8", errors="replace")


def export_topic(bootstrap: str, topic: str, path: Path, timeout: float = 60) -> int:
    """Write every record now in the topic to `path` as NDJSON in timestamp order; return how many.

    The end of each partition is taken from the fetch responses (partition EOF), not from ListOffsets, which
    Tansu 0.6 answers wrongly for batches of several records.
    """
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "local-flink-export",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    try:
        partitions = set(consumer.list_topics(topic, timeout=10).topics[topic].partitions)
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        records: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while partitions:
            if time.monotonic() > deadline:
                raise FlinkJobError(
                    f"partitions {sorted(partitions)} of {topic} not read to the end in {timeout} s"
                )
            for message in consumer.consume(500, timeout=1):
                error = message.error()
                if error is not None and error.code() == KafkaError._PARTITION_EOF:
                    partitions.discard(message.partition())
                elif error is not None:
                    raise FlinkJobError(f"reading {topic}: {error}")
                else:
                    records.append(
                        {
                            "topic": topic,
                            "partition": message.partition(),
                            "offset": message.offset(),
                            "timestamp": message.timestamp()[1],
                            "record_key": _text(message.key()),
                            "payload": _text(message.value()),
                        }
                    )
    finally:
        consumer.close()
    # Kafka's source keeps a watermark per partition; one file in time order gives the same lateness.
    records.sort(key=lambda r: (r["timestamp"], r["partition"], r["offset"]))
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return len(records)


def run_job(topic: str, source_dir: Path, output_dir: Path, work_dir: Path) -> Path:
    """Run functions/flink_app/main.py to the end of its file source; return its log file."""
    if not FLINK_PYTHON.exists():
        raise FlinkJobError(f"{FLINK_PYTHON} is missing: run `make .venv-flink/.installed` (make demo does)")
    properties = [
        {
            "PropertyGroupId": "Source",
            "PropertyMap": {"connector": "filesystem", "topic": topic, "path": source_dir.as_uri()},
        },
        {"PropertyGroupId": "Results", "PropertyMap": {"path": output_dir.as_uri()}},
    ]
    properties_file = work_dir / "application_properties.json"
    properties_file.write_text(json.dumps(properties, indent=2))
    log = work_dir / "flink-job.log"
    environment = os.environ | {"FLINK_LOCAL_RUN": "1", "FLINK_APPLICATION_PROPERTIES": str(properties_file)}
    environment.pop("PYTHONPATH", None)  # the job imports its own folder only, as on Managed Flink
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(FLINK_PYTHON), str(FLINK_APP / "main.py")],
            cwd=work_dir,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # the job's JVM is its child: stop them together
        )
        try:
            returncode = process.wait(timeout=JOB_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise FlinkJobError(f"the Flink job ran over {JOB_TIMEOUT_SECONDS} s (log: {log})") from None
    if returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        raise FlinkJobError(f"the Flink job exited with {returncode} (log: {log}):\n{tail}")
    return log


def upload_results(s3: Any, bucket: str, prefix: str, output_dir: Path) -> list[str]:
    """Upload the job's committed files (not its hidden in-progress ones) under `prefix`; return the keys."""
    keys = []
    for path in sorted(output_dir.rglob("*")):
        relative = path.relative_to(output_dir)
        if path.is_file() and not any(part.startswith(".") for part in relative.parts):
            key = prefix + relative.as_posix()
            s3.upload_file(str(path), bucket, key)
            keys.append(key)
    return keys


def result_rows(s3: Any, bucket: str, keys: list[str]) -> list[dict[str, Any]]:
    """The result rows in the uploaded part files."""
    rows = []
    for key in keys:
        if key.rpartition("/")[2].startswith("part-"):
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
            rows += [json.loads(line) for line in body.splitlines() if line]
    return rows


def run_flink_option(bootstrap: str, topic: str, s3: Any, work_dir: Path) -> FlinkRun:
    """Read the topic, run the job on it, put its results in the results bucket."""
    source_dir, output_dir = work_dir / "flink-source", work_dir / "flink-results"
    source_dir.mkdir(parents=True)
    records_read = export_topic(bootstrap, topic, source_dir / "records.json")
    log = run_job(topic, source_dir, output_dir, work_dir)
    s3.create_bucket(Bucket=RESULTS_BUCKET)
    keys = upload_results(s3, RESULTS_BUCKET, RESULTS_PREFIX, output_dir)
    return FlinkRun(records_read, result_rows(s3, RESULTS_BUCKET, keys), keys, log)
