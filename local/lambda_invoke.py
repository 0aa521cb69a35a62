"""Lambda's Invoke API for local functions, answered by moto's server: what calls a function through the API
(Step Functions' `arn:aws:states:::lambda:invoke` tasks, run by moto's interpreter) reaches execution
environments of the function (`local.containers`) instead of moto's Lambda, which would need Docker.

Only the functions registered here are routed; any other name gets moto's own answer. The answer is Lambda's:
200 with the response as JSON, or 200 with `X-Amz-Function-Error: Unhandled` and `{"errorType",
"errorMessage"}` when the function raised, crashed or timed out (Step Functions names the task's error after
errorType). Synchronous invocations only (`RequestResponse`, what the interpreter sends).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any
from urllib.parse import unquote

from moto.awslambda.responses import LambdaResponse

from local.cloudwatch_logs import LogShipper
from local.containers import FunctionContainer, FunctionError
from local.functions import FunctionSpec
from local.lambda_context import LocalLambdaContext

# A function as the route calls it: the event in, the response out, FunctionError when it fails.
Invocable = Callable[[dict[str, Any]], Any]

_routes: dict[str, Invocable] = {}
_routes_lock = threading.Lock()


def function_name_of(path_part: str) -> str:
    """The function's name from what Invoke's URL holds: a name, a partial or full ARN, with or without
    a qualifier (`arn:aws:lambda:us-east-1:123456789012:function:name:$LATEST` -> `name`)."""
    name = unquote(path_part)
    if ":function:" in name:
        name = name.split(":function:", 1)[1]
    return name.split(":", 1)[0]


def _invoke(response: LambdaResponse) -> tuple[int, dict[str, str], str | bytes]:
    """moto's Invoke handler, for the registered functions; moto's own for the others."""
    name = function_name_of(response.path.rsplit("/", 2)[-2])
    with _routes_lock:
        invocable = _routes.get(name)
    if invocable is None:
        answered: tuple[int, dict[str, str], str | bytes] = _moto_invoke(response)
        return answered
    event = json.loads(response.body or b"{}")
    headers = {"content-type": "application/json", "x-amz-executed-version": "$LATEST"}
    try:
        answer = invocable(event)
    except FunctionError as error:
        headers["x-amz-function-error"] = "Unhandled"
        return 200, headers, json.dumps({"errorType": error.error_type, "errorMessage": error.error_message})
    return 200, headers, json.dumps(answer)


_moto_invoke = LambdaResponse.invoke


@contextmanager
def routed(name: str, invocable: Invocable) -> Iterator[None]:
    """While inside, Invoke of the function `name` on a moto server of this process calls `invocable`."""
    LambdaResponse.invoke = _invoke  # type: ignore[method-assign]  # moto's server runs in this process
    with _routes_lock:
        if name in _routes:
            raise ValueError(f"a local function named {name!r} is routed already")
        _routes[name] = invocable
    try:
        yield
    finally:
        with _routes_lock:
            del _routes[name]


class ContainerPool:
    """Execution environments of one function, as many as invocations run at once (Lambda scales out the
    same way), each serving one invocation at a time; every invocation gets the function's timeout."""

    def __init__(self, spec: FunctionSpec, overrides: dict[str, str], logs: LogShipper) -> None:
        self.spec = spec
        self.overrides = overrides
        self.logs = logs
        self._idle: list[FunctionContainer] = []
        self._all: list[FunctionContainer] = []
        self._lock = threading.Lock()

    def __call__(self, event: dict[str, Any]) -> Any:
        """Invoke the function with `event` in an idle environment, or in a new one."""
        with self._lock:
            container = self._idle.pop() if self._idle else None
            if container is None:
                container = FunctionContainer(self.spec, self.overrides, self.logs)
                self._all.append(container)
        spec = self.spec
        context = LocalLambdaContext(spec.function_name, spec.timeout_seconds * 1000, spec.memory_mb)
        try:
            return container(event, context)
        finally:
            with self._lock:
                self._idle.append(container)

    @property
    def environments(self) -> int:
        """How many execution environments were started (the most invocations that ran at once)."""
        return len(self._all)

    def close(self) -> None:
        """Stop every execution environment."""
        with self._lock:
            for container in self._all:
                container.close()
            self._idle.clear()


@contextmanager
def serving(specs: list[FunctionSpec], overrides: dict[str, str], logs: LogShipper) -> Iterator[None]:
    """While inside, Invoke of each function of `specs` (by its local name) runs it in execution
    environments of its own, with its template's environment and `overrides`; stopped afterwards."""
    pools = [ContainerPool(spec, overrides, logs) for spec in specs]
    try:
        with ExitStack() as stack:
            for pool in pools:
                stack.enter_context(routed(pool.spec.function_name, pool))
            yield
    finally:
        for pool in pools:
            pool.close()
