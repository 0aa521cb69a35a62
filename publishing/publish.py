"""Publish the solution's components to the AWS Serverless Application Repository (SAR), children first.

The components are those `sar_check.component_reports()` finds publishable (through their flavour when they
have one) whose nested applications are all published too. For each, in an order that puts every nested
application before its parent: `sam build` and `sam package` (to S3_BUCKET, or SAM CLI's managed bucket with
--resolve-s3), then each nested `Location` rewritten to the `ApplicationId` and `SemanticVersion` just
published (SAR takes no local or S3 location); then the application is created or, when one of that name
exists, updated and given the version (a version that exists already is reported, not an error). A component
that a published parent nests gets an application policy letting the principal (PRINCIPAL, or the publishing
account) get it and create CloudFormation templates from it.

`--dry-run` (make publish DRY_RUN=1) prints the whole plan and calls no AWS API.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import boto3
import yaml
from botocore.exceptions import ClientError
from samtranslator.yaml_helper import yaml_parse

from publishing.metadata import (
    METADATA_KEY,
    MetadataError,
    application_metadata,
    metadata_problems,
    project_version,
)
from publishing.sar_check import (
    REPO,
    ComponentReport,
    component_reports,
    load_template,
    nested_locations,
)

if TYPE_CHECKING:
    from mypy_boto3_serverlessrepo import ServerlessApplicationRepositoryClient
    from mypy_boto3_serverlessrepo.type_defs import ApplicationPolicyStatementTypeDef
    from mypy_boto3_sts import STSClient

PUBLISH_DIR = Path("build") / "sar" / "publish"
# What a parent's deployer needs of a private nested application (reference A.2: serverlessrepo guide,
# resource-based policy example 8).
NESTED_ACTIONS = ("GetApplication", "CreateCloudFormationTemplate")
POLICY_STATEMENT_ID = "NestedDeployment"
PRINCIPAL = re.compile(r"[0-9]{12}|\*")
# How SAR names an application in a ConflictException's message (aws-serverlessrepo-python's parser).
APPLICATION_ID = re.compile(r"arn:[\w\-]+:serverlessrepo:[\w\-]+:[0-9]+:applications/\S+")
PUBLISHING_ACCOUNT = "<publishing account>"
CONFLICT = "ConflictException"


class PublishError(RuntimeError):
    """A component cannot be published as planned."""


@dataclass(frozen=True)
class Step:
    """One component to publish."""

    report: ComponentReport
    template: Path  # what is built: its flavour, or its source template
    application: dict[str, Any]  # its AWS::ServerlessRepo::Application metadata
    nested: dict[str, str]  # each nested application's logical ID -> the component it is

    @property
    def name(self) -> str:
        """The component's name (sar_check's)."""
        return self.report.name


@dataclass(frozen=True)
class Plan:
    """What publishing does: the components in publishing order, and those left out with the reasons."""

    version: str
    steps: tuple[Step, ...]
    skipped: tuple[tuple[str, tuple[str, ...]], ...]

    @property
    def nested_by_parents(self) -> dict[str, list[str]]:
        """Each published component a published parent nests, with those parents."""
        parents: dict[str, list[str]] = {}
        for step in self.steps:
            for child in sorted(set(step.nested.values())):
                parents.setdefault(child, []).append(step.name)
        return parents


@dataclass(frozen=True)
class Published:
    """A component's application and version in SAR, and what publishing did."""

    component: str
    application_id: str
    version: str
    outcome: str  # "created", "new version" or "already published"

    @property
    def location(self) -> dict[str, str]:
        """How a parent names it as a nested application."""
        return {"ApplicationId": self.application_id, "SemanticVersion": self.version}


@dataclass(frozen=True)
class Settings:
    """Where and how to publish."""

    repo: Path
    region: str
    bucket: str | None  # None: sam package --resolve-s3
    prefix: str | None
    principals: tuple[str, ...]  # empty: the publishing account


def _step(report: ComponentReport, components: dict[Path, str], version: str) -> Step:
    """A report as a step, its metadata checked and its nested applications named by component."""
    built = report.flavour or report.template
    template = load_template(built)
    metadata = application_metadata(template, str(built))
    problems = metadata_problems(metadata, built.parent, version)
    if problems:
        raise MetadataError(f"{built}: {'; '.join(problems)}")
    nested: dict[str, str] = {}
    for logical_id, path in nested_locations(template, built.parent).items():
        if path not in components:
            raise PublishError(f"{built}: nested application {logical_id} is {path}, not a component")
        nested[logical_id] = components[path]
    return Step(report, built, metadata, nested)


def make_plan(reports: Sequence[ComponentReport], version: str) -> Plan:
    """The publishing order (every nested application before its parents, then the reports' order) of the
    components that are publishable and whose nested applications all are; the others with the reasons."""
    components = {report.template.resolve(): report.name for report in reports}
    by_name = {report.name: report for report in reports}
    steps: dict[str, Step] = {}
    skipped: dict[str, tuple[str, ...]] = {}

    visiting: set[str] = set()

    def visit(name: str) -> bool:
        if name in steps or name in skipped:
            return name in steps
        if name in visiting:
            raise PublishError(f"{name} nests itself")
        report = by_name[name]
        if not report.publishable:
            skipped[name] = report.reasons
            return False
        step = _step(report, components, version)
        visiting.add(name)
        left_out = tuple(
            f"nested application {logical_id} ({child}) is not published"
            for logical_id, child in step.nested.items()
            if not visit(child)
        )
        visiting.discard(name)
        if left_out:
            skipped[name] = left_out
            return False
        steps[name] = step
        return True

    for report in reports:
        visit(report.name)
    ordered_skips = tuple((report.name, skipped[report.name]) for report in reports if report.name in skipped)
    return Plan(version, tuple(steps.values()), ordered_skips)


def application_arn(region: str, account: str, name: str) -> str:
    """The ApplicationId SAR gives an application (the form of its ARNs)."""
    return f"arn:aws:serverlessrepo:{region}:{account}:applications/{name}"


def nested_statement(principals: Sequence[str]) -> ApplicationPolicyStatementTypeDef:
    """The application policy statement that lets `principals` deploy the application nested in another."""
    return {
        "StatementId": POLICY_STATEMENT_ID,
        "Principals": list(principals),
        "Actions": list(NESTED_ACTIONS),
    }


def _relative(path: Path, repo: Path) -> str:
    return str(path.relative_to(repo)) if path.is_relative_to(repo) else str(path)


def describe(plan: Plan, settings: Settings, dry_run: bool) -> str:
    """The plan as text: the components in order with their versions, templates, rewritten locations and
    policies, how each is built and published, and what is not published and why."""
    repo = settings.repo
    principals = list(settings.principals) or [PUBLISHING_ACCOUNT]
    if settings.bucket:
        artefacts = f"s3://{settings.bucket}/{settings.prefix or ''} (sam package --s3-bucket)"
    else:
        artefacts = "SAM CLI's managed bucket (sam package --resolve-s3)"
    lines = [f"SAR publishing plan: version {plan.version} (pyproject.toml), region {settings.region}"]
    if dry_run:
        lines.append("DRY RUN: nothing is built, uploaded or published; no AWS API is called.")
    lines += [
        f"Artefacts: {artefacts}",
        f"Nested applications may be deployed by: {', '.join(principals)}",
        "",
        "Publish, in this order (nested applications before their parents):",
    ]
    parents = plan.nested_by_parents
    names = {step.name: step.application["Name"] for step in plan.steps}
    for number, step in enumerate(plan.steps, start=1):
        lines.append(f"{number:>3}. {step.name}: SAR application {step.application['Name']} {plan.version}")
        if step.report.flavour:
            flavour = f"{_relative(step.template, repo)}, flavour of {_relative(step.report.template, repo)}"
            lines.append(f"       template {flavour}: {'; '.join(step.report.reasons)}")
        else:
            lines.append(f"       template {_relative(step.template, repo)}")
        for logical_id, child in step.nested.items():
            arn = application_arn(settings.region, PUBLISHING_ACCOUNT, names[child])
            location = f"{{ApplicationId: {arn}, SemanticVersion: {plan.version}}}"
            lines.append(f"       nested {logical_id} ({child}): Location -> {location}")
        work = _relative(settings.repo / PUBLISH_DIR / step.name, repo)
        lines.append(f"       sam build, sam package, Locations rewritten: {work}/template.yaml")
        lines.append("       create_application, or update_application and create_application_version")
        if step.name in parents:
            lines.append(
                f"       put_application_policy (nested by {', '.join(parents[step.name])}): "
                f"StatementId {POLICY_STATEMENT_ID}, Principals {principals}, Actions {list(NESTED_ACTIONS)}"
            )
    lines += ["", "Not published (installed with sam deploy: docs/publishing.md):"]
    if not plan.skipped:
        lines.append("  none")
    for name, reasons in plan.skipped:
        lines.append(f"  {name}: {reasons[0]}")
        lines.extend(f"  {' ' * len(name)}  {reason}" for reason in reasons[1:])
    return "\n".join(lines)


def _run(command: list[str], cwd: Path) -> None:
    """Run a SAM CLI command, failing loudly."""
    print("$ " + " ".join(command), flush=True)
    subprocess.run(command, cwd=cwd, check=True, env=os.environ | {"SAM_CLI_TELEMETRY": "0"})  # noqa: S603


def package(
    step: Step,
    locations: dict[str, dict[str, str]],
    settings: Settings,
    run: Callable[[list[str], Path], None],
) -> Path:
    """`sam build` and `sam package` the step's template, then name each nested application by the
    ApplicationId and SemanticVersion in `locations` (sam package leaves a local child an S3 URL, which SAR
    refuses). Rewriting after packaging keeps both commands off SAR: on a SAR-hosted nested application,
    sam build's SAM transform calls serverlessrepo:CreateCloudFormationTemplate. Returns the template to
    publish."""
    work = settings.repo / PUBLISH_DIR / step.name
    sam = str(Path(sys.executable).with_name("sam"))
    built = work / "build"
    run([sam, "build", "--template-file", str(step.template), "--build-dir", str(built)], settings.repo)
    packaged = work / "packaged.yaml"
    destination = ["--s3-bucket", settings.bucket] if settings.bucket else ["--resolve-s3"]
    if settings.bucket and settings.prefix:
        destination += ["--s3-prefix", settings.prefix]
    command = [sam, "package", "--template-file", str(built / "template.yaml"), *destination]
    run([*command, "--output-template-file", str(packaged), "--region", settings.region], settings.repo)
    template = load_template(packaged)
    for logical_id, location in locations.items():
        template["Resources"][logical_id]["Properties"]["Location"] = location
    publishable = work / "template.yaml"
    publishable.write_text(yaml.safe_dump(template, sort_keys=False, width=120))
    return publishable


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def find_application(sar: ServerlessApplicationRepositoryClient, name: str) -> str | None:
    """The ApplicationId of the publishing account's application called `name`, if there is one."""
    for page in sar.get_paginator("list_applications").paginate():
        for summary in page.get("Applications", []):
            if summary["Name"] == name:
                return summary["ApplicationId"]
    return None


def publish_application(sar: ServerlessApplicationRepositoryClient, packaged: str) -> tuple[str, str]:
    """Publish a packaged template: create its application, or update the one of its name and create the
    version. Returns the ApplicationId and the outcome ("created", "new version", "already published")."""
    template = dict(yaml_parse(packaged))
    metadata = template["Metadata"].pop(METADATA_KEY)
    if not template["Metadata"]:
        del template["Metadata"]
    body = yaml.safe_dump(template, sort_keys=False)
    version = metadata["SemanticVersion"]
    application_id = find_application(sar, metadata["Name"])
    if application_id is None:
        try:
            created = sar.create_application(**metadata, TemplateBody=body)
            return created["ApplicationId"], "created"
        except ClientError as error:
            if _error_code(error) != CONFLICT:
                raise
            found = APPLICATION_ID.search(str(error.response.get("Error", {}).get("Message", "")))
            application_id = found.group(0) if found else find_application(sar, metadata["Name"])
            if application_id is None:
                raise PublishError(
                    f"{metadata['Name']} exists, but its ApplicationId is not known"
                ) from error
    updatable = ("Author", "Description", "HomePageUrl", "Labels", "ReadmeUrl")
    sar.update_application(
        ApplicationId=application_id, **{k: v for k, v in metadata.items() if k in updatable}
    )
    source = {"SourceCodeUrl": metadata["SourceCodeUrl"]} if "SourceCodeUrl" in metadata else {}
    try:
        sar.create_application_version(
            ApplicationId=application_id, SemanticVersion=version, TemplateBody=body, **source
        )
    except ClientError as error:
        if _error_code(error) != CONFLICT:
            raise
        return application_id, "already published"
    return application_id, "new version"


def allow_nested_deployment(
    sar: ServerlessApplicationRepositoryClient, application_id: str, principals: Sequence[str]
) -> list[ApplicationPolicyStatementTypeDef]:
    """Let `principals` deploy the application nested in a parent: the statement NestedDeployment replaces
    its earlier self, other statements are kept. Returns the policy put."""
    current = sar.get_application_policy(ApplicationId=application_id).get("Statements", [])
    # What GetApplicationPolicy returns is what PutApplicationPolicy takes (the stubs type them apart).
    kept = [
        cast("ApplicationPolicyStatementTypeDef", s)
        for s in current
        if s.get("StatementId") != POLICY_STATEMENT_ID
    ]
    statements = [*kept, nested_statement(principals)]
    sar.put_application_policy(ApplicationId=application_id, Statements=statements)
    return statements


def publish(
    plan: Plan,
    settings: Settings,
    sar: ServerlessApplicationRepositoryClient,
    principals: Callable[[], Sequence[str]],
    run: Callable[[list[str], Path], None] = _run,
) -> list[Published]:
    """Publish the plan's components in order; each parent names what was just published for its nested
    applications, and every component a parent nests gets the nested-deployment policy first."""
    published: dict[str, Published] = {}
    parents = plan.nested_by_parents
    for step in plan.steps:
        locations = {logical_id: published[child].location for logical_id, child in step.nested.items()}
        packaged = package(step, locations, settings, run)
        application_id, outcome = publish_application(sar, packaged.read_text())
        done = Published(step.name, application_id, plan.version, outcome)
        published[step.name] = done
        print(f"{step.name}: {outcome} {application_id} {plan.version}", flush=True)
        if step.name in parents:
            statements = allow_nested_deployment(sar, application_id, principals())
            print(f"{step.name}: application policy {statements}", flush=True)
    return list(published.values())


def publishing_account(sts: STSClient) -> Callable[[], Sequence[str]]:
    """The account the credentials belong to (one sts:GetCallerIdentity call, made when first needed)."""

    @cache
    def lookup() -> Sequence[str]:
        return (sts.get_caller_identity()["Account"],)

    return lookup


def _principals(value: str) -> tuple[str, ...]:
    principals = tuple(part.strip() for part in value.split(",") if part.strip())
    wrong = [p for p in principals if not PRINCIPAL.fullmatch(p)]
    if wrong:
        raise argparse.ArgumentTypeError(f"not a 12-digit account ID or *: {', '.join(wrong)}")
    return principals


def main(argv: Sequence[str] | None = None) -> int:
    """Print the plan; unless --dry-run, publish it."""
    parser = argparse.ArgumentParser(
        prog="make publish", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--dry-run", action="store_true", help="print the plan only; no AWS API is called")
    parser.add_argument("--s3-bucket", help="the artefact bucket (default: sam package --resolve-s3)")
    parser.add_argument("--s3-prefix", help="a key prefix in the artefact bucket")
    parser.add_argument(
        "--principal", type=_principals, default=(), help="account IDs (comma-separated) or *"
    )
    parser.add_argument(
        "--region", default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    )
    parser.add_argument("--repo", type=Path, default=REPO, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.getLogger("samtranslator").setLevel(logging.ERROR)  # its metrics and feature-toggle chatter
    if not args.region:
        parser.error("no region: set AWS_REGION or pass --region")
    settings = Settings(args.repo.resolve(), args.region, args.s3_bucket, args.s3_prefix, args.principal)
    plan = make_plan(component_reports(settings.repo), project_version(settings.repo / "pyproject.toml"))
    print(describe(plan, settings, args.dry_run), flush=True)
    if args.dry_run:
        return 0
    sar = boto3.client("serverlessrepo", region_name=settings.region)
    principals = (
        (lambda: settings.principals)
        if settings.principals
        else publishing_account(boto3.client("sts", region_name=settings.region))
    )
    results = publish(plan, settings, sar, principals)
    print(f"published {len(results)} of {len(plan.steps) + len(plan.skipped)} components", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
