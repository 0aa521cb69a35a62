"""Deploy the Managed Flink application's code, start the application, and stop it with a snapshot.

CloudFormation neither uploads this code (`sam package` does not package AWS::KinesisAnalyticsV2::Application)
nor starts the application it creates, so two custom resources do (docs/options/flink-s3.md, "How the
application is deployed and started"):

- Custom::FlinkApplicationCode copies application.zip, which travels in this function's package, to the code
  bucket under a key holding the zip's SHA-256: new code is a new key, so CloudFormation updates the
  application.
- Custom::FlinkApplicationRun starts the application and waits for RUNNING; before deletion it stops it
  without Force, which takes a snapshot.

Waiting uses botocore waiters (poll interval, attempts) bounded by the time the invocation has left, and every
call has botocore's standard retries (streaming_common.aws_clients).
"""

from __future__ import annotations

import base64
import hashlib
import math
import time
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, cast

import msgspec
from botocore.exceptions import ClientError, WaiterError
from botocore.waiter import WaiterModel, create_waiter_with_client

from streaming_common.aws_clients import client
from streaming_common.observability import logger
from streaming_common.settings import FunctionSettings

CODE_RESOURCE = "Custom::FlinkApplicationCode"
RUN_RESOURCE = "Custom::FlinkApplicationRun"
# crhelper cuts a longer Reason to its last 240 characters.
REASON_LIMIT = 256


class DeployerSettings(FunctionSettings, frozen=True, kw_only=True):
    """APPLICATION_ZIP: the application's zip (by default the one packaged beside this module);
    POLL_SECONDS: the pause between two status checks; REPLY_RESERVE_SECONDS: the part of the invocation
    kept to answer CloudFormation after the last check."""

    application_zip: Path = Path(__file__).with_name("application.zip")
    poll_seconds: Annotated[float, msgspec.Meta(gt=0)] = 10.0
    reply_reserve_seconds: Annotated[float, msgspec.Meta(ge=0)] = 30.0


class DeploymentError(RuntimeError):
    """The resource could not be deployed; the message is the reason CloudFormation shows."""


SecondsLeft = Callable[[], float]


# ---------------------------------------------------------------------------------------------- the code


@dataclass(frozen=True, slots=True)
class CodeRequest:
    """Where the code goes: the bucket and the key prefix."""

    bucket: str
    key_prefix: str

    @classmethod
    def from_properties(cls, properties: Mapping[str, Any]) -> CodeRequest:
        """Read and check CodeBucket and KeyPrefix ("" or ending with "/")."""
        bucket = properties.get("CodeBucket")
        if not isinstance(bucket, str) or not bucket:
            raise DeploymentError(f"CodeBucket must be a bucket name, got {bucket!r}")
        prefix = properties.get("KeyPrefix", "")
        if not isinstance(prefix, str) or (prefix and not prefix.endswith("/")) or prefix.startswith("/"):
            raise DeploymentError(
                f"KeyPrefix must be empty or a folder such as 'application/', got {prefix!r}"
            )
        return cls(bucket, prefix)


@dataclass(frozen=True, slots=True)
class UploadedCode:
    """The code's S3 location."""

    bucket: str
    key: str

    @property
    def physical_id(self) -> str:
        """The resource's physical ID: the object's S3 URI."""
        return f"s3://{self.bucket}/{self.key}"

    def attributes(self) -> dict[str, str]:
        """Bucket, Key and BucketArn, for the application's S3ContentLocation."""
        return {"Bucket": self.bucket, "Key": self.key, "BucketArn": f"arn:{_partition()}:s3:::{self.bucket}"}


def _partition() -> str:
    return str(client("s3").meta.partition)


def checked_zip_digest(path: Path) -> bytes:
    """The SHA-256 of the application zip, after checking it is a zip with main.py at its root."""
    if not path.is_file():
        raise DeploymentError(
            f"{path.name} is not in the deployer's package: run `make flink-package` before `sam build`"
        )
    if not zipfile.is_zipfile(path):
        raise DeploymentError(f"{path.name} is not a zip file: rebuild it with `make flink-package`")
    with zipfile.ZipFile(path) as archive:
        if "main.py" not in archive.namelist():
            raise DeploymentError(
                f"{path.name} has no main.py at its root: rebuild it with `make flink-package`"
            )
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").digest()


def upload_code(request: CodeRequest, application_zip: Path) -> UploadedCode:
    """Copy the zip to <prefix><sha256>/application.zip; S3 checks the upload against the same SHA-256."""
    digest = checked_zip_digest(application_zip)
    code = UploadedCode(request.bucket, f"{request.key_prefix}{digest.hex()}/{application_zip.name}")
    with application_zip.open("rb") as body:
        client("s3").put_object(
            Bucket=code.bucket,
            Key=code.key,
            Body=body,
            ContentType="application/zip",
            ChecksumSHA256=base64.b64encode(digest).decode(),
        )
    logger.info("uploaded the application code", extra={"location": code.physical_id})
    return code


# ----------------------------------------------------------------------------------------- the application


# The longest a Lambda invocation lasts is 900 s; starting an application takes minutes.
DEFAULT_TIMEOUT_SECONDS = 600


class RestoreType(StrEnum):
    """ApplicationRestoreConfiguration.ApplicationRestoreType of StartApplication."""

    SKIP = "SKIP_RESTORE_FROM_SNAPSHOT"
    LATEST = "RESTORE_FROM_LATEST_SNAPSHOT"
    CUSTOM = "RESTORE_FROM_CUSTOM_SNAPSHOT"


@dataclass(frozen=True, slots=True)
class RunRequest:
    """The application to run, how long to wait for it, and how to restore its state when it starts."""

    application_name: str
    start_timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS
    stop_timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS
    restore_type: RestoreType = RestoreType.LATEST
    snapshot_name: str = ""
    allow_non_restored_state: bool = False

    @classmethod
    def from_properties(cls, properties: Mapping[str, Any]) -> RunRequest:
        """Read and check ApplicationName, StartTimeoutSeconds, StopTimeoutSeconds, ApplicationRestoreType,
        SnapshotName and AllowNonRestoredState (CloudFormation passes every value as a string)."""
        name = properties.get("ApplicationName")
        if not isinstance(name, str) or not name:
            raise DeploymentError(f"ApplicationName must be the application's name, got {name!r}")
        try:
            restore = RestoreType(properties.get("ApplicationRestoreType", RestoreType.LATEST))
        except ValueError:
            raise DeploymentError(
                f"ApplicationRestoreType must be one of {', '.join(RestoreType)},"
                f" got {properties.get('ApplicationRestoreType')!r}"
            ) from None
        snapshot = str(properties.get("SnapshotName", ""))
        if (restore is RestoreType.CUSTOM) != bool(snapshot):
            raise DeploymentError(
                "SnapshotName is needed with RESTORE_FROM_CUSTOM_SNAPSHOT, and only with it"
            )
        allow = str(properties.get("AllowNonRestoredState", "false")).lower()
        if allow not in ("true", "false"):
            raise DeploymentError(f"AllowNonRestoredState must be true or false, got {allow!r}")
        return cls(
            name,
            _seconds(properties, "StartTimeoutSeconds"),
            _seconds(properties, "StopTimeoutSeconds"),
            restore,
            snapshot,
            allow == "true",
        )


def _seconds(properties: Mapping[str, Any], name: str) -> int:
    value = properties.get(name, DEFAULT_TIMEOUT_SECONDS)
    try:
        seconds = int(value)
    except (TypeError, ValueError):
        seconds = 0
    if not 1 <= seconds <= 900:
        raise DeploymentError(f"{name} must be a whole number of seconds from 1 to 900, got {value!r}")
    return seconds


STATUS = "ApplicationDetail.ApplicationStatus"
OPERATION_STATUS = "ApplicationOperationInfoDetails.OperationStatus"
# The statuses an application rests in; every other one (STARTING, UPDATING, AUTOSCALING, STOPPING,
# FORCE_STOPPING, ROLLING_BACK, MAINTENANCE, DELETING) is on its way to one of these, or to deletion.
RESTING = ("READY", "RUNNING", "ROLLED_BACK")
# botocore's waiter format (as in botocore/data/*/waiters-2.json); the delay and attempts are set per wait.
WAITERS = WaiterModel(
    {
        "version": 2,
        "waiters": {
            "ApplicationAtRest": {
                "operation": "DescribeApplication",
                "delay": 10,
                "maxAttempts": 60,
                "acceptors": [
                    *(
                        {"state": "success", "matcher": "path", "argument": STATUS, "expected": s}
                        for s in RESTING
                    ),
                    {"state": "success", "matcher": "error", "expected": "ResourceNotFoundException"},
                ],
            },
            "OperationFinished": {
                "operation": "DescribeApplicationOperation",
                "delay": 10,
                "maxAttempts": 60,
                "acceptors": [
                    {"state": state, "matcher": "path", "argument": OPERATION_STATUS, "expected": status}
                    for state, status in (
                        ("success", "SUCCESSFUL"),
                        ("failure", "FAILED"),
                        ("failure", "CANCELLED"),
                    )
                ],
            },
        },
    }
)


@dataclass(frozen=True, slots=True)
class Patience:
    """A wait's end: the resource's timeout, or the invocation's time left if that comes first; and how
    often to look meanwhile."""

    allowed_seconds: float
    poll_seconds: float
    started: float
    clock: Callable[[], float] = time.monotonic

    @classmethod
    def of(
        cls,
        timeout_seconds: float,
        seconds_left: SecondsLeft,
        poll_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> Patience:
        """From now until `timeout_seconds` or the invocation's time left, whichever is sooner."""
        return cls(max(0.0, min(timeout_seconds, seconds_left())), poll_seconds, clock(), clock)

    @property
    def seconds(self) -> float:
        """What is left of it."""
        return max(0.0, self.started + self.allowed_seconds - self.clock())

    def waiter_config(self) -> dict[str, float]:
        """botocore's WaiterConfig: as many looks as fit in what is left, the first one at once."""
        return {"Delay": self.poll_seconds, "MaxAttempts": math.floor(self.seconds / self.poll_seconds) + 1}


class Application:
    """One Managed Flink application, through the kinesisanalyticsv2 API."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._api = client("kinesisanalyticsv2")

    def describe(self) -> dict[str, Any] | None:
        """DescribeApplication's ApplicationDetail, or None when there is no such application."""
        try:
            return dict(self._api.describe_application(ApplicationName=self.name)["ApplicationDetail"])
        except ClientError as error:
            if error.response["Error"]["Code"] == "ResourceNotFoundException":
                return None
            raise

    def status(self) -> str | None:
        """The application's status, or None when there is none."""
        detail = self.describe()
        return None if detail is None else str(detail["ApplicationStatus"])

    def wait_at_rest(self, patience: Patience) -> str | None:
        """Wait until the application rests (READY, RUNNING or ROLLED_BACK); its status then, or None when
        there is no application."""
        status = self.status()
        if status is None or status in RESTING:
            return status
        logger.info(
            "waiting for the application to settle", extra={"application": self.name, "status": status}
        )
        try:
            self._waiter("ApplicationAtRest").wait(
                ApplicationName=self.name, WaiterConfig=patience.waiter_config()
            )
        except WaiterError as error:
            status = _last_answer(error).get("ApplicationDetail", {}).get("ApplicationStatus", status)
            raise self.failure(
                f"{self.name} was still {status} after {patience.allowed_seconds:.0f} s"
            ) from error
        return self.status()

    def start(self, request: RunRequest) -> str:
        """StartApplication with the request's RunConfiguration; the operation's ID."""
        restore: dict[str, str] = {"ApplicationRestoreType": self._restore_type(request)}
        if request.restore_type is RestoreType.CUSTOM:
            restore["SnapshotName"] = request.snapshot_name
        answer = self._api.start_application(
            ApplicationName=self.name,
            RunConfiguration={
                "ApplicationRestoreConfiguration": restore,
                "FlinkRunConfiguration": {"AllowNonRestoredState": request.allow_non_restored_state},
            },
        )
        logger.info("starting the application", extra={"application": self.name, "restore": restore})
        return str(answer["OperationId"])

    def stop(self) -> str:
        """StopApplication without Force: Managed Flink takes a snapshot first when snapshots are on."""
        try:
            answer = self._api.stop_application(ApplicationName=self.name, Force=False)
        except ClientError as error:
            raise self.failure(f"{self.name} could not be stopped: {error}", FORCE_STOP_HINT) from error
        logger.info("stopping the application with a snapshot", extra={"application": self.name})
        return str(answer["OperationId"])

    def wait_for(self, operation_id: str, patience: Patience, doing: str, hint: str | None = None) -> None:
        """Wait for the operation to succeed. Its failure, or the end of the wait, fails with the service's
        reason (DescribeApplicationOperation's ErrorInfo) and `hint` (by default, where the logs are)."""
        try:
            self._waiter("OperationFinished").wait(
                ApplicationName=self.name, OperationId=operation_id, WaiterConfig=patience.waiter_config()
            )
        except WaiterError as error:
            details = _last_answer(error).get("ApplicationOperationInfoDetails", {})
            status = details.get("OperationStatus", "unknown")
            if status in ("FAILED", "CANCELLED"):
                reason = details.get("OperationFailureDetails", {}).get("ErrorInfo", {}).get("ErrorString")
                message = f"{self.name} did not {doing} ({status}): {reason or 'the service gave no reason'}"
            else:
                message = f"{self.name} did not {doing} within {patience.allowed_seconds:.0f} s ({status})"
            raise self.failure(message, hint) from error

    def failure(self, reason: str, hint: str | None = None) -> DeploymentError:
        """The error CloudFormation shows: the reason, shortened if need be so that the hint (by default,
        where to read the application's own errors) fits in what crhelper keeps. Logged in full."""
        hint = self._logs_hint() if hint is None else hint
        logger.error(reason + hint, extra={"application": self.name})
        room = REASON_LIMIT - len(hint)
        return DeploymentError((reason if len(reason) <= room else reason[: room - 1] + "…") + hint)

    def _restore_type(self, request: RunRequest) -> str:
        """The restore type to ask for: LATEST only when there is a snapshot to restore (a new application
        has none)."""
        if request.restore_type is not RestoreType.LATEST:
            return request.restore_type.value
        snapshots = self._api.list_application_snapshots(ApplicationName=self.name, Limit=50)
        if any(s.get("SnapshotStatus") == "READY" for s in snapshots.get("SnapshotSummaries", [])):
            return RestoreType.LATEST.value
        return RestoreType.SKIP.value

    def _waiter(self, name: str) -> Any:
        return create_waiter_with_client(name, WAITERS, self._api)

    def _logs_hint(self) -> str:
        detail = self.describe() or {}
        streams = [option["LogStreamARN"] for option in detail.get("CloudWatchLoggingOptionDescriptions", [])]
        group = streams[0].split(":log-group:")[1].split(":log-stream:")[0] if streams else "its log group"
        return f". Python errors: Logs Insights on {group}, filter logger like /PythonDriver/"


def _last_answer(error: WaiterError) -> dict[str, Any]:
    """The waiter's last answer: the operation's response, or its error response."""
    return cast(dict[str, Any], error.last_response)


FORCE_STOP_HINT = ". Fix it, or stop-application --force (no snapshot), then retry the delete"


def ensure_running(request: RunRequest, seconds_left: SecondsLeft, poll_seconds: float) -> str:
    """Start the application if it is READY, then wait for RUNNING, all within StartTimeoutSeconds and the
    invocation's time left. A RUNNING application is left as it is (CloudFormation's own update restarts
    it); one on its way somewhere is waited for first. The status it ends in."""
    application = Application(request.application_name)
    patience = Patience.of(request.start_timeout_seconds, seconds_left, poll_seconds)
    status = application.wait_at_rest(patience)
    if status is None:
        raise DeploymentError(f"there is no application {request.application_name}")
    if status == "ROLLED_BACK":
        raise application.failure(f"{application.name} rolled its last update back (ROLLED_BACK)")
    if status == "READY":
        application.wait_for(application.start(request), patience, "start")
        status = application.status() or "deleted"
        if status != "RUNNING":
            raise application.failure(f"{application.name} started, then became {status}")
    logger.info("the application is running", extra={"application": application.name})
    return status


def stop_with_snapshot(request: RunRequest, seconds_left: SecondsLeft, poll_seconds: float) -> None:
    """Stop the application without Force (Managed Flink takes a snapshot) and wait for READY, within
    StopTimeoutSeconds and the invocation's time left. An application already READY, or gone, needs
    nothing."""
    application = Application(request.application_name)
    patience = Patience.of(request.stop_timeout_seconds, seconds_left, poll_seconds)
    status = application.wait_at_rest(patience)
    if status is None or status == "READY":
        logger.info("nothing to stop", extra={"application": application.name, "status": status})
        return
    application.wait_for(application.stop(), patience, "stop with a snapshot", FORCE_STOP_HINT)
    logger.info("stopped the application with a snapshot", extra={"application": application.name})
