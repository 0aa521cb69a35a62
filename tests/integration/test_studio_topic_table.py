"""The Studio notebook's Kafka table, as nested/flink-analytics.yaml stores it in Glue, read back by Flink.

Flink's Hive catalog (the notebook's catalog is Glue) reads a Flink table from the properties prefixed flink.,
through CatalogPropertiesUtil. Here PyFlink (.venv-flink, Flink 1.20: the notebook runs 1.15, whose
serialisation keys are the same) deserialises the template's properties, plans a query on the table as
deployed (MSK IAM), and reads the local broker through the same table with local connection options.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer

from local.cfn import PSEUDO_PARAMETERS, evaluate_conditions, parameter_values, resolve_tree
from local.flink_runner import FLINK_JAR, FLINK_PYTHON
from local.topic_end import topic_end
from tests.templates.sam_offline import REPO, load_template
from tests.templates.scenarios import WIRED

READER = Path(__file__).with_name("flink_catalog_table.py")
FLINK_PREFIX = "flink."
START_MS = 1_764_000_000_000  # 2025-11-24T16:00:00Z
QUERY = (
    "SELECT record_partition, record_offset, record_key, payload, topic,"
    " DATE_FORMAT(event_time, 'yyyy-MM-dd HH:mm:ss.SSS') FROM source_events"
)


def _studio_table() -> dict[str, Any]:
    """The Studio topic table's TableInput as the template deploys it (default parameters)."""
    template = load_template(REPO / "nested/flink-analytics.yaml")
    overrides = {k: v for k, v in WIRED.items() if k in template["Parameters"]}
    params = parameter_values(template, overrides | {"BootstrapServers": "b-1.example.com:9098"})
    names = PSEUDO_PARAMETERS | params | {name: f"<{name}>" for name in template["Resources"]}
    properties = template["Resources"]["StudioTopicTable"]["Properties"]
    return dict(resolve_tree(properties, names, evaluate_conditions(template, params))["TableInput"])


def _local(deployed: dict[str, str], bootstrap: str, topic: str, end_offsets: str) -> dict[str, str]:
    """The deployed table's properties with the local broker's connection (PLAINTEXT), read to its end."""
    local = {k: v for k, v in deployed.items() if not k.startswith("properties.sasl.")}
    return local | {
        "topic": topic,
        "properties.bootstrap.servers": bootstrap,
        "properties.security.protocol": "PLAINTEXT",
        "scan.startup.mode": "earliest-offset",
        "scan.bounded.mode": "specific-offsets",
        "scan.bounded.specific-offsets": end_offsets,
    }


def _read_back(tmp_path: Path, request: dict[str, Any]) -> dict[str, Any]:
    if not FLINK_PYTHON.exists() or not FLINK_JAR.exists():
        pytest.fail(f"{FLINK_PYTHON} and {FLINK_JAR} are needed: run make .venv-flink/.installed flink-jar")
    request_file = tmp_path / "request.json"
    request_file.write_text(json.dumps(request), encoding="utf-8")
    completed = subprocess.run(
        [str(FLINK_PYTHON), str(READER), str(request_file)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    result: dict[str, Any] = json.loads(completed.stdout)
    return result


def test_flink_reads_the_studio_table_as_stored_and_reads_the_topic_through_it(
    kafka_bootstrap: str, new_topic: Callable[[str, int], str], tmp_path: Path
) -> None:
    # Given records in two of three partitions: keys, JSON values, a tombstone, a record without a key
    topic = new_topic("studio", 3)
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "enable.idempotence": True})
    produced = [
        (0, b"k1", b'{"type": "a"}', START_MS),
        (0, None, b'{"type": "b"}', START_MS + 1_500),
        (2, b"k2", None, START_MS + 2_000),
        (2, b"k3", b"not json", START_MS + 61_000),
    ]
    for partition, key, value, timestamp in produced:
        producer.produce(topic, key=key, value=value, partition=partition, timestamp=timestamp)
    assert producer.flush(10) == 0
    end = topic_end(kafka_bootstrap, topic)

    # When Flink deserialises the table the template stores (flink. prefix off), plans a query on it as
    # deployed, and runs the query on the same table with the local broker's connection
    table = _studio_table()
    deployed = {
        k.removeprefix(FLINK_PREFIX): v for k, v in table["Parameters"].items() if k.startswith(FLINK_PREFIX)
    }
    result = _read_back(
        tmp_path,
        {
            "jar": FLINK_JAR.as_uri(),
            "name": table["Name"],
            "deployed": deployed,
            "local": _local(deployed, kafka_bootstrap, topic, end.flink_offsets()),
            "query": QUERY,
        },
    )

    # Then Flink stores the table exactly as the template does (its watermark expression as Flink writes it)
    stored = result["stored"]
    assert {k: v for k, v in stored.items() if k != "schema.watermark.0.strategy.expr"} == {
        k: v for k, v in deployed.items() if k != "schema.watermark.0.strategy.expr"
    }
    assert "`event_time`" in stored["schema.watermark.0.strategy.expr"]
    # And the deployed table plans with the Kafka connector, its watermark on the record timestamp
    assert "TableSourceScan(table=[[default_catalog, default_database, source_events" in result["plan"]
    assert "WatermarkAssigner(rowtime=[event_time]" in result["plan"]
    # And every record comes back with its partition, offset, key, value, topic and timestamp
    offsets: dict[int, int] = {}
    expected = []
    for partition, key, value, timestamp in produced:
        offset = offsets.get(partition, 0)
        offsets[partition] = offset + 1
        moment = datetime.fromtimestamp(timestamp / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        expected.append([partition, offset, key and key.decode(), value and value.decode(), topic, moment])
    assert sorted(result["rows"], key=lambda row: (row[0], row[1])) == expected
