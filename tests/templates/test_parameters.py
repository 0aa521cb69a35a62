"""Parameters read well in `sam deploy --guided` and the root wires its nested stacks correctly."""

from __future__ import annotations

from pathlib import Path

import pytest

from local.cfn import evaluate_rules, parameter_values
from tests.templates.sam_offline import ALL_TEMPLATES, REPO, load_template
from tests.templates.scenarios import WIRED

CONSTRAINTS = {"AllowedValues", "AllowedPattern", "MinValue", "MaxValue", "MaxLength"}


@pytest.mark.parametrize("template", ALL_TEMPLATES, ids=[t.name for t in ALL_TEMPLATES])
def test_every_parameter_has_a_default_a_constraint_and_a_label(template: Path) -> None:
    document = load_template(template)
    parameters = document.get("Parameters", {})
    if not parameters:  # nested/foundation.yaml takes none: nothing to label
        assert "AWS::CloudFormation::Interface" not in document.get("Metadata", {})
        return
    interface = document["Metadata"]["AWS::CloudFormation::Interface"]
    grouped = [name for group in interface["ParameterGroups"] for name in group["Parameters"]]
    for name, spec in parameters.items():
        typed = spec["Type"].startswith("AWS::") or spec["Type"] == "CommaDelimitedList"
        assert "Default" in spec or name in WIRED, f"{name} has no default"
        assert CONSTRAINTS & set(spec) or typed, f"{name} has no constraint"
        assert spec.get("Description"), f"{name} has no description"
        assert name in interface["ParameterLabels"], f"{name} has no label"
    assert sorted(grouped) == sorted(parameters), "every parameter in exactly one group"


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
        declared = set(nested.get("Parameters", {}))
        required = {p for p, spec in nested.get("Parameters", {}).items() if "Default" not in spec}
        assert passed <= declared, f"{name} passes unknown parameters {passed - declared}"
        assert required <= passed, f"{name} misses required parameters {required - passed}"


def _root_accepts(overrides: dict[str, str]) -> list[str]:
    root = load_template(REPO / "template.yaml")
    return evaluate_rules(root, parameter_values(root, overrides))


@pytest.mark.parametrize("replicas", ["2", "3"])
@pytest.mark.parametrize("zones", ["2", "3"])
def test_express_is_refused_at_change_set_creation_unless_it_can_run(zones: str, replicas: str) -> None:
    # Review D5 and N3: Express brokers need three zones and keep three replicas; a bad combination used to
    # fail only when the topic was created, after the cluster had been built.
    failed = _root_accepts(
        {"ClusterType": "Express", "AvailabilityZoneCount": zones, "TopicReplicationFactor": replicas}
    )
    assert bool(failed) == ((zones, replicas) != ("3", "3")), failed


def test_pollers_are_refused_when_the_maximum_is_below_the_minimum() -> None:
    # Review N2: the event source mapping refuses MinimumPollers > MaximumPollers; rules cannot compare
    # numbers, so both take values on one scale and a rule lists, per minimum, the maxima below it.
    parameters = load_template(REPO / "template.yaml")["Parameters"]
    minima = [str(v) for v in parameters["MinimumPollers"]["AllowedValues"]]
    maxima = [str(v) for v in parameters["MaximumPollers"]["AllowedValues"]]
    verdicts = {
        (low, high): not _root_accepts({"MinimumPollers": low, "MaximumPollers": high})
        for low in minima
        for high in maxima
    }
    assert verdicts == {(low, high): int(low) <= int(high) for low in minima for high in maxima}
    # On-demand pollers take no poller counts: the rule does not apply
    assert not _root_accepts({"PollerMode": "OnDemand", "MinimumPollers": "200", "MaximumPollers": "1"})
