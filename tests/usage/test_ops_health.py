"""ops.health, usage.projection and the `ops-health` cron through their public edges against
the local stack: operators only, a precise FORBIDDEN for anyone else; a system-health event
(and a system-alert when a threshold is crossed) reaches an operator present on their ops
channel, and nobody else. The bridge is reached at the wire (httpx.MockTransport answering
as worker/server.py's GET /health does)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from dev.stack import Stack
from lib.features import BUNDLE
from lib.features.usage import health
from lib.features.usage.events import SystemHealth
from lib.realtime.memory import MemoryPublisher
from lib.rpc import trpc_app
from tests.support import asgi_client, sql, stack_services


def bridge(active_calls: int) -> httpx.AsyncClient:
    def answer(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/health"
        return httpx.Response(200, json={"status": "healthy", "activeCalls": active_calls})

    return httpx.AsyncClient(transport=httpx.MockTransport(answer))


@pytest.fixture
def operator() -> str:
    return f"op{uuid.uuid4().hex[:8]}"


@pytest.fixture
def watching(stack: Stack, operator: str) -> Iterator[str]:
    """`operator` present on presence-ops-{operator} (as the Pusher webhook records it)."""
    with sql(stack) as conn:
        conn.execute(
            "insert into public.realtime_presence (user_id, channel, present, event_time_ms,"
            " event_index) values (%s, %s, true, 1, 0)",
            [operator, health.OPS_CHANNEL_PREFIX + operator],
        )
    yield operator
    with sql(stack) as conn:
        conn.execute("delete from public.realtime_presence where user_id = %s", [operator])


async def query(services: Any, path: str, who: str, token: Any, input: Any = None) -> Any:
    async with asgi_client(trpc_app(BUNDLE.router, services=services)) as rpc:
        params = {"input": json.dumps(input)} if input is not None else {}
        response = await rpc.get(
            f"/api/trpc/{path}", params=params, headers={"authorization": f"Bearer {token(who)}"}
        )
    return response.json()


async def test_ops_health_answers_operators_and_refuses_everyone_else(
    stack: Stack, operator: str, token: Any
):
    services = stack_services(
        stack, ADMIN_USER_IDS=operator, BRIDGE_URL="wss://bridge.test/secret-path"
    ).replace(http=bridge(3))
    refused = await query(services, "ops.health", "someone-else", token)
    assert refused["error"]["data"]["code"] == "FORBIDDEN"
    answer = (await query(services, "ops.health", operator, token))["result"]["data"]
    assert {"outbox", "publish", "webhooks", "cron", "bridge"} <= answer["health"].keys()
    assert answer["health"]["bridge"] == {"reachable": True, "status": "healthy", "activeCalls": 3}
    assert "watchers" not in answer["health"]


async def test_a_parked_event_and_a_busy_bridge_raise_alerts(stack: Stack, operator: str):
    with sql(stack) as conn:
        parked = conn.execute(
            "insert into public.outbox (channel, event, next_attempt_at, attempts)"
            " values ('private-user-x', 'new-message', 'infinity', 20) returning id"
        ).fetchone()[0]
    try:
        services = stack_services(stack, BRIDGE_URL="ws://127.0.0.1:9").replace(
            http=bridge(health.THRESHOLDS.bridge_active_calls)
        )
        found = health.alerts(await health.gather(services))
    finally:
        with sql(stack) as conn:
            conn.execute("delete from public.outbox where id = %s", [parked])
    assert any(a.startswith("outbox:") and "parked" in a for a in found), found
    assert f"bridge: {health.THRESHOLDS.bridge_active_calls} active calls" in found


async def test_the_cron_sends_system_health_only_to_operators_watching(stack: Stack, watching: str):
    publisher = MemoryPublisher()
    services = stack_services(stack, ADMIN_USER_IDS=f"{watching},absent-op").replace(
        publisher=publisher, http=bridge(0)
    )
    result = await health.watch(services)
    assert result["watching"] == 1
    with sql(stack) as conn:
        [(peak,)] = conn.execute(
            "select value from public.usage_daily where day = (now() at time zone 'UTC')::date"
            " and metric = 'peak_connections' and provider = %s",
            [services.settings.realtime_provider],
        ).fetchall()
    assert peak >= 1, "each minute's run samples today's peak connections"
    events = publisher.on(health.OPS_CHANNEL_PREFIX + watching)
    assert [e.type for e in events][:1] == ["system-health"]
    assert {"outbox", "cron", "bridge"} <= events[0].data.keys()
    SystemHealth.model_validate(events[0].data)  # the shape `make types` promises front ends
    assert not publisher.on(health.OPS_CHANNEL_PREFIX + "absent-op")

    nobody = MemoryPublisher()
    alone = stack_services(stack, ADMIN_USER_IDS="absent-op").replace(publisher=nobody)
    assert (await health.watch(alone)) == {"watching": 0}
    assert nobody.published == []


async def test_usage_projection_reads_usage_daily_and_shows_the_formulas(
    stack: Stack, operator: str, token: Any
):
    with sql(stack) as conn:
        conn.execute(
            "insert into public.usage_daily (day, provider, metric, dimension, value)"
            " values (current_date, 'supabase', 'events_published', '', 40000)"
            " on conflict (day, provider, metric, dimension) do update set value = 40000"
        )
    services = stack_services(stack, ADMIN_USER_IDS=operator)
    refused = await query(services, "usage.projection", "someone-else", token, {"days": 7})
    assert refused["error"]["data"]["code"] == "FORBIDDEN"
    async with asgi_client(trpc_app(BUNDLE.router, services=services)) as rpc:
        anonymous = (await rpc.get("/api/trpc/usage.projection")).json()
    assert anonymous["error"]["data"]["code"] == "UNAUTHORIZED"
    extra = await query(services, "usage.projection", operator, token, {"days": 7, "x": 1})
    assert extra["error"]["data"]["code"] == "BAD_REQUEST"
    bad = await query(services, "usage.projection", operator, token, {"days": 0})
    assert bad["error"]["data"]["code"] == "BAD_REQUEST"
    answer = await query(services, "usage.projection", operator, token, {"days": 1})
    data = answer["result"]["data"]
    assert data["projection"]["usage"]["publishes"] >= 40000
    assert "cheapest that fits" in data["text"]
    assert "Polling instead" in data["text"]


async def test_an_operator_subscribed_with_pusher_js_receives_system_health(
    stack: Stack, connect: Any
):
    """End to end: official pusher-js joins presence-ops-{operator} through our auth endpoint;
    the local server's member_added webhook marks the operator present; the cron's run
    publishes through the real Pusher publisher; the event reaches the browser client."""
    operator = f"op{uuid.uuid4().hex[:8]}"
    client = await connect(operator)
    channel = health.OPS_CHANNEL_PREFIX + operator
    assert (await client.subscribe(channel))["type"] == "subscribed"
    async with asyncio.timeout(15):
        while True:  # the presence webhook arrives asynchronously
            with sql(stack) as conn:
                row = conn.execute(
                    "select present from public.realtime_presence where user_id = %s"
                    " and channel = %s",
                    [operator, channel],
                ).fetchone()
            if row and row[0]:
                break
            await asyncio.sleep(0.2)
    services = stack_services(stack, ADMIN_USER_IDS=operator)
    assert (await health.watch(services))["watching"] == 1
    event = await client.expect("event", channel=channel, event="system-health")
    assert {"outbox", "webhooks", "cron", "bridge"} <= event["data"]["data"].keys()

    stranger = await connect(f"x{uuid.uuid4().hex[:8]}")
    refused = await stranger.subscribe(channel)
    assert refused["type"] == "subscription_error"
