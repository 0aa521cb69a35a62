"""Post-deploy checks, driven by the stack's outputs: token, API, consumer and archive.

Each check skips, saying why, when the stack's DeploymentOption does not deploy what it checks. Waits are
bounded; a failure says what to look at. Against AWS (`make e2e STACK=<name>`) the consumer gets up to
E2E_CONSUMER_WAIT_SECONDS (180 s by default) and the archive the Firehose stream's buffer interval plus
180 s, or E2E_ARCHIVE_WAIT_SECONDS; `make e2e-local` sets both to 60 s.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
from typing import Any

import pytest

from tests.e2e.archive import DeliveryStream, delivery_stream_for, object_lines, prefixes
from tests.e2e.conftest import Api, Posted
from tests.e2e.stack import Stack, post_records, request_token, wait_for

CONSUMER_OPTIONS = ("LambdaConsumer", "All")
ARCHIVE_OPTIONS = ("LambdaFirehoseS3", "All")
# After the buffer interval: the event source mapping's first poll and the forwarder's invocation.
PIPELINE_SLACK_SECONDS = 180
READABLE_COMPRESSION = ("GZIP", "ZIP", "UNCOMPRESSED")


def _wait_seconds(variable: str, default: float) -> float:
    return float(os.environ.get(variable, default))


# ------------------------------------------------------------------ the token endpoint and the API's gate
def test_the_token_url_gives_the_machine_client_a_bearer_token(api: Api) -> None:
    # When the machine client asks TokenUrl for a token with its credentials (client credentials grant)
    answer = request_token(api.token_url, api.client_id, api.client_secret, "records/write")
    # Then it gets a bearer access token for a while
    assert answer.status == 200, f"POST {api.token_url} answered {answer.status}: {answer.body[:300]!r}"
    body = answer.json()
    assert body["token_type"] == "Bearer", body
    assert int(body["expires_in"]) > 0, body
    assert body["access_token"].count(".") == 2, "the access token is not a JWT"


def test_the_token_url_refuses_a_wrong_secret(api: Api) -> None:
    answer = request_token(api.token_url, api.client_id, api.client_secret + "x", "records/write")
    assert (answer.status, answer.json().get("error")) == (400, "invalid_client"), (
        f"POST {api.token_url} with a wrong secret answered {answer.status} {answer.body[:300]!r}; "
        "Cognito answers 400 invalid_client"
    )


def test_a_request_without_a_token_is_refused_with_401(api: Api, posted: Posted) -> None:
    answer = post_records(api.url, api.topic, {"records": [{"key": posted.run_id, "value": 1}]}, None)
    assert answer.status == 401, (
        f"POST {api.url}/topics/{api.topic}/records without a token answered {answer.status}: "
        f"{answer.body[:300]!r}; the API's Cognito authorizer should refuse it (ApiUrl, the authorizer)"
    )


def test_a_token_without_the_scope_is_refused_with_403(api: Api, stack: Stack, posted: Posted) -> None:
    # Given a user outside the producers group, signed in through a temporary app client: its access token
    # is valid but carries no records/write (the pre token generation trigger grants it to the group only)
    cognito = stack.client("cognito-idp")
    name = f"{posted.run_id}-no-scope"
    client_id = cognito.create_user_pool_client(
        UserPoolId=api.user_pool_id,
        ClientName=name,
        GenerateSecret=False,
        ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    password = f"E2e-{posted.run_id}-Aa1!"
    try:
        cognito.admin_create_user(
            UserPoolId=api.user_pool_id, Username=name, TemporaryPassword=password, MessageAction="SUPPRESS"
        )
        cognito.admin_set_user_password(
            UserPoolId=api.user_pool_id, Username=name, Password=password, Permanent=True
        )
        signed_in = cognito.admin_initiate_auth(
            UserPoolId=api.user_pool_id,
            ClientId=client_id,
            AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": name, "PASSWORD": password},
        )
        assert "AuthenticationResult" in signed_in, f"sign-in asked for {signed_in.get('ChallengeName')}"
        # When it posts records
        answer = post_records(
            api.url,
            api.topic,
            {"records": [{"key": posted.rejected_marker, "value": 1}]},
            signed_in["AuthenticationResult"]["AccessToken"],
        )
    finally:
        with contextlib.suppress(cognito.exceptions.UserNotFoundException):  # when its creation failed
            cognito.admin_delete_user(UserPoolId=api.user_pool_id, Username=name)
        cognito.delete_user_pool_client(UserPoolId=api.user_pool_id, ClientId=client_id)
    # Then the authorizer refuses it for the missing scope
    assert answer.status == 403, (
        f"a valid access token without records/write got {answer.status}: {answer.body[:300]!r}; expected "
        "403 (the API's ACCESS_DENIED response); look at the authorizer's AuthorizationScopes"
    )


# ------------------------------------------------------------------ producing
def test_records_are_written_with_their_partition_and_offset(posted: Posted) -> None:
    assert posted.answer.status == 200, (
        f"POST of {len(posted.records)} records answered {posted.answer.status}: "
        f"{posted.answer.body[:500]!r}; "
        "look at the producer function's log group (ProducerFunctionName) and the brokers"
    )
    body = posted.answer.json()
    assert body["failedRecordCount"] == 0, body
    assert len(body["records"]) == len(posted.records), body
    for entry in body["records"]:
        assert isinstance(entry["partition"], int), entry
        assert isinstance(entry["offset"], int), entry


def test_an_invalid_body_is_refused_with_400_naming_the_field(posted: Posted) -> None:
    # records[1] has no value: the request is refused whole, and the answer names the field
    assert posted.rejected.status == 400, (
        f"a body whose records[1] has no value answered {posted.rejected.status}: "
        f"{posted.rejected.body[:300]!r}"
    )
    body = posted.rejected.json()
    named = " ".join(
        f"{error.get('field', '')} {error.get('message', '')}" for error in body.get("errors", [])
    )
    assert "value" in named, f"the 400 does not name the missing field: {body}"
    # (That nothing was produced is checked where the records would arrive: the consumer and the archive.)


# ------------------------------------------------------------------ the consumer
def _consumer_log_group(stack: Stack) -> str:
    if "ConsumerLogGroupName" in stack.outputs:
        return stack.outputs["ConsumerLogGroupName"]
    configuration = stack.client("lambda").get_function_configuration(
        FunctionName=stack.outputs["ConsumerFunctionName"]
    )
    return str(
        configuration.get("LoggingConfig", {}).get("LogGroup")
        or f"/aws/lambda/{configuration['FunctionName']}"
    )


def _logged_records(logs: Any, group: str, term: str, since_ms: int) -> list[dict[str, Any]]:
    """The consumer's `record` log entries that mention `term`, from `since_ms` on."""
    found: list[dict[str, Any]] = []
    paginator = logs.get_paginator("filter_log_events")
    for page in paginator.paginate(logGroupName=group, filterPattern=f'"{term}"', startTime=since_ms):
        for event in page["events"]:
            entry = _json_object(event["message"])
            # Powertools' JSON line as written, or (were Lambda to wrap it) inside a JSON log's message
            if entry is not None and entry.get("message") != "record":
                entry = _json_object(entry.get("message"))
            if entry is not None and entry.get("message") == "record":
                found.append(entry)
    return found


def _json_object(text: Any) -> dict[str, Any] | None:
    try:
        value = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def test_the_consumer_processed_every_record(stack: Stack, api: Api, posted: Posted) -> None:
    if stack.option not in CONSUMER_OPTIONS:
        pytest.skip(f"DeploymentOption {stack.option} deploys no LambdaConsumer")
    expected = set(posted.positions(api.topic))
    group = _consumer_log_group(stack)
    logs = stack.client("logs")
    since = posted.started_ms - 60_000
    wait = _wait_seconds("E2E_CONSUMER_WAIT_SECONDS", 180)

    def seen() -> set[tuple[str, int]]:
        return {
            (e["partition"], int(e["offset"])) for e in _logged_records(logs, group, posted.run_id, since)
        }

    logged = wait_for(seen, lambda found: expected <= found, wait, every=min(5, wait / 20))
    assert expected <= logged, (
        f"the consumer logged {len(expected & logged)} of {len(expected)} records within {wait:.0f} s. "
        f'Look at log group {group} (filter "{posted.run_id}": "record" entries at INFO, "record failed" '
        "warnings), "
        f"the event source mapping of {stack.outputs.get('ConsumerFunctionName')} (its state and last "
        f"result), and {stack.outputs.get('ConsumerFailedBatches')}"
    )
    # Nothing of the refused request reached the topic
    assert not _logged_records(logs, group, posted.rejected_marker, since), "a refused request was produced"


# ------------------------------------------------------------------ the archive
def _archived_lines(
    s3: Any, bucket: str, stream: DeliveryStream, since: datetime.datetime
) -> list[dict[str, Any]]:
    """Every line of the objects written under the stream's prefixes since `since`."""
    now = datetime.datetime.now(datetime.UTC)
    lines: list[dict[str, Any]] = []
    for prefix in prefixes(stream.prefix or "data/", since, now):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                if item["LastModified"] >= since:
                    lines += object_lines(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
    return lines


def _differences(line: dict[str, Any], record: dict[str, Any]) -> list[str]:
    """How an archive line differs from the record that was sent (empty when it holds it exactly)."""
    differences = []
    if "keyBase64" in line or line.get("key") != record["key"]:
        differences.append(f"key {line.get('key', line.get('keyBase64'))!r} != {record['key']!r}")
    sent_headers = [{"key": name, "value": value} for name, value in record["headers"].items()]
    if line.get("headers") != sent_headers:
        differences.append(f"headers {line.get('headers')} != {sent_headers}")
    # A JSON value comes back as the same JSON data; compare its canonical text (1 and 1.0 and true differ)
    if "valueBase64" in line or json.dumps(line.get("value"), sort_keys=True) != json.dumps(
        record["value"], sort_keys=True
    ):
        differences.append(f"value {line.get('value', line.get('valueBase64'))!r} != {record['value']!r}")
    return differences


def test_the_archive_holds_every_record_exactly(stack: Stack, api: Api, posted: Posted) -> None:
    if stack.option not in ARCHIVE_OPTIONS:
        pytest.skip(f"DeploymentOption {stack.option} deploys no LambdaFirehoseS3 archive")
    bucket = stack.outputs["ArchiveBucketName"]
    stream = delivery_stream_for(stack.client("firehose"), bucket)
    assert stream is not None, f"no Firehose stream writes to {bucket} (ArchiveBucketName)"
    assert stream.compression in READABLE_COMPRESSION, (
        f"{stream.name} compresses with {stream.compression}; "
        f"this check reads {', '.join(READABLE_COMPRESSION)}"
    )
    expected = posted.positions(api.topic)
    since = datetime.datetime.fromtimestamp(posted.started_ms / 1000 - 60, datetime.UTC)
    wait = _wait_seconds("E2E_ARCHIVE_WAIT_SECONDS", stream.buffer_seconds + PIPELINE_SLACK_SECONDS)
    s3 = stack.client("s3")

    def archived() -> dict[tuple[str, int], dict[str, Any]]:
        return {
            (f"{line['topic']}-{line['partition']}", int(line["offset"])): line
            for line in _archived_lines(s3, bucket, stream, since)
        }

    lines = wait_for(archived, lambda found: set(expected) <= set(found), wait, every=min(10, wait / 20))
    missing = set(expected) - set(lines)
    assert not missing, (
        f"{len(missing)} of {len(expected)} records are not in s3://{bucket}/{stream.prefix.split('!{')[0]} "
        f"after {wait:.0f} s (Firehose {stream.name} buffers up to {stream.buffer_seconds} s). Look at the "
        f"forwarder's log group, the stream's DeliveryToS3.Success metric and its error log group, errors/ "
        f"in the bucket, and {stack.outputs.get('ArchiveFailedBatches')}"
    )
    wrong = {f"{position}": _differences(lines[position], record) for position, record in expected.items()}
    assert not any(wrong.values()), f"archived lines differ from what was sent: {wrong}"
    assert not [line for line in lines.values() if posted.rejected_marker in json.dumps(line)], (
        "a refused request was archived"
    )
