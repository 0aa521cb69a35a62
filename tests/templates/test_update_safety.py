"""What CloudFormation refuses on a stack update that no linter sees: a template that keeps a logical ID but
changes its resource's type fails the change set ("Update of resource type is not permitted. The new template
modifies resource type of the following resources: [...]", aws/aws-sam-cli#6786; for a custom resource type,
panther-labs/panther#1895). A resource whose type must change takes a new logical ID instead.

Every template's resources are compared with every earlier version of the same file in the repository's
history (a deployed stack may have been created from any of them).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from pathlib import Path

from samtranslator.yaml_helper import yaml_parse

from tests.templates.sam_offline import ALL_TEMPLATES, REPO


def resource_types(text: str) -> dict[str, str]:
    """Logical ID -> resource type of a template's text."""
    resources = (yaml_parse(text) or {}).get("Resources", {}) or {}
    return {name: str(resource.get("Type")) for name, resource in resources.items()}


def type_changes(current: dict[str, str], earlier: Iterable[tuple[str, dict[str, str]]]) -> list[str]:
    """The resources of `current` whose logical ID had another type in an earlier version (version, types)."""
    return [
        f"{name}: {before} in {version}, {kind} now"
        for version, types in earlier
        for name, kind in current.items()
        if (before := types.get(name)) is not None and before != kind
    ]


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=REPO, check=True, capture_output=True, text=True).stdout


def _earlier_versions(path: Path) -> list[tuple[str, dict[str, str]]]:
    relative = path.relative_to(REPO).as_posix()
    commits = _git("log", "--format=%h", "--", relative).split()
    return [(commit, resource_types(_git("show", f"{commit}:{relative}"))) for commit in commits]


def test_the_history_is_there_to_compare_with() -> None:
    # A shallow clone would make the next test compare with nothing
    assert _git("rev-parse", "--is-shallow-repository").strip() == "false"
    assert len(_earlier_versions(REPO / "template.yaml")) > 1


def test_no_template_changes_the_type_of_a_resource_it_keeps() -> None:
    changed = {
        path.name: problems
        for path in ALL_TEMPLATES
        if (problems := type_changes(resource_types(path.read_text()), _earlier_versions(path)))
    }
    assert changed == {}


def test_a_changed_type_under_the_same_logical_id_is_reported() -> None:
    # Given a custom resource whose type became the literal custom resource type under the same ID
    earlier = [("abc1234", {"Lookup": "Custom::BootstrapBrokers", "Function": "AWS::Serverless::Function"})]
    current = {"Lookup": "AWS::CloudFormation::CustomResource", "Function": "AWS::Serverless::Function"}
    # Then it is reported; a new logical ID for the new type is not
    assert type_changes(current, earlier) == [
        "Lookup: Custom::BootstrapBrokers in abc1234, AWS::CloudFormation::CustomResource now"
    ]
    renamed = {"BrokerLookup": "AWS::CloudFormation::CustomResource", "Function": "AWS::Serverless::Function"}
    assert type_changes(renamed, earlier) == []
