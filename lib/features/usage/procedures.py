"""`usage.projection` and `ops.health`: operators only (ADMIN_USER_IDS), like webhooks.*.

usage.projection  query  {days?, pollingClients?, peakCalls?} -> {text, projection}
                         the monthly cost per provider and plan from the last `days` of
                         usage_daily, with inputs and formulas (text: what `make cost` prints)
ops.health        query  -> {health, alerts}: outbox, publish error rate, webhooks, crons,
                         the bridge; alerts are the thresholds crossed (health.THRESHOLDS)
ops.watch         mutation {watching?: bool = true} -> {watching, expiresAt, ttlSeconds}
                         Supabase mode: "I am watching presence-ops-{me}" for WATCH_TTL_S,
                         sent every 30 s by the operator's page (Realtime sends no presence
                         webhooks); the `ops-health` cron publishes while it holds
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from lib.errors import Forbidden
from lib.features.usage import health, prices, projection, report, rollup
from lib.rpc.procedure import Context, Procedure

if TYPE_CHECKING:
    from lib.services import Services


def require_admin(ctx: Context) -> None:
    if ctx.user.user_id not in ctx.settings.admin_user_ids:
        raise Forbidden(f"{ctx.path} is for operators (ADMIN_USER_IDS)")


class ProjectionInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    days: int = Field(default=14, ge=1, le=400)
    pollingClients: int | None = Field(default=None, ge=0, le=10_000_000)
    peakCalls: int | None = Field(default=None, ge=0, le=100_000)


class ProjectionOutput(BaseModel):
    text: str
    projection: dict[str, Any]


WATCH_TTL_S = 90
"""Three missed 30-second calls and the operator no longer counts as watching."""


class WatchInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    watching: bool = True


class WatchOutput(BaseModel):
    watching: bool
    expiresAt: datetime | None
    ttlSeconds: int


class HealthOutput(BaseModel):
    health: dict[str, Any]
    alerts: list[str]


async def project(services: Services, input: ProjectionInput) -> projection.Projection:
    since = services.now().date() - timedelta(days=input.days - 1)
    rows = await rollup.usage_rows(services.db, since=since)
    return projection.project(
        [projection.UsageRow.of(r) for r in rows],
        prices.load(),
        peak_calls=input.peakCalls,
        polling_clients=input.pollingClients,
    )


async def usage_projection(ctx: Context, input: ProjectionInput | None) -> ProjectionOutput:
    require_admin(ctx)
    result = await project(ctx.services, input or ProjectionInput())
    return ProjectionOutput(text=report.render(result), projection=result.as_dict())


async def ops_health(ctx: Context, input: None) -> HealthOutput:
    require_admin(ctx)
    found = await health.gather(ctx.services)
    found.pop("watchers", None)
    return HealthOutput(health=found, alerts=health.alerts(found))


async def ops_watch(ctx: Context, input: WatchInput | None) -> WatchOutput:
    require_admin(ctx)
    watching = True if input is None else input.watching
    result = await ctx.db.rpc(
        "ops_watch", p_user_id=ctx.user.user_id, p_watching=watching, p_ttl_seconds=WATCH_TTL_S
    )
    return WatchOutput(
        watching=result["watching"], expiresAt=result["expiresAt"], ttlSeconds=WATCH_TTL_S
    )


PROCEDURES = [
    Procedure(
        path="usage.projection",
        kind="query",
        input=TypeAdapter(ProjectionInput | None),
        output=ProjectionOutput,
        handler=usage_projection,
        rate_limit=(30, 60),
        description="Monthly cost per provider and plan from recent usage (operators).",
    ),
    Procedure(
        path="ops.health",
        kind="query",
        input=None,
        output=HealthOutput,
        handler=ops_health,
        rate_limit=(120, 60),
        description="Queue depths, error rates, cron state and bridge load (operators).",
    ),
    Procedure(
        path="ops.watch",
        kind="mutation",
        input=TypeAdapter(WatchInput | None),
        output=WatchOutput,
        handler=ops_watch,
        rate_limit=(20, 60),
        description="Supabase mode: keep system-health coming for 90 s (every 30 s; operators).",
    ),
]
