"""Metering against the local stack's real Postgres and PostgREST: known records of one day
(outbox publishes, presence, webhook events, cron runs, a broker sync, a call) roll up into
usage_daily with the figures a person would count by hand; invocation tallies add up; the
cron jobs run through the api; retention removes old days."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from dev.stack import Stack
from lib.errors import SocklessError
from lib.features.usage import rollup
from lib.invocations import InvocationTally
from lib.web import function
from tests.support import asgi_client, sql, stack_env, stack_services, stack_settings


def a_past_day() -> date:
    """A day no other test writes to (the rollup replaces a whole day)."""
    return date(2024, 1, 1) + timedelta(days=random.randrange(300))


def at(day: date, hour: int, second: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, 0, second, tzinfo=UTC)


def usage(stack: Stack, day: date) -> dict[tuple[str, str, str], float]:
    with sql(stack) as conn:
        rows = conn.execute(
            "select provider, metric, dimension, value from public.usage_daily where day = %s",
            [day],
        ).fetchall()
    return {(p, m, d): v for p, m, d, v in rows}


def arrange_day(stack: Stack, day: date) -> dict[str, Any]:
    online, member_a, member_b = (f"u{uuid.uuid4().hex[:8]}" for _ in range(3))
    poker = f"presence-poker-{uuid.uuid4()}"
    with sql(stack) as conn:

        def publish(channel: str, count: int, when: datetime) -> None:
            conn.execute(
                "insert into public.outbox (channel, event, created_at, published_at)"
                " select %s, 'new-message', %s, %s from generate_series(1, %s)",
                [channel, when, when, count],
            )

        publish(f"private-user-{online}", 25, at(day, 9))  # one publish call of 25 events
        publish(poker, 3, at(day, 10))
        publish(f"private-conversation-{uuid.uuid4()}", 1, at(day, 11))
        publish(f"private-user-{online}", 4, at(day - timedelta(days=1), 23))  # another day
        for user, channel in (
            (online, f"private-user-{online}"),
            (member_a, poker),
            (member_b, poker),
        ):
            conn.execute(
                "insert into public.realtime_presence (user_id, channel, present, event_time_ms,"
                " event_index) values (%s, %s, true, 1, 0)",
                [user, channel],
            )
        for provider, status in (
            ("stripe", "processed"),
            ("stripe", "processed"),
            ("stripe", "failed"),
            ("ghl", "parked"),
        ):
            conn.execute(
                "insert into public.webhook_events (provider, event_id, payload, status,"
                " received_at) values (%s, %s, '{}', %s, %s)",
                [provider, uuid.uuid4().hex, status, at(day, 12)],
            )
        for error in (None, None, "boom"):
            conn.execute(
                "insert into public.cron_runs (job, started_at, duration_ms, error)"
                " values ('outbox-relay', %s, 5, %s)",
                [at(day, 13), error],
            )
        connection = conn.execute(
            "insert into public.trading_connections (user_id, broker) values (%s, 'alpaca')"
            " returning id",
            [online],
        ).fetchone()[0]
        conn.execute(
            "insert into public.trading_sync_logs (connection_id, user_id, source, created_at)"
            " values (%s, %s, 'sync', %s), (%s, %s, 'sync', %s), (%s, %s, 'webhook', %s)",
            [connection, online, at(day, 14)] * 3,
        )
        conn.execute(
            "insert into public.calls (owner_id, provider, direction, from_number, to_number,"
            " status, duration_s, stream_started_at, ended_at)"
            " values (%s, 'twilio', 'inbound', '+15550000001', '+15550000002', 'completed',"
            " 61, %s, %s)",
            [online, at(day, 15), at(day, 15, 30) + timedelta(minutes=1)],
        )
    return {"online": online}


async def test_a_day_of_records_rolls_up_into_the_figures_counted_by_hand(stack: Stack):
    day = a_past_day()
    arrange_day(stack, day)
    services = stack_services(stack)
    await rollup.rollup_day(services.db, day, provider="pusher")
    figures = usage(stack, day)
    assert figures[("pusher", "events_published", "")] == 25 + 3 + 1
    # 25 in one call -> 3 batches of 10, then 1 and 1
    assert figures[("pusher", "provider_calls", "")] == 3 + 1 + 1
    # the online user's channel: 1 listener; the poker room: 2 present; the conversation: 1
    assert figures[("pusher", "deliveries_estimated", "")] == 25 * 1 + 3 * 2 + 1 * 1
    assert figures[("stripe", "webhooks", "processed")] == 2
    assert figures[("stripe", "webhooks", "failed")] == 1
    assert figures[("ghl", "webhooks", "parked")] == 1
    assert figures[("vercel", "cron_runs", "outbox-relay")] == 3
    assert figures[("vercel", "cron_failures", "outbox-relay")] == 1
    assert figures[("alpaca", "syncs", "")] == 2
    assert figures[("alpaca", "api_calls", "")] == 8
    assert figures[("twilio", "calls", "")] == 1
    assert figures[("twilio", "voice_minutes", "")] == 2  # 61 s, billed per started minute
    assert figures[("openai", "realtime_minutes", "")] == 1.5
    assert ("pusher", "peak_connections", "") not in figures  # sampled on the day itself only

    await rollup.rollup_day(services.db, day, provider="pusher")
    assert usage(stack, day) == figures, "a second rollup of the same day changes nothing"


def test_the_rollup_cron_samples_todays_peak_connections_and_keeps_the_highest(
    stack: Stack,
):
    users = [f"peak{uuid.uuid4().hex[:8]}" for _ in range(3)]
    with sql(stack) as conn:
        for user in users:
            conn.execute(
                "insert into public.realtime_presence (user_id, channel, present, event_time_ms,"
                " event_index) values (%s, %s, true, 1, 0)",
                [user, f"private-user-{user}"],
            )
    headers = {"Authorization": f"Bearer {stack.config.cron_secret}"}
    answer = httpx.get(f"{stack.api_url}/api/cron/usage-rollup", headers=headers, timeout=30)
    assert answer.status_code == 200, answer.text
    today = datetime.now(UTC).date()
    provider = stack_settings(stack).realtime_provider
    peak = usage(stack, today)[(provider, "peak_connections", "")]
    assert peak >= 3
    with sql(stack) as conn:
        conn.execute(
            "update public.realtime_presence set present = false where user_id = any(%s)", [users]
        )
    httpx.get(f"{stack.api_url}/api/cron/usage-rollup", headers=headers, timeout=30)
    assert usage(stack, today)[(provider, "peak_connections", "")] >= peak


async def test_invocation_tallies_flush_once_a_minute_and_add_up(stack: Stack):
    services = stack_services(stack)
    app = function(GET=lambda request, services: _ok(), services=services)
    clock = [0.0]
    app.tally = InvocationTally(clock=lambda: clock[0])  # type: ignore[attr-defined]
    route = f"/api/t{uuid.uuid4().hex[:8]}"
    today = datetime.now(UTC).date()
    async with asgi_client(app) as client:
        for _ in range(3):
            assert (await client.get(f"{route}/a/b/c")).status_code == 200
        assert usage(stack, today).get(("vercel", "invocations", f"{route}/a")) is None
        clock[0] = 61.0  # a minute later, the next request flushes the tally after its response
        await client.get(f"{route}/a")
        figures = usage(stack, today)
        assert figures[("vercel", "invocations", f"{route}/a")] == 4
        assert figures[("vercel", "invocation_ms", f"{route}/a")] > 0
        clock[0] = 122.0
        await client.get(f"{route}/a")
        await client.get(f"{route}/a")  # not due again yet: still 5 stored
    assert usage(stack, today)[("vercel", "invocations", f"{route}/a")] == 5


async def _ok() -> dict[str, bool]:
    return {"ok": True}


async def test_bad_invocation_batches_are_refused_whole(stack: Stack):
    services = stack_services(stack)
    rows = [{"day": "2024-02-02", "route": "/api/x", "count": 1, "ms": 1, "maxMs": 1}] * 201
    with pytest.raises(SocklessError, match="at most 200"):
        await services.db.rpc("usage_invocations_add", p_rows=rows)
    assert ("vercel", "invocations", "/api/x") not in usage(stack, date(2024, 2, 2))


def test_cleanup_drops_usage_past_retention_and_keeps_the_rest(stack: Stack):
    old = datetime.now(UTC).date() - timedelta(days=rollup.RETENTION_DAYS + 5)
    recent = datetime.now(UTC).date() - timedelta(days=rollup.RETENTION_DAYS - 5)
    with sql(stack) as conn:
        for day in (old, recent):
            conn.execute(
                "insert into public.usage_daily (day, provider, metric, value)"
                " values (%s, 'pusher', 'events_published', 1) on conflict do nothing",
                [day],
            )
    headers = {"Authorization": f"Bearer {stack.config.cron_secret}"}
    answer = httpx.get(f"{stack.api_url}/api/cron/cleanup", headers=headers, timeout=60)
    assert answer.status_code == 200, answer.text
    assert answer.json()["result"]["deleted"]["usage_daily"] >= 1
    assert usage(stack, old) == {}
    assert usage(stack, recent)


def test_make_cost_prints_the_projection_from_the_stacks_usage(stack: Stack):
    """What `make cost` runs, against the stack's database (its environment, as .env has it)."""
    day = datetime.now(UTC).date()
    with sql(stack) as conn:
        conn.execute(
            "insert into public.usage_daily (day, provider, metric, dimension, value)"
            " values (%s, 'pusher', 'deliveries_estimated', '', 1234)"
            " on conflict (day, provider, metric, dimension) do update set value = 1234",
            [day],
        )
    done = subprocess.run(
        [sys.executable, "-m", "lib.features.usage.cost", "--days", "3", "--clients", "40"],
        env={**os.environ, **stack_env(stack)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "cheapest that fits" in done.stdout
    assert "40 clients x" in done.stdout
