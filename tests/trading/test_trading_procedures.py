"""trading.* over the stack's /api/trpc: the webhook secret is shown once and stored
encrypted; delta queries page on (updated_at, id); nobody reaches another user's connection
or rows."""

from __future__ import annotations

import httpx

from dev.stack import Stack
from tests.messaging.messaging_support import data, error
from tests.outbox_support import sql
from tests.trading.trading_support import Trader, connect, new_user, order, position, push


async def test_the_secret_is_shown_once_and_stored_encrypted(stack: Stack, trader: Trader):
    listed = data(await trader.api.query("trading.connections"))["connections"]
    assert [c["id"] for c in listed] == [trader.connection]
    assert listed[0]["broker"] == "webhook" and listed[0]["status"] == "active"
    assert "webhookSecret" not in listed[0]
    assert trader.secret not in str(listed)
    with sql(stack) as conn:
        row = conn.execute(
            "select webhook_secret from public.trading_connections where id = %s",
            [trader.connection],
        ).fetchone()
    assert row is not None and row["webhook_secret"]
    assert trader.secret not in row["webhook_secret"]


async def test_another_users_connection_is_not_found(stack: Stack, trader: Trader, api):  # noqa: ANN001
    intruder = api(new_user())
    refused = error(
        await intruder.mutation("trading.disconnect", {"connectionId": trader.connection})
    )
    assert refused["code"] == "NOT_FOUND"
    assert data(await intruder.query("trading.connections"))["connections"] == []
    assert data(await trader.api.query("trading.connections"))["connections"] != []


async def test_a_user_sees_only_their_own_positions_and_orders(
    stack: Stack, http: httpx.AsyncClient, trader: Trader, api
):  # noqa: ANN001
    other = new_user()
    theirs = await connect(stack, api(other), other)
    await push(http, trader, {"id": "1", "positions": [position("AAPL", 1)]})
    await push(http, theirs, {"id": "1", "positions": [position("MSFT", 2)]})
    mine = data(await trader.api.query("trading.positions", {}))["positions"]
    assert [p["symbol"] for p in mine] == ["AAPL"]
    seen = data(await theirs.api.query("trading.positions", {}))["positions"]
    assert [p["symbol"] for p in seen] == ["MSFT"]


async def test_delta_queries_page_and_return_only_what_changed_since(
    http: httpx.AsyncClient, trader: Trader
):
    symbols = [f"S{i:02d}" for i in range(5)]
    await push(http, trader, {"id": "1", "positions": [position(s, 1) for s in symbols]})

    pages, since = [], None
    while True:
        page = data(await trader.api.query("trading.positions", {**(since or {}), "limit": 2}))
        pages.append([p["symbol"] for p in page["positions"]])
        if page["next"] is None:
            break
        since = page["next"]
    assert [s for p in pages for s in p] == symbols
    assert [len(p) for p in pages] == [2, 2, 1]
    newest = page["positions"][-1]["updatedAt"]

    assert data(await trader.api.query("trading.positions", {"since": newest}))["positions"] == []
    await push(http, trader, {"id": "2", "positions": [position("S03", 9), position("S01", 1)]})
    changed = data(await trader.api.query("trading.positions", {"since": newest}))["positions"]
    assert [(p["symbol"], p["qty"]) for p in changed] == [("S03", 9)]


async def test_orders_filter_by_status_and_since(http: httpx.AsyncClient, trader: Trader):
    await push(
        http,
        trader,
        {"id": "1", "orders": [order("a", "new"), order("b", "filled", filled=10)]},
    )
    new = data(await trader.api.query("trading.orders", {"status": "new"}))["orders"]
    assert [o["id"] for o in new] == ["a"]
    every = data(await trader.api.query("trading.orders", {}))["orders"]
    since = every[-1]["updatedAt"]
    await push(http, trader, {"id": "2", "orders": [order("a", "canceled")]})
    delta = data(await trader.api.query("trading.orders", {"since": since}))["orders"]
    assert [(o["id"], o["status"]) for o in delta] == [("a", "canceled")]


async def test_connect_refuses_an_unknown_broker(trader: Trader):
    refused = error(await trader.api.mutation("trading.connect", {"broker": "etrade"}))
    assert refused["code"] == "BAD_REQUEST"
