"""docs/publishing.md: its generated part (make sar-check's table, the install command of each part) is
current, and the commands follow the templates."""

from __future__ import annotations

from pathlib import Path

from publishing.docs import DOC, current, generated, sar_capabilities
from publishing.sar_check import load_template
from tests.publishing.planted import REFUSED_VPC, plant


def test_the_document_is_current() -> None:
    written = DOC.read_text()
    assert current(written) == written, "docs/publishing.md is not current: run make publishing-docs"


def test_capabilities_follow_the_types_after_the_transform(tmp_path: Path) -> None:
    repo = plant(tmp_path)
    # The child's function gets a role; the parent nests an application.
    assert sar_capabilities(load_template(repo / "nested/child.yaml")) == ["CAPABILITY_IAM"]
    assert sar_capabilities(load_template(repo / "template.yaml")) == ["CAPABILITY_AUTO_EXPAND"]


def test_published_parts_install_from_sar_and_the_others_with_sam_deploy(tmp_path: Path) -> None:
    published = generated(plant(tmp_path / "published"))
    assert (
        "applications/planted-child \\\n  --semantic-version 1.2.3 \\\n  --capabilities CAPABILITY_IAM"
        in published
    )
    assert "applications/planted-parent" in published
    assert "sam deploy" not in published.split("Not published")[1]
    refused = generated(plant(tmp_path / "refused", REFUSED_VPC))
    assert "create-cloud-formation-change-set" not in refused
    assert "sam build -t nested/child.yaml && sam deploy --stack-name <stack>" in refused
