"""With tracing on, as in Lambda with `Tracing: Active`, the shared Tracer patches botocore: an AWS call
inside the handler is recorded as a subsegment. Each run is a fresh interpreter: patching is global to a
process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
TRACED_CALL = """
import json
from aws_xray_sdk.core import xray_recorder
from streaming_common.aws_clients import client
from streaming_common.observability import tracer
from botocore.stub import Stubber


class Capture:
    def __init__(self):
        self.entities = []

    def send_entity(self, entity):
        self.entities.append(json.loads(entity.serialize()))

    def set_daemon_address(self, address):
        pass


class Context:
    function_name = "traced"
    aws_request_id = "r-1"


capture = Capture()
xray_recorder.configure(emitter=capture)
firehose = client("firehose")


@tracer.capture_lambda_handler
def handler(event, context):
    with Stubber(firehose) as stub:
        listing = {"DeliveryStreamNames": [], "HasMoreDeliveryStreams": False}
        stub.add_response("list_delivery_streams", listing)
        return firehose.list_delivery_streams()


handler({}, Context())
print(json.dumps([[entity["name"], entity.get("namespace"), entity.get("aws", {}).get("operation")]
                  for entity in capture.entities]))
"""


def _run(**environment: str) -> list[list[str | None]]:
    result = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            f"import sys; sys.path.insert(0, {str(REPO / 'layers/shared')!r})\n" + TRACED_CALL,
        ],
        env={
            "LAMBDA_TASK_ROOT": str(REPO),
            "AWS_LAMBDA_FUNCTION_NAME": "traced",
            "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "POWERTOOLS_SERVICE_NAME": "traced",
            **environment,
        },
        capture_output=True,
        text=True,
        check=True,
    )
    return list(json.loads(result.stdout.splitlines()[-1]))


def test_an_aws_call_is_recorded_as_a_subsegment_when_tracing_is_on() -> None:
    recorded = _run()
    assert ["firehose", "aws", "ListDeliveryStreams"] in recorded
    assert ["## handler", "local", None] in recorded


def test_nothing_is_recorded_when_tracing_is_off() -> None:
    assert _run(POWERTOOLS_TRACE_DISABLED="true") == []
