"""Paying for sessions: a credit from the append-only ledger, or nothing with an active
subscription; PAYMENT_REQUIRED otherwise; the balance never goes below zero, even when one
user creates sessions concurrently; the seed grants the local users credits once."""

from __future__ import annotations

import asyncio
from pathlib import Path

from dev.stack import Stack
from tests.poker.poker_harness import Trpc, as_role, balance, grant, sql, subscribe, user

SEED = Path(__file__).resolve().parents[2] / "supabase" / "seed.sql"
NEW = {"name": "Refinement", "tasks": ["Search"]}


async def test_without_credits_creating_is_payment_required(stack: Stack, trpc: Trpc):
    broke = user("broke")
    error = await trpc.fails("mutation", "poker.create", NEW, as_user=broke)
    assert (error["code"], error["httpStatus"]) == ("PAYMENT_REQUIRED", 402)
    assert error["message"] == "no credits left: buy credits or subscribe to create a session"
    assert (await trpc.query("poker.list", {}, as_user=broke))["sessions"] == []


async def test_a_session_costs_one_credit_recorded_in_the_ledger(stack: Stack, trpc: Trpc):
    payer = user("payer")
    grant(stack, payer, 2)
    created = await trpc.mutate("poker.create", NEW, as_user=payer)
    assert (created["paidWith"], created["creditsLeft"]) == ("credit", 1)
    assert balance(stack, payer) == 1
    with sql(stack) as db:
        rows = db.execute(
            "select delta, reason, ref from public.credit_ledger where user_id = %s order by id",
            [payer],
        ).fetchall()
    assert [(r["delta"], r["reason"]) for r in rows] == [(2, "test-grant"), (-1, "poker-session")]
    assert rows[1]["ref"] == created["session"]["id"]


async def test_an_active_subscription_creates_without_spending(stack: Stack, trpc: Trpc):
    subscriber, trialing = user("subscriber"), user("trialing")
    grant(stack, subscriber, 1)
    subscribe(stack, subscriber, "active")
    subscribe(stack, trialing, "trialing")
    for who in (subscriber, subscriber, trialing):
        created = await trpc.mutate("poker.create", NEW, as_user=who)
        assert (created["paidWith"], created["creditsLeft"]) == ("subscription", None)
    assert balance(stack, subscriber) == 1
    assert balance(stack, trialing) == 0


async def test_a_lapsed_or_canceled_subscription_does_not_count(stack: Stack, trpc: Trpc):
    lapsed, canceled, past_due = user("lapsed"), user("canceled"), user("past-due")
    subscribe(stack, lapsed, "active", "now() - interval '1 minute'")
    subscribe(stack, canceled, "canceled")
    subscribe(stack, past_due, "past_due")
    for who in (lapsed, canceled, past_due):
        error = await trpc.fails("mutation", "poker.create", NEW, as_user=who)
        assert error["code"] == "PAYMENT_REQUIRED", who


async def test_concurrent_creates_never_spend_more_than_the_balance(stack: Stack, trpc: Trpc):
    racer = user("racer")
    grant(stack, racer, 2)
    replies = await asyncio.gather(
        *(trpc.call("mutation", "poker.create", NEW, as_user=racer) for _ in range(8))
    )
    codes = sorted("ok" if r.status == 200 else r.body["error"]["data"]["code"] for r in replies)
    assert codes == ["PAYMENT_REQUIRED"] * 6 + ["ok"] * 2
    assert balance(stack, racer) == 0
    with sql(stack) as db:
        spent = db.execute(
            "select count(*) as n from public.credit_ledger where user_id = %s and delta < 0",
            [racer],
        ).fetchone()
    assert spent is not None and spent["n"] == 2


def test_grants_are_idempotent_per_reason_and_ref(stack: Stack):
    who = user("granted")
    assert grant(stack, who, 5, ref="checkout-1") == {"granted": True, "balance": 5}
    assert grant(stack, who, 5, ref="checkout-1") == {"granted": False, "balance": 5}
    assert grant(stack, who, 3, ref="checkout-2") == {"granted": True, "balance": 8}


def test_the_seed_grants_the_local_users_credits_once(stack: Stack):
    """Applied twice (in a transaction that is rolled back): alice, bob and carol end with
    the seed's credits, not twice as many."""
    script = SEED.read_text()
    with as_role(stack, None, role="postgres") as conn:
        conn.execute(script.encode())
        once = conn.execute(
            "select u, public.credit_balance(u) as b from unnest(array['alice','bob','carol']) u"
        ).fetchall()
        conn.execute(script.encode())
        twice = conn.execute(
            "select u, public.credit_balance(u) as b from unnest(array['alice','bob','carol']) u"
        ).fetchall()
    assert once == twice
    assert all(row["b"] >= 20 for row in once), once
