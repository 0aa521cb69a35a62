"""The dashboard picture: widgets laid out as CloudWatch lays out widgets without x and y, drawn as text."""

from __future__ import annotations

import json
from typing import Any

import pytest

from local.dashboard_picture import LayoutError, grid_lines, picture, rows, widgets


def _body(*widget_list: dict[str, Any]) -> str:
    return json.dumps({"widgets": list(widget_list)})


def _metric(title: str, width: int = 8) -> dict[str, Any]:
    return {"type": "metric", "width": width, "height": 6, "properties": {"title": title, "metrics": []}}


def _header(markdown: str) -> dict[str, Any]:
    return {"type": "text", "width": 24, "height": 1, "properties": {"markdown": markdown}}


HEALTH = {"type": "alarm", "width": 24, "height": 2, "properties": {"title": "Health", "alarms": []}}


def test_widgets_flow_left_to_right_and_wrap_when_one_does_not_fit() -> None:
    body = _body(HEALTH, _metric("a"), _metric("b"), _metric("c", 12), _metric("d", 4), _metric("e"))

    lines = grid_lines(widgets(body))

    assert [[(column, w.label) for column, w in line] for line in lines] == [
        [(0, "[alarm] Health")],
        [(0, "a"), (8, "b")],  # c (12 wide) does not fit after 16 columns
        [(0, "c"), (12, "d"), (16, "e")],  # 12 + 4 + 8 = 24 fits
    ]


def test_the_picture_draws_each_line_of_boxes_with_shared_borders() -> None:
    body = _body(_header("## Consumer: function f"), _metric("Errors"), _metric("Duration (ms)"))

    assert picture(body).splitlines() == [
        "+-----------------------------------------------------------------------------------------------+",
        "| Consumer: function f                                                                          |",
        "+-------------------------------+-------------------------------+-------------------------------+",
        "| Errors                        | Duration (ms)                 |",
        "+-------------------------------+-------------------------------+",
    ]


def test_a_title_wider_than_its_box_wraps() -> None:
    drawn = picture(_body(_metric("Lag: records (left), seconds (right), and more words", 4)))

    assert drawn.splitlines()[1:-1] == [
        "| Lag: records  |",
        "| (left),       |",
        "| seconds       |",
        "| (right), and  |",
        "| more words    |",
    ]


def test_rows_start_at_full_width_text_widgets() -> None:
    body = _body(
        HEALTH,
        _header("## REST API api, stage v1: producer p\nmore text"),
        _metric("Requests"),
        _header("## Consumer: function f"),
        _metric("Errors"),
        _metric("Duration"),
        {"type": "text", "width": 8, "height": 2, "properties": {"markdown": "a note, not a row"}},
    )

    assert [(row.title, [w.label for w in row.widgets]) for row in rows(body)] == [
        ("REST API api, stage v1", ["Requests"]),
        ("Consumer", ["Errors", "Duration", "a note, not a row"]),
    ]


@pytest.mark.parametrize(
    ("widget", "message"),
    [
        ({"type": "metric", "x": 0, "y": 0, "width": 8, "properties": {}}, "has a position"),
        ({"type": "metric", "width": 25, "properties": {}}, "25 columns wide"),
        ({"type": "metric", "width": 0, "properties": {}}, "0 columns wide"),
    ],
)
def test_a_body_it_cannot_lay_out_is_refused(widget: dict[str, Any], message: str) -> None:
    with pytest.raises(LayoutError, match=message):
        picture(_body(widget))


def test_width_and_height_default_to_six() -> None:
    (widget,) = widgets(_body({"type": "metric", "properties": {"title": "t"}}))

    assert (widget.width, widget.height) == (6, 6)
