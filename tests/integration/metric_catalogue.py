"""The metrics the templates' alarms and dashboards name, and the checks that each one exists.

A metric an alarm or a dashboard widget names must be either an AWS metric of docs/aws-metrics.yaml, with one
of its dimension sets exactly (and, where the template says which MSK cluster it watches, available on that
cluster type and monitoring level), or a metric the project's functions emit, with the same namespace and
dimension names (and the same Powertools `service`, where the template names it).

Templates are read for every combination of the parameters their alarms' and dashboards' conditions depend on
(each allowed value; otherwise the default, each value a condition compares with, and one value besides), plus
ClusterType and EnhancedMonitoring where the template has them, so that every Fn::If branch that can be
deployed is read, and no combination that cannot.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from local.cfn import PSEUDO_PARAMETERS, evaluate, evaluate_conditions, references
from local.functions import REPO, load_template
from tests.templates.scenarios import WIRED

CATALOGUE = REPO / "docs" / "aws-metrics.yaml"
TEMPLATES = [REPO / "template.yaml", *sorted((REPO / "nested").glob("*.yaml"))]
ALARM = "AWS::CloudWatch::Alarm"
DASHBOARD = "AWS::CloudWatch::Dashboard"
# Parameters that say which MSK metrics exist: always read with each of their values.
CLUSTER_TYPE = "ClusterType"
MONITORING_LEVEL = "EnhancedMonitoring"
# The Powertools dimension whose value the template itself fixes (the function's service name).
SERVICE_DIMENSION = "service"
MAX_COMBINATIONS = 4096
ALARM_METRIC_KEYS = ("Namespace", "MetricName", "Dimensions", "Metrics")

_SEARCH = re.compile(r"SEARCH\(\s*'((?:[^'\\]|\\.)*)'")
_SCHEMA = re.compile(r"\{([^}]*)\}")
_SCHEMA_TOKEN = re.compile(r'"[^"]*"|[^,]+')
_TERM = re.compile(r'(?:"([^"]+)"|([\w.:/-]+))\s*=\s*(?:"([^"]*)"|([^\s)"]+))')


@dataclass(frozen=True)
class MetricReference:
    """One metric an alarm or a widget names, as read for one combination of parameter values."""

    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]  # (name, value), in the template's order
    where: str  # template, resource and widget
    cluster_type: str | None = None  # the template's ClusterType, when it has one
    level: str | None = None  # the template's EnhancedMonitoring, when it has one

    @property
    def dimension_names(self) -> frozenset[str]:
        return frozenset(name for name, _ in self.dimensions)

    def __str__(self) -> str:
        dimensions = ", ".join(f"{name}={value}" for name, value in self.dimensions)
        return f"{self.where}: {self.namespace} {self.name} [{dimensions}]"


@dataclass(frozen=True)
class EmittedMetric:
    """One metric a function printed as Powertools EMF: what CloudWatch would make of the log line."""

    function: str
    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]

    @property
    def dimension_names(self) -> frozenset[str]:
        return frozenset(name for name, _ in self.dimensions)


class _UniqueKeyLoader(yaml.SafeLoader):
    """safe_load, except that a key given twice in one mapping is an error (not the last value silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        keys = [self.construct_object(key, deep=deep) for key, _ in node.value]
        duplicates = sorted({str(key) for key in keys if keys.count(key) > 1})
        if duplicates:
            raise yaml.constructor.ConstructorError(
                None, None, f"keys given twice: {duplicates}", node.start_mark
            )
        return super().construct_mapping(node, deep=deep)


class Catalogue:
    """docs/aws-metrics.yaml."""

    def __init__(self, path: Path = CATALOGUE) -> None:
        self.path = path
        self.data: dict[str, Any] = yaml.load(path.read_text(), Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader
        self.namespaces: dict[str, Any] = self.data["namespaces"]
        self.levels: list[str] = self.data["monitoring_levels"]

    def metrics(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """(namespace, metric name, entry) of every metric."""
        for namespace, entry in self.namespaces.items():
            for name, metric in entry["metrics"].items():
                yield namespace, name, metric

    def problem(self, reference: MetricReference) -> str | None:
        """Why `reference` names no metric of the catalogue, or None."""
        namespace = self.namespaces.get(reference.namespace)
        if namespace is None:
            return f"{reference}: namespace {reference.namespace} is not in docs/aws-metrics.yaml"
        metric = namespace["metrics"].get(reference.name)
        if metric is None:
            return f"{reference}: {reference.name} is not among the catalogue's {reference.namespace} metrics"
        sets = [
            s for s in metric["dimension_sets"] if frozenset(s["dimensions"]) == reference.dimension_names
        ]
        if not sets:
            known = [sorted(s["dimensions"]) for s in metric["dimension_sets"]]
            return f"{reference}: dimensions {sorted(reference.dimension_names)} are none of {known}"
        if reference.cluster_type in self.data["cluster_types"] and any("cluster_types" in s for s in sets):
            types = sorted({t for s in sets for t in s.get("cluster_types", [])})
            sets = [s for s in sets if reference.cluster_type in s.get("cluster_types", [])]
            if not sets:
                return f"{reference}: not on {reference.cluster_type} clusters (only {', '.join(types)})"
        if reference.level is not None and reference.cluster_type != "Serverless":
            needed = min((self.levels.index(s["level"]) for s in sets if "level" in s), default=0)
            if needed > self.levels.index(reference.level):
                return (
                    f"{reference}: needs EnhancedMonitoring {self.levels[needed]} or above, "
                    f"but the cluster may have {reference.level}"
                )
        return None


def emitted_problem(reference: MetricReference, emitted: Collection[EmittedMetric]) -> str | None:
    """Why `reference` names no metric the functions emitted, or None."""
    named = [e for e in emitted if (e.namespace, e.name) == (reference.namespace, reference.name)]
    if not named:
        namespaces = sorted({e.namespace for e in emitted})
        return (
            f"{reference}: no function emitted {reference.name} in {reference.namespace} "
            f"(their namespaces: {namespaces}), and AWS namespaces start with AWS/"
        )
    same = [e for e in named if e.dimension_names == reference.dimension_names]
    if not same:
        emitted_sets = sorted({tuple(sorted(e.dimension_names)) for e in named})
        return f"{reference}: emitted only with dimensions {emitted_sets}"
    service = dict(reference.dimensions).get(SERVICE_DIMENSION)
    services = {dict(e.dimensions)[SERVICE_DIMENSION] for e in same if SERVICE_DIMENSION in e.dimension_names}
    if service and services and service not in services:
        return f"{reference}: {SERVICE_DIMENSION}={service}, but {sorted(services)} emit {reference.name}"
    return None


def problems(
    references_: Iterable[MetricReference], catalogue: Catalogue, emitted: Collection[EmittedMetric]
) -> list[str]:
    """Every reference that names neither a catalogued AWS metric nor an emitted one, explained."""
    found = {
        catalogue.problem(reference)
        if reference.namespace.startswith("AWS/")
        else emitted_problem(reference, emitted)
        for reference in references_
    }
    return sorted(problem for problem in found if problem is not None)


# --------------------------------------------------------------------------------------- reading templates
def monitored_templates() -> list[Path]:
    """The templates that declare alarms or dashboards."""
    return [path for path in TEMPLATES if _monitored(load_template(path))]


def _monitored(template: dict[str, Any]) -> dict[str, Any]:
    return {
        logical_id: resource
        for logical_id, resource in template.get("Resources", {}).items()
        if resource.get("Type") in (ALARM, DASHBOARD)
    }


def metric_references(template: dict[str, Any], label: str) -> set[MetricReference]:
    """What every alarm and dashboard of `template` names, over every deployable parameter combination."""
    monitored = _monitored(template)
    parameters = template.get("Parameters", {})
    found: set[MetricReference] = set()
    for values in parameter_combinations(template, list(monitored.values())):
        conditions = evaluate_conditions(template, values)
        names = values | {
            logical_id: _reference_value(logical_id) for logical_id in template.get("Resources", {})
        }
        cluster_type = values.get(CLUSTER_TYPE) if CLUSTER_TYPE in parameters else None
        level = values.get(MONITORING_LEVEL) if MONITORING_LEVEL in parameters else None
        for logical_id, resource in monitored.items():
            if "Condition" in resource and not conditions[resource["Condition"]]:
                continue
            where = f"{label} {logical_id}"
            properties = resource.get("Properties", {})
            if resource["Type"] == ALARM:
                node = {key: properties[key] for key in ALARM_METRIC_KEYS if key in properties}
                read = alarm_references(evaluate(template, names, node, conditions), where)
            else:
                body = evaluate(template, names, properties["DashboardBody"], conditions)
                read = dashboard_references(body, where)
            found |= {
                MetricReference(r.namespace, r.name, r.dimensions, r.where, cluster_type, level) for r in read
            }
    return found


def _reference_value(logical_id: str) -> str:
    """What `!Ref` to a resource gives here: ARN-shaped (kind/name/id), so that a template taking a name out
    of an ARN (`!Select [1, !Split ["/", !Ref Cluster]]`) reads as it would deployed."""
    return f"arn:aws:{logical_id.lower()}:us-east-1:123456789012:{logical_id}/{logical_id}/{logical_id}-id"


def parameter_combinations(template: dict[str, Any], nodes: list[Any]) -> list[dict[str, str]]:
    """Parameter values (pseudo parameters included) for each combination of the parameters that decide which
    branches of `nodes` are read, and of ClusterType and EnhancedMonitoring."""
    parameters: dict[str, Any] = template.get("Parameters", {})
    conditions: dict[str, Any] = template.get("Conditions", {})
    used = _conditions_used(nodes, conditions)
    varied = {name for name, _ in references([conditions[c] for c in used]) if name in parameters}
    varied |= {CLUSTER_TYPE, MONITORING_LEVEL} & set(parameters)
    fixed = {name: _fixed_value(name, spec) for name, spec in parameters.items() if name not in varied}
    domains = [
        [(name, value) for value in _domain(name, parameters[name], conditions)] for name in sorted(varied)
    ]
    combinations = list(itertools.product(*domains))
    if len(combinations) > MAX_COMBINATIONS:
        raise ValueError(f"{len(combinations)} parameter combinations of {sorted(varied)}: too many to read")
    return [PSEUDO_PARAMETERS | fixed | dict(combination) for combination in combinations]


def _conditions_used(nodes: list[Any], conditions: dict[str, Any]) -> set[str]:
    """Conditions that `nodes` name (Condition keys, Fn::If, Condition), and those they depend on."""
    used: set[str] = set()
    pending = list(nodes)
    while pending:
        node = pending.pop()
        if isinstance(node, list):
            pending.extend(node)
        elif isinstance(node, dict):
            for key, value in node.items():
                if key == "Condition" and isinstance(value, str) and value not in used:
                    used.add(value)
                    pending.append(conditions[value])
                elif key == "Fn::If" and value[0] not in used:
                    used.add(value[0])
                    pending.append(conditions[value[0]])
                pending.append(value)
    return used


def _compared_literals(name: str, conditions: dict[str, Any]) -> set[str]:
    """Every value a condition compares the parameter `name` with (Fn::Equals)."""
    found: set[str] = set()
    pending: list[Any] = list(conditions.values())
    while pending:
        node = pending.pop()
        if isinstance(node, list):
            pending.extend(node)
        elif isinstance(node, dict):
            arguments = node.get("Fn::Equals")
            if isinstance(arguments, list) and {"Ref": name} in arguments:
                found |= {str(a) for a in arguments if isinstance(a, (str, int, float))}
            pending.extend(node.values())
    return found


def _domain(name: str, spec: dict[str, Any], conditions: dict[str, Any]) -> list[str]:
    if "AllowedValues" in spec:
        return [str(value) for value in spec["AllowedValues"]]
    values = _compared_literals(name, conditions)
    if "Default" in spec:
        values.add(str(spec["Default"]))
    if spec.get("Type") == "Number":
        values.add(str(max((float(v) for v in values), default=0) + 1))
    else:
        values.add(next(v for v in (WIRED.get(name, ""), f"{name}-value") if v and v not in values))
    return sorted(values)


def _fixed_value(name: str, spec: dict[str, Any]) -> str:
    if "Default" in spec:
        return str(spec["Default"])
    if "AllowedValues" in spec:
        return str(spec["AllowedValues"][0])
    return WIRED.get(name, f"<{name}>")


def alarm_references(properties: dict[str, Any], where: str) -> list[MetricReference]:
    """The metrics of an alarm's evaluated properties: its metric, each MetricStat and SEARCH of Metrics."""
    found: list[MetricReference] = []
    if "MetricName" in properties:
        found.append(_alarm_metric(properties, where))
    for query in properties.get("Metrics", []):
        if "MetricStat" in query:
            found.append(
                _alarm_metric(query["MetricStat"]["Metric"], f"{where} {query.get('Id', '')}".rstrip())
            )
        found.extend(search_references(str(query.get("Expression", "")), where))
    return found


def _alarm_metric(metric: dict[str, Any], where: str) -> MetricReference:
    dimensions = tuple((str(d["Name"]), str(d["Value"])) for d in metric.get("Dimensions", []))
    return MetricReference(str(metric["Namespace"]), str(metric["MetricName"]), dimensions, where)


def dashboard_references(body: Any, where: str) -> list[MetricReference]:
    """The metrics of a dashboard body (JSON text): each widget's metric rows, their "." and "..." shorthand
    expanded as CloudWatch expands it, and the metrics of SEARCH expressions."""
    if not isinstance(body, str):
        raise TypeError(f"{where}: DashboardBody is {type(body).__name__}, not JSON text")
    try:
        dashboard = json.loads(body)
    except json.JSONDecodeError as error:
        raise ValueError(f"{where}: DashboardBody is not JSON ({error}): {body[:200]}") from error
    found: list[MetricReference] = []
    for widget in dashboard.get("widgets", []):
        properties = widget.get("properties", {})
        label = f"{where} widget {properties.get('title', widget.get('type', ''))!r}"
        previous: list[str] = []
        for row in properties.get("metrics", []):
            options = [item for item in row if isinstance(item, dict)]
            for option in options:
                found.extend(search_references(str(option.get("expression", "")), label))
            items = [str(item) for item in row if not isinstance(item, dict)]
            if not items:
                continue  # an expression row
            previous = _expanded(items, previous, label)
            namespace, name, *pairs = previous
            if len(pairs) % 2:
                raise ValueError(f"{label}: a dimension without its value in {row}")
            found.append(
                MetricReference(namespace, name, tuple(zip(pairs[::2], pairs[1::2], strict=True)), label)
            )
    return found


def _expanded(items: list[str], previous: list[str], label: str) -> list[str]:
    """A metric row with "..." (the previous row's items up to where this row's own resume) and "." (the
    previous row's item at that place) replaced."""
    if "..." in items:
        at = items.index("...")
        tail = items[at + 1 :]
        items = items[:at] + previous[at : len(previous) - len(tail)] + tail
    if any(item == "." for item in items) and len(previous) < len(items):
        raise ValueError(f"{label}: '.' with no item above it in {items}")
    expanded = [previous[i] if item == "." else item for i, item in enumerate(items)]
    if len(expanded) < 2:
        raise ValueError(f"{label}: a metric row without namespace and name: {items}")
    return expanded


def search_references(expression: str, where: str) -> list[MetricReference]:
    """The metrics each SEARCH('{Namespace,Dim,...} MetricName="X" ...') of an expression asks for; a SEARCH
    without a schema or a MetricName cannot be checked and is an error."""
    found: list[MetricReference] = []
    for match in _SEARCH.finditer(expression):
        query = match.group(1)
        schema = _SCHEMA.search(query)
        terms = [
            (key or bare_key, value or bare_value)
            for key, bare_key, value, bare_value in _TERM.findall(query)
        ]
        names = [value for key, value in terms if key == "MetricName"]
        if schema is None or not names:
            raise ValueError(
                f"{where}: SEARCH without a {{Namespace,...}} schema and a MetricName: {query!r}"
            )
        namespace, *dimensions = (
            token.strip().strip('"') for token in _SCHEMA_TOKEN.findall(schema.group(1))
        )
        values = dict(terms)
        pairs = tuple((dimension, values.get(dimension, "")) for dimension in dimensions)
        found.extend(MetricReference(namespace, name, pairs, f"{where} SEARCH") for name in names)
    return found
