"""The archive replay's state machine (nested/archive-replay.yaml) run locally as `make replay` and
`make demo` run it: moto's ASL interpreter executes the definition (Distributed Map over the archive
objects, inline Maps, Choice loops, Retry), its Lambda tasks run the replay function in execution
environments of their own, against moto's S3 and the Tansu broker. The steps' order is read from the
execution's history."""

from __future__ import annotations

import datetime
import gzip
import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError
from confluent_kafka import Producer

from local import aws, lambda_invoke
from local.cloudwatch_logs import LogShipper
from local.functions import REPO
from local.replay import ReplayRun, compare_topics, free_execution_name, run_replay
from local.root_stack import state_machine_functions
from local.step_functions import definition_text
from local.topic_end import read_to_end
from streaming_common.kafka_codec import KafkaRecord, to_archive_line
from tests.templates.sam_offline import translate

REPLAY_TEMPLATE = REPO / "nested" / "archive-replay.yaml"
# The state machine's own states of a complete run, in the order it enters them first (the scan, merge and
# write steps run in Distributed Map child executions, which have histories of their own).
RUN_ORDER = [
    "Scope",
    "AlreadyComplete",
    "ScanArchive",
    "FindPartitions",
    "MergeManifests",
    "Preflight",
    "DryRun",
    "WritePartitions",
    "Verify",
    "TranslateOffsets",
    "Done",
]


@dataclass
class LocalReplay:
    """moto with the archive bucket and the replay stack, the broker, and the replay function served."""

    endpoint: str
    bootstrap: str
    machine_arn: str
    bucket: str

    def run(self, request: dict[str, Any], execution_name: str | None = None) -> ReplayRun:
        return run_replay(
            self.endpoint,
            self.machine_arn,
            self.bucket,
            request,
            execution_name=execution_name,
            timeout_seconds=300,
        )


@pytest.fixture(scope="module")
def local_replay(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalReplay]:
    with ExitStack() as stack:
        endpoint = stack.enter_context(aws.running_moto())
        created = aws.create_template_resources(
            endpoint, REPO / "nested" / "firehose-delivery.yaml", monitoring=False
        )
        created |= aws.create_template_resources(endpoint, REPLAY_TEMPLATE, monitoring=False)
        logs = LogShipper(aws.client("logs", endpoint), tmp_path_factory.mktemp("replay") / "functions.log")
        stack.callback(logs.close)
        kafka = {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "KAFKA_AUTH": "PLAINTEXT"}
        functions = state_machine_functions("LambdaFirehoseS3")
        assert [spec.name for spec in functions] == ["archive_replay"]
        stack.enter_context(
            lambda_invoke.serving(
                functions, aws.environment(endpoint) | kafka | {"POWERTOOLS_TRACE_DISABLED": "true"}, logs
            )
        )
        yield LocalReplay(endpoint, kafka_bootstrap, created["ReplayStateMachine"], created["ReplayBucket"])


def _archive(replay: LocalReplay, topic: str) -> tuple[int, int]:
    """Archive the topic's records as Firehose does (gzip NDJSON under the arrival hour, one object plain),
    one object twice over (Firehose delivers at least once); their first and last timestamps."""
    records = [
        KafkaRecord(
            topic,
            int(message.partition() or 0),
            int(message.offset() or 0),
            message.timestamp()[1],
            key=message.key(),
            value=message.value(),
            headers=tuple(message.headers() or ()),
        )
        for message in read_to_end(replay.bootstrap, topic)
    ]
    lines = [to_archive_line(record) for record in records]
    now = datetime.datetime.now(datetime.UTC)
    prefix = f"data/year={now:%Y}/month={now:%m}/day={now:%d}/hour={now:%H}/"
    s3 = aws.client("s3", replay.endpoint)
    half = len(lines) // 2
    s3.put_object(
        Bucket="local-archivebucket", Key=f"{prefix}{topic}-a", Body=gzip.compress(b"".join(lines[:half]))
    )
    s3.put_object(Bucket="local-archivebucket", Key=f"{prefix}{topic}-b", Body=b"".join(lines[half:]))
    s3.put_object(
        Bucket="local-archivebucket",
        Key=f"{prefix}{topic}-b-again",
        Body=gzip.compress(b"".join(lines[half:])),
    )
    stamps = [record.timestamp for record in records]
    return min(stamps), max(stamps)


@pytest.fixture
def archived_topic(
    local_replay: LocalReplay, new_topic: Callable[[str, int], str]
) -> tuple[str, dict[str, Any]]:
    """A topic of 3 partitions holding binary keys and values, a tombstone, a null key, repeated headers and
    whitespace-rich JSON, archived; and a request for its time range."""
    topic = new_topic("replay-source", 3)
    producer = Producer({"bootstrap.servers": local_replay.bootstrap, "enable.idempotence": True})
    for index in range(60):
        producer.produce(
            topic,
            partition=index % 3,
            key=None if index == 7 else f"key-{index}".encode(),
            value=None
            if index == 11
            else (b'{ "n" :  %d }' % index if index % 2 else bytes([index, 0xFF, 0x00])),
            headers=[("h", b"1"), ("h", b"2"), ("other", None)] if index % 5 == 0 else None,
        )
    producer.flush(10)
    first, last = _archive(local_replay, topic)
    return topic, {
        "runId": f"run-{uuid.uuid4().hex[:8]}",
        "from": first,
        "to": last + 1,
        "sourceTopic": topic,
    }


def _first_entries(entered: list[str], of: list[str]) -> list[str]:
    """The states of `of` in the order the execution first entered them (other states, such as a loop's
    Choice, left out)."""
    return [state for state in dict.fromkeys(entered) if state in of]


def test_the_state_machine_runs_every_step_in_order_and_replays_every_record(
    local_replay: LocalReplay,
    archived_topic: tuple[str, dict[str, Any]],
    new_topic: Callable[[str, int], str],
) -> None:
    topic, request = archived_topic
    target = new_topic("replay-target", 3)
    run = local_replay.run(request | {"targetTopic": target})
    assert run.execution.status == "SUCCEEDED", (run.execution.error, run.execution.cause)
    assert _first_entries(run.execution.entered, RUN_ORDER) == RUN_ORDER
    compared = compare_topics(local_replay.bootstrap, topic, target)
    assert (compared.source_records, compared.target_records, compared.identical) == (60, 60, 60)
    assert run.report is not None
    assert run.report_markdown
    assert len(run.report["partitions"]) == 3  # one writer per target partition
    totals = run.report["totals"]
    assert (totals["planned"], totals["produced"], totals["identical"]) == (60, 60, 60)
    assert totals["duplicatesDropped"] == 30  # the object archived twice


def test_a_dry_run_plans_and_reports_without_writing(
    local_replay: LocalReplay,
    archived_topic: tuple[str, dict[str, Any]],
    new_topic: Callable[[str, int], str],
) -> None:
    _, request = archived_topic
    target = new_topic("replay-dry", 3)
    run = local_replay.run(request | {"targetTopic": target, "dryRun": True})
    assert run.execution.status == "SUCCEEDED", (run.execution.error, run.execution.cause)
    dry_order = [*RUN_ORDER[: RUN_ORDER.index("DryRun") + 1], "Verify", "TranslateOffsets", "Done"]
    assert _first_entries(run.execution.entered, RUN_ORDER) == dry_order
    assert "WritePartitions" not in run.execution.entered
    assert run.report is not None
    assert run.report["dryRun"] is True
    assert run.report["totals"]["planned"] == 60
    assert run.report["totals"]["produced"] == 0
    assert sum(1 for _ in read_to_end(local_replay.bootstrap, target)) == 0


def test_a_preflight_refusal_ends_the_execution_with_preflight_refused(
    local_replay: LocalReplay,
    archived_topic: tuple[str, dict[str, Any]],
    new_topic: Callable[[str, int], str],
) -> None:
    _, request = archived_topic
    target = new_topic("replay-narrow", 2)  # preserve mode needs the source's 3 partitions
    run = local_replay.run(request | {"targetTopic": target})
    assert run.execution.status == "FAILED"
    assert run.execution.error == "PreflightRefused"
    assert "partition" in (run.execution.cause or "")
    assert run.execution.entered[-1] == "Preflight"
    assert "WritePartitions" not in run.execution.entered
    assert run.report is None
    assert sum(1 for _ in read_to_end(local_replay.bootstrap, target)) == 0


def test_the_same_run_id_twice_writes_once(
    local_replay: LocalReplay,
    archived_topic: tuple[str, dict[str, Any]],
    new_topic: Callable[[str, int], str],
) -> None:
    topic, request = archived_topic
    target = new_topic("replay-twice", 3)
    request |= {"targetTopic": target}
    first = local_replay.run(request)
    assert first.execution.status == "SUCCEEDED", (first.execution.error, first.execution.cause)
    # Step Functions itself refuses a second execution of that name
    with pytest.raises(ClientError, match="ExecutionAlreadyExists"):
        local_replay.run(request)
    # under another execution name (what make replay picks), the run sees its report and ends at once
    sfn = aws.client("stepfunctions", local_replay.endpoint)
    name = free_execution_name(sfn, local_replay.machine_arn, request["runId"])
    assert name == f"{request['runId']}-2"
    again = local_replay.run(request, execution_name=name)
    assert again.execution.status == "SUCCEEDED", (again.execution.error, again.execution.cause)
    assert again.execution.entered == ["Scope", "AlreadyComplete", "Done"]
    assert compare_topics(local_replay.bootstrap, topic, target).target_records == 60


def test_the_local_definition_is_the_sam_transform_with_local_substitutions(
    local_replay: LocalReplay,
) -> None:
    """What moto runs is what CloudFormation would run: SAM's DefinitionString with the substitutions."""
    transformed = translate(REPLAY_TEMPLATE)["Resources"]["ReplayStateMachine"]["Properties"]
    joined = transformed["DefinitionString"]["Fn::Join"]
    assert joined[0] == "\n"
    assert all(isinstance(part, str) for part in joined[1])
    local = {
        "ReplayFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:local-replayfunction",
        "ReplayBucketName": "local-replaybucket",
        "ScanMaxConcurrency": 40,  # the parameter's default
    }
    assert set(transformed["DefinitionSubstitutions"]) == set(local)
    sfn = aws.client("stepfunctions", local_replay.endpoint)
    running = json.loads(sfn.describe_state_machine(stateMachineArn=local_replay.machine_arn)["definition"])
    assert running == json.loads(definition_text(json.loads("\n".join(joined[1])), local))
