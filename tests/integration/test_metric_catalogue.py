"""Every metric an alarm or a dashboard widget names exists (issue 13): it is an AWS metric of
docs/aws-metrics.yaml, or one the project's functions emit.

The functions' metrics are found by running them: each function that has sample events in events/ runs in an
execution environment of its own (local.containers, with Lambda's reserved variables such as
AWS_LAMBDA_FUNCTION_NAME, and the broker or moto its template needs), its output goes to its log group in
moto's CloudWatch Logs, and the Powertools EMF lines there are read as CloudWatch reads them.
"""

from __future__ import annotations

import ast
import json
import re
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import yaml

from local import aws
from local.cloudwatch_logs import LogShipper
from local.containers import FunctionContainer
from local.functions import REPO, FunctionSpec, discover, load_template
from local.invoke import backends, function_spec, prepare_replay_step
from local.lambda_context import LocalLambdaContext
from local.replay_world import STEP_ORDER
from tests.integration.metric_catalogue import (
    ALARM,
    DASHBOARD,
    SERVICE_DIMENSION,
    Catalogue,
    EmittedMetric,
    metric_references,
    monitored_templates,
    problems,
)
from tests.integration.test_invoke import COMMITTED

NAMESPACE_VARIABLE = "POWERTOOLS_METRICS_NAMESPACE"
SERVICE_VARIABLE = "POWERTOOLS_SERVICE_NAME"
FUNCTION_NAME_DIMENSION = "FunctionName"
NAMESPACES = {
    "AWS/Kafka",
    "AWS/Lambda",
    "AWS/ApiGateway",
    "AWS/Firehose",
    "AWS/KinesisAnalytics",
    "AWS/SQS",
    "AWS/SNS",
    "AWS/States",
}
SET_KEYS = {"dimensions", "cluster_types", "level", "requires", "unconfirmed", "note"}
METRIC_KEYS = {"statistic", "source", "note", "unconfirmed", "dimension_sets"}


def _events_by_function() -> dict[str, list[dict[str, Any]]]:
    """The committed sample events by function (custom resource events excepted, as test_invoke does)."""
    events: dict[str, list[dict[str, Any]]] = {}
    for name in sorted(COMMITTED):
        path = COMMITTED[name]
        events.setdefault(path.parent.name, []).append(json.loads(path.read_text()))
    return events


def _in_run_order(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events to run: an archive replay's last step alone, after the steps before it run first on a
    sample archive (local.invoke.prepare_replay_step), so that every step runs once, in order; else all."""
    steps = [event for event in events if event.get("step") in STEP_ORDER]
    if not steps:
        return events
    return [max(steps, key=lambda event: STEP_ORDER.index(event["step"]))]


def _emf_metrics(function: str, message: str) -> list[EmittedMetric]:
    """The metrics of one log line, if it is an EMF document (CloudWatch's `_aws.CloudWatchMetrics`)."""
    try:
        document = json.loads(message)
    except json.JSONDecodeError:
        return []
    if not isinstance(document, dict) or "CloudWatchMetrics" not in document.get("_aws", {}):
        return []
    return [
        EmittedMetric(
            function, directive["Namespace"], metric["Name"], tuple((d, str(document[d])) for d in names)
        )
        for directive in document["_aws"]["CloudWatchMetrics"]
        for names in directive["Dimensions"]
        for metric in directive["Metrics"]
    ]


def _run(spec: FunctionSpec, events: list[dict[str, Any]], copy_to: Path) -> list[EmittedMetric]:
    """Invoke a new execution environment of `spec` with each event; the EMF metrics of its log group.

    moto's state lives in this process and each moto server starts by clearing it, so the log group lives in
    the function's own moto when it has one (local.invoke.backends), else in one started for the logs alone.
    """
    with backends(spec) as overrides, ExitStack() as stack:
        endpoint = overrides.get("AWS_ENDPOINT_URL") or stack.enter_context(aws.running_moto())
        logs = aws.client("logs", endpoint)
        shipper = LogShipper(logs, copy_to)
        container = FunctionContainer(spec, overrides, shipper)

        def context() -> LocalLambdaContext:
            return LocalLambdaContext(spec.function_name, spec.timeout_seconds * 1000)

        try:
            for event in _in_run_order(events):
                prepare_replay_step(spec, overrides, event, container, context)
                container(event, context())
        finally:
            container.close()
            shipper.close()
        pages = logs.get_paginator("filter_log_events").paginate(logGroupName=spec.log_group)
        return [
            metric
            for page in pages
            for log_event in page["events"]
            for metric in _emf_metrics(spec.name, log_event["message"])
        ]


@pytest.fixture(scope="module")
def emitted(tmp_path_factory: pytest.TempPathFactory) -> list[EmittedMetric]:
    """What every function with sample events emitted, run as Lambda runs it."""
    copy_to = tmp_path_factory.mktemp("functions") / "functions.log"
    return [
        metric
        for function, events in _events_by_function().items()
        for metric in _run(function_spec(function), events, copy_to)
    ]


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return Catalogue()


def _added_metric_names() -> dict[str, set[str]]:
    """Function folder -> the metric names its code passes to Powertools' add_metric(name="...")."""
    added: dict[str, set[str]] = {}
    for path in sorted((REPO / "functions").glob("*/*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_metric":
                names = [k.value for k in node.keywords if k.arg == "name"] + node.args[:1]
                added.setdefault(path.parent.name, set()).update(
                    n.value for n in names if isinstance(n, ast.Constant) and isinstance(n.value, str)
                )
    return added


# --------------------------------------------------------------------------------------- the catalogue
def test_catalogue_entries_are_complete(catalogue: Catalogue) -> None:
    assert set(catalogue.namespaces) == NAMESPACES
    cluster_types, levels = set(catalogue.data["cluster_types"]), catalogue.levels
    for namespace, name, metric in catalogue.metrics():
        label = f"{namespace} {name}"
        assert set(metric) <= METRIC_KEYS, label
        assert "statistic" in metric or "default_statistic" in catalogue.namespaces[namespace], label
        sources = metric["source"] if isinstance(metric["source"], list) else [metric["source"]]
        assert sources, label
        assert all(re.fullmatch(r"https://\S+", s) for s in sources), label
        assert (
            not metric.get("unconfirmed")
            or metric.get("note")
            or all(s.get("note") for s in metric["dimension_sets"])
        ), f"{label}: unconfirmed without a note saying what to check"
        assert metric["dimension_sets"], label
        for dimension_set in metric["dimension_sets"]:
            assert set(dimension_set) <= SET_KEYS, label
            dimensions = dimension_set["dimensions"]
            assert len(set(dimensions)) == len(dimensions), label
            assert all(isinstance(d, str) and d.strip() == d and d for d in dimensions), label
            assert not dimension_set.get("unconfirmed") or dimension_set.get("note"), label
            if namespace == "AWS/Kafka":
                types = set(dimension_set["cluster_types"])
                assert types, label
                assert types <= cluster_types, label
                assert ("level" in dimension_set) == (types != {"Serverless"}), label
                assert "level" not in dimension_set or dimension_set["level"] in levels, label
            else:
                assert not {"cluster_types", "level"} & set(dimension_set), label


def test_catalogue_refuses_a_key_given_twice(tmp_path: Path) -> None:
    text = (
        Catalogue()
        .path.read_text()
        .replace("      GlobalTopicCount:\n", "      GlobalTopicCount:\n        statistic: Sum\n", 1)
    )
    (tmp_path / "aws-metrics.yaml").write_text(text)
    with pytest.raises(yaml.constructor.ConstructorError, match="keys given twice"):
        Catalogue(tmp_path / "aws-metrics.yaml")


# ----------------------------------------------------------------------------------------- the harness
def test_functions_emit_their_metrics_as_lambda_would(emitted: list[EmittedMetric]) -> None:
    """Each EMF line carries the template's namespace, its service and the function's name (the layer's
    default dimension, from AWS_LAMBDA_FUNCTION_NAME); every metric the code adds is seen: the sample events
    reach it."""
    functions = discover()
    added = _added_metric_names()
    assert added, "no function calls add_metric: the harness would check nothing"
    for function, names in added.items():
        spec = functions[function]
        seen = [e for e in emitted if e.function == function]
        assert {e.name for e in seen} >= names, (
            f"{function}: the sample events never emit {names - {e.name for e in seen}}"
        )
        for metric in seen:
            assert metric.namespace == spec.environment[NAMESPACE_VARIABLE]
            assert dict(metric.dimensions) == {
                SERVICE_DIMENSION: spec.environment[SERVICE_VARIABLE],
                FUNCTION_NAME_DIMENSION: spec.function_name,
            }
    assert {e.function for e in emitted} == set(added), "a function emits metrics its code does not add"


def test_templates_metrics_namespace_is_the_one_emitted(emitted: list[EmittedMetric]) -> None:
    declared = {
        spec.name: spec.environment[NAMESPACE_VARIABLE]
        for spec in discover().values()
        if NAMESPACE_VARIABLE in spec.environment
    }
    assert declared, "no template sets POWERTOOLS_METRICS_NAMESPACE"
    seen = {e.function: e.namespace for e in emitted}
    assert {function: declared.get(function) for function in seen} == seen
    assert set(declared.values()) == set(seen.values())


# --------------------------------------------------------------------------------------- the templates
@pytest.mark.parametrize("path", monitored_templates(), ids=lambda p: str(p.relative_to(REPO)))
def test_every_metric_named_exists(path: Path, catalogue: Catalogue, emitted: list[EmittedMetric]) -> None:
    references = metric_references(load_template(path), str(path.relative_to(REPO)))
    assert references, f"{path.name} has alarms or dashboards but names no metric"
    found = problems(references, catalogue, emitted)
    assert not found, "\n".join(found)


def test_monitored_templates_are_found() -> None:
    kinds = {
        resource["Type"]
        for path in monitored_templates()
        for resource in load_template(path).get("Resources", {}).values()
    }
    assert {ALARM, DASHBOARD} <= kinds


# ----------------------------------------------------------------------------------------- the check is live
def _alarm(namespace: str, name: Any, dimensions: dict[str, str], **extra: Any) -> dict[str, Any]:
    return {
        "Type": ALARM,
        "Properties": {
            "Namespace": namespace,
            "MetricName": name,
            "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
            **extra,
        },
    }


SEARCH_DISK_FULL = """SEARCH('{AWS/Kafka,"Cluster Name"} MetricName="DiskFull"', 'Maximum', 60)"""
CONSUMER = {SERVICE_DIMENSION: "consumer", FUNCTION_NAME_DIMENSION: "f"}
PLANTED_BODY = {
    "widgets": [
        {
            "type": "metric",
            "properties": {
                "title": "planted",
                "metrics": [
                    ["StreamingDataSolution", "RecordsProcessed", "service", "consumer", "FunctionName", "f"],
                    [".", "RecordsEvaporated", ".", ".", ".", "."],
                    ["AWS/Lambda", "Errors", "FunctionName", "f"],
                    ["...", "g"],
                    [".", "Eror", ".", "."],
                    [{"expression": SEARCH_DISK_FULL}],
                ],
            },
        }
    ]
}
PLANTED = {
    "Parameters": {
        "ClusterType": {"Type": "String", "Default": "Express", "AllowedValues": ["Express"]},
        "EnhancedMonitoring": {"Type": "String", "Default": "DEFAULT", "AllowedValues": ["DEFAULT"]},
        "Deploy": {"Type": "String", "Default": "yes"},
    },
    "Conditions": {
        "Deployed": {"Fn::Equals": [{"Ref": "Deploy"}, "yes"]},
        "Never": {"Fn::Equals": ["a", "b"]},
    },
    "Resources": {
        # correct: none of these may be reported
        "ErrorsAlarm": _alarm("AWS/Lambda", "Errors", {"FunctionName": "f"}),
        "ProcessedAlarm": _alarm("StreamingDataSolution", "RecordsProcessed", CONSUMER),
        "CpuAlarm": _alarm("AWS/Kafka", "CpuUser", {"Cluster Name": "c", "Broker ID": "1"}),
        "NeverCreatedAlarm": {
            "Condition": "Never",
            **_alarm("AWS/Lambda", "NeverCreated", {"FunctionName": "f"}),
        },
        # wrong: each must be reported
        "VanishedAlarm": _alarm("StreamingDataSolution", "RecordsVanished", CONSUMER),
        "WrongServiceAlarm": _alarm(
            "StreamingDataSolution", "RecordsProcessed", CONSUMER | {"service": "producer"}
        ),
        "MissingDimensionAlarm": _alarm("StreamingDataSolution", "RecordsFailed", {"service": "consumer"}),
        "SpacelessDimensionAlarm": _alarm("AWS/Kafka", "ActiveControllerCount", {"ClusterName": "c"}),
        "StandardOnlyAlarm": {
            "Type": ALARM,
            "Properties": {
                "Metrics": [
                    {
                        "Id": "disk",
                        "MetricStat": {
                            "Metric": {
                                "Namespace": "AWS/Kafka",
                                "MetricName": "KafkaDataLogsDiskUsed",
                                "Dimensions": [{"Name": "Cluster Name", "Value": "c"}],
                            }
                        },
                    }
                ]
            },
        },
        "PaidLevelAlarm": _alarm("AWS/Kafka", "ProduceThrottleTime", {"Cluster Name": "c", "Broker ID": "1"}),
        "WrongNamespaceAlarm": _alarm("AWS/Lamda", "Errors", {"FunctionName": "f"}),
        "ConditionalAlarm": {
            "Condition": "Deployed",
            **_alarm("AWS/Lambda", {"Fn::If": ["Deployed", "Throttle", "Throttles"]}, {"FunctionName": "f"}),
        },
        "Dashboard": {"Type": DASHBOARD, "Properties": {"DashboardBody": json.dumps(PLANTED_BODY)}},
    },
}
PLANTED_PROBLEMS = {
    "VanishedAlarm": "no function emitted RecordsVanished",
    "WrongServiceAlarm": "service=producer",
    "MissingDimensionAlarm": "emitted only with dimensions",
    "SpacelessDimensionAlarm": "are none of [['Cluster Name']]",
    "StandardOnlyAlarm disk": "not on Express clusters",
    "PaidLevelAlarm": "needs EnhancedMonitoring PER_BROKER",
    "WrongNamespaceAlarm": "namespace AWS/Lamda is not in",
    "ConditionalAlarm": "Throttle is not among the catalogue's AWS/Lambda",
    "'planted': StreamingDataSolution RecordsEvaporated": "no function emitted RecordsEvaporated",
    "'planted': AWS/Lambda Eror": "Eror is not among the catalogue's AWS/Lambda",
    "'planted' SEARCH: AWS/Kafka DiskFull": "DiskFull is not among the catalogue's AWS/Kafka",
}


def test_planted_mistakes_are_reported_and_nothing_else(
    catalogue: Catalogue, emitted: list[EmittedMetric]
) -> None:
    found = problems(metric_references(PLANTED, "planted.yaml"), catalogue, emitted)
    for where, reason in PLANTED_PROBLEMS.items():
        assert [p for p in found if where in p and reason in p], f"{where} ({reason}) not reported in {found}"
    assert len(found) == len(PLANTED_PROBLEMS), "\n".join(found)


@pytest.mark.parametrize("path", monitored_templates(), ids=lambda p: str(p.relative_to(REPO)))
def test_a_misspelt_name_in_a_template_is_reported(
    path: Path, catalogue: Catalogue, emitted: list[EmittedMetric]
) -> None:
    """Misspelling a metric name the template names (its first AWS one, its first emitted one) is reported."""
    template = load_template(path)
    references = metric_references(template, path.name)
    text = json.dumps(template)
    for kind in (True, False):
        candidates = sorted(r.name for r in references if r.namespace.startswith("AWS/") is kind)
        if not candidates:
            continue
        name = candidates[0]
        misspelt = json.loads(re.sub(rf"\b{re.escape(name)}\b", f"{name}Misspelt", text))
        found = problems(metric_references(misspelt, path.name), catalogue, emitted)
        assert [p for p in found if f"{name}Misspelt" in p], f"{name} misspelt in {path.name} is not reported"
