"""AWS emulation for the local runtime: moto in server mode on a loopback port, holding the resources a
template declares, under the names `local.functions.local_name` gives them."""

from __future__ import annotations

import contextlib
import logging
import urllib.request
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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


@dataclass(frozen=True)
class _Deployment:
    """What CloudFormation would deploy from a template locally: the parameter values (the defaults, and the
    local values the root would pass), the conditions, and the resources whose condition holds."""

    params: dict[str, str]
    conditions: dict[str, bool]
    resources: dict[str, dict[str, Any]]

    def of_type(self, kind: str) -> list[str]:
        """The logical IDs of the deployed resources of this type."""
        return [logical_id for logical_id, resource in self.resources.items() if resource["Type"] == kind]

    def properties(self, logical_id: str, names: Collection[str], values: dict[str, str]) -> dict[str, Any]:
        """The resource's properties among `names`, resolved; `values` holds what a `!Ref` (or a
        `!GetAtt X.Attribute`) to a resource gives locally."""
        declared = self.resources[logical_id].get("Properties", {})
        chosen = {name: value for name, value in declared.items() if name in names}
        return dict(resolve_tree(chosen, self.params | values, self.conditions))


def _deployment(template: dict[str, Any], passed: dict[str, str]) -> _Deployment:
    parameters = template.get("Parameters", {})
    given = {k: v for k, v in (LOCAL_PARAMETERS | passed).items() if k in parameters}
    params = parameter_values(template, given)
    enabled = enabled_resources(template, params)
    return _Deployment(
        params,
        evaluate_conditions(template, params),
        {logical_id: template["Resources"][logical_id] for logical_id in enabled},
    )


def create_template_resources(
    endpoint: str, template_path: Path, parameters: dict[str, str] | None = None
) -> dict[str, str]:
    """Create what the template deploys with these parameter values (by default, what the root would pass
    locally; resources whose condition is false are left out): its buckets, queues, log groups, DirectPut
    delivery streams, Cognito user pools, SNS topics and CloudWatch alarms; logical ID -> local name (or pool
    ID, client ID, topic ARN)."""
    deployment = _deployment(load_template(template_path), parameters or {})
    clients = _clients(endpoint)
    # What a `!Ref` to a resource gives locally, and the ARNs the templates read with `!GetAtt`
    values = {logical_id: local_name(logical_id) for logical_id in deployment.resources}
    for bucket in deployment.of_type("AWS::S3::Bucket"):
        values[f"{bucket}.Arn"] = f"arn:aws:s3:::{local_name(bucket)}"
    for role in deployment.of_type("AWS::IAM::Role"):
        values[f"{role}.Arn"] = f"arn:aws:iam::{LOCAL_ACCOUNT}:role/{local_name(role)}"
    for bucket in deployment.of_type("AWS::S3::Bucket"):
        clients["s3"].create_bucket(Bucket=local_name(bucket))
    for queue in deployment.of_type("AWS::SQS::Queue"):
        clients["sqs"].create_queue(QueueName=local_name(queue))
    for log_group in deployment.of_type("AWS::Logs::LogGroup"):
        with contextlib.suppress(clients["logs"].exceptions.ResourceAlreadyExistsException):
            clients["logs"].create_log_group(logGroupName=local_name(log_group))
    created = {
        logical_id: local_name(logical_id)
        for kind in ("AWS::S3::Bucket", "AWS::SQS::Queue", "AWS::Logs::LogGroup")
        for logical_id in deployment.of_type(kind)
    }
    created |= _create_user_pools(clients["cognito-idp"], deployment, values)
    created |= _create_delivery_streams(clients["firehose"], deployment, values)
    created |= _create_topics_and_alarms(clients["sns"], clients["cloudwatch"], deployment, values)
    return created


def _create_delivery_streams(
    firehose: Any, deployment: _Deployment, values: dict[str, str]
) -> dict[str, str]:
    created: dict[str, str] = {}
    for stream in deployment.of_type("AWS::KinesisFirehose::DeliveryStream"):
        destination = deployment.properties(stream, ["ExtendedS3DestinationConfiguration"], values)[
            "ExtendedS3DestinationConfiguration"
        ]
        firehose.create_delivery_stream(
            DeliveryStreamName=local_name(stream),
            DeliveryStreamType="DirectPut",
            ExtendedS3DestinationConfiguration={
                "RoleARN": destination["RoleARN"],
                "BucketARN": destination["BucketARN"],
                # moto does not expand Firehose's !{timestamp:...} expressions: keep the fixed part.
                "Prefix": str(destination.get("Prefix", "")).split("!{", 1)[0].rpartition("/")[0] + "/",
            },
        )
        created[stream] = local_name(stream)
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


def _create_topics_and_alarms(
    sns: Any, cloudwatch: Any, deployment: _Deployment, values: dict[str, str]
) -> dict[str, str]:
    """The SNS topics, then the alarms (a `!Ref` to a topic gives its ARN)."""
    created: dict[str, str] = {}
    for topic in deployment.of_type("AWS::SNS::Topic"):
        created[topic] = sns.create_topic(Name=local_name(topic))["TopicArn"]
    for alarm in deployment.of_type("AWS::CloudWatch::Alarm"):
        resolved = deployment.properties(alarm, (*ALARM_PROPERTIES, "AlarmName"), values | created)
        alarm_name = str(resolved.pop("AlarmName", None) or local_name(alarm))
        cloudwatch.put_metric_alarm(AlarmName=alarm_name, **_alarm_arguments(resolved))
        created[alarm] = alarm_name
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
    # nested/kafka-function.yaml is nested twice by All (the consumer and the archive's forwarder)
    return [template for template in dict.fromkeys(deployed) if template not in CLUSTER_TEMPLATES]


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


def _create_user_pools(cognito: Any, deployment: _Deployment, values: dict[str, str]) -> dict[str, str]:
    """The user pools, then their resource servers, groups and app clients (a `!Ref` to a pool gives its ID).

    Returns logical ID -> user pool ID or app client ID.
    """
    created: dict[str, str] = {}
    for pool in deployment.of_type("AWS::Cognito::UserPool"):
        created[pool] = cognito.create_user_pool(PoolName=local_name(pool))["UserPool"]["Id"]
    for server in deployment.of_type("AWS::Cognito::UserPoolResourceServer"):
        cognito.create_resource_server(
            **deployment.properties(server, ("UserPoolId", "Identifier", "Name", "Scopes"), values | created)
        )
    for group in deployment.of_type("AWS::Cognito::UserPoolGroup"):
        cognito.create_group(**deployment.properties(group, ("UserPoolId", "GroupName"), values | created))
    for app_client in deployment.of_type("AWS::Cognito::UserPoolClient"):
        arguments = deployment.properties(app_client, ("UserPoolId", *CLIENT_PROPERTIES), values | created)
        for key in CLIENT_NUMBERS & set(arguments):
            arguments[key] = int(arguments[key])
        created[app_client] = cognito.create_user_pool_client(**arguments)["UserPoolClient"]["ClientId"]
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
