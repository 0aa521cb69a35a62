"""`make demo`, the README's first command: every option end to end, every record accounted for."""

from __future__ import annotations

import subprocess

import pytest

from local.functions import REPO


def _make_demo(option: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", "demo", f"OPTION={option}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize("option", ["All", "ClusterWithRestApi"])
def test_demo_accounts_for_every_record(option: str) -> None:
    completed = _make_demo(option)
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-2000:]
    report = completed.stdout
    assert "unaccounted       0" in report
    assert "accepted by API   3000 of 3000 records" in report
    if option == "All":
        assert "consumer          3000 processed, 1 after retries" in report
        assert "archive           3001 lines" in report


def test_flink_option_says_what_is_missing() -> None:
    completed = _make_demo("FlinkS3")
    assert completed.returncode != 0
    assert "Flink job is not built yet" in completed.stdout
