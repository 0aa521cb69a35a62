"""Fixtures of the integration tier: a real Kafka broker and a CloudFormation response endpoint."""

from __future__ import annotations

import datetime
import http.server
import ipaddress
import json
import ssl
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient, NewTopic
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from local import aws
from local.broker import running_broker


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Tansu broker on a free loopback port for the whole session (or KAFKA_BOOTSTRAP_SERVERS)."""
    with running_broker(tmp_path_factory.mktemp("tansu") / "tansu.log") as bootstrap:
        yield bootstrap


@pytest.fixture
def new_topic(kafka_bootstrap: str) -> Callable[[str, int], str]:
    """Create a topic named prefix + a random suffix, with the given partitions; return its name."""

    def create(prefix: str, partitions: int) -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
        for future in admin.create_topics([NewTopic(name, partitions, -1)]).values():
            future.result(10)
        return name

    return create


@pytest.fixture
def moto_endpoint() -> Iterator[str]:
    """A moto server of its own for the test."""
    with aws.running_moto() as endpoint:
        yield endpoint


@pytest.fixture
def moto_s3(moto_endpoint: str) -> Any:
    """An S3 client on the test's moto server."""
    return aws.client("s3", moto_endpoint)


def _self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


class CloudFormationEndpoint:
    """An HTTPS server on loopback that records the custom resource responses PUT to it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.responses: list[dict[str, Any]] = []

    def event(
        self,
        request: str,
        resource_type: str,
        properties: dict[str, Any],
        physical_id: str | None = None,
    ) -> dict[str, Any]:
        """A custom resource request from CloudFormation whose answer is PUT to this endpoint."""
        event: dict[str, Any] = {
            "RequestType": request,
            "ResponseURL": self.url,
            "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/demo/1",
            "RequestId": str(uuid.uuid4()),
            "LogicalResourceId": resource_type.removeprefix("Custom::"),
            "ResourceType": resource_type,
            "ResourceProperties": {"ServiceToken": "arn", **properties},
        }
        if physical_id is not None:
            event["PhysicalResourceId"] = physical_id
        return event

    def ask(
        self,
        handler: Any,
        context: Any,
        request: str,
        resource_type: str,
        properties: dict[str, Any],
        *,
        physical_id: str | None = None,
    ) -> dict[str, Any]:
        """Send one request to the custom resource's handler module; return the answer it PUT here."""
        handler.lambda_handler(self.event(request, resource_type, properties, physical_id), context)
        return self.responses[-1]


@pytest.fixture
def cloudformation_endpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CloudFormationEndpoint]:
    cert_path, key_path = _self_signed_certificate(tmp_path)
    responses: list[dict[str, Any]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            length = int(self.headers["content-length"])
            responses.append(json.loads(self.rfile.read(length)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_path))  # crhelper verifies TLS with the default context
    endpoint = CloudFormationEndpoint(f"https://127.0.0.1:{server.server_address[1]}/response")
    endpoint.responses = responses
    try:
        yield endpoint
    finally:
        server.shutdown()
        server.server_close()
