"""Powertools Logger, Tracer and Metrics, created once per container and shared by every module.

Service name and metrics namespace come from POWERTOOLS_SERVICE_NAME and POWERTOOLS_METRICS_NAMESPACE,
which the templates set per function. Every metric also carries the dimension FunctionName, so that two
deployments in one account (and the dashboard of each) keep their metrics apart.

With tracing on, the Tracer patches botocore only (every AWS call the functions make goes through it):
Powertools' default, the X-Ray SDK's patch_all, also imports each other library it supports that is
installed (sqlite3 in Lambda; requests, httpx and more wherever they are installed) at cold start.
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics, Tracer

TRACED_MODULES = ("botocore",)

logger = Logger()
tracer = Tracer(patch_modules=TRACED_MODULES)
metrics = Metrics()
if function_name := os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
    metrics.set_default_dimensions(FunctionName=function_name)

__all__ = ["logger", "metrics", "tracer"]
