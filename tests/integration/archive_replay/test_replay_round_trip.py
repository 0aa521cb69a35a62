"""Replay through a real broker gives back every record byte for byte, in its partition and order."""

from __future__ import annotations

import json

from archive_delivery import MAX_RECORD_BYTES
from streaming_common.kafka_codec import KafkaRecord, to_archive_line
from tests.integration.archive_replay.conftest import KafkaReplay, content, hours_ago

WHITESPACE_JSON = b'{ "order" :\t"o-1" ,  "amount": 12.50 ,"tags" : [ 1 , 2.0E1 ] }'
PRETTY_JSON = b'{\n  "order": "o-2"\n}\n'


def _records(topic: str) -> list[KafkaRecord]:
    base = hours_ago(3)
    big = b"\x00\xff" * ((MAX_RECORD_BYTES + 20_000) // 2)  # its line goes to oversize/
    records = [
        (b"\xff\xfe\x00binary-key", b"\x80\x81\x00 not utf-8", ()),
        (b"tombstone", None, (("reason", b"deleted"),)),
        (None, b"null key", ()),
        (b"", b"empty key", ()),
        (b"empty value", b"", ()),
        (b"headers", b"v", (("h", b"1"), ("h", b"2"), ("a", None), ("h", b""), ("bin", b"\xff\x00"))),
        (b"json", WHITESPACE_JSON, ()),
        (b"pretty", PRETTY_JSON, ()),
        (b"big", big, (("size", b"near the limit"),)),
        (None, None, ()),
    ]
    result = [
        KafkaRecord(topic, 0, 100 + index, base + index * 1000, "CREATE_TIME", key, value, headers)
        for index, (key, value, headers) in enumerate(records)
    ]
    result += [
        KafkaRecord(topic, 1, 7 + index, base + 500 + index, "CREATE_TIME", f"k{index}".encode(), b"p1")
        for index in range(5)
    ]
    return result


def test_every_record_comes_back_exactly(kafka_replay: KafkaReplay) -> None:
    source, target = f"orders-{hours_ago(0)}", kafka_replay.topic("replayed", 3)
    records = _records(source)
    assert b'"valueExact":true,"value":' + WHITESPACE_JSON in to_archive_line(records[6])
    kafka_replay.world.archive(records)
    kafka_replay.world.archive(records[:4])  # delivered twice by Firehose
    request = kafka_replay.request("exact", source, target)

    outputs = kafka_replay.replay(request)

    assert any(key.startswith("oversize/") for key in kafka_replay.world.keys("oversize/"))
    assert outputs["preflight"]["targetPartitions"] == [0, 1]
    for partition in (0, 1):
        planned = [record for record in records if record.partition == partition]
        stored = kafka_replay.read(target, partition)
        assert [content(record) for record in stored] == [content(record) for record in planned]
    assert kafka_replay.read(target, 2) == []  # an empty source partition writes nothing

    report = kafka_replay.run_file("exact", "report.json")
    assert report["line"] == f"replayed 15 of 15 records to {target}, identical 15"
    assert report["totals"]["duplicatesDropped"] == 4
    assert report["complete"] is True
    rows = {row["targetPartition"]: row for row in report["partitions"]}
    assert rows[0]["planned"] == rows[0]["produced"] == rows[0]["identical"] == 10
    assert (rows[0]["endOffsetBefore"], rows[0]["endOffsetAfter"]) == (0, 10)
    assert rows[0]["planHash"] == rows[0]["readBackHash"] == rows[0]["writerHash"]
    assert rows[1]["firstSource"] == [1, 7]
    assert rows[1]["lastSource"] == [1, 11]
    assert kafka_replay.run_file("exact", "offset-map/0.json") == {"segments": [[0, 100, 0, 10]]}
    assert kafka_replay.run_file("exact", "offset-map/1.json") == {"segments": [[1, 7, 0, 5]]}
    markdown = kafka_replay.run_file("exact", "report.md")
    assert f"replayed 15 of 15 records to {target}, identical 15" in markdown
    assert "| 0 | 10 | 10 | 10 | 10 | 0 | 0 | 10 | 0 | 9 | 0:100 | 0:109 |" in markdown
    assert json.loads(json.dumps(outputs["verify"]))["identical"] == 15
