"""Helpers for the trading tests: a connected webhook user (`Trader`), broker pushes signed
with the connection's secret the way a user's bridge signs them, and rows read back with SQL."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from dev.stack import Stack
from lib.webhooks.shared_secret import signature_header
from tests.messaging.messaging_support import Trpc, data
from tests.outbox_support import sql


def new_user() -> str:
    return f"trader{uuid.uuid4().hex[:10]}"


@dataclass
class Trader:
    user: str
    api: Trpc
    connection: str
    secret: str
    url: str
    """The stack's POST /api/webhooks/broker/{connection}."""


async def connect(stack: Stack, api: Trpc, user: str) -> Trader:
    connected = data(await api.mutation("trading.connect", {"broker": "webhook", "label": "x"}))
    connection = connected["connection"]["id"]
    assert connected["webhookUrl"].endswith(f"/api/webhooks/broker/{connection}")
    return Trader(
        user,
        api,
        connection,
        connected["webhookSecret"],
        f"{stack.api_url}/api/webhooks/broker/{connection}",
    )


def signed(
    secret: str, payload: dict[str, Any] | bytes, *, at: int | None = None
) -> tuple[bytes, dict[str, str]]:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    timestamp = int(time.time()) if at is None else at
    return body, {
        "content-type": "application/json",
        "x-webhook-timestamp": str(timestamp),
        "x-webhook-signature": signature_header(secret, timestamp, body),
    }


async def push(http: httpx.AsyncClient, trader: Trader, payload: dict[str, Any]) -> httpx.Response:
    body, headers = signed(trader.secret, payload)
    return await http.post(trader.url, content=body, headers=headers)


def events(stack: Stack, user: str) -> list[tuple[str, dict[str, Any]]]:
    """(event, data) queued on private-user-{user}, oldest first."""
    with sql(stack) as conn:
        rows = conn.execute(
            "select event, data from public.outbox where channel = %s order by id",
            [f"private-user-{user}"],
        ).fetchall()
    return [(row["event"], row["data"]) for row in rows]


def stored(stack: Stack, connection: str) -> int:
    """webhook_events rows stored for `connection`."""
    with sql(stack) as conn:
        row = conn.execute(
            "select count(*) as n from public.webhook_events"
            " where provider = 'broker' and event_id like %s",
            [f"{connection}:%"],
        ).fetchone()
    assert row is not None
    return int(row["n"])


def position(symbol: str, qty: float, avg: float = 100.0) -> dict[str, Any]:
    return {"symbol": symbol, "qty": qty, "avgPrice": avg}


def order(order_id: str, status: str, *, filled: float = 0, qty: float = 10) -> dict[str, Any]:
    return {
        "id": order_id,
        "symbol": "AAPL",
        "side": "buy",
        "type": "limit",
        "qty": qty,
        "filledQty": filled,
        "limitPrice": 190.5,
        "status": status,
    }


def fill(
    fill_id: str, *, qty: float = 10, price: float = 190.25, at: str = "2026-11-30T10:00:00Z"
) -> dict[str, Any]:
    return {
        "id": fill_id,
        "orderId": "o-1",
        "symbol": "AAPL",
        "side": "buy",
        "qty": qty,
        "price": price,
        "filledAt": at,
    }
