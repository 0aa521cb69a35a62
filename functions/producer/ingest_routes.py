"""The REST ingestion API: `POST /topics/{topic}/records` on Powertools' REST resolver
(docs/options/cluster-with-rest-api.md, docs/openapi.json).

Every record is checked before any is produced (all or nothing); then each gets its own answer.
| status | when |
| --- | --- |
| 200 | every record written |
| 207 | some records failed: each failed entry says why and whether to retry it |
| 400 | invalid body (request_json, then the model): nothing produced; the errors name the index and field |
| 403 | topic not allowed |
| 413 | a record over 1 MiB serialized, or a body over Lambda's 6 MB |
| 503 | the brokers took no record and every error is retriable: retry after `Retry-After` seconds |
"""

from __future__ import annotations

import time
from http import HTTPStatus
from typing import Annotated, Any, TypedDict

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict, Field, PlainValidator
from pydantic_core import from_json, to_json

import record_producer
from record_producer import Delivered, Failed, OutgoingRecord, ProducerSettings
from request_json import (
    MAX_RECORDS,
    MAX_VALUE_LEVELS,
    NON_FINITE_MESSAGE,
    BodyProblem,
    InvalidBodyError,
    RecordBatch,
    decode_body,
    outgoing_records,
)
from streaming_common.observability import logger, metrics

MAX_RECORD_BYTES = 1024 * 1024
MAX_BODY_BYTES = 6 * 1024 * 1024


class RecordIn(BaseModel):
    """One record to produce: `value` is any JSON (null makes a tombstone), headers are text."""

    model_config = ConfigDict(extra="forbid")

    key: str | None = None
    # Any JSON: the body is parsed JSON already, so Any admits exactly JSON values, without walking them.
    value: Any
    headers: dict[str, str] = Field(default_factory=dict)


class ProduceRequest(BaseModel):
    """The request body: 1 to 500 records."""

    model_config = ConfigDict(extra="forbid")

    records: Annotated[list[RecordIn], Field(min_length=1, max_length=MAX_RECORDS)]


def _validated(body: Any) -> RecordBatch:
    """The body as request_json.decode_body left it: a RecordBatch when it is valid, else parsed JSON that
    ProduceRequest checks, raising the errors that name each field (or, rarely, accepts)."""
    if isinstance(body, RecordBatch):
        return body
    request = ProduceRequest.model_validate(body)
    return RecordBatch(outgoing_records(request.records))


# The route receives a RecordBatch; the OpenAPI document describes the body with ProduceRequest.
RequestBody = Annotated[
    RecordBatch, Body(), PlainValidator(_validated, json_schema_input_type=ProduceRequest)
]


# The answers the route builds (200 and 207), typed so that mypy holds the code to the shapes the OpenAPI
# document is generated from. TypedDicts, not models: they are plain dicts at run time, and a model per
# record would cost a quarter of the request's CPU.
class RecordWritten(TypedDict):
    """Where a record was stored."""

    partition: int
    offset: int


class RecordFailed(TypedDict):
    """Why a record was not stored."""

    errorCode: str
    errorMessage: str
    retriable: bool


class ProduceResponse(TypedDict):
    """The answer to a request: one entry per record, in request order."""

    failedRecordCount: int
    records: list[RecordWritten | RecordFailed]


class FieldError(BaseModel):
    """One problem in the request, named by its place (for example `records[3].value`)."""

    field: str
    message: str


class ErrorResponse(BaseModel):
    """A request that was refused as a whole."""

    message: str
    errors: list[FieldError] = Field(default_factory=list)


# The body is read by request_json before the model sees it: strict JSON, bounded depth, fields named.
# Powertools hands what decode_body returns to _validated as it is (its type says dict: parsed JSON only).
resolver = APIGatewayRestResolver(
    enable_validation=True,
    json_body_deserializer=decode_body,  # type: ignore[arg-type]
)
INVALID_BODY = "invalid request body: nothing was produced"


def handle(event: dict[str, Any], context: Any, settings: ProducerSettings) -> dict[str, Any]:
    """Answer one API Gateway request with the routes below, under `settings`."""
    # Powertools clears the context once the request is answered.
    resolver.append_context(settings=settings)  # type: ignore[no-untyped-call]
    return resolver.resolve(event, context)


def _error(
    status: HTTPStatus,
    message: str,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[str]:
    metrics.add_metric(name="RequestsRejected", unit=MetricUnit.Count, value=1)
    body = ErrorResponse(message=message, errors=errors or []).model_dump_json()
    return Response(
        status_code=status, content_type=content_types.APPLICATION_JSON, body=body, headers=headers
    )


def _field_name(location: tuple[Any, ...]) -> str:
    parts = [part for part in location if part != "body"]
    name = ""
    for part in parts:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or "body"


@resolver.exception_handler(RequestValidationError)  # type: ignore[untyped-decorator]
def invalid_body(error: RequestValidationError) -> Response[str]:
    """400 naming every bad field; nothing was produced."""
    errors = [
        FieldError(
            field="body" if e["type"] == "json_invalid" else _field_name(tuple(e["loc"])),
            message=str(e.get("msg", e["type"])),
        )
        for e in error.errors()
    ]
    return _error(HTTPStatus.BAD_REQUEST, INVALID_BODY, errors)


@resolver.exception_handler(InvalidBodyError)  # type: ignore[untyped-decorator]
def unreadable_body(error: InvalidBodyError) -> Response[str]:
    """400 naming every field that is not strict JSON, not Unicode text or nested too deep."""
    return _error(HTTPStatus.BAD_REQUEST, INVALID_BODY, [_problem_error(p) for p in error.problems])


def _problem_error(problem: BodyProblem) -> FieldError:
    """The field is at most `records[i].value`; a place inside the value goes in the message, as the start
    of a JSON Pointer (RFC 6901)."""
    path, message = problem
    value_path, inside = path[:3], path[3:]
    if inside and value_path[0] == "records" and value_path[2] == "value":
        pointer = "".join(f"/{str(part).replace('~', '~0').replace('/', '~1')}" for part in inside[:10])
        message += f" (at {pointer}{'/...' if len(inside) > 10 else ''})"
        path = value_path
    return FieldError(field=_field_name(path), message=message)


def _unstorable(outgoing: list[OutgoingRecord], values: bytes) -> list[FieldError]:
    """What parses but cannot be stored as sent: a NUL in a header name (librdkafka cuts the name there)
    and a number that overflowed to infinity (written as `Infinity`, which is not JSON). `values`: every
    value joined, searched once (for a capital I first: memchr finds a byte many times faster than a word);
    only the records that may hold either are looked at one by one."""
    errors = []
    if "\x00" in "".join([name for _, _, headers in outgoing for name, _ in headers]):
        errors += [
            FieldError(
                field=f"records[{index}].headers",
                message=f"header name {position} holds NUL (\\u0000), where Kafka clients cut header names",
            )
            for index, (_, _, headers) in enumerate(outgoing)
            for position, (name, _) in enumerate(headers)
            if "\x00" in name
        ]
    if b"I" in values and b"Infinity" in values:
        errors += [
            FieldError(field=f"records[{index}].value", message=NON_FINITE_MESSAGE)
            for index, (_, value, _) in enumerate(outgoing)
            if value is not None and b"Infinity" in value and not _strict_json(value)
        ]
    return errors


def _strict_json(value: bytes) -> bool:
    try:
        from_json(value, allow_inf_nan=False)
    except ValueError:
        return False
    return True


def _too_large(outgoing: list[OutgoingRecord], payload_bytes: int) -> list[FieldError]:
    """Records over MAX_RECORD_BYTES; `payload_bytes`: every key and value together."""
    headers_bytes = sum([len(name) + len(text) for _, _, headers in outgoing for name, text in headers])
    if payload_bytes + headers_bytes <= MAX_RECORD_BYTES:
        return []  # no record is over the limit when all of them together are not
    return [
        FieldError(
            field=f"records[{index}]", message=f"{size} bytes serialized; the limit is {MAX_RECORD_BYTES}"
        )
        for index, (key, value, headers) in enumerate(outgoing)
        if (size := len(key or b"") + len(value or b"") + sum(len(n) + len(t) for n, t in headers))
        > MAX_RECORD_BYTES
    ]


@resolver.post(
    "/topics/<topic>/records",
    summary="Produce records to a topic",
    responses={
        200: {
            "description": "Every record was written",
            "content": {"application/json": {"model": ProduceResponse}},
        },
        207: {
            "description": "Some records failed",
            "content": {"application/json": {"model": ProduceResponse}},
        },
        400: {
            "description": "Invalid body: nothing was produced; `errors` name each field "
            "(`records[3].value`). Besides the model: strict JSON (RFC 8259: no NaN or Infinity, no number "
            "beyond a double's range), strings and names that are Unicode text (no unpaired surrogate "
            f"escapes), values nested at most {MAX_VALUE_LEVELS} levels, header names without NUL",
            "content": {"application/json": {"model": ErrorResponse}},
        },
        403: {"description": "Topic not allowed", "content": {"application/json": {"model": ErrorResponse}}},
        413: {
            "description": f"A record over {MAX_RECORD_BYTES} bytes serialized, "
            f"or a body over {MAX_BODY_BYTES} bytes",
            "content": {"application/json": {"model": ErrorResponse}},
        },
        503: {
            "description": "The brokers took no record and every error is retriable: "
            "retry after `Retry-After`",
            "content": {"application/json": {"model": ErrorResponse}},
        },
    },
)
def produce_records(
    topic: Annotated[str, Path(pattern=r"^[a-zA-Z0-9._-]{1,249}$")],
    request: RequestBody,
) -> Response[str]:
    """Validate the whole batch, produce it, and answer for every record."""
    settings: ProducerSettings = resolver.context["settings"]
    if not settings.topic_allowed(topic):
        return _error(HTTPStatus.FORBIDDEN, f"topic {topic!r} is not open to producers")
    if len(resolver.current_event.body or "") > MAX_BODY_BYTES:
        return _error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"the body is over {MAX_BODY_BYTES} bytes")
    outgoing = request.records
    values = b"".join([value for _, value, _ in outgoing if value is not None])
    if unstorable := _unstorable(outgoing, values):
        return _error(HTTPStatus.BAD_REQUEST, INVALID_BODY, unstorable)
    payload_bytes = len(values) + sum([len(key) for key, _, _ in outgoing if key is not None])
    if too_large := _too_large(outgoing, payload_bytes):
        return _error(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            "records over the size limit: nothing was produced",
            too_large,
        )

    started = time.monotonic()
    outcomes = record_producer.produce(
        record_producer.producer(settings), topic, outgoing, settings.produce_timeout_ms / 1000
    )
    failed = [outcome for outcome in outcomes if isinstance(outcome, Failed)]
    metrics.add_metric(name="RecordsProduced", unit=MetricUnit.Count, value=len(outcomes) - len(failed))
    metrics.add_metric(name="RecordsFailed", unit=MetricUnit.Count, value=len(failed))
    metrics.add_metric(name="BytesProduced", unit=MetricUnit.Bytes, value=payload_bytes)
    metrics.add_metric(
        name="ProduceLatency", unit=MetricUnit.Milliseconds, value=(time.monotonic() - started) * 1000
    )

    if failed and len(failed) == len(outcomes) and all(f.retriable for f in failed):
        logger.warning("brokers unavailable", extra={"topic": topic, "error": failed[0].error_code})
        return _error(
            HTTPStatus.SERVICE_UNAVAILABLE,
            f"the brokers are unavailable ({failed[0].error_code})",
            headers={"Retry-After": str(settings.retry_after_seconds)},
        )
    answer: ProduceResponse = {
        "failedRecordCount": len(failed),
        "records": [
            {"partition": o.partition, "offset": o.offset}
            if isinstance(o, Delivered)
            else {"errorCode": o.error_code, "errorMessage": o.error_message, "retriable": o.retriable}
            for o in outcomes
        ],
    }
    status = HTTPStatus.MULTI_STATUS if failed else HTTPStatus.OK
    return Response(
        status_code=status, content_type=content_types.APPLICATION_JSON, body=to_json(answer).decode()
    )
