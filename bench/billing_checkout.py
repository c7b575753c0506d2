"""Billing: a signed `checkout.session.completed` -> `billing-updated` at the buyer's
subscriber, on the local stack: p50/p99 over 500 purchases.

    python -m bench.billing_checkout [--purchases 500] [--no-write]

Starts the whole local stack (embedded Postgres, PostgREST, gateway, Pusher-protocol server,
api functions, the local Stripe). One buyer subscribes to `private-user-{id}` with a bare
protocol-7 WebSocket client, authorized by the real /api/realtime/auth. For each purchase
(untimed): a Checkout Session (the first from billing.checkout, which creates and links the
Customer; the others from the stripe SDK with the same parameters, as billing.checkout allows
20 a minute), the buyer presses Pay on the hosted page with the customer's events held back,
and the held `checkout.session.completed` is fetched. Timed: that event, signed with the SDK's
`WebhookSignature.generate_signature_header`, POSTed to /api/webhooks/stripe, until the
`billing-updated` frame carrying the new balance arrives at the subscriber. The whole path:
HTTP -> Vercel emulation -> the SDK's signature check -> webhook_ingest (store + dedupe +
billing_on_checkout_session: grant + ledger + outbox row, one transaction) -> publish to the
Pusher server -> mark. Calls are sequential; 10 warm-up purchases are not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import secrets
import shutil
import time
from typing import Any

import httpx
import stripe
from websockets.asyncio.client import connect

from bench.docs_section import DATE, LOAD, MACHINE, median, note_load, percentile, replace_section
from dev.stack import Stack, StackConfig
from dev.stripe_api import CREDITS_PRICE
from dev.token import user_token

WAIT = 30.0
WARMUP = 10
PACK = 10


class Subscriber:
    """Queues each `billing-updated` payload with the perf_counter_ns() of its arrival."""

    def __init__(self) -> None:
        self.updates: asyncio.Queue[tuple[int, dict[str, Any]]] = asyncio.Queue()

    async def run(self, stack: Stack, token: str, channel: str, ready: asyncio.Event) -> None:
        assert stack.realtime is not None
        url = f"{stack.realtime.ws_url}/app/{stack.config.pusher_key}?protocol=7"
        async with connect(url, open_timeout=WAIT) as ws:
            hello = json.loads(await ws.recv())
            socket_id = json.loads(hello["data"])["socket_id"]
            async with httpx.AsyncClient(timeout=WAIT) as http:
                auth = await http.post(
                    f"{stack.api_url}/api/realtime/auth",
                    data={"socket_id": socket_id, "channel_name": channel},
                    headers={"Authorization": f"Bearer {token}"},
                )
            auth.raise_for_status()
            subscribe = {"channel": channel, **auth.json()}
            await ws.send(json.dumps({"event": "pusher:subscribe", "data": subscribe}))
            async for frame in ws:
                arrived = time.perf_counter_ns()
                message = json.loads(frame)
                if message["event"] == "pusher_internal:subscription_succeeded":
                    ready.set()
                elif message["event"] == "pusher:ping":
                    await ws.send(json.dumps({"event": "pusher:pong", "data": {}}))
                elif message["event"] == "billing-updated":
                    self.updates.put_nowait((arrived, json.loads(message["data"])["data"]))


async def held_completion(
    http: httpx.AsyncClient, stack: Stack, token: str, customer: str | None, buyer: str
) -> tuple[str, bytes]:
    """A purchase paid on the hosted page with its events held: the customer and the
    checkout.session.completed body Stripe would send. The first session comes from
    billing.checkout (which creates and links the customer); later ones are made with the
    stripe SDK as billing.checkout makes them (its rate limit is 20 a minute)."""
    assert stack.stripe is not None
    if customer is None:
        answer = await http.post(
            f"{stack.api_url}/api/trpc/billing.checkout",
            json={"kind": "credits"},
            headers={"Authorization": f"Bearer {token}"},
        )
        answer.raise_for_status()
        session_id, url = (answer.json()["result"]["data"][k] for k in ("sessionId", "url"))
        customer = stack.stripe.get("checkout.session", session_id)["customer"]
        hold = await http.post(
            f"{stack.stripe.public_url}/_dev/hold", params={"customer": customer}
        )
        hold.raise_for_status()
    else:
        session = await merchant(stack).v1.checkout.sessions.create_async(
            params={
                "mode": "payment",
                "customer": customer,
                "client_reference_id": buyer,
                "line_items": [{"price": CREDITS_PRICE, "quantity": 1}],
                "success_url": f"{stack.api_url}/?checkout=success",
                "metadata": {"user_id": buyer, "kind": "credits", "credits": str(PACK)},
            }
        )
        session_id, url = session.id, str(session.url)
    page = await http.get(url)
    action = re.search(r"action='([^']+)'", page.text)
    assert action is not None, page.text
    paid = await http.post(f"{stack.stripe.public_url}{action[1]}", data={"action": "pay"})
    assert paid.status_code == 303, paid.text
    for event in reversed(stack.stripe.events):
        if event["type"] == "checkout.session.completed" and (
            event["data"]["object"]["id"] == session_id
        ):
            return customer, json.dumps(event).encode()
    raise RuntimeError("the local Stripe made no checkout.session.completed")


_merchants: dict[int, tuple[stripe.StripeClient, stripe.HTTPXClient]] = {}


def merchant(stack: Stack) -> stripe.StripeClient:
    """The stripe SDK as the merchant uses it, against the local Stripe."""
    assert stack.stripe is not None
    found = _merchants.get(id(stack))
    if found is None:
        http = stripe.HTTPXClient()
        client = stripe.StripeClient(
            stack.stripe.secret_key,
            base_addresses={"api": stack.stripe.public_url},
            http_client=http,
            max_network_retries=0,
        )
        found = _merchants[id(stack)] = (client, http)
    return found[0]


async def measure(stack: Stack, purchases: int) -> dict[str, list[float]]:
    buyer = f"bench-buyer-{secrets.token_hex(4)}"
    token = user_token(stack.config.jwt_secret, sub=buyer)
    secret = stack.config.webhook_secrets["STRIPE_WEBHOOK_SECRET"]
    figures: dict[str, list[float]] = {"event_ms": [], "response_ms": []}
    subscriber, ready = Subscriber(), asyncio.Event()
    async with httpx.AsyncClient(timeout=WAIT) as http, asyncio.TaskGroup() as group:
        listening = group.create_task(
            subscriber.run(stack, token, f"private-user-{buyer}", ready), name="subscriber"
        )
        async with asyncio.timeout(WAIT):
            await ready.wait()
        customer: str | None = None
        balance = 0
        for n in range(purchases + WARMUP):
            customer, body = await held_completion(http, stack, token, customer, buyer)
            header = stripe.WebhookSignature.generate_signature_header(
                body.decode(), secret, timestamp=int(time.time())
            )
            started = time.perf_counter_ns()
            answer = await http.post(
                f"{stack.api_url}/api/webhooks/stripe",
                content=body,
                headers={"Stripe-Signature": header, "Content-Type": "application/json"},
            )
            answered = time.perf_counter_ns()
            assert answer.status_code == 200, answer.text
            balance += PACK
            async with asyncio.timeout(WAIT):
                while True:
                    arrived, data = await subscriber.updates.get()
                    if data["balance"] == balance:
                        break
            if n >= WARMUP:
                figures["event_ms"].append((arrived - started) / 1e6)
                figures["response_ms"].append((answered - started) / 1e6)
        listening.cancel()
    for _, transport in _merchants.values():
        await transport.close_async()
    return figures


def section(figures: dict[str, list[float]], purchases: int) -> str:
    event, response = figures["event_ms"], figures["response_ms"]
    return "\n".join(
        [
            f"## Billing: checkout.session.completed -> `billing-updated` ({purchases:,} "
            "purchases)",
            "",
            f"machine: `{MACHINE}`, date {DATE}, one run, deliveries sequential, 1-minute load "
            f"average at start {LOAD[0]:.2f} (the machine is shared)",
            "",
            "| measure | p50 | p99 | max |",
            "|---|---|---|---|",
            f"| POST /api/webhooks/stripe -> `billing-updated` frame at the subscriber "
            f"| {percentile(event, 50):.1f} ms | {percentile(event, 99):.1f} ms "
            f"| {max(event):.1f} ms |",
            f"| POST /api/webhooks/stripe -> HTTP response | {percentile(response, 50):.1f} ms "
            f"| {percentile(response, 99):.1f} ms | {max(response):.1f} ms |",
            "",
            "`python -m bench.billing_checkout`: the whole local stack in this process, with the "
            "local Stripe (dev/stripe_api.py). Each purchase is real, untimed: a Checkout Session "
            "(the first from billing.checkout, which creates and links the Customer; the rest "
            "made with the stripe SDK the way billing.checkout makes them, past its rate limit), "
            "Pay pressed on the hosted page, the customer's events held back. What is timed is "
            "the delivery of its `checkout.session.completed`, "
            "signed with the SDK, through the Vercel emulation, the SDK's signature check, one "
            "webhook_ingest call (store, dedupe, grant, ledger row, outbox row in one "
            "transaction), the publish to the Pusher-protocol server and the mark, until the "
            "subscriber on `private-user-{id}` (a raw protocol-7 client authorized by "
            "/api/realtime/auth) holds the frame with the new balance. The event leaves before "
            "the response (publish, then mark, then answer): median gap "
            f"{median(response) - median(event):.1f} ms. {WARMUP} warm-up purchases are not "
            "counted.",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--purchases", type=int, default=500)
    parser.add_argument("--no-write", action="store_true", help="do not touch docs/benchmarks.md")
    args = parser.parse_args(argv)
    note_load()
    config = StackConfig.ephemeral_for_tests(
        jwt_secret=secrets.token_urlsafe(40), cron_secret=secrets.token_urlsafe(24)
    )
    stack = Stack(config).start()
    try:
        figures = asyncio.run(measure(stack, args.purchases))
    finally:
        stack.stop()
        shutil.rmtree(config.data_dir, ignore_errors=True)
    text = section(figures, args.purchases)
    print(text)
    if not args.no_write:
        print(f"wrote {replace_section('billing-checkout', text)}")


if __name__ == "__main__":
    main()
