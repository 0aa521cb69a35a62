"""What moto's CloudFormation can create, and the one list of what stands in for what it cannot.

moto creates a resource type when one of its models declares it (`cloudformation_type()`) and
`moto/cloudformation/parsing.py` finds the model; any other type it skips with a warning. The rehearsal does
not let a type be skipped: a type moto does not implement must be in PLACEHOLDERS (with the reason), where it
becomes an AWS::SSM::Parameter that moto does create, and the values the templates read from it (`Ref`,
`Fn::GetAtt`) are the fixed ones given here. Anything else fails the row, naming the type.
"""

from __future__ import annotations

import hashlib
import importlib
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import moto
from moto.cloudformation import parsing

from tests.templates.deployment import NAMES, generated_name

# The type every placeholder becomes: moto creates and deletes it, and it records what it stands in for.
PLACEHOLDER_TYPE = "AWS::SSM::Parameter"
NESTED_STACK_TYPE = "AWS::CloudFormation::Stack"

# A placeholder value: a str.format template over the fields below, or a function of them. Fields: name
# (logical ID), stack, region, account, and each of the resource's properties whose value is known.
Value = str | Callable[[Mapping[str, Any]], Any]


@dataclass(frozen=True)
class Placeholder:
    """A resource type moto lacks: why, what `Ref` gives, and the attributes the templates read from it."""

    reason: str
    ref: Value
    attributes: Mapping[str, Value] = field(default_factory=dict)
    # Only resources this accepts stand in (given a resolver: property name -> value, None if unknown).
    applies: Callable[[Callable[[str], Any]], bool] | None = None


CUSTOM_RESOURCE = "custom resource: moto would invoke its Lambda function, which it runs only in Docker"
ZONES = ("a", "b", "c")


def _zones(fields: Mapping[str, Any]) -> str:
    return ",".join(f"{fields['region']}{zone}" for zone in ZONES[: int(fields.get("Count", len(ZONES)))])


def _zone_ids(fields: Mapping[str, Any]) -> str:
    return ",".join(f"use1-az{number}" for number in (1, 2, 4)[: int(fields.get("Count", len(ZONES)))])


def _is_kafka_source(value_of: Callable[[str], Any]) -> bool:
    source = value_of("EventSourceArn")
    return value_of("SelfManagedEventSource") is not None or ":kafka:" in str(source or "")


def _generated_name(fields: Mapping[str, Any], limit: int) -> str:
    """The name CloudFormation generates for an unnamed resource whose names are at most `limit` long: the
    stack's name and the logical ID, shortened to fit, and a random suffix (here a fixed one)."""
    suffix = "-1A2B3C4D5E6F"
    room = limit - len(suffix) - 1
    stack, name = str(fields["stack"]), str(fields["name"])
    stack = stack[: max(room - len(name), room // 2)]
    return f"{stack}-{name}"[:room] + suffix


def _uuid(fields: Mapping[str, Any]) -> str:
    """A UUID of the resource (what an event source mapping's `Ref` gives), the same on every run."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{fields['stack']}/{fields['name']}"))


def cloudformation_names(
    kind: str, logical_id: str, stack: str, properties: dict[str, Any]
) -> dict[str, Any]:
    """`properties` with the name CloudFormation generates for a resource that names none: "<stack>-<logical
    ID>-<suffix>" cut to the longest name its service takes (deployment.NAMES). moto's own generated names
    are not cut (cloudformation/parsing.py, generate_resource_name), so a function's could pass Lambda's 64
    characters and a nested stack's parameter pattern refuse it."""
    naming = NAMES.get(kind)
    if naming is None or naming.name_property is None or naming.name_property in properties:
        return properties
    if parsing.resource_name_property_from_type(kind) != naming.name_property:
        return properties
    suffix = hashlib.sha256(f"{stack}/{logical_id}".encode()).hexdigest().upper()[:12]
    name = generated_name(stack, logical_id, naming.limit, lower_case=naming.lower_case, suffix=suffix)
    return properties | {naming.name_property: name}


def _input_name(key: str) -> Callable[[Mapping[str, Any]], Any]:
    """What `Ref` gives a Glue database or table: the Name inside its DatabaseInput or TableInput. Once the
    other values of that property are known only to the stack, the Name is an expression for moto."""

    def name(fields: Mapping[str, Any]) -> Any:
        given = fields.get(key)
        if isinstance(given, PropertyExpression) and isinstance(given.node, Mapping) and "Name" in given.node:
            named = given.node["Name"]
            return named if isinstance(named, str) else PropertyExpression(named)
        if not isinstance(given, Mapping) or "Name" not in given:
            raise UnknownTypeError(f"placeholder value needs property {key}.Name of the resource")
        return given["Name"]

    return name


CLUSTER_ARN = "arn:aws:kafka:{region}:{account}:cluster/{name}/11111111-2222-3333-4444-555555555555-1"


def _alarm_name(fields: Mapping[str, Any]) -> Any:
    """What `Ref` gives an alarm: its AlarmName (an expression for moto when only the stack knows it), else
    the name CloudFormation generates (alarm names take 255 characters)."""
    return fields.get("AlarmName") or _generated_name(fields, 255)


def _alarm_arn(fields: Mapping[str, Any]) -> str:
    return f"arn:aws:cloudwatch:{fields['region']}:{fields['account']}:alarm:{_alarm_name(fields)}"


ALARMS = "moto has the CloudWatch alarm API, but in CloudFormation only dashboards (cloudwatch/models.py)"
SNS_EXTRAS = "moto's CloudFormation has SNS topics only (sns/models.py: Topic is its one CloudFormationModel)"

PLACEHOLDERS: dict[str, Placeholder] = {
    "AWS::MSK::Cluster": Placeholder("moto has no MSK in CloudFormation", CLUSTER_ARN, {"Arn": CLUSTER_ARN}),
    "AWS::MSK::ServerlessCluster": Placeholder(
        "moto has no MSK in CloudFormation", CLUSTER_ARN, {"Arn": CLUSTER_ARN}
    ),
    "AWS::MSK::Topic": Placeholder(
        "moto has no MSK in CloudFormation",
        "arn:aws:kafka:{region}:{account}:topic/{name}/11111111-2222-3333-4444-555555555555-1/{TopicName}",
    ),
    "AWS::MSK::BatchScramSecret": Placeholder("moto has no MSK in CloudFormation", "{ClusterArn}"),
    "AWS::SecretsManager::Secret": Placeholder(
        "moto implements the Secrets Manager API but not this CloudFormation type",
        "arn:aws:secretsmanager:{region}:{account}:secret:{stack}-{name}-AbCdEf",
        {"Id": "arn:aws:secretsmanager:{region}:{account}:secret:{stack}-{name}-AbCdEf"},
    ),
    "AWS::Cognito::UserPool": Placeholder(
        "moto implements the Cognito API but no Cognito CloudFormation type",
        "{region}_{name}",
        {
            "Arn": "arn:aws:cognito-idp:{region}:{account}:userpool/{region}_{name}",
            "ProviderName": "cognito-idp.{region}.amazonaws.com/{region}_{name}",
            "ProviderURL": "https://cognito-idp.{region}.amazonaws.com/{region}_{name}",
            "UserPoolId": "{region}_{name}",
        },
    ),
    "AWS::Cognito::UserPoolClient": Placeholder(
        "moto implements the Cognito API but no Cognito CloudFormation type",
        "{name}0123456789abcdefghij",
        {"ClientId": "{name}0123456789abcdefghij"},
    ),
    "AWS::Cognito::UserPoolDomain": Placeholder(
        "moto implements the Cognito API but no Cognito CloudFormation type",
        "{Domain}",
        {"CloudFrontDistribution": "d111111abcdef8.cloudfront.net"},
    ),
    "AWS::Cognito::UserPoolGroup": Placeholder(
        "moto implements the Cognito API but no Cognito CloudFormation type", "{GroupName}"
    ),
    "AWS::Cognito::UserPoolResourceServer": Placeholder(
        "moto implements the Cognito API but no Cognito CloudFormation type", "{Identifier}"
    ),
    "AWS::ApiGateway::Stage": Placeholder(
        "moto's CloudFormation has RestApi, Resource, Method and Deployment only", "{StageName}"
    ),
    "AWS::ApiGateway::UsagePlan": Placeholder(
        "moto's CloudFormation has RestApi, Resource, Method and Deployment only", "{name}abc123"
    ),
    "AWS::ApiGateway::ApiKey": Placeholder(
        "moto's CloudFormation has RestApi, Resource, Method and Deployment only", "{name}abc123"
    ),
    "AWS::ApiGateway::UsagePlanKey": Placeholder(
        "moto's CloudFormation has RestApi, Resource, Method and Deployment only", "{name}abc123"
    ),
    "AWS::ApiGateway::Account": Placeholder(
        "moto's CloudFormation has RestApi, Resource, Method and Deployment only", "{name}"
    ),
    "AWS::KinesisFirehose::DeliveryStream": Placeholder(
        "moto implements the Firehose API but not this CloudFormation type",
        lambda fields: _generated_name(fields, 64),
        {
            "Arn": lambda fields: (
                f"arn:aws:firehose:{fields['region']}:{fields['account']}:deliverystream/"
                + _generated_name(fields, 64)
            )
        },
    ),
    "AWS::S3::BucketPolicy": Placeholder("moto's CloudFormation has S3 buckets only", "{name}"),
    "AWS::SQS::QueuePolicy": Placeholder("moto's CloudFormation has SQS queues only", "{name}"),
    "AWS::EC2::SecurityGroupEgress": Placeholder(
        "moto's CloudFormation has SecurityGroupIngress but not SecurityGroupEgress", "sgr-0123456789abcdef0"
    ),
    "AWS::Logs::LogStream": Placeholder("moto's CloudFormation has log groups only", "{LogStreamName}"),
    "AWS::WAFv2::WebACL": Placeholder(
        "moto has no WAFv2 in CloudFormation",
        "{stack}-{name}|11111111-2222-3333-4444-555555555555|REGIONAL",
        {
            "Arn": "arn:aws:wafv2:{region}:{account}:regional/webacl/{stack}-{name}/"
            "11111111-2222-3333-4444-555555555555",
            "Id": "11111111-2222-3333-4444-555555555555",
        },
    ),
    "AWS::WAFv2::WebACLAssociation": Placeholder("moto has no WAFv2 in CloudFormation", "{name}"),
    "AWS::Lambda::LayerVersion": Placeholder(
        "moto creates layer versions, but its LayerVersion model has no physical_resource_id: `Ref` gives the"
        " Python object, not the ARN that nested stacks receive (and check against LayerArn's pattern)",
        "arn:aws:lambda:{region}:{account}:layer:{name}:1",
    ),
    "AWS::Lambda::Alias": Placeholder(
        "moto's CloudFormation creates Lambda versions but not aliases (SAM's AutoPublishAlias makes one)",
        "arn:aws:lambda:{region}:{account}:function:{stack}-function:{Name}",
    ),
    "AWS::Lambda::EventSourceMapping": Placeholder(
        "moto's event source mappings take SQS, DynamoDB and Kinesis sources only"
        " (awslambda/models.py: 'Invalid EventSourceArn' for an MSK cluster)",
        _uuid,
        {"Id": _uuid},
        applies=_is_kafka_source,
    ),
    # The literal type (a published component's custom resources): nested/cluster-bootstrap.yaml's
    # BrokerLookup reads BootstrapServers and VpcId; nested/ingest-api.yaml's ApiGatewayAccountRole
    # nothing.
    "AWS::CloudFormation::CustomResource": Placeholder(
        CUSTOM_RESOURCE,
        "{name}",
        {
            "BootstrapServers": "b-1.{name}.kafka.{region}.amazonaws.com:9098,"
            "b-2.{name}.kafka.{region}.amazonaws.com:9098",
            "VpcId": "vpc-0123456789abcdef0",
        },
    ),
    "AWS::KinesisAnalyticsV2::Application": Placeholder(
        "moto has no Managed Service for Apache Flink in CloudFormation", "{ApplicationName}"
    ),
    "AWS::KinesisAnalyticsV2::ApplicationCloudWatchLoggingOption": Placeholder(
        "moto has no Managed Service for Apache Flink in CloudFormation", "{name}"
    ),
    # The code bucket is a resource of the same stack: its name is not known when the placeholder is made.
    "Custom::FlinkApplicationCode": Placeholder(
        CUSTOM_RESOURCE,
        "{KeyPrefix}flink-analytics-0123456789abcdef.zip",
        {
            "Bucket": "{stack}-code",
            "BucketArn": "arn:aws:s3:::{stack}-code",
            "Key": "{KeyPrefix}flink-analytics-0123456789abcdef.zip",
        },
    ),
    "Custom::FlinkApplicationRun": Placeholder(CUSTOM_RESOURCE, "{ApplicationName}"),
    "AWS::Glue::Database": Placeholder(
        "moto implements the Glue API but no Glue CloudFormation type", _input_name("DatabaseInput")
    ),
    "AWS::Glue::Table": Placeholder(
        "moto implements the Glue API but no Glue CloudFormation type", _input_name("TableInput")
    ),
    "Custom::KafkaTopic": Placeholder(CUSTOM_RESOURCE, "{TopicName}", {"TopicName": "{TopicName}"}),
    "Custom::AvailabilityZones": Placeholder(
        CUSTOM_RESOURCE,
        "{name}",
        {
            "ZoneA": "{region}a",
            "ZoneB": "{region}b",
            "ZoneC": "{region}c",
            "Zones": _zones,
            "ZoneIds": _zone_ids,
        },
    ),
    "AWS::CloudWatch::Alarm": Placeholder(ALARMS, _alarm_name, {"Arn": _alarm_arn}),
    "AWS::CloudWatch::CompositeAlarm": Placeholder(ALARMS, _alarm_name, {"Arn": _alarm_arn}),
    "AWS::SNS::TopicPolicy": Placeholder(SNS_EXTRAS, "{name}", {"Id": "{name}"}),
    "AWS::SNS::Subscription": Placeholder(SNS_EXTRAS, "{TopicArn}:11111111-2222-3333-4444-555555555555"),
}


class UnknownTypeError(ValueError):
    """A resource type that moto does not implement and PLACEHOLDERS does not list."""


@cache
def moto_resource_types() -> frozenset[str]:
    """The resource types moto's CloudFormation creates: those of its models (each service's
    `cloudformation_type()`), all imported first so that moto's own lookup sees every one of them.

    Not counted: AWS::CloudFormation::Stack (the rehearsal creates nested stacks itself: moto's Stack model
    has no `Fn::GetAtt` of Outputs and runs no transform), custom resources (moto's model runs the function
    in Docker) and the types moto ignores (parsing.NULL_MODELS).
    """
    package = Path(moto.__file__).parent
    for source in sorted(package.rglob("*.py")):
        relative = source.relative_to(package)
        if relative.parts[0] != "core" and "def cloudformation_type" in source.read_text():
            importlib.import_module(".".join(("moto", *relative.with_suffix("").parts)))
    # moto caches its model list on first use; rebuild it now that every model is imported.
    parsing.get_model_list.cache_clear()
    parsing.get_model_map.cache_clear()
    ignored = {NESTED_STACK_TYPE, *parsing.NULL_MODELS}
    return frozenset(
        kind for kind in parsing.get_model_map() if kind.startswith("AWS::") and kind not in ignored
    )


def placeholder_for(kind: str, value_of: Callable[[str], Any]) -> Placeholder | None:
    """The placeholder a resource of this type gets, or None when moto creates it; UnknownTypeError when
    neither moto nor PLACEHOLDERS knows the type."""
    placeholder = PLACEHOLDERS.get(kind)
    if placeholder is not None and (placeholder.applies is None or placeholder.applies(value_of)):
        return placeholder
    if kind in moto_resource_types():
        return None
    raise UnknownTypeError(f"{kind} is neither implemented by moto's CloudFormation nor in PLACEHOLDERS")


@dataclass(frozen=True)
class PropertyExpression:
    """A property whose value only CloudFormation knows (it reads AWS::StackId, say): moto evaluates it."""

    node: Any

    def __format__(self, spec: str) -> str:
        raise ValueError(f"needs the value of {self.node!r}, which is known only once the stack exists")


def placeholder_value(value: Value, fields: Mapping[str, Any]) -> Any:
    """A placeholder's Ref or attribute value for one resource: a value that is just one field is that
    field as it is (possibly a PropertyExpression)."""
    if callable(value):
        return value(fields)
    whole = re.fullmatch(r"\{(\w+)\}", value)
    if whole and whole.group(1) in fields:
        return fields[whole.group(1)]
    try:
        return value.format_map(fields)
    except KeyError as missing:
        raise UnknownTypeError(
            f"placeholder value {value!r} needs property {missing} of the resource"
        ) from None


@dataclass(frozen=True)
class Deleter:
    """A type moto creates but its stack deletion leaves behind: how the rehearsal deletes it with moto's
    API before the stack goes (None: it goes with the resource named in the reason)."""

    reason: str
    delete: Callable[[Callable[[str], Any], str], None] | None


def _detach_and_delete_gateway(api: Callable[[str], Any], gateway_id: str) -> None:
    ec2 = api("ec2")
    for gateway in ec2.describe_internet_gateways(InternetGatewayIds=[gateway_id])["InternetGateways"]:
        for attachment in gateway.get("Attachments", []):
            ec2.detach_internet_gateway(InternetGatewayId=gateway_id, VpcId=attachment["VpcId"])
    ec2.delete_internet_gateway(InternetGatewayId=gateway_id)


def _detach_and_delete_policy(api: Callable[[str], Any], policy_arn: str) -> None:
    """A managed policy, detached first from the roles still holding it (as CloudFormation requires)."""
    iam = api("iam")
    for role in iam.list_entities_for_policy(PolicyArn=policy_arn, EntityFilter="Role")["PolicyRoles"]:
        iam.detach_role_policy(RoleName=role["RoleName"], PolicyArn=policy_arn)
    iam.delete_policy(PolicyArn=policy_arn)


def _disassociate_and_delete_route_table(api: Callable[[str], Any], route_table_id: str) -> None:
    ec2 = api("ec2")
    for table in ec2.describe_route_tables(RouteTableIds=[route_table_id])["RouteTables"]:
        for association in table.get("Associations", []):
            ec2.disassociate_route_table(AssociationId=association["RouteTableAssociationId"])
    ec2.delete_route_table(RouteTableId=route_table_id)


NOT_DELETED = "moto's model has no CloudFormation delete"
# The types moto creates whose models have neither delete_from_cloudformation_json nor delete(), so that
# moto's stack deletion leaves them (and the VPC they are in) behind.
DELETERS: dict[str, Deleter] = {
    "AWS::EC2::VPCEndpoint": Deleter(
        NOT_DELETED, lambda api, i: api("ec2").delete_vpc_endpoints(VpcEndpointIds=[i])
    ),
    "AWS::EC2::FlowLog": Deleter(NOT_DELETED, lambda api, i: api("ec2").delete_flow_logs(FlowLogIds=[i])),
    "AWS::EC2::SubnetRouteTableAssociation": Deleter(
        f"{NOT_DELETED}; goes with its route table (moto gives it the route table's ID)", None
    ),
    "AWS::EC2::RouteTable": Deleter(NOT_DELETED, _disassociate_and_delete_route_table),
    "AWS::EC2::Route": Deleter(f"{NOT_DELETED}; goes with its route table", None),
    "AWS::EC2::NatGateway": Deleter(
        NOT_DELETED, lambda api, i: api("ec2").delete_nat_gateway(NatGatewayId=i)
    ),
    "AWS::EC2::EIP": Deleter(NOT_DELETED, lambda api, i: api("ec2").release_address(PublicIp=i)),
    "AWS::EC2::InternetGateway": Deleter(NOT_DELETED, _detach_and_delete_gateway),
    "AWS::EC2::VPCGatewayAttachment": Deleter(f"{NOT_DELETED}; goes with its internet gateway", None),
    "AWS::EC2::SecurityGroupIngress": Deleter(f"{NOT_DELETED}; goes with its security group", None),
    "AWS::IAM::ManagedPolicy": Deleter(NOT_DELETED, _detach_and_delete_policy),
    "AWS::Lambda::Permission": Deleter(f"{NOT_DELETED}; goes with its function", None),
    "AWS::Lambda::Version": Deleter(f"{NOT_DELETED}; goes with its function", None),
    "AWS::ApiGateway::RestApi": Deleter(
        NOT_DELETED, lambda api, i: api("apigateway").delete_rest_api(restApiId=i)
    ),
    "AWS::ApiGateway::Deployment": Deleter(f"{NOT_DELETED}; goes with its REST API", None),
}


def moto_model(kind: str) -> Any:
    """moto's model of a resource type it creates, else None."""
    return parsing.get_model_map().get(kind) if kind in moto_resource_types() else None


def deleted_by_moto(kind: str) -> bool:
    """Whether moto's stack deletion deletes a resource of this type (its model says how)."""
    model = moto_model(kind)
    if model is None:
        return True  # not a moto type: nothing of it exists in moto
    abstract = hasattr(model.delete_from_cloudformation_json, "__isabstractmethod__")
    return not abstract or hasattr(model, "delete") is True
