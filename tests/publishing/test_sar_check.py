"""The SAR compatibility report (publishing/sar_check.py): refused types and IAM grants after the real SAM
transform, nested applications, the flavours it generates, and the components that must be publishable."""

from __future__ import annotations

import copy
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from publishing import sar_check
from publishing.sar_check import (
    REQUIRED_COMPONENTS,
    ComponentReport,
    FlavourError,
    Survey,
    component_reports,
    flavour,
    load_template,
)

REPO = sar_check.REPO
BIN = Path(sys.executable).parent
KAFKA_FUNCTION = REPO / "nested" / "kafka-function.yaml"


def _write(path: Path, template: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(template, sort_keys=False))
    return path


def _planted(tmp_path: Path, plant: Any, source: Path = KAFKA_FUNCTION) -> ComponentReport:
    """The report on `source` (a real template) changed by `plant`, written into a repo of its own."""
    template = load_template(source)
    plant(template)
    path = _write(tmp_path / "nested" / source.name, template)
    return Survey(tmp_path).report(path)


def _function(template: dict[str, Any]) -> dict[str, Any]:
    """The properties of the template's first AWS::Serverless::Function."""
    return next(
        resource["Properties"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Serverless::Function"
    )


@pytest.fixture(scope="module")
def reports() -> dict[str, ComponentReport]:
    return {report.name: report for report in component_reports()}


# ----------------------------------------------------------------------------------------- the repo's reports
def test_every_required_component_is_publishable(reports: dict[str, ComponentReport]) -> None:
    assert set(reports) >= REQUIRED_COMPONENTS
    unpublishable = {
        name: reports[name].reasons for name in REQUIRED_COMPONENTS if not reports[name].publishable
    }
    assert unpublishable == {}


def test_every_template_has_a_report_and_the_unpublishable_say_why(
    reports: dict[str, ComponentReport],
) -> None:
    nested = {path.stem for path in (REPO / "nested").glob("*.yaml")}
    assert set(reports) == {"root", *nested}
    assert all(report.reasons for report in reports.values() if not report.publishable)
    # Where the types SAR may not take live: the new cluster, the VPC and Managed Flink
    assert not reports["msk-cluster"].publishable
    assert any("AWS::MSK::Cluster" in reason for reason in reports["msk-cluster"].reasons)
    assert any("AWS::EC2::VPC " in reason for reason in reports["network"].reasons)
    assert any("AWS::KinesisAnalyticsV2::Application " in r for r in reports["flink-analytics"].reasons)
    assert "nested application Cluster (msk-cluster) is not publishable" in reports["root"].reasons


def test_the_root_reports_what_a_child_flavour_lacks(reports: dict[str, ComponentReport]) -> None:
    # The root passes EnableWaf to the ingest API, whose flavour has no WAF and so no such parameter
    assert "nested application IngestApi: the ingest-api flavour lacks EnableWaf" in reports["root"].reasons
    (monitoring,) = [r for r in reports["root"].reasons if r.startswith("nested application Monitoring:")]
    assert "PipelineUnhealthyAlarmName" in monitoring  # an output the root reads


# --------------------------------------------------------------------------------- refused types and grants
def test_a_planted_refused_type_and_refused_grant_are_both_reported(tmp_path: Path) -> None:
    def plant(template: dict[str, Any]) -> None:
        template["Resources"]["Planted"] = {
            "Type": "AWS::MSK::Cluster",
            "Properties": {"ClusterName": "c", "KafkaVersion": "3.9.x", "NumberOfBrokerNodes": 3},
        }
        _function(template).setdefault("Policies", []).append(
            {"Statement": [{"Effect": "Allow", "Action": ["iam:PutRolePolicy"], "Resource": "*"}]}
        )

    report = _planted(tmp_path, plant)
    assert not report.publishable
    assert report.flavour is None
    assert "refused type AWS::MSK::Cluster (Planted)" in report.reasons
    assert any(r.startswith("refused IAM grant:") and 'iam:PutRolePolicy on "*"' in r for r in report.reasons)


@pytest.mark.parametrize(
    ("statement", "refused"),
    [
        ({"Effect": "Allow", "Action": "iam:*", "Resource": "*"}, "iam:PutRolePolicy"),
        (
            {"Effect": "Allow", "Action": ["s3:GetObject", "IAM:AttachRolePolicy"], "Resource": ["*"]},
            "iam:Attach",
        ),
        ({"Effect": "Allow", "Action": "iam:Put*", "Resource": "*"}, "iam:PutRolePolicy"),
        ({"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}, "iam:PutRolePolicy"),
        (
            {"Effect": "Allow", "Action": "iam:AttachRolePolicy", "Resource": {"Fn::If": ["C", "*", "arn"]}},
            "iam:AttachRolePolicy",
        ),
    ],
)
def test_each_refused_grant_form_is_reported(statement: dict[str, Any], refused: str) -> None:
    template = {
        "Conditions": {"C": {"Fn::Equals": ["a", "a"]}},
        "Resources": {
            "Policy": {
                "Type": "AWS::IAM::Policy",
                "Properties": {
                    "PolicyName": "p",
                    "Roles": ["r"],
                    "PolicyDocument": {"Statement": [statement]},
                },
            }
        },
    }
    assert any(refused in grant for grant in sar_check.refused_grants(template))


@pytest.mark.parametrize(
    "statement",
    [
        # the ingest API's own: iam:AttachRolePolicy on one role, not on "*"
        {"Effect": "Allow", "Action": "iam:AttachRolePolicy", "Resource": "arn:aws:iam::1:role/x"},
        {"Effect": "Deny", "Action": "iam:*", "Resource": "*"},
        {"Effect": "Allow", "Action": ["iam:GetRole", "iam:PassRole"], "Resource": "*"},
        {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"},
    ],
)
def test_grants_sar_takes_are_not_reported(statement: dict[str, Any]) -> None:
    template = {
        "Resources": {
            "Role": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": {},
                    "Policies": [{"PolicyName": "p", "PolicyDocument": {"Statement": statement}}],
                },
            }
        }
    }
    assert sar_check.refused_grants(template) == []


def test_aws_lambda_full_access_through_sam_policies_is_reported(tmp_path: Path) -> None:
    # The SAM transform turns the managed policy's name into its ARN on the function's role
    report = _planted(
        tmp_path, lambda template: _function(template).update(Policies=["AWSLambda_FullAccess"])
    )
    assert any("attaches AWSLambda_FullAccess" in reason for reason in report.reasons), report.reasons


def test_a_type_only_the_sam_transform_generates_is_reported(tmp_path: Path) -> None:
    # FunctionUrlConfig makes an AWS::Lambda::Url, which SAR refused (aws/serverless-application-model#3402)
    report = _planted(
        tmp_path, lambda template: _function(template).update(FunctionUrlConfig={"AuthType": "NONE"})
    )
    assert any(reason.startswith("refused type AWS::Lambda::Url (") for reason in report.reasons), (
        report.reasons
    )


def test_a_sam_type_the_transform_removes_is_still_reported(tmp_path: Path) -> None:
    # AWS::Serverless::Connector becomes IAM policies, but SAR refuses it
    # (aws/serverless-application-model#2952)
    def plant(template: dict[str, Any]) -> None:
        function = next(
            n for n, r in template["Resources"].items() if r["Type"] == "AWS::Serverless::Function"
        )
        queue = next(n for n, r in template["Resources"].items() if r["Type"] == "AWS::SQS::Queue")
        template["Resources"]["Planted"] = {
            "Type": "AWS::Serverless::Connector",
            "Properties": {
                "Source": {"Id": function},
                "Destination": {"Id": queue},
                "Permissions": ["Write"],
            },
        }

    report = _planted(tmp_path, plant)
    assert "refused type AWS::Serverless::Connector (Planted)" in report.reasons, report.reasons


def test_a_custom_type_name_is_refused_and_the_literal_custom_resource_type_is_not(tmp_path: Path) -> None:
    def custom(kind: str) -> Any:
        def plant(template: dict[str, Any]) -> None:
            template["Resources"]["Lookup"] = {
                "Type": kind,
                "Properties": {"ServiceToken": "arn:aws:lambda:x"},
            }

        return plant

    named = _planted(tmp_path / "named", custom("Custom::Lookup"))
    assert "refused type Custom::Lookup (Lookup)" in named.reasons
    assert not named.publishable
    literal = _planted(tmp_path / "literal", custom("AWS::CloudFormation::CustomResource"))
    assert literal.publishable, literal.reasons


def test_a_child_sar_refuses_makes_its_parent_unpublishable(tmp_path: Path) -> None:
    child = load_template(KAFKA_FUNCTION)
    child["Resources"]["Planted"] = {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}}
    _write(tmp_path / "nested" / "child.yaml", child)
    parent = {
        "Transform": "AWS::Serverless-2016-10-31",
        "Resources": {
            "Child": {"Type": "AWS::Serverless::Application", "Properties": {"Location": "child.yaml"}}
        },
    }
    report = Survey(tmp_path).report(_write(tmp_path / "nested" / "parent.yaml", parent))
    assert report.reasons == ("nested application Child (child) is not publishable",)


# -------------------------------------------------------------------------------------------------- flavours
def _optional_feature() -> dict[str, Any]:
    """A template with an optional refused resource, what only it uses, and what it must keep."""
    return {
        "Parameters": {
            "EnableFeature": {"Type": "String", "Default": "true"},
            "FeatureLimit": {"Type": "Number", "Default": 5},
            "Shared": {"Type": "String"},
            "Unused": {"Type": "String", "Default": ""},
        },
        "Conditions": {"UseFeature": {"Fn::Equals": [{"Ref": "EnableFeature"}, "true"]}},
        "Resources": {
            "Feature": {
                "Type": "AWS::WAFv2::WebACL",
                "Condition": "UseFeature",
                "Properties": {"Limit": {"Ref": "FeatureLimit"}, "Name": {"Ref": "Shared"}},
            },
            "Topic": {
                "Type": "AWS::SNS::Topic",
                "Properties": {
                    "TopicName": {"Ref": "Shared"},
                    "DisplayName": {"Fn::If": ["UseFeature", {"Fn::GetAtt": ["Feature", "Arn"]}, "none"]},
                },
            },
        },
        "Outputs": {
            "FeatureArn": {"Value": {"Fn::GetAtt": ["Feature", "Arn"]}},
            "FeatureUnderCondition": {"Condition": "UseFeature", "Value": "x"},
            "TopicArn": {"Value": {"Ref": "Topic"}},
        },
    }


def test_the_flavour_leaves_out_the_resource_and_what_only_it_used() -> None:
    template = _optional_feature()
    flavoured = flavour(template, {"Feature"})
    assert set(flavoured["Resources"]) == {"Topic"}
    assert flavoured["Resources"]["Topic"]["Properties"]["DisplayName"] == "none"
    assert "Conditions" not in flavoured or flavoured["Conditions"] == {}
    # Parameters only the feature used go; one the topic uses stays, and so does one nothing used before
    assert set(flavoured["Parameters"]) == {"Shared", "Unused"}
    assert set(flavoured["Outputs"]) == {"TopicArn"}
    assert template == _optional_feature(), "the source is left as it was"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda t: t["Resources"]["Topic"].update(DependsOn="Feature"),
            "Resources.Topic still references Feature",
        ),
        (
            lambda t: t["Resources"]["Topic"]["Properties"].update(Subscription=[{"Ref": "Feature"}]),
            "Resources.Topic still references Feature",
        ),
        (
            lambda t: t["Outputs"].update(Both={"Value": {"Fn::Sub": "${Feature.Arn} ${Topic}"}}),
            "Outputs.Both still references Feature",
        ),
        (lambda t: t["Resources"]["Feature"].pop("Condition"), "not optional (no Condition): Feature"),
        (
            lambda t: t["Resources"]["Topic"].update(Condition="UseFeature"),
            "condition UseFeature also governs Topic, which is kept",
        ),
        (
            lambda t: t["Conditions"].update(NoFeature={"Fn::Not": [{"Condition": "UseFeature"}]}),
            "condition NoFeature depends on ['UseFeature']",
        ),
    ],
)
def test_the_flavour_refuses_when_something_kept_still_needs_the_resource(change: Any, message: str) -> None:
    template = _optional_feature()
    change(template)
    with pytest.raises(FlavourError, match=re.escape(message)):
        flavour(template, {"Feature"})


def test_a_refused_optional_resource_something_kept_references_gets_no_flavour(tmp_path: Path) -> None:
    template = _optional_feature()
    template["Resources"]["Topic"]["DependsOn"] = "Feature"
    report = Survey(tmp_path).report(_write(tmp_path / "nested" / "feature.yaml", template))
    assert not report.publishable
    assert report.flavour is None
    assert report.reasons[-1] == "no flavour: Resources.Topic still references Feature"
    assert not (tmp_path / "build" / "sar" / "feature.yaml").exists()


def test_the_required_flavours_leave_out_only_the_refused_optional_resources(
    reports: dict[str, ComponentReport],
) -> None:
    flavours = {name: report for name, report in reports.items() if report.flavour is not None}
    assert set(flavours) == {"monitoring", "ingest-api"}
    monitoring = load_template(REPO / "build" / "sar" / "monitoring.yaml")
    assert "PipelineUnhealthyAlarm" not in monitoring["Resources"]
    assert "Dashboard" in monitoring["Resources"]
    assert "PipelineUnhealthyAlarmName" not in monitoring["Outputs"]
    assert {"DashboardName", "DashboardUrl"} <= set(monitoring["Outputs"])
    ingest = load_template(REPO / "build" / "sar" / "ingest-api.yaml")
    source = load_template(REPO / "nested" / "ingest-api.yaml")
    assert set(source["Resources"]) - set(ingest["Resources"]) == {"WebAcl", "WebAclAssociation"}
    assert set(source["Parameters"]) - set(ingest["Parameters"]) == {"EnableWaf", "WafRateLimitPer5Minutes"}
    assert set(source["Outputs"]) == set(ingest["Outputs"])


def test_every_flavour_passes_cfn_lint_and_sar_takes_it_as_is(reports: dict[str, ComponentReport]) -> None:
    flavours = sorted(str(report.flavour) for report in reports.values() if report.flavour is not None)
    assert flavours
    completed = subprocess.run(
        [str(BIN / "cfn-lint"), "--format", "parseable", *flavours],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert (completed.returncode, completed.stdout) == (0, ""), completed.stdout + completed.stderr
    survey = Survey()
    for path in flavours:
        again = survey.report(Path(path))
        assert (again.publishable, again.flavour, again.reasons) == (True, None, ()), path


def test_a_flavour_keeps_working_local_paths(reports: dict[str, ComponentReport]) -> None:
    ingest = reports["ingest-api"].flavour
    assert ingest is not None
    template = load_template(ingest)
    for resource in template["Resources"].values():
        local = resource.get("Properties", {}).get("CodeUri") or resource.get("Properties", {}).get(
            "Location"
        )
        if isinstance(local, str):
            assert (ingest.parent / local).exists(), local
    metadata = template["Metadata"]["AWS::ServerlessRepo::Application"]
    assert (ingest.parent / metadata["LicenseUrl"]).is_file()


# ------------------------------------------------------------------------------------------- the make target
def test_make_sar_check_prints_the_table_and_passes() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "publishing.sar_check"],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert lines[0].split() == ["component", "publishable", "reason"]
    rows = {line.split()[0]: line for line in lines[1:] if line and not line.startswith(" ")}
    assert rows["monitoring"].split()[1:4] == ["yes,", "as", "flavour"]
    assert rows["kafka-function"].split()[1] == "yes"
    assert rows["msk-cluster"].split()[1] == "no"


def test_a_required_component_sar_refuses_fails_the_check(tmp_path: Path) -> None:
    for path in (REPO / "nested").glob("*.yaml"):
        template = load_template(path)
        if path.stem == "foundation":
            template = copy.deepcopy(template)
            template["Resources"]["Planted"] = {
                "Type": "AWS::EC2::VPC",
                "Properties": {"CidrBlock": "10.0.0.0/16"},
            }
        _write(tmp_path / "nested" / path.name, template)
    assert sar_check.main(tmp_path) == 1
