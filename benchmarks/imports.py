"""Import (cold start) benchmark: the time to import each deployed handler's `app` in a fresh interpreter,
divided by the time to import a minimal Powertools handler (benchmarks/minimal_powertools/app.py: Logger,
Tracer, Metrics, the batch utilities and boto3). Target: at most 1.10 for every handler.

Each import runs in a new interpreter of this venv, as Lambda's runtime would run it: the handler's folder
first on sys.path and as the working directory, then the shared layer; LAMBDA_TASK_ROOT and the function name
set, tracing on as the templates deploy it (`Tracing: Active`) unless --tracing-off. Handlers and baseline
take turns, round after round; each figure is the minimum over the rounds (interpreter start-up excluded).

Usage: python -m benchmarks.imports [--rounds N] [--tracing-off] [--layer DIR] [--profile]
  --layer DIR: import the third-party packages from DIR only (`pip install --target DIR -r
  layers/shared/requirements.txt`, what the shared layer holds), not from this venv, which also holds the
  development tools and every library X-Ray's patch_all would import if present.
  --profile: `-X importtime` of each handler against the baseline: the modules only the handler imports,
  by their own import time.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LAYER = REPO / "layers" / "shared"
BASELINE = Path(__file__).resolve().parent / "minimal_powertools"
HANDLERS = [
    "consumer",
    "firehose_forwarder",
    "producer",
    "token_scopes",
    "topic_provisioner",
    "archive_replay",
    # the other custom resources: deployed too, run once per stack operation, each run a cold start
    "api_gateway_account",
    "availability_zones",
    "bootstrap_brokers",
    "flink_deployer",
]
TARGET = 1.10
ROUNDS = 9
TIMED_IMPORT = (
    "import sys, time\n"
    "sys.path[:0] = [sys.argv[1], sys.argv[2]]\n"
    "sys.path += sys.argv[3:]\n"
    "started = time.perf_counter()\n"
    "import app\n"
    "print(time.perf_counter() - started)\n"
)


def lambda_environment(folder: Path, *, tracing: bool) -> dict[str, str]:
    """What Lambda's runtime sets that the import reads, and credentials that reach no AWS account."""
    environment = {
        "LAMBDA_TASK_ROOT": str(folder),
        "AWS_LAMBDA_FUNCTION_NAME": f"benchmark-{folder.name}",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "benchmark",
        "AWS_SECRET_ACCESS_KEY": "benchmark",
        "POWERTOOLS_SERVICE_NAME": folder.name,
        "POWERTOOLS_METRICS_NAMESPACE": "Benchmark",
        "LANG": "C.UTF-8",
    }
    if not tracing:
        environment["POWERTOOLS_TRACE_DISABLED"] = "true"
    return environment


def import_seconds(
    folder: Path, *, tracing: bool, flags: tuple[str, ...] = (), packages: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Import `folder`'s app.py once in a fresh interpreter (-I: no PYTHON* variables, no user site; with
    `packages`, -S: no site-packages either, the third-party packages come from `packages`)."""
    isolation = ["-I"] if packages is None else ["-I", "-S"]
    extra_path = [] if packages is None else [str(packages)]
    return subprocess.run(  # noqa: S603 - this interpreter, a fixed script, the repository's folders
        [sys.executable, *isolation, *flags, "-c", TIMED_IMPORT, str(folder), str(LAYER), *extra_path],
        cwd=folder,
        env=lambda_environment(folder, tracing=tracing),
        capture_output=True,
        text=True,
        check=False,
    )


def measure(
    folders: dict[str, Path], rounds: int, *, tracing: bool, packages: Path | None = None
) -> dict[str, float]:
    """Minimum import seconds of each folder over `rounds` interleaved rounds."""
    best = dict.fromkeys(folders, float("inf"))
    for _ in range(rounds):
        for name, folder in folders.items():
            result = import_seconds(folder, tracing=tracing, packages=packages)
            if result.returncode:
                raise RuntimeError(f"importing {name} failed:\n{result.stderr[-2000:]}")
            best[name] = min(best[name], float(result.stdout.split()[-1]))
    return best


def import_profile(folder: Path, *, tracing: bool, packages: Path | None = None) -> dict[str, int]:
    """Own import time in microseconds of every module `folder`'s app imports (`-X importtime`)."""
    result = import_seconds(folder, tracing=tracing, flags=("-X", "importtime"), packages=packages)
    own: dict[str, int] = {}
    for line in result.stderr.splitlines():
        fields = line.removeprefix("import time:").split("|")
        if len(fields) == 3 and fields[0].strip().isdigit():
            own[fields[2].strip()] = int(fields[0])
    return own


def extra_modules(handler: Path, *, tracing: bool, packages: Path | None = None, top: int = 12) -> str:
    """The modules `handler` imports and the baseline does not, by own import time."""
    baseline = import_profile(BASELINE, tracing=tracing, packages=packages)
    own = import_profile(handler, tracing=tracing, packages=packages)
    extra = sorted(((us, name) for name, us in own.items() if name not in baseline), reverse=True)
    missing = sum(us for name, us in baseline.items() if name not in own)
    lines = [
        f"  {handler.name}: {sum(us for us, _ in extra) / 1000:.1f} ms in {len(extra)} modules the baseline "
        f"does not import; {missing / 1000:.1f} ms of the baseline's it does not import"
    ]
    lines += [f"    {us / 1000:6.1f} ms  {name}" for us, name in extra[:top]]
    return "\n".join(lines)


def deployed_handlers() -> dict[str, Path]:
    """The handlers of HANDLERS that exist in this tree."""
    folders = {name: REPO / "functions" / name for name in HANDLERS}
    return {name: folder for name, folder in folders.items() if (folder / "app.py").exists()}


def main(argv: list[str]) -> int:
    rounds = int(argv[argv.index("--rounds") + 1]) if "--rounds" in argv else ROUNDS
    tracing = "--tracing-off" not in argv
    packages = Path(argv[argv.index("--layer") + 1]).resolve() if "--layer" in argv else None
    handlers = deployed_handlers()
    best = measure({"baseline": BASELINE} | handlers, rounds, tracing=tracing, packages=packages)
    baseline = best.pop("baseline")
    mode = ("tracing on" if tracing else "tracing off") + (f", packages from {packages}" if packages else "")
    print(
        f"imports: minimal Powertools handler {baseline * 1000:.1f} ms ({mode}, min of {rounds} interpreters)"
    )
    worst = 0.0
    for name, seconds in best.items():
        ratio = seconds / baseline
        worst = max(worst, ratio)
        print(f"imports: {name} {seconds * 1000:.1f} ms, ratio {ratio:.2f} (target <= {TARGET})")
    print(f"imports: highest ratio {worst:.2f} (target <= {TARGET})")
    if "--profile" in argv:
        for folder in handlers.values():
            print(extra_modules(folder, tracing=tracing, packages=packages))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
