"""Fills (migration 20261130820000): synced from the Alpaca and Tradovate stand-ins
(dev/brokers.py) and pushed through the signed webhook, stored once per (connection, fill id),
published as one `fill` event per NEW fill (a second sync or a replayed push publishes
nothing), read back by the trading.fills delta query, and deleted by `cleanup-old-logs` past
TRADING_FILLS_RETENTION_DAYS (90 on the stack)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from dev.brokers import FakeBrokers
from dev.stack import Stack
from tests.messaging.messaging_support import Trpc, data
from tests.outbox_support import sql
from tests.trading.trading_support import Trader, events, fill, new_user, push


def fake(stack: Stack) -> FakeBrokers:
    assert stack.brokers is not None
    return stack.brokers


def expire(stack: Stack, connection: str) -> None:
    with sql(stack) as conn:
        conn.execute(
            "delete from public.cache_entries where key like %s", [f"trading:{connection}:%"]
        )


def fills_of(stack: Stack, connection: str) -> list[str]:
    with sql(stack) as conn:
        rows = conn.execute(
            "select broker_fill_id from public.trading_fills where connection_id = %s order by id",
            [connection],
        ).fetchall()
    return [r["broker_fill_id"] for r in rows]


async def connect_broker(
    stack: Stack, api: Callable[[str], Trpc], broker: str
) -> tuple[str, Trpc, str, str]:
    """(user, caller, connection, the stand-in's account key) for a new Alpaca / Tradovate
    connection."""
    user = new_user()
    caller = api(user)
    if broker == "alpaca":
        key = f"PK{new_user()}"
        body = {"broker": "alpaca", "apiKey": key, "apiSecret": f"secret-{key}"}
    else:
        key = f"tv{new_user()}"
        body = {"broker": "tradovate", "name": key, "password": f"pw-{key}"}
    connected = data(await caller.mutation("trading.connect", body))
    return user, caller, connected["connection"]["id"], key


@pytest.mark.parametrize("broker", ["alpaca", "tradovate"])
async def test_fills_are_synced_once_and_a_second_sync_publishes_nothing_new(
    stack: Stack,
    api: Callable[[str], Trpc],
    broker: str,
):
    user, caller, connection, key = await connect_broker(stack, api, broker)
    account = fake(stack).account(broker, key)
    account.fills = [
        {"id": "101", "orderId": "9", "symbol": "AAPL", "side": "buy", "qty": 4, "price": 190.5},
        {"id": "102", "orderId": "9", "symbol": "AAPL", "side": "buy", "qty": 6, "price": 190.75},
    ]
    first = data(await caller.mutation("trading.sync", {"connectionId": connection}))
    assert first["source"] == "broker" and first["changed"]["fills"] == 2
    published = [d["fill"] for name, d in events(stack, user) if name == "fill"]
    assert sorted((f["id"], f["orderId"], f["side"], float(f["qty"])) for f in published) == [
        ("101", "9", "buy", 4.0),
        ("102", "9", "buy", 6.0),
    ]
    assert {d["broker"] for name, d in events(stack, user) if name == "fill"} == {broker}

    expire(stack, connection)
    second = data(await caller.mutation("trading.sync", {"connectionId": connection}))
    assert second["source"] == "broker" and second["changed"]["fills"] == 0
    assert len([1 for name, _ in events(stack, user) if name == "fill"]) == 2

    account.fills = [
        *account.fills,
        {"id": "103", "symbol": "AAPL", "side": "sell", "qty": 10, "price": 191},
    ]
    expire(stack, connection)
    third = data(await caller.mutation("trading.sync", {"connectionId": connection}))
    assert third["changed"]["fills"] == 1
    new = [d["fill"] for name, d in events(stack, user) if name == "fill"][2:]
    assert [(f["id"], f["side"], float(f["price"])) for f in new] == [("103", "sell", 191.0)]
    assert sorted(fills_of(stack, connection)) == ["101", "102", "103"]


async def test_a_signed_webhook_fill_is_stored_and_published_once(
    stack: Stack, http: httpx.AsyncClient, trader: Trader
):
    first = await push(http, trader, {"id": "e-1", "type": "fill", "fills": [fill("f-1")]})
    assert first.status_code == 200
    published = [d for name, d in events(stack, trader.user) if name == "fill"]
    assert len(published) == 1
    got = published[0]
    assert got["broker"] == "webhook"
    assert got["fill"]["id"] == "f-1" and got["fill"]["connectionId"] == trader.connection
    assert float(got["fill"]["price"]) == 190.25 and got["fill"]["symbol"] == "AAPL"

    # a new event carrying the same fill again (and one new one): only the new one is published
    again = await push(http, trader, {"id": "e-2", "fills": [fill("f-1"), fill("f-2")]})
    assert again.status_code == 200
    ids = [d["fill"]["id"] for name, d in events(stack, trader.user) if name == "fill"]
    assert ids == ["f-1", "f-2"]
    assert fills_of(stack, trader.connection) == ["f-1", "f-2"]

    bad = await push(http, trader, {"id": "e-3", "fills": [{"id": "x", "symbol": "AAPL"}]})
    assert bad.status_code == 400
    assert fills_of(stack, trader.connection) == ["f-1", "f-2"]


async def test_the_fills_delta_query_pages_and_returns_only_new_fills(
    stack: Stack, http: httpx.AsyncClient, trader: Trader, api: Callable[[str], Trpc]
):
    ids = [f"f-{i}" for i in range(5)]
    await push(http, trader, {"id": "1", "fills": [fill(i) for i in ids]})

    pages, cursor, page = [], None, None
    while True:
        page = data(await trader.api.query("trading.fills", {**(cursor or {}), "limit": 2}))
        pages.append([f["id"] for f in page["fills"]])
        if page["next"] is None:
            break
        cursor = page["next"]
    assert [i for p in pages for i in p] == ids
    assert [len(p) for p in pages] == [2, 2, 1]
    newest = page["fills"][-1]["receivedAt"]

    assert data(await trader.api.query("trading.fills", {"since": newest}))["fills"] == []
    await push(http, trader, {"id": "2", "fills": [fill("f-1"), fill("f-9", qty=1)]})
    later = data(await trader.api.query("trading.fills", {"since": newest}))["fills"]
    assert [(f["id"], f["qty"]) for f in later] == [("f-9", 1)]

    # nobody else sees them
    assert data(await api(new_user()).query("trading.fills", {}))["fills"] == []


async def test_cleanup_old_logs_deletes_fills_past_retention(
    stack: Stack, http: httpx.AsyncClient, trader: Trader
):
    now = datetime.now(UTC)
    old = (now - timedelta(days=91)).isoformat()
    kept = (now - timedelta(days=89)).isoformat()
    pushed = await push(
        http, trader, {"id": "1", "fills": [fill("old", at=old), fill("kept", at=kept)]}
    )
    assert pushed.status_code == 200
    assert fills_of(stack, trader.connection) == ["old", "kept"]

    ran = await http.get(
        f"{stack.api_url}/api/cron/cleanup-old-logs",
        headers={"Authorization": f"Bearer {stack.config.cron_secret}"},
    )
    assert ran.status_code == 200, ran.text
    assert fills_of(stack, trader.connection) == ["kept"]
