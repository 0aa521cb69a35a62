"""The root template's nested applications as the local runtime reads them: which of them an option deploys,
which functions each one enables (nested/kafka-function.yaml holds both the consumer and the archive's
forwarder; the Processor the root passes picks one), and which other applications' outputs each one reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local import aws
from local.aws import CLUSTER_TEMPLATES
from local.cfn import enabled_resources, nested_parameters, parameter_values, references
from local.event_source_mapping import mapping_properties
from local.functions import LOCAL_PARAMETERS, REPO, FunctionSpec, discover, load_template
from local.stack_outputs import root_parameters

ROOT = REPO / "template.yaml"


@dataclass(frozen=True)
class Application:
    """One nested application of the root, for one option."""

    logical_id: str
    template: Path
    parameters: dict[str, str]  # what the root passes it (other stacks' outputs: their local values)
    functions: tuple[FunctionSpec, ...]  # the functions its parameters enable
    reads_from: tuple[str, ...]  # the applications whose outputs it is passed


def applications(option: str) -> list[Application]:
    """The nested applications the root deploys for `option` (against the local stand-in cluster)."""
    root = load_template(ROOT)
    params = root_parameters(option)
    resources = root["Resources"]
    by_template = {(spec.template, spec.logical_id): spec for spec in discover().values()}
    found = []
    for logical_id, kind in enabled_resources(root, params).items():
        if kind != "AWS::Serverless::Application":
            continue
        properties = resources[logical_id]["Properties"]
        path = REPO / str(properties["Location"])
        template = load_template(path)
        values = _passed_values(root, logical_id, params, template)
        enabled = enabled_resources(template, values)
        functions = tuple(
            by_template[(path, name)] for name, kind in enabled.items() if (path, name) in by_template
        )
        reads_from = tuple(
            sorted(
                name
                for name, _ in references(properties.get("Parameters", {}))
                if resources.get(name, {}).get("Type") == "AWS::Serverless::Application"
            )
        )
        found.append(Application(logical_id, path, values, functions, reads_from))
    return found


def _passed_values(
    root: dict[str, Any], application: str, params: dict[str, str], template: dict[str, Any]
) -> dict[str, str]:
    """The nested template's parameter values: what the root passes, except other stacks' outputs (markers
    locally), which take their local values."""
    declared = template.get("Parameters", {})
    passed = {
        name: value
        for name, value in nested_parameters(root, application, params).items()
        if not value.startswith("<")
    }
    return parameter_values(template, {k: v for k, v in (LOCAL_PARAMETERS | passed).items() if k in declared})


def mapped_functions(option: str) -> list[FunctionSpec]:
    """The functions an MSK event source mapping invokes for this option."""
    mapped = {
        spec.name: spec
        for application in applications(option)
        for spec in application.functions
        if mapping_properties(load_template(spec.template), spec.logical_id)
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
    and what the templates `also` deploy with their local parameters; logical ID -> local name or ID."""
    deployed = local_applications(option)
    created: dict[str, str] = {}
    for application in deployed:
        created |= aws.create_template_resources(endpoint, application.template, application.parameters)
    for template in also:
        if template not in {application.template for application in deployed}:
            created |= aws.create_template_resources(endpoint, template)
    return created
