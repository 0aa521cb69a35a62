"""checkov finds nothing on the translated templates in any scenario; the scenarios cover every resource."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from local.cfn import enabled_resources, parameter_values
from tests.templates.checkov_scan import checked_resource_types, failed_checks, scan, scenario_templates
from tests.templates.sam_offline import ALL_TEMPLATES, ROOT_TEMPLATE, translate


@pytest.fixture(scope="module")
def reports() -> list[dict[str, object]]:
    return scan()


def test_checkov_reports_no_failed_check(reports: list[dict[str, object]]) -> None:
    assert failed_checks(reports) == []  # type: ignore[arg-type]


def test_checkov_really_checked_every_scenario(reports: list[dict[str, Any]]) -> None:
    # Every scenario of every nested template had checks run on it, unless checkov has no check for any of its
    # resource types: the root template holds only nested stacks (their contents are the nested templates
    # scanned here), nested/monitoring.yaml only a dashboard and a composite alarm.
    passed = {report["scenario"]: report["summary"]["passed"] for report in reports}
    checked = checked_resource_types()
    assert {"AWS::S3::Bucket", "AWS::Lambda::Function", "AWS::SNS::Topic"} <= checked
    unchecked = {
        name
        for template in ALL_TEMPLATES
        if not {resource["Type"] for resource in translate(template)["Resources"].values()} & checked
        for name in scenario_templates(template)
    }
    assert {name for name, count in passed.items() if count == 0} == unchecked
    assert {name.split("--")[0] for name in unchecked} <= {"template", "monitoring"}
    root_types = {resource["Type"] for resource in translate(ROOT_TEMPLATE)["Resources"].values()}
    assert root_types == {"AWS::CloudFormation::Stack"}
    assert sum(passed.values()) >= 400


def test_every_skip_has_a_reason() -> None:
    for template in ALL_TEMPLATES:
        for name, resource in translate(template)["Resources"].items():
            for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
                assert skip.get("comment", "").strip(), (
                    f"{template.name} {name} skips {skip['id']} without a reason"
                )


@pytest.mark.parametrize("template", ALL_TEMPLATES, ids=[t.name for t in ALL_TEMPLATES])
def test_scenarios_switch_on_every_resource(template: Path) -> None:
    # checkov only checks the resources the parameter defaults enable, so every resource must be
    # enabled in at least one scanned scenario.
    translated = translate(template)
    covered: set[str] = set()
    for variant in scenario_templates(template).values():
        covered |= set(enabled_resources(variant, parameter_values(variant)))
    assert set(translated["Resources"]) - covered == set()


def test_checkov_is_live(tmp_path: Path) -> None:
    insecure = tmp_path / "insecure"
    insecure.mkdir()
    (insecure / "bucket.yaml").write_text(
        "AWSTemplateFormatVersion: '2010-09-09'\nResources:\n  Bucket:\n    Type: AWS::S3::Bucket\n"
    )
    findings = failed_checks(scan([insecure / "bucket.yaml"]))
    assert any("CKV_AWS_18" in line for line in findings)  # access logging off
