"""Producer benchmark against a real broker (Tansu): records per second through the warm handler
(500-record requests of about 1 KiB values, every Powertools decorator) divided by a bare confluent-kafka loop
over the same API Gateway events: it parses each event's body (`json.loads`), produces the same records (the
same bytes: each value written compact by one reused `json.JSONEncoder`; the same producer settings:
`record_producer.producer_config`) and flushes per request. Target: at least 0.8. Also measures a stricter
bare loop that writes each value with msgspec (several times faster than the standard library's encoder),
and the anti-pattern of a new producer per invocation.

Usage: python -m benchmarks.producer [--profile]
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import uuid
from collections.abc import Callable
from typing import Any

from benchmarks.harness import benchmark_environment, compare, profile
from local.lambda_context import LocalLambdaContext

TARGET = 0.8
REQUESTS = 10
RECORDS_PER_REQUEST = 500


def _records() -> list[dict[str, Any]]:
    """500 records of about 1 KiB: a key, a JSON object value and a header."""
    return [
        {
            "key": f"device-{index % 50}",
            "value": {"seq": index, "device": f"device-{index % 50}", "reading": index / 7, "pad": "x" * 960},
            "headers": {"source": "benchmark"},
        }
        for index in range(RECORDS_PER_REQUEST)
    ]


def bare_loop(
    kafka: Any, topic: str, bodies: list[str], serialise: Callable[[Any], bytes]
) -> Callable[[], None]:
    """The baseline: for each request body, json.loads, produce every record as bytes and flush."""

    def run() -> None:
        delivered = 0

        def count(error: object, _message: object) -> None:
            nonlocal delivered
            delivered += error is None

        for body in bodies:
            for record in json.loads(body)["records"]:
                key, value = record.get("key"), record["value"]
                kafka.produce(
                    topic,
                    value=None if value is None else serialise(value),
                    key=None if key is None else key.encode(),
                    headers=[(name, text.encode()) for name, text in record.get("headers", {}).items()],
                    on_delivery=count,
                )
                kafka.poll(0)
            kafka.flush(30)
        assert delivered == len(bodies) * RECORDS_PER_REQUEST

    return run


def main(argv: list[str]) -> int:
    benchmark_environment()
    import msgspec  # noqa: PLC0415
    from confluent_kafka import Producer  # noqa: PLC0415
    from confluent_kafka.admin import (  # type: ignore[attr-defined]  # noqa: PLC0415 - exported at run time, not in the stubs
        AdminClient,
        NewTopic,
    )
    from pydantic_core import to_json  # noqa: PLC0415

    from local.broker import running_broker  # noqa: PLC0415
    from local.functions import load_handler  # noqa: PLC0415
    from scripts.make_sample_events import api_event  # noqa: PLC0415

    with running_broker() as bootstrap:
        topic = f"bench-{uuid.uuid4().hex[:6]}"
        admin = AdminClient({"bootstrap.servers": bootstrap})
        for future in admin.create_topics([NewTopic(topic, 3, -1)]).values():
            future.result(10)
        os.environ.update(KAFKA_BOOTSTRAP_SERVERS=bootstrap, KAFKA_AUTH="PLAINTEXT", ALLOWED_TOPICS=topic)
        handler = load_handler("producer")
        import record_producer  # noqa: PLC0415
        from streaming_common.settings import load_settings  # noqa: PLC0415

        records = _records()
        event = api_event(json.dumps({"records": records}), topic=topic)
        events = [event] * REQUESTS
        context = LocalLambdaContext("benchmark")
        bare = Producer(record_producer.producer_config(load_settings(record_producer.ProducerSettings)))

        compact = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)

        def json_encode(value: Any) -> bytes:
            return compact.encode(value).encode()

        # Both loops store what the handler stores: compact UTF-8 JSON, byte for byte.
        for serialise in (json_encode, msgspec.json.encode):
            assert [serialise(r["value"]) for r in records] == [to_json(r["value"]) for r in records]
        bodies = [e["body"] for e in events]
        baseline_loop = bare_loop(bare, topic, bodies, json_encode)
        strict_loop = bare_loop(bare, topic, bodies, msgspec.json.encode)

        def through_handler() -> None:
            for each in events:
                with contextlib.redirect_stdout(io.StringIO()):  # the EMF metrics line
                    response = handler.lambda_handler(each, context)
                assert response["statusCode"] == 200, response["body"][:300]

        def new_producer_per_request() -> None:
            for each in events:
                record_producer.producer.cache_clear()
                with contextlib.redirect_stdout(io.StringIO()):
                    assert handler.lambda_handler(each, context)["statusCode"] == 200

        total = REQUESTS * RECORDS_PER_REQUEST
        subject, baseline = compare(through_handler, baseline_loop, rounds=9)
        strict_subject, strict = compare(through_handler, strict_loop, rounds=9)
        report = profile(through_handler, top=25) if "--profile" in argv else ""  # warm, like the rounds
        cold, _ = compare(new_producer_per_request, baseline_loop, rounds=3)
        record_producer.producer.cache_clear()
    size = len(event["body"])
    print(
        f"producer: {REQUESTS} requests of {RECORDS_PER_REQUEST} records ({size / 1e3:.0f} KB bodies) per "
        f"round, broker {bootstrap}"
    )
    print(
        f"producer: handler {total / subject:,.0f} records/s, "
        f"bare loop (json.loads, json.JSONEncoder, produce, flush) {total / baseline:,.0f} records/s"
    )
    print(f"producer: ratio {baseline / subject:.2f} (target >= {TARGET})")
    print(
        f"producer: against a bare loop serialising with msgspec {total / strict:,.0f} records/s: "
        f"{strict / strict_subject:.2f}"
    )
    print(
        f"producer: new producer per request {total / cold:,.0f} records/s "
        f"({baseline / cold:.2f} of the bare loop)"
    )
    print(report, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
