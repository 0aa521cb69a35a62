"""Records into Kafka with one idempotent, acks=all producer per container and a per-request answer for
every record, gathered from librdkafka's delivery reports within a deadline."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache, partial
from typing import Any, NamedTuple

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from streaming_common.kafka_config import client_config
from streaming_common.settings import KafkaSettings


class ProducerSettings(KafkaSettings, frozen=True, kw_only=True):
    """ALLOWED_TOPICS (comma-separated), PRODUCE_TIMEOUT_MS (how long a request waits for its delivery
    reports; keep it well inside the function timeout) and RETRY_AFTER_SECONDS (for 503 answers)."""

    allowed_topics: str = ""
    produce_timeout_ms: int = 10_000
    retry_after_seconds: int = 5

    def topic_allowed(self, topic: str) -> bool:
        """Whether requests may produce to `topic`."""
        return topic in {name.strip() for name in self.allowed_topics.split(",") if name.strip()}


class OutgoingRecord(NamedTuple):
    """A record as bytes, ready for Kafka."""

    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]


class Delivered(NamedTuple):
    """Where Kafka stored a record (a tuple: one is made per record on the hot path)."""

    partition: int
    offset: int


class Failed(NamedTuple):
    """Why a record was not stored, and whether sending it again may work."""

    error_code: str
    error_message: str
    retriable: bool


Outcome = Delivered | Failed
NOT_REPORTED = Failed("DeliveryTimeout", "no delivery report within the request's deadline", True)


def producer_config(settings: ProducerSettings) -> dict[str, Any]:
    """Idempotent, acks=all, lz4, failing undelivered records at the request's deadline."""
    return client_config(
        settings,
        **{
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "compression.type": "lz4",
            "message.timeout.ms": settings.produce_timeout_ms,
            "socket.connection.setup.timeout.ms": min(settings.produce_timeout_ms, 10_000),
        },
    )


@cache
def producer(settings: ProducerSettings) -> Producer:
    """The container's producer (`producer_config`), connected before the first record."""
    kafka = Producer(producer_config(settings))
    kafka.poll(0)  # serve the IAM token callback before the first record
    return kafka


def _failure(error: KafkaError) -> Failed:
    return Failed(error.name(), error.str(), bool(error.retriable()) or error.code() in _RETRIABLE_CODES)


# Local errors that librdkafka does not mark retriable but that a later attempt can get past.
_RETRIABLE_CODES = frozenset(
    {
        KafkaError._MSG_TIMED_OUT,
        KafkaError._TRANSPORT,
        KafkaError._ALL_BROKERS_DOWN,
        KafkaError._TIMED_OUT,
        KafkaError._QUEUE_FULL,
    }
)


def produce(
    kafka: Any, topic: str, records: Sequence[OutgoingRecord], timeout_seconds: float
) -> list[Outcome]:
    """Produce `records` to `topic`; one outcome per record, in request order, within `timeout_seconds`."""
    outcomes: list[Outcome | None] = [None] * len(records)
    new = tuple.__new__  # Delivered(...) without a call of its __new__, 500 times a request

    def deliver(index: int, error: KafkaError | None, message: Message) -> None:
        if error is None:
            outcomes[index] = new(Delivered, (message.partition() or 0, message.offset() or 0))
        else:
            outcomes[index] = _failure(error)

    for index, record in enumerate(records):
        on_delivery = partial(deliver, index)
        key, value, headers = record
        try:
            kafka.produce(topic, value, key, headers=headers, on_delivery=on_delivery)
        except BufferError:  # a full local queue gets one chance to drain
            kafka.poll(0.5)
            outcomes[index] = _produce_again(kafka, topic, record, on_delivery)
        except KafkaException as error:
            outcomes[index] = _failure(error.args[0])
        kafka.poll(0)
    kafka.flush(timeout_seconds)
    return [NOT_REPORTED if outcome is None else outcome for outcome in outcomes]


def _produce_again(kafka: Any, topic: str, record: OutgoingRecord, on_delivery: Any) -> Failed | None:
    """None once the record is queued (its delivery report gives the outcome), else why it was not."""
    try:
        kafka.produce(topic, record.value, record.key, headers=record.headers, on_delivery=on_delivery)
    except BufferError:
        return Failed("QueueFull", "the producer's local queue is full", True)
    except KafkaException as error:
        return _failure(error.args[0])
    return None
