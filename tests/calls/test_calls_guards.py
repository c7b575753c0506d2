"""calls.start refuses what would let a caller run up someone's phone bill (issue 10): a caller
id that is not theirs (403), a destination outside the dialling policy (422, with the reason),
more than CALLS_DAILY_LIMIT calls in 24 hours (429, counted in SQL, also under concurrency).
Over the tRPC wire, against the stack's database; the provider is an httpx.MockTransport."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import psycopg
import pytest

from dev.stack import Stack
from lib.db import Database
from lib.features.calls import procedures as calls
from lib.rpc import router, trpc_app
from lib.services import Services
from tests.calls.harness import api_services, e164, eventually
from tests.calls.test_calls_rpc import owned_number, placed
from tests.support import asgi_client, sql, unique


class Calls:
    """calls.start on an inline tRPC app whose provider records what it was asked to dial."""

    def __init__(self, services: Services, token: Any) -> None:
        self.dialled: list[httpx.Request] = []

        def provider(request: httpx.Request) -> httpx.Response:
            self.dialled.append(request)
            return placed(request)

        self.http = httpx.AsyncClient(transport=httpx.MockTransport(provider))
        self.app = trpc_app(router(*calls.PROCEDURES), services=services.replace(http=self.http))
        self.token = token

    async def start(self, user: str, **input: Any) -> httpx.Response:
        body = {"goal": "Confirm the delivery", **input}
        headers = {"authorization": f"Bearer {self.token(user)}"}
        async with asgi_client(self.app) as client:
            return await client.post("/api/trpc/calls.start", json=body, headers=headers)


def refused(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["data"]["code"] == code
    return str(error["message"])


def outbound_calls(stack: Stack, owner: str) -> int:
    with sql(stack) as conn:
        row = conn.execute(
            "select count(*) from public.calls where owner_id = %s and direction = 'outbound'",
            [owner],
        ).fetchone()
    assert row is not None
    return int(row[0])


def calls_services(stack: Stack, **env: str) -> Services:
    return api_services(
        stack,
        "wss://bridge.example",
        "secret",
        SIGNALWIRE_PROJECT_ID="project-1",
        SIGNALWIRE_API_TOKEN="api-token",
        SIGNALWIRE_SPACE_URL="example.signalwire.com",
        **env,
    )


@pytest.fixture
async def api(stack: Stack, token: Any) -> AsyncIterator[Calls]:
    services = calls_services(stack, CALLS_DAILY_LIMIT="3")
    db = Database(services.settings)
    api = Calls(services.replace(db=db), token)
    try:
        yield api
    finally:
        await api.http.aclose()
        await db.aclose()


async def test_calls_go_out_only_from_the_callers_own_numbers(stack: Stack, api: Calls):
    alice, bob, carol = unique("alice"), unique("bob"), unique("carol")
    alices, bobs = owned_number(stack, alice), owned_number(stack, bob)

    theirs = await api.start(alice, to="+15552345678", fromNumber=bobs)
    assert refused(theirs, 403, "FORBIDDEN") == f"fromNumber {bobs} is not one of your call numbers"
    nobodys = e164()
    unknown = await api.start(alice, to="+15552345678", fromNumber=nobodys)
    assert refused(unknown, 403, "FORBIDDEN") == (
        f"fromNumber {nobodys} is not one of your call numbers"
    )
    none = await api.start(carol, to="+15552345678")
    assert "you have no call number to call from" in refused(none, 403, "FORBIDDEN")
    assert api.dialled == [] and outbound_calls(stack, alice) == outbound_calls(stack, carol) == 0

    mine = await api.start(alice, to="+15552345678", fromNumber=alices)
    assert mine.status_code == 200, mine.text
    assert mine.json()["result"]["data"]["fromNumber"] == alices


async def test_without_a_from_number_the_default_is_used_only_when_it_is_the_callers(
    stack: Stack, token: Any
):
    alice, bob = unique("alice"), unique("bob")
    first = owned_number(stack, alice)
    default = owned_number(stack, alice)  # newer than `first`, but VOICE_FROM_NUMBER names it
    bobs = owned_number(stack, bob)
    services = calls_services(stack, VOICE_FROM_NUMBER=default)
    db = Database(services.settings)
    api = Calls(services.replace(db=db), token)
    try:
        by_alice = await api.start(alice, to="+15552345678")
        by_bob = await api.start(bob, to="+15552345678")
    finally:
        await api.http.aclose()
        await db.aclose()
    assert by_alice.json()["result"]["data"]["fromNumber"] == default != first
    assert by_bob.json()["result"]["data"]["fromNumber"] == bobs  # never alice's default


@pytest.mark.parametrize(
    ("to", "reason"),
    [
        ("+19005551234", "+19005551234 is in a blocked range (+1900: premium-rate"),
        ("+19765551234", "+19765551234 is in a blocked range (+1976: premium-rate"),
        ("+18095551234", "+18095551234 is in a blocked range (+1809: premium-rate"),
        ("+18765551234", "+18765551234 is in a blocked range (+1876: premium-rate"),
        ("+442071234567", "+442071234567 is outside the allowed country codes (+1)"),
        ("+882345678901", "+882345678901 is outside the allowed country codes (+1)"),
        ("+12125551", "+12125551 is not a dialable NANP number"),
        ("+14115551234", "+14115551234 is not a dialable NANP number"),
        ("+10005551234", "+10005551234 is not a dialable NANP number"),
    ],
)
async def test_destinations_outside_the_policy_are_422_with_the_reason(
    stack: Stack, api: Calls, to: str, reason: str
):
    user = unique("user")
    owned_number(stack, user)
    message = refused(await api.start(user, to=to), 422, "UNPROCESSABLE_CONTENT")
    assert message.startswith(f"destination refused: {reason}"), message
    assert api.dialled == [] and outbound_calls(stack, user) == 0


async def test_not_e164_is_refused_before_anything(stack: Stack, api: Calls):
    user = unique("user")
    owned_number(stack, user)
    for to in ("5551234", "+0123456789", "911", "+1-900-555-1234"):
        refused(await api.start(user, to=to), 400, "BAD_REQUEST")
    assert api.dialled == []


async def test_the_country_allowlist_and_blocklist_are_settings(stack: Stack, token: Any):
    services = calls_services(
        stack, CALLS_ALLOWED_COUNTRY_CODES="1, +44", CALLS_BLOCKED_PREFIXES="+449, +1900"
    )
    db = Database(services.settings)
    api = Calls(services.replace(db=db), token)
    user = unique("user")
    owned_number(stack, user)
    try:
        london = await api.start(user, to="+442071234567")
        premium = await api.start(user, to="+449012345678")
        caribbean = await api.start(user, to="+18095551234")  # the list replaces the default
    finally:
        await api.http.aclose()
        await db.aclose()
    assert london.status_code == 200, london.text
    assert "(+449: premium-rate" in refused(premium, 422, "UNPROCESSABLE_CONTENT")
    assert caribbean.status_code == 200, caribbean.text


async def test_the_daily_cap_is_429_and_holds_under_concurrent_requests(stack: Stack, api: Calls):
    user = unique("user")
    owned_number(stack, user)
    for _ in range(3):
        assert (await api.start(user, to="+15552345678")).status_code == 200
    over = await api.start(user, to="+15552345678")
    message = refused(over, 429, "TOO_MANY_REQUESTS")
    assert message == "daily call limit reached: at most 3 outbound calls per 24 hours"
    assert 0 < int(over.headers["retry-after"]) <= 86_400
    assert len(api.dialled) == 3 and outbound_calls(stack, user) == 3


async def test_the_daily_cap_is_counted_atomically(stack: Stack, token: Any):
    """A calls.start racing another one of the same owner waits for it, then counts it."""
    services = calls_services(stack, CALLS_DAILY_LIMIT="1")
    db = Database(services.settings)
    api = Calls(services.replace(db=db), token)
    user = unique("racer")
    owned_number(stack, user)
    assert stack.pg is not None
    try:
        with psycopg.connect(stack.pg.dsn, connect_timeout=10) as first:  # one open transaction
            first.execute(
                "select public.calls_create_outbound("
                "%s, 'signalwire', null, '+15552345678', 'g', '{}'::jsonb, null, 1)",
                [user],
            )
            second = asyncio.create_task(api.start(user, to="+15552345678"), name="second")

            async def settled() -> bool:
                return second.done() or await asyncio.to_thread(waits_for_a_lock, stack)

            await eventually(settled, within_s=10)
            first.commit()
        answer = await second
    finally:
        await api.http.aclose()
        await db.aclose()
    refused(answer, 429, "TOO_MANY_REQUESTS")
    assert outbound_calls(stack, user) == 1 and api.dialled == []


def waits_for_a_lock(stack: Stack) -> bool:
    with sql(stack) as conn:
        row = conn.execute(
            "select exists (select 1 from pg_locks where locktype = 'advisory' and not granted)"
        ).fetchone()
    return bool(row and row[0])
