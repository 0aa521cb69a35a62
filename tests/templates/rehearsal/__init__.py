"""The deploy rehearsal (`make rehearse`): the application packaged as `sam package` does, then each of the
10 rows (5 DeploymentOptions x new or existing cluster) created in moto's CloudFormation, its outputs
checked, and deleted. A row counts only if every stack reached CREATE_COMPLETE and then DELETE_COMPLETE.

What moto lacks stands in as placeholders (stand_ins.PLACEHOLDERS) or is resolved before moto sees the
template (moto_template); the stacks are created in CloudFormation's order (stacks)."""

from __future__ import annotations

import re
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.aws import LOCAL_CREDENTIALS, client, running_moto
from tests.templates.dashboards import body_problems
from tests.templates.rehearsal.stacks import MotoErrors, RehearsalError, Stack, StackCreator
from tests.templates.sam_offline import ROOT_TEMPLATE, sam_package
from tests.templates.scenarios import EXISTING_CLUSTER

OPTIONS = ("ClusterWithRestApi", "LambdaConsumer", "LambdaFirehoseS3", "FlinkS3", "All")
CLUSTER_MODES: dict[str, dict[str, str]] = {"new cluster": {}, "existing cluster": EXISTING_CLUSTER}
ARTIFACTS_BUCKET = "rehearsal-artifacts"

# The root outputs each component must give (on top of every output whose condition holds).
REST_API_OUTPUTS = {"ApiUrl", "TokenUrl", "UserPoolId", "MachineClientId"}
CONSUMER_OUTPUTS = {"ConsumerFunctionName"}
ARCHIVE_OUTPUTS = {"ArchiveBucketName", "ArchiveTableName"}
FLINK_OUTPUTS = {"FlinkApplicationName", "FlinkResultsLocation", "ResultsTableName", "StudioNotebookName"}
OPTION_OUTPUTS: dict[str, set[str]] = {
    "ClusterWithRestApi": REST_API_OUTPUTS,
    "LambdaConsumer": CONSUMER_OUTPUTS,
    "LambdaFirehoseS3": ARCHIVE_OUTPUTS,
    "FlinkS3": FLINK_OUTPUTS,
    "All": REST_API_OUTPUTS | CONSUMER_OUTPUTS | ARCHIVE_OUTPUTS | FLINK_OUTPUTS,
}
COMMON_OUTPUTS = {"ClusterArn", "TopicName", "DashboardUrl", "AlarmTopicArn", "PipelineUnhealthyAlarmName"}


@dataclass
class Row:
    """One row of the rehearsal and how it went."""

    option: str
    cluster_mode: str
    stacks: int = 0
    resources: int = 0
    placeholders: int = 0
    seconds: float = 0.0
    error: str = ""

    @property
    def ok(self) -> bool:
        """Every stack created and deleted, outputs as expected."""
        return not self.error

    def line(self) -> str:
        """The row as the report prints it."""
        result = "ok" if self.ok else f"FAILED: {self.error}"
        counts = (
            f"stacks {self.stacks:>2}  resources {self.resources:>3}  placeholders {self.placeholders:>3}"
        )
        return f"{self.option:<19} {self.cluster_mode:<17} {counts}  {self.seconds:5.1f} s  {result}"


class Rehearsal:
    """A moto server with the packaged application in its S3; rows are created and deleted in it."""

    def __init__(self, endpoint: str, packaged: dict[str, Any], moto_errors: MotoErrors):
        self.endpoint = endpoint
        self.packaged = packaged
        self.s3 = client("s3", endpoint)
        self.artifacts = {
            item["Key"]: self.s3.get_object(Bucket=ARTIFACTS_BUCKET, Key=item["Key"])["Body"].read()
            for item in self.s3.list_objects_v2(Bucket=ARTIFACTS_BUCKET).get("Contents", [])
        }
        self.creator = StackCreator(endpoint, ARTIFACTS_BUCKET, moto_errors)

    def fresh_account(self) -> None:
        """Reset moto (a new account) and put the packaged artefacts back in the bucket."""
        request = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")
        urllib.request.urlopen(request, timeout=10).close()
        self.s3.create_bucket(Bucket=ARTIFACTS_BUCKET)
        for key, body in self.artifacts.items():
            self.s3.put_object(Bucket=ARTIFACTS_BUCKET, Key=key, Body=body)

    def row(self, option: str, cluster_mode: str, packaged: dict[str, Any] | None = None) -> Row:
        """Create the root stack for one row (from `packaged`, by default the application), check its
        outputs, delete it."""
        row = Row(option, cluster_mode)
        started = time.monotonic()
        self.fresh_account()
        parameters = {"DeploymentOption": option} | CLUSTER_MODES[cluster_mode]
        name = f"rehearsal-{option}-{cluster_mode.replace(' ', '-')}"
        try:
            root = self.creator.create(name, packaged or self.packaged, parameters)
            stacks = list(root.tree())
            row.stacks = len(stacks)
            row.resources = sum(stack.resources for stack in stacks)
            row.placeholders = sum(len(stack.placeholders) for stack in stacks)
            self._check_root_outputs(option, root)
            self.creator.delete(root)
        except (RehearsalError, ValueError) as error:
            row.error = str(error)
        except Exception as error:
            row.error = f"rehearsal fault: {error!r}"
        row.seconds = time.monotonic() - started
        return row

    def _check_root_outputs(self, option: str, root: Stack) -> None:
        missing = sorted((OPTION_OUTPUTS[option] | COMMON_OUTPUTS) - set(root.outputs))
        if missing:
            raise RehearsalError(f"{root.name}: outputs missing for {option}: {', '.join(missing)}")
        for name, check in OUTPUT_CHECKS.items():
            if name in root.outputs:
                try:
                    check(self.endpoint, root.outputs[name])
                except Exception as error:
                    raise RehearsalError(
                        f"{root.name}: output {name}={root.outputs[name]}: {error}"
                    ) from error


def _bucket_exists(endpoint: str, name: str) -> None:
    client("s3", endpoint).head_bucket(Bucket=name)


def _function_exists(endpoint: str, name: str) -> None:
    client("lambda", endpoint).get_function(FunctionName=name)


def _results_bucket_exists(endpoint: str, location: str) -> None:
    _bucket_exists(endpoint, location.removeprefix("s3://").split("/", 1)[0])


def _dashboard_accepted(endpoint: str, url: str) -> None:
    """The dashboard moto's CloudFormation created exists, with a body CloudWatch would accept."""
    body = client("cloudwatch", endpoint).get_dashboard(DashboardName=url.rsplit("dashboard/", 1)[1])
    problems = body_problems(body["DashboardBody"])
    if problems:
        raise ValueError("; ".join(problems))


def _topic_exists(endpoint: str, arn: str) -> None:
    client("sns", endpoint).get_topic_attributes(TopicArn=arn)


def _rest_api_exists(endpoint: str, url: str) -> None:
    client("apigateway", endpoint).get_rest_api(restApiId=url.removeprefix("https://").split(".", 1)[0])


# Root outputs that name something moto created: it must exist.
def _athena_table(prefix: str) -> Callable[[str, str], None]:
    """The output names a table Athena reads unquoted, in its stack's database (a name with the first 8 hex
    digits of the stack's ID: Glue refuses upper case)."""

    def check(_endpoint: str, name: str) -> None:
        if not re.fullmatch(rf"{prefix}_[0-9a-f]{{8}}\.[a-z0-9_]+", name):
            raise ValueError(f"not {prefix}_<8 hex digits>.<table>")

    return check


OUTPUT_CHECKS: dict[str, Callable[[str, str], None]] = {
    "ArchiveBucketName": _bucket_exists,
    "ConsumerFunctionName": _function_exists,
    "ApiUrl": _rest_api_exists,
    "DashboardUrl": _dashboard_accepted,
    "AlarmTopicArn": _topic_exists,
    "FlinkResultsLocation": _results_bucket_exists,
    "ArchiveTableName": _athena_table("msk_archive"),
    "ResultsTableName": _athena_table("msk_analytics"),
}


@contextmanager
def rehearsal(template: Path = ROOT_TEMPLATE) -> Iterator[Rehearsal]:
    """A moto server holding the application as `sam package` uploads it."""
    with running_moto() as endpoint, tempfile.TemporaryDirectory() as folder, MotoErrors() as moto_errors:
        client("s3", endpoint).create_bucket(Bucket=ARTIFACTS_BUCKET)
        environment = LOCAL_CREDENTIALS | {"AWS_ENDPOINT_URL": endpoint}
        packaged = sam_package(template, ARTIFACTS_BUCKET, environment, Path(folder) / "packaged.yaml")
        yield Rehearsal(endpoint, packaged, moto_errors)


def rows() -> list[tuple[str, str]]:
    """The 10 rows: every option, with a new cluster and with an existing one."""
    return [(option, mode) for option in OPTIONS for mode in CLUSTER_MODES]
