"""The deployer's logic on its own: how long a wait may last (a fake clock), the checks on the application
zip, and the request S3 gets (the SHA-256 it verifies the upload against, which moto does not check)."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.stub import ANY, Stubber

from flink_deployment import (
    CodeRequest,
    DeployerSettings,
    DeploymentError,
    Patience,
    RestoreType,
    RunRequest,
    checked_zip_digest,
    upload_code,
)
from local.functions import REPO
from streaming_common.aws_clients import client


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_wait_lasts_the_timeout_looking_every_poll() -> None:
    patience = Patience.of(600, lambda: 870.0, 10, FakeClock())
    assert patience.waiter_config() == {"Delay": 10, "MaxAttempts": 61}


def test_a_wait_ends_when_the_invocation_must_answer() -> None:
    patience = Patience.of(600, lambda: 95.0, 10, FakeClock())
    assert patience.waiter_config() == {"Delay": 10, "MaxAttempts": 10}


def test_a_second_wait_gets_what_the_first_left() -> None:
    clock = FakeClock()
    patience = Patience.of(600, lambda: 870.0, 10, clock)
    clock.now += 455
    assert patience.seconds == 145
    assert patience.waiter_config()["MaxAttempts"] == 15
    clock.now += 1000
    assert patience.waiter_config()["MaxAttempts"] == 1  # one last look, no wait


def test_no_time_left_still_looks_once() -> None:
    assert Patience.of(600, lambda: -3.0, 10, FakeClock()).waiter_config()["MaxAttempts"] == 1


def test_the_zip_is_looked_for_beside_the_handler() -> None:
    # where `make flink-package` copies it, so that `sam build` packages it with the function
    assert DeployerSettings().application_zip == REPO / "functions" / "flink_deployer" / "application.zip"


def test_run_request_defaults() -> None:
    request = RunRequest.from_properties({"ApplicationName": "app"})
    assert request == RunRequest("app", 600, 600, RestoreType.LATEST, "", allow_non_restored_state=False)


def test_run_request_reads_cloudformations_strings() -> None:
    request = RunRequest.from_properties(
        {
            "ApplicationName": "app",
            "StartTimeoutSeconds": "300",
            "StopTimeoutSeconds": "120",
            "ApplicationRestoreType": "SKIP_RESTORE_FROM_SNAPSHOT",
            "AllowNonRestoredState": "True",
        }
    )
    assert request == RunRequest("app", 300, 120, RestoreType.SKIP, "", allow_non_restored_state=True)


@pytest.mark.parametrize("prefix", ["", "application/", "code/flink/"])
def test_code_request_takes_an_empty_prefix_or_a_folder(prefix: str) -> None:
    assert CodeRequest.from_properties({"CodeBucket": "b", "KeyPrefix": prefix}).key_prefix == prefix


@pytest.mark.parametrize("prefix", ["application", "/application/", 7])
def test_code_request_refuses_other_prefixes(prefix: object) -> None:
    with pytest.raises(DeploymentError, match="KeyPrefix must be empty or a folder"):
        CodeRequest.from_properties({"CodeBucket": "b", "KeyPrefix": prefix})


def _zip(path: Path, *names: str) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name in names:
            archive.writestr(name, "x")
    return path


def test_the_digest_is_the_zips_sha256(tmp_path: Path) -> None:
    path = _zip(tmp_path / "application.zip", "main.py", "lib/pyflink-dependencies.jar")
    assert checked_zip_digest(path) == hashlib.sha256(path.read_bytes()).digest()


def test_a_missing_zip_says_how_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(DeploymentError, match=r"run `make flink-package` before `sam build`"):
        checked_zip_digest(tmp_path / "application.zip")


def test_a_file_that_is_not_a_zip_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "application.zip"
    path.write_text("<html>not found</html>")
    with pytest.raises(DeploymentError, match="is not a zip file"):
        checked_zip_digest(path)


def test_a_zip_without_main_py_at_its_root_is_refused(tmp_path: Path) -> None:
    path = _zip(tmp_path / "application.zip", "flink_app/main.py", "lib/pyflink-dependencies.jar")
    with pytest.raises(DeploymentError, match=r"has no main\.py at its root"):
        checked_zip_digest(path)


@pytest.fixture
def s3() -> Iterator[Stubber]:
    with Stubber(client("s3")) as stub:
        yield stub
        stub.assert_no_pending_responses()


def test_s3_verifies_the_upload_against_the_zips_sha256(s3: Stubber, tmp_path: Path) -> None:
    path = _zip(tmp_path / "application.zip", "main.py")
    digest = hashlib.sha256(path.read_bytes())
    key = f"application/{digest.hexdigest()}/application.zip"
    s3.add_response(
        "put_object",
        {},
        {
            "Bucket": "code",
            "Key": key,
            "Body": ANY,
            "ContentType": "application/zip",
            "ChecksumSHA256": base64.b64encode(digest.digest()).decode(),
        },
    )
    code = upload_code(CodeRequest("code", "application/"), path)
    assert code.attributes() == {"Bucket": "code", "Key": key, "BucketArn": "arn:aws:s3:::code"}
