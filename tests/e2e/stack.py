"""A stack's outputs, and the calls the post-deploy checks make: the same code against a deployed stack
(`make e2e STACK=<name>`: CloudFormation's DescribeStacks) and against `make local` (`make e2e-local`: the
outputs file the runtime writes, with AWS_ENDPOINT_URL pointing boto3 at its moto)."""

from __future__ import annotations

import base64
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

# Fail fast when AWS cannot be reached, instead of botocore's minutes of retries.
QUICK = Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 3, "mode": "standard"})
READY_STATES = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"}


class StackUnavailableError(Exception):
    """The stack's outputs cannot be read: no credentials, no such stack, or a stack not ready."""


@dataclass(frozen=True)
class Stack:
    """Where the checks run (a stack name, or the local outputs file) and its outputs."""

    source: str
    outputs: dict[str, str]

    @property
    def option(self) -> str:
        """The DeploymentOption the stack was deployed with."""
        return self.outputs["DeploymentOption"]

    def client(self, service: str) -> Any:
        """A boto3 client (AWS_ENDPOINT_URL, when set, points it at the local runtime's moto)."""
        return boto3.client(service, config=QUICK)  # type: ignore[call-overload]  # any service name


def _described_outputs(stack_name: str) -> dict[str, str]:
    if boto3.session.Session().get_credentials() is None:
        raise StackUnavailableError(
            "no AWS credentials: configure them (aws configure, AWS_PROFILE or AWS_ACCESS_KEY_ID) so that "
            "`aws sts get-caller-identity` works, then run make e2e STACK=<name> again"
        )
    try:
        cloudformation = boto3.client("cloudformation", config=QUICK)
        stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    except NoRegionError:
        raise StackUnavailableError("no AWS region: set AWS_REGION to the stack's region") from None
    except NoCredentialsError:
        raise StackUnavailableError("no AWS credentials (see aws configure)") from None
    except ClientError as error:
        message = error.response["Error"].get("Message", str(error))
        region = cloudformation.meta.region_name
        raise StackUnavailableError(f"cannot read stack {stack_name!r} in {region}: {message}") from None
    except BotoCoreError as error:
        raise StackUnavailableError(f"cannot reach CloudFormation: {error}") from None
    if stack["StackStatus"] not in READY_STATES:
        raise StackUnavailableError(
            f"stack {stack_name!r} is {stack['StackStatus']}, not deployed (see its events in the console)"
        )
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


def load_stack() -> Stack | None:
    """The stack named by AWS_SAM_STACK_NAME, or the local runtime's outputs (E2E_OUTPUTS_FILE); None if
    neither is set. StackUnavailableError says why the outputs cannot be read."""
    outputs_file = os.environ.get("E2E_OUTPUTS_FILE")
    if outputs_file:
        return Stack(f"make local ({outputs_file})", dict(json.loads(Path(outputs_file).read_text())))
    stack_name = os.environ.get("AWS_SAM_STACK_NAME")
    if not stack_name:
        return None
    return Stack(f"stack {stack_name}", _described_outputs(stack_name))


@dataclass(frozen=True)
class HttpAnswer:
    """An HTTP response: status, headers (lower-case names) and body."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.body)


def http(
    method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> HttpAnswer:
    """Send one request; error statuses are answers too."""
    request = urllib.request.Request(url, data=body, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return HttpAnswer(
                response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
            )
    except urllib.error.HTTPError as error:
        return HttpAnswer(error.code, {k.lower(): v for k, v in error.headers.items()}, error.read())


def request_token(token_url: str, client_id: str, secret: str, scope: str | None = None) -> HttpAnswer:
    """POST the token endpoint with the client credentials grant, the client authenticated with HTTP Basic."""
    form = {"grant_type": "client_credentials"} | ({"scope": scope} if scope else {})
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return http(
        "POST",
        token_url,
        urllib.parse.urlencode(form).encode(),
        {"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"},
    )


def post_records(api_url: str, topic: str, body: Any, token: str | None) -> HttpAnswer:
    """POST a body (JSON-encoded) to <ApiUrl>/topics/<topic>/records."""
    headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {token}"} if token else {})
    return http("POST", f"{api_url}/topics/{topic}/records", json.dumps(body).encode(), headers)


def wait_for[T](probe: Callable[[], T], done: Callable[[T], bool], timeout_seconds: float, every: float) -> T:
    """Call `probe` until `done(result)` or the time is up; the last result either way."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        result = probe()
        if done(result) or time.monotonic() >= deadline:
            return result
        time.sleep(every)
