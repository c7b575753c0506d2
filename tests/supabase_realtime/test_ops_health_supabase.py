"""Live ops health in Supabase mode, seen by @supabase/supabase-js (npm, unmodified): the
operator joins the private topic `ops-{id}` (RLS: only that user), says "watching" with the
tRPC mutation `ops.watch` (Supabase Realtime sends no presence webhooks), and the
`ops-health` cron's run publishes `system-health` through the real Supabase publisher to
that socket; `ops.watch({watching: false})` or an expired watch stops it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from dev.stack import Stack
from lib.features import BUNDLE
from lib.features.usage import health
from lib.rpc import trpc_app
from tests.supabase_realtime.harness import SupabaseJsClients
from tests.support import asgi_client, sql, stack_services

pytestmark = pytest.mark.stack
Call = Callable[..., Any]


@pytest.fixture
def operator() -> str:
    return f"op{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def ops(stack: Stack, operator: str, token: Any) -> AsyncIterator[Call]:
    """ops(who, path, input) -> the tRPC answer, from the api in Supabase mode."""
    services = stack_services(stack, REALTIME_PROVIDER="supabase", ADMIN_USER_IDS=operator)
    async with asgi_client(trpc_app(BUNDLE.router, services=services)) as rpc:

        async def call(who: str, path: str, input: Any = None) -> Any:
            response = await rpc.post(
                f"/api/trpc/{path}",
                json={} if input is None else input,
                headers={"authorization": f"Bearer {token(who)}"},
            )
            return response.json()

        yield call
    with sql(stack) as conn:
        conn.execute("delete from public.realtime_presence where user_id = %s", [operator])


def cron_services(stack: Stack, operator: str) -> Any:
    """The `ops-health` cron's services in Supabase mode (the bridge: not configured)."""
    return stack_services(
        stack, REALTIME_PROVIDER="supabase", ADMIN_USER_IDS=operator, BRIDGE_URL=""
    )


async def test_an_operator_watching_with_supabase_js_receives_system_health(
    stack: Stack, token: Any, operator: str, ops: Call, supabase_js: SupabaseJsClients
) -> None:
    topic = f"ops-{operator}"
    client = await supabase_js(token(operator))
    assert (await client.subscribe(topic, private=True))["status"] == "SUBSCRIBED"
    assert (await health.watch(cron_services(stack, operator))) == {"watching": 0}

    answer = await ops(operator, "ops.watch")
    assert "result" in answer, answer
    watched = answer["result"]["data"]
    assert watched["watching"] is True and watched["ttlSeconds"] == 90
    assert (await health.watch(cron_services(stack, operator)))["watching"] == 1
    event = await client.expect("broadcast", topic=topic, event="system-health")
    assert {"outbox", "webhooks", "cron", "bridge"} <= event["payload"]["data"].keys()

    await ops(operator, "ops.watch", {"watching": False})
    assert (await health.watch(cron_services(stack, operator))) == {"watching": 0}

    stranger = await supabase_js(token(f"x{uuid.uuid4().hex[:8]}"))
    refused = await stranger.subscribe(topic, private=True)
    assert refused["status"] == "CHANNEL_ERROR"


async def test_a_watch_that_was_not_renewed_expires_and_only_operators_may_watch(
    stack: Stack, operator: str, ops: Call
) -> None:
    assert (await ops(operator, "ops.watch"))["result"]["data"]["watching"] is True
    with sql(stack) as conn:  # the page vanished 91 s ago without saying so
        conn.execute(
            "update public.realtime_presence set expires_at = now() - interval '1 second'"
            " where user_id = %s",
            [operator],
        )
    assert (await health.watch(cron_services(stack, operator))) == {"watching": 0}

    refused = await ops("someone-else", "ops.watch")
    assert refused["error"]["data"]["code"] == "FORBIDDEN"
    malformed = await ops(operator, "ops.watch", {"watching": "yes please"})
    assert malformed["error"]["data"]["code"] == "BAD_REQUEST"
