"""The replay request: defaults, `from`/`to` parsing, and a clear error naming the field for bad input."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from replay_request import MAX_REQUEST_BYTES, PartitionMode, ReplayRequestError, parse_request
from replay_settings import ReplaySettings

VALID: dict[str, Any] = {"runId": "restore-1", "from": 1_795_000_000_000, "to": 1_795_003_600_000}


def test_defaults_fill_in_from_the_settings_topic() -> None:
    request = parse_request(VALID, default_topic="orders")
    assert request.topic == "orders"
    assert request.destination_topic == "orders"
    assert request.partition_mode is PartitionMode.PRESERVE
    assert (request.dry_run, request.max_concurrency, request.arrival_margin_hours) == (False, 4, 24)
    assert request.partitions is None
    assert request.key_filter() is None
    assert request.includes_partition(7)


def test_iso_and_epoch_millis_mean_the_same_instant() -> None:
    iso = parse_request(
        VALID | {"from": "2026-11-17T08:26:40Z", "to": "2026-11-17T10:26:40.5+01:00"}, default_topic="t"
    )
    assert (iso.start_ms, iso.end_ms) == (1_794_904_000_000, 1_794_907_600_500)
    digits = parse_request(VALID | {"from": "1794904000000"}, default_topic="t")
    assert digits.start_ms == 1_794_904_000_000


def test_the_validated_request_round_trips_through_its_json() -> None:
    request = parse_request(
        VALID | {"from": "2026-11-17T08:26:40Z", "targetTopic": "orders-copy", "partitions": [2, 0, 2]},
        default_topic="orders",
    )
    again = parse_request(request.to_json())
    assert again == request
    assert again.to_json()["from"] == 1_794_904_000_000
    assert again.partitions == [0, 2]
    assert again.destination_topic == "orders-copy"


def test_keys_as_text_and_base64_together() -> None:
    request = parse_request(VALID | {"keys": ["customer-4", ""], "keysBase64": ["/wA="]}, default_topic="t")
    assert request.key_filter() == frozenset({b"customer-4", b"", b"\xff\x00"})


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"runId": "has space"}, "runId"),
        ({"runId": "x" * 65}, "runId"),
        ({"from": "yesterday"}, "from"),
        ({"to": "2026-11-17T08:26:40"}, "to"),
        ({"from": 1_795_003_600_000}, "from"),
        ({"from": True}, "from"),
        ({"maxConcurrency": 0}, "maxConcurrency"),
        ({"maxConcurrency": 41}, "maxConcurrency"),
        ({"arrivalMarginHours": 169}, "arrivalMarginHours"),
        ({"partitions": [-1]}, "partitions"),
        ({"partitionMode": "roundRobin"}, "partitionMode"),
        ({"recordsPerSecond": 0}, "recordsPerSecond"),
        ({"keysBase64": ["not base64!"]}, "keysBase64"),
        ({"groupOffsets": {"billing": {"zero": 5}}}, "groupOffsets"),
        ({"groupOffsets": {"billing": {"0": -5}}}, "groupOffsets"),
        ({"targetTopic": "bad/topic"}, "targetTopic"),
        ({"dryRun": "yes"}, "dryRun"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_input_names_the_field(change: dict[str, Any], named: str) -> None:
    with pytest.raises(ReplayRequestError, match=named):
        parse_request(VALID | change, default_topic="orders")


def test_a_missing_field_is_named() -> None:
    with pytest.raises(ReplayRequestError, match="runId"):
        parse_request({"from": 1, "to": 2}, default_topic="orders")


def test_no_topic_anywhere_is_an_error() -> None:
    with pytest.raises(ReplayRequestError, match="sourceTopic"):
        parse_request(VALID, default_topic="")


def test_not_an_object() -> None:
    with pytest.raises(ReplayRequestError, match="JSON object"):
        parse_request(["runId"], default_topic="orders")


def test_a_request_too_large_for_step_functions_states_is_refused() -> None:
    keys = [f"device-{index:06d}" for index in range(MAX_REQUEST_BYTES // 16)]
    fits = parse_request(VALID | {"keys": keys[: len(keys) // 2]}, default_topic="orders")
    assert fits.key_filter() is not None

    with pytest.raises(ReplayRequestError, match=f"more than {MAX_REQUEST_BYTES}"):
        parse_request(VALID | {"keys": keys}, default_topic="orders")


def test_settings_cap_the_requested_rates() -> None:
    settings = ReplaySettings(
        archive_bucket_name="a",
        replay_bucket_name="r",
        kafka_bootstrap_servers="localhost:9092",
        replay_max_records_per_second=1000,
    )
    assert settings.records_per_second(None) == 1000
    assert settings.records_per_second(50) == 50
    assert settings.records_per_second(5000) == 1000
    assert settings.bytes_per_second(None) is None
    assert settings.bytes_per_second(10) == 10


def test_source_cluster_defaults_to_the_target() -> None:
    target = ReplaySettings(archive_bucket_name="a", replay_bucket_name="r", kafka_bootstrap_servers="t:9092")
    assert target.source_cluster() is target
    source = msgspec.structs.replace(target, source_bootstrap_servers="s:9092").source_cluster()
    assert (source.kafka_bootstrap_servers, source.cluster_arn) == ("s:9092", None)
