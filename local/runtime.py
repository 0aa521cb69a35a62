"""`make local [OPTION=All]`: the local runtime kept running until stopped, like `sam local start-api`.

For the chosen option: a Kafka broker (Tansu) and moto with the resources the option's templates declare; the
topic, created by the topic provisioner's logic; the REST front in front of the real producer and the user
pool's token endpoint (when the option deploys the API); the option's functions on event source mappings that
poll continuously. Every function runs in a process of its own whose output goes to its log group in moto's
CloudWatch Logs (local.containers). It prints the outputs a deployed stack has, a curl command with a fresh
token, and writes the outputs as JSON to a file (what `make e2e-local` reads). Stops cleanly, exit 0.
"""

from __future__ import annotations

import argparse
import base64
import json
import shlex
import signal
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
import urllib.request
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from local import aws, lambda_invoke
from local.broker import running_broker
from local.cloudwatch_logs import LogShipper
from local.cognito import AccessTokenVerifier
from local.containers import FunctionContainer
from local.event_source_mapping import EventSourceMapping, MappingConfig, s3_destination
from local.functions import REPO, FunctionSpec, discover, local_name
from local.option_stack import (
    INGEST_API,
    OPTIONS,
    create_topic,
    required_scopes,
    topic_defaults,
)
from local.rest_front import RestFront
from local.root_stack import create_option_resources, mapped_functions, state_machine_functions
from local.stack_outputs import stack_outputs
from local.token_endpoint import TokenEndpoint

# Outputs only the local runtime has: where its broker and its AWS endpoint (moto) listen.
BOOTSTRAP_OUTPUT = "BootstrapServers"
ENDPOINT_OUTPUT = "AwsEndpointUrl"
# Where `make local` writes its outputs unless told otherwise (`make replay` reads them there too).
DEFAULT_OUTPUTS = REPO / "build" / "local" / "outputs.json"
MAPPING_RESTART_SECONDS = 1.0


@dataclass
class Running:
    """What the runtime started, for the report."""

    option: str
    folder: Path
    bootstrap: str
    endpoint: str
    topic: str
    templates: list[Path]
    outputs: dict[str, str] = field(default_factory=dict)
    unavailable: list[str] = field(default_factory=list)
    mapped: list[FunctionSpec] = field(default_factory=list)
    invoked: list[FunctionSpec] = field(default_factory=list)  # by the state machines, through Invoke
    token: str | None = None
    client_secret: str | None = None


def _poll_until_stopped(mapping: EventSourceMapping, stop: threading.Event) -> None:
    """Run the mapping as Lambda's pollers run: continuously; an error is reported and polling goes on."""
    while not stop.is_set():
        try:
            mapping.run_until_stopped(stop)
        except Exception:
            print(f"event source mapping of {mapping.config.function} failed:", file=sys.stderr)
            traceback.print_exc()
            stop.wait(MAPPING_RESTART_SECONDS)
    mapping.close()


def _fetch_token(token_url: str, client_id: str, secret: str) -> str:
    """An access token from the token endpoint, with the client credentials grant (as a producer gets it)."""
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    request = urllib.request.Request(
        token_url,
        data=urllib.parse.urlencode({"grant_type": "client_credentials"}).encode(),
        headers={"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(json.loads(response.read())["access_token"])


def start(stack: ExitStack, option: str, folder: Path) -> Running:
    """Start everything for `option`; what is started is stopped when `stack` closes, in reverse order."""
    bootstrap = stack.enter_context(running_broker(folder / "tansu.log"))
    endpoint = stack.enter_context(aws.running_moto())
    templates = aws.option_templates(option)
    created = create_option_resources(endpoint, option)
    topic, partitions = topic_defaults()
    create_topic(bootstrap, topic, partitions)
    running = Running(option, folder, bootstrap, endpoint, topic, templates)

    shipper = LogShipper(aws.client("logs", endpoint), folder / "functions.log")
    stack.callback(shipper.close)
    backends = aws.environment(endpoint) | {"POWERTOOLS_TRACE_DISABLED": "true"}  # no X-Ray daemon here
    local_values = {BOOTSTRAP_OUTPUT: bootstrap, "BootstrapBrokersCommand": f"echo {bootstrap}"}
    kafka = {"KAFKA_BOOTSTRAP_SERVERS": bootstrap, "KAFKA_AUTH": "PLAINTEXT"}

    # The state machines (the archive replay's) run in moto; their Lambda tasks reach these functions.
    running.invoked = state_machine_functions(option)
    stack.enter_context(lambda_invoke.serving(running.invoked, backends | kafka, shipper))

    if INGEST_API in templates:
        functions = discover()
        producer = FunctionContainer(functions["producer"], backends | kafka, shipper)
        stack.callback(producer.close)
        producer.start()
        pool_id, client_id = created["UserPool"], created["MachineClient"]
        tokens = stack.enter_context(TokenEndpoint(endpoint, pool_id))
        front = stack.enter_context(RestFront(producer, AccessTokenVerifier(pool_id, required_scopes())))
        local_values |= {"ApiUrl": front.url, "TokenUrl": tokens.url}
        cognito = aws.client("cognito-idp", endpoint)
        client = cognito.describe_user_pool_client(UserPoolId=pool_id, ClientId=client_id)["UserPoolClient"]
        running.client_secret = str(client["ClientSecret"])
        running.token = _fetch_token(tokens.url, client_id, running.client_secret)

    stop_polling = threading.Event()
    s3 = aws.client("s3", endpoint)
    pollers: list[threading.Thread] = []
    for spec in mapped_functions(option):
        container = FunctionContainer(spec, backends, shipper)
        stack.callback(container.close)
        container.start()
        mapping = EventSourceMapping(
            MappingConfig.from_template(spec, topic),
            bootstrap,
            container,
            s3_destination(s3, local_name("FailedBatchesBucket"), spec.name),
        )
        poller = threading.Thread(
            target=_poll_until_stopped, args=(mapping, stop_polling), name=f"esm-{spec.name}", daemon=True
        )
        poller.start()
        pollers.append(poller)
        running.mapped.append(spec)

    def stop_pollers() -> None:
        stop_polling.set()
        for poller in pollers:
            poller.join(timeout=30)

    stack.callback(stop_pollers)  # first to run: the pollers stop before the functions and backends do
    running.outputs, running.unavailable = stack_outputs(option, created, local_values)
    running.outputs |= {BOOTSTRAP_OUTPUT: bootstrap, ENDPOINT_OUTPUT: endpoint}
    return running


def write_outputs(outputs: dict[str, str], path: Path) -> None:
    """Write the outputs as one JSON object, atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(outputs, indent=2) + "\n")
    partial.replace(path)


def report(running: Running, outputs_path: Path) -> str:
    """What a person reads: the outputs, where things are, and commands to try."""
    width = max(len(name) for name in running.outputs) + 2
    lines = [f"make local: OPTION={running.option} is running; Ctrl-C (or SIGTERM) stops it", "", "Outputs"]
    lines += [f"  {name:<{width}}{value}" for name, value in running.outputs.items()]
    if running.unavailable:
        lines.append(f"  (no local value: {', '.join(running.unavailable)})")
    lines += [
        "",
        f"outputs as JSON   {outputs_path}",
        "resources         "
        + (
            "in moto, as declared by " + ", ".join(str(t.relative_to(REPO)) for t in running.templates)
            if running.templates
            else "none: the option deploys no nested template yet"
        ),
        f"topic             {running.topic}",
        "functions         "
        + (
            ", ".join(f"{s.name} (log group {s.log_group})" for s in running.mapped) + " polling continuously"
            if running.mapped
            else "none on an event source mapping"
        ),
        *(
            [
                "state machines    run by moto's interpreter; their tasks invoke "
                + ", ".join(f"{s.name} (log group {s.log_group})" for s in running.invoked)
            ]
            if running.invoked
            else []
        ),
        f"function logs     moto's CloudWatch Logs, and {running.folder / 'functions.log'}",
    ]
    if running.option in ("FlinkS3", "All"):
        lines.append("flink job         not run here: make demo runs it over the topic's records")
    environment = " ".join(f"{k}={v}" for k, v in aws.environment(running.endpoint).items())
    lines += ["", "Try it", f"  export {environment}"]
    if running.token is not None:
        api, token_url = running.outputs["ApiUrl"], running.outputs["TokenUrl"]
        body = json.dumps(
            {"records": [{"key": "device-1", "value": {"type": "reading", "temperature": 21.5}}]}
        )
        lines += [
            f"  curl -X POST {api}/topics/{running.topic}/records -H 'Authorization: Bearer {running.token}' "
            f"-H 'Content-Type: application/json' -d {shlex.quote(body)}",
            "  # a new token (valid for an hour):",
            f"  curl -u {running.outputs['MachineClientId']}:{running.client_secret} "
            f"-d grant_type=client_credentials {token_url}",
        ]
    lines.append(f"  kcat -b {running.bootstrap} -t {running.topic} -C -J -e")
    if "ArchiveBucketName" in running.outputs:
        lines.append(f"  aws s3 ls s3://{running.outputs['ArchiveBucketName']}/data/ --recursive")
    if "ReplayStateMachineArn" in running.outputs:
        lines.append(
            f"  make replay FROM=<ISO-8601 or epoch ms> TO=<...> TARGET={running.topic}-replay"
            + ("" if outputs_path == DEFAULT_OUTPUTS else f" OUTPUTS={outputs_path}")
            + "   # docs/replay.md"
        )
    lines += [f"  aws logs tail {spec.log_group}" for spec in running.mapped]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="make local", description=__doc__.split("\n")[0])
    parser.add_argument("option", nargs="?", default="All", choices=OPTIONS)
    parser.add_argument("--outputs", type=Path, help="where to write the outputs as JSON")
    args = parser.parse_args(argv)
    stop = threading.Event()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signal_number, lambda *_: stop.set())
    folder = Path(tempfile.mkdtemp(prefix="msk-local-"))
    outputs_path = args.outputs or DEFAULT_OUTPUTS
    with ExitStack() as stack:
        running = start(stack, args.option, folder)
        write_outputs(running.outputs, outputs_path)
        stack.callback(outputs_path.unlink, missing_ok=True)  # stale outputs would point at nothing
        print(report(running, outputs_path), flush=True)
        while not stop.wait(0.5):
            pass
        print("stopping", flush=True)
        started = time.monotonic()
    print(f"stopped in {time.monotonic() - started:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
