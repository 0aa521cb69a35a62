"""The producer checks a body twice over only when it is invalid: msgspec (request_json.decode_body) accepts
exactly what the request model (request_models.ProduceRequest, from which docs/openapi.json is generated)
accepts, and gives the same bytes for Kafka; whatever msgspec refuses is named by the model."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import event, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=4),
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=6,
)
VALID_RECORDS = st.fixed_dictionaries(
    {"value": JSON_VALUES},
    optional={
        "key": st.one_of(st.none(), st.text(max_size=4)),
        "headers": st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=3),
    },
)
NOT_TEXT = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False)
)
# A valid record but for one field.
ONE_FIELD_WRONG = st.one_of(
    VALID_RECORDS.map(lambda record: {name: item for name, item in record.items() if name != "value"}),
    st.fixed_dictionaries(
        {
            "value": JSON_VALUES,
            "key": st.one_of(NOT_TEXT.filter(lambda item: item is not None), st.lists(SCALARS)),
        }
    ),
    st.fixed_dictionaries(
        {
            "value": JSON_VALUES,
            "headers": st.one_of(
                st.dictionaries(st.text(max_size=3), NOT_TEXT, min_size=1, max_size=2),
                st.lists(SCALARS, max_size=2),
                NOT_TEXT,
            ),
        }
    ),
    st.fixed_dictionaries({"value": JSON_VALUES, "partition": st.integers(0, 3)}),
)
RECORDS = st.one_of(VALID_RECORDS, ONE_FIELD_WRONG)
BODIES = st.one_of(
    st.fixed_dictionaries({"records": st.lists(VALID_RECORDS, min_size=1, max_size=4)}),
    st.fixed_dictionaries(
        {"records": st.one_of(st.lists(RECORDS, max_size=4), RECORDS, st.text(max_size=3), st.none())},
        optional={"topic": st.text(max_size=3)},
    ),
    st.lists(st.fixed_dictionaries({"records": st.lists(RECORDS, min_size=1, max_size=2)}), max_size=2),
    SCALARS,
)


def _model_verdict(body: Any) -> tuple[bool, Any]:
    from request_json import outgoing_records
    from request_models import ProduceRequest

    try:
        return True, outgoing_records(ProduceRequest.model_validate(body).records)
    except ValidationError:
        return False, None


@settings(max_examples=600, deadline=None)
@given(body=BODIES)
@example(body={"records": [{"value": 1, "key": 3}]})
@example(body={"records": [{"value": 1, "key": True}]})
@example(body={"records": [{"value": 1, "headers": {"h": 1}}]})
@example(body={"records": [{"value": 1, "headers": None}]})
@example(body={"records": [{"value": None, "key": None, "headers": {}}]})
@example(body={"records": [{"key": "k"}]})
@example(body={"records": [{"value": 1}], "topic": "t"})
@example(body=[{"records": [{"value": 1}]}])
def test_msgspec_accepts_what_the_request_model_accepts_and_gives_the_same_records(body: Any) -> None:
    from request_json import InvalidBodyError, RecordBatch, decode_body

    text = json.dumps(body)
    if not isinstance(body, dict):  # the model would judge a list's first element: refused before it
        with pytest.raises(InvalidBodyError, match="must be a JSON object"):
            decode_body(text)
        return
    model_accepts, model_records = _model_verdict(json.loads(text))
    decoded = decode_body(text)
    event("accepted" if model_accepts else "refused")
    assert isinstance(decoded, RecordBatch) == model_accepts, text
    if isinstance(decoded, RecordBatch):
        assert decoded.records == model_records
    else:
        assert decoded == json.loads(text)  # left as parsed, for the model to name the problems


def test_the_record_count_limits_agree() -> None:
    from request_json import MAX_RECORDS, RecordBatch, decode_body

    for count, accepted in [(0, False), (1, True), (MAX_RECORDS, True), (MAX_RECORDS + 1, False)]:
        text = json.dumps({"records": [{"value": index} for index in range(count)]})
        assert isinstance(decode_body(text), RecordBatch) == accepted == _model_verdict(json.loads(text))[0]


def test_a_refused_body_is_answered_by_the_model_word_for_word(handler: Any) -> None:
    from scripts.make_sample_events import api_event
    from tests.conftest import FakeLambdaContext

    body = '{"records":[{"value":1,"key":3},{"key":"k"},{"value":1,"headers":{"h":2}},{"value":1,"x":0}]}'
    response = handler.lambda_handler(api_event(body), FakeLambdaContext())
    assert response["statusCode"] == 400
    assert json.loads(response["body"])["errors"] == [
        {"field": "records[0].key", "message": "Input should be a valid string"},
        {"field": "records[1].value", "message": "Field required"},
        {"field": "records[2].headers.h", "message": "Input should be a valid string"},
        {"field": "records[3].x", "message": "Extra inputs are not permitted"},
    ]
