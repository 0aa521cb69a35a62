"""A template's AWS::ServerlessRepo::Application metadata against the limits SAR sets, and the one version.

The limits are those of the SAM developer guide's "Metadata section properties" page (no intrinsic functions;
Name 1-140 of [a-zA-Z0-9-]; Description 1-256; Author 1-127, lower case with single inner hyphens; at most 10
labels of 1-127 characters each from [a-zA-Z0-9+-_:/@]; licence and readme files of at most 5 MB). The version
lives in pyproject.toml's [project] version; every template's SemanticVersion must be that one.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from publishing.sar_check import REPO

METADATA_KEY = "AWS::ServerlessRepo::Application"
PYPROJECT = REPO / "pyproject.toml"
REQUIRED_FIELDS = ("Name", "Description", "Author")
FIELDS = (
    *REQUIRED_FIELDS,
    "SpdxLicenseId",
    "LicenseUrl",
    "ReadmeUrl",
    "Labels",
    "HomePageUrl",
    "SemanticVersion",
    "SourceCodeUrl",
)
NAME = re.compile(r"[a-zA-Z0-9\-]{1,140}")
DESCRIPTION_MAX = 256
AUTHOR = re.compile(r"[a-z0-9](([a-z0-9]|-(?!-))*[a-z0-9])?")
AUTHOR_MAX = 127
LABEL = re.compile(r"[a-zA-Z0-9+\-_:/@]{1,127}")
LABELS_MAX = 10
# semver.org's regular expression for a version (SAR takes semantic versions).
SEMANTIC_VERSION = re.compile(
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?"
)
SPDX_ID = re.compile(r"[A-Za-z0-9.+\-]+")
FILE_MAX_BYTES = 5 * 1024 * 1024


class MetadataError(ValueError):
    """A template's SAR metadata is missing or outside SAR's limits."""


def project_version(pyproject: Path = PYPROJECT) -> str:
    """The solution's version: pyproject.toml's [project] version, the one place it is kept."""
    return str(tomllib.loads(pyproject.read_text())["project"]["version"])


def application_metadata(template: dict[str, Any], where: str) -> dict[str, Any]:
    """The AWS::ServerlessRepo::Application block of `template` (read from `where`)."""
    metadata = template.get("Metadata", {}).get(METADATA_KEY)
    if not isinstance(metadata, dict):
        raise MetadataError(f"{where}: no Metadata.{METADATA_KEY}")
    return metadata


def _local_file_problems(field: str, value: str, template_dir: Path) -> list[str]:
    """A licence or readme: an S3 location (after sam package), or a file next to the template."""
    if value.startswith(("s3://", "https://")):
        return []
    path = template_dir / value
    if not path.is_file():
        return [f"{field} {value}: no such file next to the template"]
    if path.stat().st_size > FILE_MAX_BYTES:
        return [f"{field} {value}: larger than 5 MB"]
    return []


def _label_problems(labels: Any) -> list[str]:
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        return ["Labels must be a list of plain strings"]
    problems = [
        f"label {label!r} is not 1-127 of [a-zA-Z0-9+-_:/@]" for label in labels if not LABEL.fullmatch(label)
    ]
    if len(labels) > LABELS_MAX:
        problems.append(f"{len(labels)} labels, at most {LABELS_MAX}")
    return problems


def metadata_problems(metadata: dict[str, Any], template_dir: Path, version: str) -> list[str]:
    """Everything in `metadata` SAR would refuse, or that disagrees with the solution's `version`."""
    problems = [f"unknown field {field}" for field in metadata if field not in FIELDS]
    problems += [f"{field} is required" for field in REQUIRED_FIELDS if field not in metadata]
    text = {key: value for key, value in metadata.items() if key != "Labels"}
    problems += [
        f"{key} must be a plain string (no intrinsic functions)"
        for key, v in text.items()
        if not isinstance(v, str)
    ]
    if problems:
        return problems
    if not NAME.fullmatch(metadata["Name"]):
        problems.append(f"Name {metadata['Name']!r} is not 1-140 of [a-zA-Z0-9-]")
    if not 1 <= len(metadata["Description"]) <= DESCRIPTION_MAX:
        problems.append(
            f"Description has {len(metadata['Description'])} characters, 1-{DESCRIPTION_MAX} allowed"
        )
    author = metadata["Author"]
    if len(author) > AUTHOR_MAX or not AUTHOR.fullmatch(author):
        problems.append(
            f"Author {author!r} is not 1-127 lower-case letters and digits with single inner hyphens"
        )
    if "Labels" in metadata:
        problems += _label_problems(metadata["Labels"])
    for field in ("LicenseUrl", "ReadmeUrl"):
        if field in metadata:
            problems += _local_file_problems(field, metadata[field], template_dir)
    for field in ("HomePageUrl", "SourceCodeUrl"):
        if field in metadata and not metadata[field].startswith("https://"):
            problems.append(f"{field} {metadata[field]!r} is not an https URL")
    if "SpdxLicenseId" in metadata and not SPDX_ID.fullmatch(metadata["SpdxLicenseId"]):
        problems.append(f"SpdxLicenseId {metadata['SpdxLicenseId']!r} is not an SPDX identifier")
    semantic_version = metadata.get("SemanticVersion")
    if semantic_version is None or not SEMANTIC_VERSION.fullmatch(semantic_version):
        problems.append(f"SemanticVersion {semantic_version!r} is not a semantic version")
    elif semantic_version != version:
        problems.append(
            f"SemanticVersion {semantic_version} is not the solution's version {version} (pyproject.toml)"
        )
    return problems
