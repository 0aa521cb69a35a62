"""The SAM transform, run offline exactly as `sam deploy` would run it in CloudFormation.

Local `CodeUri`, `ContentUri` and `Location` paths are first replaced by S3 URIs (what `sam package` does),
and managed policy names are resolved from the list samtranslator ships instead of calling IAM.
`sam_package` runs the real `sam package` (against moto's S3 in the rehearsal), and `transform_packaged`
transforms what it wrote.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

from publishing.sar_check import ShippedManagedPolicies

# The transform fills AWS::Region-dependent values (partition, managed policy ARNs) from the session.
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

REPO = Path(__file__).resolve().parents[2]
ROOT_TEMPLATE = REPO / "template.yaml"
NESTED_TEMPLATES = sorted((REPO / "nested").glob("*.yaml"))
ALL_TEMPLATES = [ROOT_TEMPLATE, *NESTED_TEMPLATES] if ROOT_TEMPLATE.exists() else NESTED_TEMPLATES

_PACKAGED_PROPERTY = {
    "AWS::Serverless::Function": "CodeUri",
    "AWS::Serverless::LayerVersion": "ContentUri",
    "AWS::Serverless::Application": "Location",
}


def sam_package(template: Path, bucket: str, environment: dict[str, str], output: Path) -> dict[str, Any]:
    """Run `sam package` itself (the SAM CLI of this virtual environment) with `environment` added (for
    example AWS_ENDPOINT_URL): every code artefact and nested template goes to `bucket`, nested templates
    packaged first, at any depth. Returns the packaged template, also written to `output`."""
    command = [
        str(Path(sys.executable).with_name("sam")),
        *("package", "--template-file", str(template), "--s3-bucket", bucket),
        *("--output-template-file", str(output), "--no-progressbar"),
    ]
    done = subprocess.run(
        command,
        env=os.environ | environment | {"SAM_CLI_TELEMETRY": "0"},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"sam package failed ({done.returncode}): {done.stderr.strip()}")
    return load_template(output)


def load_template(path: Path) -> dict[str, Any]:
    """The template as CloudFormation reads it (short-form intrinsics expanded)."""
    return dict(yaml_parse(path.read_text()))


def packaged(template: dict[str, Any]) -> dict[str, Any]:
    """A copy of `template` whose local artefact paths are S3 locations, as after `sam package`."""
    result = copy.deepcopy(template)
    for name, resource in result.get("Resources", {}).items():
        prop = _PACKAGED_PROPERTY.get(resource.get("Type", ""))
        properties = resource.get("Properties", {})
        value = properties.get(prop) if prop else None
        if isinstance(value, str) and not value.startswith(("s3://", "https://")):
            if prop == "Location":
                properties[prop] = f"https://artifacts.s3.amazonaws.com/{name}/{Path(value).name}"
            else:
                properties[prop] = f"s3://artifacts/{name}.zip"
    return result


@cache
def _transformed_json(packaged_json: str) -> str:
    # passthrough_metadata: a SAM resource's Metadata (its inline checkov skips) reaches what it generates,
    # for example the stage of an AWS::Serverless::Api.
    translated = transform(
        json.loads(packaged_json),
        {},
        ShippedManagedPolicies(),
        passthrough_metadata=True,  # type: ignore[arg-type]
    )
    return json.dumps(translated)


def transform_packaged(template: dict[str, Any]) -> dict[str, Any]:
    """What CloudFormation's SAM transform makes of a packaged template (its artefacts already in S3), as a
    fresh copy; cached per template text."""
    return dict(json.loads(_transformed_json(json.dumps(template))))


@cache
def _translated_json(path: Path) -> str:
    return _transformed_json(json.dumps(packaged(load_template(path))))


def translate(path: Path) -> dict[str, Any]:
    """The CloudFormation template the SAM transform makes of `path` (a fresh copy each call)."""
    return dict(json.loads(_translated_json(path)))
