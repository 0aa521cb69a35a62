"""The request model (pydantic) and the resolver that validates with it, as Powertools does: imported only for
a request the fast path does not take (ingest_routes.handle) and for docs/openapi.json, which is generated
from this resolver's route. Importing pydantic and Powertools' validation costs about 80 ms of a cold start.

A body msgspec accepts (request_json.decode_body) passes the model too, so this resolver answers what is
refused, word for word as the contract says, and, rarely, a body only the model accepts.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from pydantic import BaseModel, ConfigDict, Field, PlainValidator

from ingest_routes import (
    INVALID_BODY,
    MAX_BODY_BYTES,
    MAX_RECORD_BYTES,
    RECORDS_ROUTE,
    TOPIC_PATTERN,
    FieldErrorEntry,
    ProduceResponse,
    answer,
    error_response,
    field_name,
)
from request_json import (
    MAX_RECORDS,
    MAX_VALUE_LEVELS,
    BodyProblem,
    InvalidBodyError,
    RecordBatch,
    decode_body,
    outgoing_records,
)


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


class FieldError(BaseModel):
    """One problem in the request, named by its place (for example `records[3].value`)."""

    field: str
    message: str


class ErrorResponse(BaseModel):
    """A request that was refused as a whole."""

    message: str
    errors: list[FieldError] = Field(default_factory=list)


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

# The body is read by request_json before the model sees it: strict JSON, bounded depth, fields named.
# Powertools hands what decode_body returns to _validated as it is (its type says dict: parsed JSON only).
resolver = APIGatewayRestResolver(
    enable_validation=True,
    json_body_deserializer=decode_body,  # type: ignore[arg-type]
)


@resolver.exception_handler(RequestValidationError)  # type: ignore[untyped-decorator]
def invalid_body(error: RequestValidationError) -> Response[str]:
    """400 naming every bad field; nothing was produced."""
    errors: list[FieldErrorEntry] = [
        {
            "field": "body" if e["type"] == "json_invalid" else field_name(tuple(e["loc"])),
            "message": str(e.get("msg", e["type"])),
        }
        for e in error.errors()
    ]
    return error_response(HTTPStatus.BAD_REQUEST, INVALID_BODY, errors)


@resolver.exception_handler(InvalidBodyError)  # type: ignore[untyped-decorator]
def unreadable_body(error: InvalidBodyError) -> Response[str]:
    """400 naming every field that is not strict JSON, not Unicode text or nested too deep."""
    return error_response(HTTPStatus.BAD_REQUEST, INVALID_BODY, [_problem_error(p) for p in error.problems])


def _problem_error(problem: BodyProblem) -> FieldErrorEntry:
    """The field is at most `records[i].value`; a place inside the value goes in the message, as the start
    of a JSON Pointer (RFC 6901)."""
    path, message = problem
    value_path, inside = path[:3], path[3:]
    if inside and value_path[0] == "records" and value_path[2] == "value":
        pointer = "".join(f"/{str(part).replace('~', '~0').replace('/', '~1')}" for part in inside[:10])
        message += f" (at {pointer}{'/...' if len(inside) > 10 else ''})"
        path = value_path
    return {"field": field_name(path), "message": message}


@resolver.post(
    RECORDS_ROUTE,
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
    topic: Annotated[str, Path(pattern=TOPIC_PATTERN)],
    request: RequestBody,
) -> Response[str]:
    """Validate the whole batch, produce it, and answer for every record."""
    return answer(topic, request.records, resolver.context["settings"], resolver.current_event.body)
