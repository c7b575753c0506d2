"""GET /api/health: is this deployment able to serve? One check per dependency."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from lib.errors import SocklessError
from lib.services import Services
from lib.web import json_response

Check = Callable[[Services], Awaitable[None]]


async def check_db(services: Services) -> None:
    """The database answers through PostgREST (and the schema is migrated)."""
    await services.db.rpc("health_check")


CHECKS: dict[str, Check] = {"db": check_db}


async def health(request: Request, services: Services) -> Response:
    results: dict[str, str] = {}
    for name, check in CHECKS.items():
        try:
            await check(services)
        except SocklessError as exc:
            results[name] = f"failing: {exc.message}"
        else:
            results[name] = "ok"
    healthy = all(result == "ok" for result in results.values())
    body = {
        "status": "ok" if healthy else "degraded",
        "checks": results,
        "version": services.settings.version,
    }
    return json_response(body, 200 if healthy else 503, {"cache-control": "no-store"})
