"""An MSK event source mapping on one machine: a consumer group that hands the real handler batches shaped
exactly like Lambda's, and settles them the way the template configures it.

- Batches of at most `batch_size` records, gathered for at most `batching_window_seconds`.
- With ReportBatchItemFailures, only the records the handler lists are retried; a handler error fails the
  whole batch, which is split in halves when BisectBatchOnFunctionError is on.
- After `max_retry_attempts` retries (or past `max_record_age_seconds`) failed records go to the on-failure
  destination, as one invocation record holding them (what Lambda writes to an S3 destination).
- Offsets are committed only once every record of a batch is settled (processed or sent to the
  destination): a crash loses nothing and repeats only the uncommitted records.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from local.cfn import evaluate_conditions, parameter_values, references, resolve_value
from local.functions import LOCAL_CLUSTER_ARN, LOCAL_PARAMETERS, FunctionSpec, load_template
from local.kafka_events import build_event
from local.lambda_context import LocalLambdaContext
from streaming_common.kafka_codec import KafkaRecord

Handler = Callable[[dict[str, Any], Any], Any]
Destination = Callable[[dict[str, Any]], None]


def mapping_properties(template: dict[str, Any], function: str) -> dict[str, Any] | None:
    """The properties of the template's MSK event source mapping that invokes `function` (a logical ID): an
    `AWS::Lambda::EventSourceMapping` whose FunctionName names it (in any Fn::If branch), or the function's
    own SAM `MSK` event."""
    for resource in template.get("Resources", {}).values():
        properties = resource.get("Properties", {})
        if resource.get("Type") == "AWS::Lambda::EventSourceMapping" and (function, None) in references(
            properties.get("FunctionName")
        ):
            return dict(properties)
    events = template.get("Resources", {}).get(function, {}).get("Properties", {}).get("Events", {})
    return next((dict(e["Properties"]) for e in events.values() if e["Type"] == "MSK"), None)


@dataclass(frozen=True)
class MappingConfig:
    """The event source mapping's settings (from the template's MSK event and its parameter defaults)."""

    function: str
    topic: str
    consumer_group: str
    batch_size: int = 100
    batching_window_seconds: float = 1.0
    starting_position: str = "TRIM_HORIZON"
    report_batch_item_failures: bool = True
    bisect_on_error: bool = True
    max_retry_attempts: int = 5
    max_record_age_seconds: int = -1
    timeout_seconds: int = 60

    @classmethod
    def from_template(cls, spec: FunctionSpec, topic: str) -> MappingConfig:
        """Read the function's MSK event source mapping from its template, with the parameters' defaults."""
        template = load_template(spec.template)
        params = parameter_values(
            template, {k: v for k, v in LOCAL_PARAMETERS.items() if k in template.get("Parameters", {})}
        )
        conditions = evaluate_conditions(template, params)
        event = mapping_properties(template, spec.logical_id)
        if event is None:
            raise ValueError(f"no MSK event source mapping invokes {spec.logical_id} in {spec.template.name}")

        def value(name: str, default: Any) -> Any:
            resolved = resolve_value(event[name], params, conditions) if name in event else None
            return default if resolved is None else resolved

        return cls(
            function=spec.name,
            topic=topic,
            consumer_group=f"local-{spec.name}",
            batch_size=int(value("BatchSize", 100)),
            batching_window_seconds=float(value("MaximumBatchingWindowInSeconds", 1)),
            starting_position=str(value("StartingPosition", "TRIM_HORIZON")),
            report_batch_item_failures="ReportBatchItemFailures"
            in (value("FunctionResponseTypes", []) or []),
            bisect_on_error=bool(value("BisectBatchOnFunctionError", False)),
            max_retry_attempts=int(value("MaximumRetryAttempts", -1)),
            max_record_age_seconds=int(value("MaximumRecordAgeInSeconds", -1)),
            timeout_seconds=spec.timeout_seconds,
        )


@dataclass
class MappingStats:
    """What the mapping did, for reports and tests."""

    invocations: int = 0
    records_delivered: int = 0
    records_succeeded: int = 0
    records_to_destination: int = 0
    batches_committed: int = 0
    succeeded: list[tuple[str, int]] = field(default_factory=list)


class EventSourceMapping:
    """Polls the topic with a consumer group and invokes `handler` as Lambda would."""

    def __init__(
        self,
        config: MappingConfig,
        bootstrap_servers: str,
        handler: Handler,
        destination: Destination | None = None,
    ) -> None:
        self.config = config
        self.handler = handler
        self.destination = destination
        self.bootstrap_servers = bootstrap_servers
        self.stats = MappingStats()
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap_servers,
                "group.id": config.consumer_group,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest" if config.starting_position == "TRIM_HORIZON" else "latest",
                # Measured against Tansu: a group join takes 23 s with librdkafka's defaults, 3 s with these.
                # A local batch is settled well within the 30 s poll interval.
                "session.timeout.ms": 6000,
                "heartbeat.interval.ms": 500,
                "max.poll.interval.ms": 30000,
            }
        )
        self._consumer.subscribe([config.topic])
        self._pending: list[Any] = []  # messages fetched while waiting for the assignment

    def close(self) -> None:
        """Leave the consumer group."""
        self._consumer.close()

    def wait_for_assignment(self, timeout_seconds: float = 60) -> None:
        """Block until the consumer group has given this mapping its partitions (a join takes seconds)."""
        deadline = time.monotonic() + timeout_seconds
        while not self._consumer.assignment():
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"no partitions of {self.config.topic} assigned within {timeout_seconds} s"
                )
            self._pending.extend(
                m for m in self._consumer.consume(self.config.batch_size, timeout=0.5) if not m.error()
            )

    def poll_batch(self) -> list[KafkaRecord]:
        """The next batch: up to batch_size records within the batching window (empty when idle)."""
        records: list[KafkaRecord] = []
        deadline = time.monotonic() + self.config.batching_window_seconds
        while len(records) < self.config.batch_size:
            remaining = deadline - time.monotonic()
            if remaining <= 0 and records:
                break
            wanted = self.config.batch_size - len(records)
            if self._pending:
                messages, self._pending = self._pending[:wanted], self._pending[wanted:]
            else:
                messages = self._consumer.consume(wanted, timeout=max(remaining, 0.2))
            for message in messages:
                if message.error():
                    continue
                kind, timestamp = message.timestamp()
                records.append(
                    KafkaRecord(
                        message.topic() or "",
                        message.partition() or 0,
                        message.offset() or 0,
                        timestamp,
                        "LOG_APPEND_TIME" if kind == 2 else "CREATE_TIME",
                        message.key(),
                        message.value(),
                        tuple(
                            (k, v.encode() if isinstance(v, str) else v) for k, v in (message.headers() or [])
                        ),
                    )
                )
            if remaining <= 0:
                break
        return records

    def run_once(self) -> int:
        """Poll one batch, settle it and commit it; the number of records it held."""
        records = self.poll_batch()
        if not records:
            return 0
        self.stats.records_delivered += len(records)
        self._settle(records, attempts=0)
        self._commit(records)
        return len(records)

    def run_until_idle(self, idle_polls: int = 2, max_batches: int = 10_000) -> MappingStats:
        """Process batches until `idle_polls` polls in a row bring nothing."""
        self.wait_for_assignment()
        idle = 0
        for _ in range(max_batches):
            if self.run_once():
                idle = 0
            else:
                idle += 1
                if idle >= idle_polls:
                    break
        return self.stats

    def run_until_stopped(self, stop: threading.Event) -> MappingStats:
        """Process batches until `stop` is set, as Lambda's pollers run (`make local`); an idle poll returns
        within the batching window, so `stop` is seen within about a second."""
        while not stop.is_set():
            self.run_once()
        return self.stats

    def _invoke(self, records: list[KafkaRecord]) -> tuple[list[KafkaRecord], BaseException | None]:
        """Invoke the handler; the records that failed and, if it raised, the error."""
        event = build_event(
            records, event_source_arn=LOCAL_CLUSTER_ARN, bootstrap_servers=self.bootstrap_servers
        )
        self.stats.invocations += 1
        context = LocalLambdaContext(self.config.function, self.config.timeout_seconds * 1000)
        try:
            response = self.handler(event, context)
        except Exception as error:  # a function error fails the whole batch, as in Lambda
            return records, error
        if not self.config.report_batch_item_failures or not isinstance(response, dict):
            return [], None
        reported = {
            (f["itemIdentifier"]["partition"], int(f["itemIdentifier"]["offset"]))
            for f in response.get("batchItemFailures") or []
        }
        failed = [r for r in records if (r.partition_id, r.offset) in reported]
        return failed, None

    def _settle(self, records: list[KafkaRecord], attempts: int) -> None:
        failed, error = self._invoke(records)
        failed_ids = {(r.partition_id, r.offset) for r in failed}
        succeeded = [r for r in records if (r.partition_id, r.offset) not in failed_ids]
        self.stats.records_succeeded += len(succeeded)
        self.stats.succeeded.extend((r.partition_id, r.offset) for r in succeeded)
        if not failed:
            return
        if self._give_up(failed, attempts):
            self._to_destination(
                failed, "RetryAttemptsExhausted" if error is None else "FunctionError", attempts
            )
            return
        if error is not None and self.config.bisect_on_error and len(failed) > 1:
            middle = len(failed) // 2
            self._settle(failed[:middle], attempts + 1)
            self._settle(failed[middle:], attempts + 1)
        else:
            self._settle(failed, attempts + 1)

    def _give_up(self, failed: list[KafkaRecord], attempts: int) -> bool:
        if self.config.max_retry_attempts >= 0 and attempts >= self.config.max_retry_attempts:
            return True
        if self.config.max_record_age_seconds >= 0:
            oldest = min(r.timestamp for r in failed)
            return time.time() * 1000 - oldest > self.config.max_record_age_seconds * 1000
        return False

    def _to_destination(self, records: list[KafkaRecord], condition: str, attempts: int) -> None:
        self.stats.records_to_destination += len(records)
        if self.destination is None:
            return  # on-demand pollers have no destination: Lambda would retry until the records expire
        self.destination(
            {
                "requestContext": {
                    "requestId": str(uuid.uuid4()),
                    "functionArn": self.config.function,
                    "condition": condition,
                    "approximateInvokeCount": attempts + 1,
                },
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "KafkaBatchInfo": {
                    "batchSize": len(records),
                    "topic": self.config.topic,
                    "partitions": sorted({r.partition for r in records}),
                },
                "payload": build_event(
                    records, event_source_arn=LOCAL_CLUSTER_ARN, bootstrap_servers=self.bootstrap_servers
                ),
            }
        )

    def _commit(self, records: list[KafkaRecord]) -> None:
        next_offsets: dict[tuple[str, int], int] = {}
        for record in records:
            key = (record.topic, record.partition)
            next_offsets[key] = max(next_offsets.get(key, 0), record.offset + 1)
        self._consumer.commit(
            offsets=[TopicPartition(t, p, o) for (t, p), o in next_offsets.items()], asynchronous=False
        )
        self.stats.batches_committed += 1


def s3_destination(s3: Any, bucket: str, function: str) -> Destination:
    """An on-failure destination writing each invocation record to S3, as Lambda's S3 destination does."""

    def write(record: dict[str, Any]) -> None:
        key = (
            f"aws/lambda/{function}/{time.strftime('%Y/%m/%d')}/{record['requestContext']['requestId']}.json"
        )
        s3.put_object(
            Bucket=bucket, Key=key, Body=json.dumps(record).encode(), ContentType="application/json"
        )

    return write
