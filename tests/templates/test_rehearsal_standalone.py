"""nested/archive-replay.yaml deployed on its own (`sam deploy -t nested/archive-replay.yaml`) against an
archive bucket and a cluster that exist already: packaged by `sam package` and created in moto's
CloudFormation like the root's rows (tests/templates/rehearsal), with the brokers given and with them looked
up by its nested cluster-bootstrap stack; its state machine and bucket exist, then everything is deleted."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local.aws import client
from tests.templates.rehearsal import Rehearsal, rehearsal
from tests.templates.rehearsal.stacks import RehearsalError
from tests.templates.sam_offline import REPO
from tests.templates.scenarios import EXISTING_CLUSTER, WIRED

REPLAY = REPO / "nested" / "archive-replay.yaml"
EXISTING_ARCHIVE = "existing-archive-bucket"
# What a user gives: the archive and the cluster they have, and the shared key, layer, logs bucket and topic.
GIVEN = {
    "ArchiveBucketName": EXISTING_ARCHIVE,
    "ClusterArn": EXISTING_CLUSTER["ExistingClusterArn"],
    "SubnetIds": EXISTING_CLUSTER["ExistingClusterSubnetIds"],
    "SecurityGroupIds": EXISTING_CLUSTER["ExistingClusterSecurityGroupIds"],
    **{name: WIRED[name] for name in ("KeyArn", "LayerArn", "AccessLogsBucketName", "AlarmTopicArn")},
}


@pytest.fixture(scope="module")
def session() -> Iterator[Rehearsal]:
    with rehearsal(REPLAY) as started:
        yield started


@pytest.mark.parametrize(
    "brokers",
    [{"BootstrapServers": "b-1.existing.kafka.us-east-1.amazonaws.com:9098"}, {"BootstrapServers": ""}],
    ids=["brokers-given", "brokers-looked-up"],
)
def test_the_replay_deploys_on_its_own(session: Rehearsal, brokers: dict[str, str]) -> None:
    # Given an account with the archive bucket already in it
    session.fresh_account()
    client("s3", session.endpoint).create_bucket(Bucket=EXISTING_ARCHIVE)

    # When the packaged template is created with only what a user of an existing archive and cluster gives
    stack = session.creator.create("replay-on-its-own", session.packaged, GIVEN | brokers)

    # Then its state machine and its bucket exist, and the function reads the given archive. (moto's
    # CloudFormation creates state machines in its classic Step Functions backend, which its API does not
    # answer from when the ASL interpreter is on: the stack's resource is checked instead.)
    outputs = stack.outputs
    machine = client("cloudformation", session.endpoint).describe_stack_resource(
        StackName=stack.name, LogicalResourceId="ReplayStateMachine"
    )["StackResourceDetail"]
    assert machine["ResourceStatus"] == "CREATE_COMPLETE"
    assert machine["PhysicalResourceId"] == outputs["StateMachineArn"]
    client("s3", session.endpoint).head_bucket(Bucket=outputs["ReplayBucketName"])
    configuration = client("lambda", session.endpoint).get_function_configuration(
        FunctionName=outputs["FunctionName"]
    )
    variables = configuration["Environment"]["Variables"]
    assert variables["ARCHIVE_BUCKET_NAME"] == EXISTING_ARCHIVE
    assert variables["KAFKA_BOOTSTRAP_SERVERS"]
    assert len(list(stack.tree())) == (1 if brokers["BootstrapServers"] else 2)

    # And it is deleted whole
    session.creator.delete(stack)


def test_the_replay_refuses_scram_without_its_secret(session: Rehearsal) -> None:
    # Given SCRAM authentication without the secret: the template's Rules refuse it before anything is created
    session.fresh_account()
    with pytest.raises(RehearsalError, match="ScramSecretArn"):
        session.creator.create("replay-scram", session.packaged, GIVEN | {"ClientAuthentication": "SCRAM"})
