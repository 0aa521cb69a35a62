"""The replay request: what to replay, where to, and how fast (docs/replay.md lists the fields).

Field names are camelCase, as the state machine's input gives them. `from` and `to` are Kafka record
timestamps (`from` inclusive, `to` exclusive), each ISO-8601 with a UTC offset or epoch milliseconds; the
validated request holds them as epoch milliseconds.
"""

from __future__ import annotations

import binascii
import re
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

import msgspec

RUN_ID_PATTERN = "^[A-Za-z0-9_-]{1,64}$"
# Every state of the replay carries the request, and Step Functions fails a run whose state input or output
# exceeds 262,144 bytes (States.DataLimitExceeded): the request keeps well under it.
MAX_REQUEST_BYTES = 64 * 1024
_EPOCH_MILLIS = re.compile(r"^-?[0-9]+$")


class ReplayRequestError(ValueError):
    """The request is not valid; the message names the field."""


class PartitionMode(StrEnum):
    """Where a record goes on the target: its source partition, or Kafka's default partitioner on its key."""

    PRESERVE = "preserve"
    KEY_HASH = "keyHash"


RunId = Annotated[str, msgspec.Meta(pattern=RUN_ID_PATTERN)]
Partition = Annotated[int, msgspec.Meta(ge=0)]
Offset = Annotated[int, msgspec.Meta(ge=0)]
PositiveRate = Annotated[int, msgspec.Meta(gt=0)]
TopicName = Annotated[str, msgspec.Meta(min_length=1, max_length=249, pattern=r"^[A-Za-z0-9._-]+$")]


class ReplayRequest(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    """A validated replay request. Build it with `parse_request`, which fills the defaults that depend on
    the function's settings (the source topic) and reports bad input naming the field."""

    run_id: RunId
    from_: int | str = msgspec.field(name="from")
    to: int | str
    source_topic: TopicName | None = None
    target_topic: TopicName | None = None
    partitions: list[Partition] | None = None
    keys: list[str] | None = None
    keys_base64: list[str] | None = None
    partition_mode: PartitionMode = PartitionMode.PRESERVE
    dry_run: bool = False
    max_concurrency: Annotated[int, msgspec.Meta(ge=1, le=40)] = 4
    records_per_second: PositiveRate | None = None
    bytes_per_second: PositiveRate | None = None
    arrival_margin_hours: Annotated[int, msgspec.Meta(ge=0, le=168)] = 24
    consumer_groups: list[Annotated[str, msgspec.Meta(min_length=1)]] | None = None
    group_offsets: dict[str, dict[str, Offset]] | None = None
    apply_group_offsets: bool = False

    def __post_init__(self) -> None:
        self.from_ = _epoch_millis(self.from_, "from")
        self.to = _epoch_millis(self.to, "to")
        if self.from_ >= self.to:
            raise ValueError(f"from ({self.from_}) must be before to ({self.to})")
        if self.partitions is not None:
            self.partitions = sorted(set(self.partitions))
        for index, text in enumerate(self.keys_base64 or ()):
            try:
                binascii.a2b_base64(text, strict_mode=True)
            except binascii.Error as error:
                raise ValueError(f"keysBase64[{index}] is not valid base64: {error}") from None
        for group, offsets in (self.group_offsets or {}).items():
            for partition in offsets:
                if not partition.isdigit():
                    raise ValueError(f"groupOffsets.{group}: {partition!r} is not a source partition number")

    @property
    def start_ms(self) -> int:
        """`from` in epoch milliseconds (inclusive)."""
        return int(self.from_)

    @property
    def end_ms(self) -> int:
        """`to` in epoch milliseconds (exclusive)."""
        return int(self.to)

    @property
    def topic(self) -> str:
        """The source topic (parse_request always sets it)."""
        return self.source_topic or ""

    @property
    def destination_topic(self) -> str:
        """The target topic: targetTopic, else the source topic."""
        return self.target_topic or self.topic

    def key_filter(self) -> frozenset[bytes] | None:
        """The exact keys to replay (keys as UTF-8 and keysBase64 together), or None for every key."""
        if self.keys is None and self.keys_base64 is None:
            return None
        return frozenset(
            [key.encode("utf-8") for key in self.keys or ()]
            + [binascii.a2b_base64(text) for text in self.keys_base64 or ()]
        )

    def includes_partition(self, partition: int) -> bool:
        """Whether records of source `partition` are replayed."""
        return self.partitions is None or partition in self.partitions

    def to_json(self) -> dict[str, Any]:
        """The request as the state machine passes it on and request.json stores it."""
        result: dict[str, Any] = msgspec.to_builtins(self)
        return result


def _epoch_millis(value: int | str, name: str) -> int:
    if isinstance(value, int):
        return value
    if _EPOCH_MILLIS.match(value):
        return int(value)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"{name} must be ISO-8601 with a UTC offset (2026-11-25T10:00:00Z) or epoch milliseconds, "
            f"not {value!r}"
        ) from None
    if moment.tzinfo is None:
        raise ValueError(f"{name} ({value!r}) needs a UTC offset, for example {value}Z")
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def parse_request(raw: Any, default_topic: str = "") -> ReplayRequest:
    """The validated request from the state machine's input; `default_topic` (SOURCE_TOPIC) when the
    request names no sourceTopic. Raises ReplayRequestError naming the bad field."""
    if not isinstance(raw, dict):
        raise ReplayRequestError(f"the request must be a JSON object, not {type(raw).__name__}")
    size = len(msgspec.json.encode(raw))
    if size > MAX_REQUEST_BYTES:
        raise ReplayRequestError(
            f"invalid replay request: {size} bytes of JSON, more than {MAX_REQUEST_BYTES} (every state of "
            "the replay carries the request and Step Functions limits a state's input to 256 KiB): replay "
            "fewer keys or groups per run"
        )
    try:
        request = msgspec.convert(raw, ReplayRequest)
    except msgspec.ValidationError as error:
        raise ReplayRequestError(f"invalid replay request: {error}") from None
    if request.source_topic is None:
        if not default_topic:
            raise ReplayRequestError(
                "invalid replay request: sourceTopic is required (no SOURCE_TOPIC is set)"
            )
        request.source_topic = default_topic
    if request.target_topic is None:
        request.target_topic = request.source_topic
    return request
