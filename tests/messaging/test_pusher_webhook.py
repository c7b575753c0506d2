"""POST /api/webhooks/pusher on the stack: signed deliveries are applied (and only once), and
anything unsigned, tampered with, signed with another key or stale is refused with a JSON
error — plus the pure codec underneath (lib.features.messaging.presence) and the edges of the
signature check (lib.webhooks.pusher; tests/webhooks/test_verifiers.py has the rest)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import httpx
import pytest

from dev.stack import Stack
from lib.errors import Unauthorized
from lib.features.messaging.presence import Change, changes
from lib.webhooks.pusher import PusherVerifier
from lib.webhooks.verifiers import Delivery
from tests.messaging.messaging_support import online, user


def now_ms() -> int:
    return int(time.time() * 1000)


def body_of(*events: dict[str, Any], time_ms: int | None = None) -> bytes:
    return json.dumps(
        {"time_ms": now_ms() if time_ms is None else time_ms, "events": list(events)}
    ).encode()


def signed(stack: Stack, body: bytes, *, secret: str | None = None) -> dict[str, str]:
    key = secret or stack.config.pusher_secret
    return {
        "content-type": "application/json",
        "x-pusher-key": stack.config.pusher_key,
        "x-pusher-signature": hmac.new(key.encode(), body, hashlib.sha256).hexdigest(),
    }


async def deliver(
    http: httpx.AsyncClient, stack: Stack, body: bytes, headers: dict[str, str] | None = None
) -> httpx.Response:
    return await http.post(
        f"{stack.api_url}/api/webhooks/pusher",
        content=body,
        headers=signed(stack, body) if headers is None else headers,
    )


def occupied(who: str) -> dict[str, str]:
    return {"name": "channel_occupied", "channel": f"private-user-{who}"}


def vacated(who: str) -> dict[str, str]:
    return {"name": "channel_vacated", "channel": f"private-user-{who}"}


async def test_a_signed_delivery_is_applied(stack: Stack, http: httpx.AsyncClient):
    who = user()
    response = await deliver(http, stack, body_of(occupied(who)))
    assert response.status_code == 200
    assert response.json() == {
        "ok": True, "duplicate": False, "status": "processed", "applied": 1,
    }  # fmt: skip
    assert online(stack, who)

    gone = await deliver(http, stack, body_of(vacated(who)))
    assert gone.json()["applied"] == 1 and not online(stack, who)


def refusal(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code
    return str(error["message"])


async def test_a_tampered_body_is_refused(stack: Stack, http: httpx.AsyncClient):
    who = user()
    original = body_of(occupied(who))
    tampered = original.replace(who.encode(), user().encode())
    message = refusal(
        await deliver(http, stack, tampered, signed(stack, original)), 401, "UNAUTHORIZED"
    )
    assert "Signature" in message
    assert not online(stack, who)


@pytest.mark.parametrize("missing", ["x-pusher-signature", "x-pusher-key"])
async def test_a_delivery_without_its_headers_is_refused(
    stack: Stack, http: httpx.AsyncClient, missing: str
):
    body = body_of(occupied(user()))
    headers = {k: v for k, v in signed(stack, body).items() if k != missing}
    refusal(await deliver(http, stack, body, headers), 401, "UNAUTHORIZED")


async def test_another_apps_key_or_secret_is_refused(stack: Stack, http: httpx.AsyncClient):
    body = body_of(occupied(user()))
    other_key = {**signed(stack, body), "x-pusher-key": "someone-else"}
    refusal(await deliver(http, stack, body, other_key), 401, "UNAUTHORIZED")
    other_secret = signed(stack, body, secret="not-the-secret")
    refusal(await deliver(http, stack, body, other_secret), 401, "UNAUTHORIZED")


@pytest.mark.parametrize("skew_s", [-301, 301])
async def test_a_stale_or_future_delivery_is_refused(
    stack: Stack, http: httpx.AsyncClient, skew_s: int
):
    who = user()
    body = body_of(occupied(who), time_ms=now_ms() + skew_s * 1000)
    assert "time_ms is more than 300 s" in refusal(
        await deliver(http, stack, body), 401, "UNAUTHORIZED"
    )
    assert not online(stack, who)


async def test_a_signed_body_that_is_not_a_webhook_is_a_bad_request(
    stack: Stack, http: httpx.AsyncClient
):
    for body in (b"not json", b"[]", b'{"time_ms": "now", "events": []}', b'{"time_ms": 1}'):
        refusal(await deliver(http, stack, body), 400, "BAD_REQUEST")


async def test_an_oversized_body_and_other_methods_are_refused(
    stack: Stack, http: httpx.AsyncClient
):
    big = body_of(*[occupied("x" * 100)] * 4000)
    refusal(await deliver(http, stack, big), 413, "PAYLOAD_TOO_LARGE")
    get = await http.get(f"{stack.api_url}/api/webhooks/pusher")
    refusal(get, 405, "METHOD_NOT_SUPPORTED")


async def test_a_replayed_delivery_changes_nothing(stack: Stack, http: httpx.AsyncClient):
    who = user()
    first = body_of(occupied(who))
    assert (await deliver(http, stack, first)).json()["duplicate"] is False
    await deliver(http, stack, body_of(vacated(who)))
    replay = await deliver(http, stack, first)  # the provider retries the old delivery
    assert replay.status_code == 200
    assert replay.json()["ok"] is True and replay.json()["duplicate"] is True
    assert not online(stack, who)


async def test_an_older_event_never_overwrites_a_newer_one(stack: Stack, http: httpx.AsyncClient):
    who = user()
    t = now_ms()
    await deliver(http, stack, body_of(vacated(who), time_ms=t))
    late = await deliver(http, stack, body_of(occupied(who), time_ms=t - 2_000))
    assert late.json()["applied"] == 0
    assert not online(stack, who)
    # within one delivery the later event wins
    await deliver(http, stack, body_of(occupied(who), vacated(who), occupied(who), time_ms=t + 1))
    assert online(stack, who)


async def test_presence_channel_members_are_online(stack: Stack, http: httpx.AsyncClient):
    who, channel = user(), f"presence-poker-{user()}"
    await deliver(
        http, stack, body_of({"name": "member_added", "channel": channel, "user_id": who})
    )
    assert online(stack, who)
    await deliver(
        http, stack, body_of({"name": "member_removed", "channel": channel, "user_id": who})
    )
    assert not online(stack, who)


async def test_client_events_are_accepted_without_touching_presence(
    stack: Stack, http: httpx.AsyncClient
):
    event = {
        "name": "client_event", "channel": "private-conversation-x", "event": "client-typing",
        "data": "{}", "socket_id": "1.2",
    }  # fmt: skip
    response = await deliver(http, stack, body_of(event, {"name": "cache_miss", "channel": "c"}))
    assert response.json() == {
        "ok": True,
        "duplicate": False,
        "status": "processed",
        "applied": 0,
    }


# -- the codec --------------------------------------------------------------------------------


def test_changes_keep_only_presence_events_in_order():
    events = [
        {"name": "channel_occupied", "channel": "private-user-ana"},
        {"name": "channel_occupied", "channel": "private-encrypted-user-ana"},
        {"name": "channel_occupied", "channel": "private-conversation-1"},
        {"name": "member_added", "channel": "presence-room", "user_id": "ben"},
        {"name": "member_added", "channel": "private-room", "user_id": "ben"},
        {"name": "member_removed", "channel": "presence-room", "user_id": 7},
        {"name": "channel_vacated", "channel": "private-user-"},
        {"name": "channel_vacated", "channel": "private-user-ana"},
        "garbage",
        {"name": "subscription_count", "channel": "private-user-ana", "subscription_count": 2},
    ]
    assert list(changes(events)) == [
        Change("ana", "private-user-ana", True),
        Change("ben", "presence-room", True),
        Change("ana", "private-user-ana", False),
    ]


def test_the_signature_check_allows_300_s_and_refuses_a_non_hex_signature():
    secret, key, body = "s3cret", "k", b'{"time_ms": 1000000, "events": []}'
    verifier = PusherVerifier(key, secret)
    good = {
        "x-pusher-key": key,
        "x-pusher-signature": hmac.new(b"s3cret", body, "sha256").hexdigest(),
    }
    verified = verifier.verify(Delivery(body, good, now=1_000 + 300))
    assert verified.payload == {"time_ms": 1_000_000, "events": []}
    assert verified.event_id is None  # ingest dedupes on a hash of the body
    with pytest.raises(Unauthorized, match="stale"):
        verifier.verify(Delivery(body, good, now=1_000 + 300.001))
    for signature in ("0" * 64, "é"):
        with pytest.raises(Unauthorized):
            verifier.verify(Delivery(body, {**good, "x-pusher-signature": signature}, now=1_000))
