"""The manifest file in moto's S3: records round trip byte for byte through frames and a multipart upload,
a failed upload leaves nothing behind, and a truncated or foreign file is a clear error."""

from __future__ import annotations

import pytest

import run_storage
from replay_manifest import ManifestError, ManifestUpload, PlannedRecord, read_manifest, write_manifest
from tests.functional.archive_replay.conftest import REPLAY_BUCKET, ReplayWorld

MIB = 1024 * 1024


def _record(offset: int, value: bytes | None) -> PlannedRecord:
    headers = [("source", b"web"), ("source", None), ("trace", bytes(range(256)))]
    size = 1 + len(value or b"") + sum(len(name) + len(data or b"") for name, data in headers)
    return PlannedRecord(
        0, offset, 1_700_000_000_000 + offset, b"\xff", value, headers, offset % 2 == 0, size
    )


def test_a_manifest_larger_than_a_part_round_trips_through_a_multipart_upload(
    world: ReplayWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(run_storage.StreamingUpload, "PART_BYTES", 5 * MIB)  # S3's smallest part
    records = [_record(offset, bytes([offset]) * MIB) for offset in range(12)] + [_record(12, None)]
    key = run_storage.manifest_key("parts", 0)

    assert write_manifest(REPLAY_BUCKET, key, records) == 13

    assert list(read_manifest(REPLAY_BUCKET, key)) == records
    head = world.s3.head_object(Bucket=REPLAY_BUCKET, Key=key)
    assert head["ETag"].endswith('-3"')  # three parts: 5 MiB, 5 MiB and the rest
    tags = world.s3.get_object_tagging(Bucket=REPLAY_BUCKET, Key=key)["TagSet"]
    assert tags == [{"Key": "replay-file", "Value": "intermediate"}]


def test_an_upload_closed_before_it_finishes_leaves_nothing(
    world: ReplayWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(run_storage.StreamingUpload, "PART_BYTES", 5 * MIB)
    key = run_storage.manifest_key("aborted", 0)
    upload = ManifestUpload(REPLAY_BUCKET, key)
    for offset in range(8):
        upload.write(_record(offset, b"v" * MIB))
    upload.close()

    assert world.keys("runs/aborted/", bucket=REPLAY_BUCKET) == []
    assert world.s3.list_multipart_uploads(Bucket=REPLAY_BUCKET).get("Uploads", []) == []


def test_a_truncated_or_foreign_manifest_is_a_clear_error(world: ReplayWorld) -> None:
    key = run_storage.manifest_key("broken", 0)
    write_manifest(REPLAY_BUCKET, key, [_record(0, b"v")])
    body = world.s3.get_object(Bucket=REPLAY_BUCKET, Key=key)["Body"].read()

    world.s3.put_object(Bucket=REPLAY_BUCKET, Key=key, Body=body[:-1])
    with pytest.raises(ManifestError, match=r"manifests/0.msgpack is truncated"):
        list(read_manifest(REPLAY_BUCKET, key))
    world.s3.put_object(Bucket=REPLAY_BUCKET, Key=key, Body=b"\x00\x00\x00\x02{}")
    with pytest.raises(ManifestError, match="does not hold planned records"):
        list(read_manifest(REPLAY_BUCKET, key))
