"""The option matrix: for each DeploymentOption, with a new cluster and with an existing one, the stack
enables exactly the nested applications, and they exactly the resources, that the option needs."""

from __future__ import annotations

from typing import Any

import pytest

from local.cfn import (
    enabled_resources,
    nested_parameters,
    output_value,
    parameter_values,
)
from tests.templates.sam_offline import REPO, load_template
from tests.templates.scenarios import EXISTING_CLUSTER, EXISTING_VPC, WIRED

OPTIONS = ["ClusterWithRestApi", "LambdaConsumer", "LambdaFirehoseS3", "FlinkS3", "All"]
OPTION_COMPONENTS = {
    "ClusterWithRestApi": ["ingest-api"],
    "LambdaConsumer": ["lambda-consumer"],
    "LambdaFirehoseS3": ["firehose-delivery"],
    # FlinkS3 deploys no component of its own yet (the Flink issue adds flink-analytics): it claims none.
    "FlinkS3": [],
    "All": ["ingest-api", "lambda-consumer", "firehose-delivery"],
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
ZONE_CHECK = {"LogsKey", "SharedLayer", "ZonesLogGroup", "ZonesFunction", "Zones"}
INTERFACE_ENDPOINTS = {"Endpoints"}  # the nested nested/vpc-endpoints.yaml
NEW_VPC_WITH_ENDPOINTS = (
    {"Vpc", "S3GatewayEndpoint"}
    | PRIVATE_SUBNETS
    | FLOW_LOGS
    | ZONE_CHECK
    | INTERFACE_ENDPOINTS
    | SECURITY_GROUPS
)
PROVISIONED_IAM_CLUSTER = {"ClusterKey", "ClusterKeyAlias", "BrokerLogGroup", "Cluster", "Topic"}

EVENT_SOURCE_FUNCTION = {
    "FunctionKey",
    "SharedLayer",
    "AccessLogsBucket",
    "AccessLogsBucketPolicy",
    "FailedBatchesBucket",
    "FailedBatchesBucketPolicy",
}
LAMBDA_CONSUMER = EVENT_SOURCE_FUNCTION | {"ConsumerLogGroup", "ConsumerFunction"}
FIREHOSE_ARCHIVE = EVENT_SOURCE_FUNCTION | {
    "ForwarderLogGroup",
    "ForwarderFunction",
    "ArchiveBucket",
    "ArchiveBucketPolicy",
    "DeliveryLogGroup",
    "DeliveryLogStream",
    "DeliveryRole",
    "DeliveryStream",
}
INGEST_API = {
    "IngestKey",
    "SharedLayer",
    "AccountRoleLogGroup",
    "AccountRoleFunction",
    "AccountCloudWatchRole",
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
}
CLUSTER_STACKS = {"Network": NEW_VPC_WITH_ENDPOINTS, "Cluster": PROVISIONED_IAM_CLUSTER}
# Every option looks the brokers up once (outside the VPC) and hands them to its components.
BROKER_LOOKUP = {
    "Brokers": {"LogsKey", "SharedLayer", "LookupLogGroup", "LookupFunction", "BootstrapBrokers"}
}
# Option -> nested application -> resources. ingest-api, flink-analytics and monitoring join this table as
# they are built.
OPTION_STACKS: dict[str, dict[str, set[str]]] = {
    "ClusterWithRestApi": {"IngestApi": INGEST_API},
    "LambdaConsumer": {"LambdaConsumer": LAMBDA_CONSUMER},
    "LambdaFirehoseS3": {"FirehoseArchive": FIREHOSE_ARCHIVE},
    "FlinkS3": {},
    "All": {"IngestApi": INGEST_API, "LambdaConsumer": LAMBDA_CONSUMER, "FirehoseArchive": FIREHOSE_ARCHIVE},
}


def _expected(option: str, cluster_mode: str) -> dict[str, set[str]]:
    return (CLUSTER_STACKS if cluster_mode == "new-cluster" else {}) | BROKER_LOOKUP | OPTION_STACKS[option]


def _nested_resources(root: dict[str, Any], params: dict[str, str]) -> dict[str, set[str]]:
    apps = [
        name
        for name, kind in enabled_resources(root, params).items()
        if kind == "AWS::Serverless::Application"
    ]
    resources = {}
    for app in apps:
        nested = load_template(REPO / root["Resources"][app]["Properties"]["Location"])
        nested_params = parameter_values(nested, nested_parameters(root, app, params))
        resources[app] = set(enabled_resources(nested, nested_params))
    return resources


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
    assert output_value(root, params, "ClusterArn") == (
        "<Cluster.Outputs.ClusterArn>"
        if cluster_mode == "new-cluster"
        else EXISTING_CLUSTER["ExistingClusterArn"]
    )


def test_attaching_to_an_existing_cluster_creates_no_network_and_no_cluster() -> None:
    root = load_template(REPO / "template.yaml")
    params = parameter_values(root, EXISTING_CLUSTER)
    resources = _nested_resources(root, params)
    assert not {"Network", "Cluster"} & set(resources)
    assert nested_parameters(root, "Brokers", params)["ClusterArn"] == EXISTING_CLUSTER["ExistingClusterArn"]
    assert output_value(root, params, "SubnetIds") == EXISTING_CLUSTER["ExistingClusterSubnetIds"]
    # The options consume the existing cluster, not a new one
    passed = nested_parameters(root, "LambdaConsumer", params)
    assert passed["ClusterArn"] == EXISTING_CLUSTER["ExistingClusterArn"]


@pytest.mark.parametrize(
    ("overrides", "added", "removed"),
    [
        ({"ClientAuthentication": "SCRAM"}, {"ScramSecret", "ScramSecretAssociation"}, set()),
        ({"ClusterType": "Express"}, set(), set()),
        (
            {"ClusterType": "Serverless"},
            {
                "ServerlessCluster",
                "ServerlessBootstrap",
                "SharedLayer",
                "TopicProvisionerLogGroup",
                "TopicProvisionerFunction",
                "ServerlessTopic",
            },
            {"BrokerLogGroup", "Cluster", "Topic"},
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
    assert set(enabled_resources(network, parameter_values(network, overrides))) == expected


@pytest.mark.parametrize(("route_tables", "s3_gateway"), [("", False), ("rtb-0aaaaaaaaaaaaaaaa", True)])
def test_vpc_endpoints_cover_what_the_solution_calls(route_tables: str, s3_gateway: bool) -> None:
    endpoints = load_template(REPO / "nested/vpc-endpoints.yaml")
    params = parameter_values(
        endpoints,
        {
            "VpcId": "vpc-0aaaaaaaaaaaaaaaa",
            "SubnetIds": EXISTING_VPC["ExistingPrivateSubnetIds"],
            "RouteTableIds": route_tables,
            "ClientSecurityGroupId": "sg-0aaaaaaaaaaaaaaaa",
            "BrokerSecurityGroupId": "sg-0bbbbbbbbbbbbbbbb",
        },
    )
    services = {
        endpoints["Resources"][name]["Properties"]["ServiceName"]["Fn::Sub"].rsplit(".", 1)[1]
        for name, kind in enabled_resources(endpoints, params).items()
        if kind == "AWS::EC2::VPCEndpoint"
    }
    # The event source mapping's pollers (STS, Lambda, Secrets Manager), its on-failure destinations (SQS,
    # S3), Managed Flink's logs and metrics; no MSK API endpoint: nothing in the VPC calls it.
    expected = {"sts", "lambda", "secretsmanager", "sqs", "logs", "monitoring"} | (
        {"s3"} if s3_gateway else set()
    )
    assert services == expected
    assert set(output_value(endpoints, params, "Services").split(",")) == expected


def test_the_zone_check_knows_every_interface_endpoint_the_stack_creates() -> None:
    # The zones are chosen before the endpoints exist, so the network stack names their services itself.
    network = load_template(REPO / "nested/network.yaml")
    checked = network["Resources"]["Zones"]["Properties"]["EndpointServices"]["Fn::If"][1].split(",")
    endpoints = load_template(REPO / "nested/vpc-endpoints.yaml")["Resources"].values()
    created = [
        endpoint["Properties"]["ServiceName"]["Fn::Sub"].rsplit(".", 1)[1]
        for endpoint in endpoints
        if endpoint["Type"] == "AWS::EC2::VPCEndpoint"
        and endpoint["Properties"]["VpcEndpointType"] == "Interface"
    ]
    assert sorted(checked) == sorted(created)
