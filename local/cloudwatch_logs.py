"""Function logs into CloudWatch Logs (moto), as Lambda sends them: one log stream per container, named like
Lambda's (`YYYY/MM/DD/[$LATEST]<id>`), in the log group the function's template declares.

One thread ships every stream's lines in batches (moto's log streams are not safe for concurrent writers),
and each line is also appended to a local file for `tail -f`.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any, TextIO

# PutLogEvents takes at most 10,000 events per call; a second is short enough for a person or a test waiting.
MAX_EVENTS_PER_CALL = 10_000
FLUSH_INTERVAL_SECONDS = 0.5


def lambda_log_stream_name() -> str:
    """A log stream name as Lambda gives each new execution environment."""
    return f"{time.strftime('%Y/%m/%d', time.gmtime())}/[$LATEST]{uuid.uuid4().hex}"


class LogShipper:
    """Ships lines to CloudWatch Logs log streams from one background thread, and copies them to a file."""

    def __init__(self, logs: Any, copy_to: Path) -> None:
        self._logs = logs
        self._copy: TextIO = copy_to.open("a", encoding="utf-8")
        self._pending: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="log-shipper", daemon=True)
        self._thread.start()

    def open_stream(self, group: str, stream: str) -> None:
        """Create `stream` in `group` (the group is created by the template's resources, or here if not)."""
        with contextlib.suppress(self._logs.exceptions.ResourceAlreadyExistsException):
            self._logs.create_log_group(logGroupName=group)
        self._logs.create_log_stream(logGroupName=group, logStreamName=stream)

    def write(self, group: str, stream: str, line: str) -> None:
        """Queue one log line (its trailing newline dropped) with the current time."""
        message = line.rstrip("\n")
        event = {"timestamp": int(time.time() * 1000), "message": message}
        with self._lock:
            self._pending.setdefault((group, stream), []).append(event)
            self._copy.write(f"{group} {message}\n")

    def flush(self) -> None:
        """Send every queued line now."""
        with self._lock:
            pending, self._pending = self._pending, {}
            self._copy.flush()
        for (group, stream), events in pending.items():
            for start in range(0, len(events), MAX_EVENTS_PER_CALL):
                self._logs.put_log_events(
                    logGroupName=group,
                    logStreamName=stream,
                    logEvents=events[start : start + MAX_EVENTS_PER_CALL],
                )

    def close(self) -> None:
        """Stop the thread and send what is left."""
        self._stop.set()
        self._thread.join(timeout=10)
        self.flush()
        self._copy.close()

    def _run(self) -> None:
        while not self._stop.wait(FLUSH_INTERVAL_SECONDS):
            try:
                self.flush()
            except Exception as error:  # keep shipping: one failed call must not end every function's logs
                print(f"log shipper: {error!r}", file=sys.stderr)
