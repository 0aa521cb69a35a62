"""Every deploy rule on every template (template.yaml and each nested/*.yaml, including those added later):
what AWS rejects or gets wrong at deploy time, which the SAM transform, cfn-lint and checkov let through.
The rules are in tests/templates/deploy_rules.py; their sources are in docs/decisions.md."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from tests.templates import deploy_rules as rules
from tests.templates.sam_offline import ALL_TEMPLATES, REPO

TEMPLATE_IDS = [str(t.relative_to(REPO)) for t in ALL_TEMPLATES]
each_template = pytest.mark.parametrize("path", ALL_TEMPLATES, ids=TEMPLATE_IDS)


@cache
def template(path: Path) -> rules.TemplateUnderTest:
    return rules.TemplateUnderTest.read(path)


@each_template
def test_kms_context_matches_bucket_key(path: Path) -> None:
    """kms-context-matches-bucket-key. Source: S3 User Guide, "Configuring your bucket to use an S3 Bucket
    Key" ("the encryption context will be the bucket ARN and not the object ARN ... update your IAM
    policies")."""
    assert rules.kms_context_matches_bucket_key(template(path)) == []


@each_template
def test_no_suffix_on_log_group_arn(path: Path) -> None:
    """no-suffix-on-log-group-arn. Source: aws-cloudformation/cloudformation-coverage-roadmap#206 (a log
    group's Arn attribute is "arn:...:log-group:<name>:*")."""
    assert rules.no_suffix_on_log_group_arn(template(path)) == []


@each_template
def test_no_implicit_stage(path: Path) -> None:
    """no-implicit-stage. Source: the SAM transform itself (aws-sam-translator): a Swagger 2.0 API gets a
    deployment with StageName "Stage"; OpenApiVersion 3.x removes it (review item S1)."""
    assert rules.no_implicit_stage(template(path)) == []


@each_template
def test_stage_logging_needs_account_role(path: Path) -> None:
    """stage-logging-needs-account-role. Source: API Gateway Developer Guide, "Set up CloudWatch logging for
    REST APIs" (the account's CloudWatch Logs role must be set), review item D1."""
    assert rules.stage_logging_needs_account_role(template(path)) == []


@each_template
def test_usage_plans_need_api_keys(path: Path) -> None:
    """usage-plans-need-api-keys. Source: API Gateway Developer Guide, "Usage plans and API keys" (a plan
    identifies callers by the API key of methods that require one), review item N4."""
    assert rules.usage_plans_need_api_keys(template(path)) == []


@each_template
def test_no_always_on_reserved_concurrency(path: Path) -> None:
    """no-always-on-reserved-concurrency. Source: Lambda Developer Guide, "Configuring reserved concurrency"
    (100 always stay unreserved), review item D2."""
    assert rules.no_always_on_reserved_concurrency(template(path)) == []


@each_template
def test_cidr_fits_every_admitted_block(path: Path) -> None:
    """cidr-fits-every-admitted-block. Source: CloudFormation "Fn::Cidr" (cidrBits is the number of host bits
    of each subnet; count subnets must fit in the block), review item D4."""
    assert rules.cidr_fits_every_admitted_block(template(path)) == []


@each_template
def test_cidr_parameters_admit_only_private_blocks(path: Path) -> None:
    """cidr-fits-every-admitted-block (sibling): a CIDR parameter admits only RFC 1918 blocks without host
    bits. Sources: RFC 1918 section 3; Amazon VPC User Guide, "VPC CIDR blocks"; review item D4."""
    assert rules.cidr_parameters_admit_only_private_blocks(template(path)) == []


@each_template
def test_data_is_retained(path: Path) -> None:
    """data-is-retained. Source: CloudFormation "DeletionPolicy" and "UpdateReplacePolicy" attributes (the
    default deletes the resource), review item N1 (a topic rename deletes the old topic)."""
    assert rules.data_is_retained(template(path)) == []


@each_template
def test_vpc_endpoint_service_names_current(path: Path) -> None:
    """vpc-endpoint-service-names-current. Source: MSK Developer Guide, "Use Amazon MSK APIs with Interface
    VPC Endpoints" (com.amazonaws.region.kafka and kafka-fips no longer accept new connections), review item
    D3."""
    assert rules.vpc_endpoint_service_names_current(template(path)) == []


@each_template
def test_kafka_versions_from_a_list(path: Path) -> None:
    """kafka-versions-from-a-list. Sources: MSK "Supported Apache Kafka versions" (2026-11), MSK broker types
    page, hashicorp/terraform-provider-aws#48309, aws/aws-cdk#36450; review items D7 and N5."""
    assert rules.kafka_versions_from_a_list(template(path)) == []


@each_template
def test_nested_rules_hold_in_root(path: Path) -> None:
    """nested-rules-hold-in-root. Source: CloudFormation "Rules" (checked when the change set is created) and
    nested stacks (each validates its own parameters and Rules only when it is created), review item N3."""
    assert rules.nested_rules_hold_in_root(template(path)) == []


@each_template
def test_kafka_consumer_groups_per_stack(path: Path) -> None:
    """kafka-consumer-groups-per-stack. Source: CloudFormation AWS::Lambda::EventSourceMapping
    AmazonManagedKafkaEventSourceConfig ("The consumer group ID must be unique among all your Kafka event
    sources. After creating a Kafka event source mapping with the consumer group ID specified, you cannot
    update this value")."""
    assert rules.kafka_consumer_groups_per_stack(template(path)) == []


@each_template
def test_alarm_topic_key_usable_by_cloudwatch(path: Path) -> None:
    """alarm-topic-key-usable-by-cloudwatch. Source: SNS Developer Guide, "Enable compatibility between event
    sources from AWS services and encrypted topics" (docs.aws.amazon.com/sns/latest/dg/sns-key-management.html
    #compatibility-with-aws-services): "Use a customer managed key", whose policy gives the service principal
    (Amazon CloudWatch: cloudwatch.amazonaws.com) kms:GenerateDataKey* and kms:Decrypt."""
    assert rules.alarm_topic_key_usable_by_cloudwatch(template(path)) == []


@each_template
def test_nested_parameter_values_fit(path: Path) -> None:
    """nested-parameter-values-fit. Source: CloudFormation quotas, "Parameter value: Maximum size of a
    parameter value, 4,096 bytes" (awsdocs/aws-cloudformation-user-guide doc_source/cloudformation-limits.md);
    "Stack name: 128 characters"; generated names "<stack>-<logical ID>-<random>" cut to the name's limit."""
    assert rules.nested_parameter_values_fit(template(path)) == []


@each_template
def test_composite_alarm_rules_fit(path: Path) -> None:
    """composite-alarm-rules-fit. Source: CloudWatch API Reference, PutCompositeAlarm, AlarmRule (botocore's
    cloudwatch service model: max 10240; "as many as 100 "children" alarms ... as many as 500 elements")."""
    assert rules.composite_alarm_rules_fit(template(path)) == []


@each_template
def test_metric_math_alarms_fit(path: Path) -> None:
    """metric-math-alarms-fit. Sources: CloudWatch quotas ("Alarms based on metric math expressions can have
    up to 10 metrics", awsdocs/amazon-cloudwatch-user-guide cloudwatch_limits.md); PutMetricAlarm,
    MetricDataQuery.ReturnData ("specify true for the one expression result to use as the alarm")."""
    assert rules.metric_math_alarms_fit(template(path)) == []


@each_template
def test_alarm_evaluation_ranges_fit(path: Path) -> None:
    """alarm-evaluation-ranges-fit. Source: CloudWatch API Reference, PutMetricAlarm, Period ("10, 20, 30,
    and any multiple of 60"; "Period multiplied by EvaluationPeriods can't be more than 604,800 seconds ...
    less than one hour ... can't be longer than one day")."""
    assert rules.alarm_evaluation_ranges_fit(template(path)) == []


@each_template
def test_dashboard_bodies_cloudwatch_accepts(path: Path) -> None:
    """dashboard-bodies-cloudwatch-accepts. Source: CloudWatch API Reference, "Dashboard Body Structure and
    Syntax" (a JSON string; 0 to 500 widgets; a metric widget's region is required, 0-500 metrics, period a
    multiple of 60) and the CloudWatch quotas (2,500 metrics per dashboard)."""
    assert rules.dashboard_bodies_cloudwatch_accepts(template(path)) == []


@each_template
def test_state_machine_definitions_valid(path: Path) -> None:
    """state-machine-definitions-valid. Sources: Amazon States Language specification (states-language.net)
    as asl-validator checks it (npm asl-validator 4.0.0, pinned by tests/templates/asl/package-lock.json);
    CloudFormation AWS::StepFunctions::StateMachine DefinitionSubstitutions; moto's Step Functions parser."""
    assert rules.state_machine_definitions_valid(template(path)) == []


@each_template
def test_distributed_maps_have_their_rights(path: Path) -> None:
    """distributed-maps-have-their-rights. Source: Step Functions Developer Guide, "IAM policies for using
    Distributed Map states" (docs.aws.amazon.com/step-functions/latest/dg/iam-policies-eg-dist-map.html):
    states:StartExecution on the state machine, DescribeExecution on its executions; "Redriving Map Runs"
    (RedriveExecution on <machine>/<Label>:*), s3:GetObject or
    s3:ListBucket for the ItemReader, s3:PutObject, GetObject, ListMultipartUploadParts and
    AbortMultipartUpload for the ResultWriter, the bucket's KMS key."""
    assert rules.distributed_maps_have_their_rights(template(path)) == []


@each_template
def test_inline_maps_are_bounded(path: Path) -> None:
    """inline-maps-are-bounded. Sources: Step Functions Developer Guide, "Map state processing modes" (inline
    iterations are events of the execution's history; Distributed mode for large or long ones) and "Step
    Functions service quotas" (25,000 history events per Standard execution)."""
    assert rules.inline_maps_are_bounded(template(path)) == []


@each_template
def test_lambda_tasks_retry_service_errors(path: Path) -> None:
    """lambda-tasks-retry-service-errors. Source: Step Functions Developer Guide, "Handle Lambda service
    exceptions" (docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html: retry
    Lambda.ClientExecutionTimeoutException, ServiceException, AWSLambdaException, SdkClientException;
    TooManyRequestsException when Lambda is at its concurrency) and "Error handling" (retriers in order)."""
    assert rules.lambda_tasks_retry_service_errors(template(path)) == []


@each_template
def test_lambda_task_timeouts_cover_the_function(path: Path) -> None:
    """lambda-task-timeouts-cover-the-function. Sources: Amazon States Language, Task TimeoutSeconds (the task
    fails with States.Timeout); Lambda Developer Guide, "Configure Lambda function timeout" (the function runs
    on until its own timeout)."""
    assert rules.lambda_task_timeouts_cover_the_function(template(path)) == []


@each_template
def test_state_machine_tasks_invoke_own_functions(path: Path) -> None:
    """state-machine-tasks-invoke-own-functions. Source: Step Functions Developer Guide, "Invoke an AWS Lambda
    function with Step Functions" (the role needs lambda:InvokeFunction on the function, and on its versions
    and aliases for a qualified name)."""
    assert rules.state_machine_tasks_invoke_own_functions(template(path)) == []


@each_template
def test_state_machine_role_can_log_and_trace(path: Path) -> None:
    """state-machine-role-can-log-and-trace. Sources: Step Functions Developer Guide, "Using CloudWatch Logs
    to log execution history in Step Functions" (the role's log delivery actions on "*"), and "Trace Step
    Functions request data in AWS X-Ray" (xray:PutTraceSegments, PutTelemetryRecords, GetSamplingRules,
    GetSamplingTargets)."""
    assert rules.state_machine_role_can_log_and_trace(template(path)) == []


def test_every_rule_is_tested_here() -> None:
    tested = {name.removeprefix("test_") for name in globals() if name.startswith("test_")}
    assert {function.__name__ for function in rules.RULES.values()} <= tested


@each_template
def test_kafka_arns_follow_the_cluster(path: Path) -> None:
    """kafka-arns-follow-the-cluster. Source: Amazon MSK Developer Guide, "IAM access control" / "Resources"
    (arn:aws:kafka:region:account-id:topic/cluster-name/cluster-uuid/topic-name: the cluster's own region and
    account) and "Cross-account access" (a cluster policy grants another account's principals)."""
    assert rules.kafka_arns_follow_the_cluster(template(path)) == []
