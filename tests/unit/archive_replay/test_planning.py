"""Which archive prefixes a request lists: arrival hours from one hour before `from` to the margin after
`to`, whole days as one prefix; oversize/ per topic or partition."""

from __future__ import annotations

from planning import arrival_prefixes, oversize_prefixes
from replay_request import parse_request


def _prefixes(start: str, end: str, **fields: object) -> list[str]:
    return arrival_prefixes(parse_request({"runId": "r", "from": start, "to": end} | fields, "orders"))


def _hour(day: int, hour: int) -> str:
    return f"data/year=2026/month=11/day={day:02d}/hour={hour:02d}/"


def test_an_hour_before_from_to_the_margin_after_to() -> None:
    prefixes = _prefixes("2026-11-25T10:30:00Z", "2026-11-25T11:30:00Z")
    assert prefixes == [_hour(25, h) for h in range(9, 24)] + [_hour(26, h) for h in range(12)]


def test_to_is_exclusive() -> None:
    prefixes = _prefixes("2026-11-25T10:00:00Z", "2026-11-25T12:00:00Z", arrivalMarginHours=0)
    assert prefixes == [_hour(25, 9), _hour(25, 10), _hour(25, 11)]


def test_whole_days_are_one_prefix_and_months_roll_over() -> None:
    prefixes = _prefixes("2026-11-28T23:10:00Z", "2026-11-29T00:10:00Z", arrivalMarginHours=72)
    assert prefixes == [
        _hour(28, 22),
        _hour(28, 23),
        "data/year=2026/month=11/day=29/",
        "data/year=2026/month=11/day=30/",
        "data/year=2026/month=12/day=01/",
        "data/year=2026/month=12/day=02/hour=00/",
    ]


def test_oversize_prefixes_follow_the_topic_and_partitions() -> None:
    request = {"runId": "r", "from": 0, "to": 1}
    assert oversize_prefixes(parse_request(request, "orders")) == ["oversize/orders/"]
    assert oversize_prefixes(parse_request(request | {"partitions": [3, 1]}, "orders")) == [
        "oversize/orders/1/",
        "oversize/orders/3/",
    ]
