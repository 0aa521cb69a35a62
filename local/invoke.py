"""`make invoke FUNCTION=<name> EVENT=<file>`: a Docker-free `sam local invoke`.

Runs one function's handler in this process with an event file, the environment its template gives it,
and the local backends it needs (a Kafka broker for Kafka clients, moto with the template's buckets and
streams for AWS calls); prints the response. Each invocation is a cold container.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from local import aws
from local.broker import running_broker
from local.functions import REPO, FunctionSpec, discover, load_handler
from local.lambda_context import LocalLambdaContext
from local.replay_world import run_steps_before
from local.root_stack import applications_behind

# The archive replay's function: its steps read what the earlier steps of the run wrote.
REPLAY_FUNCTION = "archive_replay"


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _cold_container(function: str) -> None:
    """Forget what a previous invocation cached: the function's modules and the shared layer's caches."""
    for module_file in (REPO / "functions" / function).glob("*.py"):
        sys.modules.pop(module_file.stem, None)
    # Powertools reads service name and metrics namespace when Logger/Metrics are created: create them anew.
    sys.modules.pop("streaming_common.observability", None)
    from streaming_common.aws_clients import client  # noqa: PLC0415 - after the environment is set
    from streaming_common.settings import load_settings  # noqa: PLC0415

    client.cache_clear()
    load_settings.cache_clear()


def _create_topics(bootstrap: str, topics: list[str], partitions: int = 3) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]  # noqa: PLC0415

    admin = AdminClient({"bootstrap.servers": bootstrap})
    existing = set(admin.list_topics(timeout=10).topics)
    missing = [NewTopic(t, partitions, -1) for t in topics if t not in existing]
    if not missing:  # the admin client refuses an empty list
        return
    for future in admin.create_topics(missing).values():
        future.result(10)


@contextmanager
def backends(spec: FunctionSpec) -> Iterator[dict[str, str]]:
    """Start what `spec` needs; yield the environment that points the function at it."""
    overrides = {"POWERTOOLS_TRACE_DISABLED": "true"} | aws.LOCAL_CREDENTIALS
    with ExitStack() as stack:
        if {"DELIVERY_STREAM_NAME", "ARCHIVE_BUCKET_NAME"} & set(spec.environment):
            endpoint = stack.enter_context(aws.running_moto())
            for application in applications_behind(spec):
                aws.create_template_resources(
                    endpoint, application.template, application.parameters, application.logical_id
                )
            overrides |= aws.environment(endpoint)
        if "KAFKA_AUTH" in spec.environment:
            bootstrap = stack.enter_context(running_broker())
            topics = [t.strip() for t in spec.environment.get("ALLOWED_TOPICS", "").split(",") if t.strip()]
            _create_topics(bootstrap, topics)
            overrides |= {"KAFKA_BOOTSTRAP_SERVERS": bootstrap, "KAFKA_AUTH": "PLAINTEXT"}
        yield overrides


def function_spec(function: str) -> FunctionSpec:
    """The template's description of `function` (its folder name), or a clear error."""
    functions = discover()
    if function not in functions:
        raise SystemExit(f"unknown function {function!r}; one of: {', '.join(sorted(functions))}")
    return functions[function]


@contextmanager
def cold_container(spec: FunctionSpec, overrides: dict[str, str]) -> Iterator[Any]:
    """Yield the handler of a new container of `spec`, its environment set for as long as it is used."""
    with _environment(spec.environment | overrides):
        _cold_container(spec.name)
        yield load_handler(spec.name).lambda_handler


def invoke(function: str, event: dict[str, Any]) -> Any:
    """The handler's response to `event`, run as a new container of `function`. For a step of the archive
    replay, the steps before it run first on a sample archive (`local.replay_world`)."""
    spec = function_spec(function)
    with backends(spec) as overrides, cold_container(spec, overrides) as handler:

        def context() -> LocalLambdaContext:
            return LocalLambdaContext(spec.logical_id, spec.timeout_seconds * 1000)

        prepare_replay_step(spec, overrides, event, handler, context)
        return handler(event, context())


def prepare_replay_step(
    spec: FunctionSpec,
    overrides: dict[str, str],
    event: dict[str, Any],
    handler: Callable[[dict[str, Any], Any], Any],
    context: Callable[[], Any],
) -> None:
    """For a step of the archive replay: its sample archive, its topics and the steps before it, run by
    `handler` (`local.replay_world`); nothing for other functions."""
    if spec.name != REPLAY_FUNCTION or "request" not in event:
        return
    bootstrap = overrides["KAFKA_BOOTSTRAP_SERVERS"]
    run_steps_before(
        event,
        handler,
        context,
        spec.environment | overrides,
        lambda topic, partitions: _create_topics(bootstrap, [topic], partitions),
    )


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: python -m local.invoke FUNCTION EVENT_FILE", file=sys.stderr)
        return 2
    event = json.loads(Path(argv[2]).read_text())
    response = invoke(argv[1], event)
    print(json.dumps(response, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
