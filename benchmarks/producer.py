"""Producer benchmark against a real broker (Tansu): records per second through the warm handler
(500-record requests, 1 KiB values) divided by a bare confluent-kafka produce loop that sends the same
records in the same 500-record flushes. Target: at least 0.7. Also measures the anti-pattern of a new
producer per invocation.

Usage: python -m benchmarks.producer
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import uuid

from benchmarks.harness import benchmark_environment, compare
from local.lambda_context import LocalLambdaContext

TARGET = 0.7
REQUESTS = 10
RECORDS_PER_REQUEST = 500


def main(argv: list[str]) -> int:
    benchmark_environment()
    from confluent_kafka import Producer  # noqa: PLC0415
    from confluent_kafka.admin import (  # type: ignore[attr-defined]  # noqa: PLC0415 - exported at run time, not in the stubs
        AdminClient,
        NewTopic,
    )

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

        keys = [f"device-{i % 50}" for i in range(RECORDS_PER_REQUEST)]
        records = [{"key": key, "value": {"seq": i, "pad": "x" * 1000}} for i, key in enumerate(keys)]
        event = api_event(json.dumps({"records": records}), topic=topic)
        context = LocalLambdaContext("benchmark")
        values = [json.dumps(r["value"], separators=(",", ":")).encode() for r in records]
        key_bytes = [key.encode() for key in keys]
        bare = Producer(
            {
                "bootstrap.servers": bootstrap,
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 5,
                "compression.type": "lz4",
            }
        )

        def through_handler() -> None:
            for _ in range(REQUESTS):
                with contextlib.redirect_stdout(io.StringIO()):
                    response = handler.lambda_handler(event, context)
                assert response["statusCode"] == 200, response["body"][:300]

        def bare_loop() -> None:
            delivered = 0

            def count(error: object, _message: object) -> None:
                nonlocal delivered
                delivered += error is None

            for _ in range(REQUESTS):
                for key, value in zip(key_bytes, values, strict=True):
                    bare.produce(topic, value=value, key=key, on_delivery=count)
                    bare.poll(0)
                bare.flush(30)
            assert delivered == REQUESTS * RECORDS_PER_REQUEST

        def new_producer_per_request() -> None:
            for _ in range(REQUESTS):
                record_producer.producer.cache_clear()
                with contextlib.redirect_stdout(io.StringIO()):
                    assert handler.lambda_handler(event, context)["statusCode"] == 200

        total = REQUESTS * RECORDS_PER_REQUEST
        subject, baseline = compare(through_handler, bare_loop, rounds=7)
        cold, _ = compare(new_producer_per_request, bare_loop, rounds=3)
        record_producer.producer.cache_clear()
    print(
        f"producer: {total} records of 1 KiB per round, {RECORDS_PER_REQUEST}-record requests, "
        f"broker {bootstrap}"
    )
    print(
        f"producer: handler {total / subject:,.0f} records/s, "
        f"bare produce loop {total / baseline:,.0f} records/s"
    )
    print(f"producer: ratio {baseline / subject:.2f} (target >= {TARGET})")
    print(
        f"producer: new producer per request {total / cold:,.0f} records/s "
        f"({baseline / cold:.2f} of the bare loop)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
