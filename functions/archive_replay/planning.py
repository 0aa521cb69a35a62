"""The plan steps of a replay: scope (which archive objects to read), scan (one object's matching lines, per
source partition), partitions (which source partitions have lines) and merge (one partition's manifest).

Archive lines travel as their original bytes from the archive object to the parts; they are decoded
(kafka_codec.read_archive_line) to filter, order, deduplicate and count, and merge writes each kept record
decoded once into the manifest, in the form the writer produces (manifest.py). Memory stays bounded: scan
sorts up to a budget in memory and spills sorted runs to temporary files; merge is a k-way merge (heapq) of
the parts, downloaded to temporary files, with a bounded number open at once.
"""

from __future__ import annotations

import base64
import gzip
import heapq
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from operator import itemgetter
from pathlib import Path
from typing import Any

import msgspec
from aws_lambda_powertools.metrics import MetricUnit

import replay_manifest
import run_storage
from replay_request import ReplayRequest, parse_request
from replay_settings import ReplaySettings
from streaming_common.kafka_codec import KafkaRecord, RecordDecodeError, read_archive_line
from streaming_common.observability import logger, metrics

DATA_PREFIX = "data/"
OVERSIZE_PREFIX = "oversize/"
HOUR_MS = 3_600_000
SCAN_MEMORY_BUDGET_BYTES = 64 * 1024 * 1024
MERGE_FAN_IN = 64  # parts open at once in one merge pass
LISTED_CONFLICTS = 100  # conflicts listed in a summary (all are counted)
_ENTRY_OVERHEAD_BYTES = 120  # a buffered line's Python objects beside its bytes

Entry = tuple[int, int, bytes]  # (offset, rank of the archive object in key order, original line)


class RunIdConflictError(ValueError):
    """The run id is taken by a different request."""


def _request(event: dict[str, Any], settings: ReplaySettings) -> ReplayRequest:
    return parse_request(event.get("request"), settings.source_topic)


# ---------------------------------------------------------------- scope


def _hour_start(moment_ms: int) -> datetime:
    moment = datetime.fromtimestamp(moment_ms // 1000, tz=UTC)
    return moment.replace(minute=0, second=0, microsecond=0)


def _day_prefix(moment: datetime) -> str:
    return f"{DATA_PREFIX}year={moment:%Y}/month={moment:%m}/day={moment:%d}/"


def arrival_prefixes(request: ReplayRequest) -> list[str]:
    """The `data/` prefixes (arrival hours, UTC) that can hold records of the request's time range: from one
    hour before `from` to arrivalMarginHours after `to`; a whole day's prefix when every hour of it is in."""
    first = _hour_start(request.start_ms - HOUR_MS)
    last = _hour_start(request.end_ms - 1 + request.arrival_margin_hours * HOUR_MS)
    prefixes: list[str] = []
    hour = first
    while hour <= last:
        day_end = hour.replace(hour=23)
        if hour.hour == 0 and day_end <= last:
            prefixes.append(_day_prefix(hour))
            hour = day_end + timedelta(hours=1)
            continue
        prefixes.append(f"{_day_prefix(hour)}hour={hour:%H}/")
        hour += timedelta(hours=1)
    return prefixes


def oversize_prefixes(request: ReplayRequest) -> list[str]:
    """The `oversize/` prefixes of the request's topic (and partitions)."""
    topic_prefix = f"{OVERSIZE_PREFIX}{request.topic}/"
    if request.partitions is None:
        return [topic_prefix]
    return [f"{topic_prefix}{partition}/" for partition in request.partitions]


def archive_objects(bucket: str, request: ReplayRequest) -> list[dict[str, Any]]:
    """Every archive object that can hold records the request replays, as {"Key", "Size"}, in key order."""
    objects = {
        item["Key"]: item
        for prefix in arrival_prefixes(request) + oversize_prefixes(request)
        for item in run_storage.list_keys(bucket, prefix)
    }
    return [objects[key] for key in sorted(objects)]


def _without_dry_run(request: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in request.items() if name != "dryRun"}


def run_scope(event: dict[str, Any], _context: Any, settings: ReplaySettings) -> dict[str, Any]:
    """Store the request (refusing a different one under the same run id) and list the archive objects to
    scan into objects.json. A run is already complete when its report says so; a dry run's report or an
    incomplete one (verify found records missing) lets the same request, dry or not, run again and resume."""
    request = _request(event, settings)
    run_id, bucket = request.run_id, settings.replay_bucket_name
    stored = run_storage.find_json(bucket, run_storage.request_key(run_id))
    if stored is not None and _without_dry_run(stored) != _without_dry_run(request.to_json()):
        raise RunIdConflictError(
            f"run id {run_id!r} was used by a different request ({run_storage.request_key(run_id)} in "
            f"{bucket}): use a new run id, or repeat the same request to resume"
        )
    result: dict[str, Any] = {
        "runId": run_id,
        "request": request.to_json(),
        "bucket": bucket,
        "objectsKey": run_storage.objects_key(run_id),
    }
    report = run_storage.find_json(bucket, run_storage.report_key(run_id))
    if isinstance(report, dict) and report.get("complete") is True:
        logger.info("run already complete", extra={"runId": run_id})
        return result | {"alreadyComplete": True, "objects": 0}
    if stored is None:
        run_storage.put_json(bucket, run_storage.request_key(run_id), request.to_json())
    objects = archive_objects(settings.archive_bucket_name, request)
    run_storage.put_json(bucket, run_storage.objects_key(run_id), objects)
    metrics.add_metric(name="ArchiveObjectsListed", unit=MetricUnit.Count, value=len(objects))
    logger.info("archive objects listed", extra={"runId": run_id, "objects": len(objects)})
    return result | {"alreadyComplete": False, "objects": len(objects)}


# ---------------------------------------------------------------- scan


def _write_run(path: Path, entries: Iterable[Entry]) -> None:
    with gzip.open(path, "wb", compresslevel=1) as run:
        for offset, rank, line in entries:
            run.write(b"%d %d %s\n" % (offset, rank, line))


def _read_run(path: Path) -> Iterator[Entry]:
    with gzip.open(path, "rb") as run:
        for raw in run:
            offset, rank, line = raw.rstrip(b"\n").split(b" ", 2)
            yield int(offset), int(rank), line


class _PartitionSorter:
    """Matching lines grouped by source partition and sorted by offset (stable: equal offsets keep their
    order), in memory up to a budget, then in sorted runs spilled to temporary files."""

    def __init__(self, directory: Path, budget_bytes: int) -> None:
        self._directory = directory
        self._budget = budget_bytes
        self._buffers: dict[int, list[Entry]] = defaultdict(list)
        self._runs: dict[int, list[Path]] = defaultdict(list)
        self._buffered = 0
        self._spills = 0

    def add(self, partition: int, offset: int, line: bytes) -> None:
        self._buffers[partition].append((offset, 0, line))
        self._buffered += len(line) + _ENTRY_OVERHEAD_BYTES
        if self._buffered >= self._budget:
            self._spill()

    def _spill(self) -> None:
        self._spills += 1
        for partition, entries in self._buffers.items():
            entries.sort(key=itemgetter(0))
            path = self._directory / f"scan-{partition}-{self._spills}.gz"
            _write_run(path, entries)
            self._runs[partition].append(path)
        self._buffers.clear()
        self._buffered = 0

    def partitions(self) -> list[int]:
        return sorted(set(self._buffers) | set(self._runs))

    def sorted_lines(self, partition: int) -> Iterator[bytes]:
        in_memory = sorted(self._buffers.get(partition, []), key=itemgetter(0))
        sources = [_read_run(path) for path in self._runs.get(partition, [])] + [iter(in_memory)]
        return (line for _, _, line in heapq.merge(*sources, key=itemgetter(0)))


@dataclass
class ScanResult:
    """What scanning one archive object found."""

    lines: int = 0
    matched: int = 0
    rejected: int = 0
    partitions: dict[int, int] = field(default_factory=dict)


class _LineOrigin(msgspec.Struct):
    """Where a rejected line says it comes from, when it says so."""

    topic: Any = None
    partition: Any = None


_ORIGIN_DECODER = msgspec.json.Decoder(_LineOrigin)


def _rejected_partition(line: bytes, topic: str) -> int | None:
    """The source partition a rejected line names, if it is a JSON object of `topic` with an int partition."""
    try:
        origin = _ORIGIN_DECODER.decode(line)
    except msgspec.DecodeError:
        return None
    if origin.topic == topic and isinstance(origin.partition, int) and not isinstance(origin.partition, bool):
        return origin.partition
    return None


def _rejected_document(object_key: str, number: int, line: bytes, error: Exception, topic: str) -> bytes:
    document = {
        "objectKey": object_key,
        "line": number,
        "error": str(error),
        "partition": _rejected_partition(line, topic),
        "contentBase64": base64.b64encode(line).decode("ascii"),
    }
    return msgspec.json.encode(document)


def _matches(record: KafkaRecord, request: ReplayRequest, keys: frozenset[bytes] | None) -> bool:
    return (
        record.topic == request.topic
        and request.start_ms <= record.timestamp < request.end_ms
        and request.includes_partition(record.partition)
        and (keys is None or record.key in keys)
    )


def scan_object(
    archive_bucket: str,
    replay_bucket: str,
    object_key: str,
    request: ReplayRequest,
    memory_budget_bytes: int = SCAN_MEMORY_BUDGET_BYTES,
) -> ScanResult:
    """Stream one archive object (gzip or not) and store its lines that the request replays, one part per
    source partition sorted by offset, and its lines that are not archive lines under rejected/."""
    result = ScanResult()
    keys = request.key_filter()
    rejected = run_storage.NdjsonSpool(compress=False)
    with tempfile.TemporaryDirectory(prefix="replay-scan-") as directory:
        sorter = _PartitionSorter(Path(directory), memory_budget_bytes)
        try:
            for number, line in enumerate(run_storage.read_lines(archive_bucket, object_key), start=1):
                if not line.strip():
                    continue
                result.lines += 1
                try:
                    record = read_archive_line(line).record
                except RecordDecodeError as error:
                    rejected.write(_rejected_document(object_key, number, line, error, request.topic))
                    continue
                if _matches(record, request, keys):
                    sorter.add(record.partition, record.offset, line)
                    result.matched += 1
            for partition in sorter.partitions():
                key = run_storage.part_key(request.run_id, partition, object_key)
                lines = sorter.sorted_lines(partition)
                result.partitions[partition] = run_storage.write_gzip_ndjson(replay_bucket, key, lines)
            result.rejected = rejected.lines
            if rejected.lines:
                rejected.upload(replay_bucket, run_storage.rejected_key(request.run_id, object_key))
        finally:
            rejected.close()
    return result


def _object_key(event: dict[str, Any]) -> tuple[dict[str, Any], str]:
    item = event.get("object")
    if not isinstance(item, dict) or not isinstance(item.get("Key"), str) or not item["Key"]:
        raise ValueError(f"event field 'object' must be {{\"Key\": <archive object key>, ...}}, not {item!r}")
    return item, item["Key"]


def run_scan(event: dict[str, Any], _context: Any, settings: ReplaySettings) -> dict[str, Any]:
    """Scan one archive object (one Distributed Map item) into parts and rejected lines."""
    request = _request(event, settings)
    item, object_key = _object_key(event)
    result = scan_object(settings.archive_bucket_name, settings.replay_bucket_name, object_key, request)
    metrics.add_metric(name="ArchiveObjectsScanned", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="ArchiveLinesMatched", unit=MetricUnit.Count, value=result.matched)
    metrics.add_metric(name="ArchiveLinesRejected", unit=MetricUnit.Count, value=result.rejected)
    if result.rejected:
        logger.warning(
            "lines that are not archive lines", extra={"key": object_key, "count": result.rejected}
        )
    return {"object": item, "lines": result.lines, "matched": result.matched, "rejected": result.rejected}


# ---------------------------------------------------------------- partitions


def run_partitions(event: dict[str, Any], _context: Any, settings: ReplaySettings) -> dict[str, Any]:
    """The source partitions that have parts, in order (an empty list when nothing matched)."""
    request = _request(event, settings)
    folders = run_storage.list_folders(settings.replay_bucket_name, run_storage.parts_prefix(request.run_id))
    partitions = sorted(int(name) for name in folders if name.isdigit())
    metrics.add_metric(name="PartitionsPlanned", unit=MetricUnit.Count, value=len(partitions))
    return {"partitions": partitions}


# ---------------------------------------------------------------- merge


class _Position(msgspec.Struct):
    offset: int


_POSITION_DECODER = msgspec.json.Decoder(_Position)


def _part_entries(path: Path, rank: int) -> Iterator[Entry]:
    with gzip.open(path, "rb") as part:
        for line in run_storage.iter_lines(part):
            if line:
                yield _POSITION_DECODER.decode(line).offset, rank, line


def _merge(sources: list[Callable[[], Iterator[Entry]]], directory: Path) -> Iterator[Entry]:
    """Entries of every source in (offset, rank) order, at most MERGE_FAN_IN sources open at once
    (more are merged into intermediate runs first)."""
    level = 0
    while len(sources) > MERGE_FAN_IN:
        level += 1
        merged: list[Callable[[], Iterator[Entry]]] = []
        for start in range(0, len(sources), MERGE_FAN_IN):
            path = directory / f"merge-{level}-{start}.gz"
            group = [source() for source in sources[start : start + MERGE_FAN_IN]]
            _write_run(path, heapq.merge(*group, key=itemgetter(0, 1)))
            merged.append(partial(_read_run, path))
        sources = merged
    return heapq.merge(*(source() for source in sources), key=itemgetter(0, 1))


@dataclass
class PartitionSummary:
    """What a partition's manifest holds (manifests/<partition>.summary.json)."""

    partition: int
    records: int = 0
    first_offset: int | None = None
    last_offset: int | None = None
    min_timestamp: int | None = None
    max_timestamp: int | None = None
    max_record_bytes: int = 0
    inexact_values: int = 0
    duplicates_dropped: int = 0
    conflict_count: int = 0
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    rejected_lines: int = 0

    def add(self, record: replay_manifest.PlannedRecord) -> None:
        self.records += 1
        if self.first_offset is None:
            self.first_offset = record.offset
        self.last_offset = record.offset
        if self.min_timestamp is None or record.timestamp < self.min_timestamp:
            self.min_timestamp = record.timestamp
        if self.max_timestamp is None or record.timestamp > self.max_timestamp:
            self.max_timestamp = record.timestamp
        self.max_record_bytes = max(self.max_record_bytes, record.size)
        self.inexact_values += not record.value_exact

    def conflict(self, offset: int, kept_object: str, dropped_object: str) -> None:
        self.conflict_count += 1
        if len(self.conflicts) < LISTED_CONFLICTS:
            self.conflicts.append(
                {"offset": offset, "keptObject": kept_object, "droppedObject": dropped_object}
            )

    def to_json(self) -> dict[str, Any]:
        return {
            "partition": self.partition,
            "records": self.records,
            "firstOffset": self.first_offset,
            "lastOffset": self.last_offset,
            "minTimestamp": self.min_timestamp,
            "maxTimestamp": self.max_timestamp,
            "maxRecordBytes": self.max_record_bytes,
            "inexactValues": self.inexact_values,
            "duplicatesDropped": self.duplicates_dropped,
            "conflictCount": self.conflict_count,
            "conflicts": self.conflicts,
            "rejectedLines": self.rejected_lines,
        }


def _same_record(line: bytes, other: bytes) -> bool:
    return line == other or read_archive_line(line).record == read_archive_line(other).record


def _rejected_lines(bucket: str, run_id: str, partition: int) -> int:
    count = 0
    for item in run_storage.list_keys(bucket, run_storage.rejected_prefix(run_id)):
        for line in run_storage.read_lines(bucket, item["Key"]):
            if line and msgspec.json.decode(line).get("partition") == partition:
                count += 1
    return count


def count_rejected_lines(bucket: str, run_id: str) -> int:
    """Every rejected line of the run (those no partition's summary counts included)."""
    return sum(
        1
        for item in run_storage.list_keys(bucket, run_storage.rejected_prefix(run_id))
        for line in run_storage.read_lines(bucket, item["Key"])
        if line
    )


def _object_ranks(bucket: str, run_id: str) -> dict[str, tuple[int, str]]:
    """The listed archive objects by key digest: (rank in key order, key)."""
    listed = run_storage.find_json(bucket, run_storage.objects_key(run_id)) or []
    keys = sorted({item["Key"] for item in listed})
    return {run_storage.object_digest(key): (rank, key) for rank, key in enumerate(keys)}


def merge_partition(bucket: str, run_id: str, partition: int) -> PartitionSummary:
    """Merge a source partition's parts into its manifest (sorted by offset, one record per offset: identical
    duplicates dropped, different ones kept first by object key order and listed) and its summary."""
    ranks = _object_ranks(bucket, run_id)
    object_names: dict[int, str] = {}
    summary = PartitionSummary(partition)
    upload = replay_manifest.ManifestUpload(bucket, run_storage.manifest_key(run_id, partition))
    try:
        with tempfile.TemporaryDirectory(prefix="replay-merge-") as directory:
            sources: list[tuple[int, Callable[[], Iterator[Entry]]]] = []
            parts = run_storage.list_keys(bucket, run_storage.parts_prefix(run_id, partition))
            for index, item in enumerate(parts):
                digest = item["Key"].rsplit("/", 1)[-1].split(".", 1)[0]
                # a part of an object that objects.json no longer lists (an earlier scope's) comes last
                rank, name = ranks.get(digest, (len(ranks) + index, f"(unlisted object {digest})"))
                object_names[rank] = name
                path = Path(directory) / f"part-{index}.gz"
                run_storage.download(bucket, item["Key"], path)
                sources.append((rank, partial(_part_entries, path, rank)))
            sources.sort(key=itemgetter(0))
            previous: Entry | None = None
            for entry in _merge([source for _, source in sources], Path(directory)):
                offset, rank, line = entry
                if previous is not None and previous[0] == offset:
                    if _same_record(previous[2], line):
                        summary.duplicates_dropped += 1
                    else:
                        summary.conflict(offset, object_names[previous[1]], object_names[rank])
                    continue
                previous = entry
                record = replay_manifest.planned_record(read_archive_line(line))
                summary.add(record)
                upload.write(record)
        summary.rejected_lines = _rejected_lines(bucket, run_id, partition)
        upload.finish()
    finally:
        upload.close()
    run_storage.put_json(bucket, run_storage.summary_key(run_id, partition), summary.to_json())
    return summary


def _partition(event: dict[str, Any]) -> int:
    partition = event.get("partition")
    if not isinstance(partition, int) or isinstance(partition, bool) or partition < 0:
        raise ValueError(f"event field 'partition' must be a source partition number, not {partition!r}")
    return partition


def run_merge(event: dict[str, Any], _context: Any, settings: ReplaySettings) -> dict[str, Any]:
    """Merge one source partition's parts into its manifest; the partition's summary."""
    request = _request(event, settings)
    summary = merge_partition(settings.replay_bucket_name, request.run_id, _partition(event))
    metrics.add_metric(name="DuplicatesDropped", unit=MetricUnit.Count, value=summary.duplicates_dropped)
    if summary.conflict_count:
        logger.warning(
            "different archive lines for one offset",
            extra={"partition": summary.partition, "conflicts": summary.conflict_count},
        )
    return summary.to_json()
