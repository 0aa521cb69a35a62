"""Parameters read well in `sam deploy --guided` and the root wires its nested stacks correctly."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.templates.sam_offline import ALL_TEMPLATES, REPO, load_template
from tests.templates.scenarios import WIRED

CONSTRAINTS = {"AllowedValues", "AllowedPattern", "MinValue", "MaxValue", "MaxLength"}


@pytest.mark.parametrize("template", ALL_TEMPLATES, ids=[t.name for t in ALL_TEMPLATES])
def test_every_parameter_has_a_default_a_constraint_and_a_label(template: Path) -> None:
    document = load_template(template)
    interface = document["Metadata"]["AWS::CloudFormation::Interface"]
    grouped = [name for group in interface["ParameterGroups"] for name in group["Parameters"]]
    for name, spec in document["Parameters"].items():
        typed = spec["Type"].startswith("AWS::") or spec["Type"] == "CommaDelimitedList"
        assert "Default" in spec or name in WIRED, f"{name} has no default"
        assert CONSTRAINTS & set(spec) or typed, f"{name} has no constraint"
        assert spec.get("Description"), f"{name} has no description"
        assert name in interface["ParameterLabels"], f"{name} has no label"
    assert sorted(grouped) == sorted(document["Parameters"]), "every parameter in exactly one group"


def test_deployment_option_values_are_the_fixed_ones() -> None:
    parameters = load_template(REPO / "template.yaml")["Parameters"]
    assert parameters["DeploymentOption"]["AllowedValues"] == [
        "ClusterWithRestApi",
        "LambdaConsumer",
        "LambdaFirehoseS3",
        "FlinkS3",
        "All",
    ]
    assert parameters["ExistingClusterArn"]["Default"] == ""
    assert "TopicName" in parameters


def test_root_passes_each_nested_stack_only_parameters_it_declares() -> None:
    root = load_template(REPO / "template.yaml")
    for name, resource in root["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Application":
            continue
        nested = load_template(REPO / resource["Properties"]["Location"])
        passed = set(resource["Properties"].get("Parameters", {}))
        declared = set(nested["Parameters"])
        required = {p for p, spec in nested["Parameters"].items() if "Default" not in spec}
        assert passed <= declared, f"{name} passes unknown parameters {passed - declared}"
        assert required <= passed, f"{name} misses required parameters {required - passed}"
