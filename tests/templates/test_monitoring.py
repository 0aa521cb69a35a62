"""Monitoring, per option row: the deployment is evaluated as CloudFormation would create it
(tests/templates/deployment.py: every nested stack with the values the root passes, resources named as their
services name them), then

- each deployed component has its alarms, and every alarm notifies the deployment's alarm topic;
- the composite alarm watches exactly the alarms the deployment creates;
- the dashboard body is one CloudWatch accepts (tests/templates/dashboards.py), has one row per deployed
  component and none for an absent one, and every dimension value of its widgets (and of the alarms) names a
  resource of the same deployment: a function name is the name of an AWS::Lambda::Function it creates, a
  cluster name that of its cluster (or of the existing cluster it attaches to), and so on.

Plants at the end show each check failing on a copy of nested/monitoring.yaml with the mistake it is for.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import cache
from typing import Any

import pytest

from local.cfn import parameter_violations
from tests.templates.dashboards import alarm_arns, body_problems, metric_references, parse_body
from tests.templates.deployment import Deployment, StackModel, deploy
from tests.templates.sam_offline import ALL_TEMPLATES, REPO, translate
from tests.templates.scenarios import EXISTING_CLUSTER

OPTIONS = ["ClusterWithRestApi", "LambdaConsumer", "LambdaFirehoseS3", "FlinkS3", "All"]
CLUSTER_MODES = {"new-cluster": {}, "existing-cluster": EXISTING_CLUSTER}
ROWS = [(option, mode) for option in OPTIONS for mode in CLUSTER_MODES]

# The root's nested stacks: the components (each with its own alarms and a dashboard row) and what the
# deployment shares. A nested stack added to the root must be placed in one of them.
COMPONENTS = {
    "Cluster",
    "IngestApi",
    "LambdaConsumer",
    "FirehoseArchive",
    "ArchiveForwarder",
    "ArchiveReplay",
    "FlinkAnalytics",
}
SHARED = {"Foundation", "Network", "ClusterConnection", "Monitoring"}
MONITORING = "Monitoring"
ALARM_TYPES = ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm")
ACTION_PROPERTIES = ("AlarmActions", "OKActions")
CLUSTER_TYPES = ("AWS::MSK::Cluster", "AWS::MSK::ServerlessCluster")
CLUSTER_ARN = re.compile(r"^arn:aws[a-z-]*:kafka:[^:]+:\d{12}:cluster/([^/]+)/[^/]+$")
ALARM_IN_RULE = re.compile(r'\b(?:ALARM|OK|INSUFFICIENT_DATA)\("([^"]+)"\)')


@cache
def _deployment(option: str, mode: str) -> Deployment:
    return deploy(given={"DeploymentOption": option} | CLUSTER_MODES[mode])


def deployment(option: str, mode: str) -> Deployment:
    """The row's deployment (evaluated once per row; treat it as read-only)."""
    return _deployment(option, mode)


def alarms(stack: StackModel) -> dict[str, dict[str, Any]]:
    """The stack's enabled metric alarms."""
    return stack.of_type("AWS::CloudWatch::Alarm")


# ---------------------------------------------------------------------------------------------- alarms
def alarm_problems(deployed: Deployment) -> list[str]:
    """A nested stack neither a component nor shared; a deployed component with no enabled
    AWS::CloudWatch::Alarm; an alarm (composite included) whose AlarmActions or OKActions are not exactly
    the topic of nested/foundation.yaml."""
    problems = [
        f"{app} is in neither COMPONENTS nor SHARED"
        for app in sorted(set(deployed.stacks) - COMPONENTS - SHARED)
    ]
    problems += [
        f"{app} is deployed without an enabled AWS::CloudWatch::Alarm"
        for app in sorted(set(deployed.stacks) & COMPONENTS)
        if not alarms(deployed.stacks[app])
    ]
    topic = deployed.stacks["Foundation"].outputs["AlarmTopicArn"]
    problems += [
        f"{stack.logical_id}.{name} {key} is {actions}, not [{topic}]"
        for stack in deployed.all_stacks()
        for name, alarm in stack.of_type(*ALARM_TYPES).items()
        for key in ACTION_PROPERTIES
        if (actions := stack.value(alarm["Properties"].get(key, []))) != [topic]
    ]
    return problems


@pytest.mark.parametrize(("option", "mode"), ROWS)
def test_each_deployed_component_has_alarms_that_notify_the_alarm_topic(option: str, mode: str) -> None:
    assert alarm_problems(deployment(option, mode)) == []


def composite_problems(deployed: Deployment) -> list[str]:
    """Alarms the composite alarm's rule names that the deployment does not create, and alarms it creates
    that the rule does not name."""
    monitoring = deployed.stacks[MONITORING]
    (composite,) = monitoring.of_type("AWS::CloudWatch::CompositeAlarm").values()
    watched = set(ALARM_IN_RULE.findall(monitoring.value(composite["Properties"]["AlarmRule"])))
    created = {stack.names[name] for stack in deployed.all_stacks() for name in alarms(stack)}
    return [
        f"the rule names {name}, which the deployment does not create" for name in sorted(watched - created)
    ] + [f"the rule does not watch {name}" for name in sorted(created - watched)]


@pytest.mark.parametrize(("option", "mode"), ROWS)
def test_the_composite_alarm_watches_every_alarm_of_the_deployment(option: str, mode: str) -> None:
    assert composite_problems(deployment(option, mode)) == []


def _actions_are_the_topic_parameter(document: dict[str, Any], node: Any) -> bool:
    """Whether every value an action list can take (each Fn::If branch) is [Ref AlarmTopicArn]."""
    if isinstance(node, dict) and set(node) == {"Fn::If"}:
        return all(_actions_are_the_topic_parameter(document, branch) for branch in node["Fn::If"][1:])
    return node == [{"Ref": "AlarmTopicArn"}] and "AlarmTopicArn" in document.get("Parameters", {})


@pytest.mark.parametrize("path", ALL_TEMPLATES, ids=[t.name for t in ALL_TEMPLATES])
def test_every_alarm_of_every_template_notifies_the_alarm_topic_parameter(path: Any) -> None:
    # Every template, those added later included: an alarm's AlarmActions and OKActions are the template's
    # AlarmTopicArn parameter, which the root wires to the deployment's topic.
    document = translate(path)
    wrong = [
        f"{name}.{key}"
        for name, resource in document.get("Resources", {}).items()
        if resource["Type"] in ALARM_TYPES
        for key in ACTION_PROPERTIES
        if not _actions_are_the_topic_parameter(document, resource.get("Properties", {}).get(key))
    ]
    assert wrong == []


# ---------------------------------------------------------------------------------------------- dashboard
def dashboard_body(deployed: Deployment) -> str:
    """The monitoring stack's DashboardBody as CloudFormation passes it to PutDashboard."""
    monitoring = deployed.stacks[MONITORING]
    (dashboard,) = monitoring.of_type("AWS::CloudWatch::Dashboard").values()
    body = monitoring.value(dashboard["Properties"]["DashboardBody"])
    assert isinstance(body, str)
    return body


def row_headers(document: dict[str, Any]) -> list[str]:
    """The markdown of each row's header: a full-width text widget."""
    return [
        str(widget["properties"].get("markdown", ""))
        for widget in document["widgets"]
        if widget.get("type") == "text" and widget.get("width") == 24
    ]


def named_components(deployed: Deployment, text: str) -> set[str]:
    """The deployed components whose resources `text` names (by the name each resource has)."""
    return {
        app
        for app in set(deployed.stacks) & COMPONENTS
        if any(len(name) >= 8 and name in text for name in deployed.stacks[app].names.values())
    }


def row_problems(deployed: Deployment, body: str) -> list[str]:
    """A row header that names no deployed component or several; a deployed component without a row, or
    with more than one."""
    headers = row_headers(parse_body(body))
    problems = []
    rows: dict[str, int] = {}
    for header in headers:
        owners = named_components(deployed, header)
        if len(owners) != 1:
            problems.append(f"row header {header!r} names {sorted(owners) or 'no deployed component'}")
        for owner in owners:
            rows[owner] = rows.get(owner, 0) + 1
    for app in sorted(set(deployed.stacks) & COMPONENTS):
        if rows.get(app, 0) != 1:
            problems.append(f"{app} is deployed and has {rows.get(app, 0)} rows")
    return problems


@pytest.mark.parametrize(("option", "mode"), ROWS)
def test_the_dashboard_has_one_row_per_deployed_component(option: str, mode: str) -> None:
    deployed = deployment(option, mode)
    assert row_problems(deployed, dashboard_body(deployed)) == []


@pytest.mark.parametrize(("option", "mode"), ROWS)
def test_the_dashboard_body_is_one_cloudwatch_accepts(option: str, mode: str) -> None:
    # JSON with a widgets array; at most 500 widgets, 500 metrics per widget and 2,500 in all; a region on
    # every metric widget; periods in minutes; widget sizes in the grid.
    assert body_problems(dashboard_body(deployment(option, mode))) == []


# Dimensions whose value is the name of a resource of one of these types.
NAMED_BY = {
    "FunctionName": ("AWS::Lambda::Function",),
    "Cluster Name": CLUSTER_TYPES,
    "ApiName": ("AWS::ApiGateway::RestApi",),
    "Stage": ("AWS::ApiGateway::Stage",),
    "DeliveryStreamName": ("AWS::KinesisFirehose::DeliveryStream",),
    "Application": ("AWS::KinesisAnalyticsV2::Application",),
    "QueueName": ("AWS::SQS::Queue",),
}
# Dimensions whose values this test traces to resources (dimension_values); any other fails the test.
KNOWN_DIMENSIONS = {
    *NAMED_BY,
    "EventSourceMappingUUID",
    "Consumer Group",
    "Topic",
    "Broker ID",
    "service",
    "StateMachineArn",
}


def dimension_values(deployed: Deployment) -> dict[str, set[str]]:
    """Dimension name -> the values that name a resource of the deployment: a resource's name (NAMED_BY);
    an event source mapping's UUID, consumer group and topics; a topic resource's name; a broker ID of a
    cluster it creates; the name of a cluster it attaches to (an MSK cluster ARN a stack is given); a state
    machine's ARN."""
    found: dict[str, set[str]] = {dimension: set() for dimension in KNOWN_DIMENSIONS}
    for stack in deployed.all_stacks():
        for dimension, kinds in NAMED_BY.items():
            found[dimension] |= {stack.names[name] for name in stack.of_type(*kinds)}
        for name, mapping in stack.of_type("AWS::Lambda::EventSourceMapping").items():
            properties = mapping["Properties"]
            found["EventSourceMappingUUID"].add(stack.values[name])
            found["Topic"] |= set(stack.value(properties.get("Topics", [])))
            config = properties.get("AmazonManagedKafkaEventSourceConfig", {})
            if "ConsumerGroupId" in config:
                found["Consumer Group"].add(stack.value(config["ConsumerGroupId"]))
        for cluster in stack.of_type(*CLUSTER_TYPES).values():
            brokers = cluster["Properties"].get("NumberOfBrokerNodes")
            count = int(stack.value(brokers)) if brokers is not None else 0
            found["Broker ID"] |= {str(broker) for broker in range(1, count + 1)}
        for topic in stack.of_type("AWS::MSK::Topic").values():
            found["Topic"].add(stack.value(topic["Properties"]["TopicName"]))
        found["StateMachineArn"] |= {
            stack.values[name] for name in stack.of_type("AWS::StepFunctions::StateMachine")
        }
        found["Cluster Name"] |= {m.group(1) for v in stack.params.values() if (m := CLUSTER_ARN.match(v))}
    return found


def function_services(deployed: Deployment) -> dict[str, str]:
    """Function name -> the Powertools service name it emits its own metrics under."""
    services = {}
    for stack in deployed.all_stacks():
        for name, function in stack.of_type("AWS::Lambda::Function").items():
            variables = function["Properties"].get("Environment", {}).get("Variables", {})
            if "POWERTOOLS_SERVICE_NAME" in variables:
                services[stack.names[name]] = str(stack.value(variables["POWERTOOLS_SERVICE_NAME"]))
    return services


def dimension_problems(deployed: Deployment, metrics: list[tuple[str, dict[str, str]]]) -> list[str]:
    """(where, dimensions) of each metric whose dimension values do not name a resource of the deployment;
    `service` must be the Powertools service of the function the same metric names."""
    known = dimension_values(deployed)
    services = function_services(deployed)
    problems = []
    for where, dimensions in metrics:
        for dimension, value in dimensions.items():
            if dimension == "service":
                function = dimensions.get("FunctionName")
                expected = {services[function]} if function in services else set(services.values())
                if value not in expected:
                    problems.append(
                        f"{where}: service={value!r} is not the service of {function or 'a function'}"
                    )
            elif dimension not in KNOWN_DIMENSIONS:
                problems.append(
                    f"{where}: dimension {dimension!r} is not one this test can trace to a resource"
                )
            elif value not in known.get(dimension, set()):
                problems.append(f"{where}: {dimension}={value!r} names no resource of the deployment")
    return problems


def dashboard_metrics(body: str) -> list[tuple[str, dict[str, str]]]:
    """(widget, dimensions) of every metric the dashboard names."""
    return [(m.widget, dict(m.dimensions)) for m in metric_references(parse_body(body))]


def alarm_metrics(deployed: Deployment) -> list[tuple[str, dict[str, str]]]:
    """(alarm, dimensions) of every metric an alarm of the deployment watches (metric math included)."""
    found = []
    for stack in deployed.all_stacks():
        for name, alarm in alarms(stack).items():
            properties = stack.value(alarm["Properties"])
            queries = [q["MetricStat"]["Metric"] for q in properties.get("Metrics", []) if "MetricStat" in q]
            for metric in [properties, *queries]:
                if "MetricName" in metric:
                    dimensions = {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}
                    found.append((f"{stack.logical_id}.{name}", dimensions))
    return found


@pytest.mark.parametrize(("option", "mode"), ROWS)
def test_every_dashboard_dimension_names_a_resource_of_the_deployment(option: str, mode: str) -> None:
    deployed = deployment(option, mode)
    body = dashboard_body(deployed)
    assert dimension_problems(deployed, dashboard_metrics(body)) == []
    # And the alarm widgets show alarms of this deployment
    arns = {
        f"arn:aws:cloudwatch:{stack.values['AWS::Region']}:{stack.values['AWS::AccountId']}:alarm:"
        f"{stack.names[name]}"
        for stack in deployed.all_stacks()
        for name in stack.of_type(*ALARM_TYPES)
    }
    assert [(widget, arn) for widget, arn in alarm_arns(parse_body(body)) if arn not in arns] == []


@pytest.mark.parametrize(("option", "mode"), ROWS)
def test_every_alarm_dimension_names_a_resource_of_the_deployment(option: str, mode: str) -> None:
    deployed = deployment(option, mode)
    assert dimension_problems(deployed, alarm_metrics(deployed)) == []


# ---------------------------------------------------------------------------------------------- plants
def planted(option: str, mode: str, mutate: Callable[[dict[str, Any]], None]) -> Deployment:
    """The row deployed with a mutated copy of nested/monitoring.yaml."""
    template = translate(REPO / "nested/monitoring.yaml")
    mutate(template)
    return deploy(given={"DeploymentOption": option} | CLUSTER_MODES[mode], nested={MONITORING: template})


def body_pieces(template: dict[str, Any]) -> list[Any]:
    """The pieces nested/monitoring.yaml joins into its DashboardBody."""
    pieces: list[Any] = template["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Join"][1]
    return pieces


def _text(node: Any) -> str:
    return json.dumps(node)


def test_a_widget_naming_a_function_that_is_not_deployed_is_caught() -> None:
    # Given the consumer's row reads the forwarder's function name, empty when only the consumer is deployed
    def swap(template: dict[str, Any]) -> None:
        for piece in body_pieces(template):
            if "Consumer's own metrics" in _text(piece):
                text = piece["Fn::If"][1]["Fn::Sub"]
                piece["Fn::If"][1]["Fn::Sub"] = text.replace(
                    "${ConsumerFunctionName}", "${ForwarderFunctionName}"
                )

    deployed = planted("LambdaConsumer", "existing-cluster", swap)
    problems = dimension_problems(deployed, dashboard_metrics(dashboard_body(deployed)))
    assert any("FunctionName=''" in problem for problem in problems), problems


def test_a_widget_naming_a_resource_of_another_deployment_is_caught() -> None:
    # Given a widget hard-codes a function name (another stack's)
    def hard_code(template: dict[str, Any]) -> None:
        pieces = body_pieces(template)
        pieces.insert(
            1,
            ',{"type":"metric","width":8,"height":6,"properties":{"region":"us-east-1","metrics":'
            '[["AWS/Lambda","Errors","FunctionName","other-stack-ConsumerFunction-1ABC"]]}}',
        )

    deployed = planted("LambdaConsumer", "new-cluster", hard_code)
    problems = dimension_problems(deployed, dashboard_metrics(dashboard_body(deployed)))
    assert any("other-stack-ConsumerFunction-1ABC" in problem for problem in problems), problems


def test_a_service_dimension_of_another_function_is_caught() -> None:
    def wrong_service(template: dict[str, Any]) -> None:
        for piece in body_pieces(template):
            if "Consumer's own metrics" in _text(piece):
                text = piece["Fn::If"][1]["Fn::Sub"]
                piece["Fn::If"][1]["Fn::Sub"] = text.replace('"service","consumer"', '"service","producer"')

    deployed = planted("LambdaConsumer", "new-cluster", wrong_service)
    problems = dimension_problems(deployed, dashboard_metrics(dashboard_body(deployed)))
    assert any("service='producer'" in problem for problem in problems), problems


def test_a_row_for_an_absent_component_and_a_missing_row_are_caught() -> None:
    # Given the consumer's row is shown whatever is deployed (here: the REST API only), and the forwarder's
    # row is never shown
    def always_consumer_never_forwarder(template: dict[str, Any]) -> None:
        template["Conditions"]["HasConsumer"] = {"Fn::Equals": ["a", "a"]}
        template["Conditions"]["HasForwarder"] = {"Fn::Equals": ["a", "b"]}

    deployed = planted("ClusterWithRestApi", "new-cluster", always_consumer_never_forwarder)
    assert any("no deployed component" in p for p in row_problems(deployed, dashboard_body(deployed)))
    deployed = planted("LambdaFirehoseS3", "new-cluster", always_consumer_never_forwarder)
    assert any(
        "ArchiveForwarder is deployed and has 0 rows" in p
        for p in row_problems(deployed, dashboard_body(deployed))
    )


def test_a_body_cloudwatch_refuses_is_caught() -> None:
    # Given a row piece that loses its leading comma (invalid JSON), and a metric widget without a region
    def break_json(template: dict[str, Any]) -> None:
        pieces = body_pieces(template)
        pieces.insert(
            1, '{"type":"metric","width":8,"height":6,"properties":{"metrics":[["AWS/Lambda","Errors"]]}}'
        )

    deployed = planted("LambdaConsumer", "new-cluster", break_json)
    assert any("is not JSON" in p for p in body_problems(dashboard_body(deployed)))

    def no_region(template: dict[str, Any]) -> None:
        pieces = body_pieces(template)
        pieces.insert(
            1,
            ',{"type":"metric","width":8,"height":6,"properties":{"period":90,"metrics":[["AWS/Lambda","Errors"]]}}',
        )

    problems = body_problems(dashboard_body(planted("LambdaConsumer", "new-cluster", no_region)))
    assert any("has no region" in p for p in problems), problems
    assert any("period 90" in p for p in problems), problems


def test_an_alarm_the_composite_alarm_does_not_watch_is_caught() -> None:
    # Given the composite alarm forgets the consumer's alarms
    def forget_consumer(template: dict[str, Any]) -> None:
        rule = template["Resources"]["PipelineUnhealthyAlarm"]["Properties"]["AlarmRule"]
        rule["Fn::Join"][1] = [item for item in rule["Fn::Join"][1] if item != {"Ref": "ConsumerAlarms"}]

    problems = composite_problems(planted("LambdaConsumer", "new-cluster", forget_consumer))
    assert any("does not watch" in p and "FunctionErrorsAlarm" in p for p in problems), problems


def test_a_component_without_alarms_and_an_alarm_notifying_elsewhere_are_caught() -> None:
    # Given the archive stream's template without its alarms, and the consumer's errors alarm notifying a
    # topic of its own when it clears
    firehose = translate(REPO / "nested/firehose-delivery.yaml")
    firehose["Resources"] = {n: r for n, r in firehose["Resources"].items() if r["Type"] not in ALARM_TYPES}
    firehose["Outputs"]["AlarmRule"]["Value"] = "FALSE"
    consumer = translate(REPO / "nested/kafka-function.yaml")
    consumer["Resources"]["FunctionErrorsAlarm"]["Properties"]["OKActions"] = [
        "arn:aws:sns:us-east-1:1:other"
    ]
    deployed = deploy(
        given={"DeploymentOption": "All"}, nested={"FirehoseArchive": firehose, "LambdaConsumer": consumer}
    )
    problems = alarm_problems(deployed)
    assert "FirehoseArchive is deployed without an enabled AWS::CloudWatch::Alarm" in problems
    assert any(p.startswith("LambdaConsumer.FunctionErrorsAlarm OKActions") for p in problems), problems
    # And a template whose alarm notifies anything but its AlarmTopicArn parameter fails the generic check
    assert not _actions_are_the_topic_parameter(consumer, ["arn:aws:sns:us-east-1:1:other"])
    assert not _actions_are_the_topic_parameter(
        consumer, {"Fn::If": ["IsConsumer", [{"Ref": "AlarmTopicArn"}], [{"Ref": "KeyArn"}]]}
    )
    assert _actions_are_the_topic_parameter(consumer, [{"Ref": "AlarmTopicArn"}])


# Every cluster type a new cluster can be: the stacks between them pass values (alarm rules, names) that only
# exist once the cluster's stack has run, so the constraints of what they are passed are checked here, on
# each option row, and not by cfn-lint. Express brokers need three zones, three replicas and their versions
# (the root's rules).
EXPRESS_NEEDS = {
    "Express": {"AvailabilityZoneCount": "3", "TopicReplicationFactor": "3", "KafkaVersion": "3.9.x.kraft"}
}
CLUSTER_TYPE_ROWS = [
    (option, {"ClusterType": cluster_type} | EXPRESS_NEEDS.get(cluster_type, {}))
    for option in OPTIONS
    for cluster_type in ("Provisioned", "Express", "Serverless")
] + [(option, EXISTING_CLUSTER) for option in OPTIONS]


@pytest.mark.parametrize(("option", "given"), CLUSTER_TYPE_ROWS, ids=lambda value: str(value)[:60])
def test_every_nested_stack_accepts_what_the_root_passes_it(option: str, given: dict[str, str]) -> None:
    # Given the deployment of the option row, each nested stack with the values the root passes it (other
    # stacks' outputs included)
    deployed = deploy(given={"DeploymentOption": option} | given)
    # Then CloudFormation would accept every value: AllowedValues, AllowedPattern, lengths, number ranges
    # (values the model cannot give in their service's form are left out: attributes it only names, such as
    # <BrokerLookup.BootstrapServers>, and EC2 IDs, which it writes as generated names)
    refused = {
        stack.logical_id: problems
        for stack in deployed.stacks.values()
        if (problems := parameter_violations(stack.template, _modelled(stack.params)))
    }
    assert refused == {}


def _modelled(params: dict[str, str]) -> dict[str, str]:
    return {
        name: value
        for name, value in params.items()
        if "<" not in value and not re.search(r"-(?:PrivateSubnet[ABC]|SecurityGroup)", value)
    }
