"""Run a command against `make local`: start the local runtime in the background, wait until it has written
its outputs, run the command with the outputs file and the variables that point AWS clients at moto, then stop
the runtime (SIGTERM) and check that it stopped cleanly. `make e2e-local` and `make fuzz-api` use it.

    python -m local.with_runtime [--option All] -- <command> [args...]

The command gets E2E_OUTPUTS_FILE (the runtime's outputs as JSON), AWS_ENDPOINT_URL and local credentials.
Exit status: the command's, or 1 if the runtime failed to start or to stop cleanly.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from local import aws
from local.functions import REPO
from local.option_stack import OPTIONS
from local.runtime import ENDPOINT_OUTPUT

READY_TIMEOUT_SECONDS = 180.0
STOP_TIMEOUT_SECONDS = 60.0


def _tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


def _wait_for_outputs(runtime: subprocess.Popen[bytes], outputs: Path, log: Path) -> dict[str, str] | None:
    """The runtime's outputs once written; None (with the reason printed) if it exited or took too long."""
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while not outputs.exists():
        if runtime.poll() is not None:
            print(
                f"make local exited with {runtime.returncode} before it was ready:\n{_tail(log)}",
                file=sys.stderr,
            )
            return None
        if time.monotonic() > deadline:
            print(
                f"make local was not ready within {READY_TIMEOUT_SECONDS:.0f} s:\n{_tail(log)}",
                file=sys.stderr,
            )
            return None
        time.sleep(0.2)
    return dict(json.loads(outputs.read_text()))


def _stop(runtime: subprocess.Popen[bytes], log: Path) -> bool:
    """SIGTERM the runtime; True if it exited with 0 in time. Its whole process group is killed otherwise."""
    if runtime.poll() is None:
        runtime.send_signal(signal.SIGTERM)
    try:
        runtime.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(runtime.pid, signal.SIGKILL)  # its group: the runtime, its broker and its functions
        runtime.wait()
        print(f"make local did not stop within {STOP_TIMEOUT_SECONDS:.0f} s:\n{_tail(log)}", file=sys.stderr)
        return False
    if runtime.returncode != 0:
        print(f"make local stopped with exit status {runtime.returncode}:\n{_tail(log)}", file=sys.stderr)
        return False
    return True


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.with_runtime", description=__doc__.split("\n")[0])
    parser.add_argument("--option", default="All", choices=OPTIONS)
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- the command to run")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")
    folder = Path(tempfile.mkdtemp(prefix="msk-with-local-"))
    outputs_path, log = folder / "outputs.json", folder / "runtime.log"
    with log.open("wb") as log_file:
        runtime = subprocess.Popen(
            [sys.executable, "-m", "local.runtime", args.option, "--outputs", str(outputs_path)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=REPO,
            start_new_session=True,  # its own process group: Ctrl-C here reaches it only through _stop
        )
        try:
            outputs = _wait_for_outputs(runtime, outputs_path, log)
            if outputs is None:
                return 1
            print(
                f"make local OPTION={args.option} is ready (log: {log}); running: {' '.join(command)}",
                flush=True,
            )
            environment = (
                os.environ
                | aws.environment(outputs[ENDPOINT_OUTPUT])
                | {"E2E_OUTPUTS_FILE": str(outputs_path)}
            )
            status = subprocess.run(command, env=environment, check=False).returncode
        finally:
            stopped = _stop(runtime, log)
    print(f"make local stopped {'cleanly' if stopped else 'UNCLEANLY'} (log: {log})", flush=True)
    return status if stopped else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
