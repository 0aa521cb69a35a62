"""Every template's AWS::ServerlessRepo::Application metadata: within SAR's limits, and one version for all
(pyproject.toml's [project] version)."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import pytest

from publishing.metadata import METADATA_KEY, application_metadata, metadata_problems, project_version
from publishing.sar_check import REPO, component_reports, component_templates, load_template
from tests.publishing.planted import VERSION, plant

PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
TEMPLATES = component_templates()


def metadata_of(path: Path) -> dict[str, Any]:
    return application_metadata(load_template(path), str(path))


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_every_template_has_metadata_sar_takes(name: str) -> None:
    path = TEMPLATES[name]
    assert metadata_problems(metadata_of(path), path.parent, project_version()) == []


def test_every_template_carries_the_one_version() -> None:
    versions = {name: metadata_of(path)["SemanticVersion"] for name, path in TEMPLATES.items()}
    assert set(versions.values()) == {PROJECT["version"]}, versions


def test_each_component_has_its_own_name() -> None:
    names = {name: metadata_of(path)["Name"] for name, path in TEMPLATES.items()}
    assert names.pop("root") == "streaming-data-solution-for-amazon-msk"
    assert names == {name: f"streaming-msk-{name.removeprefix('msk-')}" for name in names}
    assert len(set(names.values())) == len(names)


def test_urls_author_and_licence_agree_across_templates_and_pyproject() -> None:
    for path in TEMPLATES.values():
        metadata = metadata_of(path)
        assert metadata["HomePageUrl"] == PROJECT["urls"]["Homepage"], path
        assert metadata["SourceCodeUrl"] == PROJECT["urls"]["Source"], path
        assert metadata["SpdxLicenseId"] == PROJECT["license"], path
        assert metadata["Author"] == "streaming-data-solution", path
        assert (path.parent / metadata["LicenseUrl"]).resolve() == REPO / "LICENSE", path


def test_a_readme_per_component_from_docs_where_there_is_a_page() -> None:
    readmes = {
        name: (path.parent / metadata_of(path)["ReadmeUrl"]).resolve() for name, path in TEMPLATES.items()
    }
    assert readmes["kafka-function"] == REPO / "docs/options/lambda-consumer.md"
    assert readmes["firehose-delivery"] == REPO / "docs/options/lambda-firehose-s3.md"
    assert readmes["ingest-api"] == REPO / "docs/options/cluster-with-rest-api.md"
    assert readmes["flink-analytics"] == REPO / "docs/options/flink-s3.md"
    assert readmes["monitoring"] == REPO / "docs/monitoring.md"
    assert readmes["root"] == REPO / "README.md"


def test_flavours_keep_metadata_sar_takes() -> None:
    # A flavour lives in build/sar/: its licence and readme paths must still reach the files.
    flavoured = [report for report in component_reports() if report.flavour is not None]
    for report in flavoured:
        assert report.flavour is not None
        metadata = metadata_of(report.flavour)
        assert metadata_problems(metadata, report.flavour.parent, project_version()) == [], report.name
        assert metadata == {
            **metadata_of(report.template),
            **{key: metadata[key] for key in ("LicenseUrl", "ReadmeUrl")},
        }


def test_the_version_is_read_from_pyproject(tmp_path: Path) -> None:
    plant(tmp_path)
    assert project_version(tmp_path / "pyproject.toml") == VERSION


GOOD = {
    "Name": "streaming-msk-kafka-function",
    "Description": "A function.",
    "Author": "streaming-data-solution",
    "SpdxLicenseId": "Apache-2.0",
    "LicenseUrl": "LICENSE",
    "ReadmeUrl": "README.md",
    "Labels": ["msk", "kafka"],
    "HomePageUrl": "https://example.com/home",
    "SemanticVersion": VERSION,
    "SourceCodeUrl": "https://example.com/source",
}


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("Name", "streaming_msk", "Name 'streaming_msk' is not 1-140"),
        ("Name", "n" * 141, "is not 1-140 of"),
        ("Name", "", "is not 1-140 of"),
        ("Description", "d" * 257, "Description has 257 characters, 1-256 allowed"),
        ("Description", "", "Description has 0 characters"),
        ("Author", "Streaming", "Author 'Streaming' is not 1-127"),
        ("Author", "streaming--data", "single inner hyphens"),
        ("Author", "-streaming", "single inner hyphens"),
        ("Author", "a" * 128, "single inner hyphens"),
        ("Labels", [f"label{n}" for n in range(11)], "11 labels, at most 10"),
        ("Labels", ["has space"], "label 'has space' is not 1-127"),
        ("Labels", ["l" * 128], "is not 1-127 of"),
        ("Labels", "msk", "Labels must be a list of plain strings"),
        ("LicenseUrl", "NO-SUCH-LICENCE", "LicenseUrl NO-SUCH-LICENCE: no such file"),
        ("ReadmeUrl", "NO-SUCH-README.md", "ReadmeUrl NO-SUCH-README.md: no such file"),
        ("HomePageUrl", "example.com", "HomePageUrl 'example.com' is not an https URL"),
        ("HomePageUrl", {"Fn::Sub": "https://${AWS::Region}"}, "HomePageUrl must be a plain string"),
        ("SemanticVersion", "1.2", "SemanticVersion '1.2' is not a semantic version"),
        ("SemanticVersion", "9.9.9", "SemanticVersion 9.9.9 is not the solution's version 1.2.3"),
        ("SpdxLicenseId", "Apache 2.0", "SpdxLicenseId 'Apache 2.0' is not an SPDX identifier"),
        ("Version", "1.2.3", "unknown field Version"),
    ],
)
def test_each_limit_is_reported(tmp_path: Path, field: str, value: Any, problem: str) -> None:
    plant(tmp_path)
    metadata = copy.deepcopy(GOOD) | {field: value}
    problems = metadata_problems(metadata, tmp_path, VERSION)
    assert len(problems) == 1, problems
    assert problem in problems[0]


def test_good_metadata_has_no_problem_and_a_missing_field_is_named(tmp_path: Path) -> None:
    plant(tmp_path)
    assert metadata_problems(GOOD, tmp_path, VERSION) == []
    missing = {key: value for key, value in GOOD.items() if key != "Author"}
    assert metadata_problems(missing, tmp_path, VERSION) == ["Author is required"]


def test_a_template_without_metadata_is_refused() -> None:
    with pytest.raises(ValueError, match=METADATA_KEY):
        application_metadata({"Resources": {}}, "planted.yaml")
