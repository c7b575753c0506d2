"""Stripe delivers at least once and in any order. Real flows of the local Stripe are held
back (purchases, subscriptions, renewals, refunds, cancellations), then every one of their
events is delivered three times, shuffled, concurrently: the ledger and the subscriptions end
exactly as Stripe's own state says, and each event was applied once."""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

import httpx

from dev.stack import Stack
from tests.billing.billing_harness import Billing, ledger, merchant, signed, sql, user

PACK, MONTHLY = 10, 100
USERS = 17
COPIES = 3


async def held_flows(stack: Stack, billing: Billing, i: int) -> tuple[str, dict[str, Any]]:
    """One user's purchases, with their events held; what the ledger must end as."""
    assert stack.stripe is not None
    who = user(f"burst{i}")
    packs = 1 + i % 3
    first = await billing.checkout(who, "credits", packs)
    async with merchant(stack) as sdk:
        customer = str((await sdk.v1.checkout.sessions.retrieve_async(first["sessionId"])).customer)
        await billing.dev("/_dev/hold", customer=customer)
        await billing.browser.press(first["url"], "pay")
        await billing.buy(who, "subscription")
        [sub] = (await sdk.v1.subscriptions.list_async(params={"customer": customer})).data
        await billing.dev(f"/_dev/subscriptions/{sub.id}/renew")
        refunded = i % 2 == 0
        if refunded:
            session = await sdk.v1.checkout.sessions.retrieve_async(first["sessionId"])
            await sdk.v1.refunds.create_async(
                params={"payment_intent": str(session.payment_intent)}
            )
        if i % 3 != 2:
            await sdk.v1.subscriptions.update_async(sub.id, params={"cancel_at_period_end": True})
        if i % 3 == 0:
            await billing.dev(f"/_dev/subscriptions/{sub.id}/end_period")
        invoices = (await sdk.v1.invoices.list_async(params={"customer": customer})).data
        final = (await sdk.v1.subscriptions.retrieve_async(sub.id)).to_dict()
    sid, credits = first["sessionId"], packs * PACK
    rows = [(credits, "grant", sid)] + [(MONTHLY, "grant", inv.id) for inv in invoices]
    if refunded:
        rows.append((-credits, "refund", f"{sid}:{credits}"))
    expected = {"user": who, "customer": customer, "ledger": sorted(rows), "sub": final}
    return who, expected


async def test_every_event_three_times_shuffled_leaves_the_ledger_exactly_right(
    stack: Stack, billing: Billing
):
    assert stack.stripe is not None
    expected = [await held_flows(stack, billing, i) for i in range(USERS)]
    held = []
    for _, want in expected:
        answer = await billing.browser.http.get(
            f"{stack.stripe.public_url}/_dev/events", params={"customer": want["customer"]}
        )
        held += answer.json()["events"]
        assert ledger(stack, want["user"]) == []  # nothing applied yet
    deliveries = [json.dumps(event).encode() for event in held] * COPIES
    random.Random(12).shuffle(deliveries)
    assert len(deliveries) >= 1000

    secret = stack.config.webhook_secrets["STRIPE_WEBHOOK_SECRET"]
    gate = asyncio.Semaphore(12)
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=60) as http:

        async def deliver(body: bytes) -> int:
            async with gate:
                answer = await http.post(
                    "/api/webhooks/stripe", content=body, headers=signed(body, secret)
                )
                return answer.status_code

        statuses = await asyncio.gather(*(deliver(body) for body in deliveries))
    assert set(statuses) == {200}

    for who, want in expected:
        assert sorted(ledger(stack, who)) == want["ledger"], who
        with sql(stack) as db:
            row = db.execute(
                "select status, cancel_at_period_end,"
                " extract(epoch from current_period_end)::bigint as period_end"
                " from public.subscriptions where user_id = %s",
                [who],
            ).fetchone()
        sub = want["sub"]
        assert row == {
            "status": sub["status"],
            "cancel_at_period_end": sub["cancel_at_period_end"],
            "period_end": sub["items"]["data"][0]["current_period_end"],
        }, who
    ids = sorted({event["id"] for event in held})
    with sql(stack) as db:
        counts = db.execute(
            "select status, count(*) as n from public.webhook_events"
            " where provider = 'stripe' and event_id = any(%s) group by status",
            [ids],
        ).fetchall()
    assert sum(c["n"] for c in counts) == len(ids)
    assert {c["status"] for c in counts} <= {"processed", "ignored"}
