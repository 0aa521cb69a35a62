"""The option matrix: for each DeploymentOption, with a new cluster and with an existing one, the stack
enables exactly the nested applications, and they exactly the resources, that the option needs."""

from __future__ import annotations

from typing import Any

import pytest

from local.cfn import (
    enabled_resources,
    evaluate_conditions,
    nested_parameters,
    output_value,
    parameter_values,
    references,
    resolve_value,
)
from tests.templates.deployment import deploy
from tests.templates.sam_offline import REPO, load_template
from tests.templates.scenarios import EXISTING_CLUSTER, EXISTING_VPC, WIRED
from tests.templates.test_studio_notebook import STUDIO

OPTIONS = ["ClusterWithRestApi", "LambdaConsumer", "LambdaFirehoseS3", "FlinkS3", "All"]
OPTION_COMPONENTS = {
    "ClusterWithRestApi": ["ingest-api"],
    "LambdaConsumer": ["lambda-consumer"],
    "LambdaFirehoseS3": ["firehose-delivery", "archive-replay"],
    "FlinkS3": ["flink-analytics"],
    "All": ["ingest-api", "lambda-consumer", "firehose-delivery", "archive-replay", "flink-analytics"],
}

SECURITY_GROUPS = {
    "ClientSecurityGroup",
    "ClientToBrokersEgress",
    "BrokerSecurityGroup",
    "BrokersFromClients",
    "BrokersFromThemselves",
    "BrokersToThemselves",
}
PRIVATE_SUBNETS = {f"{kind}{az}" for kind in ("PrivateSubnet", "PrivateRouteTable") for az in "ABC"} | {
    f"PrivateSubnet{az}RouteTable" for az in "ABC"
}
FLOW_LOGS = {"FlowLogGroup", "FlowLogRole", "FlowLog"}
# Chooses (new VPC) or checks (existing VPC) the Availability Zones before anything is built.
ZONE_CHECK = {"ZonesLogGroup", "ZonesFunction", "Zones"}
INTERFACE_ENDPOINTS = {"Endpoints"}  # the nested nested/vpc-endpoints.yaml
NEW_VPC_WITH_ENDPOINTS = (
    {"Vpc", "S3GatewayEndpoint"}
    | PRIVATE_SUBNETS
    | FLOW_LOGS
    | ZONE_CHECK
    | INTERFACE_ENDPOINTS
    | SECURITY_GROUPS
)
# The cluster's alarms (nested/msk-cluster.yaml) by cluster type, for the default 3 brokers: Standard brokers
# have the whole set, Express brokers the controller, CPU and storage ones, Serverless its throughput.
CLUSTER_ALARMS = {"ActiveControllerAlarm", "CpuBrokers1To5Alarm"}
STANDARD_BROKER_ALARMS = {
    "DataDiskAlarm",
    "OfflinePartitionsAlarm",
    "UnderReplicatedBrokers1To10Alarm",
    "UnderMinIsrBrokers1To10Alarm",
    "HeapBrokers1To10Alarm",
}
PROVISIONED_IAM_CLUSTER = {"BrokerLogGroup", "Cluster", "Topic"} | CLUSTER_ALARMS | STANDARD_BROKER_ALARMS

# nested/kafka-function.yaml: one function on the event source mapping, whichever its Processor
EVENT_SOURCE_FUNCTION = {
    "FailedBatchesBucket",
    "FailedBatchesBucketPolicy",
    "ReadTheTopicPolicy",
    "EventSourceMapping",
    # its alarms, with provisioned pollers and the S3 destination (the defaults)
    "FunctionErrorsAlarm",
    "FunctionThrottlesAlarm",
    "DurationNearTimeoutAlarm",
    "RecordsLagAlarm",
    "TimeLagAlarm",
    "RecordsToDestinationAlarm",
    "DroppedRecordsAlarm",
}
LAMBDA_CONSUMER = EVENT_SOURCE_FUNCTION | {"ConsumerLogGroup", "ConsumerFunction"}
ARCHIVE_FORWARDER = EVENT_SOURCE_FUNCTION | {"ForwarderLogGroup", "ForwarderFunction"}
FIREHOSE_ARCHIVE = {
    "ArchiveBucket",
    "ArchiveBucketPolicy",
    "DeliveryLogGroup",
    "DeliveryLogStream",
    "DeliveryRole",
    "DeliveryStream",
    "ArchiveDatabase",
    "ArchiveTable",
    "DataFreshnessAlarm",
    "DeliverySuccessAlarm",
    "ThrottledRecordsAlarm",
}
# nested/archive-replay.yaml as the root deploys it: the brokers come from the cluster connection (no lookup
# of its own), the state machine and the one function behind its steps.
ARCHIVE_REPLAY = {
    "ReplayBucket",
    "ReplayBucketPolicy",
    "RunFilesKeyPolicy",
    "ReplayLogGroup",
    "ReplayFunction",
    "StateMachineLogGroup",
    "ReplayStateMachine",
    "ExecutionsFailedAlarm",
    "ExecutionsTimedOutAlarm",
    "ExecutionsAbortedAlarm",
    "FunctionErrorsAlarm",
}
INGEST_API = {
    "AccountRoleLogGroup",
    "AccountRoleFunction",
    "ApiGatewayAccountRole",
    "UserPool",
    "UserPoolDomain",
    "RecordsResourceServer",
    "ProducersGroup",
    "MachineClient",
    "UserClient",
    "TokenScopesLogGroup",
    "TokenScopesFunction",
    "TokenScopesPermission",
    "AccessLogGroup",
    "Api",
    "ProducerLogGroup",
    "ProducerFunction",
    "ServerErrorsAlarm",
    "ClientErrorsAlarm",
    "LatencyAlarm",
    "FailedRecordsAlarm",
    "ProducerErrorsAlarm",
    "ProducerThrottlesAlarm",
}
FLINK_ANALYTICS = {
    "ResultsBucket",
    "ResultsBucketPolicy",
    "DeployerLogGroup",
    "DeployerFunction",
    "ApplicationCode",
    "ApplicationLogGroup",
    "ApplicationLogStream",
    "ApplicationSecurityGroup",
    "RunOnTheTopicPolicy",
    "ApplicationRole",
    "Application",
    "ApplicationLogging",
    "ApplicationRun",
    "AnalyticsDatabase",
    "ResultsTable",
    "DowntimeAlarm",
    "RestartsAlarm",
    "CheckpointFailuresAlarm",
    "CheckpointDurationAlarm",
    "LagAlarm",
} | STUDIO  # the Studio notebook (FlinkStudioNotebook, on by default)
CLUSTER_STACKS = {"Network": NEW_VPC_WITH_ENDPOINTS, "Cluster": PROVISIONED_IAM_CLUSTER}
# Every option gets the deployment's key, layer, access logs bucket and alarm topic, reads the cluster (new or
# existing) from one place, which also looks the brokers up once (outside the VPC), and has one dashboard and
# one composite alarm.
SHARED_STACKS = {
    "Foundation": {
        "DeploymentKey",
        "DeploymentKeyAlias",
        "SharedLayer",
        "AccessLogsBucket",
        "AccessLogsBucketPolicy",
        "AlarmTopic",
        "AlarmTopicPolicy",
    },
    "ClusterConnection": {"LookupLogGroup", "LookupFunction", "BrokerLookup"},
    "Monitoring": {"Dashboard", "PipelineUnhealthyAlarm"},
}
# Option -> nested application -> resources. ingest-api, flink-analytics and monitoring join this table as
# they are built.
OPTION_STACKS: dict[str, dict[str, set[str]]] = {
    "ClusterWithRestApi": {"IngestApi": INGEST_API},
    "LambdaConsumer": {"LambdaConsumer": LAMBDA_CONSUMER},
    "LambdaFirehoseS3": {
        "FirehoseArchive": FIREHOSE_ARCHIVE,
        "ArchiveForwarder": ARCHIVE_FORWARDER,
        "ArchiveReplay": ARCHIVE_REPLAY,
    },
    "FlinkS3": {"FlinkAnalytics": FLINK_ANALYTICS},
    "All": {
        "IngestApi": INGEST_API,
        "LambdaConsumer": LAMBDA_CONSUMER,
        "FirehoseArchive": FIREHOSE_ARCHIVE,
        "ArchiveForwarder": ARCHIVE_FORWARDER,
        "ArchiveReplay": ARCHIVE_REPLAY,
        "FlinkAnalytics": FLINK_ANALYTICS,
    },
}


def _expected(option: str, cluster_mode: str) -> dict[str, set[str]]:
    return (CLUSTER_STACKS if cluster_mode == "new-cluster" else {}) | SHARED_STACKS | OPTION_STACKS[option]


def _nested_resources(root: dict[str, Any], params: dict[str, str]) -> dict[str, set[str]]:
    """The resources each nested stack creates (as written, before the SAM transform), every stack given
    the values the root passes it, other stacks' outputs included."""
    deployed = deploy(given=params, root=root, read=load_template)
    return {app: set(stack.resources) for app, stack in deployed.stacks.items()}


@pytest.mark.parametrize("cluster_mode", ["new-cluster", "existing-cluster"])
@pytest.mark.parametrize("option", OPTIONS)
def test_option_deploys_exactly_what_it_needs(option: str, cluster_mode: str) -> None:
    # Given the root template with this option, creating a cluster or attaching to one
    root = load_template(REPO / "template.yaml")
    overrides = {"DeploymentOption": option} | (
        EXISTING_CLUSTER if cluster_mode == "existing-cluster" else {}
    )
    params = parameter_values(root, overrides)

    # When CloudFormation resolves the conditions of the root and of each enabled nested stack
    resources = _nested_resources(root, params)

    # Then exactly the expected stacks and resources are created
    assert resources == _expected(option, cluster_mode)
    cluster_part = "network+cluster" if cluster_mode == "new-cluster" else "existing-cluster"
    assert output_value(root, params, "Components").split(",") == [
        cluster_part,
        "cluster-bootstrap",
        *OPTION_COMPONENTS[option],
    ]
    assert nested_parameters(root, "ClusterConnection", params)["ClusterArn"] == (
        "<Cluster.Outputs.ClusterArn>"
        if cluster_mode == "new-cluster"
        else EXISTING_CLUSTER["ExistingClusterArn"]
    )
    assert output_value(root, params, "ClusterArn") == "<ClusterConnection.Outputs.ClusterArn>"


def test_attaching_to_an_existing_cluster_creates_no_network_and_no_cluster() -> None:
    root = load_template(REPO / "template.yaml")
    params = parameter_values(root, EXISTING_CLUSTER)
    resources = _nested_resources(root, params)
    assert not {"Network", "Cluster"} & set(resources)
    connection = nested_parameters(root, "ClusterConnection", params)
    assert connection["ClusterArn"] == EXISTING_CLUSTER["ExistingClusterArn"]
    assert connection["SubnetIds"] == EXISTING_CLUSTER["ExistingClusterSubnetIds"]
    assert connection["SecurityGroupIds"] == EXISTING_CLUSTER["ExistingClusterSecurityGroupIds"]
    # The options consume the existing cluster, through the connection's outputs
    passed = nested_parameters(root, "LambdaConsumer", params)
    assert passed["ClusterArn"] == "<ClusterConnection.Outputs.ClusterArn>"


@pytest.mark.parametrize(
    ("overrides", "added", "removed"),
    [
        ({"ClientAuthentication": "SCRAM"}, {"ScramSecret", "ScramSecretAssociation"}, set()),
        (
            {"ClusterType": "Express"},
            {"StorageUsedAlarm", "ThrottlingBrokers1To5Alarm"},
            STANDARD_BROKER_ALARMS,
        ),
        # Express brokers' throttling metrics need a monitoring level above DEFAULT
        (
            {"ClusterType": "Express", "EnhancedMonitoring": "DEFAULT"},
            {"StorageUsedAlarm"},
            STANDARD_BROKER_ALARMS,
        ),
        ({"BrokersPerAvailabilityZone": "2"}, {"CpuBrokers6To10Alarm"}, set()),
        (
            {"BrokersPerAvailabilityZone": "4"},
            {
                "CpuBrokers6To10Alarm",
                "CpuBrokers11To12Alarm",
                "UnderReplicatedBrokers11To12Alarm",
                "UnderMinIsrBrokers11To12Alarm",
                "HeapBrokers11To12Alarm",
            },
            set(),
        ),
        (
            {"ClusterType": "Serverless"},
            {
                "ServerlessCluster",
                "ServerlessBootstrap",
                "TopicProvisionerLogGroup",
                "TopicProvisionerFunction",
                "ServerlessKafkaTopic",
                "ServerlessThroughputAlarm",
            },
            {"BrokerLogGroup", "Cluster", "Topic"} | CLUSTER_ALARMS | STANDARD_BROKER_ALARMS,
        ),
    ],
)
def test_cluster_types_and_authentication(
    overrides: dict[str, str], added: set[str], removed: set[str]
) -> None:
    cluster = load_template(REPO / "nested/msk-cluster.yaml")
    wired = {k: v for k, v in WIRED.items() if k in cluster["Parameters"]}
    resources = set(enabled_resources(cluster, parameter_values(cluster, wired | overrides)))
    assert resources == (PROVISIONED_IAM_CLUSTER | added) - removed


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"AvailabilityZoneCount": "2"},
            NEW_VPC_WITH_ENDPOINTS - {"PrivateSubnetC", "PrivateRouteTableC", "PrivateSubnetCRouteTable"},
        ),
        (
            {"EgressMode": "NatGateway"},
            (NEW_VPC_WITH_ENDPOINTS - INTERFACE_ENDPOINTS)
            | {"InternetGateway", "InternetGatewayAttachment", "PublicRouteTable", "PublicDefaultRoute"}
            | {
                f"{kind}{az}"
                for kind in ("PublicSubnet", "NatAddress", "NatGateway", "PrivateDefaultRoute")
                for az in "ABC"
            }
            | {f"PublicSubnet{az}RouteTable" for az in "ABC"},
        ),
        (EXISTING_VPC, SECURITY_GROUPS | ZONE_CHECK),
        (
            EXISTING_VPC | {"CreateEndpointsInExistingVpc": "true"},
            SECURITY_GROUPS | ZONE_CHECK | {"Endpoints"},
        ),
    ],
)
def test_network_modes(overrides: dict[str, str], expected: set[str]) -> None:
    network = load_template(REPO / "nested/network.yaml")
    wired = {k: v for k, v in WIRED.items() if k in ("KeyArn", "LayerArn")}
    assert set(enabled_resources(network, parameter_values(network, wired | overrides))) == expected


REQUIRED_ENDPOINT_PARAMETERS = {
    "VpcId": "vpc-0aaaaaaaaaaaaaaaa",
    "SubnetIds": EXISTING_VPC["ExistingPrivateSubnetIds"],
    "ClientSecurityGroupId": "sg-0aaaaaaaaaaaaaaaa",
    "BrokerSecurityGroupId": "sg-0bbbbbbbbbbbbbbbb",
}


@pytest.mark.parametrize(("route_tables", "s3_gateway"), [("", False), ("rtb-0aaaaaaaaaaaaaaaa", True)])
@pytest.mark.parametrize("glue", [False, True])
def test_vpc_endpoints_cover_what_the_solution_calls(route_tables: str, s3_gateway: bool, glue: bool) -> None:
    endpoints = load_template(REPO / "nested/vpc-endpoints.yaml")
    params = parameter_values(
        endpoints,
        REQUIRED_ENDPOINT_PARAMETERS | {"RouteTableIds": route_tables, "GlueEndpoint": str(glue).lower()},
    )
    services = {
        endpoints["Resources"][name]["Properties"]["ServiceName"]["Fn::Sub"].rsplit(".", 1)[1]
        for name, kind in enabled_resources(endpoints, params).items()
        if kind == "AWS::EC2::VPCEndpoint"
    }
    # The event source mapping's pollers (STS, Lambda, Secrets Manager), its on-failure destinations (SQS,
    # S3), Managed Flink's logs and metrics, the Studio notebook's Glue catalog when asked for; no MSK API
    # endpoint: nothing in the VPC calls it.
    expected = (
        {"sts", "lambda", "secretsmanager", "sqs", "logs", "monitoring"}
        | ({"s3"} if s3_gateway else set())
        | ({"glue"} if glue else set())
    )
    assert services == expected
    assert set(output_value(endpoints, params, "Services").split(",")) == expected


@pytest.mark.parametrize("glue", ["false", "true"])
def test_the_zone_check_knows_every_interface_endpoint_the_stack_creates(glue: str) -> None:
    # Given the network stack creating the endpoints in an existing VPC, with or without the Glue one
    network = load_template(REPO / "nested/network.yaml")
    params = parameter_values(
        network,
        {"KeyArn": WIRED["KeyArn"], "LayerArn": WIRED["LayerArn"], "GlueEndpoint": glue}
        | EXISTING_VPC
        | {"CreateEndpointsInExistingVpc": "true"},
    )
    # When the zones are checked (before the endpoints exist, so the network stack names their services)
    conditions = evaluate_conditions(network, params)
    checked = resolve_value(
        network["Resources"]["Zones"]["Properties"]["EndpointServices"], params, conditions
    )
    # Then they are the interface endpoints the endpoint stack creates with what the network passes it
    endpoints = load_template(REPO / "nested/vpc-endpoints.yaml")
    passed = nested_parameters(network, "Endpoints", params)
    endpoint_params = parameter_values(
        endpoints, {"GlueEndpoint": passed["GlueEndpoint"]} | REQUIRED_ENDPOINT_PARAMETERS
    )
    created = [
        endpoints["Resources"][name]["Properties"]["ServiceName"]["Fn::Sub"].rsplit(".", 1)[1]
        for name, kind in enabled_resources(endpoints, endpoint_params).items()
        if kind == "AWS::EC2::VPCEndpoint"
        and endpoints["Resources"][name]["Properties"]["VpcEndpointType"] == "Interface"
    ]
    assert sorted(checked.split(",")) == sorted(created)
    assert ("glue" in created) == (glue == "true")


def test_the_choice_of_cluster_is_made_in_one_place() -> None:
    # Given the root template: a new cluster or an existing one (ExistingClusterArn)
    root = load_template(REPO / "template.yaml")
    connection = load_template(REPO / "nested/cluster-bootstrap.yaml")
    existing = {name for name in root["Parameters"] if name.startswith("Existing") and "Cluster" in name}
    existing |= {"ExistingScramSecretArn", "ExistingScramSecretKeyArn"} & set(root["Parameters"])
    # Then only the cluster connection's parameters choose between them: no other application reads an
    # existing cluster's parameters, or what identifies the new cluster (its ARN, SCRAM secret, subnets and
    # security groups) from the stacks that create it. (The dashboard reads whether the deployment created the
    # cluster, to show the cluster's own row, but not which one it is.)
    identity = {
        ("Cluster", "Outputs.ClusterArn"),
        ("Cluster", "Outputs.ScramSecretArn"),
        ("Network", "Outputs.PrivateSubnetIds"),
        ("Network", "Outputs.ClientSecurityGroupId"),
    }
    choosing = {
        application
        for application, resource in root["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Application"
        and application not in ("Network", "Cluster")
        and (
            references(resource["Properties"].get("Parameters", {})) & identity
            or {name for name, _ in references(resource["Properties"].get("Parameters", {}))} & existing
        )
    }
    assert choosing == {"ClusterConnection"}
    # ... and the connection hands each choice on unchanged, as the output of the same name
    for name in ("ClusterArn", "SubnetIds", "SecurityGroupIds", "ScramSecretArn", "ScramSecretKeyArn"):
        assert connection["Outputs"][name]["Value"] == {"Ref": name}
    # And every option reads the cluster from the connection's outputs
    for application in ("IngestApi", "LambdaConsumer", "ArchiveForwarder", "ArchiveReplay", "FlinkAnalytics"):
        passed = root["Resources"][application]["Properties"]["Parameters"]
        assert passed["ClusterArn"] == {"Fn::GetAtt": ["ClusterConnection", "Outputs.ClusterArn"]}


def test_the_layer_is_published_once_per_deployment() -> None:
    # Given every template of the repository
    layers = {
        path.name: [
            name
            for name, resource in load_template(path)["Resources"].items()
            if resource["Type"] in ("AWS::Serverless::LayerVersion", "AWS::Lambda::LayerVersion")
        ]
        for path in [REPO / "template.yaml", *sorted((REPO / "nested").glob("*.yaml"))]
    }
    # Then only nested/foundation.yaml publishes the layer, and the root nests it once
    assert {name: found for name, found in layers.items() if found} == {"foundation.yaml": ["SharedLayer"]}
    root = load_template(REPO / "template.yaml")
    foundations = [
        name
        for name, resource in root["Resources"].items()
        if resource.get("Properties", {}).get("Location") == "nested/foundation.yaml"
    ]
    assert foundations == ["Foundation"]
    assert "Condition" not in root["Resources"]["Foundation"]
