"""An HTTP server on a free loopback port, served from a thread while used as a context manager: the common
part of the local runtime's REST front and token endpoint."""

from __future__ import annotations

import http.server
import threading
from typing import Self

from local.broker import free_port


class LoopbackServer:
    """Serves `_request_handler()` on 127.0.0.1:`port` between `__enter__` and `__exit__`.

    `threaded=False` answers one request at a time, like one Lambda container behind it.
    """

    def __init__(self, name: str, *, threaded: bool) -> None:
        self.port = free_port()
        server_class = http.server.ThreadingHTTPServer if threaded else http.server.HTTPServer
        self._server = server_class(("127.0.0.1", self.port), self._request_handler())
        self._thread = threading.Thread(target=self._server.serve_forever, name=name, daemon=True)

    def _request_handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
