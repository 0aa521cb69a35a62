"""Reading the Firehose archive back: the delivery stream writing to a bucket, the prefixes its objects can
have for a time range, and an object's lines whatever its compression."""

from __future__ import annotations

import datetime
import gzip
import io
import json
import re
import zipfile
from dataclasses import dataclass
from typing import Any

GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"
# Firehose's timestamp namespace in S3 prefixes, as Java's DateTimeFormatter letters Firehose documents.
TIMESTAMP_FIELDS = {"yyyy": "%Y", "MM": "%m", "dd": "%d", "HH": "%H"}
EXPRESSION = re.compile(r"!\{timestamp:([^}]*)\}")


@dataclass(frozen=True)
class DeliveryStream:
    """The parts of a Firehose stream's S3 destination the archive check needs."""

    name: str
    prefix: str
    buffer_seconds: int
    compression: str


def delivery_stream_for(firehose: Any, bucket: str) -> DeliveryStream | None:
    """The Firehose stream whose S3 destination is `bucket`, if one is found."""
    arn = f"arn:aws:s3:::{bucket}"
    names: list[str] = []
    start: dict[str, str] = {}
    while True:
        page = firehose.list_delivery_streams(Limit=100, **start)
        names += page["DeliveryStreamNames"]
        if not page.get("HasMoreDeliveryStreams") or not page["DeliveryStreamNames"]:
            break
        start = {"ExclusiveStartDeliveryStreamName": page["DeliveryStreamNames"][-1]}
    for name in names:
        description = firehose.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
        for destination in description.get("Destinations", []):
            s3 = destination.get("ExtendedS3DestinationDescription") or destination.get(
                "S3DestinationDescription"
            )
            if s3 and s3.get("BucketARN") == arn:
                hints = s3.get("BufferingHints", {})
                return DeliveryStream(
                    name,
                    str(s3.get("Prefix", "")),
                    int(hints.get("IntervalInSeconds", 300)),
                    str(s3.get("CompressionFormat", "UNCOMPRESSED")),
                )
    return None


def prefixes(template: str, start: datetime.datetime, end: datetime.datetime) -> list[str]:
    """The S3 prefixes Firehose's `template` gives to objects delivered between `start` and `end` (UTC hours);
    the fixed part before any other expression when the template has one."""

    def expand(hour: datetime.datetime) -> str:
        text = EXPRESSION.sub(lambda m: _timestamp(m.group(1), hour), template)
        return text.split("!{", 1)[0]

    hour = start.replace(minute=0, second=0, microsecond=0)
    found: list[str] = []
    while hour <= end:
        if (prefix := expand(hour)) not in found:
            found.append(prefix)
        hour += datetime.timedelta(hours=1)
    return found


def _timestamp(pattern: str, moment: datetime.datetime) -> str:
    for letters, directive in TIMESTAMP_FIELDS.items():
        pattern = pattern.replace(letters, directive)
    return moment.strftime(pattern)


def object_lines(body: bytes) -> list[dict[str, Any]]:
    """The NDJSON lines of an archive object: GZIP and ZIP are read by their magic bytes, others as text."""
    if body.startswith(GZIP_MAGIC):
        body = gzip.decompress(body)
    elif body.startswith(ZIP_MAGIC):
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            body = b"".join(archive.read(name) for name in archive.namelist())
    return [json.loads(line) for line in body.decode("utf-8").splitlines() if line.strip()]
