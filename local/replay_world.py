"""What `make invoke FUNCTION=archive_replay EVENT=<step>.json` prepares before it runs the event.

Each step of the archive replay reads what the earlier steps of the same run wrote (runs/<runId>/ in the
replay bucket: the object list, parts, manifests, plan, checkpoints). So that any step's event runs on its
own, the invocation starts from a sample archive (one gzip object of the request's source topic, in the
arrival hour of its `from`, records in three partitions within its time range), creates the source and target
topics, and runs the steps the state machine runs before the event's step, with the same handler, in its
order. The event's own step then runs as the state machine would call it.
"""

from __future__ import annotations

import datetime
import gzip
import json
from collections.abc import Callable
from typing import Any

from local import aws
from streaming_common.kafka_codec import KafkaRecord, to_archive_line

# The state machine's order of steps (nested/archive-replay.yaml).
STEP_ORDER = ("scope", "scan", "partitions", "merge", "preflight", "write", "verify", "translate")
# The steps called once per partition: the earlier step whose answer lists the partitions, its field, and
# the field of the step's event.
PER_PARTITION = {
    "merge": ("partitions", "partitions", "partition"),
    "write": ("preflight", "targetPartitions", "targetPartition"),
}
SAMPLE_PARTITIONS = 3
SAMPLE_RECORDS = 12

Handler = Callable[[dict[str, Any], Any], Any]


def sample_archive_key(start_ms: int) -> str:
    """The sample object's key: Firehose's prefix for the arrival hour of `start_ms`."""
    hour = datetime.datetime.fromtimestamp(start_ms / 1000, datetime.UTC)
    return f"data/year={hour:%Y}/month={hour:%m}/day={hour:%d}/hour={hour:%H}/sample.gz"


def _millis(value: int | str) -> int:
    if isinstance(value, int):
        return value
    return int(datetime.datetime.fromisoformat(value).timestamp() * 1000)


def _write_sample_archive(endpoint: str, bucket: str, topic: str, start_ms: int, end_ms: int) -> None:
    step = max(1, (end_ms - start_ms) // (SAMPLE_RECORDS + 1))
    lines = b"".join(
        to_archive_line(
            KafkaRecord(
                topic,
                index % SAMPLE_PARTITIONS,
                index // SAMPLE_PARTITIONS,
                start_ms + index * step,
                key=f"device-{index}".encode(),
                value=json.dumps({"sample": index}).encode(),
                headers=(("source", b"make-invoke"),),
            )
        )
        for index in range(SAMPLE_RECORDS)
    )
    aws.client("s3", endpoint).put_object(
        Bucket=bucket, Key=sample_archive_key(start_ms), Body=gzip.compress(lines)
    )


def run_steps_before(
    event: dict[str, Any],
    handler: Handler,
    context: Callable[[], Any],
    environment: dict[str, str],
    create_topic: Callable[[str, int], None],
) -> None:
    """Prepare the run `event` belongs to: the sample archive, the topics, then each earlier step."""
    request = event["request"]
    endpoint = environment["AWS_ENDPOINT_URL"]
    source = request.get("sourceTopic") or environment["SOURCE_TOPIC"]
    start, end = _millis(request["from"]), _millis(request["to"])
    _write_sample_archive(endpoint, environment["ARCHIVE_BUCKET_NAME"], source, start, end)
    for topic in dict.fromkeys([source, request.get("targetTopic") or source]):
        create_topic(topic, SAMPLE_PARTITIONS)
    step = event["step"]
    earlier = STEP_ORDER[: STEP_ORDER.index(step)] if step in STEP_ORDER else ()
    run = {"runId": request["runId"], "request": request}
    s3 = aws.client("s3", endpoint)
    answers: dict[str, Any] = {}
    for name in earlier:
        if name == "scope":
            answers[name] = handler({"step": "scope", "request": request}, context())
        elif name == "scan":
            objects = s3.get_object(
                Bucket=environment["REPLAY_BUCKET_NAME"], Key=answers["scope"]["objectsKey"]
            )
            for item in json.loads(objects["Body"].read()):
                handler({"step": "scan", **run, "object": item}, context())
        elif name in PER_PARTITION:
            listing, listed_field, event_field = PER_PARTITION[name]
            for partition in answers[listing][listed_field]:
                # a writer is called again until its partition is done, as the state machine loops
                while not handler({"step": name, **run, event_field: partition}, context()).get("done", True):
                    pass
        else:
            answers[name] = handler({"step": name, **run}, context())
