"""The Lambda entry point: `aws.handler.handler` (template.yaml's Handler).

API Gateway HTTP API (payload v2), REST API (v1) and function-URL events go through Mangum to
every api/ function (aws.app.AllFunctions); an EventBridge schedule event (aws.schedule)
becomes the cron GET Vercel would send. Everything is built at the first invocation, so an
import does no I/O, and kept for the warm instance's life: one event loop for every invocation
(the database, realtime and JWKS clients pool connections on it), each function imported once.
Mangum's lifespan is off: a Lambda instance is frozen, never told to shut down.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from aws.schedule import cron_request, is_schedule


class LambdaHandler:
    def __init__(self) -> None:
        self._adapter: Any = None
        self._app: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _build(self) -> Any:
        from mangum import Mangum

        from aws.app import AllFunctions

        # Mangum runs each invocation to completion on this thread's loop: the same one,
        # invocation after invocation.
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        self._app = AllFunctions()
        return Mangum(self._app, lifespan="off")

    def shutdown(self) -> None:
        """Stop the started functions and close the loop (tests and benchmarks; on Lambda an
        instance is frozen and discarded instead). Call it on the invoking thread."""
        if self._loop is None:
            return
        self._loop.run_until_complete(self._app.functions.shutdown())
        self._loop.close()
        self._adapter = self._app = self._loop = None

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        if self._adapter is None:
            self._adapter = self._build()
        if is_schedule(event):
            event = cron_request(event, secret=os.environ.get("CRON_SECRET", "").strip())
        response: dict[str, Any] = self._adapter(event, context)
        return response


handler = LambdaHandler()
