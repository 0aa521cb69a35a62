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

from local.aws import LOCAL_PSEUDO_PARAMETERS, read_template, template_outputs
from local.cfn import evaluate_conditions, resolve_value
from local.functions import REPO
from local.root_stack import applications, root_parameters


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
    root = read_template(REPO / "template.yaml")
    params = root_parameters(option)
    conditions = evaluate_conditions(root, params)
    nested_outputs = {
        f"{application.logical_id}.Outputs.{name}": value
        for application in applications(option)
        for name, value in template_outputs(
            application.template, application.parameters, application.logical_id, created
        ).items()
    }

    def nested(target: str) -> Any:
        return nested_outputs[target]  # KeyError: no local value

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
                _with_nested_outputs(output["Value"], nested), LOCAL_PSEUDO_PARAMETERS | params, conditions
            )
        except (ValueError, KeyError):  # a function or a reference the local evaluator cannot resolve
            unavailable.append(name)
            continue
        outputs[name] = ",".join(map(str, value)) if isinstance(value, list) else str(value)
    return outputs, unavailable
