"""local.cfn: Fn::Cidr, Fn::Select, Fn::Split and Fn::Sub as CloudFormation documents them, what a node
references, and the parameter constraints CloudFormation checks before it creates anything."""

from __future__ import annotations

import pytest

from local.cfn import TemplateError, cidr_blocks, parameter_violations, references, resolve_value


def test_cidr_gives_the_documented_example() -> None:
    # docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-cidr.html:
    # six CIDRs with a /27 mask (cidrBits 5) from a /24
    assert cidr_blocks("192.168.0.0/24", 6, 5) == [
        "192.168.0.0/27",
        "192.168.0.32/27",
        "192.168.0.64/27",
        "192.168.0.96/27",
        "192.168.0.128/27",
        "192.168.0.160/27",
    ]


def test_cidr_bits_are_host_bits_for_ipv6_too() -> None:
    assert cidr_blocks("2001:db8:1234:1a00::/56", 2, 64) == [
        "2001:db8:1234:1a00::/64",
        "2001:db8:1234:1a01::/64",
    ]


@pytest.mark.parametrize(
    ("block", "count", "bits", "message"),
    [
        ("10.20.0.0/20", 6, 10, "holds 4 blocks of /22, not 6"),
        ("10.20.0.0/24", 1, 9, "9 host bits do not fit"),
        ("10.20.0.0/16", 0, 8, "count 0 is outside 1..256"),
        ("10.0.0.0/8", 257, 8, "count 257 is outside 1..256"),
        ("10.20.5.0/16", 1, 8, "host bits set"),
        ("10.20.0.0", 1, 8, "host bits do not fit"),
        ("not-a-block", 1, 8, "is not a CIDR block"),
    ],
)
def test_cidr_refuses_what_cannot_be_carved(block: str, count: int, bits: int, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        cidr_blocks(block, count, bits)


def test_cidr_select_and_references_resolve_from_parameters() -> None:
    # Given the network template's third private subnet
    node = {"Fn::Select": [2, {"Fn::Cidr": [{"Ref": "VpcCidr"}, 6, 10]}]}

    # Then it is the third /22 of the VPC's block
    assert resolve_value(node, {"VpcCidr": "10.20.0.0/16"}, {}) == "10.20.8.0/22"


def test_select_outside_the_list_is_an_error() -> None:
    with pytest.raises(TemplateError, match="index 2 is outside a list of 2"):
        resolve_value({"Fn::Select": [2, {"Fn::Split": [",", "a,b"]}]}, {}, {})


def test_sub_takes_its_variable_map_and_keeps_literals() -> None:
    node = {"Fn::Sub": ["${Name}-${Stage}-${!Literal}-${Api.Arn}", {"Name": {"Ref": "TopicName"}}]}
    names = {"TopicName": "events", "Stage": "v1", "Api.Arn": "arn:aws:execute-api:us-east-1:1:abc"}
    assert resolve_value(node, names, {}) == "events-v1-${Literal}-arn:aws:execute-api:us-east-1:1:abc"


def test_get_att_reads_a_known_value_else_gives_a_marker() -> None:
    known = {"Cluster.Outputs.Arn": "arn"}
    assert resolve_value({"Fn::GetAtt": ["Cluster", "Outputs.Arn"]}, known, {}) == "arn"
    assert resolve_value({"Fn::GetAtt": "Cluster.Outputs.Arn"}, {}, {}) == "<Cluster.Outputs.Arn>"


def test_references_name_what_a_node_reads_in_the_branches_taken() -> None:
    node = {
        "A": {"Ref": "Bucket"},
        "B": {"Fn::GetAtt": "Role.Arn"},
        "C": {"Fn::Sub": ["${Queue.Arn}/${Local}/${AWS::Region}/${!Kept}", {"Local": {"Ref": "Key"}}]},
        "D": {"Fn::If": ["IsNew", {"Ref": "NewVpc"}, {"Ref": "ExistingVpcId"}]},
        "E": {"Ref": "AWS::StackName"},
    }
    common = {("Bucket", None), ("Role", "Arn"), ("Queue", "Arn"), ("Key", None)}
    assert references(node, {"IsNew": True}) == common | {("NewVpc", None)}
    assert references(node, {"IsNew": False}) == common | {("ExistingVpcId", None)}
    assert references(node) == common | {("NewVpc", None), ("ExistingVpcId", None)}


TEMPLATE = {
    "Parameters": {
        "Mode": {"Type": "String", "AllowedValues": ["IAM", "SCRAM"]},
        "Cidr": {"Type": "String", "AllowedPattern": r"10\.\d+\.0\.0/16"},
        "Name": {"Type": "String", "MinLength": 1, "MaxLength": 5},
        "Size": {"Type": "Number", "MinValue": 1, "MaxValue": 10},
        "Subnets": {"Type": "CommaDelimitedList", "AllowedValues": ["a"]},
    }
}


def test_parameters_within_their_constraints_pass() -> None:
    params = {"Mode": "IAM", "Cidr": "10.2.0.0/16", "Name": "abc", "Size": "10", "Subnets": "x,y"}
    assert parameter_violations(TEMPLATE, params) == []


def test_each_constraint_is_checked() -> None:
    params = {"Mode": "TLS", "Cidr": "10.2.0.0/16x", "Name": "", "Size": "11", "Subnets": "x"}
    assert parameter_violations(TEMPLATE, params) == [
        "Mode='TLS' is not one of ['IAM', 'SCRAM']",
        r"Cidr='10.2.0.0/16x' does not match 10\.\d+\.0\.0/16",  # the whole value must match
        "Name='' has a length outside MinLength/MaxLength",
        "Size=11 is outside 1..10",
    ]
    assert parameter_violations(TEMPLATE, {"Size": "many"}) == ["Size='many' is not a number"]
