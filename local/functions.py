"""The solution's Lambda functions as the templates declare them, run in this process.

A function's environment is resolved like CloudFormation would: parameters take their defaults (or the
local values below for the ones the root wires), `!Ref` to a resource gives its local name, conditions are
evaluated. Handlers are imported from their folder (on PYTHONPATH, as in Lambda's /var/task).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from samtranslator.yaml_helper import yaml_parse

from local.cfn import evaluate_conditions, parameter_values, resolve_value

REPO = Path(__file__).resolve().parents[1]
LOCAL_ACCOUNT = "123456789012"
LOCAL_REGION = "us-east-1"
LOCAL_CLUSTER_ARN = (
    f"arn:aws:kafka:{LOCAL_REGION}:{LOCAL_ACCOUNT}:cluster/local/00000000-0000-0000-0000-000000000000-1"
)
# Values for the parameters the root stack wires into nested stacks (from nested/foundation.yaml and
# nested/firehose-delivery.yaml's outputs, or the cluster's): locally, the local names of those resources.
LOCAL_PARAMETERS = {
    "ClusterArn": LOCAL_CLUSTER_ARN,
    "SubnetIds": "subnet-00000000000000001",
    "SecurityGroupIds": "sg-00000000000000001",
    "BrokerSecurityGroupId": "sg-00000000000000001",
    "ClientSecurityGroupId": "sg-00000000000000002",
    "KeyArn": f"arn:aws:kms:{LOCAL_REGION}:{LOCAL_ACCOUNT}:key/00000000-0000-0000-0000-000000000000",
    "LayerArn": f"arn:aws:lambda:{LOCAL_REGION}:{LOCAL_ACCOUNT}:layer:local-sharedlayer:1",
    "AccessLogsBucketName": "local-accesslogsbucket",
    # nested/foundation.yaml's AlarmTopic, as local/aws.py creates it in moto
    "AlarmTopicArn": f"arn:aws:sns:{LOCAL_REGION}:{LOCAL_ACCOUNT}:local-alarmtopic",
    "DeliveryStreamName": "local-deliverystream",
    "ArchiveBucketName": "local-archivebucket",
    "VpcId": "vpc-00000000000000001",
    "BootstrapServers": "localhost:9092",
}


def local_name(logical_id: str) -> str:
    """The name a template resource gets locally (valid as an S3 bucket or a stream name)."""
    return f"local-{logical_id.lower()}"


@dataclass(frozen=True)
class FunctionSpec:
    """One function of the templates."""

    name: str  # its folder under functions/
    template: Path
    logical_id: str
    timeout_seconds: int
    environment: dict[str, str]
    memory_mb: int = 128
    log_group: str = ""  # LoggingConfig.LogGroup, or Lambda's default /aws/lambda/<function name>

    @property
    def function_name(self) -> str:
        """The function's name locally (the physical ID its `!Ref` gives)."""
        return local_name(self.logical_id)


def load_template(path: Path) -> dict[str, Any]:
    """A template as CloudFormation reads it."""
    return dict(yaml_parse(path.read_text()))


def _merged(shared: Any, own: Any) -> Any:
    """SAM's Globals merge: maps merged key by key (recursively), anything else (an intrinsic included) is the
    resource's own value."""
    if not (isinstance(shared, dict) and isinstance(own, dict)):
        return own
    if _is_intrinsic(shared) or _is_intrinsic(own):
        return own
    return shared | {key: _merged(shared.get(key), value) for key, value in own.items()}


def _is_intrinsic(node: dict[str, Any]) -> bool:
    key = next(iter(node), "")
    return len(node) == 1 and (key in ("Ref", "Condition") or key.startswith("Fn::"))


def function_properties(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    """A function's properties with the template's `Globals` merged in, as the SAM transform merges them."""
    shared = template.get("Globals", {}).get("Function", {})
    return dict(_merged(shared, template["Resources"][logical_id]["Properties"]))


def _resolved_number(value: Any, params: dict[str, str], default: int) -> int:
    if isinstance(value, dict) and "Ref" in value:
        return int(params.get(value["Ref"], default))
    return int(value) if value is not None else default


@cache
def discover() -> dict[str, FunctionSpec]:
    """Every function of every template, by folder name."""
    found: dict[str, FunctionSpec] = {}
    for path in sorted((REPO / "nested").glob("*.yaml")):
        template = load_template(path)
        resources = template.get("Resources", {})
        if not any(r.get("Type") == "AWS::Serverless::Function" for r in resources.values()):
            continue  # nothing to run (and its parameters may have no local value)
        names = {name: local_name(name) for name in resources}
        params = parameter_values(
            template, {k: v for k, v in LOCAL_PARAMETERS.items() if k in template.get("Parameters", {})}
        )
        conditions = evaluate_conditions(template, params)
        for logical_id, resource in resources.items():
            if resource.get("Type") != "AWS::Serverless::Function":
                continue
            properties = function_properties(template, logical_id)
            folder = Path(properties["CodeUri"]).name
            variables = properties.get("Environment", {}).get("Variables", {})
            environment = {
                key: str(value)
                for key, raw in variables.items()
                if (value := resolve_value(raw, params | names, conditions)) is not None
            }
            log_group = properties.get("LoggingConfig", {}).get("LogGroup")
            found[folder] = FunctionSpec(
                folder,
                path,
                logical_id,
                _resolved_number(properties.get("Timeout"), params, 3),
                environment,
                memory_mb=_resolved_number(properties.get("MemorySize"), params, 128),
                log_group=str(resolve_value(log_group, params | names, conditions))
                if log_group is not None
                else f"/aws/lambda/{local_name(logical_id)}",
            )
    return found


def load_handler(function: str) -> ModuleType:
    """Import functions/<function>/app.py under a unique module name (every function has an app.py)."""
    path = REPO / "functions" / function / "app.py"
    spec = importlib.util.spec_from_file_location(f"{function}_app", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"no handler at {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
