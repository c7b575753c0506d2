"""GET /api/health: is this deployment able to serve? One check per dependency.

    db      the database answers through PostgREST (health_check())
    schema  every public SQL object the enabled features call exists (their `schema`
            declarations), and the newest applied migration is at least the newest one a
            feature declares it needs (`Feature(migration=...)`)

A broken database (a dropped table, a renamed function, a migration not pushed) is a 503
naming what is missing, not a 500 at the first request that needs it. The api functions are
deployed without supabase/, so each feature names its newest migration; a test keeps the
newest of those equal to the newest file in supabase/migrations.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from starlette.requests import Request
from starlette.responses import Response

from lib.db import RETRY_AFTER_S
from lib.errors import SocklessError
from lib.services import Services
from lib.web import json_response

Check = Callable[[Services], Awaitable[str | None]]
"""None when healthy, else what is wrong (a SocklessError also counts as failing)."""


async def check_db(services: Services) -> str | None:
    await services.db.rpc("health_check")
    return None


def check_schema(objects: Sequence[str], migration: str) -> Check:
    async def check(services: Services) -> str | None:
        found = await services.db.rpc("health_schema", p_objects=list(objects))
        problems = []
        if found["missing"]:
            problems.append(f"missing {', '.join(found['missing'])}")
        applied = found.get("migration")
        if applied is not None and str(applied) < migration:
            problems.append(f"newest migration applied is {applied}, expected {migration}")
        return "; ".join(problems) or None

    return check


def checks(schema: Sequence[str], migration: str) -> dict[str, Check]:
    return {"db": check_db, "schema": check_schema(schema, migration)}


def handler(
    schema: Sequence[str], migration: str
) -> Callable[[Request, Services], Awaitable[Response]]:
    """The GET handler for a deployment whose features call `schema` and need `migration`
    (Bundle.schema, Bundle.migration)."""
    named = checks(schema, migration)

    async def health(request: Request, services: Services) -> Response:
        results: dict[str, str] = {}
        for name, check in named.items():
            try:
                problem = await check(services)
            except SocklessError as exc:
                results[name] = f"failing: {exc.message}"
            else:
                results[name] = f"failing: {problem}" if problem else "ok"
        healthy = all(result == "ok" for result in results.values())
        body = {
            "status": "ok" if healthy else "degraded",
            "checks": results,
            "version": services.settings.version,
        }
        headers = {"cache-control": "no-store"}
        if not healthy:  # load balancers and uptime checks back off instead of hammering
            headers["retry-after"] = str(RETRY_AFTER_S)
        return json_response(body, 200 if healthy else 503, headers)

    return health
