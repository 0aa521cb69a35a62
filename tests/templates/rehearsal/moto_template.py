"""A transformed template made ready for moto's CloudFormation: stand-ins in place of what moto cannot create,
and, in one place, the intrinsic functions and semantics moto lacks resolved as CloudFormation does.

moto evaluates Ref, Fn::FindInMap, Fn::GetAtt, Fn::If, Fn::Join, Fn::Split, Fn::Select, Fn::Sub,
Fn::ImportValue, Fn::GetAZs, Fn::Base64, Fn::ToJsonString and the condition functions
(`moto/cloudformation/parsing.py`, `clean_json` and `parse_condition`). What it lacks, resolved here before
moto sees the template:
- any other function (Fn::Cidr, ...): evaluated by local.cfn from the parameters and the stand-ins' values;
  one that cannot be evaluated fails, naming it;
- `Fn::GetAtt` in its string form ("Name.Attribute"): moto reads only the list form;
- AWS::NoValue as a list item: CloudFormation removes the item, moto keeps None (Fn::Join writes "None").
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from local.cfn import TemplateError, UnsupportedIntrinsicError, evaluate
from tests.templates.rehearsal.stand_ins import PLACEHOLDER_TYPE, PropertyExpression, cloudformation_names

MOTO_FUNCTIONS = frozenset(
    {
        "Ref",
        "Condition",
        "Fn::FindInMap",
        "Fn::GetAtt",
        "Fn::If",
        "Fn::Join",
        "Fn::Split",
        "Fn::Select",
        "Fn::Sub",
        "Fn::ImportValue",
        "Fn::GetAZs",
        "Fn::Base64",
        "Fn::ToJsonString",
        "Fn::Equals",
        "Fn::Not",
        "Fn::And",
        "Fn::Or",
    }
)
# Resource keys moto reads besides Type and Properties (Metadata it does not read).
KEPT_KEYS = ("Condition", "DependsOn", "DeletionPolicy", "UpdateReplacePolicy")


class StandInError(ValueError):
    """The template reads a value its stand-in does not give."""


def _is_function(node: Any) -> bool:
    if not (isinstance(node, dict) and len(node) == 1):
        return False
    key = next(iter(node))
    return key in ("Ref", "Condition") or key.startswith("Fn::")


class MotoTemplate:
    """Rewrites a template for moto, given the stand-ins (logical ID -> what they stand in for) and the
    known values: parameters, pseudo parameters, and each stand-in's `Name` and `Name.Attribute` values."""

    def __init__(
        self,
        stack_name: str,
        template: dict[str, Any],
        conditions: dict[str, bool],
        values: Mapping[str, Any],
        stand_ins: Mapping[str, str],
    ):
        self.stack_name = stack_name
        self.template = template
        self.conditions = conditions
        self.values = values
        self.stand_ins = stand_ins

    def resource(self, logical_id: str) -> dict[str, Any]:
        """One resource as moto gets it; a stand-in is an AWS::SSM::Parameter saying what it stands for."""
        resource = self.template["Resources"][logical_id]
        kept = {key: copy.deepcopy(resource[key]) for key in KEPT_KEYS if key in resource}
        if logical_id in self.stand_ins:
            properties = {
                "Name": f"/rehearsal/{self.stack_name}/{logical_id}",
                "Type": "String",
                "Value": f"stand-in for {self.stand_ins[logical_id]}",
            }
            return {"Type": PLACEHOLDER_TYPE, "Properties": properties} | kept
        properties = cloudformation_names(
            resource["Type"], logical_id, self.stack_name, resource.get("Properties", {})
        )
        return kept | {
            "Type": resource["Type"],
            "Properties": self.rewrite(properties, f"{logical_id}.Properties"),
        }

    def outputs(self) -> dict[str, Any]:
        """The Outputs whose condition holds, rewritten (moto hides the others anyway)."""
        return {
            name: self.rewrite(output, f"Outputs.{name}")
            for name, output in self.template.get("Outputs", {}).items()
            if self.conditions.get(output.get("Condition", ""), True)
        }

    def rewrite(self, node: Any, where: str) -> Any:  # noqa: PLR0911 - a branch per kind of node
        """`node` with stand-in references replaced by their values and moto's gaps resolved."""
        if isinstance(node, list):
            return [self.rewrite(item, where) for item in node if not self._is_no_value(item)]
        if not isinstance(node, dict):
            return node
        if not _is_function(node):
            return {key: self.rewrite(value, f"{where}.{key}") for key, value in node.items()}
        ((function, argument),) = node.items()
        if function == "Ref" and argument in self.stand_ins:
            return self._known(str(argument), where)
        if function == "Fn::GetAtt":
            name, attribute = argument if isinstance(argument, list) else str(argument).split(".", 1)
            if name in self.stand_ins:
                return self._known(f"{name}.{attribute}", where)
            return {"Fn::GetAtt": [name, attribute]}
        if function == "Fn::If":
            condition, when_true, when_false = argument
            taken = self.conditions[condition]
            branches = [self.rewrite(when_true, where) if taken else when_true]
            branches.append(when_false if taken else self.rewrite(when_false, where))
            return {"Fn::If": [condition, *branches]}
        if function == "Fn::Sub":
            return {"Fn::Sub": self._sub(argument, where)}
        if function not in MOTO_FUNCTIONS:
            return self._evaluated(node, where)
        return {function: self.rewrite(argument, where)}

    def _known(self, key: str, where: str) -> Any:
        if key not in self.values:
            name, _, attribute = key.partition(".")
            what = f"attribute {attribute}" if attribute else "Ref"
            raise StandInError(f"{where} reads the {what} of {name} ({self.stand_ins[name]}): not given")
        value = self.values[key]
        return self.rewrite(value.node, where) if isinstance(value, PropertyExpression) else value

    def _sub(self, argument: Any, where: str) -> Any:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        variables = {name: self.rewrite(value, where) for name, value in variables.items()}

        def replace(match: re.Match[str]) -> str:
            reference = match.group(1)
            name = reference.partition(".")[0]
            if name in variables or name not in self.stand_ins:
                return match.group(0)
            value = self._known(reference, where)
            if not isinstance(self.values[reference], PropertyExpression):
                return str(value)
            variable = re.sub(r"\W", "", reference)  # an expression goes in as a variable of its own
            variables[variable] = value
            return "${" + variable + "}"

        text = re.sub(r"\$\{([^}!][^}]*)\}", replace, text)
        return [text, variables] if variables else text

    def _evaluated(self, node: dict[str, Any], where: str) -> Any:
        function = next(iter(node))
        try:
            value = evaluate(self.template, dict(self.values), node, self.conditions)
        except (KeyError, UnsupportedIntrinsicError) as error:
            raise UnsupportedIntrinsicError(
                f"{where}: moto lacks {function} and the rehearsal cannot evaluate it here ({error})"
            ) from error
        except TemplateError as error:
            raise TemplateError(f"{where}: {error}") from error
        if isinstance(value, str) and re.search(r"<[^>]+\.[^>]+>", value):
            raise UnsupportedIntrinsicError(f"{where}: {function} reads a resource attribute ({value})")
        return value

    def _is_no_value(self, item: Any) -> bool:
        """A list item CloudFormation removes: AWS::NoValue, directly or as the taken branch of Fn::If."""
        while isinstance(item, dict) and len(item) == 1 and "Fn::If" in item:
            condition, when_true, when_false = item["Fn::If"]
            item = when_true if self.conditions[condition] else when_false
        return bool(item == {"Ref": "AWS::NoValue"})
