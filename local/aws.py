"""AWS emulation for the local runtime: moto in server mode on a loopback port, holding the resources a
template declares, under the names `local.functions.local_name` gives them."""

from __future__ import annotations

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
from local.cfn import enabled_resources, parameter_values
from local.functions import LOCAL_ACCOUNT, LOCAL_CLUSTER_ARN, LOCAL_REGION, REPO, load_template, local_name

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


def _clients(endpoint: str) -> dict[str, Any]:
    session = boto3.session.Session(
        aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=LOCAL_REGION,
    )
    return {
        name: session.client(name, endpoint_url=endpoint) for name in ("s3", "firehose", "sqs", "cognito-idp")
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
    """Create the template's buckets, queues and DirectPut delivery streams; logical ID -> local name."""
    resources = load_template(template_path).get("Resources", {})
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
    created |= _create_user_pools(clients["cognito-idp"], resources)
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
    return created


def option_templates(option: str) -> list[Path]:
    """The nested templates the root template deploys for a DeploymentOption, against an existing cluster
    (locally the broker stands in for the cluster and its network)."""
    root = load_template(REPO / "template.yaml")
    params = parameter_values(root, {"DeploymentOption": option, "ExistingClusterArn": LOCAL_CLUSTER_ARN})
    return [
        REPO / str(root["Resources"][logical_id]["Properties"]["Location"])
        for logical_id, kind in enabled_resources(root, params).items()
        if kind == "AWS::Serverless::Application"
    ]


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


def _literal(properties: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """The listed properties whose values are plain (no intrinsic functions)."""
    return {
        k: v
        for k, v in properties.items()
        if k in keys and not (isinstance(v, dict) and any(x == "Ref" or x.startswith("Fn::") for x in v))
    }


def _create_user_pools(cognito: Any, resources: dict[str, Any]) -> dict[str, str]:
    """The template's user pools with their resource servers, clients and groups.

    Returns logical ID -> user pool ID or app client ID.
    """
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
            client = cognito.create_user_pool_client(
                UserPoolId=pool_id,
                **_literal(
                    properties,
                    (
                        "ClientName",
                        "GenerateSecret",
                        "AllowedOAuthFlows",
                        "AllowedOAuthScopes",
                        "AllowedOAuthFlowsUserPoolClient",
                        "ExplicitAuthFlows",
                    ),
                ),
            )["UserPoolClient"]
            created[logical_id] = client["ClientId"]
    return created


def environment(endpoint: str) -> dict[str, str]:
    """The variables that point boto3 (in this process and in the handlers) at the moto server."""
    return LOCAL_CREDENTIALS | {"AWS_ENDPOINT_URL": endpoint}


def use_environment(values: dict[str, str]) -> None:
    """Set `values` in this process's environment (the handlers read it as Lambda's)."""
    os.environ.update(values)
