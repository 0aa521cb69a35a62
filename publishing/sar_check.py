"""Which components the AWS Serverless Application Repository (SAR) would take, and why not.

SAR checks every resource type of a template after the SAM transform (whatever its conditions) against its list
of supported types, and refuses templates that attach AWSLambda_FullAccess or grant iam:*, iam:PutRolePolicy or
iam:AttachRolePolicy on "*" in inline policies. `component_reports` applies both checks to the root template and
to every nested template; a component whose refused resources are all optional gets a flavour: the same
template without them, generated into build/sar/<name>.yaml.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
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


class _ShippedManagedPolicies:
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
    return dict(transform(marked, {}, _ShippedManagedPolicies(), passthrough_metadata=True))  # type: ignore[arg-type]


def _source_of(logical_id: str, resource: dict[str, Any], sources: dict[str, Any]) -> str:
    """The source resource a transformed resource came from (its mark, else the longest source ID it starts
    with: SAM names what it generates after its source)."""
    mark = resource.get("Metadata", {}).get(_SOURCE_MARK)
    if isinstance(mark, str):
        return mark
    prefixes = [source for source in sources if logical_id.startswith(source)]
    return max(prefixes, key=len) if prefixes else logical_id


def resource_types(template: dict[str, Any]) -> dict[str, set[str]]:
    """Every resource type SAR sees in `template` (after the transform), with the source resources that make
    it. A nested application stays AWS::Serverless::Application: a published parent names its children by
    ApplicationId and SemanticVersion, which SAR takes."""
    sources = template.get("Resources", {})
    types: dict[str, set[str]] = {}
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
        return [policy.get("PolicyDocument") for policy in _walk(properties.get("Policies")) if isinstance(policy, dict)]
    return []


def refused_grants(template: dict[str, Any]) -> list[str]:
    """The IAM grants SAR refuses in `template` after the transform (SAM policy templates included)."""
    found: list[str] = []
    for logical_id, resource in sorted(transformed(template).get("Resources", {}).items()):
        properties = resource.get("Properties", {})
        if resource.get("Type") in _IAM_IDENTITIES and any(
            value.endswith(f"/{REFUSED_MANAGED_POLICY}") for value in _strings(properties.get("ManagedPolicyArns"))
        ):
            found.append(f"{logical_id} attaches {REFUSED_MANAGED_POLICY}")
        for document in _policy_documents(resource):
            for statement in _statements(document):
                action = _refused_action(statement)
                if action:
                    found.append(f'{logical_id} grants {action} on "*"')
    return sorted(set(found))


def _references(node: Any) -> set[str]:
    """The logical IDs and parameters `node` names (Ref, Fn::GetAtt, Fn::Sub, DependsOn) and the conditions it
    names (Condition, Fn::If)."""
    names: set[str] = set()
    for value in _walk(node):
        if not isinstance(value, dict):
            continue
        for key, argument in value.items():
            if key == "Ref" and isinstance(argument, str):
                names.add(argument)
            elif key == "Fn::GetAtt":
                target = argument[0] if isinstance(argument, list) else str(argument).split(".")[0]
                names.add(str(target))
            elif key == "Fn::Sub":
                text = argument[0] if isinstance(argument, list) else argument
                if isinstance(text, str):
                    names.update(_sub_names(text))
            elif key in ("Condition", "Fn::If") and argument:
                names.add(str(argument[0] if isinstance(argument, list) else argument))
            elif key == "DependsOn":
                names.update(_strings(argument))
    return names


def _sub_names(text: str) -> set[str]:
    names: set[str] = set()
    for part in text.split("${")[1:]:
        name = part.split("}")[0]
        if not name.startswith("!"):
            names.add(name.split(".")[0])
    return names


def flavour(template: dict[str, Any], leave_out: set[str]) -> dict[str, Any]:
    """`template` without the resources `leave_out`, the outputs that name only them, and the conditions and
    parameters nothing left uses. Raises FlavourError if another resource, a kept output or a rule still
    references one of them."""
    result = copy.deepcopy(template)
    resources_ = result.get("Resources", {})
    missing = leave_out - set(resources_)
    if missing:
        raise FlavourError(f"no such resources: {sorted(missing)}")
    for logical_id in leave_out:
        del resources_[logical_id]
    outputs = result.get("Outputs", {})
    for name in [name for name, output in outputs.items() if _references(output) & leave_out]:
        if _references(outputs[name]) - leave_out - _declared(result) - set(template.get("Resources", {})):
            raise FlavourError(f"output {name} names {sorted(_references(outputs[name]) & leave_out)} and more")
        del outputs[name]
    for section in ("Resources", "Outputs", "Rules", "Conditions"):
        for name, body in result.get(section, {}).items():
            still = _references(body) & leave_out
            if still:
                raise FlavourError(f"{section}.{name} still references {sorted(still)}")
    _drop_unused(result, "Conditions")
    _drop_unused(result, "Parameters")
    if not result.get("Outputs"):
        result.pop("Outputs", None)
    return result


def _declared(template: dict[str, Any]) -> set[str]:
    return set(template.get("Parameters", {})) | set(template.get("Conditions", {}))


def _drop_unused(template: dict[str, Any], section: str) -> None:
    """Remove the entries of `section` nothing else in the template names, until none is left to remove."""
    while True:
        entries = template.get(section, {})
        used: set[str] = set()
        for key, body in template.items():
            if key == "Metadata":
                continue
            if key == section:
                for name, entry in body.items():
                    used |= _references(entry) - {name}
            else:
                used |= _references(body)
        unused = [name for name in entries if name not in used]
        if not unused:
            break
        for name in unused:
            del entries[name]
    _drop_from_interface(template)


def _drop_from_interface(template: dict[str, Any]) -> None:
    """Keep AWS::CloudFormation::Interface's parameter groups and labels to the parameters still declared."""
    interface = template.get("Metadata", {}).get("AWS::CloudFormation::Interface")
    if not isinstance(interface, dict):
        return
    parameters = set(template.get("Parameters", {}))
    for group in interface.get("ParameterGroups", []):
        group["Parameters"] = [name for name in group.get("Parameters", []) if name in parameters]
    interface["ParameterGroups"] = [group for group in interface.get("ParameterGroups", []) if group["Parameters"]]
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
    header = f"# Generated by publishing/sar_check.py from {source.name}: do not edit.\n"
    target.write_text(header + yaml.safe_dump(body, sort_keys=False, width=120))
    return target


def _check(template: dict[str, Any], supported: frozenset[str]) -> tuple[dict[str, set[str]], list[str]]:
    """The refused types (with their source resources) and the refused grants of `template`."""
    refused = {kind: ids for kind, ids in resource_types(template).items() if kind not in supported}
    return refused, refused_grants(template)


def _nested_children(template: dict[str, Any], directory: Path) -> dict[str, Path]:
    children: dict[str, Path] = {}
    for logical_id, resource in template.get("Resources", {}).items():
        location = resource.get("Properties", {}).get("Location")
        if resource.get("Type") == NESTED_APPLICATION and isinstance(location, str) and "://" not in location:
            children[logical_id] = (directory / location).resolve()
    return children


def _report(
    name: str, path: Path, repo: Path, supported: frozenset[str], done: dict[Path, ComponentReport]
) -> ComponentReport:
    template = load_template(path)
    refused, grants = _check(template, supported)
    reasons = [f"refused type {kind} ({', '.join(sorted(ids))})" for kind, ids in sorted(refused.items())]
    reasons += [f"refused IAM grant: {grant}" for grant in grants]
    for logical_id, child_path in sorted(_nested_children(template, path.parent).items()):
        child = done.get(child_path) or _report(component_name(child_path, repo), child_path, repo, supported, done)
        if not child.publishable:
            reasons.append(f"nested application {logical_id} ({child.name}) is not publishable")
        elif child.flavour is not None:
            passed = set(template["Resources"][logical_id].get("Properties", {}).get("Parameters", {}))
            unknown = passed - set(load_template(child.flavour).get("Parameters", {}))
            if unknown:
                reasons.append(f"nested application {logical_id} passes {sorted(unknown)} its flavour lacks")
    if not reasons:
        report = ComponentReport(name, path, True, (), None)
    else:
        report = _flavoured(name, path, template, refused, grants, reasons, repo, supported)
    done[path.resolve()] = report
    return report


def _flavoured(
    name: str,
    path: Path,
    template: dict[str, Any],
    refused: dict[str, set[str]],
    grants: list[str],
    reasons: list[str],
    repo: Path,
    supported: frozenset[str],
) -> ComponentReport:
    """The report of a component SAR refuses as is: publishable through a flavour when every refused resource
    is optional (has a Condition) and nothing else stands in the way."""
    resources_ = template.get("Resources", {})
    leave_out = set().union(*refused.values()) if refused else set()
    mandatory = sorted(r for r in leave_out if "Condition" not in resources_.get(r, {}))
    if grants or mandatory or len(reasons) > sum(1 for _ in refused.items()):
        extra = [f"{r} is not optional" for r in mandatory]
        return ComponentReport(name, path, False, (*reasons, *extra), None)
    try:
        flavoured = flavour(template, leave_out)
    except FlavourError as error:
        return ComponentReport(name, path, False, (*reasons, f"no flavour: {error}"), None)
    still, still_grants = _check(flavoured, supported)
    if still or still_grants:
        left = sorted(still) + still_grants
        return ComponentReport(name, path, False, (*reasons, f"the flavour still has {left}"), None)
    target = write_flavour(path, flavoured, repo / FLAVOUR_DIR / f"{name}.yaml")
    left_out = [f"flavour leaves out {r} ({resources_[r]['Type']})" for r in sorted(leave_out)]
    return ComponentReport(name, path, True, tuple(left_out), target)


def component_reports(repo: Path = REPO) -> list[ComponentReport]:
    """A report for every component (the root first), writing the flavours into build/sar/."""
    supported = supported_types()
    done: dict[Path, ComponentReport] = {}
    for name, path in component_templates(repo).items():
        if path.resolve() not in done:
            _report(name, path, repo, supported, done)
    order = [path.resolve() for path in component_templates(repo).values()]
    return [done[path] for path in order]


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


def main() -> int:
    """Print the table; fail when a component that must be publishable is not."""
    reports = component_reports()
    print(table(reports))  # noqa: T201
    missing = sorted(r.name for r in reports if r.name in REQUIRED_COMPONENTS and not r.publishable)
    if missing:
        print(f"\nmust be publishable but are not: {', '.join(missing)}", file=sys.stderr)  # noqa: T201
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
