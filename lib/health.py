"""GET /api/health: is this deployment able to serve? One check per dependency."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from lib.config import settings
from lib.db import database
from lib.errors import SocklessError
from lib.web import json_response

Check = Callable[[], Awaitable[None]]


async def check_db() -> None:
    """The database answers through PostgREST (and the schema is migrated)."""
    await database().rpc("health_check")


CHECKS: dict[str, Check] = {"db": check_db}


async def health(request: Request) -> Response:
    results: dict[str, str] = {}
    for name, check in CHECKS.items():
        try:
            await check()
        except SocklessError as exc:
            results[name] = f"failing: {exc.message}"
        else:
            results[name] = "ok"
    healthy = all(result == "ok" for result in results.values())
    body = {
        "status": "ok" if healthy else "degraded",
        "checks": results,
        "version": settings().version,
    }
    return json_response(body, 200 if healthy else 503, {"cache-control": "no-store"})
