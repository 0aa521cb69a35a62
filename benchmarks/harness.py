"""What the benchmarks share: their environment, interleaved timing rounds in one process, ratio of medians,
and a profile. Handlers get local.lambda_context's context, as in the local runtime; nothing comes from
tests/."""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import statistics
import time
from collections.abc import Callable


def benchmark_environment() -> None:
    """Logging at WARNING and no tracing, as the targets state, and credentials that reach no AWS account
    (the benchmarks use local fakes and the local broker); must run before the handlers are imported."""
    os.environ.update(AWS_ACCESS_KEY_ID="benchmark", AWS_SECRET_ACCESS_KEY="benchmark")  # noqa: S106
    os.environ.pop("AWS_PROFILE", None)
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "benchmark")
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Benchmark")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("AWS_REGION", "us-east-1")


def compare(
    subject: Callable[[], object], baseline: Callable[[], object], rounds: int = 15
) -> tuple[float, float]:
    """Median seconds of `subject` and of `baseline`, measured in alternating rounds after a warm-up."""
    subject()
    baseline()
    subject_times, baseline_times = [], []
    for _ in range(rounds):
        started = time.perf_counter()
        baseline()
        baseline_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        subject()
        subject_times.append(time.perf_counter() - started)
    return statistics.median(subject_times), statistics.median(baseline_times)


def profile(subject: Callable[[], object], top: int = 15) -> str:
    """cProfile of one call of `subject`, by own time."""
    profiler = cProfile.Profile()
    profiler.runcall(subject)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()
