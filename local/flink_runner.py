"""FlinkS3, locally: the real PyFlink job (functions/flink_app) in a MiniCluster on Python 3.11 (.venv-flink),
reading the topic of the local broker through its Kafka table and the uber-jar `make flink-jar` builds.

What differs from Managed Flink, and why:
- The Kafka table uses PLAINTEXT (the local broker has no TLS, SASL or IAM); deployed it uses MSK IAM.
- The run is bounded: the job reads each partition up to where it ends when the run starts
  (`scan.bounded.mode` = `specific-offsets`, the offsets read by local/topic_end.py) and then finishes;
  deployed, it never ends.
- Flink finds file systems in its plugins folder, and the apache-flink wheel has no S3 plugin (the uber-jar's
  flink-s3-fs-hadoop is not looked at: a job's jars are not searched for file systems), so the job writes its
  results to a local folder, and they are then uploaded to the results bucket in moto under the same keys.
Everything in between (the Kafka source, the SQL, windows, per-partition watermarks, partitioning, commit
files) is the job as deployed.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from local.functions import REPO, local_name
from local.topic_end import TopicEnd, topic_end

FLINK_APP = REPO / "functions" / "flink_app"
FLINK_PYTHON = REPO / ".venv-flink" / "bin" / "python"
# The uber-jar `make flink-jar` builds from FLINK_APP/pom.xml; main.py gives it to a local run.
FLINK_JAR = FLINK_APP / "target" / "pyflink-dependencies.jar"
KAFKA_CONNECTOR = "flink-connector-kafka"
# The FlinkS3 template (nested/flink-analytics.yaml) names the group <stack>-analytics.
GROUP_ID = local_name("analytics")
RESULTS_BUCKET = local_name("ResultsBucket")
RESULTS_PREFIX = "results/"
JOB_TIMEOUT_SECONDS = 240


class FlinkJobError(RuntimeError):
    """The local Flink job could not run or failed."""


@dataclass(frozen=True)
class FlinkRun:
    """What a local run of the job read and wrote."""

    source: TopicEnd
    connector: str
    rows: list[dict[str, Any]]
    keys: list[str]
    log: Path

    @property
    def records_counted(self) -> int:
        return sum(int(row["record_count"]) for row in self.rows)

    def source_line(self) -> str:
        """Where the job read from: the topic, its partitions and the connector."""
        return (
            f"kafka topic {self.source.topic} ({self.source.partitions} partitions, {self.source.records} "
            f"records) via {self.connector}, PLAINTEXT (MSK IAM when deployed)"
        )


def connector_name(pom: Path = FLINK_APP / "pom.xml") -> str:
    """`flink-connector-kafka <version>` as the pom the uber-jar is built from declares it."""
    namespace = {"m": "http://maven.apache.org/POM/4.0.0"}
    project = ElementTree.parse(pom).getroot()  # noqa: S314 - the repository's own pom
    properties = {
        element.tag.partition("}")[2]: element.text or ""
        for element in project.findall("m:properties/*", namespace)
    }
    for dependency in project.findall("m:dependencies/m:dependency", namespace):
        if dependency.findtext("m:artifactId", "", namespace) == KAFKA_CONNECTOR:
            version = dependency.findtext("m:version", "", namespace)
            version = re.sub(r"\$\{([^}]+)\}", lambda match: properties.get(match[1], match[0]), version)
            return f"{KAFKA_CONNECTOR} {version}"
    raise FlinkJobError(f"{pom} has no {KAFKA_CONNECTOR} dependency")


def job_properties(bootstrap: str, end: TopicEnd, output_dir: Path) -> list[dict[str, Any]]:
    """The runtime properties of a local run: as deployed, but PLAINTEXT, bounded, results to a folder."""
    return [
        {
            "PropertyGroupId": "Source",
            "PropertyMap": {
                "topic": end.topic,
                "bootstrap.servers": bootstrap,
                "group.id": GROUP_ID,
                "auth": "PLAINTEXT",
                "bounded.mode": "specific-offsets",
                "bounded.offsets": end.flink_offsets(),
            },
        },
        {"PropertyGroupId": "Results", "PropertyMap": {"path": output_dir.as_uri()}},
    ]


def run_job(properties: list[dict[str, Any]], work_dir: Path) -> Path:
    """Run functions/flink_app/main.py with these runtime properties to its end; return its log file."""
    if not FLINK_PYTHON.exists():
        raise FlinkJobError(f"{FLINK_PYTHON} is missing: run `make .venv-flink/.installed` (make demo does)")
    if not FLINK_JAR.is_file():
        raise FlinkJobError(f"{FLINK_JAR} is missing: run `make flink-jar` (make demo does)")
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
    """Run the job on what the topic holds now, put its results in the results bucket."""
    output_dir = work_dir / "flink-results"
    end = topic_end(bootstrap, topic)
    log = run_job(job_properties(bootstrap, end, output_dir), work_dir)
    s3.create_bucket(Bucket=RESULTS_BUCKET)
    keys = upload_results(s3, RESULTS_BUCKET, RESULTS_PREFIX, output_dir)
    return FlinkRun(end, connector_name(), result_rows(s3, RESULTS_BUCKET, keys), keys, log)
