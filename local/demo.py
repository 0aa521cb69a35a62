"""`make demo [OPTION=...]`: the solution end to end on this machine, no AWS account, no Docker.

A Kafka broker (Tansu) and moto start on loopback ports; the topic is created by the topic provisioner's own
logic; sample records go in over HTTP through the REST front (Cognito token checked) into the real producer;
then the real consumer and forwarder run on emulated event source mappings, and the report accounts for
every record. Exits 1 if any record is unaccounted for.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sys
import tempfile
import time
import urllib.request
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import boto3
from confluent_kafka import Consumer, Producer, TopicPartition

from local import aws, lambda_invoke
from local.broker import running_broker
from local.cloudwatch_logs import LogShipper
from local.cognito import AccessTokenVerifier, mint_client_credentials_token
from local.event_source_mapping import EventSourceMapping, MappingConfig, MappingStats, s3_destination
from local.flink_runner import RESULTS_BUCKET, RESULTS_PREFIX, FlinkRun, run_flink_option
from local.functions import REPO, local_name
from local.invoke import cold_container, function_spec
from local.option_stack import INGEST_API, OPTIONS, QUIET, create_topic, required_scopes, topic_defaults
from local.replay import compare_topics, run_replay
from local.rest_front import RestFront
from local.root_stack import create_option_resources, state_machine_functions
from local.topic_end import partition_count

RECORDS = 3000
PER_REQUEST = 500
EVENT_TYPES = ("reading", "heartbeat", "alert")
# The options that archive the topic, and so deploy its replay (nested/archive-replay.yaml).
ARCHIVING = ("LambdaFirehoseS3", "All")
# The time range the demo replays (record timestamps): the last hour, and a minute ahead.
REPLAY_FROM_MS, REPLAY_AHEAD_MS = 3_600_000, 60_000


def _machine_scopes(endpoint: str, pool_id: str, client_id: str) -> list[str]:
    """The scopes the machine client may ask for, as the user pool (in moto) holds them."""
    cognito = boto3.client("cognito-idp", endpoint_url=endpoint)
    client = cognito.describe_user_pool_client(UserPoolId=pool_id, ClientId=client_id)["UserPoolClient"]
    return list(client["AllowedOAuthScopes"])


def _send(url: str, token: str) -> int:
    accepted = 0
    for start in range(0, RECORDS, PER_REQUEST):
        records = [
            {
                "key": f"device-{i % 40}",
                "value": {
                    "type": EVENT_TYPES[i % len(EVENT_TYPES)],
                    "deviceId": f"device-{i % 40}",
                    "seq": i,
                    "temperature": round(20 + (i % 50) / 10, 1),
                },
                "headers": {"source": "demo"},
            }
            for i in range(start, min(start + PER_REQUEST, RECORDS))
        ]
        request = urllib.request.Request(
            url,
            data=json.dumps({"records": records}).encode(),
            method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.loads(response.read())
        accepted += len(answer["records"]) - answer["failedRecordCount"]
    return accepted


def _send_raw_poison(bootstrap: str, topic: str) -> None:
    """One record from another producer that is not JSON: the consumer rejects it, the archive keeps it."""
    producer = Producer({"bootstrap.servers": bootstrap})
    producer.produce(topic, key=b"legacy-system", value=b"\x00\x01 not json \xff")
    producer.flush(10)


def _run_mapping(
    function: str, topic: str, bootstrap: str, overrides: dict[str, str], s3: Any
) -> MappingStats:
    spec = function_spec(function)
    config = dataclasses.replace(MappingConfig.from_template(spec, topic), consumer_group=f"demo-{function}")
    with cold_container(spec, overrides | QUIET) as handler:
        mapping = EventSourceMapping(
            config, bootstrap, handler, s3_destination(s3, local_name("FailedBatchesBucket"), function)
        )
        stats = mapping.run_until_idle()
        mapping.close()
    return stats


def _archived_lines(s3: Any, bucket: str) -> dict[str, int]:
    counts = {"data/": 0, "oversize/": 0}
    for prefix in counts:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                counts[prefix] += s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read().count(b"\n")
    return counts


def main(option: str) -> int:
    if option not in OPTIONS:
        print(f"OPTION must be one of {', '.join(OPTIONS)}", file=sys.stderr)
        return 2
    started = time.monotonic()
    topic, partitions = topic_defaults()
    log_path = Path(tempfile.mkdtemp(prefix="msk-demo-")) / "functions.log"
    with ExitStack() as stack:
        # What the functions print (their logs and EMF metrics, as CloudWatch would get them) goes to a file.
        stack.enter_context(contextlib.redirect_stdout(stack.enter_context(log_path.open("w"))))
        bootstrap = stack.enter_context(running_broker())
        endpoint = stack.enter_context(aws.running_moto())
        # What the option's templates declare; the REST API's too, as the demo's records come in through it.
        deployed = aws.option_templates(option)
        templates = list(dict.fromkeys([*deployed, INGEST_API]))
        created = create_option_resources(endpoint, option, INGEST_API)
        pool_id, machine_client = created["UserPool"], created["MachineClient"]
        os.environ.update(aws.environment(endpoint))
        s3 = boto3.client("s3", endpoint_url=endpoint)
        create_topic(bootstrap, topic, partitions)

        kafka = {"KAFKA_BOOTSTRAP_SERVERS": bootstrap, "KAFKA_AUTH": "PLAINTEXT"}
        required = required_scopes()
        verifier = AccessTokenVerifier(pool_id, required)
        with (
            cold_container(function_spec("producer"), kafka | QUIET) as producer,
            RestFront(producer, verifier) as front,
        ):
            # What Cognito's token endpoint gives the machine client for the client credentials grant
            scopes = _machine_scopes(endpoint, pool_id, machine_client)
            token = mint_client_credentials_token(pool_id, machine_client, scopes)
            accepted = _send(f"{front.url}/topics/{topic}/records", token)
        _send_raw_poison(bootstrap, topic)
        in_topic = accepted + 1

        report = [
            f"option            {option}",
            f"broker            Tansu at {bootstrap}; moto at {endpoint}",
            f"user pool         {pool_id} (from nested/ingest-api.yaml), machine client {machine_client}",
            f"topic             {topic}, {partitions} partitions",
            "resources         in moto, as declared by "
            + ", ".join(str(t.relative_to(REPO)) for t in templates)
            + ("" if INGEST_API in deployed else " (the demo's way in)"),
            f"accepted by API   {accepted} of {RECORDS} records (POST {front.url}/topics/{topic}/records)",
            "other producer    1 record that is not JSON",
        ]
        unaccounted = RECORDS - accepted
        if option in ("LambdaConsumer", "All"):
            consumer = _run_mapping("consumer", topic, bootstrap, aws.environment(endpoint), s3)
            kept = consumer.records_to_destination
            report.append(
                f"consumer          {consumer.records_succeeded} processed, {kept} after retries in "
                f"s3://{local_name('FailedBatchesBucket')}/aws/lambda/consumer/, "
                f"{consumer.invocations} invocations"
            )
            unaccounted += in_topic - consumer.records_succeeded - kept
        if option in ARCHIVING:
            forwarder = _run_mapping("firehose_forwarder", topic, bootstrap, aws.environment(endpoint), s3)
            lines = _archived_lines(s3, local_name("ArchiveBucket"))
            archived = lines["data/"] + lines["oversize/"]
            report.append(
                f"archive           {archived} lines in s3://{local_name('ArchiveBucket')}/ "
                f"(data/ {lines['data/']}, oversize/ {lines['oversize/']}), "
                f"{forwarder.records_to_destination} kept as failed batches"
            )
            unaccounted += in_topic - min(archived, in_topic) - forwarder.records_to_destination
        if option in ("FlinkS3", "All"):
            flink = run_flink_option(bootstrap, topic, s3, log_path.parent)
            report += _flink_report(flink)
            unaccounted += in_topic - flink.records_counted
        if option == "ClusterWithRestApi":
            stored = _count_in_topic(bootstrap, topic, partitions, in_topic)
            report.append(f"in the topic      {stored} records")
            unaccounted += in_topic - stored
        # The demo ends by replaying the archive into a second topic, compared record by record.
        replay_lines, replayed_all = (
            _replay(option, endpoint, bootstrap, topic, created, folder=log_path.parent)
            if option in ARCHIVING
            else ([], True)
        )
        report += [
            *replay_lines,
            _monitoring(aws.monitoring_in_moto(endpoint)),
            _keep_data(s3, log_path.parent / "s3"),
            f"unaccounted       {unaccounted}",
            f"took              {time.monotonic() - started:.1f} s",
            f"function logs     {log_path}",
            "more              docs/local.md; make invoke FUNCTION=<name> EVENT=<file>",
        ]
    print("\n".join(report))
    return 0 if unaccounted == 0 and replayed_all else 1


def _replay(
    option: str,
    endpoint: str,
    bootstrap: str,
    topic: str,
    created: dict[str, str],
    *,
    folder: Path,
) -> tuple[list[str], bool]:
    """Replay the archive to `<topic>-replay` with the replay state machine (nested/archive-replay.yaml, run
    by moto's interpreter, its tasks by the replay function), then compare every record of the copy with
    the original. The report's lines, and whether every record came back identical."""
    target = f"{topic}-replay"
    create_topic(bootstrap, target, partition_count(bootstrap, topic))
    now = int(time.time() * 1000)
    request = {
        "runId": "demo-replay",
        "from": now - REPLAY_FROM_MS,
        "to": now + REPLAY_AHEAD_MS,
        "sourceTopic": topic,
        "targetTopic": target,
    }
    logs = LogShipper(aws.client("logs", endpoint), folder / "replay.log")
    kafka = {"KAFKA_BOOTSTRAP_SERVERS": bootstrap, "KAFKA_AUTH": "PLAINTEXT"}
    try:
        with lambda_invoke.serving(
            state_machine_functions(option), aws.environment(endpoint) | kafka | QUIET, logs
        ):
            run = run_replay(endpoint, created["ReplayStateMachine"], created["ReplayBucket"], request)
    finally:
        logs.close()
    compared = compare_topics(bootstrap, topic, target)
    execution = run.execution
    outcome = execution.status + (f" ({execution.error}: {execution.cause})" if execution.error else "")
    lines = [
        f"replay            replayed {compared.target_records} of {compared.source_records} records to "
        f"{target}, identical {compared.identical}",
        f"replay run        {request['runId']}: {outcome}; states "
        f"{', '.join(dict.fromkeys(execution.entered))}; "
        f"report s3://{created['ReplayBucket']}/runs/{request['runId']}/report.md",
    ]
    complete = compared.target_records == compared.source_records == compared.identical
    return lines, complete and execution.status == "SUCCEEDED"


def _counted(count: int, thing: str) -> str:
    return f"{count} {thing}" + ("" if count == 1 else "s")


def _monitoring(found: aws.MonitoringInMoto) -> str:
    """The alarms and dashboards moto holds, each dashboard with its rows."""
    dashboards = ", ".join(f"{name}: {'; '.join(rows)}" for name, rows in found.dashboards.items())
    return (
        f"monitoring        {_counted(len(found.alarms), 'alarm')}, "
        f"{_counted(len(found.composite_alarms), 'composite alarm')}, "
        f"{_counted(len(found.dashboards), 'dashboard')} ({dashboards}) in moto"
    )


def _keep_data(s3: Any, folder: Path) -> str:
    """moto stops with the demo: copy what the buckets hold to `folder`, and say so."""
    objects = aws.download_buckets(s3, folder)
    counts = ", ".join(f"{bucket} {count}" for bucket, count in sorted(objects.items()))
    return f"data              {folder}/<bucket>/<key>: {counts} objects"


def _flink_report(flink: FlinkRun) -> list[str]:
    per_type: dict[str, int] = {}
    for row in flink.rows:
        per_type[row["event_type"]] = per_type.get(row["event_type"], 0) + int(row["record_count"])
    windows = sorted({row["window_start"] for row in flink.rows})
    parts = [key for key in flink.keys if key.rpartition("/")[2].startswith("part-")]
    return [
        f"flink source      {flink.source_line()}",
        f"flink job         {flink.records_counted} of {flink.source.records} records counted in "
        f"{len(windows)} one-minute window(s) from {windows[0] if windows else '-'}: "
        + ", ".join(f"{kind} {count}" for kind, count in sorted(per_type.items())),
        f"flink results     {len(flink.rows)} rows in {len(parts)} file(s) under s3://{RESULTS_BUCKET}/{RESULTS_PREFIX}"
        f" ({', '.join(sorted({key.rsplit('/', 1)[0].removeprefix(RESULTS_PREFIX) for key in parts}))})",
        "                  ran in a local PyFlink MiniCluster; written to a folder, then uploaded: the",
        "                  apache-flink wheel has no S3 file system plugin (docs/local.md)",
        f"flink job log     {flink.log}",
    ]


def _count_in_topic(bootstrap: str, topic: str, partitions: int, expected: int) -> int:
    """Read every partition from the start and count the records (up to 30 s)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"demo-count-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
        }
    )
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    count, deadline = 0, time.monotonic() + 30
    while count < expected and time.monotonic() < deadline:
        count += sum(1 for message in consumer.consume(500, timeout=1) if not message.error())
    consumer.close()
    return count


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "All"))
