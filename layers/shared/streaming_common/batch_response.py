"""Lambda's partial batch response for Kafka event sources, for functions that settle records in bulk.

The same shape Powertools' BatchProcessor(EventType.Kafka) returns (tests check that they agree).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def kafka_batch_item_failures(failed: Iterable[tuple[str, int]]) -> dict[str, list[dict[str, Any]]]:
    """`{"batchItemFailures": [...]}` for (`"<topic>-<partition>"`, offset) pairs, in the order given."""
    return {
        "batchItemFailures": [
            {"itemIdentifier": {"partition": partition, "offset": offset}} for partition, offset in failed
        ]
    }
