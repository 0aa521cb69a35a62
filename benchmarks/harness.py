"""Timing helpers shared by the benchmarks: interleaved rounds in one process, ratio of medians."""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import statistics
import time
from collections.abc import Callable


def quiet_powertools() -> None:
    """Logging at WARNING, no tracing, as the targets state; must run before the handlers are imported."""
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
