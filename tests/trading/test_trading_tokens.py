"""The `refresh-expiring-tokens` cron against the Tradovate stand-in (dev/brokers.py), which
counts renewals per user: a token near expiry is renewed (never a new login) and stored
encrypted, two concurrent runs renew it once, a refused renewal marks the connection
needs_reauth and tells its owner (`connection-status`, under pusher and supabase), whose sync
then answers a clear error; and trading.sync renews a token within 5 minutes of expiry itself."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from dev.brokers import FakeBrokers
from dev.stack import Stack
from lib.features.trading.tokens import refresh_expiring_tokens
from tests.messaging.messaging_support import Trpc, data, error
from tests.outbox_support import sql
from tests.support import stack_services
from tests.trading.trading_support import events, new_user


def fake(stack: Stack) -> FakeBrokers:
    assert stack.brokers is not None
    return stack.brokers


async def tradovate(stack: Stack, api: Callable[[str], Trpc]) -> tuple[str, str, Trpc, str]:
    """(user, Tradovate name, caller, connection id) with a token that expires in 10 min."""
    user, name = new_user(), f"tv{new_user()}"
    caller = api(user)
    connected = data(
        await caller.mutation(
            "trading.connect", {"broker": "tradovate", "name": name, "password": f"pw-{name}"}
        )
    )
    connection = connected["connection"]["id"]
    with sql(stack) as conn:
        conn.execute(
            "update public.trading_connections set token_expires_at = now() + interval '10 min'"
            " where id = %s",
            [connection],
        )
    return user, name, caller, connection


def row(stack: Stack, connection: str) -> dict[str, Any]:
    with sql(stack) as conn:
        found = conn.execute(
            "select status, status_reason, access_token, token_expires_at, refreshing_until,"
            " token_expires_at > now() + interval '60 min' as fresh"
            " from public.trading_connections where id = %s",
            [connection],
        ).fetchone()
    assert found is not None
    return dict(found)


def cron(stack: Stack, http: httpx.AsyncClient) -> Any:
    return http.get(
        f"{stack.api_url}/api/cron/refresh-expiring-tokens",
        headers={"Authorization": f"Bearer {stack.config.cron_secret}"},
    )


async def test_a_token_near_expiry_is_renewed_and_stored_encrypted(stack: Stack, api, http):  # noqa: ANN001
    _, name, caller, connection = await tradovate(stack, api)
    before = row(stack, connection)
    assert not before["fresh"]

    answer = await cron(stack, http)
    assert answer.status_code == 200, answer.text

    after = row(stack, connection)
    assert fake(stack).renewed.get(name) == 1
    assert after["status"] == "active" and after["fresh"] and after["refreshing_until"] is None
    assert after["access_token"] != before["access_token"]
    assert after["access_token"].startswith("gAAAAA")  # Fernet ciphertext, never the token
    assert not any(after["access_token"] == t for t in fake(stack).tokens)
    # the renewed token works: a sync reaches the broker with it
    synced = data(await caller.mutation("trading.sync", {"connectionId": connection}))
    assert synced["source"] == "broker"
    # nothing is due any more: a second run renews nothing
    assert (await cron(stack, http)).status_code == 200
    assert fake(stack).renewed.get(name) == 1


async def test_two_concurrent_runs_renew_a_connection_once(stack: Stack, api):  # noqa: ANN001
    _, name, _, connection = await tradovate(stack, api)
    services = stack_services(stack)
    # straight to the job, twice at once: the cron endpoint's own job lease is not what keeps
    # the renewals single here, the connection's claim is
    await asyncio.gather(refresh_expiring_tokens(services), refresh_expiring_tokens(services))
    assert fake(stack).renewed.get(name) == 1
    assert row(stack, connection)["fresh"]


@pytest.mark.parametrize("provider", ["pusher", "supabase"])
async def test_a_refused_renewal_marks_needs_reauth_and_tells_the_owner(
    stack: Stack,
    api,  # noqa: ANN001
    provider: str,
):
    user, name, caller, connection = await tradovate(stack, api)
    fake(stack).refused_renewals.add(name)
    assert stack.gateway is not None
    topic = f"user-{user}"

    outcome = await refresh_expiring_tokens(stack_services(stack, REALTIME_PROVIDER=provider))
    assert outcome["needsReauth"] >= 1

    after = row(stack, connection)
    assert after["status"] == "needs_reauth" and after["refreshing_until"] is None
    assert "reconnect" in after["status_reason"]
    status = [body for event, body in events(stack, user) if event == "connection-status"]
    assert status == [
        {"connectionId": connection, "status": "needs_reauth", "reason": after["status_reason"]}
    ]
    with sql(stack) as conn:
        published = conn.execute(
            "select id, published_at, last_error, attempts from public.outbox where channel = %s"
            " and event = 'connection-status'",
            [f"private-user-{user}"],
        ).fetchone()
    assert published is not None and published["published_at"] is not None, published
    broadcasts = [m for m in stack.gateway.broadcasts if m["topic"] == topic]
    if provider == "supabase":  # Supabase Realtime's broadcast REST (the gateway emulates it)
        (message,) = broadcasts
        assert message["event"] == "connection-status" and message["private"] is True
        assert message["payload"]["id"] == str(published["id"])
        assert message["payload"]["data"]["status"] == "needs_reauth"
    else:
        assert broadcasts == []
    listed = data(await caller.query("trading.connections", None))["connections"]
    assert [c["status"] for c in listed] == ["needs_reauth"]

    # a needs_reauth connection is no longer due, and its sync answers a clear error
    await refresh_expiring_tokens(stack_services(stack))
    assert len([e for e, _ in events(stack, user) if e == "connection-status"]) == 1
    refused = await caller.mutation("trading.sync", {"connectionId": connection})
    assert error(refused)["code"] == "PRECONDITION_FAILED"
    assert "needs_reauth" in error(refused)["message"]
    assert "reconnect" in error(refused)["message"]


async def test_alpaca_keys_never_expire_so_nothing_is_renewed(stack: Stack, api):  # noqa: ANN001
    user, key = new_user(), f"PK{new_user()}"
    connected = data(
        await api(user).mutation(
            "trading.connect", {"broker": "alpaca", "apiKey": key, "apiSecret": f"secret-{key}"}
        )
    )
    assert connected["connection"]["tokenExpiresAt"] is None
    renewals = fake(stack).renewals
    await refresh_expiring_tokens(stack_services(stack))
    assert fake(stack).renewals == renewals


def expiring_in(stack: Stack, connection: str, seconds: int) -> None:
    with sql(stack) as conn:
        conn.execute(
            "update public.trading_connections"
            " set token_expires_at = now() + make_interval(secs => %s) where id = %s",
            [seconds, connection],
        )


async def test_a_sync_renews_a_token_about_to_expire_before_fetching(stack: Stack, api):  # noqa: ANN001
    _, name, caller, connection = await tradovate(stack, api)
    expiring_in(stack, connection, 120)  # due for the sync (5 min), between cron runs
    synced = data(await caller.mutation("trading.sync", {"connectionId": connection}))
    assert synced["source"] == "broker"
    assert fake(stack).renewed.get(name) == 1
    after = row(stack, connection)
    assert after["fresh"] and after["refreshing_until"] is None and after["status"] == "active"


async def test_a_sync_leaves_a_token_with_time_left_to_the_cron(stack: Stack, api):  # noqa: ANN001
    _, name, caller, connection = await tradovate(stack, api)  # 10 min left
    synced = data(await caller.mutation("trading.sync", {"connectionId": connection}))
    assert synced["source"] == "broker"
    assert fake(stack).renewed.get(name) is None


async def test_a_sync_whose_renewal_is_refused_answers_reconnect(stack: Stack, api):  # noqa: ANN001
    user, name, caller, connection = await tradovate(stack, api)
    expiring_in(stack, connection, 60)
    fake(stack).refused_renewals.add(name)
    refused = await caller.mutation("trading.sync", {"connectionId": connection})
    assert error(refused)["code"] == "PRECONDITION_FAILED"
    assert "reconnect" in error(refused)["message"]
    assert row(stack, connection)["status"] == "needs_reauth"
    assert [e for e, _ in events(stack, user) if e == "connection-status"] == ["connection-status"]
