"""A replay run's files in the replay bucket: one function per key (nobody formats keys by hand), and
streaming readers and writers for JSON, NDJSON and gzip NDJSON objects.

runs/<runId>/
  request.json                                  the validated request
  objects.json                                  [{"Key", "Size"}] archive objects to scan
  parts/<partition>/<sha256(objectKey)>.ndjson.gz  scan: one object's matching lines of one partition
  manifests/<partition>.msgpack                 merge: a partition's plan, sorted by offset, deduplicated
  manifests/<partition>.summary.json            merge: its summary
  rejected/<sha256(objectKey)>.ndjson           scan: lines that are not archive lines
  plan.json, checkpoints/<t>.json, verify/<t>.json, offset-map/<t>.json, report.json, report.md, offsets.json
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from streaming_common.aws_clients import client

GZIP_MAGIC = b"\x1f\x8b"
_READ_CHUNK = 1 << 20


def run_prefix(run_id: str) -> str:
    """Every file of the run is under this prefix."""
    return f"runs/{run_id}/"


def request_key(run_id: str) -> str:
    """The validated request."""
    return f"{run_prefix(run_id)}request.json"


def objects_key(run_id: str) -> str:
    """The archive objects to scan (the Distributed Map's ItemReader reads it)."""
    return f"{run_prefix(run_id)}objects.json"


def object_digest(object_key: str) -> str:
    """The sha256 of an archive object's key, which names its parts and rejected lines."""
    return hashlib.sha256(object_key.encode("utf-8")).hexdigest()


def parts_prefix(run_id: str, partition: int | None = None) -> str:
    """The prefix of every part (or of one source partition's parts)."""
    base = f"{run_prefix(run_id)}parts/"
    return base if partition is None else f"{base}{partition}/"


def part_key(run_id: str, partition: int, object_key: str) -> str:
    """One archive object's matching lines of one source partition."""
    return f"{parts_prefix(run_id, partition)}{object_digest(object_key)}.ndjson.gz"


def manifest_key(run_id: str, partition: int) -> str:
    """A source partition's plan: its records sorted by offset, deduplicated (manifest.py's format)."""
    return f"{run_prefix(run_id)}manifests/{partition}.msgpack"


def summary_key(run_id: str, partition: int) -> str:
    """The summary of a source partition's manifest."""
    return f"{run_prefix(run_id)}manifests/{partition}.summary.json"


def rejected_prefix(run_id: str) -> str:
    """The prefix of the rejected lines' files."""
    return f"{run_prefix(run_id)}rejected/"


def rejected_key(run_id: str, object_key: str) -> str:
    """The lines of one archive object that are not archive lines."""
    return f"{rejected_prefix(run_id)}{object_digest(object_key)}.ndjson"


def plan_key(run_id: str) -> str:
    """Preflight's result."""
    return f"{run_prefix(run_id)}plan.json"


def checkpoint_key(run_id: str, target_partition: int) -> str:
    """A writer's checkpoint."""
    return f"{run_prefix(run_id)}checkpoints/{target_partition}.json"


def offset_map_key(run_id: str, target_partition: int) -> str:
    """The source-to-target offset map of one target partition."""
    return f"{run_prefix(run_id)}offset-map/{target_partition}.json"


def report_key(run_id: str) -> str:
    """Verify's report, written when every partition is verified; the run is complete when it says so."""
    return f"{run_prefix(run_id)}report.json"


def report_markdown_key(run_id: str) -> str:
    """Verify's report as Markdown."""
    return f"{run_prefix(run_id)}report.md"


def offsets_key(run_id: str) -> str:
    """Translate's output: the consumer groups' translated offsets."""
    return f"{run_prefix(run_id)}offsets.json"


def verified_partition_key(run_id: str, target_partition: int) -> str:
    """Verify's result for one target partition (a verify that runs short of time resumes from these)."""
    return f"{run_prefix(run_id)}verify/{target_partition}.json"


# ---------------------------------------------------------------- reading and writing objects


# The bulky files a run can do without once it is complete: the replay bucket's lifecycle rule expires objects
# with this tag (nested/archive-replay.yaml); the request, plan, checkpoints, offset maps, offsets and report
# stay.
INTERMEDIATE_TAG = "replay-file=intermediate"
_INTERMEDIATE_FOLDERS = frozenset({"parts", "manifests", "rejected"})


def is_intermediate(key: str) -> bool:
    """Whether a run file is intermediate (parts/, manifests/ and rejected/ of runs/<runId>/)."""
    folders = key.split("/")
    return len(folders) > 3 and folders[0] == "runs" and folders[2] in _INTERMEDIATE_FOLDERS


def _tagging(key: str) -> dict[str, str]:
    return {"Tagging": INTERMEDIATE_TAG} if is_intermediate(key) else {}


class MissingObjectError(LookupError):
    """An object the run needs is not in its bucket."""


def _s3() -> Any:
    return client("s3")


def _missing(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in {"NoSuchKey", "404", "NotFound"}


def exists(bucket: str, key: str) -> bool:
    """Whether the object exists."""
    try:
        _s3().head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if _missing(error):
            return False
        raise
    return True


def put_json(bucket: str, key: str, document: Any) -> None:
    """Store `document` as JSON."""
    body = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    _s3().put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json", **_tagging(key))


def put_text(bucket: str, key: str, text: str, content_type: str = "text/markdown") -> None:
    """Store `text` as UTF-8."""
    _s3().put_object(
        Bucket=bucket, Key=key, Body=text.encode("utf-8"), ContentType=content_type, **_tagging(key)
    )


def get_json(bucket: str, key: str) -> Any:
    """The JSON document stored at `key` (botocore's NoSuchKey when there is none)."""
    return json.loads(_s3().get_object(Bucket=bucket, Key=key)["Body"].read())


def find_json(bucket: str, key: str) -> Any | None:
    """The JSON document stored at `key`, or None when there is none."""
    try:
        return get_json(bucket, key)
    except ClientError as error:
        if _missing(error):
            return None
        raise


def download(bucket: str, key: str, path: Path) -> None:
    """Copy the object to a local file."""
    _s3().download_file(bucket, key, str(path))


def list_keys(bucket: str, prefix: str) -> Iterator[dict[str, Any]]:
    """Every object under `prefix` as {"Key", "Size"}, in key order."""
    for page in _s3().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            yield {"Key": item["Key"], "Size": item["Size"]}


def list_folders(bucket: str, prefix: str) -> list[str]:
    """The names of the "folders" directly under `prefix` (common prefixes, without `prefix` and "/")."""
    names: list[str] = []
    paginator = _s3().get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
        names.extend(entry["Prefix"][len(prefix) :].rstrip("/") for entry in page.get("CommonPrefixes", []))
    return names


class _BodyReader(io.RawIOBase):
    """A botocore StreamingBody as a raw stream, so that io.BufferedReader can peek and read lines."""

    def __init__(self, body: Any) -> None:
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._body.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._body.close()
        super().close()


def open_object(bucket: str, key: str, *, gunzip: bool = True) -> io.BufferedIOBase:
    """The object's content as a stream, read as it is needed; with `gunzip`, gunzipped when it starts with
    the gzip magic bytes (whatever its name)."""
    try:
        body = _s3().get_object(Bucket=bucket, Key=key)["Body"]
    except ClientError as error:
        if _missing(error):
            raise MissingObjectError(
                f"s3://{bucket}/{key} does not exist (deleted since it was listed?)"
            ) from None
        raise
    buffered = io.BufferedReader(_BodyReader(body), buffer_size=_READ_CHUNK)
    if gunzip and buffered.peek(2)[:2] == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=buffered, mode="rb")
    return buffered


def iter_lines(stream: Iterable[bytes]) -> Iterator[bytes]:
    """Every line of `stream` (blank ones included, so that callers can number them) without its line end."""
    for line in stream:
        yield line.rstrip(b"\r\n")


def read_lines(bucket: str, key: str) -> Iterator[bytes]:
    """Every line of an object (gzip or not), streamed, without its line end."""
    with open_object(bucket, key) as stream:
        yield from iter_lines(stream)


class NdjsonSpool:
    """Lines spooled into a temporary file (gzip or plain; memory stays bounded), then uploaded to S3."""

    def __init__(self, *, compress: bool = True) -> None:
        self._file = tempfile.TemporaryFile()  # noqa: SIM115 - closed by upload() or close()
        self._sink: io.BufferedIOBase = (
            gzip.GzipFile(fileobj=self._file, mode="wb", compresslevel=6) if compress else self._file
        )
        self.lines = 0

    def write(self, line: bytes) -> None:
        """Append one line (without its line end)."""
        self._sink.write(line + b"\n")
        self.lines += 1

    def upload(self, bucket: str, key: str) -> None:
        """Finish the file and store it at `key`."""
        if self._sink is self._file:
            self._file.flush()
        else:
            self._sink.close()
        self._file.seek(0)
        _s3().upload_fileobj(self._file, bucket, key, ExtraArgs=_tagging(key))
        self.close()

    def close(self) -> None:
        """Drop the temporary file."""
        self._sink.close()
        self._file.close()


class StreamingUpload:
    """An object stored as its content is produced, in parts of PART_BYTES (multipart when it outgrows one
    part, one PUT otherwise): memory holds one part and nothing goes to /tmp. close() without finish()
    aborts the upload."""

    PART_BYTES = 32 * 1024 * 1024  # S3 allows 10,000 parts: objects up to 320 GiB

    def __init__(self, bucket: str, key: str) -> None:
        self._target = {"Bucket": bucket, "Key": key}
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self._finished = False

    def write(self, data: bytes) -> None:
        """Append `data`."""
        self._buffer += data
        if len(self._buffer) >= self.PART_BYTES:
            self._send_part()

    def _send_part(self) -> None:
        if self._upload_id is None:
            started = _s3().create_multipart_upload(**self._target, **_tagging(self._target["Key"]))
            self._upload_id = started["UploadId"]
        number = len(self._parts) + 1
        sent = _s3().upload_part(
            **self._target, UploadId=self._upload_id, PartNumber=number, Body=bytes(self._buffer)
        )
        self._parts.append({"ETag": sent["ETag"], "PartNumber": number})
        self._buffer.clear()

    def finish(self) -> None:
        """Store what was written."""
        if self._upload_id is None:
            _s3().put_object(**self._target, Body=bytes(self._buffer), **_tagging(self._target["Key"]))
        else:
            if self._buffer:
                self._send_part()
            _s3().complete_multipart_upload(
                **self._target, UploadId=self._upload_id, MultipartUpload={"Parts": self._parts}
            )
        self._finished = True

    def close(self) -> None:
        """Abort the upload unless it finished."""
        if not self._finished and self._upload_id is not None:
            _s3().abort_multipart_upload(**self._target, UploadId=self._upload_id)
        self._finished = True


def write_gzip_ndjson(bucket: str, key: str, lines: Iterable[bytes]) -> int:
    """Store `lines` (without line ends) as gzip NDJSON at `key`, streaming; the number of lines."""
    spool = NdjsonSpool()
    try:
        for line in lines:
            spool.write(line)
        spool.upload(bucket, key)
    finally:
        spool.close()
    return spool.lines


def write_ndjson(bucket: str, key: str, documents: Iterable[Any]) -> int:
    """Store `documents` as plain NDJSON at `key` (for small files such as rejected lines)."""
    lines = [json.dumps(document, separators=(",", ":"), ensure_ascii=False) for document in documents]
    body = "".join(f"{line}\n" for line in lines).encode("utf-8")
    _s3().put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/x-ndjson", **_tagging(key))
    return len(lines)
