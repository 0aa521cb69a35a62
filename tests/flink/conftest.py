"""Fixtures of the Flink tier: the job's own main() in a local PyFlink MiniCluster (Python 3.11, .venv-flink).

`make test-flink` runs this tier with --confcutdir=tests/flink, so the Lambda tiers' conftest (boto3,
Powertools) is not loaded here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import main
import pytest

from job_settings import LOCAL_RUN_VARIABLE, PROPERTIES_FILE_VARIABLE

START_MS = 1_764_000_000_000  # 2025-11-24T16:00:00Z


def record(
    offset: int, timestamp: int, payload: str | None, key: str | None = "k", partition: int = 0
) -> dict[str, Any]:
    """One line of the local source file: a Kafka record with key and value as UTF-8 text."""
    return {
        "topic": "streaming-events",
        "partition": partition,
        "offset": offset,
        "timestamp": timestamp,
        "record_key": key,
        "payload": payload,
    }


@dataclass
class JobRun:
    """What one run of the job wrote."""

    output: Path
    rows: list[dict[str, Any]]

    def files(self) -> list[str]:
        return sorted(str(p.relative_to(self.output)) for p in self.output.rglob("*") if p.is_file())

    def counts(self) -> dict[tuple[str, str], int]:
        """record_count per (window_start, event_type)."""
        return {(row["window_start"], row["event_type"]): row["record_count"] for row in self.rows}


RunJob = Callable[..., JobRun]


@pytest.fixture
def run_job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> RunJob:
    """Run main.main() on the given records (NDJSON file source) with optional Results properties."""

    def run(records: Iterable[dict[str, Any]], **results: str) -> JobRun:
        source, output = tmp_path / "source", tmp_path / "results"
        source.mkdir()
        (source / "records.json").write_text("".join(json.dumps(r) + "\n" for r in records))
        properties = [
            {
                "PropertyGroupId": "Source",
                "PropertyMap": {
                    "connector": "filesystem",
                    "topic": "streaming-events",
                    "path": source.as_uri(),
                },
            },
            {"PropertyGroupId": "Results", "PropertyMap": {"path": output.as_uri(), **results}},
        ]
        properties_file = tmp_path / "application_properties.json"
        properties_file.write_text(json.dumps(properties))
        monkeypatch.setenv(PROPERTIES_FILE_VARIABLE, str(properties_file))
        monkeypatch.setenv(LOCAL_RUN_VARIABLE, "1")
        main.main()
        rows = [
            json.loads(line)
            for path in sorted(output.rglob("part-*"))
            for line in path.read_text().splitlines()
        ]
        return JobRun(output, rows)

    return run
