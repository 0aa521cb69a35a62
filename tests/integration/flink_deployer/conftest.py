"""The deployer's real handler, the sample events of events/flink_deployer/, a code bucket on moto's S3, and
the Managed Flink API through botocore's Stubber.

moto's kinesisanalyticsv2 (5.2.5) has no StartApplication, StopApplication, ListApplicationSnapshots or
DescribeApplicationOperation ("has not been implemented"), and its DescribeApplication fails with an internal
KeyError for a missing application instead of ResourceNotFoundException: so that API is stubbed, with every
request and answer checked against botocore's service model. S3 is moto's.
"""

from __future__ import annotations

import copy
import datetime
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber

from local import aws
from local.functions import REPO, load_handler
from streaming_common.aws_clients import client
from tests.conftest import FakeLambdaContext
from tests.integration.conftest import CloudFormationEndpoint

ACCOUNT = "123456789012"
APPLICATION = "msk-streaming-analytics"
LOG_GROUP = f"/aws/kinesis-analytics/{APPLICATION}"
CODE_BUCKET = "msk-streaming-results"
NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


def sample_event(name: str) -> dict[str, Any]:
    """A committed sample request (events/flink_deployer/<name>.json)."""
    return dict(json.loads((REPO / "events" / "flink_deployer" / f"{name}.json").read_text()))


class FlinkApi:
    """The Managed Flink answers a test expects, in order; a call out of order, or with other parameters,
    fails the test (Stubber)."""

    def __init__(self, stub: Stubber) -> None:
        self.stub = stub

    def describes(self, *statuses: str | None) -> FlinkApi:
        """DescribeApplication answers, one per status (None: there is no such application)."""
        for status in statuses:
            if status is None:
                self.stub.add_client_error(
                    "describe_application",
                    "ResourceNotFoundException",
                    f"Application {APPLICATION} is not found",
                    400,
                    expected_params={"ApplicationName": APPLICATION},
                )
                continue
            detail = {
                "ApplicationARN": f"arn:aws:kinesisanalytics:us-east-1:{ACCOUNT}:application/{APPLICATION}",
                "ApplicationName": APPLICATION,
                "RuntimeEnvironment": "FLINK-1_20",
                "ApplicationStatus": status,
                "ApplicationVersionId": 3,
                "CloudWatchLoggingOptionDescriptions": [
                    {
                        "CloudWatchLoggingOptionId": "3.1",
                        "LogStreamARN": f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{LOG_GROUP}"
                        ":log-stream:application",
                    }
                ],
            }
            self.stub.add_response(
                "describe_application", {"ApplicationDetail": detail}, {"ApplicationName": APPLICATION}
            )
        return self

    def snapshots(self, *statuses: str) -> FlinkApi:
        """ListApplicationSnapshots: one snapshot per status."""
        summaries = [
            {"SnapshotName": f"snapshot-{n}", "SnapshotStatus": status, "ApplicationVersionId": 3}
            for n, status in enumerate(statuses)
        ]
        self.stub.add_response(
            "list_application_snapshots",
            {"SnapshotSummaries": summaries},
            {"ApplicationName": APPLICATION, "Limit": 50},
        )
        return self

    def starts(self, restore: str, *, allow_non_restored_state: bool = False, snapshot: str = "") -> FlinkApi:
        """StartApplication with this RunConfiguration."""
        configuration = {"ApplicationRestoreType": restore} | ({"SnapshotName": snapshot} if snapshot else {})
        self.stub.add_response(
            "start_application",
            {"OperationId": "start-1"},
            {
                "ApplicationName": APPLICATION,
                "RunConfiguration": {
                    "ApplicationRestoreConfiguration": configuration,
                    "FlinkRunConfiguration": {"AllowNonRestoredState": allow_non_restored_state},
                },
            },
        )
        return self

    def stops(self) -> FlinkApi:
        """StopApplication without Force (with a snapshot)."""
        self.stub.add_response(
            "stop_application", {"OperationId": "stop-1"}, {"ApplicationName": APPLICATION, "Force": False}
        )
        return self

    def operation(self, operation_id: str, *statuses: str, error: str = "") -> FlinkApi:
        """DescribeApplicationOperation answers, one per status; the last one carries `error`."""
        for n, status in enumerate(statuses, start=1):
            details: dict[str, Any] = {
                "Operation": "StartApplication" if operation_id.startswith("start") else "StopApplication",
                "StartTime": NOW,
                "EndTime": NOW,
                "OperationStatus": status,
            }
            if error and n == len(statuses):
                details["OperationFailureDetails"] = {"ErrorInfo": {"ErrorString": error}}
            self.stub.add_response(
                "describe_application_operation",
                {"ApplicationOperationInfoDetails": details},
                {"ApplicationName": APPLICATION, "OperationId": operation_id},
            )
        return self


@pytest.fixture
def application_zip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An application zip as `make flink-package` lays it out (main.py at the root, the jar under lib/),
    given to the handler through APPLICATION_ZIP."""
    path = tmp_path / "application.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("main.py", "print('the job')\n")
        archive.writestr("lib/pyflink-dependencies.jar", b"PK jar bytes")
    monkeypatch.setenv("APPLICATION_ZIP", str(path))
    return path


@pytest.fixture
def deployer(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The handler module, looking at the application every millisecond."""
    monkeypatch.setenv("POLL_SECONDS", "0.001")
    return load_handler("flink_deployer")


@pytest.fixture
def s3(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The test's moto S3, with the code bucket, for the handler too."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    s3 = aws.client("s3", moto_endpoint)
    s3.create_bucket(Bucket=CODE_BUCKET)
    return s3


@pytest.fixture
def flink(deployer: Any) -> Iterator[FlinkApi]:
    """The stubbed Managed Flink API; every answer queued must have been asked for."""
    with Stubber(client("kinesisanalyticsv2")) as stub:
        yield FlinkApi(stub)
        stub.assert_no_pending_responses()


class Requests:
    """Sends a sample request, with changed properties, to the handler; returns CloudFormation's answer."""

    def __init__(self, handler: Any, endpoint: CloudFormationEndpoint, context: FakeLambdaContext) -> None:
        self.handler = handler
        self.endpoint = endpoint
        self.context = context

    def send(
        self, sample: str, context: FakeLambdaContext | None = None, /, **changes: str
    ) -> dict[str, Any]:
        """Send events/flink_deployer/<sample>.json with `changes` to its ResourceProperties."""
        event = copy.deepcopy(sample_event(sample))
        event["ResponseURL"] = self.endpoint.url
        event["ResourceProperties"].update(changes)
        self.handler.lambda_handler(event, context or self.context)
        return self.endpoint.responses[-1]


@pytest.fixture
def requests(
    deployer: Any, cloudformation_endpoint: CloudFormationEndpoint, lambda_context: FakeLambdaContext
) -> Requests:
    return Requests(deployer, cloudformation_endpoint, lambda_context)
