"""AWS emulation for the local runtime: moto in server mode on a loopback port, holding the resources a
template declares, under the names `local.functions.local_name` gives them."""

from __future__ import annotations

import contextlib
import logging
import os
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from local.broker import free_port
from local.cfn import enabled_resources, evaluate_conditions, parameter_values, resolve_tree
from local.functions import (
    LOCAL_ACCOUNT,
    LOCAL_CLUSTER_ARN,
    LOCAL_PARAMETERS,
    LOCAL_REGION,
    REPO,
    load_template,
    local_name,
)

# moto accepts any credentials; these make boto3 sign requests without looking for real ones.
LOCAL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_DEFAULT_REGION": LOCAL_REGION,
    "AWS_REGION": LOCAL_REGION,
}


@contextmanager
def running_moto() -> Iterator[str]:
    """Yield the endpoint URL of a moto server started on a free loopback port; stop it afterwards."""
    port = free_port()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's web server logs every request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    # moto's backends live in the process, not the server: start each server from a clean state.
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10)
    try:
        yield endpoint
    finally:
        server.stop()


def client(service: str, endpoint: str) -> Any:
    """A boto3 client for `service` on the moto server at `endpoint`, with the local credentials."""
    session = boto3.session.Session(
        aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=LOCAL_REGION,
    )
    return session.client(service, endpoint_url=endpoint)  # type: ignore[call-overload]  # any service name


def _clients(endpoint: str) -> dict[str, Any]:
    return {
        name: client(name, endpoint)
        for name in ("s3", "firehose", "sqs", "cognito-idp", "sns", "cloudwatch", "logs")
    }


def _referenced(value: Any) -> str | None:
    """The logical ID a `!GetAtt X.Arn` or `!Ref X` points at."""
    if isinstance(value, dict):
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            return str(target[0] if isinstance(target, list) else target.split(".")[0])
        if "Ref" in value:
            return str(value["Ref"])
    return None


def create_template_resources(endpoint: str, template_path: Path) -> dict[str, str]:
    """Create the template's buckets, queues, log groups, DirectPut delivery streams, Cognito user pools, SNS
    topics and CloudWatch alarms; logical ID -> local name (or pool ID, client ID, topic ARN)."""
    template = load_template(template_path)
    resources = template.get("Resources", {})
    clients = _clients(endpoint)
    created: dict[str, str] = {}
    for logical_id, resource in resources.items():
        name = local_name(logical_id)
        if resource["Type"] == "AWS::S3::Bucket":
            clients["s3"].create_bucket(Bucket=name)
            created[logical_id] = name
        elif resource["Type"] == "AWS::SQS::Queue":
            clients["sqs"].create_queue(QueueName=name)
            created[logical_id] = name
        elif resource["Type"] == "AWS::Logs::LogGroup":
            with contextlib.suppress(clients["logs"].exceptions.ResourceAlreadyExistsException):
                clients["logs"].create_log_group(logGroupName=name)
            created[logical_id] = name
    created |= _create_user_pools(clients["cognito-idp"], template)
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::KinesisFirehose::DeliveryStream":
            continue
        destination = resource["Properties"]["ExtendedS3DestinationConfiguration"]
        bucket = local_name(_referenced(destination["BucketARN"]) or "")
        clients["firehose"].create_delivery_stream(
            DeliveryStreamName=local_name(logical_id),
            DeliveryStreamType="DirectPut",
            ExtendedS3DestinationConfiguration={
                "RoleARN": f"arn:aws:iam::{LOCAL_ACCOUNT}:role/{local_name('DeliveryRole')}",
                "BucketARN": f"arn:aws:s3:::{bucket}",
                # moto does not expand Firehose's !{timestamp:...} expressions: keep the fixed part.
                "Prefix": str(destination.get("Prefix", "")).split("!{", 1)[0].rpartition("/")[0] + "/",
            },
        )
        created[logical_id] = local_name(logical_id)
    created |= _create_topics_and_alarms(clients["sns"], clients["cloudwatch"], template)
    return created


# put_metric_alarm's arguments that an AWS::CloudWatch::Alarm's properties give, under the same names.
ALARM_PROPERTIES = (
    "AlarmDescription",
    "ActionsEnabled",
    "AlarmActions",
    "OKActions",
    "InsufficientDataActions",
    "MetricName",
    "Namespace",
    "Statistic",
    "ExtendedStatistic",
    "Dimensions",
    "Period",
    "Unit",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
    "Metrics",
)


# CloudFormation turns a property's string (a `!Ref` to a Number parameter is one) into the property's type.
ALARM_NUMBERS = {"Threshold": float, "Period": int, "EvaluationPeriods": int, "DatapointsToAlarm": int}


def _alarm_arguments(resolved: dict[str, Any]) -> dict[str, Any]:
    arguments = {key: value for key, value in resolved.items() if value is not None}
    for key, kind in ALARM_NUMBERS.items():
        if key in arguments:
            arguments[key] = kind(arguments[key])
    if "ActionsEnabled" in arguments:
        arguments["ActionsEnabled"] = str(arguments["ActionsEnabled"]).lower() == "true"
    return arguments


def _local_parameters(template: dict[str, Any]) -> dict[str, str]:
    """The template's parameter values locally: the defaults, and the local values the root would pass."""
    parameters = template.get("Parameters", {})
    return parameter_values(template, {k: v for k, v in LOCAL_PARAMETERS.items() if k in parameters})


def _create_topics_and_alarms(sns: Any, cloudwatch: Any, template: dict[str, Any]) -> dict[str, str]:
    """The template's SNS topics, then its alarms with references resolved (a `!Ref` to a topic gives its
    ARN, to another resource its local name); resources whose condition is false are left out."""
    params = _local_parameters(template)
    conditions = evaluate_conditions(template, params)
    enabled = enabled_resources(template, params)
    names = {logical_id: local_name(logical_id) for logical_id in enabled}
    created: dict[str, str] = {}
    for logical_id, kind in enabled.items():
        if kind == "AWS::SNS::Topic":
            arn = sns.create_topic(Name=local_name(logical_id))["TopicArn"]
            created[logical_id] = names[logical_id] = arn
    for logical_id, kind in enabled.items():
        if kind != "AWS::CloudWatch::Alarm":
            continue
        properties = template["Resources"][logical_id].get("Properties", {})
        resolved = {
            key: resolve_tree(value, params | names, conditions)
            for key, value in properties.items()
            if key in (*ALARM_PROPERTIES, "AlarmName")
        }
        alarm_name = str(resolved.pop("AlarmName", None) or names[logical_id])
        cloudwatch.put_metric_alarm(AlarmName=alarm_name, **_alarm_arguments(resolved))
        created[logical_id] = alarm_name
    return created


# Nested templates for the cluster itself, which the local broker stands in for even against an existing
# cluster: the lookup of its bootstrap brokers (locally the broker's address is known).
CLUSTER_TEMPLATES = frozenset({REPO / "nested" / "cluster-bootstrap.yaml"})


def option_templates(option: str) -> list[Path]:
    """The nested templates the root template deploys for a DeploymentOption, against an existing cluster
    (locally the broker stands in for the cluster, its network and the lookup of its brokers)."""
    root = load_template(REPO / "template.yaml")
    params = parameter_values(root, {"DeploymentOption": option, "ExistingClusterArn": LOCAL_CLUSTER_ARN})
    deployed = [
        REPO / str(root["Resources"][logical_id]["Properties"]["Location"])
        for logical_id, kind in enabled_resources(root, params).items()
        if kind == "AWS::Serverless::Application"
    ]
    return [template for template in deployed if template not in CLUSTER_TEMPLATES]


def download_buckets(s3: Any, target: Path) -> dict[str, int]:
    """Copy every object of every bucket to `target/<bucket>/<key>`; bucket -> number of objects."""
    counts: dict[str, int] = {}
    for bucket in (b["Name"] for b in s3.list_buckets()["Buckets"]):
        counts[bucket] = 0
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for item in page.get("Contents", []):
                path = target / bucket / item["Key"]
                path.parent.mkdir(parents=True, exist_ok=True)
                s3.download_file(bucket, item["Key"], str(path))
                counts[bucket] += 1
    return counts


def _create_user_pools(cognito: Any, template: dict[str, Any]) -> dict[str, str]:
    """The template's user pools with their resource servers, clients and groups.

    Returns logical ID -> user pool ID or app client ID.
    """
    resources = template.get("Resources", {})
    params = _local_parameters(template)
    conditions = evaluate_conditions(template, params)
    created: dict[str, str] = {}
    for logical_id, resource in resources.items():
        if resource["Type"] == "AWS::Cognito::UserPool":
            created[logical_id] = cognito.create_user_pool(PoolName=local_name(logical_id))["UserPool"]["Id"]
    for resource in resources.values():
        properties = resource.get("Properties", {})
        pool_id = created.get(_referenced(properties.get("UserPoolId")) or "")
        if pool_id is None:
            continue
        if resource["Type"] == "AWS::Cognito::UserPoolResourceServer":
            cognito.create_resource_server(
                UserPoolId=pool_id,
                Identifier=properties["Identifier"],
                Name=properties["Name"],
                Scopes=properties.get("Scopes", []),
            )
        elif resource["Type"] == "AWS::Cognito::UserPoolGroup":
            cognito.create_group(UserPoolId=pool_id, GroupName=properties["GroupName"])
    for logical_id, resource in resources.items():
        properties = resource.get("Properties", {})
        pool_id = created.get(_referenced(properties.get("UserPoolId")) or "")
        if resource["Type"] == "AWS::Cognito::UserPoolClient" and pool_id:
            arguments = {
                key: resolve_tree(value, params, conditions)
                for key, value in properties.items()
                if key in CLIENT_PROPERTIES
            }
            for key in CLIENT_NUMBERS & set(arguments):
                arguments[key] = int(arguments[key])
            client = cognito.create_user_pool_client(UserPoolId=pool_id, **arguments)["UserPoolClient"]
            created[logical_id] = client["ClientId"]
    return created


# create_user_pool_client's arguments that an AWS::Cognito::UserPoolClient's properties give (references to
# parameters resolved with their defaults), and those that are numbers.
CLIENT_PROPERTIES = (
    "ClientName",
    "GenerateSecret",
    "AllowedOAuthFlows",
    "AllowedOAuthScopes",
    "AllowedOAuthFlowsUserPoolClient",
    "ExplicitAuthFlows",
    "AccessTokenValidity",
    "IdTokenValidity",
    "RefreshTokenValidity",
    "TokenValidityUnits",
    "CallbackURLs",
    "SupportedIdentityProviders",
    "EnableTokenRevocation",
    "PreventUserExistenceErrors",
)
CLIENT_NUMBERS = {"AccessTokenValidity", "IdTokenValidity", "RefreshTokenValidity"}


def environment(endpoint: str) -> dict[str, str]:
    """The variables that point boto3 (in this process and in the handlers) at the moto server."""
    return LOCAL_CREDENTIALS | {"AWS_ENDPOINT_URL": endpoint}


def use_environment(values: dict[str, str]) -> None:
    """Set `values` in this process's environment (the handlers read it as Lambda's)."""
    os.environ.update(values)
