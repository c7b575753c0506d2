"""The event models `make types` turns into the front end's types hold for what messaging,
trading, billing and calls really publish (poker's: tests/poker hold every received event to
lib.features.poker.events) (the CRM's: tests/crm/test_crm_event_models.py):
real commands through the api, then every outbox row they queued validated against the
model declared for its family and name, with no key the model does not declare."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from pydantic import BaseModel, TypeAdapter

from dev.stack import Stack
from lib.features import BUNDLE
from tests.messaging.messaging_support import Trpc, data, profiles
from tests.outbox_support import sql
from tests.trading.trading_support import connect, fill, order, position, push


def rows(stack: Stack, channel: str) -> list[dict[str, Any]]:
    with sql(stack) as db:
        return db.execute(
            "select event, data from public.outbox where channel = %s order by id", [channel]
        ).fetchall()


def check(channel: str, event: str, payload: dict[str, Any]) -> None:
    (models,) = [n[event] for p, n in BUNDLE.events.items() if channel.startswith(p.split("{")[0])]
    problems = []
    for model in models:
        try:
            TypeAdapter(model).validate_python(payload)
        except ValueError as exc:
            problems.append(str(exc))
            continue
        fields = set(model.model_fields) if issubclass(model, BaseModel) else set()
        assert set(payload) <= fields, f"{event}: {set(payload) - fields} not in {model.__name__}"
        return
    raise AssertionError(f"{channel} {event}: {payload} fits no declared model: {problems}")


@pytest.fixture
async def http():
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


async def test_messaging_trading_billing_and_calls_events_fit_their_models(stack, token, http):
    alice, bob = (f"m{uuid.uuid4().hex[:10]}" for _ in range(2))
    profiles(stack, alice, bob)
    api = Trpc(http, f"{stack.api_url}/api/trpc", token(alice))
    created = data(await api.mutation("messaging.createConversation", {"participants": [bob]}))
    conversation = created["conversation"]["id"]
    sent = data(
        await api.mutation(
            "messaging.send", {"conversationId": conversation, "clientId": "c1", "body": "hi"}
        )
    )
    reader = Trpc(http, f"{stack.api_url}/api/trpc", token(bob))
    data(
        await reader.mutation(
            "messaging.markRead",
            {"conversationId": conversation, "messageId": sent["message"]["id"]},
        )
    )
    trader = await connect(stack, api, alice)
    update = {
        "id": "u-1",
        "positions": [position("AAPL", 10)],
        "orders": [order("o-1", "filled", filled=10)],
        "balance": {"currency": "USD", "cash": 1000, "equity": 2900, "buyingPower": 2000},
        "fills": [fill("f-1")],
    }
    assert (await push(http, trader, update)).status_code == 200
    number = f"+1555{uuid.uuid4().int % 10**7:07d}"
    with sql(stack) as db:
        db.execute("select private.billing_publish(%s)", [alice])
        db.execute(
            "insert into public.call_numbers (number, owner_id) values (%s, %s)", [number, alice]
        )
        call = db.execute(
            "select public.calls_create_outbound(%s, 'signalwire', %s, '+15552345678', 'g',"
            " '{}'::jsonb, null, 1) as c",
            [alice, number],
        ).fetchone()
        assert call is not None
        db.execute(
            "select public.calls_finish(%s, '[]'::jsonb, 'goal_achieved', null, 'Booked.',"
            " 'hangup', now() - interval '1 minute', now(), '{}'::jsonb)",
            [call["c"]["id"]],
        )

    channels = [f"private-conversation-{conversation}", f"private-user-{alice}"]
    channels.append(f"private-user-{bob}")
    seen = set()
    for channel in channels:
        for row in rows(stack, channel):
            check(channel, row["event"], row["data"])
            seen.add(row["event"])
    expected = {"new-message", "read-receipt", "unread-update", "conversation-added"}
    expected |= {"position-update", "order-update", "balance-update", "fill", "billing-updated"}
    expected |= {"call-ended"}
    assert expected <= seen
