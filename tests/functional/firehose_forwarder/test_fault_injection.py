"""Fault injection: Firehose throttles calls, fails a random share of entries, and times out (sometimes
after it has written the records). Whatever happens, every record ends up either archived or returned to
Lambda in batchItemFailures; replaying what Lambda would retry then archives everything."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

from archive_delivery import READ_TIMEOUT_SECONDS, FirehoseArchiver, ForwarderSettings, TimeLeft
from local.kafka_events import build_event
from streaming_common.kafka_codec import KafkaRecord, from_archive_line
from tests.functional.firehose_forwarder.conftest import BUCKET, STREAM, Archive

RUNS = 25


class FakeClock:
    """Monotonic time that only moves when the code under test sleeps or Firehose answers."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class FaultyFirehose:
    """Moto's Firehose behind a network and a service that misbehave at the given rates."""

    real: Any
    rng: random.Random
    clock: FakeClock
    throttle_rate: float
    timeout_rate: float
    entry_failure_rate: float
    calls: int = 0
    faults: dict[str, int] = field(
        default_factory=lambda: {"throttled": 0, "timeouts": 0, "entries_failed": 0}
    )

    def put_record_batch(self, DeliveryStreamName: str, Records: list[dict[str, bytes]]) -> dict[str, Any]:  # noqa: N803
        self.calls += 1
        self.clock.sleep(0.05)
        roll = self.rng.random()
        if roll < self.throttle_rate:
            self.faults["throttled"] += 1
            raise ClientError(
                {"Error": {"Code": "ServiceUnavailableException", "Message": "Slow down."}}, "PutRecordBatch"
            )
        if roll < self.throttle_rate + self.timeout_rate:
            self.faults["timeouts"] += 1
            if self.rng.random() < 0.5:  # written, but the answer is lost: a duplicate will follow
                self.real.put_record_batch(DeliveryStreamName=DeliveryStreamName, Records=Records)
            self.clock.sleep(READ_TIMEOUT_SECONDS)
            raise ReadTimeoutError(endpoint_url="https://firehose.us-east-1.amazonaws.com")
        taken = [self.rng.random() >= self.entry_failure_rate for _ in Records]
        if any(taken):
            self.real.put_record_batch(
                DeliveryStreamName=DeliveryStreamName,
                Records=[r for r, ok in zip(Records, taken, strict=True) if ok],
            )
        self.faults["entries_failed"] += taken.count(False)
        return {
            "FailedPutCount": taken.count(False),
            "RequestResponses": [
                {"RecordId": str(uuid.uuid4())}
                if ok
                else {"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "Slow down."}
                for ok in taken
            ],
        }


def _event(rng: random.Random, run: int) -> tuple[dict[str, Any], set[tuple[str, int]]]:
    records = []
    for offset in range(rng.randint(200, 1800)):
        size = rng.choice([200, 1024, 4096, 1024 * 100])
        records.append(
            KafkaRecord(
                f"run-{run}",
                offset % 3,
                offset,
                1_795_000_000_000 + offset,
                key=f"k{offset}".encode(),
                value=b'{"pad":"' + b"x" * size + b'"}',
            )
        )
    event = build_event(records, event_source_arn="arn", bootstrap_servers="b")
    return event, {(r.partition_id, r.offset) for r in records}


def _retry_event(event: dict[str, Any], failures: list[dict[str, Any]]) -> dict[str, Any]:
    """The records Lambda would send again: exactly those reported failed."""
    failed = {(f["itemIdentifier"]["partition"], f["itemIdentifier"]["offset"]) for f in failures}
    return {
        **event,
        "records": {
            partition: [r for r in records if (partition, r["offset"]) in failed]
            for partition, records in event["records"].items()
            if any((partition, r["offset"]) in failed for r in records)
        },
    }


@pytest.mark.parametrize("run", range(RUNS))
def test_no_record_is_ever_lost(run: int, archive: Archive) -> None:
    rng = random.Random(run)
    clock = FakeClock()
    firehose = FaultyFirehose(
        archive.firehose,
        rng,
        clock,
        throttle_rate=rng.uniform(0, 0.3),
        timeout_rate=rng.uniform(0, 0.15),
        entry_failure_rate=rng.uniform(0, 0.5),
    )
    settings = ForwarderSettings(delivery_stream_name=STREAM, archive_bucket_name=BUCKET)
    archiver = FirehoseArchiver(firehose, archive.s3, settings, jitter=rng.random)
    event, expected = _event(rng, run)
    timeout_ms = rng.choice([15_000, 30_000, 60_000, 120_000])

    def invocation_time() -> TimeLeft:
        """What TimeLeft.of_invocation gives a `timeout_ms` invocation, on the fake clock."""
        return TimeLeft(timeout_ms / 1000 - settings.reply_reserve_seconds, clock=clock, sleep=clock.sleep)

    # First invocation: everything is archived or returned to Lambda
    report = archiver.archive(event, invocation_time())
    archived = {(f"run-{run}-{r.partition}", r.offset) for r in map(from_archive_line, archive.lines(""))}
    returned = set(report.undelivered)
    assert expected - archived - returned == set(), "records neither archived nor returned"
    first_returned = len(returned)

    # Lambda retries exactly the returned records until none is left (bounded)
    invocations = 1
    pending = event
    failures = [{"itemIdentifier": {"partition": p, "offset": o}} for p, o in report.undelivered]
    while failures and invocations < 20:
        pending = _retry_event(pending, failures)
        report = archiver.archive(pending, invocation_time())
        failures = [{"itemIdentifier": {"partition": p, "offset": o}} for p, o in report.undelivered]
        invocations += 1
    lines = archive.lines("")
    archived = {(f"run-{run}-{r.partition}", r.offset) for r in map(from_archive_line, lines)}
    assert archived == expected, "every record archived once Lambda's retries are done"
    assert sum(firehose.faults.values()) > 0, "a run without a fault proves nothing"

    figures = {
        "records": len(expected),
        "returned_first_invocation": first_returned,
        "invocations": invocations,
        "duplicates": len(lines) - len(expected),
        "calls": firehose.calls,
        **firehose.faults,
    }
    print(f"fault injection run {run}:", " ".join(f"{k}={v}" for k, v in figures.items()))  # pytest -s
