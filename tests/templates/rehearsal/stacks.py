"""A packaged template's stack, and its nested stacks at any depth, created in moto's CloudFormation in the
order CloudFormation would create them, then deleted.

CloudFormation runs each stack's SAM transform and creates a nested stack as one resource of its parent.
moto does neither: here each stack's packaged template is transformed (tests/templates/sam_offline.py), and
each nested stack is created as its own moto stack, with the parameter values its parent passes (evaluated
by local.cfn). In the parent, a nested stack stands in as a placeholder, and the parent reads the real nested
stack's outputs. When a nested stack needs values of its parent's own resources, the parent is created with
just those resources first (their values read back through temporary outputs), then updated with the rest.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from graphlib import TopologicalSorter
from typing import Any
from urllib.parse import urlparse

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from samtranslator.yaml_helper import yaml_parse

from local.aws import LOCAL_CREDENTIALS, client
from local.cfn import (
    NO_VALUE,
    PSEUDO_PARAMETERS,
    evaluate,
    evaluate_conditions,
    evaluate_rules,
    parameter_values,
    parameter_violations,
    references,
)
from local.functions import LOCAL_ACCOUNT, LOCAL_REGION
from tests.templates.rehearsal.moto_template import MotoTemplate
from tests.templates.rehearsal.stand_ins import (
    DELETERS,
    NESTED_STACK_TYPE,
    Placeholder,
    PropertyExpression,
    deleted_by_moto,
    moto_model,
    placeholder_for,
    placeholder_value,
)
from tests.templates.sam_offline import transform_packaged

PSEUDO = PSEUDO_PARAMETERS | {"AWS::AccountId": LOCAL_ACCOUNT, "AWS::Region": LOCAL_REGION}
PROBE = "RehearsalProbe"
REST_API_TYPE = "AWS::ApiGateway::RestApi"


class RehearsalError(Exception):
    """A stack did not get where CloudFormation would take it; the message says which and why."""


@dataclass(frozen=True)
class MotoStep:
    """A template this stack was created or updated with in moto, and the resources it held."""

    url: str
    resources: tuple[str, ...]


@dataclass
class Stack:
    """A stack created in moto: its outputs, what moto created for it, and its nested stacks."""

    name: str
    stack_id: str
    outputs: dict[str, str]
    resources: int
    placeholders: list[str]
    statuses: list[str]
    # In creation order: the templates this stack was created and updated with, and its nested stacks.
    steps: list[Stack | MotoStep] = field(default_factory=list)
    # Its resources, those they depend on first.
    order: list[str] = field(default_factory=list)

    @property
    def children(self) -> list[Stack]:
        """The stacks nested in this one, in creation order."""
        return [step for step in self.steps if isinstance(step, Stack)]

    def tree(self) -> Iterator[Stack]:
        """This stack and every stack nested in it."""
        yield self
        for child in self.children:
            yield from child.tree()


def s3_location(url: str) -> tuple[str, str]:
    """Bucket and key of an S3 URL: s3://, virtual-hosted, or path-style (as `sam package` writes them)."""
    parsed = urlparse(url)
    if parsed.scheme == "s3":
        return parsed.netloc, parsed.path.lstrip("/")
    host_bucket = re.match(r"(.+)\.s3[.-]", parsed.netloc)
    if host_bucket:
        return host_bucket.group(1), parsed.path.lstrip("/")
    bucket, _, key = parsed.path.lstrip("/").partition("/")
    return bucket, key


def mappings_in(node: Any) -> Iterator[dict[str, Any]]:
    """Every mapping in a template tree, `node` first."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from mappings_in(value)
    elif isinstance(node, list):
        for item in node:
            yield from mappings_in(item)


class MotoErrors(logging.Handler):
    """Keeps the last error moto's server logged (an exception inside moto answers 500 without a reason),
    instead of printing it, while installed."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.last = ""

    def __enter__(self) -> MotoErrors:
        logger = logging.getLogger("werkzeug")
        self._propagate = logger.propagate
        logger.addHandler(self)
        logger.propagate = False
        return self

    def __exit__(self, *_: object) -> None:
        logger = logging.getLogger("werkzeug")
        logger.removeHandler(self)
        logger.propagate = self._propagate

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the exception line and the moto source line it came from."""
        lines = [line.strip() for line in record.getMessage().splitlines() if line.strip()]
        where = [line for line in lines if line.startswith("File ") and "/moto/" in line]
        self.last = lines[-1] + (f" ({where[-1].split('/moto/', 1)[1]})" if where else "")


class StackCreator:
    """Creates and deletes stack trees in the moto server at `endpoint`; templates go to `bucket`."""

    def __init__(self, endpoint: str, bucket: str, moto_errors: MotoErrors):
        # An exception inside moto answers 500, which botocore would retry (create_stack again): no retries.
        session = boto3.session.Session(
            aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name=LOCAL_REGION,
        )
        self.cloudformation = session.client(
            "cloudformation", endpoint_url=endpoint, config=Config(retries={"total_max_attempts": 1})
        )
        self.moto_errors = moto_errors
        self.s3 = client("s3", endpoint)
        self.endpoint = endpoint
        self._clients: dict[str, Any] = {}
        self.bucket = bucket

    def create(self, name: str, packaged: dict[str, Any], given: dict[str, str]) -> Stack:
        """Create the stack `name` of a packaged template (nested stacks first, as they are needed)."""
        return _StackBuild(self, name, transform_packaged(packaged), given).create()

    def delete(self, stack: Stack) -> None:
        """Undo a stack's creation steps in reverse: the resources added by each update are removed by
        updating back to the template before it, each nested stack is deleted (its own nested stacks after
        it), and the first template's resources go with the stack. Each step must complete. What moto's
        stack deletion would leave behind (stand_ins.DELETERS) is deleted first, dependents first."""
        templates = [step for step in stack.steps if isinstance(step, MotoStep)]
        for step in reversed(stack.steps):
            if isinstance(step, Stack):
                self.delete(step)
                continue
            templates.pop()
            going = set(step.resources) - set(templates[-1].resources if templates else ())
            self._delete_what_moto_leaves(stack, [i for i in reversed(stack.order) if i in going])
            try:
                if templates:
                    self.cloudformation.update_stack(StackName=stack.stack_id, TemplateURL=templates[-1].url)
                else:
                    self.cloudformation.delete_stack(StackName=stack.stack_id)
            except (ClientError, BotoCoreError) as error:
                reason = self.moto_errors.last if isinstance(error, BotoCoreError) else str(error)
                raise RehearsalError(f"{stack.name}: delete failed: {reason}") from error
            status = self.status(stack.stack_id)
            stack.statuses.append(status)
            expected = "UPDATE_COMPLETE" if templates else "DELETE_COMPLETE"
            if status != expected:
                raise RehearsalError(f"{stack.name}: {status} while deleting, not {expected}")

    def _delete_what_moto_leaves(self, stack: Stack, going: list[str]) -> None:
        summaries = self.cloudformation.list_stack_resources(StackName=stack.stack_id)[
            "StackResourceSummaries"
        ]
        physical = {s["LogicalResourceId"]: (s["ResourceType"], s["PhysicalResourceId"]) for s in summaries}
        for logical_id in going:
            kind, resource_id = physical[logical_id]
            if deleted_by_moto(kind):
                continue
            deleter = DELETERS.get(kind)
            if deleter is None:
                raise RehearsalError(
                    f"{stack.name}: moto does not delete {kind} and DELETERS has no entry for it"
                )
            if deleter.delete is not None:
                try:
                    deleter.delete(self.api, resource_id)
                except ClientError as error:
                    raise RehearsalError(f"{stack.name}: deleting {logical_id} ({kind}): {error}") from error

    def api(self, service: str) -> Any:
        """A client of moto's API for `service`."""
        if service not in self._clients:
            self._clients[service] = client(service, self.endpoint)
        return self._clients[service]

    def status(self, stack: str) -> str:
        """A stack's status."""
        return str(self.cloudformation.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"])

    def template_url(self, stack_name: str, phase: int, template: dict[str, Any]) -> str:
        """Put a template for moto in the bucket; its URL (moto reads path-style S3 URLs)."""
        key = f"rehearsal/{stack_name}/{phase}.json"
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=json.dumps(template).encode())
        return f"https://s3.amazonaws.com/{self.bucket}/{key}"

    def nested_template(self, url: str) -> dict[str, Any]:
        """A packaged nested template, read from the bucket `sam package` put it in."""
        bucket, key = s3_location(url)
        body = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
        return dict(yaml_parse(body))


@dataclass
class _Outside:
    """A step of a stack's creation that CloudFormation takes and moto's CloudFormation does not."""

    reads: Any  # what it reads from the stack's resources (their values are probed from moto)
    run: Callable[[], None]


class _StackBuild:
    """One stack being created: its parameters, conditions, resources and what stands in for what."""

    def __init__(self, creator: StackCreator, name: str, template: dict[str, Any], given: dict[str, str]):
        self.creator = creator
        self.name = name
        self.template = template
        try:
            self.params = parameter_values(template, given)
        except KeyError as error:
            raise RehearsalError(f"{name}: {error.args[0]}") from error
        rejected = parameter_violations(template, self.params) + evaluate_rules(template, self.params)
        if rejected:
            raise RehearsalError(f"{name}: CloudFormation would reject the parameters: {'; '.join(rejected)}")
        self.values: dict[str, Any] = PSEUDO | {"AWS::StackName": name} | self.params
        self.conditions = evaluate_conditions(template, self.values)
        self.enabled = {
            logical_id: resource
            for logical_id, resource in template["Resources"].items()
            if self.conditions.get(resource.get("Condition", ""), True)
        }
        self.depends = {
            logical_id: self._dependencies(resource) for logical_id, resource in self.enabled.items()
        }
        self.nested = [i for i, resource in self.enabled.items() if resource["Type"] == NESTED_STACK_TYPE]
        self.placeholders = self._placeholders()
        self._check_artefacts()
        self._check_reads()
        self.outside = self._outside_steps()
        self.stack_id = ""
        self.steps: list[Stack | MotoStep] = []
        self.statuses: list[str] = []

    def _dependencies(self, resource: dict[str, Any]) -> set[str]:
        """The resources of this stack a resource waits for; a missing one is a template error."""
        depends_on = resource.get("DependsOn", [])
        named = {name for name, _ in references(resource.get("Properties", {}), self.conditions)}
        named |= set([depends_on] if isinstance(depends_on, str) else depends_on)
        resources = named - set(self.params)
        missing = resources - set(self.enabled)
        if missing:
            raise RehearsalError(f"{self.name}: unresolved resource dependencies {sorted(missing)}")
        return resources

    def _check_reads(self) -> None:
        """What the Outputs read exists ("Unresolved resource dependencies" otherwise), and every attribute
        read from a resource moto creates is one its model gives (moto would pass the `Fn::GetAtt` on)."""
        outputs = [
            output
            for output in self.template.get("Outputs", {}).values()
            if self.conditions.get(output.get("Condition", ""), True)
        ]
        read = references(outputs, self.conditions)
        missing = {name for name, _ in read} - set(self.params) - set(self.enabled)
        if missing:
            raise RehearsalError(f"{self.name}: Outputs: unresolved resource dependencies {sorted(missing)}")
        for resource in self.enabled.values():
            read |= references(resource.get("Properties", {}), self.conditions)
        for name, attribute in sorted(read, key=str):
            if attribute is None or name not in self.enabled or name in self.placeholders:
                continue
            model = moto_model(self.enabled[name]["Type"])
            if model is not None and not model.has_cfn_attr(attribute):
                raise RehearsalError(
                    f"{self.name}: {name}.{attribute}: moto's {model.__name__} does not give it"
                )

    def _check_artefacts(self) -> None:
        """Every S3Bucket/S3Key a resource names (Lambda code, layer content) is in S3: CloudFormation fails
        on NoSuchKey, moto's Lambda quietly takes empty code."""
        for logical_id, resource in self.enabled.items():
            for node in mappings_in(resource.get("Properties", {})):
                bucket, key = node.get("S3Bucket"), node.get("S3Key")
                if not (isinstance(bucket, str) and isinstance(key, str)):
                    continue
                try:
                    self.creator.s3.head_object(Bucket=bucket, Key=key)
                except ClientError as error:
                    raise RehearsalError(
                        f"{self.name}: {logical_id}: s3://{bucket}/{key}: {error}"
                    ) from error

    def _outside_steps(self) -> dict[str, _Outside]:
        """Nested stacks, and the import of a REST API's Body (moto's RestApi model ignores Body, so the
        rehearsal imports it with moto's PutRestApi, as CloudFormation does, before anything uses the API)."""
        steps: dict[str, _Outside] = {}
        for logical_id in self.nested:
            steps[logical_id] = _Outside(
                self.enabled[logical_id]["Properties"], partial(self._create_nested, logical_id)
            )
        for logical_id, resource in self.enabled.items():
            body = resource.get("Properties", {}).get("Body")
            if resource["Type"] != REST_API_TYPE or body is None or logical_id in self.placeholders:
                continue
            key = f"{logical_id}.Body"
            steps[key] = _Outside([{"Ref": logical_id}, body], partial(self._import_body, logical_id))
            self.depends[key] = {logical_id} | self._dependencies({"Properties": body})
            for other, depends in self.depends.items():
                if logical_id in depends and other != key:
                    depends.add(key)
        return steps

    def _import_body(self, logical_id: str) -> None:
        properties = self.enabled[logical_id]["Properties"]
        body = evaluate(self.template, self.values, properties["Body"], self.conditions)
        try:
            self.creator.api("apigateway").put_rest_api(
                restApiId=self.values[logical_id],
                mode=properties.get("Mode", "merge"),  # PutRestApi's default; the same on a new API
                failOnWarnings=bool(properties.get("FailOnWarnings", False)),
                body=json.dumps(body).encode(),
            )
        except ClientError as error:
            raise RehearsalError(f"{self.name}: {logical_id}: its Body does not import: {error}") from error

    def _placeholders(self) -> dict[str, Placeholder]:
        found: dict[str, Placeholder] = {}
        for logical_id, resource in self.enabled.items():
            if resource["Type"] == NESTED_STACK_TYPE:
                continue
            properties = resource.get("Properties", {})

            def value_of(key: str, properties: dict[str, Any] = properties) -> Any:
                return self._known_value(properties.get(key))

            try:
                placeholder = placeholder_for(resource["Type"], value_of)
            except ValueError as error:
                raise RehearsalError(f"{self.name}: {logical_id}: {error}") from error
            if placeholder is not None:
                found[logical_id] = placeholder
        return found

    def _known_value(self, node: Any) -> Any:
        """`node`'s value if everything it reads is known already, else None."""
        if node is None or not all(
            (name if attribute is None else f"{name}.{attribute}") in self.values
            for name, attribute in references(node, self.conditions)
        ):
            return None
        try:
            value = evaluate(self.template, self.values, node, self.conditions)
        except (KeyError, ValueError):  # reads a pseudo parameter not known yet (AWS::StackId)
            return None
        return None if value is NO_VALUE else value

    def _value_placeholders(self, *, final: bool = False) -> None:
        """Give each placeholder its Ref and attribute values once the properties they use are known. At
        the end, a value that is one property of the resource (the Ref of a UserPoolDomain is its Domain)
        becomes that property's expression, for moto to evaluate; one still lacking a property fails."""
        for logical_id, placeholder in self.placeholders.items():
            if logical_id in self.values:
                continue
            properties = self.enabled[logical_id].get("Properties", {})
            fields = {
                "name": logical_id,
                "stack": self.name,
                "region": LOCAL_REGION,
                "account": LOCAL_ACCOUNT,
            }
            fields |= {
                key: value
                for key, node in properties.items()
                if (value := self._known_value(node)) is not None
            }
            if final:
                fields |= {
                    key: PropertyExpression(node) for key, node in properties.items() if key not in fields
                }
            try:
                values = {
                    f"{logical_id}.{key}": placeholder_value(v, fields)
                    for key, v in placeholder.attributes.items()
                }
                values[logical_id] = placeholder_value(placeholder.ref, fields)
            except ValueError as error:
                if final:
                    raise RehearsalError(f"{self.name}: {logical_id}: {error}") from error
                continue
            self.values |= values

    def create(self) -> Stack:
        """Nested stacks (and other outside steps) as soon as what they read exists; this stack's own
        resources as late as possible."""
        ready: set[str] = set()  # resources whose values are known: created, or placeholders
        in_moto: set[str] = set()  # resources of this stack already in its moto stack
        pending = list(self.outside)
        while pending:
            self._value_placeholders()
            ready |= {i for i in self.placeholders if i in self.values}
            startable = [step for step in pending if self.depends[step] <= ready]
            for step in startable:
                self.outside[step].run()
                ready.add(step)
                pending.remove(step)
            if startable:
                continue
            batch = self._resources_needed_by(pending, ready)
            if not batch:
                raise RehearsalError(f"{self.name}: {pending} wait on each other")
            in_moto |= batch
            probes = self._probes(pending, in_moto)
            self._apply(self._moto_template(in_moto, probes))
            self._read_probes(probes)
            ready |= batch
        self._value_placeholders(final=True)
        self._apply(self._moto_template(set(self.enabled), {}))
        return self._finished()

    def _resources_needed_by(self, pending: list[str], ready: set[str]) -> set[str]:
        """This stack's own resources that the pending nested stacks wait for, in dependency order up to
        those whose own dependencies are ready."""
        needed: set[str] = set()
        frontier = [d for n in pending for d in self.depends[n] if d not in ready and d not in self.outside]
        while frontier:
            logical_id = frontier.pop()
            if logical_id not in needed:
                needed.add(logical_id)
                frontier.extend(
                    d for d in self.depends[logical_id] if d not in ready and d not in self.outside
                )
        batch: set[str] = set()
        while True:
            more = {i for i in needed - batch if self.depends[i] <= ready | batch}
            if not more:
                return batch
            batch |= more

    def _probes(self, pending: list[str], in_moto: set[str]) -> dict[str, tuple[str, str | None]]:
        """Temporary outputs through which moto gives the values pending nested stacks read."""
        wanted = sorted(
            {
                (name, attribute)
                for step in pending
                for name, attribute in references(self.outside[step].reads, self.conditions)
                if name in in_moto and name not in self.placeholders
            },
            key=str,
        )
        return {f"{PROBE}{index}": reference for index, reference in enumerate(wanted)}

    def _read_probes(self, probes: dict[str, tuple[str, str | None]]) -> None:
        outputs = self._outputs()
        for probe, (name, attribute) in probes.items():
            self.values[name if attribute is None else f"{name}.{attribute}"] = outputs[probe]

    def _moto_template(self, included: set[str], probes: dict[str, tuple[str, str | None]]) -> dict[str, Any]:
        stand_ins = {i: f"{self.enabled[i]['Type']} ({p.reason})" for i, p in self.placeholders.items()}
        stand_ins |= {i: f"nested stack {self.values.get(i, i)}" for i in self.nested}
        moto = MotoTemplate(self.name, self.template, self.conditions, self.values, stand_ins)
        try:
            template = {
                key: value for key, value in self.template.items() if key not in ("Resources", "Outputs")
            }
            template["Resources"] = {i: moto.resource(i) for i in self.enabled if i in included}
            if probes:
                template["Outputs"] = {
                    probe: {
                        "Value": {"Ref": name} if attribute is None else {"Fn::GetAtt": [name, attribute]}
                    }
                    for probe, (name, attribute) in probes.items()
                }
            else:
                template["Outputs"] = moto.outputs()
        except ValueError as error:
            raise RehearsalError(f"{self.name}: {error}") from error
        return template

    def _apply(self, template: dict[str, Any]) -> None:
        """Create this stack in moto, or update it with more resources; check moto created all of them."""
        url = self.creator.template_url(self.name, len(self.steps), template)
        self.steps.append(MotoStep(url, tuple(template["Resources"])))
        parameters: list[Any] = [{"ParameterKey": k, "ParameterValue": v} for k, v in self.params.items()]
        cloudformation = self.creator.cloudformation
        try:
            if self.stack_id:
                cloudformation.update_stack(StackName=self.stack_id, TemplateURL=url, Parameters=parameters)
                expected = "UPDATE_COMPLETE"
            else:
                self.stack_id = cloudformation.create_stack(
                    StackName=self.name, TemplateURL=url, Parameters=parameters
                )["StackId"]
                expected = "CREATE_COMPLETE"
        except (ClientError, BotoCoreError) as error:
            reason = self.creator.moto_errors.last if isinstance(error, BotoCoreError) else str(error)
            raise RehearsalError(f"{self.name}: moto refused it: {reason}") from error
        status = self.creator.status(self.stack_id)
        self.statuses.append(status)
        if status != expected:
            raise RehearsalError(f"{self.name}: {status}, not {expected}")
        summaries = cloudformation.list_stack_resources(StackName=self.stack_id)["StackResourceSummaries"]
        created = {summary["LogicalResourceId"] for summary in summaries} - {""}
        skipped = set(template["Resources"]) - created
        if skipped:
            kinds = ", ".join(f"{i} ({template['Resources'][i]['Type']})" for i in sorted(skipped))
            raise RehearsalError(f"{self.name}: moto did not create {kinds}")

    def _outputs(self) -> dict[str, str]:
        stack = self.creator.cloudformation.describe_stacks(StackName=self.stack_id)["Stacks"][0]
        return {output["OutputKey"]: output.get("OutputValue", "") for output in stack.get("Outputs", [])}

    def _create_nested(self, logical_id: str) -> None:
        properties = self.enabled[logical_id]["Properties"]
        given: dict[str, str] = {}
        for key, node in properties.get("Parameters", {}).items():
            try:
                value = evaluate(self.template, self.values, node, self.conditions)
            except (KeyError, ValueError) as error:
                raise RehearsalError(f"{self.name}: {logical_id} parameter {key}: {error!r}") from error
            if isinstance(value, (list, dict)):
                raise RehearsalError(f"{self.name}: {logical_id} parameter {key} is not a string: {value!r}")
            if value is not NO_VALUE:
                given[key] = str(value).lower() if isinstance(value, bool) else str(value)
        packaged = self.creator.nested_template(str(properties["TemplateURL"]))
        child = self.creator.create(f"{self.name}-{logical_id}", packaged, given)
        self.steps.append(child)
        self.values[logical_id] = child.stack_id
        self.values |= {f"{logical_id}.Outputs.{key}": value for key, value in child.outputs.items()}

    def _finished(self) -> Stack:
        outputs = self._outputs()
        self._check_outputs(outputs)
        own = set(self.enabled) - set(self.placeholders) - set(self.nested)
        return Stack(
            name=self.name,
            stack_id=self.stack_id,
            outputs=outputs,
            resources=len(own),
            placeholders=[f"{i} ({self.enabled[i]['Type']})" for i in self.placeholders],
            statuses=self.statuses,
            steps=self.steps,
            order=list(
                TopologicalSorter(
                    {i: self.depends[i] & set(self.enabled) for i in self.enabled}
                ).static_order()
            ),
        )

    def _check_outputs(self, outputs: dict[str, str]) -> None:
        """Every output whose condition holds is there, and empty only where the template itself says ""."""
        expected = {
            name: output
            for name, output in self.template.get("Outputs", {}).items()
            if self.conditions.get(output.get("Condition", ""), True)
        }
        problems = [f"{name} missing" for name in expected if name not in outputs]
        problems += [f"{name} should not be there" for name in outputs if name not in expected]
        for name, value in outputs.items():
            if name not in expected:
                continue
            if "Fn::" in value or "{'Ref'" in value:
                problems.append(f"{name} is unresolved: {value}")
            elif value == "" and not self._empty_by_template(expected[name]["Value"]):
                problems.append(f"{name} is empty")
        if problems:
            raise RehearsalError(f"{self.name}: outputs: {'; '.join(problems)}")

    def _empty_by_template(self, node: Any) -> bool:
        """Whether the template's own literal "" is the value (resources read as non-empty markers)."""
        markers = {i: f"<{i}>" for i in self.enabled} | self.values
        try:
            return bool(evaluate(self.template, markers, node, self.conditions) == "")
        except (KeyError, ValueError):
            return False
