"""Cognito for the local runtime: access tokens checked as API Gateway's Cognito authorizer checks them,
and the client credentials grant that moto lacks.

moto signs the tokens of its user pools with one RSA key that it ships and publishes as its JWKS; the same
key signs the client credentials tokens minted here, so both verify the same way.
"""

from __future__ import annotations

import gzip
import json
import time
import uuid
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import jwt


class TokenRejectedError(Exception):
    """The request carries no valid access token (401) or lacks the scope (403)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@cache
def _moto_key(kind: str) -> dict[str, Any]:
    data = resources.files("moto.cognitoidp").joinpath(f"resources/jwks-{kind}.json.gz").read_bytes()
    document = json.loads(gzip.decompress(data))
    return dict(document["keys"][0] if "keys" in document else document)


def issuer(user_pool_id: str, region: str = "us-east-1") -> str:
    """The `iss` claim of a user pool's tokens."""
    return f"https://cognito-idp.{region}.amazonaws.com/{user_pool_id}"


def mint_client_credentials_token(
    user_pool_id: str, client_id: str, scopes: list[str], lifetime_seconds: int = 3600
) -> str:
    """An access token as Cognito's /oauth2/token gives a machine client (grant client_credentials)."""
    key = _moto_key("private")
    now = int(time.time())
    claims = {
        "sub": client_id,
        "client_id": client_id,
        "token_use": "access",
        "scope": " ".join(scopes),
        "auth_time": now,
        "iss": issuer(user_pool_id),
        "exp": now + lifetime_seconds,
        "iat": now,
        "version": 2,
        "jti": str(uuid.uuid4()),
    }
    return jwt.encode(claims, jwt.PyJWK(key), algorithm="RS256", headers={"kid": key["kid"]})


@dataclass(frozen=True)
class AccessTokenVerifier:
    """Checks a bearer token like API Gateway's Cognito authorizer with AuthorizationScopes."""

    user_pool_id: str
    required_scopes: frozenset[str]

    def claims(self, authorization: str | None) -> dict[str, Any]:
        """The token's claims, or TokenRejectedError with the status API Gateway would answer."""
        if not authorization:
            raise TokenRejectedError(401, "a valid access token is required")
        token = authorization.removeprefix("Bearer ").strip()
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                jwt.PyJWK(_moto_key("public")),
                algorithms=["RS256"],
                issuer=issuer(self.user_pool_id),
                options={"require": ["exp", "iss", "token_use"], "verify_aud": False},
            )
        except jwt.PyJWTError as error:
            raise TokenRejectedError(401, f"a valid access token is required ({error})") from None
        if claims.get("token_use") != "access":
            raise TokenRejectedError(401, "an access token is required")
        if not self.required_scopes & set(str(claims.get("scope", "")).split()):
            raise TokenRejectedError(
                403, f"the access token lacks the {' or '.join(sorted(self.required_scopes))} scope"
            )
        return claims
