"""The committed sample events are what scripts/make_sample_events.py writes, and are Lambda-shaped."""

from __future__ import annotations

import json

import pytest

from local.kafka_events import iter_event_records
from scripts.make_sample_events import REPO, producer_events, small_events, token_events

MSK_EVENTS = small_events()
EVENTS = MSK_EVENTS | producer_events() | token_events()


@pytest.mark.parametrize("relative", sorted(EVENTS))
def test_committed_event_matches_the_generator(relative: str) -> None:
    committed = json.loads((REPO / "events" / relative).read_text())
    assert committed == EVENTS[relative]


@pytest.mark.parametrize("relative", sorted(MSK_EVENTS))
def test_event_has_lambdas_msk_shape(relative: str) -> None:
    event = MSK_EVENTS[relative]
    assert event["eventSource"] == "aws:kafka"
    assert event["eventSourceArn"].startswith("arn:aws:kafka:")
    for partition_id, records in event["records"].items():
        assert all(f"{r['topic']}-{r['partition']}" == partition_id for r in records)
    assert list(iter_event_records(event))


def test_the_samples_hold_every_case_the_issue_lists() -> None:
    records = [r for event in MSK_EVENTS.values() for r in iter_event_records(event)]
    assert any(r.value is None for r in records), "a tombstone"
    assert any(r.key is None for r in records), "a null key"
    assert any(r.headers for r in records), "headers"
    assert any(r.value and not r.value.isascii() and b"\x89PNG" in r.value for r in records), "a binary value"
    assert len({r.partition for r in records}) >= 3, "several partitions"
