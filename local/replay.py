"""`make replay FROM=... TO=... TARGET=... [RUN_ID=...] [DRY_RUN=1]`: the archive replay against `make local`.

The replay is nested/archive-replay.yaml's state machine. `make local` (LambdaFirehoseS3 or All) creates it
in its moto, where moto's interpreter runs the definition (local.step_functions) and its Lambda tasks run the
replay function in execution environments of their own (local.lambda_invoke), against the runtime's archive
bucket, replay bucket and broker. This command is the client, as `aws stepfunctions start-execution` is for a
deployed stack: it reads the runtime's outputs (ReplayStateMachineArn, ReplayBucketName, AwsEndpointUrl,
BootstrapServers), creates the target topic on the local broker when it does not exist yet (like the source
topic), starts an execution named after the run id with the request as input, prints the states as they are
entered, then the run's report (runs/<runId>/report.md in the replay bucket). Exit 0 when the execution
succeeded, 1 otherwise (with its error and cause).
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError
from confluent_kafka import Message

from local import aws
from local.option_stack import create_topic
from local.runtime import BOOTSTRAP_OUTPUT, DEFAULT_OUTPUTS, ENDPOINT_OUTPUT
from local.step_functions import Execution, wait_for_execution
from local.topic_end import TopicEndError, partition_count, read_to_end

MACHINE_OUTPUT = "ReplayStateMachineArn"
BUCKET_OUTPUT = "ReplayBucketName"
EXECUTION_TIMEOUT_SECONDS = 900.0


@dataclass
class ReplayRun:
    """An execution of the replay state machine and the report its run left in the replay bucket."""

    execution: Execution
    report: dict[str, Any] | None
    report_markdown: str | None


def run_replay(
    endpoint: str,
    machine_arn: str,
    bucket: str,
    request: dict[str, Any],
    *,
    execution_name: str | None = None,
    progress: Callable[[str], None] | None = None,
    timeout_seconds: float = EXECUTION_TIMEOUT_SECONDS,
) -> ReplayRun:
    """Start an execution of the replay state machine with `request` as input, named after its runId (or
    `execution_name`), wait until it ends and read the run's report (None when the run wrote none)."""
    sfn = aws.client("stepfunctions", endpoint)
    started = sfn.start_execution(
        stateMachineArn=machine_arn, name=execution_name or request["runId"], input=json.dumps(request)
    )
    execution = wait_for_execution(sfn, started["executionArn"], timeout_seconds, progress)
    s3 = aws.client("s3", endpoint)
    run = f"runs/{request['runId']}"
    report = _read(s3, bucket, f"{run}/report.json")
    markdown = _read(s3, bucket, f"{run}/report.md")
    return ReplayRun(
        execution,
        json.loads(report) if report is not None else None,
        markdown.decode() if markdown is not None else None,
    )


def _read(s3: Any, bucket: str, key: str) -> bytes | None:
    try:
        return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
            return None
        raise


@dataclass(frozen=True)
class Comparison:
    """A topic and its replay, record by record: the target's records against the source's at the same
    partition and position (key, value, header names, values and order, timestamp)."""

    source_records: int
    target_records: int
    identical: int


def _record(message: Message) -> tuple[Any, ...]:
    return (message.key(), message.value(), list(message.headers() or []), message.timestamp()[1])


def _by_partition(bootstrap: str, topic: str, timeout: float) -> dict[int, list[tuple[Any, ...]]]:
    found: dict[int, list[tuple[Any, ...]]] = {p: [] for p in range(partition_count(bootstrap, topic))}
    for message in read_to_end(bootstrap, topic, timeout):
        found[int(message.partition() or 0)].append(_record(message))
    return found


def compare_topics(bootstrap: str, source: str, target: str, timeout: float = 120) -> Comparison:
    """Read both topics to their ends and compare every record of the target with the source's record at
    the same partition and position."""
    originals = _by_partition(bootstrap, source, timeout)
    replayed = _by_partition(bootstrap, target, timeout)
    identical = sum(
        1
        for partition, records in replayed.items()
        for index, record in enumerate(records)
        if index < len(originals.get(partition, [])) and originals[partition][index] == record
    )
    return Comparison(
        sum(len(records) for records in originals.values()),
        sum(len(records) for records in replayed.values()),
        identical,
    )


def free_execution_name(sfn: Any, machine_arn: str, run_id: str) -> str:
    """The run id, or `<runId>-2`, `-3`... when an execution has that name already: Step Functions keeps
    execution names for 90 days, and a run is resumed (or run for real after a dry run) under a new name."""
    taken = {
        execution["name"]
        for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=machine_arn)
        for execution in page["executions"]
    }
    name, attempt = run_id, 1
    while name in taken:
        attempt += 1
        name = f"{run_id}-{attempt}"
    return name


def ensure_target_topic(bootstrap: str, source: str, target: str) -> str | None:
    """Create `target` with the source's partition count when it does not exist (the local broker's topics
    are the runtime's own); what was done, or None."""
    try:
        partition_count(bootstrap, target)
    except TopicEndError:
        partitions = partition_count(bootstrap, source)
        create_topic(bootstrap, target, partitions)
        return f"created topic {target} ({partitions} partitions, like {source}) on the local broker"
    return None


def _request(args: argparse.Namespace) -> dict[str, Any]:
    request: dict[str, Any] = {
        "runId": args.run_id,
        "from": args.start,
        "to": args.end,
        "dryRun": args.dry_run,
    }
    optional = {
        "sourceTopic": args.source,
        "targetTopic": args.target,
        "partitions": [int(p) for p in args.partitions.split(",")] if args.partitions else None,
        "keys": args.keys.split(",") if args.keys else None,
        "partitionMode": args.partition_mode,
        "maxConcurrency": args.max_concurrency,
    }
    return request | {name: value for name, value in optional.items() if value is not None}


def _epoch_millis_or_text(value: str) -> int | str:
    return int(value) if value.isdigit() else value


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="make replay", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--from",
        dest="start",
        required=True,
        type=_epoch_millis_or_text,
        help="first record timestamp (ISO-8601 UTC or epoch ms), inclusive",
    )
    parser.add_argument(
        "--to",
        dest="end",
        required=True,
        type=_epoch_millis_or_text,
        help="record timestamp (ISO-8601 UTC or epoch ms) to stop before",
    )
    parser.add_argument("--target", help="target topic (default: the source topic)")
    parser.add_argument("--source", help="source topic (default: the runtime's topic)")
    parser.add_argument("--run-id", default=f"local-{datetime.datetime.now(datetime.UTC):%Y%m%dT%H%M%S}")
    parser.add_argument(
        "--dry-run", action="store_true", help="plan and preflight only; report what would be produced"
    )
    parser.add_argument("--partitions", help="source partitions, comma-separated (default: all)")
    parser.add_argument("--keys", help="exact keys, comma-separated (default: all)")
    parser.add_argument("--partition-mode", choices=("preserve", "keyHash"))
    parser.add_argument("--max-concurrency", type=int)
    parser.add_argument("--outputs", type=Path, default=DEFAULT_OUTPUTS, help="make local's outputs file")
    args = parser.parse_args(argv)
    if not args.outputs.exists():
        print(
            f"no outputs file at {args.outputs}: start the local runtime first, with the archive and its "
            "replay:\n  make local OPTION=LambdaFirehoseS3   (or All; OUTPUTS=<file> if you moved it)",
            file=sys.stderr,
        )
        return 2
    outputs = dict(json.loads(args.outputs.read_text()))
    if MACHINE_OUTPUT not in outputs:
        print(
            f"{args.outputs} has no {MACHINE_OUTPUT}: run make local with OPTION=LambdaFirehoseS3 or All",
            file=sys.stderr,
        )
        return 2
    endpoint, bootstrap = outputs[ENDPOINT_OUTPUT], outputs[BOOTSTRAP_OUTPUT]
    request = _request(args)
    source = args.source or outputs.get("TopicName", "")
    if args.target and not args.dry_run and (created := ensure_target_topic(bootstrap, source, args.target)):
        print(created, flush=True)
    name = free_execution_name(
        aws.client("stepfunctions", endpoint), outputs[MACHINE_OUTPUT], request["runId"]
    )
    print(f"execution {name} of {outputs[MACHINE_OUTPUT]}\ninput {json.dumps(request)}", flush=True)
    run = run_replay(
        endpoint,
        outputs[MACHINE_OUTPUT],
        outputs[BUCKET_OUTPUT],
        request,
        execution_name=name,
        progress=lambda state: print(f"  {state}", flush=True),
    )
    if run.report_markdown is not None:
        print(run.report_markdown)
        print(f"report s3://{outputs[BUCKET_OUTPUT]}/runs/{request['runId']}/report.md (and report.json)")
    print(
        f"execution {run.execution.status}"
        + (f": {run.execution.error}: {run.execution.cause}" if run.execution.error else "")
    )
    return 0 if run.execution.status == "SUCCEEDED" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
