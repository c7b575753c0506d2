"""Buying credits end to end, through the public edges: billing.checkout (the stripe SDK
against the local Stripe) -> the hosted Checkout page's form -> the signed events Stripe sends
-> POST /api/webhooks/stripe -> the ledger, `billing-updated`, and poker.create allowed."""

from __future__ import annotations

from dev.stack import Stack
from tests.billing.billing_harness import Billing, ledger, merchant, subscribed, user
from tests.poker.poker_harness import Trpc

NEW = {"name": "Refinement", "tasks": ["Search"]}
PACK = 10  # CREDITS_PER_PACK's default


async def test_paying_for_credits_grants_them_and_unlocks_poker(
    stack: Stack, billing: Billing, trpc: Trpc
):
    buyer = user()
    refused = await trpc.fails("mutation", "poker.create", NEW, as_user=buyer)
    assert refused["code"] == "PAYMENT_REQUIRED"

    session = await billing.buy(buyer, "credits", 2)

    status = await billing.status(buyer)
    assert status["balance"] == 2 * PACK
    assert [(e["delta"], e["reason"], e["ref"]) for e in status["entries"]] == [
        (2 * PACK, "grant", session)
    ]
    created = await trpc.mutate("poker.create", NEW, as_user=buyer)
    assert (created["paidWith"], created["creditsLeft"]) == ("credit", 2 * PACK - 1)


async def test_the_customer_exists_before_the_session_and_is_reused(stack: Stack, billing: Billing):
    buyer = user()
    first = await billing.checkout(buyer, "credits")
    second = await billing.checkout(buyer, "subscription")
    async with merchant(stack) as sdk:
        one = await sdk.v1.checkout.sessions.retrieve_async(first["sessionId"])
        two = await sdk.v1.checkout.sessions.retrieve_async(second["sessionId"])
        customer = await sdk.v1.customers.retrieve_async(str(one.customer))
    assert one.customer == two.customer
    assert (one.mode, two.mode) == ("payment", "subscription")
    assert one.client_reference_id == buyer
    assert one.metadata["credits"] == str(PACK)
    assert customer.metadata["user_id"] == buyer


async def test_a_declined_card_grants_nothing(stack: Stack, billing: Billing, trpc: Trpc):
    buyer = user()
    await billing.buy(buyer, "credits", action="decline")
    assert await billing.balance(buyer) == 0
    refused = await trpc.fails("mutation", "poker.create", NEW, as_user=buyer)
    assert refused["code"] == "PAYMENT_REQUIRED"


async def test_a_bank_transfer_grants_when_it_settles_and_not_when_it_fails(
    stack: Stack, billing: Billing
):
    settles, fails = user(), user()
    settling = await billing.buy(settles, "credits", 1, action="bank")
    failing = await billing.buy(fails, "credits", 1, action="bank")
    assert (await billing.balance(settles), await billing.balance(fails)) == (0, 0)

    await billing.dev(f"/_dev/checkout/sessions/{settling}/settle", outcome="succeeded")
    await billing.dev(f"/_dev/checkout/sessions/{failing}/settle", outcome="failed")

    assert ledger(stack, settles) == [(PACK, "grant", settling)]
    assert ledger(stack, fails) == []


async def test_each_applied_purchase_publishes_billing_updated(
    stack: Stack, billing: Billing, token
):
    buyer = user()
    async with subscribed(stack, token(buyer), buyer) as subscriber:
        await billing.buy(buyer, "credits", 3)
        update = await subscriber.next(lambda u: u["balance"] > 0)
    assert update == {"balance": 3 * PACK, "subscription": None}
