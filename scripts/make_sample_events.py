"""Write the sample MSK events in events/ (Lambda's exact shape, built with the shared codec).

Usage: python scripts/make_sample_events.py [--large]
Small events are committed; --large also writes the ones near Lambda's 6 MB payload limit and the
oversize Firehose record, which are git-ignored (events/**/large-*.json).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from local.kafka_events import build_event
from local.rest_front import proxy_event
from streaming_common.kafka_codec import KafkaRecord

REPO = Path(__file__).resolve().parents[1]
TOPIC = "streaming-events"
CLUSTER_ARN = (
    "arn:aws:kafka:us-east-1:123456789012:cluster/streaming-1a2b3c4d/1a2b3c4d-0000-1111-2222-333344445555-3"
)
BOOTSTRAP = ",".join(f"b-{n}.streaming.abc123.c3.kafka.us-east-1.amazonaws.com:9098" for n in (1, 2))
BASE_TIMESTAMP = 1_795_000_000_000
LAMBDA_PAYLOAD_LIMIT = 6 * 1024 * 1024


def _event(records: list[KafkaRecord]) -> dict[str, Any]:
    return build_event(records, event_source_arn=CLUSTER_ARN, bootstrap_servers=BOOTSTRAP)


def _json(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def order(partition: int, offset: int, **fields: Any) -> KafkaRecord:
    """A JSON order event at a position of the sample topic."""
    defaults: dict[str, Any] = {
        "key": f"customer-{offset % 7}".encode(),
        "value": _json(
            {"orderId": f"o-{partition}-{offset}", "amount": round(offset * 1.25, 2), "currency": "EUR"}
        ),
        "headers": (("source", b"web"), ("trace-id", f"t-{partition}-{offset}".encode())),
    }
    merged = defaults | fields
    return KafkaRecord(TOPIC, partition, offset, BASE_TIMESTAMP + offset, "CREATE_TIME", **merged)


def small_events() -> dict[str, dict[str, Any]]:
    """Every committed sample event, by path under events/."""
    json_records = [order(p, o) for p in range(3) for o in range(100, 104)]
    json_records[1] = order(0, 101, key=None)  # a null key
    json_records[2] = order(0, 102, value=None)  # a tombstone
    json_records[5] = order(1, 101, headers=(("source", b"web"), ("source", b"retry")))  # a repeated header
    mixed = [
        order(0, 200),
        order(0, 201, value=None),
        order(0, 202, key=None),
        order(1, 200, value=b"\x89PNG\r\n\x1a\n\x00\x00binary"),
        order(1, 201, key=b"\xffnot-utf8", headers=(("signature", b"\x00\x9f\x92\x96"),)),
        order(2, 200, value=b'{"amount": 0.10000000000000001}'),
        order(2, 201, value=b"null"),
    ]
    rejected = [
        order(0, 300),
        order(0, 301, value=b'{"orderId": "o-0-301", "amount": '),  # truncated JSON: rejected
        order(0, 302),
        order(1, 300, value=b"\xc3\x28 not utf-8"),  # not JSON at all: rejected
        order(1, 301),
    ]
    return {
        "consumer/json-records.json": _event(json_records),
        "consumer/rejected-records.json": _event(rejected),
        "firehose_forwarder/mixed-records.json": _event(mixed),
        "firehose_forwarder/json-records.json": _event(json_records),
    }


def api_event(body: str, topic: str = TOPIC, scope: str = "records/write") -> dict[str, Any]:
    """An API Gateway REST proxy event (payload 1.0) for POST /topics/{topic}/records, as the Cognito
    authorizer passes it on (claims of a client-credentials access token)."""
    claims = {
        "sub": "4o1u0v5v1l3m9m0p3o8m6l3l8",
        "client_id": "4o1u0v5v1l3m9m0p3o8m6l3l8",
        "token_use": "access",
        "scope": scope,
        "iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example",
    }
    return proxy_event(
        f"/topics/{topic}/records",
        topic,
        body,
        claims,
        stage="prod",
        request_id="c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
        request_time_ms=BASE_TIMESTAMP,
        source_ip="203.0.113.10",
    )


def _records_body(records: list[dict[str, Any]]) -> str:
    return json.dumps({"records": records})


def producer_events() -> dict[str, dict[str, Any]]:
    """API Gateway events for the producer: a valid batch, each kind of invalid body, a forbidden topic."""
    valid: list[dict[str, Any]] = [
        {"key": "sensor-1", "value": {"temperature": 21.5, "unit": "C"}, "headers": {"source": "sensor"}},
        {"key": None, "value": [1, 2, 3]},
        {"key": "sensor-1", "value": None},
        {"value": "plain string value", "headers": {"trace-id": "t-1", "content-type": "text/plain"}},
    ]
    return {
        "producer/valid-batch.json": api_event(_records_body(valid)),
        "producer/invalid-not-json.json": api_event('{"records": [{"value": 1}'),
        "producer/invalid-no-records.json": api_event("{}"),
        "producer/invalid-empty-records.json": api_event(_records_body([])),
        "producer/invalid-too-many-records.json": api_event(
            _records_body([{"value": i} for i in range(501)])
        ),
        "producer/invalid-missing-value.json": api_event(_records_body([{"value": 1}, {"key": "k"}])),
        "producer/invalid-key-type.json": api_event(
            _records_body([{"value": 1}, {"value": 2}, {"key": 5, "value": 3}])
        ),
        "producer/invalid-header-value.json": api_event(_records_body([{"value": 1, "headers": {"n": 7}}])),
        "producer/invalid-unknown-field.json": api_event(_records_body([{"value": 1, "partition": 3}])),
        "producer/forbidden-topic.json": api_event(_records_body(valid), topic="internal-audit"),
    }


def token_events() -> dict[str, dict[str, Any]]:
    """Cognito pre token generation events (version 2) for a member of producers and for someone else."""

    def sign_in(groups: list[str]) -> dict[str, Any]:
        return {
            "version": "2",
            "triggerSource": "TokenGeneration_Authentication",
            "region": "us-east-1",
            "userPoolId": "us-east-1_Example",
            "userName": "alice",
            "callerContext": {"awsSdkVersion": "aws-sdk-unknown", "clientId": "4o1u0v5v1l3m9m0p3o8m6l3l8"},
            "request": {
                "userAttributes": {"sub": "a1b2c3", "email": "alice@example.com", "email_verified": "true"},
                "groupConfiguration": {
                    "groupsToOverride": groups,
                    "iamRolesToOverride": [],
                    "preferredRole": None,
                },
                "scopes": ["openid", "email"],
            },
            "response": {"claimsAndScopeOverrideDetails": None},
        }

    return {
        "token_scopes/producer-sign-in.json": sign_in(["producers"]),
        "token_scopes/reader-sign-in.json": sign_in(["readers"]),
    }


def near_limit_event(value_size: int = 1024, limit: int = LAMBDA_PAYLOAD_LIMIT) -> dict[str, Any]:
    """As many records with `value_size`-byte JSON values over 3 partitions as fit in `limit` bytes."""
    padding = "x" * (value_size - len(_json({"orderId": "o-0-000000", "amount": 0, "pad": ""})))
    records: list[KafkaRecord] = []
    size = len(json.dumps(_event([])))
    offset = 0
    while True:
        record = order(
            offset % 3, offset, value=_json({"orderId": f"o-0-{offset:06d}", "amount": 0, "pad": padding})
        )
        record_size = len(json.dumps(_event([record])["records"][record.partition_id][0])) + 2
        if size + record_size > limit:
            break
        records.append(record)
        size += record_size
        offset += 1
    return _event(records)


def oversize_event() -> dict[str, Any]:
    """One record whose archive line is over Firehose's 1,000 KiB record limit, between two normal ones."""
    big = _json({"orderId": "o-big", "blob": "y" * (1100 * 1024)})
    return _event([order(0, 400), order(0, 401, value=big), order(0, 402)])


def large_events() -> dict[str, dict[str, Any]]:
    """The git-ignored events: near the 6 MB limit, and a record over Firehose's record limit."""
    near = near_limit_event()
    return {
        "consumer/large-6mb-json-records.json": near,
        "firehose_forwarder/large-6mb-json-records.json": near,
        "firehose_forwarder/large-oversize-record.json": oversize_event(),
        "producer/large-record-over-1mib.json": api_event(
            _records_body([{"value": 1}, {"value": "z" * (1024 * 1024)}])
        ),
    }


def write(events: dict[str, dict[str, Any]], *, compact: bool = False) -> None:
    """Write `events` under events/: pretty-printed, or compact (as Lambda sends them) for the large ones."""
    for relative, event in events.items():
        path = REPO / "events" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(event, separators=(",", ":")) if compact else json.dumps(event, indent=1)
        path.write_text(text + "\n")


def main(argv: list[str]) -> int:
    write(small_events() | producer_events() | token_events())
    if "--large" in argv:
        write(large_events(), compact=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
