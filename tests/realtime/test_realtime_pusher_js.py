"""The official pusher-js client against the local server: what a browser app would see."""

from __future__ import annotations

import json

from conftest import PusherJsClients
from realtime_harness import sdk

from dev.realtime import ServerAddress


async def test_public_channel_receives_triggered_event(
        pusher_js: PusherJsClients, realtime_server: ServerAddress) -> None:
    alice = await pusher_js()
    assert (await alice.subscribe("room-public"))["type"] == "subscribed"
    sdk(realtime_server).trigger("room-public", "greeting", {"text": "hello"})
    event = await alice.expect("event", channel="room-public", event="greeting")
    assert event["data"] == {"text": "hello"}
