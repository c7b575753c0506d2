"""Webhooks to a real local receiver, checked with the official SDK's validate_webhook."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from realtime_harness import RawSocket, WebhookReceiver, sdk, webhook_receiver

from dev.realtime import RealtimeConfig, ServerAddress, serve_in_thread


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    with webhook_receiver() as receiving:
        yield receiving


@pytest.fixture(scope="module")
def hooked_server(receiver: WebhookReceiver) -> Iterator[ServerAddress]:
    config = RealtimeConfig(
        app_id="55", key="hook-key", secret="hook-secret", webhook_url=receiver.url
    )
    with serve_in_thread(config) as address:
        yield address


async def test_deliveries_are_signed_like_pusher(
    hooked_server: ServerAddress, receiver: WebhookReceiver
) -> None:
    async with RawSocket.connect(hooked_server) as socket:
        await socket.subscribe("hooks-signed")
        headers, body = await receiver.next_delivery()
        receiver.pending.extend(json.loads(body)["events"])

    assert headers["X-Pusher-Key"] == "hook-key"
    validated = sdk(hooked_server).validate_webhook(
        headers["X-Pusher-Key"], headers["X-Pusher-Signature"], body
    )
    assert validated is not None
    assert {"name": "channel_occupied", "channel": "hooks-signed"} in validated["events"]
    forged = sdk(hooked_server, secret="other").validate_webhook(
        headers["X-Pusher-Key"], headers["X-Pusher-Signature"], body
    )
    assert forged is None
    await receiver.wait_for("channel_vacated", channel="hooks-signed")


async def test_occupied_and_vacated(
    hooked_server: ServerAddress, receiver: WebhookReceiver
) -> None:
    async with RawSocket.connect(hooked_server) as a, RawSocket.connect(hooked_server) as b:
        await a.subscribe("hooks-room")
        await b.subscribe("hooks-room")
        await receiver.wait_for("channel_occupied", channel="hooks-room")
        await a.send("pusher:unsubscribe", {"channel": "hooks-room"})
    assert await receiver.wait_for("channel_vacated", channel="hooks-room")


async def test_member_added_and_removed(
    hooked_server: ServerAddress, receiver: WebhookReceiver
) -> None:
    client = sdk(hooked_server)
    async with RawSocket.connect(hooked_server) as socket:
        data = {"user_id": "hook-user"}
        auth = client.authenticate("presence-hooks", socket.socket_id, data)["auth"]
        await socket.subscribe("presence-hooks", auth=auth, channel_data=json.dumps(data))
        added = await receiver.wait_for("member_added", channel="presence-hooks")
    removed = await receiver.wait_for("member_removed", channel="presence-hooks")

    assert added["user_id"] == removed["user_id"] == "hook-user"
    await receiver.wait_for("channel_vacated", channel="presence-hooks")


async def test_client_event(hooked_server: ServerAddress, receiver: WebhookReceiver) -> None:
    client = sdk(hooked_server)
    async with RawSocket.connect(hooked_server) as socket:
        data = {"user_id": "talker"}
        auth = client.authenticate("presence-talk", socket.socket_id, data)["auth"]
        await socket.subscribe("presence-talk", auth=auth, channel_data=json.dumps(data))
        await socket.send("client-said", {"words": "hi"}, channel="presence-talk")
        event = await receiver.wait_for("client_event", channel="presence-talk")

    assert event == {
        "name": "client_event",
        "channel": "presence-talk",
        "event": "client-said",
        "data": json.dumps({"words": "hi"}),
        "socket_id": socket.socket_id,
        "user_id": "talker",
    }


async def test_failed_deliveries_are_retried(
    hooked_server: ServerAddress, receiver: WebhookReceiver
) -> None:
    receiver.failures_left[0] = 2  # the receiver answers 500 twice, then accepts

    async with RawSocket.connect(hooked_server) as socket:
        await socket.subscribe("hooks-retry")
        assert await receiver.wait_for("channel_occupied", channel="hooks-retry")
    assert receiver.failures_left[0] == 0


async def test_cache_miss(hooked_server: ServerAddress, receiver: WebhookReceiver) -> None:
    async with RawSocket.connect(hooked_server) as socket:
        await socket.subscribe("cache-hooks")
        assert (await socket.recv())["event"] == "pusher:cache_miss"
    assert await receiver.wait_for("cache_miss", channel="cache-hooks")
