"""Fixtures of the Flink tier: the job's own code in a local PyFlink MiniCluster (Python 3.11, .venv-flink),
reading a topic of the local broker (Tansu) through its Kafka table and the uber-jar `make flink-jar` builds.

`make test-flink` runs this tier with --confcutdir=tests/flink, so the Lambda tiers' conftest (boto3,
Powertools) is not loaded here.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import main
import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from pyflink.table import TableResult

from job_settings import LOCAL_RUN_VARIABLE, PROPERTIES_FILE_VARIABLE, JobSettings, job_settings_from_groups
from local.broker import running_broker
from local.topic_end import TopicEnd, topic_end

START_MS = 1_764_000_000_000  # 2025-11-24T16:00:00Z
MINUTE_MS = 60_000
PARTITIONS = 6


@dataclass(frozen=True)
class Record:
    """A record to produce: its partition, timestamp (ms), value and key."""

    partition: int
    timestamp: int
    value: str | bytes | None
    key: str | bytes | None = "k"


def typed(kind: str, seq: int) -> str:
    """A JSON value with the event type the job reads by default ($.type)."""
    return json.dumps({"type": kind, "seq": seq})


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Tansu broker on a free loopback port for the whole session (or KAFKA_BOOTSTRAP_SERVERS)."""
    with running_broker(tmp_path_factory.mktemp("tansu") / "tansu.log") as bootstrap:
        yield bootstrap


def _bytes(data: str | bytes | None) -> bytes | None:
    return data.encode() if isinstance(data, str) else data


class Topic:
    """A new topic on the broker, and what the tests produce to it."""

    def __init__(self, bootstrap: str, partitions: int) -> None:
        self.bootstrap = bootstrap
        self.name = f"flink-{uuid.uuid4().hex[:8]}"
        admin = AdminClient({"bootstrap.servers": bootstrap})
        for future in admin.create_topics([NewTopic(self.name, partitions, -1)]).values():
            future.result(10)

    def produce(self, records: Iterable[Record]) -> None:
        """Produce idempotently in batches (linger), as the solution's producer does."""
        producer = Producer(
            {"bootstrap.servers": self.bootstrap, "enable.idempotence": True, "linger.ms": 20}
        )
        for record in records:
            producer.produce(
                self.name,
                key=_bytes(record.key),
                value=_bytes(record.value),
                partition=record.partition,
                timestamp=record.timestamp,
            )
        assert producer.flush(10) == 0

    def end(self) -> TopicEnd:
        return topic_end(self.bootstrap, self.name)


MakeTopic = Callable[..., Topic]


@pytest.fixture
def new_topic(kafka_bootstrap: str) -> MakeTopic:
    """Make a topic with the given number of partitions (6 by default)."""

    def make(partitions: int = PARTITIONS) -> Topic:
        return Topic(kafka_bootstrap, partitions)

    return make


@dataclass
class JobRun:
    """What the job wrote to its results folder."""

    output: Path

    @property
    def rows(self) -> list[dict[str, Any]]:
        """The rows of the committed part files (in-progress files are hidden: names starting with a dot)."""
        return [
            json.loads(line)
            for path in sorted(self.output.rglob("part-*"))
            for line in path.read_text().splitlines()
        ]

    def files(self) -> list[str]:
        return sorted(str(p.relative_to(self.output)) for p in self.output.rglob("*") if p.is_file())

    def counts(self) -> dict[tuple[str, str], int]:
        """record_count per (window_start, event_type); a window and type written twice fails."""
        counts: dict[tuple[str, str], int] = {}
        for row in self.rows:
            window = (row["window_start"], row["event_type"])
            assert window not in counts, f"{window} written twice"
            counts[window] = row["record_count"]
        return counts

    def total(self) -> int:
        return sum(row["record_count"] for row in self.rows)

    def wait_for(self, *windows: tuple[str, str], timeout: float = 60) -> None:
        """Wait until committed rows for these (window_start, event_type) exist: their windows have fired."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if set(windows) <= {(row["window_start"], row["event_type"]) for row in self.rows}:
                return
            time.sleep(0.2)
        raise AssertionError(f"no committed rows for all of {windows} within {timeout} s: {self.rows}")


def job_groups(topic: Topic, output: Path, source: dict[str, str], results: dict[str, str]) -> list[Any]:
    """Runtime properties of a local run: the topic over PLAINTEXT from its start, results to a folder."""
    return [
        {
            "PropertyGroupId": "Source",
            "PropertyMap": {
                "topic": topic.name,
                "bootstrap.servers": topic.bootstrap,
                "group.id": f"flink-{topic.name}",
                "auth": "PLAINTEXT",
                "startup.mode": "earliest-offset",
                **source,
            },
        },
        {"PropertyGroupId": "Results", "PropertyMap": {"path": output.as_uri(), **results}},
    ]


RunJob = Callable[..., JobRun]


@pytest.fixture
def run_job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> RunJob:
    """Run main.main() (a local run) on what `topic` holds now, bounded by its end; return what it wrote."""

    def run(topic: Topic, **results: str) -> JobRun:
        output = tmp_path / f"results-{uuid.uuid4().hex[:6]}"
        bounds = {"bounded.mode": "specific-offsets", "bounded.offsets": topic.end().flink_offsets()}
        properties_file = tmp_path / "application_properties.json"
        properties_file.write_text(json.dumps(job_groups(topic, output, bounds, results)))
        monkeypatch.setenv(PROPERTIES_FILE_VARIABLE, str(properties_file))
        monkeypatch.setenv(LOCAL_RUN_VARIABLE, "1")
        main.main()
        return JobRun(output)

    return run


@dataclass
class StreamingJob:
    """An unbounded run of the job (as deployed), submitted with main.submit and cancelled by the test."""

    result: TableResult
    run: JobRun
    cancelled: bool = False

    def cancel(self) -> None:
        """Cancel the job (its MiniCluster stops with it) and wait until it is cancelled."""
        if not self.cancelled:
            client = self.result.get_job_client()
            assert client is not None
            client.cancel().result()
            self.cancelled = True


StartJob = Callable[..., StreamingJob]


@pytest.fixture
def start_job(tmp_path: Path) -> Iterator[StartJob]:
    """Submit the unbounded job on `topic` with extra Flink configuration; cancel what is left at the end."""
    started: list[StreamingJob] = []

    def start(
        topic: Topic, output: Path, configuration: dict[str, str] | None = None, **results: str
    ) -> StreamingJob:
        settings: JobSettings = job_settings_from_groups(job_groups(topic, output, {}, results))
        result = main.submit(settings, main.local_configuration() | (configuration or {}))
        job = StreamingJob(result, JobRun(output))
        started.append(job)
        return job

    yield start
    for job in started:
        job.cancel()
