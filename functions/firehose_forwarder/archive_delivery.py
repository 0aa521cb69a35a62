"""Every Kafka record of an MSK batch to the S3 archive, through Kinesis Data Firehose, losing none.

- One archive line per record (streaming_common.kafka_codec, fixed format).
- Lines over Firehose's 1,000 KiB record limit go whole to the archive bucket under `oversize/`.
- The others go out in as few PutRecordBatch calls as possible (at most 500 records and 4 MiB each).
- Entries Firehose did not take (per-entry errors, throttled, failed or timed-out calls) are sent again,
  alone, with exponential backoff and full jitter, for as long as the invocation has time.
- Time is one notion, `TimeLeft`, made once per invocation from Lambda's remaining time: a call (to
  Firehose or S3) is started only when its longest answer still leaves the invocation time to reply.
- Whatever is still undelivered is returned in batchItemFailures, so Lambda retries exactly those records.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError

from streaming_common.aws_clients import client
from streaming_common.batch_response import kafka_batch_item_failures, settle
from streaming_common.kafka_codec import decode_event_record, to_archive_line
from streaming_common.observability import logger, metrics
from streaming_common.settings import KafkaEventSourceSettings

MAX_BATCH_RECORDS = 500
MAX_BATCH_BYTES = 4 * 1024 * 1024
MAX_RECORD_BYTES = 1000 * 1024
CONNECT_TIMEOUT_SECONDS = 2.0
READ_TIMEOUT_SECONDS = 10.0
# A call is only started when the invocation can wait for its longest answer and still reply.
CALL_BUDGET_SECONDS = CONNECT_TIMEOUT_SECONDS + READ_TIMEOUT_SECONDS
BACKOFF_BASE_SECONDS = 0.1
BACKOFF_CAP_SECONDS = 5.0
# Call errors that sending again cannot fix: stop retrying at once and hand the records back to Lambda.
PERMANENT_CALL_ERRORS = frozenset(
    {
        "ResourceNotFoundException",
        "AccessDeniedException",
        "InvalidArgumentException",
        "InvalidKMSResourceException",
        "ValidationException",
        "UnrecognizedClientException",
    }
)


class ForwarderSettings(KafkaEventSourceSettings, frozen=True, kw_only=True):
    """DELIVERY_STREAM_NAME and ARCHIVE_BUCKET_NAME (for lines over the Firehose record limit)."""

    delivery_stream_name: str
    archive_bucket_name: str
    oversize_prefix: str = "oversize/"
    reply_reserve_seconds: float = 2.0


@dataclass(slots=True)
class ArchiveEntry:
    """One record's archive line and the position that identifies the record to Lambda."""

    partition_id: str
    offset: int
    line: bytes


@dataclass
class DeliveryReport:
    """What one invocation did with its records."""

    delivered: int = 0
    oversize: int = 0
    calls: int = 0
    resent_entries: int = 0
    line_bytes: int = 0
    undelivered: list[tuple[str, int]] = field(default_factory=list)


class TimeLeft:
    """The time this invocation has left before it must reply, running down on a monotonic clock.

    Made once per invocation (`of_invocation`) and passed down; the backoff waits spend it too, which is
    why it also does the waiting (tests give it a fake clock and sleep).
    """

    def __init__(
        self,
        seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._reply_by = clock() + seconds

    @classmethod
    def of_invocation(cls, context: Any, reply_reserve_seconds: float) -> TimeLeft:
        """Lambda's remaining time for `context`'s invocation, less the reserve to reply."""
        return cls(context.get_remaining_time_in_millis() / 1000 - reply_reserve_seconds)

    def allows_call(self, after: float = 0.0) -> bool:
        """Whether a call started `after` seconds from now would answer, even at its slowest
        (CALL_BUDGET_SECONDS), before the invocation must reply."""
        return self._clock() + after + CALL_BUDGET_SECONDS <= self._reply_by

    def wait(self, seconds: float) -> None:
        """Spend `seconds` of the time left (the backoff before sending again)."""
        self._sleep(seconds)


def plan_batches(entries: Iterable[ArchiveEntry]) -> Iterator[list[ArchiveEntry]]:
    """Consecutive PutRecordBatch chunks within 500 records and 4 MiB: greedy packing, which gives the
    fewest chunks that keep the records in order."""
    batch: list[ArchiveEntry] = []
    size = 0
    for entry in entries:
        if batch and (len(batch) == MAX_BATCH_RECORDS or size + len(entry.line) > MAX_BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(entry)
        size += len(entry.line)
    if batch:
        yield batch


class FirehoseArchiver:
    """Sends archive lines to Firehose (and oversize ones to S3) until delivered or out of time."""

    def __init__(
        self,
        firehose: Any,
        s3: Any,
        settings: ForwarderSettings,
        *,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._firehose = firehose
        self._s3 = s3
        self._settings = settings
        self._jitter = jitter

    def forward(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        """Archive the event's records within the invocation's time; Lambda's partial batch response for
        the undelivered ones."""
        report = self.archive(event, TimeLeft.of_invocation(context, self._settings.reply_reserve_seconds))
        _emit_metrics(report)
        if report.undelivered:
            logger.warning("records returned to Lambda", extra={"count": len(report.undelivered)})
        return settle(
            kafka_batch_item_failures(report.undelivered),
            partial_batch_responses=self._settings.partial_batch_responses,
        )

    def archive(self, event: dict[str, Any], time_left: TimeLeft) -> DeliveryReport:
        """Archive every record of the MSK event; the report lists the ones not delivered."""
        report = DeliveryReport()
        entries: list[ArchiveEntry] = []
        for records in event.get("records", {}).values():
            for raw in records:
                try:
                    record = decode_event_record(raw)
                    line = to_archive_line(record)
                except Exception:  # a record we cannot even read goes back to Lambda, never dropped
                    logger.exception("record cannot be archived", extra={"offset": raw.get("offset")})
                    report.undelivered.append(
                        (f"{raw.get('topic')}-{raw.get('partition')}", raw.get("offset", -1))
                    )
                    continue
                report.line_bytes += len(line)
                entry = ArchiveEntry(record.partition_id, record.offset, line)
                if len(line) > MAX_RECORD_BYTES:
                    self._store_oversize(entry, time_left, report)
                else:
                    entries.append(entry)
        undelivered = self._put_until_delivered(entries, time_left, report)
        report.delivered += len(entries) - len(undelivered)
        report.undelivered.extend((entry.partition_id, entry.offset) for entry in undelivered)
        return report

    def _store_oversize(self, entry: ArchiveEntry, time_left: TimeLeft, report: DeliveryReport) -> None:
        topic, _, partition = entry.partition_id.rpartition("-")
        key = f"{self._settings.oversize_prefix}{topic}/{partition}/{entry.offset}.json"
        if not time_left.allows_call():
            report.undelivered.append((entry.partition_id, entry.offset))
            return
        try:
            self._s3.put_object(
                Bucket=self._settings.archive_bucket_name,
                Key=key,
                Body=entry.line,
                ContentType="application/x-ndjson",
            )
        except (BotoCoreError, ClientError):
            logger.exception("oversize record not stored", extra={"key": key})
            report.undelivered.append((entry.partition_id, entry.offset))
            return
        report.oversize += 1

    def _put_until_delivered(
        self, entries: list[ArchiveEntry], time_left: TimeLeft, report: DeliveryReport
    ) -> list[ArchiveEntry]:
        """Send `entries`, then again the ones Firehose did not take, after a backoff, while the time left
        allows a call; return the entries still undelivered."""
        pending, final = self._put_round(entries, time_left, report)
        attempt = 0
        while pending and not final:
            attempt += 1
            delay = self._jitter() * min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**attempt)
            if not time_left.allows_call(after=delay):
                break
            report.resent_entries += len(pending)
            time_left.wait(delay)
            pending, final = self._put_round(pending, time_left, report)
        return pending

    def _put_round(
        self, entries: list[ArchiveEntry], time_left: TimeLeft, report: DeliveryReport
    ) -> tuple[list[ArchiveEntry], bool]:
        """Send `entries` once, chunk by chunk, while the time left allows a call; return the entries not
        taken (or not sent), and whether this is final: a permanent error, or no time for another call."""
        not_taken: list[ArchiveEntry] = []
        permanent = False
        batches = list(plan_batches(entries))
        for index, batch in enumerate(batches):
            if not time_left.allows_call():
                unsent = [entry for rest in batches[index:] for entry in rest]
                logger.warning("out of time, returning records to Lambda", extra={"unsent": len(unsent)})
                return not_taken + unsent, True
            failed, permanent_error = self._put_batch(batch, report)
            not_taken.extend(failed)
            permanent = permanent or permanent_error
        return not_taken, permanent

    def _put_batch(
        self, batch: list[ArchiveEntry], report: DeliveryReport
    ) -> tuple[list[ArchiveEntry], bool]:
        """Send one chunk; return the entries Firehose did not take, and whether retrying is pointless."""
        report.calls += 1
        try:
            answer = self._firehose.put_record_batch(
                DeliveryStreamName=self._settings.delivery_stream_name,
                Records=[{"Data": entry.line} for entry in batch],
            )
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            logger.warning("PutRecordBatch failed", extra={"error_code": code, "records": len(batch)})
            return batch, code in PERMANENT_CALL_ERRORS
        except BotoCoreError as error:  # timeouts and connection errors: the records may or may not be in
            logger.warning(
                "PutRecordBatch did not answer", extra={"error": repr(error), "records": len(batch)}
            )
            return batch, False
        if not answer.get("FailedPutCount"):
            return [], False
        results = answer["RequestResponses"]
        return [entry for entry, result in zip(batch, results, strict=True) if "ErrorCode" in result], False


@cache
def archiver(settings: ForwarderSettings) -> FirehoseArchiver:
    """The archiver of this container, with its clients, created on first use."""
    firehose = client(
        "firehose", max_attempts=1, connect_timeout=CONNECT_TIMEOUT_SECONDS, read_timeout=READ_TIMEOUT_SECONDS
    )
    return FirehoseArchiver(firehose, client("s3"), settings)


def forward(event: dict[str, Any], context: Any, settings: ForwarderSettings) -> dict[str, Any]:
    """Archive the event's records with this container's archiver; Lambda's partial batch response."""
    return archiver(settings).forward(event, context)


def _emit_metrics(report: DeliveryReport) -> None:
    metrics.add_metric(
        name="RecordsArchived", unit=MetricUnit.Count, value=report.delivered + report.oversize
    )
    metrics.add_metric(name="RecordsOversize", unit=MetricUnit.Count, value=report.oversize)
    metrics.add_metric(name="RecordsUndelivered", unit=MetricUnit.Count, value=len(report.undelivered))
    metrics.add_metric(name="PutRecordBatchCalls", unit=MetricUnit.Count, value=report.calls)
    metrics.add_metric(name="EntriesResent", unit=MetricUnit.Count, value=report.resent_entries)
    metrics.add_metric(name="ArchiveBytes", unit=MetricUnit.Bytes, value=report.line_bytes)
