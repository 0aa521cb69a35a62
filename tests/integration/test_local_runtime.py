"""The pieces `make local` adds to the local runtime, against a real moto server: the user pool's token
endpoint, and Lambda execution environments in processes of their own (logs in CloudWatch Logs, function
errors, crashes and timeouts). `make e2e-local` runs the whole runtime with tests/e2e."""

from __future__ import annotations

import base64
import dataclasses
import json
import textwrap
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local import aws
from local.cloudwatch_logs import LogShipper
from local.cognito import AccessTokenVerifier
from local.containers import FunctionContainer, FunctionError
from local.functions import discover
from local.lambda_context import LocalLambdaContext
from local.option_stack import INGEST_API
from local.token_endpoint import TokenEndpoint


@pytest.fixture
def user_pool(moto_endpoint: str) -> dict[str, str]:
    """What nested/ingest-api.yaml declares for Cognito, created in moto."""
    return aws.create_template_resources(moto_endpoint, INGEST_API)


@pytest.fixture
def token_endpoint(moto_endpoint: str, user_pool: dict[str, str]) -> Iterator[TokenEndpoint]:
    with TokenEndpoint(moto_endpoint, user_pool["UserPool"]) as endpoint:
        yield endpoint


def _secret(moto_endpoint: str, pool_id: str, client_id: str) -> str:
    cognito = aws.client("cognito-idp", moto_endpoint)
    return str(
        cognito.describe_user_pool_client(UserPoolId=pool_id, ClientId=client_id)["UserPoolClient"][
            "ClientSecret"
        ]
    )


def _post(url: str, form: dict[str, str], headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, urllib.parse.urlencode(form).encode(), headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _basic(client_id: str, secret: str) -> dict[str, str]:
    encoded = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {encoded}", "Content-Type": "application/x-www-form-urlencoded"}


def test_the_token_endpoint_gives_the_machine_client_a_token_the_authorizer_accepts(
    token_endpoint: TokenEndpoint, user_pool: dict[str, str], moto_endpoint: str
) -> None:
    # Given the machine client of the template and its secret, as moto holds them
    pool_id, client_id = user_pool["UserPool"], user_pool["MachineClient"]
    secret = _secret(moto_endpoint, pool_id, client_id)
    # When it asks for a token (no scope: all it may have), with HTTP Basic, then with the secret in the body
    basic = _post(token_endpoint.url, {"grant_type": "client_credentials"}, _basic(client_id, secret))
    in_body = _post(
        token_endpoint.url,
        {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    # Then both answers are bearer tokens that live as long as the template says (60 minutes)
    for status, body in (basic, in_body):
        assert status == 200, body
        assert (body["token_type"], body["expires_in"]) == ("Bearer", 3600)
        claims = AccessTokenVerifier(pool_id, frozenset({"records/write"})).claims(
            f"Bearer {body['access_token']}"
        )
        assert (claims["client_id"], claims["scope"]) == (client_id, "records/write")


REFUSALS = {
    "a wrong secret": ({"grant_type": "client_credentials"}, "wrong-secret", None, "invalid_client"),
    "an unknown client": ({"grant_type": "client_credentials"}, "unknown-client", None, "invalid_client"),
    "no credentials": ({"grant_type": "client_credentials"}, "none", None, "invalid_client"),
    "a scope the client lacks": (
        {"grant_type": "client_credentials", "scope": "openid"},
        "right",
        None,
        "invalid_scope",
    ),
    "the password grant": ({"grant_type": "password"}, "right", None, "unsupported_grant_type"),
    "the code grant (not emulated)": (
        {"grant_type": "authorization_code", "code": "x"},
        "right",
        None,
        "unsupported_grant_type",
    ),
    "no grant type": ({}, "right", None, "invalid_request"),
    "a JSON body": ({"grant_type": "client_credentials"}, "right", "application/json", "invalid_request"),
}


@pytest.mark.parametrize("refusal", REFUSALS)
def test_the_token_endpoint_refuses_like_cognito(
    token_endpoint: TokenEndpoint, user_pool: dict[str, str], moto_endpoint: str, refusal: str
) -> None:
    form, credentials, content_type, error = REFUSALS[refusal]
    pool_id, client_id = user_pool["UserPool"], user_pool["MachineClient"]
    secret = _secret(moto_endpoint, pool_id, client_id)
    headers = {
        "right": _basic(client_id, secret),
        "wrong-secret": _basic(client_id, secret + "x"),
        "unknown-client": _basic("nosuchclient", secret),
        "none": {"Content-Type": "application/x-www-form-urlencoded"},
    }[credentials]
    if content_type:
        headers = headers | {"Content-Type": content_type}
    status, body = _post(token_endpoint.url, form, headers)
    assert (status, body["error"]) == (400, error), body


def test_a_client_without_the_grant_is_unauthorized(
    token_endpoint: TokenEndpoint, user_pool: dict[str, str], moto_endpoint: str
) -> None:
    # The people's client has no secret and only the code grant
    cognito = aws.client("cognito-idp", moto_endpoint)
    client = cognito.create_user_pool_client(
        UserPoolId=user_pool["UserPool"], ClientName="other", GenerateSecret=True, AllowedOAuthFlows=["code"]
    )["UserPoolClient"]
    status, body = _post(
        token_endpoint.url,
        {"grant_type": "client_credentials"},
        _basic(client["ClientId"], client["ClientSecret"]),
    )
    assert (status, body["error"]) == (400, "unauthorized_client"), body


# ------------------------------------------------------------------ execution environments
HANDLER = """
import ctypes, os, time

def lambda_handler(event, context):
    print(f"invoked with {event['do']} in {os.environ['AWS_LAMBDA_FUNCTION_NAME']}")
    if event["do"] == "raise":
        raise ValueError("bad record")
    if event["do"] == "crash":
        ctypes.string_at(0)  # a segmentation fault, as librdkafka's was
    if event["do"] == "sleep":
        time.sleep(30)
    return {"pid": os.getpid(), "group": context.log_group_name, "region": os.environ["AWS_REGION"]}
"""


@pytest.fixture
def container(tmp_path: Path, moto_endpoint: str) -> Iterator[tuple[FunctionContainer, Any]]:
    """A container of a function written here, configured as the consumer (its log group, its name)."""
    task_root = tmp_path / "task"
    task_root.mkdir()
    (task_root / "app.py").write_text(textwrap.dedent(HANDLER))
    logs = aws.client("logs", moto_endpoint)
    shipper = LogShipper(logs, tmp_path / "functions.log")
    spec = dataclasses.replace(discover()["consumer"], environment={})
    function = FunctionContainer(spec, aws.environment(moto_endpoint), shipper, task_root=task_root)
    function.start()
    try:
        yield function, logs
    finally:
        function.close()
        shipper.close()


def _log_lines(logs: Any, group: str, stream: str) -> list[str]:
    time.sleep(1.5)  # the shipper sends every half second
    return [e["message"] for e in logs.get_log_events(logGroupName=group, logStreamName=stream)["events"]]


def test_a_container_runs_the_handler_in_its_own_process_and_logs_to_the_template_s_log_group(
    container: tuple[FunctionContainer, Any],
) -> None:
    function, logs = container
    response = function({"do": "answer"}, LocalLambdaContext("consumer", 10_000))
    again = function({"do": "answer"}, LocalLambdaContext("consumer", 10_000))
    assert response["pid"] == again["pid"]  # a warm environment serves the next invocation
    assert (response["group"], response["region"]) == ("local-consumerloggroup", "us-east-1")
    assert (
        _log_lines(logs, "local-consumerloggroup", function.log_stream)
        == ["invoked with answer in local-consumerfunction"] * 2
    )


def test_a_function_error_fails_the_invocation_and_keeps_the_environment(
    container: tuple[FunctionContainer, Any],
) -> None:
    function, logs = container
    before = function({"do": "answer"}, LocalLambdaContext("consumer", 10_000))["pid"]
    with pytest.raises(FunctionError, match="ValueError: bad record"):
        function({"do": "raise"}, LocalLambdaContext("consumer", 10_000))
    assert function({"do": "answer"}, LocalLambdaContext("consumer", 10_000))["pid"] == before
    lines = _log_lines(logs, "local-consumerloggroup", function.log_stream)
    assert json.loads(lines[2])["errorType"] == "ValueError"  # what Lambda's runtime logs for it


def test_a_crash_ends_only_that_environment_and_the_next_invocation_starts_a_new_one(
    container: tuple[FunctionContainer, Any],
) -> None:
    function, logs = container
    before, crashed_stream = (
        function({"do": "answer"}, LocalLambdaContext("consumer", 10_000))["pid"],
        function.log_stream,
    )
    with pytest.raises(FunctionError, match=r"Runtime.ExitError \(signal: segmentation fault\)"):
        function({"do": "crash"}, LocalLambdaContext("consumer", 10_000))
    after = function({"do": "answer"}, LocalLambdaContext("consumer", 10_000))["pid"]
    assert after != before
    assert function.log_stream != crashed_stream  # a new environment writes a new log stream
    assert _log_lines(logs, "local-consumerloggroup", crashed_stream)[-1].endswith(
        "Error: Runtime exited with error: signal: segmentation fault Runtime.ExitError"
    )


def test_an_invocation_past_the_timeout_is_stopped(container: tuple[FunctionContainer, Any]) -> None:
    function, _ = container
    # The handler sleeps 30 s; with half a second left it is stopped, and the next invocation gets a new one
    with pytest.raises(FunctionError, match="Task timed out"):
        function({"do": "sleep"}, LocalLambdaContext("consumer", 500))
    assert function({"do": "answer"}, LocalLambdaContext("consumer", 10_000))["region"] == "us-east-1"
