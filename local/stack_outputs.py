"""The outputs a deployed root stack has, computed for the local runtime.

The outputs are template.yaml's `Outputs` whose `Condition` holds for the option (against an existing cluster:
locally the broker stands in for the cluster and its network). A value that reads a nested application's
output (`!GetAtt App.Outputs.X`) is that nested template's output, evaluated with the parameters the root
passes and the local names and IDs of the resources created in moto. What exists only as a local endpoint
(the API's and the token endpoint's URLs, the brokers) is given by the runtime.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from local.cfn import evaluate_conditions, nested_parameters, parameter_values, resolve_value
from local.functions import LOCAL_ACCOUNT, LOCAL_CLUSTER_ARN, LOCAL_REGION, REPO, load_template, local_name

PSEUDO_PARAMETERS = {
    "AWS::AccountId": LOCAL_ACCOUNT,
    "AWS::Partition": "aws",
    "AWS::Region": LOCAL_REGION,
    "AWS::StackName": "local",
    "AWS::URLSuffix": "amazonaws.com",
}


def root_parameters(option: str) -> dict[str, str]:
    """The root template's parameter values for the option, against the local stand-in cluster."""
    root = load_template(REPO / "template.yaml")
    return parameter_values(root, {"DeploymentOption": option, "ExistingClusterArn": LOCAL_CLUSTER_ARN})


def _nested_output(
    root: dict[str, Any], root_params: dict[str, str], created: dict[str, str], target: str
) -> Any:
    """The local value of `App.Outputs.X`: output X of the root's nested application App."""
    application, output = target.split(".Outputs.", 1)
    template = load_template(REPO / str(root["Resources"][application]["Properties"]["Location"]))
    passed = nested_parameters(root, application, root_params)
    params = parameter_values(
        template, {k: v for k, v in passed.items() if k in template.get("Parameters", {})}
    )
    names = {
        logical_id: created.get(logical_id, local_name(logical_id)) for logical_id in template["Resources"]
    }
    conditions = evaluate_conditions(template, params)
    return resolve_value(template["Outputs"][output]["Value"], PSEUDO_PARAMETERS | params | names, conditions)


def _with_nested_outputs(node: Any, replace: Callable[[str], Any]) -> Any:
    """`node` with every `!GetAtt App.Outputs.X` replaced by `replace("App.Outputs.X")`."""
    if isinstance(node, list):
        return [_with_nested_outputs(item, replace) for item in node]
    if not isinstance(node, dict):
        return node
    if set(node) == {"Fn::GetAtt"}:
        target = node["Fn::GetAtt"]
        target = ".".join(target) if isinstance(target, list) else target
        if ".Outputs." in target:
            return replace(target)
    return {key: _with_nested_outputs(value, replace) for key, value in node.items()}


def stack_outputs(
    option: str, created: dict[str, str], local_values: dict[str, str]
) -> tuple[dict[str, str], list[str]]:
    """The root's outputs for `option` with local values, and the names of those with no local value.

    `created` maps logical IDs to what moto gave them (user pool and client IDs); `local_values` gives the
    outputs that are local endpoints (ApiUrl, TokenUrl, ...), by output name.
    """
    root = load_template(REPO / "template.yaml")
    params = root_parameters(option)
    conditions = evaluate_conditions(root, params)

    def nested(target: str) -> Any:
        return _nested_output(root, params, created, target)

    outputs: dict[str, str] = {}
    unavailable: list[str] = []
    for name, output in root.get("Outputs", {}).items():
        if "Condition" in output and not conditions[output["Condition"]]:
            continue
        if name in local_values:
            outputs[name] = local_values[name]
            continue
        try:
            value = resolve_value(
                _with_nested_outputs(output["Value"], nested), PSEUDO_PARAMETERS | params, conditions
            )
        except (ValueError, KeyError):  # a function or a reference the local evaluator cannot resolve
            unavailable.append(name)
            continue
        outputs[name] = ",".join(map(str, value)) if isinstance(value, list) else str(value)
    return outputs, unavailable
