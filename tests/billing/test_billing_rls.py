"""Nobody reads or changes another user's billing. Checked as Supabase applies it (as
`authenticated` with request.jwt.claims, in rolled-back transactions) and through PostgREST
with real user tokens: users read their own ledger and billing rows only, write none, and
cannot call the billing functions (service role only)."""

from __future__ import annotations

import httpx
import psycopg
import pytest

from dev.stack import Stack
from tests.billing.billing_harness import Billing, user
from tests.poker.poker_harness import as_role

BOUGHT = ("credit_ledger", "billing_customers", "billing_grants", "billing_checkouts")
"""Tables a credit purchase writes a row of the buyer's to."""
OTHERS = ("billing_reversals", "billing_invoices", "billing_accounts", "subscriptions")


@pytest.fixture
async def two_buyers(billing: Billing) -> tuple[str, str]:
    alice, mallory = user("alice"), user("mallory")
    for who in (alice, mallory):
        await billing.buy(who, "credits")
    return alice, mallory


def rows(stack: Stack, who: str, table: str) -> set[str]:
    with as_role(stack, who) as conn:
        found = conn.execute(f"select user_id from public.{table}").fetchall()  # noqa: S608
    return {row["user_id"] for row in found}


async def test_users_read_only_their_own_billing_rows(stack: Stack, two_buyers):
    alice, mallory = two_buyers
    for table in BOUGHT:
        assert rows(stack, alice, table) == {alice}, table
        assert rows(stack, mallory, table) == {mallory}, table
    for table in OTHERS:
        assert rows(stack, mallory, table) <= {mallory}, table


@pytest.mark.parametrize(
    "statement",
    [
        "insert into public.credit_ledger (user_id, delta, reason, ref)"
        " values (%s, 100, 'grant', 'x')",
        "update public.credit_ledger set delta = 1000 where user_id = %s",
        "delete from public.credit_ledger where user_id = %s",
        "insert into public.billing_grants (ref, user_id, kind, credits)"
        " values ('r', %s, 'credits', 9)",
        "update public.billing_customers set user_id = 'me' where user_id = %s",
        "update public.subscriptions set status = 'active' where user_id = %s",
        "select public.credit_grant(%s, 100, 'grant', 'free')",
        "select public.billing_status(%s, 20)",
        "select public.billing_customer_link(%s, 'cus_mine')",
        "select public.billing_configure(char_length(%s::text))",
        "select public.billing_on_checkout_session(jsonb_build_object('u', %s::text))",
    ],
)
async def test_a_user_changes_nobodys_billing_not_even_their_own(
    stack: Stack, two_buyers, statement: str
):
    alice, mallory = two_buyers
    with pytest.raises(psycopg.errors.InsufficientPrivilege), as_role(stack, mallory) as conn:
        conn.execute(statement, [alice])


async def test_through_postgrest_a_token_reads_only_its_own_ledger(stack: Stack, two_buyers, token):
    alice, mallory = two_buyers
    rest = f"{stack.supabase_url}/rest/v1"
    headers = {"apikey": stack.config.anon_key, "authorization": f"Bearer {token(mallory)}"}
    async with httpx.AsyncClient(base_url=rest, headers=headers, timeout=30) as http:
        own = await http.get("/credit_ledger", params={"select": "user_id,delta"})
        theirs = await http.get("/credit_ledger", params={"user_id": f"eq.{alice}"})
        forged = await http.post(
            "/credit_ledger", json={"user_id": mallory, "delta": 500, "reason": "grant"}
        )
        changed = await http.patch(
            "/credit_ledger", params={"user_id": f"eq.{alice}"}, json={"delta": 0}
        )
        called = await http.post("/rpc/billing_status", json={"p_user_id": alice, "p_limit": 5})
    assert own.status_code == 200 and {r["user_id"] for r in own.json()} == {mallory}
    assert theirs.status_code == 200 and theirs.json() == []
    assert (forged.status_code, changed.status_code) == (403, 403)
    assert called.status_code in (401, 403, 404)
