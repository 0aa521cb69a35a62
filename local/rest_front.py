"""The REST front of the local runtime: HTTP on a loopback port in front of the producer function, doing
what API Gateway does: checking the Cognito access token and its scope, turning the request into a proxy
event (payload 1.0) and the function's answer back into HTTP. One request at a time, like one container.

Answers API Gateway gives itself (docs/decisions.md, "The local REST front answers like API Gateway"):
- any method or path the API does not declare: 403 `{"message": "Missing Authentication Token"}`;
- a function that raises, crashes or answers in the wrong shape: 502 `{"message": "Internal server error"}`.
"""

from __future__ import annotations

import http.server
import json
import logging
import re
import time
import urllib.parse
import uuid
from collections.abc import Callable
from typing import Any

from local.cognito import AccessTokenVerifier, TokenRejectedError
from local.lambda_context import LocalLambdaContext
from local.loopback_server import LoopbackServer

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]

Answer = tuple[int, dict[str, str], str]
MISSING_AUTHENTICATION_TOKEN: Answer = (403, {}, json.dumps({"message": "Missing Authentication Token"}))
INTERNAL_SERVER_ERROR: Answer = (502, {}, json.dumps({"message": "Internal server error"}))
logger = logging.getLogger(__name__)


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


class RestFront(LoopbackServer):
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
        # The one resource, /topics/{topic}/records: any segment is a topic (the function checks it).
        self._route = re.compile(rf"^/{re.escape(stage)}(/topics/([^/]+)/records)$")
        super().__init__("rest-front", threaded=False)

    @property
    def url(self) -> str:
        """The base URL, like the stack's ApiUrl output."""
        return f"http://127.0.0.1:{self.port}/{self.stage}"

    def answer(self, method: str, path: str, authorization: str | None, body: str) -> Answer:
        """Status, headers and body for one request, as API Gateway and the function would give them."""
        match = self._route.match(urllib.parse.urlsplit(path).path)
        if method != "POST" or match is None:
            return MISSING_AUTHENTICATION_TOKEN
        try:
            claims = self.verifier.claims(authorization)
        except TokenRejectedError as rejected:
            return rejected.status, {}, json.dumps({"message": str(rejected)})
        topic = urllib.parse.unquote(match.group(2))
        event = proxy_event(match.group(1), topic, body, claims, stage=self.stage)
        try:
            response = self.handler(
                event, LocalLambdaContext("ProducerFunction", self.timeout_seconds * 1000)
            )
            status = int(response["statusCode"])
            headers = {str(k): str(v) for k, v in (response.get("headers") or {}).items()}
            multi_value = response.get("multiValueHeaders") or {}
            headers |= {str(name): str(values[-1]) for name, values in multi_value.items() if values}
            text = str(response.get("body") or "")
        except Exception:  # the function failed, or answered in a shape API Gateway cannot use
            logger.exception("POST %s: the function failed; answering 502 as API Gateway does", path)
            return INTERNAL_SERVER_ERROR
        return status, headers, text

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
                for name, value in ({"Content-Type": "application/json"} | headers).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            def __getattr__(self, name: str) -> Any:
                # http.server looks for do_<METHOD>: every method is served, undeclared ones with 403.
                if name.startswith("do_"):
                    return self._serve
                raise AttributeError(name)

            def log_message(self, *_args: object) -> None:
                return

        return Handler
