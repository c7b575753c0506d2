"""POST /api/webhooks/stripe refuses what Stripe did not sign, now: a tampered body, a stale
or future timestamp, a wrong secret or no signature is 401 JSON and nothing is stored; a
signed event for a customer that is not ours is acknowledged and changes nothing; billing
without STRIPE_SECRET_KEY answers 503 naming it."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable

import httpx
import pytest

from dev.stack import Stack
from lib.features import BUNDLE
from lib.rpc import trpc_app
from tests.billing.billing_harness import signed, stored
from tests.support import asgi_client, stack_services

Headers = Callable[[bytes, str], dict[str, str]]


def event(customer: str = "cus_test_stranger") -> tuple[str, bytes]:
    event_id = f"evt_test_{uuid.uuid4().hex}"
    session = {
        "id": f"cs_test_{uuid.uuid4().hex}",
        "object": "checkout.session",
        "customer": customer,
        "client_reference_id": None,
        "metadata": {"credits": "1000"},
        "mode": "payment",
        "payment_status": "paid",
        "payment_intent": None,
    }
    body = {
        "id": event_id,
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": int(time.time()),
        "data": {"object": session},
        "type": "checkout.session.completed",
    }
    return event_id, json.dumps(body).encode()


@pytest.mark.parametrize(
    ("headers", "tamper", "says"),
    [
        (lambda body, secret: {}, False, "Stripe-Signature"),
        (lambda body, secret: signed(body, "whsec_" + "x" * 48), False, "No signatures found"),
        (lambda body, secret: signed(body, secret, at=int(time.time()) - 301), False, "stale"),
        (lambda body, secret: signed(body, secret, at=int(time.time()) + 301), False, "future"),
        (lambda body, secret: signed(body, secret), True, "No signatures found"),
    ],
    ids=["missing", "wrong-secret", "stale", "future", "tampered"],
)
async def test_an_unsigned_or_stale_delivery_is_401_json_and_nothing_is_stored(
    stack: Stack, headers: Headers, tamper: bool, says: str
):
    secret = stack.config.webhook_secrets["STRIPE_WEBHOOK_SECRET"]
    event_id, body = event()
    sent = body.replace(b'"1000"', b'"9999"') if tamper else body
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=30) as http:
        answer = await http.post(
            "/api/webhooks/stripe", content=sent, headers=headers(body, secret)
        )
    assert answer.status_code == 401
    assert answer.headers["content-type"].startswith("application/json")
    error = answer.json()["error"]
    assert error["code"] == "UNAUTHORIZED" and says in error["message"]
    assert stored(stack, event_id) == []


async def test_a_signed_event_for_someone_elses_customer_changes_nothing(stack: Stack):
    secret = stack.config.webhook_secrets["STRIPE_WEBHOOK_SECRET"]
    event_id, body = event()
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=30) as http:
        first = await http.post("/api/webhooks/stripe", content=body, headers=signed(body, secret))
        again = await http.post("/api/webhooks/stripe", content=body, headers=signed(body, secret))
    assert first.json() == {"ok": True, "duplicate": False, "status": "processed"}
    assert again.json() == {"ok": True, "duplicate": True, "status": "processed"}
    assert stored(stack, event_id) == [
        {"status": "processed", "type": "checkout.session.completed"}
    ]


@pytest.mark.parametrize(
    ("env", "procedure", "names"),
    [
        ({"STRIPE_SECRET_KEY": ""}, "billing.checkout", "STRIPE_SECRET_KEY"),
        ({"STRIPE_PRICE_CREDITS": ""}, "billing.checkout", "STRIPE_PRICE_CREDITS"),
        ({"STRIPE_SECRET_KEY": ""}, "billing.portal", "STRIPE_SECRET_KEY"),
    ],
)
async def test_billing_without_its_settings_answers_503_naming_them(
    stack: Stack, token, env: dict[str, str], procedure: str, names: str
):
    services = stack_services(stack, **env)
    async with asgi_client(trpc_app(BUNDLE.router, services=services)) as http:
        answer = await http.post(
            f"/api/trpc/{procedure}",
            json={"kind": "credits"} if procedure == "billing.checkout" else {},
            headers={"authorization": f"Bearer {token('unconfigured')}"},
        )
    assert answer.status_code == 503
    error = answer.json()["error"]
    assert error["data"]["code"] == "SERVICE_UNAVAILABLE"
    assert names in error["message"]
