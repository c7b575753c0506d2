"""GET /api/cron/<job>: the secret, the registry, the lease that keeps a job single, and the
cron_runs record — over HTTP through the stack, and inline with jobs made for the test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from dev.stack import Stack
from lib import cron as cron_api
from lib.cron import CronJob
from lib.db import Database
from lib.services import Services
from lib.web import function
from tests.support import asgi_client, sql, stack_services, unique

WAIT_S = 10


def cron(stack: Stack, job: str, secret: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {secret}"} if secret is not None else {}
    return httpx.get(f"{stack.api_url}/api/cron/{job}", headers=headers, timeout=30)


def runs_of(stack: Stack, job: str) -> list[tuple[Any, ...]]:
    with sql(stack) as conn:
        return conn.execute(
            "select duration_ms, result, error from public.cron_runs where job = %s order by id",
            [job],
        ).fetchall()


@pytest.mark.parametrize("header", [None, "Bearer wrong-secret", "{secret}", "Basic {secret}"])
def test_cron_without_the_secret_is_401(stack: Stack, header: str | None):
    headers = (
        {} if header is None else {"Authorization": header.format(secret=stack.config.cron_secret)}
    )
    response = httpx.get(f"{stack.api_url}/api/cron/cleanup", headers=headers, timeout=30)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHORIZED"


def test_unknown_job_is_404(stack: Stack):
    response = cron(stack, "no-such-job", stack.config.cron_secret)
    assert response.status_code == 404
    assert "cleanup" in response.json()["error"]["message"]  # it lists the jobs there are


def test_cleanup_deletes_what_has_expired_and_is_recorded(stack: Stack):
    old_job, limit_key, cache_key = unique("old-job"), unique("rl"), unique("cache")
    with sql(stack) as conn:
        conn.execute(
            "insert into public.cron_runs (job, started_at, duration_ms) "
            "values (%s, now() - interval '400 days', 1), (%s, now(), 1)",
            [old_job, old_job],
        )
        conn.execute(
            "insert into public.rate_limits (key, count, reset_at) "
            "values (%s, 3, now() - interval '1 minute')",
            [limit_key],
        )
        conn.execute(
            "insert into public.cache_entries (key, value, expires_at) "
            "values (%s, '1', now() - interval '1 minute')",
            [cache_key],
        )
    before = len(runs_of(stack, "cleanup"))

    response = cron(stack, "cleanup", stack.config.cron_secret)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["job"] == "cleanup"
    deleted = body["result"]["deleted"]
    assert deleted["cron_runs"] >= 1 and deleted["rate_limits"] >= 1
    assert deleted["cache_entries"] >= 1
    assert len(runs_of(stack, old_job)) == 1  # the recent run is kept
    with sql(stack) as conn:
        assert conn.execute(
            "select count(*) from public.rate_limits where key = %s", [limit_key]
        ).fetchone() == (0,)
        assert conn.execute(
            "select count(*) from public.cache_entries where key = %s", [cache_key]
        ).fetchone() == (0,)
    runs = runs_of(stack, "cleanup")
    assert len(runs) == before + 1
    duration_ms, result, error = runs[-1]
    assert duration_ms >= 0 and error is None
    assert result == body["result"]


@pytest.fixture
async def services(stack: Stack) -> AsyncIterator[Services]:
    built = stack_services(stack)
    database = Database(built.settings)
    try:
        yield built.replace(db=database)
    finally:
        await database.aclose()


def cron_app(services: Services, name: str, job: Any) -> Any:
    """An api/cron.py-like app serving one job made for the test."""
    jobs = {name: CronJob(name=name, run=job, schedule=None)}
    return function(GET=cron_api.handler(jobs), services=services)


async def test_two_concurrent_runs_of_one_job_run_it_once(stack: Stack, services: Services):
    name = unique("slow-job")
    started, release = asyncio.Event(), asyncio.Event()
    calls = 0

    async def slow(_: Services) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        started.set()
        await release.wait()
        return {"done": True}

    app = cron_app(services, name, slow)
    headers = {"Authorization": f"Bearer {stack.config.cron_secret}"}
    async with asgi_client(app) as client:
        async with asyncio.timeout(WAIT_S), asyncio.TaskGroup() as group:
            first = group.create_task(client.get(f"/api/cron/{name}", headers=headers))
            await started.wait()
            second = await client.get(f"/api/cron/{name}", headers=headers)
            release.set()
        after = await client.get(f"/api/cron/{name}", headers=headers)  # lease released

    assert second.status_code == 200
    assert second.json() == {"job": name, "skipped": "already running"}
    assert first.result().status_code == 200
    assert first.result().json()["result"] == {"done": True}
    assert after.json()["result"] == {"done": True}
    assert calls == 2
    assert [(result, error) for _, result, error in runs_of(stack, name)] == [
        ({"done": True}, None),
        ({"done": True}, None),
    ]


async def test_a_failing_job_is_recorded_with_its_error(stack: Stack, services: Services):
    name = unique("broken-job")

    async def broken(_: Services) -> dict[str, Any]:
        raise RuntimeError("the broker is down")

    app = cron_app(services, name, broken)
    headers = {"Authorization": f"Bearer {stack.config.cron_secret}"}
    async with asgi_client(app) as client:
        failed = await client.get(f"/api/cron/{name}", headers=headers)
        again = await client.get(f"/api/cron/{name}", headers=headers)
    assert failed.status_code == 500
    assert failed.json()["error"]["code"] == "INTERNAL_SERVER_ERROR"
    assert again.status_code == 500  # the lease was released, so it ran again
    assert [error for _, _, error in runs_of(stack, name)] == [
        "RuntimeError: the broker is down",
        "RuntimeError: the broker is down",
    ]


def test_outbox_relay_is_a_registered_job_and_is_recorded(stack: Stack):
    before = len(runs_of(stack, "outbox-relay"))
    response = cron(stack, "outbox-relay", stack.config.cron_secret)
    assert response.status_code == 200, response.text
    body = response.json()
    assert {"published", "failed", "rounds"} <= set(body["result"])
    assert len(runs_of(stack, "outbox-relay")) > before
