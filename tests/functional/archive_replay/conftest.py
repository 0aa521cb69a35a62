"""An archive written by the real forwarder (functions/firehose_forwarder) through moto's Firehose into the
template's delivery stream and bucket (nested/firehose-delivery.yaml, created by local.aws), and the replay
function's handler pointed at it and at a replay bucket.

moto's server expands the stream's `!{timestamp:...}` prefix at the arrival time, as Firehose does
(local.aws), so objects land under `data/year=/month=/day=/hour=/` of the hour the test runs in; records
carry timestamps hours before that, as a late archive would. moto ignores CompressionFormat: `archive()`
gzips the objects Firehose delivered, as Firehose does with GZIP (the template's default), unless told not to.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from archive_delivery import FirehoseArchiver, ForwarderSettings, TimeLeft
from local import aws
from local.functions import REPO, load_handler
from local.kafka_events import build_event
from replay_manifest import PlannedRecord, read_manifest
from streaming_common.kafka_codec import KafkaRecord
from tests.conftest import FakeLambdaContext

REPLAY_BUCKET = "local-replaybucket"
TOPIC = "orders"


@dataclass
class ReplayWorld:
    """The archive, the replay bucket and the replay handler."""

    s3: Any
    archive_bucket: str
    archiver: FirehoseArchiver
    handler: Any

    def keys(self, prefix: str, bucket: str | None = None) -> list[str]:
        """Every key under `prefix` (of the archive bucket unless `bucket`)."""
        paginator = self.s3.get_paginator("list_objects_v2")
        pages = paginator.paginate(Bucket=bucket or self.archive_bucket, Prefix=prefix)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def archive(self, records: Iterable[KafkaRecord], *, compress: bool = True) -> list[str]:
        """Archive `records` with the forwarder (one MSK batch); the keys of the objects Firehose wrote."""
        before = set(self.keys("data/"))
        event = build_event(records, event_source_arn="arn:aws:kafka:local", bootstrap_servers="local:9092")
        report = self.archiver.archive(event, TimeLeft(60))
        assert report.undelivered == []
        written = [key for key in self.keys("data/") if key not in before]
        if compress:
            for key in written:
                body = self.s3.get_object(Bucket=self.archive_bucket, Key=key)["Body"].read()
                self.s3.put_object(Bucket=self.archive_bucket, Key=key, Body=gzip.compress(body))
        return written

    def put_object(self, key: str, lines: Iterable[bytes], *, compress: bool = False) -> None:
        """An archive object written by hand (old lines, conflicting lines, lines that are not JSON)."""
        body = b"".join(line if line.endswith(b"\n") else line + b"\n" for line in lines)
        self.s3.put_object(
            Bucket=self.archive_bucket, Key=key, Body=gzip.compress(body) if compress else body
        )

    def step(self, name: str, **fields: Any) -> Any:
        """Invoke the replay handler for one step."""
        return self.handler.lambda_handler({"step": name, **fields}, FakeLambdaContext())

    def plan(self, request: dict[str, Any]) -> dict[str, Any]:
        """The plan steps in the state machine's order: scope, scan each listed object (the Distributed Map),
        partitions, merge each; the outputs."""
        scope = self.step("scope", request=request)
        result: dict[str, Any] = {"scope": scope, "scans": [], "partitions": [], "summaries": {}}
        if scope["alreadyComplete"]:
            return result
        body = self.s3.get_object(Bucket=scope["bucket"], Key=scope["objectsKey"])["Body"].read()
        items = json.loads(body)
        run = {"runId": scope["runId"], "request": scope["request"]}
        result["scans"] = [self.step("scan", object=item, **run) for item in items]
        result["partitions"] = self.step("partitions", **run)["partitions"]
        for partition in result["partitions"]:
            result["summaries"][partition] = self.step("merge", partition=partition, **run)
        return result

    def manifest(self, run_id: str, partition: int) -> list[PlannedRecord]:
        """A manifest's records."""
        return list(read_manifest(REPLAY_BUCKET, f"runs/{run_id}/manifests/{partition}.msgpack"))


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[ReplayWorld]:
    with aws.running_moto() as endpoint:
        names = aws.create_template_resources(
            endpoint, REPO / "nested" / "firehose-delivery.yaml", monitoring=False
        )
        for name, value in aws.environment(endpoint).items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("ARCHIVE_BUCKET_NAME", names["ArchiveBucket"])
        monkeypatch.setenv("REPLAY_BUCKET_NAME", REPLAY_BUCKET)
        monkeypatch.setenv("SOURCE_TOPIC", TOPIC)
        monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "localhost:9092")  # the plan steps never connect
        monkeypatch.setenv("KAFKA_AUTH", "PLAINTEXT")
        s3 = aws.client("s3", endpoint)
        s3.create_bucket(Bucket=REPLAY_BUCKET)
        settings = ForwarderSettings(
            delivery_stream_name=names["DeliveryStream"], archive_bucket_name=names["ArchiveBucket"]
        )
        archiver = FirehoseArchiver(aws.client("firehose", endpoint), s3, settings)
        yield ReplayWorld(s3, names["ArchiveBucket"], archiver, load_handler("archive_replay"))
