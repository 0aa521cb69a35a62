"""`make demo`'s monitoring: for each option, moto holds the alarms, the composite alarm and the dashboard
the option's translated templates declare, read back through CloudWatch's API."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from local import aws
from local.cfn import enabled_resources, evaluate
from local.option_stack import INGEST_API, OPTIONS
from local.root_stack import create_option_resources, local_applications
from tests.templates.sam_offline import translate


@dataclass(frozen=True)
class Declared:
    """What the option's templates, as the SAM transform makes them, declare for its parameter values."""

    alarms: int
    composite_alarms: int
    dashboards: int
    rows: int  # full-width text widgets: one at the head of each row


def declared(option: str) -> Declared:
    """Counted in the translated templates of the option's applications, with the values the root passes."""
    counts = {
        "AWS::CloudWatch::Alarm": 0,
        "AWS::CloudWatch::CompositeAlarm": 0,
        "AWS::CloudWatch::Dashboard": 0,
    }
    rows = 0
    for application in local_applications(option):
        template = translate(application.template)
        params = aws.LOCAL_PSEUDO_PARAMETERS | application.parameters
        for logical_id, kind in enabled_resources(template, params).items():
            if kind not in counts:
                continue
            counts[kind] += 1
            if kind == "AWS::CloudWatch::Dashboard":
                body = template["Resources"][logical_id]["Properties"]["DashboardBody"]
                widgets = json.loads(evaluate(template, params, body))["widgets"]
                rows += sum(1 for w in widgets if w["type"] == "text" and w["width"] == 24)
    return Declared(*counts.values(), rows)


@pytest.mark.parametrize("option", OPTIONS)
def test_moto_holds_what_the_translated_templates_declare(option: str, moto_endpoint: str) -> None:
    create_option_resources(moto_endpoint, option, INGEST_API)  # as make demo does

    found = aws.monitoring_in_moto(moto_endpoint)

    expected = declared(option)
    assert (len(found.alarms), len(found.composite_alarms), len(found.dashboards)) == (
        expected.alarms,
        expected.composite_alarms,
        expected.dashboards,
    )
    assert expected.composite_alarms == expected.dashboards == 1
    assert sum(len(rows) for rows in found.dashboards.values()) == expected.rows
    # The alarms have actions (the foundation's topic, created in moto); the dashboard is the option's
    topic = f"arn:aws:sns:{aws.LOCAL_REGION}:{aws.LOCAL_ACCOUNT}:local-alarmtopic"
    described = aws.client("cloudwatch", moto_endpoint).describe_alarms()
    assert all(a["AlarmActions"] == a["OKActions"] == [topic] for a in described["MetricAlarms"])
    assert list(found.dashboards) == [f"local-{option}"]


@pytest.mark.parametrize("option", OPTIONS)
def test_the_composite_alarm_watches_every_alarm_of_the_option(option: str, moto_endpoint: str) -> None:
    create_option_resources(moto_endpoint, option, INGEST_API)

    found = aws.monitoring_in_moto(moto_endpoint)

    (composite,) = found.composite_alarms
    watched = re.findall(r'ALARM\("([^"]+)"\)', composite["AlarmRule"])
    assert sorted(watched) == sorted(found.alarms)


def test_a_template_nested_twice_has_two_sets_of_alarms(moto_endpoint: str) -> None:
    # All nests nested/kafka-function.yaml as the consumer and as the archive's forwarder
    create_option_resources(moto_endpoint, "All")

    alarms = aws.monitoring_in_moto(moto_endpoint).alarms

    consumer = {name.removeprefix("local-lambdaconsumer-") for name in alarms if "-lambdaconsumer-" in name}
    forwarder = {
        name.removeprefix("local-archiveforwarder-") for name in alarms if "-archiveforwarder-" in name
    }
    assert consumer == forwarder
    assert "functionerrorsalarm" in consumer


WATCHED_TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  PeriodSeconds:
    Type: Number
    Default: 300
  ReturnsData:
    Type: String
    Default: "true"
Resources:
  Topic:
    Type: AWS::SNS::Topic
  SlowAlarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmActions: [!Ref Topic]
      Metrics:
        - Id: longest
          ReturnData: false
          MetricStat:
            Metric: { Namespace: AWS/Lambda, MetricName: Duration }
            Stat: Maximum
            Period: !Ref PeriodSeconds
        - Id: seconds
          Expression: longest / 1000
          ReturnData: !Ref ReturnsData
      EvaluationPeriods: 1
      Threshold: 10
      ComparisonOperator: GreaterThanThreshold
  Unhealthy:
    Type: AWS::CloudWatch::CompositeAlarm
    Properties:
      AlarmName: !Sub "${AWS::StackName}-unhealthy"
      AlarmRule: !Sub 'ALARM("${SlowAlarm}")'
      AlarmActions: [!Ref Topic]
  Board:
    Type: AWS::CloudWatch::Dashboard
    Properties:
      DashboardBody: !Sub >-
        {"widgets":[{"type":"alarm","width":24,"properties":{"title":"health","alarms":["${Unhealthy.Arn}"]}},
        {"type":"text","width":24,"height":1,"properties":{"markdown":"## Slow: in ${AWS::Region}"}}]}
"""


def test_alarms_composite_alarms_and_dashboards_are_created_with_references_resolved(
    moto_endpoint: str, tmp_path: Path
) -> None:
    template = tmp_path / "watched.yaml"
    template.write_text(WATCHED_TEMPLATE)

    created = aws.create_template_resources(moto_endpoint, template, stack="Component")

    cloudwatch = aws.client("cloudwatch", moto_endpoint)
    (alarm,) = cloudwatch.describe_alarms()["MetricAlarms"]
    assert alarm["AlarmName"] == created["SlowAlarm"] == "local-component-slowalarm"
    assert [query.get("MetricStat", {}).get("Period") for query in alarm["Metrics"]] == [300, None]
    assert [query["ReturnData"] for query in alarm["Metrics"]] == [False, True]
    found = aws.monitoring_in_moto(moto_endpoint)
    (composite,) = found.composite_alarms
    assert (composite["AlarmName"], composite["AlarmRule"]) == (
        "local-unhealthy",
        'ALARM("local-component-slowalarm")',
    )
    assert composite["AlarmActions"] == [created["Topic"]]
    assert found.dashboards == {"local-board": ["Slow"]}
    body = json.loads(cloudwatch.get_dashboard(DashboardName="local-board")["DashboardBody"])
    assert body["widgets"][0]["properties"]["alarms"] == [composite["AlarmArn"]]
    assert body["widgets"][1]["properties"]["markdown"] == f"## Slow: in {aws.LOCAL_REGION}"


def test_without_monitoring_a_template_gets_no_alarms(moto_endpoint: str, tmp_path: Path) -> None:
    template = tmp_path / "watched.yaml"
    template.write_text(WATCHED_TEMPLATE)

    created = aws.create_template_resources(moto_endpoint, template, monitoring=False)

    assert set(created) == {"Topic"}
    found = aws.monitoring_in_moto(moto_endpoint)
    assert (found.alarms, found.composite_alarms, found.dashboards) == ([], [], {})
