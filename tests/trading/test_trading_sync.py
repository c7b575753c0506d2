"""trading.sync over the stack's /api/trpc against the local Alpaca and Tradovate stand-ins
(dev/brokers.py), counting the calls they serve: a fresh cache answers without a broker call,
50 concurrent syncs of one connection make one fetch, a penalty ticket or a 429 reaches the
client as 429 + Retry-After and keeps every sync away from the broker until it passes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from dev.brokers import FakeBrokers
from dev.stack import Stack
from tests.messaging.messaging_support import Trpc, data, error
from tests.outbox_support import sql
from tests.trading.trading_support import events, new_user

ALPACA_FETCH = 4
"""Calls one Alpaca fetch makes: account, positions, orders, fills."""


def fake(stack: Stack) -> FakeBrokers:
    assert stack.brokers is not None
    return stack.brokers


async def alpaca(stack: Stack, api: Callable[[str], Trpc]) -> tuple[str, Trpc, str]:
    user, key = new_user(), f"PK{new_user()}"
    fake(stack).account("alpaca", key).positions = [{"symbol": "AAPL", "qty": 10, "avgPrice": 190}]
    fake(stack).account("alpaca", key).orders = [
        {
            "id": "o-1",
            "symbol": "AAPL",
            "side": "buy",
            "qty": 10,
            "filledQty": 10,
            "status": "filled",
        }
    ]
    caller = api(user)
    connected = data(
        await caller.mutation(
            "trading.connect", {"broker": "alpaca", "apiKey": key, "apiSecret": f"secret-{key}"}
        )
    )
    assert "webhookSecret" not in connected or connected["webhookSecret"] is None
    return user, caller, connected["connection"]["id"]


def expire(stack: Stack, connection: str, part: str) -> None:
    with sql(stack) as conn:
        conn.execute(
            "delete from public.cache_entries where key = %s", [f"trading:{connection}:{part}"]
        )


async def test_a_sync_calls_the_broker_once_then_serves_from_the_cache(stack: Stack, api):  # noqa: ANN001
    user, caller, connection = await alpaca(stack, api)
    before = fake(stack).calls["alpaca"]
    first = data(await caller.mutation("trading.sync", {"connectionId": connection}))
    assert first["source"] == "broker"
    assert first["changed"] == {"positions": 1, "orders": 1, "balances": 1, "fills": 0}
    assert fake(stack).calls["alpaca"] - before == ALPACA_FETCH
    assert [name for name, _ in events(stack, user)] == [
        "position-update",
        "order-update",
        "balance-update",
    ]

    again = data(await caller.mutation("trading.sync", {"connectionId": connection}))
    assert again["source"] == "cache"
    assert fake(stack).calls["alpaca"] - before == ALPACA_FETCH

    positions = data(await caller.query("trading.positions", {}))["positions"]
    assert [(p["symbol"], p["qty"], p["avgPrice"]) for p in positions] == [("AAPL", 10, 190)]


async def test_after_the_cache_expires_only_changed_rows_are_published(stack: Stack, api):  # noqa: ANN001
    user, caller, connection = await alpaca(stack, api)
    await caller.mutation("trading.sync", {"connectionId": connection})
    with sql(stack) as conn:
        row = conn.execute(
            "select account_id from public.trading_connections where id = %s", [connection]
        ).fetchone()
    assert row is not None
    fake(stack).account("alpaca", row["account_id"]).positions = [
        {"symbol": "AAPL", "qty": 10, "avgPrice": 190},
        {"symbol": "MSFT", "qty": 3, "avgPrice": 410},
    ]
    assert (
        data(await caller.mutation("trading.sync", {"connectionId": connection}))["source"]
        == "cache"
    )
    expire(stack, connection, "book")
    synced = data(await caller.mutation("trading.sync", {"connectionId": connection}))
    assert synced["source"] == "broker"
    assert synced["changed"] == {"positions": 1, "orders": 0, "balances": 0, "fills": 0}
    new = events(stack, user)[3:]
    assert [(name, d["position"]["symbol"]) for name, d in new] == [("position-update", "MSFT")]

    # the broker closed AAPL: a full fetch closes it here too (qty 0), and says so
    fake(stack).account("alpaca", row["account_id"]).positions = [
        {"symbol": "MSFT", "qty": 3, "avgPrice": 410}
    ]
    expire(stack, connection, "book")
    await caller.mutation("trading.sync", {"connectionId": connection})
    closed = events(stack, user)[4:]
    assert [(d["position"]["symbol"], float(d["position"]["qty"])) for _, d in closed] == [
        ("AAPL", 0.0)
    ]


async def test_fifty_concurrent_syncs_of_one_connection_make_one_broker_fetch(stack: Stack, api):  # noqa: ANN001
    _, caller, connection = await alpaca(stack, api)
    before = fake(stack).calls["alpaca"]
    answers = await asyncio.gather(
        *(caller.mutation("trading.sync", {"connectionId": connection}) for _ in range(50))
    )
    sources = [data(a)["source"] for a in answers]
    assert sources.count("broker") == 1 and sources.count("cache") == 49
    assert fake(stack).calls["alpaca"] - before == ALPACA_FETCH


async def test_a_tradovate_penalty_ticket_is_honoured(stack: Stack, api):  # noqa: ANN001
    user, name = new_user(), f"trader{new_user()}"
    caller = api(user)
    connected = data(
        await caller.mutation(
            "trading.connect", {"broker": "tradovate", "name": name, "password": f"pw-{name}"}
        )
    )
    connection = connected["connection"]["id"]
    assert connected["connection"]["tokenExpiresAt"] is not None
    await stack_limit(stack, "tradovate", count=1, retry_after=30)
    before = fake(stack).calls["tradovate"]
    limited = await caller.mutation("trading.sync", {"connectionId": connection})
    assert error(limited)["code"] == "TOO_MANY_REQUESTS"
    assert 1 <= int(limited.headers["retry-after"]) <= 30
    assert fake(stack).calls["tradovate"] - before == 1
    # within the ticket's time no sync reaches the broker
    again = await caller.mutation("trading.sync", {"connectionId": connection})
    assert error(again)["code"] == "TOO_MANY_REQUESTS"
    assert fake(stack).calls["tradovate"] - before == 1


async def test_alpacas_429_reaches_the_client_with_retry_after(stack: Stack, api):  # noqa: ANN001
    _, caller, connection = await alpaca(stack, api)
    await stack_limit(stack, "alpaca", count=1, retry_after=20)
    limited = await caller.mutation("trading.sync", {"connectionId": connection})
    assert error(limited)["code"] == "TOO_MANY_REQUESTS"
    assert 1 <= int(limited.headers["retry-after"]) <= 20


async def test_refused_credentials_are_a_bad_request(stack: Stack, api):  # noqa: ANN001
    refused = await api(new_user()).mutation(
        "trading.connect", {"broker": "alpaca", "apiKey": "PKX", "apiSecret": "wrong"}
    )
    assert error(refused)["code"] == "BAD_REQUEST"


async def test_nobody_syncs_another_users_connection(stack: Stack, api):  # noqa: ANN001
    _, _, connection = await alpaca(stack, api)
    before = fake(stack).calls["alpaca"]
    refused = await api(new_user()).mutation("trading.sync", {"connectionId": connection})
    assert error(refused)["code"] == "NOT_FOUND"
    assert fake(stack).calls["alpaca"] == before


async def test_our_per_user_limit_is_429_with_retry_after(stack: Stack, api):  # noqa: ANN001
    _, caller, connection = await alpaca(stack, api)
    codes = []
    for _ in range(61):  # TRADING_SYNC_LIMIT defaults to 60 a minute
        answer = await caller.mutation("trading.sync", {"connectionId": connection})
        codes.append(answer.status_code)
    assert codes[:60] == [200] * 60
    assert codes[60] == 429 and int(answer.headers["retry-after"]) >= 1


@pytest.fixture(autouse=True)
def _no_limits_left(stack: Stack):
    yield
    fake(stack).limited.clear()


async def stack_limit(stack: Stack, broker: str, *, count: int, retry_after: int) -> None:
    fake(stack).limited[broker] = (count, retry_after)
