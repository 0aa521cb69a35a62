"""Custom::FlinkApplicationCode through the real handler: the zip lands in moto's S3 under a key holding its
SHA-256, so new code is a new key (and CloudFormation updates the application); the object outlives the
resource."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.integration.flink_deployer.conftest import CODE_BUCKET, Requests


@pytest.fixture(autouse=True)
def code_bucket(s3: Any) -> None:
    """Every request here goes to moto's S3, which has the code bucket."""


def test_create_uploads_the_zip_under_its_sha256(requests: Requests, application_zip: Path, s3: Any) -> None:
    answer = requests.send("code-create")
    assert answer["Status"] == "SUCCESS", answer.get("Reason")
    digest = hashlib.sha256(application_zip.read_bytes()).hexdigest()
    key = f"application/{digest}/application.zip"
    assert answer["Data"] == {"Bucket": CODE_BUCKET, "Key": key, "BucketArn": f"arn:aws:s3:::{CODE_BUCKET}"}
    assert answer["PhysicalResourceId"] == f"s3://{CODE_BUCKET}/{key}"
    stored = s3.get_object(Bucket=CODE_BUCKET, Key=key)
    assert stored["Body"].read() == application_zip.read_bytes()
    assert stored["ContentType"] == "application/zip"


def test_new_code_gets_a_new_key_and_the_old_object_stays(
    requests: Requests, application_zip: Path, s3: Any
) -> None:
    first = requests.send("code-create")["Data"]["Key"]
    with zipfile.ZipFile(application_zip, "a") as archive:
        archive.writestr("analytics_sql.py", "WINDOW = 60\n")
    second = requests.send("code-update")
    assert second["Status"] == "SUCCESS", second.get("Reason")
    assert second["Data"]["Key"] != first
    assert second["PhysicalResourceId"].endswith(second["Data"]["Key"])
    # CloudFormation then deletes the old resource: the object stays (an application may still use it)
    deleted = requests.send("code-delete")
    assert deleted["Status"] == "SUCCESS", deleted.get("Reason")
    keys = {item["Key"] for item in s3.list_objects_v2(Bucket=CODE_BUCKET)["Contents"]}
    assert keys == {first, second["Data"]["Key"]}


def test_the_same_zip_keeps_its_key(requests: Requests, application_zip: Path) -> None:
    keys = {requests.send(sample)["Data"]["Key"] for sample in ("code-create", "code-update")}
    assert len(keys) == 1


def test_a_package_without_the_zip_fails_and_says_how_to_build_it(
    requests: Requests, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, s3: Any
) -> None:
    monkeypatch.setenv("APPLICATION_ZIP", str(tmp_path / "application.zip"))
    answer = requests.send("code-create")
    assert answer["Status"] == "FAILED"
    assert "run `make flink-package` before `sam build`" in answer["Reason"]
    assert "Contents" not in s3.list_objects_v2(Bucket=CODE_BUCKET)


def test_a_bucket_that_does_not_exist_fails_with_s3s_reason(
    requests: Requests, application_zip: Path
) -> None:
    answer = requests.send("code-create", CodeBucket="no-such-bucket")
    assert answer["Status"] == "FAILED"
    assert "NoSuchBucket" in answer["Reason"]
