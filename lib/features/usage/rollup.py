"""The `usage-rollup` cron: yesterday and today, recomputed from the records, into usage_daily.

It runs hourly (not daily): re-running yesterday once more after midnight picks up what
arrived late, and today's figures stay fresh for `make cost`. Peak connections can only be
sampled (public.usage_peak_sample: the day keeps its highest); the rollup samples, and so
does the `ops-health` cron every minute. Each run is idempotent (public.usage_rollup
replaces the day's figures).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lib.db import Database
    from lib.services import Services

EVENTS_PER_CALL = {"pusher": 10, "supabase": 1_000}
"""Events one provider HTTP call carries: Pusher's batch_events takes 10 (lib.realtime.pusher);
Supabase's batch broadcast takes a whole publish in one call."""
RETENTION_DAYS = 400
"""usage_daily keeps a little over a year: enough for a year-on-year projection."""


async def rollup_day(db: Database, day: date, *, provider: str) -> dict[str, Any]:
    result = await db.rpc(
        "usage_rollup",
        p_day=day.isoformat(),
        p_realtime_provider=provider,
        p_batch_size=EVENTS_PER_CALL.get(provider, 1),
    )
    return dict(result or {})


async def run(services: Services) -> dict[str, Any]:
    today = services.now().date()
    provider = services.settings.realtime_provider
    days = [today - timedelta(days=1), today]
    return {"days": [await rollup_day(services.db, d, provider=provider) for d in days]}


async def cleanup(services: Services) -> int:
    return int(await services.db.rpc("usage_daily_cleanup", p_retention_days=RETENTION_DAYS))


async def usage_rows(db: Database, *, since: date) -> list[dict[str, Any]]:
    return list(await db.rpc("usage_daily_list", p_since=since.isoformat()) or [])
