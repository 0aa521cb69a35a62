"""A Lambda context object for handlers run outside Lambda (local runtime, tests)."""

from __future__ import annotations

import time
import uuid


class LocalLambdaContext:
    """The attributes of Lambda's context that Powertools, crhelper and the handlers read."""

    function_version = "$LATEST"
    log_stream_name = "local"

    def __init__(
        self, function_name: str = "local-function", timeout_ms: int = 300_000, memory_mb: int = 256
    ) -> None:
        self.function_name = function_name
        self.memory_limit_in_mb = memory_mb
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self._deadline = time.monotonic() + timeout_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the function's timeout."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))
