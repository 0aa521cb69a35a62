"""A CloudWatch dashboard body drawn as text: its widgets placed on the 24-column grid as CloudWatch places
widgets that have no x and y (left to right, the next line when a widget does not fit), each box holding
the widget's title (a text widget: its first line). Heights are not to scale.

The rows are the dashboard's sections: each starts with a full-width text widget, whose first line (up to a
colon) names it.
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass
from typing import Any

GRID_COLUMNS = 24  # CloudWatch's dashboard grid
CHARACTERS_PER_COLUMN = 4


@dataclass(frozen=True)
class Widget:
    """One widget of a dashboard body, as the picture shows it."""

    kind: str  # metric, text, alarm, log, ...
    width: int
    height: int
    label: str

    @property
    def starts_a_row(self) -> bool:
        """A full-width text widget: the header of a row."""
        return self.kind == "text" and self.width == GRID_COLUMNS


@dataclass(frozen=True)
class Row:
    """A section of the dashboard: a full-width text header and the widgets after it."""

    title: str
    widgets: tuple[Widget, ...]


class LayoutError(ValueError):
    """The body is not laid out the way this picture can draw it."""


def _label(widget: dict[str, Any]) -> str:
    properties = widget.get("properties", {})
    kind = str(widget["type"])
    if kind == "text":
        first = next((line for line in str(properties.get("markdown", "")).splitlines() if line.strip()), "")
        return first.lstrip("#").strip()
    title = str(properties.get("title", ""))
    return title if kind == "metric" else f"[{kind}] {title}".strip()


def widgets(body: str) -> list[Widget]:
    """The widgets of a DashboardBody (a JSON text), in order; width and height default to CloudWatch's 6."""
    found = []
    for index, widget in enumerate(json.loads(body)["widgets"]):
        if "x" in widget or "y" in widget:
            raise LayoutError(f"widget {index} has a position: the picture lays out widgets without x and y")
        width, height = int(widget.get("width", 6)), int(widget.get("height", 6))
        if not 1 <= width <= GRID_COLUMNS:
            raise LayoutError(f"widget {index} is {width} columns wide, outside 1..{GRID_COLUMNS}")
        found.append(Widget(str(widget["type"]), width, height, _label(widget)))
    return found


def grid_lines(placed: list[Widget]) -> list[list[tuple[int, Widget]]]:
    """The widgets line by line with their columns: left to right, a new line when one does not fit."""
    lines: list[list[tuple[int, Widget]]] = []
    column = GRID_COLUMNS
    for widget in placed:
        if column + widget.width > GRID_COLUMNS:
            lines.append([])
            column = 0
        lines[-1].append((column, widget))
        column += widget.width
    return lines


def rows(body: str) -> list[Row]:
    """The dashboard's rows: each full-width text widget and the widgets up to the next one. Widgets before
    the first such header are not in a row."""
    found: list[Row] = []
    for widget in widgets(body):
        if widget.starts_a_row:
            found.append(Row(widget.label.split(":", 1)[0].strip(), ()))
        elif found:
            found[-1] = Row(found[-1].title, (*found[-1].widgets, widget))
    return found


def _edges(line: list[tuple[int, Widget]]) -> set[int]:
    return {edge for column, widget in line for edge in (column, column + widget.width)}


def _covered(line: list[tuple[int, Widget]]) -> set[int]:
    return {c for column, widget in line for c in range(column, column + widget.width)}


def _border(above: list[tuple[int, Widget]], below: list[tuple[int, Widget]]) -> str:
    edges, covered = _edges(above) | _edges(below), _covered(above) | _covered(below)
    characters = []
    for position in range(GRID_COLUMNS * CHARACTERS_PER_COLUMN + 1):
        column, offset = divmod(position, CHARACTERS_PER_COLUMN)
        if offset == 0 and column in edges:
            characters.append("+")
        elif column in covered and column < GRID_COLUMNS:
            characters.append("-")
        else:
            characters.append(" ")
    return "".join(characters).rstrip()


def _boxes(line: list[tuple[int, Widget]]) -> list[str]:
    wrapped = {
        column: textwrap.wrap(widget.label, widget.width * CHARACTERS_PER_COLUMN - 3, break_on_hyphens=False)
        or [""]
        for column, widget in line
    }
    height = max(len(text) for text in wrapped.values())
    drawn = []
    for index in range(height):
        characters = [" "] * (GRID_COLUMNS * CHARACTERS_PER_COLUMN + 1)
        for column, widget in line:
            start, inside = column * CHARACTERS_PER_COLUMN, widget.width * CHARACTERS_PER_COLUMN - 1
            text = wrapped[column][index] if index < len(wrapped[column]) else ""
            characters[start] = "|"
            characters[start + 1 : start + 1 + inside] = f" {text}".ljust(inside)
            characters[start + 1 + inside] = "|"
        drawn.append("".join(characters).rstrip())
    return drawn


def picture(body: str) -> str:
    """The dashboard's layout as text: boxes on the 24-column grid, each with its widget's title."""
    lines = grid_lines(widgets(body))
    drawn: list[str] = []
    above: list[tuple[int, Widget]] = []
    for line in lines:
        drawn.append(_border(above, line))
        drawn += _boxes(line)
        above = line
    drawn.append(_border(above, []))
    return "\n".join(drawn)
