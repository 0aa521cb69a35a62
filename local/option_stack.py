"""What the local runtime reads from the templates and creates once for an option: the topic (by the topic
provisioner's own logic) and the scopes the API's Cognito authorizer requires. Shared by `make demo` and
`make local`."""

from __future__ import annotations

from local.aws import LOCAL_CREDENTIALS
from local.functions import REPO, load_template
from local.invoke import cold_container, function_spec

OPTIONS = ("ClusterWithRestApi", "LambdaConsumer", "LambdaFirehoseS3", "FlinkS3", "All")
INGEST_API = REPO / "nested" / "ingest-api.yaml"
QUIET = {"POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_TRACE_DISABLED": "true"}


def topic_defaults() -> tuple[str, int]:
    """The topic's name and partition count, as nested/msk-cluster.yaml's parameters default them."""
    parameters = load_template(REPO / "nested" / "msk-cluster.yaml")["Parameters"]
    return str(parameters["TopicName"]["Default"]), int(parameters["TopicPartitions"]["Default"])


def required_scopes() -> frozenset[str]:
    """The scopes the API's Cognito authorizer requires (from nested/ingest-api.yaml)."""
    api = load_template(INGEST_API)["Resources"]["Api"]["Properties"]
    return frozenset(api["Auth"]["Authorizers"]["CognitoAuthorizer"]["AuthorizationScopes"])


def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    """Create the topic with the topic provisioner's own logic, in a container of it."""
    from confluent_kafka.admin import AdminClient  # noqa: PLC0415 - only with a broker

    with cold_container(function_spec("topic_provisioner"), QUIET | LOCAL_CREDENTIALS):
        import topic_admin  # noqa: PLC0415 - the container's fresh module

        topic_admin.ensure_topic(
            AdminClient({"bootstrap.servers": bootstrap}), topic_admin.TopicSpec(topic, partitions)
        )
