"""make publish: the publish flow against botocore's Stubber for the Serverless Application Repository (SAR
has no local emulation), with `sam build` and `sam package` run for real (the artefacts go to moto's S3)."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import botocore.client
import botocore.endpoint
import pytest
from botocore.exceptions import ClientError
from botocore.stub import ANY, Stubber
from samtranslator.yaml_helper import yaml_parse

from local.aws import LOCAL_CREDENTIALS, running_moto
from publishing import publish as publishing
from publishing.metadata import METADATA_KEY, MetadataError, project_version
from publishing.publish import (
    NESTED_ACTIONS,
    POLICY_STATEMENT_ID,
    Plan,
    Published,
    Settings,
    allow_nested_deployment,
    main,
    make_plan,
    publish,
    publish_application,
    publishing_account,
)
from publishing.sar_check import REPO, ComponentReport, component_reports
from tests.publishing.planted import AUTHOR, HOME, REFUSED_VPC, VERSION, plant

REGION = "us-east-1"
BUCKET = "planted-artefacts"
PRINCIPAL = "111122223333"
CHILD_ID = f"arn:aws:serverlessrepo:{REGION}:123456789012:applications/planted-child"
PARENT_ID = f"arn:aws:serverlessrepo:{REGION}:123456789012:applications/planted-parent"
NESTED_STATEMENT = {
    "StatementId": POLICY_STATEMENT_ID,
    "Principals": [PRINCIPAL],
    "Actions": list(NESTED_ACTIONS),
}


def sar_client() -> Any:
    return boto3.client("serverlessrepo", region_name=REGION)


def record_calls(client: Any) -> list[tuple[str, dict[str, Any]]]:
    """Every call `client` makes, with its parameters, in order."""
    calls: list[tuple[str, dict[str, Any]]] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        calls.append((model.name, copy.deepcopy(params)))

    client.meta.events.register("before-parameter-build.serverlessrepo", record)
    return calls


def conflict(message: str = "conflict") -> dict[str, Any]:
    return {"service_error_code": "ConflictException", "service_message": message, "http_status_code": 409}


@dataclass(frozen=True)
class Flow:
    repo: Path
    plan: Plan
    results: list[Published]
    calls: list[tuple[str, dict[str, Any]]]
    artefacts: set[str]  # the keys sam package put in the bucket


@pytest.fixture(scope="module")
def flow(tmp_path_factory: pytest.TempPathFactory) -> Flow:
    """The planted parent and child published into an empty SAR: both created, the child first."""
    repo = plant(tmp_path_factory.mktemp("repo"))
    plan = make_plan(component_reports(repo), VERSION)
    settings = Settings(repo, REGION, BUCKET, None, ())
    sar = sar_client()
    calls = record_calls(sar)
    with running_moto() as endpoint, pytest.MonkeyPatch.context() as patch:
        for name, value in (LOCAL_CREDENTIALS | {"AWS_ENDPOINT_URL": endpoint}).items():
            patch.setenv(name, value)
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        with Stubber(sar) as stub:
            stub.add_response("list_applications", {"Applications": []}, {})
            stub.add_response(
                "create_application", {"ApplicationId": CHILD_ID}, {"Name": "planted-child"} | ANY_REST
            )
            stub.add_response("get_application_policy", {"Statements": []}, {"ApplicationId": CHILD_ID})
            stub.add_response(
                "put_application_policy",
                {"Statements": [NESTED_STATEMENT]},
                {"ApplicationId": CHILD_ID, "Statements": [NESTED_STATEMENT]},
            )
            stub.add_response("list_applications", {"Applications": []}, {})
            stub.add_response(
                "create_application", {"ApplicationId": PARENT_ID}, {"Name": "planted-parent"} | ANY_REST
            )
            results = publish(plan, settings, sar, lambda: [PRINCIPAL])
            stub.assert_no_pending_responses()
        artefacts = {item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])}
    return Flow(repo, plan, results, calls, artefacts)


# Every CreateApplication parameter but the name: checked in the tests below, from what was sent.
ANY_REST = dict.fromkeys(
    (
        "Author",
        "Description",
        "HomePageUrl",
        "Labels",
        "LicenseUrl",
        "ReadmeUrl",
        "SemanticVersion",
        "SourceCodeUrl",
        "SpdxLicenseId",
        "TemplateBody",
    ),
    ANY,
)


def sent(flow: Flow, operation: str) -> list[dict[str, Any]]:
    return [params for name, params in flow.calls if name == operation]


def test_children_are_published_before_their_parents(flow: Flow) -> None:
    # Given a parent nesting a child, When published, Then the child is created and shared first.
    assert [step.name for step in flow.plan.steps] == ["child", "root"]
    assert [name for name, _ in flow.calls] == [
        "ListApplications",
        "CreateApplication",
        "GetApplicationPolicy",
        "PutApplicationPolicy",
        "ListApplications",
        "CreateApplication",
    ]
    assert [params["Name"] for params in sent(flow, "CreateApplication")] == [
        "planted-child",
        "planted-parent",
    ]


def test_a_new_application_is_created_with_its_metadata_and_packaged_template(flow: Flow) -> None:
    child = sent(flow, "CreateApplication")[0]
    assert child["Author"] == AUTHOR
    assert child["SemanticVersion"] == VERSION
    assert child["HomePageUrl"] == child["SourceCodeUrl"] == HOME
    assert child["Labels"] == ["planted", "child"]
    assert child["SpdxLicenseId"] == "Apache-2.0"
    # sam package uploaded the licence and the readme, and the function's code, to the bucket.
    for field in ("LicenseUrl", "ReadmeUrl"):
        assert child[field].startswith(f"s3://{BUCKET}/")
        assert child[field].removeprefix(f"s3://{BUCKET}/") in flow.artefacts
    body = yaml_parse(child["TemplateBody"])
    assert METADATA_KEY not in body.get("Metadata", {})
    code = body["Resources"]["Function"]["Properties"]["CodeUri"]
    assert code.startswith(f"s3://{BUCKET}/")
    assert code.removeprefix(f"s3://{BUCKET}/") in flow.artefacts
    assert [(r.component, r.application_id, r.outcome) for r in flow.results] == [
        ("child", CHILD_ID, "created"),
        ("root", PARENT_ID, "created"),
    ]


def test_the_parent_names_the_child_just_published(flow: Flow) -> None:
    # The Location SAR takes: the ApplicationId the child got, and the version just published.
    expected = {"ApplicationId": CHILD_ID, "SemanticVersion": VERSION}
    parent = yaml_parse(sent(flow, "CreateApplication")[1]["TemplateBody"])
    assert parent["Resources"]["Child"]["Properties"]["Location"] == expected
    rewritten = yaml_parse((flow.repo / "build/sar/publish/root/template.yaml").read_text())
    assert rewritten["Resources"]["Child"]["Properties"]["Location"] == expected
    # As sam package left it, the child was an S3 URL: what SAR refuses in a published parent.
    packaged = yaml_parse((flow.repo / "build/sar/publish/root/packaged.yaml").read_text())
    location = packaged["Resources"]["Child"]["Properties"]["Location"]
    assert location.rsplit("/", 1)[1] in flow.artefacts


def test_the_child_lets_the_principal_deploy_it_nested(flow: Flow) -> None:
    assert sent(flow, "PutApplicationPolicy") == [
        {"ApplicationId": CHILD_ID, "Statements": [NESTED_STATEMENT]}
    ]


@pytest.fixture
def packaged(flow: Flow) -> str:
    """The child's template as sam package left it."""
    return (flow.repo / "build/sar/publish/child/packaged.yaml").read_text()


def existing_child() -> dict[str, Any]:
    summary = {"ApplicationId": CHILD_ID, "Name": "planted-child", "Author": AUTHOR, "Description": "old"}
    return {"Applications": [summary]}


def update_params(packaged: str) -> dict[str, Any]:
    metadata = yaml_parse(packaged)["Metadata"][METADATA_KEY]
    kept = ("Author", "Description", "HomePageUrl", "Labels", "ReadmeUrl")
    return {"ApplicationId": CHILD_ID} | {key: metadata[key] for key in kept}


def expect_existing_child_updated(stub: Stubber, packaged: str) -> None:
    """The child is listed as published already, and its metadata is updated from `packaged`."""
    stub.add_response("list_applications", existing_child(), {})
    stub.add_response("update_application", {"ApplicationId": CHILD_ID}, update_params(packaged))


VERSION_PARAMS = {
    "ApplicationId": CHILD_ID,
    "SemanticVersion": VERSION,
    "SourceCodeUrl": HOME,
    "TemplateBody": ANY,
}


def test_an_existing_application_gets_the_new_version(packaged: str) -> None:
    sar = sar_client()
    with Stubber(sar) as stub:
        expect_existing_child_updated(stub, packaged)
        stub.add_response("create_application_version", {"SemanticVersion": VERSION}, VERSION_PARAMS)
        assert publish_application(sar, packaged) == (CHILD_ID, "new version")
        stub.assert_no_pending_responses()


def test_a_version_already_published_is_reported_not_failed(packaged: str) -> None:
    sar = sar_client()
    with Stubber(sar) as stub:
        expect_existing_child_updated(stub, packaged)
        stub.add_client_error("create_application_version", **conflict())
        assert publish_application(sar, packaged) == (CHILD_ID, "already published")
        stub.assert_no_pending_responses()


def test_a_conflict_on_create_updates_the_application_the_error_names(packaged: str) -> None:
    # Listed nothing (created meanwhile), then SAR says the application exists and names it.
    sar = sar_client()
    with Stubber(sar) as stub:
        stub.add_response("list_applications", {"Applications": []}, {})
        message = f"Application with id {CHILD_ID} already exists"
        stub.add_client_error("create_application", **conflict(message))
        stub.add_response("update_application", {"ApplicationId": CHILD_ID}, update_params(packaged))
        stub.add_response("create_application_version", {"SemanticVersion": VERSION}, VERSION_PARAMS)
        assert publish_application(sar, packaged) == (CHILD_ID, "new version")
        stub.assert_no_pending_responses()


def test_other_errors_stop_publishing(packaged: str) -> None:
    sar = sar_client()
    with Stubber(sar) as stub:
        expect_existing_child_updated(stub, packaged)
        stub.add_client_error(
            "create_application_version",
            service_error_code="BadRequestException",
            service_message="Failed to copy S3 object. Access denied",
            http_status_code=400,
        )
        with pytest.raises(ClientError, match="Access denied"):
            publish_application(sar, packaged)


def test_the_policy_keeps_other_statements_and_replaces_its_own() -> None:
    public = {"StatementId": "public", "Principals": ["*"], "Actions": ["Deploy"]}
    old = {"StatementId": POLICY_STATEMENT_ID, "Principals": ["999999999999"], "Actions": ["GetApplication"]}
    sar = sar_client()
    with Stubber(sar) as stub:
        stub.add_response(
            "get_application_policy", {"Statements": [public, old]}, {"ApplicationId": CHILD_ID}
        )
        expected = {"ApplicationId": CHILD_ID, "Statements": [public, NESTED_STATEMENT]}
        stub.add_response("put_application_policy", {"Statements": expected["Statements"]}, expected)
        assert allow_nested_deployment(sar, CHILD_ID, [PRINCIPAL]) == [public, NESTED_STATEMENT]
        stub.assert_no_pending_responses()


def test_the_default_principal_is_the_publishing_account() -> None:
    sts = boto3.client("sts", region_name=REGION)
    with Stubber(sts) as stub:
        identity = {"Account": PRINCIPAL, "Arn": f"arn:aws:iam::{PRINCIPAL}:user/publisher", "UserId": "AIDA"}
        stub.add_response("get_caller_identity", identity, {})
        lookup = publishing_account(sts)
        assert lookup() == (PRINCIPAL,)
        assert lookup() == (PRINCIPAL,)  # asked once
        stub.assert_no_pending_responses()


def test_a_parent_whose_child_sar_refuses_is_not_published(tmp_path: Path) -> None:
    plan = make_plan(component_reports(plant(tmp_path, REFUSED_VPC)), VERSION)
    assert plan.steps == ()
    skipped = dict(plan.skipped)
    assert any("AWS::EC2::VPC" in reason for reason in skipped["child"])
    assert any("child" in reason for reason in skipped["root"])


def test_a_parent_is_published_only_when_all_its_children_are(tmp_path: Path) -> None:
    # Even when the parent's own report says publishable: the plan follows the children's.
    repo = plant(tmp_path)
    reports = [
        ComponentReport("root", repo / "template.yaml", True, (), None),
        ComponentReport(
            "child", repo / "nested/child.yaml", False, ("refused type AWS::X::Y (Thing)",), None
        ),
    ]
    plan = make_plan(reports, VERSION)
    assert plan.steps == ()
    assert plan.skipped == (
        ("root", ("nested application Child (child) is not published",)),
        ("child", ("refused type AWS::X::Y (Thing)",)),
    )


def test_metadata_outside_sars_limits_stops_the_plan(tmp_path: Path) -> None:
    repo = plant(tmp_path)
    child = repo / "nested/child.yaml"
    child.write_text(child.read_text().replace("Name: planted-child", "Name: planted_child"))
    with pytest.raises(MetadataError, match="Name 'planted_child'"):
        make_plan(component_reports(repo), VERSION)


def test_a_version_other_than_the_solutions_stops_the_plan(tmp_path: Path) -> None:
    with pytest.raises(MetadataError, match=r"not the solution's version 2\.0\.0"):
        make_plan(component_reports(plant(tmp_path)), "2.0.0")


@pytest.fixture
def no_aws_and_no_builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Fail any botocore API call or HTTP request, and any command run."""
    attempts: list[str] = []

    def api_call(self: Any, operation: str, params: Any) -> None:
        attempts.append(operation)
        raise AssertionError(f"AWS API called: {operation}")

    def request(*args: Any, **kwargs: Any) -> None:
        attempts.append("request")
        raise AssertionError("botocore request made")

    def command(*args: Any, **kwargs: Any) -> None:
        attempts.append(f"command {args}")
        raise AssertionError(f"command run: {args}")

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", api_call)
    monkeypatch.setattr(botocore.endpoint.Endpoint, "make_request", request)
    monkeypatch.setattr(publishing.subprocess, "run", command)
    return attempts


def test_the_guard_catches_a_call(no_aws_and_no_builds: list[str]) -> None:
    with pytest.raises(AssertionError, match="AWS API called: ListApplications"):
        sar_client().list_applications()
    assert no_aws_and_no_builds == ["ListApplications"]


def test_a_dry_run_prints_the_whole_plan_and_calls_nothing(
    no_aws_and_no_builds: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--dry-run", "--region", REGION, "--principal", PRINCIPAL]) == 0
    out = capsys.readouterr().out
    assert no_aws_and_no_builds == []
    assert "DRY RUN: nothing is built, uploaded or published; no AWS API is called." in out
    plan = make_plan(component_reports(REPO), project_version())
    assert plan.steps, "nothing publishable"
    position = {step.name: out.index(f". {step.name}: SAR application ") for step in plan.steps}
    for step in plan.steps:
        assert f". {step.name}: SAR application {step.application['Name']} {plan.version}\n" in out
        for logical_id, child in step.nested.items():
            # Every nested application before its parent, named as SAR takes it.
            assert position[child] < position[step.name]
            child_name = next(s.application["Name"] for s in plan.steps if s.name == child)
            arn = f"arn:aws:serverlessrepo:{REGION}:<publishing account>:applications/{child_name}"
            location = f"{{ApplicationId: {arn}, SemanticVersion: {plan.version}}}"
            assert f"nested {logical_id} ({child}): Location -> {location}" in out
    policies = [line for line in out.splitlines() if "put_application_policy" in line]
    assert len(policies) == len(plan.nested_by_parents)
    assert all(
        f"Principals ['{PRINCIPAL}'], Actions ['GetApplication', 'CreateCloudFormationTemplate']" in line
        for line in policies
    )
    not_published = out.split("Not published")[1]
    for name, reasons in plan.skipped:
        assert f"\n  {name}: {reasons[0]}" in not_published
    # The root nests the network, the cluster and the Flink application, which SAR does not take.
    assert "root" in dict(plan.skipped)


def test_a_dry_run_needs_no_credentials() -> None:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    environment |= {
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_DEFAULT_REGION": REGION,
    }
    done = subprocess.run(
        [sys.executable, "-m", "publishing.publish", "--dry-run"],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "DRY RUN" in done.stdout
    assert "Nested applications may be deployed by: <publishing account>" in done.stdout


def test_a_principal_must_be_an_account_or_star() -> None:
    with pytest.raises(SystemExit):
        main(["--dry-run", "--region", REGION, "--principal", "12345"])
