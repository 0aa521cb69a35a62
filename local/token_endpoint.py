"""The user pool's OAuth 2.0 token endpoint (`POST /oauth2/token`) for the client credentials grant, which
moto lacks: the app client and its secret are checked against the user pool in moto, and the access token is
signed with moto's key (local.cognito), so the REST front accepts it as API Gateway's authorizer would.

As Cognito documents it (https://docs.aws.amazon.com/cognito/latest/developerguide/token-endpoint.html):
- `Content-Type: application/x-www-form-urlencoded`; the client authenticates with HTTP Basic
  (client_secret_basic) or `client_id` and `client_secret` in the body (client_secret_post);
- `scope` is optional: requested scopes the client may not have are ignored, and without `scope` the token
  carries every custom scope the client is allowed;
- the answer is `{"access_token", "expires_in", "token_type": "Bearer"}`, or 400 with `{"error": ...}`
  (`invalid_request`, `invalid_client`, `unauthorized_client`, `unsupported_grant_type`, `invalid_scope`).
Only the client credentials grant is emulated: `authorization_code` and `refresh_token` need the hosted
sign-in pages, which are not emulated (`unsupported_grant_type`, with a description saying so).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import http.server
import json
import urllib.parse
from typing import Any

from local import aws
from local.cognito import mint_client_credentials_token
from local.loopback_server import LoopbackServer

TOKEN_PATH = "/oauth2/token"  # noqa: S105 - a URL path, not a password
FORM = "application/x-www-form-urlencoded"
# Cognito's default access token lifetime, and the seconds in each TokenValidityUnits unit.
DEFAULT_LIFETIME_SECONDS = 3600
UNIT_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}


class TokenError(Exception):
    """A refused token request: the OAuth error code Cognito answers with (HTTP 400)."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error


def _client_credentials(authorization: str | None, form: dict[str, str]) -> tuple[str, str | None]:
    """The client ID and secret, from HTTP Basic or the body (exactly one of them)."""
    in_body = "client_secret" in form
    if authorization and authorization.startswith("Basic "):
        if in_body:
            raise TokenError("invalid_request", "the client authenticated both with Basic and in the body")
        try:
            decoded = base64.b64decode(authorization.removeprefix("Basic ").strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise TokenError("invalid_client", "the Basic credentials are not base64 of id:secret") from None
        client_id, separator, secret = decoded.partition(":")
        if not separator:
            raise TokenError("invalid_client", "the Basic credentials are not base64 of id:secret")
        return client_id, secret
    if "client_id" not in form:
        raise TokenError("invalid_client", "no client credentials (Basic authorization or client_id)")
    return form["client_id"], form.get("client_secret")


def _lifetime_seconds(client: dict[str, Any]) -> int:
    validity = client.get("AccessTokenValidity")
    if validity is None:
        return DEFAULT_LIFETIME_SECONDS
    unit = client.get("TokenValidityUnits", {}).get("AccessToken", "hours")
    return int(validity) * UNIT_SECONDS[unit]


class TokenEndpoint(LoopbackServer):
    """Serves POST /oauth2/token for one user pool on 127.0.0.1 until stopped."""

    def __init__(self, moto_endpoint: str, user_pool_id: str) -> None:
        self.user_pool_id = user_pool_id
        self._cognito = aws.client("cognito-idp", moto_endpoint)
        super().__init__("token-endpoint", threaded=True)

    @property
    def url(self) -> str:
        """The token endpoint's URL, like the stack's TokenUrl output."""
        return f"http://127.0.0.1:{self.port}{TOKEN_PATH}"

    def token(self, content_type: str | None, authorization: str | None, body: str) -> dict[str, Any]:
        """The token response for one request, or TokenError."""
        if (content_type or "").split(";")[0].strip().lower() != FORM:
            raise TokenError("invalid_request", f"Content-Type must be {FORM}")
        pairs = urllib.parse.parse_qsl(body, keep_blank_values=True)
        form = dict(pairs)
        if len(form) != len(pairs):
            raise TokenError("invalid_request", "a parameter is repeated")
        grant_type = form.get("grant_type")
        if not grant_type:
            raise TokenError("invalid_request", "grant_type is required")
        if grant_type in ("authorization_code", "refresh_token"):
            raise TokenError("unsupported_grant_type", f"{grant_type} is not emulated locally")
        if grant_type != "client_credentials":
            raise TokenError("unsupported_grant_type", f"unknown grant_type {grant_type!r}")
        client_id, secret = _client_credentials(authorization, form)
        client = self._client(client_id)
        expected = client.get("ClientSecret")
        if expected is None or secret is None or not hmac.compare_digest(secret, expected):
            raise TokenError("invalid_client", "client authentication failed")
        if "client_credentials" not in client.get("AllowedOAuthFlows", []):
            raise TokenError("unauthorized_client", "the client may not use the client_credentials grant")
        allowed = [scope for scope in client.get("AllowedOAuthScopes", []) if "/" in scope]  # custom ones
        requested = form.get("scope", "").split()
        scopes = [scope for scope in requested if scope in allowed] if requested else allowed
        if not scopes:
            raise TokenError("invalid_scope", "none of the requested scopes is allowed for the client")
        lifetime = _lifetime_seconds(client)
        return {
            "access_token": mint_client_credentials_token(self.user_pool_id, client_id, scopes, lifetime),
            "expires_in": lifetime,
            "token_type": "Bearer",
        }

    def _client(self, client_id: str) -> dict[str, Any]:
        try:
            described = self._cognito.describe_user_pool_client(
                UserPoolId=self.user_pool_id, ClientId=client_id
            )
        except self._cognito.exceptions.ResourceNotFoundException:
            raise TokenError("invalid_client", "client authentication failed") from None
        return dict(described["UserPoolClient"])

    def answer(
        self, method: str, path: str, headers: dict[str, str], body: str
    ) -> tuple[int, dict[str, Any]]:
        """Status and JSON body for one HTTP request."""
        if urllib.parse.urlsplit(path).path != TOKEN_PATH:
            return 404, {"error": "not_found"}
        if method != "POST":
            return 405, {
                "error": "invalid_request",
                "error_description": "the token endpoint takes POST only",
            }
        try:
            return 200, self.token(headers.get("content-type"), headers.get("authorization"), body)
        except TokenError as refused:
            return 400, {"error": refused.error, "error_description": str(refused)}

    def _request_handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        endpoint = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8", errors="replace")
                headers = {name.lower(): value for name, value in self.headers.items()}
                status, answer = endpoint.answer(self.command, self.path, headers, body)
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json;charset=UTF-8")
                self.send_header("Cache-Control", "no-store")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_POST = do_GET = do_PUT = do_DELETE = _serve  # noqa: N815 - http.server's naming

            def log_message(self, *_args: object) -> None:
                return

        return Handler
