"""Consumer benchmark: handler time for a full 6 MB MSK event of 1 KiB JSON records, divided by a bare loop
that base64-decodes and parses the same values. Target: at most 1.15 with logging at WARNING.

Usage: python -m benchmarks.consumer [--profile]
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import sys

from benchmarks.harness import benchmark_environment, compare, profile
from local.lambda_context import LocalLambdaContext

TARGET = 1.15


def main(argv: list[str]) -> int:
    benchmark_environment()
    from local.functions import load_handler  # noqa: PLC0415
    from scripts.make_sample_events import near_limit_event  # noqa: PLC0415 - after the environment is set

    event = near_limit_event(value_size=1024)
    raw_values = [raw["value"] for records in event["records"].values() for raw in records]
    handler = load_handler("consumer").lambda_handler
    context = LocalLambdaContext("benchmark")

    def bare_loop() -> None:
        for value in raw_values:
            json.loads(base64.b64decode(value))

    def consumer() -> None:
        with contextlib.redirect_stdout(io.StringIO()):  # the EMF metrics line
            response = handler(event, context)
        assert response == {"batchItemFailures": []}

    subject, baseline = compare(consumer, bare_loop)
    ratio = subject / baseline
    size = len(json.dumps(event, separators=(",", ":")))
    print(f"consumer: {len(raw_values)} records, event {size / 1e6:.2f} MB")
    print(f"consumer: handler {subject * 1000:.1f} ms, bare decode loop {baseline * 1000:.1f} ms")
    print(f"consumer: ratio {ratio:.2f} (target <= {TARGET})")
    if "--profile" in argv:
        print(profile(consumer))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
