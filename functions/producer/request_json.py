"""The request body as strict JSON (RFC 8259): what is accepted here can reach Kafka and be read back as
exactly the JSON that was sent, and what is refused is named by its place in the body.

Refused:
- a string or member name with an unpaired UTF-16 surrogate escape (`"\\ud800"`): it is not Unicode text,
  cannot be encoded as UTF-8, and as a Kafka header name it crashes librdkafka;
- `NaN`, `Infinity`, `-Infinity`, and numbers that overflow a double (`1e999`): JSON has no such values;
- a record value nested more than `MAX_VALUE_LEVELS` levels deep.

The body is parsed once by pydantic-core's parser (jiter) in strict mode, which refuses the first two kinds
itself (except overflow to infinity: the route finds it written as `Infinity`) and refuses nesting beyond its
own fixed limit. The depth check costs nothing: the body is parsed inside enough extra arrays that jiter's
limit falls exactly at `MAX_VALUE_LEVELS`. Only when that parse fails is the body parsed again, leniently, to
name the fields at fault (`find_problems`).

The parsed body is then checked against the request model by msgspec (`decode_body`), several times faster
than pydantic; only a body that msgspec refuses goes to the pydantic model (request_models.ProduceRequest), so
that every 400 names the same fields in the same words.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Annotated, Any, NamedTuple, Protocol

import msgspec
from pydantic_core import PydanticSerializationError, from_json, to_json

from record_producer import OutgoingRecord

MAX_RECORDS = 500

# Levels of a record's value: the value is level 1, an element or member of a level-n array or object is
# level n + 1 (`{}` has 1 level, `[[1]]` 3). 64 levels never need more than 64 nested arrays and objects,
# the lowest default among common JSON readers (.NET's System.Text.Json); Python's json, Jackson (Athena,
# Flink), serde_json and jiter allow more.
MAX_VALUE_LEVELS = 64

# jiter (pydantic-core 2.46) refuses a value inside more than 200 arrays and objects;
# tests/functional/producer/test_bad_input.py pins it.
PARSER_CONTAINER_LIMIT = 200
# A record's value sits inside 3 containers: the body, `records`, the record.
_VALUE_CONTAINERS = 3
# Every value of the body may then sit inside at most this many containers.
_MAX_CONTAINERS = _VALUE_CONTAINERS + MAX_VALUE_LEVELS - 1
_PADDING = PARSER_CONTAINER_LIMIT - _MAX_CONTAINERS
_OPEN, _CLOSE = "[" * _PADDING, "]" * _PADDING

SURROGATE_MESSAGE = "holds an unpaired UTF-16 surrogate escape (\\ud800-\\udfff), which is not Unicode text"
NON_FINITE_MESSAGE = "holds a number too large for a double; JSON (RFC 8259) has no Infinity"
DEPTH_MESSAGE = f"nests deeper than {MAX_VALUE_LEVELS} levels"
MAX_PROBLEMS = 100

Path = tuple[str | int, ...]


class BodyProblem(NamedTuple):
    """Something in the body that cannot be accepted, at `path` (`("records", 0, "value")`)."""

    path: Path
    message: str


class InvalidBodyError(ValueError):
    """The body is not strict JSON; `problems` name where (an empty path: the body as a whole)."""

    def __init__(self, problems: list[BodyProblem]) -> None:
        super().__init__("; ".join(problem.message for problem in problems))
        self.problems = problems


def parse_body(text: str) -> Any:
    """The parsed body, or InvalidBodyError naming every problem; never a RecursionError."""
    try:
        parsed = from_json("".join((_OPEN, text, _CLOSE)), allow_inf_nan=False)  # one copy: `+` makes two
    except (ValueError, TypeError):  # TypeError: the text holds a surrogate itself, not as an escape
        raise InvalidBodyError(find_problems(text) or [_syntax_problem(text)]) from None
    for _ in range(_PADDING):
        if type(parsed) is not list or len(parsed) != 1:  # the text closed our arrays: not one JSON value
            raise InvalidBodyError([_syntax_problem(text)])
        parsed = parsed[0]
    return parsed


class RecordBatch:
    """The records of a body that holds nothing refused, as Kafka gets them. A plain class: pydantic
    describes the body with the request model (request_models), not with this."""

    __slots__ = ("records",)

    def __init__(self, records: list[OutgoingRecord]) -> None:
        self.records = records

    def __repr__(self) -> str:
        # Powertools formats the route's arguments into a debug message on every request, even with DEBUG
        # off; the default repr of 500 records costs more than producing them.
        return f"RecordBatch(<{len(self.records)} records>)"


class RecordFields(Protocol):
    """A record as the request model or msgspec reads it."""

    @property
    def key(self) -> str | None: ...
    @property
    def value(self) -> Any: ...
    @property
    def headers(self) -> dict[str, str]: ...


def outgoing_records(records: Sequence[RecordFields]) -> list[OutgoingRecord]:
    """The records as bytes: key and headers as UTF-8, the value as compact UTF-8 JSON (None: a tombstone)."""
    new = tuple.__new__  # OutgoingRecord(...) without a call of its __new__: a tenth of this function's time
    return [
        new(
            OutgoingRecord,
            (
                None if r.key is None else r.key.encode(),
                None if r.value is None else to_json(r.value),
                [(name, text.encode()) for name, text in r.headers.items()] if r.headers else [],
            ),
        )
        for r in records
    ]


class _Record(msgspec.Struct, forbid_unknown_fields=True):
    value: Any
    key: str | None = None
    headers: dict[str, str] = {}


class _Body(msgspec.Struct, forbid_unknown_fields=True):
    """What request_models.ProduceRequest accepts, checked by msgspec in a fraction of pydantic's time."""

    records: Annotated[list[_Record], msgspec.Meta(min_length=1, max_length=MAX_RECORDS)]


def decode_body(text: str) -> RecordBatch | Any:
    """The body as a RecordBatch when it is valid; else, for the request model to name the problems, the
    parsed body (`parse_body`, which raises InvalidBodyError for what is not strict JSON)."""
    parsed = parse_body(text)
    if type(parsed) is not dict:  # Powertools would validate a list's first element as the body
        raise InvalidBodyError([BodyProblem((), f"the body must be a JSON object, not {_json_type(parsed)}")])
    try:
        records = msgspec.convert(parsed, _Body).records
    except msgspec.ValidationError:
        return parsed
    return RecordBatch(outgoing_records(records))


def _json_type(value: Any) -> str:
    names = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def _syntax_problem(text: str) -> BodyProblem:
    if not _is_text(text):
        return BodyProblem((), f"invalid JSON: {SURROGATE_MESSAGE}")
    try:
        from_json(text, allow_inf_nan=False)
    except ValueError as error:
        return BodyProblem((), f"invalid JSON: {error}")
    return BodyProblem((), DEPTH_MESSAGE)  # only the padding's extra depth can fail what parses alone


# ---------------------------------------------------------------- naming the fields at fault


class _NotJson:
    """NaN, Infinity or -Infinity as Python's json reads them here (pydantic-core cannot serialise it)."""

    def __init__(self, text: str) -> None:
        self.message = f"holds {text}, which is not a JSON number (RFC 8259)"


# Python's json reads lone surrogates, NaN and Infinity (here as _NotJson) and numbers that overflow (as
# infinity), so it reads what jiter refuses; its C scanner nests to about 10,000 levels.
_LENIENT = json.JSONDecoder(parse_constant=_NotJson)
# The body's outer levels (the body, `records`, a record) are looked at member by member, up to this many.
_OUTER_MEMBERS = 501


def find_problems(text: str) -> list[BodyProblem]:
    """The problems this module refuses, each with its path, in body order: one per field of a record,
    at most MAX_PROBLEMS in all; [] if there are none, which means that the body is not JSON."""
    try:
        body = _LENIENT.decode(text)
    except RecursionError:
        return [BodyProblem((), DEPTH_MESSAGE)]  # deeper than Python's parser goes (about 10,000 levels)
    except ValueError:
        return []
    problems: list[BodyProblem] = []
    pending: list[tuple[Any, Path]] = [(body, ())]  # a value and its path, as long as the value is deep
    while pending and len(problems) < MAX_PROBLEMS:
        value, path = pending.pop()
        if len(path) >= _VALUE_CONTAINERS or not isinstance(value, dict | list):  # a record's field or a leaf
            if (problem := _first_problem(value, path)) is not None:
                problems.append(problem)
            continue
        if isinstance(value, dict):
            members = list(value.items())[:_OUTER_MEMBERS]
            problems += [_name_problem(path, i) for i, (name, _) in enumerate(members) if not _is_text(name)]
            children: list[tuple[str | int, Any]] = [(name, item) for name, item in members if _is_text(name)]
        else:
            children = list(enumerate(value[:_OUTER_MEMBERS]))
        pending += [(item, (*path, name)) for name, item in reversed(children)]
    return problems[:MAX_PROBLEMS]


def _first_problem(value: Any, path: Path) -> BodyProblem | None:
    """The first problem in `value`, found by halving its arrays and objects with pydantic-core's checks,
    so that a large value costs a few passes in Rust rather than a walk in Python."""
    while True:
        if len(path) > _MAX_CONTAINERS:
            return BodyProblem(path, DEPTH_MESSAGE)
        if isinstance(value, _NotJson):
            return BodyProblem(path, value.message)
        if isinstance(value, str):
            return None if _is_text(value) else BodyProblem(path, SURROGATE_MESSAGE)
        if isinstance(value, float):
            return None if math.isfinite(value) else BodyProblem(path, NON_FINITE_MESSAGE)
        if not isinstance(value, dict | list) or _passes(value, len(path)):
            return None
        names: list[Any] = list(value) if isinstance(value, dict) else []
        items = list(value.values()) if isinstance(value, dict) else value
        low, high = 0, len(items)
        while high - low > 1:  # the first member that fails is in [low, high)
            middle = (low + high) // 2
            part: list[Any] | dict[str, Any] = items[low:middle]
            if names:
                part = dict(zip(names[low:middle], items[low:middle], strict=True))
            low, high = (middle, high) if _passes(part, len(path)) else (low, middle)
        if names and not _is_text(names[low]):
            return _name_problem(path, low)
        path, value = (*path, names[low] if names else low), items[low]


def _passes(container: dict[str, Any] | list[Any], depth: int) -> bool:
    """Whether a container `depth` levels down the body holds nothing refused (checked in Rust)."""
    padding = PARSER_CONTAINER_LIMIT - (_MAX_CONTAINERS - depth)
    try:
        text = to_json(container).decode()  # refuses lone surrogates and _NotJson; writes inf as Infinity
        from_json("[" * padding + text + "]" * padding, allow_inf_nan=False)  # refuses it, and deep nesting
    except (PydanticSerializationError, ValueError):
        return False
    return True


def _name_problem(path: Path, index: int) -> BodyProblem:
    return BodyProblem(path, f"the name of member {index} {SURROGATE_MESSAGE}")


def _is_text(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
