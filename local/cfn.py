"""Evaluate a template's Conditions, Fn::If and Fn::Join for given parameter values, as CloudFormation does.

Only the functions the templates use in conditions and outputs are known; anything else raises, so a test
built on this cannot pass by not understanding a template.
"""

from __future__ import annotations

import re
from typing import Any

NO_VALUE = object()


class UnsupportedIntrinsicError(ValueError):
    """The evaluator met a function it does not implement."""


def parameter_values(template: dict[str, Any], overrides: dict[str, str] | None = None) -> dict[str, str]:
    """Every parameter's value: the override, else the default; a parameter with neither is an error."""
    values: dict[str, str] = {}
    overrides = overrides or {}
    unknown = set(overrides) - set(template.get("Parameters", {}))
    if unknown:
        raise KeyError(f"not parameters of the template: {sorted(unknown)}")
    for name, spec in template.get("Parameters", {}).items():
        if name in overrides:
            values[name] = str(overrides[name])
        elif "Default" in spec:
            values[name] = str(spec["Default"])
        else:
            raise KeyError(f"parameter {name} has no default and no value")
    return values


def _value(node: Any, params: dict[str, str], conditions: dict[str, bool]) -> Any:  # noqa: PLR0911, PLR0912 - a branch per function
    if isinstance(node, (str, int, float, bool)):
        return node
    if isinstance(node, list):
        return [v for v in (_value(item, params, conditions) for item in node) if v is not NO_VALUE]
    if isinstance(node, dict) and len(node) == 1:
        ((function, argument),) = node.items()
        if function == "Ref":
            if argument == "AWS::NoValue":
                return NO_VALUE
            return params[argument]
        if function == "Condition":
            return conditions[argument]
        if function == "Fn::Equals":
            left, right = (_value(a, params, conditions) for a in argument)
            return str(left) == str(right)
        if function == "Fn::Not":
            return not _value(argument[0], params, conditions)
        if function == "Fn::And":
            return all(_value(a, params, conditions) for a in argument)
        if function == "Fn::Or":
            return any(_value(a, params, conditions) for a in argument)
        if function == "Fn::If":
            name, when_true, when_false = argument
            return _value(when_true if conditions[name] else when_false, params, conditions)
        if function == "Fn::Join":
            separator, items = argument
            return separator.join(str(v) for v in _value(items, params, conditions))
        if function == "Fn::GetAtt":
            target = argument if isinstance(argument, list) else argument.split(".", 1)
            return f"<{'.'.join(target)}>"
        if function == "Fn::Sub" and isinstance(argument, str):
            return re.sub(r"\$\{([^}!]+)\}", lambda m: str(params.get(m.group(1), m.group(0))), argument)
    raise UnsupportedIntrinsicError(f"cannot evaluate {node!r}")


def evaluate_conditions(template: dict[str, Any], params: dict[str, str]) -> dict[str, bool]:
    """Every condition of the template, resolved in dependency order."""
    pending = dict(template.get("Conditions", {}))
    resolved: dict[str, bool] = {}
    while pending:
        progressed = False
        for name, expression in list(pending.items()):
            try:
                resolved[name] = bool(_value(expression, params, resolved))
            except KeyError:
                continue  # depends on a condition not resolved yet
            del pending[name]
            progressed = True
        if not progressed:
            raise UnsupportedIntrinsicError(f"conditions never resolve: {sorted(pending)}")
    return resolved


def enabled_resources(template: dict[str, Any], params: dict[str, str]) -> dict[str, str]:
    """Logical ID -> type of every resource CloudFormation would create with these parameter values."""
    conditions = evaluate_conditions(template, params)
    return {
        name: resource["Type"]
        for name, resource in template.get("Resources", {}).items()
        if "Condition" not in resource or conditions[resource["Condition"]]
    }


def resolve_value(node: Any, names: dict[str, str], conditions: dict[str, bool]) -> Any:
    """A property's value with parameters and resource names in `names`; None for AWS::NoValue."""
    value = _value(node, names, conditions)
    return None if value is NO_VALUE else value


def _is_intrinsic(node: dict[str, Any]) -> bool:
    return len(node) == 1 and any(key in ("Ref", "Condition") or key.startswith("Fn::") for key in node)


def resolve_tree(node: Any, names: dict[str, str], conditions: dict[str, bool]) -> Any:
    """A property tree (maps and lists of values and functions) resolved; AWS::NoValue entries dropped."""
    if isinstance(node, dict) and not _is_intrinsic(node):
        resolved = {key: resolve_tree(value, names, conditions) for key, value in node.items()}
        return {key: value for key, value in resolved.items() if value is not None}
    if isinstance(node, list):
        return [v for v in (resolve_tree(item, names, conditions) for item in node) if v is not None]
    return resolve_value(node, names, conditions)


def output_value(template: dict[str, Any], params: dict[str, str], output: str) -> Any:
    """The value an output would have."""
    conditions = evaluate_conditions(template, params)
    return _value(template["Outputs"][output]["Value"], params, conditions)


def nested_parameters(root: dict[str, Any], application: str, params: dict[str, str]) -> dict[str, str]:
    """The parameter values the root passes to one of its nested applications."""
    conditions = evaluate_conditions(root, params)
    passed = root["Resources"][application]["Properties"].get("Parameters", {})
    return {name: str(_value(value, params, conditions)) for name, value in passed.items()}
