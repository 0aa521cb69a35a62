"""Every preflight refusal against Tansu, which answers DescribeConfigs with the configs a topic was created
with (and nothing for the broker, nor enforces them): the run stops before anything is produced, with a
message naming the observed and required values, and plan.json records every check."""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

import pytest

import preflight
from streaming_common.kafka_codec import KafkaRecord
from tests.integration.archive_replay.conftest import KafkaReplay, hours_ago

LARGE_VALUE = b"v" * 3_000


def _archive(kafka_replay: KafkaReplay, partitions: tuple[int, ...] = (0, 2)) -> str:
    source = f"orders-{hours_ago(0)}"
    kafka_replay.world.archive(
        [
            KafkaRecord(source, partition, 0, hours_ago(3), "CREATE_TIME", b"k", LARGE_VALUE)
            for partition in partitions
        ]
    )
    return source


REFUSALS = [
    pytest.param(
        3,
        {"max.message.bytes": "2000"},
        ["max.message.bytes is 2000 (topic)", "the largest planned record is 3001 bytes", "at least 4025"],
        id="max.message.bytes",
    ),
    pytest.param(
        3,
        {"message.timestamp.type": "LogAppendTime"},
        ["message.timestamp.type is LogAppendTime (topic)", "it must be CreateTime"],
        id="LogAppendTime",
    ),
    pytest.param(
        3,
        {"retention.ms": "3600000"},
        ["retention.ms is 3600000 (topic)", "ms old: it would be deleted at once", "-1 or above 108"],
        id="retention",
    ),
    pytest.param(
        3,
        {"message.timestamp.before.max.ms": "60000"},
        ["message.timestamp.before.max.ms is 60000 (topic)", "the broker would refuse it"],
        id="timestamp-before-max",
    ),
    pytest.param(
        2,
        {},
        ["has 2 partitions, the plan has records of source partition 2", "needs at least 3"],
        id="too-few-partitions",
    ),
]


@pytest.mark.parametrize(("partitions", "config", "phrases"), REFUSALS)
def test_refusal_names_observed_and_required(
    kafka_replay: KafkaReplay, partitions: int, config: dict[str, str], phrases: list[str]
) -> None:
    source = _archive(kafka_replay)
    target = kafka_replay.topic("refusing", partitions, config)
    request = kafka_replay.request("refused", source, target)
    kafka_replay.world.plan(request)

    with pytest.raises(preflight.PreflightRefused) as refusal:
        kafka_replay.step("preflight", runId="refused", request=request)

    for phrase in phrases:
        assert phrase in str(refusal.value)
    plan = kafka_replay.run_file("refused", "plan.json")
    assert plan["refused"] == [str(refusal.value)]
    assert [check["check"] for check in plan["checks"] if not check["ok"]]
    assert "targetPartitions" not in plan
    assert kafka_replay.read(target, 0) == []


def test_missing_topic_is_refused(kafka_replay: KafkaReplay) -> None:
    source = _archive(kafka_replay)
    request = kafka_replay.request("missing", source, "no-such-topic")
    kafka_replay.world.plan(request)

    with pytest.raises(
        preflight.PreflightRefused, match="target topic no-such-topic does not exist"
    ) as refusal:
        kafka_replay.step("preflight", runId="missing", request=request)

    assert "with at least 3 partitions" in str(refusal.value)


def test_configs_tansu_does_not_answer_are_kafka_defaults_and_recorded(kafka_replay: KafkaReplay) -> None:
    source = _archive(kafka_replay, partitions=(0,))
    target = kafka_replay.topic("defaults", 1)
    request = kafka_replay.request("defaults", source, target)
    kafka_replay.world.plan(request)

    answer = kafka_replay.step("preflight", runId="defaults", request=request)

    assert answer["targetPartitions"] == [0]
    plan = kafka_replay.run_file("defaults", "plan.json")
    assert plan["topicConfigs"]["max.message.bytes"] == {
        "value": "1048588",
        "source": "Kafka default (not answered)",
    }
    assert {check["check"]: check["ok"] for check in plan["checks"]} == {
        "topic-exists": True,
        "partition-count": True,
        "max.message.bytes": True,
        "message.timestamp.type": True,
        "retention.ms": True,
        "timestamps": True,
    }


class _Entry:
    def __init__(self, value: str) -> None:
        self.value = value


class _BrokerAnswers:
    """An AdminClient whose broker answers configs the topic does not (Tansu answers none for a broker)."""

    def __init__(self, topic: dict[str, str], broker: dict[str, str]) -> None:
        self.answers = {"TOPIC": topic, "BROKER": broker}

    def describe_configs(self, resources: list[Any]) -> dict[Any, Future[dict[str, _Entry]]]:
        future: Future[dict[str, _Entry]] = Future()
        answer = self.answers[resources[0].restype.name]
        future.set_result({name: _Entry(value) for name, value in answer.items()})
        return {resources[0]: future}

    def list_topics(self, timeout: float) -> Any:
        return type("Metadata", (), {"brokers": {7: None}})()


def test_broker_config_comes_before_kafka_default() -> None:
    """Faked at the AdminClient boundary: Tansu answers no broker config."""
    admin = _BrokerAnswers(
        {"retention.ms": "-1"}, {"message.max.bytes": "5242880", "log.retention.hours": "1"}
    )

    configs = preflight.topic_configs(admin, "topic")  # type: ignore[arg-type]

    assert configs["retention.ms"] == {"value": "-1", "source": "topic"}
    assert configs["max.message.bytes"] == {"value": "5242880", "source": "broker 7"}
    assert configs["message.timestamp.type"] == {
        "value": "CreateTime",
        "source": "Kafka default (not answered)",
    }
    hours_only = _BrokerAnswers({}, {"log.retention.hours": "2"})
    assert preflight.topic_configs(hours_only, "t")["retention.ms"] == {  # type: ignore[arg-type]
        "value": "7200000",
        "source": "broker 7 log.retention.hours",
    }


def test_timestamps_librdkafka_cannot_send_are_refused() -> None:
    """Not through the broker: a plan reaching timestamp 0 needs `from` at 1970, hours of hour prefixes."""
    (zero,) = preflight._timestamp_checks(0)
    (fine,) = preflight._timestamp_checks(1)

    assert zero["ok"] is False
    assert "timestamp 0: librdkafka sends a timestamp of 0 as the current time" in zero["message"]
    assert fine["ok"] is True
