"""Every template goes through the real SAM transform, cfn-lint and `sam validate --lint` with no finding."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.templates.sam_offline import ALL_TEMPLATES, REPO, load_template, translate

BIN = Path(sys.executable).parent
TEMPLATE_IDS = [str(t.relative_to(REPO)) for t in ALL_TEMPLATES]


def test_every_expected_template_exists() -> None:
    assert {str(t.relative_to(REPO)) for t in ALL_TEMPLATES} >= {
        "template.yaml",
        "nested/network.yaml",
        "nested/msk-cluster.yaml",
    }


@pytest.mark.parametrize("template", ALL_TEMPLATES, ids=TEMPLATE_IDS)
def test_sam_transform_leaves_only_cloudformation(template: Path) -> None:
    translated = translate(template)
    types = {resource["Type"] for resource in translated["Resources"].values()}
    assert types, "the transform produced no resources"
    assert not {t for t in types if t.startswith("AWS::Serverless::")}
    assert "Transform" not in translated


@pytest.mark.parametrize("template", ALL_TEMPLATES, ids=TEMPLATE_IDS)
def test_functions_follow_the_runtime_conventions(template: Path) -> None:
    # Given every Lambda function the transform generates
    functions = {
        name: resource["Properties"]
        for name, resource in translate(template)["Resources"].items()
        if resource["Type"] == "AWS::Lambda::Function"
    }
    # Then each is python3.13 on arm64, traced, logging to a log group with a retention
    log_groups = {
        name: resource["Properties"]
        for name, resource in translate(template)["Resources"].items()
        if resource["Type"] == "AWS::Logs::LogGroup"
    }
    for name, function in functions.items():
        assert function["Runtime"] == "python3.13", name
        assert function["Architectures"] == ["arm64"], name
        assert function["TracingConfig"] == {"Mode": "Active"}, name
        log_group = function["LoggingConfig"]["LogGroup"]["Ref"]
        assert "RetentionInDays" in log_groups[log_group], name
    assert all("RetentionInDays" in group for group in log_groups.values())


def test_cfn_lint_reports_no_errors_and_no_warnings() -> None:
    completed = subprocess.run(
        [str(BIN / "cfn-lint"), "--format", "parseable", *map(str, ALL_TEMPLATES)],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
        timeout=300,
    )
    assert completed.stdout == ""
    assert completed.returncode == 0, completed.stderr


def test_cfn_lint_is_live(tmp_path: Path) -> None:
    # A check that cannot fail proves nothing: the same call flags a broken template.
    broken = tmp_path / "broken.yaml"
    broken.write_text("Resources:\n  Bucket:\n    Type: AWS::S3::Bucket\n    Properties:\n      Nope: 1\n")
    completed = subprocess.run(
        [str(BIN / "cfn-lint"), "--format", "parseable", str(broken)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert completed.returncode != 0
    assert "E3002" in completed.stdout


@pytest.mark.parametrize("template", ALL_TEMPLATES, ids=TEMPLATE_IDS)
def test_sam_validate_lint(template: Path) -> None:
    completed = subprocess.run(
        [str(BIN / "sam"), "validate", "--lint", "-t", str(template)],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "is a valid SAM Template" in completed.stdout + completed.stderr


def test_sar_metadata_is_publishable() -> None:
    metadata = load_template(REPO / "template.yaml")["Metadata"]["AWS::ServerlessRepo::Application"]
    assert {"Name", "Description", "Author"} <= set(metadata)
    assert all(isinstance(value, (str, list)) for value in metadata.values()), "SAR allows no intrinsics"
    assert metadata["Author"].replace("-", "").isalnum()
    assert metadata["Author"] == metadata["Author"].lower()
    for local_file in ("LicenseUrl", "ReadmeUrl"):
        assert (REPO / metadata[local_file]).is_file()
