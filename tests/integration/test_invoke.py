"""`make invoke` works for every event file: each is run through local.invoke, as the Makefile runs it,
with its function's template environment and the local backends that function needs."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from local.functions import REPO, discover
from local.invoke import invoke
from scripts.make_sample_events import large_events

# Custom resource events answer CloudFormation at their ResponseURL and call AWS APIs that only a stub gives
# here: tests/integration/<function>/ runs them against a local CloudFormation endpoint, moto and Stubber.
CUSTOM_RESOURCE_EVENTS = {"flink_deployer"}
# Every committed event file, and the large ones the generator writes (git-ignored, so built here).
COMMITTED = {
    str(p.relative_to(REPO / "events")): p
    for p in (REPO / "events").rglob("*.json")
    if not p.name.startswith("large-") and p.parent.name not in CUSTOM_RESOURCE_EVENTS
}
EVENTS: dict[str, Any] = {name: path for name, path in COMMITTED.items()} | dict(large_events())
EVENT_FILES = [REPO / "events" / name for name in sorted(EVENTS)]
PRODUCER_STATUS = {"valid-batch": 200, "forbidden-topic": 403, "large-record-over-1mib": 413}
# make invoke runs a replay step after the steps before it, on a sample archive of 12 records in 3 partitions
# (local.replay_world): what each step answers then.
REPLAY_ANSWERS: dict[str, dict[str, Any]] = {
    "scope": {"alreadyComplete": False, "objects": 1},
    "scan": {"lines": 12, "matched": 12, "rejected": 0},
    "partitions": {"partitions": [0, 1, 2]},
    "merge": {"partition": 0, "records": 4, "duplicatesDropped": 0},
    "preflight": {"targetPartitions": [0, 1, 2], "plannedRecords": 12},
    "write": {"targetPartition": 0, "done": True, "produced": 4},
    "verify": {"planned": 12, "produced": 12, "identical": 12},
    "translate": {"groups": 0},
}


def _function_of(path: Path) -> str:
    return path.parent.name


def test_every_event_folder_is_a_function() -> None:
    assert {_function_of(p) for p in EVENT_FILES} <= set(discover())
    assert {"consumer", "firehose_forwarder", "producer", "token_scopes"} <= {
        _function_of(p) for p in EVENT_FILES
    }


@pytest.mark.parametrize("path", EVENT_FILES, ids=[str(p.relative_to(REPO / "events")) for p in EVENT_FILES])
def test_invoke_runs_the_event(path: Path) -> None:
    function = _function_of(path)
    source = EVENTS[str(path.relative_to(REPO / "events"))]
    event = json.loads(source.read_text()) if isinstance(source, Path) else source
    response: Any = invoke(function, event)
    if function in ("consumer", "firehose_forwarder"):
        assert set(response) == {"batchItemFailures"}
        if function == "firehose_forwarder":
            assert response["batchItemFailures"] == [], "the forwarder archives every sample record"
    elif function == "producer":
        expected = PRODUCER_STATUS.get(path.stem, 400)
        assert response["statusCode"] == expected, response["body"]
    elif function == "archive_replay":
        expected = REPLAY_ANSWERS[path.stem]
        assert {key: response.get(key) for key in expected} == expected, response
    elif function == "token_scopes":
        details = response["response"]["claimsAndScopeOverrideDetails"]
        added = (details or {}).get("accessTokenGeneration", {}).get("scopesToAdd", [])
        assert added == (["records/write"] if "producer" in path.stem else [])


def test_make_invoke_command_line() -> None:
    completed = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "invoke",
            "FUNCTION=consumer",
            "EVENT=events/consumer/json-records.json",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert completed.stdout.rstrip().endswith('{\n  "batchItemFailures": []\n}')
