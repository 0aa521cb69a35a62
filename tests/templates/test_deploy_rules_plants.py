"""Each deploy rule catches its mistake: planted in a copy of a real template of this repository (in memory,
or written to tmp_path where the SAM transform has to run on it), the rule reports the resource. Where a
rule has a judgement to make, the same copy with the mistake fixed shows the rule does not over-report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.templates import deploy_rules as rules
from tests.templates.deploy_rules import TemplateUnderTest
from tests.templates.deployment import deploy
from tests.templates.sam_offline import REPO

ROOT = "template.yaml"
FIREHOSE = "nested/firehose-delivery.yaml"
KAFKA_FUNCTION = "nested/kafka-function.yaml"
INGEST = "nested/ingest-api.yaml"
CLUSTER = "nested/msk-cluster.yaml"
NETWORK = "nested/network.yaml"
ENDPOINTS = "nested/vpc-endpoints.yaml"


def real(name: str) -> TemplateUnderTest:
    """A fresh copy of a repository template (its source and translation may be changed freely)."""
    return TemplateUnderTest.read(REPO / name)


def transformed(tmp_path: Path, template: TemplateUnderTest) -> TemplateUnderTest:
    """`template` with its (planted) source written to tmp_path and run through the SAM transform."""
    path = tmp_path / template.name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(template.source))
    return TemplateUnderTest.read(path, template.name)


def statement(document: dict[str, Any], resource: str, sid: str) -> dict[str, Any]:
    """The policy statement `sid` of a resource (wherever in its properties it is)."""
    for node in rules._walk(document["Resources"][resource]):
        if isinstance(node, dict) and node.get("Sid") == sid:
            return node
    raise KeyError(f"{resource} has no statement {sid}")


def reported(messages: list[str], *fragments: str) -> bool:
    """Whether one message contains every fragment."""
    return any(all(fragment in message for fragment in fragments) for message in messages)


# ---------------------------------------------------------------------------- kms-context-matches-bucket-key
S3_CONTEXT = "kms:EncryptionContext:aws:s3:arn"
ARCHIVE_ARN = {"Fn::GetAtt": ["ArchiveBucket", "Arn"]}
ARCHIVE_OBJECTS = {"Fn::Sub": "${ArchiveBucket.Arn}/*"}


def archive_context(template: TemplateUnderTest) -> dict[str, Any]:
    """The conditions of the Firehose role's statement that encrypts the archive (translated template)."""
    conditions: dict[str, Any] = statement(template.translated, "DeliveryRole", "EncryptTheArchive")[
        "Condition"
    ]
    return conditions


def test_kms_context_on_objects_only_with_a_bucket_key_is_caught() -> None:
    # Given the archive bucket uses an S3 Bucket Key and the Firehose role's condition names only objects (R1)
    template = real(FIREHOSE)
    archive_context(template)["StringLike"][S3_CONTEXT] = ARCHIVE_OBJECTS
    # Then the rule reports the role
    assert reported(
        rules.kms_context_matches_bucket_key(template), "DeliveryRole", "ArchiveBucket", "Bucket Key"
    )


def test_kms_context_on_the_bucket_only_without_a_bucket_key_is_caught() -> None:
    # Given the archive bucket has no Bucket Key and the condition names only the bucket ARN
    template = real(FIREHOSE)
    encryption = template.translated["Resources"]["ArchiveBucket"]["Properties"]["BucketEncryption"]
    encryption["ServerSideEncryptionConfiguration"][0]["BucketKeyEnabled"] = False
    archive_context(template)["StringLike"][S3_CONTEXT] = ARCHIVE_ARN
    assert reported(rules.kms_context_matches_bucket_key(template), "DeliveryRole", "objects")
    # And naming the objects instead satisfies it
    archive_context(template)["StringLike"][S3_CONTEXT] = [ARCHIVE_OBJECTS]
    assert rules.kms_context_matches_bucket_key(template) == []


def test_kms_context_in_one_fn_if_branch_is_caught() -> None:
    template = real(FIREHOSE)
    template.translated["Conditions"] = template.translated.get("Conditions", {}) | {
        "Never": {"Fn::Equals": [1, 2]}
    }
    archive_context(template)["StringLike"][S3_CONTEXT] = {
        "Fn::If": ["Never", ARCHIVE_OBJECTS, [ARCHIVE_ARN, ARCHIVE_OBJECTS]]
    }
    assert reported(rules.kms_context_matches_bucket_key(template), "DeliveryRole", "Bucket Key")


def test_kms_context_in_a_sam_function_policy_is_caught(tmp_path: Path) -> None:
    # Given the consumer function's own SAM Policies get an object-only condition on its failed batches' key
    template = real(KAFKA_FUNCTION)
    template.source["Resources"]["ConsumerFunction"]["Properties"]["Policies"].append(
        {
            "Statement": [
                {
                    "Sid": "ReadFailedBatches",
                    "Effect": "Allow",
                    "Action": "kms:Decrypt",
                    "Resource": {"Ref": "KeyArn"},
                    "Condition": {"StringLike": {S3_CONTEXT: {"Fn::Sub": "${FailedBatchesBucket.Arn}/*"}}},
                }
            ]
        }
    )
    # Then the role SAM generates for it is reported (the bucket uses an S3 Bucket Key)
    messages = rules.kms_context_matches_bucket_key(transformed(tmp_path, template))
    assert reported(messages, "ConsumerFunctionRole", "FailedBatchesBucket", "Bucket Key")


# -------------------------------------------------------------------------------- no-suffix-on-log-group-arn
@pytest.mark.parametrize(
    "resource",
    [
        {"Fn::Sub": "${DeliveryLogGroup.Arn}:log-stream:S3Delivery"},
        {
            "Fn::Sub": [
                "${Group}:log-stream:S3Delivery",
                {"Group": {"Fn::GetAtt": ["DeliveryLogGroup", "Arn"]}},
            ]
        },
        {"Fn::Join": ["", [{"Fn::GetAtt": "DeliveryLogGroup.Arn"}, ":log-stream:S3Delivery"]]},
    ],
    ids=["sub", "sub-variable", "join"],
)
def test_a_suffix_on_a_log_group_arn_is_caught(resource: dict[str, Any]) -> None:
    # Given the Firehose role's log statement appends the stream to the group's Arn attribute (R2)
    template = real(FIREHOSE)
    statement(template.translated, "DeliveryRole", "LogDeliveryErrors")["Resource"] = resource
    assert reported(rules.no_suffix_on_log_group_arn(template), "DeliveryRole", "DeliveryLogGroup.Arn")


def test_a_log_group_arn_used_as_it_is_is_fine() -> None:
    template = real(FIREHOSE)
    log = statement(template.translated, "DeliveryRole", "LogDeliveryErrors")
    log["Resource"] = [{"Fn::GetAtt": ["DeliveryLogGroup", "Arn"]}, {"Fn::Join": ["", [ARCHIVE_ARN, "/x"]]}]
    assert rules.no_suffix_on_log_group_arn(template) == []


# ----------------------------------------------------------------------------------------- no-implicit-stage
def test_an_api_without_openapi_version_is_caught(tmp_path: Path) -> None:
    # Given the API loses OpenApiVersion, so SAM builds a Swagger 2.0 body with its implicit Stage (S1)
    template = real(INGEST)
    template.source["Resources"]["Api"]["Properties"].pop("OpenApiVersion", None)
    # Then the deployment SAM generates is reported
    assert reported(rules.no_implicit_stage(transformed(tmp_path, template)), "ApiDeployment", "'Stage'")


def test_a_stage_named_stage_is_caught() -> None:
    template = real(INGEST)
    template.translated["Resources"]["ApiStage"]["Properties"]["StageName"] = "Stage"
    assert reported(rules.no_implicit_stage(template), "ApiStage")


# -------------------------------------------------------------------------- stage-logging-needs-account-role
def test_access_logs_without_the_account_role_are_caught(tmp_path: Path) -> None:
    # Given the API no longer depends on the resource that sets the account's CloudWatch Logs role (D1)
    template = real(INGEST)
    template.source["Resources"]["Api"].pop("DependsOn")
    # Then its stage, which has access logs, is reported
    assert reported(rules.stage_logging_needs_account_role(transformed(tmp_path, template)), "ApiStage")


def test_execution_logging_without_the_account_role_is_caught() -> None:
    # Given a stage without access logs but with INFO execution logging, and no account role at all
    template = real(INGEST)
    resources = template.translated["Resources"]
    for name in [n for n, r in resources.items() if rules.sets_account_role(r)]:
        del resources[name]
    stage = resources["ApiStage"]["Properties"]
    del stage["AccessLogSetting"]
    stage["MethodSettings"][0]["LoggingLevel"] = "INFO"
    assert reported(rules.stage_logging_needs_account_role(template), "ApiStage")
    # And a stage that does not log needs no role
    stage["MethodSettings"][0]["LoggingLevel"] = "OFF"
    assert rules.stage_logging_needs_account_role(template) == []


# ---------------------------------------------------------------------------- usage-plans-need-api-keys
def _with_usage_plan(template: TemplateUnderTest) -> TemplateUnderTest:
    template.source["Resources"]["ApiUsagePlan"] = {
        "Type": "AWS::ApiGateway::UsagePlan",
        "DependsOn": "ApiStage",
        "Properties": {
            "ApiStages": [{"ApiId": {"Ref": "Api"}, "Stage": {"Ref": "StageName"}}],
            "Throttle": {"RateLimit": 10, "BurstLimit": 20},
        },
    }
    return template


def test_a_usage_plan_on_methods_without_api_keys_is_caught(tmp_path: Path) -> None:
    planted = transformed(tmp_path, _with_usage_plan(real(INGEST)))
    assert reported(rules.usage_plans_need_api_keys(planted), "ApiUsagePlan", "POST /topics/{topic}/records")


def test_a_usage_plan_on_methods_requiring_api_keys_is_fine(tmp_path: Path) -> None:
    template = _with_usage_plan(real(INGEST))
    template.source["Resources"]["Api"]["Properties"]["Auth"]["ApiKeyRequired"] = True
    assert rules.usage_plans_need_api_keys(transformed(tmp_path, template)) == []


# ------------------------------------------------------------------------- no-always-on-reserved-concurrency
@pytest.mark.parametrize(
    "reservation",
    [20, {"Ref": "LogRetentionInDays"}, {"Fn::If": ["AlwaysOn", 5, {"Ref": "AWS::NoValue"}]}],
    ids=["literal", "parameter", "if-true-by-default"],
)
def test_reserved_concurrency_on_by_default_is_caught(reservation: Any) -> None:
    # Given the producer function reserves concurrency with the default parameters (D2)
    template = real(INGEST)
    template.translated["Conditions"]["AlwaysOn"] = {"Fn::Equals": ["on", "on"]}
    template.translated["Resources"]["ProducerFunction"]["Properties"]["ReservedConcurrentExecutions"] = (
        reservation
    )
    assert reported(rules.no_always_on_reserved_concurrency(template), "ProducerFunction")


def test_reserved_concurrency_off_by_default_is_fine() -> None:
    template = real(INGEST)
    template.translated["Conditions"]["NeverOn"] = {"Fn::Equals": ["on", "off"]}
    function = template.translated["Resources"]["ProducerFunction"]["Properties"]
    function["ReservedConcurrentExecutions"] = {"Fn::If": ["NeverOn", 5, {"Ref": "AWS::NoValue"}]}
    assert rules.no_always_on_reserved_concurrency(template) == []


# ---------------------------------------------------------------------------- cidr-fits-every-admitted-block
LOOSE_CIDR_PATTERN = r"^(10|172|192)\.\d{1,3}\.\d{1,3}\.\d{1,3}/(1[6-9]|20)$"  # the pattern reviewed in D4


def subnet_cidrs(document: dict[str, Any]) -> list[list[Any]]:
    """The argument lists of every Fn::Cidr of a template (to plant into)."""
    return [
        node["Fn::Cidr"]
        for node in rules._walk(document["Resources"])
        if isinstance(node, dict) and "Fn::Cidr" in node
    ]


def test_a_vpc_cidr_that_admits_a_too_small_block_is_caught() -> None:
    # Given the network's VpcCidr admits a /20, in which six /22 subnets do not fit (D4)
    template = real(NETWORK)
    template.source["Parameters"]["VpcCidr"]["AllowedPattern"] = LOOSE_CIDR_PATTERN
    assert reported(rules.cidr_fits_every_admitted_block(template), "PrivateSubnetA", "/20", "holds 4")


def test_a_too_small_block_admitted_by_the_root_is_caught() -> None:
    # Given the root's VpcCidr, passed to the network stack, admits a /20
    template = real(ROOT)
    template.source["Parameters"]["VpcCidr"]["AllowedPattern"] = LOOSE_CIDR_PATTERN
    assert reported(rules.cidr_fits_every_admitted_block(template), "Network (nested/network.yaml", "/20")


def test_cidr_bits_are_evaluated_for_each_admitted_prefix() -> None:
    # Given Fn::Cidr takes its host bits from a mapping keyed on the block's prefix length
    template = real(NETWORK)
    template.source["Parameters"]["VpcCidr"]["AllowedPattern"] = r"^10\.0\.0\.0/(1[6-9]|20)$"
    prefix = {"Fn::Select": [1, {"Fn::Split": ["/", {"Ref": "VpcCidr"}]}]}
    bits = {"Fn::FindInMap": ["SubnetBits", prefix, "Bits"]}
    for cidr in subnet_cidrs(template.source):
        cidr[2] = bits
    # When the /20 entry keeps 10 host bits, only /20 is reported
    mapping = {str(p): {"Bits": 10} for p in range(16, 21)}
    template.source["Mappings"] = {"SubnetBits": mapping}
    messages = rules.cidr_fits_every_admitted_block(template)
    assert reported(messages, "/20")
    assert not reported(messages, "/19")
    # When it gives /20 nine host bits (six /23s fit), nothing is
    mapping["20"]["Bits"] = 9
    assert rules.cidr_fits_every_admitted_block(template) == []


def test_a_vpc_cidr_that_admits_public_or_misaligned_blocks_is_caught() -> None:
    template = real(NETWORK)
    template.source["Parameters"]["VpcCidr"]["AllowedPattern"] = LOOSE_CIDR_PATTERN
    messages = rules.cidr_parameters_admit_only_private_blocks(template)
    for block in ("172.32.0.0/16", "192.169.0.0/16", "10.20.5.0/16", "10.20.8.0/20"):
        assert reported(messages, "VpcCidr", f"'{block}'"), block


def test_a_vpc_cidr_that_refuses_private_blocks_is_caught() -> None:
    template = real(ROOT)
    template.source["Parameters"]["VpcCidr"]["AllowedPattern"] = r"^10\.\d{1,3}\.0\.0/16$"
    messages = rules.cidr_parameters_admit_only_private_blocks(template)
    assert reported(messages, "VpcCidr", "refuses 172.16.0.0/16")
    assert reported(messages, "VpcCidr", "'10.256.0.0/16'")


# ------------------------------------------------------------------------------------------ data-is-retained
@pytest.mark.parametrize(
    ("name", "resource", "policy"),
    [
        (CLUSTER, "Topic", "DeletionPolicy"),
        (CLUSTER, "ServerlessKafkaTopic", "UpdateReplacePolicy"),
        (FIREHOSE, "ArchiveBucket", "DeletionPolicy"),
        (KAFKA_FUNCTION, "FailedBatchesQueue", "UpdateReplacePolicy"),
    ],
)
def test_data_that_is_not_retained_is_caught(name: str, resource: str, policy: str) -> None:
    # Given a resource holding data loses one of its Retain policies (N1)
    template = real(name)
    template.translated["Resources"][resource][policy] = "Delete"
    assert reported(rules.data_is_retained(template), resource, policy)


def test_a_topic_custom_resource_of_any_type_must_be_retained() -> None:
    # Given the topic custom resource has the generic type and no policies
    template = real(CLUSTER)
    topic = template.translated["Resources"]["ServerlessKafkaTopic"]
    topic["Type"] = "AWS::CloudFormation::CustomResource"
    del topic["DeletionPolicy"]
    assert reported(rules.data_is_retained(template), "ServerlessKafkaTopic", "DeletionPolicy is not Retain")


def test_the_key_of_retained_data_must_be_retained() -> None:
    # Given the key that encrypts a retained queue is deleted with the stack
    template = real(KAFKA_FUNCTION)
    template.translated["Resources"]["FailedBatchesQueue"]["Properties"]["KmsMasterKeyId"] = {
        "Fn::GetAtt": ["QueueKey", "Arn"]
    }
    template.translated["Resources"]["QueueKey"] = {"Type": "AWS::KMS::Key", "Properties": {}}
    assert reported(rules.data_is_retained(template), "QueueKey", "FailedBatchesQueue", "DeletionPolicy")


def test_the_key_another_stack_passes_for_retained_data_must_be_retained() -> None:
    # Given the deployment's key (nested/foundation.yaml) is deleted with the stack, while the archive and the
    # failed batches that the root's other nested stacks encrypt with it are kept
    template = real(ROOT)
    foundation = template.nested("Foundation")
    assert foundation is not None
    foundation.translated["Resources"]["DeploymentKey"]["DeletionPolicy"] = "Delete"
    messages = rules.data_is_retained(template)
    assert reported(messages, "foundation.yaml DeploymentKey", "ArchiveBucket", "FirehoseArchive's KeyArn")
    assert reported(messages, "DeploymentKey", "FailedBatchesQueue", "LambdaConsumer's KeyArn")


# ------------------------------------------------------------------------ vpc-endpoint-service-names-current
@pytest.mark.parametrize(
    "service",
    [
        {"Fn::Sub": "com.amazonaws.${AWS::Region}.kafka"},
        {"Fn::Join": [".", ["com.amazonaws", {"Ref": "AWS::Region"}, "kafka-fips"]]},
        {
            "Fn::If": [
                "Never",
                "com.amazonaws.eu-west-1.sts",
                {"Fn::Sub": "com.amazonaws.${AWS::Region}.kafka"},
            ]
        },
    ],
    ids=["sub", "join-fips", "if-branch"],
)
def test_a_deprecated_endpoint_service_is_caught(service: dict[str, Any]) -> None:
    # Given an interface endpoint of the endpoints stack uses the retired MSK API service name (D3)
    template = real(ENDPOINTS)
    template.translated.setdefault("Conditions", {})["Never"] = {"Fn::Equals": [1, 2]}
    template.translated["Resources"]["StsEndpoint"]["Properties"]["ServiceName"] = service
    assert reported(rules.vpc_endpoint_service_names_current(template), "StsEndpoint", ".kafka")


def test_the_current_msk_api_endpoint_is_fine() -> None:
    template = real(ENDPOINTS)
    endpoint = template.translated["Resources"]["StsEndpoint"]["Properties"]
    endpoint["ServiceName"] = {"Fn::Sub": "aws.api.${AWS::Region}.kafka-api"}
    assert rules.vpc_endpoint_service_names_current(template) == []


# -------------------------------------------------------------------------------- kafka-versions-from-a-list
def test_a_kafka_version_pattern_is_caught() -> None:
    # Given the cluster's version parameter goes back to a pattern (D7)
    template = real(CLUSTER)
    version = template.source["Parameters"]["KafkaVersion"]
    del version["AllowedValues"]
    version["AllowedPattern"] = r"^\d+\.\d+\.(\d+|x)(\.kraft)?$"
    messages = rules.kafka_versions_from_a_list(template)
    assert reported(messages, "KafkaVersion", "AllowedPattern")
    assert reported(messages, "KafkaVersion", "no AllowedValues")


@pytest.mark.parametrize("name", [CLUSTER, ROOT])
def test_an_unsupported_kafka_version_is_caught(name: str) -> None:
    # Given a version whose support ended (or that AWS::MSK::Topic cannot use) is allowed (N5)
    template = real(name)
    template.source["Parameters"]["KafkaVersion"]["AllowedValues"].append("3.6.0")
    assert reported(rules.kafka_versions_from_a_list(template), "KafkaVersion", "'3.6.0'")


def test_a_fixed_unsupported_kafka_version_is_caught() -> None:
    template = real(CLUSTER)
    template.source["Resources"]["Cluster"]["Properties"]["KafkaVersion"] = "2.8.1"
    assert reported(rules.kafka_versions_from_a_list(template), "Cluster", "'2.8.1'")


def without_rules_on(document: dict[str, Any], parameter: str) -> dict[str, Any]:
    """`document` without the Rules that assert something about `parameter`."""
    document["Rules"] = {
        name: rule
        for name, rule in document["Rules"].items()
        if parameter not in rules._references(rule.get("Assertions"))
    }
    return document


@pytest.mark.parametrize("name", [CLUSTER, ROOT])
def test_express_with_a_version_it_does_not_run_is_caught(name: str) -> None:
    # Given no rule restricts Express brokers to their Kafka versions (D7)
    template = real(name)
    without_rules_on(template.source, "KafkaVersion")
    # Then the rule finds, by evaluating the Rules, that Express is accepted with versions it does not run
    messages = rules.kafka_versions_from_a_list(template)
    for version in ("3.9.x", "4.0.x.kraft", "4.1.x.kraft"):
        assert reported(messages, "Cluster", f"Express brokers with KafkaVersion {version} "), version
    assert not reported(messages, "KafkaVersion 3.8.x ")


# --------------------------------------------------------------------------------- nested-rules-hold-in-root
def test_a_nested_rule_missing_from_the_root_is_caught() -> None:
    # Given the root loses its copy of the cluster stack's Express replication rule (N3, D5)
    template = real(ROOT)
    del template.source["Rules"]["ExpressKeepsThreeReplicas"]
    messages = rules.nested_rules_hold_in_root(template)
    assert reported(messages, "Cluster", "nested/msk-cluster.yaml refuses", "ClusterType='Express'")


def test_a_nested_rule_of_an_optional_stack_missing_from_the_root_is_caught() -> None:
    template = real(ROOT)
    without_rules_on(template.source, "ValueSchema")
    messages = rules.nested_rules_hold_in_root(template)
    assert reported(messages, "LambdaConsumer", "nested/kafka-function.yaml refuses", "ValueSchema")


def test_a_root_value_the_nested_stack_does_not_allow_is_caught() -> None:
    # Given the root allows a Kafka version that the cluster stack's parameter does not
    template = real(ROOT)
    template.source["Parameters"]["KafkaVersion"]["AllowedValues"].append("3.7.x")
    messages = rules.nested_rules_hold_in_root(template)
    assert reported(messages, "Cluster", "KafkaVersion='3.7.x' is not an allowed value")


# ------------------------------------------------------------------------- kafka-consumer-groups-per-stack
def test_a_fixed_consumer_group_is_caught() -> None:
    # Given the function template's mapping joins a fixed group, the same for every stack that nests it
    template = real(KAFKA_FUNCTION)
    mapping = template.translated["Resources"]["EventSourceMapping"]["Properties"]
    mapping["AmazonManagedKafkaEventSourceConfig"]["ConsumerGroupId"] = "streaming-consumer"
    assert reported(rules.kafka_consumer_groups_per_stack(template), "EventSourceMapping", "stack's name")
    # And a group that does not change with a create-only property's parameter (the starting position)
    mapping["AmazonManagedKafkaEventSourceConfig"]["ConsumerGroupId"] = {"Fn::Sub": "${AWS::StackName}-group"}
    messages = rules.kafka_consumer_groups_per_stack(template)
    assert reported(messages, "StartingPosition is create-only", "depends on StartingPosition")
    assert reported(messages, "EventSourceArn is create-only", "depends on ClusterArn")
    # And a mapping with no group at all
    del mapping["AmazonManagedKafkaEventSourceConfig"]
    assert reported(rules.kafka_consumer_groups_per_stack(template), "EventSourceMapping", "random")


# ------------------------------------------------------------------- alarm-topic-key-usable-by-cloudwatch
FOUNDATION = "nested/foundation.yaml"
MONITORING = "nested/monitoring.yaml"


def foundation_of(root: TemplateUnderTest) -> TemplateUnderTest:
    """The root's nested/foundation.yaml, whose translation a plant may change."""
    foundation = root.nested("Foundation")
    assert foundation is not None
    return foundation


def test_an_alarm_topic_on_the_aws_managed_key_is_caught() -> None:
    # Given the deployment's alarm topic, which the components' alarms notify, encrypted with alias/aws/sns
    template = real(ROOT)
    topic = foundation_of(template).translated["Resources"]["AlarmTopic"]["Properties"]
    topic["KmsMasterKeyId"] = "alias/aws/sns"
    # Then the rule reports the topic, and how alarms reach it
    messages = rules.alarm_topic_key_usable_by_cloudwatch(template)
    assert reported(messages, "foundation.yaml AlarmTopic", "AWS managed key", "notify it")


def test_an_alarm_topic_key_that_cloudwatch_may_not_use_is_caught() -> None:
    # Given the deployment key's policy without the statement for CloudWatch
    template = real(ROOT)
    key = foundation_of(template).translated["Resources"]["DeploymentKey"]["Properties"]["KeyPolicy"]
    key["Statement"] = [
        s for s in key["Statement"] if s.get("Sid") != "CloudWatchAlarmsPublishToTheEncryptedTopic"
    ]
    messages = rules.alarm_topic_key_usable_by_cloudwatch(template)
    assert reported(messages, "foundation.yaml AlarmTopic", "DeploymentKey", "cloudwatch.amazonaws.com")
    # And one that allows it only kms:Decrypt is caught too
    key["Statement"].append(
        {"Effect": "Allow", "Principal": {"Service": "cloudwatch.amazonaws.com"}, "Action": "kms:Decrypt*"}
    )
    assert reported(rules.alarm_topic_key_usable_by_cloudwatch(template), "DeploymentKey")


def test_an_alarm_of_the_same_template_on_a_topic_with_the_aws_managed_key_is_caught() -> None:
    # Given nested/foundation.yaml alone, with an alarm that notifies its topic, encrypted with alias/aws/sns
    template = real(FOUNDATION)
    resources = template.translated["Resources"]
    resources["AlarmTopic"]["Properties"]["KmsMasterKeyId"] = "alias/aws/sns"
    resources["KeyUsageAlarm"] = {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {"AlarmActions": [{"Ref": "AlarmTopic"}], "MetricName": "x", "Namespace": "y"},
    }
    assert reported(
        rules.alarm_topic_key_usable_by_cloudwatch(template), "AlarmTopic", "its alarms notify it"
    )
    # And without encryption there is nothing to report
    del resources["AlarmTopic"]["Properties"]["KmsMasterKeyId"]
    assert rules.alarm_topic_key_usable_by_cloudwatch(template) == []


# ------------------------------------------------------------------------------ nested-parameter-values-fit
def _doubled_alarm_rule(document: dict[str, Any]) -> None:
    """The component's AlarmRule output names each of its alarms twice."""
    items = document["Outputs"]["AlarmRule"]["Value"]["Fn::Join"][1]
    items.extend(json.loads(json.dumps(items)))


def test_a_passed_value_over_the_parameter_quota_with_the_longest_names_is_caught() -> None:
    # Given the cluster's alarm rule names each alarm twice: under 4,096 bytes with a short stack name...
    template = real(ROOT)
    cluster = template.nested("Cluster")
    assert cluster is not None
    _doubled_alarm_rule(cluster.translated)
    short = deploy(given={"DeploymentOption": "All"}, nested={"Cluster": cluster.translated})
    assert len(short.stacks["Monitoring"].params["ClusterAlarms"]) < rules.PARAMETER_VALUE_BYTES
    # ... but not with the longest names CloudFormation generates: the root passes it to the dashboard stack
    messages = rules.nested_parameter_values_fit(template)
    assert reported(messages, "Monitoring", "passes ClusterAlarms", "quota 4096")


# ------------------------------------------------------------------------------ composite-alarm-rules-fit
def test_a_composite_alarm_rule_over_its_limit_is_caught() -> None:
    # Given the composite alarm's rule names every component's alarms three times
    template = real(ROOT)
    monitoring = template.nested("Monitoring")
    assert monitoring is not None
    rule = monitoring.translated["Resources"]["PipelineUnhealthyAlarm"]["Properties"]["AlarmRule"]
    rule["Fn::Join"][1] = rule["Fn::Join"][1] * 3
    messages = rules.composite_alarm_rules_fit(template)
    assert reported(messages, "Monitoring (nested/monitoring.yaml PipelineUnhealthyAlarm)", "characters long")
    assert reported(messages, "PipelineUnhealthyAlarm", "names 1", "alarms (at most 100)")


def test_a_composite_alarm_rule_of_the_template_itself_is_checked() -> None:
    template = real(MONITORING)
    properties = template.translated["Resources"]["PipelineUnhealthyAlarm"]["Properties"]
    properties["AlarmRule"] = " OR ".join(["FALSE"] * 501)
    assert reported(rules.composite_alarm_rules_fit(template), "PipelineUnhealthyAlarm", "501 elements")


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        (" OR ".join(f'ALARM("a{i}")' for i in range(101)), "names 101 alarms"),
        ("(" * 250 + "TRUE" + ")" * 250, "501 elements"),
        ('ALARM("' + "a" * 10240 + '")', "10249 characters long"),
    ],
)
def test_alarm_rule_limits(rule: str, problem: str) -> None:
    assert reported(rules.alarm_rule_problems(rule), problem)
    assert rules.alarm_rule_problems('ALARM("a") OR (OK(b) AND NOT ALARM("c"))') == []


# ------------------------------------------------------------------------------ metric-math-alarms-fit
def cpu_alarm_metrics(template: TemplateUnderTest) -> list[Any]:
    """The metric math of the cluster's CPU alarm for brokers 1 to 5 (translated template)."""
    metrics: list[Any] = template.translated["Resources"]["CpuBrokers1To5Alarm"]["Properties"]["Metrics"]
    return metrics


def test_a_metric_math_alarm_over_ten_metrics_is_caught() -> None:
    template = real(CLUSTER)
    metrics = cpu_alarm_metrics(template)
    extra = json.loads(json.dumps(next(m for m in metrics if isinstance(m, dict) and "MetricStat" in m)))
    metrics.append(extra | {"Id": "extra1"})
    assert reported(rules.metric_math_alarms_fit(template), "CpuBrokers1To5Alarm", "reads 11 metrics")


@pytest.mark.parametrize("returns", [True, None], ids=["true", "omitted"])
def test_a_metric_math_alarm_returning_two_results_is_caught(returns: bool | None) -> None:
    # Given a second item that returns data (ReturnData true, or omitted: its default is true)
    template = real(CLUSTER)
    metrics = cpu_alarm_metrics(template)
    stat = next(m for m in metrics if isinstance(m, dict) and "MetricStat" in m)
    if returns is None:
        del stat["ReturnData"]
    else:
        stat["ReturnData"] = returns
    assert reported(
        rules.metric_math_alarms_fit(template), "CpuBrokers1To5Alarm", "2 items that can return data"
    )


# ------------------------------------------------------------------------------ alarm-evaluation-ranges-fit
@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"EvaluationPeriods": 1441}, "evaluates 1441 periods of 60 s"),
        ({"Period": 3600, "EvaluationPeriods": 169}, "evaluates 169 periods of 3600 s"),
        ({"Period": 90}, "has period 90"),
    ],
)
def test_an_alarm_evaluation_range_cloudwatch_refuses_is_caught(change: dict[str, int], problem: str) -> None:
    template = real(KAFKA_FUNCTION)
    template.source["Resources"]["RecordsLagAlarm"]["Properties"].update(change)
    assert reported(rules.alarm_evaluation_ranges_fit(template), "RecordsLagAlarm", problem)


def test_evaluation_periods_from_a_parameter_are_checked_at_its_bounds() -> None:
    # Given the evaluation periods come from a parameter: without a maximum it is reported; with one that is
    # too high, the range at the maximum is
    template = real(KAFKA_FUNCTION)
    template.source["Parameters"]["LagMinutes"] = {"Type": "Number", "Default": 15, "MinValue": 1}
    template.source["Resources"]["RecordsLagAlarm"]["Properties"]["EvaluationPeriods"] = {"Ref": "LagMinutes"}
    assert reported(
        rules.alarm_evaluation_ranges_fit(template), "RecordsLagAlarm", "LagMinutes, which has no MaxValue"
    )
    template.source["Parameters"]["LagMinutes"]["MaxValue"] = 2000
    assert reported(rules.alarm_evaluation_ranges_fit(template), "RecordsLagAlarm", "evaluates 2000 periods")
    template.source["Parameters"]["LagMinutes"]["MaxValue"] = 1440
    assert rules.alarm_evaluation_ranges_fit(template) == []


# ---------------------------------------------------------------------- dashboard-bodies-cloudwatch-accepts
def dashboard_pieces(template: TemplateUnderTest) -> list[Any]:
    """The pieces nested/monitoring.yaml's DashboardBody joins (translated template)."""
    body = template.translated["Resources"]["Dashboard"]["Properties"]["DashboardBody"]
    pieces: list[Any] = body["Fn::Join"][1]
    return pieces


def test_a_dashboard_row_that_breaks_the_json_is_caught() -> None:
    # Given a row (shown only with its condition) that lacks its leading comma
    template = real(MONITORING)
    pieces = dashboard_pieces(template)
    pieces.insert(
        -1,
        {"Fn::If": ["HasFlink", '{"type":"text","width":24,"height":1,"properties":{"markdown":"x"}}', ""]},
    )
    messages = rules.dashboard_bodies_cloudwatch_accepts(template)
    assert reported(messages, "Dashboard", "is not JSON", "HasFlink=True")
    assert not reported(messages, "HasFlink=False")


def test_a_metric_widget_without_a_region_is_caught() -> None:
    template = real(MONITORING)
    pieces = dashboard_pieces(template)
    pieces.insert(
        -1, ',{"type":"metric","width":8,"height":6,"properties":{"metrics":[["AWS/Lambda","Errors"]]}}'
    )
    assert reported(rules.dashboard_bodies_cloudwatch_accepts(template), "Dashboard", "has no region")


# ------------------------------------------------------------------------------------------ state machines
REPLAY = "nested/archive-replay.yaml"
MACHINE = "ReplayStateMachine"
MACHINE_ROLE = "ReplayStateMachineRole"


def machine_definition(template: TemplateUnderTest) -> dict[str, Any]:
    """The replay state machine's definition as the SAM transform writes it (placeholders unfilled)."""
    properties = template.translated["Resources"][MACHINE]["Properties"]
    definition: dict[str, Any] = json.loads("\n".join(properties["DefinitionString"]["Fn::Join"][1]))
    return definition


def with_definition(template: TemplateUnderTest, definition: dict[str, Any]) -> TemplateUnderTest:
    """`template` with the replay state machine's definition replaced (one JSON string)."""
    template.translated["Resources"][MACHINE]["Properties"]["DefinitionString"] = json.dumps(definition)
    return template


def without_statement(template: TemplateUnderTest, resource: str, sid: str) -> TemplateUnderTest:
    """`template` with the statement `sid` removed from a resource's policies (translated template)."""
    for node in rules._walk(template.translated["Resources"][resource]):
        if isinstance(node, dict) and isinstance(node.get("Statement"), list):
            node["Statement"] = [
                s for s in node["Statement"] if not (isinstance(s, dict) and s.get("Sid") == sid)
            ]
    return template


def inline(state: dict[str, Any]) -> dict[str, Any]:
    """A Map state's ItemProcessor in inline mode."""
    processor: dict[str, Any] = state["ItemProcessor"]
    return processor | {"ProcessorConfig": {"Mode": "INLINE"}}


def test_the_replay_definition_is_checked_as_step_functions_receives_it() -> None:
    # The real template passes; its definition has states in a Distributed Map and in inline maps
    template = real(REPLAY)
    assert rules.state_machine_definitions_valid(template) == []
    paths = [path for path, _ in rules.states(machine_definition(template))]
    assert "ScanArchive/Scan" in paths
    assert "WritePartitions/PartitionDone" in paths
    assert rules.inline_maps_are_bounded(template) == []
    assert rules.lambda_tasks_retry_service_errors(template) == []


@pytest.mark.parametrize(
    ("plant", "fragment"),
    [
        (lambda d: d["States"]["Done"].update(Type="Succeeded"), "asl-validator: SCHEMA_VALIDATION_FAILED"),
        (lambda d: d["States"]["DryRun"].update(Default="Nowhere"), "asl-validator"),
        (
            lambda d: d["States"]["MergeManifests"].update(MaxConcurrencyPath="request.maxConcurrency"),
            "MaxConcurrencyPath",
        ),
        (
            lambda d: d["States"]["Scope"]["Parameters"].update(FunctionName="${NoSuchFunction}"),
            "NoSuchFunction",
        ),
        # asl-validator takes an integer here; moto's grammar (LocalStack's) reads only a decimal number
        (
            lambda d: d["States"]["ScanArchive"].update(ToleratedFailurePercentage=0),
            "moto's ASL parser refuses",
        ),
        (
            lambda d: d["States"]["WritePartitions"].update(
                MaxConcurrency=100, ItemProcessor=inline(d["States"]["WritePartitions"])
            ),
            "at most 40 iterations",
        ),
    ],
    ids=[
        "unknown-type",
        "missing-next-state",
        "path-not-a-path",
        "unfilled-placeholder",
        "integer-tolerance",
        "inline-map-over-40",
    ],
)
def test_an_invalid_definition_is_caught(plant: Any, fragment: str) -> None:
    template = real(REPLAY)
    definition = machine_definition(template)
    plant(definition)
    messages = rules.state_machine_definitions_valid(with_definition(template, definition))
    assert reported(messages, MACHINE, fragment), messages


@pytest.mark.parametrize(
    ("resource", "sid", "fragment"),
    [
        (MACHINE_ROLE, "RunTheDistributedMapChildren", "states:StartExecution"),
        (MACHINE_ROLE, "FollowTheDistributedMapChildren", "states:DescribeExecution"),
        (MACHINE_ROLE, "ReadTheObjectList", "s3:GetObject"),
        (
            MACHINE_ROLE,
            "WriteTheScanResults",
            "s3:PutObject, s3:GetObject, s3:ListMultipartUploadParts, s3:AbortMultipartUpload",
        ),
        # a managed policy of the stack attached to the role (SAM Policies: !Ref RunFilesKeyPolicy)
        ("RunFilesKeyPolicy", "EncryptTheRunFiles", "kms:"),
    ],
)
def test_a_distributed_map_role_without_a_right_is_caught(resource: str, sid: str, fragment: str) -> None:
    template = without_statement(real(REPLAY), resource, sid)
    messages = rules.distributed_maps_have_their_rights(template)
    assert reported(messages, MACHINE, "ScanArchive", MACHINE_ROLE, fragment), messages


@pytest.mark.parametrize("label", ["MergeManifests", "WritePartitions"])
def test_a_role_that_cannot_redrive_a_maps_children_is_caught(label: str) -> None:
    # Given the role's redrive statement names only the scan's children
    template = real(REPLAY)
    redrive = statement(template.translated, MACHINE_ROLE, "RedriveTheDistributedMapChildren")
    redrive["Resource"] = [r for r in redrive["Resource"] if label not in json.dumps(r)]
    messages = rules.distributed_maps_have_their_rights(template)
    assert reported(messages, label, "states:RedriveExecution", f"/{label}:child"), messages
    assert not reported(messages, "ScanArchive")


def test_a_distributed_map_without_a_label_is_caught() -> None:
    template = real(REPLAY)
    definition = machine_definition(template)
    definition["States"]["MergeManifests"].pop("Label")
    messages = rules.distributed_maps_have_their_rights(with_definition(template, definition))
    assert reported(messages, "MergeManifests", "has no Label"), messages


# ------------------------------------------------------------------------------------ inline-maps-are-bounded
def inline_again(map_state: str) -> list[str]:
    """What inline-maps-are-bounded says of the replay with the Map state `map_state` inline."""
    template = real(REPLAY)
    definition = machine_definition(template)
    state = definition["States"][map_state]
    state["ItemProcessor"] = inline(state)
    return rules.inline_maps_are_bounded(with_definition(template, definition))


def test_an_inline_map_over_a_task_result_is_caught() -> None:
    # Given the merge map inline again: its items are FindPartitions' answer
    messages = inline_again("MergeManifests")
    assert reported(messages, "MergeManifests", "$.found.partitions", "FindPartitions"), messages
    assert not reported(messages, "loops")


def test_an_inline_map_whose_iterator_loops_is_caught() -> None:
    # Given the writers' map inline again: each writer loops until done, over Preflight's list
    messages = inline_again("WritePartitions")
    assert reported(messages, "WritePartitions", "loops (PartitionDone -> Write)"), messages
    assert reported(messages, "WritePartitions", "Preflight"), messages


def test_an_inline_map_over_items_the_definition_holds_is_fine() -> None:
    # Given an inline Map over a Pass state's result, its iterator without a loop
    template = real(REPLAY)
    definition = machine_definition(template)
    merge = definition["States"]["MergeManifests"]
    merge["ItemProcessor"] = inline(merge)
    merge["ItemsPath"] = "$.fixed.partitions"
    definition["States"]["FixedPartitions"] = {
        "Type": "Pass",
        "Result": {"partitions": [0, 1, 2]},
        "ResultPath": "$.fixed",
        "Next": "MergeManifests",
    }
    definition["States"]["FindPartitions"]["ResultPath"] = "$.found"
    definition["States"]["FindPartitions"]["Next"] = "FixedPartitions"
    assert rules.inline_maps_are_bounded(with_definition(template, definition)) == []


# ------------------------------------------------------------------------- lambda-tasks-retry-service-errors
def test_a_lambda_task_without_a_service_error_retry_is_caught() -> None:
    template = real(REPLAY)
    definition = machine_definition(template)
    retry = definition["States"]["Preflight"]["Retry"]
    retry[1]["ErrorEquals"].remove("Lambda.ClientExecutionTimeoutException")
    retry.pop()  # and no States.TaskFailed retrier behind it
    messages = rules.lambda_tasks_retry_service_errors(with_definition(template, definition))
    missing = "no retrier retries Lambda.ClientExecutionTimeoutException"
    assert reported(messages, "Preflight", missing), messages


def test_a_service_error_stopped_by_an_earlier_retrier_is_caught() -> None:
    # Given States.TaskFailed in the retrier that never retries, ahead of the Lambda errors' retrier
    template = real(REPLAY)
    definition = machine_definition(template)
    write = definition["States"]["WritePartitions"]["ItemProcessor"]["States"]["Write"]
    write["Retry"][0]["ErrorEquals"].append("States.TaskFailed")
    messages = rules.lambda_tasks_retry_service_errors(with_definition(template, definition))
    stopped = "Lambda.ServiceException meets a retrier with MaxAttempts 0"
    assert reported(messages, "WritePartitions/Write", stopped), messages


def test_a_result_writer_outside_the_granted_prefix_is_caught() -> None:
    # Given the ResultWriter writes under a prefix the role's statement does not cover
    template = real(REPLAY)
    definition = machine_definition(template)
    definition["States"]["ScanArchive"]["ResultWriter"]["Parameters"]["Prefix"] = "elsewhere"
    messages = rules.distributed_maps_have_their_rights(with_definition(template, definition))
    assert reported(messages, "ScanArchive", "s3:PutObject", "/elsewhere/"), messages


def test_a_lambda_task_timeout_shorter_than_the_function_is_caught() -> None:
    # Given the writer task gives the function less than its 900 s timeout
    template = real(REPLAY)
    definition = machine_definition(template)
    write = definition["States"]["WritePartitions"]["ItemProcessor"]["States"]["Write"]
    write["TimeoutSeconds"] = 300
    messages = rules.lambda_task_timeouts_cover_the_function(with_definition(template, definition))
    assert reported(messages, "WritePartitions/Write", "300", "ReplayFunction", "900"), messages
    # And the function's whole timeout satisfies it
    write["TimeoutSeconds"] = 900
    assert rules.lambda_task_timeouts_cover_the_function(with_definition(template, definition)) == []


def test_a_lambda_task_timeout_below_the_largest_parameter_value_is_caught() -> None:
    # Given the function's Timeout is a parameter: the longest it admits counts, not its default
    template = real(KAFKA_FUNCTION)
    machine = real(REPLAY)
    definition = machine_definition(machine)
    machine.translated["Resources"]["ReplayFunction"]["Properties"]["Timeout"] = {"Ref": "FunctionTimeout"}
    machine.translated["Parameters"]["FunctionTimeout"] = template.translated["Parameters"]["FunctionTimeout"]
    definition["States"]["Scope"]["TimeoutSeconds"] = 120  # the parameter's default, below its MaxValue 840
    messages = rules.lambda_task_timeouts_cover_the_function(with_definition(machine, definition))
    assert reported(messages, "Scope", "120", "840"), messages


@pytest.mark.parametrize(
    ("function_name", "fragment"),
    [
        ("arn:aws:lambda:us-east-1:210987654321:function:elsewhere", "neither a function of the template"),
        ("${ReplayFunctionArn}:live", ""),
    ],
    ids=["another-account", "qualified-own-function"],
)
def test_a_lambda_task_of_another_stack_is_caught(function_name: str, fragment: str) -> None:
    template = real(REPLAY)
    definition = machine_definition(template)
    definition["States"]["Translate"]["Parameters"]["FunctionName"] = function_name
    messages = rules.state_machine_tasks_invoke_own_functions(with_definition(template, definition))
    if fragment:
        assert reported(messages, "Translate", fragment), messages
        assert reported(messages, "Translate", "lacks lambda:InvokeFunction"), messages
    else:
        # A version or alias of the stack's own function: SAM's LambdaInvokePolicy covers <arn>:*
        assert messages == []


def test_a_lambda_task_naming_its_function_by_path_is_caught() -> None:
    template = real(REPLAY)
    definition = machine_definition(template)
    parameters = definition["States"]["Verify"]["Parameters"]
    parameters["FunctionName.$"] = parameters.pop("FunctionName").replace(
        "${ReplayFunctionArn}", "$.function"
    )
    messages = rules.state_machine_tasks_invoke_own_functions(with_definition(template, definition))
    assert reported(messages, "Verify", "FunctionName comes from $.function"), messages


def test_a_role_that_may_not_invoke_the_function_is_caught() -> None:
    # Given the role without SAM's LambdaInvokePolicy (its one statement allows lambda:InvokeFunction)
    template = real(REPLAY)
    properties = template.translated["Resources"][MACHINE_ROLE]["Properties"]
    properties["Policies"] = [
        p for p in properties["Policies"] if "lambda:InvokeFunction" not in json.dumps(p)
    ]
    messages = rules.state_machine_tasks_invoke_own_functions(template)
    assert reported(messages, "Scope", "lacks lambda:InvokeFunction"), messages


@pytest.mark.parametrize(
    ("sid", "fragment"),
    [("DeliverExecutionLogs", "logging is on"), ("TraceExecutions", "tracing is on")],
)
def test_a_role_that_cannot_log_or_trace_is_caught(sid: str, fragment: str) -> None:
    template = without_statement(real(REPLAY), MACHINE_ROLE, sid)
    messages = rules.state_machine_role_can_log_and_trace(template)
    assert reported(messages, MACHINE, fragment, MACHINE_ROLE), messages
    # And with logging and tracing off, nothing is needed
    properties = template.translated["Resources"][MACHINE]["Properties"]
    properties.pop("LoggingConfiguration")
    properties.pop("TracingConfiguration")
    assert rules.state_machine_role_can_log_and_trace(template) == []


def test_a_state_machine_logging_outside_vended_logs_is_caught() -> None:
    # Given the state machine's log group is named like any other (it would join the account's log policy)
    template = real(REPLAY)
    group = template.translated["Resources"]["StateMachineLogGroup"]["Properties"]
    group["LogGroupName"] = "/archive-replay/executions"
    messages = rules.state_machine_role_can_log_and_trace(template)
    assert reported(messages, MACHINE, "StateMachineLogGroup", "/aws/vendedlogs/"), messages
    # And a generated name is caught the same way
    group.pop("LogGroupName")
    assert reported(rules.state_machine_role_can_log_and_trace(template), MACHINE, "StateMachineLogGroup")


# --------------------------------------------------------------------------- kafka-arns-follow-the-cluster
def test_a_kafka_arn_with_the_stacks_account_is_caught() -> None:
    # Given the consumer reads its topic through an ARN built from the stack's region and account
    template = real(KAFKA_FUNCTION)
    read = statement(template.translated, "ReadTheTopicPolicy", "ReadTheTopic")
    read["Resource"] = {
        "Fn::Sub": "arn:${AWS::Partition}:kafka:${AWS::Region}:${AWS::AccountId}:topic/cluster/uuid/orders"
    }
    # Then it is reported: the existing cluster may be in another account
    assert reported(rules.kafka_arns_follow_the_cluster(template), "ReadTheTopicPolicy", "stack's region")


def test_a_template_that_creates_its_cluster_may_use_the_stacks_account() -> None:
    template = real("nested/msk-cluster.yaml")
    assert "ClusterArn" not in template.source.get("Parameters", {})
    assert rules.kafka_arns_follow_the_cluster(template) == []
