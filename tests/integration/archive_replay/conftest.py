"""The replay's Kafka steps against a real broker (Tansu) and moto: the archive is written by the real
forwarder through moto's Firehose (the functional tier's `world`), the plan steps build the manifests, and
preflight, write, verify and translate run against the session's broker."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

import preflight
import writing
from local.topic_end import read_to_end
from streaming_common.kafka_codec import KafkaRecord
from tests.conftest import FakeLambdaContext
from tests.functional.archive_replay.conftest import REPLAY_BUCKET, ReplayWorld, world

__all__ = ["world"]

HOUR_MS = 3_600_000


def hours_ago(hours: float) -> int:
    """Epoch milliseconds `hours` before now."""
    return int(time.time() * 1000 - hours * HOUR_MS)


@dataclass
class KafkaReplay:
    """The archive world plus the broker: create topics, run every step, read a topic back."""

    world: ReplayWorld
    bootstrap: str

    def topic(self, prefix: str, partitions: int, config: dict[str, str] | None = None) -> str:
        """Create a topic with a random suffix; its name."""
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        for future in admin.create_topics([NewTopic(name, partitions, -1, config=config or {})]).values():
            future.result(10)
        return name

    def request(self, run_id: str, source: str, target: str, **fields: Any) -> dict[str, Any]:
        """A replay request over the last 12 hours of `source` into `target`."""
        return {
            "runId": run_id,
            "from": hours_ago(12),
            "to": hours_ago(-1),
            "sourceTopic": source,
            "targetTopic": target,
            **fields,
        }

    def step(self, name: str, context: Any = None, **fields: Any) -> Any:
        """Invoke the replay handler for one step."""
        return self.world.handler.lambda_handler({"step": name, **fields}, context or FakeLambdaContext())

    def write_all(self, request: dict[str, Any], targets: Iterable[int]) -> dict[int, dict[str, Any]]:
        """Run each target partition's writer until it is done (the state machine's loop)."""
        answers = {}
        for target in targets:
            answer = self.step("write", runId=request["runId"], request=request, targetPartition=target)
            while not answer["done"]:
                answer = self.step("write", runId=request["runId"], request=request, targetPartition=target)
            answers[target] = answer
        return answers

    def replay(self, request: dict[str, Any]) -> dict[str, Any]:
        """Plan, preflight, write and verify: the state machine's path; the outputs."""
        plan = self.world.plan(request)
        run = {"runId": request["runId"], "request": request}
        preflight = self.step("preflight", **run)
        writes = {} if request.get("dryRun") else self.write_all(request, preflight["targetPartitions"])
        verify = self.step("verify", dryRun=bool(request.get("dryRun")), **run)
        return {"plan": plan, "preflight": preflight, "writes": writes, "verify": verify}

    def run_file(self, run_id: str, name: str) -> Any:
        """A JSON file of the run (report.json, plan.json, checkpoints/0.json...)."""
        body = self.world.s3.get_object(Bucket=REPLAY_BUCKET, Key=f"runs/{run_id}/{name}")["Body"].read()
        return json.loads(body) if name.endswith(".json") else body.decode("utf-8")

    def read(self, topic: str, partition: int) -> list[KafkaRecord]:
        """Every record of the partition, read to its end (partition EOF: Tansu 0.6's ListOffsets is off)."""
        return [
            writing.as_record(message)
            for message in read_to_end(self.bootstrap, topic)
            if message.partition() == partition
        ]


@pytest.fixture(autouse=True)
def _fresh_kafka_clients() -> Iterator[None]:
    """Each test's handler builds its own Kafka clients, as a new container would; none outlive the test."""
    yield
    writing.producer.cache_clear()
    preflight.admin_client.cache_clear()


@pytest.fixture
def kafka_replay(world: ReplayWorld, kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch) -> KafkaReplay:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
    return KafkaReplay(world, kafka_bootstrap)


def content(record: KafkaRecord) -> tuple[Any, ...]:
    """What a replay keeps of a record: key, value, headers and timestamp."""
    return record.key, record.value, record.headers, record.timestamp
