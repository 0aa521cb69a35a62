"""Bad input from an independent fuzzing of the API (items D1 to D5; docs/local.md lists what it found)
gets a 400 naming the field and nothing is produced; whatever is accepted reaches Kafka as the JSON that was
sent (a property test over generated bodies with nasty strings, numbers and nesting)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from pydantic_core import from_json

from scripts.make_sample_events import api_event
from tests.conftest import FakeLambdaContext
from tests.functional.producer.conftest import ScriptedProducer, use_producer
from tests.functional.producer.request_bodies import (
    MAX_LEVELS,
    REPRODUCTIONS,
    assert_stored_as_sent,
    body_text,
    faulty_fields,
    nested,
    one_value,
    request_records,
)


def _post(handler: Any, body: str) -> tuple[int, dict[str, Any]]:
    response = handler.lambda_handler(api_event(body), FakeLambdaContext())
    return response["statusCode"], json.loads(response["body"])


@pytest.mark.parametrize("name", REPRODUCTIONS)
def test_each_reproduction_gives_400_naming_the_field_and_produces_nothing(
    handler: Any, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    body, fields = REPRODUCTIONS[name]
    fake = use_producer(monkeypatch, ScriptedProducer(lambda index: None))
    status, answer = _post(handler, body)
    assert status == 400, answer
    assert answer["message"] == "invalid request body: nothing was produced"
    assert [error["field"] for error in answer["errors"]] == fields
    assert all(error["message"] for error in answer["errors"])
    assert fake.produced == []


def test_messages_say_what_is_wrong_and_where_inside_the_value(
    handler: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_producer(monkeypatch, ScriptedProducer(lambda index: None))
    _, answer = _post(handler, '{"records":[{"value":{"a":[1,{"b/c":NaN}]}}]}')
    assert answer["errors"] == [
        {
            "field": "records[0].value",
            "message": "holds NaN, which is not a JSON number (RFC 8259) (at /a/1/b~1c)",
        }
    ]
    _, answer = _post(handler, REPRODUCTIONS["D3 10000"][0])
    assert answer["errors"][0]["message"].startswith(f"nests deeper than {MAX_LEVELS} levels")
    _, answer = _post(handler, REPRODUCTIONS["D1 header name"][0])
    assert "unpaired UTF-16 surrogate" in answer["errors"][0]["message"]


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        (nested(MAX_LEVELS), True),
        (nested(MAX_LEVELS + 1), False),
        (nested(MAX_LEVELS, "[]"), True),  # the empty array is level 64
        (nested(MAX_LEVELS + 1, "[]"), False),
        ('{"a":' * (MAX_LEVELS - 1) + "{}" + "}" * (MAX_LEVELS - 1), True),
        ('{"a":' * MAX_LEVELS + "{}" + "}" * MAX_LEVELS, False),
        (nested(198), False),  # what the parser alone would take inside a body
    ],
)
def test_a_value_may_nest_64_levels(
    handler: Any, monkeypatch: pytest.MonkeyPatch, value: str, accepted: bool
) -> None:
    fake = use_producer(monkeypatch, ScriptedProducer(lambda index: None))
    status, answer = _post(handler, one_value(value))
    assert (status == 200) == accepted, answer
    if accepted:
        assert fake.produced[0]["value"] == value.encode()
    else:
        assert [error["field"] for error in answer["errors"]] == ["records[0].value"]


def test_the_parser_limit_the_depth_check_relies_on() -> None:
    # request_json pads the body so that pydantic-core's nesting limit falls at 64 levels of a value: a
    # new pydantic-core with another limit fails here (and in the test above) instead of silently moving it.
    from request_json import PARSER_CONTAINER_LIMIT

    from_json(nested(PARSER_CONTAINER_LIMIT + 1))
    with pytest.raises(ValueError, match="recursion limit exceeded"):
        from_json(nested(PARSER_CONTAINER_LIMIT + 2))


def test_text_that_is_not_one_json_value_is_refused_as_a_whole(
    handler: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = use_producer(monkeypatch, ScriptedProducer(lambda index: None))
    for body in ("1],[2", '{"records":[{"value":1}]}]', '{"records":[{"value":1}]} {}', "NaN"):
        status, answer = _post(handler, body)
        assert status == 400
        assert [error["field"] for error in answer["errors"]] == ["body"], body
    assert fake.produced == []


def test_a_surrogate_in_the_text_itself_is_refused_like_an_escaped_one(
    handler: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An event's body is a JSON string, so it can hold a lone surrogate that is not an escape in the body.
    fake = use_producer(monkeypatch, ScriptedProducer(lambda index: None))
    for body, field in [
        ('{"records":[{"value":"\ud800"}]}', "records[0].value"),
        ('{"records":[{"value":1,"headers":{"\udfff":"x"}}]}', "records[0].headers"),
        ('{"records":[{"value":1}]}\ud800', "body"),
    ]:
        status, answer = _post(handler, body)
        assert status == 400, answer
        assert [error["field"] for error in answer["errors"]] == [field]
    assert fake.produced == []


def test_hard_but_valid_input_is_produced_as_sent(handler: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = use_producer(monkeypatch, ScriptedProducer(lambda index: None))
    body = (
        '{"records":[{"key":"\\u0000k\\ud83d\\ude00","value":"\\u0000\\ud83d\\ude00",'
        '"headers":{"":"\\u0000","\\ud83d\\ude00":""}},'
        '{"value":[123456789012345678901234567890,1e308,-0.0,5e-324,1E2]}]}'
    )
    status, answer = _post(handler, body)
    assert status == 200, answer
    assert fake.produced[0]["key"] == "\x00k😀".encode()
    assert fake.produced[0]["value"] == '"\\u0000😀"'.encode()
    assert fake.produced[0]["headers"] == [("", b"\x00"), ("😀", b"")]
    assert fake.produced[1]["value"] == b"[123456789012345678901234567890,1e+308,-0.0,5e-324,100.0]"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=request_records)
def test_a_body_is_refused_naming_a_bad_field_or_produced_exactly(
    handler: Any, monkeypatch: pytest.MonkeyPatch, records: list[dict[str, Any]]
) -> None:
    fake = use_producer(monkeypatch, ScriptedProducer(lambda index: None))
    faults = faulty_fields(records)
    status, answer = _post(handler, body_text(records))
    event("refused" if faults else "produced")
    if faults:
        assert status == 400, answer
        named = {error["field"] for error in answer["errors"]}
        assert named, answer
        assert named <= faults, f"named {named}, faulty {faults}"
        assert fake.produced == []
        return
    assert status == 200, answer
    assert len(fake.produced) == len(records)
    for record, produced in zip(records, fake.produced, strict=True):
        assert_stored_as_sent(record, produced["key"], produced["value"], produced["headers"])


def test_the_gateway_model_refuses_a_nul_in_a_header_name_as_the_function_does(
    handler: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Other bad input (lone surrogates, NaN, depth) is beyond a draft-4 schema: the function refuses it.
    from jsonschema import Draft4Validator

    from tests.templates.sam_offline import REPO, load_template

    model = load_template(REPO / "nested" / "ingest-api.yaml")["Resources"]["Api"]["Properties"]["Models"]
    gateway = Draft4Validator(model["ProduceRequest"])
    use_producer(monkeypatch, ScriptedProducer(lambda index: None))
    for body, accepted in [
        (REPRODUCTIONS["D5 NUL"][0], False),
        ('{"records":[{"value":1,"headers":{"a":"\\u0000"}}]}', True),
    ]:
        assert gateway.is_valid(json.loads(body)) == accepted
        assert (_post(handler, body)[0] == 200) == accepted


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ('[{"records":[{"value":1}]}]', "an array"),  # Powertools would have validated the first element
        ('"records"', "a string"),
        ("42", "a number"),
        ("null", "null"),
    ],
)
def test_a_body_that_is_not_a_json_object_gets_400_and_produces_nothing(
    handler: Any, monkeypatch: pytest.MonkeyPatch, body: str, named: str
) -> None:
    fake = use_producer(monkeypatch, ScriptedProducer(lambda index: None))
    status, answer = _post(handler, body)
    assert status == 400, answer
    assert answer["errors"] == [{"field": "body", "message": f"the body must be a JSON object, not {named}"}]
    assert fake.produced == []
