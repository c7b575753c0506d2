"""One ASGI app serving every api/ function at the path Vercel serves it.

Routing is lib.vercel_project's (the filesystem first, then vercel.json rewrites, the `headers`
rules on every answer), so a path answers here exactly as on Vercel; the function sees the
original path, as on Vercel. Each function module is imported and started (its lifespan) on its
first request, so a cold start pays only for the functions it serves. public/ is not served:
static files belong on a CDN (S3 + CloudFront) in front of API Gateway.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from lib.vercel_functions import Functions
from lib.vercel_project import Project

log = logging.getLogger("sockless.aws")
ROOT = Path(__file__).resolve().parent.parent


class AllFunctions:
    """The ASGI app of the whole api/ directory (what one Lambda serves)."""

    def __init__(self, root: Path = ROOT) -> None:
        self.root = root.resolve()
        self.project = Project.load(self.root)
        self.functions = Functions(self.root)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        project = self.project

        async def send_with_headers(message: Any) -> None:
            await send(project.add_headers(scope, message))

        path = scope["path"]
        function = project.route(path)
        if function is None:
            body = {"error": {"code": "NOT_FOUND", "message": f"no function serves {path}"}}
            await JSONResponse(body, status_code=404)(scope, receive, send_with_headers)
            return
        try:
            app = await self.functions.app(function.path)
        except Exception:
            # An import error is a deployment bug: logged with its trace, answered without it.
            log.exception("function %s failed to load", function.path.relative_to(self.root))
            body = {"error": {"code": "FUNCTION_INVOCATION_FAILED", "message": "function failed"}}
            await JSONResponse(body, status_code=500)(scope, receive, send_with_headers)
            return
        await app(scope, receive, send_with_headers)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.functions.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return
