"""PutRecordBatch planning, the invocation's time left, and the partial batch response shape."""

from __future__ import annotations

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

from archive_delivery import (
    CALL_BUDGET_SECONDS,
    MAX_BATCH_BYTES,
    MAX_RECORD_BYTES,
    ArchiveEntry,
    TimeLeft,
    plan_batches,
)
from local.kafka_events import build_event
from streaming_common.batch_response import kafka_batch_item_failures
from streaming_common.kafka_codec import KafkaRecord


def _entries(sizes: list[int]) -> list[ArchiveEntry]:
    return [ArchiveEntry("t-0", offset, b"x" * size) for offset, size in enumerate(sizes)]


def test_at_most_500_records_a_call() -> None:
    batches = list(plan_batches(_entries([10] * 1201)))
    assert [len(b) for b in batches] == [500, 500, 201]


def test_at_most_4_mib_a_call_and_exactly_4_mib_fits() -> None:
    quarter = MAX_BATCH_BYTES // 4
    batches = list(plan_batches(_entries([quarter] * 4 + [1])))
    assert [sum(len(e.line) for e in b) for b in batches] == [MAX_BATCH_BYTES, 1]


def test_records_keep_their_order_and_none_is_lost() -> None:
    entries = _entries([MAX_RECORD_BYTES, 5, MAX_RECORD_BYTES, MAX_RECORD_BYTES, MAX_RECORD_BYTES, 7] * 3)
    batches = list(plan_batches(entries))
    assert [e for b in batches for e in b] == entries
    assert all(sum(len(e.line) for e in b) <= MAX_BATCH_BYTES and len(b) <= 500 for b in batches)


def test_empty_input_makes_no_call() -> None:
    assert list(plan_batches([])) == []


def test_a_call_starts_only_if_its_slowest_answer_leaves_time_to_reply() -> None:
    now = 50.0
    slept: list[float] = []
    # Given 3 seconds more than the slowest call takes
    time_left = TimeLeft(CALL_BUDGET_SECONDS + 3, clock=lambda: now, sleep=slept.append)
    assert time_left.allows_call()
    assert time_left.allows_call(after=3)
    assert not time_left.allows_call(after=3.001)
    # When 2.5 of them have passed
    now += 2.5
    assert time_left.allows_call(after=0.5)
    assert not time_left.allows_call(after=0.6)
    # And a backoff waits on the sleep it was given
    time_left.wait(0.25)
    assert slept == [0.25]


def test_the_invocations_time_left_is_lambdas_less_the_reply_reserve() -> None:
    class Context:
        def get_remaining_time_in_millis(self) -> int:
            return int((CALL_BUDGET_SECONDS + 5) * 1000)

    time_left = TimeLeft.of_invocation(Context(), reply_reserve_seconds=2)
    assert time_left.allows_call(after=2.9)
    assert not time_left.allows_call(after=3.1)


def test_response_matches_powertools_for_the_same_failures() -> None:
    records = [KafkaRecord("orders", p, o, 0, value=b"1") for p, o in [(0, 5), (0, 6), (2, 9)]]
    event = build_event(records, event_source_arn="arn", bootstrap_servers="b")

    def fail_some(record: object) -> None:
        if getattr(record, "offset", None) in (5, 9):
            raise ValueError("no")

    processor = BatchProcessor(event_type=EventType.Kafka)
    powertools = process_partial_response(event=event, record_handler=fail_some, processor=processor)
    assert kafka_batch_item_failures([("orders-0", 5), ("orders-2", 9)]) == powertools
