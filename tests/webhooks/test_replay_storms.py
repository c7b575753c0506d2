"""Replay storms, for every webhook provider of lib/webhooks/providers.py: N unique events, each
delivered 5 times, 20 at a time, signed as that provider signs (its SDK where one exists).
Exactly N are processed, once each (0 applied twice), every delivery is answered 200 (the
redeliveries as duplicates), 0 5xx, and each processed event is published once.

Default run: Stripe 1,000 x 5 and the other providers 100 x 5; `make test FULL=1`: every
provider 1,000 x 5 (docs/reliability.md). The endpoints are test endpoints on the product's
ingest path whose processor is tests/webhooks/processor.sql."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus, urlencode

import httpx
import pytest
import standardwebhooks
from pusher.signature import sign as pusher_sign
from twilio.request_validator import RequestValidator

from dev.stack import Stack
from lib.realtime.memory import MemoryPublisher
from lib.services import Services
from lib.web import function
from lib.webhooks import ingest, providers
from lib.webhooks.endpoint import WebhookEndpoint
from lib.webhooks.shared_secret import signature_header
from tests.support import asgi_client, sql
from tests.webhooks.test_ingest import (  # noqa: F401 - fixtures
    BROKER_SECRET,
    ghl_keys,
    processor,
    publisher,
    services,
    stripe_headers,
)

FULL = os.environ.get("SOCKLESS_TEST_FULL") == "1"
DELIVERIES = 5
CONCURRENCY = 20
FORM_ROUTE = "/api/webhooks/form-storm"

Sign = Callable[[str, bytes], dict[str, str]]
"""(event id, body) -> the headers the provider sends with it."""


def endpoint(provider: str, verifier: Any, route: str) -> WebhookEndpoint:
    return WebhookEndpoint(
        route=route,
        provider=provider,
        verifier=verifier,
        processors={"*": "test_webhook_apply"},
    )


ENDPOINTS = {
    "stripe": endpoint("stripe", providers.stripe, "/api/webhooks/stripe"),
    "ghl": endpoint("ghl", providers.ghl, "/api/webhooks/ghl"),
    "clerk": endpoint("clerk", providers.clerk, "/api/webhooks/clerk"),
    "pusher": endpoint("pusher", providers.pusher, "/api/webhooks/pusher"),
    "signalwire": endpoint(
        "signalwire", lambda s: providers.form(s, event_type="call.status"), FORM_ROUTE
    ),
    "broker": endpoint(
        "broker", lambda s: providers.shared_secret([BROKER_SECRET]), "/api/webhooks/broker"
    ),
}
COUNTS = {name: 1000 if FULL or name == "stripe" else 100 for name in ENDPOINTS}


def body_of(provider: str, event_id: str, user: str) -> bytes:
    """The provider's envelope with our processor's `id`, `source` and `user` in it."""
    if provider == "signalwire":
        fields = {"CallSid": event_id, "CallStatus": "completed", "id": event_id}
        return urlencode({**fields, "source": provider, "user": user}).encode()
    envelope: dict[str, Any] = {"id": event_id, "source": provider, "user": user}
    if provider == "stripe":
        envelope |= {"object": "event", "type": "invoice.paid"}
    elif provider == "ghl":
        envelope |= {"type": "ContactCreate", "webhookId": event_id, "locationId": "loc_1"}
    elif provider == "clerk":
        envelope |= {"type": "user.updated", "object": "event", "data": {"id": event_id}}
    elif provider == "pusher":
        envelope |= {"time_ms": int(time.time() * 1000), "events": []}
    else:
        envelope |= {"type": "fill"}
    return json.dumps(envelope).encode()


def signer(provider: str, stack: Stack, ghl_key: Any) -> Sign:
    secrets = stack.config.webhook_secrets
    json_type = {"content-type": "application/json"}
    if provider == "stripe":
        return lambda _id, body: stripe_headers(body)
    if provider == "ghl":
        return lambda _id, body: {
            "x-ghl-signature": base64.b64encode(ghl_key.sign(body)).decode(),
            **json_type,
        }
    if provider == "clerk":
        hook = standardwebhooks.Webhook(secrets["CLERK_WEBHOOK_SECRET"])

        def clerk(event_id: str, body: bytes) -> dict[str, str]:
            now = datetime.now(UTC)
            return {
                "webhook-id": event_id,
                "webhook-timestamp": str(int(now.timestamp())),
                "webhook-signature": hook.sign(event_id, now, body.decode()),
                **json_type,
            }

        return clerk
    if provider == "pusher":
        key, secret = stack.config.pusher_key, stack.config.pusher_secret
        return lambda _id, body: {
            "x-pusher-key": key,
            "x-pusher-signature": pusher_sign(secret, body.decode()),
            **json_type,
        }
    if provider == "signalwire":
        validator = RequestValidator(stack.config.voice_signing_key)
        url = f"{stack.api_base_url}{FORM_ROUTE}"

        def form(_id: str, body: bytes) -> dict[str, str]:
            pairs = (pair.split("=", 1) for pair in body.decode().split("&"))
            decoded = {unquote_plus(k): unquote_plus(v) for k, v in pairs}
            return {
                "x-signalwire-signature": validator.compute_signature(url, decoded),
                "content-type": "application/x-www-form-urlencoded",
            }

        return form
    return lambda _id, body: {
        "x-webhook-timestamp": str(int(time.time())),
        "x-webhook-signature": signature_header(BROKER_SECRET, int(time.time()), body),
        **json_type,
    }


@pytest.fixture
async def client(services: Services) -> AsyncIterator[httpx.AsyncClient]:  # noqa: F811
    apps = {
        e.route: function(POST=ingest.handler(e), services=services) for e in ENDPOINTS.values()
    }

    async def route(scope: Any, receive: Any, send: Any) -> None:
        await apps[scope["path"]](scope, receive, send)

    async with asgi_client(route) as http:
        yield http


@pytest.mark.parametrize("provider", sorted(ENDPOINTS))
async def test_a_replay_storm_is_processed_exactly_once(
    provider: str,
    client: httpx.AsyncClient,
    stack: Stack,
    publisher: MemoryPublisher,  # noqa: F811
    ghl_keys: Any,  # noqa: F811
):
    count = COUNTS[provider]
    user = f"u-storm-{provider}-{uuid.uuid4().hex[:6]}"
    sign = signer(provider, stack, ghl_keys[0])
    route = ENDPOINTS[provider].route
    events = [f"{provider}-{uuid.uuid4().hex}" for _ in range(count)]
    signed = [(body, sign(e, body)) for e in events for body in [body_of(provider, e, user)]]
    gate = asyncio.Semaphore(CONCURRENCY)
    statuses: list[int] = []
    duplicates = 0

    async def deliver(body: bytes, headers: dict[str, str]) -> None:
        nonlocal duplicates
        async with gate:
            response = await client.post(route, content=body, headers=headers)
        statuses.append(response.status_code)
        duplicates += response.status_code == 200 and response.json()["duplicate"]

    async with asyncio.TaskGroup() as group:
        for body, headers in signed * DELIVERIES:
            group.create_task(deliver(body, headers))

    total = count * DELIVERIES
    assert statuses.count(200) == total, {s: statuses.count(s) for s in set(statuses)}
    assert duplicates == total - count
    with sql(stack) as conn:
        processed = conn.execute(
            "select count(*) from public.webhook_events where provider = %s"
            " and status = 'processed' and attempts = 1 and payload ->> 'user' = %s",
            [provider, user],
        ).fetchone()[0]
        effect_rows = conn.execute(
            "select count(*), count(distinct event ->> 'id') from public.test_webhook_effects"
            " where event ->> 'id' = any(%s)",
            [events],
        ).fetchone()
    assert processed == count
    assert tuple(effect_rows) == (count, count)  # 0 applied twice
    published = [e for e in publisher.published if e.channel.name == f"private-user-{user}"]
    assert sorted(e.data["id"] for e in published) == sorted(events)
