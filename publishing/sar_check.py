"""Which components the AWS Serverless Application Repository (SAR) would take, and why not.

SAR checks every resource type of a template after the SAM transform (whatever its conditions) against its
list of supported types, and refuses templates that attach AWSLambda_FullAccess or grant iam:*,
iam:PutRolePolicy or iam:AttachRolePolicy on "*" in inline policies. `component_reports` applies both checks
to the root template and to every nested template; a component whose refused resources are all optional gets
a flavour: the same template with them switched off, generated into build/sar/<name>.yaml.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import logging
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

REPO = Path(__file__).resolve().parents[1]
SUPPORTED_LIST = Path(__file__).with_name("supported_resources.txt")
FLAVOUR_DIR = Path("build") / "sar"
ROOT_COMPONENT = "root"
# The parts that attach to an existing cluster and VPC, and what they need: each must be publishable.
REQUIRED_COMPONENTS = frozenset(
    {"kafka-function", "firehose-delivery", "ingest-api", "monitoring", "foundation", "cluster-bootstrap"}
)
NESTED_APPLICATION = "AWS::Serverless::Application"
REFUSED_MANAGED_POLICY = "AWSLambda_FullAccess"
# An Allow statement on "*" whose action covers one of these is refused (iam:* covers both).
REFUSED_ACTIONS = ("iam:PutRolePolicy", "iam:AttachRolePolicy")
_SOURCE_MARK = "SarCheckSource"
_PACKAGED_PROPERTY = {
    "AWS::Serverless::Function": "CodeUri",
    "AWS::Serverless::LayerVersion": "ContentUri",
    NESTED_APPLICATION: "Location",
}
_IAM_IDENTITIES = ("AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group")
_IAM_POLICIES = ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")


@dataclass(frozen=True)
class ComponentReport:
    """Whether SAR would take one component (a template), and why not."""

    name: str  # e.g. "kafka-function", "root" for template.yaml
    template: Path  # the source template
    publishable: bool  # as is, or through its flavour
    reasons: tuple[str, ...]  # why not (refused types, refused IAM grants), or what the flavour leaves out
    flavour: Path | None  # the generated template without the refused optional resources, or None


class FlavourError(ValueError):
    """A flavour cannot leave out a resource that something else still references."""


class ShippedManagedPolicies:
    """samtranslator's ManagedPolicyLoader, answered from its bundled list instead of IAM."""

    def load(self) -> dict[str, str]:
        data = resources.files("samtranslator").joinpath("internal/data/aws_managed_policies.json")
        return dict(json.loads(data.read_text())["aws"])


def supported_types(path: Path = SUPPORTED_LIST) -> frozenset[str]:
    """The resource types SAR accepts, as kept in the repo (comments and blank lines skipped)."""
    lines = (line.strip() for line in path.read_text().splitlines())
    return frozenset(line for line in lines if line and not line.startswith("#"))


def load_template(path: Path) -> dict[str, Any]:
    """The template as CloudFormation reads it (short-form intrinsics expanded)."""
    return dict(yaml_parse(path.read_text()))


def component_name(template: Path, repo: Path = REPO) -> str:
    """The component a template is: "root" for the repo's template.yaml, else the file's stem."""
    return ROOT_COMPONENT if template.resolve() == (repo / "template.yaml").resolve() else template.stem


def component_templates(repo: Path = REPO) -> dict[str, Path]:
    """Every component of the solution and its source template, the root first."""
    templates = [repo / "template.yaml", *sorted((repo / "nested").glob("*.yaml"))]
    return {component_name(path, repo): path for path in templates if path.exists()}


def transformed(template: dict[str, Any]) -> dict[str, Any]:
    """What the SAM transform makes of `template` once packaged (local artefacts as S3 locations). Each
    resource it generates carries the logical ID of its source resource in Metadata.SarCheckSource."""
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    marked = copy.deepcopy(template)
    for logical_id, resource in marked.get("Resources", {}).items():
        resource.setdefault("Metadata", {})[_SOURCE_MARK] = logical_id
        prop = _PACKAGED_PROPERTY.get(resource.get("Type", ""))
        properties = resource.get("Properties", {})
        value = properties.get(prop) if prop else None
        if isinstance(value, str) and not value.startswith(("s3://", "https://")):
            properties[prop] = (
                f"https://artifacts.s3.amazonaws.com/{logical_id}.yaml"
                if prop == "Location"
                else f"s3://artifacts/{logical_id}.zip"
            )
    return dict(transform(marked, {}, ShippedManagedPolicies(), passthrough_metadata=True))


def _source_of(logical_id: str, resource: dict[str, Any], sources: dict[str, Any]) -> str:
    """The source resource a transformed resource came from (its mark, else the longest source ID it starts
    with: SAM names what it generates after its source)."""
    mark = resource.get("Metadata", {}).get(_SOURCE_MARK)
    if isinstance(mark, str):
        return mark
    prefixes = [source for source in sources if logical_id.startswith(source)]
    return max(prefixes, key=len) if prefixes else logical_id


def resource_types(template: dict[str, Any]) -> dict[str, set[str]]:
    """Every resource type SAR sees in `template`, those of the source (SAR refuses
    AWS::Serverless::Connector, which the transform turns into policies) and those after the transform, with
    the source resources that make each. A nested application stays AWS::Serverless::Application: a
    published parent names its children by ApplicationId and SemanticVersion, which SAR takes."""
    sources = template.get("Resources", {})
    types: dict[str, set[str]] = {}
    for logical_id, resource in sources.items():
        types.setdefault(str(resource.get("Type", "")), set()).add(logical_id)
    for logical_id, resource in transformed(template).get("Resources", {}).items():
        source = _source_of(logical_id, resource, sources)
        kind = resource.get("Type", "")
        if sources.get(source, {}).get("Type") == NESTED_APPLICATION:
            kind = NESTED_APPLICATION
        types.setdefault(kind, set()).add(source)
    return types


def _walk(node: Any) -> Iterator[Any]:
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _strings(node: Any) -> list[str]:
    """Every literal string in `node`, through lists and intrinsics (both branches of an Fn::If)."""
    return [value for value in _walk(node) if isinstance(value, str)]


def _statements(document: Any) -> Iterator[dict[str, Any]]:
    """Every statement of a policy document, through lists and Fn::If branches."""
    for node in _walk(document):
        if isinstance(node, dict) and "Effect" in node and ("Action" in node or "NotAction" in node):
            yield node


def _refused_action(statement: dict[str, Any]) -> str | None:
    """The refused IAM action `statement` grants on "*", if any."""
    if statement.get("Effect") == "Deny" or "*" not in _strings(statement.get("Resource")):
        return None
    actions = [pattern.lower() for pattern in _strings(statement.get("Action"))]
    excluded = [pattern.lower() for pattern in _strings(statement.get("NotAction"))]
    for refused in REFUSED_ACTIONS:
        if "Action" in statement and any(fnmatch.fnmatchcase(refused.lower(), p) for p in actions):
            return refused
        if "NotAction" in statement and not any(fnmatch.fnmatchcase(refused.lower(), p) for p in excluded):
            return refused
    return None


def _policy_documents(resource: dict[str, Any]) -> list[Any]:
    properties = resource.get("Properties", {})
    if resource.get("Type") in _IAM_POLICIES:
        return [properties.get("PolicyDocument")]
    if resource.get("Type") in _IAM_IDENTITIES:
        return [
            policy.get("PolicyDocument")
            for policy in _walk(properties.get("Policies"))
            if isinstance(policy, dict)
        ]
    return []


def refused_grants(template: dict[str, Any]) -> list[str]:
    """The IAM grants SAR refuses in `template` after the transform (SAM policy templates included)."""
    found: list[str] = []
    for logical_id, resource in sorted(transformed(template).get("Resources", {}).items()):
        properties = resource.get("Properties", {})
        if resource.get("Type") in _IAM_IDENTITIES and any(
            value.endswith(f"/{REFUSED_MANAGED_POLICY}")
            for value in _strings(properties.get("ManagedPolicyArns"))
        ):
            found.append(f"{logical_id} attaches {REFUSED_MANAGED_POLICY}")
        for document in _policy_documents(resource):
            for statement in _statements(document):
                action = _refused_action(statement)
                if action:
                    found.append(f'{logical_id} grants {action} on "*"')
    return sorted(set(found))


def _references(node: Any) -> set[str]:
    """The logical IDs, parameters and conditions `node` names: Ref, Fn::GetAtt, Fn::Sub (not its own
    variables), DependsOn, Condition and Fn::If."""
    names: set[str] = set()
    for value in _walk(node):
        if not isinstance(value, dict):
            continue
        for key, argument in value.items():
            if key == "Ref" and isinstance(argument, str):
                names.add(argument)
            elif key == "Fn::GetAtt":
                names.add(str(argument[0] if isinstance(argument, list) else argument).split(".")[0])
            elif key == "Fn::Sub":
                names |= _sub_names(argument)
            elif key == "Fn::If" and isinstance(argument, list) and argument:
                names.add(str(argument[0]))
            elif key in ("Condition", "DependsOn"):
                names.update(_strings(argument))
    return names


def _sub_names(argument: Any) -> set[str]:
    """The names a Fn::Sub string names, less the variables its own map defines."""
    text, variables = (argument[0], argument[1]) if isinstance(argument, list) else (argument, {})
    if not isinstance(text, str):
        return set()
    found = {part.split("}")[0].split(".")[0] for part in text.split("${")[1:]}
    return {name for name in found if not name.startswith("!") and name not in variables}


def _false_branches(node: Any, off: set[str]) -> Any:
    """`node` with every Fn::If on a condition of `off` replaced by its false branch."""
    if isinstance(node, list):
        return [_false_branches(value, off) for value in node]
    if not isinstance(node, dict):
        return node
    branches = node.get("Fn::If")
    if len(node) == 1 and isinstance(branches, list) and len(branches) == 3 and branches[0] in off:
        return _false_branches(branches[2], off)
    return {key: _false_branches(value, off) for key, value in node.items()}


def _used(template: dict[str, Any]) -> set[str]:
    """Every name the template's resources, outputs, conditions and rules reference."""
    return _references({key: template.get(key) for key in ("Resources", "Outputs", "Conditions", "Rules")})


def flavour(template: dict[str, Any], leave_out: set[str]) -> dict[str, Any]:
    """`template` with the optional resources `leave_out` switched off, as generated for SAR.

    Each resource left out must be optional (have a Condition); the flavour fixes those conditions false:
    it removes the resources, the conditions, the outputs under them, takes the false branch of every
    Fn::If on them, removes the outputs that named nothing but what is left out, then the conditions and
    parameters only what was removed used. Raises FlavourError when a resource is not optional, when a
    condition switched off also governs a kept resource or another condition, or when anything kept still
    references what is left out."""
    resources_ = template.get("Resources", {})
    missing = sorted(leave_out - set(resources_))
    if missing:
        raise FlavourError(f"no resource {', '.join(missing)} to leave out")
    mandatory = sorted(name for name in leave_out if "Condition" not in resources_[name])
    if mandatory:
        raise FlavourError(f"not optional (no Condition): {', '.join(mandatory)}")
    off = {str(resources_[name]["Condition"]) for name in leave_out}
    for name, resource in resources_.items():
        if resource.get("Condition") in off and name not in leave_out:
            raise FlavourError(f"condition {resource['Condition']} also governs {name}, which is kept")
    for name, expression in template.get("Conditions", {}).items():
        if name not in off and _references(expression) & off:
            raise FlavourError(f"condition {name} depends on {sorted(_references(expression) & off)}")
    used_before = _used(template)
    result = copy.deepcopy(template)
    for name in leave_out:
        del result["Resources"][name]
    for name in off:
        del result["Conditions"][name]
    outputs = result.get("Outputs", {})
    for name in [name for name, output in outputs.items() if output.get("Condition") in off]:
        del outputs[name]
    result = dict(_false_branches(result, off))
    _drop_outputs_of(result, leave_out)
    for section in ("Resources", "Outputs", "Conditions", "Rules"):
        for name, body in result.get(section, {}).items():
            still = _references(body) & leave_out
            if still:
                raise FlavourError(f"{section}.{name} still references {', '.join(sorted(still))}")
    _drop_unused(result, used_before)
    return result


def _drop_outputs_of(template: dict[str, Any], leave_out: set[str]) -> None:
    """Remove the outputs whose value names what is left out and nothing else of the template."""
    outputs = template.get("Outputs", {})
    own = set(template.get("Resources", {})) | set(template.get("Parameters", {}))
    for name in list(outputs):
        named = _references(outputs[name].get("Value"))
        if named & leave_out and not named & own:
            del outputs[name]
    if "Outputs" in template and not outputs:
        del template["Outputs"]


def _drop_unused(template: dict[str, Any], used_before: set[str]) -> None:
    """Remove the conditions and parameters that were used before and no longer are, until none is left;
    AWS::CloudFormation::Interface keeps only the parameters still declared."""
    while True:
        used = _used(template)
        dropped = False
        for section in ("Conditions", "Parameters"):
            entries = template.get(section, {})
            for name in [name for name in entries if name in used_before and name not in used]:
                del entries[name]
                dropped = True
        if not dropped:
            break
    interface = template.get("Metadata", {}).get("AWS::CloudFormation::Interface")
    if not isinstance(interface, dict):
        return
    parameters = set(template.get("Parameters", {}))
    groups = interface.get("ParameterGroups", [])
    for group in groups:
        group["Parameters"] = [name for name in group.get("Parameters", []) if name in parameters]
    interface["ParameterGroups"] = [group for group in groups if group["Parameters"]]
    labels = interface.get("ParameterLabels", {})
    for name in [name for name in labels if name not in parameters]:
        del labels[name]


def _relocated(template: dict[str, Any], source_dir: Path, target_dir: Path) -> dict[str, Any]:
    """`template` with its local artefact paths made relative to `target_dir` instead of `source_dir`."""
    result = copy.deepcopy(template)
    for resource in result.get("Resources", {}).values():
        prop = _PACKAGED_PROPERTY.get(resource.get("Type", ""))
        properties = resource.get("Properties", {})
        value = properties.get(prop) if prop else None
        if isinstance(value, str) and "://" not in value:
            properties[prop] = os.path.relpath(source_dir / value, target_dir)
    metadata = result.get("Metadata", {}).get("AWS::ServerlessRepo::Application", {})
    for key in ("LicenseUrl", "ReadmeUrl"):
        value = metadata.get(key)
        if isinstance(value, str) and "://" not in value:
            metadata[key] = os.path.relpath(source_dir / value, target_dir)
    return result


def write_flavour(source: Path, flavoured: dict[str, Any], target: Path) -> Path:
    """Write `flavoured` (made from `source`) to `target`, paths relative to its new place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    body = _relocated(flavoured, source.parent, target.parent)
    header = f"# Generated by publishing/sar_check.py from {source.parent.name}/{source.name}: do not edit.\n"
    target.write_text(header + yaml.safe_dump(body, sort_keys=False, width=120))
    return target


def nested_locations(template: dict[str, Any], directory: Path) -> dict[str, Path]:
    """Each nested application of `template` (in `directory`) with a local Location: logical ID -> path."""
    children: dict[str, Path] = {}
    for logical_id, resource in template.get("Resources", {}).items():
        location = resource.get("Properties", {}).get("Location")
        if resource.get("Type") == NESTED_APPLICATION and isinstance(location, str) and "://" not in location:
            children[logical_id] = (directory / location).resolve()
    return children


def _outputs_read(template: dict[str, Any], logical_id: str) -> set[str]:
    """The outputs of nested application `logical_id` that `template` reads (Fn::GetAtt or Fn::Sub)."""
    read: set[str] = set()
    for node in _walk(template):
        if not isinstance(node, dict):
            continue
        target = node.get("Fn::GetAtt")
        if isinstance(target, list) and len(target) == 2 and target[0] == logical_id:
            read.add(str(target[1]).removeprefix("Outputs."))
        sub = node.get("Fn::Sub")
        text = sub[0] if isinstance(sub, list) else sub
        if isinstance(text, str):
            prefix = f"${{{logical_id}.Outputs."
            read |= {part.split("}")[0] for part in text.split(prefix)[1:]}
    return read


@dataclass
class Survey:
    """Reports on templates, each nested application's before its parent's, each made once."""

    repo: Path = REPO
    supported: frozenset[str] = field(default_factory=supported_types)
    reports: dict[Path, ComponentReport] = field(default_factory=dict)

    def report(self, path: Path) -> ComponentReport:
        """Whether SAR would take the template at `path` (as is or as a flavour), and why not."""
        key = path.resolve()
        if key not in self.reports:
            self.reports[key] = self._assess(path)
        return self.reports[key]

    def _assess(self, path: Path) -> ComponentReport:
        name = component_name(path, self.repo)
        template = load_template(path)
        refused = {kind: ids for kind, ids in resource_types(template).items() if kind not in self.supported}
        reasons = [f"refused type {kind} ({', '.join(sorted(ids))})" for kind, ids in sorted(refused.items())]
        others = [f"refused IAM grant: {grant}" for grant in refused_grants(template)]
        others += self._nested_reasons(template, path)
        if not reasons and not others:
            return ComponentReport(name, path, True, (), None)
        if others:  # no flavour helps with a refused grant or a child
            return ComponentReport(name, path, False, (*reasons, *others), None)
        return self._flavoured(name, path, template, refused)

    def _nested_reasons(self, template: dict[str, Any], path: Path) -> list[str]:
        """Why the nested applications of `template` stand in the way of publishing it: a child that is not
        publishable, or whose flavour lacks a parameter the parent passes or an output it reads."""
        reasons: list[str] = []
        for logical_id, child_path in sorted(nested_locations(template, path.parent).items()):
            child = self.report(child_path)
            if not child.publishable:
                reasons.append(f"nested application {logical_id} ({child.name}) is not publishable")
                continue
            if child.flavour is None:
                continue
            published = load_template(child.flavour)
            passed = set(template["Resources"][logical_id].get("Properties", {}).get("Parameters", {}))
            lacking = sorted(passed - set(published.get("Parameters", {})))
            lacking += sorted(_outputs_read(template, logical_id) - set(published.get("Outputs", {})))
            if lacking:
                what = f"the {child.name} flavour lacks {', '.join(lacking)}"
                reasons.append(f"nested application {logical_id}: {what}")
        return reasons

    def _flavoured(
        self, name: str, path: Path, template: dict[str, Any], refused: dict[str, set[str]]
    ) -> ComponentReport:
        """The report of a component whose only obstacle is its refused types: publishable as a flavour
        without the resources that make them when these are optional and what remains is all SAR takes."""
        why = tuple(
            f"refused type {kind} ({', '.join(sorted(ids))})" for kind, ids in sorted(refused.items())
        )
        leave_out: set[str] = set().union(*refused.values())
        try:
            flavoured = flavour(template, leave_out)
        except FlavourError as error:
            return ComponentReport(name, path, False, (*why, f"no flavour: {error}"), None)
        still = sorted(kind for kind in resource_types(flavoured) if kind not in self.supported)
        still += refused_grants(flavoured)
        if still:
            return ComponentReport(
                name, path, False, (*why, f"its flavour still has {', '.join(still)}"), None
            )
        described = [f"{r} ({template['Resources'][r]['Type']})" for r in sorted(leave_out)]
        note = f"The Serverless Application Repository flavour: without {', '.join(described)}."
        flavoured["Description"] = f"{flavoured.get('Description', '')} {note}".strip()
        target = write_flavour(path, flavoured, self.repo / FLAVOUR_DIR / f"{name}.yaml")
        return ComponentReport(
            name, path, True, tuple(f"flavour leaves out {what}" for what in described), target
        )


def component_reports(repo: Path = REPO) -> list[ComponentReport]:
    """A report for every component (the root first), writing the flavours into build/sar/."""
    survey = Survey(repo)
    return [survey.report(path) for path in component_templates(repo).values()]


def verdict(report: ComponentReport) -> str:
    """yes, "yes, as flavour" or no."""
    if not report.publishable:
        return "no"
    return "yes, as flavour" if report.flavour is not None else "yes"


def table(reports: list[ComponentReport]) -> str:
    """The reports as a plain-text table: component, publishable, reason."""
    rows = [("component", "publishable", "reason")]
    for report in reports:
        reasons = list(report.reasons) or ["-"]
        rows.append((report.name, verdict(report), reasons[0]))
        rows.extend(("", "", reason) for reason in reasons[1:])
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    return "\n".join(f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c}".rstrip() for a, b, c in rows)


def main(repo: Path = REPO) -> int:
    """Print the table of `repo`'s components; fail when a component that must be publishable is not."""
    logging.getLogger("samtranslator").setLevel(logging.ERROR)  # its metrics warnings, not findings
    reports = component_reports(repo)
    print(table(reports))
    missing = sorted(r.name for r in reports if r.name in REQUIRED_COMPONENTS and not r.publishable)
    if missing:
        print(f"\nmust be publishable but are not: {', '.join(missing)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
