"""The REST front: real HTTP in front of the real producer function and a real broker; tokens from moto's
Cognito (password flow) and from the local client credentials grant, all signed with moto's key."""

from __future__ import annotations

import http.client
import json
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from confluent_kafka.admin import AdminClient, NewTopic
from moto import mock_aws

from local.cognito import AccessTokenVerifier, mint_client_credentials_token
from local.invoke import cold_container, function_spec
from local.rest_front import RestFront


@pytest.fixture
def user_pool() -> Iterator[tuple[Any, str]]:
    with mock_aws():
        cognito = boto3.client("cognito-idp")
        yield cognito, cognito.create_user_pool(PoolName="producers")["UserPool"]["Id"]


@contextmanager
def _front(kafka_bootstrap: str, pool_id: str, **environment: str) -> Iterator[tuple[RestFront, str]]:
    topic = f"api-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    for future in admin.create_topics([NewTopic(topic, 3, -1)]).values():
        future.result(10)
    overrides = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "KAFKA_AUTH": "PLAINTEXT",
        "ALLOWED_TOPICS": topic,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    } | environment
    verifier = AccessTokenVerifier(pool_id, frozenset({"records/write"}))
    with (
        cold_container(function_spec("producer"), overrides) as handler,
        RestFront(handler, verifier) as server,
    ):
        yield server, topic
        sys.modules["record_producer"].producer.cache_clear()  # the container's producer goes with it


@pytest.fixture
def front(kafka_bootstrap: str, user_pool: tuple[Any, str]) -> Iterator[tuple[RestFront, str]]:
    with _front(kafka_bootstrap, user_pool[1]) as running:
        yield running


@pytest.fixture
def token(user_pool: tuple[Any, str]) -> str:
    """A client credentials access token with the records/write scope."""
    return mint_client_credentials_token(user_pool[1], "machine-client", ["records/write"])


def _auth(token: str | None) -> dict[str, str]:
    return {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {token}"} if token else {})


def _post(url: str, body: dict[str, Any], token: str | None) -> tuple[int, dict[str, Any]]:
    return _post_text(url, json.dumps(body), token)


def _post_text(url: str, body: str, token: str | None) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=body.encode(), method="POST", headers=_auth(token))
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


BODY = {"records": [{"key": "k1", "value": {"n": 1}}, {"key": "k2", "value": {"n": 2}}]}


def test_a_token_with_the_scope_produces(front: tuple[RestFront, str], token: str) -> None:
    server, topic = front
    status, body = _post(f"{server.url}/topics/{topic}/records", BODY, token)
    assert status == 200
    assert body["failedRecordCount"] == 0
    assert len(body["records"]) == 2


def test_a_missing_token_is_refused_with_401(front: tuple[RestFront, str]) -> None:
    server, topic = front
    status, body = _post(f"{server.url}/topics/{topic}/records", BODY, None)
    assert status == 401
    assert "access token is required" in body["message"]


def test_an_expired_token_is_refused_with_401(
    front: tuple[RestFront, str], user_pool: tuple[Any, str]
) -> None:
    server, topic = front
    token = mint_client_credentials_token(
        user_pool[1], "machine-client", ["records/write"], lifetime_seconds=-60
    )
    status, body = _post(f"{server.url}/topics/{topic}/records", BODY, token)
    assert status == 401
    assert "expired" in body["message"]


def test_a_token_without_the_scope_is_refused_with_403(
    front: tuple[RestFront, str], user_pool: tuple[Any, str]
) -> None:
    # Given a real moto token from the password flow (scope aws.cognito.signin.user.admin only)
    cognito, pool_id = user_pool
    client_id = cognito.create_user_pool_client(
        UserPoolId=pool_id, ClientName="people", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
    )["UserPoolClient"]["ClientId"]
    cognito.admin_create_user(UserPoolId=pool_id, Username="bob", TemporaryPassword="Temp-Password-1x!")
    cognito.admin_set_user_password(
        UserPoolId=pool_id, Username="bob", Password="Str0ng-Password-1x!", Permanent=True
    )
    token = cognito.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "bob", "PASSWORD": "Str0ng-Password-1x!"},
    )["AuthenticationResult"]["AccessToken"]
    server, topic = front
    status, body = _post(f"{server.url}/topics/{topic}/records", BODY, token)
    assert status == 403
    assert "records/write" in body["message"]


def test_a_token_of_another_pool_is_refused(front: tuple[RestFront, str]) -> None:
    server, topic = front
    token = mint_client_credentials_token("us-east-1_SomeOtherPool", "machine-client", ["records/write"])
    status, _ = _post(f"{server.url}/topics/{topic}/records", BODY, token)
    assert status == 401


def test_an_unknown_route_is_refused_like_api_gateway(front: tuple[RestFront, str]) -> None:
    server, _ = front
    status, body = _post(f"{server.url}/nothing-here", BODY, None)
    assert status == 403
    assert body == {"message": "Missing Authentication Token"}


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "QUERY", "HEAD"])
def test_a_method_the_api_does_not_declare_gets_403_like_api_gateway(
    front: tuple[RestFront, str], token: str, method: str
) -> None:
    server, topic = front
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.request(method, f"/v1/topics/{topic}/records", body=json.dumps(BODY), headers=_auth(token))
    response = connection.getresponse()
    body = response.read()
    connection.close()
    assert response.status == 403
    assert body == (b"" if method == "HEAD" else b'{"message": "Missing Authentication Token"}')


@pytest.mark.parametrize(
    "path", ["/v1", "/v1/topics", "/v1/topics/t", "/v1/topics//records", "/v2/topics/t/records"]
)
def test_a_path_the_api_does_not_declare_gets_403_like_api_gateway(
    front: tuple[RestFront, str], path: str
) -> None:
    server, _ = front
    status, body = _post(f"http://127.0.0.1:{server.port}{path}", BODY, None)
    assert (status, body) == (403, {"message": "Missing Authentication Token"})


def test_a_query_string_does_not_change_the_route(front: tuple[RestFront, str], token: str) -> None:
    server, topic = front
    status, body = _post(f"{server.url}/topics/{topic}/records?trace=1", BODY, token)
    assert status == 200, body


def test_a_topic_the_function_refuses_is_answered_by_the_function(
    front: tuple[RestFront, str], token: str
) -> None:
    server, _ = front
    status, body = _post(f"{server.url}/topics/not%20a%20topic/records", BODY, token)
    assert status == 400
    assert body["errors"][0]["field"] == "path.topic"


def test_a_function_that_raises_gets_502_like_api_gateway_and_the_front_keeps_serving(
    kafka_bootstrap: str, user_pool: tuple[Any, str], token: str
) -> None:
    # Given a producer whose settings cannot be read (a deployment mistake): it raises on every request
    with _front(kafka_bootstrap, user_pool[1], PRODUCE_TIMEOUT_MS="ten seconds") as (server, topic):
        answers = [_post(f"{server.url}/topics/{topic}/records", BODY, token) for _ in range(2)]
    # Then each request gets API Gateway's answer to a function error, not a dropped connection
    assert answers == [(502, {"message": "Internal server error"})] * 2


def test_bad_input_is_answered_400_and_the_front_keeps_serving(
    front: tuple[RestFront, str], token: str
) -> None:
    # The fuzzing report's D1 (a lone surrogate in a header name killed the process) and D3 (10,000 levels)
    server, topic = front
    url = f"{server.url}/topics/{topic}/records"
    for body, field in [
        ('{"records":[{"value":1,"headers":{"\\ud800":"x"}}]}', "records[0].headers"),
        ('{"records":[{"value":' + "[" * 10_000 + "]" * 10_000 + "}]}", "body"),
        ('{"records":[{"value":{"t":1e999}}]}', "records[0].value"),
    ]:
        status, answer = _post_text(url, body, token)
        assert status == 400, answer
        assert [error["field"] for error in answer["errors"]] == [field]
    assert _post(url, BODY, token)[0] == 200
