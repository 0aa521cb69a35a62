"""Request bodies for the producer's bad-input tests (functional and integration tiers): the fuzzing
report's reproductions and a hypothesis strategy for bodies with nasty
strings, numbers and nesting, with an oracle (Python's json) for what must be refused and what must arrive."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

MAX_LEVELS = 64  # the documented limit (docs/options/cluster-with-rest-api.md)


def one_value(value: str) -> str:
    return '{"records":[{"value":' + value + "}]}"


def nested(levels: int, leaf: str = "1") -> str:
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
    "D3 256": (one_value(nested(256)), ["records[0].value"]),
    "D3 900": (one_value(nested(901, "")), ["records[0].value"]),
    # deeper than Python's json reads (about 10,000 levels), the place is the body as a whole
    "D3 10000": (one_value(nested(10_000)), ["body"]),
    "D3 1000000": (one_value(nested(1_000_000)), ["body"]),
    "D3 objects": (one_value('{"a":' * 65 + "1" + "}" * 65), ["records[0].value"]),
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


NUMBER_TEXTS = [
    "NaN", "Infinity", "-Infinity", "1e999", "-1E400", "1.7976931348623159e308", "1" + "0" * 320 + ".5",
    "1.7976931348623157e308", "1e-999", "5e-324", "-0", "-0.0", "1E2", "0.1", "12345678901234567890123456",
]  # fmt: skip
# Any code point, lone surrogates included; NUL and the other control characters too.
ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=6)


def json_string(text: str, ascii_only: bool) -> str:
    """A JSON string literal for `text`; lone surrogates can only travel as escapes."""
    return json.dumps(text, ensure_ascii=ascii_only or not is_text(text))


def is_text(text: str) -> bool:
    """No surrogate code point: every character is a Unicode scalar value, so the text is valid UTF-8."""
    return not any(0xD800 <= ord(character) <= 0xDFFF for character in text)


@st.composite
def json_texts(draw: st.DrawFn) -> str:
    """JSON text for one value: finite and nasty numbers, any strings, nesting up to far past the limit."""
    ascii_only = draw(st.booleans())
    leaf = st.one_of(
        st.sampled_from(["null", "true", "false"]),
        st.integers(-(2**70), 2**70).map(str),
        st.floats(allow_nan=False, allow_infinity=False).map(repr),
        st.sampled_from(NUMBER_TEXTS),
        ANY_TEXT.map(lambda text: json_string(text, ascii_only)),
    )
    tree = st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3).map(lambda items: "[" + ",".join(items) + "]"),
            st.dictionaries(ANY_TEXT, inner, max_size=3).map(
                lambda members: (
                    "{"
                    + ",".join(f"{json_string(name, ascii_only)}:{item}" for name, item in members.items())
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


def strict_loads(text: str | bytes) -> Any:
    def refuse(constant: str) -> Any:
        raise NotStrictJsonError(constant)

    return json.loads(text, parse_constant=refuse)


def reference(value_text: str) -> tuple[bool, Any]:
    """(acceptable, data) by Python's json: finite numbers, Unicode strings, at most 64 levels."""
    try:
        data = strict_loads(value_text)
    except NotStrictJsonError:
        return False, None
    pending = [(data, 1)]
    while pending:
        item, level = pending.pop()
        if level > MAX_LEVELS:
            return False, None
        if isinstance(item, float) and item in (float("inf"), float("-inf")):
            return False, None
        if isinstance(item, str) and not is_text(item):
            return False, None
        if isinstance(item, dict):
            if not all(is_text(name) for name in item):
                return False, None
            pending += [(member, level + 1) for member in item.values()]
        if isinstance(item, list):
            pending += [(element, level + 1) for element in item]
    return True, data


def same_json(left: Any, right: Any) -> bool:
    """Equal, with int, float and bool told apart at every level."""
    if type(left) is not type(right):
        return False
    if isinstance(left, dict):
        return list(left) == list(right) and all(same_json(left[name], right[name]) for name in left)
    if isinstance(left, list):
        return len(left) == len(right) and all(map(same_json, left, right))
    return bool(left == right)


request_records = st.lists(
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


def body_text(records: list[dict[str, Any]]) -> str:
    """The JSON text of a request with `records` (values already JSON text)."""
    texts = []
    for record in records:
        parts = [f'"value":{record["value"]}']
        if "key" in record:
            parts.append('"key":' + ("null" if record["key"] is None else json_string(record["key"], False)))
        if "headers" in record:
            members = (
                f"{json_string(n, False)}:{json_string(v, False)}" for n, v in record["headers"].items()
            )
            parts.append('"headers":{' + ",".join(members) + "}")
        texts.append("{" + ",".join(parts) + "}")
    return '{"records":[' + ",".join(texts) + "]}"


def faulty_fields(records: list[dict[str, Any]]) -> set[str]:
    """The fields that must be refused (any of them may be the one an answer names)."""
    found = set()
    for index, record in enumerate(records):
        if record.get("key") is not None and not is_text(record["key"]):
            found.add(f"records[{index}].key")
        for name, text in record.get("headers", {}).items():
            if not is_text(name) or "\x00" in name:
                found.add(f"records[{index}].headers")
            elif not is_text(text):
                found.add(f"records[{index}].headers.{name}")
        if not reference(record["value"])[0]:
            found.add(f"records[{index}].value")
    return found


def assert_stored_as_sent(
    record: dict[str, Any], key: bytes | None, value: bytes | None, headers: Any
) -> None:
    """What reached Kafka for `record` is its key and headers as UTF-8 and its value as the same JSON data."""
    sent_key = record.get("key")
    assert key == (None if sent_key is None else sent_key.encode("utf-8"))
    assert list(headers or []) == [(n, v.encode("utf-8")) for n, v in record.get("headers", {}).items()]
    _, data = reference(record["value"])
    if data is None:
        assert value is None  # JSON null is a tombstone
    else:
        assert value is not None
        assert same_json(strict_loads(value.decode("utf-8")), data), value
