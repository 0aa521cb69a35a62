"""The API fuzzing tier (`make fuzz-api`, part of `make test`): schemathesis against `make local`'s REST API.

Run by `python -m local.with_runtime --option ClusterWithRestApi -- python -m tests.fuzz.run_schemathesis`,
which starts the runtime and gives its outputs (E2E_OUTPUTS_FILE). It:
1. adds the fuzzing report's targeted inputs (tests/fuzz/targeted.py) to docs/openapi.json as request-body
   examples, and the topic the stack opens to producers as the path parameter's example;
2. runs schemathesis with every check and every phase, bounded examples, twice: with a valid access token
   from the token endpoint, and without one;
3. sends the bodies an encoder cannot write (tests/fuzz/targeted.py's raw probes) and checks each answer is a
   documented status with a JSON body;
4. reads the whole topic back and checks that every record a consumer gets is readable: keys and headers
   valid UTF-8, values strict JSON (no NaN or Infinity, no lone surrogates, within a parser's depth).
It prints one line per part with its counts, and exits 1 if any part found a failure.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, KafkaError, TopicPartition

from tests.e2e.stack import http, load_stack, request_token
from tests.fuzz.targeted import body_examples, raw_probes

REPO = Path(__file__).resolve().parents[2]
OPERATION = ("/topics/{topic}/records", "post")
CONFIG = Path(__file__).with_name("schemathesis.toml")
# Bounded: the whole tier takes a few minutes. Fixed seed: a failure can be rerun as it was found.
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "1000"))
SEED = os.environ.get("FUZZ_SEED", "20261125")
READBACK_TIMEOUT_SECONDS = 60


def targeted_document(topic: str, folder: Path) -> Path:
    """docs/openapi.json with the targeted bodies as examples and `topic` as the path parameter's example."""
    document = json.loads((REPO / "docs" / "openapi.json").read_text())
    path, method = OPERATION
    operation = document["paths"][path][method]
    for parameter in operation["parameters"]:
        if parameter["name"] == "topic":
            parameter["example"] = topic
    media = operation["requestBody"]["content"]["application/json"]
    media["examples"] = {name: {"value": body} for name, body in body_examples().items()}
    target = folder / "openapi-targeted.json"
    target.write_text(json.dumps(document))
    return target


def run_schemathesis(
    label: str, document: Path, api_url: str, headers: list[str], reports: Path
) -> dict[str, Any]:
    """One schemathesis run; its summary from the JSON report (and the exit status)."""
    report = reports / f"{label}.json"
    command = [
        str(Path(sys.executable).parent / "st"),
        "--config-file",
        str(CONFIG),
        "run",
        str(document),
        "--url",
        api_url,
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        SEED,
        "--workers",
        "1",  # the local API serves one request at a time, like one Lambda container
        "--request-timeout",
        "60",
        "--generation-database",
        "none",
        "--report",
        "json",
        "--report-json-path",
        str(report),
        "--no-color",
    ]
    for header in headers:
        command += ["--header", header]
    print(f"\n==== schemathesis {label} ====", flush=True)
    status = subprocess.run(command, check=False).returncode
    summary: dict[str, Any] = json.loads(report.read_text()) if report.exists() else {}
    summary["exit_status"] = status
    return summary


def probe(api_url: str, topic: str, token: str) -> list[str]:
    """Send each raw probe; the problems found (empty when every answer is as documented)."""
    problems = []
    for raw in raw_probes():
        try:
            answer = http(
                "POST",
                f"{api_url}/topics/{topic}/records",
                raw.body,
                {"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
            )
        except OSError as error:  # the connection dropped: the process behind it crashed
            problems.append(f"{raw.name}: no answer ({error})")
            continue
        try:
            body = answer.json()
        except ValueError:
            problems.append(
                f"{raw.name}: {answer.status} with a body that is not JSON: {answer.body[:200]!r}"
            )
            continue
        if answer.status not in raw.expected:
            problems.append(f"{raw.name}: {answer.status} {json.dumps(body)[:300]}, expected {raw.expected}")
        elif answer.status == 400 and not all("field" in error for error in body.get("errors", [None])):
            problems.append(f"{raw.name}: 400 without the field named: {json.dumps(body)[:300]}")
    return problems


def _strict_json_problem(value: bytes) -> str | None:
    """Why `value` is not JSON every consumer reads the same way (None when it is)."""

    def reject(constant: str) -> None:
        raise ValueError(f"{constant} is not JSON")

    try:
        data = json.loads(value.decode("utf-8"), parse_constant=reject)
    except (ValueError, RecursionError) as error:
        return f"not strict JSON: {error!r}"[:200]
    pending = [data]
    while pending:
        item = pending.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return f"holds {item}"
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return "holds a lone surrogate"
        if isinstance(item, dict):
            pending += list(item.keys()) + list(item.values())
        elif isinstance(item, list):
            pending += item
    return None


def read_back(bootstrap: str, topic: str) -> tuple[int, list[str]]:
    """Read every record of the topic; how many, and those a consumer could not read as produced."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "fuzz-read-back", "enable.partition.eof": True}
    )
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, partition, 0) for partition in partitions])
    remaining, count, problems = set(partitions), 0, []
    deadline = READBACK_TIMEOUT_SECONDS
    while remaining and deadline > 0:
        for message in consumer.consume(500, timeout=1):
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    remaining.discard(message.partition())
                continue
            count += 1
            where = f"{message.partition()}@{message.offset()}"
            for name, part in [
                ("key", message.key()),
                *[(f"header {h!r}", v) for h, v in message.headers() or []],
            ]:
                if part is not None:
                    try:
                        part.decode("utf-8")
                    except UnicodeDecodeError:
                        problems.append(f"{where}: {name} is not UTF-8")
            if message.value() is not None and (problem := _strict_json_problem(message.value())):
                problems.append(f"{where}: value {problem}")
        deadline -= 1
    consumer.close()
    if remaining:
        problems.append(
            f"partitions {sorted(remaining)} not read to their end in {READBACK_TIMEOUT_SECONDS} s"
        )
    return count, problems


def _counts(summary: dict[str, Any]) -> str:
    """One line of a run's figures: test cases, failures by check, errors."""
    cases = summary.get("test_cases", {})
    failures = ", ".join(f"{f['code']} {f['title']} x{f['count']}" for f in summary.get("failures", []))
    errors = ", ".join(f"{e['title']} x{e['count']}" for e in summary.get("errors", []))
    return (
        f"{cases.get('generated', 0)} test cases, {cases.get('unique_failures', 0)} unique failures"
        + (f" ({failures})" if failures else "")
        + f", {cases.get('errored', 0)} errored"
        + (f" ({errors})" if errors else "")
    )


def main() -> int:
    stack = load_stack()
    if stack is None:
        print("run through make fuzz-api (it starts make local and gives its outputs)", file=sys.stderr)
        return 2
    outputs = stack.outputs
    api_url, topic = outputs["ApiUrl"], outputs["TopicName"]
    secret = stack.client("cognito-idp").describe_user_pool_client(
        UserPoolId=outputs["UserPoolId"], ClientId=outputs["MachineClientId"]
    )["UserPoolClient"]["ClientSecret"]
    token = request_token(outputs["TokenUrl"], outputs["MachineClientId"], secret, "records/write").json()[
        "access_token"
    ]
    folder = Path(tempfile.mkdtemp(prefix="fuzz-api-"))
    document = targeted_document(topic, folder)
    with_token = run_schemathesis("with-token", document, api_url, [f"Authorization: Bearer {token}"], folder)
    without_token = run_schemathesis("without-token", document, api_url, [], folder)
    problems = probe(api_url, topic, token)
    records, unreadable = read_back(outputs["BootstrapServers"], topic)
    print("\n==== fuzz-api summary ====")
    print(f"schemathesis with a token      exit {with_token['exit_status']}: {_counts(with_token)}")
    print(f"schemathesis without a token   exit {without_token['exit_status']}: {_counts(without_token)}")
    probes = len(raw_probes())
    print(f"targeted raw bodies            {probes - len(problems)} of {probes} answered as documented")
    for problem in problems:
        print(f"  {problem}")
    print(f"topic read back                {records} records, {len(unreadable)} not readable as produced")
    for problem in unreadable[:20]:
        print(f"  {problem}")
    print(f"reports                        {folder}")
    failed = with_token["exit_status"] or without_token["exit_status"] or problems or unreadable
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
