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

The route here takes a request whose body msgspec accepts (request_json.decode_body), with a JSON content
type; any other request goes to request_models' resolver, which validates it with Powertools and pydantic
as the contract words it, and whose route docs/openapi.json is generated from. pydantic and Powertools'
validation are then imported only when a request is refused, not at every cold start.
"""

from __future__ import annotations

import re
import time
from http import HTTPStatus
from typing import Any, TypedDict

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from pydantic_core import from_json, to_json

import record_producer
from record_producer import Delivered, Failed, OutgoingRecord, ProducerSettings
from request_json import NON_FINITE_MESSAGE, InvalidBodyError, RecordBatch, decode_body
from streaming_common.observability import logger, metrics

MAX_RECORD_BYTES = 1024 * 1024
MAX_BODY_BYTES = 6 * 1024 * 1024
RECORDS_ROUTE = "/topics/<topic>/records"
_TOPIC_NAME = r"[a-zA-Z0-9._-]{1,249}"
TOPIC_PATTERN = f"^{_TOPIC_NAME}$"
_TOPIC = re.compile(_TOPIC_NAME)
# pydantic's words for a path parameter that does not match its pattern (request_models' route)
TOPIC_MISMATCH = f"String should match pattern '{TOPIC_PATTERN}'"
INVALID_BODY = "invalid request body: nothing was produced"


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


class FieldErrorEntry(TypedDict):
    """One entry of a refusal's `errors`, as request_models.FieldError documents it."""

    field: str
    message: str


class _Resolver(APIGatewayRestResolver):
    """Powertools' REST resolver without validation; its OpenAPI document is request_models' resolver's."""

    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> Any:
        """The OpenAPI document of request_models' route, which declares the request and error models."""
        from request_models import resolver as validating  # noqa: PLC0415 - pydantic: only for the document

        return validating.get_openapi_schema(*args, **kwargs)


resolver = _Resolver()


def handle(event: dict[str, Any], context: Any, settings: ProducerSettings) -> dict[str, Any]:
    """Answer one API Gateway request with the routes below, under `settings`; a request they do not take,
    with request_models' resolver."""
    batch = _accepted_batch(event)
    if batch is None:
        from request_models import resolver as validating  # noqa: PLC0415 - pydantic: only when refusing

        validating.append_context(settings=settings)  # type: ignore[no-untyped-call]
        return validating.resolve(event, context)
    # Powertools clears the context once the request is answered.
    resolver.append_context(settings=settings, batch=batch)  # type: ignore[no-untyped-call]
    return resolver.resolve(event, context)


def _accepted_batch(event: dict[str, Any]) -> RecordBatch | None:
    """The body's records when msgspec accepts the body and Powertools would read it as JSON (no content
    type, or application/json); else None."""
    request = APIGatewayProxyEvent(event)
    content_type = request.headers.get("content-type", "").strip()
    if content_type and not content_type.startswith(content_types.APPLICATION_JSON):
        return None
    try:
        body = request.decoded_body
        batch = decode_body(body) if body else None
    except (InvalidBodyError, ValueError):  # ValueError: base64 or UTF-8 that does not decode
        return None
    return batch if isinstance(batch, RecordBatch) else None


def error_response(
    status: HTTPStatus,
    message: str,
    errors: list[FieldErrorEntry] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[str]:
    """A refusal: request_models.ErrorResponse's JSON, written by the same serializer as the model's."""
    metrics.add_metric(name="RequestsRejected", unit=MetricUnit.Count, value=1)
    body = to_json({"message": message, "errors": errors or []}).decode()
    return Response(
        status_code=status, content_type=content_types.APPLICATION_JSON, body=body, headers=headers
    )


def field_name(location: tuple[Any, ...]) -> str:
    """A place in the request as the errors name it: `records[3].value`, `path.topic`, `body`."""
    parts = [part for part in location if part != "body"]
    name = ""
    for part in parts:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or "body"


def _unstorable(outgoing: list[OutgoingRecord], values: bytes) -> list[FieldErrorEntry]:
    """What parses but cannot be stored as sent: a NUL in a header name (librdkafka cuts the name there)
    and a number that overflowed to infinity (written as `Infinity`, which is not JSON). `values`: every
    value joined, searched once (for a capital I first: memchr finds a byte many times faster than a word);
    only the records that may hold either are looked at one by one."""
    errors = []
    if "\x00" in "".join([name for _, _, headers in outgoing for name, _ in headers]):
        errors += [
            FieldErrorEntry(
                field=f"records[{index}].headers",
                message=f"header name {position} holds NUL (\\u0000), where Kafka clients cut header names",
            )
            for index, (_, _, headers) in enumerate(outgoing)
            for position, (name, _) in enumerate(headers)
            if "\x00" in name
        ]
    if b"I" in values and b"Infinity" in values:
        errors += [
            FieldErrorEntry(field=f"records[{index}].value", message=NON_FINITE_MESSAGE)
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


def _too_large(outgoing: list[OutgoingRecord], payload_bytes: int) -> list[FieldErrorEntry]:
    """Records over MAX_RECORD_BYTES; `payload_bytes`: every key and value together."""
    headers_bytes = sum([len(name) + len(text) for _, _, headers in outgoing for name, text in headers])
    if payload_bytes + headers_bytes <= MAX_RECORD_BYTES:
        return []  # no record is over the limit when all of them together are not
    return [
        FieldErrorEntry(
            field=f"records[{index}]", message=f"{size} bytes serialized; the limit is {MAX_RECORD_BYTES}"
        )
        for index, (key, value, headers) in enumerate(outgoing)
        if (size := len(key or b"") + len(value or b"") + sum(len(n) + len(t) for n, t in headers))
        > MAX_RECORD_BYTES
    ]


@resolver.post(RECORDS_ROUTE)
def produce_records(topic: str) -> Response[str]:
    """The records handle() accepted, to the topic of the path when its name is one Kafka takes."""
    if not _TOPIC.fullmatch(topic):
        errors: list[FieldErrorEntry] = [{"field": "path.topic", "message": TOPIC_MISMATCH}]
        return error_response(HTTPStatus.BAD_REQUEST, INVALID_BODY, errors)
    batch: RecordBatch = resolver.context["batch"]
    return answer(topic, batch.records, resolver.context["settings"], resolver.current_event.body)


def answer(
    topic: str, outgoing: list[OutgoingRecord], settings: ProducerSettings, body: str | None
) -> Response[str]:
    """Check the records of a valid body (`body`: as sent), produce them, and answer for every record."""
    if not settings.topic_allowed(topic):
        return error_response(HTTPStatus.FORBIDDEN, f"topic {topic!r} is not open to producers")
    if len(body or "") > MAX_BODY_BYTES:
        return error_response(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"the body is over {MAX_BODY_BYTES} bytes")
    values = b"".join([value for _, value, _ in outgoing if value is not None])
    if unstorable := _unstorable(outgoing, values):
        return error_response(HTTPStatus.BAD_REQUEST, INVALID_BODY, unstorable)
    payload_bytes = len(values) + sum([len(key) for key, _, _ in outgoing if key is not None])
    if too_large := _too_large(outgoing, payload_bytes):
        return error_response(
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
        return error_response(
            HTTPStatus.SERVICE_UNAVAILABLE,
            f"the brokers are unavailable ({failed[0].error_code})",
            headers={"Retry-After": str(settings.retry_after_seconds)},
        )
    reply: ProduceResponse = {
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
        status_code=status, content_type=content_types.APPLICATION_JSON, body=to_json(reply).decode()
    )
