"""`python -m dev.trade` (the README's "Watch a fill arrive") against the test stack: the
signed fill is accepted, its position-update and order-update reach the demo user's channel,
a second run reuses the connection (its secret kept in the state file) and grows the position,
and the Alpaca stand-in's REST state carries the fill to trading.sync too."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from dev import trade
from dev.stack import Stack
from tests.support import stack_env
from tests.trading.trading_support import events, new_user


async def test_a_fill_arrives_by_webhook_and_by_sync(stack: Stack, tmp_path: Path):
    user, state = new_user(), tmp_path / "trade-demo.json"
    brokers = stack.servers["brokers"].url
    said: list[str] = []
    env = stack_env(stack)

    first = await trade.place_fill(
        env, stack.api_url, user=user, brokers_url=brokers, state_file=state, say=said.append
    )
    assert first.status == 200 and first.answer["status"] == "processed", first.answer
    assert not first.reused and first.qty == Decimal(10)
    assert first.sync is not None and first.sync["source"] == "broker"
    assert any("POST /api/webhooks/broker/" in line for line in said)

    second = await trade.place_fill(
        env, stack.api_url, user=user, brokers_url=brokers, state_file=state, say=said.append
    )
    assert second.status == 200 and second.reused and second.connection == first.connection
    assert second.qty == Decimal(20)

    published = events(stack, user)
    webhook_positions = [
        body["position"]["qty"]
        for event, body in published
        if event == "position-update" and body["position"]["connectionId"] == first.connection
    ]
    assert [Decimal(str(q)) for q in webhook_positions] == [Decimal(10), Decimal(20)]
    assert [e for e, b in published if e == "order-update" and b["broker"] == "webhook"] == [
        "order-update",
        "order-update",
    ]
    # the REST side: the demo Alpaca connection's sync published the position too
    assert any(
        event == "position-update" and body["broker"] == "alpaca" for event, body in published
    )
