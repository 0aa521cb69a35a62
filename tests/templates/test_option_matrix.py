"""The option matrix: for each DeploymentOption, with a new cluster and with an existing one, the stack
enables exactly the nested applications, and they exactly the resources, that the option needs."""

from __future__ import annotations

import pytest

from tests.templates.cfn_conditions import (
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
    "FlinkS3": ["flink-analytics"],
    "All": ["ingest-api", "lambda-consumer", "firehose-delivery", "flink-analytics"],
}
NESTED_TEMPLATE = {"Network": "nested/network.yaml", "Cluster": "nested/msk-cluster.yaml"}

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
FLOW_LOGS = {"LogsKey", "FlowLogGroup", "FlowLogRole", "FlowLog"}
INTERFACE_ENDPOINTS = {
    "EndpointSecurityGroup",
    "StsEndpoint",
    "LambdaEndpoint",
    "SecretsManagerEndpoint",
    "KafkaEndpoint",
    "LogsEndpoint",
    "MonitoringEndpoint",
}
NEW_VPC_WITH_ENDPOINTS = (
    {"Vpc", "S3GatewayEndpoint"} | PRIVATE_SUBNETS | FLOW_LOGS | INTERFACE_ENDPOINTS | SECURITY_GROUPS
)
PROVISIONED_IAM_CLUSTER = {"ClusterKey", "ClusterKeyAlias", "BrokerLogGroup", "Cluster", "Topic"}

# What each cluster mode deploys today, per nested application. Option stacks (ingest-api, lambda-consumer,
# firehose-delivery, flink-analytics, monitoring) join this table as they are built.
EXPECTED = {
    "new-cluster": {"Network": NEW_VPC_WITH_ENDPOINTS, "Cluster": PROVISIONED_IAM_CLUSTER},
    "existing-cluster": {},
}


def _nested_resources(root: dict, params: dict[str, str]) -> dict[str, set[str]]:
    apps = [
        name
        for name, kind in enabled_resources(root, params).items()
        if kind == "AWS::Serverless::Application"
    ]
    resources = {}
    for app in apps:
        nested = load_template(REPO / NESTED_TEMPLATE[app])
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
    assert resources == EXPECTED[cluster_mode]
    cluster_part = "network+cluster" if cluster_mode == "new-cluster" else "existing-cluster"
    assert output_value(root, params, "Components").split(",") == [cluster_part, *OPTION_COMPONENTS[option]]
    assert output_value(root, params, "ClusterArn") == (
        "<Cluster.Outputs.ClusterArn>"
        if cluster_mode == "new-cluster"
        else EXISTING_CLUSTER["ExistingClusterArn"]
    )


def test_attaching_to_an_existing_cluster_creates_no_network_and_no_cluster() -> None:
    root = load_template(REPO / "template.yaml")
    params = parameter_values(root, EXISTING_CLUSTER)
    types = set(enabled_resources(root, params).values())
    assert "AWS::Serverless::Application" not in types or not _nested_resources(root, params)
    assert output_value(root, params, "SubnetIds") == EXISTING_CLUSTER["ExistingClusterSubnetIds"]


@pytest.mark.parametrize(
    ("overrides", "added", "removed"),
    [
        ({"ClientAuthentication": "SCRAM"}, {"ScramSecret", "ScramSecretAssociation"}, set()),
        ({"ClusterType": "Express"}, set(), set()),
        (
            {"ClusterType": "Serverless"},
            {
                "ServerlessCluster",
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
        (EXISTING_VPC, SECURITY_GROUPS),
    ],
)
def test_network_modes(overrides: dict[str, str], expected: set[str]) -> None:
    network = load_template(REPO / "nested/network.yaml")
    assert set(enabled_resources(network, parameter_values(network, overrides))) == expected
