"""Lambda's partial batch response for Kafka event sources, and how a function settles a batch with it.

The response has the shape Powertools' BatchProcessor(EventType.Kafka) returns (tests check that they
agree). It only protects records when the event source mapping has ReportBatchItemFailures, which Kafka
event source mappings offer in provisioned poller mode; without it Lambda ignores the list and takes the
whole batch as done. So a function deployed without it (PARTIAL_BATCH_RESPONSES=false, in
`KafkaEventSourceSettings`) must fail the invocation instead, and Lambda retries the whole batch.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class BatchNotSettledError(RuntimeError):
    """Some records failed and the event source mapping cannot take a partial answer: retry the batch."""


def kafka_batch_item_failures(failed: Iterable[tuple[str, int]]) -> dict[str, list[dict[str, Any]]]:
    """`{"batchItemFailures": [...]}` for (`"<topic>-<partition>"`, offset) pairs, in the order given."""
    return {
        "batchItemFailures": [
            {"itemIdentifier": {"partition": partition, "offset": offset}} for partition, offset in failed
        ]
    }


def settle(response: dict[str, Any], *, partial_batch_responses: bool) -> dict[str, Any]:
    """Return `response` to Lambda, or raise when records failed and the event source mapping does not
    honour partial answers (`partial_batch_responses` false)."""
    failures = response.get("batchItemFailures") or []
    if failures and not partial_batch_responses:
        raise BatchNotSettledError(
            f"{len(failures)} records failed and the event source mapping does not report batch item "
            "failures (on-demand poller mode): failing the invocation so Lambda retries the whole batch"
        )
    return response
