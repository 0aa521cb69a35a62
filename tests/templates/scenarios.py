"""Parameter sets that, together, switch on every resource of every template.

checkov evaluates Conditions with the parameters' defaults, so one scan of a template checks only its
default branch; the scan runs once per scenario, with that scenario's values as defaults.
tests/templates/test_security.py proves the scenarios of each template cover all of its resources.
"""

from __future__ import annotations

EXISTING_CLUSTER = {
    "ExistingClusterArn": (
        "arn:aws:kafka:us-east-1:123456789012:cluster/existing/0b9e2f47-aaaa-bbbb-cccc-444455556666-2"
    ),
    "ExistingClusterSubnetIds": "subnet-0aaaaaaaaaaaaaaaa,subnet-0bbbbbbbbbbbbbbbb",
    "ExistingClusterSecurityGroupIds": "sg-0aaaaaaaaaaaaaaaa",
}
EXISTING_VPC = {
    "ExistingVpcId": "vpc-0aaaaaaaaaaaaaaaa",
    "ExistingPrivateSubnetIds": "subnet-0aaaaaaaaaaaaaaaa,subnet-0bbbbbbbbbbbbbbbb,subnet-0cccccccccccccccc",
}
SCRAM_SECRET = {
    "ClientAuthentication": "SCRAM",
    "ScramSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:AmazonMSK_streaming-AbCdEf",
    "ScramSecretKeyArn": "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555",
}
# nested/kafka-function.yaml as the archive's forwarder (stream and bucket of nested/firehose-delivery.yaml)
ARCHIVE = {
    "Processor": "archive",
    "DeliveryStreamName": "streaming-archive-DeliveryStream-1A2B3C4D",
    "ArchiveBucketName": "streaming-archive-archivebucket-1a2b3c4d",
}
# Values for parameters that have no default (nested stacks wired by the root).
WIRED = {
    "ClusterArn": (
        "arn:aws:kafka:us-east-1:123456789012:cluster/streaming-1a2b3c4d/1a2b3c4d-0000-1111-2222-333344445555-3"
    ),
    "SubnetIds": "subnet-0aaaaaaaaaaaaaaaa,subnet-0bbbbbbbbbbbbbbbb,subnet-0cccccccccccccccc",
    "BrokerSecurityGroupId": "sg-0aaaaaaaaaaaaaaaa",
    "ClientSecurityGroupId": "sg-0bbbbbbbbbbbbbbbb",
    "SecurityGroupIds": "sg-0bbbbbbbbbbbbbbbb",
    "VpcId": "vpc-0aaaaaaaaaaaaaaaa",
    "BootstrapServers": "b-1.streaming.kafka.us-east-1.amazonaws.com:9098",
    # nested/firehose-delivery.yaml's archive, which nested/archive-replay.yaml reads
    "ArchiveBucketName": "streaming-archive-archivebucket-1a2b3c4d",
    # nested/foundation.yaml's outputs
    "KeyArn": "arn:aws:kms:us-east-1:123456789012:key/99999999-8888-7777-6666-555555555555",
    "LayerArn": "arn:aws:lambda:us-east-1:123456789012:layer:streaming-shared:1",
    "AccessLogsBucketName": "streaming-accesslogs-1a2b3c4d",
    "AlarmTopicArn": "arn:aws:sns:us-east-1:123456789012:streaming-AlarmTopic-1A2B3C4D5E6F",
    # nested/monitoring.yaml's: the root's name and option, the cluster's name (of ClusterArn above)
    "DeploymentName": "streaming",
    "DeploymentOption": "All",
    "ClusterName": "streaming-1a2b3c4d",
}

SCENARIOS: dict[str, dict[str, dict[str, str]]] = {
    "template": {
        "defaults": {},
        "existing-cluster": EXISTING_CLUSTER,
    },
    "foundation": {
        "defaults": {},
        "alarm-email": {"AlarmEmail": "operations@example.com"},
    },
    "network": {
        "vpc-endpoints": {},
        "vpc-endpoints-with-glue": {"GlueEndpoint": "true"},
        "nat-gateways": {"EgressMode": "NatGateway"},
        "existing-vpc": EXISTING_VPC,
        "existing-vpc-endpoints": EXISTING_VPC
        | {"CreateEndpointsInExistingVpc": "true", "ExistingPrivateRouteTableIds": "rtb-0aaaaaaaaaaaaaaaa"},
    },
    "vpc-endpoints": {
        "no-s3-gateway": {},
        "s3-gateway-and-glue": {"RouteTableIds": "rtb-0aaaaaaaaaaaaaaaa", "GlueEndpoint": "true"},
    },
    "ingest-api": {
        "defaults": {},
        "waf-scram-reserved": {"EnableWaf": "true", "ProducerReservedConcurrency": "50"} | SCRAM_SECRET,
    },
    "kafka-function": {
        "consumer-s3-destination": {},
        "consumer-sqs-destination": {"OnFailureDestination": "SQS"},
        "consumer-on-demand-scram": {"PollerMode": "OnDemand"} | SCRAM_SECRET,
        "archive-s3-destination": ARCHIVE,
        "archive-sqs-destination": ARCHIVE | {"OnFailureDestination": "SQS"},
    },
    "archive-replay": {
        "defaults": {},
        "brokers-looked-up-scram-other-source": {
            "BootstrapServers": "",
            "SourceClusterArn": EXISTING_CLUSTER["ExistingClusterArn"],
            "SourceBootstrapServers": "b-1.existing.kafka.us-east-1.amazonaws.com:9096",
            "ArchiveKeyArn": "arn:aws:kms:us-east-1:123456789012:key/77777777-6666-5555-4444-333333333333",
        }
        | SCRAM_SECRET,
    },
    "flink-analytics": {
        "defaults": {},
        "fixed-parallelism": {"AutoScalingEnabled": "false"},
    },
    "msk-cluster": {
        "provisioned-iam": {},
        "provisioned-scram": {"ClientAuthentication": "SCRAM"},
        "express": {"ClusterType": "Express"},
        "serverless": {"ClusterType": "Serverless"},
        # 12 brokers: the alarms that read brokers 6 to 12 by ID
        "provisioned-12-brokers": {"BrokersPerAvailabilityZone": "4"},
        "express-12-brokers": {"ClusterType": "Express", "BrokersPerAvailabilityZone": "4"},
    },
}


def scenarios_for(template_stem: str, parameter_names: set[str]) -> dict[str, dict[str, str]]:
    """The scenarios of one template (file name without .yaml), with values for its wired parameters (those
    of `parameter_names` the root wires)."""
    wired = {name: value for name, value in WIRED.items() if name in parameter_names}
    return {name: wired | values for name, values in SCENARIOS.get(template_stem, {"defaults": {}}).items()}
