"""State machines as Step Functions receives them, and what AWS enforces about them at deploy or run time
that the SAM transform, cfn-lint and checkov do not check. The deploy rules in tests/templates/deploy_rules.py
(state-machine-definitions-valid, distributed-maps-have-their-rights, inline-maps-are-bounded,
lambda-tasks-retry-service-errors, lambda-task-timeouts-cover-the-function,
state-machine-tasks-invoke-own-functions, state-machine-role-can-log-and-trace) are built on this module.

A template's state machines are evaluated in one stack of it (tests/templates/deployment.py: parameters,
resource names and ARNs as the services give them): the definition with its DefinitionSubstitutions made,
its role's statements with their resources rendered. Sources: docs/decisions.md, "Archive replay: the
state machine's rules".
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

from local.cfn import NO_VALUE
from tests.templates.deployment import ACCOUNT, REGION, StackModel
from tests.templates.sam_offline import REPO

STATE_MACHINE = "AWS::StepFunctions::StateMachine"
# `make asl-validator` installs the pinned validator here; asl/validate.js runs it.
ASL_VALIDATOR = REPO / "build" / "asl-validator"
VALIDATE_SCRIPT = Path(__file__).resolve().parent / "asl" / "validate.js"
PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
LAMBDA_INVOKE = re.compile(r"^arn:aws[a-z-]*:states:::lambda:invoke(\.waitForTaskToken)?$")
LAMBDA_ARN = re.compile(r"^arn:aws[a-z-]*:lambda:[^:]+:\d{12}:function:([^:]+)(:[^:]+)?$")
S3_READ = "arn:aws:states:::s3:getObject"
S3_LIST = "arn:aws:states:::s3:listObjectsV2"
S3_WRITE = "arn:aws:states:::s3:putObject"

# Step Functions Developer Guide, "IAM policies for using Distributed Map states": the role starts the map's
# child executions of its own state machine and follows them; the ItemReader reads the object (or lists the
# bucket), the ResultWriter writes the results with a multipart upload.
CHILD_EXECUTIONS = ("states:StartExecution",)
FOLLOW_EXECUTIONS = ("states:DescribeExecution",)
# A map's children are executions named <machine>/<Label>:<id>; "Redriving Map Runs" (redrive-map-run.html):
# redriving the parent redrives them (states:RedriveExecution on execution:<machine>/<Label>:*).
LABELLED_CHILD_ACTIONS = ("states:DescribeExecution", "states:StopExecution", "states:RedriveExecution")
READER_ACTIONS = {S3_READ: ("s3:GetObject",), S3_LIST: ("s3:ListBucket",)}
WRITER_ACTIONS = ("s3:PutObject", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload")
# "Using CloudWatch Logs to log execution history in Step Functions": the role's log delivery actions (they
# take no resource-level permissions); "Trace Step Functions request data in AWS X-Ray": the X-Ray actions.
LOG_DELIVERY_ACTIONS = (
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
)
TRACING_ACTIONS = (
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
)


@dataclass(frozen=True)
class Machine:
    """One state machine of a stack: its definition as Step Functions receives it (`text`, parsed into
    `definition` when it is JSON), the placeholders no substitution fills, its ARN, and the logical ID of
    its role (None when the role is not one of the stack's)."""

    logical_id: str
    arn: str
    name: str
    text: str
    definition: dict[str, Any] | None
    unresolved: tuple[str, ...]
    role: str | None
    properties: dict[str, Any]


def machines(stack: StackModel) -> list[Machine]:
    """The stack's enabled state machines (inline definitions: DefinitionString or Definition)."""
    found = []
    for logical_id, resource in stack.of_type(STATE_MACHINE).items():
        properties = resource.get("Properties", {})
        if "DefinitionString" in properties:
            text = str(stack.value(properties["DefinitionString"]))
        elif "Definition" in properties:
            text = json.dumps(stack.value(properties["Definition"]))
        else:
            continue
        substitutions = stack.value(properties.get("DefinitionSubstitutions", {}))
        for key, value in substitutions.items():
            text = text.replace("${" + key + "}", str(value))
        try:
            definition = json.loads(text)
        except json.JSONDecodeError:
            definition = None
        role = properties.get("RoleArn")
        role_id = role["Fn::GetAtt"][0] if isinstance(role, dict) and "Fn::GetAtt" in role else None
        found.append(
            Machine(
                logical_id,
                str(stack.values[logical_id]),
                stack.names[logical_id],
                text,
                definition if isinstance(definition, dict) else None,
                tuple(sorted(set(PLACEHOLDER.findall(text)))),
                role_id if role_id in stack.resources else None,
                properties,
            )
        )
    return found


def state_lists(definition: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """(path prefix, States) of the definition and of every Map iterator and Parallel branch in it."""
    listed = definition.get("States", {})
    yield path, listed
    for name, state in listed.items():
        if not isinstance(state, dict):
            continue
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if isinstance(processor, dict):
            yield from state_lists(processor, f"{path}{name}/")
        for index, branch in enumerate(state.get("Branches", [])):
            yield from state_lists(branch, f"{path}{name}[{index}]/")


def is_inline_map(state: dict[str, Any]) -> bool:
    """Whether the state is a Map that runs its iterations inline (in the execution's own history)."""
    processor = state.get("ItemProcessor") or state.get("Iterator") or {}
    mode = processor.get("ProcessorConfig", {}).get("Mode", "INLINE")
    return state.get("Type") == "Map" and mode == "INLINE"


def transitions(state: dict[str, Any]) -> list[str]:
    """The names of the states a state can go to: Next, a Choice's rules and Default, its Catchers."""
    targets = [state.get("Next"), state.get("Default")]
    targets += [choice.get("Next") for choice in state.get("Choices", [])]
    targets += [catcher.get("Next") for catcher in state.get("Catch", [])]
    return [str(target) for target in targets if target]


def back_edge(machine: dict[str, Any]) -> tuple[str, str] | None:
    """A transition (from, to) that closes a loop in `machine` (a definition or an iterator), else None."""
    listed = machine.get("States", {})
    on_path: list[str] = []
    done: set[str] = set()

    def visit(name: str) -> tuple[str, str] | None:
        on_path.append(name)
        for target in transitions(listed.get(name, {})):
            if target in on_path:
                return name, target
            if target in listed and target not in done:
                found = visit(target)
                if found:
                    return found
        on_path.pop()
        done.add(name)
        return None

    start = machine.get("StartAt")
    return visit(str(start)) if start in listed else None


# The states whose result is work done at run time (as many items as a function or a map answers); a Pass
# state's result is written in the definition.
WORKING_STATES = ("Task", "Map", "Parallel")


def _first_field(path: str) -> str:
    return path.removeprefix("$").lstrip(".").split(".")[0].split("[")[0]


def result_writer_of(listed: dict[str, Any], path: str) -> str | None:
    """The name of a Task, Map or Parallel state of `listed` whose result lands where `path` ($.a.b) reads:
    the states whose ResultPath names the path's first field decide; when none does, a state whose result
    replaces the whole input (ResultPath $, the default) does."""
    first = _first_field(path)
    written = {
        name: _first_field(str(state.get("ResultPath", "$")))
        for name, state in listed.items()
        if isinstance(state, dict) and not ("ResultPath" in state and state["ResultPath"] is None)
    }
    exact = [name for name, field in written.items() if first and field == first]
    candidates = exact or [name for name, field in written.items() if not field or not first]
    working = [name for name in candidates if listed[name].get("Type") in WORKING_STATES]
    return working[0] if working else None


# "Handle Lambda service exceptions"
# (docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html): Lambda's transient
# service errors to retry, and TooManyRequestsException when Lambda is at its concurrency.
LAMBDA_SERVICE_ERRORS = (
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
)
# "Error handling in Step Functions": States.TaskFailed matches any error of a Task but States.Timeout.
TASK_ERROR_WILDCARDS = ("States.ALL", "States.TaskFailed")


def deciding_retrier(state: dict[str, Any], error: str) -> dict[str, Any] | None:
    """The retrier Step Functions uses for a Task's `error`: the first whose ErrorEquals names it or a
    wildcard that matches it (retriers are tried in order), else None."""
    for retrier in state.get("Retry", []):
        names = retrier.get("ErrorEquals", [])
        if error in names or any(name in names for name in TASK_ERROR_WILDCARDS):
            return dict(retrier)
    return None


def states(definition: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """(path, state) of every state, those of Map iterators and Parallel branches included."""
    for name, state in definition.get("States", {}).items():
        if not isinstance(state, dict):
            continue
        yield f"{path}{name}", state
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if isinstance(processor, dict):
            yield from states(processor, f"{path}{name}/")
        for index, branch in enumerate(state.get("Branches", [])):
            yield from states(branch, f"{path}{name}[{index}]/")


# ---------------------------------------------------------------------------------------------- validity
def asl_validator_problems(definitions: dict[str, str]) -> dict[str, list[str]]:
    """asl-validator's errors for each definition (name -> text); raises when it is not installed."""
    if not (ASL_VALIDATOR / "node_modules" / "asl-validator").is_dir():
        raise RuntimeError(f"asl-validator is not installed in {ASL_VALIDATOR}: run `make asl-validator`")
    done = subprocess.run(
        ["node", str(VALIDATE_SCRIPT)],
        input=json.dumps({name: json.loads(text) for name, text in definitions.items()}),
        capture_output=True,
        text=True,
        cwd=ASL_VALIDATOR,
        env={"NODE_PATH": str(ASL_VALIDATOR / "node_modules"), "PATH": "/usr/bin:/bin:/usr/local/bin"},
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"asl-validator failed ({done.returncode}): {done.stderr.strip()}")
    results: dict[str, list[str]] = json.loads(done.stdout)
    return results


def moto_parser_problem(text: str) -> str:
    """Why moto's Step Functions interpreter (LocalStack's ASL grammar) refuses the definition, or ""."""
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # it prints notes on fields it does not run
            AmazonStateLanguageParser.parse(text)
    except Exception as error:  # its parser raises several kinds; each is a refusal here
        return f"{type(error).__name__}: {str(error).strip()[:300]}"
    return ""


# ---------------------------------------------------------------------------------------------- IAM
@dataclass(frozen=True)
class Grants:
    """The Allow statements of a role (inline policies and the stack's policies attached to it), their
    actions and resources rendered. Conditions are not evaluated: a statement with one still counts."""

    statements: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]

    def allows(self, action: str, resource: str) -> bool:
        """Whether a statement allows `action` on `resource` (IAM wildcards * and ?)."""
        return any(
            any(fnmatchcase(action.lower(), pattern.lower()) for pattern in actions)
            and any(fnmatchcase(resource, pattern) for pattern in resources)
            for actions, resources in self.statements
        )

    def missing(self, actions: tuple[str, ...], resource: str) -> list[str]:
        """The actions of `actions` not allowed on `resource`."""
        return [action for action in actions if not self.allows(action, resource)]


def role_grants(stack: StackModel, role_id: str) -> Grants:
    """What the stack's role `role_id` is allowed: its inline policies, and the stack's AWS::IAM::Policy and
    AWS::IAM::ManagedPolicy resources that name it (Roles) or that it names (ManagedPolicyArns)."""
    role = stack.value(stack.resources[role_id].get("Properties", {}))
    documents = [
        policy.get("PolicyDocument", {}) for policy in role.get("Policies", []) if policy is not NO_VALUE
    ]
    attached = {str(arn) for arn in role.get("ManagedPolicyArns", []) if arn is not NO_VALUE}
    for policy_id in stack.of_type("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        properties = stack.resources[policy_id].get("Properties", {})
        roles = properties.get("Roles", [])
        if {"Ref": role_id} in roles or str(stack.values.get(policy_id)) in attached:
            documents.append(stack.value(properties.get("PolicyDocument", {})))
    statements = []
    for document in documents:
        listed = document.get("Statement", [])
        for statement in listed if isinstance(listed, list) else [listed]:
            if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
                continue
            statements.append((_strings(statement.get("Action")), _strings(statement.get("Resource"))))
    return Grants(tuple(statements))


def _strings(node: Any) -> tuple[str, ...]:
    values = node if isinstance(node, list) else [node]
    return tuple(str(value) for value in values if value is not None and value is not NO_VALUE)


# ---------------------------------------------------------------------------------------------- Lambda
def lambda_target(state: dict[str, Any]) -> tuple[str, bool] | None:
    """(function name or ARN, whether a path gives it) of a Task that invokes Lambda, else None."""
    if state.get("Type") != "Task":
        return None
    resource = str(state.get("Resource", ""))
    if LAMBDA_ARN.match(resource):
        return resource, False
    if not LAMBDA_INVOKE.match(resource):
        return None
    parameters = state.get("Parameters") or state.get("Arguments") or {}
    if "FunctionName" in parameters:
        return str(parameters["FunctionName"]), False
    return str(parameters.get("FunctionName.$", "")), True


def function_arn(target: str) -> str:
    """The function ARN Step Functions invokes for a FunctionName (a name, a partial or a full ARN)."""
    if target.startswith("arn:"):
        return target
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{target}"


def stack_function(stack: StackModel, target: str) -> str | None:
    """The logical ID of the stack's Lambda function a FunctionName names (with or without a qualifier)."""
    unqualified = LAMBDA_ARN.sub(lambda match: match.group(0).removesuffix(match.group(2) or ""), target)
    for function_id in stack.of_type("AWS::Lambda::Function"):
        if unqualified in (stack.values.get(f"{function_id}.Arn"), stack.names[function_id]):
            return function_id
    return None


def longest_timeout(stack: StackModel, function_id: str) -> int:
    """The longest Timeout (seconds) the function can have: its value in this stack, or the largest a
    parameter it reads admits (MaxValue or AllowedValues). Lambda's default is 3 s."""
    node = stack.resources[function_id].get("Properties", {}).get("Timeout", 3)
    if isinstance(node, dict) and "Ref" in node and node["Ref"] in stack.template.get("Parameters", {}):
        spec = stack.template["Parameters"][node["Ref"]]
        bounds = [int(v) for v in spec.get("AllowedValues", [])] + [int(spec.get("MaxValue", 0))]
        return max([int(stack.value(node)), *bounds])
    return int(stack.value(node))


def bucket_key(stack: StackModel, bucket_name: str) -> str | None:
    """The KMS key (ID or ARN) that encrypts the stack's bucket of this name by default, else None."""
    for bucket_id in stack.of_type("AWS::S3::Bucket"):
        if stack.names[bucket_id] != bucket_name:
            continue
        encryption = stack.value(stack.resources[bucket_id].get("Properties", {}).get("BucketEncryption", {}))
        for rule in encryption.get("ServerSideEncryptionConfiguration", []):
            default = rule.get("ServerSideEncryptionByDefault", {})
            if str(default.get("SSEAlgorithm", "")).startswith("aws:kms") and default.get("KMSMasterKeyID"):
                return str(default["KMSMasterKeyID"])
    return None
