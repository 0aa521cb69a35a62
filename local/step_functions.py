"""Step Functions locally: moto's server runs a state machine's definition with its ASL interpreter
(moto/stepfunctions/parser, LocalStack's), which calls AWS services on the moto server itself (S3 for a
Distributed Map's ItemReader and ResultWriter, Lambda for `arn:aws:states:::lambda:invoke` tasks, which
`local.lambda_invoke` routes to the functions' execution environments).

moto executes definitions only when configured with `{"stepfunctions": {"execute_state_machine": true}}`
(otherwise an execution just succeeds), and its interpreter finds the server at
`http://localhost:$MOTO_PORT` (moto/stepfunctions/parser/asl/utils/boto_client.py).
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# An interpreter that runs with `execute_state_machine` keeps its state machines in a backend of its own:
# the configuration is set before any state machine is created.
INTERPRETER_CONFIG = {"stepfunctions": {"execute_state_machine": True}}
STATE_MACHINE_TYPES = ("AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine")
_SUBSTITUTION = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


def enable_interpreter(endpoint: str) -> None:
    """Make the moto server at `endpoint` (in this process) run state machines' definitions, calling back
    into itself. MOTO_PORT is this process's: the last server enabled is the one the interpreter calls."""
    request = urllib.request.Request(
        f"{endpoint}/moto-api/config",
        data=json.dumps(INTERPRETER_CONFIG).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10):
        pass
    os.environ["MOTO_PORT"] = endpoint.rsplit(":", 1)[1]


def definition_text(definition: dict[str, Any], substitutions: dict[str, Any]) -> str:
    """What Step Functions runs for an inline `Definition` with `DefinitionSubstitutions` (intrinsics already
    resolved): SAM's transform writes the definition as JSON and CloudFormation replaces each `${Name}` of
    the JSON text with the substitution's value. A `${Name}` without a value is an error, as in
    CloudFormation."""
    text = json.dumps(definition, indent=2)
    missing = sorted({name for name in _SUBSTITUTION.findall(text) if name not in substitutions})
    if missing:
        raise ValueError(
            f"the definition reads ${{{missing[0]}}}, which DefinitionSubstitutions does not give"
        )
    return _SUBSTITUTION.sub(lambda match: str(substitutions[match.group(1)]), text)


def state_machine_arn(name: str, region: str, account: str) -> str:
    """The ARN Step Functions gives a state machine of that name."""
    return f"arn:aws:states:{region}:{account}:stateMachine:{name}"


@dataclass
class Execution:
    """How an execution ended, and the states it entered in order (its history)."""

    arn: str
    status: str
    output: dict[str, Any] | None
    error: str | None
    cause: str | None
    entered: list[str] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)


def wait_for_execution(
    sfn: Any,
    execution_arn: str,
    timeout_seconds: float,
    progress: Callable[[str], None] | None = None,
) -> Execution:
    """Poll the execution until it is no longer RUNNING (TimeoutError after `timeout_seconds`); how it ended,
    with its history. `progress` is called with the name of each state as it is entered."""
    deadline = time.monotonic() + timeout_seconds
    reported = 0
    while True:
        described = sfn.describe_execution(executionArn=execution_arn)
        if progress is not None:
            entered = _entered(execution_history(sfn, execution_arn))
            for name in entered[reported:]:
                progress(name)
            reported = len(entered)
        if described["status"] != "RUNNING":
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"{execution_arn} still RUNNING after {timeout_seconds:.0f} s")
        time.sleep(0.5 if progress is not None else 0.2)
    history = execution_history(sfn, execution_arn)
    return Execution(
        execution_arn,
        described["status"],
        json.loads(described["output"]) if described.get("output") else None,
        described.get("error"),
        described.get("cause"),
        _entered(history),
        history,
    )


def _entered(history: list[dict[str, Any]]) -> list[str]:
    return [
        event["stateEnteredEventDetails"]["name"] for event in history if "stateEnteredEventDetails" in event
    ]


def execution_history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    """Every event of the execution's history, oldest first."""
    events: list[dict[str, Any]] = []
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
        events += page["events"]
    return events
