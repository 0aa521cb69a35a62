"""The inputs an independent fuzzing report found defects with (listed in docs/local.md), so that every run
exercises them: request-body examples added to the OpenAPI document schemathesis runs, and raw bodies sent as
they are: those a JSON encoder refuses to write (NaN, Infinity, numbers that overflow; schemathesis's refuses
too), and those too deep or too large for schemathesis to take as examples (it copies them recursively)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

# D3: pydantic's to_json refused 256 levels; Python's json parser raised RecursionError near 10,000.
DEEP = 256
VERY_DEEP = 10_000
MIB = 1024 * 1024


def _body_nested(depth: int) -> bytes:
    """A request whose one value is `depth` arrays, one inside the other."""
    return b'{"records":[{"value":' + b"[" * depth + b"]" * depth + b"}]}"


def body_examples() -> dict[str, Any]:
    """Request bodies (as JSON data) the examples phase sends, by name (the report's finding)."""
    return {
        "D1-lone-surrogate-header-name": {"records": [{"value": 1, "headers": {"\ud800": "x"}}]},
        "D2-lone-surrogate-key": {"records": [{"key": "\ud800", "value": 1}]},
        "D2-lone-surrogate-header-value": {"records": [{"value": 1, "headers": {"h": "\udfff"}}]},
        "D2-lone-surrogate-string-value": {"records": [{"value": "\ud800"}]},
        "D2-lone-surrogate-nested-string": {"records": [{"value": {"a": ["ok", "\udbff"]}}]},
        "D5-nul-in-header-name": {
            "records": [{"value": "\u0000", "key": "\u0000", "headers": {"a\u0000": "\u0000"}}]
        },
        "empty-header-name-and-key": {"records": [{"key": "", "value": 1, "headers": {"": "x"}}]},
    }


@dataclass(frozen=True)
class RawProbe:
    """A body sent as these exact bytes, and the statuses the API documents for it."""

    name: str
    body: bytes
    expected: tuple[int, ...]


def raw_probes() -> list[RawProbe]:
    """Bodies that an encoder would not write (numbers that overflow, depth past any recursion limit,
    repeated members) or that are too large for an example."""
    return [
        RawProbe("D4-1e999-overflows-to-infinity", b'{"records":[{"value":{"t":1e999}}]}', (400,)),
        RawProbe("D4-NaN-literal", b'{"records":[{"value":NaN}]}', (400,)),
        RawProbe("D4-Infinity-literal", b'{"records":[{"value":Infinity}]}', (400,)),
        RawProbe("D4-minus-Infinity-nested", b'{"records":[{"value":{"t":-Infinity}}]}', (400,)),
        RawProbe("D3-nested-255", _body_nested(DEEP - 1), (200, 400)),
        RawProbe("D3-nested-256", _body_nested(DEEP), (400,)),
        RawProbe(
            "D3-nested-10000",
            _body_nested(VERY_DEEP),
            (400, 413),
        ),
        RawProbe("D2-escaped-lone-surrogate-key", b'{"records":[{"key":"\\ud800","value":1}]}', (400,)),
        RawProbe("repeated-member-names", b'{"records":[{"value":1}],"records":[{"value":2}]}', (200, 400)),
        RawProbe("empty-body", b"", (400,)),
        RawProbe("null-body", b"null", (400,)),
        RawProbe(
            "record-over-1-MiB",
            json.dumps({"records": [{"value": "x" * (MIB + 1)}]}).encode(),
            (413,),
        ),
        RawProbe(
            "body-over-6-MB",
            json.dumps({"records": [{"value": "y" * (900 * 1024)} for _ in range(7)]}).encode(),
            (413,),
        ),
    ]
