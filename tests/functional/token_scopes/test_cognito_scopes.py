"""Tokens from the user pool the template declares carry the scope the API's authorizer requires.

moto's Cognito issues tokens through the IDP API (password flow) but has no OAuth2 token endpoint, so the
client credentials grant is checked through the machine client's configuration, which is what Cognito
puts in those tokens. moto also never invokes Lambda triggers: the password flow's scope comes from
running our pre token generation trigger on the same user's groups.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local.functions import load_handler
from tests.conftest import FakeLambdaContext
from tests.templates.sam_offline import REPO, load_template

TEMPLATE = load_template(REPO / "nested" / "ingest-api.yaml")
RESOURCES = TEMPLATE["Resources"]
REQUIRED_SCOPES = set(
    RESOURCES["Api"]["Properties"]["Auth"]["Authorizers"]["CognitoAuthorizer"]["AuthorizationScopes"]
)
PASSWORD = "Correct-Horse-Battery-9"


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def _literal(properties: dict[str, Any]) -> dict[str, Any]:
    """The template's properties without intrinsic functions (what moto can take)."""
    return {
        k: v
        for k, v in properties.items()
        if not (isinstance(v, dict) and any(x.startswith(("Fn::", "Ref")) for x in v))
        and k not in ("UserPoolId", "AccessTokenValidity", "IdTokenValidity", "CallbackURLs")
    }


@pytest.fixture
def pool() -> Iterator[dict[str, Any]]:
    with mock_aws():
        cognito = boto3.client("cognito-idp")
        pool_id = cognito.create_user_pool(PoolName="producers")["UserPool"]["Id"]
        server = RESOURCES["RecordsResourceServer"]["Properties"]
        cognito.create_resource_server(
            UserPoolId=pool_id, Identifier=server["Identifier"], Name=server["Name"], Scopes=server["Scopes"]
        )
        clients = {}
        for name in ("MachineClient", "UserClient"):
            props = _literal(RESOURCES[name]["Properties"])
            clients[name] = cognito.create_user_pool_client(
                UserPoolId=pool_id, CallbackURLs=["https://localhost/cb"], **props
            )["UserPoolClient"]
        group = RESOURCES["ProducersGroup"]["Properties"]["GroupName"]
        cognito.create_group(UserPoolId=pool_id, GroupName=group)
        yield {"cognito": cognito, "pool_id": pool_id, "clients": clients, "group": group}


def test_the_resource_server_defines_the_required_scope() -> None:
    server = RESOURCES["RecordsResourceServer"]["Properties"]
    defined = {f"{server['Identifier']}/{scope['ScopeName']}" for scope in server["Scopes"]}
    assert defined >= REQUIRED_SCOPES


def test_machine_clients_get_the_scope_by_client_credentials(pool: dict[str, Any]) -> None:
    machine = pool["cognito"].describe_user_pool_client(
        UserPoolId=pool["pool_id"], ClientId=pool["clients"]["MachineClient"]["ClientId"]
    )["UserPoolClient"]
    assert machine["AllowedOAuthFlows"] == ["client_credentials"]
    assert set(machine["AllowedOAuthScopes"]) == REQUIRED_SCOPES
    assert machine["ClientSecret"]


def test_people_in_the_producers_group_get_the_scope_by_password_flow(
    pool: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    cognito, pool_id = pool["cognito"], pool["pool_id"]
    client_id = pool["clients"]["UserClient"]["ClientId"]
    cognito.update_user_pool_client(
        UserPoolId=pool_id,
        ClientId=client_id,
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )
    cognito.admin_create_user(UserPoolId=pool_id, Username="alice", TemporaryPassword="Temp-Password-1x!")
    cognito.admin_set_user_password(UserPoolId=pool_id, Username="alice", Password=PASSWORD, Permanent=True)
    cognito.admin_add_user_to_group(UserPoolId=pool_id, Username="alice", GroupName=pool["group"])

    # When alice signs in with her password
    tokens = cognito.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "alice", "PASSWORD": PASSWORD},
    )["AuthenticationResult"]
    claims = _claims(tokens["AccessToken"])
    groups = [
        g["GroupName"]
        for g in cognito.admin_list_groups_for_user(UserPoolId=pool_id, Username="alice")["Groups"]
    ]
    # And Cognito runs the pre token generation trigger for her groups
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "token-scopes")
    trigger = load_handler("token_scopes")
    answer = trigger.lambda_handler(
        _trigger_event(pool_id, client_id, groups, claims["scope"]), FakeLambdaContext()
    )
    added = answer["response"]["claimsAndScopeOverrideDetails"]["accessTokenGeneration"]["scopesToAdd"]
    # Then her access token carries the scope the API requires
    assert set(claims["scope"].split()) | set(added) >= REQUIRED_SCOPES
    assert claims["token_use"] == "access"


def test_people_outside_the_group_get_no_scope(pool: dict[str, Any]) -> None:
    trigger = load_handler("token_scopes")
    answer = trigger.lambda_handler(
        _trigger_event(pool["pool_id"], "c", ["readers"], "openid"), FakeLambdaContext()
    )
    assert answer["response"]["claimsAndScopeOverrideDetails"] is None  # the token is left as Cognito made it


def _trigger_event(pool_id: str, client_id: str, groups: list[str], scopes: str) -> dict[str, Any]:
    """A pre token generation event, version 2, as Cognito sends it."""
    return {
        "version": "2",
        "triggerSource": "TokenGeneration_Authentication",
        "region": "us-east-1",
        "userPoolId": pool_id,
        "userName": "alice",
        "callerContext": {"awsSdkVersion": "aws-sdk-unknown", "clientId": client_id},
        "request": {
            "userAttributes": {"sub": "a1", "email": "alice@example.com"},
            "groupConfiguration": {
                "groupsToOverride": groups,
                "iamRolesToOverride": [],
                "preferredRole": None,
            },
            "scopes": scopes.split(),
        },
        "response": {"claimsAndScopeOverrideDetails": None},
    }
