"""Powertools Logger, Tracer and Metrics, created once per container and shared by every module.

Service name and metrics namespace come from POWERTOOLS_SERVICE_NAME and POWERTOOLS_METRICS_NAMESPACE,
which the templates set per function. Every metric also carries the dimension FunctionName, so that two
deployments in one account (and the dashboard of each) keep their metrics apart.
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
metrics = Metrics()
if function_name := os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
    metrics.set_default_dimensions(FunctionName=function_name)

__all__ = ["logger", "metrics", "tracer"]
