"""Lambda's partial batch response for Kafka event sources, and how a function settles a batch with it.

The response has the shape Powertools' BatchProcessor(EventType.Kafka) returns (tests check that they
agree). It only protects records when the event source mapping has ReportBatchItemFailures, which Kafka
event source mappings offer in provisioned poller mode; without it Lambda ignores the list and takes the
whole batch as done. So a function deployed without it (PARTIAL_BATCH_RESPONSES=false) must fail the
invocation instead, and Lambda retries the whole batch.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from streaming_common.settings import FunctionSettings, load_settings


class BatchNotSettledError(RuntimeError):
    """Some records failed and the event source mapping cannot take a partial answer: retry the batch."""


class BatchResponseSettings(FunctionSettings):
    """PARTIAL_BATCH_RESPONSES: whether the event source mapping reports batch item failures."""

    partial_batch_responses: bool = True


def kafka_batch_item_failures(failed: Iterable[tuple[str, int]]) -> dict[str, list[dict[str, Any]]]:
    """`{"batchItemFailures": [...]}` for (`"<topic>-<partition>"`, offset) pairs, in the order given."""
    return {
        "batchItemFailures": [
            {"itemIdentifier": {"partition": partition, "offset": offset}} for partition, offset in failed
        ]
    }


def settle(response: dict[str, Any]) -> dict[str, Any]:
    """Return `response` to Lambda, or raise when records failed and partial answers are not honoured."""
    failures = response.get("batchItemFailures") or []
    if failures and not load_settings(BatchResponseSettings).partial_batch_responses:
        raise BatchNotSettledError(
            f"{len(failures)} records failed and the event source mapping does not report batch item "
            "failures (on-demand poller mode): failing the invocation so Lambda retries the whole batch"
        )
    return response
