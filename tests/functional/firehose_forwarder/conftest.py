"""A moto-backed archive (S3 bucket + Firehose DirectPut stream) and the forwarder wired to it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

BUCKET = "streaming-archive"
STREAM = "streaming-archive-stream"


@dataclass
class Archive:
    """The emulated archive: what is in the bucket, and clients to reach it."""

    s3: Any
    firehose: Any

    def lines(self, prefix: str = "data/") -> list[bytes]:
        """Every line Firehose delivered (or that was stored under `prefix`), object by object."""
        lines: list[bytes] = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
            for item in sorted(page.get("Contents", []), key=lambda o: o["Key"]):
                body = self.s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()
                lines.extend(line + b"\n" for line in body.split(b"\n") if line)
        return lines


@pytest.fixture
def archive(monkeypatch: pytest.MonkeyPatch) -> Iterator[Archive]:
    monkeypatch.setenv("DELIVERY_STREAM_NAME", STREAM)
    monkeypatch.setenv("ARCHIVE_BUCKET_NAME", BUCKET)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "firehose-forwarder")
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        firehose = boto3.client("firehose")
        firehose.create_delivery_stream(
            DeliveryStreamName=STREAM,
            DeliveryStreamType="DirectPut",
            ExtendedS3DestinationConfiguration={
                "RoleARN": "arn:aws:iam::123456789012:role/firehose",
                "BucketARN": f"arn:aws:s3:::{BUCKET}",
                "Prefix": "data/",
            },
        )
        import archive_delivery

        archive_delivery.archiver.cache_clear()
        yield Archive(s3, firehose)
        archive_delivery.archiver.cache_clear()
