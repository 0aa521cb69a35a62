"""The root template's nested applications as the local runtime reads them: which of them an option deploys,
which functions each one enables (nested/kafka-function.yaml holds both the consumer and the archive's
forwarder; the Processor the root passes picks one), and which other applications' outputs each one reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local import aws
from local.aws import CLUSTER_TEMPLATES, read_template
from local.cfn import enabled_resources, evaluate_conditions, nested_parameters, parameter_values, references
from local.event_source_mapping import mapping_properties
from local.functions import LOCAL_CLUSTER_ARN, LOCAL_PARAMETERS, REPO, FunctionSpec, discover
from local.step_functions import STATE_MACHINE_TYPES

ROOT = REPO / "template.yaml"


def root_parameters(option: str, overrides: dict[str, str] | None = None) -> dict[str, str]:
    """The root template's parameter values for the option, against the local stand-in cluster unless
    `overrides` say otherwise."""
    chosen = {"DeploymentOption": option, "ExistingClusterArn": LOCAL_CLUSTER_ARN} | (overrides or {})
    return parameter_values(read_template(ROOT), chosen)


@dataclass(frozen=True)
class Application:
    """One nested application of the root, for one option."""

    logical_id: str
    template: Path
    parameters: dict[str, str]  # what the root passes it (other stacks' outputs: their local values)
    functions: tuple[FunctionSpec, ...]  # the functions its parameters enable
    reads_from: tuple[str, ...]  # the applications whose outputs it is passed
    # The parameters whose values come from other stacks' outputs or the root's pseudo parameters (in a
    # deployment: names and IDs CloudFormation gives)
    wired: frozenset[str] = frozenset()


def applications(option: str, overrides: dict[str, str] | None = None) -> list[Application]:
    """The nested applications the root deploys for `option` (against the local stand-in cluster, unless
    `overrides` of the root's parameters say otherwise), each after those whose outputs it reads."""
    root = read_template(ROOT)
    params = root_parameters(option, overrides)
    conditions = evaluate_conditions(root, params)
    resources = root["Resources"]
    by_template = {(spec.template, spec.logical_id): spec for spec in discover().values()}
    nested = [name for name, kind in enabled_resources(root, params).items() if kind == APPLICATION]
    reading = {
        name: tuple(
            sorted(
                {
                    read
                    for read, _ in references(resources[name]["Properties"].get("Parameters", {}))
                    if resources.get(read, {}).get("Type") == APPLICATION
                }
            )
        )
        for name in nested
    }
    # What the root's expressions read: its parameters, pseudo parameters and "App.Outputs.X" once known
    known = aws.LOCAL_PSEUDO_PARAMETERS | params
    found = []
    for logical_id in _after_what_they_read(nested, reading):
        properties = resources[logical_id]["Properties"]
        path = REPO / str(properties["Location"])
        template = read_template(path)
        values = _passed_values(root, logical_id, known, template)
        enabled = enabled_resources(template, aws.LOCAL_PSEUDO_PARAMETERS | values)
        functions = tuple(
            by_template[(path, name)] for name, kind in enabled.items() if (path, name) in by_template
        )
        wired = frozenset(
            name
            for name, node in properties.get("Parameters", {}).items()
            if any(
                read.startswith("AWS::") or resources.get(read, {}).get("Type") == APPLICATION
                for read, _ in references(node, conditions, pseudo=True)
            )
        )
        found.append(Application(logical_id, path, values, functions, reading[logical_id], wired))
        outputs = aws.template_outputs(path, values, logical_id)
        # The outputs the local runtime knows better (the stand-in cluster's, the foundation's)
        outputs |= {name: value for name, value in LOCAL_PARAMETERS.items() if name in outputs}
        known |= {f"{logical_id}.Outputs.{name}": value for name, value in outputs.items()}
    return found


APPLICATION = "AWS::Serverless::Application"


def _after_what_they_read(names: list[str], reading: dict[str, tuple[str, ...]]) -> list[str]:
    """`names` in template order, except that each comes after the applications it reads from."""
    ordered: list[str] = []
    pending = list(names)
    while pending:
        ready = next(
            (name for name in pending if all(r in ordered or r not in names for r in reading[name])), None
        )
        if ready is None:
            raise ValueError(f"the root's applications read each other's outputs in a cycle: {pending}")
        ordered.append(ready)
        pending.remove(ready)
    return ordered


def _passed_values(
    root: dict[str, Any], application: str, known: dict[str, str], template: dict[str, Any]
) -> dict[str, str]:
    """The nested template's parameter values: what the root passes, other stacks' outputs taking their
    local values. Where the local runtime cannot know an output (a marker) LOCAL_PARAMETERS gives it, as it
    does a parameter that has no default; any other parameter the root does not pass keeps its default."""
    declared = template.get("Parameters", {})
    passed = nested_parameters(root, application, known)
    given = {name: value for name, value in passed.items() if not value.startswith("<")}
    local = {
        name: value
        for name, value in LOCAL_PARAMETERS.items()
        if name in declared and (name in passed or "Default" not in declared[name])
    }
    return parameter_values(template, local | given)


def mapped_functions(option: str) -> list[FunctionSpec]:
    """The functions an MSK event source mapping invokes for this option."""
    mapped = {
        spec.name: spec
        for application in applications(option)
        for spec in application.functions
        if mapping_properties(read_template(spec.template), spec.logical_id)
    }
    return sorted(mapped.values(), key=lambda spec: spec.name)


def local_applications(option: str) -> list[Application]:
    """The applications whose resources the local runtime creates in moto for `option` (the broker stands in
    for the cluster and the lookup of its brokers)."""
    return [
        application for application in applications(option) if application.template not in CLUSTER_TEMPLATES
    ]


def applications_behind(spec: FunctionSpec) -> list[Application]:
    """The application that deploys the function (in `All`) and those whose outputs the root passes to it
    (for the archive's forwarder, nested/firehose-delivery.yaml's stream and bucket): what `make invoke`
    creates in moto for it."""
    deployed = {application.logical_id: application for application in local_applications("All")}
    behind: dict[str, Application] = {}
    for application in deployed.values():
        if spec in application.functions:
            behind[application.logical_id] = application
            behind |= {name: deployed[name] for name in application.reads_from if name in deployed}
    return list(behind.values())


def create_option_resources(endpoint: str, option: str, *also: Path) -> dict[str, str]:
    """Create in moto what the option's applications deploy, each with the parameters the root passes it,
    and what the templates `also` deploy with their local parameters (not their alarms and dashboards: the
    option does not watch them); logical ID -> local name or ID."""
    deployed = local_applications(option)
    created: dict[str, str] = {}
    for application in deployed:
        created |= aws.create_template_resources(
            endpoint, application.template, application.parameters, application.logical_id
        )
    for template in also:
        if template not in {application.template for application in deployed}:
            # Not part of the option: its alarms would watch what the option does not deploy
            created |= aws.create_template_resources(endpoint, template, monitoring=False)
    return created


def state_machine_functions(option: str) -> list[FunctionSpec]:
    """The functions the option's state machines invoke (their definitions or substitutions read the
    function's ARN or name): what the local Lambda Invoke API serves (`local.lambda_invoke`)."""
    invoked: dict[str, FunctionSpec] = {}
    for application in local_applications(option):
        resources = read_template(application.template)["Resources"]
        read = {
            name
            for resource in resources.values()
            if resource.get("Type") in STATE_MACHINE_TYPES
            for name, _ in references(resource.get("Properties", {}))
        }
        invoked |= {spec.name: spec for spec in application.functions if spec.logical_id in read}
    return sorted(invoked.values(), key=lambda spec: spec.name)
