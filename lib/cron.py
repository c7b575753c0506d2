"""Cron jobs: `GET /api/cron/<job>` runs the declared job of that name (vercel.json schedules it).

Vercel calls the path with `Authorization: Bearer $CRON_SECRET`; anything else is 401 (a
blank CRON_SECRET refuses every call). An unknown job is 404. A run takes the job's lease
(public.cron_lease_acquire: a row, since Supabase's pooler forbids session advisory locks);
if another invocation holds it — Vercel may deliver a cron twice, a slow run may overlap the
next tick — the answer is 200 `{"job", "skipped": "already running"}` and nothing runs.
Otherwise the job runs and public.cron_finish records it in `cron_runs` (job, started_at,
duration_ms, result, error) and drops the lease, in one transaction. A run that dies without
finishing leaves a lease that expires after LEASE_S, longer than any function may run.

A job is declared as data, `CronJob(name, run, schedule)`, by core (lib.core) or by a
feature (`Feature(jobs=...)`); `schedule` is what vercel.json must say for it (None: run by
hand only, e.g. `curl -H "Authorization: Bearer $CRON_SECRET" .../api/cron/<job>`). The
`cleanup` job is composed from every declared `Cleanup` (name -> rows deleted). A job gets the
app's `Services` and returns a JSON-able dict.
"""

from __future__ import annotations

import hmac
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from lib.config import Settings
from lib.errors import NotFound, SocklessError, Unauthorized

if TYPE_CHECKING:
    from lib.services import Services

LEASE_S = 330
"""Longer than Vercel's default maxDuration (300 s): a lease outlives any run holding it."""
PATH_PREFIX = "/api/cron/"


Job = Callable[["Services"], Awaitable[dict[str, Any]]]
CleanupStep = Callable[["Services"], Awaitable[int]]


@dataclass(frozen=True, kw_only=True)
class CronJob:
    name: str
    run: Job
    schedule: str | None
    """The vercel.json schedule (UTC cron expression), or None for a job run by hand."""
    description: str = ""


@dataclass(frozen=True, kw_only=True)
class Cleanup:
    name: str
    run: CleanupStep
    """Deletes what has outlived its use; returns the rows deleted."""


CLEANUP_SCHEDULE = "17 3 * * *"


def cleanup_job(cleanups: Sequence[Cleanup]) -> CronJob:
    """The `cleanup` job: every declared cleanup in turn -> {"deleted": {name: rows}}."""

    async def run_cleanups(services: Services) -> dict[str, Any]:
        return {"deleted": {step.name: await step.run(services) for step in cleanups}}

    return CronJob(
        name="cleanup",
        run=run_cleanups,
        schedule=CLEANUP_SCHEDULE,
        description="Delete rows past retention: " + ", ".join(c.name for c in cleanups),
    )


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


def handler(jobs: Mapping[str, CronJob]) -> Callable[[Request, Services], Awaitable[Any]]:
    """The GET handler behind api/cron.py for these jobs."""

    async def cron(request: Request, services: Services) -> dict[str, Any]:
        return await run(request, services, jobs)

    return cron


async def run(request: Request, services: Services, jobs: Mapping[str, CronJob]) -> dict[str, Any]:
    """GET /api/cron/<job>: check the secret, take the lease, run, record."""
    check_secret(request, services.settings)
    name = job_name(request)
    job = jobs.get(name)
    if job is None:
        raise NotFound(f"no cron job {name!r}; jobs: {', '.join(sorted(jobs))}")
    db = services.db
    holder = str(uuid.uuid4())
    if not await db.rpc("cron_lease_acquire", p_job=name, p_holder=holder, p_ttl_s=LEASE_S):
        return {"job": name, "skipped": "already running"}
    started_at = datetime.now(UTC)
    started = time.perf_counter()
    result: dict[str, Any] | None = None
    error: BaseException | None = None
    try:
        result = await job.run(services)
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
