"""Lambda execution environments for the long-running local runtime (`make local`).

Each function runs in a process of its own, as in Lambda:
- its environment is what its template gives it, with Lambda's reserved variables, and its code sees only
  its own folder and the shared layer on the import path (Lambda's /var/task and /opt/python);
- everything it writes to stdout and stderr goes to its CloudWatch Logs log group (in moto), one log stream
  per execution environment;
- a crash, even a segmentation fault inside a native library, ends only that environment: the invocation
  fails (API Gateway answers 502, an event source mapping retries) and the next invocation starts a new one;
- an invocation that outlives the function's timeout is stopped ("Task timed out"), as Lambda stops it.

`python -m local.containers <fd>` is the process inside: it loads `app.lambda_handler` from LAMBDA_TASK_ROOT
and answers invocations on the connection `fd`.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import multiprocessing.connection
import os
import signal
import socket
import subprocess
import sys
import threading
import traceback
from pathlib import Path
from typing import Any

from local.cloudwatch_logs import LogShipper, lambda_log_stream_name
from local.functions import LOCAL_REGION, REPO, FunctionSpec
from local.lambda_context import LocalLambdaContext

READY_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 10.0


class FunctionError(Exception):
    """The function raised, crashed or timed out; the message says which, as Lambda reports it, and
    `error_type` is the errorType Lambda gives the caller (Step Functions names the task's error after it)."""

    def __init__(self, message: str, error_type: str, error_message: str | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.error_message = message if error_message is None else error_message


class FunctionContainer:
    """One function's execution environment, started on first use and again after a crash; callable as
    `handler(event, context)`. Invocations are served one at a time, like one Lambda environment."""

    def __init__(
        self, spec: FunctionSpec, overrides: dict[str, str], logs: LogShipper, task_root: Path | None = None
    ) -> None:
        self.spec = spec
        self.overrides = overrides
        self.logs = logs
        self.task_root = task_root or REPO / "functions" / spec.name  # where app.py is
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._connection: multiprocessing.connection.Connection | None = None
        self._reader: threading.Thread | None = None
        self.log_stream = ""

    def start(self) -> None:
        """Start a new execution environment and wait until its handler is loaded (the cold start)."""
        self.log_stream = lambda_log_stream_name()
        self.logs.open_stream(self.spec.log_group, self.log_stream)
        ours, theirs = socket.socketpair()
        self._process = subprocess.Popen(
            [sys.executable, "-m", "local.containers", str(theirs.fileno())],
            env=self._environment(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            pass_fds=(theirs.fileno(),),
            cwd=self.task_root,
        )
        theirs.close()
        self._connection = multiprocessing.connection.Connection(ours.detach())
        self._reader = threading.Thread(
            target=self._ship_output,
            args=(self._process, self.log_stream),
            name=f"logs-{self.spec.name}",
            daemon=True,
        )
        self._reader.start()
        if not self._connection.poll(READY_TIMEOUT_SECONDS):
            self._end()
            raise FunctionError(
                f"{self.spec.function_name}: no ready signal within {READY_TIMEOUT_SECONDS} s",
                "Runtime.InitError",
            )
        try:
            message = self._connection.recv()
        except (EOFError, OSError):
            message = ("init_error", "the process exited while loading the handler")
        if message[0] != "ready":
            self._end()
            raise FunctionError(
                f"{self.spec.function_name}: Runtime.ImportModuleError: {message[1]} "
                f"(log group {self.spec.log_group})",
                "Runtime.ImportModuleError",
            )

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        """Invoke the function with `event`; its response, or FunctionError."""
        with self._lock:
            if self._process is None or self._process.poll() is not None:
                self._end()
                self.start()
            assert self._connection is not None  # noqa: S101 - started just above
            remaining_ms = int(context.get_remaining_time_in_millis())
            try:
                self._connection.send(("invoke", event, remaining_ms, context.aws_request_id))
                answered = self._connection.poll(remaining_ms / 1000 + 1)
                result = self._connection.recv() if answered else None
            except (EOFError, OSError):
                result = ("crash", "")
            if result is None:
                seconds = remaining_ms / 1000
                self._note(f"RequestId: {context.aws_request_id} Task timed out after {seconds:.2f} seconds")
                self._end()
                raise FunctionError(
                    f"{self.spec.function_name}: Task timed out after {remaining_ms} ms", "Sandbox.Timedout"
                )
            if result[0] == "crash":
                code = self._end()
                # Lambda's words: "signal: segmentation fault", "signal: killed", "exit status 1"
                reason = (
                    f"signal: {(signal.strsignal(-code) or str(-code)).lower()}"
                    if code < 0
                    else f"exit status {code}"
                )
                error = f"Runtime exited with error: {reason} Runtime.ExitError"
                self._note(f"RequestId: {context.aws_request_id} Error: {error}")
                raise FunctionError(
                    f"{self.spec.function_name}: Runtime.ExitError ({reason})", "Runtime.ExitError"
                )
            if result[0] == "error":
                error_type, error_message = result[1]["errorType"], result[1]["errorMessage"]
                raise FunctionError(
                    f"{self.spec.function_name}: {error_type}: {error_message}", error_type, error_message
                )
            return result[1]

    def close(self) -> None:
        """Stop the execution environment, if one runs."""
        with self._lock:
            self._end()

    def _environment(self) -> dict[str, str]:
        layer = REPO / "layers" / "shared"
        return (
            {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "PYTHONPATH": f"{self.task_root}:{layer}:{REPO}",
                "PYTHONUNBUFFERED": "1",  # lines reach the log as they are written, as in Lambda
                "AWS_REGION": LOCAL_REGION,
                "AWS_DEFAULT_REGION": LOCAL_REGION,
                "AWS_LAMBDA_FUNCTION_NAME": self.spec.function_name,
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.spec.memory_mb),
                "AWS_LAMBDA_LOG_GROUP_NAME": self.spec.log_group,
                "AWS_LAMBDA_LOG_STREAM_NAME": self.log_stream,
                "LAMBDA_TASK_ROOT": str(self.task_root),
            }
            | self.spec.environment
            | self.overrides
        )

    def _ship_output(self, process: subprocess.Popen[bytes], stream: str) -> None:
        assert process.stdout is not None  # noqa: S101 - opened with PIPE
        for raw in process.stdout:
            self.logs.write(self.spec.log_group, stream, raw.decode("utf-8", errors="replace"))

    def _note(self, line: str) -> None:
        self.logs.write(self.spec.log_group, self.log_stream, line)

    def _end(self) -> int:
        """Stop the process (asking first); its exit code, 0 if none ran."""
        process, connection, reader = self._process, self._connection, self._reader
        self._process = self._connection = self._reader = None
        if process is None:
            return 0
        if connection is not None:
            with contextlib.suppress(OSError):  # it may have died already
                connection.send(("stop",))
        try:
            process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT_SECONDS)
        if connection is not None:
            connection.close()
        if reader is not None:
            reader.join(timeout=STOP_TIMEOUT_SECONDS)
        if process.stdout is not None:
            process.stdout.close()
        return process.returncode


def _error_record(error: BaseException) -> dict[str, Any]:
    """What Lambda's Python runtime reports for an unhandled exception."""
    return {
        "errorMessage": str(error),
        "errorType": type(error).__name__,
        "stackTrace": traceback.format_exception(error),
    }


def _load_handler(task_root: Path) -> Any:
    """`app.lambda_handler` from the task root, as Lambda loads the handler `app.lambda_handler`."""
    spec = importlib.util.spec_from_file_location("app", task_root / "app.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"no handler at {task_root / 'app.py'}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["app"] = module
    spec.loader.exec_module(module)
    return module.lambda_handler


def serve(fd: int) -> int:
    """Inside the execution environment: load the handler, then answer invocations until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the runtime, which stops this process
    connection = multiprocessing.connection.Connection(fd)
    try:
        handler = _load_handler(Path(os.environ["LAMBDA_TASK_ROOT"]))
    except Exception as error:
        print(json.dumps(_error_record(error)))
        connection.send(("init_error", f"{type(error).__name__}: {error}"))
        return 1
    connection.send(("ready",))
    function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
    memory_mb = int(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
    while True:
        try:
            message = connection.recv()
        except EOFError:
            return 0
        if message[0] == "stop":
            return 0
        _, event, remaining_ms, request_id = message
        context = LocalLambdaContext(function_name, remaining_ms, memory_mb)
        context.aws_request_id = request_id
        context.log_group_name = os.environ["AWS_LAMBDA_LOG_GROUP_NAME"]
        context.log_stream_name = os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]
        try:
            response = handler(event, context)
        except Exception as error:
            record = _error_record(error)
            print(json.dumps(record))
            connection.send(("error", record))
        else:
            connection.send(("ok", response))


if __name__ == "__main__":
    sys.exit(serve(int(sys.argv[1])))
