"""Cron jobs: `GET /api/cron/<job>` runs `JOBS[job]` (vercel.json lists each under "crons").

Vercel calls the path with `Authorization: Bearer $CRON_SECRET`; anything else is 401 (a
blank CRON_SECRET refuses every call). An unknown job is 404. A run takes the job's lease
(public.cron_lease_acquire: a row, since Supabase's pooler forbids session advisory locks);
if another invocation holds it — Vercel may deliver a cron twice, a slow run may overlap the
next tick — the answer is 200 `{"job", "skipped": "already running"}` and nothing runs.
Otherwise the job runs and public.cron_finish records it in `cron_runs` (job, started_at,
duration_ms, result, error) and drops the lease, in one transaction. A run that dies without
finishing leaves a lease that expires after LEASE_S, longer than any function may run.

Jobs are plain async functions of a `JobContext` returning a JSON-able dict, registered in
JOBS below — nothing registers itself.
"""

from __future__ import annotations

import hmac
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request

from lib import cache
from lib.config import Settings, settings
from lib.db import Database, database
from lib.errors import NotFound, SocklessError, Unauthorized

LEASE_S = 330
"""Longer than Vercel's default maxDuration (300 s): a lease outlives any run holding it."""
PATH_PREFIX = "/api/cron/"


@dataclass(frozen=True)
class JobContext:
    db: Database
    settings: Settings


Job = Callable[[JobContext], Awaitable[dict[str, Any]]]
Cleanup = Callable[[JobContext], Awaitable[int]]


async def _old_cron_runs(ctx: JobContext) -> int:
    return int(
        await ctx.db.rpc(
            "cron_runs_cleanup", p_retention_days=ctx.settings.cron_runs_retention_days
        )
    )


async def _rate_limit_windows(ctx: JobContext) -> int:
    return int(await ctx.db.rpc("rate_limit_cleanup"))


async def _cache_entries(ctx: JobContext) -> int:
    return await cache.expire(ctx.db)


async def _outbox_rows(ctx: JobContext) -> int:
    """Published (and parked) outbox events past retention (lib.realtime.outbox.RelayPolicy)."""
    from lib.realtime.outbox import cleanup as outbox_cleanup

    return await outbox_cleanup(ctx.db)


async def _presence_rows(ctx: JobContext) -> int:
    """Old webhook digests and absent presence rows (lib.features.messaging.presence)."""
    return int(await ctx.db.rpc("realtime_presence_cleanup", p_retention_seconds=86_400))


async def _message_notifications(ctx: JobContext) -> int:
    """Finished offline-notification items and batches older than 30 days."""
    return int(await ctx.db.rpc("messaging_notify_cleanup", p_retention_days=30))


CLEANUPS: dict[str, Cleanup] = {
    "cron_runs": _old_cron_runs,
    "rate_limits": _rate_limit_windows,
    "cache_entries": _cache_entries,
    "outbox": _outbox_rows,
    "realtime_presence": _presence_rows,
    "message_notifications": _message_notifications,
}
"""What `cleanup` deletes, by name -> rows deleted. Features add their own entry here."""


async def cleanup(ctx: JobContext) -> dict[str, Any]:
    """Delete what has outlived its use; returns rows deleted per kind."""
    return {"deleted": {name: await step(ctx) for name, step in CLEANUPS.items()}}


async def outbox_relay(ctx: JobContext) -> dict[str, Any]:
    """Publish the outbox rows earlier invocations left behind (lib.realtime.outbox)."""
    from lib.realtime import publisher
    from lib.realtime.outbox import relay_all

    return await relay_all(ctx.db, publisher(ctx.settings))


async def notify_offline(ctx: JobContext) -> dict[str, Any]:
    """One SMS/email per recipient about messages they missed (lib.features.messaging.offline)."""
    from lib.features.messaging.offline import notify_offline as run_notify_offline

    return await run_notify_offline(ctx)


JOBS: dict[str, Job] = {
    "cleanup": cleanup,
    "outbox-relay": outbox_relay,
    "notify-offline": notify_offline,
}


def check_secret(request: Request, config: Settings) -> None:
    """Unauthorized unless the request carries `Authorization: Bearer $CRON_SECRET`."""
    expected = config.cron_secret.get()
    if not expected:
        raise Unauthorized("cron jobs are disabled: CRON_SECRET is not set")
    given = request.headers.get("authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {expected}".encode()):
        raise Unauthorized("cron calls need 'Authorization: Bearer $CRON_SECRET'")


def job_name(request: Request) -> str:
    """The job named by the original path `/api/cron/<job>` (Vercel rewrites keep it)."""
    path = request.url.path.rstrip("/")
    name = path[len(PATH_PREFIX) :] if path.startswith(PATH_PREFIX) else ""
    if not name:
        raise NotFound("name a job: /api/cron/<job>")
    return name


async def run(
    request: Request,
    *,
    config: Settings | None = None,
    db: Database | None = None,
    jobs: Mapping[str, Job] = JOBS,
) -> dict[str, Any]:
    """GET /api/cron/<job>: check the secret, take the lease, run, record."""
    config = config or settings()
    check_secret(request, config)
    name = job_name(request)
    job = jobs.get(name)
    if job is None:
        raise NotFound(f"no cron job {name!r}; jobs: {', '.join(sorted(jobs))}")
    db = db or database(config)
    holder = str(uuid.uuid4())
    if not await db.rpc("cron_lease_acquire", p_job=name, p_holder=holder, p_ttl_s=LEASE_S):
        return {"job": name, "skipped": "already running"}
    started_at = datetime.now(UTC)
    started = time.perf_counter()
    result: dict[str, Any] | None = None
    error: BaseException | None = None
    try:
        result = await job(JobContext(db=db, settings=config))
    except Exception as exc:
        error = exc
    duration_ms = round((time.perf_counter() - started) * 1000)
    await db.rpc(
        "cron_finish",
        p_job=name,
        p_holder=holder,
        p_started_at=started_at.isoformat(),
        p_duration_ms=duration_ms,
        p_result=result,
        p_error=None if error is None else _describe(error),
    )
    if error is not None:
        if isinstance(error, SocklessError):
            raise error
        raise SocklessError(f"cron job {name!r} failed") from error
    return {"job": name, "durationMs": duration_ms, "result": result}


def _describe(error: BaseException) -> str:
    if isinstance(error, SocklessError):
        return f"{error.code}: {error.message}"
    return f"{error.__class__.__name__}: {error}"
