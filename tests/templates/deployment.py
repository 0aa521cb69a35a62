"""A deployment evaluated as CloudFormation would create it, without an account: the root stack with given
parameter values, each nested stack it enables with the values the root passes (another stack's outputs
resolved from that stack), and every resource's `Ref` and attributes in the form its service gives them
(a function's name, a cluster's ARN built from its ClusterName, a queue's URL...).

Names CloudFormation generates are "<stack name>-<logical ID>-<random suffix>" (CloudFormation "Name type":
"stack123123123123-s3bucket-abcdefghijk1"), the stack's part cut so that the whole fits the longest name the
service takes (`NAMES`; the cut is not documented, it is what deployed stacks show); a nested stack is named
"<parent>-<logical ID>-<suffix>" (not cut here: the longest case). With a root stack name of 128 characters
(the quota) every generated name is as long as CloudFormation can make it: the deploy rules use that
(`WORST_CASE_STACK_NAME`).

Types that `NAMES` does not list get a generated name for `Ref`, and their attributes stay markers
"<Logical.Attribute>" (a custom resource's attributes, for example).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from graphlib import TopologicalSorter
from pathlib import Path
from typing import Any

from local.cfn import (
    NO_VALUE,
    PSEUDO_PARAMETERS,
    evaluate,
    evaluate_conditions,
    parameter_values,
    references,
)
from tests.templates.sam_offline import REPO, load_template, translate

APPLICATION_TYPES = ("AWS::Serverless::Application", "AWS::CloudFormation::Stack")
# The random part of a generated name (CloudFormation uses 12 or 13 characters: the longer one here).
SUFFIX = "1A2B3C4D5E6F7"
# The longest stack name CloudFormation takes (CloudFormation quotas, "Stack name": 128 characters).
WORST_CASE_STACK_NAME = "s" * 128
REGION = PSEUDO_PARAMETERS["AWS::Region"]
ACCOUNT = PSEUDO_PARAMETERS["AWS::AccountId"]


@dataclass(frozen=True)
class Naming:
    """How a resource type is named and what `Ref` and its attributes give. `ref` and each attribute are
    str.format templates over name, id (a UUID of the resource), region and account."""

    name_property: str | None
    limit: int
    ref: str = "{name}"
    attributes: dict[str, str] = field(default_factory=dict)
    lower_case: bool = False


def _arn(service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
    return f"arn:aws:{service}:{'{region}' if region else ''}:{'{account}' if account else ''}:{resource}"


CLUSTER_ARN = _arn("kafka", "cluster/{name}/{id}-3")
ALARM = Naming("AlarmName", 255, attributes={"Arn": _arn("cloudwatch", "alarm:{name}")})
# Limits: the longest name each service takes (CloudFormation resource reference, its "<Name>" property).
NAMES: dict[str, Naming] = {
    "AWS::Lambda::Function": Naming(
        "FunctionName", 64, attributes={"Arn": _arn("lambda", "function:{name}")}
    ),
    "AWS::Lambda::EventSourceMapping": Naming(None, 36, ref="{id}", attributes={"Id": "{id}"}),
    "AWS::Lambda::LayerVersion": Naming("LayerName", 140, ref=_arn("lambda", "layer:{name}:1")),
    "AWS::MSK::Cluster": Naming("ClusterName", 64, ref=CLUSTER_ARN, attributes={"Arn": CLUSTER_ARN}),
    "AWS::MSK::ServerlessCluster": Naming(
        "ClusterName", 64, ref=CLUSTER_ARN, attributes={"Arn": CLUSTER_ARN}
    ),
    "AWS::KinesisFirehose::DeliveryStream": Naming(
        "DeliveryStreamName", 64, attributes={"Arn": _arn("firehose", "deliverystream/{name}")}
    ),
    "AWS::KinesisAnalyticsV2::Application": Naming("ApplicationName", 128),
    # Its name (the ApiName dimension of its metrics) is the Name property; `Ref` gives its 10-character ID.
    "AWS::ApiGateway::RestApi": Naming(
        "Name", 1024, ref="{short_id}", attributes={"RootResourceId": "{short_id}"}
    ),
    "AWS::ApiGateway::Stage": Naming("StageName", 128),
    "AWS::SQS::Queue": Naming(
        "QueueName",
        80,
        ref="https://sqs.{region}.amazonaws.com/{account}/{name}",
        attributes={"QueueName": "{name}", "Arn": _arn("sqs", "{name}")},
    ),
    "AWS::SNS::Topic": Naming(
        "TopicName",
        256,
        ref=_arn("sns", "{name}"),
        attributes={"TopicName": "{name}", "TopicArn": _arn("sns", "{name}")},
    ),
    "AWS::CloudWatch::Alarm": ALARM,
    "AWS::CloudWatch::CompositeAlarm": ALARM,
    "AWS::CloudWatch::Dashboard": Naming("DashboardName", 255),
    "AWS::S3::Bucket": Naming("BucketName", 63, attributes={"Arn": "arn:aws:s3:::{name}"}, lower_case=True),
    "AWS::Logs::LogGroup": Naming(
        "LogGroupName", 512, attributes={"Arn": _arn("logs", "log-group:{name}:*")}
    ),
    "AWS::KMS::Key": Naming(None, 36, ref="{id}", attributes={"Arn": _arn("kms", "key/{id}")}),
    "AWS::IAM::Role": Naming("RoleName", 64, attributes={"Arn": _arn("iam", "role/{name}", region=False)}),
    # `Ref` gives its ARN (the StateMachineArn dimension of its AWS/States metrics).
    "AWS::StepFunctions::StateMachine": Naming(
        "StateMachineName",
        80,
        ref=_arn("states", "stateMachine:{name}"),
        attributes={"Arn": _arn("states", "stateMachine:{name}"), "Name": "{name}"},
    ),
}
GENERATED_LIMIT = 255  # types not listed: CloudFormation's resource name quota


def generated_name(
    stack: str, logical_id: str, limit: int, *, lower_case: bool = False, suffix: str = SUFFIX
) -> str:
    """The name CloudFormation generates for an unnamed resource: "<stack>-<logical ID>-<suffix>", the
    stack's name cut first where the whole is longer than `limit`."""
    tail = f"-{logical_id}-{suffix}"
    room = max(limit - len(tail), 1)
    name = (stack[:room] + tail)[:limit]
    return name.lower() if lower_case else name


def _uuid(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(parts)))


@dataclass
class StackModel:
    """One stack of the deployment: its template (translated), parameter values, conditions, enabled
    resources, and the values `Ref`/`Fn::GetAtt` give (parameters, pseudo parameters, resources)."""

    logical_id: str
    name: str
    template: dict[str, Any]
    params: dict[str, str]
    conditions: dict[str, bool]
    resources: dict[str, dict[str, Any]]
    values: dict[str, Any]
    outputs: dict[str, Any]
    # Each resource's name: the one its name property gives, else the one CloudFormation generates.
    names: dict[str, str] = field(default_factory=dict)

    def value(self, node: Any) -> Any:
        """`node` evaluated in this stack (NO_VALUE for AWS::NoValue)."""
        return evaluate(self.template, self.values, node, self.conditions)

    def of_type(self, *kinds: str) -> dict[str, dict[str, Any]]:
        """Its enabled resources of these types."""
        return {name: r for name, r in self.resources.items() if r["Type"] in kinds}


def pseudo_parameters(stack_name: str) -> dict[str, str]:
    """The pseudo parameters of a stack with this name."""
    return PSEUDO_PARAMETERS | {
        "AWS::StackName": stack_name,
        "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{stack_name}/{_uuid(stack_name)}",
    }


def build_stack(
    template: dict[str, Any], logical_id: str, name: str, given: dict[str, str], outside: dict[str, Any]
) -> StackModel:
    """A stack of `template` named `name` with the parameter values `given`: its resources valued in
    dependency order (a name property may read another resource), then its outputs. `outside` gives the
    values of what the template reads that it does not create (nested stacks' outputs, for a root)."""
    params = parameter_values(template, given)
    known: dict[str, Any] = pseudo_parameters(name) | params | outside
    conditions = evaluate_conditions(template, known)
    resources = {
        resource_id: resource
        for resource_id, resource in template.get("Resources", {}).items()
        if "Condition" not in resource or conditions[resource["Condition"]]
    }
    order = TopologicalSorter(
        {
            resource_id: {n for n, _ in references(resource.get("Properties", {}), conditions)}
            & set(resources)
            for resource_id, resource in resources.items()
        }
    ).static_order()
    stack = StackModel(logical_id, name, template, params, conditions, resources, known, {})
    for resource_id in order:
        if resources[resource_id]["Type"] not in APPLICATION_TYPES:  # a nested stack's values are `outside`
            stack.names[resource_id], values = resource_values(stack, resource_id)
            stack.values |= values
    return stack


def resource_values(stack: StackModel, resource_id: str) -> tuple[str, dict[str, Any]]:
    """The name of one resource of `stack`, and what `Ref` and the attributes `NAMES` lists give."""
    resource = stack.resources[resource_id]
    naming = NAMES.get(resource["Type"], Naming(None, GENERATED_LIMIT))
    properties = resource.get("Properties", {})
    name = None
    if naming.name_property and naming.name_property in properties:
        name = stack.value(properties[naming.name_property])
    if name is None or name is NO_VALUE:
        name = generated_name(stack.name, resource_id, naming.limit, lower_case=naming.lower_case)
    identity = _uuid(stack.name, resource_id)
    fields = {
        "name": name,
        "id": identity,
        "short_id": identity.replace("-", "")[:10],
        "region": REGION,
        "account": ACCOUNT,
    }
    values = {resource_id: naming.ref.format_map(fields)}
    values |= {f"{resource_id}.{key}": text.format_map(fields) for key, text in naming.attributes.items()}
    return str(name), values


def stack_outputs(stack: StackModel) -> dict[str, Any]:
    """The outputs whose condition holds, evaluated."""
    return {
        name: stack.value(output["Value"])
        for name, output in stack.template.get("Outputs", {}).items()
        if "Condition" not in output or stack.conditions[output["Condition"]]
    }


def passed_value(value: Any) -> str:
    """A value as a nested stack's parameter receives it."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value)


@dataclass
class Deployment:
    """A root stack and the nested stacks it creates, by the root's logical ID."""

    root: StackModel
    stacks: dict[str, StackModel]

    def all_stacks(self) -> list[StackModel]:
        """The root and every nested stack."""
        return [self.root, *self.stacks.values()]


def deploy(
    root_path: Path = REPO / "template.yaml",
    given: dict[str, str] | None = None,
    *,
    stack_name: str = "streaming",
    root: dict[str, Any] | None = None,
    nested: dict[str, dict[str, Any]] | None = None,
    read: Callable[[Path], dict[str, Any]] = translate,
) -> Deployment:
    """The deployment of the root template (or the document `root`) with these parameter values: each
    enabled nested application built, in the order their parameters need, from its template as `read`
    gives it (translated by default; or the one `nested` gives for its logical ID)."""
    document = root if root is not None else load_template(root_path)
    params = pseudo_parameters(stack_name) | parameter_values(document, given or {})
    conditions = evaluate_conditions(document, params)
    applications = {
        app: resource
        for app, resource in document.get("Resources", {}).items()
        if resource["Type"] in APPLICATION_TYPES
        and ("Condition" not in resource or conditions[resource["Condition"]])
    }
    needs = {
        app: {n for n, _ in references(resource["Properties"].get("Parameters", {}), conditions)}
        & set(applications)
        for app, resource in applications.items()
    }
    outside: dict[str, Any] = {}
    stacks: dict[str, StackModel] = {}
    for app in TopologicalSorter(needs).static_order():
        properties = applications[app]["Properties"]
        passed = {
            key: passed_value(value)
            for key, node in properties.get("Parameters", {}).items()
            if (value := evaluate(document, params | outside, node, conditions)) is not NO_VALUE
        }
        location = properties.get("Location") or properties.get("TemplateURL")
        template = (nested or {}).get(app) or read((root_path.parent / str(location)).resolve())
        child = build_stack(template, app, f"{stack_name}-{app}-{SUFFIX}", passed, {})
        child.outputs = stack_outputs(child)
        stacks[app] = child
        outside[app] = child.values["AWS::StackId"]
        outside |= {f"{app}.Outputs.{key}": value for key, value in child.outputs.items()}
    top = build_stack(document, "", stack_name, given or {}, outside)
    top.outputs = stack_outputs(top)
    return Deployment(top, stacks)
