"""A planted repository for the publishing tests: a parent template nesting a child template (a function with
code), each with its SAR metadata, a licence, a readme and a pyproject.toml holding the version."""

from __future__ import annotations

from pathlib import Path

VERSION = "1.2.3"
AUTHOR = "planted-author"
HOME = "https://example.com/planted"

_METADATA = """\
Metadata:
  AWS::ServerlessRepo::Application:
    Name: {name}
    Description: The planted {role} application.
    Author: {author}
    SpdxLicenseId: Apache-2.0
    LicenseUrl: {up}LICENSE
    ReadmeUrl: {up}README.md
    Labels: [planted, {role}]
    HomePageUrl: {home}
    SemanticVersion: {version}
    SourceCodeUrl: {home}
"""

CHILD = (
    """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Description: planted child
"""
    + _METADATA.format(
        name="planted-child", role="child", up="../", author=AUTHOR, home=HOME, version=VERSION
    )
    + """\
Resources:
  Function:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: ../src/
      Handler: app.handler
      Runtime: python3.13
      Architectures: [arm64]
{extra}
Outputs:
  FunctionArn:
    Value: !GetAtt Function.Arn
"""
)

PARENT = (
    """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Description: planted parent
"""
    + _METADATA.format(name="planted-parent", role="parent", up="", author=AUTHOR, home=HOME, version=VERSION)
    + """\
Resources:
  Child:
    Type: AWS::Serverless::Application
    Properties:
      Location: nested/child.yaml
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      DisplayName: !GetAtt Child.Outputs.FunctionArn
"""
)

# A resource type SAR does not take (not on the kept list), mandatory: the child cannot be published.
REFUSED_VPC = """\
  Vpc:
    Type: AWS::EC2::VPC
    Properties:
      CidrBlock: 10.0.0.0/16
"""


def plant(repo: Path, child_extra: str = "") -> Path:
    """Write the planted repository into `repo` (the child with `child_extra` resources added)."""
    (repo / "nested").mkdir(parents=True, exist_ok=True)
    (repo / "src").mkdir(exist_ok=True)
    (repo / "src" / "app.py").write_text("def handler(event, context):\n    return event\n")
    (repo / "LICENSE").write_text("Apache License 2.0 (planted)\n")
    (repo / "README.md").write_text("# Planted\n")
    (repo / "pyproject.toml").write_text(f'[project]\nname = "planted"\nversion = "{VERSION}"\n')
    (repo / "template.yaml").write_text(PARENT)
    (repo / "nested" / "child.yaml").write_text(CHILD.format(extra=child_extra))
    return repo
