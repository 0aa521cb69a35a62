"""The AWS emulation creates in moto what a template declares, under the local names."""

from __future__ import annotations

from pathlib import Path

from local import aws
from local.functions import LOCAL_ACCOUNT, REPO, local_name

MONITORING_TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  ErrorThreshold:
    Type: Number
    Default: 5
  EnableIteratorAgeAlarm:
    Type: String
    Default: "false"
Conditions:
  IteratorAgeAlarm: !Equals [!Ref EnableIteratorAgeAlarm, "true"]
Resources:
  AlarmTopic:
    Type: AWS::SNS::Topic
  ConsumerFunction:
    Type: AWS::Serverless::Function
  ConsumerErrorsAlarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmDescription: The consumer function fails
      Namespace: AWS/Lambda
      MetricName: Errors
      Dimensions:
        - Name: FunctionName
          Value: !Ref ConsumerFunction
      Statistic: Sum
      Period: 60
      EvaluationPeriods: 1
      Threshold: !Ref ErrorThreshold
      ComparisonOperator: GreaterThanOrEqualToThreshold
      TreatMissingData: notBreaching
      AlarmActions: [!Ref AlarmTopic]
      OKActions: [!Ref AlarmTopic]
  IteratorAgeAlarm:
    Type: AWS::CloudWatch::Alarm
    Condition: IteratorAgeAlarm
    Properties:
      Namespace: AWS/Lambda
      MetricName: OffsetLag
      Statistic: Maximum
      Period: 60
      EvaluationPeriods: 1
      Threshold: 1000
      ComparisonOperator: GreaterThanThreshold
"""


def test_topics_and_alarms_are_created_with_references_resolved(moto_endpoint: str, tmp_path: Path) -> None:
    template = tmp_path / "monitoring.yaml"
    template.write_text(MONITORING_TEMPLATE)

    created = aws.create_template_resources(moto_endpoint, template)

    topic_arn = created["AlarmTopic"]
    assert topic_arn.endswith(":local-alarmtopic")
    assert [t["TopicArn"] for t in aws.client("sns", moto_endpoint).list_topics()["Topics"]] == [topic_arn]
    alarms = aws.client("cloudwatch", moto_endpoint).describe_alarms()["MetricAlarms"]
    # The alarm behind a false condition is not created
    assert [a["AlarmName"] for a in alarms] == ["local-consumererrorsalarm"]
    alarm = alarms[0]
    assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": local_name("ConsumerFunction")}]
    assert alarm["Threshold"] == 5.0
    assert alarm["AlarmActions"] == [topic_arn]
    assert alarm["OKActions"] == [topic_arn]
    assert (alarm["MetricName"], alarm["Statistic"], alarm["TreatMissingData"]) == (
        "Errors",
        "Sum",
        "notBreaching",
    )


def test_the_ingest_api_template_gives_its_user_pool_and_clients(moto_endpoint: str) -> None:
    created = aws.create_template_resources(moto_endpoint, REPO / "nested" / "ingest-api.yaml")
    cognito = aws.client("cognito-idp", moto_endpoint)
    machine = cognito.describe_user_pool_client(
        UserPoolId=created["UserPool"], ClientId=created["MachineClient"]
    )
    assert machine["UserPoolClient"]["AllowedOAuthFlows"] == ["client_credentials"]
    servers = cognito.list_resource_servers(UserPoolId=created["UserPool"], MaxResults=10)["ResourceServers"]
    assert [scope["ScopeName"] for server in servers for scope in server["Scopes"]] == ["write"]


def test_the_archive_templates_give_their_buckets_and_delivery_stream(moto_endpoint: str) -> None:
    created = aws.create_template_resources(moto_endpoint, REPO / "nested" / "firehose-delivery.yaml")
    created |= aws.create_template_resources(moto_endpoint, REPO / "nested" / "kafka-function.yaml")
    buckets = {b["Name"] for b in aws.client("s3", moto_endpoint).list_buckets()["Buckets"]}
    assert {created["ArchiveBucket"], created["FailedBatchesBucket"]} <= buckets
    stream = aws.client("firehose", moto_endpoint).describe_delivery_stream(
        DeliveryStreamName=created["DeliveryStream"]
    )
    destination = stream["DeliveryStreamDescription"]["Destinations"][0]["ExtendedS3DestinationDescription"]
    assert destination["BucketARN"] == f"arn:aws:s3:::{created['ArchiveBucket']}"
    assert destination["RoleARN"] == f"arn:aws:iam::{LOCAL_ACCOUNT}:role/{local_name('DeliveryRole')}"


CONDITIONAL_TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  OnFailureDestination:
    Type: String
    Default: S3
Conditions:
  FailuresToS3: !Equals [!Ref OnFailureDestination, S3]
  FailuresToSqs: !Equals [!Ref OnFailureDestination, SQS]
Resources:
  FailuresBucket:
    Type: AWS::S3::Bucket
    Condition: FailuresToS3
  FailuresQueue:
    Type: AWS::SQS::Queue
    Condition: FailuresToSqs
  QueueLogGroup:
    Type: AWS::Logs::LogGroup
    Condition: FailuresToSqs
  QueueUserPool:
    Type: AWS::Cognito::UserPool
    Condition: FailuresToSqs
  QueueAlarmTopic:
    Type: AWS::SNS::Topic
    Condition: FailuresToSqs
"""


def test_resources_behind_a_false_condition_are_not_created(moto_endpoint: str, tmp_path: Path) -> None:
    template = tmp_path / "conditional.yaml"
    template.write_text(CONDITIONAL_TEMPLATE)

    created = aws.create_template_resources(moto_endpoint, template)

    assert created == {"FailuresBucket": local_name("FailuresBucket")}
    assert [b["Name"] for b in aws.client("s3", moto_endpoint).list_buckets()["Buckets"]] == [
        local_name("FailuresBucket")
    ]
    assert "QueueUrls" not in aws.client("sqs", moto_endpoint).list_queues()
    log_groups = aws.client("logs", moto_endpoint).describe_log_groups()["logGroups"]
    assert local_name("QueueLogGroup") not in {group["logGroupName"] for group in log_groups}
    assert aws.client("cognito-idp", moto_endpoint).list_user_pools(MaxResults=10)["UserPools"] == []
    assert aws.client("sns", moto_endpoint).list_topics()["Topics"] == []
