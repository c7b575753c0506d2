"""The one webhook ingest path, through its HTTP edge, against the local stack's real Postgres
and PostgREST: deliveries signed by each provider's own SDK (stripe, standardwebhooks,
`cryptography` keys for HighLevel, our broker scheme) are verified, stored once, applied in the
same transaction, published; everything else is refused before anything is stored.

The Stripe, HighLevel and broker endpoints here are test endpoints (their features land later)
whose processor is tests/webhooks/processor.sql; the Clerk endpoint is the product's own, served
by the stack's api/webhooks/clerk.py.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import standardwebhooks
import stripe
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from dev.stack import Stack
from lib.features import BUNDLE
from lib.realtime.memory import MemoryPublisher
from lib.rpc import trpc_app
from lib.services import Services
from lib.web import function
from lib.webhooks import ingest, providers
from lib.webhooks.endpoint import WebhookEndpoint
from lib.webhooks.shared_secret import signature_header
from tests.support import asgi_client, sql, stack_env, stack_services

PROCESSOR_SQL = Path(__file__).with_name("processor.sql")
STRIPE_SECRET = "whsec_" + "t" * 32
BROKER_SECRET = "broker-connection-secret"

STRIPE = WebhookEndpoint(
    route="/api/webhooks/stripe",
    provider="stripe",
    verifier=providers.stripe,
    processors={"invoice.paid": "test_webhook_apply"},
    max_body_bytes=4096,
    failure_status=500,
)
GHL = WebhookEndpoint(
    route="/api/webhooks/ghl",
    provider="ghl",
    verifier=providers.ghl,
    processors={"OpportunityStatusUpdate": "test_webhook_apply"},
    failure_status=200,
)
BROKER = WebhookEndpoint(
    route="/api/webhooks/broker",
    provider="broker",
    verifier=lambda services: providers.shared_secret([BROKER_SECRET]),
    processors={"*": "test_webhook_apply"},
)


@pytest.fixture(scope="module")
def processor(stack: Stack) -> None:
    with sql(stack) as conn:
        conn.execute(PROCESSOR_SQL.read_text())
        conn.execute("notify pgrst, 'reload schema'")
    time.sleep(0.5)  # PostgREST reloads its schema cache asynchronously


@pytest.fixture(scope="module")
def ghl_keys() -> tuple[ed25519.Ed25519PrivateKey, rsa.RSAPrivateKey]:
    return ed25519.Ed25519PrivateKey.generate(), rsa.generate_private_key(65537, 2048)


def public_pem(key: Any) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.fixture
def publisher() -> MemoryPublisher:
    return MemoryPublisher()


@pytest.fixture
def services(stack: Stack, processor: None, publisher: MemoryPublisher, ghl_keys: Any) -> Services:
    ed, rsa_key = ghl_keys
    return stack_services(
        stack,
        STRIPE_WEBHOOK_SECRET=STRIPE_SECRET,
        GHL_WEBHOOK_ED25519_PUBLIC_KEY=public_pem(ed),
        GHL_WEBHOOK_RSA_PUBLIC_KEY=public_pem(rsa_key),
    ).replace(publisher=publisher)


@pytest.fixture
async def client(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    def app(endpoint: WebhookEndpoint) -> Any:
        return function(POST=ingest.handler(endpoint), services=services)

    apps = {e.route: app(e) for e in (STRIPE, GHL, BROKER)}

    async def route(scope: Any, receive: Any, send: Any) -> None:
        await apps[scope["path"]](scope, receive, send)

    async with asgi_client(route) as http:
        yield http


def stored(stack: Stack, provider: str, event_id: str) -> list[tuple[Any, ...]]:
    with sql(stack) as conn:
        return conn.execute(
            "select status, attempts, error, type from public.webhook_events"
            " where provider = %s and event_id = %s",
            [provider, event_id],
        ).fetchall()


def applied(publisher: MemoryPublisher, user: str) -> list[Any]:
    """What the test processor published for `user` (a write may also relay other tests'
    leftover events: the test stack runs no relay cron)."""
    return [e for e in publisher.published if e.channel.name == f"private-user-{user}"]


def effects(stack: Stack, event_id: str) -> int:
    with sql(stack) as conn:
        row = conn.execute(
            "select count(*) from public.test_webhook_effects where event ->> 'id' = %s",
            [event_id],
        ).fetchone()
    assert row is not None
    return int(row[0])


# Stripe -----------------------------------------------------------------------------------


def stripe_event(event_type: str = "invoice.paid", **extra: Any) -> tuple[str, bytes]:
    event_id = f"evt_{uuid.uuid4().hex}"
    body = {"id": event_id, "object": "event", "type": event_type, "source": "stripe", **extra}
    return event_id, json.dumps(body).encode()


def stripe_headers(body: bytes, *, secret: str = STRIPE_SECRET, at: int | None = None) -> dict:
    header = stripe.WebhookSignature.generate_signature_header(
        body.decode(), secret, timestamp=int(time.time()) if at is None else at
    )
    return {"stripe-signature": header, "content-type": "application/json"}


async def test_a_signed_stripe_event_is_stored_applied_and_published_once(
    client: httpx.AsyncClient, stack: Stack, publisher: MemoryPublisher
):
    event_id, body = stripe_event(user="u-ingest")
    response = await client.post("/api/webhooks/stripe", content=body, headers=stripe_headers(body))
    assert response.status_code == 200, response.text
    assert response.json() == {"ok": True, "duplicate": False, "status": "processed"}
    assert stored(stack, "stripe", event_id) == [("processed", 1, None, "invoice.paid")]
    assert effects(stack, event_id) == 1
    [event] = applied(publisher, "u-ingest")
    assert event.type == "webhook-applied"

    again = await client.post("/api/webhooks/stripe", content=body, headers=stripe_headers(body))
    assert again.status_code == 200
    assert again.json() == {"ok": True, "duplicate": True, "status": "processed"}
    assert effects(stack, event_id) == 1
    assert len(applied(publisher, "u-ingest")) == 1


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        (lambda body: {}, "Stripe-Signature"),
        (lambda body: stripe_headers(body, secret="whsec_" + "x" * 32), "signature"),
        (lambda body: stripe_headers(body, at=int(time.time()) - 301), "tolerance|old|stale"),
        (lambda body: stripe_headers(body + b" "), "signature"),
    ],
    ids=["missing", "wrong-secret", "stale", "tampered"],
)
async def test_an_unverified_stripe_delivery_is_401_and_nothing_is_stored(
    client: httpx.AsyncClient, stack: Stack, headers: Any, message: str
):
    event_id, body = stripe_event()
    response = await client.post("/api/webhooks/stripe", content=body, headers=headers(body))
    assert response.status_code == 401, response.text
    error = response.json()["error"]
    assert error["code"] == "UNAUTHORIZED"
    assert any(word.lower() in error["message"].lower() for word in message.split("|"))
    assert stored(stack, "stripe", event_id) == []


async def test_an_oversized_body_is_413_before_anything_else(
    client: httpx.AsyncClient, stack: Stack
):
    event_id, body = stripe_event(padding="x" * 5000)
    response = await client.post("/api/webhooks/stripe", content=body, headers=stripe_headers(body))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert stored(stack, "stripe", event_id) == []


async def test_an_unknown_event_type_is_stored_as_ignored_and_acknowledged(
    client: httpx.AsyncClient, stack: Stack, publisher: MemoryPublisher
):
    event_id, body = stripe_event("customer.created")
    response = await client.post("/api/webhooks/stripe", content=body, headers=stripe_headers(body))
    assert response.status_code == 200
    assert response.json()["status"] == "ignored"
    assert stored(stack, "stripe", event_id) == [("ignored", 0, None, "customer.created")]
    assert effects(stack, event_id) == 0
    assert applied(publisher, "nobody") == []


def cron(stack: Stack, job: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {stack.config.cron_secret}"}
    return httpx.get(f"{stack.api_url}/api/cron/{job}", headers=headers, timeout=30)


@pytest.fixture
def stripe_outage(stack: Stack) -> Iterator[None]:
    with sql(stack) as conn:
        conn.execute("insert into public.test_webhook_outages values ('stripe')")
    try:
        yield
    finally:
        with sql(stack) as conn:
            conn.execute("delete from public.test_webhook_outages")


async def test_a_processing_failure_is_kept_then_retried_by_the_cron(
    client: httpx.AsyncClient, stack: Stack, stripe_outage: None, publisher: MemoryPublisher
):
    event_id, body = stripe_event(user="u-retry")
    response = await client.post("/api/webhooks/stripe", content=body, headers=stripe_headers(body))
    assert response.status_code == 500  # Stripe retries non-2xx; so does our cron
    error = response.json()["error"]
    assert error["code"] == "WEBHOOK_PROCESSING_FAILED"
    [(status, attempts, message, _)] = stored(stack, "stripe", event_id)
    assert (status, attempts) == ("failed", 1)
    assert "the downstream of stripe is down" in message
    assert effects(stack, event_id) == 0  # the processor's writes rolled back with it
    assert applied(publisher, "u-retry") == []

    with sql(stack) as conn:  # the downstream is back and the backoff has passed
        conn.execute("delete from public.test_webhook_outages")
        conn.execute(
            "update public.webhook_events set next_attempt_at = now() - interval '1 second'"
            " where event_id = %s",
            [event_id],
        )
    retried = cron(stack, "webhooks-retry")
    assert retried.status_code == 200, retried.text
    assert retried.json()["result"]["processed"] >= 1
    assert stored(stack, "stripe", event_id) == [("processed", 2, None, "invoice.paid")]
    assert effects(stack, event_id) == 1

    redelivered = await client.post(
        "/api/webhooks/stripe", content=body, headers=stripe_headers(body)
    )
    assert redelivered.json()["duplicate"] is True
    assert effects(stack, event_id) == 1


async def test_an_event_failing_every_attempt_is_parked_and_an_operator_replays_it(
    client: httpx.AsyncClient, stack: Stack, stripe_outage: None, token: Any
):
    event_id, body = stripe_event()
    await client.post("/api/webhooks/stripe", content=body, headers=stripe_headers(body))
    with sql(stack) as conn:
        conn.execute(
            "update public.webhook_events set attempts = %s, next_attempt_at = now()"
            " where event_id = %s",
            [ingest.MAX_ATTEMPTS - 1, event_id],
        )
    assert cron(stack, "webhooks-retry").json()["result"]["parked"] >= 1
    [(status, attempts, _, _)] = stored(stack, "stripe", event_id)
    assert (status, attempts) == ("parked", ingest.MAX_ATTEMPTS)
    with sql(stack) as conn:
        conn.execute("delete from public.test_webhook_outages")
        row_id = conn.execute(
            "select id from public.webhook_events where event_id = %s", [event_id]
        ).fetchone()[0]

    operator, stranger = f"op_{uuid.uuid4().hex[:8]}", f"user_{uuid.uuid4().hex[:8]}"
    services = stack_services(stack, ADMIN_USER_IDS=operator)
    async with asgi_client(trpc_app(BUNDLE.router, services=services)) as rpc:

        async def replay(who: str) -> httpx.Response:
            return await rpc.post(
                "/api/trpc/webhooks.replay",
                json={"id": row_id},
                headers={"authorization": f"Bearer {token(who)}"},
            )

        refused = await replay(stranger)
        assert refused.json()["error"]["data"]["code"] == "FORBIDDEN"
        replayed = await replay(operator)
        assert replayed.json()["result"]["data"]["status"] == "processed", replayed.text
        listed = await rpc.get(
            "/api/trpc/webhooks.events",
            params={"input": json.dumps({"provider": "stripe", "status": "processed"})},
            headers={"authorization": f"Bearer {token(operator)}"},
        )
        assert row_id in [e["id"] for e in listed.json()["result"]["data"]["events"]]
        again = await replay(operator)
        assert again.json()["error"]["data"]["code"] == "CONFLICT"
    assert effects(stack, event_id) == 1


# The replay storms (1,000 x 5, 20 at a time, every provider): tests/webhooks/test_replay_storms.py


# HighLevel (GoHighLevel) ----------------------------------------------------------------


def ghl_body(webhook_id: str | None = None) -> bytes:
    body: dict[str, Any] = {
        "type": "OpportunityStatusUpdate",
        "locationId": "loc-1",
        "id": f"opp-{uuid.uuid4().hex[:8]}",
        "status": "won",
        "source": "ghl",
    }
    if webhook_id:
        body["webhookId"] = webhook_id
    return json.dumps(body).encode()


async def test_highlevel_ed25519_and_legacy_rsa_signatures_are_verified(
    client: httpx.AsyncClient, stack: Stack, ghl_keys: Any
):
    ed, rsa_key = ghl_keys
    body = ghl_body(f"wh-{uuid.uuid4().hex}")
    signed = base64.b64encode(ed.sign(body)).decode()
    response = await client.post(
        "/api/webhooks/ghl", content=body, headers={"x-ghl-signature": signed}
    )
    assert response.json()["status"] == "processed", response.text

    legacy = ghl_body()  # no webhookId: deduped on the body's hash
    rsa_signed = rsa_key.sign(legacy, padding.PKCS1v15(), hashes.SHA256())
    headers = {"x-wh-signature": base64.b64encode(rsa_signed).decode()}
    first = await client.post("/api/webhooks/ghl", content=legacy, headers=headers)
    second = await client.post("/api/webhooks/ghl", content=legacy, headers=headers)
    assert first.json()["status"] == "processed", first.text
    assert second.json()["duplicate"] is True

    forged = await client.post(
        "/api/webhooks/ghl", content=legacy.replace(b"won", b"lost"), headers=headers
    )
    assert forged.status_code == 401
    unsigned = await client.post("/api/webhooks/ghl", content=ghl_body())
    assert unsigned.status_code == 401
    assert "signature" in unsigned.json()["error"]["message"].lower()


# Brokers (per-connection HMAC) -------------------------------------------------------------


async def test_a_broker_delivery_signed_with_the_connection_secret_is_applied(
    client: httpx.AsyncClient, stack: Stack
):
    event_id = f"fill-{uuid.uuid4().hex}"
    body = json.dumps({"id": event_id, "type": "order.filled", "source": "broker"}).encode()
    at = int(time.time())
    headers = {
        "x-webhook-timestamp": str(at),
        "x-webhook-signature": signature_header(BROKER_SECRET, at, body),
    }
    response = await client.post("/api/webhooks/broker", content=body, headers=headers)
    assert response.json()["status"] == "processed", response.text
    assert effects(stack, event_id) == 1
    stale = {
        "x-webhook-timestamp": str(at - 3600),
        "x-webhook-signature": signature_header(BROKER_SECRET, at - 3600, body),
    }
    refused = await client.post("/api/webhooks/broker", content=body, headers=stale)
    assert refused.status_code == 401


# Clerk (Svix / Standard Webhooks) -> profiles, through the stack's api/webhooks/clerk.py ----


def clerk_delivery(event_type: str, data: dict[str, Any], secret: str) -> tuple[bytes, dict]:
    body = json.dumps({"type": event_type, "object": "event", "data": data}).encode()
    message_id = f"msg_{uuid.uuid4().hex}"
    now = int(time.time())
    signature = standardwebhooks.Webhook(secret).sign(
        message_id, datetime.fromtimestamp(now, UTC), body.decode()
    )
    return body, {
        "svix-id": message_id,
        "svix-timestamp": str(now),
        "svix-signature": signature,
        "content-type": "application/json",
    }


def profile(stack: Stack, user_id: str) -> tuple[Any, ...] | None:
    with sql(stack) as conn:
        return conn.execute(
            "select display_name, avatar_url from public.profiles where id = %s", [user_id]
        ).fetchone()


def test_clerk_user_webhooks_create_update_and_delete_profiles(stack: Stack):
    secret = stack_env(stack)["CLERK_WEBHOOK_SECRET"]
    url = f"{stack.api_url}/api/webhooks/clerk"
    user_id = f"user_{uuid.uuid4().hex[:16]}"
    user = {
        "id": user_id,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "username": "ada",
        "image_url": "https://img.example/ada.png",
        "email_addresses": [{"id": "idn_1", "email_address": "ada@example.com"}],
        "primary_email_address_id": "idn_1",
    }
    body, headers = clerk_delivery("user.created", user, secret)
    created = httpx.post(url, content=body, headers=headers, timeout=10)
    assert created.status_code == 200, created.text
    assert profile(stack, user_id) == ("Ada Lovelace", "https://img.example/ada.png")

    body, headers = clerk_delivery(
        "user.updated", {**user, "first_name": None, "last_name": None}, secret
    )
    assert httpx.post(url, content=body, headers=headers, timeout=10).status_code == 200
    assert profile(stack, user_id) == ("ada", "https://img.example/ada.png")

    body, headers = clerk_delivery("user.deleted", {"id": user_id, "deleted": True}, secret)
    assert httpx.post(url, content=body, headers=headers, timeout=10).status_code == 200
    assert profile(stack, user_id) is None

    forged, headers = clerk_delivery("user.created", user, "whsec_" + "Zm9yZ2Vk" * 4)
    refused = httpx.post(url, content=forged, headers=headers, timeout=10)
    assert refused.status_code == 401
    assert profile(stack, user_id) is None


def test_a_supabase_auth_signup_gets_a_profile(stack: Stack):
    user_id = uuid.uuid4()
    with sql(stack) as conn:
        conn.execute(
            "insert into auth.users (id, email, raw_user_meta_data) values (%s, %s, %s)",
            [user_id, "grace@example.com", json.dumps({"full_name": "Grace Hopper"})],
        )
        assert profile(stack, str(user_id)) == ("Grace Hopper", None)
        conn.execute(
            "update auth.users set raw_user_meta_data = %s where id = %s",
            [json.dumps({"full_name": "Rear Admiral Hopper"}), user_id],
        )
        assert profile(stack, str(user_id)) == ("Rear Admiral Hopper", None)
        conn.execute("delete from auth.users where id = %s", [user_id])
    assert profile(stack, str(user_id)) is None
