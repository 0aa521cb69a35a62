"""keyHash mode's partitioner is the Java client's: murmur2 vectors from Kafka's own UtilsTest."""

from __future__ import annotations

import pytest

from preflight import key_hash_partition, murmur2


def _signed(value: int) -> int:
    return value - (1 << 32) if value >= 1 << 31 else value


@pytest.mark.parametrize(
    ("key", "java_hash"),
    [
        (b"21", -973932308),
        (b"foobar", -790332482),
        (b"a-little-bit-long-string", -985981536),
        (b"a-little-bit-longer-string", -1486304829),
        (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
        (b"abc", 479470107),
    ],
)
def test_murmur2_matches_kafka_utils(key: bytes, java_hash: int) -> None:
    assert _signed(murmur2(key)) == java_hash


def test_null_key_keeps_its_source_partition_modulo() -> None:
    assert key_hash_partition(None, 5, 3) == 2
    assert key_hash_partition(b"", 5, 3) == (murmur2(b"") & 0x7FFFFFFF) % 3
