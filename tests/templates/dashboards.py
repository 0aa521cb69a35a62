"""A CloudWatch dashboard body read as CloudWatch reads it (PutDashboard), and the metrics its widgets name.

What CloudWatch refuses, from "Dashboard Body Structure and Syntax" (CloudWatch API Reference,
docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Dashboard-Body-Structure.html) and the
CloudWatch quotas (docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_limits.html): a body
that is not JSON; no `widgets` array, or more than 500 widgets; a metric widget without `region`, with more
than 500 metrics and expressions, or with a `period` that is not a multiple of 60; more than 2,500 metrics on
one dashboard; a widget width outside 1-24 or height outside 1-1000.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

MAX_WIDGETS = 500
MAX_METRICS_PER_WIDGET = 500
MAX_METRICS_PER_DASHBOARD = 2500
MAX_WIDTH = 24
MAX_HEIGHT = 1000
PERIOD_STEP = 60

# In a SEARCH expression: the schema "{Namespace,"Dim",...}" and the terms "Dim"="value" / Dim=value.
_SEARCH = re.compile(r"SEARCH\(\s*'((?:[^'\\]|\\.)*)'")
_SCHEMA = re.compile(r"^\s*\{([^}]*)\}")
_TERM = re.compile(r'(?:"([^"]+)"|([A-Za-z][\w.]*))\s*=\s*(?:"([^"]*)"|([^\s)]+))')


@dataclass(frozen=True)
class MetricReference:
    """One metric a widget names: its namespace (None inside a SEARCH without a schema), metric name (None
    when a SEARCH leaves it open) and the dimension values it fixes."""

    widget: str
    namespace: str | None
    metric: str | None
    dimensions: tuple[tuple[str, str], ...]


def parse_body(body: str) -> dict[str, Any]:
    """The body as JSON; ValueError naming the problem when CloudWatch would refuse it as JSON."""
    try:
        document = json.loads(body)
    except json.JSONDecodeError as error:
        start = max(error.pos - 60, 0)
        raise ValueError(
            f"is not JSON ({error.msg} at {error.pos}: ...{body[start : error.pos + 60]}...)"
        ) from error
    if not isinstance(document, dict) or not isinstance(document.get("widgets"), list):
        raise ValueError("has no widgets array")
    return document


def widget_label(index: int, widget: dict[str, Any]) -> str:
    """How a finding names a widget: its position and title (or the start of its text)."""
    properties = widget.get("properties", {}) if isinstance(widget, dict) else {}
    title = properties.get("title") or str(properties.get("markdown", ""))[:60]
    return f"widget {index} ({widget.get('type') if isinstance(widget, dict) else '?'}: {title})"


def body_problems(body: str) -> list[str]:
    """What CloudWatch would refuse in this dashboard body (empty when it accepts it)."""
    try:
        document = parse_body(body)
    except ValueError as error:
        return [f"the body {error}"]
    widgets = document["widgets"]
    problems = []
    if len(widgets) > MAX_WIDGETS:
        problems.append(f"the body has {len(widgets)} widgets; CloudWatch takes at most {MAX_WIDGETS}")
    total = 0
    for index, widget in enumerate(widgets):
        label = widget_label(index, widget)
        if not isinstance(widget, dict) or not isinstance(widget.get("properties"), dict):
            problems.append(f"{label} has no properties object")
            continue
        problems += [f"{label} {text}" for text in _size_problems(widget)]
        if widget.get("type") != "metric":
            continue
        properties = widget["properties"]
        metrics = properties.get("metrics", [])
        total += len(metrics)
        if not properties.get("region"):
            problems.append(f"{label} has no region (required for a metric widget)")
        if len(metrics) > MAX_METRICS_PER_WIDGET:
            problems.append(
                f"{label} has {len(metrics)} metrics; a widget takes at most {MAX_METRICS_PER_WIDGET}"
            )
        periods = [properties.get("period")] + [_options(m).get("period") for m in metrics]
        for period in periods:
            if period is not None and (
                not isinstance(period, int) or period < PERIOD_STEP or period % PERIOD_STEP
            ):
                problems.append(f"{label} has period {period!r}; it must be a multiple of {PERIOD_STEP}")
        if not metrics and not properties.get("annotations"):
            problems.append(f"{label} has neither metrics nor an alarm annotation")
    if total > MAX_METRICS_PER_DASHBOARD:
        problems.append(
            f"the body names {total} metrics; a dashboard takes at most {MAX_METRICS_PER_DASHBOARD}"
        )
    return problems


def _size_problems(widget: dict[str, Any]) -> list[str]:
    problems = []
    for key, limit in (("width", MAX_WIDTH), ("height", MAX_HEIGHT)):
        value = widget.get(key)
        if value is not None and (not isinstance(value, int) or not 1 <= value <= limit):
            problems.append(f"has {key} {value!r}, outside 1..{limit}")
    return problems


def _options(metric: Any) -> dict[str, Any]:
    """The rendering options of one entry of a `metrics` array (its trailing object)."""
    if isinstance(metric, list) and metric and isinstance(metric[-1], dict):
        return metric[-1]
    return {}


def metric_references(document: dict[str, Any]) -> Iterator[MetricReference]:
    """Every metric the widgets of a parsed body name: each `metrics` entry [namespace, metric, dimension,
    value, ...], and each SEARCH of an expression (its schema's namespace and its "dimension"="value"
    terms). ValueError for the shorthand "..." / "." entries, which this reader does not expand."""
    for index, widget in enumerate(document["widgets"]):
        label = widget_label(index, widget)
        for metric in widget.get("properties", {}).get("metrics", []) if isinstance(widget, dict) else []:
            fields = (
                [item for item in metric if not isinstance(item, dict)] if isinstance(metric, list) else []
            )
            if fields and fields[0] in (".", "..."):
                raise ValueError(f"{label} uses the shorthand {fields[0]!r}, which this check does not read")
            if len(fields) >= 2:
                pairs = tuple(zip(fields[2::2], fields[3::2], strict=False))
                yield MetricReference(
                    label, str(fields[0]), str(fields[1]), tuple((str(k), str(v)) for k, v in pairs)
                )
            expression = _options(metric).get("expression", "")
            for search in _SEARCH.findall(str(expression)):
                yield search_reference(label, search.replace("\\'", "'"))


def search_reference(label: str, search: str) -> MetricReference:
    """The metric a SEARCH expression's search string names: the schema's namespace, MetricName, and the
    dimension terms that fix a value."""
    namespace = None
    schema = _SCHEMA.match(search)
    rest = search
    if schema:
        namespace = schema.group(1).split(",")[0].strip().strip('"')
        rest = search[schema.end() :]
    metric = None
    dimensions = []
    for quoted_key, key, quoted_value, value in _TERM.findall(rest):
        name, text = quoted_key or key, quoted_value if quoted_value or not value else value
        if name == "MetricName":
            metric = text
        elif name != "Namespace":
            dimensions.append((name, text))
    return MetricReference(label, namespace, metric, tuple(dimensions))


def alarm_arns(document: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(widget, alarm ARN) of every alarm an alarm widget or an alarm annotation names."""
    for index, widget in enumerate(document["widgets"]):
        label = widget_label(index, widget)
        properties = widget.get("properties", {}) if isinstance(widget, dict) else {}
        for arn in properties.get("alarms", []):
            yield label, str(arn)
        for annotation in (
            properties.get("annotations", {}).get("alarms", [])
            if isinstance(properties.get("annotations"), dict)
            else []
        ):
            yield label, str(annotation)
