"""AWS emulation for the local runtime: moto in server mode on a loopback port, holding the resources a
template declares, under the names `local.functions.local_name` gives them (alarms: under their stack's)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import boto3
from moto.cloudwatch.responses import CloudWatchResponse
from moto.core.utils import utcnow
from moto.firehose.models import FirehoseBackend
from moto.moto_api._internal import mock_random
from moto.server import ThreadedMotoServer

from local.broker import free_port
from local.cfn import enabled_resources, evaluate_conditions, parameter_values, resolve_tree, resolve_value
from local.dashboard_picture import rows
from local.functions import (
    LOCAL_ACCOUNT,
    LOCAL_CLUSTER_ARN,
    LOCAL_PARAMETERS,
    LOCAL_REGION,
    REPO,
    load_template,
    local_name,
)
from local.step_functions import STATE_MACHINE_TYPES, definition_text, enable_interpreter, state_machine_arn

# What CloudFormation's pseudo parameters give locally (the root stack is called "local").
LOCAL_PSEUDO_PARAMETERS = {
    "AWS::AccountId": LOCAL_ACCOUNT,
    "AWS::Partition": "aws",
    "AWS::Region": LOCAL_REGION,
    "AWS::StackId": (
        f"arn:aws:cloudformation:{LOCAL_REGION}:{LOCAL_ACCOUNT}:stack/local/00000000-0000-0000-0000-000000000000"
    ),
    "AWS::StackName": "local",
    "AWS::URLSuffix": "amazonaws.com",
}

# moto accepts any credentials; these make boto3 sign requests without looking for real ones.
LOCAL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_DEFAULT_REGION": LOCAL_REGION,
    "AWS_REGION": LOCAL_REGION,
}


@cache
def _parsed(path: Path, modified: int) -> str:
    return json.dumps(load_template(path))


def read_template(path: Path) -> dict[str, Any]:
    """`load_template(path)`, parsed once per version of the file (PyYAML parses a template in a quarter of
    a second); a fresh copy each call."""
    return dict(json.loads(_parsed(path, path.stat().st_mtime_ns)))


@contextmanager
def running_moto() -> Iterator[str]:
    """Yield the endpoint URL of a moto server started on a free loopback port; stop it afterwards. Its
    Step Functions runs state machines' definitions (`local.step_functions`)."""
    _route_put_composite_alarm()
    _expand_firehose_timestamps()
    port = free_port()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's web server logs every request otherwise
    # moto's Step Functions interpreter logs every path a Choice finds absent (IsPresent) at ERROR: how an
    # execution went is in its history, which the callers read.
    logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    # moto's backends live in the process, not the server: start each server from a clean state.
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10)
    previous_port = os.environ.get("MOTO_PORT")
    enable_interpreter(endpoint)
    try:
        yield endpoint
    finally:
        server.stop()
        if previous_port is None:
            os.environ.pop("MOTO_PORT", None)
        else:
            os.environ["MOTO_PORT"] = previous_port


@contextmanager
def moto_in_another_process() -> Iterator[str]:
    """Yield the endpoint URL of a moto server in a process of its own (for measurements: its request
    handling then takes none of this process's CPU); no Step Functions interpreter, no routing to local
    functions (those need the server in this process). Stopped afterwards."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError(f"moto's server did not start on port {port}") from None
                time.sleep(0.2)
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=10)


def _route_put_composite_alarm() -> None:
    """moto 5.2 keeps composite alarms (an alarm with a rule, listed by DescribeAlarms under CompositeAlarms)
    but routes no PutCompositeAlarm action; its PutMetricAlarm handler reads AlarmRule "to re-use this method
    for composite alarms" (moto/cloudwatch/responses.py): route the action there, as LocalStack does. The
    server runs in this process, so this reaches it."""
    if not hasattr(CloudWatchResponse, "put_composite_alarm"):
        CloudWatchResponse.put_composite_alarm = CloudWatchResponse.put_metric_alarm  # type: ignore[attr-defined]


# Firehose's !{timestamp:<pattern>} expressions: the Java DateTimeFormatter letters the templates use.
_TIMESTAMP_EXPRESSION = re.compile(r"!\{timestamp:([^}]*)\}")
_TIMESTAMP_LETTERS = {"yyyy": "%Y", "MM": "%m", "dd": "%d", "HH": "%H", "mm": "%M"}
_moto_object_path = FirehoseBackend._format_s3_object_path


def _object_path(delivery_stream_name: str, version_id: str, prefix: str) -> str:
    """Firehose's S3 object key: a prefix with !{timestamp:...} expressions is expanded at the arrival time
    (UTC) and gets no YYYY/MM/DD/HH/ of its own, as Firehose documents ("Custom Prefixes for Amazon S3
    Objects"); moto's own key otherwise."""
    if "!{timestamp:" not in prefix:
        return str(_moto_object_path(delivery_stream_name, version_id, prefix))
    now = utcnow()

    def expand(match: re.Match[str]) -> str:
        pattern = match.group(1)
        for letters, directive in _TIMESTAMP_LETTERS.items():
            pattern = pattern.replace(letters, directive)
        return now.strftime(pattern)

    return (
        f"{_TIMESTAMP_EXPRESSION.sub(expand, prefix)}{delivery_stream_name}-{version_id}-"
        f"{now.strftime('%Y-%m-%d-%H-%M-%S')}-{mock_random.uuid4()}"
    )


def _expand_firehose_timestamps() -> None:
    """moto 5.2 writes every object under <prefix>YYYY/MM/DD/HH/ and leaves !{timestamp:...} in the key:
    expand them as Firehose does (the archive's data/year=/month=/day=/hour=/ prefixes, which the replay
    lists). The server runs in this process, so this reaches it."""
    FirehoseBackend._format_s3_object_path = staticmethod(_object_path)  # type: ignore[method-assign]


def client(service: str, endpoint: str) -> Any:
    """A boto3 client for `service` on the moto server at `endpoint`, with the local credentials."""
    session = boto3.session.Session(
        aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=LOCAL_REGION,
    )
    return session.client(service, endpoint_url=endpoint)  # type: ignore[call-overload]  # any service name


@lru_cache(maxsize=4)
def _clients(endpoint: str) -> dict[str, Any]:
    """One client per service for a moto server (a client costs a tenth of a second to make)."""
    return {
        name: client(name, endpoint)
        for name in ("s3", "firehose", "sqs", "cognito-idp", "sns", "cloudwatch", "logs", "stepfunctions")
    }


@dataclass(frozen=True)
class _Deployment:
    """What CloudFormation would deploy from a template locally: the parameter values (the defaults, and the
    local values the root would pass), the conditions, and the resources whose condition holds."""

    params: dict[str, str]
    conditions: dict[str, bool]
    resources: dict[str, dict[str, Any]]

    def of_type(self, *kinds: str) -> list[str]:
        """The logical IDs of the deployed resources of these types."""
        return [logical_id for logical_id, resource in self.resources.items() if resource["Type"] in kinds]

    def properties(self, logical_id: str, names: Collection[str], values: dict[str, str]) -> dict[str, Any]:
        """The resource's properties among `names`, resolved; `values` holds what a `!Ref` (or a
        `!GetAtt X.Attribute`) to a resource gives locally."""
        declared = self.resources[logical_id].get("Properties", {})
        chosen = {name: value for name, value in declared.items() if name in names}
        return dict(resolve_tree(chosen, LOCAL_PSEUDO_PARAMETERS | self.params | values, self.conditions))

    def local_values(self, stack: str = "") -> dict[str, str]:
        """What a `!Ref` to each resource gives locally, and the `!GetAtt X.Attribute` values the templates
        read: local names, and ARNs built from them. Alarms without an AlarmName are named after their stack
        as well (CloudFormation gives each stack's its own name): a template nested twice has two sets."""
        values = {logical_id: local_name(logical_id) for logical_id in self.resources}
        arn = f"{LOCAL_REGION}:{LOCAL_ACCOUNT}"
        for bucket in self.of_type("AWS::S3::Bucket"):
            values[f"{bucket}.Arn"] = f"arn:aws:s3:::{local_name(bucket)}"
        for role in self.of_type("AWS::IAM::Role"):
            values[f"{role}.Arn"] = f"arn:aws:iam::{LOCAL_ACCOUNT}:role/{local_name(role)}"
        for queue in self.of_type("AWS::SQS::Queue"):
            values[f"{queue}.QueueName"] = local_name(queue)
            values[f"{queue}.Arn"] = f"arn:aws:sqs:{arn}:{local_name(queue)}"
        for function in self.of_type("AWS::Serverless::Function", "AWS::Lambda::Function"):
            values[f"{function}.Arn"] = f"arn:aws:lambda:{arn}:function:{local_name(function)}"
        for machine in self.of_type(*STATE_MACHINE_TYPES):
            naming = self.properties(machine, ["Name", "StateMachineName"], values)
            name = str(naming.get("Name") or naming.get("StateMachineName") or local_name(machine))
            values[machine] = state_machine_arn(name, LOCAL_REGION, LOCAL_ACCOUNT)
            values[f"{machine}.Name"] = name
            values[f"{machine}.Arn"] = values[machine]
        for topic in self.of_type("AWS::SNS::Topic"):
            values[topic] = f"arn:aws:sns:{arn}:{local_name(topic)}"
            values[f"{topic}.TopicName"] = local_name(topic)
        for alarm in self.of_type(*ALARM_TYPES):
            named = self.properties(alarm, ["AlarmName"], values).get("AlarmName")
            values[alarm] = str(named or local_name(f"{stack}-{alarm}" if stack else alarm))
            values[f"{alarm}.Arn"] = f"arn:aws:cloudwatch:{arn}:alarm:{values[alarm]}"
        for dashboard in self.of_type("AWS::CloudWatch::Dashboard"):
            values[dashboard] = str(
                self.properties(dashboard, ["DashboardName"], values).get("DashboardName")
                or values[dashboard]
            )
        return values

    def outputs(self, template: dict[str, Any], values: dict[str, str]) -> dict[str, str]:
        """The template's outputs whose condition holds, with `values` for its resources; an output the
        local evaluator cannot give (a custom resource's attribute, say) is left out."""
        found: dict[str, str] = {}
        names = LOCAL_PSEUDO_PARAMETERS | self.params | values
        for name, output in template.get("Outputs", {}).items():
            if "Condition" in output and not self.conditions[output["Condition"]]:
                continue
            try:
                value = resolve_value(output["Value"], names, self.conditions)
            except (ValueError, KeyError):
                continue
            text = ",".join(map(str, value)) if isinstance(value, list) else str(value)
            if not (text.startswith("<") or "${" in text):  # an attribute or a name with no local value
                found[name] = text
        return found


# The alarm types: a `!Ref` gives the alarm's name.
ALARM_TYPES = ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm")


def _deployment(template: dict[str, Any], passed: dict[str, str]) -> _Deployment:
    parameters = template.get("Parameters", {})
    given = {k: v for k, v in (LOCAL_PARAMETERS | passed).items() if k in parameters}
    params = parameter_values(template, given)
    known = LOCAL_PSEUDO_PARAMETERS | params
    enabled = enabled_resources(template, known)
    return _Deployment(
        params,
        evaluate_conditions(template, known),
        {logical_id: template["Resources"][logical_id] for logical_id in enabled},
    )


def template_outputs(
    template_path: Path, parameters: dict[str, str], stack: str, created: dict[str, str] | None = None
) -> dict[str, str]:
    """The outputs the template gives locally when deployed as `stack` with these parameter values: the
    local values of its resources, or what moto gave them in `created` (user pool and client IDs; not the
    alarms, whose names are the stack's: `created` may hold another stack's under the same logical ID)."""
    template = read_template(template_path)
    deployment = _deployment(template, parameters)
    alarms = set(deployment.of_type(*ALARM_TYPES))
    assigned = {
        key: value
        for key, value in (created or {}).items()
        if key in deployment.resources and key not in alarms
    }
    return deployment.outputs(template, deployment.local_values(stack) | assigned)


def create_template_resources(
    endpoint: str,
    template_path: Path,
    parameters: dict[str, str] | None = None,
    stack: str = "",
    *,
    monitoring: bool = True,
) -> dict[str, str]:
    """Create what the template deploys with these parameter values (by default, what the root would pass
    locally; resources whose condition is false are left out): its buckets, queues, log groups, DirectPut
    delivery streams, Cognito user pools, SNS topics and, unless `monitoring` is false, its CloudWatch
    alarms, composite alarms and dashboards (alarms named after `stack`, the nested application's logical
    ID). Returns logical ID -> local name (or pool ID, client ID, topic ARN, alarm or dashboard name)."""
    deployment = _deployment(read_template(template_path), parameters or {})
    clients = _clients(endpoint)
    values = deployment.local_values(stack)
    for bucket in deployment.of_type("AWS::S3::Bucket"):
        clients["s3"].create_bucket(Bucket=local_name(bucket))
    for queue in deployment.of_type("AWS::SQS::Queue"):
        clients["sqs"].create_queue(QueueName=local_name(queue))
    for log_group in deployment.of_type("AWS::Logs::LogGroup"):
        with contextlib.suppress(clients["logs"].exceptions.ResourceAlreadyExistsException):
            clients["logs"].create_log_group(logGroupName=local_name(log_group))
    created = {
        logical_id: local_name(logical_id)
        for logical_id in deployment.of_type("AWS::S3::Bucket", "AWS::SQS::Queue", "AWS::Logs::LogGroup")
    }
    created |= _create_user_pools(clients["cognito-idp"], deployment, values)
    created |= _create_delivery_streams(clients["firehose"], deployment, values)
    for topic in deployment.of_type("AWS::SNS::Topic"):
        created[topic] = clients["sns"].create_topic(Name=local_name(topic))["TopicArn"]
    created |= _create_state_machines(clients["stepfunctions"], deployment, values)
    if monitoring:
        created |= _create_alarms_and_dashboards(clients["cloudwatch"], deployment, values | created)
    return created


def _create_state_machines(sfn: Any, deployment: _Deployment, values: dict[str, str]) -> dict[str, str]:
    """The state machines with their inline definitions, substitutions applied (local ARNs and names)."""
    created: dict[str, str] = {}
    for machine in deployment.of_type(*STATE_MACHINE_TYPES):
        properties = deployment.properties(
            machine, ["Definition", "DefinitionSubstitutions", "Type", "StateMachineType"], values
        )
        if "Definition" not in properties:
            raise ValueError(f"{machine}: only an inline Definition runs locally (not DefinitionUri)")
        name = values[f"{machine}.Name"]
        created[machine] = sfn.create_state_machine(
            name=name,
            definition=definition_text(
                properties["Definition"], properties.get("DefinitionSubstitutions", {})
            ),
            roleArn=f"arn:aws:iam::{LOCAL_ACCOUNT}:role/{local_name(machine + 'Role')}",
            type=properties.get("Type") or properties.get("StateMachineType") or "STANDARD",
        )["stateMachineArn"]
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
                # The !{timestamp:...} expressions are expanded when records arrive (_object_path).
                "Prefix": str(destination.get("Prefix", "")),
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
    "EvaluateLowSampleCountPercentile",
    "ThresholdMetricId",
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
    for query in arguments.get("Metrics", []):  # metric math: each query's periods are numbers too
        for holder in (query, query.get("MetricStat", {})):
            if "Period" in holder:
                holder["Period"] = int(holder["Period"])
        if "ReturnData" in query:
            query["ReturnData"] = str(query["ReturnData"]).lower() == "true"
    return arguments


# put_composite_alarm's arguments that an AWS::CloudWatch::CompositeAlarm's properties give.
COMPOSITE_ALARM_PROPERTIES = (
    "AlarmRule",
    "AlarmDescription",
    "ActionsEnabled",
    "AlarmActions",
    "OKActions",
    "InsufficientDataActions",
)


def _create_alarms_and_dashboards(
    cloudwatch: Any, deployment: _Deployment, values: dict[str, str]
) -> dict[str, str]:
    """The alarms, the composite alarms, then the dashboards, under the names `values` gives them, with
    every reference in their properties (DashboardBody included) resolved to its local value."""
    created: dict[str, str] = {}
    for alarm in deployment.of_type("AWS::CloudWatch::Alarm"):
        resolved = deployment.properties(alarm, ALARM_PROPERTIES, values)
        cloudwatch.put_metric_alarm(AlarmName=values[alarm], **_alarm_arguments(resolved))
        created[alarm] = values[alarm]
    for alarm in deployment.of_type("AWS::CloudWatch::CompositeAlarm"):
        resolved = deployment.properties(alarm, COMPOSITE_ALARM_PROPERTIES, values)
        cloudwatch.put_composite_alarm(AlarmName=values[alarm], **_alarm_arguments(resolved))
        created[alarm] = values[alarm]
    for dashboard in deployment.of_type("AWS::CloudWatch::Dashboard"):
        body = deployment.properties(dashboard, ["DashboardBody"], values)["DashboardBody"]
        cloudwatch.put_dashboard(DashboardName=values[dashboard], DashboardBody=body)
        created[dashboard] = values[dashboard]
    return created


@dataclass(frozen=True)
class MonitoringInMoto:
    """The alarms and dashboards moto holds."""

    alarms: list[str]
    composite_alarms: list[dict[str, Any]]  # as DescribeAlarms gives them (AlarmName, AlarmRule, ...)
    dashboards: dict[str, list[str]]  # name -> the titles of its rows


def monitoring_in_moto(endpoint: str) -> MonitoringInMoto:
    """Read back from moto every alarm, composite alarm and dashboard (with its rows)."""
    cloudwatch = client("cloudwatch", endpoint)
    alarms: list[str] = []
    composites: list[dict[str, Any]] = []
    for page in cloudwatch.get_paginator("describe_alarms").paginate():
        alarms += [alarm["AlarmName"] for alarm in page["MetricAlarms"]]
        composites += page["CompositeAlarms"]
    dashboards = {
        entry["DashboardName"]: [
            row.title
            for row in rows(cloudwatch.get_dashboard(DashboardName=entry["DashboardName"])["DashboardBody"])
        ]
        for page in cloudwatch.get_paginator("list_dashboards").paginate()
        for entry in page["DashboardEntries"]
    }
    return MonitoringInMoto(alarms, composites, dashboards)


# Nested templates for the cluster itself, which the local broker stands in for even against an existing
# cluster: the lookup of its bootstrap brokers (locally the broker's address is known).
CLUSTER_TEMPLATES = frozenset({REPO / "nested" / "cluster-bootstrap.yaml"})


def option_templates(option: str) -> list[Path]:
    """The nested templates the root template deploys for a DeploymentOption, against an existing cluster
    (locally the broker stands in for the cluster, its network and the lookup of its brokers)."""
    root = read_template(REPO / "template.yaml")
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
