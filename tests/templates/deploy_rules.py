"""Deploy rules: what AWS enforces when it creates a stack, which the SAM transform, cfn-lint and checkov
do not check. Every rule is a function of one `TemplateUnderTest` returning messages "<template> <logical
ID>: <what is wrong>", an empty list when the template follows it. They are generic: nothing names a
template, a resource or a parameter of this project, so they hold every template added later to the same
standard.

tests/templates/test_deploy_rules.py runs every rule on every template; test_deploy_rules_plants.py plants
each mistake in a copy of a real template and shows the rule reporting it. Sources: docs/decisions.md.
"""

from __future__ import annotations

import ipaddress
import json
import os
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from itertools import product
from math import prod
from pathlib import Path
from typing import Any

from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

from local.cfn import (
    NO_VALUE,
    PSEUDO_PARAMETERS,
    TemplateError,
    evaluate,
    evaluate_conditions,
    evaluate_rules,
    parameter_values,
    parameter_violations,
    references,
)
from tests.templates.dashboards import body_problems
from tests.templates.deployment import (
    APPLICATION_TYPES,
    SUFFIX,
    WORST_CASE_STACK_NAME,
    StackModel,
    build_stack,
    passed_value,
    pseudo_parameters,
    stack_outputs,
)
from tests.templates.sam_offline import REPO, load_template, translate
from tests.templates.scenarios import EXISTING_CLUSTER, EXISTING_VPC, SCRAM_SECRET, WIRED, scenarios_for
from tests.templates.state_machines import (
    CHILD_EXECUTIONS,
    FOLLOW_EXECUTIONS,
    LABELLED_CHILD_ACTIONS,
    LAMBDA_SERVICE_ERRORS,
    LOG_DELIVERY_ACTIONS,
    READER_ACTIONS,
    S3_WRITE,
    STATE_MACHINE,
    TRACING_ACTIONS,
    WRITER_ACTIONS,
    Grants,
    Machine,
    asl_validator_problems,
    back_edge,
    bucket_key,
    deciding_retrier,
    function_arn,
    is_inline_map,
    lambda_target,
    longest_timeout,
    machines,
    moto_parser_problem,
    result_writer_of,
    role_grants,
    stack_function,
    state_lists,
    states,
)

# ------------------------------------------------------------------------------------------ lists kept here
# MSK "Supported Apache Kafka versions" (checked 2026-11): 3.6 reached end of support on 2026-06-01 and 3.7 on
# 2026-09-01; AWS::MSK::Topic needs 3.6.0 or later (MSK "Topic Operations", requirements).
SUPPORTED_KAFKA_VERSIONS = ("3.8.x", "3.9.x", "3.9.x.kraft", "4.0.x.kraft", "4.1.x.kraft")
# MSK "Broker types" page; hashicorp/terraform-provider-aws#48309 ("Express instance types are not supported
# for Kafka version 3.9.x"); aws/aws-cdk#36450 (KRaft for Express with 3.9).
EXPRESS_KAFKA_VERSIONS = ("3.8.x", "3.9.x.kraft")
# MSK "Use Amazon MSK APIs with Interface VPC Endpoints": "The following service name endpoints are no longer
# supported for new connections: com.amazonaws.region.kafka, com.amazonaws.region.kafka-fips".
DEPRECATED_ENDPOINT_SERVICES = ("com.amazonaws.{region}.kafka", "com.amazonaws.{region}.kafka-fips")

DATA_TYPES = {
    "AWS::S3::Bucket",
    "AWS::MSK::Topic",
    "AWS::SQS::Queue",
    "AWS::DynamoDB::Table",
    "Custom::KafkaTopic",
}
# What sets the account's API Gateway CloudWatch Logs role: AWS::ApiGateway::Account, or a custom resource
# that hands API Gateway a role with this managed policy (nested/ingest-api.yaml's ApiGatewayAccountRole).
ACCOUNT_ROLE_TYPE = "AWS::ApiGateway::Account"
ACCOUNT_ROLE_POLICY = "service-role/AmazonAPIGatewayPushToCloudWatchLogs"
POLICY_TYPES = {"AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::KMS::Key"}
S3_CONTEXT_KEY = "kms:encryptioncontext:aws:s3:arn"

# Blocks a VPC CIDR parameter must admit (when it admits their prefix length) and must refuse: RFC 1918 ranges
# only (10/8, 172.16/12, 192.168/16), no host bits set, no malformed addresses.
PRIVATE_BLOCKS = (
    "10.20.0.0/16",
    "10.0.0.0/16",
    "10.255.0.0/16",
    "172.16.0.0/16",
    "172.31.0.0/16",
    "192.168.0.0/16",
    "10.20.128.0/17",
    "172.16.64.0/18",
    "10.20.32.0/19",
    "10.20.16.0/20",
)
NOT_PRIVATE_BLOCKS = (
    "10.20.5.0/16",
    "10.20.0.1/16",
    "172.32.0.0/16",
    "172.15.0.0/16",
    "192.169.0.0/16",
    "11.0.0.0/16",
    "100.64.0.0/16",
    "10.20.64.0/17",
    "10.20.32.0/18",
    "10.20.16.0/19",
    "10.20.8.0/20",
    "10.256.0.0/16",
    "010.20.0.0/16",
    "10.20.0.0",
    "10.20.0.0/16 ",
)
PRIVATE_BASES = ("10.0.0.0", "172.16.0.0", "192.168.0.0")

# Non-empty examples of free-form parameters, for enumerating what a root's Rules accept.
EXAMPLES: dict[str, str] = (
    EXISTING_CLUSTER
    | EXISTING_VPC
    | {name: value for name, value in SCRAM_SECRET.items() if name != "ClientAuthentication"}
    | WIRED
    | {
        "ValueSchema": "file:schemas/record.avsc",
        "AvailabilityZones": "us-east-1a,us-east-1b,us-east-1c",
        "ExistingPrivateRouteTableIds": "rtb-0aaaaaaaaaaaaaaaa,rtb-0bbbbbbbbbbbbbbbb",
        "RouteTableIds": "rtb-0aaaaaaaaaaaaaaaa",
    }
)
# At most this many parameter combinations per check; beyond it, a fixed sample (the same on every run).
SCENARIO_LIMIT = 5000


# ---------------------------------------------------------------------------------------------- the template
@dataclass(frozen=True)
class TemplateUnderTest:
    """A template as written (`source`, short-form intrinsics expanded) and as the SAM transform makes it
    (`translated`); `directory` is where its nested applications' relative `Location`s resolve."""

    name: str
    source: dict[str, Any]
    translated: dict[str, Any]
    directory: Path
    _nested: dict[str, TemplateUnderTest | None] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @classmethod
    def read(cls, path: Path, name: str | None = None) -> TemplateUnderTest:
        """The template at `path`, named by its path in the repository unless `name` is given."""
        if name is None:
            name = str(path.resolve().relative_to(REPO)) if path.resolve().is_relative_to(REPO) else path.name
        return cls(name, load_template(path), translate(path), path.parent)

    def with_source(self, source: dict[str, Any]) -> TemplateUnderTest:
        """A copy whose source is `source` (its translation unchanged), for rules that read the source."""
        return replace(self, source=source)

    def with_translated(self, translated: dict[str, Any]) -> TemplateUnderTest:
        """A copy whose translation is `translated`, for rules that read what CloudFormation receives."""
        return replace(self, translated=translated)

    def nested(self, application: str) -> TemplateUnderTest | None:
        """The template of a nested AWS::Serverless::Application (None for one from the Serverless Repo)."""
        if application not in self._nested:
            location = self.source["Resources"][application]["Properties"].get("Location")
            self._nested[application] = (
                TemplateUnderTest.read(
                    self.directory / location,
                    os.path.normpath(os.path.join(os.path.dirname(self.name), location)),
                )
                if isinstance(location, str)
                else None
            )
        return self._nested[application]

    def applications(self) -> list[str]:
        """Logical IDs of its nested applications."""
        return [name for name, _ in _resources(self.source, "AWS::Serverless::Application")]

    def nested_templates(self) -> Iterator[tuple[str, TemplateUnderTest, dict[str, Any]]]:
        """(logical ID, template, the Parameters passed to it) of each nested application with a template."""
        for application in self.applications():
            nested = self.nested(application)
            if nested is not None:
                yield (
                    application,
                    nested,
                    self.source["Resources"][application]["Properties"].get("Parameters", {}),
                )

    def message(self, logical_id: str, text: str) -> str:
        """A rule's finding about one of its resources, parameters or outputs."""
        return f"{self.name} {logical_id}: {text}"


# ---------------------------------------------------------------------------------------------- helpers
def _resources(document: dict[str, Any], *types: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, resource in document.get("Resources", {}).items():
        if resource.get("Type") in types:
            yield name, resource


def _walk(node: Any) -> Iterator[Any]:
    """`node` and every map and list inside it."""
    yield node
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else []
    for child in children:
        yield from _walk(child)


def _function(node: Any) -> tuple[str, Any] | None:
    if isinstance(node, dict) and len(node) == 1:
        ((name, argument),) = node.items()
        if name in {"Ref", "Condition"} or name.startswith("Fn::"):
            return name, argument
    return None


def _get_att(node: Any) -> tuple[str, str] | None:
    """(logical ID, attribute) of an Fn::GetAtt."""
    function = _function(node)
    if function is None or function[0] != "Fn::GetAtt":
        return None
    argument = function[1]
    target = argument if isinstance(argument, list) else str(argument).split(".", 1)
    return (str(target[0]), str(target[1])) if len(target) == 2 else None


def _sub_parts(argument: Any) -> tuple[str, dict[str, Any]]:
    return (argument, {}) if isinstance(argument, str) else (argument[0], argument[1])


def _references(node: Any) -> set[str]:
    """Logical names (parameters or resources) `node` uses through Ref, Fn::GetAtt and Fn::Sub."""
    return {name for name, _ in references(node)}


def _refs(node: Any) -> set[str]:
    """Names `node` uses through Ref alone (what decides a value, as opposed to text an Fn::Sub builds)."""
    found: set[str] = set()
    for item in _walk(node):
        function = _function(item)
        if function and function[0] == "Ref" and isinstance(function[1], str):
            found.add(function[1])
    return found


def _condition_names(node: Any) -> set[str]:
    names: set[str] = set()
    for item in _walk(node):
        function = _function(item)
        if function and function[0] == "Fn::If":
            names.add(function[1][0])
        elif function and function[0] == "Condition":
            names.add(function[1])
    return names


def _decision_parameters(document: dict[str, Any], node: Any, conditions: set[str] | None = None) -> set[str]:
    """Parameters that decide `node`'s value: referenced directly (Fn::Sub text aside), or through the
    conditions named in it (and `conditions`), transitively."""
    parameters = set(document.get("Parameters", {}))
    found = _refs(node) & parameters
    pending, seen = set(conditions or set()) | _condition_names(node), set()
    while pending:
        name = pending.pop()
        seen.add(name)
        expression = document.get("Conditions", {}).get(name)
        found |= _refs(expression) & parameters
        pending |= _condition_names(expression) - seen
    return found


def _branches(node: Any) -> list[Any]:
    """Every value `node` can take as each Fn::If in it picks one of its branches (AWS::NoValue dropped, or
    NO_VALUE when it is the whole value)."""
    if isinstance(node, dict):
        function = _function(node)
        if function and function[0] == "Fn::If":
            return _branches(function[1][1]) + _branches(function[1][2])
        if node == {"Ref": "AWS::NoValue"}:
            return [NO_VALUE]
        keys = list(node)
        return [
            {key: value for key, value in zip(keys, combination, strict=True) if value is not NO_VALUE}
            for combination in product(*(_branches(node[key]) for key in keys))
        ]
    if isinstance(node, list):
        return [
            [value for value in combination if value is not NO_VALUE]
            for combination in product(*(_branches(item) for item in node))
        ]
    return [node]


def default_parameters(document: dict[str, Any]) -> dict[str, str]:
    """The parameter values of a stack created with the defaults; a parameter without a default (one a root
    wires) takes its value from scenarios.WIRED, else a marker."""
    wired = {
        name: WIRED.get(name, f"<{name}>")
        for name, spec in document.get("Parameters", {}).items()
        if "Default" not in spec
    }
    return parameter_values(document, wired)


def _with_markers(document: dict[str, Any], params: dict[str, str]) -> dict[str, str]:
    """Parameter values plus a marker "<Name>" for every resource (its name or ARN, known only at deploy), and
    the pseudo parameters (local.cfn.PSEUDO_PARAMETERS) unless `params` gives them."""
    return PSEUDO_PARAMETERS | params | {name: f"<{name}>" for name in document.get("Resources", {})}


def _placeholders(document: dict[str, Any]) -> dict[str, str]:
    """Default parameter values plus a marker "<Name>" for every resource, to render ARNs and names."""
    return _with_markers(document, default_parameters(document))


def passed_parameters(document: dict[str, Any], application: str, names: dict[str, str]) -> dict[str, str]:
    """The values a template passes to one of its nested applications, with `names` for its parameters and
    resources (markers, as _with_markers gives them). A value computed from a marker that CloudFormation
    could compute but a marker cannot give (a part of another stack's output, say) is a marker itself,
    "<application.Parameter>"."""
    conditions = evaluate_conditions(document, names)
    passed: dict[str, str] = {}
    for key, node in document["Resources"][application]["Properties"].get("Parameters", {}).items():
        try:
            value = evaluate(document, names, node, conditions)
        except TemplateError:
            if not _references(node) & set(document.get("Resources", {})):
                raise
            value = f"<{application}.{key}>"
        if value is not NO_VALUE:
            passed[key] = passed_value(value)
    return passed


def admits(spec: dict[str, Any], value: str) -> bool:
    """Whether CloudFormation accepts `value` for a parameter with this specification (local.cfn's
    parameter_violations: AllowedValues, AllowedPattern, lengths, number bounds)."""
    return not parameter_violations({"Parameters": {"Parameter": spec}}, {"Parameter": value})


# ---------------------------------------------------------------------------------------------- 1
def kms_context_matches_bucket_key(template: TemplateUnderTest) -> list[str]:
    """kms-context-matches-bucket-key: a policy condition on kms:EncryptionContext:aws:s3:arn naming a bucket
    of the template matches the bucket ARN when the bucket uses an S3 Bucket Key (the context is then the
    bucket ARN), and its objects (`<bucket ARN>/*`) when it does not. Every Fn::If branch is checked. Reads
    the translated template, so SAM functions' Policies are included."""
    document = template.translated
    bucket_keys = {
        name: _bucket_key_settings(bucket) for name, bucket in _resources(document, "AWS::S3::Bucket")
    }
    names = _placeholders(document) | {f"{bucket}.Arn": f"arn:aws:s3:::<{bucket}>" for bucket in bucket_keys}
    messages = []
    for holder, resource in _resources(document, *POLICY_TYPES):
        for statement in _statements(resource.get("Properties", {})):
            for operator, key, patterns in _s3_context_conditions(document, statement, names):
                like = "like" in operator.lower()
                for bucket, settings in bucket_keys.items():
                    if not any(f"<{bucket}>" in pattern for pattern in patterns):
                        continue
                    arn = f"arn:aws:s3:::<{bucket}>"
                    if True in settings and not _matches_any(arn, patterns, like=like):
                        messages.append(
                            template.message(
                                holder,
                                f"{operator} {key} {patterns} does not match {bucket}'s ARN, but {bucket} "
                                "uses an S3 Bucket Key, so the encryption context is the bucket ARN: every "
                                "request is denied. Add the bucket ARN.",
                            )
                        )
                    if False in settings and not _matches_any(f"{arn}/any/object", patterns, like=like):
                        messages.append(
                            template.message(
                                holder,
                                f"{operator} {key} {patterns} matches none of {bucket}'s objects; without an "
                                "S3 Bucket Key the encryption context is the object ARN: add '<ARN>/*'",
                            )
                        )
    return messages


def _bucket_key_settings(bucket: dict[str, Any]) -> set[bool]:
    settings: set[bool] = set()
    for node in _walk(bucket.get("Properties", {})):
        if isinstance(node, dict) and "BucketKeyEnabled" in node:
            for value in _branches(node["BucketKeyEnabled"]):
                settings |= {True, False} if _function(value) else {str(value).lower() == "true"}
    return settings or {False}


def _statements(properties: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for node in _walk(properties):
        if isinstance(node, dict) and "Effect" in node and "Condition" in node:
            yield node


def _s3_context_conditions(
    document: dict[str, Any], statement: dict[str, Any], names: dict[str, str]
) -> Iterator[tuple[str, str, list[str]]]:
    """(operator, key, rendered values) of each alternative of each S3 encryption-context condition."""
    for condition in _branches(statement["Condition"]):
        for operator, entries in condition.items() if isinstance(condition, dict) else ():
            for key, value in entries.items() if isinstance(entries, dict) else ():
                if key.lower() != S3_CONTEXT_KEY:
                    continue
                for alternative in _branches(value):
                    values = alternative if isinstance(alternative, list) else [alternative]
                    yield operator, key, [str(evaluate(document, names, v, {})) for v in values]


def _matches_any(arn: str, patterns: list[str], *, like: bool) -> bool:
    return any(fnmatchcase(arn, pattern) if like else arn == pattern for pattern in patterns)


# ---------------------------------------------------------------------------------------------- 2
def no_suffix_on_log_group_arn(template: TemplateUnderTest) -> list[str]:
    """no-suffix-on-log-group-arn: nothing is appended to an AWS::Logs::LogGroup's Arn attribute (Fn::Sub
    "${Group.Arn}..." or Fn::Join with Group.Arn followed by more items): it already ends in ":*", so the
    result matches no log stream. Build such ARNs from the group's name."""
    document = template.translated
    groups = {name for name, _ in _resources(document, "AWS::Logs::LogGroup")}
    messages = []
    for section in ("Resources", "Outputs"):
        for logical_id, item in document.get(section, {}).items():
            for node in _walk(item):
                function = _function(node)
                if function and function[0] == "Fn::Sub":
                    messages += [
                        template.message(logical_id, text) for text in _suffixed_in_sub(function[1], groups)
                    ]
                elif function and function[0] == "Fn::Join" and isinstance(function[1][1], list):
                    items = function[1][1]
                    for item_node in items[:-1]:
                        target = _get_att(item_node)
                        if target and target[1] == "Arn" and target[0] in groups:
                            messages.append(
                                template.message(
                                    logical_id,
                                    f"Fn::Join appends {items[items.index(item_node) + 1 :]!r} to "
                                    f"{target[0]}.Arn, which already ends in ':*'; build the ARN from the "
                                    "log group's name",
                                )
                            )
    return messages


def _suffixed_in_sub(argument: Any, groups: set[str]) -> list[str]:
    text, variables = _sub_parts(argument)
    aliases = {
        variable: target[0]
        for variable, value in variables.items()
        if (target := _get_att(value)) and target[1] == "Arn" and target[0] in groups
    }
    found = []
    for match in re.finditer(r"\$\{([^}]+)\}", text):
        name = match.group(1)
        group = (
            name.removesuffix(".Arn") if name.endswith(".Arn") and name[:-4] in groups else aliases.get(name)
        )
        if group and match.end() < len(text):
            found.append(
                f"Fn::Sub appends {text[match.end() :]!r} to {group}.Arn, which already ends in ':*'; "
                "build the ARN from the log group's name"
            )
    return found


# ---------------------------------------------------------------------------------------------- 3
def no_implicit_stage(template: TemplateUnderTest) -> list[str]:
    """no-implicit-stage: the translated template has no AWS::ApiGateway::Deployment with a StageName and no
    AWS::ApiGateway::Stage named "Stage": SAM's implicit stage of a Swagger 2.0 API, which serves the API
    without the real stage's WAF, throttling and access logs. OpenApiVersion "3.0.1" on the Api removes it."""
    messages = []
    for name, deployment in _resources(template.translated, "AWS::ApiGateway::Deployment"):
        if "StageName" in deployment.get("Properties", {}):
            stage = deployment["Properties"]["StageName"]
            messages.append(
                template.message(
                    name,
                    f"creates stage {stage!r} through the deployment (SAM's implicit stage of a Swagger 2.0 "
                    'API); set OpenApiVersion: "3.0.1" on the API',
                )
            )
    for name, stage in _resources(template.translated, "AWS::ApiGateway::Stage"):
        if stage.get("Properties", {}).get("StageName") == "Stage":
            messages.append(template.message(name, "is the stage 'Stage' (SAM's implicit stage)"))
    return messages


# ---------------------------------------------------------------------------------------------- 4
def stage_logging_needs_account_role(template: TemplateUnderTest) -> list[str]:
    """stage-logging-needs-account-role: an AWS::ApiGateway::Stage with AccessLogSetting, or a MethodSettings
    LoggingLevel other than OFF, depends (DependsOn, Ref, GetAtt or Sub, transitively) on a resource that
    sets the account's API Gateway CloudWatch Logs role: without one the stage fails in a fresh account or
    region."""
    resources = template.translated["Resources"]
    messages = []
    for name, stage in _resources(template.translated, "AWS::ApiGateway::Stage"):
        if not _stage_logs(stage.get("Properties", {})):
            continue
        reached = _dependencies(resources, name)
        if not any(sets_account_role(resources[other]) for other in reached):
            messages.append(
                template.message(
                    name,
                    f"logs (access logs or execution logging) but depends on no {ACCOUNT_ROLE_TYPE} nor "
                    f"custom resource whose ManagedPolicyArn is {ACCOUNT_ROLE_POLICY}, so it fails where the "
                    "account has no API Gateway CloudWatch Logs role",
                )
            )
    return messages


def sets_account_role(resource: dict[str, Any]) -> bool:
    """Whether `resource` sets the account's API Gateway CloudWatch Logs role."""
    if resource.get("Type") == ACCOUNT_ROLE_TYPE:
        return True
    policy = json.dumps(resource.get("Properties", {}).get("ManagedPolicyArn"))
    return _is_custom_resource(resource) and ACCOUNT_ROLE_POLICY in policy


def _stage_logs(properties: dict[str, Any]) -> bool:
    for alternative in _branches(properties):
        if alternative.get("AccessLogSetting"):
            return True
        for setting in alternative.get("MethodSettings", []):
            if isinstance(setting, dict) and str(setting.get("LoggingLevel", "OFF")).upper() != "OFF":
                return True
    return False


def _dependencies(resources: dict[str, Any], start: str) -> set[str]:
    """Resources `start` depends on, directly or transitively, through DependsOn and references."""
    reached: set[str] = set()
    pending = [start]
    while pending:
        resource = resources[pending.pop()]
        depends_on = resource.get("DependsOn", [])
        direct = ({depends_on} if isinstance(depends_on, str) else set(depends_on)) | _references(
            resource.get("Properties", {})
        )
        for name in (direct & set(resources)) - reached:
            reached.add(name)
            pending.append(name)
    return reached


def usage_plans_need_api_keys(template: TemplateUnderTest) -> list[str]:
    """usage-plans-need-api-keys: an AWS::ApiGateway::UsagePlan throttles and meters callers by API key only
    on methods that require one (API Gateway Developer Guide, "Usage plans and API keys"): every method of
    a REST API a plan names must require a key, or the plan limits nothing (review item N4)."""
    resources = template.translated["Resources"]
    messages = []
    for name, plan in _resources(template.translated, "AWS::ApiGateway::UsagePlan"):
        for api in sorted(_refs(plan.get("Properties", {}).get("ApiStages", [])) & set(resources)):
            open_methods = _methods_without_api_key(resources, api)
            if open_methods:
                messages.append(
                    template.message(
                        name,
                        f"limits callers of {api} by API key, but {', '.join(open_methods)} require no key: "
                        "the plan's throttle and quota apply to nothing (set ApiKeyRequired)",
                    )
                )
    return messages


def _methods_without_api_key(resources: dict[str, Any], api: str) -> list[str]:
    """The methods of REST API `api` (in its OpenAPI body, or AWS::ApiGateway::Method resources) that do not
    require an API key."""
    found = []
    body = resources[api].get("Properties", {}).get("Body", {})
    schemes = body.get("components", {}).get("securitySchemes", {}) | body.get("securityDefinitions", {})
    key_schemes = {
        scheme
        for scheme, spec in schemes.items()
        if isinstance(spec, dict)
        and spec.get("in") == "header"
        and str(spec.get("name", "")).lower() == "x-api-key"
    }
    for path, operations in body.get("paths", {}).items():
        for method, operation in operations.items():
            # API Gateway reads an API key scheme anywhere in `security` as "API key required" (the
            # importer's x-api-key scheme; SAM lists it next to the authorizer).
            requirements = [set(requirement) for requirement in operation.get("security", [])]
            if not any(requirement & key_schemes for requirement in requirements):
                found.append(f"{method.upper()} {path}")
    for name, method in _resources({"Resources": resources}, "AWS::ApiGateway::Method"):
        properties = method.get("Properties", {})
        if api in _refs(properties.get("RestApiId")) and properties.get("ApiKeyRequired") is not True:
            found.append(name)
    return found


# ---------------------------------------------------------------------------------------------- 5
def no_always_on_reserved_concurrency(template: TemplateUnderTest) -> list[str]:
    """no-always-on-reserved-concurrency: with the default parameters no AWS::Lambda::Function reserves
    concurrency. The property is absent or an Fn::If that gives AWS::NoValue by default: new accounts have
    no concurrency to reserve (Lambda keeps 100 unreserved)."""
    document = template.translated
    params = default_parameters(document)
    conditions = evaluate_conditions(document, params)
    messages = []
    for name, function in _resources(document, "AWS::Lambda::Function"):
        value = function.get("Properties", {}).get("ReservedConcurrentExecutions")
        if value is None:
            continue
        is_if = (_function(value) or ("",))[0] == "Fn::If"
        if is_if and evaluate(document, params, value, conditions) is NO_VALUE:
            continue
        messages.append(
            template.message(
                name,
                f"reserves concurrency with the default parameters ({value!r}); new accounts have none to "
                "reserve. Make it !If [<condition false by default>, <value>, !Ref AWS::NoValue].",
            )
        )
    return messages


# ---------------------------------------------------------------------------------------------- 6
@dataclass(frozen=True)
class CidrUse:
    """An Fn::Cidr whose block comes from `parameter` of the template checked; `inner` is that parameter's
    name in `document`, the template that holds the Fn::Cidr (the same one, or a nested one)."""

    where: str
    parameter: str
    document: dict[str, Any]
    inner: str
    cidr: list[Any]


def cidr_uses(template: TemplateUnderTest) -> list[CidrUse]:
    """Every Fn::Cidr whose block is a parameter of `template`: referenced directly, through the CidrBlock of
    a VPC of the template, or passed as it is into a nested application's template that does so."""
    document = template.source
    parameters = set(document.get("Parameters", {}))
    vpc_blocks = {
        name: vpc["Properties"]["CidrBlock"]["Ref"]
        for name, vpc in _resources(document, "AWS::EC2::VPC")
        if (_function(vpc.get("Properties", {}).get("CidrBlock")) or ("",))[0] == "Ref"
    }
    uses = []
    for name, resource in document.get("Resources", {}).items():
        for node in _walk(resource.get("Properties", {})):
            function = _function(node)
            if not function or function[0] != "Fn::Cidr":
                continue
            block, target = function[1][0], _get_att(function[1][0])
            parameter = block.get("Ref") if isinstance(block, dict) else None
            if target and target[1] == "CidrBlock":
                parameter = vpc_blocks.get(target[0])
            if isinstance(parameter, str) and parameter in parameters:
                uses.append(CidrUse(name, parameter, document, parameter, function[1]))
    for application, nested, passed in template.nested_templates():
        for use in cidr_uses(nested):
            value = passed.get(use.parameter)
            reference = value.get("Ref") if isinstance(value, dict) else None
            if isinstance(reference, str) and reference in parameters:
                where = f"{application} ({nested.name} {use.where})"
                uses.append(replace(use, where=where, parameter=reference))
    return uses


def admitted_private_blocks(spec: dict[str, Any]) -> dict[int, list[str]]:
    """Prefix length -> the aligned private blocks (10.0.0.0, 172.16.0.0, 192.168.0.0 at /8 to /28, and any
    AllowedValues) that a parameter admits."""
    candidates = [f"{base}/{prefix}" for prefix in range(8, 29) for base in PRIVATE_BASES]
    candidates += [str(value) for value in spec.get("AllowedValues", [])]
    admitted: dict[int, list[str]] = {}
    for block in candidates:
        try:
            network = ipaddress.ip_network(block)
        except ValueError:
            continue
        if admits(spec, block):
            admitted.setdefault(network.prefixlen, []).append(block)
    return admitted


def cidr_fits_every_admitted_block(template: TemplateUnderTest) -> list[str]:
    """cidr-fits-every-admitted-block: every Fn::Cidr [block, count, cidrBits] whose block is a parameter can
    make `count` subnets of `cidrBits` host bits from every block the parameter admits: count <= 2 ** (32 -
    prefix - cidrBits), with cidrBits evaluated for each prefix (it may be a mapping keyed on the prefix).
    Otherwise CloudFormation fails the stack for the blocks that do not fit."""
    found: dict[str, list[str]] = {}
    for use in cidr_uses(template):
        spec = template.source["Parameters"][use.parameter]
        too_small: dict[int, str] = {}
        for prefix, blocks in sorted(admitted_private_blocks(spec).items()):
            for block in blocks:
                params = default_parameters(use.document) | {use.inner: block}
                count = int(evaluate(use.document, params, use.cidr[1]))
                bits = int(evaluate(use.document, params, use.cidr[2]))
                room = 2 ** (32 - prefix - bits) if prefix + bits <= 32 else 0
                if count > room:
                    too_small.setdefault(
                        prefix, f"{block} holds {room} blocks of {bits} host bits, not {count}"
                    )
        for prefix, problem in too_small.items():
            text = f"Fn::Cidr {use.cidr[1:]} on {use.parameter}, which admits /{prefix}: {problem}"
            found.setdefault(text, []).append(use.where)
    return [template.message(", ".join(where), problem) for problem, where in found.items()]


def cidr_parameters_admit_only_private_blocks(template: TemplateUnderTest) -> list[str]:
    """Sibling of cidr-fits-every-admitted-block: a parameter that gives an Fn::Cidr its block admits only
    RFC 1918 blocks with no host bits set. It refuses every block of NOT_PRIVATE_BLOCKS and every block
    with a host bit set at each prefix it admits, and admits each block of PRIVATE_BLOCKS whose prefix it
    admits."""
    messages = []
    for parameter in sorted({use.parameter for use in cidr_uses(template)}):
        spec = template.source["Parameters"][parameter]
        prefixes = set(admitted_private_blocks(spec))
        if not prefixes:
            messages.append(template.message(parameter, "admits no private block from /8 to /28"))
        host_bits_set = [
            f"{ipaddress.ip_address(base) + 2 ** (31 - prefix)}/{prefix}"
            for prefix in sorted(prefixes)
            for base in PRIVATE_BASES
        ]
        messages += [
            template.message(parameter, f"admits {block!r}, which is not a private block without host bits")
            for block in (*NOT_PRIVATE_BLOCKS, *host_bits_set)
            if admits(spec, block)
        ]
        messages += [
            template.message(parameter, f"refuses {block}, a private block with a prefix length it admits")
            for block in PRIVATE_BLOCKS
            if int(block.split("/")[1]) in prefixes and not admits(spec, block)
        ]
    return messages


# ---------------------------------------------------------------------------------------------- 7
def _is_custom_resource(resource: dict[str, Any]) -> bool:
    kind = str(resource.get("Type", ""))
    return kind == "AWS::CloudFormation::CustomResource" or kind.startswith("Custom::")


def _holds_data(resource: dict[str, Any]) -> bool:
    custom_topic = _is_custom_resource(resource) and "TopicName" in resource.get("Properties", {})
    return resource.get("Type") in DATA_TYPES or custom_topic


def data_is_retained(template: TemplateUnderTest) -> list[str]:
    """data-is-retained: resources that hold data (S3 buckets, MSK topics, SQS queues, DynamoDB tables, topic
    custom resources) have DeletionPolicy and UpdateReplacePolicy Retain, and so has every AWS::KMS::Key that
    their encryption properties name: a kept bucket whose key is deleted cannot be read. The key may come from
    another stack: where a nested template encrypts kept data with a key parameter, the key that the parent
    passes it (a resource of the parent, or another nested stack's output) must be retained too."""
    resources = template.translated["Resources"]
    messages = [
        template.message(name, f"holds data but its {missing} not Retain")
        for name, resource in resources.items()
        if _holds_data(resource) and (missing := _not_retained(resource))
    ]
    for key, holders in sorted(_keys_of_kept_data(template.translated).items()):
        if key in resources and (missing := _not_retained(resources[key])):
            messages.append(
                template.message(key, f"encrypts {', '.join(sorted(holders))} but its {missing} not Retain")
            )
    for application, nested, passed in template.nested_templates():
        for parameter, holders in sorted(_keys_of_kept_data(nested.translated).items()):
            for producer, key in _keys_passed(template, passed.get(parameter)):
                if missing := _not_retained(producer.translated["Resources"][key]):
                    messages.append(
                        producer.message(
                            key,
                            f"encrypts {', '.join(sorted(holders))} of {nested.name} (through "
                            f"{application}'s {parameter}) but its {missing} not Retain",
                        )
                    )
    return messages


def _keys_of_kept_data(document: dict[str, Any]) -> dict[str, set[str]]:
    """The AWS::KMS::Key resources and the parameters that encryption properties of kept data name, each with
    the resources it encrypts."""
    keys = {name for name, _ in _resources(document, "AWS::KMS::Key")} | set(document.get("Parameters", {}))
    encrypted: dict[str, set[str]] = {}
    for name, resource in document["Resources"].items():
        if not _holds_data(resource):
            continue
        for node in _walk(resource.get("Properties", {})):
            for key, value in node.items() if isinstance(node, dict) else ():
                if "kms" in key.lower() and "key" in key.lower():
                    for used in _references(value) & keys:
                        encrypted.setdefault(used, set()).add(name)
    return encrypted


def _keys_passed(template: TemplateUnderTest, value: Any) -> Iterator[tuple[TemplateUnderTest, str]]:
    """(template, logical ID) of each AWS::KMS::Key that a value passed to a nested stack can be: a key of
    `template`, or a key that another nested stack's output gives."""
    for branch in _branches(value):
        target = _get_att(branch)
        if target is None:
            yield from ((template, name) for name in _refs(branch) & set(_kms_keys(template.translated)))
            continue
        application, attribute = target
        producer = template.nested(application) if application in template.applications() else None
        if producer is None or not attribute.startswith("Outputs."):
            continue
        output = producer.translated.get("Outputs", {}).get(attribute.removeprefix("Outputs."), {})
        keys = _references(output.get("Value")) & set(_kms_keys(producer.translated))
        yield from ((producer, key) for key in sorted(keys))


def _kms_keys(document: dict[str, Any]) -> list[str]:
    return [name for name, _ in _resources(document, "AWS::KMS::Key")]


def _not_retained(resource: dict[str, Any]) -> str:
    """Empty when retained, else which of its policies are not Retain: "DeletionPolicy is", "... are"."""
    missing = [
        policy for policy in ("DeletionPolicy", "UpdateReplacePolicy") if resource.get(policy) != "Retain"
    ]
    return " and ".join(missing) + (" are" if len(missing) > 1 else " is") if missing else ""


# ---------------------------------------------------------------------------------------------- 8
def vpc_endpoint_service_names_current(template: TemplateUnderTest) -> list[str]:
    """vpc-endpoint-service-names-current: no AWS::EC2::VPCEndpoint ServiceName (Fn::Sub and Fn::Join
    resolved, every Fn::If branch) is in DEPRECATED_ENDPOINT_SERVICES, which no longer accept new
    connections."""
    document = template.translated
    region = "eu-west-1"
    names = _placeholders(document) | {"AWS::Region": region}
    deprecated = {service.format(region=region) for service in DEPRECATED_ENDPOINT_SERVICES}
    messages = []
    for name, endpoint in _resources(document, "AWS::EC2::VPCEndpoint"):
        for alternative in _branches(endpoint.get("Properties", {}).get("ServiceName")):
            service = str(evaluate(document, names, alternative, {}))
            if service in deprecated:
                messages.append(
                    template.message(name, f"uses {service.replace(region, '<region>')}, no longer supported")
                )
    return messages


# ---------------------------------------------------------------------------------------------- 9
@dataclass(frozen=True)
class VersionOrigin:
    """Where an AWS::MSK::Cluster's KafkaVersion comes from: a parameter of the template checked, or a
    value."""

    where: str
    parameter: str | None
    value: str | None


def kafka_version_origins(template: TemplateUnderTest) -> list[VersionOrigin]:
    """The parameters (or fixed values) that reach the KafkaVersion of an AWS::MSK::Cluster of `template` or
    of its nested applications' templates."""
    document = template.source
    parameters = document.get("Parameters", {})
    origins = []
    for name, cluster in _resources(document, "AWS::MSK::Cluster"):
        for value in _branches(cluster.get("Properties", {}).get("KafkaVersion")):
            reference = value.get("Ref") if isinstance(value, dict) else None
            origins.append(
                VersionOrigin(name, reference, None) if reference else VersionOrigin(name, None, str(value))
            )
    for application, nested, passed in template.nested_templates():
        for origin in kafka_version_origins(nested):
            where = f"{application} ({nested.name} {origin.where})"
            if origin.parameter is None:
                origins.append(VersionOrigin(where, None, origin.value))
                continue
            if origin.parameter not in passed:  # the nested default, which this template cannot change
                default = nested.source["Parameters"][origin.parameter].get("Default")
                origins.append(VersionOrigin(where, None, str(default)))
                continue
            for value in _branches(passed[origin.parameter]):
                reference = value.get("Ref") if isinstance(value, dict) else None
                if reference in parameters:
                    origins.append(VersionOrigin(where, reference, None))
                elif not _function(value):
                    origins.append(VersionOrigin(where, None, str(value)))
    return origins


def kafka_versions_from_a_list(template: TemplateUnderTest) -> list[str]:
    """kafka-versions-from-a-list: every parameter reaching an AWS::MSK::Cluster's KafkaVersion (directly, or
    through a nested application) has AllowedValues, no AllowedPattern, and each value in
    SUPPORTED_KAFKA_VERSIONS; and wherever the template's Rules accept a combination that makes a cluster of
    Express brokers, its version is one of EXPRESS_KAFKA_VERSIONS (checked by evaluating the Rules)."""
    messages = []
    for origin in kafka_version_origins(template):
        if origin.parameter is None:
            if origin.value not in SUPPORTED_KAFKA_VERSIONS:
                messages.append(
                    template.message(origin.where, f"KafkaVersion {origin.value!r} is not supported")
                )
            continue
        spec = template.source["Parameters"][origin.parameter]
        where = f"{origin.parameter} (KafkaVersion of {origin.where})"
        if "AllowedPattern" in spec:
            messages.append(
                template.message(where, "has an AllowedPattern; list the versions in AllowedValues")
            )
        if "AllowedValues" not in spec:
            messages.append(template.message(where, "has no AllowedValues"))
        unsupported = [
            str(v) for v in spec.get("AllowedValues", []) if str(v) not in SUPPORTED_KAFKA_VERSIONS
        ]
        if unsupported:
            messages.append(
                template.message(where, f"allows {unsupported}, not in {SUPPORTED_KAFKA_VERSIONS}")
            )
    return messages + _express_versions_accepted(template)


def enabled_clusters(template: TemplateUnderTest, params: dict[str, str]) -> Iterator[tuple[str, str, str]]:
    """(where, KafkaVersion, broker instance type) of every AWS::MSK::Cluster created with these parameter
    values, in the template or, through the values it passes, in its nested applications."""
    document = template.source
    conditions = evaluate_conditions(document, params)
    for name, cluster in _resources(document, "AWS::MSK::Cluster"):
        if "Condition" in cluster and not conditions[cluster["Condition"]]:
            continue
        properties = cluster["Properties"]
        names = _with_markers(document, params)
        version = evaluate(document, names, properties["KafkaVersion"], conditions)
        instance_type = evaluate(
            document, params, properties["BrokerNodeGroupInfo"]["InstanceType"], conditions
        )
        yield name, str(version), str(instance_type)
    for application in template.applications():
        resource = document["Resources"][application]
        nested = template.nested(application)
        if nested is None or ("Condition" in resource and not conditions[resource["Condition"]]):
            continue
        passed = passed_parameters(document, application, _with_markers(document, params))
        values = parameter_values(nested.source, passed)
        for where, version, instance_type in enabled_clusters(nested, values):
            yield f"{application} ({nested.name} {where})", version, instance_type


def _cluster_decisions(document: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for _, cluster in _resources(document, "AWS::MSK::Cluster"):
        properties = cluster.get("Properties", {})
        nodes = [
            properties.get("KafkaVersion"),
            properties.get("BrokerNodeGroupInfo", {}).get("InstanceType"),
        ]
        found |= _decision_parameters(
            document, nodes, {cluster["Condition"]} if "Condition" in cluster else None
        )
    return found


def _express_versions_accepted(template: TemplateUnderTest) -> list[str]:
    accepted: dict[tuple[str, str], dict[str, str]] = {}
    defaults = default_parameters(template.source)
    for params in scenarios(template, relevant_parameters(template, _cluster_decisions)):
        if evaluate_rules(template.source, params):
            continue
        for where, version, instance_type in enabled_clusters(template, params):
            if instance_type.startswith("express.") and version not in EXPRESS_KAFKA_VERSIONS:
                accepted[where, version] = _simplest(accepted.get((where, version)), params, defaults)
    return [
        template.message(
            where,
            f"the Rules accept Express brokers with KafkaVersion {version} (Express runs "
            f"{EXPRESS_KAFKA_VERSIONS}), e.g. {_difference(params, defaults)}",
        )
        for (where, version), params in sorted(accepted.items())
    ]


# ---------------------------------------------------------------------------------------------- 10
def _rule_parameters(document: dict[str, Any]) -> set[str]:
    return _decision_parameters(document, list(document.get("Rules", {}).values()))


def relevant_parameters(
    template: TemplateUnderTest,
    interesting: Callable[[dict[str, Any]], set[str]],
    applications: list[str] | None = None,
) -> set[str]:
    """The template's parameters that decide `interesting` (a function of a template document) in it or in its
    nested applications (all, or those listed): what they pass and whether they exist; then, so that other
    values can pass the template's Rules, the parameters asserted by each rule whose RuleCondition depends
    only on parameters found (or that has none and asserts one of them), transitively."""
    document = template.source
    found = set(interesting(document)) if applications is None else set()
    for application in template.applications() if applications is None else applications:
        resource = document["Resources"][application]
        nested = template.nested(application)
        inner = relevant_parameters(nested, interesting) if nested else set()
        passed = resource["Properties"].get("Parameters", {})
        found |= _decision_parameters(document, [passed[name] for name in sorted(inner & set(passed))])
        if "Condition" in resource and (inner or applications is not None):
            found |= _decision_parameters(document, [], {resource["Condition"]})
    rules = [
        (
            _decision_parameters(document, rule.get("RuleCondition")),
            _decision_parameters(document, rule["Assertions"]),
        )
        for rule in document.get("Rules", {}).values()
    ]
    while (
        grown := {
            name
            for condition, asserted in rules
            if condition <= found and (condition or asserted & found)
            for name in asserted
        }
        - found
    ):
        found |= grown
    return found


def candidate_values(name: str, spec: dict[str, Any]) -> list[str]:
    """Values to try for a parameter: its AllowedValues; else its default, and for a number its bounds, for a
    string "" and an example (EXAMPLES, by name or without an "Existing" prefix) - those it admits."""
    if "AllowedValues" in spec:
        return [str(value) for value in spec["AllowedValues"]]
    values = [str(spec["Default"])] if "Default" in spec else []
    if spec.get("Type") == "Number":
        values += [str(spec[bound]) for bound in ("MinValue", "MaxValue") if bound in spec]
    else:
        values += ["", EXAMPLES.get(name, EXAMPLES.get(name.removeprefix("Existing"), ""))]
    admitted = [value for value in dict.fromkeys(values) if admits(spec, value)]
    return admitted or values[:1]


def scenarios(template: TemplateUnderTest, names: set[str]) -> list[dict[str, str]]:
    """Parameter values to try: every combination of the candidate values of `names` (the others at their
    defaults); beyond SCENARIO_LIMIT combinations, a fixed sample of them that includes the defaults."""
    defaults = default_parameters(template.source)
    ordered = sorted(names)
    choices = [candidate_values(name, template.source["Parameters"][name]) for name in ordered]
    total = prod(len(choice) for choice in choices)
    picked = (
        range(total) if total <= SCENARIO_LIMIT else random.Random(10).sample(range(total), SCENARIO_LIMIT)
    )
    found = [defaults]
    for index in picked:
        values, rest = {}, index
        for name, choice in zip(ordered, choices, strict=True):
            rest, position = divmod(rest, len(choice))
            values[name] = choice[position]
        found.append(defaults | values)
    return found


def _simplest(
    known: dict[str, str] | None, params: dict[str, str], defaults: dict[str, str]
) -> dict[str, str]:
    """Of two examples of a finding, the one that differs from the defaults in fewer parameters."""
    if known is None:
        return params
    changed = sum(defaults.get(name) != value for name, value in params.items())
    return params if changed < sum(defaults.get(name) != value for name, value in known.items()) else known


def _difference(params: dict[str, str], defaults: dict[str, str]) -> str:
    changed = [f"{name}={value!r}" for name, value in sorted(params.items()) if defaults.get(name) != value]
    return ", ".join(changed) or "the defaults"


def _is_marker(value: str) -> bool:
    """A value known only at deploy time: "<Resource>" or "<Logical.Attribute>" (another stack's output)."""
    return value.startswith("<") and value.endswith(">")


def nested_rules_hold_in_root(template: TemplateUnderTest) -> list[str]:
    """nested-rules-hold-in-root: for each nested application, whenever the template's Rules accept a
    combination of parameter values (every value of the parameters any Rules involve, "" and an example for
    free-form ones) and the application's Condition holds, the values passed to the nested template satisfy
    its parameter constraints and its Rules; otherwise a deployment fails late, after other stacks are
    built."""
    document = template.source
    defaults = default_parameters(document)
    messages = []
    for application in template.applications():
        nested = template.nested(application)
        if nested is None:
            continue
        resource = document["Resources"][application]
        names = relevant_parameters(template, _rule_parameters, [application])
        checked: dict[tuple[tuple[str, str], ...], list[str]] = {}
        failures: dict[str, dict[str, str]] = {}
        for params in scenarios(template, names):
            if evaluate_rules(document, params):
                continue
            if "Condition" in resource and not evaluate_conditions(document, params)[resource["Condition"]]:
                continue
            passed = passed_parameters(document, application, _with_markers(document, params))
            key = tuple(sorted(passed.items()))
            if key not in checked:
                checked[key] = _nested_failures(nested, passed)
            for failure in checked[key]:
                failures[failure] = _simplest(failures.get(failure), params, defaults)
        messages += [
            template.message(
                application,
                f"the Rules accept {_difference(params, defaults)}, but {nested.name} refuses: {failure}",
            )
            for failure, params in failures.items()
        ]
    return messages


def _nested_failures(nested: TemplateUnderTest, passed: dict[str, str]) -> list[str]:
    specs = nested.source.get("Parameters", {})
    refused = [
        f"{name}={value!r} is not an allowed value"
        for name, value in passed.items()
        if name in specs and not _is_marker(value) and not admits(specs[name], value)
    ]
    return refused + evaluate_rules(nested.source, parameter_values(nested.source, passed))


# ---------------------------------------------------------------------------------------------- 11
def kafka_consumer_groups_per_stack(template: TemplateUnderTest) -> list[str]:
    """kafka-consumer-groups-per-stack: an MSK or self-managed Kafka event source mapping names its consumer
    group, and the name contains the stack's name and every parameter that decides a create-only property of
    the mapping (from CloudFormation's resource schema, as cfn-lint ships it: EventSourceArn,
    StartingPosition, ...). Lambda refuses a consumer group ID that another Kafka mapping holds: a template
    nested twice needs the stack's name in it, and a replacement (which CloudFormation creates before it
    deletes the old mapping) needs a name of its own. Without a name, Lambda picks a random group."""
    document = template.translated
    create_only = _create_only_properties("AWS::Lambda::EventSourceMapping")
    parameters = set(document.get("Parameters", {}))
    messages = []
    for name, mapping in _resources(document, "AWS::Lambda::EventSourceMapping"):
        properties = mapping.get("Properties", {})
        # Only Kafka event sources (MSK and self-managed) take Topics.
        if not {"Topics", "SelfManagedEventSource", "AmazonManagedKafkaEventSourceConfig"} & set(properties):
            continue
        config = properties.get("AmazonManagedKafkaEventSourceConfig") or properties.get(
            "SelfManagedKafkaEventSourceConfig", {}
        )
        group = config.get("ConsumerGroupId")
        if group is None:
            messages.append(template.message(name, "names no ConsumerGroupId: Lambda picks a random one"))
            continue
        named = _references(group)
        if "AWS::StackName" not in json.dumps(group):
            messages.append(
                template.message(
                    name,
                    f"ConsumerGroupId {json.dumps(group)} does not contain the stack's name: a second stack "
                    "of this template would ask Lambda for a group ID that is already taken",
                )
            )
        for prop in sorted(create_only & set(properties)):
            if missing := (_references(properties[prop]) & parameters) - named:
                messages.append(
                    template.message(
                        name,
                        f"{prop} is create-only and depends on {', '.join(sorted(missing))}, which the "
                        "ConsumerGroupId does not: changing it replaces the mapping, and Lambda refuses the "
                        "new mapping the group that the old one still holds",
                    )
                )
    return messages


def _create_only_properties(resource_type: str) -> set[str]:
    """The top-level create-only properties of a resource type, from the provider schema cfn-lint ships."""
    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", resource_type).schema
    return {
        path.removeprefix("/properties/")
        for path in schema.get("createOnlyProperties", [])
        if path.count("/") == 2
    }


# ---------------------------------------------------------------------------------------------- 12
ALARM_TYPES = ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm")
ACTION_KEYS = ("AlarmActions", "OKActions", "InsufficientDataActions")
CLOUDWATCH_PRINCIPAL = "cloudwatch.amazonaws.com"
# What the key policy must let CloudWatch do (SNS Developer Guide, "Enable compatibility between event sources
# from AWS services and encrypted topics": kms:GenerateDataKey* and kms:Decrypt).
CLOUDWATCH_KEY_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")


def _alarm_action_names(document: dict[str, Any]) -> set[str]:
    """What the alarms of a template notify: the names (topics, parameters) their actions reference."""
    return {
        name
        for _, alarm in _resources(document, *ALARM_TYPES)
        for key in ACTION_KEYS
        for name in _references(alarm.get("Properties", {}).get(key, []))
    }


def alarmed_topics(template: TemplateUnderTest) -> Iterator[tuple[TemplateUnderTest, str, str]]:
    """(template holding it, logical ID, how alarms reach it) of each AWS::SNS::Topic that a CloudWatch alarm
    notifies: one of the same template, or one a nested stack's output gives that the root passes to a nested
    stack whose alarms notify that parameter."""
    topics = {name for name, _ in _resources(template.translated, "AWS::SNS::Topic")}
    for topic in sorted(_alarm_action_names(template.translated) & topics):
        yield template, topic, "its alarms notify it"
    for application, nested, passed in template.nested_templates():
        for parameter in sorted(_alarm_action_names(nested.translated) & set(passed)):
            for branch in _branches(passed[parameter]):
                target = _get_att(branch)
                producer = (
                    template.nested(target[0]) if target and target[0] in template.applications() else None
                )
                if producer is None or target is None or not target[1].startswith("Outputs."):
                    continue
                output = producer.translated.get("Outputs", {}).get(target[1].removeprefix("Outputs."), {})
                producer_topics = {n for n, _ in _resources(producer.translated, "AWS::SNS::Topic")}
                for topic in sorted(_references(output.get("Value")) & producer_topics):
                    yield (
                        producer,
                        topic,
                        f"the alarms of {nested.name} notify it ({application}'s {parameter})",
                    )


def alarm_topic_key_usable_by_cloudwatch(template: TemplateUnderTest) -> list[str]:
    """alarm-topic-key-usable-by-cloudwatch: an SNS topic that CloudWatch alarms notify (of the template, or
    passed through a root to the nested stacks whose alarms notify it), when it is KMS-encrypted, uses a
    customer managed key of its template whose key policy allows the service principal
    cloudwatch.amazonaws.com kms:GenerateDataKey* and kms:Decrypt. The AWS managed key (alias/aws/sns) cannot
    allow it: CloudWatch's notifications to the topic then fail, and no alarm reaches anyone."""
    messages = []
    for holder, topic, how in alarmed_topics(template):
        properties = holder.translated["Resources"][topic].get("Properties", {})
        if "KmsMasterKeyId" not in properties:
            continue
        for key in _branches(properties["KmsMasterKeyId"]):
            problem = _cloudwatch_key_problem(holder.translated, key)
            if problem:
                messages.append(holder.message(topic, f"{how}, but {problem}"))
    return messages


def _cloudwatch_key_problem(document: dict[str, Any], key: Any) -> str:
    """Why CloudWatch cannot publish to a topic encrypted with `key` (empty when it can)."""
    if isinstance(key, str):
        if "alias/aws/" in key:
            return f"it is encrypted with the AWS managed key {key!r}, whose policy CloudWatch cannot use"
        return f"its key {key!r} is not in the template, so its policy cannot be checked"
    names = _refs(key) | {target[0] for target in [_get_att(key)] if target}
    resources = document.get("Resources", {})
    for name in names:
        resource = resources.get(name, {})
        if resource.get("Type") == "AWS::KMS::Alias":
            target = resource.get("Properties", {}).get("TargetKeyId")
            return _cloudwatch_key_problem(document, target)
        if resource.get("Type") == "AWS::KMS::Key":
            if _allows_cloudwatch(resource.get("Properties", {}).get("KeyPolicy", {})):
                return ""
            return (
                f"the policy of its key {name} does not allow {CLOUDWATCH_PRINCIPAL} "
                f"{' and '.join(CLOUDWATCH_KEY_ACTIONS)}*"
            )
    return f"its key {json.dumps(key)} is not a key of the template, so its policy cannot be checked"


def _allows_cloudwatch(policy: Any) -> bool:
    """Whether some Allow statement of a key policy (in any Fn::If branch) gives the CloudWatch service
    principal every action of CLOUDWATCH_KEY_ACTIONS."""
    for node in _walk(policy):
        if not (isinstance(node, dict) and node.get("Effect") == "Allow" and "Principal" in node):
            continue
        principal = node["Principal"]
        services = principal.get("Service", []) if isinstance(principal, dict) else []
        services = services if isinstance(services, list) else [services]
        if CLOUDWATCH_PRINCIPAL not in services:
            continue
        actions = node.get("Action", [])
        patterns = [str(a).lower() for a in (actions if isinstance(actions, list) else [actions])]
        if all(any(fnmatchcase(a.lower(), p) for p in patterns) for a in CLOUDWATCH_KEY_ACTIONS):
            return True
    return False


# ---------------------------------------------------------------------------------------------- 13
# CloudFormation quotas: "Parameter value - Maximum size of a parameter value: 4,096 bytes".
PARAMETER_VALUE_BYTES = 4096


def _output_parameters(document: dict[str, Any]) -> set[str]:
    return _decision_parameters(document, list(document.get("Outputs", {}).values()))


def worst_case_outputs(template: TemplateUnderTest) -> dict[str, dict[str, Any]]:
    """For each nested application: the longest value each of its outputs takes, over every combination of
    the values of the nested template's parameters that decide its outputs (those its Rules accept), with
    every name CloudFormation generates as long as it can be (the root stack named with 128 characters)."""
    found: dict[str, dict[str, Any]] = {}
    for application, nested, _ in template.nested_templates():
        longest: dict[str, Any] = {}
        name = f"{WORST_CASE_STACK_NAME}-{application}-{SUFFIX}"
        for params in scenarios(nested, _output_parameters(nested.source)):
            if evaluate_rules(nested.source, params):
                continue
            stack = build_stack(nested.translated, application, name, params, {})
            for output, value in stack_outputs(stack).items():
                if len(str(value)) >= len(str(longest.get(output, ""))):
                    longest[output] = value
        found[application] = longest
    return found


def _root_condition_parameters(document: dict[str, Any]) -> set[str]:
    return _decision_parameters(document, [], set(document.get("Conditions", {})))


def worst_case_passed(template: TemplateUnderTest) -> Iterator[tuple[dict[str, str], str, dict[str, str]]]:
    """(parameter values, application, values passed to it) for every combination of the values of the
    template's parameters that decide its conditions (those its Rules accept), with every other stack's
    outputs at their longest (worst_case_outputs) and the template's own stack name 128 characters long."""
    outputs = worst_case_outputs(template)
    outside = {
        f"{application}.Outputs.{name}": value
        for application, values in outputs.items()
        for name, value in values.items()
    } | {application: f"<{application}>" for application in outputs}
    document = template.source
    for params in scenarios(template, _root_condition_parameters(document)):
        if evaluate_rules(document, params):
            continue
        parent = build_stack(document, "", WORST_CASE_STACK_NAME, params, outside)
        for application, resource in _resources(document, *APPLICATION_TYPES):
            if "Condition" in resource and not parent.conditions[resource["Condition"]]:
                continue
            passed = {
                key: passed_value(value)
                for key, node in resource.get("Properties", {}).get("Parameters", {}).items()
                if (value := parent.value(node)) is not NO_VALUE
            }
            yield params, application, passed


def nested_parameter_values_fit(template: TemplateUnderTest) -> list[str]:
    """nested-parameter-values-fit: every value the template passes to a nested application fits
    CloudFormation's parameter value quota (4,096 bytes) in every combination of its conditions, with the
    other stacks' outputs at their longest and every generated name as long as CloudFormation makes it
    (worst_case_passed). A longer value fails the nested stack when it is created."""
    defaults = default_parameters(template.source)
    found: dict[tuple[str, str], tuple[int, dict[str, str]]] = {}
    for params, application, passed in worst_case_passed(template):
        for key, value in passed.items():
            size = len(value.encode("utf-8"))
            if size > PARAMETER_VALUE_BYTES and size >= found.get((application, key), (0, {}))[0]:
                found[application, key] = (size, params)
    return [
        template.message(
            application,
            f"passes {key} {size} bytes long (quota {PARAMETER_VALUE_BYTES}) with the longest names "
            f"CloudFormation generates, e.g. {_difference(params, defaults)}",
        )
        for (application, key), (size, params) in sorted(found.items())
    ]


# ---------------------------------------------------------------------------------------------- 14
# PutCompositeAlarm (CloudWatch API Reference; botocore's cloudwatch model: AlarmRule max 10240): "The
# AlarmRule can specify as many as 100 "children" alarms. The AlarmRule expression can have as many as 500
# elements. Elements are child alarms, TRUE or FALSE statements, and parentheses."
ALARM_RULE_CHARACTERS = 10240
ALARM_RULE_CHILDREN = 100
ALARM_RULE_ELEMENTS = 500
_CHILD = re.compile(r'\b(?:ALARM|OK|INSUFFICIENT_DATA)\s*\(\s*(?:"[^"]*"|[^)\s]*)\s*\)')
_CONSTANT = re.compile(r"\b(?:TRUE|FALSE)\b")


def alarm_rule_problems(rule: str) -> list[str]:
    """What PutCompositeAlarm refuses in an AlarmRule: over 10,240 characters, 100 child alarms or 500
    elements (child alarms, TRUE/FALSE and parentheses, those of the child functions aside)."""
    children = _CHILD.findall(rule)
    rest = _CHILD.sub("", rule)
    elements = len(children) + len(_CONSTANT.findall(rest)) + rest.count("(") + rest.count(")")
    problems = []
    if len(rule) > ALARM_RULE_CHARACTERS:
        problems.append(f"is {len(rule)} characters long (at most {ALARM_RULE_CHARACTERS})")
    if len(children) > ALARM_RULE_CHILDREN:
        problems.append(f"names {len(children)} alarms (at most {ALARM_RULE_CHILDREN})")
    if elements > ALARM_RULE_ELEMENTS:
        problems.append(f"has {elements} elements (at most {ALARM_RULE_ELEMENTS})")
    return problems


def composite_alarm_rules_fit(template: TemplateUnderTest) -> list[str]:
    """composite-alarm-rules-fit: the AlarmRule of every AWS::CloudWatch::CompositeAlarm, as CloudFormation
    resolves it with every alarm name as long as CloudFormation generates it, is one PutCompositeAlarm takes
    (alarm_rule_problems): in the template with its default parameters, and in each nested application with
    the values the template passes it in every combination of its conditions (worst_case_passed)."""
    defaults = default_parameters(template.source)
    found: dict[tuple[str, str], dict[str, str]] = {}
    if any(True for _ in _resources(template.translated, "AWS::CloudWatch::CompositeAlarm")):
        stack = build_stack(template.translated, "", WORST_CASE_STACK_NAME, defaults, {})
        for name, alarm in stack.of_type("AWS::CloudWatch::CompositeAlarm").items():
            for problem in alarm_rule_problems(str(stack.value(alarm["Properties"]["AlarmRule"]))):
                found.setdefault((name, f"AlarmRule {problem}"), defaults)
    composites = {
        application
        for application, nested, _ in template.nested_templates()
        if any(True for _ in _resources(nested.translated, "AWS::CloudWatch::CompositeAlarm"))
    }
    for params, application, passed in worst_case_passed(template):
        nested = template.nested(application)
        if application not in composites or nested is None:
            continue
        stack = build_stack(
            nested.translated, application, f"{WORST_CASE_STACK_NAME}-{application}-{SUFFIX}", passed, {}
        )
        for name, alarm in stack.of_type("AWS::CloudWatch::CompositeAlarm").items():
            for problem in alarm_rule_problems(str(stack.value(alarm["Properties"]["AlarmRule"]))):
                key = (f"{application} ({nested.name} {name})", f"AlarmRule {problem}")
                found[key] = _simplest(found.get(key), params, defaults)
    return [
        template.message(
            where, f"{problem} with the longest alarm names, e.g. {_difference(params, defaults)}"
        )
        for (where, problem), params in sorted(found.items())
    ]


# ---------------------------------------------------------------------------------------------- 15
# CloudWatch quotas: "Alarms based on metric math expressions can have up to 10 metrics". PutMetricAlarm
# (botocore's cloudwatch model): ReturnData "specify true for the one expression result to use as the alarm.
# For all other metrics and expressions ... specify ReturnData as False" (it is true when omitted); Period
# "Valid values are 10, 20, 30, and any multiple of 60"; "Period multiplied by EvaluationPeriods can't be more
# than 604,800 seconds. For alarms with a period of less than one hour (3,600 seconds), the total evaluation
# period can't be longer than one day (86,400 seconds)".
MATH_ALARM_METRICS = 10
HIGH_RESOLUTION_PERIODS = (10, 20, 30)
EVALUATION_RANGE = 604800
EVALUATION_RANGE_UNDER_AN_HOUR = 86400


def metric_math_alarms_fit(template: TemplateUnderTest) -> list[str]:
    """metric-math-alarms-fit: an AWS::CloudWatch::Alarm on metric math reads at most 10 metrics (MetricStat
    items, counted when any branch has one), and exactly one of its items returns data: one item is always
    there with ReturnData true (or omitted), every other item says ReturnData false in every branch."""
    messages = []
    for name, alarm in _resources(template.translated, "AWS::CloudWatch::Alarm"):
        metrics = alarm.get("Properties", {}).get("Metrics")
        if metrics is None:
            continue
        for alternative in _branches(metrics) if isinstance(metrics, dict) else [metrics]:
            items = [_branches(item) for item in alternative] if isinstance(alternative, list) else []
            stats = sum(any(isinstance(b, dict) and "MetricStat" in b for b in item) for item in items)
            if stats > MATH_ALARM_METRICS:
                messages.append(
                    template.message(
                        name,
                        f"reads {stats} metrics; an alarm on metric math reads at most {MATH_ALARM_METRICS}",
                    )
                )
            returning = [item for item in items if any(_returns_data(b) for b in item)]
            always = [item for item in returning if all(_returns_data(b) is True for b in item)]
            if len(returning) != 1 or len(always) != 1:
                messages.append(
                    template.message(
                        name,
                        f"has {len(returning)} items that can return data ({len(always)} always do); "
                        "exactly one must (ReturnData false on the others)",
                    )
                )
    return sorted(set(messages))


def _returns_data(item: Any) -> bool | None:
    """True if a Metrics item returns data (ReturnData true or omitted), False if not, None if absent or
    undecided (a parameter)."""
    if item is NO_VALUE or not isinstance(item, dict):
        return None
    value = item.get("ReturnData", True)
    return None if _function(value) else str(value).lower() == "true"


def alarm_evaluation_ranges_fit(template: TemplateUnderTest) -> list[str]:
    """alarm-evaluation-ranges-fit: every AWS::CloudWatch::Alarm's period (Period, or each MetricStat's) is
    10, 20, 30 or a multiple of 60, and period x EvaluationPeriods is at most 86,400 s under an hour's
    period and 604,800 s otherwise, for every value its parameters admit: their AllowedValues, else their
    default and MinValue and MaxValue (a Number parameter without MaxValue admits any value: reported)."""
    document = template.source
    messages = []
    for name, alarm in _resources(document, "AWS::CloudWatch::Alarm"):
        properties = alarm.get("Properties", {})
        nodes = [properties.get("Period"), properties.get("EvaluationPeriods"), properties.get("Metrics")]
        decisive = _decision_parameters(document, nodes) | (
            _references(nodes) & set(document.get("Parameters", {}))
        )
        for parameter in sorted(decisive):
            spec = document["Parameters"][parameter]
            if spec.get("Type") == "Number" and "MaxValue" not in spec and "AllowedValues" not in spec:
                messages.append(
                    template.message(
                        name,
                        f"reads its period or evaluation periods from {parameter}, which has no MaxValue",
                    )
                )
        for params in scenarios(template, decisive):
            problem = _evaluation_range_problem(document, params, properties)
            if problem:
                messages.append(template.message(name, problem))
    return sorted(set(messages))


def _evaluation_range_problem(
    document: dict[str, Any], params: dict[str, str], properties: dict[str, Any]
) -> str:
    conditions = evaluate_conditions(document, pseudo_parameters("stack") | params)
    names = _with_markers(document, pseudo_parameters("stack") | params)
    nodes = [properties.get("Period")] + [
        node["MetricStat"].get("Period")
        for node in _walk(properties.get("Metrics", []))
        if isinstance(node, dict) and isinstance(node.get("MetricStat"), dict)
    ]
    periods = [evaluate(document, names, node, conditions) for node in nodes if node is not None]
    evaluations = int(evaluate(document, names, properties.get("EvaluationPeriods", 1), conditions))
    for period in (int(p) for p in periods if p is not NO_VALUE):
        if period not in HIGH_RESOLUTION_PERIODS and (period <= 0 or period % 60):
            return f"has period {period}; CloudWatch takes 10, 20, 30 or a multiple of 60"
        limit = EVALUATION_RANGE_UNDER_AN_HOUR if period < 3600 else EVALUATION_RANGE
        if period * evaluations > limit:
            return (
                f"evaluates {evaluations} periods of {period} s ({period * evaluations} s, at most {limit})"
            )
    return ""


# ---------------------------------------------------------------------------------------------- 16
# At most this many combinations of a dashboard body's conditions are tried (all of them below it).
DASHBOARD_COMBINATIONS = 4096


def dashboard_bodies_cloudwatch_accepts(template: TemplateUnderTest) -> list[str]:
    """dashboard-bodies-cloudwatch-accepts: every AWS::CloudWatch::Dashboard's DashboardBody, for every
    combination of the conditions its Fn::If branches read (the template's other values at their defaults),
    is a body PutDashboard accepts (tests/templates/dashboards.py: JSON with a widgets array, at most 500
    widgets, 500 metrics per widget and 2,500 in all, a region on every metric widget, periods in minutes,
    widget sizes in the grid). CloudFormation passes the string as it is; CloudWatch refuses it when the
    stack is created."""
    document = template.translated
    defaults = default_parameters(document)
    base = _with_markers(document, pseudo_parameters("stack") | defaults)
    base_conditions = evaluate_conditions(document, base)
    messages = []
    for name, dashboard in _resources(document, "AWS::CloudWatch::Dashboard"):
        body = dashboard.get("Properties", {}).get("DashboardBody")
        names = sorted(_condition_names(body))
        if 2 ** len(names) > DASHBOARD_COMBINATIONS:
            messages.append(
                template.message(name, f"its body reads {len(names)} conditions: too many to try")
            )
            continue
        for values in product([True, False], repeat=len(names)):
            chosen = dict(zip(names, values, strict=True))
            text = evaluate(document, base, body, base_conditions | chosen)
            for problem in body_problems(str(text)):
                on = ", ".join(f"{n}={v}" for n, v in chosen.items())
                messages.append(template.message(name, f"{problem} (with {on or 'the defaults'})"))
    return messages[:20]


# ---------------------------------------------------------------------------------------------- 17-21
# State machines (tests/templates/state_machines.py): each is evaluated in a stack of its template for every
# scenario of tests/templates/scenarios.py (its defaults at least), so every branch of its Conditions counts.
def _state_machine_stacks(template: TemplateUnderTest) -> Iterator[tuple[StackModel, list[Machine]]]:
    document = template.translated
    resources = document.get("Resources", {})
    if not any(resource.get("Type") == STATE_MACHINE for resource in resources.values()):
        return
    parameters = document.get("Parameters", {})
    required = {name: f"<{name}>" for name, spec in parameters.items() if "Default" not in spec}
    # What nested stacks give stays a marker: no state machine rule reads it.
    outside = {
        f"{name}.{attribute}": f"<{name}.{attribute}>"
        for name, attribute in references(resources)
        if attribute and resources.get(name, {}).get("Type") in APPLICATION_TYPES
    }
    stem = Path(template.name).stem
    for values in scenarios_for(stem, set(parameters)).values():
        stack = build_stack(document, stem, stem, required | values, outside)
        yield stack, machines(stack)


def _grants(stack: StackModel, machine: Machine) -> Grants | None:
    return role_grants(stack, machine.role) if machine.role else None


# Step Functions Developer Guide, "Map state processing modes": Inline mode "supports up to 40 concurrent
# iterations" (Distributed mode for more).
INLINE_MAP = 40


def state_machine_definitions_valid(template: TemplateUnderTest) -> list[str]:
    """state-machine-definitions-valid: every state machine's definition, as Step Functions receives it (its
    DefinitionSubstitutions made), fills every ${placeholder}, is a JSON object, and is valid Amazon States
    Language for asl-validator (the pinned npm package: schema, paths, ARNs) and for moto's Step Functions
    parser (LocalStack's grammar, which the local runtime runs it with); no inline Map asks for more than the
    40 concurrent iterations inline mode runs."""
    messages = []
    for _, found in _state_machine_stacks(template):
        texts = {}
        for machine in found:
            if machine.unresolved:
                listed = ", ".join(machine.unresolved)
                messages.append(template.message(machine.logical_id, f"no substitution fills ${{{listed}}}"))
            if machine.definition is None:
                messages.append(template.message(machine.logical_id, "its definition is not a JSON object"))
                continue
            texts[machine.logical_id] = machine.text
            problem = moto_parser_problem(machine.text)
            if problem:
                messages.append(
                    template.message(machine.logical_id, f"moto's ASL parser refuses it: {problem}")
                )
            messages += [template.message(machine.logical_id, p) for p in _inline_map_problems(machine)]
        for logical_id, errors in asl_validator_problems(texts).items():
            messages += [template.message(logical_id, f"asl-validator: {error}") for error in errors]
    return sorted(set(messages))


def _inline_map_problems(machine: Machine) -> list[str]:
    problems = []
    for path, state in states(machine.definition or {}):
        concurrency = state.get("MaxConcurrency")
        if is_inline_map(state) and isinstance(concurrency, int) and concurrency > INLINE_MAP:
            problems.append(
                f"{path}: MaxConcurrency {concurrency}: an inline Map runs at most {INLINE_MAP} iterations"
            )
    return problems


def distributed_maps_have_their_rights(template: TemplateUnderTest) -> list[str]:
    """distributed-maps-have-their-rights: the role of a state machine with a Distributed Map may start
    executions of the machine itself (the map's children) and describe them; the map has a Label, and the
    role may describe, stop and redrive its children (<machine>/<Label>:<id>); its ItemReader may read the
    object (s3:getObject: s3:GetObject; a key from a path: some object outside the ResultWriter's prefix) or
    list the bucket (s3:listObjectsV2: s3:ListBucket); its ResultWriter
    may write under its prefix (s3:PutObject, s3:GetObject, s3:ListMultipartUploadParts,
    s3:AbortMultipartUpload); and when the bucket is one of the stack's with a KMS key, the role may use the
    key (kms:Decrypt to read, kms:GenerateDataKey too to write)."""
    messages = []
    for stack, found in _state_machine_stacks(template):
        for machine in found:
            grants = _grants(stack, machine)
            if machine.definition is None or grants is None:
                continue
            for path, state in states(machine.definition):
                processor = state.get("ItemProcessor") or {}
                if (
                    state.get("Type") != "Map"
                    or processor.get("ProcessorConfig", {}).get("Mode") != "DISTRIBUTED"
                ):
                    continue
                messages += [
                    template.message(machine.logical_id, f"{path}: {problem}")
                    for problem in _distributed_map_problems(stack, machine, grants, state)
                ]
    return sorted(set(messages))


def _distributed_map_problems(
    stack: StackModel, machine: Machine, grants: Grants, state: dict[str, Any]
) -> list[str]:
    problems = []
    executions = machine.arn.replace(":stateMachine:", ":execution:")
    needed = [(CHILD_EXECUTIONS, machine.arn), (FOLLOW_EXECUTIONS, f"{executions}:child")]
    if "Label" in state:
        needed.append((LABELLED_CHILD_ACTIONS, f"{executions}/{state['Label']}:child"))
    else:
        problems.append("it has no Label (its children are <machine>/<Label>:<id>, which the role names)")
    writer = state.get("ResultWriter") or {}
    parameters = writer.get("Parameters") or writer.get("Arguments") or {}
    written = ""
    if writer.get("Resource") == S3_WRITE and "Bucket" in parameters:
        bucket = str(parameters["Bucket"])
        prefix = str(parameters.get("Prefix", "")).strip("/")
        written = f"arn:aws:s3:::{bucket}/" + (f"{prefix}/" if prefix else "")
        needed.append((WRITER_ACTIONS, f"{written}results.json"))
        if (key := bucket_key(stack, bucket)) is not None:
            needed.append((("kms:GenerateDataKey", "kms:Decrypt"), key))
    reader = state.get("ItemReader") or {}
    reading = READER_ACTIONS.get(str(reader.get("Resource")))
    parameters = reader.get("Parameters") or reader.get("Arguments") or {}
    if reading and "Bucket" in parameters:
        bucket = str(parameters["Bucket"])
        target = f"arn:aws:s3:::{bucket}" + (f"/{parameters['Key']}" if "Key" in parameters else "")
        if "Key.$" in parameters:
            target = _granted_object(grants, reading[0], bucket, written)
        needed.append((reading, target))
        if (key := bucket_key(stack, bucket)) is not None:
            needed.append((("kms:Decrypt",), key))
    for actions, resource in needed:
        missing = grants.missing(actions, resource)
        if missing:
            problems.append(f"its role {machine.role} lacks {', '.join(missing)} on {resource}")
    return problems


def _granted_object(grants: Grants, action: str, bucket: str, written: str) -> str:
    """For an ItemReader whose key comes from a path: an object of `bucket` the role may act on outside
    what the map's ResultWriter writes (`written`, a prefix ARN), else the bucket's objects as a whole."""
    for _, resources in grants.statements:
        for resource in resources:
            example = resource.replace("*", "x").replace("?", "x")
            outside = not written or not example.startswith(written)
            if resource.startswith(f"arn:aws:s3:::{bucket}/") and outside and grants.allows(action, example):
                return example
    return f"arn:aws:s3:::{bucket}/*"


# Step Functions quotas: a Standard execution's history holds 25,000 events; inline Map iterations are
# written into it ("Map state processing modes": use Distributed mode when the history may exceed it).
HISTORY_EVENTS = 25_000


def inline_maps_are_bounded(template: TemplateUnderTest) -> list[str]:
    """inline-maps-are-bounded: an inline Map writes every state of every iteration into the execution's
    history (25,000 events for a Standard workflow, and an execution over it fails and cannot be redriven),
    so its iterations x states must be bounded by the definition: no loop in its iterator (a Choice or Next
    back to an earlier state), and no items from a Task, Map or Parallel state's result (as many as a
    function answers at run time). Such maps are Distributed Maps, whose children are executions of their
    own."""
    messages = []
    for _, found in _state_machine_stacks(template):
        for machine in found:
            for prefix, listed in state_lists(machine.definition or {}):
                for name, state in listed.items():
                    if not isinstance(state, dict) or not is_inline_map(state):
                        continue
                    processor = state.get("ItemProcessor") or state.get("Iterator") or {}
                    loop = back_edge(processor)
                    if loop:
                        problem = f"its iterator loops ({loop[0]} -> {loop[1]}): use a Distributed Map"
                        messages.append(template.message(machine.logical_id, f"{prefix}{name}: {problem}"))
                    items = str(state.get("ItemsPath", "$"))
                    writer = result_writer_of(listed, items)
                    if writer:
                        problem = (
                            f"its items ({items}) come from {writer}'s result, unbounded in the "
                            f"{HISTORY_EVENTS:,}-event history: use a Distributed Map"
                        )
                        messages.append(template.message(machine.logical_id, f"{prefix}{name}: {problem}"))
    return sorted(set(messages))


def lambda_tasks_retry_service_errors(template: TemplateUnderTest) -> list[str]:
    """lambda-tasks-retry-service-errors: every Task that invokes Lambda retries each transient Lambda
    service error AWS lists (Lambda.ClientExecutionTimeoutException, ServiceException, AWSLambdaException,
    SdkClientException, and TooManyRequestsException): the retrier that decides for it (the first whose
    ErrorEquals names it, States.TaskFailed or States.ALL) exists and has MaxAttempts above 0."""
    messages = []
    for _, found in _state_machine_stacks(template):
        for machine in found:
            for path, state in states(machine.definition or {}):
                if lambda_target(state) is None:
                    continue
                for error in LAMBDA_SERVICE_ERRORS:
                    retrier = deciding_retrier(state, error)
                    if retrier is None:
                        problem = f"no retrier retries {error}"
                    elif int(retrier.get("MaxAttempts", 3)) < 1:
                        names = ", ".join(retrier.get("ErrorEquals", []))
                        problem = f"{error} meets a retrier with MaxAttempts 0 first ({names})"
                    else:
                        continue
                    messages.append(template.message(machine.logical_id, f"{path}: {problem}"))
    return sorted(set(messages))


def lambda_task_timeouts_cover_the_function(template: TemplateUnderTest) -> list[str]:
    """lambda-task-timeouts-cover-the-function: a Task invoking a Lambda function of the stack with
    TimeoutSeconds gives it at least the function's Timeout (the longest its parameter admits): otherwise
    Step Functions fails the task with States.Timeout while the function still runs, and a retry runs a
    second copy beside it."""
    messages = []
    for stack, found in _state_machine_stacks(template):
        for machine in found:
            for path, state in states(machine.definition or {}):
                target = lambda_target(state)
                seconds = state.get("TimeoutSeconds")
                if target is None or target[1] or not isinstance(seconds, int):
                    continue
                function_id = stack_function(stack, target[0])
                if function_id is None:
                    continue
                longest = longest_timeout(stack, function_id)
                if seconds < longest:
                    problem = f"TimeoutSeconds {seconds} is shorter than {function_id}'s Timeout {longest}"
                    messages.append(template.message(machine.logical_id, f"{path}: {problem}"))
    return sorted(set(messages))


def state_machine_tasks_invoke_own_functions(template: TemplateUnderTest) -> list[str]:
    """state-machine-tasks-invoke-own-functions: every Lambda task of a state machine names its function
    (not a path), a function of the same stack or one a parameter gives, and the machine's role may invoke
    it (lambda:InvokeFunction on its ARN): a function of another stack or account would be invoked with
    whatever it is at run time, and a role without the right fails the task (Lambda.AWSLambdaException)."""
    messages = []
    for stack, found in _state_machine_stacks(template):
        for machine in found:
            grants = _grants(stack, machine)
            for path, state in states(machine.definition or {}):
                target = lambda_target(state)
                if target is None:
                    continue
                name, from_path = target
                if from_path:
                    messages.append(
                        template.message(machine.logical_id, f"{path}: FunctionName comes from {name}")
                    )
                    continue
                if stack_function(stack, name) is None and name not in stack.params.values():
                    messages.append(
                        template.message(
                            machine.logical_id,
                            f"{path}: invokes {name}, neither a function of the template nor a parameter",
                        )
                    )
                arn = function_arn(name)
                if grants is not None and not grants.allows("lambda:InvokeFunction", arn):
                    problem = f"its role {machine.role} lacks lambda:InvokeFunction on {arn}"
                    messages.append(template.message(machine.logical_id, f"{path}: {problem}"))
    return sorted(set(messages))


def _log_group_problems(stack: StackModel, machine: Machine) -> list[str]:
    """A log group of the stack that the machine logs to, named outside /aws/vendedlogs/."""
    problems = []
    for destination in machine.properties.get("LoggingConfiguration", {}).get("Destinations", []):
        target = _get_att(destination.get("CloudWatchLogsLogGroup", {}).get("LogGroupArn"))
        if target and target[0] in stack.resources and not stack.names[target[0]].startswith(VENDED_LOGS):
            problems.append(f"logs to {target[0]} ({stack.names[target[0]]}), a name outside {VENDED_LOGS}")
    return problems


# "Using CloudWatch Logs to log execution history in Step Functions": log delivery adds each log group to the
# account's CloudWatch Logs resource policy (5,120 characters per policy), unless its name starts with this.
VENDED_LOGS = "/aws/vendedlogs/"


def state_machine_role_can_log_and_trace(template: TemplateUnderTest) -> list[str]:
    """state-machine-role-can-log-and-trace: a state machine that logs to CloudWatch Logs has a role with
    the log delivery actions on "*" (Step Functions refuses to create it otherwise: the role "is not
    authorized to access the Log Destination"), and logs to a group under /aws/vendedlogs/ (other names go
    into the account's log resource policy, whose size limit fails later machines the same way); one with
    X-Ray tracing has a role with the X-Ray actions."""
    messages = []
    for stack, found in _state_machine_stacks(template):
        for machine in found:
            grants = _grants(stack, machine)
            if grants is None:
                continue
            logging = stack.value(machine.properties.get("LoggingConfiguration", {}))
            tracing = stack.value(machine.properties.get("TracingConfiguration", {}))
            needed = []
            if logging.get("Destinations") and logging.get("Level", "OFF") != "OFF":
                needed.append(("logging", LOG_DELIVERY_ACTIONS))
                messages += [
                    template.message(machine.logical_id, problem)
                    for problem in _log_group_problems(stack, machine)
                ]
            if str(tracing.get("Enabled", False)).lower() == "true":
                needed.append(("tracing", TRACING_ACTIONS))
            for what, actions in needed:
                missing = grants.missing(actions, "*")
                if missing:
                    messages.append(
                        template.message(
                            machine.logical_id,
                            f"{what} is on but its role {machine.role} lacks {', '.join(missing)} on *",
                        )
                    )
    return sorted(set(messages))


_STACK_KAFKA_ARN = ":kafka:${AWS::Region}:${AWS::AccountId}:"


def kafka_arns_follow_the_cluster(template: TemplateUnderTest) -> list[str]:
    """kafka-arns-follow-the-cluster: a template that attaches to a cluster given as a parameter
    (`ClusterArn`, `SourceClusterArn`) builds its topic, group and transactional-id ARNs from that cluster's
    ARN, not from the stack's `${AWS::Region}:${AWS::AccountId}`: an existing cluster may be in another
    account (MSK multi-VPC private connectivity, a cluster policy), and a resource ARN of the wrong account
    matches nothing, so every kafka-cluster action on it is denied."""
    parameters = template.source.get("Parameters", {})
    if not {"ClusterArn", "SourceClusterArn"} & set(parameters):
        return []
    messages = []
    for logical_id, resource in template.translated.get("Resources", {}).items():
        for node in _walk(resource):
            function = _function(node)
            if not function or function[0] != "Fn::Sub":
                continue
            text = function[1][0] if isinstance(function[1], list) else function[1]
            if isinstance(text, str) and _STACK_KAFKA_ARN in text:
                messages.append(
                    template.message(
                        logical_id,
                        f"{text!r} builds a kafka ARN with the stack's region and account; take them "
                        "from the cluster's ARN (its first five ':' fields)",
                    )
                )
    return messages


RULES: dict[str, Callable[[TemplateUnderTest], list[str]]] = {
    "kms-context-matches-bucket-key": kms_context_matches_bucket_key,
    "no-suffix-on-log-group-arn": no_suffix_on_log_group_arn,
    "no-implicit-stage": no_implicit_stage,
    "stage-logging-needs-account-role": stage_logging_needs_account_role,
    "no-always-on-reserved-concurrency": no_always_on_reserved_concurrency,
    "cidr-fits-every-admitted-block": cidr_fits_every_admitted_block,
    "cidr-parameters-admit-only-private-blocks": cidr_parameters_admit_only_private_blocks,
    "data-is-retained": data_is_retained,
    "vpc-endpoint-service-names-current": vpc_endpoint_service_names_current,
    "kafka-versions-from-a-list": kafka_versions_from_a_list,
    "nested-rules-hold-in-root": nested_rules_hold_in_root,
    "kafka-consumer-groups-per-stack": kafka_consumer_groups_per_stack,
    "alarm-topic-key-usable-by-cloudwatch": alarm_topic_key_usable_by_cloudwatch,
    "nested-parameter-values-fit": nested_parameter_values_fit,
    "composite-alarm-rules-fit": composite_alarm_rules_fit,
    "metric-math-alarms-fit": metric_math_alarms_fit,
    "alarm-evaluation-ranges-fit": alarm_evaluation_ranges_fit,
    "dashboard-bodies-cloudwatch-accepts": dashboard_bodies_cloudwatch_accepts,
    "state-machine-definitions-valid": state_machine_definitions_valid,
    "distributed-maps-have-their-rights": distributed_maps_have_their_rights,
    "inline-maps-are-bounded": inline_maps_are_bounded,
    "lambda-tasks-retry-service-errors": lambda_tasks_retry_service_errors,
    "lambda-task-timeouts-cover-the-function": lambda_task_timeouts_cover_the_function,
    "state-machine-tasks-invoke-own-functions": state_machine_tasks_invoke_own_functions,
    "state-machine-role-can-log-and-trace": state_machine_role_can_log_and_trace,
    "kafka-arns-follow-the-cluster": kafka_arns_follow_the_cluster,
}
