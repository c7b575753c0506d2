"""Every new user receives SIGNUP_FREE_CREDITS once, however their profile is created: a
Clerk user.created webhook, a Supabase Auth user, or a plain insert; a profile deleted and
created again is not paid twice."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import standardwebhooks

from dev.stack import Stack
from lib.features import BUNDLE
from lib.rpc import trpc_app
from tests.billing.billing_harness import ledger, sql, user
from tests.support import asgi_client, stack_env, stack_services


def clerk_user_created(user_id: str, secret: str) -> tuple[bytes, dict[str, str]]:
    data: dict[str, Any] = {"id": user_id, "first_name": "Ada", "email_addresses": []}
    body = json.dumps({"type": "user.created", "object": "event", "data": data}).encode()
    message_id, now = f"msg_{uuid.uuid4().hex}", int(time.time())
    signature = standardwebhooks.Webhook(secret).sign(
        message_id, datetime.fromtimestamp(now, UTC), body.decode()
    )
    headers = {"svix-id": message_id, "svix-timestamp": str(now), "svix-signature": signature}
    return body, {**headers, "content-type": "application/json"}


async def test_a_clerk_signup_gets_the_free_credits_once(stack: Stack):
    who = f"user_{uuid.uuid4().hex[:16]}"
    secret = stack_env(stack)["CLERK_WEBHOOK_SECRET"]
    async with httpx.AsyncClient(timeout=30) as http:
        for _ in range(2):  # a second user.created (another message) upserts, grants nothing
            body, headers = clerk_user_created(who, secret)
            answer = await http.post(
                f"{stack.api_url}/api/webhooks/clerk", content=body, headers=headers
            )
            assert answer.status_code == 200, answer.text
    assert ledger(stack, who) == [(3, "signup", who)]


def test_supabase_auth_and_plain_inserts_get_them_once_even_when_recreated(stack: Stack):
    auth_user, plain = uuid.uuid4(), user("plain")
    with sql(stack) as db:
        db.execute(
            "insert into auth.users (id, email, raw_user_meta_data) values (%s, %s, '{}')",
            [auth_user, f"{auth_user.hex[:8]}@example.com"],
        )
        db.execute("insert into public.profiles (id, display_name) values (%s, 'P')", [plain])
        db.execute("delete from public.profiles where id = %s", [plain])
        db.execute("insert into public.profiles (id, display_name) values (%s, 'P')", [plain])
    assert ledger(stack, str(auth_user)) == [(3, "signup", str(auth_user))]
    assert ledger(stack, plain) == [(3, "signup", plain)]


async def test_signup_free_credits_is_read_from_the_environment(stack: Stack, token):
    """An app whose SIGNUP_FREE_CREDITS is 5 writes it at its first billing call; 0 turns
    the grant off."""
    five, none = user("five"), user("none")
    try:
        for amount, who in ((5, five), (0, none)):
            services = stack_services(stack, SIGNUP_FREE_CREDITS=str(amount))
            async with asgi_client(trpc_app(BUNDLE.router, services=services)) as http:
                answer = await http.get(
                    "/api/trpc/billing.status",
                    headers={"authorization": f"Bearer {token('reader')}"},
                )
                assert answer.status_code == 200, answer.text
            with sql(stack) as db:
                db.execute("insert into public.profiles (id, display_name) values (%s, 'F')", [who])
    finally:
        with sql(stack) as db:
            db.execute("select public.billing_configure(3)")
    assert ledger(stack, five) == [(5, "signup", five)]
    assert ledger(stack, none) == []
