"""Evaluate a template's Conditions, Fn::If and Fn::Join for given parameter values, as CloudFormation does.

Only the functions the templates use in conditions and outputs are known; anything else raises, so a test
built on this cannot pass by not understanding a template.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

NO_VALUE = object()
MAX_CIDR_COUNT = 256


class UnsupportedIntrinsicError(ValueError):
    """The evaluator met a function it does not implement."""


class TemplateError(ValueError):
    """The template asks for something CloudFormation refuses (as it would at deploy time)."""


def cidr_blocks(ip_block: str, count: int, cidr_bits: int) -> list[str]:
    """Fn::Cidr as CloudFormation documents it: the first `count` blocks of `ip_block` with `cidr_bits` host
    bits each (cidrBits 5 in a /24 gives /27s); `count` from 1 to 256, and all of them must fit."""
    try:
        network = ipaddress.ip_network(ip_block)
    except ValueError as error:
        raise TemplateError(f"Fn::Cidr: {ip_block!r} is not a CIDR block ({error})") from error
    if not 1 <= count <= MAX_CIDR_COUNT:
        raise TemplateError(f"Fn::Cidr: count {count} is outside 1..{MAX_CIDR_COUNT}")
    prefix = network.max_prefixlen - cidr_bits
    if not network.prefixlen <= prefix <= network.max_prefixlen:
        raise TemplateError(f"Fn::Cidr: {cidr_bits} host bits do not fit in {ip_block}")
    available = 2 ** (prefix - network.prefixlen)
    if count > available:
        raise TemplateError(f"Fn::Cidr: {ip_block} holds {available} blocks of /{prefix}, not {count}")
    subnets = network.subnets(new_prefix=prefix)
    return [str(next(subnets)) for _ in range(count)]


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
            target = ".".join(argument if isinstance(argument, list) else argument.split(".", 1))
            return params.get(target, f"<{target}>")  # a known "Logical.Attribute" value, else a marker
        if function == "Fn::Sub":
            return _substitute(argument, params, conditions)
        if function == "Fn::Select":
            index, items = (_value(a, params, conditions) for a in argument)
            if not 0 <= int(index) < len(items):
                raise TemplateError(f"Fn::Select index {index} is outside a list of {len(items)}")
            return items[int(index)]
        if function == "Fn::Split":
            separator, source = argument
            return str(_value(source, params, conditions)).split(separator)
        if function == "Fn::Cidr":
            block, count, bits = (_value(a, params, conditions) for a in argument)
            return cidr_blocks(str(block), int(count), int(bits))
    raise UnsupportedIntrinsicError(f"cannot evaluate {node!r}")


def _substitute(argument: Any, params: dict[str, str], conditions: dict[str, bool]) -> str:
    """Fn::Sub, both forms: `${Name}` from the variable map, else `params`; `${!Text}` gives `${Text}`."""
    text, variables = (argument, {}) if isinstance(argument, str) else argument
    values = {name: _value(value, params, conditions) for name, value in variables.items()}

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("!"):
            return "${" + name[1:] + "}"
        return str(values.get(name, params.get(name, match.group(0))))

    return re.sub(r"\$\{([^}]+)\}", replace, text)


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
    """A property tree (maps and lists of values and functions) resolved; AWS::NoValue entries dropped. The
    branch an Fn::If picks is a tree too (a list of maps, say)."""
    if isinstance(node, dict) and set(node) == {"Fn::If"}:
        name, when_true, when_false = node["Fn::If"]
        return resolve_tree(when_true if conditions[name] else when_false, names, conditions)
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
    """The parameter values the root passes to one of its nested applications (pseudo parameters, such as
    the `!Ref AWS::StackName` the monitoring stack is passed, default to PSEUDO_PARAMETERS)."""
    known = PSEUDO_PARAMETERS | params
    conditions = evaluate_conditions(root, known)
    passed = root["Resources"][application]["Properties"].get("Parameters", {})
    return {name: str(_value(value, known, conditions)) for name, value in passed.items()}


# Pseudo parameters, for templates evaluated without an account (a caller's `params` can override them).
PSEUDO_PARAMETERS = {
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::Region": "us-east-1",
    "AWS::StackName": "streaming",
    "AWS::URLSuffix": "amazonaws.com",
}
_LIST_TYPE = re.compile(r"CommaDelimitedList|List<.+>")


class _Evaluator:
    """Values as CloudFormation computes them, including the functions of a template's `Rules` section and
    Fn::FindInMap; other functions are left to `_value` once their arguments are evaluated."""

    def __init__(self, template: dict[str, Any], params: dict[str, str], conditions: dict[str, bool] | None):
        self.template = template
        self.params = PSEUDO_PARAMETERS | params
        self._conditions = conditions

    @property
    def conditions(self) -> dict[str, bool]:
        if self._conditions is None:
            self._conditions = evaluate_conditions(self.template, self.params)
        return self._conditions

    def value(self, node: Any) -> Any:  # noqa: PLR0911, PLR0912 - a branch per function
        if isinstance(node, list):
            return [v for v in map(self.value, node) if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        function = next(iter(node)) if len(node) == 1 else ""
        if not (function in ("Ref", "Condition") or function.startswith("Fn::")):
            values = {key: self.value(value) for key, value in node.items()}
            return {key: value for key, value in values.items() if value is not NO_VALUE}
        argument = node[function]
        if function == "Ref":
            return self.reference(argument)
        if function == "Condition":
            return self.conditions[argument]
        if function == "Fn::If":
            name, when_true, when_false = argument
            return self.value(when_true if self.conditions[name] else when_false)
        if function == "Fn::Equals":
            left, right = map(self.value, argument)
            both_lists = isinstance(left, list) and isinstance(right, list)
            return left == right if both_lists else str(left) == str(right)
        if function == "Fn::Not":
            return not self.boolean(argument[0])
        if function == "Fn::And":
            return all(self.boolean(a) for a in argument)
        if function == "Fn::Or":
            return any(self.boolean(a) for a in argument)
        if function == "Fn::Contains":
            members, value = self.members(argument[0]), str(self.value(argument[1]))
            return value in members
        if function == "Fn::EachMemberEquals":
            members, value = self.members(argument[0]), str(self.value(argument[1]))
            return all(member == value for member in members)
        if function == "Fn::EachMemberIn":
            members, allowed = self.members(argument[0]), self.members(argument[1])
            return all(member in allowed for member in members)
        if function == "Fn::FindInMap":
            return self.find_in_map(*argument)
        return _value({function: self.value(argument)}, self.params, {})

    def reference(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        value = self.params[name]
        spec = self.template.get("Parameters", {}).get(name, {})
        return value.split(",") if _LIST_TYPE.fullmatch(spec.get("Type", "")) else value

    def boolean(self, node: Any) -> bool:
        value = self.value(node)
        if not isinstance(value, bool):
            raise TemplateError(f"{node!r} is {value!r}, not a boolean")
        return value

    def members(self, node: Any) -> list[str]:
        value = self.value(node)
        if not isinstance(value, list):
            raise TemplateError(f"{node!r} is {value!r}, not a list")
        return [str(member) for member in value]

    def find_in_map(self, mapping: Any, top_key: Any, second_key: Any) -> Any:
        keys = [str(self.value(key)) for key in (mapping, top_key, second_key)]
        try:
            return self.template["Mappings"][keys[0]][keys[1]][keys[2]]
        except KeyError as error:
            raise TemplateError(f"Fn::FindInMap: {'/'.join(keys)} is not in the Mappings") from error


def evaluate(
    template: dict[str, Any], params: dict[str, str], node: Any, conditions: dict[str, bool] | None = None
) -> Any:
    """`node`'s value for these parameter values (pseudo parameters default to PSEUDO_PARAMETERS), with every
    function `_value` knows plus the Rules functions (Fn::Contains, Fn::EachMemberEquals, Fn::EachMemberIn),
    Fn::FindInMap, and list-typed parameters as lists. `params` may also name resources and
    `Logical.Attribute` values; conditions are evaluated when first needed unless given. AWS::NoValue gives
    NO_VALUE."""
    return _Evaluator(template, params, conditions).value(node)


def evaluate_rules(template: dict[str, Any], params: dict[str, str]) -> list[str]:
    """The assertions of the template's `Rules` that these parameter values fail, as "Rule: description"
    (empty when CloudFormation would accept them). Rules cannot use conditions, so none are evaluated."""
    evaluator = _Evaluator(template, params, {})
    failed: list[str] = []
    for name, rule in template.get("Rules", {}).items():
        if "RuleCondition" in rule and not evaluator.boolean(rule["RuleCondition"]):
            continue
        failed.extend(
            f"{name}: {assertion.get('AssertDescription', 'assertion failed')}"
            for assertion in rule["Assertions"]
            if not evaluator.boolean(assertion["Assert"])
        )
    return failed


def references(
    node: Any, conditions: dict[str, bool] | None = None, *, pseudo: bool = False
) -> set[tuple[str, str | None]]:
    """What `node` reads: (name, attribute) for each `Fn::GetAtt` and `${Name.Attribute}`, (name, None) for
    each `Ref` and `${Name}` (Fn::Sub's own variables left out, and pseudo parameters unless `pseudo`). With
    `conditions`, only the Fn::If branches they select are followed."""
    found: set[tuple[str, str | None]] = set()
    if isinstance(node, list):
        for item in node:
            found |= references(item, conditions, pseudo=pseudo)
    elif isinstance(node, dict) and _is_intrinsic(node):
        ((function, argument),) = node.items()
        if function == "Ref":
            found.add((str(argument), None))
        elif function == "Fn::GetAtt":
            name, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
            found.add((str(name), str(attribute)))
        elif function == "Fn::If" and conditions is not None:
            name, when_true, when_false = argument
            found |= references(when_true if conditions[name] else when_false, conditions, pseudo=pseudo)
        elif function == "Fn::Sub":
            text, variables = (argument, {}) if isinstance(argument, str) else argument
            for match in re.finditer(r"\$\{([^}!][^}]*)\}", text):
                name, _, attribute = match.group(1).partition(".")
                if name not in variables:
                    found.add((name, attribute or None))
            found |= references(list(variables.values()), conditions, pseudo=pseudo)
        else:
            found |= references(argument, conditions, pseudo=pseudo)
    elif isinstance(node, dict):
        found |= references(list(node.values()), conditions, pseudo=pseudo)
    return {(name, attribute) for name, attribute in found if pseudo or not name.startswith("AWS::")}


def parameter_violations(template: dict[str, Any], params: dict[str, str]) -> list[str]:
    """The parameter values CloudFormation would reject before creating anything: AllowedValues,
    AllowedPattern (the whole value), MinLength/MaxLength and, for Number, MinValue/MaxValue."""
    violations: list[str] = []
    for name, spec in template.get("Parameters", {}).items():
        value = params.get(name)
        if value is None or _LIST_TYPE.fullmatch(spec.get("Type", "")):
            continue
        allowed = [str(option) for option in spec.get("AllowedValues", [])]
        if allowed and value not in allowed:
            violations.append(f"{name}={value!r} is not one of {allowed}")
        pattern = spec.get("AllowedPattern")
        if pattern is not None and re.fullmatch(pattern, value) is None:
            violations.append(f"{name}={value!r} does not match {pattern}")
        if not int(spec.get("MinLength", 0)) <= len(value) <= int(spec.get("MaxLength", len(value))):
            violations.append(f"{name}={value!r} has a length outside MinLength/MaxLength")
        if spec.get("Type") == "Number":
            violations.extend(_number_violations(name, value, spec))
    return violations


def _number_violations(name: str, value: str, spec: dict[str, Any]) -> list[str]:
    try:
        number = float(value)
    except ValueError:
        return [f"{name}={value!r} is not a number"]
    low, high = float(spec.get("MinValue", number)), float(spec.get("MaxValue", number))
    return [] if low <= number <= high else [f"{name}={value} is outside {low:g}..{high:g}"]
