"""The post-deploy checks' fixtures: the stack's outputs, a token, and one set of records posted per run.

`make e2e` runs this tier with `--confcutdir=tests/e2e`: the fake credentials of tests/conftest.py are not
loaded: the checks use the caller's AWS credentials and region (from `make e2e-local`, the local runtime's).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from tests.e2e.stack import HttpAnswer, Stack, StackUnavailableError, load_stack, post_records, request_token

STACK_KEY = pytest.StashKey["Stack | None"]()
API_OUTPUTS = ("ApiUrl", "TokenUrl", "UserPoolId", "MachineClientId", "TopicName")


def pytest_sessionstart(session: pytest.Session) -> None:
    """Read the outputs once; stop at once, with the reason, when they cannot be read."""
    try:
        session.config.stash[STACK_KEY] = load_stack()
    except StackUnavailableError as error:
        pytest.exit(f"make e2e: {error}", returncode=2)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def stack(request: pytest.FixtureRequest) -> Stack:
    """The stack under test (skips the tier when none is named)."""
    found = request.config.stash.get(STACK_KEY, None)
    if found is None:
        pytest.skip("no stack: make e2e STACK=<name> after sam deploy, or make e2e-local")
    return found


@dataclass(frozen=True)
class Api:
    """The REST API's outputs and the machine client's secret."""

    url: str
    token_url: str
    user_pool_id: str
    client_id: str
    client_secret: str
    topic: str


@pytest.fixture(scope="session")
def api(stack: Stack) -> Api:
    """The API's outputs (skips when the option deploys no API); the secret from the user pool client."""
    missing = [name for name in API_OUTPUTS if name not in stack.outputs]
    if missing:
        pytest.skip(
            f"DeploymentOption {stack.option} deploys no REST API ({', '.join(missing)} not in outputs)"
        )
    outputs = stack.outputs
    client = stack.client("cognito-idp").describe_user_pool_client(
        UserPoolId=outputs["UserPoolId"], ClientId=outputs["MachineClientId"]
    )["UserPoolClient"]
    return Api(
        outputs["ApiUrl"],
        outputs["TokenUrl"],
        outputs["UserPoolId"],
        outputs["MachineClientId"],
        client["ClientSecret"],
        outputs["TopicName"],
    )


@pytest.fixture(scope="session")
def token(api: Api) -> str:
    """An access token of the machine client (client credentials grant, scope records/write)."""
    answer = request_token(api.token_url, api.client_id, api.client_secret, "records/write")
    assert answer.status == 200, (
        f"POST {api.token_url} (client credentials of MachineClientId {api.client_id}) answered "
        f"{answer.status}: {answer.body[:300]!r}; check the app client's allowed OAuth flows and scopes "
        f"in user pool {api.user_pool_id}"
    )
    return str(answer.json()["access_token"])


def sample_records(run_id: str) -> list[dict[str, Any]]:
    """Records of one run: the run ID in every key or value (the logs are searched for it), headers, a null
    key, text beyond ASCII, nested JSON, scalars and a tombstone."""
    return [
        {
            "key": f"{run_id}-0",
            "value": {"run": run_id, "type": "reading", "temperature": 21.5, "tags": ["a", "b"]},
            "headers": {"e2e-run": run_id, "source": "e2e"},
        },
        {"key": f"{run_id}-1", "value": [run_id, 1, 2.5, True, None], "headers": {"e2e-run": run_id}},
        {"key": None, "value": {"run": run_id, "text": "naïve ✓ 日本語"}, "headers": {"e2e-run": run_id}},
        {"key": f"{run_id}-3", "value": f"{run_id} as a JSON string", "headers": {}},
        {
            "key": f"{run_id}-4",
            "value": {"run": run_id, "nested": {"deeper": [1, {"x": "y"}], "zero": 0, "no": False}},
            "headers": {"e2e-run": run_id, "empty": ""},
        },
        {"key": f"{run_id}-5", "value": None, "headers": {"e2e-run": run_id}},  # a tombstone
    ]


@dataclass(frozen=True)
class Posted:
    """What one run sent and what the API answered."""

    run_id: str
    started_ms: int
    records: list[dict[str, Any]]
    answer: HttpAnswer
    rejected_marker: str
    rejected: HttpAnswer

    def positions(self, topic: str) -> dict[tuple[str, int], dict[str, Any]]:
        """(`<topic>-<partition>`, offset) -> the record the API wrote there."""
        entries = self.answer.json()["records"]
        return {
            (f"{topic}-{entry['partition']}", int(entry["offset"])): record
            for entry, record in zip(entries, self.records, strict=True)
        }


@pytest.fixture(scope="session")
def posted(api: Api, token: str) -> Posted:
    """A rejected request (one record lacks its value), then the run's records, each posted once."""
    run_id = f"e2e-{uuid.uuid4().hex[:12]}"
    started_ms = int(time.time() * 1000)
    marker = f"{run_id}-rejected"
    rejected = post_records(
        api.url,
        api.topic,
        {"records": [{"key": f"{marker}-0", "value": {"run": marker}}, {"key": f"{marker}-1"}]},
        token,
    )
    records = sample_records(run_id)
    answer = post_records(api.url, api.topic, {"records": records}, token)
    return Posted(run_id, started_ms, records, answer, marker, rejected)
