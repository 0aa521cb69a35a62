"""Bad input from the fuzzing report (../shared/reference/api-fuzzing.md, D1 to D5) gets a 400 naming the
field and nothing is produced; whatever is accepted reaches Kafka as the JSON that was sent (a property
test over generated bodies with nasty strings, numbers and nesting)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic_core import from_json

from scripts.make_sample_events import api_event
from tests.conftest import FakeLambdaContext
from tests.functional.producer.conftest import ScriptedProducer, use_producer

MAX_LEVELS = 64  # the documented limit (docs/options/cluster-with-rest-api.md)


def _post(handler: Any, body: str) -> tuple[int, dict[str, Any]]:
    response = handler.lambda_handler(api_event(body), FakeLambdaContext())
    return response["statusCode"], json.loads(response["body"])


def _one_value(value: str) -> str:
    return '{"records":[{"value":' + value + "}]}"


def _nested(levels: int, leaf: str = "1") -> str:
    """A value of `levels` levels: arrays around `leaf` (a scalar is one level, `[]` too)."""
    return "[" * (levels - 1) + leaf + "]" * (levels - 1)


REPRODUCTIONS = {
    # D1: a lone surrogate in a header name crashed the process inside librdkafka
    "D1 header name": ('{"records":[{"value":1,"headers":{"\\ud800":"x"}}]}', ["records[0].headers"]),
    # D2: lone surrogates in a key, a header value or a string value raised
    "D2 key": ('{"records":[{"key":"\\ud800","value":1}]}', ["records[0].key"]),
    "D2 header value": ('{"records":[{"value":1,"headers":{"h":"\\udfff"}}]}', ["records[0].headers.h"]),
    "D2 string value": ('{"records":[{"value":"\\ud800"}]}', ["records[0].value"]),
    "D2 member name": ('{"records":[{"value":{"a":{"\\udc00x":1}}}]}', ["records[0].value"]),
    # D3: 256 levels raised in to_json, about 10,000 in Powertools' json.loads (RecursionError)
    "D3 256": (_one_value(_nested(256)), ["records[0].value"]),
    "D3 900": (_one_value(_nested(901, "")), ["records[0].value"]),
    # deeper than Python's json reads (about 10,000 levels), the place is the body as a whole
    "D3 10000": (_one_value(_nested(10_000)), ["body"]),
    "D3 1000000": (_one_value(_nested(1_000_000)), ["body"]),
    "D3 objects": (_one_value('{"a":' * 65 + "1" + "}" * 65), ["records[0].value"]),
    # D4: non-JSON numbers were written to Kafka as `NaN` / `Infinity`
    "D4 NaN": ('{"records":[{"value":NaN}]}', ["records[0].value"]),
    "D4 Infinity": ('{"records":[{"value":[Infinity]}]}', ["records[0].value"]),
    "D4 -Infinity": ('{"records":[{"value":{"t":-Infinity}}]}', ["records[0].value"]),
    "D4 1e999": ('{"records":[{"value":{"t":1e999}}]}', ["records[0].value"]),
    "D4 overflow": ('{"records":[{"value":1.7976931348623159e308}]}', ["records[0].value"]),
    "D4 long": ('{"records":[{"value":-1%s.5}]}' % ("0" * 400), ["records[0].value"]),
    # D5: a NUL in a header name was cut off by librdkafka
    "D5 NUL": (
        '{"records":[{"value":"\\u0000","key":"\\u0000","headers":{"a\\u0000":"\\u0000"}}]}',
        ["records[0].headers"],
    ),
    # each record and field is named, in body order
    "several": (
        '{"records":[{"value":1},{"value":NaN,"key":"\\ud800"},{"value":2,"headers":{"\\udbff":"\\udbff"}}]}',
        ["records[1].value", "records[1].key", "records[2].headers"],
    ),
    "several after parsing": (
        '{"records":[{"value":1e400},{"value":2},{"value":3,"headers":{"ok":"1","x\\u0000":"2"}}]}',
        ["records[2].headers", "records[0].value"],
    ),
}


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
        (_nested(MAX_LEVELS), True),
        (_nested(MAX_LEVELS + 1), False),
        (_nested(MAX_LEVELS, "[]"), True),  # the empty array is level 64
        (_nested(MAX_LEVELS + 1, "[]"), False),
        ('{"a":' * (MAX_LEVELS - 1) + "{}" + "}" * (MAX_LEVELS - 1), True),
        ('{"a":' * MAX_LEVELS + "{}" + "}" * MAX_LEVELS, False),
        (_nested(198), False),  # what the parser alone would take inside a body
    ],
)
def test_a_value_may_nest_64_levels(
    handler: Any, monkeypatch: pytest.MonkeyPatch, value: str, accepted: bool
) -> None:
    fake = use_producer(monkeypatch, ScriptedProducer(lambda index: None))
    status, answer = _post(handler, _one_value(value))
    assert (status == 200) == accepted, answer
    if accepted:
        assert fake.produced[0]["value"] == value.encode()
    else:
        assert [error["field"] for error in answer["errors"]] == ["records[0].value"]


def test_the_parser_limit_the_depth_check_relies_on() -> None:
    # request_json pads the body so that pydantic-core's nesting limit falls at 64 levels of a value: a
    # new pydantic-core with another limit fails here (and in the test above) instead of silently moving it.
    from request_json import PARSER_CONTAINER_LIMIT

    from_json(_nested(PARSER_CONTAINER_LIMIT + 1))
    with pytest.raises(ValueError, match="recursion limit exceeded"):
        from_json(_nested(PARSER_CONTAINER_LIMIT + 2))


def test_text_that_is_not_one_json_value_is_refused_as_a_whole(
    handler: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = use_producer(monkeypatch, ScriptedProducer(lambda index: None))
    for body in ("1],[2", '{"records":[{"value":1}]}]', '{"records":[{"value":1}]} {}', "NaN"):
        status, answer = _post(handler, body)
        assert status == 400
        assert [error["field"] for error in answer["errors"]] == ["body"], body
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


# ---------------------------------------------------------------- property: 400 naming a field, or as sent

NUMBER_TEXTS = [
    "NaN", "Infinity", "-Infinity", "1e999", "-1E400", "1.7976931348623159e308", "1" + "0" * 320 + ".5",
    "1.7976931348623157e308", "1e-999", "5e-324", "-0", "-0.0", "1E2", "0.1", "12345678901234567890123456",
]  # fmt: skip
# Any code point, lone surrogates included; NUL and the other control characters too.
ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=6)


def _string(text: str, ascii_only: bool) -> str:
    """A JSON string literal for `text`; lone surrogates can only travel as escapes."""
    return json.dumps(text, ensure_ascii=ascii_only or not _is_text(text))


def _is_text(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@st.composite
def json_texts(draw: st.DrawFn) -> str:
    """JSON text for one value: finite and nasty numbers, any strings, nesting up to far past the limit."""
    ascii_only = draw(st.booleans())
    leaf = st.one_of(
        st.sampled_from(["null", "true", "false"]),
        st.integers(-(2**70), 2**70).map(str),
        st.floats(allow_nan=False, allow_infinity=False).map(repr),
        st.sampled_from(NUMBER_TEXTS),
        ANY_TEXT.map(lambda text: _string(text, ascii_only)),
    )
    tree = st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3).map(lambda items: "[" + ",".join(items) + "]"),
            st.dictionaries(ANY_TEXT, inner, max_size=3).map(
                lambda members: (
                    "{"
                    + ",".join(f"{_string(name, ascii_only)}:{item}" for name, item in members.items())
                    + "}"
                )
            ),
        ),
        max_leaves=8,
    )
    wrap = draw(st.one_of(st.just(0), st.integers(55, 70), st.integers(190, 260), st.just(5000)))
    return "[" * wrap + draw(tree) + "]" * wrap


class NotStrictJsonError(ValueError):
    """NaN or Infinity in what should be RFC 8259 JSON."""


def _strict_loads(text: str | bytes) -> Any:
    def refuse(constant: str) -> Any:
        raise NotStrictJsonError(constant)

    return json.loads(text, parse_constant=refuse)


def _reference(value_text: str) -> tuple[bool, Any]:
    """(acceptable, data) by Python's json: finite numbers, Unicode strings, at most 64 levels."""
    try:
        data = _strict_loads(value_text)
    except NotStrictJsonError:
        return False, None
    pending = [(data, 1)]
    while pending:
        item, level = pending.pop()
        if level > MAX_LEVELS:
            return False, None
        if isinstance(item, float) and item in (float("inf"), float("-inf")):
            return False, None
        if isinstance(item, str) and not _is_text(item):
            return False, None
        if isinstance(item, dict):
            if not all(_is_text(name) for name in item):
                return False, None
            pending += [(member, level + 1) for member in item.values()]
        if isinstance(item, list):
            pending += [(element, level + 1) for element in item]
    return True, data


def _same(left: Any, right: Any) -> bool:
    """Equal, with int, float and bool told apart at every level."""
    if type(left) is not type(right):
        return False
    if isinstance(left, dict):
        return list(left) == list(right) and all(_same(left[name], right[name]) for name in left)
    if isinstance(left, list):
        return len(left) == len(right) and all(map(_same, left, right))
    return bool(left == right)


records_strategy = st.lists(
    st.fixed_dictionaries(
        {"value": json_texts()},
        optional={
            "key": st.one_of(st.none(), ANY_TEXT),
            "headers": st.dictionaries(ANY_TEXT, ANY_TEXT, max_size=3),
        },
    ),
    min_size=1,
    max_size=4,
)


def _body(records: list[dict[str, Any]]) -> str:
    texts = []
    for record in records:
        parts = [f'"value":{record["value"]}']
        if "key" in record:
            parts.append('"key":' + ("null" if record["key"] is None else _string(record["key"], False)))
        if "headers" in record:
            members = (f"{_string(n, False)}:{_string(v, False)}" for n, v in record["headers"].items())
            parts.append('"headers":{' + ",".join(members) + "}")
        texts.append("{" + ",".join(parts) + "}")
    return '{"records":[' + ",".join(texts) + "]}"


def _faults(index: int, record: dict[str, Any]) -> set[str]:
    """The fields of a record that must be refused (any of them may be the one named)."""
    faults = set()
    if record.get("key") is not None and not _is_text(record["key"]):
        faults.add(f"records[{index}].key")
    for name, text in record.get("headers", {}).items():
        if not _is_text(name) or "\x00" in name:
            faults.add(f"records[{index}].headers")
        elif not _is_text(text):
            faults.add(f"records[{index}].headers.{name}")
    if not _reference(record["value"])[0]:
        faults.add(f"records[{index}].value")
    return faults


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=records_strategy)
def test_a_body_is_refused_naming_a_bad_field_or_produced_exactly(
    handler: Any, monkeypatch: pytest.MonkeyPatch, records: list[dict[str, Any]]
) -> None:
    fake = use_producer(monkeypatch, ScriptedProducer(lambda index: None))
    faults = set().union(*(_faults(index, record) for index, record in enumerate(records)))
    status, answer = _post(handler, _body(records))
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
        key = record.get("key")
        assert produced["key"] == (None if key is None else key.encode("utf-8"))
        assert produced["headers"] == [(n, v.encode("utf-8")) for n, v in record.get("headers", {}).items()]
        _, data = _reference(record["value"])
        if data is None:
            assert produced["value"] is None  # JSON null is a tombstone
        else:
            assert _same(_strict_loads(produced["value"].decode("utf-8")), data)
