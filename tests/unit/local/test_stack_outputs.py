"""The outputs `make local` prints: template.yaml's Outputs whose Condition holds for the option, with the
nested stacks' outputs evaluated locally."""

from __future__ import annotations

import pytest

from local.cfn import evaluate_conditions
from local.functions import REPO, load_template
from local.option_stack import OPTIONS
from local.stack_outputs import root_parameters, stack_outputs

LOCAL_VALUES = {"ApiUrl": "http://127.0.0.1:1/v1", "TokenUrl": "http://127.0.0.1:2/oauth2/token"}
CREATED = {"UserPool": "us-east-1_pool", "MachineClient": "machineclient", "UserClient": "userclient"}


@pytest.mark.parametrize("option", OPTIONS)
def test_the_outputs_are_those_the_root_gives_the_option(option: str) -> None:
    root = load_template(REPO / "template.yaml")
    conditions = evaluate_conditions(root, root_parameters(option))
    expected = {
        name for name, output in root["Outputs"].items() if conditions.get(output.get("Condition", ""), True)
    }
    outputs, unavailable = stack_outputs(option, CREATED, LOCAL_VALUES)
    assert set(outputs) | set(unavailable) == expected
    assert outputs["DeploymentOption"] == option


def test_nested_outputs_take_the_local_names_and_ids() -> None:
    outputs, _ = stack_outputs("All", CREATED, LOCAL_VALUES)
    assert outputs["ApiUrl"] == LOCAL_VALUES["ApiUrl"]
    assert (outputs["UserPoolId"], outputs["MachineClientId"]) == ("us-east-1_pool", "machineclient")
    assert outputs["ConsumerFunctionName"] == "local-consumerfunction"
    assert outputs["ArchiveBucketName"] == "local-archivebucket"


def test_an_option_without_the_api_has_no_api_outputs() -> None:
    outputs, _ = stack_outputs("LambdaConsumer", CREATED, LOCAL_VALUES)
    assert not {"ApiUrl", "TokenUrl", "UserPoolId", "ArchiveBucketName"} & set(outputs)
    assert "ConsumerFunctionName" in outputs
