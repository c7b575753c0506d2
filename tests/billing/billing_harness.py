"""The billing tests' harness: a customer in a browser (the local Stripe's hosted pages,
driven through their HTML forms), the merchant (the official `stripe` SDK against the local
Stripe), tRPC calls as a user, and a raw protocol-7 subscriber on private-user-{id}."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import psycopg
import stripe
from psycopg.rows import dict_row
from websockets.asyncio.client import connect

from dev.stack import Stack
from tests.poker.poker_harness import Trpc

WAIT_S = 20.0
FORM = re.compile(r"<form method='post' action='([^']+)'>")


def user(prefix: str = "buyer") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@contextlib.asynccontextmanager
async def merchant(stack: Stack) -> AsyncIterator[stripe.StripeClient]:
    """The official SDK, as the merchant's own scripts and dashboard use the API."""
    assert stack.stripe is not None
    http = stripe.HTTPXClient()
    try:
        yield stripe.StripeClient(
            stack.stripe.secret_key,
            base_addresses={"api": stack.stripe.public_url},
            http_client=http,
            max_network_retries=0,
        )
    finally:
        await http.close_async()


class Browser:
    """What a customer does on Stripe's hosted pages: open the page, press a button."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def press(self, url: str, action: str, **fields: str) -> httpx.Response:
        page = await self.http.get(url)
        assert page.status_code == 200, page.text
        forms = FORM.findall(page.text)
        assert forms, page.text
        assert f"value='{action}'" in page.text, f"no {action!r} button on {url}"
        target = httpx.URL(url).join(forms[0])
        return await self.http.post(str(target), data={"action": action, **fields})


class Billing:
    """A user's billing through the public edges."""

    def __init__(self, trpc: Trpc, browser: Browser, stack: Stack) -> None:
        self.trpc, self.browser, self.stack = trpc, browser, stack

    async def checkout(self, who: str, kind: str, quantity: int | None = None) -> dict[str, Any]:
        payload: dict[str, Any] = {"kind": kind}
        if quantity is not None:
            payload["quantity"] = quantity
        result: dict[str, Any] = await self.trpc.mutate("billing.checkout", payload, as_user=who)
        return result

    async def buy(self, who: str, kind: str, quantity: int | None = None, *, action: str = "pay"):
        """Checkout, then `action` on the hosted page; the session id."""
        session = await self.checkout(who, kind, quantity)
        answer = await self.browser.press(session["url"], action)
        if action == "decline":
            assert answer.status_code == 200 and "declined" in answer.text
        else:
            assert answer.status_code == 303, answer.text
            assert session["sessionId"] in answer.headers["location"]
        return session["sessionId"]

    async def status(self, who: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.trpc.query("billing.status", None, as_user=who)
        return result

    async def balance(self, who: str) -> int:
        return int((await self.status(who))["balance"])

    async def dev(self, path: str, **params: str) -> dict[str, Any]:
        """A dev control of the local Stripe (renewals, period ends, settlements, disputes)."""
        assert self.stack.stripe is not None
        answer = await self.browser.http.post(
            f"{self.stack.stripe.public_url}{path}", params=params
        )
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result


def signed(body: bytes, secret: str, *, at: int | None = None) -> dict[str, str]:
    """Headers Stripe would send with `body` (the SDK's own signing)."""
    header = stripe.WebhookSignature.generate_signature_header(
        body.decode(), secret, timestamp=at if at is not None else int(time.time())
    )
    return {"stripe-signature": header, "content-type": "application/json"}


@contextlib.contextmanager
def sql(stack: Stack):  # noqa: ANN201 - a connection
    assert stack.pg is not None
    with psycopg.connect(stack.pg.dsn, autocommit=True, row_factory=dict_row) as conn:
        yield conn


def ledger(stack: Stack, who: str) -> list[tuple[int, str, str | None]]:
    with sql(stack) as db:
        rows = db.execute(
            "select delta, reason, ref from public.credit_ledger where user_id = %s order by id",
            [who],
        ).fetchall()
    return [(r["delta"], r["reason"], r["ref"]) for r in rows]


def stored(stack: Stack, event_id: str) -> list[dict[str, Any]]:
    with sql(stack) as db:
        return db.execute(
            "select status, type from public.webhook_events"
            " where provider = 'stripe' and event_id = %s",
            [event_id],
        ).fetchall()


class Subscriber:
    """A bare protocol-7 client on private-user-{id}, authorized by /api/realtime/auth; keeps
    every `billing-updated` payload."""

    def __init__(self) -> None:
        self.updates: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def next(self, until: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        async with asyncio.timeout(WAIT_S):
            while True:
                update = await self.updates.get()
                if until(update):
                    return update


@contextlib.asynccontextmanager
async def subscribed(stack: Stack, token: str, who: str) -> AsyncIterator[Subscriber]:
    assert stack.realtime is not None
    subscriber = Subscriber()
    channel = f"private-user-{who}"
    url = f"{stack.realtime.ws_url}/app/{stack.config.pusher_key}?protocol=7"
    async with connect(url, open_timeout=WAIT_S) as ws:
        hello = json.loads(await ws.recv())
        socket_id = json.loads(hello["data"])["socket_id"]
        async with httpx.AsyncClient(timeout=WAIT_S) as http:
            auth = await http.post(
                f"{stack.api_url}/api/realtime/auth",
                data={"socket_id": socket_id, "channel_name": channel},
                headers={"Authorization": f"Bearer {token}"},
            )
        auth.raise_for_status()
        await ws.send(
            json.dumps({"event": "pusher:subscribe", "data": {"channel": channel, **auth.json()}})
        )
        ready = asyncio.Event()

        async def pump() -> None:
            async for frame in ws:
                message = json.loads(frame)
                if message["event"] == "pusher_internal:subscription_succeeded":
                    ready.set()
                elif message["event"] == "billing-updated":
                    subscriber.updates.put_nowait(json.loads(message["data"])["data"])

        async with asyncio.TaskGroup() as tasks:
            reader = tasks.create_task(pump(), name="billing-subscriber")
            async with asyncio.timeout(WAIT_S):
                await ready.wait()
            try:
                yield subscriber
            finally:
                reader.cancel()
