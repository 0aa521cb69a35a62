"""Forwarder benchmark: PutRecordBatch calls for a full 6 MB batch against the fewest possible, and handler
time against a local fake Firehose divided by a bare loop that encodes the same archive lines.
Target: calls = minimum, ratio at most 1.5.

Usage: python -m benchmarks.forwarder [--profile]
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import math
import sys
from typing import Any

from benchmarks.harness import benchmark_environment, compare, profile
from local.lambda_context import LocalLambdaContext

TARGET = 1.5


class FakeFirehose:
    """Takes every record at once, as a healthy Firehose does, and counts the calls."""

    def __init__(self) -> None:
        self.calls = 0

    def put_record_batch(self, DeliveryStreamName: str, Records: list[dict[str, bytes]]) -> dict[str, Any]:  # noqa: N803
        self.calls += 1
        return {"FailedPutCount": 0, "RequestResponses": [{"RecordId": "r"}] * len(Records)}


def main(argv: list[str]) -> int:
    benchmark_environment()
    from archive_delivery import FirehoseArchiver, ForwarderSettings  # noqa: PLC0415
    from scripts.make_sample_events import near_limit_event  # noqa: PLC0415

    event = near_limit_event(value_size=1024)
    raws = [raw for records in event["records"].values() for raw in records]
    firehose = FakeFirehose()
    settings = ForwarderSettings(delivery_stream_name="bench", archive_bucket_name="bench")
    archiver = FirehoseArchiver(firehose, None, settings)
    context = LocalLambdaContext("benchmark")

    def bare_encode_loop() -> list[bytes]:
        lines = []
        for raw in raws:
            key = raw.get("key")
            document = {
                "topic": raw["topic"],
                "partition": raw["partition"],
                "offset": raw["offset"],
                "timestamp": raw["timestamp"],
                "timestampType": raw["timestampType"],
                "key": None if key is None else base64.b64decode(key).decode(),
                "headers": [
                    {"key": k, "value": bytes(v).decode()} for h in raw["headers"] for k, v in h.items()
                ],
                "value": json.loads(base64.b64decode(raw["value"])),
            }
            lines.append(json.dumps(document, separators=(",", ":")).encode() + b"\n")
        return lines

    def forwarder() -> None:
        with contextlib.redirect_stdout(io.StringIO()):
            response = archiver.forward(event, context)
        assert response == {"batchItemFailures": []}

    lines = bare_encode_loop()
    fewest = max(math.ceil(len(lines) / 500), math.ceil(sum(map(len, lines)) / (4 * 1024 * 1024)))
    firehose.calls = 0
    forwarder()
    calls = firehose.calls
    subject, baseline = compare(forwarder, bare_encode_loop)
    ratio = subject / baseline
    print(f"forwarder: {len(raws)} records, {sum(map(len, lines)) / 1e6:.2f} MB of archive lines")
    print(f"forwarder: PutRecordBatch calls {calls}, fewest possible {fewest}")
    print(f"forwarder: handler {subject * 1000:.1f} ms, bare encode loop {baseline * 1000:.1f} ms")
    print(f"forwarder: ratio {ratio:.2f} (target <= {TARGET})")
    if "--profile" in argv:
        print(profile(forwarder))
    return 0 if calls == fewest else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
