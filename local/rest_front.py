"""The REST front of the local runtime: HTTP on a loopback port in front of the producer function, doing
what API Gateway does: checking the Cognito access token and its scope, turning the request into a proxy
event (payload 1.0) and the function's answer back into HTTP. One request at a time, like one container."""

from __future__ import annotations

import http.server
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from local.broker import free_port
from local.cognito import AccessTokenVerifier, TokenRejectedError
from local.lambda_context import LocalLambdaContext

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def proxy_event(
    path: str,
    topic: str,
    body: str,
    claims: dict[str, Any],
    *,
    stage: str = "v1",
    request_id: str | None = None,
    request_time_ms: int | None = None,
    source_ip: str = "127.0.0.1",
) -> dict[str, Any]:
    """An API Gateway REST proxy event (payload 1.0) for POST /topics/{topic}/records."""
    headers = {"Content-Type": "application/json", "Host": "abc123.execute-api.us-east-1.amazonaws.com"}
    return {
        "resource": "/topics/{topic}/records",
        "path": path,
        "httpMethod": "POST",
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"topic": topic},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/topics/{topic}/records",
            "httpMethod": "POST",
            "path": f"/{stage}{path}",
            "stage": stage,
            "requestId": request_id or str(uuid.uuid4()),
            "accountId": "123456789012",
            "apiId": "abc123",
            "protocol": "HTTP/1.1",
            "requestTimeEpoch": request_time_ms if request_time_ms is not None else int(time.time() * 1000),
            "identity": {"sourceIp": source_ip, "userAgent": "sensor/1.0"},
            "authorizer": {"claims": claims},
        },
        "body": body,
        "isBase64Encoded": False,
    }


class RestFront:
    """Serves POST /<stage>/topics/{topic}/records on 127.0.0.1 until stopped."""

    def __init__(
        self,
        handler: Handler,
        verifier: AccessTokenVerifier,
        *,
        stage: str = "v1",
        function_timeout_seconds: int = 25,
    ) -> None:
        self.handler = handler
        self.verifier = verifier
        self.stage = stage
        self.timeout_seconds = function_timeout_seconds
        self.port = free_port()
        self._route = re.compile(rf"^/{re.escape(stage)}(/topics/([a-zA-Z0-9._-]{{1,249}})/records)$")
        self._server = http.server.HTTPServer(("127.0.0.1", self.port), self._request_handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The base URL, like the stack's ApiUrl output."""
        return f"http://127.0.0.1:{self.port}/{self.stage}"

    def __enter__(self) -> RestFront:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer(
        self, method: str, path: str, authorization: str | None, body: str
    ) -> tuple[int, dict[str, str], str]:
        """Status, headers and body for one request, as API Gateway and the function would give them."""
        match = self._route.match(path)
        if method != "POST" or match is None:
            return 403, {}, json.dumps({"message": "Missing Authentication Token"})  # API Gateway's answer
        try:
            claims = self.verifier.claims(authorization)
        except TokenRejectedError as rejected:
            return rejected.status, {}, json.dumps({"message": str(rejected)})
        event = proxy_event(match.group(1), match.group(2), body, claims, stage=self.stage)
        response = self.handler(event, LocalLambdaContext("ProducerFunction", self.timeout_seconds * 1000))
        headers = dict(response.get("headers") or {})
        headers |= {name: values[-1] for name, values in (response.get("multiValueHeaders") or {}).items()}
        return int(response["statusCode"]), headers, str(response.get("body") or "")

    def _request_handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        front = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8", errors="replace")
                status, headers, text = front.answer(
                    self.command, self.path, self.headers.get("Authorization"), body
                )
                payload = text.encode()
                self.send_response(status)
                headers.setdefault("Content-Type", "application/json")
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_POST = do_GET = do_PUT = _serve  # noqa: N815 - http.server's naming

            def log_message(self, *_args: object) -> None:
                return

        return Handler
