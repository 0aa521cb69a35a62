"""crhelper's CfnResource as every custom resource function of the solution uses it: synchronous handlers
(create, update, delete), JSON logs, no pause before answering a delete."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, NoReturn

from crhelper import CfnResource

SAM_LOCAL = "AWS_SAM_LOCAL"
# A request's function: (event, context) -> the physical resource ID, or None.
Handler = Callable[[Any, Any], bool | str | None]


class CustomResource(CfnResource):
    """A CfnResource without polling, and so without the boto3 clients (lambda, events, logs) that
    CfnResource creates when constructed for its polling mode: 76 to 150 ms of a cold start (issue 16).
    Everything else is crhelper's: the request's function, the answer PUT to CloudFormation, FAILED with the
    exception's message, the timeout guard."""

    def __init__(self) -> None:
        # AWS_SAM_LOCAL is CfnResource's only switch that skips those clients; the environment is put back
        # as it was, and with it the value CfnResource keeps (read again only for polling, refused here).
        before = os.environ.get(SAM_LOCAL)
        os.environ[SAM_LOCAL] = "true"
        try:
            super().__init__(json_logging=True, log_level="INFO", boto_level="WARNING", sleep_on_delete=0)
        finally:
            if before is None:
                del os.environ[SAM_LOCAL]
            else:
                os.environ[SAM_LOCAL] = before
        self._sam_local = before

    def poll_create(self, func: Handler) -> NoReturn:
        """Refused: see the class."""
        raise _polling_refused()

    def poll_update(self, func: Handler) -> NoReturn:
        """Refused: see the class."""
        raise _polling_refused()

    def poll_delete(self, func: Handler) -> NoReturn:
        """Refused: see the class."""
        raise _polling_refused()


def _polling_refused() -> NotImplementedError:
    return NotImplementedError("CustomResource does not poll: its polling clients are never created")
