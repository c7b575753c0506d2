"""POST /api/webhooks/broker/{connectionId} on the stack: a push signed with the connection's
own secret is stored once and applied; unsigned, tampered, stale, foreign-signed and replayed
pushes are refused or deduplicated; only rows that changed are published on
private-user-{owner}."""

from __future__ import annotations

import json
import time
import uuid

import httpx

from dev.stack import Stack
from tests.messaging.messaging_support import data
from tests.trading.trading_support import (
    Trader,
    events,
    order,
    position,
    push,
    signed,
    stored,
)


async def test_a_signed_push_is_applied_and_published_to_its_owner(
    stack: Stack, http: httpx.AsyncClient, trader: Trader
):
    answer = await push(
        http,
        trader,
        {
            "id": "evt-1",
            "type": "fill",
            "positions": [position("AAPL", 10, 190.25)],
            "orders": [order("o-1", "filled", filled=10)],
            "balance": {"currency": "USD", "cash": 8097.5, "equity": 10000},
        },
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"ok": True, "duplicate": False, "status": "processed"}

    got = events(stack, trader.user)
    assert [name for name, _ in got] == ["position-update", "order-update", "balance-update"]
    pos = got[0][1]
    assert pos["broker"] == "webhook"
    assert pos["position"]["connectionId"] == trader.connection
    assert pos["position"]["symbol"] == "AAPL"
    assert float(pos["position"]["qty"]) == 10 and float(pos["position"]["avgPrice"]) == 190.25
    assert got[1][1]["order"]["id"] == "o-1" and got[1][1]["order"]["status"] == "filled"
    assert float(got[2][1]["balance"]["cash"]) == 8097.5

    positions = data(await trader.api.query("trading.positions", {}))["positions"]
    assert [(p["symbol"], p["qty"]) for p in positions] == [("AAPL", 10)]
    orders = data(await trader.api.query("trading.orders", {}))["orders"]
    assert [(o["id"], o["filledQty"], o["limitPrice"]) for o in orders] == [("o-1", 10, 190.5)]


async def test_only_rows_that_changed_are_published(
    stack: Stack, http: httpx.AsyncClient, trader: Trader
):
    first = {
        "id": "a",
        "positions": [position("AAPL", 10), position("MSFT", 5)],
        "orders": [order("o-1", "new"), order("o-2", "new")],
    }
    assert (await push(http, trader, first)).status_code == 200
    assert len(events(stack, trader.user)) == 4

    # the same values again under a new event id: processed, nothing published
    again = await push(http, trader, {**first, "id": "b"})
    assert again.json()["status"] == "processed"
    assert len(events(stack, trader.user)) == 4

    # one position and one order moved; the others are repeated unchanged
    moved = {
        "id": "c",
        "positions": [position("AAPL", 10), position("MSFT", 7)],
        "orders": [order("o-1", "new"), order("o-2", "partially_filled", filled=4)],
        "balance": {"cash": 100},
    }
    assert (await push(http, trader, moved)).status_code == 200
    new = events(stack, trader.user)[4:]
    assert [(name, d.get("position", d.get("order", {})).get("symbol")) for name, d in new] == [
        ("position-update", "MSFT"),
        ("order-update", "AAPL"),
        ("balance-update", None),
    ]
    assert new[1][1]["order"]["id"] == "o-2" and float(new[1][1]["order"]["filledQty"]) == 4

    # a balance field left out keeps its value: no change, no event
    assert (await push(http, trader, {"id": "d", "balance": {"equity": None}})).status_code == 200
    assert len(events(stack, trader.user)) == 7


async def test_unsigned_tampered_stale_and_foreign_pushes_are_refused_and_not_stored(
    stack: Stack, http: httpx.AsyncClient, trader: Trader
):
    payload = {"id": "evt-x", "positions": [position("TSLA", 3)]}
    body = json.dumps(payload).encode()

    unsigned = await http.post(trader.url, content=body)
    assert unsigned.status_code == 401
    assert "X-Webhook-Signature" in unsigned.json()["error"]["message"]
    oversized_body, oversized = signed(trader.secret, {**payload, "pad": "x" * 300_000})
    too_large = await http.post(trader.url, content=oversized_body, headers=oversized)
    assert too_large.status_code == 413

    signed_body, headers = signed(trader.secret, payload)
    tampered = signed_body.replace(b'"qty": 3', b'"qty": 300')
    assert tampered != signed_body
    assert (await http.post(trader.url, content=tampered, headers=headers)).status_code == 401

    stale_body, stale = signed(trader.secret, payload, at=int(time.time()) - 3600)
    assert (await http.post(trader.url, content=stale_body, headers=stale)).status_code == 401

    wrong_body, wrong = signed("whsec_not-this-connections-secret", payload)
    assert (await http.post(trader.url, content=wrong_body, headers=wrong)).status_code == 401

    # a real signature for a connection that does not exist, or no connection at all
    nobody = trader.url.rsplit("/", 1)[0] + f"/{uuid.uuid4()}"
    assert (await http.post(nobody, content=signed_body, headers=headers)).status_code == 401
    bare = trader.url.rsplit("/", 1)[0] + "/not-a-connection"
    assert (await http.post(bare, content=signed_body, headers=headers)).status_code == 401

    assert stored(stack, trader.connection) == 0
    assert events(stack, trader.user) == []
    assert data(await trader.api.query("trading.positions", {}))["positions"] == []


async def test_a_secret_signs_for_its_own_connection_only(
    stack: Stack, http: httpx.AsyncClient, trader: Trader, api
):  # noqa: ANN001
    from tests.trading.trading_support import connect, new_user

    other = new_user()
    theirs = await connect(stack, api(other), other)
    body, headers = signed(trader.secret, {"id": "e", "positions": [position("AAPL", 1)]})
    assert (await http.post(theirs.url, content=body, headers=headers)).status_code == 401
    assert events(stack, other) == []


async def test_a_replayed_push_is_a_duplicate_and_publishes_nothing(
    stack: Stack, http: httpx.AsyncClient, trader: Trader
):
    body, headers = signed(trader.secret, {"id": "fill-9", "positions": [position("NVDA", 2)]})
    first = await http.post(trader.url, content=body, headers=headers)
    assert first.json()["duplicate"] is False
    replay = await http.post(trader.url, content=body, headers=headers)
    assert replay.status_code == 200 and replay.json()["duplicate"] is True
    # no id: the body's hash dedupes a byte-identical redelivery
    body2, headers2 = signed(trader.secret, {"positions": [position("NVDA", 4)]})
    await http.post(trader.url, content=body2, headers=headers2)
    again = await http.post(trader.url, content=body2, headers=headers2)
    assert again.json()["duplicate"] is True
    assert [name for name, _ in events(stack, trader.user)] == ["position-update"] * 2
    assert stored(stack, trader.connection) == 2


async def test_a_signed_malformed_body_is_400_and_not_stored(
    stack: Stack, http: httpx.AsyncClient, trader: Trader
):
    bad = {"id": "m", "orders": [{"id": "o", "symbol": "AAPL", "side": "hold", "qty": 1}]}
    answer = await push(http, trader, bad)
    assert answer.status_code == 400, answer.text
    unknown = await push(http, trader, {"id": "n", "positionz": []})
    assert unknown.status_code == 400
    assert stored(stack, trader.connection) == 0


async def test_after_disconnect_the_secret_no_longer_works(
    stack: Stack, http: httpx.AsyncClient, trader: Trader
):
    assert (await push(http, trader, {"id": "1", "positions": [position("AAPL", 1)]})).is_success
    gone = data(
        await trader.api.mutation("trading.disconnect", {"connectionId": trader.connection})
    )
    assert gone == {"id": trader.connection, "disconnected": True}
    late = await push(http, trader, {"id": "2", "positions": [position("AAPL", 2)]})
    assert late.status_code == 401
    assert data(await trader.api.query("trading.positions", {}))["positions"] == []
