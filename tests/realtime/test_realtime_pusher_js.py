"""The official pusher-js client against the local server: what a browser app would see.

"Not delivered" is proven without timing: a later marker event on the same connection
arrives only after anything sent before it, so once the marker is in, nothing else came.
"""

from __future__ import annotations

import asyncio

from realtime_harness import PusherJs, PusherJsClients, sdk, signed_request

from dev.realtime import ServerAddress


async def _marker(client: PusherJs, address: ServerAddress, channel: str) -> None:
    sdk(address).trigger(channel, "marker", {})
    await client.expect("event", channel=channel, event="marker")


async def _subscriptions_settle_at(address: ServerAddress, channel: str, count: int) -> None:
    """Ask the HTTP API (bounded) until the server has processed joins/leaves to `count`."""
    for _ in range(200):
        info = sdk(address).channel_info(channel, ["subscription_count"])
        if info["subscription_count"] == count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{channel} never settled at {count} subscriptions")


async def test_public_channel_receives_triggered_event(
    pusher_js: PusherJsClients, realtime_server: ServerAddress
) -> None:
    alice = await pusher_js()
    assert (await alice.subscribe("room-public"))["type"] == "subscribed"

    sdk(realtime_server).trigger("room-public", "greeting", {"text": "hello"})

    event = await alice.expect("event", channel="room-public", event="greeting")
    assert event["data"] == {"text": "hello"}


async def test_private_channel_with_valid_auth(
    pusher_js: PusherJsClients, realtime_server: ServerAddress
) -> None:
    alice = await pusher_js()
    assert (await alice.subscribe("private-orders"))["type"] == "subscribed"

    sdk(realtime_server).trigger(["private-orders", "room-other"], "order-paid", {"id": 7})

    assert (await alice.expect("event", channel="private-orders"))["data"] == {"id": 7}


async def test_bad_auth_is_a_subscription_error(pusher_js: PusherJsClients) -> None:
    mallory = await pusher_js(bad="1")

    outcome = await mallory.subscribe("private-orders")

    assert outcome["type"] == "subscription_error"
    assert outcome["error"]["type"] == "AuthError"
    assert outcome["error"]["status"] == 401


async def test_presence_members_join_and_leave(pusher_js: PusherJsClients) -> None:
    alice = await pusher_js(user_id="alice")
    joined = await alice.subscribe("presence-lobby")
    assert joined["members"] == {
        "count": 1,
        "me": {"id": "alice", "info": {"name": "Alice"}},
        "ids": ["alice"],
    }

    bob = await pusher_js(user_id="bob")
    bob_joined = await bob.subscribe("presence-lobby")
    assert bob_joined["members"]["count"] == 2
    assert sorted(bob_joined["members"]["ids"]) == ["alice", "bob"]
    added = await alice.expect("member_added", channel="presence-lobby")
    assert added["member"] == {"id": "bob", "info": {"name": "Bob"}}

    await bob.close()
    removed = await alice.expect("member_removed", channel="presence-lobby")
    assert removed["member"]["id"] == "bob"


async def test_second_connection_of_a_member_is_not_announced(
    pusher_js: PusherJsClients, realtime_server: ServerAddress
) -> None:
    alice = await pusher_js(user_id="alice")
    await alice.subscribe("presence-desk")
    bob_phone = await pusher_js(user_id="bob")
    await bob_phone.subscribe("presence-desk")
    await alice.expect("member_added", channel="presence-desk")

    bob_laptop = await pusher_js(user_id="bob")
    assert (await bob_laptop.subscribe("presence-desk"))["members"]["count"] == 2
    await bob_laptop.close()
    await _subscriptions_settle_at(realtime_server, "presence-desk", 2)
    await _marker(alice, realtime_server, "presence-desk")

    assert alice.seen("member_added") == [] and alice.seen("member_removed") == []


async def test_encrypted_channel_payload_is_passed_through(
    pusher_js: PusherJsClients, realtime_server: ServerAddress
) -> None:
    alice = await pusher_js()
    assert (await alice.subscribe("private-encrypted-vault"))["type"] == "subscribed"

    # The SDK encrypts with the master key; pusher-js decrypts with the auth endpoint's
    # shared secret. Any change to the payload on the way would fail NaCl's MAC.
    sdk(realtime_server, encrypted=True).trigger(
        "private-encrypted-vault", "secret", {"pin": "1234"}
    )

    assert (await alice.expect("event", event="secret"))["data"] == {"pin": "1234"}


async def test_cache_channel_replays_last_event_or_reports_a_miss(
    pusher_js: PusherJsClients, realtime_server: ServerAddress
) -> None:
    alice = await pusher_js()
    await alice.send("subscribe", channel="cache-empty")
    await alice.expect("cache_miss", channel="cache-empty")

    sdk(realtime_server).trigger("cache-scores", "score", {"home": 1})
    sdk(realtime_server).trigger("cache-scores", "score", {"home": 2})
    await alice.subscribe("cache-scores")

    replayed = await alice.expect("event", channel="cache-scores", event="score")
    assert replayed["data"] == {"home": 2}
    assert alice.seen("cache_miss", channel="cache-scores") == []


async def test_client_events_reach_others_but_not_the_sender(
    pusher_js: PusherJsClients, realtime_server: ServerAddress
) -> None:
    alice = await pusher_js(user_id="alice")
    bob = await pusher_js(user_id="bob")
    await alice.subscribe("presence-chat")
    await bob.send("subscribe", channel="presence-chat", bind=["client-typing"])
    await bob.expect("subscribed", channel="presence-chat")

    await alice.send(
        "trigger", channel="presence-chat", event="client-typing", data={"typing": True}
    )

    received = await bob.expect("bound_event", event="client-typing")
    assert received["data"] == {"typing": True}
    assert received["metadata"] == {"user_id": "alice"}
    await _marker(alice, realtime_server, "presence-chat")
    assert alice.seen("event", event="client-typing") == []


async def test_client_events_on_public_channels_are_rejected(
    pusher_js: PusherJsClients, realtime_server: ServerAddress
) -> None:
    alice = await pusher_js()
    bob = await pusher_js()
    await alice.subscribe("room-open")
    await bob.subscribe("room-open")

    await alice.send("trigger", channel="room-open", event="client-shout", data={})

    error = await alice.expect("error")
    assert error["error"]["data"]["code"] == 4301
    await _marker(bob, realtime_server, "room-open")
    assert bob.seen("event", event="client-shout") == []


async def test_socket_id_exclusion_skips_that_connection(
    pusher_js: PusherJsClients, realtime_server: ServerAddress
) -> None:
    alice = await pusher_js()
    bob = await pusher_js()
    await alice.subscribe("room-echo")
    await bob.subscribe("room-echo")

    sdk(realtime_server).trigger("room-echo", "saved", {"n": 1}, socket_id=alice.socket_id)

    assert (await bob.expect("event", event="saved"))["data"] == {"n": 1}
    await _marker(alice, realtime_server, "room-echo")
    assert alice.seen("event", event="saved") == []


async def test_signed_in_user_receives_send_to_user(
    pusher_js: PusherJsClients, realtime_server: ServerAddress
) -> None:
    alice = await pusher_js(user_id="alice")
    await alice.send("signin")
    await alice.expect("signed_in")
    await alice.expect("user_channel_ready", channel="#server-to-user-alice")

    sdk(realtime_server).send_to_user("alice", "notice", {"unread": 3})

    notice = await alice.expect("user_event", event="notice")
    assert notice["data"] == {"unread": 3}


async def test_terminated_user_is_disconnected_for_good(
    pusher_js: PusherJsClients, realtime_server: ServerAddress
) -> None:
    alice = await pusher_js(user_id="alice")
    await alice.send("signin")
    await alice.expect("signed_in")

    response = signed_request(
        realtime_server,
        "POST",
        f"/apps/{realtime_server.app_id}/users/alice/terminate_connections",
        body={},
    )

    assert response.status_code == 200
    error = await alice.expect("error")
    assert error["error"]["data"]["code"] == 4009
    await alice.expect("state", current="disconnected")
