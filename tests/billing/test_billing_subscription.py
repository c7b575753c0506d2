"""A subscription's life through the public edges: Checkout -> the first month's credits ->
a renewal's credits -> cancel at period end in the Billing Portal -> the period ends
(customer.subscription.deleted) -> poker is paid with credits again. Plus a failed renewal
and a stale customer.subscription.updated."""

from __future__ import annotations

import json
import time

import httpx

from dev.stack import Stack
from tests.billing.billing_harness import Billing, merchant, signed, stored, user
from tests.poker.poker_harness import Trpc

NEW = {"name": "Planning", "tasks": ["Billing"]}
MONTHLY = 100  # SUBSCRIPTION_MONTHLY_CREDITS's default


async def subscription_of(stack: Stack, session_id: str) -> str:
    async with merchant(stack) as sdk:
        session = await sdk.v1.checkout.sessions.retrieve_async(session_id)
    assert session.subscription
    return str(session.subscription)


async def test_subscribe_renew_cancel_at_period_end_then_back_to_credits(
    stack: Stack, billing: Billing, trpc: Trpc
):
    who = user("subscriber")
    session = await billing.buy(who, "subscription")
    sub = await subscription_of(stack, session)

    status = await billing.status(who)
    assert status["balance"] == MONTHLY
    assert status["subscription"]["id"] == sub
    assert (status["subscription"]["status"], status["subscription"]["active"]) == ("active", True)
    created = await trpc.mutate("poker.create", NEW, as_user=who)
    assert created["paidWith"] == "subscription"

    renewal = await billing.dev(f"/_dev/subscriptions/{sub}/renew")
    assert "invoice.paid" in [t for _, t in renewal["events"]]
    assert await billing.balance(who) == 2 * MONTHLY
    grants = [e for e in (await billing.status(who))["entries"] if e["reason"] == "grant"]
    assert len(grants) == 2 and all(e["ref"].startswith("in_") for e in grants)

    portal = await trpc.mutate("billing.portal", None, as_user=who)
    answer = await billing.browser.press(portal["url"], "cancel_at_period_end", subscription=sub)
    assert answer.status_code == 303
    status = await billing.status(who)
    assert status["subscription"]["cancelAtPeriodEnd"] is True
    assert status["subscription"]["active"] is True  # paid until the period ends

    await billing.dev(f"/_dev/subscriptions/{sub}/end_period")
    status = await billing.status(who)
    assert (status["subscription"]["status"], status["subscription"]["active"]) == (
        "canceled",
        False,
    )
    created = await trpc.mutate("poker.create", NEW, as_user=who)
    assert (created["paidWith"], created["creditsLeft"]) == ("credit", 2 * MONTHLY - 1)


async def test_a_failed_renewal_is_a_payment_issue_and_past_due_pays_with_credits(
    stack: Stack, billing: Billing, trpc: Trpc
):
    who = user("late-payer")
    sub = await subscription_of(stack, await billing.buy(who, "subscription"))
    await billing.dev(f"/_dev/subscriptions/{sub}/renew", outcome="failed")
    status = await billing.status(who)
    assert status["balance"] == MONTHLY  # no grant for an unpaid period
    assert status["subscription"]["status"] == "past_due"
    assert status["paymentIssue"]["status"] == "payment_failed"
    assert status["paymentIssue"]["url"].startswith(stack.stripe.public_url)  # type: ignore[union-attr]
    created = await trpc.mutate("poker.create", NEW, as_user=who)
    assert created["paidWith"] == "credit"


async def test_a_stale_subscription_update_is_ignored(stack: Stack, billing: Billing):
    """Two updates delivered newest first: the older one changes nothing."""
    who = user("reordered")
    sub = await subscription_of(stack, await billing.buy(who, "subscription"))
    async with merchant(stack) as sdk:
        current = (await sdk.v1.subscriptions.retrieve_async(sub)).to_dict()
    secret = stack.config.webhook_secrets["STRIPE_WEBHOOK_SECRET"]
    newest = int(time.time()) + 60  # later than anything the stand-in has sent

    def update(created: int, cancel: bool) -> tuple[str, bytes]:
        obj = {**current, "cancel_at_period_end": cancel}
        event = {
            "id": f"evt_test_stale_{created}_{who}",
            "object": "event",
            "api_version": "2026-10-28.endive",
            "created": created,
            "data": {"object": obj},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": "customer.subscription.updated",
        }
        return event["id"], json.dumps(event).encode()

    async with httpx.AsyncClient(base_url=stack.api_url, timeout=30) as http:
        for created, cancel in ((newest, True), (newest - 30, False)):
            event_id, body = update(created, cancel)
            answer = await http.post(
                "/api/webhooks/stripe", content=body, headers=signed(body, secret)
            )
            assert answer.status_code == 200, answer.text
            assert stored(stack, event_id) == [
                {"status": "processed", "type": "customer.subscription.updated"}
            ]
    assert (await billing.status(who))["subscription"]["cancelAtPeriodEnd"] is True
