"""The deploy rehearsal (`make rehearse`): every row created and deleted in moto's CloudFormation, and the
mistakes it must catch, each planted in a copy of the real packaged templates."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.templates.rehearsal import ARTIFACTS_BUCKET, Rehearsal, rehearsal, rows
from tests.templates.rehearsal.stacks import RehearsalError, mappings_in, s3_location
from tests.templates.rehearsal.stand_ins import PLACEHOLDERS
from tests.templates.scenarios import EXISTING_CLUSTER

APPLICATION = "AWS::Serverless::Application"


@pytest.fixture(scope="module")
def session() -> Iterator[Rehearsal]:
    with rehearsal() as started:
        yield started


@pytest.mark.parametrize(("option", "cluster_mode"), rows())
def test_row_is_created_then_deleted(session: Rehearsal, option: str, cluster_mode: str) -> None:
    # When the root stack of this row is created in moto's CloudFormation, its outputs checked, and deleted
    row = session.row(option, cluster_mode)

    # Then every stack reached CREATE_COMPLETE and then DELETE_COMPLETE
    assert row.ok, row.line()
    assert row.stacks >= 1


def _nested_templates(session: Rehearsal, packaged: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for logical_id, resource in packaged["Resources"].items():
        if resource["Type"] == APPLICATION:
            yield logical_id, session.creator.nested_template(resource["Properties"]["Location"])


def _plant(session: Rehearsal, application: str, mutate: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """A copy of the packaged root whose nested application reads a mutated copy of its template."""
    root = copy.deepcopy(session.packaged)
    properties = root["Resources"][application]["Properties"]
    nested = session.creator.nested_template(properties["Location"])
    mutate(nested)
    key = f"planted/{application}.template"
    session.artifacts[key] = json.dumps(nested).encode()  # put back in the bucket for every row
    properties["Location"] = f"https://s3.amazonaws.com/{ARTIFACTS_BUCKET}/{key}"
    return root


@pytest.mark.parametrize("kind", ["AWS::Made::Up", "AWS::CloudFormation::WaitConditionHandle"])
def test_a_type_neither_moto_nor_the_placeholders_know_fails_the_row(session: Rehearsal, kind: str) -> None:
    # Given a resource moto does not create (the second one moto skips without a word)
    root = copy.deepcopy(session.packaged)
    root["Resources"]["Planted"] = {"Type": kind, "Properties": {}}

    # Then the row fails, naming the type
    row = session.row("LambdaConsumer", "existing cluster", root)
    assert not row.ok
    assert f"{kind} is neither implemented by moto's CloudFormation nor in PLACEHOLDERS" in row.error


def test_a_cidr_that_cannot_hold_its_count_fails_the_row_like_cloudformation(session: Rehearsal) -> None:
    # Given the nested template that carves subnets with Fn::Cidr, asking for /17s out of the /16 VPC
    application = next(
        logical_id
        for logical_id, nested in _nested_templates(session, session.packaged)
        if any("Fn::Cidr" in node for node in mappings_in(nested))
    )

    def ask_for_halves(template: dict[str, Any]) -> None:
        for node in mappings_in(template):
            if "Fn::Cidr" in node:
                node["Fn::Cidr"][2] = 15

    # Then the new-cluster row fails as CloudFormation would
    row = session.row("LambdaConsumer", "new cluster", _plant(session, application, ask_for_halves))
    assert not row.ok
    assert "Fn::Cidr: 10.20.0.0/16 holds 2 blocks of /17, not 6" in row.error


def test_an_output_read_from_a_nested_stack_that_lacks_it_fails_the_row(session: Rehearsal) -> None:
    # Given a root output that reads an output its nested stack does not have
    root = copy.deepcopy(session.packaged)
    name, output, application = next(
        (name, output, output["Value"]["Fn::GetAtt"][0])
        for name, output in root["Outputs"].items()
        if root["Resources"].get(str(output["Value"].get("Fn::GetAtt", [""])[0]), {}).get("Type")
        == APPLICATION
    )
    root["Outputs"][f"{name}Planted"] = output | {"Value": {"Fn::GetAtt": [application, "Outputs.Absent"]}}

    # Then the row fails, naming what is read
    row = session.row("All", "new cluster", root)
    assert not row.ok
    assert f"reads the attribute Outputs.Absent of {application} (nested stack" in row.error


def test_an_attribute_a_placeholder_does_not_give_fails_the_row(session: Rehearsal) -> None:
    # Given a nested template that reads an attribute no placeholder gives, from a resource moto lacks
    application, logical_id = next(
        (application, logical_id)
        for application, nested in _nested_templates(session, session.packaged)
        for logical_id, resource in nested["Resources"].items()
        if resource["Type"] in PLACEHOLDERS
        and PLACEHOLDERS[resource["Type"]].applies is None
        and "Condition" not in resource
    )

    def read_unknown_attribute(template: dict[str, Any]) -> None:
        template.setdefault("Outputs", {})["Planted"] = {"Value": {"Fn::GetAtt": [logical_id, "Unknown"]}}

    # Then the row fails, naming the resource and the attribute
    row = session.row("All", "new cluster", _plant(session, application, read_unknown_attribute))
    assert not row.ok
    assert f"reads the attribute Unknown of {logical_id}" in row.error


def test_an_attribute_moto_does_not_give_fails_the_row(session: Rehearsal) -> None:
    # Given a nested template that reads an attribute AWS::Lambda::Function does not have
    application, function = next(
        (application, logical_id)
        for application, nested in _nested_templates(session, session.packaged)
        for logical_id, resource in nested["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function" and "Condition" not in resource
    )

    def read_unknown_attribute(template: dict[str, Any]) -> None:
        template.setdefault("Outputs", {})["Planted"] = {"Value": {"Fn::GetAtt": [function, "Unknown"]}}

    # Then the row fails instead of moto passing the Fn::GetAtt on as it is
    row = session.row("All", "new cluster", _plant(session, application, read_unknown_attribute))
    assert not row.ok
    assert f"{function}.Unknown: moto's LambdaFunction does not give it" in row.error


def test_a_missing_code_artefact_fails_the_row(session: Rehearsal) -> None:
    # Given the code of a function that sam package uploaded, gone from the bucket
    code = next(
        s3_location(resource["Properties"]["CodeUri"])[1]
        for _, nested in _nested_templates(session, session.packaged)
        for resource in nested["Resources"].values()
        if resource["Type"] == "AWS::Serverless::Function"
    )
    kept = session.artifacts.pop(code)
    try:
        # When the row that deploys every function is created
        row = session.row("All", "new cluster")
    finally:
        session.artifacts[code] = kept

    # Then it fails as CloudFormation would (moto's Lambda alone would take empty code)
    assert not row.ok
    assert f"s3://{ARTIFACTS_BUCKET}/{code}: An error occurred (404)" in row.error


@pytest.mark.parametrize(
    ("parameters", "refusal"),
    [
        ({"DeploymentOption": "Everything"}, "DeploymentOption='Everything' is not one of"),
        (EXISTING_CLUSTER | {"ClientAuthentication": "SCRAM", "ExistingScramSecretArn": ""}, "SCRAM"),
    ],
)
def test_parameters_cloudformation_would_reject_fail_before_anything_is_created(
    session: Rehearsal, parameters: dict[str, str], refusal: str
) -> None:
    session.fresh_account()
    with pytest.raises(RehearsalError, match="CloudFormation would reject the parameters") as raised:
        session.creator.create("rejected", session.packaged, parameters)
    assert refusal in str(raised.value)
    assert not session.creator.cloudformation.list_stacks()["StackSummaries"]


def test_a_dashboard_body_cloudwatch_refuses_fails_the_row(session: Rehearsal) -> None:
    # Given the monitoring stack's dashboard body with a widget that lacks its leading comma: moto's
    # CloudFormation creates the dashboard whatever its body, CloudWatch's PutDashboard would refuse it
    application = next(
        logical_id
        for logical_id, nested in _nested_templates(session, session.packaged)
        if any(r["Type"] == "AWS::CloudWatch::Dashboard" for r in nested["Resources"].values())
    )

    def break_the_body(template: dict[str, Any]) -> None:
        dashboard = next(
            r for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Dashboard"
        )
        pieces = dashboard["Properties"]["DashboardBody"]["Fn::Join"][1]
        pieces.insert(-1, '{"type":"text","width":24,"height":1,"properties":{"markdown":"x"}}')

    # Then the row fails on the root output that names the dashboard
    row = session.row("LambdaConsumer", "existing cluster", _plant(session, application, break_the_body))
    assert not row.ok
    assert "output DashboardUrl=" in row.error
    assert "is not JSON" in row.error
