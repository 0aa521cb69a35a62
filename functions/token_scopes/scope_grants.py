"""Which OAuth scopes a signed-in person's access token gets, by Cognito group.

Machine producers get `records/write` from the client credentials grant. People sign in with SRP (or the
hosted UI), whose access tokens carry no resource-server scope; this grants it to members of the groups
below, through Cognito's pre token generation trigger (event version 2).
"""

from __future__ import annotations

from collections.abc import Iterable

WRITE_SCOPE = "records/write"
SCOPES_BY_GROUP: dict[str, tuple[str, ...]] = {"producers": (WRITE_SCOPE,)}


def scopes_for(groups: Iterable[str]) -> list[str]:
    """The scopes to add for a user in `groups`, without repeats, in a stable order."""
    granted: list[str] = []
    for group in groups:
        for scope in SCOPES_BY_GROUP.get(group, ()):
            if scope not in granted:
                granted.append(scope)
    return granted
