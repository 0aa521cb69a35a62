"""Custom::FlinkApplicationRun through the real handler and a CloudFormation response endpoint, against the
Managed Flink API's answers (Stubber: moto lacks this API): start and wait for RUNNING, the application's own
reason when it does not start, bounded waits, and a stop with a snapshot before deletion."""

from __future__ import annotations

from typing import Any

import pytest

from flink_deployment import REASON_LIMIT
from tests.conftest import FakeLambdaContext
from tests.integration.flink_deployer.conftest import (
    APPLICATION,
    LOG_GROUP,
    FlinkApi,
    Requests,
)

LATEST = "RESTORE_FROM_LATEST_SNAPSHOT"
SKIP = "SKIP_RESTORE_FROM_SNAPSHOT"
PYTHON_ERROR = (
    "Run python process failed: Traceback (most recent call last): File main.py, line 12, in <module> "
    "KeyError: 'bootstrap.servers'"
)


def send_polling_every(
    requests: Requests,
    seconds: float,
    sample: str,
    *,
    context: FakeLambdaContext | None = None,
    **changes: str,
) -> dict[str, Any]:
    """Send the sample with the handler looking at the application every `seconds`."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("POLL_SECONDS", str(seconds))
        return requests.send(sample, context, **changes)


def test_create_starts_a_new_application_and_waits_for_running(flink: FlinkApi, requests: Requests) -> None:
    # a new application has no snapshot: asking for the latest one would restore nothing, so it is skipped
    flink.describes("READY").snapshots().starts(SKIP)
    flink.operation("start-1", "IN_PROGRESS", "IN_PROGRESS", "SUCCESSFUL").describes("RUNNING")
    answer = requests.send("run-create")
    assert answer["Status"] == "SUCCESS", answer.get("Reason")
    assert answer["PhysicalResourceId"] == APPLICATION
    assert answer["Data"] == {"Status": "RUNNING"}


def test_start_restores_the_latest_snapshot_when_there_is_one(flink: FlinkApi, requests: Requests) -> None:
    flink.describes("READY").snapshots("FAILED", "READY").starts(LATEST, allow_non_restored_state=True)
    flink.operation("start-1", "SUCCESSFUL").describes("RUNNING")
    answer = requests.send("run-create", AllowNonRestoredState="true")
    assert answer["Status"] == "SUCCESS", answer.get("Reason")


def test_start_from_a_named_snapshot(flink: FlinkApi, requests: Requests) -> None:
    custom = "RESTORE_FROM_CUSTOM_SNAPSHOT"
    flink.describes("READY").starts(custom, snapshot="before-upgrade")
    flink.operation("start-1", "SUCCESSFUL").describes("RUNNING")
    answer = requests.send("run-create", ApplicationRestoreType=custom, SnapshotName="before-upgrade")
    assert answer["Status"] == "SUCCESS", answer.get("Reason")


def test_a_start_that_fails_reports_the_applications_reason_and_where_its_logs_are(
    flink: FlinkApi, requests: Requests
) -> None:
    flink.describes("READY").snapshots().starts(SKIP)
    flink.operation("start-1", "IN_PROGRESS", "FAILED", error=PYTHON_ERROR).describes("READY")
    answer = requests.send("run-create")
    assert answer["Status"] == "FAILED"
    reason = answer["Reason"]
    assert reason.startswith(f"{APPLICATION} did not start (FAILED): Run python process failed")
    assert reason.endswith(f"Logs Insights on {LOG_GROUP}, filter logger like /PythonDriver/")
    assert len(reason) <= REASON_LIMIT  # else crhelper keeps only its last 240 characters


def test_a_start_that_outlasts_its_timeout_fails_saying_so(flink: FlinkApi, requests: Requests) -> None:
    # a 1 s timeout looked at every 0.4 s: three looks (at 0, 0.4 and 0.8 s)
    flink.describes("READY").snapshots().starts(SKIP)
    flink.operation("start-1", "IN_PROGRESS", "IN_PROGRESS", "IN_PROGRESS").describes("STARTING")
    answer = send_polling_every(requests, 0.4, "run-create", StartTimeoutSeconds="1")
    assert answer["Status"] == "FAILED"
    assert answer["Reason"].startswith(f"{APPLICATION} did not start within 1 s (IN_PROGRESS)")


def test_the_wait_ends_before_the_invocation_must_answer(flink: FlinkApi, requests: Requests) -> None:
    # 600 s allowed, but the invocation has 30.6 s left, of which 30 s are kept to answer: two looks
    flink.describes("READY").snapshots().starts(SKIP)
    flink.operation("start-1", "IN_PROGRESS", "IN_PROGRESS").describes("STARTING")
    answer = send_polling_every(requests, 0.4, "run-create", context=FakeLambdaContext(remaining_ms=30_600))
    assert answer["Status"] == "FAILED"
    assert "did not start within 1 s (IN_PROGRESS)" in answer["Reason"]


def test_an_application_still_starting_is_waited_for(flink: FlinkApi, requests: Requests) -> None:
    # a retried create: the first attempt's start is still under way
    flink.describes("STARTING", "STARTING", "RUNNING", "RUNNING")
    answer = requests.send("run-create")
    assert answer["Status"] == "SUCCESS", answer.get("Reason")


def test_an_application_that_does_not_settle_in_time_fails(flink: FlinkApi, requests: Requests) -> None:
    # three looks in 1 s, then one more answer for the log group the reason names
    flink.describes("UPDATING", "UPDATING", "UPDATING", "UPDATING", "UPDATING")
    answer = send_polling_every(requests, 0.4, "run-update", StartTimeoutSeconds="1")
    assert answer["Status"] == "FAILED"
    assert answer["Reason"].startswith(f"{APPLICATION} was still UPDATING after 1 s. Python errors:")


def test_starting_an_application_that_does_not_exist_fails(flink: FlinkApi, requests: Requests) -> None:
    flink.describes(None)
    answer = requests.send("run-create")
    assert answer["Status"] == "FAILED"
    assert answer["Reason"] == f"there is no application {APPLICATION}"


def test_update_leaves_a_running_application_alone(flink: FlinkApi, requests: Requests) -> None:
    # CloudFormation's own update of the application restarted it with the new code
    flink.describes("RUNNING")
    answer = requests.send("run-update")
    assert answer["Status"] == "SUCCESS", answer.get("Reason")
    assert answer["Data"] == {"Status": "RUNNING"}


def test_update_waits_for_an_application_cloudformation_is_restarting(
    flink: FlinkApi, requests: Requests
) -> None:
    flink.describes("UPDATING", "UPDATING", "RUNNING", "RUNNING")
    assert requests.send("run-update")["Status"] == "SUCCESS"


def test_update_starts_an_application_that_was_stopped(flink: FlinkApi, requests: Requests) -> None:
    flink.describes("READY").snapshots("READY").starts(LATEST)
    flink.operation("start-1", "SUCCESSFUL").describes("RUNNING")
    answer = requests.send("run-update")
    assert answer["Status"] == "SUCCESS", answer.get("Reason")


def test_an_update_rolled_back_by_the_service_fails(flink: FlinkApi, requests: Requests) -> None:
    flink.describes("ROLLED_BACK", "ROLLED_BACK")
    answer = requests.send("run-update")
    assert answer["Status"] == "FAILED"
    assert "rolled its last update back (ROLLED_BACK)" in answer["Reason"]


def test_delete_stops_the_application_with_a_snapshot_first(flink: FlinkApi, requests: Requests) -> None:
    flink.describes("RUNNING").stops().operation("stop-1", "IN_PROGRESS", "SUCCESSFUL")
    answer = requests.send("run-delete")
    assert answer["Status"] == "SUCCESS", answer.get("Reason")
    assert answer["PhysicalResourceId"] == APPLICATION


def test_delete_waits_for_a_start_under_way_then_stops(flink: FlinkApi, requests: Requests) -> None:
    # a create that timed out is rolled back while the application is still starting
    flink.describes("STARTING", "RUNNING", "RUNNING").stops().operation("stop-1", "SUCCESSFUL")
    assert requests.send("run-delete")["Status"] == "SUCCESS"


def test_delete_of_an_application_being_deleted_waits_until_it_is_gone(
    flink: FlinkApi, requests: Requests
) -> None:
    flink.describes("DELETING", None, None)
    assert requests.send("run-delete")["Status"] == "SUCCESS"


@pytest.mark.parametrize("status", ["READY", None])
def test_delete_of_a_stopped_or_missing_application_succeeds(
    flink: FlinkApi, requests: Requests, status: str | None
) -> None:
    flink.describes(status)
    assert requests.send("run-delete")["Status"] == "SUCCESS"


def test_a_stop_that_fails_keeps_the_resource_and_says_how_to_force_it(
    flink: FlinkApi, requests: Requests
) -> None:
    # losing the state silently is worse than a delete to retry
    flink.describes("RUNNING").stops().operation("stop-1", "FAILED", error="Snapshot creation failed")
    answer = requests.send("run-delete")
    assert answer["Status"] == "FAILED"
    assert answer["Reason"].startswith(
        f"{APPLICATION} did not stop with a snapshot (FAILED): Snapshot creation"
    )
    assert answer["Reason"].endswith("stop-application --force (no snapshot), then retry the delete")


def test_a_stop_that_outlasts_its_timeout_fails(flink: FlinkApi, requests: Requests) -> None:
    flink.describes("RUNNING").stops().operation("stop-1", "IN_PROGRESS", "IN_PROGRESS", "IN_PROGRESS")
    answer = send_polling_every(requests, 0.4, "run-delete", StopTimeoutSeconds="1")
    assert answer["Status"] == "FAILED"
    assert "did not stop with a snapshot within 1 s (IN_PROGRESS)" in answer["Reason"]


def test_delete_after_a_create_refused_for_its_properties_calls_nothing(
    flink: FlinkApi, requests: Requests
) -> None:
    # nothing was started with these properties; the stubbed API answers nothing
    assert requests.send("run-delete", StartTimeoutSeconds="an hour")["Status"] == "SUCCESS"
