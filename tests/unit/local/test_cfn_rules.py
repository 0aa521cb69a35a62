"""The template evaluator's Rules functions, Fn::FindInMap and list-typed parameters, as CloudFormation
documents them ("Rules" and "Rule functions" in the CloudFormation User Guide)."""

from __future__ import annotations

from typing import Any

import pytest

from local.cfn import NO_VALUE, TemplateError, evaluate, evaluate_rules

TEMPLATE: dict[str, Any] = {
    "Parameters": {
        "ClusterType": {"Type": "String", "Default": "Provisioned"},
        "KafkaVersion": {"Type": "String", "Default": "3.9.x.kraft"},
        "SubnetIds": {"Type": "CommaDelimitedList", "Default": "subnet-a,subnet-b"},
        "Zones": {"Type": "List<AWS::EC2::AvailabilityZone::Name>", "Default": "us-east-1a,us-east-1b"},
        "VpcCidr": {"Type": "String", "Default": "10.20.0.0/16"},
    },
    "Mappings": {"SubnetBits": {"16": {"Bits": 10}, "20": {"Bits": 9}}},
    "Conditions": {"IsExpress": {"Fn::Equals": [{"Ref": "ClusterType"}, "Express"]}},
    "Rules": {
        "ExpressVersions": {
            "RuleCondition": {"Fn::Equals": [{"Ref": "ClusterType"}, "Express"]},
            "Assertions": [
                {
                    "Assert": {"Fn::Contains": [["3.8.x", "3.9.x.kraft"], {"Ref": "KafkaVersion"}]},
                    "AssertDescription": "Express brokers take 3.8.x or 3.9.x.kraft.",
                }
            ],
        },
        "TwoSubnets": {
            "Assertions": [
                {
                    "Assert": {
                        "Fn::EachMemberIn": [{"Ref": "Zones"}, ["us-east-1a", "us-east-1b", "us-east-1c"]]
                    }
                },
                {"Assert": {"Fn::Not": [{"Fn::Contains": [{"Ref": "SubnetIds"}, ""]}]}},
            ]
        },
    },
}


def values(**overrides: str) -> dict[str, str]:
    defaults = {name: spec["Default"] for name, spec in TEMPLATE["Parameters"].items()}
    return defaults | overrides


def test_rules_pass_when_every_assertion_holds() -> None:
    assert evaluate_rules(TEMPLATE, values()) == []
    assert evaluate_rules(TEMPLATE, values(ClusterType="Express", KafkaVersion="3.8.x")) == []


def test_a_failed_assertion_is_named_by_its_rule_and_description() -> None:
    failed = evaluate_rules(TEMPLATE, values(ClusterType="Express", KafkaVersion="4.0.x.kraft"))
    assert failed == ["ExpressVersions: Express brokers take 3.8.x or 3.9.x.kraft."]


def test_a_rule_whose_condition_is_false_asserts_nothing() -> None:
    assert evaluate_rules(TEMPLATE, values(ClusterType="Provisioned", KafkaVersion="4.0.x.kraft")) == []


def test_list_parameters_are_lists_in_rules() -> None:
    # Given a zone outside the allowed ones, and a subnet list with an empty member
    failed = evaluate_rules(TEMPLATE, values(Zones="us-east-1a,us-west-2a", SubnetIds="subnet-a,"))
    # Then both assertions without a description fail, each reported once
    assert failed == ["TwoSubnets: assertion failed", "TwoSubnets: assertion failed"]
    assert evaluate(TEMPLATE, values(), {"Ref": "SubnetIds"}) == ["subnet-a", "subnet-b"]
    assert evaluate(TEMPLATE, values(), {"Ref": "ClusterType"}) == "Provisioned"


@pytest.mark.parametrize(
    ("members", "expected"),
    [(["3", "3"], True), (["3", "2"], False), ([], True)],
)
def test_each_member_equals(members: list[str], expected: bool) -> None:
    assert evaluate(TEMPLATE, values(), {"Fn::EachMemberEquals": [members, "3"]}) is expected


def test_and_or_not_combine_booleans() -> None:
    true, false = {"Fn::Equals": ["a", "a"]}, {"Fn::Equals": ["a", "b"]}
    assert evaluate(TEMPLATE, values(), {"Fn::And": [true, {"Fn::Not": [false]}]}) is True
    assert evaluate(TEMPLATE, values(), {"Fn::Or": [false, false]}) is False


def test_a_rule_function_on_a_non_boolean_is_an_error() -> None:
    with pytest.raises(TemplateError, match="not a boolean"):
        evaluate(TEMPLATE, values(), {"Fn::Not": [{"Ref": "ClusterType"}]})
    with pytest.raises(TemplateError, match="not a list"):
        evaluate(TEMPLATE, values(), {"Fn::Contains": [{"Ref": "ClusterType"}, "Pro"]})


def test_find_in_map_keyed_on_an_evaluated_prefix() -> None:
    bits = {
        "Fn::FindInMap": ["SubnetBits", {"Fn::Select": [1, {"Fn::Split": ["/", {"Ref": "VpcCidr"}]}]}, "Bits"]
    }
    assert evaluate(TEMPLATE, values(), bits) == 10
    assert evaluate(TEMPLATE, values(VpcCidr="10.20.16.0/20"), bits) == 9
    with pytest.raises(TemplateError, match="SubnetBits/24/Bits"):
        evaluate(TEMPLATE, values(VpcCidr="10.20.16.0/24"), bits)


def test_conditions_pseudo_parameters_and_other_functions() -> None:
    instance = {"Fn::If": ["IsExpress", {"Fn::Sub": "express.m7g.${AWS::Region}"}, "kafka.m7g.large"]}
    assert evaluate(TEMPLATE, values(ClusterType="Express"), instance) == "express.m7g.us-east-1"
    assert evaluate(TEMPLATE, values(), instance) == "kafka.m7g.large"
    joined = {"Fn::Join": ["-", [{"Ref": "AWS::Partition"}, {"Ref": "AWS::NoValue"}, "x"]]}
    assert evaluate(TEMPLATE, values(), joined) == "aws-x"
    assert evaluate(TEMPLATE, values() | {"AWS::Region": "eu-west-1"}, {"Ref": "AWS::Region"}) == "eu-west-1"
    assert evaluate(TEMPLATE, values(), {"Ref": "AWS::NoValue"}) is NO_VALUE
