"""Refunds and disputes take back what was granted: in proportion to the amount refunded, all
of it for a dispute, below zero when the credits were already spent (a negative ledger row and
a flag for an operator, never a silent clamp), and also when Stripe's events arrive before
the purchase they reverse."""

from __future__ import annotations

import httpx

from dev.stack import Stack
from tests.billing.billing_harness import Billing, ledger, merchant, signed, user
from tests.poker.poker_harness import Trpc

PACK = 10
NEW = {"name": "Refunded", "tasks": ["Money back"]}


async def payment_of(stack: Stack, session_id: str) -> str:
    async with merchant(stack) as sdk:
        session = await sdk.v1.checkout.sessions.retrieve_async(session_id)
    assert session.payment_intent
    return str(session.payment_intent)


async def refund(stack: Stack, payment_intent: str, amount: int | None = None) -> None:
    params: dict[str, object] = {"payment_intent": payment_intent}
    if amount is not None:
        params["amount"] = amount
    async with merchant(stack) as sdk:  # the merchant refunds, as in the Dashboard
        made = await sdk.v1.refunds.create_async(params=params)  # type: ignore[arg-type]
    assert made.status == "succeeded"


async def test_a_full_refund_takes_the_credits_back(stack: Stack, billing: Billing):
    who = user("refunded")
    session = await billing.buy(who, "credits", 2)
    await refund(stack, await payment_of(stack, session))
    assert ledger(stack, who) == [
        (2 * PACK, "grant", session),
        (-2 * PACK, "refund", f"{session}:{2 * PACK}"),
    ]
    status = await billing.status(who)
    assert (status["balance"], status["flagged"]) == (0, None)


async def test_partial_refunds_take_back_their_share_once_each(stack: Stack, billing: Billing):
    who = user("partial")
    session = await billing.buy(who, "credits", 4)  # 40 credits for $20.00
    payment = await payment_of(stack, session)
    await refund(stack, payment, 500)  # a quarter
    assert await billing.balance(who) == 30
    await refund(stack, payment, 1000)  # half more: three quarters in all
    assert await billing.balance(who) == 10
    assert [d for d, _, _ in ledger(stack, who)] == [40, -10, -20]


async def test_a_refund_of_spent_credits_goes_below_zero_and_flags_the_account(
    stack: Stack, billing: Billing, trpc: Trpc
):
    who = user("spender")
    session = await billing.buy(who, "credits", 1)
    for _ in range(3):
        await trpc.mutate("poker.create", NEW, as_user=who)
    await refund(stack, await payment_of(stack, session))
    status = await billing.status(who)
    assert status["balance"] == PACK - 3 - PACK
    assert status["entries"][0]["delta"] == -PACK
    assert "balance is -3" in status["flagged"]["reason"]
    refused = await trpc.fails("mutation", "poker.create", NEW, as_user=who)
    assert refused["code"] == "PAYMENT_REQUIRED"


async def test_a_dispute_takes_everything_back_and_flags(stack: Stack, billing: Billing):
    who = user("disputer")
    session = await billing.buy(who, "credits", 1)
    async with merchant(stack) as sdk:
        intent = await sdk.v1.payment_intents.retrieve_async(await payment_of(stack, session))
    await billing.dev(f"/_dev/charges/{intent.latest_charge}/dispute")
    status = await billing.status(who)
    assert status["balance"] == 0
    assert status["entries"][0]["reason"] == "dispute"
    assert status["flagged"]["reason"].startswith("dispute on ")


async def test_a_refund_delivered_before_its_purchase_is_applied_when_it_arrives(
    stack: Stack, billing: Billing
):
    """Stripe's events held back, then delivered newest first (the refund before the
    checkout.session.completed that granted the credits): the ledger ends the same."""
    assert stack.stripe is not None
    who = user("reversed")
    session = await billing.checkout(who, "credits")
    async with merchant(stack) as sdk:
        customer = (await sdk.v1.checkout.sessions.retrieve_async(session["sessionId"])).customer
    await billing.dev("/_dev/hold", customer=str(customer))
    await billing.browser.press(session["url"], "pay")
    await refund(stack, await payment_of(stack, session["sessionId"]))
    held = await billing.browser.http.get(
        f"{stack.stripe.public_url}/_dev/events", params={"customer": str(customer)}
    )
    events = held.json()["events"]
    types = [e["type"] for e in events]
    assert types.index("checkout.session.completed") < types.index("charge.refunded")
    assert ledger(stack, who) == []

    secret = stack.config.webhook_secrets["STRIPE_WEBHOOK_SECRET"]
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=30) as http:
        for event in reversed(events):
            body = httpx.Request("POST", "/", json=event).content
            answer = await http.post(
                "/api/webhooks/stripe", content=body, headers=signed(body, secret)
            )
            assert answer.status_code == 200, answer.text
    sid = session["sessionId"]
    assert ledger(stack, who) == [(PACK, "grant", sid), (-PACK, "refund", f"{sid}:{PACK}")]
